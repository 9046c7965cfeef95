// Family-aware label smoothing for the single-instrument classifier (train-single's
// `family_smoothing`): the target of a clip of instrument c keeps 1 - epsilon on c and spreads
// epsilon evenly over the train instruments of c's family (c included). Plain cross-entropy asks the
// classifier to tell every instrument from every other one alike, so nothing pulls a piano's
// embedding towards another piano's; the smoothed target does, which is what retrieval among unseen
// instruments needs when the train split holds few instruments per family (docs/results.md).
#pragma once
#include <torch/types.h>

#include <string>
#include <vector>

namespace instret {

// (C, C) float32 target rows for classes whose families are `family_of_class` (one name per class).
// epsilon = 0 gives the identity. UsageError when epsilon is outside [0, 1] or there are no classes.
torch::Tensor family_smoothed_targets(const std::vector<std::string>& family_of_class, double epsilon);

// Mean over the batch of -sum_j target[label, j] log softmax(logits)_j, in float32 (logits (B, C),
// labels (B) int64 on the device of logits, targets (C, C)). With the identity as targets this is
// torch's cross_entropy. UsageError on inconsistent shapes.
torch::Tensor smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                     const torch::Tensor& targets);

}  // namespace instret
