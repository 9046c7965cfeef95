#include "instret/models/mask_head.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/torch.h>

#include "instret/core/error.h"

namespace instret {

namespace nn = torch::nn;

MaskHeadImpl::MaskHeadImpl(int64_t in_channels, int64_t n_slots, const MaskHeadConfig& c, double leaky_slope) {
  if (in_channels <= 0 || n_slots <= 0 || c.hidden <= 0)
    throw UsageError("mask head: needs positive widths (in " + std::to_string(in_channels) + ", slots " +
                     std::to_string(n_slots) + ", model.mask.hidden " + std::to_string(c.hidden) + ")");
  const auto act = nn::LeakyReLUOptions().negative_slope(leaky_slope);
  net = register_module(
      "net", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in_channels, c.hidden, 3).padding(1)), nn::BatchNorm2d(c.hidden),
                            nn::LeakyReLU(act),
                            nn::Conv2d(nn::Conv2dOptions(c.hidden, c.hidden, 3).padding(2).dilation(2)),
                            nn::BatchNorm2d(c.hidden), nn::LeakyReLU(act), nn::Conv2d(nn::Conv2dOptions(c.hidden, n_slots, 1))));
  scale = register_parameter("scale", torch::ones({1}));
  bias = register_parameter("bias", torch::zeros({1}));
  torch::NoGradGuard guard;
  for (auto& m : modules(/*include_self=*/false))
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::xavier_uniform_(conv->weight);
      nn::init::zeros_(conv->bias);
    }
}

torch::Tensor MaskHeadImpl::forward(const torch::Tensor& map) {
  if (map.dim() != 4) throw UsageError("mask head expects a feature map (B, C, H, W), got " + std::to_string(map.dim()) + " dimensions");
  return torch::softmax(net->forward(map).to(torch::kFloat32), 1);
}

torch::Tensor MaskHeadImpl::existence(const torch::Tensor& masks) {
  if (masks.dim() != 4) throw UsageError("mask head: existence expects masks (B, M, H, W), got " + std::to_string(masks.dim()) + " dimensions");
  const torch::Tensor share = masks.to(torch::kFloat32).mean({2, 3});  // (B, M), summing to 1 over M
  return scale * torch::log(share * double(masks.size(1)) + 1e-6) + bias;
}

}  // namespace instret
