// The training loop shared by train-single and train-multi: Adam with the configured schedule,
// gradient clipping, a prefetching loader, data-parallel ranks, validation, metrics, atomic
// checkpoints (last, best, every K steps), exact continuation, and a clean stop on SIGINT/SIGTERM.
#pragma once
#include <torch/nn/module.h>

#include <cstdint>
#include <string>
#include <utility>

#include "instret/core/stable_rng.h"
#include "instret/data/prefetch_loader.h"
#include "instret/train/distributed.h"
#include "instret/train/run_dir.h"
#include "instret/train/train_config.h"

namespace instret {

// What differs between the two tools: the model, the data, the loss and the validation.
class TrainTask {
 public:
  virtual ~TrainTask() = default;
  virtual torch::nn::Module& model() = 0;
  // The network as the task built it: the config's `model` section plus what the task took from the
  // data (train-single: n_classes, the number of train instruments). Checkpoints record it and are
  // loaded against it.
  virtual const ModelConfig& model_config() const = 0;
  // The run's config as config.json and the checkpoints record it: the config as given, with what
  // the task took from the data (train-single: model.n_classes).
  virtual const Json& run_config() const = 0;
  // Optimizer steps per pass over the training data (at least 1).
  virtual int64_t steps_per_epoch() const = 0;
  // This rank's share of the global batch of step `step`: a pure function of (seed, step), safe to
  // call from several threads.
  virtual Batch make_batch(int64_t step) const = 0;
  // A batch of the same shape made of synthetic audio and labels, without reading data (benchmark).
  virtual Batch synthetic_batch(int64_t step) const = 0;
  // The training loss of a batch (model in training mode; called on the training thread).
  virtual torch::Tensor loss(const Batch& batch) = 0;
  // Validation metrics (e.g. {"loss", "accuracy", "eer"}), model in eval mode without gradients.
  virtual Json validate() = 0;
  // The validation metric that selects checkpoints/best.pt, and whether higher is better.
  virtual std::pair<std::string, bool> best_metric() const = 0;
};

// The start of a benchmark batch: `size` items of uniform noise in [-0.5, 0.5) of `samples` samples,
// drawn from (seed, step), and the generator that drew them for the task's labels or targets.
std::pair<Batch, StableRng> synthetic_audio_batch(int64_t step, int64_t size, int64_t samples, uint64_t seed);

struct TrainRun {
  RunDir* run = nullptr;          // null for a benchmark
  std::string continue_from;      // checkpoint to continue from (model, optimizer, step, generator)
  std::string init_from;          // checkpoint to take the weights from (fork)
  int64_t benchmark_steps = 0;    // > 0: benchmark instead of training
};

// Trains `task.model()` (described by `task.model_config()`) per `config` until config.steps, or
// until SIGINT/SIGTERM (then checkpoints/last.pt is saved and the call returns normally). A NaN or
// infinite loss throws Error naming the step and the last good checkpoint, which is kept. With
// benchmark_steps, runs that many steps on synthetic batches and on the loader and prints one JSON
// line to stdout.
void train(TrainTask& task, const TrainConfig& config, const torch::Device& device, Distributed& dist,
           const TrainRun& run);

}  // namespace instret
