#include "instret/models/print_model.h"

#include <algorithm>
#include <iostream>

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

}  // namespace instret
