#include "instret/loss/spare_slot_loss.h"

#include <torch/torch.h>

#include "instret/core/error.h"
#include "instret/core/precision.h"
#include "instret/loss/existence_loss.h"

namespace instret {

torch::Tensor spare_slot_loss(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& counts,
                              const std::vector<Assignment>& assignments) {
  if (outputs.dim() != 3 || targets.dim() != 3 || outputs.size(0) != targets.size(0) || outputs.size(2) != targets.size(2))
    throw UsageError("spare_slot_loss: outputs must be (B, M, D) and targets (B, N, D)");
  const int64_t b = outputs.size(0), m = outputs.size(1), n = targets.size(1);
  if (counts.dim() != 1 || counts.size(0) != b) throw UsageError("spare_slot_loss: counts must be (B)");
  const torch::Tensor c = counts.to(torch::kCPU, torch::kInt64);
  if (b > 0 && (c.min().item<int64_t>() < 1 || c.max().item<int64_t>() > n))
    throw UsageError("spare_slot_loss: counts must lie in 1.." + std::to_string(n));
  NoAutocast no_autocast;
  const torch::Tensor o = torch::nn::functional::normalize(outputs.to(torch::kFloat32),
                                                           torch::nn::functional::NormalizeFuncOptions().dim(2).eps(1e-8));
  const torch::Tensor t = torch::nn::functional::normalize(targets.detach().to(torch::kFloat32),
                                                           torch::nn::functional::NormalizeFuncOptions().dim(2).eps(1e-8));
  const torch::Tensor cos = torch::bmm(o, t.transpose(1, 2));  // (B, M, N)
  const torch::Tensor valid = (torch::arange(n).unsqueeze(0) < c.unsqueeze(1)).to(cos.device()).unsqueeze(1);  // (B, 1, N)
  const torch::Tensor best = std::get<0>(torch::where(valid, cos, torch::full_like(cos, -2.0)).max(2));  // (B, M)
  const torch::Tensor spare = (1 - existence_targets(assignments, b, m)).to(best.device());
  return ((1 - best) * spare).sum() / spare.sum().clamp_min(1);
}

}  // namespace instret
