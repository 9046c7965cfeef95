#include "instret/render/nlakh_config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "instret/audio/io.h"
#include "instret/core/error.h"

namespace instret {

namespace {

// Bounds of the size settings (the counts: nlakh_tasks.h): seconds of a clip, threads.
constexpr double kMaxClipSeconds = 600.0;
constexpr int kMaxThreads = 1024;

}  // namespace

Json nlakh_default_config() {
  return Json{
      {"seed", 0},
      {"output", ""},
      {"threads", 0},
      {"shard", {{"index", 0}, {"count", 1}}},
      {"clip_seconds", 5.0},
      {"single", {{"clips_per_instrument", 10}, {"min_notes", 4}}},
      {"multi", {{"train", 100}, {"valid", 10}, {"test", 0}, {"min_tracks", 2}, {"max_tracks", 9}, {"min_notes", 3}}},
      {"banks", Json::array()},
      {"midi", {{"sources", Json::array()}, {"valid_fraction", 0.1}, {"test_fraction", 0.0}}},
      {"max_attempts", 50},
      {"silence_peak", 1e-3},
      {"sample_leaks", "keep"},
      {"dedupe_correlation", 0.98},
      {"twins", {{"threshold", 0.95}, {"policy", "keep"}}},
  };
}

NlakhSettings NlakhSettings::from_json(const Json& c) {
  NlakhSettings s;
  if (const Json& seed = c.at("seed"); !seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
    throw UsageError("seed must be an integer in 0..2^64-1, not " + seed.dump());
  s.seed = config_get<uint64_t>(c, "seed");
  s.output = config_get<std::string>(c, "output");
  if (s.output.empty()) throw UsageError("config key 'output' (the dataset folder) is required");
  s.clip_samples = std::llround(config_get<double>(c, "clip_seconds") * kSampleRate);
  if (s.clip_samples <= 0) throw UsageError("clip_seconds must be > 0");
  s.clip_seconds = double(s.clip_samples) / kSampleRate;
  s.single_clips = config_get<int64_t>(c, "single.clips_per_instrument");
  s.single_min_notes = config_get<int>(c, "single.min_notes");
  s.multi.train = config_get<int64_t>(c, "multi.train");
  s.multi.valid = config_get<int64_t>(c, "multi.valid");
  s.multi.test = config_get<int64_t>(c, "multi.test");
  s.multi_min_tracks = config_get<int>(c, "multi.min_tracks");
  s.multi_max_tracks = config_get<int>(c, "multi.max_tracks");
  s.multi_min_notes = config_get<int>(c, "multi.min_notes");
  s.max_attempts = config_get<int>(c, "max_attempts");
  s.silence_peak = config_get<double>(c, "silence_peak");
  if (s.single_clips < 0 || s.multi.train < 0 || s.multi.valid < 0 || s.multi.test < 0)
    throw UsageError("clip counts must be >= 0");
  if (s.multi_min_tracks < 1 || s.multi_max_tracks < s.multi_min_tracks)
    throw UsageError("multi.min_tracks must be >= 1 and <= multi.max_tracks");
  if (s.max_attempts < 1) throw UsageError("max_attempts must be >= 1");
  // Clips are normalised by their peak: a zero threshold would let a silent clip through and
  // divide it by zero (NaN audio).
  if (!(s.silence_peak > 0.0)) throw UsageError("silence_peak must be > 0");
  s.midi_valid_fraction = config_get<double>(c, "midi.valid_fraction");
  s.midi_test_fraction = config_get<double>(c, "midi.test_fraction");
  if (!(s.midi_valid_fraction >= 0.0 && s.midi_test_fraction >= 0.0 && s.midi_valid_fraction + s.midi_test_fraction <= 1.0))
    throw UsageError("midi.valid_fraction and midi.test_fraction must be >= 0 with a sum of at most 1, not " +
                     c["midi"]["valid_fraction"].dump() + " and " + c["midi"]["test_fraction"].dump());
  s.twin_threshold = config_get<double>(c, "twins.threshold");
  if (!(s.twin_threshold >= 0.0 && s.twin_threshold <= 1.0))
    throw UsageError("twins.threshold must be in 0..1 (0 disables the twin analysis), not " +
                     c["twins"]["threshold"].dump());
  s.dedupe_correlation = config_get<double>(c, "dedupe_correlation");
  if (const double dedupe = s.dedupe_correlation; s.twin_threshold > 0.0 && dedupe > 0.0 && s.twin_threshold >= dedupe)
    spdlog::warn("twins.threshold {} is not below dedupe_correlation {}: pairs that similar are dropped as "
                 "duplicates first, so no twins can be found", s.twin_threshold, dedupe);
  s.sample_leaks = config_get<std::string>(c, "sample_leaks");
  if (s.sample_leaks != "keep" && s.sample_leaks != "drop")
    throw UsageError("sample_leaks must be keep or drop, not '" + s.sample_leaks + "'");
  s.twin_policy = config_get<std::string>(c, "twins.policy");
  if (s.twin_policy != "keep" && s.twin_policy != "drop" && s.twin_policy != "group")
    throw UsageError("twins.policy must be keep, drop or group, not '" + s.twin_policy + "'");
  s.threads = config_get<int>(c, "threads");
  if (s.threads <= 0) s.threads = int(std::max(1u, std::thread::hardware_concurrency()));
  s.shard_index = config_get<int>(c, "shard.index");
  s.shard_count = config_get<int>(c, "shard.count");
  if (s.shard_count < 1 || s.shard_index < 0 || s.shard_index >= s.shard_count)
    throw UsageError("shard must satisfy 0 <= index < count");
  if (s.threads > kMaxThreads)
    throw UsageError("threads must be at most " + std::to_string(kMaxThreads) + ", not " + std::to_string(s.threads));
  if (s.clip_seconds > kMaxClipSeconds)
    throw UsageError("clip_seconds must be at most " + std::to_string(int(kMaxClipSeconds)) + " (a clip's audio is held " +
                     "in memory per stem and thread), not " + c["clip_seconds"].dump());
  return s;
}

}  // namespace instret
