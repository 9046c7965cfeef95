#include "instret/eval/retrieval_metrics.h"

#include <algorithm>
#include <limits>
#include <cmath>
#include <numeric>
#include <string>

#include "instret/core/error.h"
#include "instret/core/stable_rng.h"

namespace instret {

namespace {

void check_n_labels(int64_t n_labels, const char* what) {
  if (n_labels < 1) throw UsageError(std::string(what) + ": n_labels must be >= 1, got " + std::to_string(n_labels));
}

// n_items x n_labels 0/1 indicator matrix of the sets (row-major).
std::vector<char> indicator(const std::vector<LabelSet>& sets, int64_t n_labels, const char* what) {
  std::vector<char> m(sets.size() * static_cast<size_t>(n_labels), 0);
  for (size_t i = 0; i < sets.size(); ++i)
    for (int64_t l : sets[i]) {
      if (l < 0 || l >= n_labels)
        throw UsageError(std::string(what) + ": label " + std::to_string(l) + " of item " + std::to_string(i) +
                         " is outside [0, " + std::to_string(n_labels) + ")");
      m[i * n_labels + l] = 1;
    }
  return m;
}

AveragedScore average(const std::vector<double>& per_label, const std::vector<int64_t>& support) {
  AveragedScore r{};
  r.macro = std::accumulate(per_label.begin(), per_label.end(), 0.0) / static_cast<double>(per_label.size());
  double num = 0.0, den = 0.0;
  for (size_t l = 0; l < per_label.size(); ++l) {
    if (support[l] == 0) continue;
    num += per_label[l] * static_cast<double>(support[l]);
    den += static_cast<double>(support[l]);
  }
  r.weighted = den > 0.0 ? num / den : 0.0;
  return r;
}

void check_sims(const std::vector<double>& sims, int64_t m, int64_t n_labels, const char* what) {
  if (m < 1 || n_labels < 1)
    throw UsageError(std::string(what) + ": m and n_labels must be >= 1, got " + std::to_string(m) + " and " +
                     std::to_string(n_labels));
  if (static_cast<int64_t>(sims.size()) != m * n_labels)
    throw UsageError(std::string(what) + ": " + std::to_string(sims.size()) + " similarities but m x n_labels = " +
                     std::to_string(m * n_labels));
}

int64_t first_argmax(const double* v, int64_t n) {
  int64_t best = 0;
  for (int64_t j = 1; j < n; ++j)
    if (v[j] > v[best]) best = j;
  return best;
}

}  // namespace

AveragedScore f1_scores(const std::vector<LabelSet>& truth, const std::vector<LabelSet>& predicted, int64_t n_labels) {
  check_n_labels(n_labels, "f1_scores");
  if (truth.size() != predicted.size())
    throw UsageError("f1_scores: " + std::to_string(truth.size()) + " true sets but " +
                     std::to_string(predicted.size()) + " predicted sets");
  const auto t = indicator(truth, n_labels, "f1_scores (truth)");
  const auto p = indicator(predicted, n_labels, "f1_scores (predicted)");
  std::vector<double> f1(static_cast<size_t>(n_labels));
  std::vector<int64_t> support(static_cast<size_t>(n_labels));
  for (int64_t l = 0; l < n_labels; ++l) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const bool a = t[i * n_labels + l], b = p[i * n_labels + l];
      tp += a && b;
      fp += !a && b;
      fn += a && !b;
    }
    const int64_t den = 2 * tp + fp + fn;
    f1[l] = den > 0 ? 2.0 * static_cast<double>(tp) / static_cast<double>(den) : 0.0;
    support[l] = tp + fn;
  }
  return average(f1, support);
}

double average_precision(const std::vector<double>& scores, const std::vector<int>& truth) {
  if (scores.size() != truth.size())
    throw UsageError("average_precision: " + std::to_string(scores.size()) + " scores but " +
                     std::to_string(truth.size()) + " truth values");
  if (scores.empty()) throw UsageError("average_precision: no items");
  int64_t n_pos = 0;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (truth[i] != 0 && truth[i] != 1)
      throw UsageError("average_precision: truth must be 0 or 1, got " + std::to_string(truth[i]));
    if (!std::isfinite(scores[i]))
      throw UsageError("average_precision: score " + std::to_string(i) + " is not finite");
    n_pos += truth[i];
  }
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  double ap = 0.0, prev_recall = 0.0;
  int64_t tp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    tp += truth[order[k]];
    if (k + 1 < order.size() && scores[order[k + 1]] == scores[order[k]]) continue;
    const double precision = static_cast<double>(tp) / static_cast<double>(k + 1);
    const double recall = n_pos > 0 ? static_cast<double>(tp) / static_cast<double>(n_pos) : 1.0;
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
  }
  return std::max(0.0, ap);
}

AveragedScore map_scores(const std::vector<double>& scores, const std::vector<LabelSet>& truth, int64_t n_labels) {
  check_n_labels(n_labels, "map_scores");
  const size_t n_items = truth.size();
  if (scores.size() != n_items * static_cast<size_t>(n_labels))
    throw UsageError("map_scores: " + std::to_string(scores.size()) + " scores but " + std::to_string(n_items) +
                     " items x " + std::to_string(n_labels) + " labels");
  const auto t = indicator(truth, n_labels, "map_scores");
  std::vector<double> ap(static_cast<size_t>(n_labels));
  std::vector<int64_t> support(static_cast<size_t>(n_labels));
  std::vector<double> col(n_items);
  std::vector<int> col_truth(n_items);
  for (int64_t l = 0; l < n_labels; ++l) {
    int64_t s = 0;
    for (size_t i = 0; i < n_items; ++i) {
      col[i] = scores[i * n_labels + l];
      col_truth[i] = t[i * n_labels + l];
      s += col_truth[i];
    }
    ap[l] = average_precision(col, col_truth);
    support[l] = s;
  }
  return average(ap, support);
}

LabelSet predict_set_argmax(const std::vector<double>& sims, int64_t m, int64_t n_labels) {
  check_sims(sims, m, n_labels, "predict_set_argmax");
  LabelSet out;
  for (int64_t s = 0; s < m; ++s) out.push_back(first_argmax(sims.data() + s * n_labels, n_labels));
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<double> max_over_slots(const std::vector<double>& sims, int64_t m, int64_t n_labels) {
  check_sims(sims, m, n_labels, "max_over_slots");
  std::vector<double> out(sims.begin(), sims.begin() + n_labels);
  for (int64_t s = 1; s < m; ++s)
    for (int64_t l = 0; l < n_labels; ++l) out[l] = std::max(out[l], sims[s * n_labels + l]);
  return out;
}

namespace {
void check_existence(const std::vector<double>& existence, int64_t m, const char* what) {
  if (int64_t(existence.size()) != m)
    throw UsageError(std::string(what) + ": " + std::to_string(existence.size()) + " existence values for " +
                     std::to_string(m) + " slots");
}
}  // namespace

LabelSet predict_set_existing(const std::vector<double>& sims, const std::vector<double>& existence, int64_t m,
                              int64_t n_labels, double threshold) {
  check_sims(sims, m, n_labels, "predict_set_existing");
  check_existence(existence, m, "predict_set_existing");
  LabelSet out;
  for (int64_t s = 0; s < m; ++s)
    if (existence[size_t(s)] >= threshold) out.push_back(first_argmax(sims.data() + s * n_labels, n_labels));
  if (out.empty()) {
    const int64_t s = first_argmax(existence.data(), m);
    out.push_back(first_argmax(sims.data() + s * n_labels, n_labels));
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::vector<double> existence_weighted_max(const std::vector<double>& sims, const std::vector<double>& existence,
                                           int64_t m, int64_t n_labels) {
  check_sims(sims, m, n_labels, "existence_weighted_max");
  check_existence(existence, m, "existence_weighted_max");
  std::vector<double> out(size_t(n_labels), -std::numeric_limits<double>::infinity());
  for (int64_t s = 0; s < m; ++s)
    for (int64_t l = 0; l < n_labels; ++l)
      out[size_t(l)] = std::max(out[size_t(l)], existence[size_t(s)] * sims[size_t(s * n_labels + l)]);
  return out;
}

LabelSet predict_set_threshold(const std::vector<double>& sims, int64_t m, int64_t n_labels, double threshold) {
  check_sims(sims, m, n_labels, "predict_set_threshold");
  const auto best = max_over_slots(sims, m, n_labels);
  LabelSet out;
  for (int64_t l = 0; l < n_labels; ++l)
    if (best[l] >= threshold) out.push_back(l);
  if (out.empty()) out.push_back(first_argmax(best.data(), n_labels));
  return out;
}

std::vector<LabelSet> map_labels(const std::vector<LabelSet>& sets, const std::vector<int64_t>& group_of,
                                 int64_t n_groups) {
  std::vector<LabelSet> out;
  out.reserve(sets.size());
  for (size_t i = 0; i < sets.size(); ++i) {
    LabelSet g;
    for (int64_t l : sets[i]) {
      if (l < 0 || l >= static_cast<int64_t>(group_of.size()))
        throw UsageError("map_labels: label " + std::to_string(l) + " of item " + std::to_string(i) +
                         " has no group (table of " + std::to_string(group_of.size()) + " labels)");
      const int64_t grp = group_of[l];
      if (grp < 0 || grp >= n_groups)
        throw UsageError("map_labels: label " + std::to_string(l) + " maps to group " + std::to_string(grp) +
                         ", outside [0, " + std::to_string(n_groups) + ")");
      g.push_back(grp);
    }
    std::sort(g.begin(), g.end());
    g.erase(std::unique(g.begin(), g.end()), g.end());
    out.push_back(std::move(g));
  }
  return out;
}

std::vector<double> max_over_groups(const std::vector<double>& scores, int64_t n_labels,
                                    const std::vector<int64_t>& group_of, int64_t n_groups) {
  if (n_labels < 1 || n_groups < 1 || scores.size() % size_t(n_labels) != 0 ||
      int64_t(group_of.size()) != n_labels)
    throw UsageError("max_over_groups: " + std::to_string(scores.size()) + " scores, " +
                     std::to_string(group_of.size()) + " group entries for " + std::to_string(n_labels) +
                     " labels and " + std::to_string(n_groups) + " groups");
  for (int64_t l = 0; l < n_labels; ++l)
    if (group_of[size_t(l)] < 0 || group_of[size_t(l)] >= n_groups)
      throw UsageError("max_over_groups: label " + std::to_string(l) + " maps to group " +
                       std::to_string(group_of[size_t(l)]) + ", outside [0, " + std::to_string(n_groups) + ")");
  const size_t n_items = scores.size() / size_t(n_labels);
  std::vector<double> out(n_items * size_t(n_groups), -2.0);
  std::vector<char> seen(size_t(n_groups), 0);
  for (size_t i = 0; i < n_items; ++i) {
    std::fill(seen.begin(), seen.end(), 0);
    for (int64_t l = 0; l < n_labels; ++l) {
      const size_t g = size_t(group_of[size_t(l)]);
      double& o = out[i * size_t(n_groups) + g];
      const double v = scores[i * size_t(n_labels) + size_t(l)];
      o = seen[g] ? std::max(o, v) : v;
      seen[g] = 1;
    }
  }
  return out;
}

namespace {

// size_of(rng, i) gives the size of item i's random set.
template <class SizeOf>
ChanceLevel chance(const std::vector<LabelSet>& truth, int64_t n_labels, int repeats, uint64_t seed, SizeOf size_of,
                   const LabelGroups& groups, const char* what) {
  check_n_labels(n_labels, what);
  if (repeats < 1) throw UsageError(std::string(what) + ": repeats must be >= 1, got " + std::to_string(repeats));
  indicator(truth, n_labels, what);  // validates the labels
  const bool grouped = !groups.group_of.empty();
  const std::vector<LabelSet> truth_groups =
      grouped ? map_labels(truth, groups.group_of, groups.n_groups) : std::vector<LabelSet>{};
  StableRng rng(seed);
  ChanceLevel sum{};
  std::vector<LabelSet> predicted(truth.size());
  std::vector<double> scores(truth.size() * static_cast<size_t>(n_labels));
  for (int r = 0; r < repeats; ++r) {
    for (size_t i = 0; i < truth.size(); ++i) predicted[i] = rng.sample_without_replacement(n_labels, size_of(rng, i));
    for (auto& s : scores) s = rng.uniform();
    const auto f1 = f1_scores(truth, predicted, n_labels);
    const auto map = map_scores(scores, truth, n_labels);
    sum.f1.macro += f1.macro;
    sum.f1.weighted += f1.weighted;
    sum.map.macro += map.macro;
    sum.map.weighted += map.weighted;
    if (grouped) {
      const auto g = f1_scores(truth_groups, map_labels(predicted, groups.group_of, groups.n_groups), groups.n_groups);
      sum.family_f1.macro += g.macro;
      sum.family_f1.weighted += g.weighted;
    }
  }
  sum.f1.macro /= repeats;
  sum.f1.weighted /= repeats;
  sum.map.macro /= repeats;
  sum.map.weighted /= repeats;
  sum.family_f1.macro /= repeats;
  sum.family_f1.weighted /= repeats;
  return sum;
}

}  // namespace

ChanceLevel chance_level(const std::vector<LabelSet>& truth, int64_t n_labels, int repeats, uint64_t seed,
                         const LabelGroups& groups) {
  std::vector<int64_t> sizes;
  for (const auto& t : truth) {
    LabelSet u = t;
    std::sort(u.begin(), u.end());
    sizes.push_back(std::unique(u.begin(), u.end()) - u.begin());
  }
  return chance(
      truth, n_labels, repeats, seed, [&](StableRng&, size_t i) { return sizes[i]; }, groups, "chance_level");
}

ChanceLevel chance_level_uniform_size(const std::vector<LabelSet>& truth, int64_t n_labels, int64_t min_size,
                                      int64_t max_size, int repeats, uint64_t seed, const LabelGroups& groups) {
  if (min_size < 0 || min_size > max_size || max_size > n_labels)
    throw UsageError("chance_level_uniform_size: need 0 <= min_size <= max_size <= n_labels, got " +
                     std::to_string(min_size) + ", " + std::to_string(max_size) + ", " + std::to_string(n_labels));
  return chance(
      truth, n_labels, repeats, seed,
      [&](StableRng& rng, size_t) { return min_size + static_cast<int64_t>(rng.below(static_cast<uint64_t>(max_size - min_size + 1))); },
      groups, "chance_level_uniform_size");
}

}  // namespace instret
