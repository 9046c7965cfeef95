#include "instret/loss/separation_loss.h"

#include <torch/torch.h>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

torch::Tensor region_energy(const torch::Tensor& logmel_db) {
  if (logmel_db.dim() != 3) throw UsageError("region_energy: expects log-mel dB (S, n_mels, frames)");
  NoAutocast no_autocast;
  // (S, n_mels, frames) -> (S, 1, frames, n_mels), the Han CNN's orientation.
  const torch::Tensor power = torch::pow(10.0, logmel_db.to(torch::kFloat32) / 10.0).transpose(1, 2).unsqueeze(1);
  return torch::avg_pool2d(torch::avg_pool2d(power, 3, 3), 3, 3).squeeze(1);
}

torch::Tensor separation_loss(const torch::Tensor& masks, const torch::Tensor& energy, const std::vector<int64_t>& counts,
                              const std::vector<Assignment>& assignments) {
  if (masks.dim() != 4 || energy.dim() != 3 || masks.size(2) != energy.size(1) || masks.size(3) != energy.size(2))
    throw UsageError("separation_loss: masks (B, M, H, W) and energy (S, H, W) must share H and W");
  const int64_t b = masks.size(0), m = masks.size(1);
  if (int64_t(counts.size()) != b || int64_t(assignments.size()) != b)
    throw UsageError("separation_loss: needs one count and one assignment per item");
  NoAutocast no_autocast;
  const torch::Tensor log_masks = torch::log(masks.to(torch::kFloat32).clamp_min(1e-8));
  const torch::Tensor e = energy.to(torch::kFloat32).to(masks.device()).detach();
  torch::Tensor total = torch::zeros({}, log_masks.options());
  int64_t first = 0;
  for (int64_t i = 0; i < b; ++i) {
    const int64_t n = counts[size_t(i)];
    if (n <= 0 || first + n > e.size(0)) throw UsageError("separation_loss: counts do not fit the energy rows");
    // slot_of[t] = the output matched to the item's target t.
    std::vector<int64_t> slot_of(size_t(n), -1);
    const Assignment& a = assignments[size_t(i)];
    for (size_t k = 0; k < a.rows.size(); ++k) {
      if (a.cols[k] < 0 || a.cols[k] >= n || a.rows[k] < 0 || a.rows[k] >= m)
        throw UsageError("separation_loss: an assignment is outside the item's outputs or targets");
      slot_of[size_t(a.cols[k])] = a.rows[k];
    }
    for (int64_t s : slot_of)
      if (s < 0) throw UsageError("separation_loss: every target needs a matched output");
    const torch::Tensor item = e.narrow(0, first, n);  // (n, H, W)
    first += n;
    const torch::Tensor region = item.sum(0);          // (H, W)
    const double sum = region.sum().item<double>();
    if (!(sum > 0)) continue;
    const torch::Tensor slot = torch::tensor(slot_of, torch::kInt64).to(masks.device()).index_select(0, item.argmax(0).flatten());
    const torch::Tensor picked = log_masks[i].flatten(1).t().gather(1, slot.unsqueeze(1)).squeeze(1);  // (H*W)
    total = total - (picked * region.flatten()).sum() / sum;
  }
  return total / double(b);
}

}  // namespace instret
