#include "instret/audio/io.h"

#include <sndfile.h>
#include <soxr.h>

#include <cmath>
#include <memory>
#include <string>

#include "instret/audio/sndfile_ptr.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

SndFilePtr open_for_reading(const fs::path& path, SF_INFO& info) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path.string() + ": no such file");
  if (fs::is_directory(path, ec)) throw IoError(path.string() + ": is a directory, not an audio file");
  if (fs::file_size(path, ec) == 0) throw FormatError(path.string() + ": empty file");
  // Opened as a regular file first: libsndfile would wait forever on a FIFO and read /dev/zero on.
  RegularFile regular(path);
  info = SF_INFO{};
  // libsndfile owns the descriptor from here: it closes it on failure and in sf_close.
  SNDFILE* f = sf_open_fd(regular.release(), SFM_READ, &info, SF_TRUE);
  if (!f) throw FormatError(path.string() + ": cannot read audio: " + sf_strerror(nullptr));
  SndFilePtr file(f);
  if (info.samplerate <= 0 || info.channels <= 0)
    throw FormatError(path.string() + ": invalid audio header (rate " + std::to_string(info.samplerate) +
                      ", channels " + std::to_string(info.channels) + ")");
  return file;
}

}  // namespace

AudioInfo audio_info(const fs::path& path) {
  SF_INFO info;
  open_for_reading(path, info);
  return AudioInfo{info.samplerate, info.channels, static_cast<int64_t>(info.frames)};
}

std::vector<float> read_audio(const fs::path& path, int target_rate) {
  SF_INFO info;
  SndFilePtr file = open_for_reading(path, info);
  const int channels = info.channels;
  std::vector<float> mono;
  if (info.frames > 0) mono.reserve(static_cast<size_t>(info.frames));
  // Read in blocks: frame counts of compressed or streamed formats can be unknown or wrong.
  constexpr sf_count_t kBlock = 65536;
  std::vector<float> buf(static_cast<size_t>(kBlock * channels));
  while (true) {
    const sf_count_t got = sf_readf_float(file.get(), buf.data(), kBlock);
    if (got <= 0) break;
    for (sf_count_t i = 0; i < got; ++i) {
      float sum = 0.f;
      for (int c = 0; c < channels; ++c) sum += buf[static_cast<size_t>(i * channels + c)];
      mono.push_back(sum / static_cast<float>(channels));
    }
  }
  if (sf_error(file.get()) != SF_ERR_NO_ERROR)
    throw FormatError(path.string() + ": corrupt audio: " + sf_strerror(file.get()));
  if (mono.empty()) throw FormatError(path.string() + ": contains no audio samples");
  for (float v : mono)
    if (!std::isfinite(v)) throw FormatError(path.string() + ": contains NaN or infinite samples");
  if (target_rate > 0 && target_rate != info.samplerate) return resample(mono, info.samplerate, target_rate);
  return mono;
}

std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate) {
  if (from_rate <= 0 || to_rate <= 0)
    throw UsageError("resample: invalid rates " + std::to_string(from_rate) + " -> " + std::to_string(to_rate));
  if (from_rate == to_rate || samples.empty()) return samples;
  const size_t out_len = static_cast<size_t>(
      std::llround(static_cast<double>(samples.size()) * to_rate / from_rate));
  std::vector<float> out(out_len + 16);
  size_t done = 0;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
  const soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, samples.data(), samples.size(), nullptr,
                                        out.data(), out.size(), &done, &io, &q, nullptr);
  if (err) throw Error(std::string("resample: libsoxr failed: ") + soxr_strerror(err));
  out.resize(out_len);  // soxr flushes its whole tail; keep the exact rate-converted length
  if (done < out_len) std::fill(out.begin() + static_cast<std::ptrdiff_t>(done), out.end(), 0.f);
  return out;
}

std::vector<float> excerpt(const std::vector<float>& samples, int64_t offset, int64_t length) {
  std::vector<float> out(static_cast<size_t>(std::max<int64_t>(length, 0)), 0.f);
  for (int64_t i = 0; i < length; ++i) {
    const int64_t j = offset + i;
    if (j >= 0 && j < static_cast<int64_t>(samples.size())) out[static_cast<size_t>(i)] = samples[static_cast<size_t>(j)];
  }
  return out;
}

int16_t to_pcm16(float x) {
  const double v = std::nearbyint(static_cast<double>(x) * 32768.0);
  if (!(v > -32768.0)) return -32768;  // also maps NaN to the floor rather than UB
  if (v > 32767.0) return 32767;
  return static_cast<int16_t>(v);
}

void write_wav16(const fs::path& path, const float* samples, int64_t n, int sample_rate) {
  std::vector<int16_t> pcm(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(samples[i])) throw Error(path.string() + ": refusing to write NaN/inf audio");
    pcm[static_cast<size_t>(i)] = to_pcm16(samples[i]);
  }
  write_atomically(path, [&](const fs::path& tmp) {
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open(tmp.c_str(), SFM_WRITE, &info);
    if (!f) throw IoError(path.string() + ": cannot write audio: " + sf_strerror(nullptr));
    SndFilePtr file(f);
    if (sf_write_short(f, pcm.data(), n) != n) throw IoError(path.string() + ": write failed: " + sf_strerror(f));
  });
}

}  // namespace instret
