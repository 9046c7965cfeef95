// The multi-instrument encoder (Small: Han CNN trunk, Large: ConvNeXt) and the factory that builds
// any model kind of a ModelConfig. Every encoder takes a log-mel batch (B, n_mels, frames) and turns
// it into the orientation its backbone was trained with.
#pragma once
#include <memory>
#include <string>

#include "instret/models/convnext.h"
#include "instret/models/han_cnn.h"
#include "instret/models/mask_head.h"
#include "instret/models/model_config.h"
#include "instret/models/set_head.h"

namespace instret {

// (B, n_mels, frames) -> (B, 1, n_mels, frames), the ConvNeXt orientation; UsageError otherwise.
torch::Tensor convnext_input(const torch::Tensor& logmel);

struct MultiOutput {
  torch::Tensor embeddings;  // (B, n_outputs, emb_dim)
  torch::Tensor existence;   // (B, n_outputs) logits; undefined for the linear head
};

// Outputs (B, n_outputs, emb_dim). Linear head (the paper's): Small = submodule "cnn", a Han CNN
// whose linear2 is Linear(emb_dim, n_outputs*emb_dim); Large = submodule "convnext", a ConvNeXt
// whose head is LayerNorm -> Linear(dims.back(), n_outputs*emb_dim). Set head: submodule "set" reads
// Small's local embeddings (HanCnn::local_embeddings: the trunk and linear1, no linear2) or Large's
// last-stage map (no ConvNeXt head). Mask head (Small only): submodule "mask" splits the trunk's map
// after block 2 among the slots, and each slot's masked map runs the trunk's blocks 3-4 and linear1
// (HanCnn::early_map / late_embedding; no linear2).
class MultiEncoderNetImpl : public torch::nn::Module {
 public:
  explicit MultiEncoderNetImpl(const ModelConfig& config);
  // The embeddings only.
  torch::Tensor forward(const torch::Tensor& logmel);
  // The embeddings and, with the set or mask head, the existence logits.
  MultiOutput forward_all(const torch::Tensor& logmel);
  const ModelConfig& config() const { return config_; }

  HanCnn cnn{nullptr};
  ConvNext convnext{nullptr};
  SetHead set{nullptr};
  MaskHead mask{nullptr};

 private:
  ModelConfig config_;
};
TORCH_MODULE(MultiEncoderNet);

// Builds the model of `config.kind` ("han_cnn" -> HanCnn with n_classes outputs, "small"/"large"
// -> MultiEncoderNet). Validates the config first.
std::shared_ptr<torch::nn::Module> make_model(const ModelConfig& config);

// Prefix of the model's own parameter names that the backbone sits under: "" for han_cnn,
// "cnn." for small, "convnext." for large.
std::string backbone_prefix(const ModelConfig& config);

}  // namespace instret
