#include "instret/loss/cosine_margin.h"

#include <torch/torch.h>

#include <cmath>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

torch::Tensor cosine_margin_logits(const torch::Tensor& embedding, const torch::Tensor& weight,
                                   const torch::Tensor& labels, double scale, double margin) {
  if (embedding.dim() != 2 || weight.dim() != 2 || embedding.size(1) != weight.size(1) ||
      (labels.defined() && (labels.dim() != 1 || labels.size(0) != embedding.size(0))))
    throw UsageError("cosine_margin_logits: embedding (B, D), weight (C, D) and labels (B) do not agree");
  if (!(scale > 0) || !std::isfinite(scale) || !std::isfinite(margin))
    throw UsageError("cosine_margin_logits: scale must be > 0 and margin finite");
  const NoAutocast no_autocast;
  namespace F = torch::nn::functional;
  const auto unit = F::NormalizeFuncOptions().dim(1).eps(1e-12);
  const torch::Tensor e = F::normalize(embedding.to(torch::kFloat32), unit);
  const torch::Tensor w = F::normalize(weight.to(torch::kFloat32), unit);
  torch::Tensor cos = torch::matmul(e, w.t());
  if (labels.defined() && margin != 0)
    cos = cos - margin * F::one_hot(labels.to(torch::kInt64), weight.size(0)).to(torch::kFloat32);
  return cos * scale;
}

}  // namespace instret
