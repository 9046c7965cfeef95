// Audio I/O: formats, down-mixing, resampling, exact 16-bit round trips, clear errors on bad files.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

fs::path scratch(const std::string& name) {
  return test::scratch_dir("audio") / name;
}

// Writes interleaved float frames with libsndfile directly (independent of write_wav16).
void write_raw(const fs::path& p, const std::vector<float>& interleaved, int channels, int rate, int format) {
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(p.c_str(), SFM_WRITE, &info);
  ASSERT_NE(f, nullptr) << sf_strerror(nullptr);
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
}

std::vector<float> sine(double freq, int rate, int n, double amp = 0.5) {
  std::vector<float> x(n);
  for (int i = 0; i < n; ++i) x[i] = static_cast<float>(amp * std::sin(2 * M_PI * freq * i / rate));
  return x;
}

}  // namespace

TEST(AudioIo, Pcm16RoundTripIsExact) {
  std::vector<float> x = {0.f, 1.f / 32768, -1.f, 32767.f / 32768, -12345.f / 32768, 0.25f};
  const fs::path p = scratch("rt.wav");
  write_wav16(p, x);
  const AudioInfo info = audio_info(p);
  EXPECT_EQ(info.sample_rate, 16000);
  EXPECT_EQ(info.channels, 1);
  EXPECT_EQ(info.frames, 6);
  EXPECT_EQ(read_audio(p), x);
}

TEST(AudioIo, Pcm16ClipsAndRounds) {
  EXPECT_EQ(to_pcm16(1.0f), 32767);
  EXPECT_EQ(to_pcm16(-1.5f), -32768);
  EXPECT_EQ(to_pcm16(0.5f / 32768), 0);  // round half to even
  EXPECT_EQ(to_pcm16(1.6f / 32768), 2);
}

TEST(AudioIo, DownmixesStereoToMean) {
  std::vector<float> st = {0.5f, -0.5f, 0.25f, 0.75f, -1.f, 0.f};
  const fs::path p = scratch("st.wav");
  write_raw(p, st, 2, 16000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  const std::vector<float> m = read_audio(p);
  ASSERT_EQ(m.size(), 3u);
  EXPECT_FLOAT_EQ(m[0], 0.f);
  EXPECT_FLOAT_EQ(m[1], 0.5f);
  EXPECT_FLOAT_EQ(m[2], -0.5f);
}

TEST(AudioIo, ReadsFlacAndOggAndResamples) {
  const std::vector<float> x = sine(440, 44100, 44100);
  for (int fmt : {SF_FORMAT_FLAC | SF_FORMAT_PCM_16, SF_FORMAT_OGG | SF_FORMAT_VORBIS}) {
    const fs::path p = scratch((fmt & SF_FORMAT_FLAC) == SF_FORMAT_FLAC ? "x.flac" : "x.ogg");
    write_raw(p, x, 1, 44100, fmt);
    const std::vector<float> y = read_audio(p, 16000);
    ASSERT_EQ(y.size(), 16000u) << p;
    // The resampled tone is still a 440 Hz sine of amplitude 0.5 (check away from the edges).
    double err = 0;
    const std::vector<float> ref = sine(440, 16000, 16000);
    for (int i = 2000; i < 14000; ++i) err = std::max(err, std::abs(double(y[i]) - ref[i]));
    EXPECT_LT(err, 0.02) << p;
  }
}

TEST(AudioIo, ResampleKeepsLengthAndTone) {
  const std::vector<float> x = sine(1000, 48000, 48000 * 2);
  const std::vector<float> y = resample(x, 48000, 16000);
  ASSERT_EQ(y.size(), 32000u);
  const std::vector<float> ref = sine(1000, 16000, 32000);
  double err = 0;
  for (int i = 1000; i < 31000; ++i) err = std::max(err, std::abs(double(y[i]) - ref[i]));
  EXPECT_LT(err, 1e-3);
  EXPECT_EQ(resample(x, 16000, 16000), x);
}

TEST(AudioIo, SilenceIsValid) {
  const fs::path p = scratch("silence.wav");
  write_wav16(p, std::vector<float>(16000, 0.f));
  const std::vector<float> s = read_audio(p);
  EXPECT_EQ(s.size(), 16000u);
  for (float v : s) EXPECT_EQ(v, 0.f);
}

TEST(AudioIo, ExcerptPadsWithZeros) {
  const std::vector<float> x = {1, 2, 3};
  EXPECT_EQ(excerpt(x, 1, 4), (std::vector<float>{2, 3, 0, 0}));
  EXPECT_EQ(excerpt(x, 5, 2), (std::vector<float>{0, 0}));
}

TEST(AudioIo, BadFilesGiveClearErrors) {
  EXPECT_THROW(read_audio(scratch("does_not_exist.wav")), IoError);
  const fs::path empty = scratch("empty.wav");
  write_file_atomically(empty, "");
  EXPECT_THROW(read_audio(empty), FormatError);
  const fs::path garbage = scratch("garbage.wav");
  write_file_atomically(garbage, std::string(1000, 'x'));
  EXPECT_THROW(read_audio(garbage), FormatError);
  // A valid header with zero frames.
  const fs::path zero = scratch("zero.wav");
  write_wav16(zero, std::vector<float>{});
  try {
    read_audio(zero);
    FAIL() << "empty audio accepted";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("zero.wav"), std::string::npos);
  }
  // A truncated WAV (header claims more data than the file holds) still reads what is there or
  // fails cleanly; it must never crash.
  const fs::path full = scratch("full.wav");
  write_wav16(full, sine(440, 16000, 16000));
  std::string bytes = read_file(full);
  const fs::path cut = scratch("cut.wav");
  write_file_atomically(cut, bytes.substr(0, 40));
  EXPECT_THROW(read_audio(cut), FormatError);
  EXPECT_THROW(read_audio(fs::temp_directory_path()), IoError);
}

TEST(AudioIo, NonFiniteSamplesAreRejected) {
  const fs::path p = scratch("nan.wav");
  write_raw(p, {0.f, NAN, 0.f}, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  EXPECT_THROW(read_audio(p), FormatError);
  EXPECT_THROW(write_wav16(scratch("out.wav"), std::vector<float>{0.f, INFINITY}), Error);
}
