#include "instret/loss/matched_contrastive_loss.h"

#include <c10/core/impl/LocalDispatchKeySet.h>
#include <torch/torch.h>

#include <limits>
#include <string>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

torch::Tensor matched_contrastive_loss(const torch::Tensor& outputs, const torch::Tensor& targets,
                                       const std::vector<int64_t>& counts,
                                       const std::vector<Assignment>& assignments,
                                       const std::vector<int64_t>& labels, double temperature) {
  if (outputs.dim() != 3 || targets.dim() != 3 || outputs.size(0) != targets.size(0) ||
      outputs.size(2) != targets.size(2))
    throw UsageError("contrastive loss expects outputs (B, M, D) and targets (B, N, D), got " +
                     c10::str(outputs.sizes()) + " and " + c10::str(targets.sizes()));
  const int64_t B = outputs.size(0), M = outputs.size(1), N = targets.size(1);
  if (int64_t(counts.size()) != B || int64_t(assignments.size()) != B)
    throw UsageError("contrastive loss: " + std::to_string(B) + " items but " + std::to_string(counts.size()) +
                     " counts and " + std::to_string(assignments.size()) + " assignments");
  if (!(temperature > 0)) throw UsageError("contrastive loss: temperature must be > 0");
  // Flat index of every used target, and of the output matched to it.
  std::vector<int64_t> target_flat, output_flat;
  std::vector<int64_t> matched_output;
  int64_t total = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t n = counts[size_t(b)];
    const Assignment& a = assignments[size_t(b)];
    if (n < 1 || n > N || int64_t(a.cols.size()) != n || a.rows.size() != a.cols.size())
      throw UsageError("contrastive loss: item " + std::to_string(b) + " has " + std::to_string(n) + " targets and " +
                       std::to_string(a.cols.size()) + " matched pairs");
    matched_output.assign(size_t(n), -1);
    std::vector<bool> row_used(size_t(M), false);
    for (size_t k = 0; k < a.cols.size(); ++k) {
      const int64_t col = a.cols[k], row = a.rows[k];
      if (col < 0 || col >= n || row < 0 || row >= M || matched_output[size_t(col)] != -1 || row_used[size_t(row)])
        throw UsageError("contrastive loss: item " + std::to_string(b) + " has an invalid assignment");
      matched_output[size_t(col)] = row;
      row_used[size_t(row)] = true;
    }
    for (int64_t j = 0; j < n; ++j) {
      target_flat.push_back(b * N + j);
      output_flat.push_back(b * M + matched_output[size_t(j)]);
    }
    total += n;
  }
  if (int64_t(labels.size()) != total)
    throw UsageError("contrastive loss: " + std::to_string(total) + " targets but " + std::to_string(labels.size()) +
                     " labels");

  const NoAutocast no_autocast;
  const auto dev = outputs.device();
  const auto long_opts = torch::TensorOptions().dtype(torch::kLong);
  auto o = outputs.reshape({B * M, -1}).index_select(0, torch::tensor(output_flat, long_opts).to(dev));
  auto t = targets.reshape({B * N, -1}).index_select(0, torch::tensor(target_flat, long_opts).to(targets.device()));
  o = o.to(torch::promote_types(o.scalar_type(), torch::kFloat));
  t = t.to(o.options());
  constexpr double kEps = 1e-8;
  o = o / o.norm(2, -1, true).clamp_min(kEps);
  t = t / t.norm(2, -1, true).clamp_min(kEps);
  auto logits = torch::mm(o, t.t()) / temperature;
  const auto lab = torch::tensor(labels, long_opts).to(dev);
  const auto same = lab.unsqueeze(1).eq(lab.unsqueeze(0));
  const auto self = torch::eye(total, torch::TensorOptions().dtype(torch::kBool).device(dev));
  logits = logits.masked_fill(same.logical_and(self.logical_not()), -std::numeric_limits<double>::infinity());
  return torch::nn::functional::cross_entropy(logits, torch::arange(total, long_opts.device(dev)));
}

}  // namespace instret
