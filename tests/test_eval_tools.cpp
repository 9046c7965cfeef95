// The evaluation tools end to end (eval-eer, eval-retrieval) on a tiny rendered dataset with tiny
// trained encoders, an imported multi encoder and the MFCC baseline: reports, dumps that recompute
// to the reported numbers (here by independent code, and with scikit-learn: test::reference_python()),
// and every failure the tools must report cleanly. Plus hand-worked cases of the library parts, and
// scripts/map_ceilings.py: against eval-retrieval, recomputed from the embeddings, hand-worked with a
// stand-in embed, its AP against scikit-learn's, and its failures.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <numeric>
#include <set>
#include <sstream>

#include "instret/audio/mel.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/npy.h"
#include "instret/render/nlakh.h"
#include "instret/eval/eer_evaluation.h"
#include "instret/eval/instrument_library.h"
#include "instret/eval/mel_stats_baseline.h"
#include "instret/eval/retrieval_evaluation.h"
#include "instret/eval/family_table.h"
#include "test_support.h"
#include "tiny_nlakh.h"

namespace fs = std::filesystem;
using namespace instret;

namespace {

const fs::path kScratch = test::scratch_dir("eval_tools", true);

// 8 train and 8 valid instruments with 6 clips each, 8 + 8 mixtures.
const fs::path& tiny_data() { return test::tiny_nlakh(kScratch / "nlakh", 6, 8, 8); }

test::CommandResult tool(const std::string& name, const std::string& args) {
  return test::run_command(std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>&1");
}
// stdout only (the logs go to stderr, discarded).
test::CommandResult tool_stdout(const std::string& name, const std::string& args) {
  return test::run_command(std::string(INSTRET_BIN_DIR) + "/" + name + " " + args + " 2>/dev/null");
}

// Tiny encoders (16-d embeddings) trained for a few steps.
const std::string kTinySingle =
    " --set model.emb_dim=16 --set 'model.han.channels=[4,8,8,8]' --set batch_size=4 --set log_every=1"
    " --set valid.enroll=1 --set valid.targets=2 --set valid.non_targets=2 --set valid.batch_size=8 -j 1"
    " --set bf16=false";
const std::string kTinyMulti =
    " --set model.kind=large --set model.emb_dim=16 --set 'model.convnext.depths=[1,1,1,1]'"
    " --set 'model.convnext.dims=[8,8,16,16]' --set model.convnext.drop_path=0 --set batch_size=4 --set log_every=1"
    " --set data.kind=random --set data.mixes_per_epoch=16 --set valid.batch_size=8 -j 1 --set bf16=false";

fs::path train_single(const std::string& name, const std::string& extra) {
  const fs::path run = kScratch / name;
  const auto r = tool("train-single", "--data " + tiny_data().string() + " --run " + run.string() + kTinySingle +
                                          " --set steps=4" + extra);
  EXPECT_EQ(r.code, 0) << r.output;
  return run / "checkpoints" / "last.pt";
}

const fs::path& single_ckpt() {
  static const fs::path p = train_single("single", "");
  return p;
}

const fs::path& multi_ckpt() {
  static const fs::path ckpt = [] {
    const fs::path run = kScratch / "multi";
    const auto r = tool("train-multi", "--data " + tiny_data().string() + " --single " + single_ckpt().string() +
                                           " --run " + run.string() + kTinyMulti + " --set steps=2");
    EXPECT_EQ(r.code, 0) << r.output;
    return run / "checkpoints" / "last.pt";
  }();
  return ckpt;
}

Json parse_json(const std::string& text) {
  try {
    return Json::parse(text);
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not JSON: " << e.what() << "\n" << text;
    return Json();
  }
}

int count_lines(const std::string& s) { return int(std::count(s.begin(), s.end(), '\n')); }

// ---- independent implementations of the metrics, written from scikit-learn's definitions ----

// sklearn.metrics.roc_curve (drop_intermediate=True) followed by the reference's compute_eer.
double sklearn_style_eer(const std::vector<std::pair<double, int>>& trials) {
  std::vector<std::pair<double, int>> t = trials;
  std::stable_sort(t.begin(), t.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<double> tps, fps;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    (t[i].second ? tp : fp) += 1;
    if (i + 1 == t.size() || t[i + 1].first != t[i].first) {
      tps.push_back(tp);
      fps.push_back(fp);
    }
  }
  if (tps.size() > 2) {
    std::vector<double> kt{tps.front()}, kf{fps.front()};
    for (size_t i = 1; i + 1 < tps.size(); ++i)
      if (fps[i + 1] - 2 * fps[i] + fps[i - 1] != 0 || tps[i + 1] - 2 * tps[i] + tps[i - 1] != 0) {
        kt.push_back(tps[i]);
        kf.push_back(fps[i]);
      }
    kt.push_back(tps.back());
    kf.push_back(fps.back());
    tps = kt;
    fps = kf;
  }
  tps.insert(tps.begin(), 0);
  fps.insert(fps.begin(), 0);
  size_t best = 0;
  double best_d = 1e300;
  for (size_t i = 0; i < tps.size(); ++i) {
    const double fpr = fps[i] / fps.back(), fnr = 1 - tps[i] / tps.back();
    if (std::fabs(fpr - fnr) < best_d) {
      best_d = std::fabs(fpr - fnr);
      best = i;
    }
  }
  return (fps[best] / fps.back() + 1 - tps[best] / tps.back()) / 2;
}

// ROCCH-EER by brute force: the least max(pfa, pmiss) over convex combinations of two ROC points.
double brute_rocch(const std::vector<std::pair<double, int>>& trials) {
  std::set<double> thresholds;
  double n_pos = 0, n_neg = 0;
  for (const auto& t : trials) {
    thresholds.insert(t.first);
    (t.second ? n_pos : n_neg) += 1;
  }
  std::vector<std::pair<double, double>> pts{{0.0, 1.0}};  // (pfa, pmiss) above every score
  for (double th : thresholds) {
    double fa = 0, miss = 0;
    for (const auto& t : trials) {
      if (t.second && t.first < th) miss += 1;
      if (!t.second && t.first >= th) fa += 1;
    }
    pts.emplace_back(fa / n_neg, miss / n_pos);
  }
  double best = 1.0;
  for (const auto& p : pts)
    for (const auto& q : pts)
      for (int k = 0; k <= 2000; ++k) {
        const double l = k / 2000.0;
        best = std::min(best, std::max(l * p.first + (1 - l) * q.first, l * p.second + (1 - l) * q.second));
      }
  return best;
}

// F1 per label from counts, macro and support-weighted.
std::pair<double, double> simple_f1(const std::vector<std::set<int64_t>>& truth, const std::vector<std::set<int64_t>>& pred,
                                    int64_t n) {
  double macro = 0, wsum = 0, w = 0;
  for (int64_t l = 0; l < n; ++l) {
    double tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < truth.size(); ++i) {
      const bool a = truth[i].count(l), b = pred[i].count(l);
      tp += a && b;
      fp += !a && b;
      fn += a && !b;
    }
    const double f = (2 * tp + fp + fn) > 0 ? 2 * tp / (2 * tp + fp + fn) : 0.0;
    macro += f;
    wsum += f * (tp + fn);
    w += tp + fn;
  }
  return {macro / double(n), w > 0 ? wsum / w : 0.0};
}

// Average precision as the mean over positives of precision at their rank, ties counted pessimistically
// as one block (scikit-learn's step-wise definition): for each distinct score, all items at >= it.
double simple_ap(const std::vector<double>& s, const std::vector<int>& y) {
  double n_pos = 0;
  for (int v : y) n_pos += v;
  if (n_pos == 0) return 0.0;
  std::set<double, std::greater<double>> th(s.begin(), s.end());
  double ap = 0, prev_r = 0;
  for (double t : th) {
    double tp = 0, k = 0;
    for (size_t i = 0; i < s.size(); ++i)
      if (s[i] >= t) {
        k += 1;
        tp += y[i];
      }
    ap += (tp / n_pos - prev_r) * (tp / k);
    prev_r = tp / n_pos;
  }
  return ap;
}


}  // namespace

// ---------------------------------------------------------------- hand-worked library cases

TEST(InstrumentLibrary, MeanOfClipsNormalisedAndMissingRowsNeverPicked) {
  const torch::Tensor emb = torch::tensor({3.f, 0.f, 1.f, 0.f, 0.f, 2.f}).view({3, 2});
  const torch::Tensor lib = instrument_library(emb, {0, 0, 2}, 3);  // instrument 1 has no clip
  EXPECT_TRUE(torch::allclose(lib, torch::tensor({1.f, 0.f, 0.f, 0.f, 0.f, 1.f}).view({3, 2})));
  const torch::Tensor out = torch::tensor({1.f, 1.f}).view({1, 1, 2});
  const torch::Tensor c = slot_library_cosines(out, lib);
  EXPECT_NEAR(c[0][0][0].item<double>(), std::sqrt(0.5), 1e-6);
  EXPECT_EQ(c[0][0][1].item<double>(), -2.0);
  EXPECT_THROW(slot_library_cosines(torch::ones({1, 1, 3}), lib), UsageError);
  const auto picks = library_clips({{4, 5, 6}, {}, {7}}, 2);
  EXPECT_EQ(picks, (std::vector<std::pair<int64_t, int64_t>>{{4, 0}, {5, 0}, {7, 2}}));
}

TEST(MelStatsBaseline, DctIsOrthonormalAndTheStatisticsAreHandComputable) {
  const torch::Tensor c = dct2_ortho_matrix(8, 8);
  EXPECT_TRUE(torch::allclose(torch::matmul(c, c.t()), torch::eye(8, torch::kFloat64), 1e-12, 1e-12));
  EXPECT_NEAR(c[0][3].item<double>(), std::sqrt(1.0 / 8), 1e-15);
  EXPECT_NEAR(c[2][1].item<double>(), std::sqrt(2.0 / 8) * std::cos(M_PI * 2 * 3 / 16), 1e-15);
  // The embedding of a clip, recomputed from the log-mel with explicit loops.
  MelStatsConfig cfg;
  MelStatsEmbedder mfcc(cfg, torch::kCPU);
  torch::manual_seed(3);
  const torch::Tensor audio = torch::randn({2, 16000}) * 0.1;
  const torch::Tensor e = mfcc.embed(audio);
  ASSERT_EQ(e.sizes().vec(), (std::vector<int64_t>{2, 40}));
  const torch::Tensor mel = LogMel(cfg.mel)->forward(audio).to(torch::kFloat64);  // (2, 128, frames)
  const torch::Tensor full = dct2_ortho_matrix(21, 128);
  const int64_t frames = mel.size(2);
  for (int64_t b = 0; b < 2; ++b)
    for (int64_t k : {1, 7, 20}) {
      std::vector<double> v(size_t(frames), 0.0);
      for (int64_t t = 0; t < frames; ++t)
        for (int64_t j = 0; j < 128; ++j) v[size_t(t)] += full[k][j].item<double>() * mel[b][j][t].item<double>();
      double mean = 0, var = 0;
      for (double x : v) mean += x / double(frames);
      for (double x : v) var += (x - mean) * (x - mean) / double(frames);
      EXPECT_NEAR(e[b][k - 1].item<double>(), mean, 1e-3 * (1 + std::fabs(mean))) << b << " " << k;
      EXPECT_NEAR(e[b][20 + k - 1].item<double>(), std::sqrt(var), 1e-3 * (1 + std::sqrt(var))) << b << " " << k;
    }
  cfg.kind = "logmel";
  EXPECT_EQ(MelStatsEmbedder(cfg, torch::kCPU).dim(), 256);
  cfg.kind = "chroma";
  EXPECT_THROW(MelStatsEmbedder(cfg, torch::kCPU), UsageError);
}

TEST(FamilyTable, NSynthOrderThenOthers) {
  const FamilyTable t = family_table({{"a", "", "organ", ""}, {"b", "", "bass", ""}, {"c", "", "zither", ""},
                                      {"d", "", "bass", ""}});
  EXPECT_EQ(t.names, (std::vector<std::string>{"bass", "organ", "zither"}));
  EXPECT_EQ(t.group_of, (std::vector<int64_t>{1, 0, 2, 0}));
}

// ---------------------------------------------------------------- eval-eer

namespace {

const std::string kSmallProtocol = " --enroll 2 --targets 3 --non-targets 4 -j 1";

struct CsvTrial {
  uint64_t seed;
  int64_t instrument;
  int target;
  double score;
};

std::vector<CsvTrial> read_trials(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "seed,instrument,instrument_id,target,score");
  std::vector<CsvTrial> out;
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::stringstream ss(line);
    std::string x;
    while (std::getline(ss, x, ',')) f.push_back(x);
    EXPECT_EQ(f.size(), 5u) << line;  // instrument ids of the tiny dataset hold no comma
    if (f.size() != 5) continue;
    out.push_back({std::stoull(f[0]), std::stoll(f[1]), std::stoi(f[3]), std::stod(f[4])});
  }
  return out;
}

// Checks that a report's three EERs are what the dumped trials give (independent code).
void check_eer_report_against_dump(const Json& report, const fs::path& dump) {
  const auto trials = read_trials(dump);
  const auto seeds = report["seeds"].get<std::vector<uint64_t>>();
  ASSERT_EQ(int64_t(trials.size()), report["counts"]["trials"].get<int64_t>());
  for (size_t s = 0; s < seeds.size(); ++s) {
    std::vector<std::pair<double, int>> all;
    std::map<int64_t, std::vector<std::pair<double, int>>> per;
    for (const auto& t : trials)
      if (t.seed == seeds[s]) {
        all.emplace_back(t.score, t.target);
        per[t.instrument].emplace_back(t.score, t.target);
      }
    EXPECT_NEAR(report["eer_pooled"]["per_seed"][s].get<double>(), sklearn_style_eer(all), 1e-12) << s;
    EXPECT_NEAR(report["eer_rocch"]["per_seed"][s].get<double>(), brute_rocch(all), 1e-3) << s;
    double sum = 0;
    for (const auto& kv : per) sum += sklearn_style_eer(kv.second);
    EXPECT_NEAR(report["eer_mean_per_instrument"]["per_seed"][s].get<double>(), sum / double(per.size()), 1e-12) << s;
  }
  const auto pooled = report["eer_pooled"]["per_seed"].get<std::vector<double>>();
  double mean = 0, var = 0;
  for (double v : pooled) mean += v / double(pooled.size());
  for (double v : pooled) var += (v - mean) * (v - mean) / double(pooled.size());
  EXPECT_NEAR(report["eer_pooled"]["mean"].get<double>(), mean, 1e-12);
  EXPECT_NEAR(report["eer_pooled"]["std"].get<double>(), std::sqrt(var), 1e-12);
}

}  // namespace

TEST(EvalEerTool, BaselineReportAndDumpAgree) {
  const fs::path json = kScratch / "eer_baseline.json", dump = kScratch / "eer_baseline.csv";
  const auto r = tool_stdout("eval-eer", "--baseline mfcc --data " + tiny_data().string() + kSmallProtocol +
                                             " --seeds 0,1,2 --json " + json.string() + " --dump-trials " + dump.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  EXPECT_EQ(report, read_json_file(json));  // stdout and --json agree
  for (const char* k : {"eer_pooled", "eer_mean_per_instrument", "eer_rocch"}) {
    ASSERT_TRUE(report.contains(k)) << k;
    for (const char* s : {"mean", "std", "per_seed"}) EXPECT_TRUE(report[k].contains(s)) << k << s;
    EXPECT_EQ(report[k]["per_seed"].size(), 3u);
  }
  EXPECT_EQ(report["encoder"]["kind"], "baseline");
  EXPECT_EQ(report["encoder"]["baseline"], "mfcc");
  EXPECT_EQ(report["split"], "valid");
  const int64_t used = report["counts"]["instruments_used"].get<int64_t>();
  EXPECT_GE(used, 2);
  EXPECT_EQ(report["counts"]["trials_per_seed"].get<int64_t>(), used * (3 + 4));
  EXPECT_EQ(report["counts"]["trials"].get<int64_t>(), 3 * used * (3 + 4));
  check_eer_report_against_dump(report, dump);
  // Deterministic: the same command gives the same report.
  const auto again = tool_stdout("eval-eer", "--baseline mfcc --data " + tiny_data().string() + kSmallProtocol +
                                                 " --seeds 0,1,2");
  EXPECT_EQ(parse_json(again.output)["eer_pooled"], report["eer_pooled"]);
  // The log-mel variant runs too.
  EXPECT_EQ(tool_stdout("eval-eer", "--baseline logmel --data " + tiny_data().string() + kSmallProtocol).code, 0);
}

TEST(EvalEerTool, SingleEncoderReportMatchesDumpAndScikitLearn) {
  const fs::path json = kScratch / "eer_single.json", dump = kScratch / "eer_single.csv";
  const auto r = tool_stdout("eval-eer", "--single " + single_ckpt().string() + " --data " + tiny_data().string() +
                                             kSmallProtocol + " --seeds 4,5 --json " + json.string() +
                                             " --dump-trials " + dump.string() + " --device cpu");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  EXPECT_EQ(report["encoder"]["kind"], "single");
  EXPECT_EQ(report["encoder"]["hash"].get<std::string>().size(), 16u);
  EXPECT_EQ(report["seeds"], Json::array({4, 5}));
  check_eer_report_against_dump(report, dump);
  // The committed scikit-learn check, when the reference Python environment is installed.
  const std::string py = test::reference_python();
  if (py.empty()) GTEST_SKIP() << test::cross_check_skipped();
  const auto check = test::run_command(py + " " + std::string(INSTRET_SOURCE_DIR) +
                                       "/scripts/golden/check_eval_dumps.py eer " + json.string() + " " + dump.string() +
                                       " 2>&1");
  EXPECT_EQ(check.code, 0) << check.output;
}

TEST(EvalEerTool, FailuresAreOneLineWithTheRightExitCode) {
  const std::string data = " --data " + tiny_data().string() + kSmallProtocol;
  auto r = tool("eval-eer", "--baseline mfcc --data " + (kScratch / "absent").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("absent"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  r = tool("eval-eer", "--baseline mfcc --split nosuch" + data);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown split 'nosuch'"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  r = tool("eval-eer", data.substr(1));  // neither --single nor --baseline
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("eval-eer", "--baseline mfcc --single " + single_ckpt().string() + data);
  EXPECT_EQ(r.code, 2) << r.output;
  r = tool("eval-eer", "--baseline chroma" + data);
  EXPECT_EQ(r.code, 2) << r.output;
  // A multi-encoder checkpoint where a single encoder is needed.
  r = tool("eval-eer", "--single " + multi_ckpt().string() + data);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("multi encoder"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(multi_ckpt().string()), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  // Too few clips for the protocol: a usage error naming the counts.
  r = tool("eval-eer", "--baseline mfcc --data " + tiny_data().string() + " --enroll 5 --targets 20");
  EXPECT_EQ(r.code, 2) << r.output;
  // A half-rendered copy: one valid clip missing.
  const fs::path half = kScratch / "half";
  fs::remove_all(half);
  fs::copy(tiny_data(), half, fs::copy_options::recursive);
  std::ifstream manifest(half / "single_valid.jsonl");
  std::string first;
  std::getline(manifest, first);
  const std::string rel = Json::parse(first)["path"].get<std::string>();
  fs::remove(half / rel);
  r = tool("eval-eer", "--baseline mfcc --data " + half.string() + kSmallProtocol);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("half-rendered"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  // No output file is left behind by a failure.
  EXPECT_FALSE(fs::exists(kScratch / "never.json"));
}

// ---------------------------------------------------------------- eval-retrieval

namespace {

// Checks a report's six numbers against the dumped scores and sets (independent code).
void check_retrieval_report_against_dump(const Json& report, const fs::path& dump) {
  std::ifstream in(dump);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  const Json header = Json::parse(line);
  const int64_t n_labels = int64_t(header["labels"].size()), n_groups = int64_t(header["families"].size());
  const auto group_of = header["family_of"].get<std::vector<int64_t>>();
  std::vector<std::set<int64_t>> truth, pred, tfam, pfam;
  std::vector<std::vector<double>> scores;
  while (std::getline(in, line)) {
    const Json j = Json::parse(line);
    truth.push_back(j["truth"].get<std::set<int64_t>>());
    pred.push_back(j["predicted"].get<std::set<int64_t>>());
    std::set<int64_t> tf, pf;
    for (int64_t l : truth.back()) tf.insert(group_of[size_t(l)]);
    for (int64_t l : pred.back()) pf.insert(group_of[size_t(l)]);
    EXPECT_EQ(tf, j["truth_families"].get<std::set<int64_t>>());
    EXPECT_EQ(pf, j["predicted_families"].get<std::set<int64_t>>());
    tfam.push_back(tf);
    pfam.push_back(pf);
    scores.push_back(j["scores"].get<std::vector<double>>());
    ASSERT_EQ(int64_t(scores.back().size()), n_labels);
    // The predicted instruments are the argmax picks, so each holds the item's top score.
    double top = -3;
    for (double s : scores.back()) top = std::max(top, s);
    EXPECT_TRUE(std::any_of(pred.back().begin(), pred.back().end(),
                            [&](int64_t l) { return scores.back()[size_t(l)] == top; }));
  }
  ASSERT_EQ(int64_t(truth.size()), report["counts"]["mixtures"].get<int64_t>());
  const auto f1 = simple_f1(truth, pred, n_labels);
  EXPECT_NEAR(report["f1_macro"].get<double>(), f1.first, 1e-12);
  EXPECT_NEAR(report["f1_weighted"].get<double>(), f1.second, 1e-12);
  const auto ff = simple_f1(tfam, pfam, n_groups);
  EXPECT_NEAR(report["family_f1_macro"].get<double>(), ff.first, 1e-12);
  EXPECT_NEAR(report["family_f1_weighted"].get<double>(), ff.second, 1e-12);
  double macro = 0, wsum = 0, w = 0;
  for (int64_t l = 0; l < n_labels; ++l) {
    std::vector<double> s;
    std::vector<int> y;
    for (size_t i = 0; i < truth.size(); ++i) {
      s.push_back(scores[i][size_t(l)]);
      y.push_back(truth[i].count(l) ? 1 : 0);
    }
    const double ap = simple_ap(s, y);
    const double support = std::accumulate(y.begin(), y.end(), 0.0);
    macro += ap;
    wsum += ap * support;
    w += support;
  }
  EXPECT_NEAR(report["map_macro"].get<double>(), macro / double(n_labels), 1e-12);
  EXPECT_NEAR(report["map_weighted"].get<double>(), w > 0 ? wsum / w : 0.0, 1e-12);
}

const char* kSix[] = {"f1_macro", "f1_weighted", "family_f1_macro", "family_f1_weighted", "map_macro", "map_weighted"};

}  // namespace

TEST(EvalRetrievalTool, BaselineUsesOneSlotAndItsDumpRecomputes) {
  const fs::path dump = kScratch / "ret_baseline.jsonl";
  const auto r = tool_stdout("eval-retrieval", "--baseline mfcc --data " + tiny_data().string() +
                                                   " --chance-repeats 20 -j 1 --dump-scores " + dump.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  for (const char* k : kSix) {
    EXPECT_TRUE(report.contains(k)) << k;
    EXPECT_TRUE(report["chance"]["true_size"].contains(k)) << k;
    EXPECT_TRUE(report["chance"]["uniform_size"].contains(k)) << k;
  }
  EXPECT_EQ(report["counts"]["slots"], 1);
  EXPECT_EQ(report["multi"]["kind"], "baseline");
  check_retrieval_report_against_dump(report, dump);
  // One slot: exactly one predicted instrument per mixture.
  std::ifstream in(dump);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line)) EXPECT_EQ(Json::parse(line)["predicted"].size(), 1u);
}

// Issue 21: both eval tools take --split test: the test split's own instruments, clips and mixtures.
TEST(EvalTools, TestSplitIsEvaluatedOnItsOwn) {
  const std::string data = " --data " + tiny_data().string() + " --split test";
  auto r = tool_stdout("eval-eer", "--single " + single_ckpt().string() + data + kSmallProtocol + " --seeds 0");
  ASSERT_EQ(r.code, 0) << r.output;
  Json report = parse_json(r.output);
  EXPECT_EQ(report["split"], "test");
  std::set<std::string> test_ids;
  for (const Json& i : read_json_file(tiny_data() / "instruments.json"))
    if (i["split"] == "test") test_ids.insert(i["id"].get<std::string>());
  ASSERT_GE(test_ids.size(), 2u);
  EXPECT_LE(report["counts"]["instruments_used"].get<size_t>(), test_ids.size());
  const fs::path dump = kScratch / "ret_test.jsonl";
  r = tool_stdout("eval-retrieval", "--multi " + multi_ckpt().string() + " --single " + single_ckpt().string() + data +
                                        " -j 1 --dump-scores " + dump.string());
  ASSERT_EQ(r.code, 0) << r.output;
  report = parse_json(r.output);
  EXPECT_EQ(report["split"], "test");
  EXPECT_EQ(report["counts"]["instruments"].get<size_t>(), test_ids.size());
  std::ifstream in(dump);
  std::string line;
  std::getline(in, line);  // the header: the labels are the test instruments
  for (const Json& id : Json::parse(line)["labels"]) EXPECT_TRUE(test_ids.count(id.get<std::string>())) << id;
  int mixtures = 0;
  for (; std::getline(in, line); ++mixtures)
    EXPECT_NE(Json::parse(line)["mix"].get<std::string>().find("multi/test/"), std::string::npos) << line;
  EXPECT_EQ(mixtures, report["counts"]["mixtures"].get<int>());
}

// Issue 12: a dataset whose instruments.json has twin groups (render-nlakh twins.policy group) gets the
// twin-aware metrics beside the paper's; one without (tiny_data, rendered with policy keep) does not.
TEST(EvalRetrievalTool, TwinGroupsAddTwinAwareMetrics) {
  const fs::path grouped = kScratch / "nlakh_twins";
  const std::vector<std::string> valid = test::twin_grouped_copy(tiny_data(), grouped);  // the first two are twins
  ASSERT_GE(valid.size(), 3u);
  Json list = read_json_file(grouped / "instruments.json");
  const fs::path dump = kScratch / "ret_twins.jsonl";
  const auto r = tool_stdout("eval-retrieval", "--baseline mfcc --data " + grouped.string() +
                                                   " --chance-repeats 5 -j 1 --dump-scores " + dump.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  for (const char* k : {"twin_f1_macro", "twin_f1_weighted", "twin_map_macro", "twin_map_weighted"}) {
    EXPECT_TRUE(report.contains(k)) << k;
    EXPECT_GE(report[k].get<double>(), 0.0);
    EXPECT_LE(report[k].get<double>(), 1.0);
  }
  EXPECT_EQ(report["counts"]["twin_groups"], int64_t(valid.size()) - 1);
  EXPECT_EQ(report["twin_groups"], Json::array({Json::array({valid[0], valid[1]})}));
  std::ifstream in(dump);
  std::string head;
  std::getline(in, head);
  EXPECT_EQ(Json::parse(head)["twin_of"][1], 0);
  // The paper's numbers do not change; the plain dataset has no twin keys.
  const auto plain = tool_stdout("eval-retrieval", "--baseline mfcc --data " + tiny_data().string() +
                                                       " --chance-repeats 5 -j 1");
  ASSERT_EQ(plain.code, 0) << plain.output;
  const Json p = parse_json(plain.output);
  EXPECT_FALSE(p.contains("twin_f1_macro"));
  EXPECT_FALSE(p.contains("twin_groups"));
  for (const char* k : kSix) EXPECT_EQ(p[k], report[k]) << k;
  // A twin_group naming no instrument of the split is a damaged dataset (exit 1, one line).
  for (Json& i : list)
    if (i["split"] == "valid") {
      i["twin_group"] = "nobody";
      break;
    }
  write_json_file(grouped / "instruments.json", list);
  const auto bad = tool("eval-retrieval", "--baseline mfcc --data " + grouped.string());
  EXPECT_EQ(bad.code, 1) << bad.output;
  EXPECT_NE(bad.output.find("twin_group 'nobody'"), std::string::npos) << bad.output;
  // A chain (third -> second -> first) names a group by a member of another group: damaged too.
  for (Json& i : list)
    if (i["split"] == "valid") i["twin_group"] = i["id"];
  int k = 0;
  for (Json& i : list)
    if (i["split"] == "valid" && k++ < 3) i["twin_group"] = k == 1 ? valid[0] : valid[size_t(k - 2)];
  write_json_file(grouped / "instruments.json", list);
  const auto chain = tool("eval-retrieval", "--baseline mfcc --data " + grouped.string());
  EXPECT_EQ(chain.code, 1) << chain.output;
  EXPECT_NE(chain.output.find("whose own twin_group is '" + valid[0] + "'"), std::string::npos) << chain.output;
}

TEST(EvalRetrievalTool, TrainedEncodersGiveJsonMarkdownAndARecomputableDump) {
  const fs::path json = kScratch / "ret.json", dump = kScratch / "ret.jsonl";
  const std::string args = "--multi " + multi_ckpt().string() + " --single " + single_ckpt().string() + " --data " +
                           tiny_data().string() + " --library-clips 2 --chance-repeats 10 -j 1 --device cpu";
  auto r = tool_stdout("eval-retrieval", args + " --json " + json.string() + " --dump-scores " + dump.string());
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  EXPECT_EQ(report, read_json_file(json));
  EXPECT_EQ(report["multi"]["kind"], "multi");
  EXPECT_EQ(report["multi"]["model"], "large");
  EXPECT_EQ(report["library"]["kind"], "single");
  EXPECT_EQ(report["library_clips"], 2);
  EXPECT_EQ(report["counts"]["slots"], 9);
  check_retrieval_report_against_dump(report, dump);
  // --markdown: the paper's Table 2 header, the two chance rows and the model's row.
  r = tool_stdout("eval-retrieval", args + " --markdown --name tiny-large");
  ASSERT_EQ(r.code, 0) << r.output;
  EXPECT_EQ(r.output.rfind("| Model | Family F1 macro |", 0), 0u) << r.output;
  EXPECT_EQ(count_lines(r.output), 5) << r.output;
  EXPECT_NE(r.output.find("| tiny-large | "), std::string::npos) << r.output;
  // The header and chance rows are the report's (its model row names the checkpoint instead).
  const std::string md = report["markdown"].get<std::string>();
  const size_t row = r.output.find("| tiny-large");
  EXPECT_EQ(r.output.substr(0, row), md.substr(0, md.find("| large (")));
  const std::string py = test::reference_python();
  if (py.empty()) GTEST_SKIP() << test::cross_check_skipped();
  const auto check = test::run_command(py + " " + std::string(INSTRET_SOURCE_DIR) +
                                       "/scripts/golden/check_eval_dumps.py retrieval " + json.string() + " " +
                                       dump.string() + " 2>&1");
  EXPECT_EQ(check.code, 0) << check.output;
}

TEST(EvalRetrievalTool, WorksWithAnImportedMultiEncoder) {
  // The reference code's tiny Small encoder (16-d, 3 outputs) through import-weights.
  const fs::path ckpt = kScratch / "imported_small.ckpt";
  auto r = tool("import-weights", "-i " + std::string(INSTRET_TEST_DATA_DIR) + "/models/ref_small.pt -o " +
                                      ckpt.string() +
                                      " --set model.kind=small --set model.n_outputs=3 --set model.emb_dim=16"
                                      " --set model.han.channels=[4,8,8,16]");
  ASSERT_EQ(r.code, 0) << r.output;
  r = tool_stdout("eval-retrieval", "--multi " + ckpt.string() + " --single " + single_ckpt().string() + " --data " +
                                        tiny_data().string() + " --chance-repeats 5 -j 1");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json report = parse_json(r.output);
  EXPECT_EQ(report["multi"]["model"], "small");
  EXPECT_EQ(report["counts"]["slots"], 3);
}

TEST(EvalRetrievalTool, FailuresAreOneLineWithTheRightExitCode) {
  const std::string data = " --data " + tiny_data().string() + " -j 1";
  const std::string both = " --multi " + multi_ckpt().string() + " --single " + single_ckpt().string();
  // A single-encoder checkpoint as --multi, and a multi-encoder one as --single.
  auto r = tool("eval-retrieval", "--multi " + single_ckpt().string() + " --single " + single_ckpt().string() + data);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find(single_ckpt().string()), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  r = tool("eval-retrieval", "--multi " + multi_ckpt().string() + " --single " + multi_ckpt().string() + data);
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("multi encoder"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  // Missing halves and conflicting choices are usage errors.
  EXPECT_EQ(tool("eval-retrieval", "--multi " + multi_ckpt().string() + data).code, 2);
  EXPECT_EQ(tool("eval-retrieval", "--baseline mfcc" + both + data).code, 2);
  r = tool("eval-retrieval", "--split holdout" + both + data);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("unknown split 'holdout'"), std::string::npos) << r.output;
  // Encoders of different embedding sizes do not belong together.
  const fs::path narrow = train_single("single8", " --set model.emb_dim=8");
  r = tool("eval-retrieval", "--multi " + multi_ckpt().string() + " --single " + narrow.string() + data);
  EXPECT_EQ(r.code, 2) << r.output;
  EXPECT_NE(r.output.find("16-d"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  // A missing or half-rendered dataset.
  r = tool("eval-retrieval", "--baseline mfcc --data " + (kScratch / "absent").string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  const fs::path half = kScratch / "half_multi";
  fs::remove_all(half);
  fs::copy(tiny_data(), half, fs::copy_options::recursive);
  std::ifstream manifest(half / "multi_valid.jsonl");
  std::string first;
  std::getline(manifest, first);
  fs::remove(half / Json::parse(first)["path"].get<std::string>());
  const fs::path out = kScratch / "half.json";
  r = tool("eval-retrieval", "--baseline mfcc --data " + half.string() + " --json " + out.string());
  EXPECT_EQ(r.code, 1) << r.output;
  EXPECT_NE(r.output.find("half-rendered"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_FALSE(fs::exists(out));
}

// Issue 10: eval-eer and eval-retrieval on CUDA give the CPU's numbers, within what float (and
// TF32 convolution) rounding of the embeddings can move: an EER threshold or a rare argmax.
TEST(EvalTools, CudaGivesTheCpuNumbers) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  const std::string eer = "--single " + single_ckpt().string() + " --data " + tiny_data().string() + kSmallProtocol +
                          " --seeds 4,5 --bf16 false --device ";
  const auto a = tool_stdout("eval-eer", eer + "cpu"), b = tool_stdout("eval-eer", eer + "cuda");
  ASSERT_EQ(a.code, 0) << a.output;
  ASSERT_EQ(b.code, 0) << b.output;
  const Json ja = parse_json(a.output), jb = parse_json(b.output);
  for (const char* k : {"eer_pooled", "eer_mean_per_instrument", "eer_rocch"})
    EXPECT_NEAR(jb[k]["mean"].get<double>(), ja[k]["mean"].get<double>(), 0.02) << k;
  const std::string ret = "--multi " + multi_ckpt().string() + " --single " + single_ckpt().string() + " --data " +
                          tiny_data().string() + " --chance-repeats 5 -j 1 --bf16 false --device ";
  const auto c = tool_stdout("eval-retrieval", ret + "cpu"), d = tool_stdout("eval-retrieval", ret + "cuda");
  ASSERT_EQ(c.code, 0) << c.output;
  ASSERT_EQ(d.code, 0) << d.output;
  const Json jc = parse_json(c.output), jd = parse_json(d.output);
  for (const char* k : kSix) EXPECT_NEAR(jd[k].get<double>(), jc[k].get<double>(), 0.05) << k;
}

// ---------------------------------------------------------------- scripts/map_ceilings.py

namespace {

// `python scripts/map_ceilings.py ARGS` (Debian's python3 by default, as docs/evaluation.md runs it).
test::CommandOutputs map_ceilings(const std::string& args, const std::string& python = "/usr/bin/python3") {
  static int calls = 0;
  const fs::path err = kScratch / ("map_ceilings_" + std::to_string(calls++) + ".err");
  return test::run_command_apart(python + " " + std::string(INSTRET_SOURCE_DIR) + "/scripts/map_ceilings.py " + args, err);
}

// The build folder whose bin/ holds the tools (the script's --build).
std::string build_dir() { return fs::path(INSTRET_BIN_DIR).parent_path().string(); }

std::vector<Json> read_jsonl(const fs::path& path) {
  std::ifstream in(path);
  std::vector<Json> out;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(Json::parse(line));
  return out;
}

double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t d = 0; d < a.size(); ++d) s += a[d] * b[d];
  return s;
}

// Rows of an embed .npy, L2-normalised, in double: (N, D) -> N x D, (N, M, D) -> N*M x D.
std::vector<std::vector<double>> unit_rows(const fs::path& npy) {
  const torch::Tensor t = read_npy(npy).to(torch::kFloat64);
  const torch::Tensor rows = t.reshape({-1, t.size(-1)}).contiguous();
  const auto a = rows.accessor<double, 2>();
  std::vector<std::vector<double>> out(size_t(rows.size(0)));
  for (int64_t i = 0; i < rows.size(0); ++i) {
    const std::vector<double> row(&a[i][0], &a[i][0] + rows.size(1));
    const double n = std::sqrt(dot(row, row));
    for (double x : row) out[size_t(i)].push_back(x / n);
  }
  return out;
}

using Matrix = std::vector<std::vector<double>>;

// mAP macro (over every label; one without positives counts 0) and weighted by support, with simple_ap.
std::pair<double, double> simple_map(const Matrix& scores, const std::vector<std::vector<int>>& truth) {
  const size_t n_labels = truth.front().size();
  double macro = 0, wsum = 0, w = 0;
  for (size_t l = 0; l < n_labels; ++l) {
    std::vector<double> s;
    std::vector<int> y;
    for (size_t i = 0; i < truth.size(); ++i) {
      s.push_back(scores[i][l]);
      y.push_back(truth[i][l]);
    }
    const double ap = simple_ap(s, y), support = std::accumulate(y.begin(), y.end(), 0.0);
    macro += ap;
    wsum += ap * support;
    w += support;
  }
  return {macro / double(n_labels), wsum / w};
}

// The one-to-one pairs (row, column), min(rows, columns) of them, of the largest total c, by dynamic
// programming over the subsets of the longer side (exact; no Hungarian algorithm).
std::vector<std::pair<size_t, size_t>> best_assignment(const Matrix& c) {
  const size_t rows = c.size(), cols = c.front().size();
  const bool by_col = cols <= rows;  // walk the shorter side, a subset mask over the longer one
  const size_t n = by_col ? cols : rows, k = by_col ? rows : cols;
  const auto at = [&](size_t short_i, size_t long_i) { return by_col ? c[long_i][short_i] : c[short_i][long_i]; };
  const double none = -1e300;
  std::vector<std::vector<double>> best(n + 1, std::vector<double>(size_t(1) << k, none));
  best[0][0] = 0;
  for (size_t s = 0; s < n; ++s)
    for (size_t mask = 0; mask < best[s].size(); ++mask)
      if (best[s][mask] > none)
        for (size_t j = 0; j < k; ++j)
          if (!(mask >> j & 1)) {
            double& b = best[s + 1][mask | size_t(1) << j];
            b = std::max(b, best[s][mask] + at(s, j));
          }
  size_t mask = size_t(std::max_element(best[n].begin(), best[n].end()) - best[n].begin());
  std::vector<std::pair<size_t, size_t>> out;
  for (size_t s = n; s-- > 0;)
    for (size_t j = 0; j < k; ++j)
      if ((mask >> j & 1) && best[s][mask ^ size_t(1) << j] > none &&
          std::fabs(best[s][mask ^ size_t(1) << j] + at(s, j) - best[s + 1][mask]) < 1e-12) {
        out.emplace_back(by_col ? j : s, by_col ? s : j);
        mask ^= size_t(1) << j;
        break;
      }
  return out;
}

// Hubness of top-1 picks (rows: cosines to the library, -2 where an entry has no clip).
std::pair<double, double> hubness(const Matrix& picks_cos, const std::vector<bool>& has_clip) {
  std::vector<double> counts(has_clip.size(), 0.0);
  for (const auto& row : picks_cos) counts[size_t(std::max_element(row.begin(), row.end()) - row.begin())] += 1;
  std::vector<double> c;
  for (size_t l = 0; l < counts.size(); ++l)
    if (has_clip[l]) c.push_back(counts[l]);
  const double mu = std::accumulate(c.begin(), c.end(), 0.0) / double(c.size());
  double m2 = 0, m3 = 0;
  for (double x : c) {
    m2 += (x - mu) * (x - mu) / double(c.size());
    m3 += (x - mu) * (x - mu) * (x - mu) / double(c.size());
  }
  return {*std::max_element(c.begin(), c.end()) / double(picks_cos.size()), m2 > 0 ? m3 / std::pow(m2, 1.5) : 0.0};
}

// Mean cosine of unit rows to their normalised mean.
double cos_to_mean(const Matrix& rows) {
  std::vector<double> mean(rows.front().size(), 0.0);
  for (const auto& r : rows)
    for (size_t d = 0; d < r.size(); ++d) mean[d] += r[d] / double(rows.size());
  const double n = std::sqrt(dot(mean, mean));
  double s = 0;
  for (const auto& r : rows) s += dot(r, mean) / n / double(rows.size());
  return s;
}

// The least AP a detector that scores every item of a block alike, broken by random noise, can get
// for a label whose `pos` positives all lie in a block of `block` items above the rest: the
// positives last in the block.
double worst_block_ap(double pos, double block) {
  double ap = 0;
  for (double k = 1; k <= pos; ++k) ap += k / (block - pos + k) / pos;
  return ap;
}

void expect_map(const Json& got, std::pair<double, double> want, double tol, const std::string& what) {
  EXPECT_NEAR(got["map_macro"].get<double>(), want.first, tol) << what;
  EXPECT_NEAR(got["map_weighted"].get<double>(), want.second, tol) << what;
}

}  // namespace

// The script's report on the tiny dataset with the tiny trained encoders: every key; the multi
// encoder's mAP, hubness and collapse equal eval-retrieval's; and every number recomputes from the
// same embeddings (embed --single / --multi) by independent code here.
TEST(MapCeilingsScript, AgreesWithEvalRetrievalAndRecomputesFromTheEmbeddings) {
  const fs::path data = tiny_data();
  const auto run = map_ceilings(data.string() + " " + single_ckpt().string() + " --multi " + multi_ckpt().string() +
                                " --build " + build_dir());
  ASSERT_EQ(run.code, 0) << run.err << run.out;  // (scipy missing: the script says so; scripts/setup.sh installs it)
  EXPECT_EQ(run.err.find("Traceback"), std::string::npos) << run.err;
  const Json report = parse_json(run.out);
  EXPECT_EQ(report["split"], "valid");
  for (const char* k : {"oracle", "single_on_mixture", "family_detector", "file_family_detector", "multi"})
    for (const char* m : {"map_macro", "map_weighted"}) {
      ASSERT_TRUE(report.contains(k) && report[k].contains(m)) << k << " " << m << "\n" << run.out;
      EXPECT_GE(report[k][m].get<double>(), 0.0) << k;
      EXPECT_LE(report[k][m].get<double>(), 1.0) << k;
    }
  const Json& multi = report["multi"];
  const Json& matched = multi["matched"];
  for (const char* k : {"map_macro", "map_weighted", "cosine_mean", "true_rank_median", "true_top1_share",
                        "true_top10_share"})
    ASSERT_TRUE(matched.contains(k)) << k << "\n" << run.out;
  EXPECT_GE(matched["true_top1_share"].get<double>(), 0.0);
  EXPECT_LE(matched["true_top1_share"].get<double>(), matched["true_top10_share"].get<double>());
  EXPECT_LE(matched["true_top10_share"].get<double>(), 1.0);
  EXPECT_GE(matched["cosine_mean"].get<double>(), -1.0);
  EXPECT_LE(matched["cosine_mean"].get<double>(), 1.0);

  // The dataset as the script reads it: the valid instruments (instruments.json order), each one's
  // first clip of single_valid.jsonl as its library entry, the mixtures and their stems.
  std::vector<std::string> names, family, file;
  std::map<std::string, size_t> column;
  for (const Json& i : read_json_file(data / "instruments.json"))
    if (i["split"] == "valid") {
      column[i["id"].get<std::string>()] = names.size();
      names.push_back(i["id"].get<std::string>());
      family.push_back(i["family"].get<std::string>());
      file.push_back(i.value("file", std::string()));
    }
  const size_t L = names.size();
  std::vector<std::string> library_path(L);
  for (const Json& c : read_jsonl(data / "single_valid.jsonl")) {
    std::string& p = library_path[column.at(c["instrument"].get<std::string>())];
    if (p.empty()) p = c["path"].get<std::string>();
  }
  std::vector<bool> has_clip(L);
  for (size_t l = 0; l < L; ++l) has_clip[l] = !library_path[l].empty();
  const std::vector<Json> mixtures = read_jsonl(data / "multi_valid.jsonl");
  const size_t N = mixtures.size();
  EXPECT_EQ(report["mixtures"], N);
  EXPECT_EQ(report["library_instruments"], L);
  std::vector<std::vector<int>> truth(N, std::vector<int>(L, 0));
  std::vector<std::vector<size_t>> stem_label(N);
  std::string single_files, multi_files;
  for (size_t l = 0; l < L; ++l)
    if (has_clip[l]) single_files += " " + (data / library_path[l]).string();
  for (size_t i = 0; i < N; ++i)
    for (const Json& s : mixtures[i]["stems"]) {
      stem_label[i].push_back(column.at(s["instrument"].get<std::string>()));
      truth[i][stem_label[i].back()] = 1;
      single_files += " " + (data / s["path"].get<std::string>()).string();
    }
  for (const Json& m : mixtures) {
    single_files += " " + (data / m["path"].get<std::string>()).string();
    multi_files += " " + (data / m["path"].get<std::string>()).string();
  }
  const fs::path single_npy = kScratch / "mc_single.npy", multi_npy = kScratch / "mc_multi.npy";
  auto e = tool("embed", "--single " + single_ckpt().string() + " -q -o " + single_npy.string() + single_files);
  ASSERT_EQ(e.code, 0) << e.output;
  e = tool("embed", "--multi " + multi_ckpt().string() + " -q -o " + multi_npy.string() + multi_files);
  ASSERT_EQ(e.code, 0) << e.output;
  const Matrix single_rows = unit_rows(single_npy), out_rows = unit_rows(multi_npy);
  const size_t M = out_rows.size() / N;
  ASSERT_EQ(out_rows.size(), N * M);
  ASSERT_EQ(multi["slots"].size(), M) << run.out;
  Matrix lib(L), stems, mix;
  size_t row = 0;
  for (size_t l = 0; l < L; ++l)
    if (has_clip[l]) lib[l] = single_rows[row++];
  for (size_t i = 0; i < N; ++i)
    for (size_t k = 0; k < stem_label[i].size(); ++k) stems.push_back(single_rows[row++]);
  for (size_t i = 0; i < N; ++i) mix.push_back(single_rows[row++]);
  ASSERT_EQ(row, single_rows.size());
  const auto cos_lib = [&](const std::vector<double>& v) {  // -2 for an instrument without a clip
    std::vector<double> c(L, -2.0);
    for (size_t l = 0; l < L; ++l)
      if (has_clip[l]) c[l] = dot(v, lib[l]);
    return c;
  };
  // 4 decimals of rounding, float32 embeddings in the script against double here.
  const double tol = 2e-4;

  // oracle: each stem's own embedding as an output; single_on_mixture: the mixture's embedding.
  Matrix oracle(N, std::vector<double>(L, -2.0)), on_mix(N), stem_cos;
  for (size_t i = 0, a = 0; i < N; a += stem_label[i].size(), ++i) {
    for (size_t k = 0; k < stem_label[i].size(); ++k) {
      stem_cos.push_back(cos_lib(stems[a + k]));
      for (size_t l = 0; l < L; ++l) oracle[i][l] = std::max(oracle[i][l], stem_cos.back()[l]);
    }
    on_mix[i] = cos_lib(mix[i]);
  }
  expect_map(report["oracle"], simple_map(oracle, truth), tol, "oracle");
  expect_map(report["single_on_mixture"], simple_map(on_mix, truth), tol, "single_on_mixture");
  const auto oracle_hub = hubness(stem_cos, has_clip);
  EXPECT_NEAR(report["oracle"]["hub_top1_share"].get<double>(), oracle_hub.first, tol);
  EXPECT_NEAR(report["oracle"]["hub_skewness"].get<double>(), oracle_hub.second, 2e-3);
  EXPECT_NEAR(report["stems_cos_to_mean"].get<double>(), cos_to_mean(stems), 2e-3);

  // The multi encoder: each slot alone, the best over the slots, and its hubness over every output.
  std::vector<Matrix> cos(N);  // cos[i][j]: output j of mixture i against the library
  Matrix best(N, std::vector<double>(L, -2.0)), all_picks;
  for (size_t i = 0; i < N; ++i)
    for (size_t j = 0; j < M; ++j) {
      cos[i].push_back(cos_lib(out_rows[i * M + j]));
      all_picks.push_back(cos[i][j]);
      for (size_t l = 0; l < L; ++l) best[i][l] = std::max(best[i][l], cos[i][j][l]);
    }
  expect_map(multi, simple_map(best, truth), tol, "multi");
  const auto multi_hub = hubness(all_picks, has_clip);
  EXPECT_NEAR(multi["hub_top1_share"].get<double>(), multi_hub.first, tol);
  EXPECT_NEAR(multi["hub_skewness"].get<double>(), multi_hub.second, 2e-3);
  double collapse = 0;
  for (size_t j = 0; j < M; ++j) {
    Matrix slot_rows, slot_scores;
    for (size_t i = 0; i < N; ++i) {
      slot_rows.push_back(out_rows[i * M + j]);
      slot_scores.push_back(cos[i][j]);
    }
    const Json& s = multi["slots"][j];
    EXPECT_EQ(s["slot"], j);
    expect_map(s, simple_map(slot_scores, truth), tol, "slot " + std::to_string(j));
    EXPECT_NEAR(s["cos_to_mean"].get<double>(), cos_to_mean(slot_rows), 2e-3) << j;
    collapse += cos_to_mean(slot_rows) / double(M);
  }
  EXPECT_NEAR(multi["collapse"].get<double>(), collapse, 2e-3);

  // matched: the outputs paired one to one with the stems for the largest total cosine (exact
  // subset DP here, scipy's Hungarian in the script); the mAP score of an instrument is its best
  // cosine over the paired outputs only.
  Matrix matched_best(N, std::vector<double>(L, -2.0));
  std::vector<double> pair_cos, ranks;
  for (size_t i = 0, a = 0; i < N; a += stem_label[i].size(), ++i) {
    Matrix c(M, std::vector<double>(stem_label[i].size()));
    for (size_t j = 0; j < M; ++j)
      for (size_t k = 0; k < stem_label[i].size(); ++k) c[j][k] = dot(out_rows[i * M + j], stems[a + k]);
    const auto pairs = best_assignment(c);
    ASSERT_EQ(pairs.size(), std::min(M, stem_label[i].size())) << i;
    for (const auto& [j, k] : pairs) {
      for (size_t l = 0; l < L; ++l) matched_best[i][l] = std::max(matched_best[i][l], cos[i][j][l]);
      pair_cos.push_back(c[j][k]);
      const double true_cos = cos[i][j][stem_label[i][k]];
      ranks.push_back(double(std::count_if(cos[i][j].begin(), cos[i][j].end(), [&](double x) { return x > true_cos; })));
    }
  }
  expect_map(matched, simple_map(matched_best, truth), tol, "matched");
  EXPECT_NEAR(matched["cosine_mean"].get<double>(),
              std::accumulate(pair_cos.begin(), pair_cos.end(), 0.0) / double(pair_cos.size()), tol);
  std::sort(ranks.begin(), ranks.end());
  const size_t n = ranks.size();
  EXPECT_EQ(matched["true_rank_median"].get<double>(), n % 2 ? ranks[n / 2] : (ranks[n / 2 - 1] + ranks[n / 2]) / 2);
  EXPECT_NEAR(matched["true_top1_share"].get<double>(), double(std::count(ranks.begin(), ranks.end(), 0.0)) / double(n),
              tol);
  EXPECT_NEAR(matched["true_top10_share"].get<double>(),
              double(std::count_if(ranks.begin(), ranks.end(), [](double r) { return r < 10; })) / double(n), tol);

  // The detectors score every instrument of a present family (or (file, family)) 1 plus tiny random
  // noise: each label's AP lies between its positives coming last and first in that block.
  for (const bool by_file : {false, true}) {
    std::vector<double> worst(L, 0.0), support(L, 0.0);
    for (size_t l = 0; l < L; ++l) {
      double pos = 0, block = 0;
      for (size_t i = 0; i < N; ++i) {
        bool present = false;
        for (size_t s : stem_label[i]) present |= family[s] == family[l] && (!by_file || file[s] == file[l]);
        block += present;
        pos += truth[i][l];
      }
      support[l] = pos;
      if (pos > 0) worst[l] = worst_block_ap(pos, block);
    }
    double lo_macro = 0, hi_macro = 0, lo_w = 0, n_pos = 0;
    for (size_t l = 0; l < L; ++l) {
      lo_macro += worst[l] / double(L);
      hi_macro += (support[l] > 0) / double(L);
      lo_w += worst[l] * support[l];
      n_pos += support[l];
    }
    const Json& d = report[by_file ? "file_family_detector" : "family_detector"];
    EXPECT_GE(d["map_macro"].get<double>(), lo_macro - 1e-4) << by_file;
    EXPECT_LE(d["map_macro"].get<double>(), hi_macro + 1e-4) << by_file;
    EXPECT_GE(d["map_weighted"].get<double>(), lo_w / n_pos - 1e-4) << by_file;
  }

  // eval-retrieval on the same checkpoints and split: its protocol, with nothing of its own that
  // the script lacks (no existence head, no twin groups, one library clip), so mAP, hubness and
  // collapse are the same numbers.
  const auto r = tool_stdout("eval-retrieval", "--multi " + multi_ckpt().string() + " --single " +
                                                   single_ckpt().string() + " --data " + data.string() +
                                                   " --chance-repeats 1 -j 1 --device cpu");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json ev = parse_json(r.output);
  EXPECT_FALSE(ev.contains("existence_mean")) << "the fixture's multi encoder grew an existence head: eval-retrieval's "
                                                 "mAP then weights by it and the script's does not";
  EXPECT_FALSE(ev.contains("twin_groups"));
  EXPECT_EQ(ev["library_clips"], 1);
  EXPECT_EQ(ev["split"], "valid");
  EXPECT_EQ(ev["counts"]["mixtures"], report["mixtures"]);
  EXPECT_EQ(ev["counts"]["instruments"], report["library_instruments"]);
  EXPECT_EQ(ev["counts"]["slots"], M);
  EXPECT_NEAR(multi["map_macro"].get<double>(), ev["map_macro"].get<double>(), 1e-3);
  EXPECT_NEAR(multi["map_weighted"].get<double>(), ev["map_weighted"].get<double>(), 1e-3);
  EXPECT_NEAR(multi["hub_top1_share"].get<double>(), ev["slots"]["hub_top1_share"].get<double>(), 1e-3);
  EXPECT_NEAR(multi["hub_skewness"].get<double>(), ev["slots"]["hub_skewness"].get<double>(), 2e-3);
  EXPECT_NEAR(multi["collapse"].get<double>(), ev["slots"]["collapse"].get<double>(), 2e-3);
  for (size_t j = 0; j < M; ++j)
    EXPECT_NEAR(multi["slots"][j]["cos_to_mean"].get<double>(), ev["slots"]["collapse_per_slot"][j].get<double>(),
                1e-3)
        << j;
}

// The script's average_precision and map_scores against scikit-learn's average_precision_score, with
// tied scores (the script is imported as a module by the reference Python).
TEST(MapCeilingsScript, AveragePrecisionIsScikitLearns) {
  const std::string py = test::reference_python();
  if (py.empty()) GTEST_SKIP() << test::cross_check_skipped();
  const fs::path check = kScratch / "map_ceilings_ap.py";
  std::ofstream(check) << R"(import importlib.util, json, sys
import numpy as np
from sklearn.metrics import average_precision_score
spec = importlib.util.spec_from_file_location("map_ceilings", sys.argv[1])
mc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(mc)
rng = np.random.default_rng(5)
worst, trials = 0.0, 0
for t in range(400):
    size = int(rng.integers(1, 40))
    y = rng.integers(0, 2, size)
    y[rng.integers(size)] = 1
    levels = int(rng.integers(1, 6))
    s = rng.random(size) if t % 4 == 0 else rng.integers(0, levels, size) / levels
    worst = max(worst, abs(mc.average_precision(y, s) - average_precision_score(y, s)))
    trials += 1
truth = rng.integers(0, 2, (40, 7))
truth[:, 3] = 0
scores = rng.integers(0, 4, (40, 7)) / 4.0
aps = np.array([average_precision_score(truth[:, k], scores[:, k]) for k in range(7) if truth[:, k].any()])
support = truth.sum(0)[truth.any(0)]
print(json.dumps({"trials": trials, "worst": worst, "map": mc.map_scores(truth, scores),
                  "macro": float(aps.sum() / 7), "weighted": float(aps @ support / support.sum())}))
)";
  const auto r = test::run_command(py + " " + check.string() + " " + std::string(INSTRET_SOURCE_DIR) +
                                   "/scripts/map_ceilings.py 2>&1");
  ASSERT_EQ(r.code, 0) << r.output;
  const Json j = parse_json(r.output);
  EXPECT_EQ(j["trials"], 400);
  EXPECT_LT(j["worst"].get<double>(), 1e-12) << r.output;
  EXPECT_NEAR(j["map"]["map_macro"].get<double>(), j["macro"].get<double>(), 5.1e-5) << r.output;
  EXPECT_NEAR(j["map"]["map_weighted"].get<double>(), j["weighted"].get<double>(), 5.1e-5) << r.output;
}

// Every failure is one line on stderr naming the problem, a non-zero exit and no traceback.
TEST(MapCeilingsScript, FailuresAreOneLineWithoutATraceback) {
  const auto expect_one_line = [](const test::CommandOutputs& r, const std::string& needle) {
    EXPECT_NE(r.code, 0) << r.err;
    EXPECT_TRUE(r.out.empty()) << r.out;
    EXPECT_EQ(r.err.find("Traceback"), std::string::npos) << r.err;
    EXPECT_EQ(count_lines(r.err), 1) << r.err;
    EXPECT_EQ(r.err.rfind("map_ceilings.py: ", 0), 0u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos) << needle << "\n" << r.err;
  };
  const std::string build = " --build " + build_dir();
  // A missing dataset folder.
  const fs::path absent = kScratch / "absent_data";
  expect_one_line(map_ceilings(absent.string() + " none.pt" + build), absent.string());
  // A folder with a valid split but no single_train.jsonl (as random_mix_view.py writes): no --centre.
  const fs::path view = kScratch / "mc_view";
  fs::create_directories(view);
  std::ofstream(view / "instruments.json") << R"([{"id": "a", "split": "valid", "family": "organ"}])";
  std::ofstream(view / "single_valid.jsonl") << R"({"instrument": "a", "path": "single/valid/a.wav"})" << "\n";
  std::ofstream(view / "multi_valid.jsonl")
      << R"({"path": "multi/valid/m.wav", "stems": [{"instrument": "a", "path": "multi/valid/m_a.wav"}]})" << "\n";
  expect_one_line(map_ceilings(view.string() + " none.pt --centre 5" + build), "single_train.jsonl");
  // A split the folder lacks.
  expect_one_line(map_ceilings(view.string() + " none.pt --split test" + build), "single_test.jsonl");
  // embed fails (here: the clips are missing): its own message, as one line of the script's.
  expect_one_line(map_ceilings(view.string() + " none.pt" + build), "a.wav");
  // No embed where --build points.
  expect_one_line(map_ceilings(view.string() + " none.pt --build " + (kScratch / "nobuild").string()), "nobuild");
  // --multi without scipy (hidden from the script): says what to install.
  const auto r = test::run_command(
      "/usr/bin/python3 -c \"import runpy, sys; sys.modules['scipy'] = None; sys.argv = ['map_ceilings.py', '" +
      view.string() + "', 'none.pt', '--multi', 'none.pt']; runpy.run_path('" + std::string(INSTRET_SOURCE_DIR) +
      "/scripts/map_ceilings.py', run_name='__main__')\" 2>&1");
  EXPECT_NE(r.code, 0) << r.output;
  EXPECT_EQ(r.output.find("Traceback"), std::string::npos) << r.output;
  EXPECT_EQ(count_lines(r.output), 1) << r.output;
  EXPECT_NE(r.output.find("python3-scipy"), std::string::npos) << r.output;
}

// A hand-worked case: a stand-in bin/embed (the script's --build) that gives fixed 3-d embeddings by
// file name. Valid instruments A, B (organ, of two SoundFont files), C (bass) with library clips
// e_A, e_B, e_C (A's second clip, e_C, must not be used) and D with no clip, in no mixture (AP 0 in
// every macro: 4 labels). Mixtures m1 {A}, m2 {B}, m3 {C}, m4 {A, B}, stems embedded as their
// instruments, whole mixtures as e_A, e_B, e_A, e_C, and two outputs each:
//   m1 (e_A, e_B)  m2 (e_C, e_B)  m3 (e_C, e_A)  m4 ((e_A + e_B) / sqrt 2, e_C).
// Every output but one points at an instrument, so the spare outputs (m1's second, m2's first,
// m3's second) add wrong instruments that the matched outputs (one to one: m4's two stems share
// its first output's cosine, so one of them gets the second output, cosine 0) do not.
TEST(MapCeilingsScript, HandWorkedCaseWithAStandInEmbed) {
  const fs::path data = kScratch / "mc_hand", build = kScratch / "mc_fake_build";
  fs::remove_all(data);
  fs::create_directories(data / "clips");
  fs::create_directories(build / "bin");
  std::ofstream(data / "instruments.json") << R"([
    {"id": "T", "split": "train", "family": "organ", "file": "f1.sf2"},
    {"id": "A", "split": "valid", "family": "organ", "file": "f1.sf2"},
    {"id": "B", "split": "valid", "family": "organ", "file": "f2.sf2"},
    {"id": "C", "split": "valid", "family": "bass", "file": "f1.sf2"},
    {"id": "D", "split": "valid", "family": "reed", "file": "f3.sf2"}])";
  std::ofstream(data / "single_valid.jsonl")
      << R"({"instrument": "A", "path": "clips/a.wav"})" "\n" R"({"instrument": "B", "path": "clips/b.wav"})" "\n"
      << R"({"instrument": "A", "path": "clips/a2.wav"})" "\n" R"({"instrument": "C", "path": "clips/c.wav"})" "\n";
  std::ofstream(data / "single_train.jsonl")
      << R"({"instrument": "T", "path": "clips/t1.wav"})" "\n" R"({"instrument": "T", "path": "clips/t2.wav"})" "\n";
  std::ofstream(data / "multi_valid.jsonl")
      << R"({"path": "clips/m1.wav", "stems": [{"instrument": "A", "path": "clips/m1_a.wav"}]})" "\n"
      << R"({"path": "clips/m2.wav", "stems": [{"instrument": "B", "path": "clips/m2_b.wav"}]})" "\n"
      << R"({"path": "clips/m3.wav", "stems": [{"instrument": "C", "path": "clips/m3_c.wav"}]})" "\n"
      << R"({"path": "clips/m4.wav", "stems": [{"instrument": "A", "path": "clips/m4_a.wav"},)"
      << R"( {"instrument": "B", "path": "clips/m4_b.wav"}]})" "\n";
  for (const char* f : {"a", "a2", "b", "c", "t1", "t2", "m1", "m1_a", "m2", "m2_b", "m3", "m3_c", "m4", "m4_a", "m4_b"})
    std::ofstream(data / "clips" / (std::string(f) + ".wav"));
  // Unnormalised on purpose: the script normalises what embed gives.
  std::ofstream(build / "bin" / "table.json") << R"({
    "--single": {"a.wav": [3, 0, 0], "a2.wav": [0, 0, 1], "b.wav": [0, 2, 0], "c.wav": [0, 0, 1],
                 "t1.wav": [1, 0, 0], "t2.wav": [0, 1, 0],
                 "m1_a.wav": [1, 0, 0], "m2_b.wav": [0, 1, 0], "m3_c.wav": [0, 0, 1], "m4_a.wav": [2, 0, 0],
                 "m4_b.wav": [0, 1, 0], "m1.wav": [1, 0, 0], "m2.wav": [0, 1, 0], "m3.wav": [1, 0, 0],
                 "m4.wav": [0, 0, 1]},
    "--multi": {"m1.wav": [[1, 0, 0], [0, 1, 0]], "m2.wav": [[0, 0, 1], [0, 1, 0]],
                "m3.wav": [[0, 0, 1], [1, 0, 0]], "m4.wav": [[1, 1, 0], [0, 0, 2]]}})";
  const fs::path embed = build / "bin" / "embed";
  std::ofstream(embed) << R"(#!/usr/bin/python3
import json, os, sys
import numpy as np
a = sys.argv[1:]
mode, ckpt, out = a[0], a[1], a[a.index("-o") + 1]
if ckpt != {"--single": "single.pt", "--multi": "multi.pt"}[mode]:
    sys.exit(f"embed: {mode} got {ckpt}")
files = a[a.index("-o") + 2:]
files = [f for f in files if f != "-q"]
for f in files:
    if not os.path.isfile(f):
        sys.exit(f"embed: cannot read {f}: no such file")
table = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "table.json")))[mode]
np.save(out, np.array([table[os.path.basename(f)] for f in files], dtype=np.float32))
)";
  fs::permissions(embed, fs::perms::owner_all, fs::perm_options::add);
  const auto run = map_ceilings(data.string() + " single.pt --multi multi.pt --centre 2 --build " + build.string());
  ASSERT_EQ(run.code, 0) << run.err << run.out;
  const Json r = parse_json(run.out);
  EXPECT_EQ(r["mixtures"], 4);
  EXPECT_EQ(r["library_instruments"], 4);
  const auto expect = [&](const Json& got, double macro, double weighted, const std::string& what) {
    EXPECT_NEAR(got["map_macro"].get<double>(), macro, 1e-4) << what << "\n" << run.out;
    EXPECT_NEAR(got["map_weighted"].get<double>(), weighted, 1e-4) << what << "\n" << run.out;
  };
  // Supports A 2, B 2, C 1, D 0. APs of A, B, C (D: 0) under each rule, ties as one block:
  expect(r["oracle"], 3.0 / 4, 1.0, "oracle");                                    // 1, 1, 1
  expect(r["single_on_mixture"], 1.5 / 4, 2.75 / 5, "single_on_mixture");          // .5, .75, .25
  expect(r["multi"], 1.5 / 4, (7.0 / 12 * 4 + 1.0 / 3) / 5, "multi");             // 7/12, 7/12, 1/3
  expect(r["multi"]["slots"][0], 2.25 / 4, 4.0 / 5, "slot 0");                     // 1, .75, .5
  expect(r["multi"]["slots"][1], 1.25 / 4, 2.25 / 5, "slot 1");                    // .5, .5, .25
  expect(r["multi"]["matched"], 2.5 / 4, 4.5 / 5, "matched");                      // 1, 1, .5
  expect(r["file_family_detector"], 3.0 / 4, 1.0, "file_family_detector");         // 1, 1, 1
  // The family detector ties A and B in m1, m2, m4 (organ) and breaks the tie by noise: each of
  // their APs is 7/12, 5/6 or 1 (the negative third, second or first in the block); C's is 1.
  bool family_ok = false;
  for (double a : {7.0 / 12, 5.0 / 6, 1.0})
    for (double b : {7.0 / 12, 5.0 / 6, 1.0})
      family_ok |= std::fabs(r["family_detector"]["map_macro"].get<double>() - (a + b + 1) / 4) < 1e-4 &&
                   std::fabs(r["family_detector"]["map_weighted"].get<double>() - (2 * a + 2 * b + 1) / 5) < 1e-4;
  EXPECT_TRUE(family_ok) << run.out;
  const Json& m = r["multi"]["matched"];
  EXPECT_NEAR(m["cosine_mean"].get<double>(), (3 + std::sqrt(0.5) + 0) / 5, 1e-4);  // m4: one stem gets cosine 0
  EXPECT_EQ(m["true_rank_median"].get<double>(), 0.0);
  EXPECT_NEAR(m["true_top1_share"].get<double>(), 0.8, 1e-12);  // m4's e_C output ranks its stem behind C
  EXPECT_NEAR(m["true_top10_share"].get<double>(), 1.0, 1e-12);
  // Hubness: the stems pick A, B, C, A, B (2, 2, 1 of 5); the outputs A, B, C, B, C, A, A (the first
  // of m4's tie), C: 3, 2, 3 of 8. Both count vectors have skewness -1/sqrt 2.
  EXPECT_NEAR(r["oracle"]["hub_top1_share"].get<double>(), 0.4, 1e-12);
  EXPECT_NEAR(r["oracle"]["hub_skewness"].get<double>(), -std::sqrt(0.5), 1e-3);
  EXPECT_NEAR(r["multi"]["hub_top1_share"].get<double>(), 3.0 / 8, 1e-12);
  EXPECT_NEAR(r["multi"]["hub_skewness"].get<double>(), -std::sqrt(0.5), 1e-3);
  const Matrix slot0 = {{1, 0, 0}, {0, 0, 1}, {0, 0, 1}, {std::sqrt(0.5), std::sqrt(0.5), 0}},
               slot1 = {{0, 1, 0}, {0, 1, 0}, {1, 0, 0}, {0, 0, 1}};
  EXPECT_NEAR(r["multi"]["slots"][0]["cos_to_mean"].get<double>(), cos_to_mean(slot0), 1e-3);
  EXPECT_NEAR(r["multi"]["slots"][1]["cos_to_mean"].get<double>(), cos_to_mean(slot1), 1e-3);
  // --centre 2: both train clips, whose mean (e_A + e_B) / 2 has norm 1/sqrt 2; the same keys again.
  ASSERT_TRUE(r.contains("centred")) << run.out;
  EXPECT_EQ(r["centred"]["train_clips"], 2);
  EXPECT_NEAR(r["centred"]["mean_norm"].get<double>(), std::sqrt(0.5), 1e-4);
  for (const char* k : {"oracle", "single_on_mixture", "multi"}) EXPECT_TRUE(r["centred"].contains(k)) << k;
  EXPECT_TRUE(r["centred"]["multi"].contains("matched"));
  EXPECT_EQ(r["centred"]["multi"]["slots"].size(), 2u);
}
