// Fixed-length clips read from audio files and their log-mel features, batched through LogMel:
// what `embed --mel` writes and what models read.
#pragma once

#include <torch/torch.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <vector>

#include "instret/audio/mel.h"

namespace instret {

// How a file becomes one model input: `clip_seconds` of mono audio at mel.sample_rate, starting
// `offset_seconds` into the file, zero-padded where the file ends.
struct ClipFeatureConfig {
  MelConfig mel;
  double clip_seconds = 5.0;

  // Samples per clip: round(clip_seconds * sample_rate).
  int64_t clip_samples() const;
  // Throws UsageError when a value makes no sense.
  void validate() const;
};

// JSON: {"mel": {...}, "clip_seconds": 5}; from_json rejects unknown keys and validates.
void to_json(nlohmann::json& j, const ClipFeatureConfig& c);
void from_json(const nlohmann::json& j, ClipFeatureConfig& c);

// The clip of one file (read_audio: any format, down-mixed, resampled). Throws IoError /
// FormatError naming the file; UsageError for a negative offset.
std::vector<float> read_clip(const std::filesystem::path& path, double offset_seconds, double clip_seconds,
                             int sample_rate);


}  // namespace instret
