// Training: config checks, the learning-rate schedule, and end-to-end runs of train-single and
// train-multi on a tiny rendered dataset (learning, exact continuation, forks, distributed
// equivalence, signals and every failure the tools must report cleanly).
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/log.h"
#include "instret/render/nlakh.h"
#include "instret/models/encoders.h"
#include "instret/inference/checkpoint.h"
#include "instret/data/prefetch_loader.h"
#include "instret/train/lr_schedule.h"
#include "instret/train/run_dir.h"
#include "instret/inference/single_encoder.h"
#include "instret/train/train_config.h"
#include "instret/train/warm_start.h"
#include "test_support.h"
#include "tiny_nlakh.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kScratch = test::scratch_dir("train", true);

// A tiny dataset: 8 train and about 10 valid instruments with 4 clips each, 12 + 6 mixtures.
const fs::path& tiny_data() { return test::tiny_nlakh(kScratch / "nlakh", 4, 12, 6); }

// Flags of a tiny, fast single encoder (16-d embedding, 4..8 channels).
const std::string kTinySingle =
    " --set model.emb_dim=16 --set 'model.han.channels=[4,8,8,8]' --set batch_size=4 --set log_every=1"
    " --set valid.enroll=1 --set valid.targets=2 --set valid.non_targets=2 --set valid.batch_size=8 -j 1"
    " --set bf16=false";  // exact comparisons below: float32 on every CPU (bf16's own test is Bf16*)

test::CommandResult tool(const std::string& name, const std::string& args, const std::string& env = "") {
  return test::run_command(env + " " + std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>&1");
}

// Parameters and buffers of a checkpoint, by name.
std::map<std::string, torch::Tensor> checkpoint_tensors(const fs::path& path) {
  const CheckpointInfo info = read_checkpoint_info(path);
  auto model = make_model(info.model);
  load_checkpoint(path, *model, info.model);
  std::map<std::string, torch::Tensor> out;
  for (const auto& p : model->named_parameters()) out[p.key()] = p.value().clone();
  for (const auto& b : model->named_buffers()) out[b.key()] = b.value().clone();
  return out;
}

double max_difference(const fs::path& a, const fs::path& b) {
  const auto ta = checkpoint_tensors(a), tb = checkpoint_tensors(b);
  EXPECT_EQ(ta.size(), tb.size());
  double worst = 0;
  for (const auto& [name, t] : ta) {
    if (!tb.count(name)) return INFINITY;
    worst = std::max(worst, (t.to(torch::kFloat64) - tb.at(name).to(torch::kFloat64)).abs().max().item<double>());
  }
  return worst;
}

std::vector<Json> metrics(const fs::path& run, const std::string& split) {
  std::ifstream in(run / "metrics.jsonl");
  std::vector<Json> out;
  std::string line;
  while (std::getline(in, line)) {
    const Json j = Json::parse(line);
    if (j["split"] == split) out.push_back(j);
  }
  return out;
}

// A single-encoder checkpoint trained for a few steps (shared by the train-multi tests).
const fs::path& tiny_single_checkpoint() {
  static const fs::path ckpt = [] {
    const fs::path run = kScratch / "single_for_multi";
    const auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                            " --set steps=4");
    EXPECT_EQ(r.code, 0) << r.output;
    return run / "checkpoints" / "last.pt";
  }();
  return ckpt;
}

const std::string kTinyMulti =
    " --set model.kind=large --set model.emb_dim=16 --set 'model.convnext.depths=[1,1,1,1]'"
    " --set 'model.convnext.dims=[8,8,16,16]' --set model.convnext.drop_path=0 --set batch_size=4 --set log_every=1"
    " --set data.kind=random --set data.mixes_per_epoch=16 --set valid.batch_size=8 -j 1 --set bf16=false";

}  // namespace

TEST(TrainConfig, DefaultsAreValidAndStrict) {
  EXPECT_NO_THROW(train_config_from_json(train_default_config(false), false));
  EXPECT_NO_THROW(train_config_from_json(train_default_config(true), true));
  Json c = train_default_config(false);
  c["steps"] = 2.5;
  EXPECT_THROW(train_config_from_json(c, false), UsageError);
  c = train_default_config(false);
  c["seed"] = -1;
  EXPECT_THROW(train_config_from_json(c, false), UsageError);
  c = train_default_config(true);
  c["data"]["max_tracks"] = 10;  // more tracks than the 9 outputs
  EXPECT_THROW(train_config_from_json(c, true), UsageError);
  c = train_default_config(true);
  c["loss_reduction"] = "median";
  EXPECT_THROW(train_config_from_json(c, true), UsageError);
  c = train_default_config(false);
  c["model"]["kind"] = "large";
  EXPECT_THROW(train_config_from_json(c, false), UsageError);
  EXPECT_THROW(load_config(train_default_config(false), "", {"optim.lr_typo=0.1"}), UsageError);
  // Counts that would take the machine's memory or hours are refused with the config, before training.
  c = train_default_config(false);
  c["valid"]["non_targets"] = 2000000000;
  EXPECT_THROW(train_config_from_json(c, false), UsageError);
  c = train_default_config(false);
  c["valid"]["eer_seeds"] = Json(std::vector<int>(2000, 0));
  EXPECT_THROW(train_config_from_json(c, false), UsageError);
  c = train_default_config(true);
  c["batch_size"] = 4294967298LL;
  EXPECT_THROW(train_config_from_json(c, true), UsageError);
  // What the loader holds at once is checked against the machine's memory: 10^6 five-second clips
  // per batch (320 GB) pass the config's bound but not this one.
  EXPECT_THROW(PrefetchLoader::check_memory(1e6 * 80000 * 4, 2, 4), UsageError);
  EXPECT_NO_THROW(PrefetchLoader::check_memory(16.0 * 80000 * 4, 2, 4));
}

TEST(TrainConfig, EveryConfigFileLoads) {
  for (const auto& entry : fs::directory_iterator(std::string(INSTRET_SOURCE_DIR) + "/configs")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("train_", 0) != 0 && name.rfind("cpu_", 0) != 0) continue;
    const bool multi = name.find("multi") != std::string::npos;
    SCOPED_TRACE(name);
    EXPECT_NO_THROW(train_config_from_json(load_config(train_default_config(multi), entry.path().string(), {}), multi));
  }
}

TEST(LrSchedule, WarmupConstantCosine) {
  OptimConfig o;
  o.lr = 1.0;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0, 10), 1.0);
  o.warmup_steps = 4;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 0, 10), 0.25);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 3, 10), 1.0);
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 9, 10), 1.0);
  o.schedule = "cosine";
  o.min_lr = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate_at(o, 4, 10), 1.0);   // start of the decay
  EXPECT_NEAR(learning_rate_at(o, 9, 10), 0.1, 1e-12);  // last step: min_lr
  // Halfway through the decay (t = 0.5): min + (lr - min) / 2.
  o.warmup_steps = 0;
  EXPECT_NEAR(learning_rate_at(o, 5, 11), 0.55, 1e-12);
}

TEST(TrainSingle, LearnsAndWritesTheRunFolder) {
  const fs::path run = kScratch / "learn";
  const auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                          " --set steps=60 --set valid.every=30 --set 'model.han.channels=[16,32,64,64]'"
                                          " --set model.emb_dim=64 --set batch_size=8");
  ASSERT_EQ(r.code, 0) << r.output;
  for (const char* f : {"config.json", "train.log", "metrics.jsonl", "checkpoints/last.pt", "checkpoints/best.pt"})
    EXPECT_TRUE(fs::exists(run / f)) << f;
  const auto train = metrics(run, "train");
  ASSERT_EQ(train.size(), 60u);
  double first = 0, last = 0;
  for (int i = 0; i < 10; ++i) first += train[size_t(i)]["loss"].get<double>(), last += train[size_t(50 + i)]["loss"].get<double>();
  EXPECT_LT(last, 0.75 * first) << "training loss did not fall: " << first / 10 << " -> " << last / 10;
  const auto valid = metrics(run, "valid");
  ASSERT_EQ(valid.size(), 2u);
  for (const char* k : {"loss", "accuracy", "eer", "eer_per_instrument", "eer_rocch"}) EXPECT_TRUE(valid[1].contains(k)) << k;
  EXPECT_EQ(read_checkpoint_info(run / "checkpoints" / "last.pt").step, 60);
  // The saved config is the effective one, with the class count taken from the data.
  const Json saved = read_json_file(run / "config.json");
  EXPECT_EQ(saved["model"]["n_classes"], 8);
  EXPECT_EQ(saved["steps"], 60);
}

TEST(TrainSingle, FamilySmoothingTrainsAndIsChecked) {
  const std::string common = "--data " + tiny_data().string() + kTinySingle + " --set steps=3 --set valid.every=100";
  const fs::path plain = kScratch / "plain", smoothed = kScratch / "smoothed";
  auto r = tool("train-single", common + " --run " + plain.string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-single", common + " --run " + smoothed.string() + " --set family_smoothing=0.3");
  ASSERT_EQ(r.code, 0) << r.output;
  // Same seed and batches: the losses differ only through the smoothed targets (the tiny data's two
  // string instruments are the only family with two members, so only their clips' targets change).
  const auto pa = metrics(plain, "train"), pb = metrics(smoothed, "train");
  ASSERT_EQ(pa.size(), 3u);
  ASSERT_EQ(pb.size(), 3u);
  double differs = 0;
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(std::isfinite(pb[i]["loss"].get<double>()));
    differs = std::max(differs, std::abs(pa[i]["loss"].get<double>() - pb[i]["loss"].get<double>()));
  }
  EXPECT_GT(differs, 1e-6);
  r = tool("train-single", common + " --run " + (kScratch / "smoothed_bad").string() + " --set family_smoothing=1.5");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("config key 'family_smoothing': must be in [0, 1]"), std::string::npos) << r.output;
  // Each tool knows only its own keys.
  r = tool("train-single", common + " --run " + (kScratch / "smoothed_warm").string() + " --set warm_start=single");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown config key 'warm_start'"), std::string::npos) << r.output;
  r = tool("train-multi", "--data " + tiny_data().string() + " --single x.pt --run " +
                              (kScratch / "multi_smoothed").string() + kTinyMulti + " --set family_smoothing=0.3");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown config key 'family_smoothing'"), std::string::npos) << r.output;
}

// bf16 forced on (emulated where the CPU lacks it): both tools train with finite losses, say so in
// the log, and train-multi keeps its bf16 targets apart from float32 ones.
TEST(TrainTools, Bf16ForcedOnTrainsAndSaysSo) {
  const fs::path single = kScratch / "bf16_single";
  auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + single.string() + kTinySingle +
                                    " --set steps=3 --set valid.every=3 --set bf16=true");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("compute: bf16 autocast (bf16 true"), std::string::npos) << r.output;
  for (const Json& m : metrics(single, "train")) EXPECT_TRUE(std::isfinite(m["loss"].get<double>()));
  ASSERT_EQ(metrics(single, "valid").size(), 1u);
  EXPECT_TRUE(std::isfinite(metrics(single, "valid")[0]["eer"].get<double>()));
  const fs::path ckpt = tiny_single_checkpoint();
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "bf16_multi").string() + kTinyMulti +
                              " --set steps=2 --set valid.every=2 --set bf16=true --set targets_dir=" +
                              (kScratch / "bf16_targets").string());
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_TRUE(fs::exists(kScratch / "bf16_targets" / (file_hash(ckpt) + "-bf16") / "multi_valid.npy"));
  EXPECT_FALSE(fs::exists(kScratch / "bf16_targets" / file_hash(ckpt)));
  r = tool("train-single", "--data " + tiny_data().string() + " --run " + (kScratch / "bf16_bad").string() +
                               kTinySingle + " --set bf16=maybe");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("config key 'bf16'"), std::string::npos) << r.output;
}

TEST(TrainSingle, ContinueIsBitExactAndWorkerCountDoesNotMatter) {
  const std::string common = "--data " + tiny_data().string() + kTinySingle + " --set valid.every=3";
  const fs::path whole = kScratch / "whole", halves = kScratch / "halves";
  auto r = tool("train-single", common + " --run " + whole.string() + " --set steps=8 --set data.workers=2");
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-single", common + " --run " + halves.string() + " --set steps=4 --set data.workers=1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-single", "--continue " + halves.string() + " --set steps=8 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(max_difference(whole / "checkpoints" / "last.pt", halves / "checkpoints" / "last.pt"), 0.0);
  // The optimizer state matches too: one more step from each gives the same weights again.
  r = tool("train-single", "--continue " + whole.string() + " --set steps=9 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-single", "--continue " + halves.string() + " --set steps=9 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(max_difference(whole / "checkpoints" / "last.pt", halves / "checkpoints" / "last.pt"), 0.0);
  const auto a = metrics(whole, "train"), b = metrics(halves, "train");
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i]["loss"], b[i]["loss"]) << "step " << a[i]["step"];
}

TEST(TrainSingle, RefusesBadInputsWithOneClearLine) {
  const std::string data = " --data " + tiny_data().string();
  // A typo in a key: usage error.
  auto r = tool("train-single", data + " --run " + (kScratch / "bad1").string() + " --set optim.lrr=1");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("optim.lrr"), std::string::npos) << r.output;
  // Too few valid clips for the EER protocol: refused before training, not at the first validation.
  r = tool("train-single", data + " --run " + (kScratch / "bad_eer").string() + kTinySingle + " --set valid.targets=20");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("valid.enroll"), std::string::npos) << r.output;
  // No dataset there.
  r = tool("train-single", "--data " + (kScratch / "nowhere").string() + " --run " + (kScratch / "bad2").string());
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.output.find("render-nlakh"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(kScratch / "bad2" / "config.json"));
  // A run folder inside a file cannot be created.
  std::ofstream(kScratch / "a_file") << "x";
  r = tool("train-single", data + " --run " + (kScratch / "a_file" / "run").string() + kTinySingle);
  EXPECT_EQ(r.code, 1) << r.output;
  // A run folder that holds a run is not overwritten.
  const fs::path run = kScratch / "existing";
  r = tool("train-single", data + " --run " + run.string() + kTinySingle + " --set steps=2");
  ASSERT_EQ(r.code, 0) << r.output;
  const std::string before = read_file(run / "checkpoints" / "last.pt");
  r = tool("train-single", data + " --run " + run.string() + kTinySingle + " --set steps=2");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--continue"), std::string::npos) << r.output;
  // A loss that blows up stops the run and keeps the last good checkpoint.
  r = tool("train-single", "--continue " + run.string() + " --set steps=40 --set optim.lr=1e30 --set valid.every=1000");
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_TRUE(r.output.find("NaN") != std::string::npos || r.output.find("infinite") != std::string::npos) << r.output;
  EXPECT_EQ(read_file(run / "checkpoints" / "last.pt"), before);
  // ... and its config.json: the failed continuation's overrides were never recorded.
  EXPECT_EQ(read_json_file(run / "config.json")["optim"]["lr"].get<double>(), 1e-3);
  // A checkpoint of another model cannot seed a fork.
  r = tool("train-single", data + " --run " + (kScratch / "fork_bad").string() + kTinySingle +
                               " --set 'model.han.channels=[4,8,8,16]' --init " + (run / "checkpoints" / "last.pt").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("shape"), std::string::npos) << r.output;
  // --continue of a folder that is not a run.
  r = tool("train-single", "--continue " + (kScratch / "nowhere").string());
  EXPECT_EQ(r.code, 2) << r.output;
}

TEST(TrainSingle, HalfRenderedDatasetIsRefused) {
  const fs::path copy = kScratch / "damaged";
  fs::remove_all(copy);
  fs::copy(tiny_data(), copy, fs::copy_options::recursive);
  const fs::path victim = [&] {
    for (const auto& e : fs::recursive_directory_iterator(copy / "single" / "train"))
      if (e.path().extension() == ".wav") return e.path();
    return fs::path();
  }();
  fs::remove(victim);
  const auto r = tool("train-single", "--data " + copy.string() + " --run " + (kScratch / "damaged_run").string() + kTinySingle);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(victim.filename().string()), std::string::npos) << r.output;
}

TEST(TrainSingle, SigtermSavesAndExitsZero) {
  const fs::path run = kScratch / "signal";
  const fs::path pid_file = kScratch / "signal.pid", rc_file = kScratch / "signal.rc";
  // A shell waits for the tool and records its exit code; the test signals the tool itself.
  const std::string tool_cmd = std::string(INSTRET_BIN_DIR) + "/train-single --data " + tiny_data().string() + " --run " +
                               run.string() + kTinySingle + " --set steps=100000 --set valid.every=100000";
  test::run_command("sh -c '" + tool_cmd + " > " + (kScratch / "signal.log").string() + " 2>&1 & echo $! > " +
                    pid_file.string() + "; wait $!; echo $? > " + rc_file.string() + "' > /dev/null 2>&1 &");
  for (int i = 0; i < 600 && metrics(run, "train").size() < 3; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_GE(metrics(run, "train").size(), 3u);
  const pid_t pid = std::stoi(read_file(pid_file));
  ::kill(pid, SIGTERM);
  for (int i = 0; i < 300 && !fs::exists(rc_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(fs::exists(rc_file)) << "train-single did not stop within 30 s of SIGTERM";
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(std::stoi(read_file(rc_file)), 0);
  const std::string log = read_file(kScratch / "signal.log");
  EXPECT_NE(log.find("received signal"), std::string::npos) << log;
  ASSERT_TRUE(fs::exists(run / "checkpoints" / "last.pt"));
  const int64_t step = read_checkpoint_info(run / "checkpoints" / "last.pt").step;
  EXPECT_GE(step, 3);
  EXPECT_EQ(int64_t(metrics(run, "train").back()["step"].get<int64_t>()), step);
}

TEST(TrainSingle, ContinueValidatesAStepThatStoppedBeforeItsValidation) {
  // step_2.pt is what a stop at step 2 leaves when step 2 is a validation step and the signal came
  // before (or during) the validation: a checkpoint at step 2 whose last validation is older.
  const fs::path run = kScratch / "pending", copy = kScratch / "pending_copy";
  auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                    " --set steps=4 --set valid.every=1000 --set checkpoint_every=2");
  ASSERT_EQ(r.code, 0) << r.output;
  fs::remove_all(copy);
  fs::copy(run, copy, fs::copy_options::recursive);
  fs::copy_file(copy / "checkpoints" / "step_2.pt", copy / "checkpoints" / "last.pt",
                fs::copy_options::overwrite_existing);
  r = tool("train-single", "--continue " + copy.string() + " --set valid.every=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("step 2 was not validated"), std::string::npos) << r.output;
  std::vector<int64_t> steps;
  for (const Json& m : metrics(copy, "valid")) steps.push_back(m["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{2, 4}));
  // The uninterrupted run validated its last step: continuing it validates only the new ones.
  r = tool("train-single", "--continue " + run.string() + " --set steps=6 --set valid.every=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("was not validated"), std::string::npos) << r.output;
  steps.clear();
  for (const Json& m : metrics(run, "valid")) steps.push_back(m["step"].get<int64_t>());
  EXPECT_EQ(steps, (std::vector<int64_t>{4, 6}));
}

TEST(TrainMulti, RandomMixLearnsAndCachesTargetsByCheckpoint) {
  const fs::path ckpt = tiny_single_checkpoint();
  const fs::path run = kScratch / "multi";
  auto r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " + run.string() +
                                   kTinyMulti + " --set steps=8 --set valid.every=4");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto valid = metrics(run, "valid");
  ASSERT_EQ(valid.size(), 2u);
  for (const char* k : {"loss", "f1_macro", "f1_weighted", "map_macro"}) EXPECT_TRUE(valid[1].contains(k)) << k;
  // The cache lives under the dataset, in a folder named by the checkpoint's content hash.
  const fs::path cache = tiny_data() / "targets" / file_hash(ckpt);
  for (const char* f : {"single_train.npy", "single_valid.npy", "multi_valid.npy"}) EXPECT_TRUE(fs::exists(cache / f)) << f;
  // A second run reads the cache instead of recomputing.
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "multi2").string() + kTinyMulti + " --set steps=1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("from the cache"), std::string::npos) << r.output;
}

// Issue 21: training never reads the test split. A copy of the tiny dataset whose test manifests are
// garbage and whose test audio is gone still trains and validates both encoders.
TEST(TrainTools, NeverReadTheTestSplit) {
  const fs::path data = kScratch / "no_test";
  fs::remove_all(data);
  fs::copy(tiny_data(), data, fs::copy_options::recursive);
  fs::remove_all(data / "targets");
  ASSERT_GT(fs::file_size(data / "single_test.jsonl"), 0u);
  for (const char* f : {"single_test.jsonl", "multi_test.jsonl"}) write_file_atomically(data / f, "{not json\n");
  fs::remove_all(data / "single" / "test");
  fs::remove_all(data / "multi" / "test");
  auto r = tool("train-single", "--data " + data.string() + " --run " + (kScratch / "no_test_single").string() +
                                    kTinySingle + " --set steps=2 --set valid.every=1");
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-multi", "--data " + data.string() + " --single " + tiny_single_checkpoint().string() + " --run " +
                              (kScratch / "no_test_multi").string() + kTinyMulti + " --set steps=2 --set valid.every=1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(metrics(kScratch / "no_test_multi", "valid").size(), 2u);
}

TEST(TrainMulti, OnTheFlyTargetsGiveTheCachedNumbers) {
  const fs::path ckpt = tiny_single_checkpoint();
  const std::string common = "--data " + tiny_data().string() + " --single " + ckpt.string() + kTinyMulti +
                             " --set steps=3 --set valid.every=100";
  auto r = tool("train-multi", common + " --run " + (kScratch / "cached").string());
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool("train-multi", common + " --run " + (kScratch / "fly").string() + " --set targets=on_the_fly");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto a = metrics(kScratch / "cached", "train"), b = metrics(kScratch / "fly", "train");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_NEAR(a[i]["loss"].get<double>(), b[i]["loss"].get<double>(), 1e-4);
}

TEST(TrainMulti, TwoGlooProcessesMatchOneProcess) {
  const fs::path ckpt = tiny_single_checkpoint();
  const std::string common = "--data " + tiny_data().string() + " --single " + ckpt.string() + kTinyMulti +
                             " --set steps=3 --set valid.every=100";
  auto r = tool("train-multi", common + " --run " + (kScratch / "one").string());
  ASSERT_EQ(r.code, 0) << r.output;
  const fs::path two = kScratch / "two";
  const std::string env = "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(29500 + (::getpid() % 2000)) + " WORLD_SIZE=2";
  const std::string bin = std::string(INSTRET_BIN_DIR) + "/train-multi ";
  r = test::run_command("(" + env + " RANK=1 LOCAL_RANK=1 " + bin + common + " --run " + two.string() + " > " +
                        (kScratch / "rank1.log").string() + " 2>&1 &) ; " + env + " RANK=0 LOCAL_RANK=0 " + bin + common +
                        " --run " + two.string() + " 2>&1");
  ASSERT_EQ(r.code, 0) << r.output << read_file(kScratch / "rank1.log");
  EXPECT_NE(read_file(kScratch / "rank1.log").find("rank 1 of 2"), std::string::npos);
  EXPECT_LT(max_difference(kScratch / "one" / "checkpoints" / "last.pt", two / "checkpoints" / "last.pt"), 1e-5);
  // The comparison can fail: one process on half the batch (what a rank sees alone) ends elsewhere.
  r = tool("train-multi", common + " --run " + (kScratch / "half").string() + " --set batch_size=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_GT(max_difference(kScratch / "half" / "checkpoints" / "last.pt", two / "checkpoints" / "last.pt"), 1e-4);
}

// Two train-multi ranks on `args` (a timeout of 120 s each, so a rank left waiting on a
// collective fails the test rather than hanging it): rank 0's result, and rank 1's exit code and log.
struct TwoRanks {
  test::CommandResult rank0;
  int rank1_code = -1;
  std::string rank1_log;
};
TwoRanks two_ranks(const std::string& args, const std::string& tag, int port_base) {
  const std::string env =
      "MASTER_ADDR=127.0.0.1 MASTER_PORT=" + std::to_string(port_base + (::getpid() % 2000)) + " WORLD_SIZE=2";
  const std::string bin = std::string(INSTRET_BIN_DIR) + "/train-multi ";
  const fs::path rc1 = kScratch / (tag + "_rank1.rc"), log1 = kScratch / (tag + "_rank1.log");
  fs::remove(rc1);
  TwoRanks out;
  out.rank0 = test::run_command("(" + env + " RANK=1 LOCAL_RANK=1 timeout 120 " + bin + args + " > " + log1.string() +
                                " 2>&1; echo $? > " + rc1.string() + ") & " + env + " RANK=0 LOCAL_RANK=0 timeout 120 " +
                                bin + args + " 2>&1; rc=$?; wait; exit $rc");
  if (fs::exists(rc1)) out.rank1_code = std::stoi(read_file(rc1));
  out.rank1_log = read_file(log1);
  return out;
}

// A fresh run folder for a failing two-rank run.
fs::path fresh_run(const std::string& name) {
  const fs::path run = kScratch / name;
  fs::remove_all(run);
  fs::create_directories(run);
  return run;
}

// Rank 0 fails at some rank-0-only step; rank 1 must stop too, with one line naming it, not wait on
// a collective.
void expect_both_stop(const TwoRanks& r, const std::string& rank0_says, const std::string& step) {
  EXPECT_EQ(r.rank0.code, 1) << r.rank0.output;
  EXPECT_NE(r.rank0.output.find(rank0_says), std::string::npos) << r.rank0.output;
  EXPECT_EQ(r.rank1_code, 1) << r.rank1_log;
  EXPECT_NE(r.rank1_log.find("rank 0 failed while " + step), std::string::npos) << r.rank1_log;
}

TEST(TrainMulti, AFailureOnRankZeroStopsEveryRank) {
  const std::string common = "--data " + tiny_data().string() + " --single " + tiny_single_checkpoint().string() +
                             kTinyMulti + " --set steps=4 --set valid.every=2 --run ";
  {  // checkpoints/best.pt is a folder that a checkpoint cannot replace: the first validation's best.pt
    const fs::path run = fresh_run("two_fail");
    fs::create_directories(run / "checkpoints" / "best.pt");
    write_file_atomically(run / "checkpoints" / "best.pt" / "keep", "x");
    expect_both_stop(two_ranks(common + run.string(), "best_pt", 21500), "best.pt", "saving checkpoints/best.pt");
    EXPECT_TRUE(fs::exists(run / "checkpoints" / "last.pt"));
    EXPECT_TRUE(fs::exists(run / "checkpoints" / "best.pt" / "keep"));
  }
  {  // metrics.jsonl is a folder: the first step's metrics line
    const fs::path run = fresh_run("two_fail_metrics");
    fs::create_directories(run / "metrics.jsonl");
    write_file_atomically(run / "metrics.jsonl" / "keep", "x");
    expect_both_stop(two_ranks(common + run.string(), "metrics", 23500), "metrics.jsonl", "writing metrics.jsonl");
    EXPECT_TRUE(fs::exists(run / "metrics.jsonl" / "keep"));
  }
  {  // a valid stem is not audio: rank 0 builds the target caches, the others wait to read them
    const fs::path data = kScratch / "nlakh_bad_stem";
    fs::remove_all(data);
    fs::copy(tiny_data(), data, fs::copy_options::recursive);
    fs::remove_all(data / "targets");
    const Json stem = Json::parse(read_file(data / "multi_valid.jsonl").substr(0, read_file(data / "multi_valid.jsonl").find('\n')));
    write_file_atomically(data / stem["stems"][0]["path"].get<std::string>(), std::string(160044, 'x'));
    const fs::path run = fresh_run("two_fail_targets");
    std::string args = common + run.string();
    args.replace(args.find(tiny_data().string()), tiny_data().string().size(), data.string());
    expect_both_stop(two_ranks(args, "targets", 25500), "stem", "building the target caches");
  }
  {  // the run folder cannot be used: rank 0 prepares it before the others build anything
    write_file_atomically(kScratch / "run_is_a_file", "x");
    expect_both_stop(two_ranks(common + (kScratch / "run_is_a_file").string(), "run_folder", 27500), "run_is_a_file",
                     "preparing the run folder");
  }
}

// The JSON report an evaluation tool prints on stdout (its logs, on stderr, are dropped).
Json tool_report(const std::string& name, const std::string& args) {
  const auto r = test::run_command(std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>/dev/null");
  EXPECT_EQ(r.code, 0) << name << " " << args;
  return r.code == 0 ? Json::parse(r.output) : Json::object();
}

// train-single validates with eval-eer's benchmark: the same numbers on the checkpoint it validated.
TEST(TrainSingle, ValidationGivesEvalEersNumbers) {
  const fs::path run = kScratch / "single_vs_eval";
  const auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                          " --set steps=2 --set valid.every=2 --set channels_last=false");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto valid = metrics(run, "valid");
  ASSERT_EQ(valid.size(), 1u);
  const Json report = tool_report(
      "eval-eer", "--single " + (run / "checkpoints" / "last.pt").string() + " --data " + tiny_data().string() +
                      " --enroll 1 --targets 2 --non-targets 2 --seeds 0 --bf16 false --device cpu -j 1 --set batch_size=8");
  ASSERT_TRUE(report.contains("eer_pooled"));
  EXPECT_EQ(valid[0]["eer"].get<double>(), report["eer_pooled"]["mean"].get<double>());
  EXPECT_EQ(valid[0]["eer_per_instrument"].get<double>(), report["eer_mean_per_instrument"]["mean"].get<double>());
  EXPECT_EQ(valid[0]["eer_rocch"].get<double>(), report["eer_rocch"]["mean"].get<double>());
}

// train-multi validates with eval-retrieval's benchmark: on a render with twin groups its log has the
// tool's metric keys, twin-aware ones included, with the tool's numbers on the checkpoint it validated.
TEST(TrainMulti, ValidationGivesEvalRetrievalsKeysAndNumbers) {
  const fs::path grouped = kScratch / "nlakh_twins";
  ASSERT_GE(test::twin_grouped_copy(tiny_data(), grouped).size(), 3u);
  const fs::path ckpt = tiny_single_checkpoint(), run = kScratch / "multi_vs_eval";
  const auto r = tool("train-multi", "--data " + grouped.string() + " --single " + ckpt.string() + " --run " +
                                         run.string() + kTinyMulti + " --set steps=2 --set valid.every=2"
                                         " --set channels_last=false");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto valid = metrics(run, "valid");
  ASSERT_EQ(valid.size(), 1u);
  const Json report = tool_report(
      "eval-retrieval", "--multi " + (run / "checkpoints" / "last.pt").string() + " --single " + ckpt.string() +
                            " --data " + grouped.string() + " --chance-repeats 1 --bf16 false --device cpu -j 1"
                            " --set batch_size=8");
  ASSERT_TRUE(report.contains("f1_macro"));
  const std::vector<std::string> keys = {"f1_macro",      "f1_weighted",      "family_f1_macro", "family_f1_weighted",
                                         "map_macro",     "map_weighted",     "twin_f1_macro",   "twin_f1_weighted",
                                         "twin_map_macro", "twin_map_weighted"};
  for (const std::string& k : keys) {
    ASSERT_TRUE(valid[0].contains(k)) << k;
    EXPECT_EQ(valid[0][k].get<double>(), report[k].get<double>()) << k;
  }
  for (const auto& [log_key, slot_key] : {std::make_pair("slot_collapse", "collapse"),
                                          std::make_pair("slot_pairwise_cosine", "pairwise_cosine"),
                                          std::make_pair("hub_top1_share", "hub_top1_share"),
                                          std::make_pair("hub_skewness", "hub_skewness")})
    EXPECT_EQ(valid[0][log_key].get<double>(), report["slots"][slot_key].get<double>()) << log_key;
}

TEST(TrainMulti, NeedsASingleEncoderCheckpoint) {
  const fs::path run = kScratch / "multi_bad";
  auto r = tool("train-multi", "--data " + tiny_data().string() + " --run " + run.string() + kTinyMulti);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--single"), std::string::npos) << r.output;
  // A multi-encoder checkpoint is not a single encoder.
  ModelConfig small;
  small.kind = "small";
  small.emb_dim = 16;
  small.han.channels = {4, 8, 8, 8};
  const fs::path multi_ckpt = kScratch / "small.pt";
  save_checkpoint(multi_ckpt, *make_model(small), small, nullptr, 0);
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + multi_ckpt.string() + " --run " +
                              run.string() + kTinyMulti);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("multi encoder"), std::string::npos) << r.output;
}

TEST(TrainMulti, WarmStartCopiesTheSingleEncodersTrunk) {
  const SingleEncoder single(tiny_single_checkpoint(), torch::kCPU);
  ModelConfig small;
  small.kind = "small";
  small.emb_dim = 16;
  small.han.channels = {4, 8, 8, 8};
  torch::manual_seed(3);
  MultiEncoderNet scratch(small);
  torch::manual_seed(3);
  MultiEncoderNet trunk(small);
  warm_start(*trunk, "single_trunk", single, MelConfig{});
  torch::manual_seed(3);
  MultiEncoderNet full(small);
  warm_start(*full, "single", single, MelConfig{});
  warm_start(*scratch, "none", single, MelConfig{});  // leaves the model as built

  // Every tensor of the single encoder but its classifier is in the trunk, under "cnn.".
  const auto params = trunk->named_parameters();
  int64_t copied = 0;
  for (const auto& p : single.network()->named_parameters()) {
    if (p.key().rfind("linear2.", 0) == 0) continue;
    EXPECT_TRUE(torch::equal(params["cnn." + p.key()], p.value())) << p.key();
    ++copied;
  }
  EXPECT_GT(copied, 8);
  // The trunk's embedding of a batch is the single encoder's.
  trunk->eval();
  const torch::Tensor x = torch::randn({3, 128, 40});
  torch::NoGradGuard no_grad;
  HanCnn frozen = single.network();
  EXPECT_TRUE(torch::allclose(trunk->cnn->forward(x).embedding, frozen->forward(x).embedding, 1e-5, 1e-6));
  // "single": each output block of the head = identity + the random init "scratch" got.
  const torch::Tensor w0 = scratch->cnn->linear2[0]->as<torch::nn::Linear>()->weight;
  const torch::Tensor w1 = full->cnn->linear2[0]->as<torch::nn::Linear>()->weight;
  EXPECT_TRUE(torch::equal(trunk->cnn->linear2[0]->as<torch::nn::Linear>()->weight, w0));
  for (int64_t k = 0; k < small.n_outputs; ++k)
    EXPECT_TRUE(torch::allclose(w1.narrow(0, k * 16, 16) - w0.narrow(0, k * 16, 16), torch::eye(16), 1e-6, 1e-6)) << k;

  // Mismatches are refused with the reason.
  ModelConfig wide = small;
  wide.han.channels = {4, 8, 8, 16};
  MultiEncoderNet other(wide);
  EXPECT_NE(test::error_of<UsageError>([&] { warm_start(*other, "single", single, MelConfig{}); }).find("another trunk"), std::string::npos);
  MelConfig mel;
  mel.n_mels = 64;
  EXPECT_NE(test::error_of<UsageError>([&] { warm_start(*full, "single", single, mel); }).find("other log-mel settings"), std::string::npos);
  EXPECT_NE(test::error_of<UsageError>([&] { warm_start(*full, "pretrained", single, MelConfig{}); }).find("must be"), std::string::npos);
  ModelConfig large;
  large.kind = "large";
  large.emb_dim = 16;
  large.convnext.depths = {1, 1, 1, 1};
  large.convnext.dims = {8, 8, 16, 16};
  MultiEncoderNet convnext(large);
  EXPECT_NE(test::error_of<UsageError>([&] { warm_start(*convnext, "single", single, MelConfig{}); }).find("needs model.kind \"small\""),
            std::string::npos);

  // The mask head's trunk starts as the single encoder too: unmasked, its two parts give the embedding.
  ModelConfig masked = small;
  masked.head = "mask";
  MultiEncoderNet mask_net(masked);
  warm_start(*mask_net, "single_trunk", single, MelConfig{});
  mask_net->eval();
  EXPECT_TRUE(torch::allclose(mask_net->cnn->late_embedding(mask_net->cnn->early_map(x)), frozen->forward(x).embedding, 1e-5, 1e-6));
  EXPECT_NE(test::error_of<UsageError>([&] { warm_start(*mask_net, "single", single, MelConfig{}); }).find("use \"single_trunk\""),
            std::string::npos);
}

// A Small multi encoder on the tiny random-mix data with the matched contrastive term (the train-multi
// tests of the warm start and of the mask head add their own keys).
const std::string kTinySmallMulti =
    " --set model.kind=small --set model.emb_dim=16 --set 'model.han.channels=[4,8,8,8]'"
    " --set batch_size=4 --set log_every=1 --set data.kind=random --set data.mixes_per_epoch=16"
    " --set valid.batch_size=8 -j 1 --set contrastive.weight=1";

TEST(TrainMulti, MaskHeadTrainsWithTheExistenceTerm) {
  const fs::path ckpt = tiny_single_checkpoint();
  const std::string small = kTinySmallMulti + " --set valid.every=3"
                            " --set model.head=mask --set model.mask.hidden=8 --set warm_start=single_trunk";
  const fs::path run = kScratch / "multi_mask";
  auto r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " + run.string() +
                                   small + " --set steps=3");
  ASSERT_EQ(r.code, 0) << r.output;
  const auto train = metrics(run, "train");
  ASSERT_EQ(train.size(), 3u);
  for (const Json& m : train) EXPECT_TRUE(std::isfinite(m["loss"].get<double>())) << m.dump();
  // Validation applies the existence rules beside the paper's.
  const auto valid = metrics(run, "valid");
  ASSERT_EQ(valid.size(), 1u);
  for (const char* key : {"set_size", "existence_mean", "all_slots_map_macro"}) EXPECT_TRUE(valid[0].contains(key)) << key;
  // The existence term adds to the loss: the same first step without it has a lower loss.
  const fs::path plain = kScratch / "multi_mask_no_existence";
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " + plain.string() +
                              small + " --set existence.weight=0 --set steps=1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_LT(metrics(plain, "train")[0]["loss"].get<double>(), train[0]["loss"].get<double>());
  // The mask head masks the Han CNN trunk: a Large encoder with it is refused by the config check.
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "multi_mask_large").string() + kTinyMulti + " --set model.head=mask");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("model.head \"mask\" needs model.kind \"small\""), std::string::npos) << r.output;
}

TEST(TrainMulti, WarmStartedSmallTrainsWithTheContrastiveTerm) {
  const fs::path ckpt = tiny_single_checkpoint();
  const std::string small = kTinySmallMulti + " --set valid.every=100";
  const fs::path run = kScratch / "multi_warm";
  auto r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " + run.string() +
                                   small + " --set warm_start=single --set steps=3");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warm start \"single\": "), std::string::npos) << r.output;
  std::ifstream log_file(run / "train.log");
  const std::string log((std::istreambuf_iterator<char>(log_file)), std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("warm start \"single\" from the single encoder"), std::string::npos) << log;
  const auto train = metrics(run, "train");
  ASSERT_EQ(train.size(), 3u);
  for (const Json& m : train) EXPECT_TRUE(std::isfinite(m["loss"].get<double>())) << m.dump();
  // --continue of a warm-started run loads its own weights: the run goes on (single_trunk this time).
  const fs::path trunk_run = kScratch / "multi_warm_trunk";
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              trunk_run.string() + small + " --set warm_start=single_trunk --set steps=2");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_NE(r.output.find("warm start \"single_trunk\": "), std::string::npos) << r.output;
  r = tool("train-multi", "--continue " + trunk_run.string() + " --set steps=3 -j 1");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(read_checkpoint_info(trunk_run / "checkpoints" / "last.pt").step, 3);
  // A trunk that does not fit is refused before any target is computed.
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "multi_warm_wide").string() + small +
                              " --set 'model.han.channels=[4,8,8,16]' --set warm_start=single --set targets_dir=" +
                              (kScratch / "multi_warm_wide_targets").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("another trunk"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(kScratch / "multi_warm_wide_targets")) << r.output;
  // The config check names the key before anything is loaded.
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "multi_warm_large").string() + kTinyMulti + " --set warm_start=single");
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("config key 'warm_start'"), std::string::npos) << r.output;
  // --init gives the starting weights too: one of them.
  r = tool("train-multi", "--data " + tiny_data().string() + " --single " + ckpt.string() + " --run " +
                              (kScratch / "multi_warm_init").string() + small + " --set warm_start=single --init " +
                              (run / "checkpoints" / "last.pt").string());
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("--init and warm_start"), std::string::npos) << r.output;
}

TEST(TrainTools, BenchmarkPrintsOneJsonLine) {
  const auto r = tool("train-single", "--data " + tiny_data().string() + kTinySingle + " --benchmark 2 -q");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json j = Json::parse(r.output);
  for (const char* k : {"step_samples_per_s", "pipeline_samples_per_s", "data_wait_fraction"}) EXPECT_TRUE(j.contains(k)) << k;
}

// Issue 10: the training tools on CUDA follow the CPU's losses over the first steps (dropout off:
// the two devices draw different masks).
TEST(TrainTools, CudaLossesAgreeWithCpuOverTheFirstSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string no_dropout = " --set model.han.dropout=0 --set model.han.dropout2d=0 --set steps=3 --set valid.every=100";
  const std::string single = "--data " + tiny_data().string() + kTinySingle + no_dropout;
  const std::string multi = "--data " + tiny_data().string() + " --single " + tiny_single_checkpoint().string() +
                            kTinyMulti + no_dropout;
  for (const auto& [name, args] : {std::pair<std::string, std::string>{"train-single", single}, {"train-multi", multi}}) {
    SCOPED_TRACE(name);
    std::vector<std::vector<Json>> losses;
    for (const char* device : {"cpu", "cuda"}) {
      const fs::path run = kScratch / (name + "_" + device);
      fs::remove_all(run);
      const auto r = tool(name, args + " --device " + device + " --run " + run.string());
      ASSERT_EQ(r.code, 0) << r.output;
      losses.push_back(metrics(run, "train"));
    }
    ASSERT_EQ(losses[0].size(), 3u);
    ASSERT_EQ(losses[1].size(), 3u);
    for (size_t i = 0; i < 3; ++i) {
      const double a = losses[0][i]["loss"].get<double>(), b = losses[1][i]["loss"].get<double>();
      EXPECT_NEAR(b, a, 1e-3 * std::max(1.0, std::fabs(a))) << "step " << i + 1;
    }
  }
}

// Issue 23, defect 8: a run's train.log escapes control characters as the terminal does: a name
// holding a newline and a fake log line stays on its line.
TEST(RunDirLog, TrainLogEscapesControlCharacters) {
  setup_logging(false, false);
  const fs::path root = kScratch / "escaped_log";
  fs::remove_all(root);
  RunDir::create(root, Json{{"seed", 1}}).attach_log();
  spdlog::warn("skipping {}", "x\n[2026-01-01 00:00:00.000] [critical] forged\x1b[31m.mid");
  spdlog::default_logger()->flush();
  const std::string log = read_file(root / "train.log");
  EXPECT_EQ(log.find("\n[2026-01-01 00:00:00.000] [critical]"), std::string::npos) << log;
  EXPECT_EQ(log.find('\x1b'), std::string::npos) << log;
  EXPECT_NE(log.find("skipping x\\x0a[2026-01-01 00:00:00.000] [critical] forged\\x1b[31m.mid"), std::string::npos)
      << log;
}
