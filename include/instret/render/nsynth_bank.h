// NSynth-format instrument bank: a folder with examples.json and audio/<note_str>.wav, rendered by
// concatenative synthesis (exact pitch, nearest velocity, 5 ms attack ramp, 100 ms release fade).
#pragma once
#include <atomic>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "instret/render/instrument_bank.h"

namespace instret {

constexpr double kNsynthAttackSeconds = 0.005;
constexpr double kNsynthReleaseSeconds = 0.100;

class NsynthBank : public InstrumentBank {
 public:
  // Reads <dir>/examples.json (NSynth's schema: an object note_str -> {instrument_str,
  // instrument_family_str, pitch, velocity, ...}) and checks that every note's WAV exists.
  // Throws IoError / FormatError naming the file and the problem. `cache_bytes` bounds the
  // decoded-note cache (it is emptied when full).
  NsynthBank(const std::filesystem::path& dir, const BankFilter& filter, size_t cache_bytes = size_t(1) << 31);

  const std::vector<Instrument>& instruments() const override { return instruments_; }
  bool has_pitch(size_t index, int pitch) const override;
  // Each note plays its sample from the start (linear 5 ms fade-in) until note-off, then fades out
  // linearly over 100 ms; a note sounding past the sample's end stops there, past `n` is cut.
  // Pitches the instrument lacks are skipped; the velocity is the nearest available one (the
  // lower one on a tie).
  void render(size_t index, const std::vector<Note>& notes, float* out, int64_t n) const override;

  // Notes read so far that were resampled to 16 kHz and/or down-mixed to mono (logged once per
  // bank), and notes whose WAV data chunk is shorter than its header declares (logged each).
  size_t notes_converted() const { return converted_; }
  size_t notes_truncated() const { return truncated_; }

 private:
  std::shared_ptr<const std::vector<float>> note_audio(const std::string& note_str) const;

  std::filesystem::path dir_;
  std::vector<Instrument> instruments_;
  // Per instrument: pitch -> (velocity -> note_str), velocities ascending.
  std::vector<std::map<int, std::vector<std::pair<int, std::string>>>> notes_;
  size_t cache_limit_;
  mutable std::mutex cache_mutex_;
  mutable size_t cache_bytes_ = 0;
  mutable std::unordered_map<std::string, std::shared_ptr<const std::vector<float>>> cache_;
  mutable std::atomic<size_t> converted_{0}, truncated_{0};
};

}  // namespace instret
