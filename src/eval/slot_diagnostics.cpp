#include "instret/eval/slot_diagnostics.h"

#include <torch/torch.h>

#include <cmath>

#include "instret/core/error.h"

namespace instret {

SlotDiagnostics slot_diagnostics(const torch::Tensor& outputs, const torch::Tensor& cosines) {
  if (outputs.dim() != 3 || cosines.dim() != 3 || outputs.size(0) != cosines.size(0) ||
      outputs.size(1) != cosines.size(1) || outputs.size(0) < 1 || cosines.size(2) < 1)
    throw UsageError("slot_diagnostics: outputs (N, M, D) and cosines (N, M, L) with N, L >= 1 must agree");
  SlotDiagnostics d;
  const int64_t n = outputs.size(0), m = outputs.size(1), l = cosines.size(2);
  const torch::Tensor unit = torch::nn::functional::normalize(
      outputs.to(torch::kCPU, torch::kFloat64), torch::nn::functional::NormalizeFuncOptions().dim(2).eps(1e-12));
  const torch::Tensor mean = torch::nn::functional::normalize(
      unit.mean(0), torch::nn::functional::NormalizeFuncOptions().dim(1).eps(1e-12));  // (M, D)
  const torch::Tensor per_slot = (unit * mean.unsqueeze(0)).sum(2).mean(0);         // (M)
  for (int64_t k = 0; k < m; ++k) d.collapse_per_slot.push_back(per_slot[k].item<double>());
  d.collapse = per_slot.mean().item<double>();
  if (m > 1) {
    const torch::Tensor gram = torch::bmm(unit, unit.transpose(1, 2));  // (N, M, M)
    d.pairwise_cosine = ((gram.sum() - gram.diagonal(0, 1, 2).sum()) / double(n * m * (m - 1))).item<double>();
  }
  const torch::Tensor picks = cosines.to(torch::kCPU).argmax(2).reshape({-1});
  const torch::Tensor all_counts = torch::bincount(picks, {}, l).to(torch::kFloat64);
  d.hub_top1_share = (all_counts.max() / double(n * m)).item<double>();
  // The skew over the entries that can be picked (slot_library_cosines gives one without clips -2).
  const torch::Tensor retrievable = cosines.to(torch::kCPU).reshape({-1, l}).gt(-2).any(0);
  const torch::Tensor counts = all_counts.index({retrievable});
  if (counts.numel() > 0) {
    const double mu = counts.mean().item<double>();
    const double sd = counts.std(/*unbiased=*/false).item<double>();
    d.hub_skewness = sd > 0 ? ((counts - mu).pow(3).mean().item<double>() / std::pow(sd, 3)) : 0.0;
  }
  return d;
}

}  // namespace instret
