// The clips of a render-nlakh dataset as tasks (one per single clip or mixture, each with its files'
// folder, its record and its seed key), and the bound on how many a dataset may hold.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace instret {

// The splits of a dataset, in render order: training never reads test (only the eval tools do).
inline constexpr const char* kNlakhSplits[] = {"train", "valid", "test"};

// Where `split` is in kNlakhSplits (its rank in run order), or -1 when it is none of them.
int nlakh_split_rank(const std::string& split);

// A count per split (the mixtures asked for: multi.train, multi.valid, multi.test).
struct SplitCounts {
  int64_t train = 0, valid = 0, test = 0;
  int64_t of(const std::string& split) const;
  int64_t total() const { return train + valid + test; }
};

struct ClipTask {
  std::string kind;   // "single" or "multi"
  std::string split;
  size_t instrument = 0;  // single: index into the run's instruments
  int64_t number = 0;     // clip number within its instrument (single) or split (multi)
  std::string dir;        // relative output folder of the clip's files
  std::string stem;       // file stem (single) or "" (multi: files inside dir)
  // The record that marks the clip as finished, relative to the dataset folder.
  std::string record() const { return kind == "single" ? dir + "/" + stem + ".json" : dir + "/record.json"; }
  // What the clip's seed derives from ("single/train/<id>/0003").
  std::string key() const { return dir + "/" + stem; }
};

// Every clip of a dataset: for each instrument in run order (id[i], split[i]) its single clips
// single/<split>/<id>/0000 ... , then for each split (kNlakhSplits order) its mixtures multi/<split>/000000 ... .
std::vector<ClipTask> make_clip_tasks(const std::vector<std::string>& id, const std::vector<std::string>& split,
                                      int64_t single_clips, const SplitCounts& multi);

// The task list holds every clip of the dataset (and the manifests a row per clip): a count of 2^32
// would take the machine's memory before the first clip is rendered. UsageError when a count, or
// their total for `instruments` instruments, exceeds what a dataset can need (20 times the paper's
// Nlakh, about 1.1 million clips) or when planning them would take more than half of the machine's
// memory: checked before anything is allocated for them.
void check_clip_counts(size_t instruments, int64_t single_clips, const SplitCounts& multi);

}  // namespace instret
