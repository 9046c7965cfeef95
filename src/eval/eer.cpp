#include "instret/eval/eer.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>
#include <map>
#include <numeric>
#include <string>

#include "instret/core/error.h"
#include "instret/core/stable_rng.h"

namespace instret {

namespace {

// Cumulative (false positives, true positives) at each distinct score, scores descending: the
// points of sklearn's _binary_clf_curve / confusion_matrix_at_thresholds.
struct RocCounts {
  std::vector<int64_t> fps, tps;
  int64_t n_pos = 0, n_neg = 0;
};

RocCounts roc_counts(const std::vector<double>& scores, const std::vector<int>& labels, const char* what) {
  if (scores.size() != labels.size())
    throw UsageError(std::string(what) + ": " + std::to_string(scores.size()) + " scores but " +
                     std::to_string(labels.size()) + " labels");
  RocCounts c;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (labels[i] != 0 && labels[i] != 1)
      throw UsageError(std::string(what) + ": labels must be 0 or 1, got " + std::to_string(labels[i]));
    if (!std::isfinite(scores[i])) throw UsageError(std::string(what) + ": score " + std::to_string(i) + " is not finite");
    (labels[i] ? c.n_pos : c.n_neg) += 1;
  }
  if (c.n_pos == 0 || c.n_neg == 0)
    throw UsageError(std::string(what) + ": need at least one target and one non-target trial (got " +
                     std::to_string(c.n_pos) + " and " + std::to_string(c.n_neg) + ")");
  std::vector<size_t> order(scores.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  int64_t tp = 0, fp = 0;
  for (size_t k = 0; k < order.size(); ++k) {
    (labels[order[k]] ? tp : fp) += 1;
    if (k + 1 == order.size() || scores[order[k + 1]] != scores[order[k]]) {
      c.fps.push_back(fp);
      c.tps.push_back(tp);
    }
  }
  return c;
}

int64_t cross(int64_t ox, int64_t oy, int64_t ax, int64_t ay, int64_t bx, int64_t by) {
  return (ax - ox) * (by - oy) - (ay - oy) * (bx - ox);
}

}  // namespace

double eer_pooled(const std::vector<double>& scores, const std::vector<int>& labels) {
  RocCounts c = roc_counts(scores, labels, "eer_pooled");
  // sklearn.metrics.roc_curve(drop_intermediate=True): keep the ends and every point where the
  // second difference of fps or of tps is non-zero.
  std::vector<int64_t> fps, tps;
  const size_t n = c.fps.size();
  for (size_t i = 0; i < n; ++i) {
    const bool keep = n <= 2 || i == 0 || i + 1 == n || c.fps[i + 1] - 2 * c.fps[i] + c.fps[i - 1] != 0 ||
                      c.tps[i + 1] - 2 * c.tps[i] + c.tps[i - 1] != 0;
    if (keep) {
      fps.push_back(c.fps[i]);
      tps.push_back(c.tps[i]);
    }
  }
  fps.insert(fps.begin(), 0);
  tps.insert(tps.begin(), 0);
  // compute_eer: fnr = 1 - tpr; first argmin of |fpr - fnr|; mean of the two rates there.
  const double n_neg = static_cast<double>(fps.back()), n_pos = static_cast<double>(tps.back());
  double best = std::numeric_limits<double>::infinity(), eer = 0.0;
  for (size_t i = 0; i < fps.size(); ++i) {
    const double fpr = static_cast<double>(fps[i]) / n_neg;
    const double fnr = 1.0 - static_cast<double>(tps[i]) / n_pos;
    const double d = std::fabs(fpr - fnr);
    if (d < best) {
      best = d;
      eer = (fpr + fnr) / 2.0;
    }
  }
  return eer;
}

double eer_rocch(const std::vector<double>& scores, const std::vector<int>& labels) {
  const RocCounts c = roc_counts(scores, labels, "eer_rocch");
  // Points in count space (false alarms x, misses y); the hull is invariant under scaling the axes
  // to rates. They come with x non-decreasing and y non-increasing, starting at (0, n_pos).
  std::vector<std::pair<int64_t, int64_t>> pts{{0, c.n_pos}};
  for (size_t i = 0; i < c.fps.size(); ++i) pts.emplace_back(c.fps[i], c.n_pos - c.tps[i]);
  std::sort(pts.begin(), pts.end());
  pts.erase(std::unique(pts.begin(), pts.end()), pts.end());
  // Lower hull by Andrew's monotone chain (collinear points dropped).
  std::vector<std::pair<int64_t, int64_t>> hull;
  for (const auto& p : pts) {
    while (hull.size() >= 2 && cross(hull[hull.size() - 2].first, hull[hull.size() - 2].second, hull.back().first,
                                     hull.back().second, p.first, p.second) <= 0)
      hull.pop_back();
    hull.push_back(p);
  }
  // Walk the hull to where pfa - pmiss changes sign; it starts at -1 and ends at +1.
  const double n_neg = static_cast<double>(c.n_neg), n_pos = static_cast<double>(c.n_pos);
  auto gap = [&](const std::pair<int64_t, int64_t>& p) { return p.first / n_neg - p.second / n_pos; };
  for (size_t k = 0; k < hull.size(); ++k) {
    const double g = gap(hull[k]);
    if (g == 0.0) return hull[k].first / n_neg;
    if (g > 0.0) {
      // k > 0 since the first point has gap -1.
      const double x0 = hull[k - 1].first / n_neg, y0 = hull[k - 1].second / n_pos;
      const double x1 = hull[k].first / n_neg, y1 = hull[k].second / n_pos;
      // Solve x0 + t (x1 - x0) = y0 + t (y1 - y0).
      const double t = (y0 - x0) / ((x1 - x0) - (y1 - y0));
      return x0 + t * (x1 - x0);
    }
  }
  return 0.5;  // unreachable: the last hull point is (n_neg, 0) with gap +1
}

EerResult eer_of_trials(const std::vector<EerTrial>& trials) {
  std::vector<double> scores;
  std::vector<int> labels;
  std::map<int64_t, std::pair<std::vector<double>, std::vector<int>>> per;
  for (const auto& t : trials) {
    scores.push_back(t.score);
    labels.push_back(t.target ? 1 : 0);
    auto& p = per[t.instrument];
    p.first.push_back(t.score);
    p.second.push_back(t.target ? 1 : 0);
  }
  EerResult r{};
  r.n_trials = static_cast<int64_t>(trials.size());
  r.pooled = eer_pooled(scores, labels);
  r.rocch = eer_rocch(scores, labels);
  double sum = 0.0;
  int64_t count = 0;
  for (const auto& kv : per) {
    const auto& l = kv.second.second;
    const auto n_pos = std::count(l.begin(), l.end(), 1);
    if (n_pos == 0 || n_pos == static_cast<std::ptrdiff_t>(l.size())) continue;
    sum += eer_pooled(kv.second.first, l);
    ++count;
  }
  r.per_instrument_mean = count > 0 ? sum / count : std::numeric_limits<double>::quiet_NaN();
  return r;
}

namespace {

std::map<int64_t, std::vector<int64_t>> clips_by_instrument(const std::vector<int64_t>& clip_instrument) {
  std::map<int64_t, std::vector<int64_t>> by;
  for (size_t i = 0; i < clip_instrument.size(); ++i) {
    if (clip_instrument[i] < 0)
      throw UsageError("make_eer_trials: clip " + std::to_string(i) + " has negative instrument index " +
                       std::to_string(clip_instrument[i]));
    by[clip_instrument[i]].push_back(static_cast<int64_t>(i));
  }
  return by;
}

}  // namespace

void check_eer_protocol(const EerProtocol& p) {
  if (p.enroll < 1 || p.targets < 1 || p.non_targets < 1 || p.enroll > kMaxEerCount || p.targets > kMaxEerCount ||
      p.non_targets > kMaxEerCount)
    throw UsageError("EER protocol: enroll, targets and non_targets must lie in [1, " + std::to_string(kMaxEerCount) +
                     "] (got " + std::to_string(p.enroll) + ", " + std::to_string(p.targets) + ", " +
                     std::to_string(p.non_targets) + ")");
}

void check_eer_seeds(const std::vector<uint64_t>& seeds) {
  if (seeds.empty()) throw UsageError("EER evaluation: no seeds given");
  if (seeds.size() > kMaxEerSeeds)
    throw UsageError("EER evaluation: " + std::to_string(seeds.size()) + " seeds, more than the " +
                     std::to_string(kMaxEerSeeds) + " it allows");
}

std::vector<int64_t> eer_skipped_instruments(const std::vector<int64_t>& clip_instrument,
                                             const EerProtocol& protocol) {
  check_eer_protocol(protocol);
  std::vector<int64_t> skipped;
  for (const auto& kv : clips_by_instrument(clip_instrument))
    if (static_cast<int64_t>(kv.second.size()) < int64_t{protocol.enroll} + protocol.targets) skipped.push_back(kv.first);
  return skipped;
}

std::vector<EerTrial> make_eer_trials(const std::vector<float>& embeddings, int64_t dim,
                                      const std::vector<int64_t>& clip_instrument, const EerProtocol& protocol,
                                      uint64_t seed) {
  check_eer_protocol(protocol);
  if (dim <= 0) throw UsageError("make_eer_trials: dim must be positive, got " + std::to_string(dim));
  const int64_t n_clips = static_cast<int64_t>(clip_instrument.size());
  if (static_cast<int64_t>(embeddings.size()) != n_clips * dim)
    throw UsageError("make_eer_trials: " + std::to_string(embeddings.size()) + " embedding values but " +
                     std::to_string(n_clips) + " clips x dim " + std::to_string(dim));
  const auto by = clips_by_instrument(clip_instrument);
  const int64_t need = int64_t{protocol.enroll} + protocol.targets;
  std::vector<int64_t> instruments;
  int64_t qualifying = 0;
  for (const auto& kv : by) {
    instruments.push_back(kv.first);
    if (static_cast<int64_t>(kv.second.size()) >= need) ++qualifying;
  }
  if (qualifying < 2)
    throw UsageError("make_eer_trials: " + std::to_string(qualifying) + " instrument(s) have at least " +
                     std::to_string(need) + " clips (enroll + targets); need at least 2");

  auto score = [&](const std::vector<double>& enrol, int64_t clip) {
    const float* e = embeddings.data() + clip * dim;
    double dot = 0.0, na = 0.0, nb = 0.0;
    for (int64_t i = 0; i < dim; ++i) {
      dot += enrol[i] * e[i];
      na += enrol[i] * enrol[i];
      nb += static_cast<double>(e[i]) * e[i];
    }
    const double d = std::sqrt(na) * std::sqrt(nb);
    return d > 0.0 ? dot / d : 0.0;
  };

  StableRng rng(seed);
  std::vector<EerTrial> trials;
  for (size_t ii = 0; ii < instruments.size(); ++ii) {
    const int64_t inst = instruments[ii];
    const auto& clips = by.at(inst);
    if (static_cast<int64_t>(clips.size()) < need) continue;
    const auto pick = rng.sample_without_replacement(static_cast<int64_t>(clips.size()), need);
    std::vector<double> enrol(static_cast<size_t>(dim), 0.0);
    for (int k = 0; k < protocol.enroll; ++k) {
      const float* e = embeddings.data() + clips[pick[k]] * dim;
      for (int64_t i = 0; i < dim; ++i) enrol[i] += e[i];
    }
    for (auto& v : enrol) v /= protocol.enroll;
    for (int64_t k = protocol.enroll; k < need; ++k) trials.push_back({score(enrol, clips[pick[k]]), true, inst});
    for (int k = 0; k < protocol.non_targets; ++k) {
      // Uniform over the other instruments: draw among n - 1 and skip over this one.
      int64_t o = static_cast<int64_t>(rng.below(instruments.size() - 1));
      if (o >= static_cast<int64_t>(ii)) ++o;
      const auto& other = by.at(instruments[o]);
      const int64_t clip = other[rng.below(other.size())];
      trials.push_back({score(enrol, clip), false, inst});
    }
  }
  return trials;
}

}  // namespace instret
