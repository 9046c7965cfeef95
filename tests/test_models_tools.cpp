// End-to-end tests of the model tools: train-single/train-multi --print-model and import-weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <filesystem>

#include "instret/core/npy.h"
#include "instret/models/encoders.h"
#include "instret/inference/checkpoint.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

const std::string kBin = INSTRET_BIN_DIR;
const std::string kData = std::string(INSTRET_TEST_DATA_DIR) + "/models/";

// Runs `command`, returns (exit code, stdout).
std::pair<int, std::string> run(const std::string& command) {
  const test::CommandResult r = test::run_command(command + " 2>/dev/null");
  return {r.code, r.output};
}

const std::string kTiny =
    " --set model.n_outputs=3 --set model.emb_dim=16 --set model.han.channels=[4,8,8,16]"
    " --set model.convnext.depths=[1,1,2,1] --set model.convnext.dims=[8,16,24,32]";

}  // namespace

TEST(ModelTools, PrintModelGivesExactCounts) {
  auto [rc, out] = run(kBin + "/train-single --print-model");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("parameters: 2413593 "), std::string::npos) << out;
  std::tie(rc, out) = run(kBin + "/train-multi --print-model --set model.kind=small");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("parameters: 10883168 "), std::string::npos) << out;
  std::tie(rc, out) = run(kBin + "/train-multi --print-model");
  EXPECT_EQ(rc, 0);
  EXPECT_NE(out.find("parameters: 56538720 "), std::string::npos);
}

TEST(ModelTools, UsageErrorsExitTwo) {
  EXPECT_EQ(run(kBin + "/train-multi").first, 2);
  EXPECT_EQ(run(kBin + "/train-single --print-model --set model.kind=large").first, 2);
  EXPECT_EQ(run(kBin + "/train-multi --print-model --set model.knd=large").first, 2);
}

TEST(ModelTools, ImportWeightsWritesALoadableCheckpoint) {
  const fs::path dir = test::scratch_dir("models_tools");
  const auto ckpt = dir / "large.ckpt";
  auto [rc, out] = run(kBin + "/import-weights -i " + kData + "ref_large.pt -o " + ckpt.string() +
                       " --set model.kind=large" + kTiny);
  ASSERT_EQ(rc, 0);
  const auto info = read_checkpoint_info(ckpt);
  MultiEncoderNet m(info.model);
  load_checkpoint(ckpt, *m, info.model);
  m->eval();
  torch::NoGradGuard guard;
  const auto diff = (m->forward(read_npy(kData + "input.npy")) - read_npy(kData + "expected_large.npy")).abs().max();
  EXPECT_LT(diff.item<double>(), 1e-4);
  // The wrong kind is a failure (exit 1) that names the missing tensor.
  EXPECT_EQ(run(kBin + "/import-weights -i " + kData + "ref_large.pt -o " + (dir / "x.ckpt").string() +
                " --set model.kind=small" + kTiny)
                .first,
            1);
  EXPECT_FALSE(fs::exists(dir / "x.ckpt"));
  // The reference code has only the paper's linear head: the set and mask heads are refused up front.
  for (const std::string head : {"set", "mask"}) {
    const test::CommandResult r = test::run_command(kBin + "/import-weights -i " + kData + "ref_large.pt -o " +
                                                    (dir / "x.ckpt").string() + " --set model.kind=small --set model.head=" +
                                                    head + kTiny + " 2>&1");
    EXPECT_EQ(r.code, 2) << head << ": " << r.output;
    EXPECT_NE(r.output.find("only the paper's linear head"), std::string::npos) << r.output;
  }
  EXPECT_FALSE(fs::exists(dir / "x.ckpt"));
}
