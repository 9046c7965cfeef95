// End-to-end tests of `embed --mel`: the .npy it writes against librosa 0.9.2 golden files,
// --offset, short files, config overrides, and its errors and exit codes.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "instret/audio/io.h"
#include "instret/core/fs.h"
#include "instret/core/npy.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kClip = fs::path(INSTRET_TEST_DATA_DIR) / "audio" / "city_blues_5s.wav";
const fs::path kMelData = fs::path(INSTRET_TEST_DATA_DIR) / "mel";
// The golden clip_offset1.5_htk40.npy was made with these frontend settings.
const std::string kAltSettings =
    " --set mel.n_mels=40 --set mel.scale=htk --set mel.norm=none --set mel.fmin=30 --set mel.fmax=7600"
    " --set mel.top_db=60";

fs::path scratch(const std::string& name) {
  return test::scratch_dir("embed") / name;
}

// Runs the embed tool; the output holds its stdout and stderr.
test::CommandResult embed(const std::string& args) {
  return test::run_command(std::string(INSTRET_BIN_DIR) + "/embed " + args + " 2>&1");
}

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a.to(torch::kFloat64) - b.to(torch::kFloat64)).abs().max().item<double>();
}

}  // namespace

TEST(EmbedTool, MelOfRealClipMatchesLibrosaInOrder) {
  const fs::path silence = scratch("silence_2s.wav");
  write_wav16(silence, std::vector<float>(32000, 0.f));
  const fs::path out = scratch("mel.npy");
  const test::CommandResult r = embed("--mel " + kClip.string() + " " + silence.string() + " " + kClip.string() +
                         " --batch 2 -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const torch::Tensor mel = read_npy(out);
  ASSERT_EQ(mel.scalar_type(), torch::kFloat32);
  ASSERT_EQ(mel.sizes(), torch::IntArrayRef({3, 128, 157}));
  const torch::Tensor want = read_npy(kMelData / "clip_logmel.npy");
  EXPECT_LT(max_abs_diff(mel[0], want), 0.01);
  EXPECT_LT(max_abs_diff(mel[2], want), 0.01);
  EXPECT_NEAR(mel[1].max().item<double>(), -100.0, 0.01);
  EXPECT_NEAR(mel[1].min().item<double>(), -100.0, 0.01);
}

TEST(EmbedTool, OffsetAndOverridesMatchLibrosa) {
  const fs::path out = scratch("offset.npy");
  const test::CommandResult r = embed("--mel " + kClip.string() + " --offset 1.5 -o " + out.string() + kAltSettings);
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(max_abs_diff(read_npy(out)[0], read_npy(kMelData / "clip_offset1.5_htk40.npy")), 0.01);
}

TEST(EmbedTool, ShortFileIsZeroPaddedAndConfigFileWorks) {
  // The clip from 1.5 s on, as its own 3.5 s file: the tool pads it to 5 s, which is exactly
  // the offset golden. The frontend settings come from a --config file this time.
  std::vector<float> clip = read_audio(kClip);
  const fs::path tail = scratch("tail.wav");
  write_wav16(tail, std::vector<float>(clip.begin() + 24000, clip.end()));
  const fs::path config = scratch("config.json");
  std::ofstream(config) << R"({"mel": {"n_mels": 40, "scale": "htk", "norm": "none", "fmin": 30,)"
                        << R"( "fmax": 7600, "top_db": 60}, "clip_seconds": 5})";
  const fs::path out = scratch("tail.npy");
  const test::CommandResult r = embed("--mel " + tail.string() + " --config " + config.string() + " -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(max_abs_diff(read_npy(out)[0], read_npy(kMelData / "clip_offset1.5_htk40.npy")), 0.01);
}

TEST(EmbedTool, ClipLengthIsConfigurable) {
  const fs::path out = scratch("short.npy");
  const test::CommandResult r = embed("--mel " + kClip.string() + " --set clip_seconds=1 -o " + out.string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_npy(out).sizes(), torch::IntArrayRef({1, 128, 32}));
}

TEST(EmbedTool, MissingFileFailsNamingItAndLeavesOutputUntouched) {
  const fs::path out = scratch("kept.npy");
  write_file_atomically(out, "previous");
  const fs::path missing = scratch("does_not_exist.wav");
  const test::CommandResult r = embed("--mel " + kClip.string() + " " + missing.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(missing.string()), std::string::npos) << r.output;
  EXPECT_EQ(read_file(out), "previous");
  for (const auto& entry : fs::directory_iterator(out.parent_path()))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
}

TEST(EmbedTool, CorruptFileFailsNamingIt) {
  const fs::path bad = scratch("corrupt.wav");
  std::ofstream(bad) << "RIFF this is not audio at all";
  const fs::path out = scratch("corrupt.npy");
  const test::CommandResult r = embed("--mel " + bad.string() + " -o " + out.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(bad.string()), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST(EmbedTool, UsageErrorsExitTwo) {
  const fs::path out = scratch("usage.npy");
  const std::string base = kClip.string() + " -o " + out.string();
  EXPECT_EQ(embed("--mel " + base + " --no-such-flag").code, 2);
  EXPECT_EQ(embed("--mel " + base + " --set mel.n_mel=64").code, 2);
  EXPECT_EQ(embed("--mel " + base + " --set mel.fmax=9000").code, 2);
  EXPECT_EQ(embed("--mel " + base + " --set mel.scale=bark").code, 2);
  EXPECT_EQ(embed("--mel " + base + " --offset -1").code, 2);
  EXPECT_EQ(embed("--mel " + base + " --batch 0").code, 2);
  EXPECT_EQ(embed(base).code, 2);  // no mode
  EXPECT_EQ(embed("--mel -o " + out.string()).code, 2);  // no files
  EXPECT_FALSE(fs::exists(out));
}
