// A non-learned baseline for the evaluation tools: a clip's embedding is the mean and standard
// deviation over time of its MFCCs (or of its log-mel bands), compared by cosine like the learned
// embeddings. It gives the learned numbers a floor (docs/evaluation.md).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <string>

#include "instret/audio/mel.h"

namespace instret {

struct MelStatsConfig {
  // "mfcc": MFCCs 1..n_mfcc of the log-mel frames (DCT-II, orthonormal, as librosa.feature.mfcc and
  //   scipy.fftpack.dct(norm="ortho") compute them; coefficient 0, the frame's loudness, is dropped);
  // "logmel": the log-mel bands with each frame's mean over the bands subtracted (the same loudness
  //   invariance).
  std::string kind = "mfcc";
  int n_mfcc = 20;
  MelConfig mel;  // the frontend (the paper's log-mel by default)
};

// UsageError unless kind is "mfcc" or "logmel" and 1 <= n_mfcc < mel.n_mels.
void validate(const MelStatsConfig& config);

class MelStatsEmbedder {
 public:
  explicit MelStatsEmbedder(const MelStatsConfig& config, const torch::Device& device);
  // (B, dim()) float32 on the device of a (B, samples) audio batch: per coefficient (or band) the
  // mean over the frames, then the population standard deviation over the frames.
  torch::Tensor embed(const torch::Tensor& audio);
  // 2 * n_mfcc ("mfcc") or 2 * n_mels ("logmel").
  int64_t dim() const;
  const MelStatsConfig& config() const { return config_; }

 private:
  MelStatsConfig config_;
  torch::Device device_;
  LogMel frontend_{nullptr};
  torch::Tensor dct_;  // (n_mfcc, n_mels): rows 1..n_mfcc of the orthonormal DCT-II
};

// Rows 0..n-1 of the orthonormal DCT-II matrix of size m (float64): C[k][j] = s_k cos(pi k (2j + 1) / (2m)),
// s_0 = sqrt(1/m), s_k = sqrt(2/m).
torch::Tensor dct2_ortho_matrix(int64_t n, int64_t m);

}  // namespace instret
