// The frozen multi-instrument encoder for inference (evaluation, retrieval, embed): a train-multi or
// import-weights checkpoint (Small or Large) with the log-mel frontend it was trained with, on a
// device, in eval mode; bf16 as SingleEncoder (instret/inference/single_encoder.h).
#pragma once
#include <torch/types.h>

#include <filesystem>

#include "instret/inference/frozen_encoder.h"
#include "instret/models/encoders.h"

namespace instret {

class MultiEncoder : public FrozenEncoder {
 public:
  // FormatError when the checkpoint holds a single encoder.
  MultiEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);
  // Output embeddings (B, n_outputs, emb_dim) float32 on the device of a (B, samples) audio batch, no gradients.
  torch::Tensor embed(const torch::Tensor& audio);
  // The embeddings as embed() and, with the set or mask head (model.head "set" or "mask"), the slots' existence logits
  // (B, n_outputs) float32; undefined existence for the linear head.
  MultiOutput embed_all(const torch::Tensor& audio);
  int64_t n_outputs() const { return config().n_outputs; }

 private:
  MultiEncoderNet model_{nullptr};
};

}  // namespace instret
