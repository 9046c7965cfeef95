// The configuration of a training run (train-single, train-multi): the typed view the training loop
// reads, whose structs hold the defaults, and its JSON (the keys a user may set in a config file or
// with --set).
// docs/training.md lists every key.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/audio/mel.h"
#include "instret/core/config.h"
#include "instret/core/precision.h"
#include "instret/models/model_config.h"
#include "instret/train/multi_task_config.h"
#include "instret/train/single_task_config.h"

namespace instret {

// Adam with an optional linear warm-up and cosine decay.
struct OptimConfig {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double weight_decay = 0.0;  // Adam's L2 term (torch.optim.Adam's weight_decay)
  int64_t warmup_steps = 0;   // lr rises linearly from lr/warmup_steps to lr over these steps
  std::string schedule = "constant";  // "constant" | "cosine" (from lr down to min_lr at the last step)
  double min_lr = 0.0;
  double grad_clip = 0.0;  // max global gradient norm; <= 0 disables clipping
};

// What the data loader reads and how.
struct DataConfig {
  std::string root;               // render-nlakh output folder
  std::string kind = "single";    // train-single: "single"; train-multi: "nlakh" | "random"
  double heldout_fraction = 0.1;  // train-single: share of each train instrument's clips held out for accuracy
  int64_t mixes_per_epoch = 0;    // random mixing: mixtures per epoch (0 = as many as Nlakh-multi train holds, or 10,000)
  int min_tracks = 2;             // random mixing: instruments per mixture, uniform in [min, max]
  int max_tracks = 9;
  int workers = 2;                // loader threads (0 = make batches on the training thread)
  int prefetch = 4;               // batches made ahead of the training step
};

// Validation during training.
struct ValidConfig {
  int64_t every = 0;           // steps between validations; 0 = once per epoch
  std::vector<uint64_t> eer_seeds{0};  // train-single: EER protocol repetitions
  int enroll = 5;
  int targets = 20;
  int non_targets = 20;
  int library_clips = 1;       // train-multi: library embedding = mean of this many valid clips per instrument
  int64_t clips_per_instrument = 0;  // train-single: cap on the valid clips used per instrument (0 = all)
  int64_t max_mixtures = 0;    // train-multi: cap on the valid mixtures used (0 = all)
  int64_t batch_size = 64;     // inference batch
};

struct TrainConfig {
  ModelConfig model;
  MelConfig mel;
  OptimConfig optim;
  DataConfig data;
  ValidConfig valid;
  int64_t batch_size = 32;  // global batch (split over distributed ranks)
  int64_t steps = 1000;     // optimizer steps in all
  uint64_t seed = 0;
  int64_t log_every = 20;
  int64_t checkpoint_every = 0;  // also keep checkpoints/step_<N>.pt every N steps (0 = only last and best)
  int threads = 0;               // intra-op threads (0 = LibTorch's default)
  std::string device = "auto";   // auto | cpu | cuda | cuda:N
  Bf16Mode bf16 = Bf16Mode::kAuto;  // bf16 autocast of the forward passes: auto | true | false (instret/core/precision.h)
  bool channels_last = true;     // 4-D weights and inputs in channels-last memory order
  bool deterministic = false;    // deterministic algorithms only (CUDA: slower; off = cuDNN autotuning)
  // The task's own section: the one of the tool's model kind is read and written (train-single's
  // when model.kind is "han_cnn", train-multi's otherwise); the other keeps its defaults.
  SingleTaskConfig single_task;
  MultiTaskConfig multi_task;

  Json json;  // the whole config as given (after defaults and overrides)
};

// The sections and the whole config as JSON, the keys a user may set (the shared sections and the
// task section of the config's model kind: train-single's for "han_cnn", train-multi's otherwise).
Json to_json(const OptimConfig& o);
Json to_json(const DataConfig& d);
Json to_json(const ValidConfig& v);
Json to_json(const TrainConfig& c);

// The defaults of a training tool: the structs' defaults (the model kind, data kind and batch size
// of train-single when `multi` is false, of train-multi otherwise) as JSON. They are written once, in
// the structs.
Json train_default_config(bool multi);

// Reads and validates a merged config of train-multi when `multi`, of train-single otherwise
// (UsageError naming the key on a bad value).
TrainConfig train_config_from_json(const Json& config, bool multi);

}  // namespace instret
