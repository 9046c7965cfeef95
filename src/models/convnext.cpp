#include "instret/models/convnext.h"

#include <torch/nn/functional/normalization.h>
#include <torch/nn/init.h>
#include <torch/utils.h>

#include "instret/core/error.h"
#include "instret/models/norm_input.h"

namespace instret {

namespace nn = torch::nn;


LayerNorm2dImpl::LayerNorm2dImpl(int64_t channels, double eps) : eps_(eps) {
  weight = register_parameter("weight", torch::ones({channels}));
  bias = register_parameter("bias", torch::zeros({channels}));
}

torch::Tensor LayerNorm2dImpl::forward(const torch::Tensor& x) {
  auto y = torch::layer_norm(norm_input(x).permute({0, 2, 3, 1}), {weight.size(0)}, weight, bias, eps_);
  return y.permute({0, 3, 1, 2});
}

torch::Tensor drop_path(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  const double keep = 1.0 - p;
  std::vector<int64_t> shape(x.dim(), 1);
  shape[0] = x.size(0);
  auto mask = torch::empty(shape, x.options()).bernoulli_(keep);
  return x * mask / keep;
}

ConvNextMlpImpl::ConvNextMlpImpl(int64_t dim, int64_t hidden) {
  fc1 = register_module("fc1", nn::Linear(dim, hidden));
  fc2 = register_module("fc2", nn::Linear(hidden, dim));
}

torch::Tensor ConvNextMlpImpl::forward(const torch::Tensor& x) { return fc2(torch::gelu(fc1(x))); }

ConvNextBlockImpl::ConvNextBlockImpl(int64_t dim, double layer_scale, double drop_path)
    : drop_path_(drop_path) {
  conv_dw = register_module("conv_dw", nn::Conv2d(nn::Conv2dOptions(dim, dim, 7).padding(3).groups(dim)));
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)));
  mlp = register_module("mlp", ConvNextMlp(dim, 4 * dim));
  if (layer_scale > 0) gamma = register_parameter("gamma", torch::full({dim}, layer_scale));
}

torch::Tensor ConvNextBlockImpl::forward(const torch::Tensor& x) {
  auto y = mlp(norm(norm_input(conv_dw(x)).permute({0, 2, 3, 1})));
  if (gamma.defined()) y = y * gamma;
  return x + drop_path(y.permute({0, 3, 1, 2}), drop_path_, is_training());
}

ConvNextStageImpl::ConvNextStageImpl(int64_t in_dim, int64_t dim, int64_t depth, bool with_downsample,
                                     double layer_scale, const std::vector<double>& rates) {
  if (with_downsample)
    downsample = register_module(
        "downsample", nn::Sequential(LayerNorm2d(in_dim), nn::Conv2d(nn::Conv2dOptions(in_dim, dim, 2).stride(2))));
  blocks = register_module("blocks", nn::Sequential());
  for (int64_t i = 0; i < depth; ++i) blocks->push_back(ConvNextBlock(dim, layer_scale, rates.at(i)));
}

torch::Tensor ConvNextStageImpl::forward(torch::Tensor x) {
  if (downsample) x = downsample->forward(x);
  return blocks->forward(x);
}

ConvNextHeadImpl::ConvNextHeadImpl(int64_t dim, int64_t n_out) {
  norm = register_module("norm", nn::LayerNorm(nn::LayerNormOptions({dim}).eps(1e-6)));
  fc = register_module("fc", nn::Linear(dim, n_out));
}

torch::Tensor ConvNextHeadImpl::forward(const torch::Tensor& features) {
  return fc(norm(norm_input(features).mean({2, 3})));
}

ConvNextImpl::ConvNextImpl(const ConvNextConfig& c, int64_t n_out) {
  stem = register_module("stem", nn::Sequential(nn::Conv2d(nn::Conv2dOptions(1, c.dims.at(0), 4).stride(4)),
                                                LayerNorm2d(c.dims.at(0))));
  int64_t total = 0;
  for (auto d : c.depths) total += d;
  std::vector<double> rates(total);
  for (int64_t i = 0; i < total; ++i) rates[i] = total > 1 ? c.drop_path * i / double(total - 1) : 0.0;
  stages = register_module("stages", nn::ModuleList());
  int64_t first = 0;
  for (size_t s = 0; s < c.depths.size(); ++s) {
    const int64_t in_dim = s == 0 ? c.dims[0] : c.dims[s - 1];
    std::vector<double> stage_rates(rates.begin() + first, rates.begin() + first + c.depths[s]);
    stages->push_back(ConvNextStage(in_dim, c.dims[s], c.depths[s], s > 0, c.layer_scale, stage_rates));
    first += c.depths[s];
  }
  if (n_out > 0) head = register_module("head", ConvNextHead(c.dims.back(), n_out));
  torch::NoGradGuard guard;
  for (auto& m : modules(/*include_self=*/false)) {
    if (auto* conv = m->as<nn::Conv2d>()) {
      nn::init::normal_(conv->weight, 0.0, 0.02);
      nn::init::zeros_(conv->bias);
    } else if (auto* lin = m->as<nn::Linear>()) {
      nn::init::normal_(lin->weight, 0.0, 0.02);
      nn::init::zeros_(lin->bias);
    }
  }
}

torch::Tensor ConvNextImpl::features(const torch::Tensor& image) {
  auto x = stem->forward(image);
  for (auto& stage : *stages) x = stage->as<ConvNextStageImpl>()->forward(x);
  return x;
}

torch::Tensor ConvNextImpl::forward(const torch::Tensor& image) {
  if (!head) throw UsageError("ConvNeXt built without a head (n_out <= 0) has no forward; use features()");
  return head(features(image));
}

}  // namespace instret
