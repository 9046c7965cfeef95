#include "instret/render/nlakh_tasks.h"


#include <cstdio>
#include <iterator>
#include <utility>

#include "instret/core/error.h"
#include "instret/core/memory.h"

namespace instret {

namespace {

// Bounds of the counts: clips a dataset may hold (20x the paper's Nlakh, about 1.1 million) and the
// memory planned per clip (its task and manifest row).
constexpr int64_t kMaxClips = 20000000;
constexpr uint64_t kBytesPerClip = 1024;

}  // namespace

int nlakh_split_rank(const std::string& split) {
  for (int i = 0; i < int(std::size(kNlakhSplits)); ++i)
    if (split == kNlakhSplits[i]) return i;
  return -1;
}

int64_t SplitCounts::of(const std::string& split) const {
  return split == "train" ? train : split == "valid" ? valid : split == "test" ? test : 0;
}

std::vector<ClipTask> make_clip_tasks(const std::vector<std::string>& id, const std::vector<std::string>& split,
                                      int64_t single_clips, const SplitCounts& multi) {
  std::vector<ClipTask> tasks;
  tasks.reserve(size_t(id.size() * size_t(single_clips) + size_t(multi.total())));
  char buf[32];
  for (size_t i = 0; i < id.size(); ++i) {
    for (int64_t k = 0; k < single_clips; ++k) {
      std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(k));
      tasks.push_back({"single", split[i], i, k, "single/" + split[i] + "/" + id[i], buf});
    }
  }
  for (const char* s : kNlakhSplits) {
    const int64_t count = multi.of(s);
    for (int64_t j = 0; j < count; ++j) {
      std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(j));
      tasks.push_back({"multi", s, 0, j, std::string("multi/") + s + "/" + buf, ""});
    }
  }
  return tasks;
}

void check_clip_counts(size_t instruments, int64_t single_clips, const SplitCounts& multi) {
  for (const auto& [name, n] : {std::pair<const char*, int64_t>{"single.clips_per_instrument", single_clips},
                                {"multi.train", multi.train},
                                {"multi.valid", multi.valid},
                                {"multi.test", multi.test}})
    if (n > kMaxClips)
      throw UsageError(std::string(name) + " is " + std::to_string(n) + ", more than the " +
                       std::to_string(kMaxClips) + " clips a dataset may hold");
  const uint64_t singles = uint64_t(instruments) * uint64_t(single_clips);  // < 2^63: both bounded
  const uint64_t total = singles + uint64_t(multi.train) + uint64_t(multi.valid) + uint64_t(multi.test);
  if (total > uint64_t(kMaxClips))
    throw UsageError("the config asks for " + std::to_string(total) + " clips (" + std::to_string(instruments) +
                     " instruments x " + std::to_string(single_clips) + " single clips, " +
                     std::to_string(multi.train) + " + " + std::to_string(multi.valid) + " + " + std::to_string(multi.test) +
                     " mixtures), more than the " + std::to_string(kMaxClips) + " a dataset may hold");
  const uint64_t memory = physical_memory_bytes();
  if (memory > 0 && total * kBytesPerClip > memory / 2)
    throw UsageError("the config asks for " + std::to_string(total) + " clips: planning them takes about " +
                     std::to_string(total * kBytesPerClip >> 20) + " MiB, more than half of this machine's " +
                     std::to_string(memory >> 20) + " MiB; render fewer clips");
}

}  // namespace instret
