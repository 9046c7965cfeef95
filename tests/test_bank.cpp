// Instrument banks: SoundFont presets through FluidSynth (listing, determinism, pitch, timing),
// NSynth-format folders (concatenative synthesis against hand-computed values), render-notes.
#include <gtest/gtest.h>
#include <sndfile.h>

#include <unistd.h>
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include "instret/audio/io.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/render/instrument_bank.h"
#include "instret/render/note_bank_writer.h"
#include "instret/render/nsynth_bank.h"
#include "instret/render/soundfont_bank.h"
#include "instret/midi/family.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

const char* kTim = "/usr/share/sounds/sf2/TimGM6mb.sf2";

fs::path fresh_dir(const std::string& name) {
  return test::scratch_dir("bank_" + name, true);
}

size_t find_instrument(const InstrumentBank& bank, int program) {
  for (size_t i = 0; i < bank.instruments().size(); ++i)
    if (bank.instruments()[i].program == program && bank.instruments()[i].bank == 0) return i;
  ADD_FAILURE() << "program " << program << " not found";
  return 0;
}

// Fundamental frequency: the shortest lag (50..2000 Hz) whose autocorrelation reaches 90 % of the
// largest one (longer lags at multiples of the period score about as high).
double estimate_f0(const std::vector<float>& x, int64_t begin, int64_t length) {
  std::vector<double> r;
  const int lo = kSampleRate / 2000, hi = kSampleRate / 50;
  for (int lag = lo; lag <= hi; ++lag) {
    double acc = 0.0;
    for (int64_t i = begin; i < begin + length; ++i) acc += double(x[size_t(i)]) * x[size_t(i + lag)];
    r.push_back(acc);
  }
  const double best = *std::max_element(r.begin(), r.end());
  size_t k = 0;
  while (r[k] < 0.9 * best) ++k;
  while (k + 1 < r.size() && r[k + 1] > r[k]) ++k;  // climb to the local peak
  // Parabolic interpolation around the peak for a sub-sample lag.
  double offset = 0.0;
  if (k > 0 && k + 1 < r.size()) {
    const double d = r[k - 1] - 2 * r[k] + r[k + 1];
    if (d != 0.0) offset = 0.5 * (r[k - 1] - r[k + 1]) / d;
  }
  return double(kSampleRate) / (double(lo + int(k)) + offset);
}

}  // namespace

TEST(SoundFontBank, ListsMelodicPresetsWithGmFamilies) {
  SoundFontBank bank(kTim, {});
  // TimGM6mb holds the 128 GM presets of bank 0 and 8 drum kits of bank 128; 32 GM programs have
  // no NSynth family (docs/nlakh.md), which leaves 96 instruments.
  const auto& list = bank.instruments();
  ASSERT_EQ(list.size(), 96u);
  for (size_t i = 0; i < list.size(); ++i) {
    EXPECT_EQ(list[i].bank, 0);
    EXPECT_EQ(list[i].source, "soundfont");
    EXPECT_EQ(family_index(list[i].family), gm_program_family(list[i].program));
    if (i) EXPECT_LT(list[i - 1].id, list[i].id);
  }
  EXPECT_EQ(list[0].id, "TimGM6mb_000_000");
  EXPECT_EQ(list[0].family, "keyboard");
  EXPECT_EQ(soundfont_preset_family(128, 0, "Standard"), -1);
  EXPECT_EQ(soundfont_preset_family(127, 24, "Synth Brass 1 MT"), -1);
  EXPECT_EQ(soundfont_preset_family(0, 0, "Drum Kit"), -1);
  EXPECT_EQ(soundfont_preset_family(8, 24, "Ukulele"), family_index("guitar"));
  EXPECT_EQ(soundfont_preset_family(0, 17, "Percussive Organ"), family_index("organ"));

  BankFilter filter;
  filter.programs = {0, 73};
  SoundFontBank some(kTim, filter);
  ASSERT_EQ(some.instruments().size(), 2u);
  EXPECT_EQ(some.instruments()[1].family, "flute");
}

TEST(SoundFontBank, RendersPitchTimingAndIsDeterministic) {
  BankFilter filter;
  filter.programs = {0, 19, 73};
  SoundFontBank bank(kTim, filter);
  const size_t flute = find_instrument(bank, 73);  // flute: a near-sinusoidal A4
  const int64_t n = 2 * kSampleRate;
  std::vector<float> a(static_cast<size_t>(n)), b(a), c(a);
  // A4 (440 Hz) from 0.5 s to 1.5 s.
  bank.render(flute, {{0.5, 1.5, 69, 100}}, a.data(), n);
  for (int64_t i = 0; i < kSampleRate / 2 - 64; ++i) ASSERT_EQ(a[size_t(i)], 0.0f) << i;
  double peak = 0.0;
  for (int64_t i = kSampleRate / 2; i < kSampleRate; ++i) peak = std::max(peak, double(std::fabs(a[size_t(i)])));
  EXPECT_GT(peak, 0.01);
  EXPECT_NEAR(estimate_f0(a, kSampleRate * 6 / 10, 4000), 440.0, 440.0 * 0.02);
  // A different instrument in between, then the same render again: identical bits.
  bank.render(find_instrument(bank, 0), {{0.0, 1.9, 60, 127}, {0.1, 1.0, 64, 90}}, b.data(), n);
  bank.render(flute, {{0.5, 1.5, 69, 100}}, c.data(), n);
  EXPECT_EQ(a, c);
  // Concurrent renders give the same bits.
  std::vector<std::vector<float>> outs(4, std::vector<float>(size_t(n)));
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] { bank.render(flute, {{0.5, 1.5, 69, 100}}, outs[size_t(t)].data(), n); });
  for (auto& t : threads) t.join();
  for (const auto& o : outs) EXPECT_EQ(o, a);
  // A note sounding past the end is cut there; notes outside the buffer are ignored.
  bank.render(flute, {{1.9, 3.0, 60, 100}, {5.0, 6.0, 60, 100}}, b.data(), n);
  EXPECT_NE(b[size_t(n - 1)], 0.0f);
}

TEST(SoundFontBank, PlayablePitchesMatchTheSoundFontKeyRanges) {
  // tests/data/sf2_key_ranges.json: keys covered by each preset's zones, read from the file's
  // generators by scripts/golden/make_sf2_keyrange_golden.py (Whistle has a gap at 79..101).
  const Json golden = read_json_file(std::string(INSTRET_TEST_DATA_DIR) + "/sf2_key_ranges.json");
  ASSERT_EQ(golden.size(), 5u);
  BankFilter filter;
  filter.banks = {0};
  for (const auto& [program, ref] : golden.items()) filter.programs.push_back(std::stoi(program));
  SoundFontBank bank(kTim, filter);
  for (const auto& [program, ref] : golden.items()) {
    const size_t index = find_instrument(bank, std::stoi(program));
    EXPECT_EQ(bank.instruments()[index].name, ref["name"].get<std::string>());
    std::vector<int> playable;
    for (int p = 0; p < 128; ++p)
      if (bank.has_pitch(index, p)) playable.push_back(p);
    EXPECT_EQ(playable, ref["keys"].get<std::vector<int>>()) << ref["name"];
  }
}

TEST(SoundFontBank, MissingAndCorruptFilesGiveClearErrors) {
  EXPECT_THROW(SoundFontBank("/nonexistent/x.sf2", {}), IoError);
  const fs::path dir = fresh_dir("corrupt_sf2");
  write_file_atomically(dir / "bad.sf2", "RIFF\x10\0\0\0sfbkLIST this is not a SoundFont");
  try {
    SoundFontBank bank(dir / "bad.sf2", {});
    FAIL() << "no error";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("bad.sf2"), std::string::npos);
  }
  EXPECT_THROW(open_bank("midi", kTim), UsageError);
  fs::remove_all(dir);
}

namespace {

// A hand-made NSynth folder: instrument "keyboard_acoustic_000" with pitch 60 at velocities 50
// and 100 (constant 0.25 and 0.5 for 1 s) and pitch 62 at velocity 100 (constant -0.5).
fs::path make_nsynth(const std::string& name) {
  const fs::path dir = fresh_dir(name);
  Json examples = Json::object();
  auto add = [&](int pitch, int velocity, float value) {
    char note_str[64];
    std::snprintf(note_str, sizeof note_str, "keyboard_acoustic_000-%03d-%03d", pitch, velocity);
    examples[note_str] = {{"note_str", note_str}, {"instrument_str", "keyboard_acoustic_000"},
                          {"instrument_family_str", "keyboard"}, {"pitch", pitch}, {"velocity", velocity},
                          {"sample_rate", 16000}};
    write_wav16(dir / "audio" / (std::string(note_str) + ".wav"), std::vector<float>(kSampleRate, value));
  };
  add(60, 50, 0.25f);
  add(60, 100, 0.5f);
  add(62, 100, -0.5f);
  write_json_file(dir / "examples.json", examples);
  return dir;
}

}  // namespace

TEST(NsynthBank, ConcatenativeSynthesisMatchesHandComputedValues) {
  const fs::path dir = make_nsynth("synth");
  NsynthBank bank(dir, {});
  ASSERT_EQ(bank.instruments().size(), 1u);
  const Instrument& inst = bank.instruments()[0];
  EXPECT_EQ(inst.id, "keyboard_acoustic_000");
  EXPECT_EQ(inst.family, "keyboard");
  EXPECT_EQ(inst.source, "nsynth");
  EXPECT_TRUE(bank.has_pitch(0, 60));
  EXPECT_FALSE(bank.has_pitch(0, 61));
  const int64_t n = 2 * kSampleRate;
  std::vector<float> out(static_cast<size_t>(n));
  // Velocity 80 -> nearest 100 (0.5); note from 0.25 s to 0.5 s; attack 80 samples, release 1600.
  bank.render(0, {{0.25, 0.5, 60, 80}}, out.data(), n);
  EXPECT_EQ(out[3999], 0.0f);
  EXPECT_FLOAT_EQ(out[4000], 0.5f * 1.0f / 80.0f);
  EXPECT_FLOAT_EQ(out[4039], 0.5f * 40.0f / 80.0f);
  EXPECT_FLOAT_EQ(out[4079], 0.5f);
  EXPECT_FLOAT_EQ(out[7999], 0.5f);
  EXPECT_FLOAT_EQ(out[8000], 0.5f);                          // note-off: release starts at gain 1
  EXPECT_FLOAT_EQ(out[8800], 0.5f * (1.0f - 800.0f / 1600.0f));
  EXPECT_EQ(out[9600], 0.0f);                                // 100 ms after note-off
  // Velocity 75 is as near to 50 as to 100: the lower one (0.25) is taken.
  bank.render(0, {{0.0, 1.5, 60, 75}}, out.data(), n);
  EXPECT_FLOAT_EQ(out[100], 0.25f);
  // The sample (1 s) ends before note-off: the note stops with it.
  EXPECT_EQ(out[16000], 0.0f);
  // Missing pitch 61 is skipped; overlapping notes add up; the excerpt end cuts.
  bank.render(0, {{0.0, 0.5, 61, 100}, {0.0, 1.0, 60, 100}, {0.0, 1.0, 62, 100}}, out.data(), n);
  EXPECT_FLOAT_EQ(out[1000], 0.0f);
  bank.render(0, {{1.9, 3.0, 60, 100}}, out.data(), n);
  EXPECT_FLOAT_EQ(out[size_t(n - 1)], 0.5f);
  fs::remove_all(dir);
}

TEST(NsynthBank, BrokenFoldersGiveClearErrors) {
  EXPECT_THROW(NsynthBank("/nonexistent/nsynth", {}), IoError);
  const fs::path dir = make_nsynth("broken");
  write_file_atomically(dir / "examples.json", "{\"a\": {\"pitch\": 60,");
  EXPECT_THROW(NsynthBank(dir, {}), FormatError);
  write_file_atomically(dir / "examples.json",
                        R"({"x-060-100": {"instrument_str": "x", "instrument_family_str": "drums", "pitch": 60, "velocity": 100}})");
  EXPECT_THROW(NsynthBank(dir, {}), FormatError);
  write_file_atomically(dir / "examples.json",
                        R"({"x-060-100": {"instrument_str": "x", "instrument_family_str": "bass", "pitch": 60}})");
  EXPECT_THROW(NsynthBank(dir, {}), FormatError);
  write_file_atomically(dir / "examples.json",
                        R"({"x-060-100": {"instrument_str": "x", "instrument_family_str": "bass", "pitch": 60, "velocity": 100}})");
  try {
    NsynthBank bank(dir, {});
    FAIL() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("x-060-100.wav"), std::string::npos);
  }
  // instrument_str becomes the clip folder of render-nlakh: a path that leaves it is refused.
  write_wav16(dir / "audio" / "x-060-100.wav", std::vector<float>(100, 0.5f));
  for (const char* name : {"../../escaped", "a/b", "..", ""}) {
    write_json_file(dir / "examples.json", Json{{"x-060-100", {{"instrument_str", name}, {"instrument_family_str", "bass"},
                                                               {"pitch", 60}, {"velocity", 100}}}});
    EXPECT_THROW(NsynthBank(dir, {}), FormatError) << name;
  }
  fs::remove_all(dir);
}

TEST(NoteBank, RenderNotesWritesAnNsynthBankThatRendersThroughTheNsynthPath) {
  const fs::path dir = fresh_dir("render_notes");
  Json config = note_bank_default_config();
  config["soundfonts"] = {kTim};
  config["output"] = dir.string();
  config["programs"] = {0, 73};
  config["pitch_min"] = 60;
  config["pitch_max"] = 62;
  config["velocities"] = {50, 127};
  config["threads"] = 2;
  const Json result = write_note_bank(config);
  EXPECT_EQ(result["instruments"].get<int>(), 2);
  EXPECT_EQ(result["notes"].get<int>(), 12);
  const Json examples = read_json_file(dir / "examples.json");
  ASSERT_EQ(examples.size(), 12u);
  const Json& ex = examples["keyboard_synthetic_000-061-127"];
  EXPECT_EQ(ex["note_str"], "keyboard_synthetic_000-061-127");
  EXPECT_EQ(ex["instrument_str"], "keyboard_synthetic_000");
  EXPECT_EQ(ex["instrument_family"], 4);
  EXPECT_EQ(ex["instrument_family_str"], "keyboard");
  EXPECT_EQ(ex["instrument_source_str"], "synthetic");
  EXPECT_EQ(ex["pitch"], 61);
  EXPECT_EQ(ex["velocity"], 127);
  EXPECT_EQ(ex["sample_rate"], 16000);
  const AudioInfo info = audio_info(dir / "audio" / "flute_synthetic_001-060-050.wav");
  EXPECT_EQ(info.frames, 4 * kSampleRate);
  EXPECT_EQ(info.sample_rate, kSampleRate);
  EXPECT_EQ(info.channels, 1);
  // The note is released at 3 s: the last 0.5 s is (nearly) silent, the first second is not.
  const std::vector<float> note = read_audio(dir / "audio" / "flute_synthetic_001-060-050.wav");
  double head = 0.0, tail = 0.0;
  for (int64_t i = 0; i < kSampleRate; ++i) head = std::max(head, double(std::fabs(note[size_t(i)])));
  for (int64_t i = 7 * kSampleRate / 2; i < 4 * kSampleRate; ++i) tail = std::max(tail, double(std::fabs(note[size_t(i)])));
  EXPECT_GT(head, 0.001);
  EXPECT_LT(tail, head * 0.05);

  NsynthBank bank(dir, {});
  ASSERT_EQ(bank.instruments().size(), 2u);
  EXPECT_EQ(bank.instruments()[0].family, "flute");
  EXPECT_TRUE(bank.has_pitch(1, 62));
  EXPECT_FALSE(bank.has_pitch(1, 63));
  std::vector<float> out(static_cast<size_t>(kSampleRate));
  bank.render(1, {{0.0, 0.5, 61, 127}}, out.data(), kSampleRate);
  // Sample i of the note times the attack ramp: past the ramp, exactly the note's samples.
  const std::vector<float> src = read_audio(dir / "audio" / "keyboard_synthetic_000-061-127.wav");
  for (int64_t i = 80; i < 8000; i += 97) EXPECT_EQ(out[size_t(i)], src[size_t(i)]);
  fs::remove_all(dir);
}

// Issue 11 item 8: a note whose data chunk is shorter than its header declares, and a 44.1 kHz
// stereo note, are read but counted (and logged), not taken silently.
TEST(NsynthBank, TruncatedAndConvertedNotesAreCounted) {
  const fs::path dir = make_nsynth("counted");
  Json examples = read_json_file(dir / "examples.json");
  // Pitch 64: 1 s at 44.1 kHz, stereo.
  const std::string note = "keyboard_acoustic_000-064-100";
  examples[note] = {{"note_str", note}, {"instrument_str", "keyboard_acoustic_000"},
                    {"instrument_family_str", "keyboard"}, {"pitch", 64}, {"velocity", 100}};
  write_json_file(dir / "examples.json", examples);
  {
    SF_INFO info{};
    info.samplerate = 44100;
    info.channels = 2;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE* f = sf_open((dir / "audio" / (note + ".wav")).c_str(), SFM_WRITE, &info);
    ASSERT_NE(f, nullptr);
    const std::vector<float> frames(2 * 44100, 0.25f);
    sf_writef_float(f, frames.data(), 44100);
    sf_close(f);
  }
  // Pitch 62: cut to a tenth of its 32,044 bytes.
  fs::resize_file(dir / "audio" / "keyboard_acoustic_000-062-100.wav", 3200);
  NsynthBank bank(dir, {});
  std::vector<float> out(kSampleRate);
  bank.render(0, {{0.0, 0.5, 60, 100}}, out.data(), kSampleRate);
  EXPECT_EQ(bank.notes_converted(), 0u);
  EXPECT_EQ(bank.notes_truncated(), 0u);
  bank.render(0, {{0.0, 0.5, 62, 100}, {0.0, 0.5, 64, 100}}, out.data(), kSampleRate);
  EXPECT_EQ(bank.notes_truncated(), 1u);
  EXPECT_EQ(bank.notes_converted(), 1u);
  fs::remove_all(dir);
}
