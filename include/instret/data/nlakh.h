// Nlakh rendering: single-instrument clips and multi-instrument mixtures (with stems) from an
// instrument bank and a folder of MIDI files, deterministic from a seed, sharded and resumable.
// docs/nlakh.md documents the config, the output layout and the manifests.
#pragma once
#include <cstdint>
#include <string>

#include "instret/core/config.h"

namespace instret {

// The render-nlakh config with its defaults (docs/nlakh.md lists every key).
Json nlakh_default_config();

// A 64-bit seed for one clip, derived from the run seed and the clip's key ("single/train/<id>/3").
uint64_t derive_seed(uint64_t seed, const std::string& key);

// Renders the clips of shard config["shard"] into config["output"] (clips whose record exists are
// skipped), then rebuilds instruments.json, the manifests and summary.json from every record
// present, and returns the summary. With `manifests_only`, renders nothing. A folder holding clips
// but no config.json or inputs.json is a UsageError unless `adopt_inputs` (the current config and
// inputs are then recorded as theirs).
Json render_nlakh(const Json& config, bool manifests_only = false, bool adopt_inputs = false);

}  // namespace instret
