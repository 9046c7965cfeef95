#include "instret/models/set_head.h"

#include <torch/nn/init.h>
#include <torch/nn/modules/transformerlayer.h>
#include <torch/torch.h>

#include <cmath>

#include "instret/core/error.h"
#include "instret/models/norm_input.h"

namespace instret {

namespace nn = torch::nn;


torch::Tensor sine_positions_2d(int64_t h, int64_t w, int64_t dim, const torch::TensorOptions& options) {
  if (h <= 0 || w <= 0 || dim <= 0 || dim % 4 != 0)
    throw UsageError("sine_positions_2d: needs a non-empty grid and a width divisible by 4, got " + std::to_string(h) +
                     " x " + std::to_string(w) + ", width " + std::to_string(dim));
  const int64_t half = dim / 2, pairs = half / 2;
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  // Inverse wavelengths 10000^(-2i/half), i = 0..pairs-1.
  const torch::Tensor inv = torch::exp(torch::arange(pairs, f32) * (-2.0 * std::log(10000.0) / double(half)));
  auto code = [&](int64_t n) {  // (n, half): sin, cos pairs interleaved as [sin..., cos...]
    const torch::Tensor angle = torch::arange(n, f32).unsqueeze(1) * inv.unsqueeze(0);
    return torch::cat({angle.sin(), angle.cos()}, 1);
  };
  const torch::Tensor rows = code(h).unsqueeze(1).expand({h, w, half});
  const torch::Tensor cols = code(w).unsqueeze(0).expand({h, w, half});
  return torch::cat({rows, cols}, 2).reshape({h * w, dim}).to(options.dtype(torch::kFloat32));
}

SetHeadImpl::SetHeadImpl(int64_t in_dim, int64_t emb_dim, int64_t n_slots, const SetHeadConfig& c) : dim_(c.dim) {
  if (in_dim <= 0 || emb_dim <= 0 || n_slots <= 0 || c.dim % 4 != 0 || c.dim % c.heads != 0)
    throw UsageError("set head: model.set.dim must be divisible by 4 and by model.set.heads (got dim " +
                     std::to_string(c.dim) + ", heads " + std::to_string(c.heads) + ")");
  in_norm = register_module("in_norm", nn::LayerNorm(nn::LayerNormOptions({in_dim})));
  in_proj = register_module("in_proj", nn::Linear(in_dim, c.dim));
  queries = register_parameter("queries", torch::randn({n_slots, c.dim}));
  decoder = register_module("decoder", nn::ModuleList());
  for (int64_t i = 0; i < c.layers; ++i)
    decoder->push_back(nn::TransformerDecoderLayer(
        nn::TransformerDecoderLayerOptions(c.dim, c.heads).dim_feedforward(c.ffn).dropout(0.0)));
  out_norm = register_module("out_norm", nn::LayerNorm(nn::LayerNormOptions({c.dim})));
  embed = register_module("embed", nn::Linear(c.dim, emb_dim));
  exist = register_module("exist", nn::Linear(c.dim, 1));
  torch::NoGradGuard guard;
  for (auto* lin : {in_proj.get(), embed.get(), exist.get()}) {
    nn::init::xavier_uniform_(lin->weight);
    nn::init::zeros_(lin->bias);
  }
}

SetHeadOutput SetHeadImpl::forward(const torch::Tensor& map) {
  if (map.dim() != 4) throw UsageError("set head expects a feature map (B, C, H, W), got " + std::to_string(map.dim()) + " dimensions");
  const int64_t b = map.size(0), h = map.size(2), w = map.size(3);
  // (B, C, H, W) -> (H*W, B, C): the decoder layers take (sequence, batch, feature).
  const torch::Tensor tokens = norm_input(map).permute({2, 3, 0, 1}).reshape({h * w, b, map.size(1)});
  torch::Tensor memory = in_proj(in_norm(tokens));
  memory = memory + sine_positions_2d(h, w, dim_, memory.options()).unsqueeze(1).to(memory.scalar_type());
  torch::Tensor x = queries.unsqueeze(1).expand({queries.size(0), b, dim_});
  for (const auto& layer : *decoder) x = layer->as<nn::TransformerDecoderLayerImpl>()->forward(x, memory);
  const torch::Tensor slots = out_norm(norm_input(x)).transpose(0, 1);  // (B, M, dim)
  return {embed(slots), exist(slots).squeeze(2)};
}

}  // namespace instret
