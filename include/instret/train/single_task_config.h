// train-single's own keys (the top level of its config beside the shared sections): the section of
// the training config that belongs to SingleTask (instret/train/single_task.h).
// docs/training.md lists every key.
#pragma once

#include "instret/core/config.h"

namespace instret {

struct TrainConfig;

struct SingleTaskConfig {
  double family_smoothing = 0.0;  // label smoothing onto the class's family (0 = the paper's cross-entropy)

  // UsageError naming the key; also checks the shared sections train-single needs (model.kind
  // "han_cnn", data.kind "single").
  void validate(const TrainConfig& config) const;
};

// Its keys, as they stand at the top level of train-single's config.
Json to_json(const SingleTaskConfig& c);

// Reads its keys from a merged train-single config (range-checked getters) and validates them
// against the config's shared sections.
SingleTaskConfig single_task_config_from_json(const Json& j, const TrainConfig& config);

}  // namespace instret
