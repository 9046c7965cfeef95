// Library search speed and recall: a synthetic library of n clustered embeddings (dim 1024, as the
// paper's), queries of M = 9 vectors each (one 5 s window of the multi encoder), exact search (one
// matrix product over normalised vectors) against FAISS HNSW and IVF. Reports the build time, the
// time per query (9 vectors, top-k each) and recall@k against exact search.
//
// Synthetic data: C = clamp(n / 1000, 16, 1000) cluster centres ~ N(0, I); entry = centre + N(0, I)
// (entries of one cluster have cosine ~0.5, of different ones ~0); a query vector = a random entry +
// N(0, 0.5^2 I), so each query has a clear nearest entry and a crowd of near-ties behind it.
#include <omp.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <sstream>

#include "instret/retrieval/search.h"

using namespace instret;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Timing {
  double median_ms, mean_ms, p95_ms;
};

// Searches each query (m vectors) separately, as `retrieve query` does per window.
Timing time_queries(const VectorSearch& s, const torch::Tensor& queries, int64_t m, int64_t k, SearchResult* all) {
  const int64_t nq = queries.size(0) / m;
  std::vector<double> ms;
  all->k = k;
  all->scores.clear();
  all->ids.clear();
  for (int64_t q = 0; q < nq; ++q) {
    const auto t0 = Clock::now();
    const SearchResult r = s.search(queries.data_ptr<float>() + q * m * queries.size(1), m, k);
    ms.push_back(since(t0) * 1e3);
    all->scores.insert(all->scores.end(), r.scores.begin(), r.scores.end());
    all->ids.insert(all->ids.end(), r.ids.begin(), r.ids.end());
  }
  std::vector<double> sorted = ms;
  std::sort(sorted.begin(), sorted.end());
  double sum = 0;
  for (double v : ms) sum += v;
  return {sorted[sorted.size() / 2], sum / double(ms.size()),
          sorted[std::min(sorted.size() - 1, size_t(0.95 * double(sorted.size())))]};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark exact and FAISS library search"};
  int64_t n = 10000, dim = 1024, queries = 50, m = 9, k = 10;
  int threads = 2;
  std::vector<std::string> kinds = {"exact", "ivf", "hnsw"};
  SearchOptions so;
  uint64_t seed = 7;
  app.add_option("--n", n, "Library entries")->check(CLI::PositiveNumber);
  app.add_option("--dim", dim, "Embedding size")->check(CLI::PositiveNumber);
  app.add_option("--queries", queries, "Queries (each of m vectors)")->check(CLI::PositiveNumber);
  app.add_option("--m", m, "Vectors per query (the multi encoder's outputs)")->check(CLI::PositiveNumber);
  app.add_option("--k", k, "Neighbours per vector (recall@k)")->check(CLI::PositiveNumber);
  app.add_option("--kinds", kinds, "exact, ivf, hnsw (exact always runs: it is the reference)");
  app.add_option("--threads", threads, "Intra-op / OpenMP threads");
  app.add_option("--ivf-lists", so.ivf_lists, "IVF cells (0: 4 sqrt(n))");
  app.add_option("--nprobe", so.ivf_nprobe, "IVF cells visited");
  app.add_option("--ivf-train", so.ivf_train_max, "IVF training sample");
  app.add_option("--hnsw-m", so.hnsw_m, "HNSW degree");
  app.add_option("--ef-construction", so.hnsw_ef_construction, "HNSW build beam");
  app.add_option("--ef-search", so.hnsw_ef_search, "HNSW search beam");
  app.add_option("--seed", seed, "Random seed");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  omp_set_num_threads(threads);
  torch::NoGradGuard no_grad;

  auto t0 = Clock::now();
  torch::manual_seed(seed);
  const int64_t clusters = std::clamp<int64_t>(n / 1000, 16, 1000);
  const torch::Tensor centres = torch::randn({clusters, dim});
  torch::Tensor base = torch::empty({n, dim});
  const int64_t block = 65536;
  for (int64_t first = 0; first < n; first += block) {
    const int64_t b = std::min(block, n - first);
    const torch::Tensor which = torch::randint(clusters, {b}, torch::kLong);
    base.narrow(0, first, b).copy_(centres.index_select(0, which) + torch::randn({b, dim}));
  }
  const torch::Tensor picks = torch::randint(n, {queries * m}, torch::kLong);
  const torch::Tensor q = (base.index_select(0, picks) + 0.5 * torch::randn({queries * m, dim})).contiguous();
  std::fprintf(stderr, "synthetic library: %lld x %lld (%lld clusters) in %.1f s\n", (long long)n, (long long)dim,
               (long long)clusters, since(t0));

  std::ostringstream table;
  SearchResult exact_found;
  {
    t0 = Clock::now();
    const auto exact = make_search(SearchKind::exact, base);
    const double build = since(t0);
    time_queries(*exact, q.narrow(0, 0, std::min<int64_t>(3, queries) * m), m, k, &exact_found);  // warm-up
    const Timing t = time_queries(*exact, q, m, k, &exact_found);
    char line[256];
    std::snprintf(line, sizeof line, "| %lld | exact | %.2f | %.2f | %.2f | %.2f | 1.000 |\n", (long long)n, build,
                  t.median_ms, t.mean_ms, t.p95_ms);
    table << line;
    std::fprintf(stderr, "exact: build %.2f s, %.2f ms/query median\n", build, t.median_ms);
  }
  for (const auto& name : kinds) {
    const SearchKind kind = parse_search_kind(name);
    if (kind == SearchKind::exact) continue;
    t0 = Clock::now();
    const auto s = make_search(kind, base, so);
    const double build = since(t0);
    SearchResult found;
    time_queries(*s, q.narrow(0, 0, std::min<int64_t>(3, queries) * m), m, k, &found);  // warm-up
    const Timing t = time_queries(*s, q, m, k, &found);
    const double recall = recall_at_k(found, exact_found, k);
    char line[256];
    std::snprintf(line, sizeof line, "| %lld | %s | %.2f | %.2f | %.2f | %.2f | %.3f |\n", (long long)n,
                  s->describe().c_str(), build, t.median_ms, t.mean_ms, t.p95_ms, recall);
    table << line;
    std::fprintf(stderr, "%s: build %.2f s, %.2f ms/query median, recall@%lld %.3f\n", s->describe().c_str(), build,
                 t.median_ms, (long long)k, recall);
  }
  std::cout << "| entries | search | build s | median ms/query | mean ms/query | p95 ms/query | recall@" << k << " |\n"
            << "|---|---|---|---|---|---|---|\n"
            << table.str();
  return 0;
}
