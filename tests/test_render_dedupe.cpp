// render-nlakh's duplicate and twin checks as pure functions over fingerprints: similar_pairs on
// synthetic prints, decide_duplicates and decide_twins on hand-made pairs (no SoundFont, no render);
// the sample names of SoundFont presets and the sample leaks decided on them.
#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/render/fingerprint_similarity.h"
#include "instret/render/instrument_dedupe.h"
#include "instret/render/soundfont_samples.h"
#include "test_support.h"

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

// Issue 21: with a test split, splits come in run order train, valid, test: the test copy of a
// valid (or train) instrument is the one dropped, and the pair is a leak like a train/valid one.
TEST(InstrumentDedupe, TheTestSideOfALeakIsDroppedWhicheverSplitItCopies) {
  // 0 train; 1 valid; 2, 3 test. 2 copies 1 (valid/test leak), 3 copies 0 (train/test leak);
  // 1 and 3 are alike at the twin level (a near leak across valid and test).
  const std::vector<std::string> split = {"train", "valid", "test", "test"};
  const std::vector<SimilarPair> pairs = {pair(0, 3, 0.99), pair(1, 2, 0.985), pair(1, 3, 0.96)};
  const DuplicateDecision d = decide_duplicates(pairs, split, {0, 0, 0, 0}, 0.98, 0.95);
  EXPECT_EQ(d.kept, (std::vector<size_t>{0, 1}));
  ASSERT_EQ(d.duplicates.size(), 2u);
  EXPECT_EQ(d.duplicates[0].first, 2u);
  EXPECT_EQ(d.duplicates[0].second, &pairs[1]);
  EXPECT_EQ(d.duplicates[1].first, 3u);
  EXPECT_EQ(d.duplicates[1].second, &pairs[0]);
  EXPECT_EQ(d.leaks.size(), 2u);
  ASSERT_EQ(d.near_leaks.size(), 1u);
  EXPECT_EQ(d.near_leaks[0], &pairs[2]);
  // Twins are within one split: the test pair (2, 3) is a group, the cross-split pair is not.
  const DuplicateDecision none = decide_duplicates({}, split, {0, 0, 0, 0}, 0.98, 0.95);
  const std::vector<SimilarPair> twins = {pair(2, 3, 0.96), pair(1, 2, 0.97)};
  const TwinDecision t = decide_twins(twins, split, none, 0.95, "drop");
  ASSERT_EQ(t.groups.count("test"), 1u);
  EXPECT_EQ(t.groups.at("test")[0], (std::vector<size_t>{2, 3}));
  EXPECT_EQ(t.groups.count("valid"), 0u);
  EXPECT_EQ(t.stay, (std::vector<size_t>{0, 1, 2}));
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

// Issue 21: the sample names each preset plays, against an independent Python reader
// (scripts/golden/make_sf2_samples_golden.py), .sf3 files with unpadded odd chunks included.
TEST(SoundFontSamples, MatchThePythonReadersNames) {
  const Json golden = read_json_file(std::string(INSTRET_TEST_DATA_DIR) + "/sf2_preset_samples.json");
  for (const auto& [path, presets] : golden.items()) {
    const auto got = soundfont_preset_samples(path);
    for (const auto& [key, names] : presets.items()) {
      const int bank = std::stoi(key.substr(0, key.find(':'))), program = std::stoi(key.substr(key.find(':') + 1));
      ASSERT_TRUE(got.count({bank, program})) << path << " " << key;
      EXPECT_EQ(Json(got.at({bank, program})), names) << path << " " << key;
    }
  }
}

// Malformed files are a FormatError naming the file, never a crash or an endless loop: not RIFF,
// truncated, and 400 seeded mutations of the header tables of a real SoundFont (its RIFF header and
// pdta chunk alone, a valid SoundFont without audio).
TEST(SoundFontSamples, MalformedFilesAreFormatErrors) {
  const std::filesystem::path dir = test::scratch_dir("sf2_samples", true);
  const std::string font = read_file("/usr/share/sounds/sf2/TimGM6mb.sf2");
  const size_t list = font.rfind("LIST", font.rfind("pdta"));
  ASSERT_NE(list, std::string::npos);
  std::string small = font.substr(0, 12) + font.substr(list);
  const uint32_t riff = uint32_t(small.size() - 8);
  small.replace(4, 4, std::string(reinterpret_cast<const char*>(&riff), 4));
  const std::filesystem::path path = dir / "headers_only.sf2";
  write_file_atomically(path, small);
  const auto reference = soundfont_preset_samples("/usr/share/sounds/sf2/TimGM6mb.sf2");
  EXPECT_EQ(soundfont_preset_samples(path), reference);
  // A pdta whose declared size runs past the end of the file (FluidSynth plays it) is read to the end.
  {
    std::string longer = small;
    const uint32_t declared = uint32_t(small.size() - 12 - 8 + 1000);
    longer.replace(16, 4, std::string(reinterpret_cast<const char*>(&declared), 4));
    write_file_atomically(path, longer);
    EXPECT_EQ(soundfont_preset_samples(path), reference);
  }
  // A Latin-1 byte in a sample name comes back as UTF-8 (and so survives the JSON of summary.json).
  {
    std::string latin = small;
    const size_t shdr = latin.find("shdr") + 8;
    latin[shdr + 2] = char(0xFB);
    write_file_atomically(path, latin);
    bool found = false;
    for (const auto& [preset, names] : soundfont_preset_samples(path))
      for (const std::string& n : names) found = found || n.find("\xc3\xbb") != std::string::npos;
    EXPECT_TRUE(found);
    EXPECT_NO_THROW(Json(soundfont_preset_samples(path).begin()->second).dump());
  }
  for (const std::string& bytes : {std::string("RIFF\4\0\0\0WAVE"), small.substr(0, small.size() / 2), std::string()}) {
    write_file_atomically(path, bytes);
    EXPECT_NE(test::error_of<FormatError>([&] { soundfont_preset_samples(path); }).find(path.string()), std::string::npos);
  }
  std::mt19937_64 rng(21);
  int errors = 0;
  for (int k = 0; k < 400; ++k) {
    std::string bytes = small;
    for (int m = 0; m < 4; ++m) bytes[12 + rng() % (bytes.size() - 12)] = char(rng());
    write_file_atomically(path, bytes);
    try {
      soundfont_preset_samples(path);
    } catch (const FormatError&) {
      ++errors;
    }
  }
  EXPECT_GT(errors, 0);
  std::filesystem::remove_all(dir);
}

TEST(InstrumentDedupe, SampleLeaksNameTheFirstEarlierSplitInstrument) {
  // 0, 1 train; 2, 3 valid; 4, 5 test. 2 plays train's "b"; 3 plays only its own; 4 plays valid's "d"
  // and train's "a"; 5 plays "c", which only the dropped 2 played besides train's 1.
  const std::vector<std::string> split = {"train", "train", "valid", "valid", "test", "test"};
  const std::vector<std::vector<std::string>> samples = {{"a", "b"}, {"c"}, {"b", "x"}, {"d"}, {"a", "d"}, {"x"}};
  const std::vector<SampleLeak> leaks = sample_leaks(split, samples, true);
  ASSERT_EQ(leaks.size(), 2u);
  EXPECT_EQ(leaks[0].later, 2u);
  EXPECT_EQ(leaks[0].earlier, 0u);
  EXPECT_EQ(leaks[0].samples, (std::vector<std::string>{"b"}));
  EXPECT_EQ(leaks[1].later, 4u);
  EXPECT_EQ(leaks[1].earlier, 0u);
  EXPECT_EQ(leaks[1].samples, (std::vector<std::string>{"a", "d"}));
  // "x" came only from the leaking (dropped) valid instrument 2: test's 5 does not leak through it;
  // when leaking instruments are kept, it does.
  const std::vector<SampleLeak> kept = sample_leaks(split, samples, false);
  ASSERT_EQ(kept.size(), 3u);
  EXPECT_EQ(kept[2].later, 5u);
  EXPECT_EQ(kept[2].earlier, 2u);
  EXPECT_TRUE(sample_leaks({"train", "test"}, {{}, {}}, true).empty());
  EXPECT_THROW(sample_leaks(split, {}, true), UsageError);
}
