// A contrastive term for the multi-instrument encoder, beside the PIT cosine loss: each target's
// matched output (the PIT assignment) must be more similar to that target than to every other
// target of the batch, a softmax over cosine similarities (InfoNCE). The PIT cosine loss alone is
// nearly minimised by nine input-independent prototypes when the targets share most of their
// direction (docs/results.md); this term is not: an output can only pick its own target out of the
// batch's if it depends on the mixture.
#pragma once
#include <torch/types.h>

#include <vector>

#include "instret/loss/linear_assignment.h"

namespace instret {

// outputs (B, M, D); targets (B, N, D) where item b uses its first counts[b] targets; assignments as
// PitLoss::assignments (rows = output indices, cols = target indices, every used target matched
// once); labels: one class (the instrument) per used target, item by item (item 0's counts[0]
// targets, then item 1's, ...). Logits are cos(output matched to target i, target j) / temperature
// over all used targets j of the batch; targets j != i with the label of i are left out (another
// clip of the same instrument is not a negative). Returns the mean cross-entropy of picking i, a
// scalar, computed without autocast in at least float32. UsageError on inconsistent shapes.
torch::Tensor matched_contrastive_loss(const torch::Tensor& outputs, const torch::Tensor& targets,
                                       const std::vector<int64_t>& counts,
                                       const std::vector<Assignment>& assignments,
                                       const std::vector<int64_t>& labels, double temperature);

}  // namespace instret
