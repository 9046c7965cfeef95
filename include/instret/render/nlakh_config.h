// The render-nlakh config: its defaults (docs/nlakh.md lists every key) and its scalar settings,
// read with the range-checked getters and validated (the banks and MIDI sources are read where they
// are opened).
#pragma once
#include <cstdint>
#include <string>

#include "instret/core/config.h"

namespace instret {

// The render-nlakh config with its defaults.
Json nlakh_default_config();

struct NlakhSettings {
  uint64_t seed = 0;
  std::string output;          // the dataset folder
  int64_t clip_samples = 0;    // clip_seconds at 16 kHz, rounded
  double clip_seconds = 0.0;   // clip_samples / 16 kHz
  int64_t single_clips = 0;    // single.clips_per_instrument
  int single_min_notes = 0;
  int64_t multi_train = 0, multi_valid = 0;
  int multi_min_tracks = 2, multi_max_tracks = 9, multi_min_notes = 3;
  int max_attempts = 50;
  double silence_peak = 1e-3;
  double dedupe_correlation = 0.98;  // 0 = no duplicate check
  double twin_threshold = 0.0;       // twins.threshold; 0 = no twin analysis
  std::string twin_policy = "keep";  // twins.policy: keep, drop or group
  int threads = 1;                   // config 0 = the machine's
  int shard_index = 0, shard_count = 1;

  // Reads a merged config (UsageError naming the key on a bad value); warns when twins.threshold is
  // not below dedupe_correlation (no twins can then be found).
  static NlakhSettings from_json(const Json& config);
  int64_t multi_count(const std::string& split) const { return split == "train" ? multi_train : multi_valid; }
};

}  // namespace instret
