#include "instret/loss/pit_cosine_loss.h"

#include <c10/core/impl/LocalDispatchKeySet.h>

#include <algorithm>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

PitReduction pit_reduction_from_string(const std::string& name) {
  if (name == "sum") return PitReduction::kSum;
  if (name == "mean") return PitReduction::kMean;
  throw UsageError("PIT loss reduction must be \"sum\" or \"mean\", got \"" + name + "\"");
}

torch::Tensor cosine_cost(const torch::Tensor& outputs, const torch::Tensor& targets) {
  constexpr double kEps = 1e-8;
  const auto o = outputs / outputs.norm(2, -1, /*keepdim=*/true).clamp_min(kEps);
  const auto t = targets / targets.norm(2, -1, /*keepdim=*/true).clamp_min(kEps);
  return 1.0 - torch::bmm(o, t.transpose(1, 2));
}

PitLoss pit_cosine_loss(const torch::Tensor& outputs, const torch::Tensor& targets, const torch::Tensor& counts,
                        PitReduction reduction) {
  if (outputs.dim() != 3 || targets.dim() != 3 || outputs.size(0) != targets.size(0) ||
      outputs.size(2) != targets.size(2))
    throw UsageError("PIT loss expects outputs (B, M, D) and targets (B, N, D), got " +
                     c10::str(outputs.sizes()) + " and " + c10::str(targets.sizes()));
  const int64_t B = outputs.size(0), M = outputs.size(1), N = targets.size(1);
  if (counts.is_floating_point() || counts.is_complex() || counts.scalar_type() == torch::kBool)
    throw UsageError("PIT loss expects integer target counts, got " + std::string(c10::toString(counts.scalar_type())));
  if (!outputs.is_floating_point() || !targets.is_floating_point())
    throw UsageError("PIT loss expects floating-point outputs and targets, got " +
                     std::string(c10::toString(outputs.scalar_type())) + " and " +
                     std::string(c10::toString(targets.scalar_type())));
  const auto n = counts.to(torch::kCPU, torch::kLong).contiguous();
  if (n.dim() != 1 || n.size(0) != B)
    throw UsageError("PIT loss expects counts (B) = (" + std::to_string(B) + "), got " + c10::str(counts.sizes()));
  if (B == 0) throw UsageError("PIT loss of an empty batch");

  PitLoss result;
  // The costs, and so the assignment and the loss, in the outputs' precision even under autocast
  // (bf16 training): a bf16 cosine has about 3 significant digits, enough to flip near-tied
  // assignments and to quantise the loss.
  const NoAutocast no_autocast;
  // Padding target slots are replaced by zeros (torch::where, not a multiplication: 0 * NaN is NaN,
  // and NaN/Inf padding would otherwise poison the gradient of every output of its item). Their cost
  // is then 1. CPU matrix products have no float16/bfloat16 kernels: those are computed in float32.
  const auto slots = torch::arange(N, torch::TensorOptions().dtype(torch::kLong)).unsqueeze(0);
  const auto valid = (slots < n.unsqueeze(1)).unsqueeze(2).to(targets.device());
  auto o = outputs, t = torch::where(valid, targets, torch::zeros({}, targets.options()));
  if (o.is_cpu() && (o.scalar_type() == torch::kHalf || o.scalar_type() == torch::kBFloat16)) o = o.to(torch::kFloat);
  if (t.is_cpu() && (t.scalar_type() == torch::kHalf || t.scalar_type() == torch::kBFloat16)) t = t.to(torch::kFloat);
  if (o.scalar_type() != t.scalar_type()) {
    const auto common = torch::promote_types(o.scalar_type(), t.scalar_type());
    o = o.to(common);
    t = t.to(common);
  }
  const auto cost = cosine_cost(o, t);
  result.cost = cost.detach();
  const auto cpu = result.cost.to(torch::kCPU, torch::kFloat64).contiguous();
  std::vector<int64_t> item, out_index, target_index;
  std::vector<double> weight;
  result.assignments.reserve(B);
  const auto* counts_ptr = n.data_ptr<int64_t>();
  for (int64_t b = 0; b < B; ++b) {
    const int64_t nb = counts_ptr[b];
    // More targets than outputs would leave targets unmatched and silently out of the loss.
    if (nb < 1 || nb > N || nb > M)
      throw UsageError("PIT loss: item " + std::to_string(b) + " has " + std::to_string(nb) +
                       " targets, expected 1.." + std::to_string(std::min(N, M)) + " (" + std::to_string(N) +
                       " target slots, " + std::to_string(M) + " outputs)");
    auto a = linear_sum_assignment(cpu[b].narrow(1, 0, nb));
    const double w = (reduction == PitReduction::kSum ? 1.0 : 1.0 / double(a.rows.size())) / double(B);
    for (size_t k = 0; k < a.rows.size(); ++k) {
      item.push_back(b);
      out_index.push_back(a.rows[k]);
      target_index.push_back(a.cols[k]);
      weight.push_back(w);
    }
    result.assignments.push_back(std::move(a));
  }
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  const auto dev = cost.device();
  const auto bi = torch::tensor(item, long_opts).to(dev);
  const auto oi = torch::tensor(out_index, long_opts).to(dev);
  const auto ti = torch::tensor(target_index, long_opts).to(dev);
  const auto w = torch::tensor(weight, torch::TensorOptions().dtype(torch::kFloat64)).to(cost.options());
  const auto matched = cost.index({bi, oi, ti});
  result.loss = (matched * w).sum();
  return result;
}

}  // namespace instret
