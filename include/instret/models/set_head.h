// The set-prediction head of a multi encoder (model.head "set"): M learned queries read the trunk's
// time-frequency map through transformer decoder layers (self-attention among the queries,
// cross-attention to the map's positions, feed-forward; DETR's decoder, Carion et al. 2020), so each
// output slot can attend to its own instrument before anything is pooled. Each query gives one
// embedding and one existence logit ("is there an instrument for this slot").
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>

#include "instret/models/model_config.h"

namespace instret {

struct SetHeadOutput {
  torch::Tensor embeddings;  // (B, M, emb_dim)
  torch::Tensor existence;   // (B, M) logits
};

// 2-D sine position codes (H*W, dim) of an H x W grid, row-major (h, w): the first dim/2 channels code
// h, the rest w, each as sin/cos pairs of wavelengths 10000^(2i/(dim/2)) (the Transformer's code per
// axis). Fixed, so the head takes maps of any size (a longer query window gives a longer map).
// dim must be divisible by 4.
torch::Tensor sine_positions_2d(int64_t h, int64_t w, int64_t dim, const torch::TensorOptions& options);

// Input: a feature map (B, C, H, W) with C = in_dim. Tokens = LayerNorm -> Linear(in_dim, dim) of each
// position, plus its sine position code; n_slots queries (learned, N(0, 1)) go through `layers`
// torch::nn::TransformerDecoderLayer (post-norm, ReLU, dropout 0); then LayerNorm -> Linear(dim,
// emb_dim) gives the embeddings and Linear(dim, 1) the existence logits. Runs under autocast; the
// layer norms see float32.
class SetHeadImpl : public torch::nn::Module {
 public:
  SetHeadImpl(int64_t in_dim, int64_t emb_dim, int64_t n_slots, const SetHeadConfig& config);
  SetHeadOutput forward(const torch::Tensor& map);

  torch::nn::LayerNorm in_norm{nullptr};
  torch::nn::Linear in_proj{nullptr};
  torch::Tensor queries;
  torch::nn::ModuleList decoder{nullptr};
  torch::nn::LayerNorm out_norm{nullptr};
  torch::nn::Linear embed{nullptr}, exist{nullptr};

 private:
  int64_t dim_;
};
TORCH_MODULE(SetHead);

}  // namespace instret
