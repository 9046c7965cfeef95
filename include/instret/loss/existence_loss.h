// The existence term of the set and mask heads (model.head "set" or "mask"): each output slot's logit says whether the
// slot holds an instrument of the mixture. Its targets come from the Hungarian assignment of the PIT
// loss: a slot matched to a target is 1, an unmatched (spare) slot 0. So a spare slot learns to say
// "no instrument" instead of voting with an untrained embedding at retrieval time.
#pragma once
#include <torch/types.h>

#include <vector>

#include "instret/loss/linear_assignment.h"

namespace instret {

// (B, M) float32 0/1 targets on the CPU: row b has 1 at every output index in assignments[b].rows.
// UsageError when an index is outside [0, M) or there is not one assignment per item.
torch::Tensor existence_targets(const std::vector<Assignment>& assignments, int64_t batch, int64_t m);

// Binary cross-entropy with logits (B, M) against existence_targets, the mean over all B x M slots,
// computed in float32 without autocast.
torch::Tensor existence_loss(const torch::Tensor& logits, const std::vector<Assignment>& assignments);

}  // namespace instret
