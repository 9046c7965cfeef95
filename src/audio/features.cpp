#include "instret/audio/features.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstring>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/log.h"

namespace instret {

int64_t ClipFeatureConfig::clip_samples() const {
  return static_cast<int64_t>(std::llround(clip_seconds * mel.sample_rate));
}

void ClipFeatureConfig::validate() const {
  mel.validate();
  if (!std::isfinite(clip_seconds) || clip_samples() < 1)
    throw UsageError("clip_seconds must give at least one sample, got " + std::to_string(clip_seconds));
}

void to_json(nlohmann::json& j, const ClipFeatureConfig& c) {
  j = nlohmann::json{{"mel", c.mel}, {"clip_seconds", c.clip_seconds}};
}

void from_json(const nlohmann::json& j, ClipFeatureConfig& c) {
  if (!j.is_object()) throw UsageError("feature config must be a JSON object");
  ClipFeatureConfig out;
  for (const auto& [key, value] : j.items()) {
    if (key == "mel") {
      out.mel = value.get<MelConfig>();
    } else if (key == "clip_seconds") {
      if (!value.is_number()) throw UsageError("clip_seconds must be a number, got " + value.dump());
      out.clip_seconds = value.get<double>();
    } else {
      throw UsageError("feature config: unknown key '" + key + "'");
    }
  }
  out.validate();
  c = out;
}

std::vector<float> read_clip(const std::filesystem::path& path, double offset_seconds, double clip_seconds,
                             int sample_rate) {
  if (!std::isfinite(offset_seconds) || offset_seconds < 0)
    throw UsageError("offset must be >= 0 seconds, got " + std::to_string(offset_seconds));
  const std::vector<float> audio = read_audio(path, sample_rate);
  const int64_t offset = std::llround(offset_seconds * sample_rate);
  const int64_t length = std::llround(clip_seconds * sample_rate);
  if (offset >= static_cast<int64_t>(audio.size()))
    spdlog::warn("{}: offset {} s is past the end ({:.3f} s): the clip is silence", path.string(),
                 offset_seconds, static_cast<double>(audio.size()) / sample_rate);
  return excerpt(audio, offset, length);
}


}  // namespace instret
