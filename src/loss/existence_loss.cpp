#include "instret/loss/existence_loss.h"

#include <torch/torch.h>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

torch::Tensor existence_targets(const std::vector<Assignment>& assignments, int64_t batch, int64_t m) {
  if (int64_t(assignments.size()) != batch)
    throw UsageError("existence_targets: " + std::to_string(assignments.size()) + " assignments for " +
                     std::to_string(batch) + " items");
  torch::Tensor t = torch::zeros({batch, m}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t row : assignments[size_t(b)].rows) {
      if (row < 0 || row >= m)
        throw UsageError("existence_targets: output index " + std::to_string(row) + " outside [0, " + std::to_string(m) + ")");
      a[b][row] = 1.0f;
    }
  return t;
}

torch::Tensor existence_loss(const torch::Tensor& logits, const std::vector<Assignment>& assignments) {
  if (logits.dim() != 2) throw UsageError("existence_loss: logits must be (B, M)");
  NoAutocast no_autocast;
  const torch::Tensor targets = existence_targets(assignments, logits.size(0), logits.size(1)).to(logits.device());
  return torch::binary_cross_entropy_with_logits(logits.to(torch::kFloat32), targets);
}

}  // namespace instret
