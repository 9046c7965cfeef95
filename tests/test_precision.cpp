// The compute precision (instret/core/precision.h): the CPU's bf16 detection, the bf16 setting, the
// autocast scope, and the encoders with bf16 forced off and on.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>
#include <set>
#include <sstream>

#include "instret/audio/mel.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/precision.h"
#include "instret/models/encoders.h"
#include "instret/models/han_cnn.h"
#include "instret/inference/checkpoint.h"
#include "instret/inference/single_encoder.h"
#include "instret/inference/multi_encoder.h"
#include "test_support.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kScratch = test::scratch_dir("precision", true);

// The flags of the first "flags" line of /proc/cpuinfo; empty when there is none (not Linux x86).
std::set<std::string> proc_cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    std::set<std::string> out;
    for (std::string w; words >> w;) out.insert(w);
    return out;
  }
  return {};
}

// Random 5 s clips: noise bursts with a decaying envelope, as loud as rendered notes.
torch::Tensor test_audio(int64_t n, int64_t samples) {
  torch::manual_seed(3);
  const torch::Tensor env = torch::exp(-torch::arange(samples, torch::kFloat32) / 16000.0);
  return 0.3 * torch::randn({n, samples}) * env;
}

// Per-row cosine and the worst relative L2 error of b against a.
std::pair<double, double> agreement(const torch::Tensor& a, const torch::Tensor& b) {
  const torch::Tensor fa = a.reshape({a.size(0), -1}).to(torch::kFloat64), fb = b.reshape({b.size(0), -1}).to(torch::kFloat64);
  const double cos = torch::cosine_similarity(fa, fb, 1).min().item<double>();
  const double rel = ((fa - fb).norm(2, 1) / fa.norm(2, 1)).max().item<double>();
  return {cos, rel};
}

}  // namespace

TEST(Precision, CpuDetectionAgreesWithTheKernel) {
  const auto flags = proc_cpu_flags();
  if (flags.empty()) GTEST_SKIP() << "no /proc/cpuinfo flags on this system";
  const CpuBf16Support s = cpu_bf16_support();
  EXPECT_EQ(s.avx512_bf16, flags.count("avx512_bf16") > 0);
  EXPECT_EQ(s.amx_bf16, flags.count("amx_bf16") > 0 && flags.count("amx_tile") > 0);
  std::cout << "this CPU: avx512_bf16 " << s.avx512_bf16 << ", amx_bf16 " << s.amx_bf16 << "\n";
}

TEST(Precision, SettingParsesAndResolves) {
  EXPECT_EQ(bf16_mode_from_json(Json("auto"), "bf16"), Bf16Mode::kAuto);
  EXPECT_EQ(bf16_mode_from_json(Json(true), "bf16"), Bf16Mode::kOn);
  EXPECT_EQ(bf16_mode_from_json(Json(false), "bf16"), Bf16Mode::kOff);
  EXPECT_EQ(bf16_mode_from_string("false", "--bf16"), Bf16Mode::kOff);
  EXPECT_NE(test::error_of<UsageError>([] { bf16_mode_from_json(Json("yes"), "bf16"); }).find("config key 'bf16'"),
            std::string::npos);
  EXPECT_NE(test::error_of<UsageError>([] { bf16_mode_from_json(Json(1), "bf16"); }).find("not \"auto\", true or false"),
            std::string::npos);
  const torch::Device cpu(torch::kCPU);
  EXPECT_FALSE(resolve_precision(Bf16Mode::kOff, cpu).bf16);
  EXPECT_TRUE(resolve_precision(Bf16Mode::kOn, cpu).bf16);
  const Precision autop = resolve_precision(Bf16Mode::kAuto, cpu);
  EXPECT_EQ(autop.bf16, cpu_bf16_support().native());
  EXPECT_NE(autop.describe().find(autop.bf16 ? "bf16 autocast" : "float32"), std::string::npos) << autop.describe();
  EXPECT_NE(autop.describe().find("bf16 auto: this CPU has"), std::string::npos) << autop.describe();
  EXPECT_TRUE(resolve_precision(Bf16Mode::kAuto, torch::Device(torch::kCUDA, 0)).bf16);
}

TEST(Precision, ConfigSwitchTakesAutoTrueAndFalse) {
  const Json defaults = {{"bf16", "auto"}, {"channels_last", true}};
  Json c = defaults;
  apply_override(c, defaults, "bf16=true");  // --set keeps the text for a string default: "true"
  EXPECT_EQ(bf16_mode_from_json(c["bf16"], "bf16"), Bf16Mode::kOn);
  apply_override(c, defaults, "bf16=false");
  EXPECT_EQ(bf16_mode_from_json(c["bf16"], "bf16"), Bf16Mode::kOff);
  // A config file (or a run saved before bf16 had "auto") gives a JSON boolean: kept as its string.
  c = merge_config(defaults, Json{{"bf16", false}}, "saved");
  EXPECT_EQ(c["bf16"], "false");
  apply_override(c, defaults, "bf16=auto");
  EXPECT_EQ(c["bf16"], "auto");
  EXPECT_THROW(merge_config(defaults, Json{{"channels_last", "auto"}}, "file"), UsageError);
  // Other switches keep their type; another string is refused when read.
  EXPECT_THROW(apply_override(c, defaults, "channels_last=3"), UsageError);
  c = defaults;
  apply_override(c, defaults, "bf16=maybe");
  EXPECT_THROW(bf16_mode_from_json(c["bf16"], "bf16"), UsageError);
}

TEST(Precision, AutocastScopesNestAndKeepFeaturesFloat32) {
  const torch::Device cpu(torch::kCPU);
  const torch::Tensor x = torch::randn({1, 1, 8, 8}), w = torch::randn({2, 1, 3, 3});
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);
  LogMel mel{MelConfig()};
  const torch::Tensor audio = test_audio(2, 22050);
  const torch::Tensor plain = mel->forward(audio);
  {
    Autocast outer(true, cpu);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
    {
      Autocast inner(true, cpu);
      EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);
      {
        NoAutocast none;
        EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);
      }
    }
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);  // the inner scope restored, not cleared
    // The log-mel frontend is float32 and bit-identical inside an autocast scope.
    const torch::Tensor inside = mel->forward(audio);
    EXPECT_EQ(inside.scalar_type(), torch::kFloat32);
    EXPECT_TRUE(torch::equal(inside, plain));
    Autocast off(false, cpu);
    EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kBFloat16);  // an off scope changes nothing
  }
  EXPECT_EQ(torch::conv2d(x, w).scalar_type(), torch::kFloat32);
}

// bf16 forced off and on for the three encoder kinds, on the same weights: float32 outputs either way,
// agreeing to a cosine of at least 0.999 per clip and a relative L2 error below 3% (measured here:
// 0.99996 and 1%). (bf16 keeps 8
// significant bits, a relative rounding of 0.4% per operand; four conv blocks accumulate it.)
TEST(Precision, EncodersAgreeWithBf16OffAndOn) {
  ModelConfig single;
  single.han.channels = {8, 16, 16, 32};
  single.emb_dim = 32;
  single.n_classes = 5;
  ModelConfig multi = single;
  multi.kind = "small";
  multi.n_outputs = 3;
  ModelConfig large = multi;
  large.kind = "large";
  large.convnext.depths = {1, 1, 1, 1};
  large.convnext.dims = {8, 8, 16, 16};
  large.convnext.drop_path = 0;
  const torch::Tensor audio = test_audio(4, 5 * 16000);
  for (const ModelConfig& config : {single, multi, large}) {
    torch::manual_seed(1);
    auto model = make_model(config);
    // Non-trivial BatchNorm statistics, as a trained model has.
    model->train();
    {
      torch::NoGradGuard no_grad;
      LogMel mel{MelConfig()};
      if (config.kind == "han_cnn") std::dynamic_pointer_cast<HanCnnImpl>(model)->forward(mel->forward(audio));
      else std::dynamic_pointer_cast<MultiEncoderNetImpl>(model)->forward(mel->forward(audio));
    }
    const fs::path path = kScratch / (config.kind + ".pt");
    save_checkpoint(path, *model, config, nullptr, 1);
    torch::Tensor off, on;
    if (config.kind == "han_cnn") {
      off = SingleEncoder(path, torch::kCPU, false).embed(audio);
      on = SingleEncoder(path, torch::kCPU, true).embed(audio);
    } else {
      off = MultiEncoder(path, torch::kCPU, false).embed(audio);
      on = MultiEncoder(path, torch::kCPU, true).embed(audio);
    }
    ASSERT_EQ(off.scalar_type(), torch::kFloat32);
    ASSERT_EQ(on.scalar_type(), torch::kFloat32);
    ASSERT_EQ(off.sizes(), on.sizes());
    EXPECT_FALSE(torch::equal(off, on)) << config.kind << ": bf16 changed nothing (was it applied?)";
    const auto [cos, rel] = agreement(off, on);
    std::cout << config.kind << ": min cosine " << cos << ", max relative L2 error " << rel << "\n";
    EXPECT_GT(cos, 0.999) << config.kind;
    EXPECT_LT(rel, 0.03) << config.kind;
  }
}
