// Evaluation metrics against scikit-learn / scipy golden files (scripts/golden/make_eval_golden.py):
// the reference code's EER, the ROCCH EER, AP/mAP, F1, the set rules, the stable generator, the
// EER trial protocol and the chance level; plus hand-worked cases and properties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "instret/core/error.h"
#include "instret/core/stable_rng.h"
#include "instret/eval/cosine.h"
#include "instret/eval/eer.h"
#include "instret/eval/eer_evaluation.h"
#include "instret/eval/retrieval_evaluation.h"
#include "instret/eval/retrieval_metrics.h"
#include "instret/eval/slot_diagnostics.h"
#include "instret/eval/twin_table.h"
#include "test_support.h"

using namespace instret;
using nlohmann::json;

namespace {

const std::string kData = std::string(INSTRET_TEST_DATA_DIR) + "/eval/";
constexpr double kTol = 1e-12;

json load(const std::string& name) {
  std::ifstream f(kData + name);
  EXPECT_TRUE(f.good()) << kData + name;
  return json::parse(f);
}

std::vector<LabelSet> sets(const json& j) { return j.get<std::vector<LabelSet>>(); }

std::vector<double> flat(const json& rows) {
  std::vector<double> v;
  for (const auto& r : rows)
    for (const auto& x : r) v.push_back(x.get<double>());
  return v;
}

}  // namespace

// ---------------------------------------------------------------- EER

TEST(Eer, PooledAndRocchMatchReference) {
  const auto g = load("metrics.json");
  ASSERT_GE(g["eer"].size(), 30u);
  for (const auto& c : g["eer"]) {
    const auto scores = c["scores"].get<std::vector<double>>();
    const auto labels = c["labels"].get<std::vector<int>>();
    EXPECT_NEAR(eer_pooled(scores, labels), c["pooled"].get<double>(), kTol) << c["kind"];
    EXPECT_NEAR(eer_rocch(scores, labels), c["rocch"].get<double>(), kTol) << c["kind"];
  }
}

TEST(Eer, HandWorked) {
  // Targets 0.9, 0.4; non-targets 0.6, 0.1. Thresholds 0.9 / 0.6 / 0.4 / 0.1 give (fpr, fnr) =
  // (0, .5), (.5, .5), (.5, 0), (1, 0); every point is a corner (nothing dropped) and |fpr - fnr|
  // is 0 at (.5, .5): EER 0.5. The hull of
  // (0,1), (0,.5), (.5,0), (1,0) crosses pfa = pmiss on the chord (0,.5)-(.5,0) at 0.25.
  const std::vector<double> s{0.9, 0.6, 0.4, 0.1};
  const std::vector<int> l{1, 0, 1, 0};
  EXPECT_DOUBLE_EQ(eer_pooled(s, l), 0.5);
  EXPECT_DOUBLE_EQ(eer_rocch(s, l), 0.25);
  // Perfect separation 0, inverted: the reference gives 1 and the hull 0.5.
  EXPECT_DOUBLE_EQ(eer_pooled({3, 2, 1}, {1, 1, 0}), 0.0);
  EXPECT_DOUBLE_EQ(eer_rocch({3, 2, 1}, {1, 1, 0}), 0.0);
  EXPECT_DOUBLE_EQ(eer_pooled({1, 2, 3}, {1, 1, 0}), 1.0);
  EXPECT_DOUBLE_EQ(eer_rocch({1, 2, 3}, {1, 1, 0}), 0.5);
}

TEST(Eer, RejectsBadInput) {
  EXPECT_THROW(eer_pooled({1, 2}, {1}), UsageError);
  EXPECT_THROW(eer_pooled({1, 2}, {1, 1}), UsageError);
  EXPECT_THROW(eer_rocch({1, 2}, {0, 0}), UsageError);
  EXPECT_THROW(eer_pooled({1, 2}, {1, 2}), UsageError);
  EXPECT_THROW(eer_rocch({1, NAN}, {1, 0}), UsageError);
  EXPECT_THROW(eer_pooled({}, {}), UsageError);
}

TEST(Eer, OfTrialsPoolsAndAveragesPerInstrument) {
  // Instrument 0 perfectly separated (EER 0); instrument 1 inverted (EER 1); instrument 2 only targets
  // (left out of the per-instrument mean).
  const std::vector<EerTrial> t{{0.9, true, 0},  {0.8, true, 0},  {0.1, false, 0}, {0.2, false, 0},
                                {0.3, true, 1},  {0.7, false, 1}, {0.5, true, 2}};
  const auto r = eer_of_trials(t);
  EXPECT_EQ(r.n_trials, 7);
  EXPECT_DOUBLE_EQ(r.per_instrument_mean, 0.5);
  std::vector<double> s;
  std::vector<int> l;
  for (const auto& x : t) {
    s.push_back(x.score);
    l.push_back(x.target);
  }
  EXPECT_DOUBLE_EQ(r.pooled, eer_pooled(s, l));
  EXPECT_DOUBLE_EQ(r.rocch, eer_rocch(s, l));
}

// ---------------------------------------------------------------- stable generator

TEST(StableRng, FirstValuesArePinned) {
  // splitmix64 from state 0: 0xe220a8397b1dcdaf, 0x6e789e6aa1b965f4, 0x06c45d188009454f (Vigna's reference outputs).
  StableRng r0(0);
  EXPECT_EQ(r0.next(), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(r0.next(), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(r0.next(), 0x06c45d188009454fULL);
  const auto g = load("rng.json");  // the Python port in scripts/golden/make_eval_golden.py
  for (const uint64_t seed : {uint64_t{0}, uint64_t{1}, uint64_t{42}, ~uint64_t{0}}) {
    const auto& c = g[std::to_string(seed)];
    StableRng r(seed);
    for (const auto& v : c["splitmix64"]) EXPECT_EQ(r.next(), std::stoull(v.get<std::string>())) << seed;
    StableRng r1(seed);
    for (const auto& v : c["next"]) EXPECT_EQ(r1.next(), std::stoull(v.get<std::string>())) << seed;
    StableRng r2(seed);
    for (const auto& v : c["below_7"]) EXPECT_EQ(int64_t(r2.below(7)), v.get<int64_t>());
    StableRng r3(seed);
    for (const auto& v : c["uniform"]) EXPECT_EQ(r3.uniform(), v.get<double>());
    StableRng r4(seed);
    EXPECT_EQ(r4.sample_without_replacement(10, 4), c["sample_10_4"].get<std::vector<int64_t>>());
  }
}

TEST(StableRng, DrawsStayInRange) {
  StableRng r(7);
  for (int i = 0; i < 1000; ++i) {
    const auto k = int64_t(r.below(3));
    EXPECT_TRUE(k >= 0 && k < 3);
    const double d = r.uniform();
    EXPECT_TRUE(d >= 0.0 && d < 1.0);
  }
  const auto s = r.sample_without_replacement(20, 20);
  EXPECT_EQ(std::set<int64_t>(s.begin(), s.end()).size(), 20u);
  EXPECT_TRUE(r.sample_without_replacement(5, 0).empty());
  EXPECT_THROW(r.below(0), UsageError);
  EXPECT_THROW(r.sample_without_replacement(3, 4), UsageError);
}

// ---------------------------------------------------------------- EER trial protocol

TEST(EerTrials, MatchesPythonPort) {
  const auto g = load("rng.json")["eer_trials"];
  const auto emb64 = g["embeddings"].get<std::vector<double>>();
  const std::vector<float> emb(emb64.begin(), emb64.end());
  const auto inst = g["clip_instrument"].get<std::vector<int64_t>>();
  EerProtocol p;
  p.enroll = g["enroll"];
  p.targets = g["targets"];
  p.non_targets = g["non_targets"];
  const auto trials = make_eer_trials(emb, g["dim"], inst, p, g["seed"]);
  ASSERT_EQ(trials.size(), g["trials"].size());
  for (size_t i = 0; i < trials.size(); ++i) {
    const auto& e = g["trials"][i];
    EXPECT_NEAR(trials[i].score, e[0].get<double>(), 1e-9) << i;
    EXPECT_EQ(trials[i].target, e[1].get<int>() == 1) << i;
    EXPECT_EQ(trials[i].instrument, e[2].get<int64_t>()) << i;
  }
  EXPECT_EQ(eer_skipped_instruments(inst, p), g["skipped"].get<std::vector<int64_t>>());
}

namespace {

// n_inst instruments with the given clip counts; embedding of a clip = one-hot of its instrument
// plus small noise when noisy.
struct Bank {
  std::vector<float> emb;
  std::vector<int64_t> inst;
  int64_t dim;
};

Bank bank(const std::vector<int>& counts, bool noisy) {
  Bank b{{}, {}, static_cast<int64_t>(counts.size())};
  StableRng r(3);
  for (size_t i = 0; i < counts.size(); ++i)
    for (int c = 0; c < counts[i]; ++c) {
      b.inst.push_back(static_cast<int64_t>(i));
      for (int64_t d = 0; d < b.dim; ++d)
        b.emb.push_back((d == static_cast<int64_t>(i) ? 1.0f : 0.0f) +
                        (noisy ? static_cast<float>(r.uniform() * 2.0) : 0.0f));
    }
  return b;
}

}  // namespace

TEST(EerTrials, CountsSkipsAndPerfectEmbeddings) {
  const auto b = bank({30, 25, 24, 40}, false);  // instrument 2 has fewer than 5 + 20 clips
  const EerProtocol p;
  const auto t = make_eer_trials(b.emb, b.dim, b.inst, p, 11);
  EXPECT_EQ(t.size(), 3u * 40u);
  std::vector<int> targets(4, 0), non(4, 0);
  for (const auto& x : t) (x.target ? targets : non)[x.instrument] += 1;
  EXPECT_EQ(targets, (std::vector<int>{20, 20, 0, 20}));
  EXPECT_EQ(non, (std::vector<int>{20, 20, 0, 20}));
  EXPECT_EQ(eer_skipped_instruments(b.inst, p), (std::vector<int64_t>{2}));
  const auto r = eer_of_trials(t);
  EXPECT_EQ(r.pooled, 0.0);
  EXPECT_EQ(r.rocch, 0.0);
  EXPECT_EQ(r.per_instrument_mean, 0.0);
}

TEST(EerTrials, SeedDeterminesTrials) {
  const auto b = bank({30, 30, 30}, true);
  const EerProtocol p;
  const auto a = make_eer_trials(b.emb, b.dim, b.inst, p, 5);
  const auto a2 = make_eer_trials(b.emb, b.dim, b.inst, p, 5);
  const auto c = make_eer_trials(b.emb, b.dim, b.inst, p, 6);
  ASSERT_EQ(a.size(), a2.size());
  ASSERT_EQ(a.size(), c.size());
  bool differ = false;
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].score, a2[i].score);
    differ = differ || a[i].score != c[i].score;
  }
  EXPECT_TRUE(differ);
}

TEST(EerTrials, TargetsAreNotEnrollmentClips) {
  // One-hot embedding per clip: the enrollment is 1/5 on five coordinates, so its cosine with any
  // clip outside it is exactly 0 and with one of its own clips 1/sqrt(5) > 0.
  const int64_t n = 60;
  std::vector<float> emb(n * n, 0.0f);
  std::vector<int64_t> inst(n);
  for (int64_t i = 0; i < n; ++i) {
    emb[i * n + i] = 1.0f;
    inst[i] = i % 2;
  }
  for (uint64_t seed = 0; seed < 20; ++seed)
    for (const auto& t : make_eer_trials(emb, n, inst, EerProtocol{}, seed)) EXPECT_EQ(t.score, 0.0);
}

TEST(EerTrials, RejectsBadInput) {
  const auto b = bank({30, 10, 10}, false);
  EXPECT_THROW(make_eer_trials(b.emb, b.dim, b.inst, EerProtocol{}, 1), UsageError);  // one qualifies
  const auto ok = bank({30, 30}, false);
  EXPECT_THROW(make_eer_trials(ok.emb, ok.dim + 1, ok.inst, EerProtocol{}, 1), UsageError);
  EXPECT_THROW(make_eer_trials(ok.emb, ok.dim, ok.inst, EerProtocol{0, 20, 20}, 1), UsageError);
  // A count past the bound is refused before any trial is drawn (2e9 non-targets would take ~50 GB).
  EXPECT_THROW(make_eer_trials(ok.emb, ok.dim, ok.inst, EerProtocol{5, 20, 2000000000}, 1), UsageError);
  EXPECT_THROW(check_eer_protocol(EerProtocol{5, kMaxEerCount + 1, 20}), UsageError);
  EXPECT_NO_THROW(check_eer_protocol(EerProtocol{kMaxEerCount, kMaxEerCount, kMaxEerCount}));
  EXPECT_THROW(check_eer_seeds(std::vector<uint64_t>(kMaxEerSeeds + 1, 0)), UsageError);
  EXPECT_NO_THROW(check_eer_seeds(std::vector<uint64_t>(kMaxEerSeeds, 0)));
  auto neg = ok.inst;
  neg[0] = -1;
  EXPECT_THROW(make_eer_trials(ok.emb, ok.dim, neg, EerProtocol{}, 1), UsageError);
}

// ---------------------------------------------------------------- AP, mAP, F1

TEST(RetrievalMetrics, AveragePrecisionMatchesSklearn) {
  const auto g = load("metrics.json");
  for (const auto& c : g["ap"])
    EXPECT_NEAR(average_precision(c["scores"].get<std::vector<double>>(), c["truth"].get<std::vector<int>>()),
                c["ap"].get<double>(), kTol)
        << c["kind"];
}

TEST(RetrievalMetrics, AveragePrecisionHandWorked) {
  // Ranking: + (P 1, R .5), - , + (P 2/3, R 1): AP = .5 * 1 + .5 * 2/3 = 5/6.
  EXPECT_DOUBLE_EQ(average_precision({0.9, 0.5, 0.3}, {1, 0, 1}), 5.0 / 6.0);
  EXPECT_THROW(average_precision({}, {}), UsageError);
  EXPECT_THROW(average_precision({1.0}, {2}), UsageError);
}

TEST(RetrievalMetrics, MapMatchesSklearn) {
  const auto g = load("metrics.json");
  for (const auto& c : g["map"]) {
    const auto r = map_scores(flat(c["scores"]), sets(c["truth"]), c["n_labels"]);
    EXPECT_NEAR(r.macro, c["macro"].get<double>(), kTol) << c["kind"];
    EXPECT_NEAR(r.weighted, c["weighted"].get<double>(), kTol) << c["kind"];
  }
}

TEST(RetrievalMetrics, F1MatchesSklearn) {
  const auto g = load("metrics.json");
  for (const auto& c : g["f1"]) {
    const auto r = f1_scores(sets(c["truth"]), sets(c["predicted"]), c["n_labels"]);
    EXPECT_NEAR(r.macro, c["macro"].get<double>(), kTol) << c["kind"];
    EXPECT_NEAR(r.weighted, c["weighted"].get<double>(), kTol) << c["kind"];
  }
}

TEST(RetrievalMetrics, F1HandWorked) {
  // 3 labels; truth {0,1}, {1}; predicted {0}, {1,2}. Label 0: tp 1 -> F1 1; label 1: tp 1, fn 1 ->
  // 2/3; label 2: fp 1 -> 0. Macro 5/9; weighted by support (1, 2, 0): (1 + 4/3) / 3 = 7/9.
  const auto r = f1_scores({{0, 1}, {1}}, {{0}, {1, 2}}, 3);
  EXPECT_DOUBLE_EQ(r.macro, 5.0 / 9.0);
  EXPECT_DOUBLE_EQ(r.weighted, 7.0 / 9.0);
  EXPECT_THROW(f1_scores({{0}}, {}, 3), UsageError);
  EXPECT_THROW(f1_scores({{3}}, {{0}}, 3), UsageError);
  EXPECT_THROW(map_scores({0.1, 0.2}, {{0}}, 3), UsageError);
}

// ---------------------------------------------------------------- set rules

TEST(SetRules, MatchNumpy) {
  const auto g = load("metrics.json");
  for (const auto& c : g["slots"]) {
    const auto sims = flat(c["sims"]);
    const int64_t m = c["m"], n = c["n_labels"];
    EXPECT_EQ(predict_set_argmax(sims, m, n), c["argmax"].get<LabelSet>());
    const auto best = max_over_slots(sims, m, n);
    EXPECT_EQ(best, c["max"].get<std::vector<double>>());
    EXPECT_EQ(predict_set_threshold(sims, m, n, c["threshold"]), c["above"].get<LabelSet>());
    const auto groups = map_labels({predict_set_argmax(sims, m, n)}, c["group_of"].get<std::vector<int64_t>>(), 4);
    EXPECT_EQ(groups[0], c["groups"].get<LabelSet>());
  }
}

TEST(SetRules, HandWorked) {
  // Two slots over 3 labels; slot 0 ties labels 1 and 2 (first wins), slot 1 picks 1.
  const std::vector<double> sims{0.1, 0.8, 0.8, 0.3, 0.9, 0.2};
  EXPECT_EQ(predict_set_argmax(sims, 2, 3), (LabelSet{1}));
  EXPECT_EQ(max_over_slots(sims, 2, 3), (std::vector<double>{0.3, 0.9, 0.8}));
  EXPECT_EQ(predict_set_threshold(sims, 2, 3, 0.5), (LabelSet{1, 2}));
  EXPECT_EQ(predict_set_threshold(sims, 2, 3, 0.95), (LabelSet{1}));  // nothing above: the top one
  EXPECT_EQ(map_labels({{0, 1, 2}, {}}, {1, 0, 1}, 2), (std::vector<LabelSet>{{0, 1}, {}}));
  EXPECT_THROW(map_labels({{3}}, {1, 0, 1}, 2), UsageError);
  EXPECT_THROW(map_labels({{0}}, {2, 0, 1}, 2), UsageError);
  EXPECT_THROW(predict_set_argmax(sims, 3, 3), UsageError);
}

TEST(SetRules, ExistenceRulesHandWorked) {
  // Three slots over 3 labels: slot 0 picks label 1, slot 1 label 0, slot 2 label 2.
  const std::vector<double> sims{0.1, 0.8, 0.3, 0.9, 0.2, 0.4, 0.5, -0.2, 0.6};
  EXPECT_EQ(predict_set_existing(sims, {0.9, 0.2, 0.5}, 3, 3), (LabelSet{1, 2}));  // slot 1 does not exist
  EXPECT_EQ(predict_set_existing(sims, {0.1, 0.3, 0.2}, 3, 3), (LabelSet{0}));     // none: the most probable slot's
  EXPECT_EQ(predict_set_existing(sims, {0.1, 0.3, 0.2}, 3, 3, 0.25), (LabelSet{0}));
  // Scores: per label the max of existence x cosine: label 0 max(0.09, 0.18, 0.25), 1 max(0.72, 0.04, -0.1),
  // 2 max(0.27, 0.08, 0.3).
  const auto w = existence_weighted_max(sims, {0.9, 0.2, 0.5}, 3, 3);
  const std::vector<double> want{0.25, 0.72, 0.3};
  for (size_t l = 0; l < 3; ++l) EXPECT_NEAR(w[l], want[l], 1e-12) << l;
  EXPECT_THROW(predict_set_existing(sims, {0.9, 0.2}, 3, 3), UsageError);
  EXPECT_THROW(existence_weighted_max(sims, {0.9}, 3, 3), UsageError);
  // evaluate_retrieval takes them when given existence, the paper's rules otherwise.
  const LabelGroups groups{{0, 0, 1}, 2};
  ChanceSettings none;
  none.repeats = 0;
  const auto paper = evaluate_retrieval(sims, 3, 3, {{1, 2}}, groups, none);
  EXPECT_EQ(paper.predicted[0], (LabelSet{0, 1, 2}));
  const auto exist = evaluate_retrieval(sims, 3, 3, {{1, 2}}, groups, none, {}, {0.9, 0.2, 0.5});
  EXPECT_EQ(exist.predicted[0], (LabelSet{1, 2}));
  for (size_t l = 0; l < 3; ++l) EXPECT_NEAR(exist.scores[l], want[l], 1e-12);
  EXPECT_THROW(evaluate_retrieval(sims, 3, 3, {{1, 2}}, groups, none, {}, {0.9, 0.2}), UsageError);
}

// ---------------------------------------------------------------- chance level and cosine

TEST(ChanceLevel, MatchesPythonPort) {
  const auto g = load("rng.json")["chance"];
  const auto truth = sets(g["truth"]);
  const LabelGroups groups{g["group_of"].get<std::vector<int64_t>>(), g["n_groups"].get<int64_t>()};
  const auto c = chance_level(truth, g["n_labels"], g["repeats"], g["seed"], groups);
  const auto e = g["expected"].get<std::vector<double>>();
  EXPECT_NEAR(c.f1.macro, e[0], kTol);
  EXPECT_NEAR(c.f1.weighted, e[1], kTol);
  EXPECT_NEAR(c.map.macro, e[2], kTol);
  EXPECT_NEAR(c.map.weighted, e[3], kTol);
  EXPECT_NEAR(c.family_f1.macro, e[4], kTol);
  EXPECT_NEAR(c.family_f1.weighted, e[5], kTol);
  // The grouping draws nothing: without it the instrument-level numbers are the same.
  EXPECT_EQ(chance_level(truth, g["n_labels"], g["repeats"], g["seed"]).f1.macro, c.f1.macro);
  const auto u = chance_level_uniform_size(truth, g["n_labels"], 2, 4, g["repeats"], g["seed"], groups);
  const auto eu = g["uniform_2_4"].get<std::vector<double>>();
  EXPECT_NEAR(u.f1.macro, eu[0], kTol);
  EXPECT_NEAR(u.f1.weighted, eu[1], kTol);
  EXPECT_NEAR(u.map.macro, eu[2], kTol);
  EXPECT_NEAR(u.map.weighted, eu[3], kTol);
  EXPECT_NEAR(u.family_f1.macro, eu[4], kTol);
  EXPECT_NEAR(u.family_f1.weighted, eu[5], kTol);
  EXPECT_THROW(chance_level(truth, 6, 0, 1), UsageError);
  EXPECT_THROW(chance_level_uniform_size(truth, 6, 2, 7, 1, 1), UsageError);
}

TEST(ChanceLevel, NearExpectationForOneLabelSets) {
  // Each item has one true label of 4 and one random guess: per label E[F1] is about 1/4.
  std::vector<LabelSet> truth;
  for (int i = 0; i < 400; ++i) truth.push_back({i % 4});
  const auto c = chance_level(truth, 4, 20, 8);
  EXPECT_NEAR(c.f1.macro, 0.25, 0.02);
  EXPECT_NEAR(c.f1.weighted, 0.25, 0.02);
  EXPECT_NEAR(c.map.macro, 0.25, 0.02);
}

TEST(Cosine, MatrixAndNormalisation) {
  const std::vector<float> a{1, 0, 0, 0, 0, 0, 3, 4};  // dim 2, rows (1,0), (0,0), (0,0), (3,4)
  const std::vector<float> b{0, 2, 1, 1};  // rows (0,2), (1,1)
  const auto m = cosine_matrix(a, b, 2);
  ASSERT_EQ(m.size(), 8u);
  EXPECT_DOUBLE_EQ(m[0], 0.0);
  EXPECT_NEAR(m[1], std::sqrt(0.5), 1e-15);
  EXPECT_EQ(m[2], 0.0);  // zero row
  EXPECT_NEAR(m[6], 0.8, 1e-15);
  EXPECT_NEAR(m[7], 7.0 / (5.0 * std::sqrt(2.0)), 1e-15);
  EXPECT_NEAR(cosine(a.data() + 6, b.data(), 2), 0.8, 1e-15);
  auto n = a;
  normalize_rows(n, 2);
  EXPECT_FLOAT_EQ(n[6], 0.6f);
  EXPECT_FLOAT_EQ(n[7], 0.8f);
  EXPECT_EQ(n[2], 0.0f);
  EXPECT_THROW(cosine_matrix(a, {1, 2, 3}, 2), UsageError);
  EXPECT_THROW(normalize_rows(n, 0), UsageError);
}

// ---------------------------------------------------------------- whole evaluations (hand-worked)

namespace {
int count_lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }
}  // namespace

TEST(EerEvaluation, SeedStatIsNumpyMeanAndStd) {
  const SeedStat s = seed_stat({0.1, 0.3});
  EXPECT_DOUBLE_EQ(s.mean, 0.2);
  EXPECT_NEAR(s.std, 0.1, 1e-15);
  EXPECT_TRUE(std::isnan(seed_stat({NAN}).mean));
  EXPECT_DOUBLE_EQ(seed_stat({0.5, NAN}).mean, 0.5);
}

TEST(EerEvaluation, PerfectEmbeddingsGiveZeroAndCountsAreRight) {
  // 3 instruments with 4 clips (one-hot embeddings), one with 1 clip (skipped, still a non-target source).
  std::vector<float> emb;
  std::vector<int64_t> inst;
  for (int i = 0; i < 4; ++i)
    for (int c = 0; c < (i == 3 ? 1 : 4); ++c) {
      inst.push_back(i);
      for (int d = 0; d < 4; ++d) emb.push_back(d == i ? 1.f : 0.f);
    }
  EerProtocol p;
  p.enroll = 2;
  p.targets = 2;
  p.non_targets = 3;
  const EerEvaluation e = evaluate_eer(emb, 4, inst, p, {0, 1});
  EXPECT_EQ(e.pooled.mean, 0.0);
  EXPECT_EQ(e.rocch.mean, 0.0);
  EXPECT_EQ(e.used, (std::vector<int64_t>{0, 1, 2}));
  EXPECT_EQ(e.skipped, (std::vector<int64_t>{3}));
  ASSERT_EQ(e.trials.size(), 2u);
  EXPECT_EQ(e.trials[0].size(), 3u * (2 + 3));
  const Json j = eer_evaluation_json(e, {"a", "b", "c", "d"});
  EXPECT_EQ(j["counts"]["skipped_ids"], Json::array({"d"}));
  EXPECT_EQ(j["counts"]["trials"], 30);
  const std::string csv = eer_trials_csv(e, {"a", "b", "c", "d,e"});
  EXPECT_EQ(count_lines(csv), 31);
  EXPECT_EQ(csv.rfind("seed,instrument,instrument_id,target,score\n", 0), 0u);
  EXPECT_THROW(evaluate_eer(emb, 4, inst, p, {}), UsageError);
}

TEST(RetrievalEvaluation, HandWorkedCase) {
  // Item 0: truth {0, 1}; slots pick 0 and 1. Item 1: truth {2}; both slots pick 0.
  const std::vector<double> sims = {0.9, 0.1, 0.2, 0.3, 0.8, 0.1,   // item 0, slots 0 and 1
                                    0.7, 0.2, 0.1, 0.6, 0.1, 0.5};  // item 1
  const LabelGroups fam{{0, 0, 1}, 2};
  ChanceSettings c;
  c.repeats = 3;
  const RetrievalEvaluation e = evaluate_retrieval(sims, 2, 3, {{1, 0}, {2}}, fam, c);
  EXPECT_EQ(e.predicted, (std::vector<LabelSet>{{0, 1}, {0}}));
  EXPECT_EQ(e.scores, (std::vector<double>{0.9, 0.8, 0.2, 0.7, 0.2, 0.5}));
  // F1 per label: 2/3 (tp 1, fp 1), 1, 0 (a miss); supports 1, 1, 1.
  EXPECT_NEAR(e.f1.macro, (2.0 / 3 + 1) / 3, 1e-12);
  EXPECT_NEAR(e.f1.weighted, (2.0 / 3 + 1) / 3, 1e-12);
  // Families: truth {0}, {1}; predicted {0}, {0}: F1 2/3 and 0.
  EXPECT_NEAR(e.family_f1.macro, 1.0 / 3, 1e-12);
  EXPECT_NEAR(e.family_f1.weighted, 1.0 / 3, 1e-12);
  // Every label's positive outscores its negative: AP 1.
  EXPECT_DOUBLE_EQ(e.map.macro, 1.0);
  const Json j = retrieval_evaluation_json(e, c);
  for (const char* k : {"f1_macro", "f1_weighted", "family_f1_macro", "family_f1_weighted", "map_macro", "map_weighted"}) {
    EXPECT_TRUE(j.contains(k)) << k;
    EXPECT_TRUE(j["chance"]["true_size"].contains(k)) << k;
    EXPECT_TRUE(j["chance"]["uniform_size"].contains(k)) << k;
  }
  EXPECT_EQ(j["chance"]["uniform_size"]["max_size"], 3);  // the reference's 9, clamped to the 3 labels
  const std::string md = retrieval_markdown(e, "toy");
  EXPECT_NE(md.find("| toy | 0.333 | 0.333 | 0.556 | 0.556 | 1.000 | 1.000 |"), std::string::npos) << md;
  EXPECT_THROW(evaluate_retrieval(sims, 2, 3, {{0}}, fam, c), UsageError);
}

// Issue 12: labels 0 and 1 are twins (group 0); 2 and 3 are groups of their own. One slot per item.
// Item 0 is instrument 0 and retrieves its twin 1: wrong for the paper's metrics, right for the
// twin-aware ones. Worked by hand below.
TEST(RetrievalEvaluation, TwinAwareMetricsCountARetrievedTwinAsCorrect) {
  const std::vector<double> sims = {0.5, 0.9, 0.1, 0.2,   // item 0: truth {0}, picks 1 (the twin)
                                    0.3, 0.8, 0.2, 0.1,   // item 1: truth {1}, picks 1
                                    0.1, 0.2, 0.9, 0.3,   // item 2: truth {2}, picks 2
                                    0.7, 0.1, 0.2, 0.6};  // item 3: truth {3}, picks 0
  const LabelGroups fam{{0, 0, 0, 0}, 1};
  const LabelGroups twins{{0, 0, 1, 2}, 3};
  ChanceSettings c;
  c.repeats = 5;
  const RetrievalEvaluation e = evaluate_retrieval(sims, 1, 4, {{0}, {1}, {2}, {3}}, fam, c, twins);
  EXPECT_EQ(e.predicted, (std::vector<LabelSet>{{1}, {1}, {2}, {0}}));
  // Instruments: F1 of label 0 = 0 (tp 0, fp 1, fn 1), 1: 2/3 (tp 1, fp 1), 2: 1, 3: 0 (a miss).
  EXPECT_NEAR(e.f1.macro, (2.0 / 3 + 1) / 4, 1e-12);
  EXPECT_NEAR(e.f1.weighted, (2.0 / 3 + 1) / 4, 1e-12);
  // Twin groups: truth {0}, {0}, {1}, {2}; predicted {0}, {0}, {1}, {0}. Group 0: tp 2, fp 1: 4/5;
  // group 1: 1; group 2: 0. Supports 2, 1, 1.
  EXPECT_EQ(e.n_twin_groups, 3);
  EXPECT_EQ(e.truth_twins, (std::vector<LabelSet>{{0}, {0}, {1}, {2}}));
  EXPECT_EQ(e.predicted_twins, (std::vector<LabelSet>{{0}, {0}, {1}, {0}}));
  EXPECT_NEAR(e.twin_f1.macro, (0.8 + 1.0 + 0.0) / 3, 1e-12);
  EXPECT_NEAR(e.twin_f1.weighted, (2 * 0.8 + 1.0 + 0.0) / 4, 1e-12);
  // mAP: label 0's positive (0.5) is outscored by item 3's 0.7: AP 1/2; label 1's (0.8) by item 0's
  // 0.9: 1/2; labels 2 and 3: 1. Twin group 0 scores max(label 0, label 1) = 0.9, 0.8, 0.2, 0.7: its
  // two positives rank first, AP 1; groups 1 and 2 as labels 2 and 3.
  EXPECT_NEAR(e.map.macro, 0.75, 1e-12);
  EXPECT_EQ(e.twin_scores, (std::vector<double>{0.9, 0.1, 0.2, 0.8, 0.2, 0.1, 0.2, 0.9, 0.3, 0.7, 0.2, 0.6}));
  EXPECT_DOUBLE_EQ(e.twin_map.macro, 1.0);
  EXPECT_DOUBLE_EQ(e.twin_map.weighted, 1.0);
  const Json j = retrieval_evaluation_json(e, c);
  for (const char* k : {"twin_f1_macro", "twin_f1_weighted", "twin_map_macro", "twin_map_weighted"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_EQ(j["counts"]["twin_groups"], 3);
  EXPECT_TRUE(j["chance"]["true_size"].contains("twin_f1_macro"));
  EXPECT_NE(retrieval_markdown(e, "toy").find("Twin-aware"), std::string::npos);
  const std::string dump = retrieval_dump_jsonl(e, {"a", "b", "c", "d"}, {"i0", "i1", "i2", "i3"}, {"f"}, fam.group_of,
                                                twins.group_of);
  EXPECT_EQ(Json::parse(dump.substr(0, dump.find('\n')))["twin_of"], Json::array({0, 0, 1, 2}));
  // Without twin groups: none of the twin keys, the paper's numbers unchanged.
  const RetrievalEvaluation plain = evaluate_retrieval(sims, 1, 4, {{0}, {1}, {2}, {3}}, fam, c);
  EXPECT_EQ(plain.n_twin_groups, 0);
  EXPECT_EQ(plain.f1.macro, e.f1.macro);
  const Json pj = retrieval_evaluation_json(plain, c);
  EXPECT_FALSE(pj.contains("twin_f1_macro"));
  EXPECT_FALSE(pj["counts"].contains("twin_groups"));
  EXPECT_EQ(retrieval_markdown(plain, "toy").find("Twin-aware"), std::string::npos);
  // A twin table of the wrong size.
  EXPECT_THROW(evaluate_retrieval(sims, 1, 4, {{0}, {1}, {2}, {3}}, fam, c, LabelGroups{{0, 0, 1}, 2}), UsageError);
  EXPECT_THROW(max_over_groups({0.1, 0.2}, 2, {0, 3}, 2), UsageError);
}

TEST(TwinTable, GroupsByFirstMemberAndEmptyWithoutTheField) {
  std::vector<DatasetInstrument> list = {{"a", "A", "bass", "soundfont", "a"},
                                         {"b", "B", "bass", "soundfont", "a"},
                                         {"c", "C", "bass", "soundfont", "c"},
                                         {"d", "D", "bass", "soundfont", ""}};
  const TwinTable t = twin_table(list);
  EXPECT_EQ(t.names, (std::vector<std::string>{"a", "c", "d"}));
  EXPECT_EQ(t.group_of, (std::vector<int64_t>{0, 0, 1, 2}));
  EXPECT_EQ(t.shared_groups(list), (std::vector<std::vector<std::string>>{{"a", "b"}}));
  for (auto& i : list) i.twin_group.clear();  // an older render
  EXPECT_TRUE(twin_table(list).group_of.empty());
}

// The dumps of a whole evaluation recompute to its report with scikit-learn (the committed
// scripts/golden/check_eval_dumps.py, with the Python of test::reference_python()).
TEST(EvalDumps, RecomputeWithScikitLearn) {
  const std::string py = test::reference_python();
  if (py.empty()) GTEST_SKIP() << test::cross_check_skipped();
  const std::string dir = ::testing::TempDir();
  StableRng rng(5);
  const int n_inst = 12, dim = 6;
  std::vector<float> emb;
  std::vector<int64_t> inst;
  std::vector<std::string> ids;
  for (int i = 0; i < n_inst; ++i) ids.push_back("inst" + std::to_string(i));
  for (int i = 0; i < n_inst; ++i)
    for (int c = 0; c < (i == 3 ? 2 : 9); ++c) {  // instrument 3 is skipped
      inst.push_back(i);
      for (int d = 0; d < dim; ++d) emb.push_back(float((d == i % dim) * 0.8 + rng.uniform()));
    }
  EerProtocol p;
  p.enroll = 3;
  p.targets = 4;
  p.non_targets = 5;
  const EerEvaluation e = evaluate_eer(emb, dim, inst, p, {0, 1, 7});
  std::ofstream(dir + "eer.json") << eer_evaluation_json(e, ids).dump(2);
  std::ofstream(dir + "eer.csv") << eer_trials_csv(e, ids);
  // Retrieval: 30 items, 3 slots, 10 labels in 4 families, similarities on a 0.05 grid (ties).
  const int n = 30, m = 3, n_labels = 10;
  std::vector<LabelSet> truth;
  std::vector<double> sims;
  std::vector<std::string> mixes;
  for (int i = 0; i < n; ++i) {
    truth.push_back(rng.sample_without_replacement(n_labels, 1 + int64_t(rng.below(4))));
    mixes.push_back("mix" + std::to_string(i));
    for (int k = 0; k < m * n_labels; ++k) sims.push_back(std::round(rng.uniform() * 20) / 20);
  }
  const LabelGroups groups{{0, 0, 1, 1, 1, 2, 2, 3, 3, 0}, 4};
  ChanceSettings c;
  c.repeats = 5;
  const RetrievalEvaluation r = evaluate_retrieval(sims, m, n_labels, truth, groups, c);
  std::ofstream(dir + "ret.json") << retrieval_evaluation_json(r, c).dump(2);
  std::ofstream(dir + "ret.jsonl") << retrieval_dump_jsonl(r, mixes, std::vector<std::string>(ids.begin(), ids.begin() + n_labels),
                                                           {"a", "b", "c", "d"}, groups.group_of);
  const std::string script = std::string(INSTRET_SOURCE_DIR) + "/scripts/golden/check_eval_dumps.py";
  EXPECT_EQ(std::system((py + " " + script + " eer " + dir + "eer.json " + dir + "eer.csv").c_str()), 0);
  EXPECT_EQ(std::system((py + " " + script + " retrieval " + dir + "ret.json " + dir + "ret.jsonl").c_str()), 0);
}

// Slot diagnostics by hand: slot 0 is the same for both mixtures (a prototype: collapse 1), slot 1
// turns by 90 degrees (cosine to its mean direction 1/sqrt 2); within a mixture the slots are at 90
// and 0 degrees. Top-1 picks 0, 0, 0, 1 over 3 library entries: counts 3, 1, 0.
TEST(SlotDiagnostics, CollapsePairwiseCosineAndHubsByHand) {
  const torch::Tensor outputs = torch::tensor({1.0, 0.0, 0.0, 2.0,    // mixture 0: slots (1,0), (0,2)
                                               3.0, 0.0, 1.0, 0.0})   // mixture 1: slots (3,0), (1,0)
                                    .view({2, 2, 2});
  const torch::Tensor cosines = torch::tensor({0.9, 0.1, 0.0, 0.8, 0.2, 0.1,    // picks 0, 0
                                               0.7, 0.3, 0.2, 0.1, 0.6, 0.5})   // picks 0, 1
                                    .view({2, 2, 3});
  const SlotDiagnostics d = slot_diagnostics(outputs, cosines);
  ASSERT_EQ(d.collapse_per_slot.size(), 2u);
  EXPECT_NEAR(d.collapse_per_slot[0], 1.0, 1e-12);
  EXPECT_NEAR(d.collapse_per_slot[1], std::sqrt(0.5), 1e-12);
  EXPECT_NEAR(d.collapse, (1.0 + std::sqrt(0.5)) / 2, 1e-12);
  EXPECT_NEAR(d.pairwise_cosine, (0.0 + 1.0) / 2, 1e-12);
  EXPECT_NEAR(d.hub_top1_share, 0.75, 1e-12);
  const double mu = 4.0 / 3, var = ((3 - mu) * (3 - mu) + (1 - mu) * (1 - mu) + mu * mu) / 3;
  const double third = (std::pow(3 - mu, 3) + std::pow(1 - mu, 3) + std::pow(-mu, 3)) / 3;
  EXPECT_NEAR(d.hub_skewness, third / std::pow(var, 1.5), 1e-12);
  EXPECT_THROW(slot_diagnostics(outputs, cosines.narrow(0, 0, 1)), UsageError);
  // A library entry without clips (cosine -2 everywhere) can never be picked: it does not count.
  const SlotDiagnostics e = slot_diagnostics(outputs, torch::cat({cosines, torch::full({2, 2, 1}, -2.0, cosines.options())}, 2));
  EXPECT_NEAR(e.hub_skewness, d.hub_skewness, 1e-12);
  EXPECT_NEAR(e.hub_top1_share, 0.75, 1e-12);
}
