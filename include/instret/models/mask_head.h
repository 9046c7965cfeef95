// The mask head of the Small multi encoder (model.head "mask"; an extension of this toolkit): source
// separation in the single encoder's own feature space. A small convolutional network reads the Han CNN
// trunk's map after its second block and gives, at every time-frequency region, a softmax over the
// n_outputs slots: which slot's instrument this region belongs to (permutation-invariant mask
// estimation, Yu et al. 2017, on features rather than a spectrogram). Each slot then runs the rest of
// the single encoder (blocks 3 and 4, global max pool, linear1) on the map times its mask, so every
// output is an embedding of the single encoder's kind by construction, of what the slot kept. A slot's
// existence logit comes from its share of the map: a slot exists when it claims part of the mixture.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>

#include "instret/models/model_config.h"

namespace instret {

// Input: a map (B, in_channels, H, W). Conv3x3(in_channels, hidden) -> BatchNorm -> LeakyReLU ->
// Conv3x3(hidden, hidden, dilation 2) -> BatchNorm -> LeakyReLU -> Conv1x1(hidden, n_slots), then a
// softmax over the slots: (B, n_slots, H, W), summing to 1 over the slots at every region. Runs under
// autocast; the softmax is taken in float32.
class MaskHeadImpl : public torch::nn::Module {
 public:
  MaskHeadImpl(int64_t in_channels, int64_t n_slots, const MaskHeadConfig& config, double leaky_slope);
  torch::Tensor forward(const torch::Tensor& map);
  // Existence logits (B, n_slots) of masks (B, n_slots, H, W): scale * log(n_slots * share) + bias,
  // share = the slot's mean mask over the regions (the shares sum to 1); scale (init 1) and bias
  // (init 0) are learned, so equal shares start at probability 0.5 and a slot that claims nothing has
  // none.
  torch::Tensor existence(const torch::Tensor& masks);

  torch::nn::Sequential net{nullptr};
  torch::Tensor scale, bias;
};
TORCH_MODULE(MaskHead);

}  // namespace instret
