// The frozen single-instrument encoder for inference (train-multi's targets, evaluation, retrieval):
// a train-single checkpoint with the log-mel frontend it was trained with, on a device, in eval mode.
// With `bf16` the network runs under bf16 autocast in channels-last order (instret/core/precision.h);
// the log-mel features and every returned embedding stay float32.
#pragma once
#include <torch/types.h>

#include <filesystem>

#include "instret/inference/frozen_encoder.h"
#include "instret/models/han_cnn.h"

namespace instret {

class SingleEncoder : public FrozenEncoder {
 public:
  // Loads a train-single checkpoint (its run config gives the mel settings; the defaults when it has
  // none, e.g. an imported one). FormatError when it is not a single-encoder checkpoint.
  SingleEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);

  // Embeddings (B, emb_dim) float32 on the device of a (B, samples) audio batch (any device), no gradients.
  torch::Tensor embed(const torch::Tensor& audio);
  // The frozen network (eval mode, no gradients).
  const HanCnn& network() const { return model_; }

 private:
  HanCnn model_{nullptr};
};

}  // namespace instret
