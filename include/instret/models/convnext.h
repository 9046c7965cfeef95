// ConvNeXt (Liu et al. 2022) as a configurable backbone with timm's module names (stem, stages.N.
// downsample / blocks, head.norm / head.fc), so timm `convnext_*` state_dicts map one to one.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "instret/models/model_config.h"

namespace instret {

// LayerNorm over the channels of an NCHW tensor (timm's LayerNorm2d), eps 1e-6.
class LayerNorm2dImpl : public torch::nn::Module {
 public:
  explicit LayerNorm2dImpl(int64_t channels, double eps = 1e-6);
  torch::Tensor forward(const torch::Tensor& x);
  torch::Tensor weight, bias;

 private:
  double eps_;
};
TORCH_MODULE(LayerNorm2d);

// Per-sample stochastic depth: in training, zeroes a sample's residual branch with probability p
// and scales the kept ones by 1/(1-p); identity in eval mode. Uses torch's global generator.
torch::Tensor drop_path(const torch::Tensor& x, double p, bool training);

// fc1 (dim -> 4 dim) -> GELU -> fc2 (4 dim -> dim), on channels-last tensors.
class ConvNextMlpImpl : public torch::nn::Module {
 public:
  ConvNextMlpImpl(int64_t dim, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Linear fc1{nullptr}, fc2{nullptr};
};
TORCH_MODULE(ConvNextMlp);

// x + drop_path(gamma * mlp(norm(dwconv7x7(x)))).
class ConvNextBlockImpl : public torch::nn::Module {
 public:
  ConvNextBlockImpl(int64_t dim, double layer_scale, double drop_path);
  torch::Tensor forward(const torch::Tensor& x);
  torch::nn::Conv2d conv_dw{nullptr};
  torch::nn::LayerNorm norm{nullptr};
  ConvNextMlp mlp{nullptr};
  torch::Tensor gamma;  // undefined when layer scale is disabled

 private:
  double drop_path_;
};
TORCH_MODULE(ConvNextBlock);

// [LayerNorm2d -> Conv 2x2/2] (all stages but the first) then the blocks.
class ConvNextStageImpl : public torch::nn::Module {
 public:
  ConvNextStageImpl(int64_t in_dim, int64_t dim, int64_t depth, bool with_downsample, double layer_scale,
                    const std::vector<double>& drop_path_rates);
  torch::Tensor forward(torch::Tensor x);
  torch::nn::Sequential downsample{nullptr};  // null for the first stage
  torch::nn::Sequential blocks{nullptr};
};
TORCH_MODULE(ConvNextStage);

// Global average pool -> LayerNorm -> Linear(dims.back(), n_out).
class ConvNextHeadImpl : public torch::nn::Module {
 public:
  ConvNextHeadImpl(int64_t dim, int64_t n_out);
  torch::Tensor forward(const torch::Tensor& features);
  torch::nn::LayerNorm norm{nullptr};
  torch::nn::Linear fc{nullptr};
};
TORCH_MODULE(ConvNextHead);

// Input (B, 1, H, W) image-like; stem = Conv 4x4/4 (1 channel in) -> LayerNorm2d. Weights of convs
// and linears: normal(0, 0.02) (timm's trunc_normal_ with bounds +-2, which never truncate at this
// std), biases zero; layer-scale gammas = layer_scale; drop-path rates linspace(0, drop_path).
// With n_out <= 0 there is no head (a trunk for the set head): forward throws, features works.
class ConvNextImpl : public torch::nn::Module {
 public:
  ConvNextImpl(const ConvNextConfig& config, int64_t n_out);
  torch::Tensor forward(const torch::Tensor& image);
  // The last stage's map (B, dims.back(), H/32, W/32), before the head's pool.
  torch::Tensor features(const torch::Tensor& image);
  torch::nn::Sequential stem{nullptr};
  torch::nn::ModuleList stages{nullptr};
  ConvNextHead head{nullptr};
};
TORCH_MODULE(ConvNext);

}  // namespace instret
