#include "instret/retrieval/search.h"

#include <faiss/IndexFlat.h>
#include <faiss/IndexHNSW.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/index_io.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {

SearchKind parse_search_kind(const std::string& name) {
  if (name == "exact") return SearchKind::exact;
  if (name == "hnsw") return SearchKind::hnsw;
  if (name == "ivf") return SearchKind::ivf;
  throw UsageError("unknown search index '" + name + "' (exact, hnsw or ivf)");
}

std::string to_string(SearchKind kind) {
  switch (kind) {
    case SearchKind::exact:
      return "exact";
    case SearchKind::hnsw:
      return "hnsw";
    case SearchKind::ivf:
      return "ivf";
  }
  return "?";
}

torch::Tensor normalize_rows(const torch::Tensor& x) {
  const torch::Tensor norm = x.norm(2, 1, true).clamp_min(1e-12);
  return (x / norm).contiguous();
}

namespace {

class ExactSearch : public VectorSearch {
 public:
  explicit ExactSearch(const torch::Tensor& base) : base_(normalize_rows(base.to(torch::kFloat32))) {}
  SearchResult search(const float* queries, int64_t nq, int64_t k) const override {
    torch::NoGradGuard no_grad;
    const torch::Tensor q = normalize_rows(torch::from_blob(const_cast<float*>(queries), {nq, dim()}, torch::kFloat32));
    const int64_t kk = std::min(k, size());
    const torch::Tensor sims = torch::mm(q, base_.t());
    const auto [values, indices] = sims.topk(kk, 1, true, true);
    SearchResult r;
    r.k = k;
    r.scores.assign(size_t(nq * k), -INFINITY);
    r.ids.assign(size_t(nq * k), -1);
    const auto v = values.accessor<float, 2>();
    const auto ix = indices.accessor<int64_t, 2>();
    for (int64_t i = 0; i < nq; ++i)
      for (int64_t j = 0; j < kk; ++j) {
        r.scores[size_t(i * k + j)] = v[i][j];
        r.ids[size_t(i * k + j)] = ix[i][j];
      }
    return r;
  }
  int64_t size() const override { return base_.size(0); }
  int64_t dim() const override { return base_.size(1); }
  std::string describe() const override { return "exact (" + std::to_string(size()) + " entries)"; }
  void save(const std::filesystem::path&) const override {
    throw UsageError("exact search has no index to store");
  }

 private:
  torch::Tensor base_;
};

class FaissSearch : public VectorSearch {
 public:
  // An index read back from a file (it owns its IVF quantizer).
  FaissSearch(SearchKind kind, std::unique_ptr<faiss::Index> index, const SearchOptions& o) : kind_(kind) {
    if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(index.get()); h && kind == SearchKind::hnsw) {
      if (o.hnsw_ef_search < 1) throw UsageError("bad HNSW options");
      h->hnsw.efSearch = o.hnsw_ef_search;
      detail_ = "hnsw (M " + std::to_string(h->hnsw.nb_neighbors(1)) + ", efConstruction " +
                std::to_string(h->hnsw.efConstruction) + ", efSearch " + std::to_string(h->hnsw.efSearch) + ")";
    } else if (auto* v = dynamic_cast<faiss::IndexIVFFlat*>(index.get()); v && kind == SearchKind::ivf) {
      if (o.ivf_nprobe < 1) throw UsageError("bad IVF options");
      v->nprobe = std::min<size_t>(size_t(o.ivf_nprobe), v->nlist);
      detail_ = "ivf (" + std::to_string(v->nlist) + " lists, nprobe " + std::to_string(v->nprobe) + ")";
    } else {
      throw FormatError("the stored index is not a " + to_string(kind) + " index");
    }
    if (index->metric_type != faiss::METRIC_INNER_PRODUCT || index->ntotal < 1 || index->d < 1)
      throw FormatError("the stored " + to_string(kind) + " index is not an inner-product index of a library");
    // FAISS takes the stored ids and graph as written: check them, so that a damaged file can never
    // send a search outside the library.
    const int64_t n = index->ntotal;
    if (auto* v = dynamic_cast<faiss::IndexIVFFlat*>(index.get())) {
      if (!v->invlists || !v->quantizer || v->quantizer->ntotal != int64_t(v->nlist) || v->quantizer->d != v->d)
        throw FormatError("the stored ivf index has no consistent quantizer");
      int64_t listed = 0;
      for (size_t l = 0; l < v->nlist; ++l) {
        const size_t size = v->invlists->list_size(l);
        if (size > size_t(n)) throw FormatError("the stored ivf index has a list longer than the library");
        if (size == 0) continue;
        faiss::InvertedLists::ScopedIds ids(v->invlists, l);
        for (size_t i = 0; i < size; ++i)
          if (ids[i] < 0 || ids[i] >= n) throw FormatError("the stored ivf index holds an id outside the library");
        listed += int64_t(size);
      }
      if (listed != n) throw FormatError("the stored ivf index lists " + std::to_string(listed) + " of " + std::to_string(n) + " entries");
    } else if (auto* h = dynamic_cast<faiss::IndexHNSWFlat*>(index.get())) {
      const auto& g = h->hnsw;
      if (g.offsets.size() != size_t(n) + 1 || g.levels.size() != size_t(n) || g.offsets.back() != g.neighbors.size() ||
          g.entry_point < -1 || g.entry_point >= n || !h->storage || h->storage->ntotal != n)
        throw FormatError("the stored hnsw index has an inconsistent graph");
      for (size_t i = 0; i < size_t(n); ++i)
        if (g.offsets[i] > g.offsets[i + 1]) throw FormatError("the stored hnsw index has an inconsistent graph");
      for (auto id : g.neighbors)
        if (id < -1 || id >= n) throw FormatError("the stored hnsw index holds a neighbour outside the library");
    }
    index_ = std::move(index);
  }
  FaissSearch(SearchKind kind, const torch::Tensor& base, const SearchOptions& o) : kind_(kind) {
    const torch::Tensor x = base.to(torch::kFloat32);
    const int64_t n = x.size(0), d = x.size(1);
    if (kind == SearchKind::hnsw) {
      if (o.hnsw_m < 2 || o.hnsw_ef_construction < 1 || o.hnsw_ef_search < 1) throw UsageError("bad HNSW options");
      auto index = std::make_unique<faiss::IndexHNSWFlat>(int(d), o.hnsw_m, faiss::METRIC_INNER_PRODUCT);
      index->hnsw.efConstruction = o.hnsw_ef_construction;
      index->hnsw.efSearch = o.hnsw_ef_search;
      detail_ = "hnsw (M " + std::to_string(o.hnsw_m) + ", efConstruction " + std::to_string(o.hnsw_ef_construction) +
                ", efSearch " + std::to_string(o.hnsw_ef_search) + ")";
      index_ = std::move(index);
    } else {
      if (o.ivf_nprobe < 1 || o.ivf_train_max < 1) throw UsageError("bad IVF options");
      const int64_t lists = ivf_list_count(n, o);
      quantizer_ = std::make_unique<faiss::IndexFlatIP>(int(d));
      auto index =
          std::make_unique<faiss::IndexIVFFlat>(quantizer_.get(), int(d), size_t(lists), faiss::METRIC_INNER_PRODUCT);
      index->cp.seed = 1234;
      index->cp.niter = 10;
      // Train on a fixed-seed sample of ivf_train_max rows, or more: FAISS's k-means wants 39 per list
      // (a one-time cost: the index is stored beside the library, search_cache.h).
      const int64_t n_train = ivf_training_count(n, o);
      torch::Tensor sample;
      if (n_train < n) {
        torch::Generator gen = at::detail::createCPUGenerator(1234);
        sample = normalize_rows(x.index_select(0, torch::randperm(n, gen, torch::kLong).narrow(0, 0, n_train)));
      } else {
        sample = normalize_rows(x);
      }
      index->train(n_train, sample.data_ptr<float>());
      index->nprobe = size_t(std::min<int64_t>(o.ivf_nprobe, lists));
      detail_ = "ivf (" + std::to_string(lists) + " lists, nprobe " + std::to_string(index->nprobe) + ")";
      index_ = std::move(index);
    }
    // Normalised rows go in by blocks, so that no normalised copy of a large library is ever whole.
    const int64_t block = 65536;
    for (int64_t first = 0; first < n; first += block) {
      const torch::Tensor rows = normalize_rows(x.narrow(0, first, std::min(block, n - first)));
      index_->add(rows.size(0), rows.data_ptr<float>());
    }
  }
  SearchResult search(const float* queries, int64_t nq, int64_t k) const override {
    const torch::Tensor q = normalize_rows(torch::from_blob(const_cast<float*>(queries), {nq, dim()}, torch::kFloat32));
    SearchResult r;
    r.k = k;
    r.scores.resize(size_t(nq * k));
    r.ids.resize(size_t(nq * k));
    std::vector<faiss::Index::idx_t> labels(size_t(nq * k));
    index_->search(nq, q.data_ptr<float>(), k, r.scores.data(), labels.data());
    for (size_t i = 0; i < labels.size(); ++i) {
      if (labels[i] >= index_->ntotal) throw FormatError("the " + to_string(kind_) + " index returned an id outside the library");
      r.ids[i] = labels[i];
      if (labels[i] < 0) r.scores[i] = -INFINITY;
    }
    return r;
  }
  int64_t size() const override { return index_->ntotal; }
  int64_t dim() const override { return index_->d; }
  std::string describe() const override { return detail_ + ", " + std::to_string(size()) + " entries"; }
  void save(const std::filesystem::path& path) const override {
    try {
      faiss::write_index(index_.get(), path.c_str());
    } catch (const faiss::FaissException& e) {
      throw IoError(path.string() + ": cannot write the " + to_string(kind_) + " index (" + one_line(e.what()) + ")");
    }
  }

 private:
  SearchKind kind_;
  std::unique_ptr<faiss::IndexFlatIP> quantizer_;  // owned here, used by the IVF index
  std::unique_ptr<faiss::Index> index_;
  std::string detail_;
};

}  // namespace

int64_t ivf_list_count(int64_t n, const SearchOptions& o) {
  const int64_t lists = o.ivf_lists > 0 ? o.ivf_lists : int64_t(std::llround(4.0 * std::sqrt(double(n))));
  return std::max<int64_t>(1, std::min<int64_t>(lists, std::max<int64_t>(1, n / 39)));
}

int64_t ivf_training_count(int64_t n, const SearchOptions& o) {
  return std::min<int64_t>(n, std::max<int64_t>(o.ivf_train_max, 39 * ivf_list_count(n, o)));
}

std::unique_ptr<VectorSearch> make_search(SearchKind kind, const torch::Tensor& base, const SearchOptions& options) {
  if (base.dim() != 2 || base.size(0) < 1 || base.size(1) < 1)
    throw UsageError("search: the library is empty (need a (n, dim) matrix with n >= 1)");
  const torch::Tensor b = base.contiguous();
  if (kind == SearchKind::exact) return std::make_unique<ExactSearch>(b);
  return std::make_unique<FaissSearch>(kind, b, options);
}

std::unique_ptr<VectorSearch> load_search(SearchKind kind, const std::filesystem::path& path,
                                          const SearchOptions& options) {
  RegularFile regular(path);  // a FIFO or device is refused before FAISS reads from it
  const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(::fdopen(regular.fd(), "rb"), &std::fclose);
  if (!f) throw IoError(path.string() + ": cannot open for reading");
  regular.release();  // the FILE owns it now
  return load_search(kind, f.get(), path.string(), options);
}

std::unique_ptr<VectorSearch> load_search(SearchKind kind, std::FILE* file, const std::string& path,
                                          const SearchOptions& options) {
  if (kind == SearchKind::exact) throw UsageError("exact search has no stored index");
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(file));
  } catch (const faiss::FaissException& e) {
    throw FormatError(path + ": not a readable FAISS index (" + one_line(e.what()) + ")");
  } catch (const std::exception& e) {  // e.g. std::bad_alloc or length_error from impossible sizes
    throw FormatError(path + ": not a readable FAISS index (" + one_line(e.what()) + ")");
  }
  try {
    return std::make_unique<FaissSearch>(kind, std::move(index), options);
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  }
}

double recall_at_k(const SearchResult& approx, const SearchResult& exact, int64_t k) {
  if (approx.k < k || exact.k < k || approx.ids.size() / size_t(approx.k) != exact.ids.size() / size_t(exact.k))
    throw UsageError("recall_at_k: results of different queries or k");
  const size_t nq = exact.ids.size() / size_t(exact.k);
  if (nq == 0) return 0.0;
  double total = 0;
  for (size_t q = 0; q < nq; ++q) {
    std::set<int64_t> truth;
    for (int64_t j = 0; j < k; ++j)
      if (exact.ids[q * size_t(exact.k) + size_t(j)] >= 0) truth.insert(exact.ids[q * size_t(exact.k) + size_t(j)]);
    if (truth.empty()) continue;
    int64_t hit = 0;
    for (int64_t j = 0; j < k; ++j) hit += truth.count(approx.ids[q * size_t(approx.k) + size_t(j)]);
    total += double(hit) / double(truth.size());
  }
  return total / double(nq);
}

}  // namespace instret
