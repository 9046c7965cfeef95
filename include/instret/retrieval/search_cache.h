// An approximate search index kept beside its library file, so that a large library's FAISS index
// is built once: `<library>.<kind>.faiss` plus `<library>.<kind>.faiss.json`, whose key (the
// library file's hash, the build options, the index file's own hash) must match for the index to
// be reused. A stale, damaged or foreign index file is rebuilt, never trusted.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>

#include "instret/retrieval/search.h"

namespace instret {

// The index file of `library` for `kind` (hnsw or ivf).
std::filesystem::path search_index_path(const std::filesystem::path& library, SearchKind kind);

// The search over `base` (the library's rows): exact search is built directly; an approximate one
// is read from beside `library` when its key matches, else built from `base` and stored there
// atomically (a warning, and no file, when the folder is not writable). `library_hash` is
// fast_file_hash of the library bytes that `base` came from (see load_library_checked). `reused`,
// when given, says whether a stored index was read.
std::unique_ptr<VectorSearch> open_search(SearchKind kind, const torch::Tensor& base, const SearchOptions& options,
                                          const std::filesystem::path& library, const std::string& library_hash,
                                          bool* reused = nullptr);

}  // namespace instret
