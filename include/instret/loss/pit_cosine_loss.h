// Permutation-invariant cosine loss of the multi-instrument encoder: each target embedding is
// matched one-to-one to an output embedding by an optimal assignment, and the matched
// (1 - cosine) costs are summed or averaged.
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

#include "instret/loss/linear_assignment.h"

namespace instret {

enum class PitReduction {
  kSum,   // per item: sum of the matched costs (the paper)
  kMean,  // per item: mean of the matched costs
};

// "sum" | "mean" -> PitReduction; UsageError otherwise.
PitReduction pit_reduction_from_string(const std::string& name);

struct PitLoss {
  torch::Tensor loss;                   // scalar: mean over items of the per-item reduction
  torch::Tensor cost;                   // (B, M, N) detached 1 - cosine matrix (padding included)
  std::vector<Assignment> assignments;  // per item: rows = output indices, cols = target indices
};

// outputs (B, M, D), targets (B, N, D) where item b uses its first counts[b] targets (the rest is
// padding), counts (B) integers in [1, min(N, M)]. cost[b, j, n] = 1 - cos(outputs[b, j], targets[b, n]);
// the assignment of each item minimises the summed cost of its M x counts[b] block (solved in
// double on the CPU, whatever the device of the inputs); the loss gathers cost[b, j, n] at the
// matched (output j, target n) pairs only, so gradients flow through them alone. A cosine norm is
// clamped at 1e-8. Computed without autocast (in the inputs' precision, at least float32 on the CPU).
// NaN costs throw FormatError; bad shapes or counts throw UsageError.
PitLoss pit_cosine_loss(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& counts,
                        PitReduction reduction = PitReduction::kSum);

// The (1 - cosine) cost matrices (B, M, N) of the loss, differentiable.
torch::Tensor cosine_cost(const torch::Tensor& outputs, const torch::Tensor& targets);

}  // namespace instret
