#include "instret/audio/mel.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "instret/core/error.h"
#include "instret/core/precision.h"

namespace instret {

namespace {

void require(bool ok, const std::string& what) {
  if (!ok) throw UsageError("mel config: " + what);
}

// librosa.hz_to_mel / mel_to_hz (0.9.2), scalar versions with the same operation order.
double hz_to_mel(double f, bool htk) {
  if (htk) return 2595.0 * std::log10(1.0 + f / 700.0);
  const double f_sp = 200.0 / 3;
  const double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (f >= min_log_hz) return min_log_mel + std::log(f / min_log_hz) / logstep;
  return f / f_sp;
}

double mel_to_hz(double m, bool htk) {
  if (htk) return 700.0 * (std::pow(10.0, m / 2595.0) - 1.0);
  const double f_sp = 200.0 / 3;
  const double min_log_hz = 1000.0;
  const double min_log_mel = min_log_hz / f_sp;
  const double logstep = std::log(6.4) / 27.0;
  if (m >= min_log_mel) return min_log_hz * std::exp(logstep * (m - min_log_mel));
  return 0.0 + f_sp * m;
}

// Per-block fixed cost, in multiply-adds per frame, used to choose the block partition: small
// blocks skip more zeros, but each matrix product has its own overhead.
constexpr int64_t kBlockOverhead = 1024;

// Frames processed together by the CPU kernel: the power of 8 frames is stored bin-major, so each
// band's weighted sum runs over 8 independent lanes (vectorised) instead of one serial chain.
constexpr int64_t kLanes = 8;

// |X|^2 of `lanes` frames (rows of `bins` complex values from `spec`) stored bin-major:
// p[k * kLanes + j] = power of frame j at bin k. The fixed-count case lets the compiler unroll.
void group_power(const c10::complex<float>* spec, int64_t lanes, int64_t bins, float* p) {
  const float* z = reinterpret_cast<const float*>(spec);
  if (lanes == kLanes) {
    for (int64_t k = 0; k < bins; ++k)
      for (int64_t j = 0; j < kLanes; ++j) {
        const float re = z[2 * (j * bins + k)], im = z[2 * (j * bins + k) + 1];
        p[k * kLanes + j] = re * re + im * im;
      }
    return;
  }
  std::fill(p, p + bins * kLanes, 0.f);
  for (int64_t j = 0; j < lanes; ++j)
    for (int64_t k = 0; k < bins; ++k) {
      const float re = z[2 * (j * bins + k)], im = z[2 * (j * bins + k) + 1];
      p[k * kLanes + j] = re * re + im * im;
    }
}

// CPU kernel: the mel power (n_mels, frames) of one clip's one-sided spectrum (frames, bins),
// reading each band's packed non-zero weights only. `out` is row-major (n_mels, frames).
void mel_of_spectrum(const c10::complex<float>* spec, int64_t frames, int64_t bins, double power,
                     const std::vector<int64_t>& lo, const std::vector<int64_t>& len,
                     const std::vector<int64_t>& offset, const std::vector<float>& weights, float* out) {
  const int64_t n_mels = static_cast<int64_t>(lo.size());
  std::vector<float> p(static_cast<size_t>(bins * kLanes));
  for (int64_t f0 = 0; f0 < frames; f0 += kLanes) {
    const int64_t lanes = std::min(kLanes, frames - f0);
    group_power(spec + f0 * bins, lanes, bins, p.data());
    if (power == 1.0)
      for (float& v : p) v = std::sqrt(v);
    else if (power != 2.0)
      for (float& v : p) v = static_cast<float>(std::pow(v, power / 2.0));
    for (int64_t m = 0; m < n_mels; ++m) {
      // Two accumulators (even and odd bins) halve the add-latency chain.
      float even[kLanes] = {}, odd[kLanes] = {};
      const float* w = weights.data() + offset[m];
      const float* pk = p.data() + lo[m] * kLanes;
      int64_t i = 0;
      for (; i + 1 < len[m]; i += 2)
        for (int64_t j = 0; j < kLanes; ++j) {
          even[j] += w[i] * pk[i * kLanes + j];
          odd[j] += w[i + 1] * pk[(i + 1) * kLanes + j];
        }
      if (i < len[m])
        for (int64_t j = 0; j < kLanes; ++j) even[j] += w[i] * pk[i * kLanes + j];
      for (int64_t j = 0; j < lanes; ++j) out[m * frames + f0 + j] = even[j] + odd[j];
    }
  }
}

// Per-thread CPU buffers for one clip's STFT, reused from call to call: fresh multi-megabyte
// tensors per clip cost more in page faults (glibc hands large freed blocks back to the OS) than
// the FFT itself costs.
struct ClipWorkspace {
  int64_t samples = -1, n_fft = -1, win = -1, hop = -1;
  torch::Tensor padded;  // (length): the clip between its zero margins
  torch::Tensor framed;  // (frames, n_fft): windowed frames in the first win columns, zeros after
  torch::Tensor spec;    // (frames, n_fft / 2 + 1) complex64
};

}  // namespace

void MelConfig::validate() const {
  require(sample_rate > 0, "sample_rate must be positive, got " + std::to_string(sample_rate));
  require(n_fft >= 2, "n_fft must be at least 2, got " + std::to_string(n_fft));
  require(win_length >= 1 && win_length <= n_fft,
          "win_length must be in [1, n_fft=" + std::to_string(n_fft) + "], got " + std::to_string(win_length));
  require(hop_length >= 1, "hop_length must be positive, got " + std::to_string(hop_length));
  require(n_mels >= 1, "n_mels must be positive, got " + std::to_string(n_mels));
  require(std::isfinite(fmin) && fmin >= 0, "fmin must be >= 0, got " + std::to_string(fmin));
  require(std::isfinite(fmax) && fmax > fmin && fmax <= sample_rate / 2.0,
          "fmax must be in (fmin, sample_rate / 2], got " + std::to_string(fmax));
  require(scale == "slaney" || scale == "htk", "scale must be \"slaney\" or \"htk\", got \"" + scale + "\"");
  require(norm == "slaney" || norm == "none", "norm must be \"slaney\" or \"none\", got \"" + norm + "\"");
  require(std::isfinite(power) && power > 0, "power must be positive, got " + std::to_string(power));
  require(std::isfinite(top_db), "top_db must be a number (<= 0 turns it off)");
  require(std::isfinite(amin) && amin > 0, "amin must be positive, got " + std::to_string(amin));
  require(std::isfinite(ref) && ref > 0, "ref must be positive, got " + std::to_string(ref));
}

int64_t MelConfig::n_frames(int64_t n_samples) const {
  const int64_t padded = n_samples + 2 * (n_fft / 2);
  if (n_samples < 1 || padded < n_fft) return 0;
  return 1 + (padded - n_fft) / hop_length;
}

void to_json(nlohmann::json& j, const MelConfig& c) {
  j = nlohmann::json{{"sample_rate", c.sample_rate}, {"n_fft", c.n_fft}, {"win_length", c.win_length},
                     {"hop_length", c.hop_length},   {"n_mels", c.n_mels}, {"fmin", c.fmin},
                     {"fmax", c.fmax},               {"scale", c.scale}, {"norm", c.norm},
                     {"power", c.power},             {"top_db", c.top_db}, {"amin", c.amin},
                     {"ref", c.ref}};
}

void from_json(const nlohmann::json& j, MelConfig& c) {
  if (!j.is_object()) throw UsageError("mel config must be a JSON object");
  MelConfig out;
  const nlohmann::json known = out;
  for (const auto& [key, value] : j.items()) {
    if (!known.contains(key)) throw UsageError("mel config: unknown key '" + key + "'");
    try {
      if (key == "sample_rate") out.sample_rate = value.get<int>();
      else if (key == "n_fft") out.n_fft = value.get<int>();
      else if (key == "win_length") out.win_length = value.get<int>();
      else if (key == "hop_length") out.hop_length = value.get<int>();
      else if (key == "n_mels") out.n_mels = value.get<int>();
      else if (key == "fmin") out.fmin = value.get<double>();
      else if (key == "fmax") out.fmax = value.get<double>();
      else if (key == "scale") out.scale = value.get<std::string>();
      else if (key == "norm") out.norm = value.is_null() ? "none" : value.get<std::string>();
      else if (key == "power") out.power = value.get<double>();
      else if (key == "top_db") out.top_db = value.is_null() ? 0.0 : value.get<double>();
      else if (key == "amin") out.amin = value.get<double>();
      else if (key == "ref") out.ref = value.get<double>();
    } catch (const nlohmann::json::exception&) {
      throw UsageError("mel config: key '" + key + "' has the wrong type (" + value.dump() + ")");
    }
    const bool integral = key == "sample_rate" || key == "n_fft" || key == "win_length" ||
                          key == "hop_length" || key == "n_mels";
    if (integral && !value.is_number_integer())
      throw UsageError("mel config: key '" + key + "' must be an integer, got " + value.dump());
  }
  out.validate();
  c = out;
}

std::vector<double> mel_frequencies(int n, double fmin, double fmax, bool htk) {
  // np.linspace(min_mel, max_mel, n): start + i * step, the last point exactly max_mel.
  const double lo = hz_to_mel(fmin, htk);
  const double hi = hz_to_mel(fmax, htk);
  std::vector<double> hz(n);
  const double step = n > 1 ? (hi - lo) / (n - 1) : 0.0;
  for (int i = 0; i < n; ++i) {
    const double m = (n > 1 && i == n - 1) ? hi : i * step + lo;
    hz[i] = mel_to_hz(m, htk);
  }
  return hz;
}

torch::Tensor mel_filterbank(const MelConfig& config) {
  config.validate();
  const bool htk = config.scale == "htk";
  const int n_mels = config.n_mels;
  const int n_bins = config.n_bins();
  // np.fft.rfftfreq(n_fft, 1 / sr): k * (1 / (n_fft * (1 / sr))).
  const double bin_hz = 1.0 / (config.n_fft * (1.0 / config.sample_rate));
  std::vector<double> fft_freqs(n_bins);
  for (int k = 0; k < n_bins; ++k) fft_freqs[k] = k * bin_hz;
  const std::vector<double> mel_f = mel_frequencies(n_mels + 2, config.fmin, config.fmax, htk);

  torch::Tensor weights = torch::zeros({n_mels, n_bins}, torch::kFloat32);
  auto w = weights.accessor<float, 2>();
  for (int i = 0; i < n_mels; ++i) {
    const double fdiff_lo = mel_f[i + 1] - mel_f[i];
    const double fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
    // librosa rounds the triangle to float32, then scales it by the (float64) area norm.
    const double enorm = config.norm == "slaney" ? 2.0 / (mel_f[i + 2] - mel_f[i]) : 1.0;
    for (int k = 0; k < n_bins; ++k) {
      const double lower = -(mel_f[i] - fft_freqs[k]) / fdiff_lo;
      const double upper = (mel_f[i + 2] - fft_freqs[k]) / fdiff_hi;
      const float tri = static_cast<float>(std::max(0.0, std::min(lower, upper)));
      w[i][k] = config.norm == "slaney" ? static_cast<float>(static_cast<double>(tri) * enorm) : tri;
    }
  }
  return weights;
}

LogMelImpl::LogMelImpl(const MelConfig& config) : config_(config) {
  config_.validate();
  // scipy.signal.get_window('hann', win_length, fftbins=True): 0.5 - 0.5 cos(2 pi n / N).
  torch::Tensor window = torch::empty({config_.win_length}, torch::kFloat64);
  auto wa = window.accessor<double, 1>();
  for (int n = 0; n < config_.win_length; ++n)
    wa[n] = 0.5 - 0.5 * std::cos(2.0 * M_PI * n / config_.win_length);
  window_ = register_buffer("window", window.to(torch::kFloat32));
  filterbank_ = register_buffer("filterbank", mel_filterbank(config_));

  // Each band's filter is non-zero on one contiguous bin range [lo, hi).
  const int64_t n_mels = config_.n_mels;
  auto fb = filterbank_.accessor<float, 2>();
  std::vector<int64_t> lo(n_mels), hi(n_mels);
  for (int64_t m = 0; m < n_mels; ++m) {
    lo[m] = config_.n_bins();
    hi[m] = 0;
    for (int64_t k = 0; k < config_.n_bins(); ++k)
      if (fb[m][k] != 0.f) {
        lo[m] = std::min(lo[m], k);
        hi[m] = k + 1;
      }
  }
  for (int64_t m = 0; m < n_mels; ++m) {
    const int64_t length = std::max<int64_t>(hi[m] - lo[m], 0);
    band_lo_.push_back(length > 0 ? lo[m] : 0);
    band_len_.push_back(length);
    band_offset_.push_back(static_cast<int64_t>(band_weights_.size()));
    for (int64_t k = 0; k < length; ++k) band_weights_.push_back(fb[m][lo[m] + k]);
  }
  auto span = [&](int64_t a, int64_t b) {  // bin range of bands [a, b)
    int64_t l = config_.n_bins(), h = 0;
    for (int64_t m = a; m < b; ++m)
      if (hi[m] > lo[m]) l = std::min(l, lo[m]), h = std::max(h, hi[m]);
    return std::make_pair(l, std::max(h, l));
  };
  // Optimal partition of the bands into consecutive blocks (dynamic programming over the
  // multiply-adds per frame: block bins x block bands + a fixed overhead per block).
  std::vector<int64_t> best(n_mels + 1, std::numeric_limits<int64_t>::max()), cut(n_mels + 1, 0);
  best[0] = 0;
  for (int64_t b = 1; b <= n_mels; ++b)
    for (int64_t a = 0; a < b; ++a) {
      const auto [l, h] = span(a, b);
      const int64_t cost = best[a] + (h - l) * (b - a) + kBlockOverhead;
      if (cost < best[b]) best[b] = cost, cut[b] = a;
    }
  for (int64_t b = n_mels; b > 0; b = cut[b]) {
    const auto [l, h] = span(cut[b], b);
    blocks_.insert(blocks_.begin(), Block{cut[b], b - cut[b], l, h - l});
  }
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& bl = blocks_[i];
    torch::Tensor wt = filterbank_.narrow(0, bl.band0, bl.bands).narrow(1, bl.bin0, bl.bins).t().contiguous();
    block_weights_.push_back(register_buffer("block" + std::to_string(i), wt));
  }
}

torch::Tensor LogMelImpl::mel_power(torch::Tensor audio) {
  // Features are float32 even inside a bf16 autocast scope (its matrix products would be bf16).
  NoAutocast no_autocast;
  audio = checked_input(std::move(audio));
  const int64_t batch = audio.size(0);
  if (!audio.device().is_cpu()) return apply_filterbank(power_unchecked(audio));
  // On the CPU, one clip at a time per thread (its frames and spectrum stay in cache, a whole
  // batch's do not), through the packed-filter kernel.
  const int64_t frames = config_.n_frames(audio.size(1));
  torch::Tensor out = torch::empty({batch, config_.n_mels, frames}, audio.options());
  const int64_t n = audio.size(1), n_fft = config_.n_fft, win = config_.win_length, hop = config_.hop_length;
  const int64_t left = n_fft / 2 - (n_fft - win) / 2;  // see stft_unchecked
  const int64_t length = (frames - 1) * hop + win;
  const int64_t count = std::min(n, length - left);
  at::parallel_for(0, batch, 1, [&](int64_t begin, int64_t end) {
    thread_local ClipWorkspace ws;
    if (ws.samples != n || ws.n_fft != n_fft || ws.win != win || ws.hop != hop) {
      ws.padded = torch::zeros({length}, torch::kFloat32);
      ws.framed = torch::zeros({frames, n_fft}, torch::kFloat32);
      ws.spec = torch::empty({frames, config_.n_bins()}, torch::kComplexFloat);
      ws.samples = n, ws.n_fft = n_fft, ws.win = win, ws.hop = hop;
    }
    for (int64_t i = begin; i < end; ++i) {
      ws.padded.narrow(0, left, count).copy_(audio[i].narrow(0, 0, count));
      torch::Tensor windowed = ws.framed.narrow(1, 0, win);
      torch::mul_out(windowed, ws.padded.unfold(0, win, hop), window_);
      torch::fft_rfft_out(ws.spec, ws.framed, c10::nullopt, -1, c10::nullopt);
      mel_of_spectrum(ws.spec.data_ptr<c10::complex<float>>(), frames, config_.n_bins(), config_.power, band_lo_,
                      band_len_, band_offset_, band_weights_, out[i].data_ptr<float>());
    }
  });
  return out;
}

torch::Tensor LogMelImpl::power_spectrogram(torch::Tensor audio) {
  NoAutocast no_autocast;
  return power_unchecked(checked_input(std::move(audio)));
}

torch::Tensor LogMelImpl::checked_input(torch::Tensor audio) const {
  if (audio.dim() == 1) audio = audio.unsqueeze(0);
  if (audio.dim() != 2) throw UsageError("log-mel input must be (batch, samples) or (samples)");
  const int64_t batch = audio.size(0);
  const int64_t n = audio.size(1);
  if (n < 1) throw UsageError("log-mel input has no samples");
  audio = audio.to(window_.device(), torch::kFloat32);
  // The max and min propagate NaN and show infinities; two reductions allocate nothing, unlike
  // isfinite().all() on a batch.
  if (batch > 0 && !(std::isfinite(audio.max().item<float>()) && std::isfinite(audio.min().item<float>())))
    throw FormatError("log-mel input contains NaN or infinite samples");
  return audio;
}

torch::Tensor LogMelImpl::stft_unchecked(const torch::Tensor& audio) const {
  const int64_t n = audio.size(1);
  // Frame t of librosa's centred STFT is non-zero only where the window (win_length samples,
  // centred in n_fft) lies: original samples [t*hop - left, t*hop - left + win). Frame those,
  // window them, and let rfft zero-pad to n_fft at the end: that shifts each frame, which changes
  // the phase only, not the power.
  const int64_t n_fft = config_.n_fft, win = config_.win_length, hop = config_.hop_length;
  const int64_t frames = config_.n_frames(n);
  const int64_t left = n_fft / 2 - (n_fft - win) / 2;
  const int64_t length = (frames - 1) * hop + win;
  const int64_t right = length - left - n;
  torch::Tensor padded = torch::constant_pad_nd(audio, {left, std::max<int64_t>(right, 0)});
  if (right < 0) padded = padded.narrow(1, 0, length);
  torch::Tensor framed = padded.unfold(1, win, hop) * window_;  // (B, T, win)
  return torch::fft::rfft(framed, n_fft, -1);                   // (B, T, bins)
}

torch::Tensor LogMelImpl::power_unchecked(const torch::Tensor& audio) const {
  const torch::Tensor spec = stft_unchecked(audio);
  const torch::Tensor ri = torch::view_as_real(spec);
  const torch::Tensor re = ri.select(-1, 0), im = ri.select(-1, 1);
  torch::Tensor power = (re * re).addcmul_(im, im);  // |X|^2
  if (config_.power != 2.0) power = power.pow(config_.power / 2.0);
  return power;
}

torch::Tensor LogMelImpl::apply_filterbank(const torch::Tensor& power) const {
  NoAutocast no_autocast;
  if (power.dim() != 3 || power.size(2) != config_.n_bins())
    throw UsageError("filterbank input must be (batch, frames, " + std::to_string(config_.n_bins()) + ")");
  const int64_t batch = power.size(0), frames = power.size(1);
  const torch::Tensor rows = power.reshape({batch * frames, config_.n_bins()});

  std::vector<torch::Tensor> parts;
  parts.reserve(blocks_.size());
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const Block& bl = blocks_[i];
    if (bl.bins == 0)
      parts.push_back(torch::zeros({batch * frames, bl.bands}, rows.options()));
    else
      parts.push_back(torch::mm(rows.narrow(1, bl.bin0, bl.bins), block_weights_[i]));
  }
  torch::Tensor mel = parts.size() == 1 ? parts[0] : torch::cat(parts, 1);  // (B*T, n_mels)
  return mel.view({batch, frames, config_.n_mels}).transpose(1, 2).contiguous();
}

torch::Tensor LogMelImpl::power_to_db(const torch::Tensor& mel_power) const { return db_in_place(mel_power.clone()); }

torch::Tensor LogMelImpl::db_in_place(torch::Tensor x) const {
  const double offset = 10.0 * std::log10(std::max(config_.amin, config_.ref));
  x.clamp_min_(config_.amin).log10_().mul_(10.0);
  if (offset != 0.0) x.sub_(offset);
  if (config_.top_db > 0 && x.numel() > 0) {
    std::vector<int64_t> dims;
    for (int64_t d = 1; d < x.dim(); ++d) dims.push_back(d);
    const torch::Tensor floor = (x.dim() > 1 ? torch::amax(x, dims, true) : x.max()) - config_.top_db;
    x.clamp_min_(floor);
  }
  return x;
}

torch::Tensor LogMelImpl::forward(torch::Tensor audio) { return db_in_place(mel_power(std::move(audio))); }

}  // namespace instret
