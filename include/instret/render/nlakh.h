// Nlakh rendering: single-instrument clips and multi-instrument mixtures (with stems) from an
// instrument bank and a folder of MIDI files, deterministic from a seed, sharded and resumable.
// docs/nlakh.md documents the config, the output layout and the manifests. The pieces: the config
// (nlakh_config.h), the duplicate and twin checks (fingerprint_similarity.h, instrument_dedupe.h),
// the clip tasks (nlakh_tasks.h), MIDI excerpts (midi_excerpts.h), resuming (nlakh_resume.h) and the
// tables (nlakh_manifests.h); this file's render_nlakh runs them.
#pragma once
#include <cstdint>
#include <string>

#include "instret/core/config.h"
#include "instret/render/nlakh_config.h"

namespace instret {

// A 64-bit seed for one clip, derived from the run seed and the clip's key ("single/train/<id>/3").
uint64_t derive_seed(uint64_t seed, const std::string& key);

// Renders the clips of shard config["shard"] into config["output"] (clips whose record exists are
// skipped), then rebuilds instruments.json, the manifests and summary.json from every record
// present, and returns the summary. With `manifests_only`, renders nothing. A folder holding clips
// but no config.json or inputs.json is a UsageError unless `adopt_inputs` (the current config and
// inputs are then recorded as theirs).
Json render_nlakh(const Json& config, bool manifests_only = false, bool adopt_inputs = false);

}  // namespace instret
