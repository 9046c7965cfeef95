// render-nlakh's duplicate and twin checks as pure functions over fingerprints: similar_pairs on
// synthetic prints, decide_duplicates and decide_twins on hand-made pairs (no SoundFont, no render).
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "instret/core/error.h"
#include "instret/render/fingerprint_similarity.h"
#include "instret/render/instrument_dedupe.h"

using namespace instret;

namespace {

// A unit-norm noise fingerprint of 1 s.
std::vector<float> noise_print(uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal;
  std::vector<float> x(kSampleRate);
  double norm = 0;
  for (float& v : x) {
    v = float(normal(rng));
    norm += double(v) * v;
  }
  for (float& v : x) v = float(v / std::sqrt(norm));
  return x;
}

SimilarPair pair(size_t earlier, size_t later, double similarity) { return {earlier, later, similarity, {}, {}}; }

}  // namespace

TEST(FingerprintSimilarity, InvertedAndDelayedCopiesAreFoundWithinAFamilyOnly) {
  const std::vector<float> u = noise_print(1);
  std::vector<float> inverted = u, delayed(u.size(), 0.f);
  for (float& v : inverted) v = -v;
  for (size_t t = 3; t < u.size(); ++t) delayed[t] = u[t - 3];  // `later` 3 samples behind
  const std::vector<std::vector<float>> prints = {u, noise_print(2), inverted, delayed, u, {}};
  const std::vector<std::string> family = {"keyboard", "keyboard", "keyboard", "keyboard", "flute", "keyboard"};
  const auto pairs = similar_pairs(prints, family, 0.9, kDedupeMaxLag);
  ASSERT_EQ(pairs.size(), 3u);  // (0, 2), (0, 3), (2, 3); never print 1 (other noise), 4 (other family), 5 (empty)
  EXPECT_EQ(pairs[0].earlier, 0u);
  EXPECT_EQ(pairs[0].later, 2u);
  EXPECT_NEAR(pairs[0].similarity, 1.0, 1e-9);
  for (double r : pairs[0].window_r) EXPECT_LT(r, 0.0);
  for (int lag : pairs[0].lags) EXPECT_EQ(lag, 0);
  EXPECT_EQ(pairs[1].earlier, 0u);
  EXPECT_EQ(pairs[1].later, 3u);
  EXPECT_GT(pairs[1].similarity, 0.99);
  for (int lag : pairs[1].lags) EXPECT_EQ(lag, 3);
  EXPECT_EQ(pairs[2].earlier, 2u);
  EXPECT_EQ(pairs[2].later, 3u);
  // The JSON of a pair: 4 decimals, lags in ms.
  Json j;
  add_similarity(j, pairs[1]);
  EXPECT_EQ(j["lags_ms"], Json::array({0.2, 0.2, 0.2}));
  EXPECT_EQ(j["note_correlations"].size(), 3u);
  EXPECT_THROW(similar_pairs(prints, {"keyboard"}, 0.9, kDedupeMaxLag), UsageError);
}

TEST(InstrumentDedupe, TheValidSideOfALeakIsDroppedAndOnlyKeptInstrumentsCount) {
  // 0, 1 train; 2, 3 valid. 2 copies 0 (a leak); 3 copies 2, which is dropped, so 3 stays;
  // 1 and 3 are alike at the twin level only (a near leak); 4 is silent.
  const std::vector<std::string> split = {"train", "train", "valid", "valid", "valid"};
  const std::vector<SimilarPair> pairs = {pair(0, 2, 0.99), pair(1, 3, 0.96), pair(2, 3, 0.99)};
  const std::vector<char> silent = {0, 0, 0, 0, 1};
  const DuplicateDecision d = decide_duplicates(pairs, split, silent, 0.98, 0.95);
  EXPECT_EQ(d.kept, (std::vector<size_t>{0, 1, 3}));
  ASSERT_EQ(d.duplicates.size(), 1u);
  EXPECT_EQ(d.duplicates[0].first, 2u);
  EXPECT_EQ(d.duplicates[0].second, &pairs[0]);
  EXPECT_EQ(d.silent, (std::vector<size_t>{4}));
  ASSERT_EQ(d.leaks.size(), 1u);
  EXPECT_EQ(d.leaks[0], &pairs[0]);
  ASSERT_EQ(d.near_leaks.size(), 1u);
  EXPECT_EQ(d.near_leaks[0], &pairs[1]);
  // Without the duplicate check nothing is dropped, silent instruments included, and nothing leaks.
  const DuplicateDecision off = decide_duplicates(pairs, split, silent, 0.0, 0.95);
  EXPECT_EQ(off.kept, (std::vector<size_t>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(off.leaks.empty() && off.near_leaks.empty() && off.duplicates.empty() && off.silent.empty());
  EXPECT_THROW(decide_duplicates({pair(3, 1, 0.99)}, split, silent, 0.98, 0.95), UsageError);
}

TEST(InstrumentDedupe, TwinGroupsAreConnectedComponentsWithinASplit) {
  // Train 0-1 and 1-2 are twins (one group of three, named by 0); 2-3 crosses the splits; 4-5 are
  // valid twins; 6 has none.
  const std::vector<std::string> split = {"train", "train", "train", "valid", "valid", "valid", "valid"};
  const std::vector<SimilarPair> pairs = {pair(0, 1, 0.96), pair(1, 2, 0.97), pair(2, 3, 0.96), pair(4, 5, 0.95),
                                          pair(5, 6, 0.5)};
  const DuplicateDecision kept_all = decide_duplicates(pairs, split, std::vector<char>(7, 0), 0.98, 0.95);
  const TwinDecision drop = decide_twins(pairs, split, kept_all, 0.95, "drop");
  EXPECT_EQ(drop.pairs.at("train").size(), 2u);
  EXPECT_EQ(drop.pairs.at("valid").size(), 1u);
  EXPECT_EQ(drop.groups.at("train"), (std::vector<std::vector<size_t>>{{0, 1, 2}}));
  EXPECT_EQ(drop.groups.at("valid"), (std::vector<std::vector<size_t>>{{4, 5}}));
  EXPECT_EQ(drop.stay, (std::vector<size_t>{0, 3, 4, 6}));
  EXPECT_EQ(drop.dropped, (std::vector<std::pair<size_t, size_t>>{{1, 0}, {2, 0}, {5, 4}}));
  EXPECT_TRUE(drop.group_of.empty());
  const TwinDecision group = decide_twins(pairs, split, kept_all, 0.95, "group");
  EXPECT_EQ(group.stay, (std::vector<size_t>{0, 1, 2, 3, 4, 5, 6}));
  EXPECT_EQ(group.group_of, (std::map<size_t, size_t>{{0, 0}, {1, 0}, {2, 0}, {3, 3}, {4, 4}, {5, 4}, {6, 6}}));
  EXPECT_EQ(decide_twins(pairs, split, kept_all, 0.95, "keep").stay.size(), 7u);
  // An instrument dropped as a duplicate takes no part: without 1, 0 and 2 are not connected.
  DuplicateDecision without_1 = kept_all;
  without_1.kept = {0, 2, 3, 4, 5, 6};
  without_1.is_kept[1] = 0;
  EXPECT_FALSE(decide_twins(pairs, split, without_1, 0.95, "drop").groups.count("train"));
  EXPECT_THROW(decide_twins(pairs, split, kept_all, 0.95, "merge"), UsageError);
}
