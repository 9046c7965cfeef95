// The single-instrument encoder: the Han et al. (2016) CNN as the paper's reference code builds it.
// Submodule names (conv1..conv4, linear1, linear2) and their Sequential layout match the reference,
// so its state_dicts map one to one.
#pragma once
#include <torch/nn/module.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>

#include "instret/models/model_config.h"

namespace instret {

struct HanCnnOutput {
  torch::Tensor logits;     // (B, n_out)
  torch::Tensor embedding;  // (B, emb_dim): Linear -> LeakyReLU -> Dropout of the pooled features
};

// Input: a log-mel batch (B, n_mels, frames). The network sees it transposed, as (B, 1, frames,
// n_mels), like the reference code, so imported weights apply unchanged.
// convN = [Conv3x3 -> BatchNorm -> LeakyReLU] x2, then MaxPool 3x3/3 + Dropout2d (N = 1..3) or a
// global max pool (N = 4); linear1 = Flatten -> Linear(channels[3], emb_dim) -> LeakyReLU -> Dropout;
// linear2 = Sequential(Linear(emb_dim, n_out)) (a one-layer Sequential in the reference too, so its
// weights are "linear2.0.*"); with n_out <= 0 there is no linear2 (a trunk for the set or mask head) and
// forward's logits are undefined. Weights Xavier-uniform, biases zero.
class HanCnnImpl : public torch::nn::Module {
 public:
  HanCnnImpl(const HanCnnConfig& config, int64_t emb_dim, int64_t n_out);

  HanCnnOutput forward(const torch::Tensor& logmel);
  // The embedding in eval mode without gradients (the module's training flag is restored).
  torch::Tensor embed(const torch::Tensor& logmel);
  // conv4's map before its global max pool: (B, channels[3], T', F') for T' frames and F' mel bands.
  torch::Tensor feature_map(const torch::Tensor& logmel);
  // linear1 (Linear -> LeakyReLU -> Dropout) applied at every position of feature_map: (B, emb_dim,
  // T', F'), one vector per time-frequency region from the layer that makes the single encoder's
  // embedding (which pools the map first): the set head's tokens for the Small encoder.
  torch::Tensor local_embeddings(const torch::Tensor& logmel);
  // The network in two parts, forward's embedding = late_embedding(early_map(logmel)): blocks 1-2
  // (conv1, conv2: (B, channels[1], T'', F'')), and blocks 3-4 with linear1 on such a map (B, emb_dim).
  // The mask head (models/mask_head.h) masks the map between them.
  torch::Tensor early_map(const torch::Tensor& logmel);
  torch::Tensor late_embedding(const torch::Tensor& map);

  torch::nn::Sequential conv1{nullptr}, conv2{nullptr}, conv3{nullptr}, conv4{nullptr}, linear1{nullptr}, linear2{nullptr};
};
TORCH_MODULE(HanCnn);

// (B, n_mels, frames) -> (B, 1, frames, n_mels); throws UsageError for other ranks.
torch::Tensor han_cnn_input(const torch::Tensor& logmel);

}  // namespace instret
