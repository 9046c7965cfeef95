#include "instret/train/instrument_targets.h"

#include <algorithm>
#include <string>

#include "instret/core/error.h"

namespace instret {

torch::Tensor instrument_mean_targets(const torch::Tensor& rows, const std::vector<int64_t>& labels) {
  if (rows.dim() != 2 || rows.size(0) != int64_t(labels.size()))
    throw UsageError("instrument_mean_targets: " + std::to_string(labels.size()) + " labels for a table of " +
                     std::to_string(rows.dim() == 2 ? rows.size(0) : -1) + " rows");
  if (labels.empty()) return rows.clone();
  if (*std::min_element(labels.begin(), labels.end()) < 0)
    throw UsageError("instrument_mean_targets: a negative instrument id");
  const int64_t n = *std::max_element(labels.begin(), labels.end()) + 1;
  const torch::Tensor index = torch::tensor(labels, torch::kInt64).to(rows.device());
  const torch::Tensor f = rows.to(torch::kFloat32);
  const torch::Tensor unit = f / f.norm(2, 1, true).clamp_min(1e-12);
  torch::Tensor sums = torch::zeros({n, rows.size(1)}, unit.options()).index_add_(0, index, unit);
  const torch::Tensor norms = sums.norm(2, 1);
  const torch::Tensor used = torch::zeros({n}, torch::kBool).index_fill_(0, index.cpu(), true).to(rows.device());
  if ((norms.le(1e-6) & used).any().item<bool>())
    throw UsageError("instrument_mean_targets: an instrument's targets sum to zero");
  sums = sums / norms.clamp_min(1e-12).unsqueeze(1);
  return sums.index_select(0, index).to(rows.dtype());
}

}  // namespace instret
