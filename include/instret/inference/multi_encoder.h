// The frozen multi-instrument encoder for inference (evaluation, retrieval, embed): a train-multi or
// import-weights checkpoint (Small or Large) with the log-mel frontend it was trained with, on a
// device, in eval mode; bf16 as SingleEncoder (instret/inference/single_encoder.h).
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "instret/audio/mel.h"
#include "instret/models/encoders.h"
#include "instret/models/model_config.h"

namespace instret {

class MultiEncoder {
 public:
  // FormatError when the checkpoint holds a single encoder.
  MultiEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);
  // Output embeddings (B, n_outputs, emb_dim) float32 on the device of a (B, samples) audio batch, no gradients.
  torch::Tensor embed(const torch::Tensor& audio);
  // The embeddings as embed() and, with the set head (model.head "set"), the slots' existence logits
  // (B, n_outputs) float32; undefined existence for the linear head.
  MultiOutput embed_all(const torch::Tensor& audio);
  const std::string& hash() const { return hash_; }
  int64_t n_outputs() const { return config_.n_outputs; }
  int64_t dim() const { return config_.emb_dim; }
  bool bf16() const { return bf16_; }
  const MelConfig& mel() const { return mel_; }
  const ModelConfig& config() const { return config_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  torch::Device device_;
  ModelConfig config_;
  MelConfig mel_;
  LogMel frontend_{nullptr};
  MultiEncoderNet model_{nullptr};
  std::string hash_;
  bool bf16_ = false;
};

}  // namespace instret
