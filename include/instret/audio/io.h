// Audio file I/O on libsndfile: read any format it knows (WAV, FLAC, OGG, ...), down-mix to mono,
// resample with libsoxr; write 16-bit PCM WAV atomically.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

namespace instret {

// The toolkit's working rate: 16 kHz mono, as the paper's Nlakh.
constexpr int kSampleRate = 16000;

struct AudioInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;
};

// Header facts of an audio file; throws IoError (missing/unreadable) or FormatError (not audio).
AudioInfo audio_info(const std::filesystem::path& path);

// Reads a whole file as mono float samples in [-1, 1] (16-bit PCM scaled by 1/32768), averaging
// channels and resampling to `target_rate` (0 keeps the file's rate). Throws IoError for a missing
// or unreadable file, FormatError for corrupt, empty or non-finite audio. Silence is valid.
std::vector<float> read_audio(const std::filesystem::path& path, int target_rate = kSampleRate);

// Resamples mono audio with libsoxr (high quality); the output has round(n * to / from) samples.
std::vector<float> resample(const std::vector<float>& samples, int from_rate, int to_rate);

// `length` samples of `samples` starting at `offset` (zero-padded where the audio ends).
std::vector<float> excerpt(const std::vector<float>& samples, int64_t offset, int64_t length);

// Float sample -> 16-bit PCM: round(x * 32768), clipped to [-32768, 32767] (so that reading back
// with the 1/32768 scale returns the same value for any already-quantised sample).
int16_t to_pcm16(float x);

// Writes mono 16-bit PCM WAV at `sample_rate`, atomically (temporary name, then rename).
void write_wav16(const std::filesystem::path& path, const float* samples, int64_t n, int sample_rate = kSampleRate);
inline void write_wav16(const std::filesystem::path& path, const std::vector<float>& samples,
                        int sample_rate = kSampleRate) {
  write_wav16(path, samples.data(), static_cast<int64_t>(samples.size()), sample_rate);
}

}  // namespace instret
