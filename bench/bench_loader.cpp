// Training-data loader throughput: random mixes of Nlakh-single clips (the paper's multi-encoder
// input) made by random_mix_batch through PrefetchLoader, mixtures/s per worker count, one JSON
// line per setting. Loader only: no log-mel (computed batched on the training device).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>
#include <vector>

#include "instret/core/error.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/data/prefetch_loader.h"
#include "instret/data/random_mix.h"

namespace {
using Clock = std::chrono::steady_clock;
}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Mixtures/s of random_mix_batch through PrefetchLoader (loader only, no log-mel)", "bench_loader"};
  std::string data_dir, split = "train";
  std::vector<int> workers = {1, 2};
  int64_t batch = 128, steps = 10;
  int prefetch = 4, warmup = 1;
  uint64_t seed = 0;
  bool stems = false, recycle = true;
  app.add_option("--data", data_dir, "Rendered Nlakh folder (render-nlakh output)")->required();
  app.add_option("--split", split, "Split of Nlakh-single to mix");
  app.add_option("--workers", workers, "Worker counts, comma-separated (0 = synchronous in next())")->delimiter(',');
  app.add_option("--batch", batch, "Mixtures per batch");
  app.add_option("--steps", steps, "Timed batches per setting");
  app.add_option("--warmup", warmup, "Untimed batches per setting before the timed ones");
  app.add_option("--prefetch", prefetch, "Batches made ahead of the consumer");
  app.add_option("--seed", seed, "Random-mix seed");
  app.add_flag("--stems", stems, "Also copy each clip's audio into the batch (on-the-fly targets)");
  app.add_flag("--recycle,!--no-recycle", recycle, "Hand consumed batches back with recycle_batch (default on)");
  CLI11_PARSE(app, argc, argv);
  try {
    const instret::NlakhSingle data = instret::NlakhSingle::open(data_dir, split);
    const instret::RandomMixConfig config;
    const instret::BatchMaker make = [&](int64_t step) {
      return instret::random_mix_batch(data, instret::random_mix_recipes(data, config, seed, 0, step, batch), stems,
                                       step);
    };
    for (int w : workers) {
      {
        instret::PrefetchLoader loader(make, 0, warmup, w, prefetch);
        while (auto b = loader.next())
          if (recycle) instret::recycle_batch(std::move(*b));
      }
      int64_t mixtures = 0, tracks = 0;
      const std::clock_t cpu_start = std::clock();
      const auto start = Clock::now();
      instret::PrefetchLoader loader(make, warmup, warmup + steps, w, prefetch);
      while (auto b = loader.next()) {
        mixtures += b->size;
        tracks += int64_t(b->target_rows.size());
        if (recycle) instret::recycle_batch(std::move(*b));
      }
      const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      const double cpu = double(std::clock() - cpu_start) / CLOCKS_PER_SEC;
      std::printf(
          "{\"loader\": \"instret\", \"features\": \"none\", \"workers\": %d, \"batch\": %ld, \"batches\": %ld, "
          "\"mixtures\": %ld, \"mean_tracks\": %.2f, \"seconds\": %.3f, \"mixtures_per_s\": %.1f, "
          "\"mixtures_per_cpu_s\": %.1f, \"wait_s\": %.3f, \"recycle\": %s, \"clips\": %zu, \"instruments\": %zu}\n",
          w, long(batch), long(steps), long(mixtures), double(tracks) / double(std::max<int64_t>(mixtures, 1)), seconds,
          double(mixtures) / seconds, double(mixtures) / cpu, loader.wait_seconds(), recycle ? "true" : "false",
          data.clips().size(), data.instruments_with_clips().size());
      std::fflush(stdout);
    }
  } catch (const instret::Error& e) {
    std::fprintf(stderr, "bench_loader: %s\n", e.what());
    return 1;
  }
  return 0;
}
