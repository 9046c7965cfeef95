// The spare-slot term of the multi encoder: a spare output (one the Hungarian assignment of the PIT
// loss leaves unmatched) gets no gradient from the PIT loss, yet under the paper's rules it votes in
// the predicted set and feeds the max of the mAP score. This term pulls each spare output toward the
// nearest of its mixture's targets, so it repeats an instrument that is there (which the set's union
// and the max absorb) instead of voting for one that is not.
#pragma once
#include <torch/types.h>

#include <vector>

#include "instret/loss/linear_assignment.h"

namespace instret {

// outputs (B, M, D), targets (B, N, D) with counts[b] valid rows (the rest padding), assignments as
// PitLoss gives them. The mean over every spare output of the batch of 1 - its best cosine to the
// item's valid targets (targets detached); 0 (with a graph) when no output is spare. Computed in
// float32 without autocast. UsageError on mismatched shapes or counts outside 1..N.
torch::Tensor spare_slot_loss(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& counts,
                              const std::vector<Assignment>& assignments);

}  // namespace instret
