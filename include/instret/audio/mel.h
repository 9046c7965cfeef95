// Log-mel frontend: librosa 0.9.2 melspectrogram + power_to_db as a batched torch module (CPU and
// CUDA), its configuration, and the mel filterbank (librosa.filters.mel: Slaney or HTK scale).
#pragma once

#include <torch/torch.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace instret {

// Parameters of the frontend; the defaults are the paper's (DESIGN.md).
struct MelConfig {
  int sample_rate = 16000;
  int n_fft = 2048;
  int win_length = 1024;  // periodic Hann of this length, zero-padded centred to n_fft
  int hop_length = 512;
  int n_mels = 128;
  double fmin = 0.0;
  double fmax = 8000.0;
  std::string scale = "slaney";  // mel scale: "slaney" or "htk"
  std::string norm = "slaney";   // filter norm: "slaney" (area) or "none"
  double power = 2.0;            // spectrogram = |STFT| ^ power
  double top_db = 80.0;          // floor at (each clip's max - top_db); <= 0 turns it off
  double amin = 1e-10;
  double ref = 1.0;

  // Throws UsageError naming the field when a value makes no sense.
  void validate() const;
  // Frequency bins of the one-sided spectrum: n_fft / 2 + 1.
  int n_bins() const { return n_fft / 2 + 1; }
  // Frames librosa gives (center=True) for `n_samples` samples: 1 + (n + 2 (n_fft/2) - n_fft) / hop.
  int64_t n_frames(int64_t n_samples) const;
};

// JSON keys are the field names. from_json starts from the defaults, takes the keys present
// (top_db null = off), rejects unknown keys and ill-typed values with UsageError, and validates.
void to_json(nlohmann::json& j, const MelConfig& c);
void from_json(const nlohmann::json& j, MelConfig& c);

// Mel frequencies of `n` points evenly spaced on the mel scale from fmin to fmax
// (librosa.mel_frequencies), in Hz.
std::vector<double> mel_frequencies(int n, double fmin, double fmax, bool htk);

// The filterbank (n_mels, n_fft / 2 + 1), float32, equal to librosa.filters.mel with the
// config's sample_rate, n_fft, n_mels, fmin, fmax, scale and norm.
torch::Tensor mel_filterbank(const MelConfig& config);

// Batched log-mel: forward takes (B, samples) or (samples) float audio and returns
// (B, n_mels, frames) dB (frames = config.n_frames(samples)), top_db applied per clip.
// Buffers (window, filterbank blocks) are registered, so .to(device) moves the whole frontend.
class LogMelImpl : public torch::nn::Module {
 public:
  explicit LogMelImpl(const MelConfig& config = MelConfig());

  torch::Tensor forward(torch::Tensor audio);
  // The power mel spectrogram (B, n_mels, frames) before the dB conversion:
  // apply_filterbank(power_spectrogram(audio)).
  torch::Tensor mel_power(torch::Tensor audio);
  // |STFT|^power (B, frames, n_bins) of (B, samples) or (samples) audio, librosa's framing.
  torch::Tensor power_spectrogram(torch::Tensor audio);
  // The filterbank applied to a (B, frames, n_bins) power spectrogram, block by block over the
  // filters' non-zero bins: (B, n_mels, frames).
  torch::Tensor apply_filterbank(const torch::Tensor& power) const;
  // The dB conversion (power_to_db with ref, amin, and top_db per batch item) of a mel power.
  torch::Tensor power_to_db(const torch::Tensor& mel_power) const;

  const MelConfig& config() const { return config_; }
  // The full filterbank (n_mels, n_bins), on the module's device.
  const torch::Tensor& filterbank() const { return filterbank_; }

 private:
  // A run of consecutive mel bands and the contiguous bin range their filters touch: the
  // filterbank is applied block by block, skipping the zeros outside each block.
  // (B, samples) float32 on the module's device, finite; throws otherwise.
  torch::Tensor checked_input(torch::Tensor audio) const;
  // The one-sided complex STFT (B, frames, bins) of checked input, librosa's framing.
  torch::Tensor stft_unchecked(const torch::Tensor& audio) const;
  torch::Tensor power_unchecked(const torch::Tensor& audio) const;
  // power_to_db, overwriting `x`.
  torch::Tensor db_in_place(torch::Tensor x) const;

  struct Block {
    int64_t band0, bands, bin0, bins;
  };
  MelConfig config_;
  torch::Tensor window_;      // (win_length) periodic Hann
  torch::Tensor filterbank_;  // (n_mels, n_bins)
  std::vector<Block> blocks_;
  std::vector<torch::Tensor> block_weights_;  // per block: (bins, bands), transposed filters
  // CPU path: band m's non-zero weights, packed at band_offset_[m], cover bins
  // [band_lo_[m], band_lo_[m] + band_len_[m]).
  std::vector<int64_t> band_lo_, band_len_, band_offset_;
  std::vector<float> band_weights_;
};
TORCH_MODULE(LogMel);

}  // namespace instret
