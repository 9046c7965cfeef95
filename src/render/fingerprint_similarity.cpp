#include "instret/render/fingerprint_similarity.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>

#include "instret/core/error.h"

namespace instret {

std::vector<std::pair<int64_t, int64_t>> fingerprint_windows(int64_t n) {
  const int64_t a = n * 33 / 100, b = n * 66 / 100;
  return {{0, a}, {a, b}, {b, n}};
}

std::vector<SimilarPair> similar_pairs(const std::vector<std::vector<float>>& prints,
                                       const std::vector<std::string>& family, double threshold, int max_lag) {
  if (family.size() != prints.size())
    throw UsageError("similar_pairs: " + std::to_string(family.size()) + " families for " +
                     std::to_string(prints.size()) + " fingerprints");
  std::map<std::string, std::vector<size_t>> by_family;
  for (size_t i = 0; i < prints.size(); ++i)
    if (!prints[i].empty()) by_family[family[i]].push_back(i);
  std::vector<SimilarPair> pairs;
  for (const auto& [name, members] : by_family) {
    if (members.size() < 2) continue;
    const int64_t n = int64_t(prints[members[0]].size()), m = int64_t(members.size());
    auto x32 = torch::empty({m, n}, torch::kFloat32);
    for (size_t k = 0; k < members.size(); ++k)
      std::memcpy(x32.data_ptr<float>() + int64_t(k) * n, prints[members[k]].data(), size_t(n) * sizeof(float));
    const auto x = x32.to(torch::kFloat64);
    auto bound = torch::zeros({m, m}, torch::kFloat64);
    for (const auto& [w0, w1] : fingerprint_windows(n)) {
      const int64_t nfft = 2 * (w1 - w0);
      auto w = torch::full({nfft / 2 + 1}, 2.0 / double(nfft), torch::kFloat64);
      w[0] = 1.0 / double(nfft);
      w[nfft / 2] = 1.0 / double(nfft);
      const auto a = torch::fft::rfft(x.narrow(1, w0, w1 - w0), nfft).abs() * w.sqrt();
      bound += torch::matmul(a, a.t());
    }
    bound = bound.contiguous();
    const double* bp = bound.data_ptr<double>();
    for (int64_t q = 1; q < m; ++q)
      for (int64_t p = 0; p < q; ++p) {
        if (bp[q * m + p] < threshold - 1e-6) continue;
        const std::vector<float>& u = prints[members[size_t(p)]];
        const std::vector<float>& v = prints[members[size_t(q)]];
        SimilarPair pair{members[size_t(p)], members[size_t(q)], 0.0, {}, {}};
        for (const auto& [w0, w1] : fingerprint_windows(n)) {
          double best = 0.0;
          int best_lag = 0;
          for (int lag = -max_lag; lag <= max_lag; ++lag) {
            double r = 0.0;  // sum over the window of u[t] v[t + lag], both inside it
            for (int64_t t = std::max<int64_t>(w0, w0 - lag); t < std::min<int64_t>(w1, w1 - lag); ++t)
              r += double(u[size_t(t)]) * v[size_t(t + lag)];
            if (std::fabs(r) > std::fabs(best) + 1e-12) {
              best = r;
              best_lag = lag;
            }
          }
          pair.similarity += std::fabs(best);
          pair.window_r.push_back(best);
          pair.lags.push_back(best_lag);
        }
        if (pair.similarity >= threshold) pairs.push_back(std::move(pair));
      }
  }
  std::sort(pairs.begin(), pairs.end(), [](const SimilarPair& a, const SimilarPair& b) {
    return std::tie(a.later, a.earlier) < std::tie(b.later, b.earlier);
  });
  return pairs;
}

void add_similarity(Json& j, const SimilarPair& p) {
  j["correlation"] = std::round(p.similarity * 1e4) / 1e4;
  Json r = Json::array(), lags = Json::array();
  for (double x : p.window_r) r.push_back(std::round(x * 1e4) / 1e4);
  for (int l : p.lags) lags.push_back(std::round(l * 1e4 / kSampleRate) / 10.0);
  j["note_correlations"] = r;
  j["lags_ms"] = lags;
}

}  // namespace instret
