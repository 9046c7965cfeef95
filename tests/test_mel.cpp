// Log-mel frontend against librosa 0.9.2 golden files (scripts/golden/make_mel_golden.py):
// filterbanks, a real clip, silence, a pure tone, odd framing; config parsing; CUDA when present.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "instret/audio/io.h"
#include "instret/audio/mel.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/npy.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kMelData = fs::path(INSTRET_TEST_DATA_DIR) / "mel";
const fs::path kClip = fs::path(INSTRET_TEST_DATA_DIR) / "audio" / "city_blues_5s.wav";
constexpr double kDbTolerance = 0.01;

torch::Tensor golden(const std::string& name) { return read_npy(kMelData / name); }

Json facts() { return read_json_file(kMelData / "facts.json"); }

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

torch::Tensor clip_audio() {
  const std::vector<float> x = read_audio(kClip);
  return torch::tensor(x);
}

torch::Tensor tone_1k() {
  torch::Tensor n = torch::arange(16000, torch::kFloat64);
  return (0.5 * torch::sin(2 * M_PI * 1000.0 * n / 16000)).to(torch::kFloat32);
}

// Filterbank entries relative to the largest weight of the matrix.
void expect_filterbank_near(const torch::Tensor& got, const torch::Tensor& want) {
  ASSERT_EQ(got.sizes(), want.sizes());
  const double scale = want.abs().max().item<double>();
  EXPECT_LT(max_abs_diff(got, want) / scale, 1e-6);
  // Same support, up to bins that sit exactly on a band edge (weight 0 or a rounding residue).
  const torch::Tensor differ = (got == 0) != (want == 0);
  EXPECT_LT(torch::where(differ, got.abs() + want.abs(), torch::zeros_like(got)).max().item<double>(), 1e-6 * scale);
}

}  // namespace

TEST(MelFilterbank, SlaneyScaleAndNormMatchLibrosa) {
  MelConfig c;
  c.n_fft = 512;
  c.win_length = 512;
  c.n_mels = 40;
  expect_filterbank_near(mel_filterbank(c), golden("fb_slaney_512_40.npy"));
}

TEST(MelFilterbank, HtkScaleWithoutNormMatchesLibrosa) {
  MelConfig c;
  c.n_fft = 512;
  c.win_length = 512;
  c.n_mels = 40;
  c.fmin = 50;
  c.fmax = 7000;
  c.scale = "htk";
  c.norm = "none";
  expect_filterbank_near(mel_filterbank(c), golden("fb_htk_512_40.npy"));
}

TEST(MelFilterbank, DefaultMatrixMatchesLibrosaRowsAndSums) {
  const torch::Tensor fb = mel_filterbank(MelConfig());
  ASSERT_EQ(fb.sizes(), torch::IntArrayRef({128, 1025}));
  std::vector<int64_t> rows = facts()["fb_default_rows"].get<std::vector<int64_t>>();
  expect_filterbank_near(fb.index_select(0, torch::tensor(rows)), golden("fb_default_rows.npy"));
  const torch::Tensor sums = fb.to(torch::kFloat64).sum(1);
  const torch::Tensor want = golden("fb_default_rowsum.npy");
  EXPECT_LT(((sums - want).abs() / want.abs()).max().item<double>(), 1e-6);
}

TEST(MelFilterbank, CentresAreOnTheMelScale) {
  // Slaney: linear below 1 kHz (200/3 Hz per mel), so 1000 Hz is exactly 15 mel.
  const std::vector<double> f = mel_frequencies(3, 0.0, 1000.0, false);
  EXPECT_DOUBLE_EQ(f[1], 500.0);
  const std::vector<double> h = mel_frequencies(2, 0.0, 700.0, true);
  EXPECT_NEAR(h[1], 700.0, 1e-9);
}

TEST(LogMel, RealClipMatchesLibrosa) {
  LogMel mel;
  const torch::Tensor out = mel(clip_audio());
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({1, 128, 157}));
  const double diff = max_abs_diff(out[0], golden("clip_logmel.npy"));
  RecordProperty("max_abs_diff_db", std::to_string(diff));
  EXPECT_LT(diff, kDbTolerance);
}

TEST(LogMel, BlockFilterbankPathMatchesLibrosa) {
  // The path CUDA takes (whole-batch power spectrogram, block-sparse filterbank products), run
  // here on the CPU.
  LogMel mel;
  const torch::Tensor clip = clip_audio();
  const torch::Tensor power = mel->power_spectrogram(torch::stack({clip, clip * 0.5f}));
  ASSERT_EQ(power.sizes(), torch::IntArrayRef({2, 157, 1025}));
  const torch::Tensor out = mel->power_to_db(mel->apply_filterbank(power));
  EXPECT_LT(max_abs_diff(out[0], golden("clip_logmel.npy")), kDbTolerance);
  EXPECT_LT(max_abs_diff(out[1], golden("clip_logmel.npy") + 20 * std::log10(0.5)), kDbTolerance);
  EXPECT_LT(max_abs_diff(mel->apply_filterbank(power), torch::matmul(mel->filterbank(), power.transpose(1, 2))), 1e-3);
}

TEST(LogMel, SilenceIsFiniteMinus100Db) {
  LogMel mel;
  const torch::Tensor out = mel(torch::zeros({2, 80000}));
  ASSERT_EQ(out.sizes(), torch::IntArrayRef({2, 128, 157}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  const Json f = facts();
  EXPECT_NEAR(out.min().item<double>(), f["silence_min"].get<double>(), kDbTolerance);
  EXPECT_NEAR(out.max().item<double>(), f["silence_max"].get<double>(), kDbTolerance);
}

TEST(LogMel, ToneLandsInTheBandCentredNearIt) {
  LogMel mel;
  const torch::Tensor out = mel(tone_1k())[0];
  const torch::Tensor want = golden("tone1k_logmel.npy");
  EXPECT_LT(max_abs_diff(out, want), kDbTolerance);
  const Json f = facts();
  const int64_t mid = out.size(1) / 2;
  EXPECT_EQ(out.select(1, mid).argmax().item<int64_t>(), f["tone_peak_band"].get<int64_t>());
  EXPECT_EQ(f["tone_peak_band"].get<int64_t>(), f["tone_nearest_centre_band"].get<int64_t>());
}

TEST(LogMel, TopDbOffMatchesLibrosa) {
  MelConfig c;
  c.top_db = 0;
  LogMel mel(c);
  const torch::Tensor out = mel(tone_1k())[0];
  const torch::Tensor want = golden("tone1k_logmel_no_top_db.npy");
  const double peak = want.max().item<double>();
  ASSERT_LT(want.min().item<double>(), peak - 80);  // the floor matters here
  // Within 100 dB of the clip's max the float32 FFT matches librosa's float64 one to 0.01 dB;
  // the tone's sidelobes below that carry float32 rounding (measured: 0.036 dB at -120 dB).
  const torch::Tensor loud = want >= peak - 100;
  EXPECT_LT(max_abs_diff(out.masked_select(loud), want.masked_select(loud)), kDbTolerance);
  EXPECT_LT(max_abs_diff(out, want), 0.1);
}

TEST(LogMel, BatchAppliesTopDbPerClip) {
  // Clip, silence and a quiet copy of the clip in one batch: each item equals its own reference.
  LogMel mel;
  const torch::Tensor clip = clip_audio();
  const torch::Tensor out = mel(torch::stack({clip, torch::zeros_like(clip), clip * 1e-3f}));
  const torch::Tensor want = golden("clip_logmel.npy");
  EXPECT_LT(max_abs_diff(out[0], want), kDbTolerance);
  EXPECT_NEAR(out[1].max().item<double>(), facts()["silence_max"].get<double>(), kDbTolerance);
  // -60 dB of amplitude shifts every value by -60 dB (top_db follows the clip's own max), down
  // to amin's floor.
  EXPECT_LT(max_abs_diff(out[2], torch::clamp_min(want - 60.0, facts()["silence_max"].get<double>())), 0.02);
}

TEST(LogMel, OddFramingAndPowerOneMatchLibrosa) {
  MelConfig c;
  c.n_fft = 1024;
  c.win_length = 1000;
  c.hop_length = 300;
  c.n_mels = 64;
  c.fmin = 100;
  c.fmax = 6000;
  c.power = 1.0;
  LogMel mel(c);
  const torch::Tensor out = mel(golden("noise_input.npy"))[0];
  EXPECT_LT(max_abs_diff(out, golden("noise_logmel_odd.npy")), kDbTolerance);
}

TEST(LogMel, FrameCountsMatchLibrosa) {
  LogMel mel;
  for (const auto& [len, frames] : facts()["frames"].items()) {
    const int64_t n = std::stoll(len);
    EXPECT_EQ(MelConfig().n_frames(n), frames.get<int64_t>()) << n;
    EXPECT_EQ(mel(torch::full({n}, 0.1f)).size(2), frames.get<int64_t>()) << n;
  }
}

TEST(LogMel, RejectsNonFiniteAndEmptyInput) {
  LogMel mel;
  torch::Tensor x = torch::zeros({1, 4000});
  x[0][10] = std::nanf("");
  EXPECT_THROW(mel(x), FormatError);
  EXPECT_THROW(mel(torch::zeros({1, 0})), UsageError);
  EXPECT_THROW(mel(torch::zeros({1, 2, 3})), UsageError);
}

TEST(MelConfig, JsonRoundTripAndValidation) {
  MelConfig c;
  c.n_mels = 64;
  c.scale = "htk";
  c.top_db = 0;
  const Json j = c;
  const MelConfig back = j.get<MelConfig>();
  EXPECT_EQ(back.n_mels, 64);
  EXPECT_EQ(back.scale, "htk");
  EXPECT_EQ(back.top_db, 0);
  EXPECT_EQ(Json(back), j);
  EXPECT_EQ(Json::parse(R"({"top_db": null, "norm": null})").get<MelConfig>().top_db, 0);
  EXPECT_EQ(Json::parse(R"({"norm": null})").get<MelConfig>().norm, "none");
  for (const char* bad : {R"({"n_mels": 0})", R"({"win_length": 4096})", R"({"fmax": 9000})",
                          R"({"fmin": 9000})", R"({"scale": "bark"})", R"({"norm": "l2"})",
                          R"({"hop_length": -1})", R"({"n_fft": 2048.5})", R"({"n_fft": "big"})",
                          R"({"amin": 0})", R"({"power": 0})", R"({"nmels": 64})", R"([1])"})
    EXPECT_THROW(Json::parse(bad).get<MelConfig>(), UsageError) << bad;
}

TEST(LogMel, RunsOnCudaLikeCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  LogMel mel;
  mel->to(torch::kCUDA);
  const torch::Tensor clip = clip_audio();
  const torch::Tensor out = mel(torch::stack({clip, torch::zeros_like(clip)}).to(torch::kCUDA));
  EXPECT_TRUE(out.is_cuda());
  EXPECT_LT(max_abs_diff(out[0].cpu(), golden("clip_logmel.npy")), kDbTolerance);
  EXPECT_NEAR(out[1].max().item<double>(), facts()["silence_max"].get<double>(), kDbTolerance);
}
