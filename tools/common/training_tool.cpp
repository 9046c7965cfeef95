#include "common/training_tool.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <iostream>

#include "common/cli.h"
#include "instret/core/device.h"
#include "instret/core/error.h"
#include "instret/core/hash.h"
#include "instret/core/precision.h"
#include "instret/data/sampling.h"
#include "instret/models/print_model.h"
#include "instret/inference/checkpoint.h"
#include "instret/train/multi_task.h"
#include "instret/train/single_task.h"
#include "instret/train/warm_start.h"

namespace instret {

namespace {

struct ToolFlags {
  std::string data, run, continue_run, init, single, device;
  int threads = -1;
  int64_t benchmark = 0;
  bool print_model = false, print_config = false;
};

// The run's config: a continued run's saved config.json, or the defaults with --config; then --set,
// then the shortcut flags.
Json effective_config(const Json& defaults, const CommonOptions& options, const ToolFlags& flags, bool multi) {
  Json config;
  if (!flags.continue_run.empty()) {
    if (!options.config_file.empty()) throw UsageError("--continue takes the run's own config; use --set to change keys");
    const Json saved = RunDir::open(flags.continue_run).saved_config();
    config = merge_config(defaults, saved, flags.continue_run + "/config.json");
    for (const auto& o : options.overrides) apply_override(config, defaults, o);
  } else {
    config = tool_config(defaults, options);
  }
  if (!flags.data.empty()) config["data"]["root"] = flags.data;
  if (!flags.device.empty()) config["device"] = flags.device;
  if (flags.threads >= 0) config["threads"] = flags.threads;
  if (multi && !flags.single.empty()) config["single_encoder"] = flags.single;
  return config;
}

}  // namespace

int run_training_tool(int argc, char** argv, bool multi) {
  const std::string name = multi ? "train-multi" : "train-single";
  CLI::App app{multi ? "Train the multi-instrument encoder (Small: Han CNN trunk, Large: ConvNeXt) with the PIT cosine loss"
                     : "Train the single-instrument encoder (Han CNN) as an instrument classifier",
               name};
  CommonOptions options;
  add_common_flags(app, options);
  ToolFlags flags;
  app.add_option("--data", flags.data, "render-nlakh output folder (config key data.root)");
  app.add_option("--run", flags.run, "New run folder: config, log, metrics.jsonl, checkpoints/");
  CLI::Option* continue_opt =
      app.add_option("--continue", flags.continue_run, "Continue the run in this folder from checkpoints/last.pt");
  app.add_option("--init", flags.init, "Start from this checkpoint's weights (a new run: fork)");
  if (multi) app.add_option("--single", flags.single, "Frozen single-encoder checkpoint (config key single_encoder)");
  app.add_option("--device", flags.device, "auto, cpu, cuda or cuda:N (config key device)");
  app.add_option("-j,--threads", flags.threads, "Intra-op threads, 0 = LibTorch's default (config key threads)")
      ->check(CLI::Range(0, 1024));
  app.add_option("--benchmark", flags.benchmark,
                 "Time N steps on synthetic batches and N on the loader; print one JSON line; write nothing")
      ->check(CLI::Range(int64_t(1), int64_t(1000000)));
  app.add_flag("--print-model", flags.print_model, "Print the configured model's layers and parameter count, exit");
  app.add_flag("--print-config", flags.print_config, "Print the effective config as JSON and exit");
  continue_opt->excludes(app.get_option("--run"));
  continue_opt->excludes(app.get_option("--init"));
  return run_tool(app, argc, argv, options, [&] {
    const Json defaults = train_default_config(multi);
    Json config = effective_config(defaults, options, flags, multi);
    const TrainConfig train_config = train_config_from_json(config, multi);
    if (flags.print_config) {
      std::cout << config.dump(2) << "\n";
      return;
    }
    if (flags.print_model) {
      print_model(train_config.model, std::cout);
      return;
    }
    const bool benchmark = flags.benchmark > 0;
    if (!benchmark && flags.run.empty() && flags.continue_run.empty())
      throw UsageError("give --run DIR for a new run, or --continue RUN to continue one");
    if (multi && !flags.init.empty() && is_warm_start(train_config.multi_task.warm_start))
      throw UsageError("--init and warm_start \"" + train_config.multi_task.warm_start +
                       "\" both choose the starting weights: give one of them");
    torch::Device device = resolve_device(train_config.device);
    if (train_config.threads > 0) torch::set_num_threads(train_config.threads);
    // Targets on the fly run the single encoder on each batch's stems: a different batch size per step.
    configure_determinism(train_config.deterministic, device, !(multi && train_config.multi_task.targets == "on_the_fly"));
    auto dist = Distributed::from_environment(device);
    device = dist->device();
    spdlog::info("compute: {} on {}, {} memory order", resolve_precision(train_config.bf16, device).describe(),
                 device.str(), train_config.channels_last ? "channels-last" : "contiguous");
    // Rank 0 alone writes the run folder; every rank learns whether that failed.
    if (!benchmark && flags.continue_run.empty())
      dist->on_main_agreed([&] { RunDir::prepare(flags.run); }, "preparing the run folder");
    // Every rank starts from the same seed, so the initial weights agree without a broadcast.
    torch::manual_seed(train_config.seed);
    std::unique_ptr<TrainTask> task;
    if (multi) task = std::make_unique<MultiTask>(train_config, device, *dist);
    else task = std::make_unique<SingleTask>(train_config, device, *dist);
    // From here on each rank draws its own dropout and stochastic-depth masks, as one process
    // would for the different items of its batch.
    torch::manual_seed(stream_seed(train_config.seed, {fnv1a("training"), uint64_t(dist->rank())}));
    std::optional<RunDir> run;
    TrainRun spec;
    spec.init_from = flags.init;
    spec.benchmark_steps = flags.benchmark;
    if (!benchmark) {
      std::exception_ptr error;
      try {
        if (!flags.continue_run.empty()) {
          run.emplace(RunDir::open(flags.continue_run));
          spec.continue_from = run->checkpoint("last").string();
        } else {
          run.emplace(RunDir::create(flags.run, task->run_config(), dist->is_main()));
        }
        if (dist->is_main()) run->attach_log();
      } catch (...) {
        error = std::current_exception();
      }
      dist->agree(error, "opening the run folder");
      spec.run = &*run;
      spdlog::info("{}: run folder {}", name, run->root().string());
      // The model was built (and warm-started) before the log file was attached: say so in it too.
      if (multi && is_warm_start(train_config.multi_task.warm_start) && flags.continue_run.empty())
        spdlog::info("{}: warm start \"{}\" from the single encoder {}", name, train_config.multi_task.warm_start,
                     train_config.multi_task.single_encoder);
    }
    train(*task, train_config, device, *dist, spec);
  });
}

}  // namespace instret
