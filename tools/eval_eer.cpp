// eval-eer: the single-instrument encoder's EER on a split's (unseen) instruments, the paper's protocol
// over several seeds (EerBenchmark, docs/evaluation.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <iostream>

#include "common/cli.h"
#include "common/eval_tool.h"
#include "instret/core/precision.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/eval/eer_benchmark.h"
#include "instret/eval/eval_encoders.h"

using namespace instret;

int main(int argc, char** argv) {
  CLI::App app{"EER of single-instrument embeddings on a split's instruments: enrollment = mean of `enroll` clips, "
               "`targets` target and `non-targets` non-target trials per instrument, cosine scores, repeated per seed",
               "eval-eer"};
  CommonOptions options;
  add_common_flags(app, options);
  std::string single, baseline, data, split = "valid", json_out, dump, device = "auto", bf16 = "auto";
  std::vector<uint64_t> seeds{0, 1, 2, 3, 4};
  EerProtocol protocol;
  int threads = 0;
  int64_t cap = 0;
  auto* single_opt = app.add_option("--single", single, "Single-encoder checkpoint (train-single)");
  auto* baseline_opt = app.add_option("--baseline", baseline, "Non-learned baseline instead: mfcc or logmel")
                           ->check(CLI::IsMember({"mfcc", "logmel"}));
  single_opt->excludes(baseline_opt);
  app.add_option("--data", data, "render-nlakh output folder")->required();
  app.add_option("--split", split, "Split whose instruments are evaluated (default valid)");
  app.add_option("--seeds", seeds, "Protocol repetitions, e.g. 0,1,2,3,4")->delimiter(',');
  app.add_option("--enroll", protocol.enroll, "Clips averaged into an enrollment (default 5)")->check(CLI::Range(1, 100000));
  app.add_option("--targets", protocol.targets, "Target trials per instrument (default 20)")->check(CLI::Range(1, 100000));
  app.add_option("--non-targets", protocol.non_targets, "Non-target trials per instrument (default 20)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--clips-per-instrument", cap, "Use only each instrument's first N clips (0 = all)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  app.add_option("--json", json_out, "Also write the JSON report to this file (atomically)");
  app.add_option("--dump-trials", dump, "Write every trial as CSV: seed,instrument,instrument_id,target,score");
  app.add_option("--device", device, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(app, bf16);
  app.add_option("-j,--threads", threads, "Intra-op threads, 0 = LibTorch's default")->check(CLI::Range(0, 1024));
  return run_tool(app, argc, argv, options, [&] {
    if (single.empty() == baseline.empty()) throw UsageError("give --single CKPT or --baseline mfcc|logmel");
    if (seeds.empty()) throw UsageError("--seeds: give at least one seed");
    const EvalToolStart start = start_eval_tool(options, baseline, threads, device, data, split);
    const torch::Device dev = start.device;
    EerBenchmarkOptions bench_options;
    bench_options.clips_per_instrument = cap;
    bench_options.protocol = protocol;
    bench_options.seeds = seeds;
    const EerBenchmark bench = EerBenchmark::open(data, split, bench_options);
    const Precision precision = inference_precision(bf16, dev);
    ClipEmbedder embedder = single.empty() ? ClipEmbedder::baseline(start.config.baseline, dev)
                                           : ClipEmbedder::single(single, dev, precision.bf16);
    if (!single.empty()) log_precision(precision, dev);
    std::string seed_list;
    for (uint64_t s : seeds) seed_list += (seed_list.empty() ? "" : ",") + std::to_string(s);
    spdlog::info("eval-eer: {} {} clips of {} instruments ({} without clips), seeds {}", bench.clips().size(), split,
                 bench.dataset().instruments().size() - size_t(bench.instruments_without_clips()),
                 bench.instruments_without_clips(), seed_list);
    const torch::Tensor emb = bench.embed([&](const torch::Tensor& audio) { return embedder.embed(audio); },
                                          start.config.batch_size, std::max(1, start.config.workers), split + " clips");
    const EerEvaluation result = bench.evaluate(emb);

    Json report = {{"tool", "eval-eer"}, {"encoder", embedder.describe()}, {"data", data}, {"split", split}};
    report.update(bench.report(result));
    if (!dump.empty()) {
      write_file_atomically(dump, bench.trials_csv(result));
      spdlog::info("wrote {} trials to {}", report["counts"]["trials"].get<int64_t>(), dump);
    }
    const std::string text = report.dump(2) + "\n";
    if (!json_out.empty()) write_file_atomically(json_out, text);
    std::cout << text << std::flush;
    spdlog::info("EER pooled {:.4f} +- {:.4f}, per-instrument mean {:.4f}, ROCCH {:.4f} ({} instruments, {} skipped)",
                 result.pooled.mean, result.pooled.std, result.per_instrument_mean.mean, result.rocch.mean,
                 result.used.size(), result.skipped.size());
  });
}
