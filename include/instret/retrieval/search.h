// Nearest library entries of query vectors by cosine similarity: exact (one matrix product of the
// normalised queries with the normalised library, then top-k) or an approximate FAISS index (HNSW or
// IVF, inner product on normalised vectors).
#pragma once
#include <torch/types.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace instret {

enum class SearchKind { exact, hnsw, ivf };

// "exact" / "hnsw" / "ivf"; UsageError otherwise.
SearchKind parse_search_kind(const std::string& name);
std::string to_string(SearchKind kind);

struct SearchOptions {
  int hnsw_m = 32;  // HNSW graph degree
  int hnsw_ef_construction = 64;
  int hnsw_ef_search = 128;   // HNSW beam width at query time
  int ivf_lists = 0;          // IVF cells; 0: about 4 sqrt(n), at most n / 39
  int ivf_nprobe = 16;        // IVF cells visited per query
  int ivf_train_max = 50000;  // vectors training the IVF quantizer (a fixed-seed sample; at least 39 per list)
};

struct SearchResult {
  int64_t k = 0;
  std::vector<float> scores;  // nq x k cosines, best first
  std::vector<int64_t> ids;   // nq x k library rows (-1 where the library has fewer than k entries)
};

class VectorSearch {
 public:
  virtual ~VectorSearch() = default;
  // The k best rows for each of the nq query vectors (nq x dim floats, any norm; normalised here).
  virtual SearchResult search(const float* queries, int64_t nq, int64_t k) const = 0;
  virtual int64_t size() const = 0;
  virtual int64_t dim() const = 0;
  virtual std::string describe() const = 0;
  // Writes the index to `path` with FAISS's own format (UsageError for exact search, which has
  // nothing to store; IoError when the file cannot be written).
  virtual void save(const std::filesystem::path& path) const = 0;
};

// The IVF index's cell count and training-sample size for n entries (what make_search uses).
int64_t ivf_list_count(int64_t n, const SearchOptions& options);
int64_t ivf_training_count(int64_t n, const SearchOptions& options);

// Builds a search over the rows of `base` (n x dim float32 CPU; rows are normalised into the index,
// `base` is not modified). UsageError for an empty base or bad options.
std::unique_ptr<VectorSearch> make_search(SearchKind kind, const torch::Tensor& base,
                                          const SearchOptions& options = {});

// Reads an index written by VectorSearch::save of the given kind (hnsw or ivf); the query-time options
// (ivf_nprobe, hnsw_ef_search) come from `options`. FormatError when the file is not such an index.
// Its structure is checked (ids and graph inside the library); the FILE* form reads from the current
// position (`path` names it in errors).
std::unique_ptr<VectorSearch> load_search(SearchKind kind, const std::filesystem::path& path,
                                          const SearchOptions& options = {});
std::unique_ptr<VectorSearch> load_search(SearchKind kind, std::FILE* file, const std::string& path,
                                          const SearchOptions& options = {});

// Recall@k of `approx` against `exact` (same queries): the mean over queries of |approx_k ∩ exact_k| / k.
double recall_at_k(const SearchResult& approx, const SearchResult& exact, int64_t k);

// Normalises the rows of a (n, dim) float tensor (zero rows stay zero).
torch::Tensor normalize_rows(const torch::Tensor& x);

}  // namespace instret
