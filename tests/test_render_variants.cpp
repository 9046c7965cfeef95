// Issue 21 item 2: instrument variants (render/instrument_variants.h): the spec's validation, the
// seeded recipes, the EQ tilt's response, SoundFontBank's variant instruments and what render-nlakh
// does with them (train only, recorded in instruments.json, audibly distinct from their preset).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/render/instrument_variants.h"
#include "instret/render/nlakh.h"
#include "instret/render/nlakh_config.h"
#include "instret/render/soundfont_bank.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

const char* kTim = "/usr/share/sounds/sf2/TimGM6mb.sf2";

std::string usage_error(const Json& variants) {
  return test::error_of<UsageError>([&] { VariantSpec::from_json(variants); });
}

// Gain in dB of apply_eq_tilt(db) on a sine of `hz`, measured on its second half (past the transient).
double tilt_gain_db(double db, double hz) {
  const int64_t n = kSampleRate;
  std::vector<float> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) x[size_t(i)] = float(0.5 * std::sin(2.0 * M_PI * hz * double(i) / kSampleRate));
  std::vector<float> y = x;
  apply_eq_tilt(y.data(), n, db);
  double ex = 0, ey = 0;
  for (int64_t i = n / 2; i < n; ++i) {
    ex += double(x[size_t(i)]) * x[size_t(i)];
    ey += double(y[size_t(i)]) * y[size_t(i)];
  }
  return 10.0 * std::log10(ey / ex);
}

std::vector<float> render(const SoundFontBank& bank, size_t index) {
  std::vector<float> out(static_cast<size_t>(kSampleRate));
  bank.render(index, {{0.0, 0.4, 60, 90}, {0.5, 0.9, 67, 70}}, out.data(), kSampleRate);
  return out;
}

}  // namespace

TEST(InstrumentVariants, SpecDefaultsRoundTripAndBadValuesNameTheirKey) {
  const VariantSpec d = VariantSpec::from_json(nullptr);
  EXPECT_EQ(d.count, 0);
  EXPECT_EQ(d.ranges.size(), variant_parameters().size());
  const VariantSpec s = VariantSpec::from_json({{"count", 3}, {"seed", 9}, {"ranges", {{"eq_tilt_db", {-3, 3}}}}});
  EXPECT_EQ(s.count, 3);
  EXPECT_EQ(s.seed, 9u);
  EXPECT_EQ(s.ranges.at("eq_tilt_db"), std::make_pair(-3.0, 3.0));
  EXPECT_EQ(VariantSpec::from_json(s.to_json()).to_json(), s.to_json());
  EXPECT_NE(usage_error({{"count", 65}}).find("count"), std::string::npos);
  EXPECT_NE(usage_error({{"count", 1e12}}).find("banks[].variants"), std::string::npos);
  EXPECT_NE(usage_error({{"count", -1}}).find("count"), std::string::npos);
  EXPECT_NE(usage_error({{"seed", -1}}).find("seed"), std::string::npos);
  EXPECT_NE(usage_error({{"probability", 0}}).find("probability"), std::string::npos);
  EXPECT_NE(usage_error({{"ranges", {{"wobble", {0, 1}}}}}).find("wobble"), std::string::npos);
  EXPECT_NE(usage_error({{"ranges", {{"reverb", {100, 20}}}}}).find("reverb"), std::string::npos);
  EXPECT_NE(usage_error({{"ranges", {{"reverb", {0, 200}}}}}).find("reverb"), std::string::npos);
  EXPECT_NE(usage_error({{"ranges", {{"reverb", {0}}}}}).find("reverb"), std::string::npos);
  EXPECT_NE(usage_error({{"ranges", {{"velocity_gamma", {0.0, 2.0}}}}}).find("velocity_gamma"), std::string::npos);
  EXPECT_NE(usage_error(Json::array({1})).find("object"), std::string::npos);
}

TEST(InstrumentVariants, RecipesAreSeededInRangeAndNeverEmpty) {
  const VariantSpec spec = VariantSpec::from_json({{"count", 6}, {"seed", 3}});
  std::set<std::string> seen;
  for (int k = 1; k <= 50; ++k) {
    const VariantRecipe r = draw_variant(spec, "Font_000_024", k);
    EXPECT_EQ(r.to_json(), draw_variant(spec, "Font_000_024", k).to_json());  // the same every time
    EXPECT_FALSE(r.changes_nothing());
    EXPECT_EQ(VariantRecipe::from_json(r.to_json()).to_json(), r.to_json());
    const Json changes = r.to_json();
    seen.insert(changes.dump());
    for (const auto& [name, value] : changes.items()) {
      const auto [lo, hi] = spec.ranges.at(name);
      EXPECT_GE(value.get<double>(), lo - 0.5) << name;
      EXPECT_LE(value.get<double>(), hi + 0.5) << name;
    }
  }
  EXPECT_EQ(seen.size(), 50u);
  // Another seed or another preset gives other recipes.
  const VariantSpec other = VariantSpec::from_json({{"count", 6}, {"seed", 4}});
  EXPECT_NE(draw_variant(other, "Font_000_024", 1).to_json(), draw_variant(spec, "Font_000_024", 1).to_json());
  EXPECT_NE(draw_variant(spec, "Font_000_025", 1).to_json(), draw_variant(spec, "Font_000_024", 1).to_json());
  // probability 1 changes every parameter.
  const VariantSpec all = VariantSpec::from_json({{"count", 1}, {"probability", 1.0}});
  EXPECT_EQ(draw_variant(all, "x", 1).to_json().size(), variant_parameters().size());
  EXPECT_EQ(variant_id("Font_000_024", 3), "Font_000_024_v03");
  // Ranges that round to no change, or a probability that changes nothing, end in a UsageError.
  Json neutral = {{"count", 1}, {"ranges", Json::object()}};
  for (const VariantParameter& p : variant_parameters())
    neutral["ranges"][p.name] = std::string(p.name) == "velocity_gamma" ? Json::array({1.0, 1.0}) : Json::array({0, 0});
  neutral["ranges"]["formant_semitones"] = {-0.4, 0.4};
  EXPECT_NE(test::error_of<UsageError>([&] { draw_variant(VariantSpec::from_json(neutral), "x", 1); }).find("changed nothing"),
            std::string::npos);
  const VariantSpec rare = VariantSpec::from_json({{"count", 1}, {"probability", 1e-12}});
  EXPECT_NE(test::error_of<UsageError>([&] { draw_variant(rare, "x", 1); }).find("changed nothing"), std::string::npos);
}

TEST(InstrumentVariants, EqTiltIsAHighShelfAtOneKilohertz) {
  for (double db : {12.0, -12.0, 4.0}) {
    EXPECT_NEAR(tilt_gain_db(db, 60.0), 0.0, 0.2) << db;        // below the shelf: unchanged
    EXPECT_NEAR(tilt_gain_db(db, 7000.0), db, 0.6) << db;       // above it: the full gain
    EXPECT_NEAR(tilt_gain_db(db, 1000.0), db / 2.0, 1.0) << db;  // at the corner: half (in dB)
  }
  std::vector<float> x = {1.0f, 0.5f, -0.25f};
  apply_eq_tilt(x.data(), 3, 0.0);
  EXPECT_EQ(x, (std::vector<float>{1.0f, 0.5f, -0.25f}));
}

TEST(InstrumentVariants, SoundFontBankListsEachPresetThenItsVariantsAndRendersThemApart) {
  const VariantSpec spec = VariantSpec::from_json({{"count", 3}, {"seed", 1}});
  const SoundFontBank bank(kTim, BankFilter{{0, 73}, {0}, {}}, spec);
  const auto& list = bank.instruments();
  ASSERT_EQ(list.size(), 8u);
  EXPECT_EQ(list[0].id, "TimGM6mb_000_000");
  EXPECT_TRUE(list[0].variant_of.empty());
  for (int k = 1; k <= 3; ++k) {
    const Instrument& v = list[size_t(k)];
    EXPECT_EQ(v.id, variant_id("TimGM6mb_000_000", k));
    EXPECT_EQ(v.variant_of, "TimGM6mb_000_000");
    EXPECT_EQ(v.family, list[0].family);
    EXPECT_EQ(v.recipe, draw_variant(spec, "TimGM6mb_000_000", k).to_json());
    EXPECT_EQ(instrument_to_json(v)["variant_of"], "TimGM6mb_000_000");
    EXPECT_FALSE(instrument_to_json(list[0]).contains("recipe"));
  }
  EXPECT_EQ(list[4].id, "TimGM6mb_000_073");
  const std::vector<float> preset = render(bank, 0);
  for (size_t i = 1; i <= 3; ++i) {
    const std::vector<float> v = render(bank, i);
    EXPECT_EQ(v, render(bank, i)) << "a variant renders the same every time";
    double diff = 0, energy = 0;
    for (size_t t = 0; t < v.size(); ++t) {
      diff += std::fabs(double(v[t]) - preset[t]);
      energy += std::fabs(double(v[t]));
    }
    EXPECT_GT(diff, 0.05 * energy) << list[i].id << " sounds like its preset";
    // A formant shift s plays key p as the preset's key p - s.
    const int s = int(VariantRecipe::from_json(list[i].recipe).formant_semitones);
    for (int p = 0; p < 128; ++p)
      EXPECT_EQ(bank.has_pitch(i, p), p - s >= 0 && p - s < 128 && bank.has_pitch(0, p - s)) << p;
  }
}

TEST(InstrumentVariants, RenderNlakhMakesThemForTrainBanksOnly) {
  const fs::path root = test::scratch_dir("variants");
  fs::remove_all(root);
  Json c = nlakh_default_config();
  c["output"] = (root / "out").string();
  c["threads"] = 2;
  c["single"]["clips_per_instrument"] = 1;
  c["multi"]["train"] = 2;
  c["multi"]["valid"] = 0;
  c["twins"] = {{"threshold", 0.95}, {"policy", "drop"}};
  c["banks"] = Json::array({{{"type", "soundfont"}, {"path", kTim}, {"split", "train"}, {"programs", {0, 24, 40, 73}},
                             {"variants", {{"count", 2}, {"seed", 5}}}}});
  c["midi"]["sources"] = {"/usr/share/games/openttd/baseset/openmsx"};
  c["midi"]["valid_fraction"] = 0.0;
  const Json summary = render_nlakh(c);
  const Json instruments = read_json_file(root / "out" / "instruments.json");
  std::map<std::string, Json> by_id;
  for (const Json& i : instruments) by_id[i["id"].get<std::string>()] = i;
  int variants = 0;
  for (const Json& i : instruments) {
    if (!i.contains("variant_of")) continue;
    ++variants;
    EXPECT_EQ(i["split"], "train");
    EXPECT_TRUE(i["recipe"].is_object() && !i["recipe"].empty()) << i.dump();
  }
  // 4 presets x 2 variants, less any the twin check dropped as sounding like another instrument.
  const size_t dropped = summary["twins"]["dropped"].size() + summary["duplicates_dropped"].size();
  EXPECT_EQ(instruments.size() + dropped + summary["silent_dropped"].size(), 12u) << summary.dump();
  EXPECT_GE(variants, 6) << summary["twins"].dump();
  // No two instruments in the dataset are twins: every kept variant differs audibly from its preset.
  for (const Json& p : summary["twins"]["train"]["pairs"])
    EXPECT_FALSE(by_id.count(p["first"].get<std::string>()) && by_id.count(p["second"].get<std::string>())) << p.dump();
  EXPECT_EQ(summary["splits"]["train"]["single_clips"].get<int>(), int(instruments.size()));

  // Variants of a valid or test bank, or of an NSynth bank, are refused before anything is written.
  for (const char* split : {"valid", "test"}) {
    Json bad = c;
    bad["output"] = (root / split).string();
    bad["banks"][0]["split"] = split;
    const std::string msg = test::error_of<UsageError>([&] { render_nlakh(bad); });
    EXPECT_NE(msg.find("only train banks"), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(root / split));
  }
  Json bad = c;
  bad["banks"][0]["variants"]["count"] = 1000;
  EXPECT_NE(test::error_of<UsageError>([&] { render_nlakh(bad); }).find("variants.count"), std::string::npos);
  fs::remove_all(root);
}
