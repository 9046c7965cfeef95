#include "instret/eval/eer_evaluation.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>

#include "instret/core/error.h"

namespace instret {

SeedStat seed_stat(const std::vector<double>& values) {
  SeedStat s;
  s.per_seed = values;
  double sum = 0.0;
  int64_t n = 0;
  for (double v : values)
    if (std::isfinite(v)) {
      sum += v;
      ++n;
    }
  if (n == 0) {
    s.mean = s.std = std::numeric_limits<double>::quiet_NaN();
    return s;
  }
  s.mean = sum / double(n);
  double sq = 0.0;
  for (double v : values)
    if (std::isfinite(v)) sq += (v - s.mean) * (v - s.mean);
  s.std = std::sqrt(sq / double(n));
  return s;
}

EerEvaluation evaluate_eer(const std::vector<float>& embeddings, int64_t dim, const std::vector<int64_t>& clip_instrument,
                           const EerProtocol& protocol, const std::vector<uint64_t>& seeds) {
  check_eer_seeds(seeds);
  EerEvaluation e;
  e.protocol = protocol;
  e.seeds = seeds;
  e.n_clips = int64_t(clip_instrument.size());
  e.skipped = eer_skipped_instruments(clip_instrument, protocol);
  const std::set<int64_t> skipped(e.skipped.begin(), e.skipped.end());
  for (int64_t i : std::set<int64_t>(clip_instrument.begin(), clip_instrument.end()))
    if (!skipped.count(i)) e.used.push_back(i);
  std::vector<double> pooled, per, rocch;
  for (uint64_t seed : seeds) {
    e.trials.push_back(make_eer_trials(embeddings, dim, clip_instrument, protocol, seed));
    const EerResult r = eer_of_trials(e.trials.back());
    pooled.push_back(r.pooled);
    per.push_back(r.per_instrument_mean);
    rocch.push_back(r.rocch);
  }
  e.pooled = seed_stat(pooled);
  e.per_instrument_mean = seed_stat(per);
  e.rocch = seed_stat(rocch);
  return e;
}

namespace {

Json stat_json(const SeedStat& s) { return {{"mean", s.mean}, {"std", s.std}, {"per_seed", s.per_seed}}; }

const std::string& id_of(const std::vector<std::string>& ids, int64_t i) {
  if (i < 0 || i >= int64_t(ids.size()))
    throw UsageError("EER report: instrument index " + std::to_string(i) + " has no id (" +
                     std::to_string(ids.size()) + " ids)");
  return ids[size_t(i)];
}

// RFC 4180 quoting when the field holds a comma, quote or line break.
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

}  // namespace

Json eer_evaluation_json(const EerEvaluation& e, const std::vector<std::string>& instrument_ids) {
  Json skipped_ids = Json::array();
  for (int64_t i : e.skipped) skipped_ids.push_back(id_of(instrument_ids, i));
  const int64_t per_seed = e.trials.empty() ? 0 : int64_t(e.trials.front().size());
  return {{"eer_pooled", stat_json(e.pooled)},
          {"eer_mean_per_instrument", stat_json(e.per_instrument_mean)},
          {"eer_rocch", stat_json(e.rocch)},
          {"protocol",
           {{"enroll", e.protocol.enroll}, {"targets", e.protocol.targets}, {"non_targets", e.protocol.non_targets}}},
          {"seeds", e.seeds},
          {"counts",
           {{"instruments_used", e.used.size()},
            {"instruments_skipped", e.skipped.size()},
            {"skipped_ids", skipped_ids},
            {"clips", e.n_clips},
            {"trials_per_seed", per_seed},
            {"trials", per_seed * int64_t(e.seeds.size())}}}};
}

std::string eer_trials_csv(const EerEvaluation& e, const std::vector<std::string>& instrument_ids) {
  std::string out = "seed,instrument,instrument_id,target,score\n";
  char buf[64];
  for (size_t s = 0; s < e.trials.size(); ++s)
    for (const EerTrial& t : e.trials[s]) {
      std::snprintf(buf, sizeof buf, "%.17g", t.score);
      out += std::to_string(e.seeds[s]) + "," + std::to_string(t.instrument) + "," + csv_field(id_of(instrument_ids, t.instrument)) +
             "," + (t.target ? "1" : "0") + "," + buf + "\n";
    }
  return out;
}

}  // namespace instret
