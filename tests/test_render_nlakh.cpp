// render-nlakh end to end on Debian SoundFonts and MIDI files (a small config and the embedded
// default recipe with small counts): layout and manifests, audio format, family labels, mix =
// normalised sum of stems, byte-identical output across threads, sharding and resume, the NSynth
// path (bank made by render-notes), near-duplicate presets, twin presets, and clear errors.
#include <gtest/gtest.h>

#include <sys/stat.h>
#include <unistd.h>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "instret/audio/io.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/render/midi_corpus.h"
#include "instret/render/nlakh.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/render/note_bank_writer.h"
#include "instret/midi/family.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

const fs::path kRoot = test::scratch_dir("nlakh");

Json base_config(const std::string& out) {
  Json c = nlakh_default_config();
  c["seed"] = 11;
  c["output"] = (kRoot / out).string();
  c["threads"] = 2;
  c["single"]["clips_per_instrument"] = 2;
  c["multi"]["train"] = 4;
  c["multi"]["valid"] = 2;
  c["banks"] = Json::array({{{"type", "soundfont"}, {"path", "/usr/share/sounds/sf2/TimGM6mb.sf2"}, {"split", "train"},
                             {"programs", {0, 24, 33, 40, 56, 73}}},
                            {{"type", "soundfont"}, {"path", "/usr/share/sounds/sf2/sf_GMbank.sf2"}, {"split", "valid"},
                             {"programs", {0, 24, 33, 40, 56, 73}}, {"sf_banks", {0}}}});
  c["midi"]["sources"] = {"/usr/share/games/openttd/baseset/openmsx"};
  c["midi"]["valid_fraction"] = 0.3;
  return c;
}

// Every file under `dir` (relative path -> bytes).
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) files[fs::relative(e.path(), dir).string()] = read_file(e.path());
  return files;
}

std::vector<Json> read_jsonl(const fs::path& path) {
  std::vector<Json> rows;
  std::istringstream in(read_file(path));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) rows.push_back(Json::parse(line));
  return rows;
}

void expect_same_tree(const fs::path& a, const fs::path& b) {
  const auto x = snapshot(a), y = snapshot(b);
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [path, bytes] : x) {
    auto it = y.find(path);
    ASSERT_NE(it, y.end()) << path;
    EXPECT_TRUE(it->second == bytes) << path << " differs";
  }
}

int run_tool(const std::string& args) {
  const std::string cmd = std::string(INSTRET_BIN_DIR) + "/render-nlakh " + args + " > /dev/null 2> " +
                          (kRoot / "stderr.txt").string();
  return test::run_command(cmd).code;
}

// Checks a rendered dataset: files present, every instrument's family from its GM program,
// manifests consistent with the summary and with instruments.json (split, family), each clip's
// MIDI file in the clip's split, track programs mapping to the labelled family, minimum note
// counts, 80,000-sample 16 kHz mono audio, and every mix equal to the sum of its stems.
void check_dataset(const fs::path& out, const Json& summary, double valid_fraction, double test_fraction = 0.0) {
  for (const char* f : {"instruments.json", "summary.json", "config.json", "single_train.jsonl", "single_valid.jsonl",
                        "single_test.jsonl", "multi_train.jsonl", "multi_valid.jsonl", "multi_test.jsonl"})
    EXPECT_TRUE(fs::exists(out / f)) << f;
  std::map<std::string, Json> instruments;
  for (const Json& i : read_json_file(out / "instruments.json")) instruments[i["id"].get<std::string>()] = i;
  for (const auto& [id, i] : instruments)
    EXPECT_EQ(family_index(i["family"].get<std::string>()), gm_program_family(i["program"].get<int>()));
  for (const char* split : {"train", "valid", "test"}) {
    if (summary["splits"][split]["instruments"] == 0) continue;  // a split without banks
    const auto singles = read_jsonl(out / (std::string("single_") + split + ".jsonl"));
    EXPECT_EQ(int64_t(singles.size()), summary["splits"][split]["single_clips"].get<int64_t>());
    EXPECT_GE(singles.size(), 1u) << split;
    for (const Json& r : singles) {
      const Json& inst = instruments.at(r["instrument"].get<std::string>());
      EXPECT_EQ(inst["split"], split);
      EXPECT_EQ(r["family"], inst["family"]);
      // The MIDI track's GM program maps to the clip's family.
      EXPECT_EQ(family_names()[size_t(gm_program_family(r["program"].get<int>()))], r["family"].get<std::string>());
      EXPECT_GE(r["notes"].get<int>(), 4);
      EXPECT_EQ(content_split(read_file(r["midi"].get<std::string>()), valid_fraction, test_fraction), split) << r["midi"];
      const AudioInfo info = audio_info(out / r["path"].get<std::string>());
      EXPECT_EQ(info.frames, 80000);
      EXPECT_EQ(info.sample_rate, 16000);
      EXPECT_EQ(info.channels, 1);
    }
    const auto multis = read_jsonl(out / (std::string("multi_") + split + ".jsonl"));
    EXPECT_EQ(int64_t(multis.size()), summary["splits"][split]["multi_mixtures"].get<int64_t>());
    EXPECT_GE(multis.size(), 1u) << split;
    for (const Json& r : multis) {
      const std::vector<float> mix = read_audio(out / r["path"].get<std::string>());
      ASSERT_EQ(mix.size(), 80000u);
      ASSERT_GE(r["stems"].size(), 2u);
      EXPECT_EQ(content_split(read_file(r["midi"].get<std::string>()), valid_fraction, test_fraction), split) << r["midi"];
      std::vector<double> sum(mix.size(), 0.0);
      double peak = 0.0;  // of the mix and the stems: the normalisation makes it 1
      for (const Json& s : r["stems"]) {
        const Json& inst = instruments.at(s["instrument"].get<std::string>());
        EXPECT_EQ(inst["split"], split);
        EXPECT_EQ(s["family"], inst["family"]);
        EXPECT_EQ(family_names()[size_t(gm_program_family(s["program"].get<int>()))], s["family"].get<std::string>());
        EXPECT_GE(s["notes"].get<int>(), 3);
        const std::vector<float> stem = read_audio(out / s["path"].get<std::string>());
        ASSERT_EQ(stem.size(), mix.size());
        for (size_t i = 0; i < mix.size(); ++i) {
          sum[i] += stem[i];
          peak = std::max(peak, double(std::fabs(stem[i])));
        }
      }
      // mix = sum(stems) / peak, stems scaled alike: equal up to half an LSB per file; the largest
      // magnitude over the mix and its stems is 1.
      const double tolerance = (double(r["stems"].size()) + 1.0) * 0.5 / 32768.0 + 1e-9;
      double worst = 0.0;
      for (size_t i = 0; i < mix.size(); ++i) {
        worst = std::max(worst, std::fabs(sum[i] - mix[i]));
        peak = std::max(peak, double(std::fabs(mix[i])));
      }
      EXPECT_LE(worst, tolerance) << r["path"];
      EXPECT_NEAR(peak, 1.0, 1.5 / 32768.0);
    }
  }
}

class RenderNlakh : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    fs::remove_all(kRoot);
    fs::create_directories(kRoot);
    summary_ = render_nlakh(base_config("full"));
  }
  static void TearDownTestSuite() { fs::remove_all(kRoot); }
  static Json summary_;
};
Json RenderNlakh::summary_;

}  // namespace

TEST_F(RenderNlakh, LayoutManifestsAudioAndLabels) {
  const fs::path out = kRoot / "full";
  const Json instruments = read_json_file(out / "instruments.json");
  // 6 GM programs from each SoundFont, bank 0 only for sf_GMbank, less sf_GMbank's nylon guitar (24):
  // TimGM6mb's shifted by 2 samples (similarity 0.984), dropped as a train/valid duplicate.
  ASSERT_EQ(instruments.size(), 11u);
  for (const Json& i : instruments)
    EXPECT_EQ(i["split"], i["id"].get<std::string>().rfind("TimGM6mb", 0) == 0 ? "train" : "valid");
  EXPECT_EQ(summary_["splits"]["train"]["single_clips"], 12);
  EXPECT_EQ(summary_["splits"]["valid"]["single_clips"], 10);
  ASSERT_EQ(summary_["cross_split_similar"].size(), 1u);
  EXPECT_EQ(summary_["cross_split_similar"][0]["valid"], "sf_GMbank_000_024");
  EXPECT_EQ(summary_["splits"]["test"]["instruments"], 0);
  EXPECT_EQ(read_file(out / "single_test.jsonl"), "");
  EXPECT_EQ(summary_["splits"]["train"]["multi_mixtures"], 4);
  EXPECT_EQ(summary_["splits"]["valid"]["multi_mixtures"], 2);
  check_dataset(out, summary_, 0.3);
}

// Train/valid pairs similar at the twin level but below dedupe_correlation are listed, with both
// sides kept (here one pair among the six programs of TimGM6mb and sf_GMbank).
TEST_F(RenderNlakh, TrainValidPairsAtTheTwinLevelAreListedAndKept) {
  const Json& near = summary_["cross_split_twins"];
  ASSERT_EQ(near.size(), 1u) << near.dump();
  std::map<std::string, std::string> split_of;
  for (const Json& i : read_json_file(kRoot / "full" / "instruments.json")) split_of[i["id"]] = i["split"];
  for (const Json& p : near) {
    EXPECT_GE(p["correlation"].get<double>(), 0.95) << p.dump();
    EXPECT_LT(p["correlation"].get<double>(), 0.98) << p.dump();
    EXPECT_EQ(split_of[p["train"].get<std::string>()], "train") << p.dump();
    EXPECT_EQ(split_of[p["valid"].get<std::string>()], "valid") << p.dump();
  }
}

TEST_F(RenderNlakh, EmbeddedDefaultRecipeWithSmallCounts) {
  // configs/nlakh_default.json as shipped (Debian SoundFonts and MIDI files), with small counts.
  const fs::path out = kRoot / "default";
  const Json config = load_config(nlakh_default_config(), std::string(INSTRET_SOURCE_DIR) + "/configs/nlakh_default.json",
                                  {"output=" + out.string(), "threads=2", "single.clips_per_instrument=1",
                                   "multi.train=6", "multi.valid=3", "multi.test=4"});
  const Json summary = render_nlakh(config);
  for (const char* split : {"train", "valid", "test"}) {
    const Json& s = summary["splits"][split];
    EXPECT_GE(s["instruments"].get<int>(), 100) << split;
    EXPECT_EQ(s["single_clips"], s["instruments"]) << split;
    EXPECT_EQ(s["multi_mixtures"], split == std::string("train") ? 6 : split == std::string("valid") ? 3 : 4);
    for (const std::string& family : family_names()) EXPECT_GE(s["families"][family]["instruments"].get<int>(), 1) << family;
    EXPECT_GE(summary["midi_files"][split].get<int>(), 20) << split;
  }
  // Whole SoundFonts per split: train FluidR3 + MuseScore General + OPL3 FM, valid TimGM6mb + sf_GMbank, test
  // GeneralUser GS.
  const std::map<std::string, std::string> split_of_file = {
      {"FluidR3_GM.sf2", "train"}, {"MuseScore_General.sf3", "train"}, {"OPL-3_FM_128M.sf2", "train"},
      {"TimGM6mb.sf2", "valid"},   {"sf_GMbank.sf2", "valid"},         {"GeneralUser-v1.47.sf2", "test"}};
  std::set<std::string> files;
  for (const Json& i : read_json_file(out / "instruments.json")) {
    const std::string file = fs::path(i["file"].get<std::string>()).filename().string();
    files.insert(file);
    ASSERT_TRUE(split_of_file.count(file)) << file;
    EXPECT_EQ(i["split"], split_of_file.at(file)) << file;
  }
  EXPECT_EQ(files.size(), split_of_file.size());  // every SoundFont gives instruments
  EXPECT_GE(summary["midi_files"]["train"].get<int>() + summary["midi_files"]["valid"].get<int>() +
                summary["midi_files"]["test"].get<int>(),
            150);
  // Issue 12: the within-split twins are listed (among them TimGM6mb's and sf_GMbank's Shamisen), and
  // the recipe's policy drop keeps one of each group: no listed pair has both members in the dataset.
  EXPECT_EQ(summary["twins"]["policy"], "drop");
  std::set<std::string> kept;
  for (const Json& i : read_json_file(out / "instruments.json")) kept.insert(i["id"].get<std::string>());
  bool shamisen = false;
  for (const char* split : {"train", "valid", "test"})
    for (const Json& p : summary["twins"][split]["pairs"]) {
      EXPECT_GE(p["correlation"].get<double>(), 0.95);
      EXPECT_FALSE(kept.count(p["first"].get<std::string>()) && kept.count(p["second"].get<std::string>())) << p.dump();
      shamisen = shamisen || (p["first"] == "TimGM6mb_000_106" && p["second"] == "sf_GMbank_000_106");
    }
  EXPECT_TRUE(shamisen) << summary["twins"].dump();
  EXPECT_GE(summary["twins"]["dropped"].size(), 10u);
  // Train/valid pairs at the twin level but below the duplicate level are listed, and both sides kept.
  ASSERT_TRUE(summary["cross_split_twins"].is_array());
  for (const Json& p : summary["cross_split_twins"]) {
    EXPECT_GE(p["correlation"].get<double>(), 0.95) << p.dump();
    EXPECT_LT(p["correlation"].get<double>(), 0.98) << p.dump();
  }
  check_dataset(out, summary, 0.15, 0.15);
}

TEST_F(RenderNlakh, TinyRecipe) {
  const fs::path out = kRoot / "tiny";
  const Json config = load_config(nlakh_default_config(), std::string(INSTRET_SOURCE_DIR) + "/configs/nlakh_tiny.json",
                                  {"output=" + out.string(), "threads=2"});
  const Json summary = render_nlakh(config);
  EXPECT_EQ(summary["splits"]["train"]["instruments"], 8);
  EXPECT_EQ(summary["splits"]["train"]["multi_mixtures"], 6);
  EXPECT_EQ(summary["splits"]["valid"]["multi_mixtures"], 3);
  EXPECT_EQ(summary["splits"]["test"]["multi_mixtures"], 3);
  EXPECT_GE(summary["splits"]["test"]["instruments"].get<int>(), 4);
  check_dataset(out, summary, 0.25, 0.25);
}

TEST_F(RenderNlakh, SameSeedSameBytesAcrossThreadsShardsAndResume) {
  // One thread instead of two.
  Json one = base_config("one_thread");
  one["threads"] = 1;
  render_nlakh(one);
  expect_same_tree(kRoot / "full", kRoot / "one_thread");
  // Two shards into one folder, then the manifests rebuilt.
  Json shard = base_config("sharded");
  shard["shard"]["count"] = 2;
  render_nlakh(shard);
  shard["shard"]["index"] = 1;
  render_nlakh(shard);
  expect_same_tree(kRoot / "full", kRoot / "sharded");
  // An interrupted run (only shard 0 of 3 done, one clip's record lost before it was written),
  // resumed: the same bytes, and finished clips are not redone.
  Json part = base_config("resumed");
  part["shard"]["count"] = 3;
  render_nlakh(part);
  const fs::path resumed = kRoot / "resumed";
  const auto first = read_jsonl(resumed / "single_train.jsonl").at(0);
  const fs::path kept = resumed / first["path"].get<std::string>();
  const auto kept_time = fs::last_write_time(kept);
  fs::path record;  // a mixture that shard 0 rendered
  for (int j = 0; j < 3 && record.empty(); ++j)
    if (fs::exists(resumed / ("multi/train/00000" + std::to_string(j) + "/record.json")))
      record = resumed / ("multi/train/00000" + std::to_string(j) + "/record.json");
  ASSERT_FALSE(record.empty());
  fs::remove(record);
  fs::remove(resumed / "summary.json");
  render_nlakh(base_config("resumed"));
  expect_same_tree(kRoot / "full", resumed);
  EXPECT_TRUE(fs::last_write_time(kept) == kept_time);
  // Resuming into the folder with another config is refused (its finished clips would be mixed in).
  Json changed = base_config("resumed");
  changed["single"]["min_notes"] = 5;
  EXPECT_THROW(render_nlakh(changed), UsageError);
  // Another seed gives other clips.
  Json other = base_config("other_seed");
  other["seed"] = 12;
  render_nlakh(other);
  EXPECT_NE(read_file(kRoot / "other_seed" / "single_train.jsonl"), read_file(kRoot / "full" / "single_train.jsonl"));
}

TEST_F(RenderNlakh, NsynthBankMadeByRenderNotes) {
  Json notes = note_bank_default_config();
  notes["soundfonts"] = {"/usr/share/sounds/sf2/TimGM6mb.sf2"};
  notes["output"] = (kRoot / "nsynth").string();
  notes["programs"] = {0, 33};
  notes["pitch_min"] = 28;
  notes["pitch_max"] = 84;
  notes["velocities"] = {60, 110};
  notes["threads"] = 2;
  write_note_bank(notes);
  Json c = base_config("from_nsynth");
  c["banks"][0] = {{"type", "nsynth"}, {"path", (kRoot / "nsynth").string()}, {"split", "train"}};
  c["multi"]["valid"] = 0;
  const Json summary = render_nlakh(c);
  EXPECT_EQ(summary["splits"]["train"]["instruments"], 2);
  const auto singles = read_jsonl(kRoot / "from_nsynth" / "single_train.jsonl");
  ASSERT_EQ(singles.size(), 4u);
  std::set<std::string> ids;
  for (const Json& r : singles) {
    ids.insert(r["instrument"].get<std::string>());
    EXPECT_EQ(audio_info(kRoot / "from_nsynth" / r["path"].get<std::string>()).frames, 80000);
  }
  EXPECT_EQ(ids, (std::set<std::string>{"bass_synthetic_001", "keyboard_synthetic_000"}));
  const auto multis = read_jsonl(kRoot / "from_nsynth" / "multi_train.jsonl");
  ASSERT_GE(multis.size(), 1u);
  for (const Json& r : multis)
    for (const Json& s : r["stems"]) EXPECT_TRUE(ids.count(s["instrument"].get<std::string>()));
}

TEST_F(RenderNlakh, NearDuplicatePresetsAreDroppedFromTheLaterSide) {
  // sf_GMbank's presets 4, 5, 6 share TimGM6mb's samples (same sample names and lengths in both
  // files' shdr chunks); its piano (0) does not.
  Json c = base_config("dedupe");
  c["single"]["clips_per_instrument"] = 0;
  c["multi"]["train"] = 0;
  c["multi"]["valid"] = 0;
  c["banks"][0]["programs"] = {4, 5, 6};
  c["banks"][1]["programs"] = {0, 4, 5, 6};
  const Json summary = render_nlakh(c);
  const Json& dropped = summary["duplicates_dropped"];
  ASSERT_EQ(dropped.size(), 3u);
  for (const Json& d : dropped) {
    const std::string id = d["id"].get<std::string>(), same = d["same_as"].get<std::string>();
    EXPECT_EQ(id.substr(0, 10), "sf_GMbank_");
    EXPECT_EQ(same, "TimGM6mb_" + id.substr(10));
    EXPECT_GE(d["correlation"].get<double>(), 0.98);
  }
  const Json instruments = read_json_file(kRoot / "dedupe" / "instruments.json");
  ASSERT_EQ(instruments.size(), 4u);
  EXPECT_EQ(instruments[3]["id"], "sf_GMbank_000_000");
  c["dedupe_correlation"] = 0.0;
  c["output"] = (kRoot / "no_dedupe").string();
  EXPECT_EQ(render_nlakh(c)["splits"]["valid"]["instruments"], 4);
}

TEST_F(RenderNlakh, BadInputsGiveClearErrorsAndExitCodes) {
  const fs::path cfg = kRoot / "bad.json";
  auto stderr_text = [] { return read_file(kRoot / "stderr.txt"); };
  Json c = base_config("bad");
  c["banks"][0]["path"] = "/nonexistent/missing.sf2";
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 1);
  EXPECT_NE(stderr_text().find("missing.sf2"), std::string::npos);

  fs::create_directories(kRoot / "bad_nsynth" / "audio");
  write_file_atomically(kRoot / "bad_nsynth" / "examples.json", "{ not json");
  c = base_config("bad");
  c["banks"][0] = {{"type", "nsynth"}, {"path", (kRoot / "bad_nsynth").string()}, {"split", "train"}};
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 1);
  EXPECT_NE(stderr_text().find("examples.json"), std::string::npos);

  write_file_atomically(kRoot / "bad_nsynth" / "examples.json",
                        R"({"x-060-100": {"instrument_str": "x", "instrument_family_str": "bass", "pitch": 60, "velocity": 100}})");
  EXPECT_EQ(run_tool("-c " + cfg.string()), 1);
  EXPECT_NE(stderr_text().find("x-060-100.wav"), std::string::npos);

  // Only corrupt MIDI files: each is reported, then the run stops with a usage error.
  fs::create_directories(kRoot / "bad_midi");
  write_file_atomically(kRoot / "bad_midi" / "broken.mid", "MThd\0\0\0\6\0\1\0\1");
  c = base_config("bad");
  c["midi"]["sources"] = {(kRoot / "bad_midi").string()};
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 2);
  EXPECT_NE(stderr_text().find("broken.mid"), std::string::npos);

  EXPECT_EQ(run_tool("-c " + cfg.string() + " --set single.nonsense=1"), 2);
  EXPECT_EQ(run_tool("-c " + cfg.string() + " --shard 3"), 2);
  c = base_config("bad");
  c["banks"][0]["split"] = "holdout";
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 2);
  EXPECT_NE(stderr_text().find("train, valid or test"), std::string::npos) << stderr_text();
  // A test bank without test MIDI files (midi.test_fraction 0) could render nothing: refused.
  c = base_config("bad_test_midi");
  c["banks"].push_back({{"type", "soundfont"}, {"path", "/usr/share/sounds/sf2/sf_GMbank.sf2"}, {"split", "test"},
                        {"programs", {19}}, {"sf_banks", {0}}});  // an organ: no train or valid copy
  EXPECT_NE(test::error_of<UsageError>([&] { render_nlakh(c); }).find("no MIDI file"), std::string::npos);
  c["midi"]["test_fraction"] = 0.8;  // with valid_fraction 0.3: more than all files
  EXPECT_NE(test::error_of<UsageError>([&] { render_nlakh(c); }).find("test_fraction"), std::string::npos);
  EXPECT_FALSE(fs::exists(kRoot / "bad_test_midi"));
  // A zero silence threshold would pass silent clips on to a division by their zero peak.
  c = base_config("bad_silence");
  c["silence_peak"] = 0.0;
  EXPECT_THROW(render_nlakh(c), UsageError);
  EXPECT_FALSE(fs::exists(kRoot / "bad_silence"));
}

// Issue 11 items 1-2: a killed run's temporary files are removed (a live process's are kept); a
// record whose audio is deleted or cut short is not trusted: the manifests leave it out and a rerun
// renders it again, byte-identical to the first render.
TEST(RenderNlakhHostile, ResumeChecksAudioFilesAndRemovesStaleTemporaries) {
  Json c = base_config("resume_files");
  c["single"]["clips_per_instrument"] = 1;
  c["multi"]["train"] = 1;
  c["multi"]["valid"] = 1;
  const fs::path out = c["output"].get<std::string>();
  fs::remove_all(out);
  render_nlakh(c);
  const auto before = snapshot(out);
  const auto singles = read_jsonl(out / "single_train.jsonl");
  const auto multis = read_jsonl(out / "multi_train.jsonl");
  ASSERT_FALSE(singles.empty());
  ASSERT_FALSE(multis.empty());
  for (const auto& [path, bytes] : before)
    if (path.size() > 4 && path.substr(path.size() - 4) == ".wav") EXPECT_EQ(bytes.size(), 44u + 2u * 80000u) << path;
  const std::string gone = singles[0]["path"].get<std::string>();
  const std::string cut = multis[0]["stems"][0]["path"].get<std::string>();
  fs::remove(out / gone);
  fs::resize_file(out / cut, 16384);
  // A dead process's temporary file (its pid has exited) and a live one's (a sleeping child).
  const std::string dead = test::run_command("sh -c 'echo $$'").output;
  const std::string live = test::run_command("sleep 120 > /dev/null 2>&1 & echo $!").output;
  ASSERT_FALSE(dead.empty());
  ASSERT_FALSE(live.empty());
  const fs::path dead_tmp = out / (gone + ".tmp." + std::to_string(std::stol(dead)) + ".0");
  const fs::path live_tmp = out / ("summary.json.tmp." + std::to_string(std::stol(live)) + ".3");
  std::ofstream(dead_tmp) << "half a wav";
  std::ofstream(live_tmp) << "being written";

  render_nlakh(c, /*manifests_only=*/true);
  EXPECT_FALSE(fs::exists(dead_tmp));
  EXPECT_TRUE(fs::exists(live_tmp));
  EXPECT_EQ(read_file(out / "single_train.jsonl").find(gone), std::string::npos);
  EXPECT_EQ(read_file(out / "multi_train.jsonl").find(cut), std::string::npos);
  EXPECT_EQ(read_json_file(out / "summary.json")["splits"]["train"]["missing"].get<int>(), 2);

  render_nlakh(c);
  test::run_command("kill " + std::to_string(std::stol(live)));
  EXPECT_TRUE(fs::exists(live_tmp));
  fs::remove(live_tmp);
  const auto after = snapshot(out);
  EXPECT_EQ(after.size(), before.size());
  for (const auto& [path, bytes] : before) {
    auto it = after.find(path);
    ASSERT_NE(it, after.end()) << path;
    EXPECT_TRUE(it->second == bytes) << path << " differs";
  }
}

// Issue 11 items 5-6: a bank or split without instruments is a usage error (exit 2), not an empty
// dataset; numbers are parsed strictly (no wrapping, no trailing garbage).
TEST(RenderNlakhHostile, EmptyBanksAndWrappingNumbersAreUsageErrors) {
  const fs::path cfg = kRoot / "hostile_numbers.json";
  auto stderr_text = [] { return read_file(kRoot / "stderr.txt"); };
  // A SoundFont filtered to nothing.
  Json c = base_config("hostile_empty");
  c["banks"][1]["programs"] = {0};
  c["banks"][1]["families"] = {"synth_lead"};  // program 0 is a keyboard: nothing left
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 2);
  EXPECT_NE(stderr_text().find("sf_GMbank.sf2 yields no instruments"), std::string::npos) << stderr_text();
  // An empty examples.json.
  fs::create_directories(kRoot / "empty_nsynth" / "audio");
  write_file_atomically(kRoot / "empty_nsynth" / "examples.json", "{}");
  c = base_config("hostile_empty");
  c["banks"][0] = {{"type", "nsynth"}, {"path", (kRoot / "empty_nsynth").string()}, {"split", "train"}};
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 2);
  EXPECT_NE(stderr_text().find("yields no instruments"), std::string::npos) << stderr_text();
  // No valid bank while valid mixtures are asked for.
  c = base_config("hostile_empty");
  c["banks"] = Json::array({c["banks"][0]});
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 2);
  EXPECT_NE(stderr_text().find("split 'valid' has no instruments"), std::string::npos) << stderr_text();
  EXPECT_FALSE(fs::exists(kRoot / "hostile_empty" / "single_train.jsonl"));

  // A pitch of 2^32+60 does not wrap to 60.
  fs::create_directories(kRoot / "wrap_nsynth" / "audio");
  write_file_atomically(kRoot / "wrap_nsynth" / "examples.json",
                        R"({"x-060-100": {"instrument_str": "x", "instrument_family_str": "bass", "pitch": 4294967356, "velocity": 100}})");
  c = base_config("hostile_wrap");
  c["banks"][0] = {{"type", "nsynth"}, {"path", (kRoot / "wrap_nsynth").string()}, {"split", "train"}};
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string()), 1);
  EXPECT_NE(stderr_text().find("pitch or velocity out of 0..127"), std::string::npos) << stderr_text();
  // seed -1 and sloppy shards.
  c = base_config("hostile_seed");
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string() + " --set seed=-1"), 2);
  EXPECT_NE(stderr_text().find("seed must be an integer in 0..2^64-1"), std::string::npos) << stderr_text();
  for (const char* shard : {"0/2x", "1.5/2", "-0/2", "0/", "/2", "0/ 2"}) {
    EXPECT_EQ(run_tool("-c " + cfg.string() + " --shard '" + shard + "'"), 2) << shard;
    EXPECT_NE(stderr_text().find("--shard must be i/n"), std::string::npos) << shard << stderr_text();
  }
  EXPECT_FALSE(fs::exists(kRoot / "hostile_seed"));
}

// Issue 23, defect 4: an NSynth bank whose examples.json is a FIFO (or a link to /dev/zero) is
// refused at once (exit 1), not waited on or read for ever.
TEST(RenderNlakhHostile, NonRegularExamplesJsonIsRefusedAtOnce) {
  const fs::path cfg = kRoot / "hostile_fifo.json";
  for (const std::string kind : {"fifo", "zero"}) {
    const fs::path bank = kRoot / ("nsynth_" + kind);
    fs::remove_all(bank);
    fs::create_directories(bank / "audio");
    if (kind == "fifo")
      ASSERT_EQ(::mkfifo((bank / "examples.json").c_str(), 0600), 0);
    else
      fs::create_symlink("/dev/zero", bank / "examples.json");
    Json c = base_config("hostile_fifo");
    c["banks"][0] = {{"type", "nsynth"}, {"path", bank.string()}, {"split", "train"}};
    write_json_file(cfg, c);
    const std::string cmd = "timeout 30 " + std::string(INSTRET_BIN_DIR) + "/render-nlakh -c " + cfg.string() +
                            " --manifests-only 2>&1 >/dev/null";
    const auto r = test::run_command(cmd);
    EXPECT_EQ(r.code, 1) << kind << ": " << r.output;
    EXPECT_NE(r.output.find((bank / "examples.json").string() + ": not a regular file"), std::string::npos)
        << r.output;
  }
  EXPECT_FALSE(fs::exists(kRoot / "hostile_fifo" / "single_train.jsonl"));
}

// Issue 23, defect 2: a count setting of 2^32+2 (or 1e8) used to allocate a task per clip until the
// OOM killer ended the run at 24 GB. Every count and size setting is bounded before anything is
// allocated: exit 2 with the setting named, in bounded memory (the address-space limit turns a
// regression into a failure here rather than into the OOM killer).
TEST(RenderNlakhHostile, CountSettingsAreBoundedBeforeAllocating) {
  const fs::path cfg = kRoot / "hostile_counts.json";
  write_json_file(cfg, base_config("hostile_counts"));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--set single.clips_per_instrument=4294967298", "single.clips_per_instrument is 4294967298, more than"},
      {"--set single.clips_per_instrument=1e8", "single.clips_per_instrument is 100000000, more than"},
      {"--set multi.train=100000000", "multi.train is 100000000, more than"},
      {"--set multi.valid=4294967298", "multi.valid is 4294967298, more than"},
      {"--set single.clips_per_instrument=5000000", " instruments x 5000000 single clips, 4 + 2 + 0 mixtures), more than"},
      {"--set clip_seconds=1e9", "clip_seconds must be at most 600"},
      {"-j 100000", "threads must be at most 1024, not 100000"}};
  for (const auto& [args, want] : cases) {
    const auto r = test::run_command("ulimit -v 6000000; /usr/bin/time -f 'rss %M' " + std::string(INSTRET_BIN_DIR) +
                                     "/render-nlakh -c " + cfg.string() + " " + args + " --manifests-only 2>&1 >/dev/null");
    EXPECT_EQ(r.code, 2) << args << ": " << r.output;
    EXPECT_NE(r.output.find(want), std::string::npos) << args << ": " << r.output;
    const auto at = r.output.rfind("rss ");
    ASSERT_NE(at, std::string::npos) << r.output;
    EXPECT_LT(std::stol(r.output.substr(at + 4)), 1000000) << args << ": peak RSS in KiB";
  }
  EXPECT_FALSE(fs::exists(kRoot / "hostile_counts" / "single_train.jsonl"));
}

// Issue 23, defect 8: a MIDI file named with a newline, a fake "[critical]" log line and an escape
// sequence writes one log line with the name quoted and escaped, not a forged second line, and no
// control character reaches the terminal.
TEST(RenderNlakhHostile, FileNamesCannotForgeLogLines) {
  const fs::path src = kRoot / "forged_names";
  fs::remove_all(src);
  fs::create_directories(src);
  fs::copy_file("/usr/share/doc/mma/examples/misc/voicing.mid", src / "voicing.mid");
  const std::string name = "x\n[00:00:00.000] [critical] forged\x1b[31m\r.mid";
  write_file_atomically(src / name, "MThd garbage");
  Json c = base_config("forged");
  c["midi"]["sources"] = {src.string()};
  c["multi"]["valid"] = 0;
  const fs::path cfg = kRoot / "forged.json";
  write_json_file(cfg, c);
  const auto r = test::run_command(std::string(INSTRET_BIN_DIR) + "/render-nlakh -c " + cfg.string() +
                                   " --manifests-only 2>&1 >/dev/null");
  EXPECT_EQ(r.output.find("\n[00:00:00.000] [critical]"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\x1b'), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find('\r'), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("skipping MIDI file: '" + src.string() +
                          "/x\\x0a[00:00:00.000] [critical] forged\\x1b[31m\\x0d.mid': "),
            std::string::npos)
      << r.output;
}

// Issue 11 item 3: the inputs are fingerprinted: a MIDI file added between two shards of one
// dataset is refused (it would change clips compared with a fresh render), like a changed config.
TEST(RenderNlakhHostile, ChangedInputsBetweenShardsAreRefused) {
  const fs::path src = kRoot / "fingerprint_midi";
  fs::remove_all(src);
  fs::create_directories(src);
  for (const auto& e : fs::directory_iterator("/usr/share/games/openttd/baseset/openmsx"))
    if (e.path().extension() == ".mid") fs::copy_file(e.path(), src / e.path().filename());
  Json c = base_config("fingerprint");
  c["single"]["clips_per_instrument"] = 1;
  c["multi"]["train"] = 2;
  c["multi"]["valid"] = 1;
  c["midi"]["sources"] = {src.string()};
  fs::remove_all(c["output"].get<std::string>());
  c["shard"] = {{"index", 0}, {"count", 2}};
  render_nlakh(c);
  EXPECT_TRUE(fs::exists(fs::path(c["output"].get<std::string>()) / "inputs.json"));
  fs::copy_file("/usr/share/doc/mma/examples/misc/voicing.mid", src / "added.mid");
  c["shard"] = {{"index", 1}, {"count", 2}};
  try {
    render_nlakh(c);
    FAIL() << "a changed MIDI corpus was accepted";
  } catch (const UsageError& e) {
    EXPECT_NE(std::string(e.what()).find("rendered from other inputs (see its inputs.json): 1 MIDI files added"),
              std::string::npos)
        << e.what();
  }
  fs::remove(src / "added.mid");
  EXPECT_NO_THROW(render_nlakh(c));  // the same inputs again: the second shard renders

  // Issue 23, defect 7: deleting inputs.json (or config.json) does not skip the check: a folder with
  // clips but no fingerprint is refused, the added file notwithstanding, until --adopt-inputs.
  const fs::path out = c["output"].get<std::string>();
  for (const char* deleted : {"inputs.json", "config.json"}) {
    SCOPED_TRACE(deleted);
    const std::string kept = read_file(out / deleted);
    fs::remove(out / deleted);
    fs::copy_file("/usr/share/doc/mma/examples/misc/voicing.mid", src / "added.mid");
    const std::string msg = test::error_of<UsageError>([&] { render_nlakh(c, true); });
    EXPECT_NE(msg.find(" holds rendered clips but no " + std::string(deleted)), std::string::npos) << msg;
    EXPECT_FALSE(fs::exists(out / deleted));
    fs::remove(src / "added.mid");
    write_file_atomically(out / deleted, kept);
  }
  // The tool: exit 2; with --adopt-inputs the current inputs are recorded and the run goes on.
  fs::remove(out / "inputs.json");
  const fs::path cfg = kRoot / "fingerprint.json";
  write_json_file(cfg, c);
  EXPECT_EQ(run_tool("-c " + cfg.string() + " --manifests-only"), 2);
  EXPECT_EQ(run_tool("-c " + cfg.string() + " --manifests-only --adopt-inputs"), 0);
  EXPECT_TRUE(fs::exists(out / "inputs.json"));
}

// Issue 21: a folder rendered before the test split (its config.json has no multi.test and no
// midi.test_fraction) is still accepted while both stay 0, and refused once either is set.
TEST(RenderNlakhHostile, FoldersFromBeforeTheTestSplitMatchWithoutOne) {
  Json c = base_config("before_test_split");
  c["single"]["clips_per_instrument"] = 1;
  c["multi"]["train"] = 1;
  c["multi"]["valid"] = 0;
  fs::remove_all(c["output"].get<std::string>());
  render_nlakh(c);
  const fs::path config = fs::path(c["output"].get<std::string>()) / "config.json";
  Json old = read_json_file(config);
  old["multi"].erase("test");
  old["midi"].erase("test_fraction");
  write_json_file(config, old);
  EXPECT_NO_THROW(render_nlakh(c));
  write_json_file(config, old);  // the run above rewrote it whole
  c["midi"]["test_fraction"] = 0.1;
  EXPECT_NE(test::error_of<UsageError>([&] { render_nlakh(c); }).find("another config"), std::string::npos);
}

// Issue 11 item 9: FluidR3's "Sine Wave" (bank 8, program 80, train) and sf_GMbank's (valid) are the
// same sound a few samples apart, with a negative zero-lag correlation: compared over lags of
// +-5 ms and both signs, the pair is reported and the valid one dropped.
TEST(RenderNlakhHostile, ShiftedOrInvertedDuplicatesAcrossSplitsAreDropped) {
  Json c = base_config("dedupe_shift");
  c["single"]["clips_per_instrument"] = 0;
  c["multi"]["train"] = 0;
  c["multi"]["valid"] = 0;
  c["banks"] = Json::array({{{"type", "soundfont"}, {"path", "/usr/share/sounds/sf2/FluidR3_GM.sf2"}, {"split", "train"},
                             {"programs", {80}}, {"sf_banks", {8}}},
                            {{"type", "soundfont"}, {"path", "/usr/share/sounds/sf2/sf_GMbank.sf2"}, {"split", "valid"},
                             {"programs", {80}}, {"sf_banks", {8}}}});
  fs::remove_all(c["output"].get<std::string>());
  const Json summary = render_nlakh(c);
  ASSERT_EQ(summary["cross_split_similar"].size(), 1u) << summary.dump();
  const Json& pair = summary["cross_split_similar"][0];
  EXPECT_EQ(pair["train"], "FluidR3_GM_008_080");
  EXPECT_EQ(pair["valid"], "sf_GMbank_008_080");
  EXPECT_GE(pair["correlation"].get<double>(), 0.98);
  ASSERT_EQ(pair["lags_ms"].size(), 3u);
  for (const Json& lag : pair["lags_ms"]) EXPECT_LE(std::fabs(lag.get<double>()), 5.0);
  ASSERT_EQ(summary["duplicates_dropped"].size(), 1u);
  EXPECT_EQ(summary["duplicates_dropped"][0]["id"], "sf_GMbank_008_080");
  EXPECT_EQ(summary["splits"]["valid"]["instruments"], 0);
}

namespace {

void put16(std::string& s, uint32_t v) {
  s.push_back(char(v & 255));
  s.push_back(char((v >> 8) & 255));
}
void put32(std::string& s, uint32_t v) {
  put16(s, v & 0xffff);
  put16(s, v >> 16);
}
void put_name(std::string& s, const std::string& name) {
  std::string n = name;
  n.resize(20, '\0');
  s += n;
}
std::string riff_chunk(const std::string& id, const std::string& data) {
  std::string s = id;
  put32(s, uint32_t(data.size()));
  s += data;
  if (data.size() % 2) s.push_back('\0');
  return s;
}

// A minimal SoundFont 2 file: preset k (bank 0, GM program programs[k]) has one instrument zone over
// all keys that plays samples[k] (16 kHz, root key 60, no loop).
void write_test_sf2(const fs::path& path, const std::vector<std::vector<int16_t>>& samples,
                    const std::vector<int>& programs) {
  const uint32_t n = uint32_t(samples.size());
  std::string info = "sfbk", smpl, phdr, pbag, pgen, inst, ibag, igen, shdr;
  std::string ifil;
  put16(ifil, 2);
  put16(ifil, 1);
  info = riff_chunk("ifil", ifil) + riff_chunk("isng", std::string("EMU8000\0", 8)) +
         riff_chunk("INAM", std::string("twins\0", 6));
  for (uint32_t k = 0; k < n; ++k) {
    const uint32_t start = uint32_t(smpl.size() / 2);
    for (int16_t v : samples[k]) put16(smpl, uint16_t(v));
    const uint32_t end = uint32_t(smpl.size() / 2);
    for (int i = 0; i < 46; ++i) put16(smpl, 0);  // the 46 zero points every sample is followed by
    put_name(phdr, "Preset " + std::to_string(k));
    put16(phdr, uint32_t(programs[k]));
    put16(phdr, 0);
    put16(phdr, k);
    put32(phdr, 0), put32(phdr, 0), put32(phdr, 0);
    put16(pbag, k), put16(pbag, 0);
    put16(pgen, 41), put16(pgen, k);  // instrument k
    put_name(inst, "Instrument " + std::to_string(k));
    put16(inst, k);
    put16(ibag, 2 * k), put16(ibag, 0);
    put16(igen, 43), put16(igen, 0x7f00);  // key range 0..127
    put16(igen, 53), put16(igen, k);       // sample k
    put_name(shdr, "Sample " + std::to_string(k));
    put32(shdr, start), put32(shdr, end), put32(shdr, start + 8), put32(shdr, end - 8), put32(shdr, 16000);
    shdr.push_back(char(60)), shdr.push_back('\0');
    put16(shdr, 0), put16(shdr, 1);  // mono
  }
  put_name(phdr, "EOP");
  put16(phdr, 0), put16(phdr, 0), put16(phdr, n);
  put32(phdr, 0), put32(phdr, 0), put32(phdr, 0);
  put16(pbag, n), put16(pbag, 0);
  put32(pgen, 0);
  put_name(inst, "EOI");
  put16(inst, n);
  put16(ibag, 2 * n), put16(ibag, 0);
  put32(igen, 0);
  put_name(shdr, "EOS");
  shdr += std::string(26, '\0');
  const std::string pdta = std::string("pdta") + riff_chunk("phdr", phdr) + riff_chunk("pbag", pbag) +
                           riff_chunk("pmod", std::string(10, '\0')) + riff_chunk("pgen", pgen) +
                           riff_chunk("inst", inst) + riff_chunk("ibag", ibag) +
                           riff_chunk("imod", std::string(10, '\0')) + riff_chunk("igen", igen) +
                           riff_chunk("shdr", shdr);
  const std::string body = std::string("sfbk") + riff_chunk("LIST", "INFO" + info) +
                           riff_chunk("LIST", "sdta" + riff_chunk("smpl", smpl)) + riff_chunk("LIST", pdta);
  write_file_atomically(path, riff_chunk("RIFF", body));
}

// One second of a decaying tone at C4 (261.63 Hz): harmonics `harmonics` with amplitudes 1/k, plus
// an inharmonic partial at 3.7 f0 of amplitude `extra`, starting after `delay` samples, times `sign`.
std::vector<int16_t> test_tone(const std::vector<int>& harmonics, double extra, int delay, double sign) {
  const int n = 16000 + delay;
  std::vector<int16_t> x(size_t(n), 0);
  const double f0 = 261.63, pi = 3.14159265358979323846;
  for (int t = delay; t < n; ++t) {
    const double s = double(t - delay) / 16000.0;
    const double env = std::min(1.0, s / 0.005) * std::exp(-s / 0.5);
    double v = extra * std::sin(2 * pi * 3.7 * f0 * s + 0.3);
    for (int k : harmonics) v += std::sin(2 * pi * k * f0 * s + 0.7 * k) / k;
    x[size_t(t)] = int16_t(std::lround(sign * 9000.0 * env * v));
  }
  return x;
}

}  // namespace

// Issue 12: twin presets inside one split (the same samples, here shifted by 2 ms and inverted and
// with a small difference, so below dedupe_correlation) are listed with their similarity; policy
// drop keeps the first of the group, group writes the same twin_group for both; an unrelated preset
// of the same family is no one's twin.
TEST(RenderNlakhTwins, TwinPresetsAreListedDroppedOrGrouped) {
  fs::create_directories(kRoot);
  const fs::path sf2 = kRoot / "twins.sf2";
  write_test_sf2(sf2,
                 {test_tone({1, 2, 3, 4, 5, 6}, 0.0, 0, 1.0), test_tone({1, 2, 3, 4, 5, 6}, 0.33, 32, -1.0),
                  test_tone({3, 5, 7, 8}, 0.0, 0, 1.0)},
                 {24, 25, 26});
  auto config = [&](const std::string& out, const std::string& policy) {
    Json c = base_config(out);
    c["single"]["clips_per_instrument"] = 0;
    c["multi"]["train"] = 0;
    c["multi"]["valid"] = 0;
    c["banks"] = Json::array({{{"type", "soundfont"}, {"path", sf2.string()}, {"split", "train"}}});
    if (!policy.empty()) c["twins"]["policy"] = policy;
    fs::remove_all(c["output"].get<std::string>());
    return c;
  };
  // Default policy: keep, and list.
  const Json summary = render_nlakh(config("twins_keep", ""));
  EXPECT_EQ(summary["duplicates_dropped"].size(), 0u) << summary.dump();
  EXPECT_EQ(summary["twins"]["policy"], "keep");
  EXPECT_EQ(summary["twins"]["threshold"], 0.95);
  const Json& pairs = summary["twins"]["train"]["pairs"];
  ASSERT_EQ(pairs.size(), 1u) << summary.dump();
  EXPECT_EQ(pairs[0]["first"], "twins_000_024");
  EXPECT_EQ(pairs[0]["second"], "twins_000_025");
  EXPECT_GE(pairs[0]["correlation"].get<double>(), 0.95);
  EXPECT_LT(pairs[0]["correlation"].get<double>(), 0.98);
  // Inverted, 2 ms late: 4 ms at C3 (played an octave below the root), 2 at C4, 1 at C5.
  const double lags[] = {4.0, 2.0, 1.0};
  for (int k = 0; k < 3; ++k) {
    EXPECT_LT(pairs[0]["note_correlations"][k].get<double>(), 0.0) << pairs[0].dump();
    EXPECT_NEAR(pairs[0]["lags_ms"][k].get<double>(), lags[k], 0.15) << pairs[0].dump();
  }
  EXPECT_EQ(summary["twins"]["train"]["groups"], Json::parse(R"([["twins_000_024", "twins_000_025"]])"));
  EXPECT_EQ(summary["twins"]["valid"]["pairs"].size(), 0u);
  EXPECT_EQ(summary["twins"]["dropped"].size(), 0u);
  EXPECT_EQ(summary["splits"]["train"]["instruments"], 3);
  for (const Json& i : read_json_file(kRoot / "twins_keep" / "instruments.json")) EXPECT_FALSE(i.contains("twin_group"));
  for (const DatasetInstrument& i : split_instruments(kRoot / "twins_keep", "train")) EXPECT_EQ(i.twin_group, "");
  // A folder rendered before the twins key existed is still accepted with policy keep (which changes
  // nothing but the summary), and refused with a policy that changes the instruments.
  Json old_config = read_json_file(kRoot / "twins_keep" / "config.json");
  old_config.erase("twins");
  write_json_file(kRoot / "twins_keep" / "config.json", old_config);
  Json again = base_config("twins_keep");
  again["single"]["clips_per_instrument"] = 0;
  again["multi"]["train"] = 0;
  again["multi"]["valid"] = 0;
  again["banks"] = Json::array({{{"type", "soundfont"}, {"path", sf2.string()}, {"split", "train"}}});
  EXPECT_EQ(render_nlakh(again, true)["twins"]["train"]["pairs"].size(), 1u);
  write_json_file(kRoot / "twins_keep" / "config.json", old_config);
  again["twins"]["policy"] = "drop";
  EXPECT_THROW(render_nlakh(again, true), UsageError);

  // drop: the later twin goes.
  const Json dropped = render_nlakh(config("twins_drop", "drop"));
  EXPECT_EQ(dropped["twins"]["train"]["pairs"].size(), 1u);
  ASSERT_EQ(dropped["twins"]["dropped"].size(), 1u) << dropped.dump();
  EXPECT_EQ(dropped["twins"]["dropped"][0]["id"], "twins_000_025");
  EXPECT_EQ(dropped["twins"]["dropped"][0]["twin_of"], "twins_000_024");
  std::vector<std::string> kept;
  for (const Json& i : read_json_file(kRoot / "twins_drop" / "instruments.json")) kept.push_back(i["id"]);
  EXPECT_EQ(kept, (std::vector<std::string>{"twins_000_024", "twins_000_026"}));

  // group: both stay, with the first one's id as their group; the third is a group of its own.
  render_nlakh(config("twins_group", "group"));
  const auto grouped = split_instruments(kRoot / "twins_group", "train");
  ASSERT_EQ(grouped.size(), 3u);
  EXPECT_EQ(grouped[0].twin_group, "twins_000_024");
  EXPECT_EQ(grouped[1].twin_group, "twins_000_024");
  EXPECT_EQ(grouped[2].twin_group, "twins_000_026");

  // The reader refuses a twin_group that names no instrument of the split.
  Json list = read_json_file(kRoot / "twins_group" / "instruments.json");
  list[1]["twin_group"] = "nobody";
  write_json_file(kRoot / "twins_group" / "instruments.json", list);
  EXPECT_THROW(split_instruments(kRoot / "twins_group", "train"), FormatError);

  // Twins off: nothing listed. Bad values and unknown keys are usage errors.
  Json off = config("twins_off", "");
  off["twins"]["threshold"] = 0.0;
  EXPECT_EQ(render_nlakh(off)["twins"]["train"]["pairs"].size(), 0u);
  Json bad = config("twins_bad", "merge");
  EXPECT_THROW(render_nlakh(bad), UsageError);
  bad = config("twins_bad", "");
  bad["twins"]["threshold"] = 1.5;
  EXPECT_THROW(render_nlakh(bad), UsageError);
  EXPECT_THROW(merge_config(nlakh_default_config(), Json::parse(R"({"twins": {"polcy": "drop"}})"), "test"), UsageError);
}

