#include "instret/models/print_model.h"

#include <algorithm>
#include <iostream>

#include "instret/core/cli.h"
#include "instret/models/encoders.h"
#include "instret/models/model_summary.h"

namespace instret {

void print_model(const ModelConfig& config, std::ostream& out) {
  const auto model = make_model(config);
  out << "model.kind: " << config.kind << "\n";
  out << "model config: " << to_json(config).dump() << "\n";
  out << "input: log-mel (B, n_mels, frames), seen as "
      << (config.kind == "large" ? "(B, 1, n_mels, frames)" : "(B, 1, frames, n_mels)") << "\n";
  out << "output: "
      << (config.is_multi() ? "(B, " + std::to_string(config.n_outputs) + ", " + std::to_string(config.emb_dim) + ")"
                            : "logits (B, " + std::to_string(config.n_classes) + "), embedding (B, " +
                                  std::to_string(config.emb_dim) + ")")
      << "\n";
  out << model_summary(*model);
}

ModelConfig tool_model_config(const Json& config, const std::vector<std::string>& allowed) {
  if (!config.contains("model")) throw UsageError("config has no 'model' section");
  auto model = model_config_from_json(config["model"], "model");
  if (std::find(allowed.begin(), allowed.end(), model.kind) == allowed.end()) {
    std::string list;
    for (const auto& k : allowed) list += (list.empty() ? "\"" : ", \"") + k + "\"";
    throw UsageError("model.kind \"" + model.kind + "\" cannot be used here; expected " + list);
  }
  return model;
}

int run_training_tool(int argc, char** argv, const std::string& name, const std::string& description,
                      const std::string& default_kind, const std::vector<std::string>& allowed) {
  CLI::App app{description, name};
  CommonOptions options;
  add_common_flags(app, options);
  bool print = false;
  app.add_flag("--print-model", print, "Build the configured model, print its layers and parameter count, exit");
  bool show_config = false;
  app.add_flag("--print-config", show_config, "Print the effective config as JSON and exit");
  return run_tool(app, argc, argv, options, [&] {
    ModelConfig defaults;
    defaults.kind = default_kind;
    const Json config = tool_config(Json{{"model", to_json(defaults)}}, options);
    const ModelConfig model = tool_model_config(config, allowed);
    if (show_config) {
      std::cout << config.dump(2) << "\n";
    } else if (print) {
      print_model(model, std::cout);
    } else {
      throw UsageError("training is not part of this build yet; --print-model shows the configured model");
    }
  });
}

}  // namespace instret
