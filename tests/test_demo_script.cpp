// scripts/demo.sh's sweep knobs (DEMO_SEED, DEMO_DATA_CONFIG) are checked before it installs, builds or
// writes anything: a bad value is one line on stderr, exit 2, and the output folder is left as it was.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>

#include "test_support.h"

namespace fs = std::filesystem;

namespace {

const fs::path kScratch = instret::test::scratch_dir("demo_script", true);

// Runs the demo with `env` (shell assignments) and DEMO_DIR=`dir`.
instret::test::CommandOutputs demo(const std::string& env, const fs::path& dir) {
  return instret::test::run_command_apart(env + " DEMO_DIR='" + dir.string() + "' timeout 60 '" +
                                              std::string(INSTRET_SOURCE_DIR) + "/scripts/demo.sh' > /dev/null",
                                          kScratch / "stderr.txt");
}

void expect_refused(const instret::test::CommandOutputs& r, const std::string& needle) {
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_EQ(r.err.rfind("demo.sh: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r.err;
}

}  // namespace

TEST(DemoScript, BadSeedsAreRefusedBeforeAnythingIsWritten) {
  const fs::path dir = kScratch / "never";
  for (const char* seed : {"abc", "-1", "'1 2'", "1e3", "99999999999999999999"}) {
    expect_refused(demo(std::string("DEMO_SEED=") + seed, dir), "DEMO_SEED must be a non-negative integer");
    EXPECT_FALSE(fs::exists(dir)) << seed;
  }
}

TEST(DemoScript, DataConfigMustBeAReadableFile) {
  const fs::path dir = kScratch / "never_either";
  const fs::path fifo = kScratch / "recipe.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const fs::path& config : {kScratch / "absent.json", kScratch, fifo}) {
    expect_refused(demo("DEMO_DATA_CONFIG='" + config.string() + "'", dir), config.string());
    EXPECT_FALSE(fs::exists(dir)) << config;
  }
}

TEST(DemoScript, AResumedRunKeepsItsSeed) {
  // A DEMO_DIR whose single encoder was trained with seed 1: rerunning it with another seed would
  // silently continue the seed-1 run, so it is refused, and the run is not touched.
  const fs::path dir = kScratch / "seed1";
  fs::create_directories(dir / "single" / "checkpoints");
  std::ofstream(dir / "single" / "config.json") << R"({"seed": 1, "steps": 4500})";
  std::ofstream(dir / "single" / "checkpoints" / "last.pt") << "stand-in";
  const auto before = fs::last_write_time(dir / "single" / "checkpoints" / "last.pt");
  expect_refused(demo("DEMO_SEED=0", dir), "trained with seed 1, not DEMO_SEED 0");
  expect_refused(demo("", dir), "trained with seed 1");  // the default seed is 0
  EXPECT_EQ(fs::last_write_time(dir / "single" / "checkpoints" / "last.pt"), before);
  EXPECT_EQ(fs::file_size(dir / "single" / "checkpoints" / "last.pt"), 8u);
  // An unreadable run config is one line too.
  std::ofstream(dir / "single" / "config.json") << "{";
  expect_refused(demo("DEMO_SEED=1", dir), "cannot read");
}
