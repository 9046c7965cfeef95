// The separation term of the mask head (model.head "mask", models/mask_head.h): it teaches the masks
// which region of the mixture belongs to which slot. Each region of the trunk's block-2 map goes to
// the stem with the most energy there (an ideal binary mask at the map's resolution), and that stem's
// slot is the one the PIT loss matched it to; the term is the cross-entropy of the slots' softmax
// masks against that slot, weighted by the region's share of the mixture's energy.
#pragma once
#include <torch/types.h>

#include <vector>

#include "instret/loss/linear_assignment.h"

namespace instret {

// Energy per region of each stem: power = 10^(log-mel dB / 10) of (S, n_mels, frames), pooled like
// the Han CNN's first two blocks (two 3x3/3 average pools over (frames, n_mels)): (S, H, W), float32.
torch::Tensor region_energy(const torch::Tensor& logmel_db);

// masks (B, M, H, W) (softmax over M), energy (S, H, W) of the batch's stems in order (item b owns
// counts[b] consecutive rows), assignments from the PIT loss (rows = outputs, cols = the item's
// targets). Returns the mean over items of -sum_r w_r log(masks[b, slot(r), r]), w_r = the region's
// share of the item's energy, slot(r) = the output matched to the loudest stem of region r. Items
// without energy count 0. UsageError on shapes, counts or assignments that do not fit.
torch::Tensor separation_loss(const torch::Tensor& masks, const torch::Tensor& energy, const std::vector<int64_t>& counts,
                              const std::vector<Assignment>& assignments);

}  // namespace instret
