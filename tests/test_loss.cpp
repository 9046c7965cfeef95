// Linear assignment against scipy-computed references and brute force; PIT cosine loss against a
// numpy/scipy reference, brute force over permutations, invariances and numerical gradients.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/loss/existence_loss.h"
#include "instret/loss/family_smoothing.h"
#include "instret/loss/linear_assignment.h"
#include "instret/loss/matched_contrastive_loss.h"
#include "instret/loss/pit_cosine_loss.h"

using namespace instret;

namespace {

const std::string kData = std::string(INSTRET_TEST_DATA_DIR) + "/loss/";

double decode(const Json& v) {
  if (v.is_string()) {
    const auto s = v.get<std::string>();
    if (s == "inf") return std::numeric_limits<double>::infinity();
    if (s == "-inf") return -std::numeric_limits<double>::infinity();
    return std::numeric_limits<double>::quiet_NaN();
  }
  return v.get<double>();
}

torch::Tensor matrix(const Json& rows) {
  const int64_t r = rows.size(), c = rows[0].size();
  auto t = torch::empty({r, c}, torch::kFloat64);
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) t[i][j] = decode(rows[i][j]);
  return t;
}

// Minimum total cost over all matchings of size min(R, C), by enumeration.
double brute_force(const torch::Tensor& cost) {
  const bool tall = cost.size(0) > cost.size(1);
  const auto c = (tall ? cost.t() : cost).contiguous();
  const int64_t r = c.size(0), n = c.size(1);
  std::vector<int64_t> cols(n);
  std::iota(cols.begin(), cols.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  const auto a = c.accessor<double, 2>();
  do {
    double s = 0;
    for (int64_t i = 0; i < r; ++i) s += a[i][cols[i]];
    best = std::min(best, s);
  } while (std::next_permutation(cols.begin(), cols.end()));
  return best;
}

torch::Tensor tensor3(const Json& j) {
  const int64_t a = j.size(), b = j[0].size(), c = j[0][0].size();
  auto t = torch::empty({a, b, c}, torch::kFloat64);
  for (int64_t i = 0; i < a; ++i)
    for (int64_t k = 0; k < b; ++k)
      for (int64_t l = 0; l < c; ++l) t[i][k][l] = j[i][k][l].get<double>();
  return t;
}

}  // namespace

TEST(LinearAssignment, MatchesScipyReferences) {
  const Json cases = read_json_file(kData + "assignment.json");
  ASSERT_GT(cases.size(), 100u);
  int n_errors = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const auto& c = cases[k];
    SCOPED_TRACE("case " + std::to_string(k) + " (" + c["kind"].get<std::string>() + ")");
    const auto cost = matrix(c["cost"]);
    const bool maximize = c["maximize"].get<bool>();
    if (c.contains("error")) {
      ++n_errors;
      try {
        linear_sum_assignment(cost, maximize);
        ADD_FAILURE() << "expected an error: " << c["error"];
      } catch (const FormatError& e) {
        EXPECT_NE(std::string(e.what()).find(c["error"].get<std::string>()), std::string::npos) << e.what();
      }
      continue;
    }
    const auto a = linear_sum_assignment(cost, maximize);
    EXPECT_EQ(a.rows, c["rows"].get<std::vector<int64_t>>());
    EXPECT_EQ(a.cols, c["cols"].get<std::vector<int64_t>>());
    EXPECT_NEAR(a.cost, c["total"].get<double>(), 1e-9);
  }
  EXPECT_EQ(n_errors, 5);
}

TEST(LinearAssignment, EqualsBruteForceOnSmallSizes) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int> size(1, 6), small_int(0, 2);
  std::uniform_real_distribution<double> uni(-1.0, 1.0);
  for (int trial = 0; trial < 300; ++trial) {
    const int r = size(rng), c = size(rng);
    auto cost = torch::empty({r, c}, torch::kFloat64);
    for (int i = 0; i < r; ++i)
      for (int j = 0; j < c; ++j) cost[i][j] = trial % 2 ? double(small_int(rng)) : uni(rng);
    const auto a = linear_sum_assignment(cost);
    ASSERT_EQ(a.rows.size(), size_t(std::min(r, c)));
    std::vector<char> row_used(r, 0), col_used(c, 0);
    double total = 0;
    for (size_t k = 0; k < a.rows.size(); ++k) {
      ASSERT_FALSE(row_used[a.rows[k]]++);
      ASSERT_FALSE(col_used[a.cols[k]]++);
      if (k) ASSERT_LT(a.rows[k - 1], a.rows[k]);
      total += cost[a.rows[k]][a.cols[k]].item<double>();
    }
    EXPECT_NEAR(a.cost, total, 1e-12);
    EXPECT_NEAR(a.cost, brute_force(cost), 1e-9) << cost;
  }
}

TEST(LinearAssignment, AcceptsAnyDtypeAndEmpty) {
  auto cost = torch::tensor({{4, 1, 3}, {2, 0, 5}, {3, 2, 2}}, torch::kInt32);
  const auto a = linear_sum_assignment(cost);
  EXPECT_EQ(a.cols, (std::vector<int64_t>{1, 0, 2}));
  EXPECT_DOUBLE_EQ(a.cost, 5.0);
  EXPECT_TRUE(linear_sum_assignment(torch::zeros({0, 3})).rows.empty());
  EXPECT_THROW(linear_sum_assignment(torch::zeros({3})), FormatError);
}

TEST(PitCosineLoss, MatchesScipyReference) {
  const Json ref = read_json_file(kData + "pit_loss.json");
  const auto outputs = tensor3(ref["outputs"]);
  const auto targets = tensor3(ref["targets"]);
  const auto counts = torch::tensor(ref["counts"].get<std::vector<int64_t>>());
  const auto sum = pit_cosine_loss(outputs, targets, counts, PitReduction::kSum);
  const auto mean = pit_cosine_loss(outputs, targets, counts, PitReduction::kMean);
  EXPECT_NEAR(sum.loss.item<double>(), ref["loss_sum"].get<double>(), 1e-12);
  EXPECT_NEAR(mean.loss.item<double>(), ref["loss_mean"].get<double>(), 1e-12);
  for (size_t b = 0; b < sum.assignments.size(); ++b) {
    EXPECT_EQ(sum.assignments[b].rows, ref["assignments"][b]["rows"].get<std::vector<int64_t>>());
    EXPECT_EQ(sum.assignments[b].cols, ref["assignments"][b]["cols"].get<std::vector<int64_t>>());
  }
}

TEST(PitCosineLoss, EqualsBruteForceAndIsPermutationInvariant) {
  torch::manual_seed(3);
  const int64_t B = 5, M = 4, N = 4, D = 6;
  const auto outputs = torch::randn({B, M, D}, torch::kFloat64);
  const auto targets = torch::randn({B, N, D}, torch::kFloat64);
  const auto counts = torch::tensor({4, 1, 3, 2, 4});
  const double loss = pit_cosine_loss(outputs, targets, counts).loss.item<double>();

  double expected = 0;
  for (int64_t b = 0; b < B; ++b) {
    const int64_t nb = counts[b].item<int64_t>();
    std::vector<int64_t> perm(M);
    std::iota(perm.begin(), perm.end(), 0);
    double best = 1e300;
    do {  // target n goes to output perm[n]
      double s = 0;
      for (int64_t n = 0; n < nb; ++n)
        s += 1.0 - torch::cosine_similarity(outputs[b][perm[n]], targets[b][n], 0).item<double>();
      best = std::min(best, s);
    } while (std::next_permutation(perm.begin(), perm.end()));
    expected += best / B;
  }
  EXPECT_NEAR(loss, expected, 1e-12);

  const auto out_perm = torch::tensor({2, 0, 3, 1});
  auto t2 = targets.clone();
  t2[0] = targets[0].index_select(0, torch::tensor({3, 1, 0, 2}));
  t2[2].narrow(0, 0, 3).copy_(targets[2].narrow(0, 0, 3).index_select(0, torch::tensor({1, 2, 0})));
  const double permuted = pit_cosine_loss(outputs.index_select(1, out_perm), t2, counts).loss.item<double>();
  EXPECT_NEAR(loss, permuted, 1e-12);
  // Padding beyond counts[b] must not matter.
  auto t3 = targets.clone();
  t3[1].narrow(0, 1, 3).fill_(123.0);
  EXPECT_NEAR(loss, pit_cosine_loss(outputs, t3, counts).loss.item<double>(), 1e-12);
}

TEST(PitCosineLoss, GradientChecksNumericallyAndFlowsThroughMatchedPairsOnly) {
  torch::manual_seed(11);
  const int64_t B = 2, M = 3, N = 3, D = 4;
  auto outputs = torch::randn({B, M, D}, torch::kFloat64).requires_grad_(true);
  auto targets = torch::randn({B, N, D}, torch::kFloat64).requires_grad_(true);
  const auto counts = torch::tensor({2, 3});
  for (auto reduction : {PitReduction::kSum, PitReduction::kMean}) {
    auto result = pit_cosine_loss(outputs, targets, counts, reduction);
    auto grads = torch::autograd::grad({result.loss}, {outputs, targets});
    const double eps = 1e-6;
    for (int which = 0; which < 2; ++which) {
      const auto base = (which == 0 ? outputs : targets).detach();
      for (int64_t i = 0; i < base.numel(); ++i) {
        auto plus = base.clone(), minus = base.clone();
        plus.view(-1)[i] += eps;
        minus.view(-1)[i] -= eps;
        auto f = [&](const torch::Tensor& x) {
          return (which == 0 ? pit_cosine_loss(x, targets.detach(), counts, reduction)
                             : pit_cosine_loss(outputs.detach(), x, counts, reduction))
              .loss.item<double>();
        };
        const double numeric = (f(plus) - f(minus)) / (2 * eps);
        EXPECT_NEAR(grads[which].reshape(-1)[i].item<double>(), numeric, 1e-7) << "tensor " << which << " elem " << i;
      }
    }
    // Item 0 has 2 targets: exactly one of its 3 outputs is unmatched and gets no gradient; the
    // padding target gets none either.
    int zero_rows = 0;
    for (int64_t j = 0; j < M; ++j) zero_rows += grads[0][0][j].abs().sum().item<double>() == 0.0;
    EXPECT_EQ(zero_rows, 1);
    EXPECT_EQ(grads[1][0][2].abs().sum().item<double>(), 0.0);
  }
}

TEST(PitCosineLoss, RejectsBadInput) {
  const auto o = torch::randn({2, 3, 4});
  const auto t = torch::randn({2, 3, 4});
  EXPECT_THROW(pit_cosine_loss(o, t, torch::tensor({0, 2})), UsageError);
  EXPECT_THROW(pit_cosine_loss(o, t, torch::tensor({4, 2})), UsageError);
  EXPECT_THROW(pit_cosine_loss(o, t, torch::tensor({1})), UsageError);
  EXPECT_THROW(pit_cosine_loss(o, torch::randn({2, 3, 5}), torch::tensor({1, 1})), UsageError);
  // More targets than outputs (a target would go unmatched), and fractional counts.
  EXPECT_THROW(pit_cosine_loss(torch::randn({2, 2, 4}), t, torch::tensor({3, 2})), UsageError);
  EXPECT_THROW(pit_cosine_loss(o, t, torch::tensor({1.5, 2.0})), UsageError);
  auto bad = o.clone();
  bad[1][0][0] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THROW(pit_cosine_loss(bad, t, torch::tensor({1, 2})), FormatError);
  EXPECT_EQ(pit_reduction_from_string("mean"), PitReduction::kMean);
  EXPECT_THROW(pit_reduction_from_string("max"), UsageError);
}

TEST(PitCosineLoss, RunsOnCudaWithAssignmentOnCpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
  torch::manual_seed(5);
  const auto o = torch::randn({4, 9, 16}, torch::kFloat64);
  const auto t = torch::randn({4, 9, 16}, torch::kFloat64);
  const auto n = torch::tensor({2, 9, 5, 3});
  const double cpu = pit_cosine_loss(o, t, n).loss.item<double>();
  auto oc = o.to(torch::kCUDA).requires_grad_(true);
  auto r = pit_cosine_loss(oc, t.to(torch::kCUDA), n.to(torch::kCUDA));
  EXPECT_TRUE(r.loss.is_cuda());
  EXPECT_NEAR(r.loss.item<double>(), cpu, 1e-10);
  r.loss.backward();
  EXPECT_TRUE(oc.grad().is_cuda());
}

// Issue 11 item 16: NaN/Inf in padding target slots must not reach the gradients (0 * NaN is NaN).
TEST(PitCosineLoss, NonFinitePaddingLeavesLossAndGradientsAlone) {
  torch::manual_seed(11);
  const auto o = torch::randn({2, 3, 4}, torch::requires_grad());
  const auto clean = torch::randn({2, 3, 4});
  auto dirty = clean.clone();
  dirty[0][2].fill_(std::numeric_limits<float>::quiet_NaN());
  dirty[1][1].fill_(std::numeric_limits<float>::infinity());
  dirty[1][2].fill_(-std::numeric_limits<float>::infinity());
  const auto counts = torch::tensor({2, 1});
  const auto a = pit_cosine_loss(o, clean, counts);
  const auto ga = torch::autograd::grad({a.loss}, {o})[0];
  const auto b = pit_cosine_loss(o, dirty, counts);
  const auto gb = torch::autograd::grad({b.loss}, {o})[0];
  EXPECT_TRUE(std::isfinite(b.loss.item<double>()));
  EXPECT_TRUE(torch::isfinite(gb).all().item<bool>()) << gb;
  EXPECT_NEAR(a.loss.item<double>(), b.loss.item<double>(), 1e-6);
  EXPECT_TRUE(torch::allclose(ga, gb, 1e-5, 1e-6));
  EXPECT_EQ(a.assignments[0].cols, b.assignments[0].cols);
}

TEST(PitCosineLoss, RejectsBoolCountsAndComputesHalfOnCpu) {
  const auto o = torch::randn({2, 3, 4});
  const auto t = torch::randn({2, 3, 4});
  EXPECT_THROW(pit_cosine_loss(o, t, torch::tensor({true, true})), UsageError);
  EXPECT_THROW(pit_cosine_loss(o.to(torch::kLong), t.to(torch::kLong), torch::tensor({1, 2})), UsageError);
  // float16 on the CPU (no CPU half matmul in LibTorch 1.13): computed in float32, same as the
  // float32 loss of the same (rounded) values.
  const auto oh = o.to(torch::kHalf), th = t.to(torch::kHalf);
  const auto half = pit_cosine_loss(oh, th, torch::tensor({2, 3}));
  const auto full = pit_cosine_loss(oh.to(torch::kFloat), th.to(torch::kFloat), torch::tensor({2, 3}));
  EXPECT_NEAR(half.loss.item<double>(), full.loss.item<double>(), 1e-6);
}

// ---- matched contrastive term ----

TEST(MatchedContrastiveLoss, HandComputedValueAndSameInstrumentMask) {
  // Outputs e1, e2 matched to targets e1, e2 (temperature 1): logits [[1, 0], [0, 1]], so each row's
  // cross-entropy is log(1 + e^-1).
  const auto outputs = torch::tensor({1.0, 0.0, 0.0, 1.0}, torch::kFloat64).view({1, 2, 2});
  const auto targets = outputs.clone();
  const std::vector<Assignment> a{{{0, 1}, {0, 1}, 0.0}};
  EXPECT_NEAR(matched_contrastive_loss(outputs, targets, {2}, a, {0, 1}, 1.0).item<double>(), std::log1p(std::exp(-1.0)),
              1e-12);
  // Same instrument: the other target is no negative, each row has only itself: loss 0.
  EXPECT_NEAR(matched_contrastive_loss(outputs, targets, {2}, a, {7, 7}, 1.0).item<double>(), 0.0, 1e-12);
  // Swapped assignment: output 0 now belongs to target 1: rows are log(1 + e^1).
  const std::vector<Assignment> swapped{{{0, 1}, {1, 0}, 0.0}};
  EXPECT_NEAR(matched_contrastive_loss(outputs, targets, {2}, swapped, {0, 1}, 1.0).item<double>(),
              std::log1p(std::exp(1.0)), 1e-12);
}

TEST(MatchedContrastiveLoss, EqualsLoopReferenceWithPitAssignmentsAndGradientsOnlyOnMatchedOutputs) {
  torch::manual_seed(3);
  const int64_t B = 3, M = 4, N = 3, D = 5;
  const auto outputs = torch::randn({B, M, D}, torch::kFloat64).requires_grad_(true);
  const auto targets = torch::randn({B, N, D}, torch::kFloat64);
  const std::vector<int64_t> counts{3, 1, 2};
  const std::vector<int64_t> labels{0, 1, 2, 1, 3, 4};  // the second item's target shares item 0's label 1
  const double tau = 0.2;
  const PitLoss pit = pit_cosine_loss(outputs, targets, torch::tensor(counts), PitReduction::kMean);
  const auto loss = matched_contrastive_loss(outputs, targets, counts, pit.assignments, labels, tau);

  // Reference: plain loops in double.
  struct Pair { int64_t b, out, tgt; };
  std::vector<Pair> used;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < counts[size_t(b)]; ++t) {
      const auto& as = pit.assignments[size_t(b)];
      int64_t out = -1;
      for (size_t k = 0; k < as.cols.size(); ++k)
        if (as.cols[k] == t) out = as.rows[k];
      used.push_back({b, out, t});
    }
  auto cosine = [&](const torch::Tensor& x, const torch::Tensor& y) {
    return (x * y).sum().item<double>() / (x.norm().item<double>() * y.norm().item<double>());
  };
  double expected = 0;
  for (size_t i = 0; i < used.size(); ++i) {
    const auto o = outputs.detach()[used[i].b][used[i].out];
    double denominator = 0, own = 0;
    for (size_t j = 0; j < used.size(); ++j) {
      if (j != i && labels[j] == labels[i]) continue;
      const double e = std::exp(cosine(o, targets[used[j].b][used[j].tgt]) / tau);
      denominator += e;
      if (j == i) own = e;
    }
    expected += -std::log(own / denominator);
  }
  expected /= double(used.size());
  EXPECT_NEAR(loss.item<double>(), expected, 1e-10);

  loss.backward();
  const auto grad = outputs.grad();
  for (int64_t b = 0; b < B; ++b)
    for (int64_t m = 0; m < M; ++m) {
      const bool matched = std::any_of(used.begin(), used.end(), [&](const Pair& p) { return p.b == b && p.out == m; });
      EXPECT_EQ(grad[b][m].abs().sum().item<double>() > 0, matched) << "item " << b << " output " << m;
    }
}

TEST(MatchedContrastiveLoss, RejectsInconsistentInput) {
  const auto outputs = torch::randn({1, 2, 3});
  const auto targets = torch::randn({1, 2, 3});
  const std::vector<Assignment> a{{{0, 1}, {0, 1}, 0.0}};
  EXPECT_THROW(matched_contrastive_loss(outputs, targets, {2}, a, {0}, 0.1), UsageError);     // labels
  EXPECT_THROW(matched_contrastive_loss(outputs, targets, {1}, a, {0}, 0.1), UsageError);     // count
  EXPECT_THROW(matched_contrastive_loss(outputs, targets, {2}, a, {0, 1}, 0.0), UsageError);  // temperature
  // An output matched twice, a target matched twice.
  EXPECT_THROW(matched_contrastive_loss(outputs, targets, {2}, {{{0, 0}, {0, 1}, 0.0}}, {0, 1}, 0.1), UsageError);
  EXPECT_THROW(matched_contrastive_loss(outputs, targets, {2}, {{{0, 1}, {1, 1}, 0.0}}, {0, 1}, 0.1), UsageError);
}

TEST(FamilySmoothing, TargetRowsByHand) {
  const torch::Tensor t = family_smoothed_targets({"piano", "bass", "piano", "piano"}, 0.3);
  const torch::Tensor expected = torch::tensor({{0.8f, 0.0f, 0.1f, 0.1f},
                                                {0.0f, 1.0f, 0.0f, 0.0f},
                                                {0.1f, 0.0f, 0.8f, 0.1f},
                                                {0.1f, 0.0f, 0.1f, 0.8f}});
  EXPECT_TRUE(torch::allclose(t, expected, 0, 1e-6)) << t;
  EXPECT_TRUE(torch::equal(family_smoothed_targets({"a", "b", "a"}, 0.0), torch::eye(3)));
  EXPECT_THROW(family_smoothed_targets({"a"}, 1.5), UsageError);
  EXPECT_THROW(family_smoothed_targets({"a"}, -0.1), UsageError);
  EXPECT_THROW(family_smoothed_targets({"a"}, std::nan("")), UsageError);
  EXPECT_THROW(family_smoothed_targets({}, 0.1), UsageError);
}

TEST(FamilySmoothing, LossIsCrossEntropyWithSoftTargetsAndItsGradient) {
  torch::manual_seed(0);
  const torch::Tensor logits = torch::randn({5, 4}, torch::kFloat64).requires_grad_(true);
  const torch::Tensor labels = torch::tensor({0, 1, 2, 3, 0}, torch::kInt64);
  // The identity gives torch's cross-entropy.
  const torch::Tensor ce = torch::nn::functional::cross_entropy(logits, labels);
  EXPECT_NEAR(smoothed_cross_entropy(logits, labels, torch::eye(4)).item<double>(), ce.item<double>(), 1e-6);
  // Soft targets: loss by hand, gradient = (softmax - target row) / B.
  const torch::Tensor targets = family_smoothed_targets({"piano", "bass", "piano", "piano"}, 0.3);
  const torch::Tensor loss = smoothed_cross_entropy(logits, labels, targets);
  const torch::Tensor p = torch::softmax(logits.detach(), 1);
  const torch::Tensor rows = targets.to(torch::kFloat64).index_select(0, labels);
  double by_hand = 0;
  for (int64_t b = 0; b < 5; ++b)
    for (int64_t j = 0; j < 4; ++j) by_hand -= rows[b][j].item<double>() * std::log(p[b][j].item<double>());
  EXPECT_NEAR(loss.item<double>(), by_hand / 5, 1e-5);
  loss.backward();
  EXPECT_TRUE(torch::allclose(logits.grad().to(torch::kFloat32), ((p - rows) / 5).to(torch::kFloat32), 1e-5, 1e-6));
  EXPECT_THROW(smoothed_cross_entropy(logits, labels, torch::eye(3)), UsageError);
  EXPECT_THROW(smoothed_cross_entropy(logits, labels.narrow(0, 0, 4), targets), UsageError);
}

TEST(ExistenceLoss, TargetsFromTheAssignmentAndBceByHand) {
  // Two mixtures of 2 and 1 stems against 3 output slots: the PIT assignment decides which slots exist.
  torch::manual_seed(4);
  const auto outputs = torch::randn({2, 3, 5});
  auto targets = torch::zeros({2, 2, 5});
  targets[0][0] = outputs[0][2];  // target 0 of mixture 0 is slot 2's output, target 1 is slot 0's
  targets[0][1] = outputs[0][0];
  targets[1][0] = outputs[1][1];  // mixture 1's only target is slot 1's
  const PitLoss pit = pit_cosine_loss(outputs, targets, torch::tensor({2, 1}, torch::kInt64));
  const auto t = existence_targets(pit.assignments, 2, 3);
  EXPECT_TRUE(torch::equal(t, torch::tensor({1.0f, 0.0f, 1.0f, 0.0f, 1.0f, 0.0f}).view({2, 3})));
  const auto logits = torch::tensor({2.0f, -1.0f, 0.5f, 0.0f, 3.0f, -2.0f}).view({2, 3});
  // Mean over the 6 slots of -log sigmoid(l) for existing slots and -log(1 - sigmoid(l)) for the others.
  auto nll = [](double l, bool exists) { return exists ? std::log1p(std::exp(-l)) : std::log1p(std::exp(l)); };
  const double want = (nll(2, true) + nll(-1, false) + nll(0.5, true) + nll(0, false) + nll(3, true) + nll(-2, false)) / 6;
  EXPECT_NEAR(existence_loss(logits, pit.assignments).item<double>(), want, 1e-6);
  EXPECT_THROW(existence_targets(pit.assignments, 3, 3), UsageError);
  EXPECT_THROW(existence_targets(pit.assignments, 2, 2), UsageError);  // slot 2 outside [0, 2)
  EXPECT_THROW(existence_loss(logits.view({6}), pit.assignments), UsageError);
}
