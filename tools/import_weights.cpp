// import-weights: turn a state_dict saved by the paper's reference PyTorch code (torch.save of the
// Han CNN, the Small encoder or timm's convnext_small, DataParallel prefixes allowed) into an
// instret checkpoint that the other tools load.
#include <spdlog/spdlog.h>

#include <filesystem>

#include "common/cli.h"
#include "instret/core/error.h"
#include "instret/models/encoders.h"
#include "instret/models/model_summary.h"
#include "instret/models/reference_import.h"
#include "instret/inference/checkpoint.h"

int main(int argc, char** argv) {
  CLI::App app{"Import reference PyTorch weights (torch.save state_dict) into an instret checkpoint",
               "import-weights"};
  instret::CommonOptions options;
  instret::add_common_flags(app, options);
  std::string input, output;
  app.add_option("-i,--input", input, "state_dict file written by torch.save (reference code layout)")
      ->required()
      ->check(CLI::ExistingFile);
  app.add_option("-o,--output", output, "instret checkpoint to write")->required();
  return instret::run_tool(app, argc, argv, options, [&] {
    std::error_code ec;
    if (std::filesystem::equivalent(input, output, ec))
      throw instret::UsageError("-o " + output + " is the input file " + input + ": choose another output");
    const auto config = instret::tool_config(instret::Json{{"model", instret::to_json(instret::ModelConfig{})}}, options);
    const auto model_config = instret::model_config_from_json(config["model"], "model");
    auto model = instret::make_model(model_config);
    const auto summary = instret::import_reference_weights(*model, model_config, input);
    instret::save_checkpoint(output, *model, model_config, nullptr, 0,
                             instret::Json{{"imported_from", input}, {"model", config["model"]}});
    spdlog::info("{}: {} tensors (prefix '{}'{}) -> {} ({} model, {} parameters)", input, summary.n_tensors,
                 summary.source_prefix, summary.summed_rgb_stem ? ", RGB stem summed to 1 channel" : "", output,
                 model_config.kind, instret::count_parameters(*model));
  });
}
