// The tables of a render-nlakh dataset, rebuilt from every finished record present (so that shards
// rendered apart add up): instruments.json, the four manifests (single_<split>.jsonl,
// multi_<split>.jsonl, one row per finished clip in task order) and summary.json (counts per split
// and family, failed and missing clips, beside what the run recorded). docs/nlakh.md.
#pragma once
#include <cstdint>
#include <filesystem>
#include <vector>

#include "instret/core/config.h"
#include "instret/render/nlakh_tasks.h"

namespace instret {

// Writes the tables into `root` and returns the summary: `instruments` (instrument_to_json with
// "split", and "twin_group" under twins.policy group) goes to instruments.json as it is; `summary`
// (what the run recorded: seed, drops, twins, MIDI counts) gets "splits"; `saved_config` is written
// to config.json. A clip whose record is not complete (record_complete) is counted missing, never listed.
Json write_nlakh_manifests(const std::filesystem::path& root, const Json& instruments,
                           const std::vector<ClipTask>& tasks, int64_t clip_samples, Json summary,
                           const Json& saved_config);

}  // namespace instret
