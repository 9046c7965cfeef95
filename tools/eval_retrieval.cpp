// eval-retrieval: the multi-instrument encoder's retrieval quality on a split's mixtures (the paper's
// Table 2: instrument and family F1, mAP, chance levels; RetrievalBenchmark, docs/evaluation.md).
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>

#include "common/cli.h"
#include "common/eval_tool.h"
#include "instret/core/precision.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/eval/eval_encoders.h"
#include "instret/eval/retrieval_benchmark.h"

using namespace instret;

int main(int argc, char** argv) {
  CLI::App app{"Instrument retrieval from a split's mixtures (the paper's Table 2): per mixture, each output slot of the "
               "multi encoder picks its most similar library instrument; instrument and family F1, mAP, chance levels",
               "eval-retrieval"};
  CommonOptions options;
  add_common_flags(app, options);
  std::string multi, single, baseline, data, split = "valid", json_out, dump, device = "auto", name, bf16 = "auto";
  int64_t library_k = 1, max_mixtures = 0;
  bool markdown = false;
  int threads = 0;
  ChanceSettings chance;
  auto* multi_opt = app.add_option("--multi", multi, "Multi-encoder checkpoint (train-multi or import-weights)");
  auto* single_opt = app.add_option("--single", single, "Single-encoder checkpoint that makes the library");
  auto* baseline_opt = app.add_option("--baseline", baseline, "Non-learned baseline for both sides instead: mfcc or logmel")
                           ->check(CLI::IsMember({"mfcc", "logmel"}));
  baseline_opt->excludes(multi_opt)->excludes(single_opt);
  app.add_option("--data", data, "render-nlakh output folder")->required();
  app.add_option("--split", split, "Split whose mixtures and instruments are used (default valid)");
  app.add_option("--library-clips", library_k, "Library embedding = mean of each instrument's first K clips (default 1, as the paper)")
      ->check(CLI::Range(int64_t(1), int64_t(1) << 40));
  app.add_option("--max-mixtures", max_mixtures, "Use only the first N mixtures (0 = all)")
      ->check(CLI::Range(int64_t(0), int64_t(1) << 40));
  app.add_option("--chance-repeats", chance.repeats, "Random draws averaged for the chance levels (default 100)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--chance-seed", chance.seed, "Seed of the chance levels (default 0)");
  app.add_option("--json", json_out, "Also write the JSON report to this file (atomically)");
  app.add_flag("--markdown", markdown, "Print the paper's Table 2 rows as markdown on stdout instead of the JSON");
  app.add_option("--name", name, "Model name in the markdown row (default: the model kind and checkpoint)");
  app.add_option("--dump-scores", dump, "Write per-mixture scores, true and predicted sets as JSONL");
  app.add_option("--device", device, "auto, cpu, cuda or cuda:N");
  add_bf16_flag(app, bf16);
  app.add_option("-j,--threads", threads, "Intra-op threads, 0 = LibTorch's default")->check(CLI::Range(0, 1024));
  return run_tool(app, argc, argv, options, [&] {
    if (baseline.empty() && (multi.empty() || single.empty()))
      throw UsageError("give --multi CKPT and --single CKPT, or --baseline mfcc|logmel");
    const EvalToolStart start = start_eval_tool(options, baseline, threads, device, data, split);
    const torch::Device dev = start.device;
    RetrievalBenchmarkOptions bench_options;
    bench_options.library_clips = library_k;
    bench_options.max_mixtures = max_mixtures;
    bench_options.chance = chance;
    const RetrievalBenchmark bench = RetrievalBenchmark::open(data, split, bench_options);
    const bool learned = baseline.empty();
    const Precision precision = inference_precision(bf16, dev);
    const bool use_bf16 = learned && precision.bf16;
    MixtureEmbedder mix_embedder =
        learned ? MixtureEmbedder::multi(multi, dev, use_bf16) : MixtureEmbedder::baseline(start.config.baseline, dev);
    ClipEmbedder clip_embedder =
        learned ? ClipEmbedder::single(single, dev, use_bf16) : ClipEmbedder::baseline(start.config.baseline, dev);
    if (mix_embedder.dim() != clip_embedder.dim())
      throw UsageError("the multi encoder " + multi + " gives " + std::to_string(mix_embedder.dim()) +
                       "-d embeddings but the single encoder " + single + " gives " + std::to_string(clip_embedder.dim()) +
                       "-d ones: they were not trained together");
    if (learned) log_precision(precision, dev);

    const torch::Tensor library = bench.embed_library(
        [&](const torch::Tensor& audio) { return clip_embedder.embed(audio); }, start.config.batch_size,
        std::max(1, start.config.workers));
    const int64_t without_clips = library.norm(2, 1).eq(0).sum().item<int64_t>();
    if (without_clips > 0)
      spdlog::warn("{} of {} {} instruments have no clip (or a silent one) and cannot be retrieved", without_clips,
                   bench.n_labels(), split);
    const MixtureOutputs outputs = bench.embed_mixtures(
        [&](const torch::Tensor& audio) { return mix_embedder.embed(audio); }, start.config.batch_size,
        std::max(1, start.config.workers),
        split + " mixtures");
    const RetrievalRun run = bench.evaluate(outputs, library);
    const RetrievalEvaluation& result = run.evaluation;

    Json report = {{"tool", "eval-retrieval"},
                   {"multi", mix_embedder.describe()},
                   {"library", clip_embedder.describe()},
                   {"data", data},
                   {"split", split}};
    report.update(bench.report(run, library));
    const std::string md = retrieval_markdown(result, name.empty() ? mix_embedder.name() : name);
    report["markdown"] = md;
    if (!dump.empty()) {
      write_file_atomically(dump, bench.dump_jsonl(run));
      spdlog::info("wrote the scores of {} mixtures to {}", bench.n_items(), dump);
    }
    const std::string text = report.dump(2) + "\n";
    if (!json_out.empty()) write_file_atomically(json_out, text);
    std::cout << (markdown ? md : text) << std::flush;
    spdlog::info("instrument F1 macro {:.3f} weighted {:.3f}; family F1 macro {:.3f} weighted {:.3f}; mAP macro {:.3f} "
                 "weighted {:.3f} ({} mixtures, {} instruments, {} families)",
                 result.f1.macro, result.f1.weighted, result.family_f1.macro, result.family_f1.weighted,
                 result.map.macro, result.map.weighted, bench.n_items(), bench.n_labels(), bench.families().names.size());
    if (result.n_twin_groups > 0)
      spdlog::info("twin-aware ({} twin groups): instrument F1 macro {:.3f} weighted {:.3f}; mAP macro {:.3f} weighted "
                   "{:.3f}",
                   result.n_twin_groups, result.twin_f1.macro, result.twin_f1.weighted, result.twin_map.macro,
                   result.twin_map.weighted);
  });
}
