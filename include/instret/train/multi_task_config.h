// train-multi's own keys (the top level of its config beside the shared sections): the section of
// the training config that belongs to MultiTask (instret/train/multi_task.h).
// docs/training.md lists every key.
#pragma once
#include <string>

#include "instret/core/config.h"

namespace instret {

struct TrainConfig;

struct MultiTaskConfig {
  std::string single_encoder;           // checkpoint of the frozen single encoder
  std::string loss_reduction = "mean";  // PIT loss per mixture: "mean" (reference code) | "sum" (paper's equation)
  double contrastive_weight = 0.0;      // weight of the matched contrastive term added to the PIT loss (0 = the paper)
  double contrastive_temperature = 0.1; // its softmax temperature over cosine similarities
  double existence_weight = 1.0;        // weight of the existence term (set and mask heads: instret/loss/existence_loss.h)
  std::string targets = "cache";        // "cache" (precomputed per clip/stem) | "on_the_fly" (per batch)
  std::string targets_dir;              // where the cache lives ("" = <data root>/targets, else the run)
  std::string warm_start = "none";      // "none" | "single_trunk" | "single" (Small only: instret/train/warm_start.h)

  // UsageError naming the key; also checks the shared sections train-multi needs (model.kind
  // "small" or "large", data.kind "nlakh" or "random", data.max_tracks <= model.n_outputs) and
  // warm_start against the model.
  void validate(const TrainConfig& config) const;
};

// Its keys, as they stand at the top level of train-multi's config (contrastive.* and existence.*
// nested).
Json to_json(const MultiTaskConfig& c);

// Reads its keys from a merged train-multi config (range-checked getters) and validates them
// against the config's shared sections.
MultiTaskConfig multi_task_config_from_json(const Json& j, const TrainConfig& config);

}  // namespace instret
