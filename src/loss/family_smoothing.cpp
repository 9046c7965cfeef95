#include "instret/loss/family_smoothing.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "instret/core/error.h"

namespace instret {

torch::Tensor family_smoothed_targets(const std::vector<std::string>& family_of_class, double epsilon) {
  if (!(epsilon >= 0 && epsilon <= 1))
    throw UsageError("family smoothing: epsilon must be in [0, 1], got " + std::to_string(epsilon));
  const int64_t c = int64_t(family_of_class.size());
  if (c == 0) throw UsageError("family smoothing: no classes");
  std::map<std::string, int64_t> members;
  for (const auto& f : family_of_class) ++members[f];
  torch::Tensor t = torch::zeros({c, c}, torch::kFloat32);
  auto a = t.accessor<float, 2>();
  for (int64_t i = 0; i < c; ++i) {
    const double share = epsilon / double(members[family_of_class[size_t(i)]]);
    for (int64_t j = 0; j < c; ++j)
      if (family_of_class[size_t(j)] == family_of_class[size_t(i)]) a[i][j] = float(share);
    a[i][i] += float(1 - epsilon);
  }
  return t;
}

torch::Tensor smoothed_cross_entropy(const torch::Tensor& logits, const torch::Tensor& labels,
                                     const torch::Tensor& targets) {
  if (logits.dim() != 2 || labels.dim() != 1 || labels.size(0) != logits.size(0) || targets.dim() != 2 ||
      targets.size(0) != logits.size(1) || targets.size(1) != logits.size(1))
    throw UsageError("smoothed_cross_entropy: logits (B, C), labels (B) and targets (C, C) do not agree");
  const torch::Tensor rows = targets.to(logits.device(), torch::kFloat32).index_select(0, labels);
  return -(rows * torch::log_softmax(logits.to(torch::kFloat32), 1)).sum(1).mean();
}

}  // namespace instret
