#include "instret/loss/library_contrastive_loss.h"

#include <torch/torch.h>

#include <limits>
#include <string>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

namespace {
torch::Tensor unit_rows(const torch::Tensor& x) {
  constexpr double kEps = 1e-8;
  return x / x.norm(2, -1, true).clamp_min(kEps);
}
}  // namespace

torch::Tensor library_contrastive_loss(const torch::Tensor& outputs, const torch::Tensor& library,
                                       const std::vector<bool>& usable,
                                       const std::vector<std::vector<int64_t>>& present, double temperature) {
  if (outputs.dim() != 3 || library.dim() != 2 || outputs.size(2) != library.size(1))
    throw UsageError("library contrastive loss expects outputs (B, M, D) and a library (L, D), got " +
                     c10::str(outputs.sizes()) + " and " + c10::str(library.sizes()));
  const int64_t B = outputs.size(0), L = library.size(0);
  if (int64_t(present.size()) != B || int64_t(usable.size()) != L)
    throw UsageError("library contrastive loss: " + std::to_string(B) + " items and " + std::to_string(L) +
                     " library rows but " + std::to_string(present.size()) + " present lists and " +
                     std::to_string(usable.size()) + " usable flags");
  if (!(temperature > 0)) throw UsageError("library contrastive loss: temperature must be > 0");
  // (B, L) masks: the present rows, and the absent usable ones.
  std::vector<uint8_t> is_present(size_t(B * L), 0), is_absent(size_t(B * L), 0);
  std::vector<int64_t> pos_flat;
  for (int64_t b = 0; b < B; ++b) {
    if (present[size_t(b)].empty())
      throw UsageError("library contrastive loss: item " + std::to_string(b) + " has no instrument");
    for (int64_t l : present[size_t(b)]) {
      if (l < 0 || l >= L || !usable[size_t(l)] || is_present[size_t(b * L + l)])
        throw UsageError("library contrastive loss: item " + std::to_string(b) + " lists row " + std::to_string(l) +
                         ", out of range, unusable or repeated");
      is_present[size_t(b * L + l)] = 1;
      pos_flat.push_back(b * L + l);
    }
    for (int64_t l = 0; l < L; ++l) is_absent[size_t(b * L + l)] = usable[size_t(l)] && !is_present[size_t(b * L + l)];
  }
  const NoAutocast no_autocast;
  const auto dev = outputs.device();
  torch::Tensor o = outputs.to(torch::promote_types(outputs.scalar_type(), torch::kFloat));
  const torch::Tensor lib = unit_rows(library.to(o.options()));
  o = unit_rows(o);
  const torch::Tensor s = torch::einsum("bmd,ld->bml", {o, lib}).amax(1) / temperature;  // (B, L)
  const auto bool_opts = torch::TensorOptions().dtype(torch::kUInt8);
  const torch::Tensor absent =
      torch::from_blob(is_absent.data(), {B, L}, bool_opts).to(torch::kBool).to(dev);
  // logsumexp over the absent; an item without any is -inf, so softplus gives 0 for its positives.
  const torch::Tensor neg = s.masked_fill(absent.logical_not(), -std::numeric_limits<double>::infinity()).logsumexp(1);
  const torch::Tensor pos_idx = torch::tensor(pos_flat, torch::TensorOptions().dtype(torch::kLong)).to(dev);
  const torch::Tensor rows = torch::div(pos_idx, L, "floor");
  const torch::Tensor pos = s.reshape({B * L}).index_select(0, pos_idx);
  return torch::nn::functional::softplus(neg.index_select(0, rows) - pos).mean();
}

torch::Tensor label_means(const torch::Tensor& embeddings, const std::vector<int64_t>& labels, int64_t n_labels,
                          std::vector<bool>& usable) {
  if (embeddings.dim() != 2 || embeddings.size(0) != int64_t(labels.size()) || n_labels < 0)
    throw UsageError("label_means: " + std::to_string(labels.size()) + " labels for embeddings " +
                     c10::str(embeddings.sizes()));
  for (int64_t l : labels)
    if (l < 0 || l >= n_labels)
      throw UsageError("label_means: label " + std::to_string(l) + " outside [0, " + std::to_string(n_labels) + ")");
  const torch::Tensor e = unit_rows(embeddings.to(torch::kFloat32).cpu());
  torch::Tensor sums = torch::zeros({n_labels, e.size(1)}, e.options());
  sums.index_add_(0, torch::tensor(labels, torch::TensorOptions().dtype(torch::kLong)), e);
  usable.assign(size_t(n_labels), false);
  for (int64_t l : labels) usable[size_t(l)] = true;
  return unit_rows(sums);
}

}  // namespace instret
