// What SingleEncoder and MultiEncoder share: a checkpoint loaded for inference, its content hash
// taken before anything is read from it, its header, the log-mel frontend its run was trained with,
// and the weights frozen in eval mode on a device (channels-last under bf16).
#pragma once
#include <torch/nn/module.h>
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "instret/audio/mel.h"
#include "instret/core/config.h"
#include "instret/models/model_config.h"

namespace instret {

// The mel settings a checkpoint's run was trained with (its run config's "mel"; the defaults when it
// has none, e.g. an imported checkpoint). FormatError naming the file for a bad section.
MelConfig checkpoint_mel(const Json& run_config, const std::filesystem::path& checkpoint);

class FrozenEncoder {
 public:
  // A 16-hex-digit hash of the checkpoint file's bytes: embeddings made with another file never match it.
  const std::string& hash() const { return hash_; }
  int64_t dim() const { return config_.emb_dim; }
  bool bf16() const { return bf16_; }
  const MelConfig& mel() const { return mel_; }
  const std::filesystem::path& path() const { return path_; }
  const ModelConfig& config() const { return config_; }

 protected:
  // Hashes the checkpoint (a FIFO or device is refused unread), reads its header and mel settings.
  // UsageError when `checkpoint` is empty; FormatError naming the file when it holds a multi encoder
  // and `multi` is false, or a single encoder and `multi` is true.
  FrozenEncoder(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16, bool multi);
  // Loads the weights into `model` (built from config()), moves model and frontend to the device and
  // freezes the model. IoError when the file's hash changed since the constructor: a file replaced
  // meanwhile (a run writing `best.pt`) would pair these weights with another file's cached targets
  // or library.
  void freeze(torch::nn::Module& model);
  // The log-mel features (B, n_mels, frames) on the device of a (B, samples) audio batch.
  torch::Tensor logmel(const torch::Tensor& audio);

  torch::Device device_;

 private:
  std::filesystem::path path_;
  ModelConfig config_;
  MelConfig mel_;
  LogMel frontend_{nullptr};
  std::string hash_;
  bool bf16_ = false;
};

}  // namespace instret
