// The learning rate of each optimizer step: optional linear warm-up, then constant or cosine decay.
#pragma once
#include <cstdint>

#include "instret/train/train_config.h"

namespace instret {

// The rate for step `step` (0-based) of a run of `total_steps`: during warm-up lr * (step + 1) /
// warmup_steps; then lr ("constant") or min_lr + (lr - min_lr) (1 + cos(pi t)) / 2 with t going
// from 0 at the end of warm-up to 1 at the last step ("cosine").
double learning_rate_at(const OptimConfig& optim, int64_t step, int64_t total_steps);

}  // namespace instret
