// Frozen encoders for inference (train-multi's targets, evaluation, retrieval): a checkpoint with the
// log-mel frontend it was trained with, on a device, in eval mode; and the cache of the single
// encoder's embeddings of a dataset's clips, keyed by the checkpoint's content and the precision.
// With `bf16` the network runs under bf16 autocast in channels-last order (instret/core/precision.h);
// the log-mel features and every returned embedding stay float32.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <string>

#include "instret/audio/mel.h"
#include "instret/core/fs.h"
#include "instret/models/encoders.h"
#include "instret/models/han_cnn.h"
#include "instret/train/embed_clips.h"

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

// A trained multi-instrument encoder (Small or Large; also one made by import-weights).
class MultiEncoderRunner {
 public:
  // FormatError when the checkpoint holds a single encoder.
  MultiEncoderRunner(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);
  // Output embeddings (B, n_outputs, emb_dim) float32 on the device of a (B, samples) audio batch, no gradients.
  torch::Tensor embed(const torch::Tensor& audio);
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
  MultiEncoder model_{nullptr};
  std::string hash_;
  bool bf16_ = false;
};

// The mel settings a checkpoint's run was trained with (its run config's "mel"; the defaults when it
// has none, e.g. an imported checkpoint). FormatError naming the file for a bad section.
MelConfig checkpoint_mel(const Json& run_config, const std::filesystem::path& checkpoint);

// Embeddings (n, dim) float32 on the CPU of clips 0..n-1: read from `<dir>/<encoder hash>/<name>.npy`
// (`<encoder hash>-bf16/` for an encoder running in bf16)
// when that file exists with a matching `<name>.json` (same list key and shape), else computed with
// `read` and stored there atomically (when the folder is not writable, a warning and no cache).
// `list_key` identifies the clip list (e.g. a hash of the manifest), so a re-rendered dataset never
// reuses stale targets.
torch::Tensor cached_embeddings(SingleEncoder& encoder, const std::filesystem::path& dir, const std::string& name,
                                const std::string& list_key, int64_t n, int64_t samples, const ReadClip& read,
                                int64_t batch, int workers);


}  // namespace instret
