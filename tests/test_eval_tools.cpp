// The evaluation tools end to end (eval-eer, eval-retrieval) on a tiny rendered dataset with tiny
// trained encoders, an imported multi encoder and the MFCC baseline: reports, dumps that recompute
// to the reported numbers (here by independent code, and with scikit-learn: test::reference_python()),
// and every failure the tools must report cleanly. Plus hand-worked cases of the library parts.
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
