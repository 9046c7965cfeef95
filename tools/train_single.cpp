// train-single: the single-instrument encoder (Han CNN). This build inspects the model
// (--print-model); the training loop is not part of it yet.
#include <iostream>

#include "instret/core/cli.h"
#include "instret/core/error.h"
#include "instret/models/print_model.h"

int main(int argc, char** argv) {
  CLI::App app{"Train the single-instrument encoder (Han CNN)", "train-single"};
  instret::CommonOptions options;
  instret::add_common_flags(app, options);
  bool print = false;
  app.add_flag("--print-model", print, "Build the configured model, print its layers and parameter count, exit");
  bool show_config = false;
  app.add_flag("--print-config", show_config, "Print the effective config as JSON and exit");
  return instret::run_tool(app, argc, argv, options, [&] {
    instret::ModelConfig defaults;
    defaults.kind = "han_cnn";
    const auto config = instret::tool_config(instret::Json{{"model", instret::to_json(defaults)}}, options);
    const auto model = instret::tool_model_config(config, {"han_cnn"});
    if (show_config) {
      std::cout << config.dump(2) << "\n";
    } else if (print) {
      instret::print_model(model, std::cout);
    } else {
      throw instret::UsageError(
          "training is not part of this build yet; --print-model shows the configured model");
    }
  });
}
