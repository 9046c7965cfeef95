#include "instret/models/memory_format.h"

#include <torch/torch.h>

namespace instret {

namespace {
// Channels-last strides, set explicitly. `contiguous(ChannelsLast)` is not enough: it returns a tensor
// with a size-1 channel dimension (the first convolution's weight, (C, 1, 3, 3)) unchanged, since its
// strides already count as channels-last contiguous, yet they still suggest the contiguous format;
// oneDNN then picks the contiguous layout for the whole first block (an 8 ms re-layout and 10-30x
// slower LeakyReLU backward per batch of 16). This is what PyTorch's Module.to(memory_format=) does.
torch::Tensor channels_last_strides(const torch::Tensor& t) {
  if (t.suggest_memory_format() == at::MemoryFormat::ChannelsLast) return t;
  return at::empty_like(t, at::MemoryFormat::ChannelsLast).copy_(t);
}
}  // namespace

void to_channels_last(torch::nn::Module& module) {
  torch::NoGradGuard no_grad;
  for (auto& p : module.parameters())
    if (p.dim() == 4) p.set_data(channels_last_strides(p));
  for (auto& b : module.buffers())
    if (b.dim() == 4) b.set_data(channels_last_strides(b));
}

}  // namespace instret
