// The single-encoder EER evaluation as a whole: the paper's trial protocol repeated over seeds, the
// three EER variants with their mean and spread, the counts, the JSON report and the trial dump.
// Used by eval-eer and by train-single's validation, so both report the same numbers.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "instret/core/config.h"
#include "instret/eval/eer.h"

namespace instret {

// A metric over seeds: mean and population standard deviation (numpy's np.std, ddof = 0) of the
// finite per-seed values; NaN when none is finite.
struct SeedStat {
  double mean = 0.0;
  double std = 0.0;
  std::vector<double> per_seed;
};
SeedStat seed_stat(const std::vector<double>& values);

struct EerEvaluation {
  EerProtocol protocol;
  std::vector<uint64_t> seeds;
  SeedStat pooled;                // eer_pooled: one ROC of all trials (what the reference code reports)
  SeedStat per_instrument_mean;   // mean over instruments of each one's own EER (the paper's wording)
  SeedStat rocch;                 // ROC-convex-hull EER of all trials
  std::vector<int64_t> used;      // instruments enrolled (at least enroll + targets clips), increasing
  std::vector<int64_t> skipped;   // instruments with clips, but too few to enrol (they still give non-targets)
  int64_t n_clips = 0;
  std::vector<std::vector<EerTrial>> trials;  // per seed, in make_eer_trials order
};

// Runs make_eer_trials and eer_of_trials once per seed over the embeddings (row-major n_clips x dim,
// clip_instrument[i] the instrument of clip i). Throws as make_eer_trials does, and UsageError when
// `seeds` is empty.
EerEvaluation evaluate_eer(const std::vector<float>& embeddings, int64_t dim, const std::vector<int64_t>& clip_instrument,
                           const EerProtocol& protocol, const std::vector<uint64_t>& seeds);

// The report's metric part: eer_pooled, eer_mean_per_instrument, eer_rocch (each {mean, std,
// per_seed}), protocol, seeds, and counts (instruments used / skipped with the skipped ids from
// `instrument_ids`, clips, trials per seed and in all).
Json eer_evaluation_json(const EerEvaluation& e, const std::vector<std::string>& instrument_ids);

// Every trial as CSV with a header: seed,instrument,instrument_id,target,score (score printed with
// 17 significant digits, so it reads back as the same double; target 1 or 0).
std::string eer_trials_csv(const EerEvaluation& e, const std::vector<std::string>& instrument_ids);

}  // namespace instret
