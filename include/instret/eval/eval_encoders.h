// What the evaluation tools embed audio with: a trained encoder (single: one embedding per clip;
// multi: M per mixture) or the non-learned MFCC / log-mel statistics baseline, behind one interface;
// and the check that a dataset has the split asked for.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>
#include <string>

#include "instret/core/config.h"
#include "instret/eval/mel_stats_baseline.h"
#include "instret/models/encoders.h"

namespace instret {

class SingleEncoder;
class MultiEncoder;

// Embeds single-instrument clips: (B, samples) audio -> (B, dim()).
class ClipEmbedder {
 public:
  // A train-single (or compatible) checkpoint; FormatError when it holds a multi encoder.
  // With `bf16` the encoder runs under bf16 autocast (instret/core/precision.h).
  static ClipEmbedder single(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);
  static ClipEmbedder baseline(const MelStatsConfig& config, const torch::Device& device);
  torch::Tensor embed(const torch::Tensor& audio);
  int64_t dim() const;
  // {"kind": "single", "checkpoint", "hash", "bf16"} or {"kind": "baseline", "baseline", "n_mfcc"}.
  Json describe() const;

 private:
  std::shared_ptr<SingleEncoder> encoder_;
  std::shared_ptr<MelStatsEmbedder> baseline_;
};

// Embeds mixtures: (B, samples) audio -> (B, n_outputs(), dim()). The baseline gives one slot (M = 1).
class MixtureEmbedder {
 public:
  // A train-multi or import-weights checkpoint; FormatError when it holds a single encoder.
  static MixtureEmbedder multi(const std::filesystem::path& checkpoint, const torch::Device& device, bool bf16 = false);
  static MixtureEmbedder baseline(const MelStatsConfig& config, const torch::Device& device);
  // The embeddings and, for a multi encoder with the set or mask head, its existence logits (MultiEncoder::embed_all).
  MultiOutput embed(const torch::Tensor& audio);
  int64_t dim() const;
  int64_t n_outputs() const;
  // {"kind": "multi", "model": "small" | "large", "checkpoint", "hash", "bf16"} or the baseline's description.
  Json describe() const;
  // A short name for a results table: "small (CKPT)" or "baseline mfcc".
  std::string name() const;

 private:
  std::shared_ptr<MultiEncoder> encoder_;
  std::shared_ptr<MelStatsEmbedder> baseline_;
};

// UsageError "unknown split 'x': <root>/instruments.json has the splits a, b" when no instrument of
// the dataset belongs to `split`. A folder without instruments.json is left to the dataset readers,
// which say what is missing.
void require_split(const std::filesystem::path& root, const std::string& split);

// The settings eval-eer and eval-retrieval take with --config / --set (their flags cover the rest).
struct EvalToolConfig {
  int64_t batch_size = 32;  // clips per forward
  int workers = 2;          // loader threads (0 counts as 1)
  MelStatsConfig baseline;  // the baseline's settings (its kind comes from --baseline)

  // The defaults as JSON: batch_size, workers, baseline {n_mfcc, mel}.
  static Json defaults();
  // Reads a merged config with the range-checked getters, the baseline of kind `baseline_kind`;
  // UsageError naming the key on a bad value.
  static EvalToolConfig from_json(const Json& config, const std::string& baseline_kind);
};

}  // namespace instret
