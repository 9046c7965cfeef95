// The frozen single-instrument encoder for inference (train-multi's targets, evaluation, retrieval):
// a train-single checkpoint with the log-mel frontend it was trained with, on a device, in eval mode.
// With `bf16` the network runs under bf16 autocast in channels-last order (instret/core/precision.h);
// the log-mel features and every returned embedding stay float32.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "instret/audio/mel.h"
#include "instret/models/han_cnn.h"
#include "instret/models/model_config.h"

namespace instret {

class SingleEncoder {
 public:
  // Loads a train-single checkpoint (its run config gives the mel settings; the defaults when it has
  // none, e.g. an imported one). FormatError when it is not a single-encoder checkpoint.
  SingleEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);

  // Embeddings (B, emb_dim) float32 on the device of a (B, samples) audio batch (any device), no gradients.
  torch::Tensor embed(const torch::Tensor& audio);
  // A 16-hex-digit hash of the checkpoint file's bytes: embeddings made with another file never match it.
  const std::string& hash() const { return hash_; }
  int64_t dim() const { return config_.emb_dim; }
  bool bf16() const { return bf16_; }
  const MelConfig& mel() const { return mel_; }
  const std::filesystem::path& path() const { return path_; }
  const ModelConfig& config() const { return config_; }
  // The frozen network (eval mode, no gradients).
  const HanCnn& network() const { return model_; }

 private:
  std::filesystem::path path_;
  torch::Device device_;
  ModelConfig config_;
  MelConfig mel_;
  LogMel frontend_{nullptr};
  HanCnn model_{nullptr};
  std::string hash_;
  bool bf16_ = false;
};

}  // namespace instret
