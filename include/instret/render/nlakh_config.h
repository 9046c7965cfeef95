// The render-nlakh config: its defaults (docs/nlakh.md lists every key) and its scalar settings,
// read with the range-checked getters and validated (the banks and MIDI sources are read where they
// are opened).
#pragma once
#include <cstdint>
#include <string>

#include "instret/core/config.h"
#include "instret/render/nlakh_tasks.h"

namespace instret {

// The render-nlakh config with its defaults.
Json nlakh_default_config();

// The scalar settings of a config, as from_json reads them (the defaults are nlakh_default_config's;
// these members hold no defaults of their own).
struct NlakhSettings {
  uint64_t seed = 0;
  std::string output;          // the dataset folder
  int64_t clip_samples = 0;    // clip_seconds at 16 kHz, rounded
  double clip_seconds = 0.0;   // clip_samples / 16 kHz
  int64_t single_clips = 0;    // single.clips_per_instrument
  int single_min_notes = 0;
  SplitCounts multi;                // multi.train, multi.valid, multi.test
  int multi_min_tracks = 0, multi_max_tracks = 0, multi_min_notes = 0;
  int max_attempts = 0;
  double silence_peak = 0.0;
  double midi_valid_fraction = 0.0, midi_test_fraction = 0.0;  // shares of the MIDI files (midi_corpus.h)
  std::string sample_leaks;          // keep or drop an instrument that plays a sample of an earlier split's
  double dedupe_correlation = 0.0;  // 0 = no duplicate check
  double twin_threshold = 0.0;      // twins.threshold; 0 = no twin analysis
  std::string twin_policy;          // twins.policy: keep, drop or group
  int threads = 0;                  // config 0 = the machine's
  int shard_index = 0, shard_count = 0;

  // Reads a merged config (UsageError naming the key on a bad value); warns when twins.threshold is
  // not below dedupe_correlation (no twins can then be found).
  static NlakhSettings from_json(const Json& config);
};

}  // namespace instret
