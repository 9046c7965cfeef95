#include "instret/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace instret {

double learning_rate_at(const OptimConfig& optim, int64_t step, int64_t total_steps) {
  if (step < optim.warmup_steps) return optim.lr * double(step + 1) / double(optim.warmup_steps);
  if (optim.schedule != "cosine") return optim.lr;
  const int64_t span = total_steps - 1 - optim.warmup_steps;
  if (span <= 0) return optim.lr;
  const double t = std::clamp(double(step - optim.warmup_steps) / double(span), 0.0, 1.0);
  return optim.min_lr + (optim.lr - optim.min_lr) * 0.5 * (1.0 + std::cos(M_PI * t));
}

}  // namespace instret
