// Checkpoints: exact round trip of model, buffers, Adam state and step; clear errors on mismatch.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "instret/core/error.h"
#include "instret/models/encoders.h"
#include "instret/inference/checkpoint.h"
#include "test_support.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

ModelConfig tiny(const std::string& kind) {
  ModelConfig c;
  c.kind = kind;
  c.n_classes = 5;
  c.n_outputs = 3;
  c.emb_dim = 16;
  c.han.channels = {4, 8, 8, 16};
  c.convnext.depths = {1, 1, 2, 1};
  c.convnext.dims = {8, 16, 24, 32};
  return c;
}

fs::path scratch() {
  return test::scratch_dir("checkpoint");
}

void train_step(MultiEncoderNet& m, torch::optim::Adam& opt, const torch::Tensor& x) {
  opt.zero_grad();
  m->forward(x).pow(2).mean().backward();
  opt.step();
}

}  // namespace

TEST(Checkpoint, RoundTripsExactlyAndResumesIdentically) {
  for (const std::string kind : {"small", "large"}) {
    SCOPED_TRACE(kind);
    torch::manual_seed(0);
    const auto c = tiny(kind);
    MultiEncoderNet a(c);
    torch::optim::Adam opt_a(a->parameters(), torch::optim::AdamOptions(1e-3));
    const auto x = torch::randn({2, 32, 40});
    a->train();
    train_step(a, opt_a, x);
    train_step(a, opt_a, x);
    const auto path = scratch() / (kind + ".ckpt");
    save_checkpoint(path, *a, c, &opt_a, 2, Json{{"seed", 17}});

    torch::manual_seed(99);
    MultiEncoderNet b(c);
    torch::optim::Adam opt_b(b->parameters(), torch::optim::AdamOptions(1e-3));
    const auto info = load_checkpoint(path, *b, c, &opt_b);
    EXPECT_EQ(info.step, 2);
    EXPECT_TRUE(info.has_optimizer);
    EXPECT_EQ(info.run_config["seed"], 17);
    EXPECT_EQ(to_json(info.model), to_json(c));
    auto pa = a->named_parameters(), pb = b->named_parameters();
    for (const auto& p : pa) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
    auto ba = a->named_buffers(), bb = b->named_buffers();
    for (const auto& p : ba) EXPECT_TRUE(torch::equal(p.value(), bb[p.key()])) << p.key();

    // The same next step (same dropout / drop-path draws) on both gives identical weights,
    // which needs the Adam moments and step counts restored.
    torch::manual_seed(5);
    train_step(a, opt_a, x);
    torch::manual_seed(5);
    train_step(b, opt_b, x);
    pb = b->named_parameters();
    for (const auto& p : a->named_parameters()) EXPECT_TRUE(torch::equal(p.value(), pb[p.key()])) << p.key();
  }
  for (const auto& e : fs::directory_iterator(scratch()))
    EXPECT_EQ(e.path().string().find(".tmp."), std::string::npos) << "leftover " << e.path();
}

TEST(Checkpoint, WithoutOptimizerAndSingleEncoder) {
  const auto c = tiny("han_cnn");
  auto m = make_model(c);
  const auto path = scratch() / "han.ckpt";
  save_checkpoint(path, *m, c, nullptr, 0);
  const auto info = read_checkpoint_info(path);
  EXPECT_FALSE(info.has_optimizer);
  EXPECT_EQ(info.model.kind, "han_cnn");
  EXPECT_TRUE(info.run_config.is_null());
  auto m2 = make_model(c);
  torch::optim::Adam opt(m2->parameters());
  EXPECT_FALSE(load_checkpoint(path, *m2, c, &opt).has_optimizer);
}

TEST(Checkpoint, MismatchesAreNamed) {
  const auto small = tiny("small");
  auto m = make_model(small);
  const auto path = scratch() / "small.ckpt";
  save_checkpoint(path, *m, small, nullptr, 3);

  const auto large = tiny("large");
  auto ml = make_model(large);
  EXPECT_NE(test::error_of<FormatError>([&] { load_checkpoint(path, *ml, large); })
                .find("is a 'small' multi encoder, config asks for a 'large' multi encoder"),
            std::string::npos);

  auto wider = small;
  wider.emb_dim = 8;
  auto mw = make_model(wider);
  const auto msg = test::error_of<FormatError>([&] { load_checkpoint(path, *mw, wider); });
  EXPECT_NE(msg.find("parameter 'cnn.linear1.1.weight' has shape [16, 16], model expects [8, 16]"), std::string::npos)
      << msg;

  const auto han = tiny("han_cnn");
  auto mh = make_model(han);
  EXPECT_NE(test::error_of<FormatError>([&] { load_checkpoint(path, *mh, han); }).find("config asks for a 'han_cnn' single encoder"),
            std::string::npos);
}

TEST(Checkpoint, FailedLoadLeavesTheModelUntouched) {
  torch::manual_seed(3);
  const auto c = tiny("small");
  MultiEncoderNet a(c);
  torch::optim::Adam opt_a(a->parameters(), torch::optim::AdamOptions(1e-3));
  train_step(a, opt_a, torch::randn({2, 32, 40}));
  const auto path = scratch() / "two_groups.ckpt";
  save_checkpoint(path, *a, c, &opt_a, 1);

  // Same model shapes, but an optimizer with two parameter groups: its state does not fit.
  MultiEncoderNet b(c);
  auto params = b->parameters();
  const std::vector<torch::Tensor> first(params.begin(), params.begin() + 2), rest(params.begin() + 2, params.end());
  torch::optim::Adam opt_b({torch::optim::OptimizerParamGroup(first), torch::optim::OptimizerParamGroup(rest)},
                           torch::optim::AdamOptions(1e-3));
  std::vector<torch::Tensor> before;
  for (const auto& p : b->parameters()) before.push_back(p.detach().clone());
  EXPECT_NE(test::error_of<FormatError>([&] { load_checkpoint(path, *b, c, &opt_b); }).find("optimizer state does not fit"),
            std::string::npos);
  const auto after = b->parameters();
  for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(torch::equal(before[i], after[i])) << i;
}

TEST(Checkpoint, RejectsOtherFiles) {
  const auto c = tiny("small");
  auto m = make_model(c);
  const auto junk = scratch() / "junk.ckpt";
  std::ofstream(junk) << "not a checkpoint";
  EXPECT_THROW(load_checkpoint(junk, *m, c), FormatError);
  EXPECT_THROW(load_checkpoint(scratch() / "missing.ckpt", *m, c), IoError);
  // A LibTorch archive that is not an instret checkpoint.
  const auto other = scratch() / "other.pt";
  torch::save(torch::ones({2}), other.string());
  EXPECT_THROW(load_checkpoint(other, *m, c), FormatError);
}

TEST(Checkpoint, LoadsOntoCuda) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const auto c = tiny("small");
  MultiEncoderNet a(c);
  torch::optim::Adam opt_a(a->parameters());
  train_step(a, opt_a, torch::randn({2, 32, 40}));
  const auto path = scratch() / "cuda.ckpt";
  save_checkpoint(path, *a, c, &opt_a, 1);
  MultiEncoderNet b(c);
  b->to(torch::kCUDA);
  torch::optim::Adam opt_b(b->parameters());
  load_checkpoint(path, *b, c, &opt_b);
  train_step(b, opt_b, torch::randn({2, 32, 40}, torch::kCUDA));
  for (const auto& p : b->parameters()) EXPECT_TRUE(p.is_cuda());
}
