// Encoders: exact parameter counts and names against an independent PyTorch/timm definition,
// shapes and orientation, and the import of reference-layout state_dicts with output parity.
#include <caffe2/serialize/inline_container.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/npy.h"
#include "instret/models/encoders.h"
#include "instret/models/memory_format.h"
#include "instret/models/model_summary.h"
#include "instret/models/reference_import.h"
#include "instret/models/torch_state_dict.h"

using namespace instret;

namespace {

const std::string kData = std::string(INSTRET_TEST_DATA_DIR) + "/models/";

Json golden() { return read_json_file(kData + "param_counts.json"); }

ModelConfig tiny(const std::string& kind) {
  const Json t = golden()["tiny_config"];
  ModelConfig c;
  c.kind = kind;
  c.n_classes = t["n_classes"];
  c.n_outputs = t["n_outputs"];
  c.emb_dim = t["emb_dim"];
  c.han.channels = t["han_channels"].get<std::vector<int64_t>>();
  c.convnext.depths = t["convnext_depths"].get<std::vector<int64_t>>();
  c.convnext.dims = t["convnext_dims"].get<std::vector<int64_t>>();
  return c;
}

std::vector<std::string> state_names(const torch::nn::Module& m, const std::string& strip) {
  std::vector<std::string> names;
  for (const auto& p : m.named_parameters()) names.push_back(p.key().substr(strip.size()));
  for (const auto& b : m.named_buffers()) names.push_back(b.key().substr(strip.size()));
  std::sort(names.begin(), names.end());
  return names;
}

void expect_close(const torch::Tensor& got, const torch::Tensor& want, double tol) {
  ASSERT_EQ(got.sizes(), want.sizes());
  EXPECT_LT((got - want).abs().max().item<double>(), tol) << "max |want| " << want.abs().max().item<double>();
}

}  // namespace

TEST(Models, FullSizeParameterCountsEqualPyTorch) {
  const Json full = golden()["full"];
  ModelConfig c;  // defaults: han_cnn with 953 classes, M = 9, D = 1024, ConvNeXt-Small
  EXPECT_EQ(count_parameters(*make_model(c)), full["han_cnn_953"].get<int64_t>());
  c.kind = "small";
  EXPECT_EQ(count_parameters(*make_model(c)), full["small_9x1024"].get<int64_t>());
  c.kind = "large";
  EXPECT_EQ(count_parameters(*make_model(c)), full["large_9x1024"].get<int64_t>());
}

TEST(Models, TinyCountsAndNamesEqualReferenceLayout) {
  const Json g = golden();
  for (const std::string kind : {"han_cnn", "small", "large"}) {
    const auto c = tiny(kind);
    EXPECT_EQ(count_parameters(*make_model(c)), g["tiny"][kind].get<int64_t>()) << kind;
  }
  EXPECT_EQ(state_names(*make_model(tiny("han_cnn")), ""), g["han_state_dict_keys"].get<std::vector<std::string>>());
  EXPECT_EQ(state_names(*make_model(tiny("large")), "convnext."),
            g["large_state_dict_keys"].get<std::vector<std::string>>());
}

TEST(Models, ShapesAndOrientation) {
  torch::manual_seed(0);
  const auto x = torch::randn({3, 32, 40});
  HanCnn han(HanCnnConfig{{4, 8, 8, 16}}, 16, 5);
  const auto out = han->forward(x);
  EXPECT_EQ(out.logits.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(out.embedding.sizes(), (std::vector<int64_t>{3, 16}));
  EXPECT_EQ(han_cnn_input(x).sizes(), (std::vector<int64_t>{3, 1, 40, 32}));
  EXPECT_EQ(convnext_input(x).sizes(), (std::vector<int64_t>{3, 1, 32, 40}));
  EXPECT_THROW(han->forward(x.unsqueeze(1)), UsageError);
  for (const std::string kind : {"small", "large"}) {
    MultiEncoderNet m(tiny(kind));
    EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{3, 3, 16})) << kind;
    EXPECT_THROW(m->forward(x[0]), UsageError);
  }
}

TEST(Models, SetHeadShapesExistenceAndInputDependence) {
  torch::manual_seed(3);
  const auto x = torch::randn({3, 32, 40});
  for (const std::string kind : {"small", "large"}) {
    auto c = tiny(kind);
    c.head = "set";
    c.set.dim = 16;
    c.set.heads = 2;
    c.set.layers = 2;
    c.set.ffn = 24;
    MultiEncoderNet m(c);
    EXPECT_FALSE(m->cnn && m->cnn->linear2) << "the set head's Small trunk has no classifier";
    EXPECT_FALSE(m->convnext && m->convnext->head) << "the set head's Large trunk has no ConvNeXt head";
    const MultiOutput out = m->forward_all(x);
    EXPECT_EQ(out.embeddings.sizes(), (std::vector<int64_t>{3, 3, 16})) << kind;
    EXPECT_EQ(out.existence.sizes(), (std::vector<int64_t>{3, 3})) << kind;
    EXPECT_EQ(m->forward(x).sizes(), (std::vector<int64_t>{3, 3, 16})) << kind;
    // Every parameter gets a gradient (nothing unused for data parallelism), trunk and queries included.
    (out.embeddings.sum() + out.existence.sum()).backward();
    for (const auto& p : m->named_parameters())
      EXPECT_TRUE(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) << kind << " " << p.key();
    // The slots depend on the input, and on their query: two mixtures give different outputs, two slots differ.
    m->eval();
    const auto e = m->forward(x);
    EXPECT_GT((e[0] - e[1]).abs().max().item<double>(), 1e-4) << kind;
    EXPECT_GT((e[0][0] - e[0][1]).abs().max().item<double>(), 1e-4) << kind;
    // A longer input (a longer map) runs too: the positions are computed, not learned per size.
    EXPECT_EQ(m->forward(torch::randn({1, 32, 130})).sizes(), (std::vector<int64_t>{1, 3, 16})) << kind;
  }
  ModelConfig bad = tiny("small");
  bad.head = "set";
  bad.set.heads = 3;  // does not divide 256
  EXPECT_THROW(bad.validate(), UsageError);
  bad = tiny("han_cnn");
  bad.head = "set";
  EXPECT_THROW(bad.validate(), UsageError);
  bad = tiny("small");
  bad.head = "detr";
  EXPECT_THROW(bad.validate(), UsageError);
}

TEST(Models, MaskHeadSplitsTheTrunksMapAmongSlots) {
  torch::manual_seed(4);
  const auto x = torch::randn({3, 32, 40});
  auto c = tiny("small");
  c.head = "mask";
  c.mask.hidden = 8;
  MultiEncoderNet m(c);
  EXPECT_FALSE(m->cnn->linear2) << "the mask head's trunk has no classifier";
  ASSERT_TRUE(m->mask);
  const MultiOutput out = m->forward_all(x);
  EXPECT_EQ(out.embeddings.sizes(), (std::vector<int64_t>{3, c.n_outputs, c.emb_dim}));
  EXPECT_EQ(out.existence.sizes(), (std::vector<int64_t>{3, c.n_outputs}));
  EXPECT_TRUE(c.has_existence());
  // Every parameter gets a gradient: the mask network through the masks and the existence, the trunk
  // through both parts.
  (out.embeddings.sum() + out.existence.sum()).backward();
  for (const auto& p : m->named_parameters())
    EXPECT_TRUE(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) << p.key();
  m->eval();
  torch::NoGradGuard no_grad;
  // The masks are a softmax over the slots at every region of the block-2 map.
  const torch::Tensor map = m->cnn->early_map(x);
  const torch::Tensor masks = m->mask->forward(map);
  EXPECT_EQ(masks.sizes(), (std::vector<int64_t>{3, c.n_outputs, map.size(2), map.size(3)}));
  EXPECT_TRUE(torch::allclose(masks.sum(1), torch::ones({3, map.size(2), map.size(3)}), 1e-5, 1e-6));
  EXPECT_GE(masks.min().item<double>(), 0.0);
  // Existence = scale * log(M * the slot's share of the map) + bias (initially 1 and 0).
  const torch::Tensor log_share = torch::log(masks.mean({2, 3}) * double(c.n_outputs) + 1e-6);
  EXPECT_TRUE(torch::allclose(m->forward_all(x).existence, log_share, 1e-5, 1e-6));
  m->mask->scale.fill_(2.0);
  m->mask->bias.fill_(-0.5);
  EXPECT_TRUE(torch::allclose(m->forward_all(x).existence, 2.0 * log_share - 0.5, 1e-5, 1e-6));
  m->mask->scale.fill_(1.0);
  m->mask->bias.fill_(0.0);
  // Slot k is the trunk's late part on the map times mask k, computed by hand.
  const torch::Tensor e = m->forward(x);
  for (int64_t k = 0; k < c.n_outputs; ++k)
    EXPECT_TRUE(torch::allclose(e.select(1, k), m->cnn->late_embedding(map * masks.narrow(1, k, 1)), 1e-5, 1e-6)) << k;
  // Slots depend on the input and differ from each other.
  EXPECT_GT((e[0] - e[1]).abs().max().item<double>(), 1e-4);
  EXPECT_GT((e[0][0] - e[0][1]).abs().max().item<double>(), 1e-4);
  // A zero last layer gives equal masks 1/M: every slot is the trunk's embedding of map / M.
  auto last = m->mask->net[m->mask->net->size() - 1]->as<torch::nn::Conv2d>();
  last->weight.zero_();
  last->bias.zero_();
  const torch::Tensor uniform = m->forward(x);
  const torch::Tensor want = m->cnn->late_embedding(map / double(c.n_outputs));
  for (int64_t k = 0; k < c.n_outputs; ++k) EXPECT_TRUE(torch::allclose(uniform.select(1, k), want, 1e-5, 1e-6)) << k;
  EXPECT_LT(m->forward_all(x).existence.abs().max().item<double>(), 1e-5);  // equal shares: probability 0.5
  // The split of the single encoder is exact: late_embedding(early_map(x)) is its layer chain.
  HanCnn t = m->cnn;
  const torch::Tensor chain =
      t->linear1->forward(t->conv4->forward(t->conv3->forward(t->conv2->forward(t->conv1->forward(han_cnn_input(x))))));
  EXPECT_TRUE(torch::allclose(m->cnn->late_embedding(map), chain, 1e-6, 1e-7));
  // Longer inputs run too (the masks are convolutional).
  EXPECT_EQ(m->forward(torch::randn({1, 32, 130})).sizes(), (std::vector<int64_t>{1, c.n_outputs, c.emb_dim}));

  ModelConfig bad = tiny("large");
  bad.head = "mask";
  EXPECT_THROW(bad.validate(), UsageError);  // masks the Han CNN trunk only
  bad = tiny("small");
  bad.head = "mask";
  bad.mask.hidden = 0;
  EXPECT_THROW(bad.validate(), UsageError);
}

TEST(Models, SinePositionsByHand) {
  const auto p = sine_positions_2d(2, 3, 8, torch::TensorOptions());
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{6, 8}));
  // Row code of h: [sin(h), sin(h / 100), cos(h), cos(h / 100)] (wavelengths 10000^(2i/4)); then w's.
  const std::vector<double> want{std::sin(1.0), std::sin(0.01), std::cos(1.0), std::cos(0.01),
                                 std::sin(2.0), std::sin(0.02), std::cos(2.0), std::cos(0.02)};
  for (int64_t k = 0; k < 8; ++k) EXPECT_NEAR(p[5][k].item<double>(), want[size_t(k)], 1e-6) << k;  // (h, w) = (1, 2)
  EXPECT_NEAR(p[0][2].item<double>(), 1.0, 1e-7);  // cos(0)
  EXPECT_THROW(sine_positions_2d(2, 3, 6, torch::TensorOptions()), UsageError);
}

TEST(Models, EmbedIsTheEvalModeEmbeddingAndKeepsTrainingFlag) {
  torch::manual_seed(1);
  HanCnn han(HanCnnConfig{{4, 8, 8, 16}}, 16, 5);
  const auto x = torch::randn({2, 32, 40});
  han->train();
  const auto e = han->embed(x);
  EXPECT_TRUE(han->is_training());
  EXPECT_FALSE(e.requires_grad());
  han->eval();
  expect_close(e, han->forward(x).embedding, 0.0 + 1e-7);
  // An input too short for the three 3x3/3 pools throws, and the training flag survives.
  han->train();
  EXPECT_ANY_THROW(han->embed(torch::randn({1, 32, 5})));
  EXPECT_TRUE(han->is_training());
}

TEST(Models, ConvNextDropPathIsStochasticInTrainingOnly) {
  torch::manual_seed(2);
  auto c = tiny("large");
  c.convnext.layer_scale = 1.0;
  MultiEncoderNet m(c);
  const auto x = torch::randn({4, 32, 40});
  m->eval();
  expect_close(m->forward(x), m->forward(x), 1e-7);
  m->train();
  EXPECT_GT((m->forward(x) - m->forward(x)).abs().max().item<double>(), 1e-4);
}

TEST(Models, ConfigJsonRoundTripAndValidation) {
  auto c = tiny("large");
  c.convnext.drop_path = 0.25;
  c.head = "set";
  c.set.layers = 3;
  c.mask.hidden = 12;
  const auto back = model_config_from_json(to_json(c));
  EXPECT_EQ(to_json(back), to_json(c));
  // A checkpoint made before the set head existed has no "head": it is the paper's linear head.
  Json old = to_json(tiny("small"));
  old.erase("head");
  old.erase("set");
  old.erase("mask");
  EXPECT_EQ(model_config_from_json(old).head, "linear");
  EXPECT_THROW(model_config_from_json(Json{{"kind", "huge"}}), UsageError);
  EXPECT_THROW(model_config_from_json(Json{{"n_output", 9}}), UsageError);
  EXPECT_THROW(model_config_from_json(Json{{"convnext", {{"depths", {1, 2}}}}}), UsageError);
  EXPECT_THROW(model_config_from_json(Json{{"emb_dim", "big"}}), UsageError);
}

TEST(Models, SummaryListsLayersAndTotal) {
  const auto m = make_model(tiny("large"));
  const auto s = model_summary(*m);
  EXPECT_NE(s.find("stages.2.blocks.1.conv_dw"), std::string::npos);
  EXPECT_NE(s.find("parameters: " + std::to_string(golden()["tiny"]["large"].get<int64_t>())), std::string::npos);
}

TEST(StateDictReader, ReadsTorchSaveOrderedDict) {
  const auto sd = read_torch_state_dict(kData + "ref_han_cnn.pt");
  ASSERT_FALSE(sd.empty());
  EXPECT_EQ(sd.front().first, "module.conv1.0.weight");
  EXPECT_EQ(sd.front().second.sizes(), (std::vector<int64_t>{4, 1, 3, 3}));
  bool saw_counter = false;
  for (const auto& [name, t] : sd)
    if (name == "module.conv1.1.num_batches_tracked") {
      saw_counter = true;
      EXPECT_EQ(t.scalar_type(), torch::kInt64);
      EXPECT_EQ(t.item<int64_t>(), 7);
    }
  EXPECT_TRUE(saw_counter);
  // The reference code's linear2 is a one-layer nn.Sequential, so its weights are "linear2.0.*".
  EXPECT_EQ(sd.back().first, "module.linear2.0.bias");
}

TEST(StateDictReader, RejectsOtherFiles) {
  const std::string path = ::testing::TempDir() + "not_a_state_dict.pt";
  std::ofstream(path) << "hello";
  EXPECT_THROW(read_torch_state_dict(path), FormatError);
  EXPECT_THROW(read_torch_state_dict(path + ".missing"), IoError);
  std::ifstream in(kData + "ref_han_cnn.pt", std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string truncated = ::testing::TempDir() + "truncated.pt";
  std::ofstream(truncated, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THROW(read_torch_state_dict(truncated), FormatError);
}

namespace {
// A torch.save-style zip holding `pickle` as data.pkl and one float storage record data/0 of `n_floats`.
std::string write_pickle_zip(const std::string& name, const std::string& pickle, size_t n_floats = 0) {
  const std::string path = ::testing::TempDir() + name;
  caffe2::serialize::PyTorchStreamWriter writer(path);
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  const std::vector<float> storage(n_floats, 1.0f);
  if (n_floats) writer.writeRecord("data/0", storage.data(), storage.size() * sizeof(float));
  writer.writeEndOfFile();
  return path;
}

std::string pickle_string(const std::string& s) { return "\x8c" + std::string(1, char(s.size())) + s; }

// LONG1 with 8 little-endian bytes.
std::string pickle_long(int64_t v) {
  std::string out = "\x8a\x08";
  for (int k = 0; k < 8; ++k) out += char((uint64_t(v) >> (8 * k)) & 0xff);
  return out;
}

// {"w": _rebuild_tensor_v2(storage of `numel` floats, offset, size, stride)}
std::string tensor_pickle(int64_t numel, int64_t offset, const std::string& size, const std::string& stride) {
  std::string p = "\x80\x02}" + pickle_string("w");
  p += "ctorch._utils\n_rebuild_tensor_v2\n(";
  p += "(" + pickle_string("storage") + "ctorch\nFloatStorage\n" + pickle_string("0") + pickle_string("cpu") +
       pickle_long(numel) + "tQ";
  p += pickle_long(offset) + size + stride + "\x89tRs.";
  return p;
}
}  // namespace

TEST(StateDictReader, HostilePicklesAreFormatErrors) {
  // Nested a million tuples deep (one TUPLE1 opcode per level): must not overflow the stack when freed.
  const std::string deep = "\x80\x02)" + std::string(1000000, '\x85') + ".";
  EXPECT_THROW(read_torch_state_dict(write_pickle_zip("deep.pt", deep)), FormatError);
  auto tuple1 = [](int64_t v) { return pickle_long(v) + "\x85"; };
  // A well-formed one-tensor file reads; out-of-storage and overflowing size/stride do not.
  const auto ok = read_torch_state_dict(write_pickle_zip("ok.pt", tensor_pickle(4, 1, tuple1(3), tuple1(1)), 4));
  ASSERT_EQ(ok.size(), 1u);
  EXPECT_EQ(ok[0].second.sizes(), (std::vector<int64_t>{3}));
  EXPECT_THROW(read_torch_state_dict(write_pickle_zip("oob.pt", tensor_pickle(4, 3, tuple1(2), tuple1(1)), 4)),
               FormatError);
  const int64_t big = (int64_t(1) << 62) + 1;  // (big - 1) * 4 wraps to 0 in 64 bits
  EXPECT_THROW(read_torch_state_dict(write_pickle_zip("wrap.pt", tensor_pickle(4, 0, tuple1(big), tuple1(4)), 4)),
               FormatError);
  // Four tebi-elements over a one-float storage (stride 0) read as a view, allocating nothing; a model
  // import then refuses its shape.
  const auto huge =
      read_torch_state_dict(write_pickle_zip("huge.pt", tensor_pickle(1, 0, tuple1(int64_t(1) << 42), tuple1(0)), 1));
  ASSERT_EQ(huge.size(), 1u);
  EXPECT_EQ(huge[0].second.numel(), int64_t(1) << 42);
  // A storage numel whose byte size (x 4) wraps around to the record's 16 bytes.
  const int64_t wraps = (int64_t(1) << 62) + 4;
  EXPECT_THROW(read_torch_state_dict(write_pickle_zip("numel.pt", tensor_pickle(wraps, 0, tuple1(1), tuple1(1)), 4)),
               FormatError);
}

TEST(ReferenceImport, OutputsMatchPyTorch) {
  const auto x = read_npy(kData + "input.npy");
  {
    auto c = tiny("han_cnn");
    HanCnn han(c.han, c.emb_dim, c.n_classes);
    const auto summary = import_reference_weights(*han, c, kData + "ref_han_cnn.pt");
    EXPECT_EQ(summary.source_prefix, "module.");
    han->eval();
    torch::NoGradGuard guard;
    const auto out = han->forward(x);
    expect_close(out.logits, read_npy(kData + "expected_han_cnn_logits.npy"), 1e-4);
    expect_close(out.embedding, read_npy(kData + "expected_han_cnn_embedding.npy"), 1e-4);
  }
  for (const std::string kind : {"small", "large"}) {
    SCOPED_TRACE(kind);
    const auto c = tiny(kind);
    MultiEncoderNet m(c);
    import_reference_weights(*m, c, kData + "ref_" + kind + ".pt");
    m->eval();
    torch::NoGradGuard guard;
    expect_close(m->forward(x), read_npy(kData + "expected_" + kind + ".npy"), 1e-4);
  }
}

TEST(ReferenceImport, MismatchesNameTheTensor) {
  auto c = tiny("large");
  MultiEncoderNet large(c);
  try {
    import_reference_weights(*large, c, kData + "ref_small.pt");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("stem.0.weight"), std::string::npos) << e.what();
  }
  auto h = tiny("han_cnn");
  h.n_classes = 7;
  HanCnn han(h.han, h.emb_dim, h.n_classes);
  try {
    import_reference_weights(*han, h, kData + "ref_han_cnn.pt");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("'module.linear2.0.weight' has shape [5, 16]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("expects [7, 16]"), std::string::npos) << e.what();
  }
  // A Small (multi) file into the single encoder: same names, the head's shape differs.
  auto hs = tiny("han_cnn");
  HanCnn han2(hs.han, hs.emb_dim, hs.n_classes);
  EXPECT_THROW(import_reference_weights(*han2, hs, kData + "ref_small.pt"), FormatError);
}

TEST(ReferenceImport, SumsAnRgbStem) {
  const auto c = tiny("large");
  MultiEncoderNet m(c);
  NamedTensors source;
  for (const auto& p : m->named_parameters()) source.emplace_back("module." + p.key().substr(9), p.value().clone());
  for (const auto& b : m->named_buffers()) source.emplace_back("module." + b.key().substr(9), b.value().clone());
  torch::Tensor rgb;
  for (auto& [name, t] : source)
    if (name == "module.stem.0.weight") {
      rgb = torch::randn({t.size(0), 3, 4, 4});
      t = rgb;
    }
  const auto summary = load_reference_state_dict(*m, c, source, "rgb");
  EXPECT_TRUE(summary.summed_rgb_stem);
  expect_close(m->convnext->stem[0]->as<torch::nn::Conv2d>()->weight, rgb.sum(1, true), 1e-6);
}

TEST(Models, ShippedModelConfigsAreValid) {
  int n = 0;
  for (const auto& e : std::filesystem::directory_iterator(std::string(INSTRET_SOURCE_DIR) + "/configs")) {
    const auto name = e.path().filename().string();
    if (name.rfind("model_", 0) != 0 || e.path().extension() != ".json") continue;
    const Json j = read_json_file(e.path());
    EXPECT_NO_THROW(model_config_from_json(j.at("model"), name)) << name;
    ++n;
  }
  EXPECT_GE(n, 3);
}

TEST(StateDictReader, ReadsTorch113FilesAndRejectsLegacyFormat) {
  const auto a = read_torch_state_dict(kData + "ref_han_cnn.pt");
  const auto b = read_torch_state_dict(kData + "ref_han_cnn_torch113.pt");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].first, b[i].first);
    EXPECT_TRUE(torch::equal(a[i].second, b[i].second)) << a[i].first;
  }
  try {
    read_torch_state_dict(kData + "ref_han_cnn_legacy.pt");
    FAIL() << "expected FormatError";
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("convert_reference_weights.py"), std::string::npos) << e.what();
  }
}

TEST(ReferenceImport, DetectsAnyNamePrefix) {
  const auto c = tiny("small");
  MultiEncoderNet src(c), dst(c);
  NamedTensors source;
  for (const auto& p : src->named_parameters()) source.emplace_back("module.encoder." + p.key().substr(4), p.value());
  for (const auto& p : src->named_buffers()) source.emplace_back("module.encoder." + p.key().substr(4), p.value());
  const auto summary = load_reference_state_dict(*dst, c, source, "prefixed");
  EXPECT_EQ(summary.source_prefix, "module.encoder.");
  for (const auto& p : dst->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), src->named_parameters()[p.key()])) << p.key();
  source.emplace_back("module.encoder.extra.weight", torch::zeros({2}));
  EXPECT_THROW(load_reference_state_dict(*dst, c, source, "extra"), FormatError);
  // A failed import copies nothing: another model's tensors plus an unexpected one leave dst as it was.
  MultiEncoderNet other(c);
  NamedTensors bad;
  for (const auto& p : other->named_parameters()) bad.emplace_back("module." + p.key().substr(4), p.value());
  for (const auto& p : other->named_buffers()) bad.emplace_back("module." + p.key().substr(4), p.value());
  bad.emplace_back("module.extra.weight", torch::zeros({2}));
  EXPECT_THROW(load_reference_state_dict(*dst, c, bad, "extra"), FormatError);
  for (const auto& p : dst->named_parameters())
    EXPECT_TRUE(torch::equal(p.value(), src->named_parameters()[p.key()])) << p.key();
}

// Channels-last must reach the first convolution, whose weight has one input channel: strides that
// merely count as channels-last contiguous leave oneDNN in the contiguous layout for the whole first
// block (measured: the bf16 train step 30% slower than PyTorch's until this was fixed).
TEST(Models, ChannelsLastReachesTheFirstConvolution) {
  torch::manual_seed(5);
  HanCnn han(HanCnnConfig{{4, 8, 8, 16}}, 16, 5);
  std::map<std::string, torch::Tensor> before;
  for (const auto& p : han->named_parameters()) before[p.key()] = p.value().clone();
  to_channels_last(*han);
  for (const auto& p : han->named_parameters()) {
    EXPECT_TRUE(torch::equal(p.value(), before[p.key()])) << p.key();  // values unchanged
    if (p.value().dim() == 4)
      EXPECT_EQ(p.value().suggest_memory_format(), at::MemoryFormat::ChannelsLast) << p.key();
  }
  auto* first = han->conv1[0]->as<torch::nn::Conv2d>();
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(first->weight.size(1), 1);
  torch::NoGradGuard no_grad;
  const auto y = first->forward(han_cnn_input(torch::randn({2, 32, 40})));
  EXPECT_TRUE(y.is_contiguous(at::MemoryFormat::ChannelsLast));
  EXPECT_EQ(y.suggest_memory_format(), at::MemoryFormat::ChannelsLast);
}

// Issue 10: every model on CUDA gives the CPU's outputs and gradients (eval mode: no dropout draws),
// with the same weights; channels_last as training uses it on both.
TEST(Models, CudaForwardAndBackwardMatchCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  // TF32 (on by default for cuDNN on recent GPUs) would round the convolutions to 10 mantissa bits.
  at::globalContext().setAllowTF32CuDNN(false);
  at::globalContext().setAllowTF32CuBLAS(false);
  torch::manual_seed(4);
  const auto x = torch::randn({2, 32, 40});
  auto check = [&](torch::nn::Module& cpu, torch::nn::Module& gpu, const std::function<torch::Tensor(torch::nn::Module&,
                                                                                                    const torch::Tensor&)>& f) {
    {
      torch::NoGradGuard no_grad;
      auto src = cpu.named_parameters();
      for (auto& p : gpu.named_parameters()) p.value().copy_(src[p.key()]);
      auto bsrc = cpu.named_buffers();
      for (auto& b : gpu.named_buffers()) b.value().copy_(bsrc[b.key()]);
    }
    gpu.to(torch::kCUDA);
    to_channels_last(cpu);
    to_channels_last(gpu);
    cpu.eval();
    gpu.eval();
    const auto a = f(cpu, x), b = f(gpu, x.to(torch::kCUDA));
    EXPECT_TRUE(b.is_cuda());
    expect_close(b.cpu(), a, 1e-3 * std::max(1.0, a.abs().max().item<double>()));
    a.square().sum().backward();
    b.square().sum().backward();
    auto grads = cpu.named_parameters();
    for (auto& p : gpu.named_parameters()) {
      const auto& g = grads[p.key()].grad();
      expect_close(p.value().grad().cpu(), g, 1e-3 * std::max(1.0, g.abs().max().item<double>()));
    }
  };
  HanCnn han_cpu(HanCnnConfig{{4, 8, 8, 16}}, 16, 5), han_gpu(HanCnnConfig{{4, 8, 8, 16}}, 16, 5);
  check(*han_cpu, *han_gpu, [](torch::nn::Module& m, const torch::Tensor& in) {
    return dynamic_cast<HanCnnImpl&>(m).forward(in).logits;
  });
  for (const std::string kind : {"small", "large"}) {
    SCOPED_TRACE(kind);
    MultiEncoderNet cpu(tiny(kind)), gpu(tiny(kind));
    check(*cpu, *gpu, [](torch::nn::Module& m, const torch::Tensor& in) {
      return dynamic_cast<MultiEncoderNetImpl&>(m).forward(in);
    });
  }
}
