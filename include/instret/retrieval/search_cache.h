// An approximate search index kept beside its library file, so that a large library's FAISS index
// is built once: `<library>.<kind>.faiss` plus `<library>.<kind>.faiss.json`, whose key (the
// library file's hash, the build options, the index file's own hash) must match for the index to
// be reused. A stale, damaged or foreign index file is rebuilt, never trusted.
#pragma once
#include <torch/types.h>

#include <filesystem>
#include <memory>

#include "instret/retrieval/library.h"
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

// A library file read for searching, with the fast_file_hash of the bytes it was read from ("" when
// not asked for): a stored index is keyed by it.
struct CheckedLibrary {
  Library library;
  std::string hash;
};

// Reads `path` (load_library); with `hashed`, hashes it before and after reading: IoError when it
// changed meanwhile (retrieve index writing it), so a stored index is never paired with other bytes.
// FormatError when the library holds no instrument.
CheckedLibrary load_library_checked(const std::filesystem::path& path, bool hashed);

// open_search over the library's per-instrument means.
std::unique_ptr<VectorSearch> open_library_search(const Library& library, SearchKind kind, const SearchOptions& options,
                                                  const std::filesystem::path& path, const std::string& library_hash,
                                                  bool* reused = nullptr);

}  // namespace instret
