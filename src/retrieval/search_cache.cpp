#include "instret/retrieval/search_cache.h"

#include <spdlog/spdlog.h>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/temp_files.h"

namespace instret {
namespace fs = std::filesystem;

fs::path search_index_path(const fs::path& library, SearchKind kind) {
  return fs::path(library.string() + "." + to_string(kind) + ".faiss");
}

namespace {

fs::path key_path(const fs::path& index) { return fs::path(index.string() + ".json"); }

// What the stored index must have been built from. Query-time options (nprobe, efSearch) are not part
// of it: they are set on the loaded index.
Json build_key(SearchKind kind, const torch::Tensor& base, const SearchOptions& o, const std::string& library_hash) {
  Json key = {{"library_hash", library_hash}, {"kind", to_string(kind)}, {"rows", base.size(0)}, {"dim", base.size(1)}};
  if (kind == SearchKind::hnsw)
    key["options"] = {{"m", o.hnsw_m}, {"ef_construction", o.hnsw_ef_construction}};
  else
    key["options"] = {{"lists", ivf_list_count(base.size(0), o)}, {"training_vectors", ivf_training_count(base.size(0), o)}};
  return key;
}

}  // namespace

std::unique_ptr<VectorSearch> open_search(SearchKind kind, const torch::Tensor& base, const SearchOptions& options,
                                          const fs::path& library, const std::string& library_hash, bool* reused) {
  if (reused) *reused = false;
  if (kind == SearchKind::exact) return make_search(kind, base, options);
  const fs::path index = search_index_path(library, kind), key_file = key_path(index);
  const Json key = build_key(kind, base, options, library_hash);
  std::error_code ec;
  if (fs::is_regular_file(index, ec) && fs::is_regular_file(key_file, ec)) {
    try {
      const Json stored = Json::parse(read_file(key_file));
      if (stored.is_object() && stored.value("key", Json()) == key) {
        // One open file is hashed and then read: a writer renaming another index into place meanwhile
        // cannot slip an unhashed file in.
        const std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(index.c_str(), "rb"), &std::fclose);
        if (!f) throw IoError(index.string() + ": cannot open for reading");
        if (fast_file_hash(f.get(), index.string()) == stored.value("index_hash", std::string())) {
          std::rewind(f.get());
          auto search = load_search(kind, f.get(), index.string(), options);
          if (search->size() != base.size(0) || search->dim() != base.size(1))
            throw FormatError("holds " + std::to_string(search->size()) + " x " + std::to_string(search->dim()) + " entries");
          if (reused) *reused = true;
          return search;
        }
      }
      spdlog::info("{} does not match the library, the build options or its recorded hash: rebuilding it", index.string());
    } catch (const std::exception& e) {
      spdlog::warn("{}: ignored and rebuilt ({})", index.string(), one_line(e.what()));
    }
  }
  auto search = make_search(kind, base, options);
  // A multi-GB index write killed before its rename leaves its temporary beside the library.
  if (const size_t removed = remove_stale_temporaries(index.parent_path().empty() ? "." : index.parent_path(),
                                                      index.filename().string(), false))
    spdlog::info("removed {} temporary index files left by killed runs", removed);
  try {
    // The hash is taken of this process's own file before it is renamed into place, so the key never
    // describes another writer's index.
    std::string index_hash;
    write_atomically(index, [&](const fs::path& tmp) {
      search->save(tmp);
      index_hash = fast_file_hash(tmp);
    });
    write_file_atomically(key_file, Json({{"key", key}, {"index_hash", index_hash}}).dump(2) + "\n");
  } catch (const std::exception& e) {
    spdlog::warn("the {} index was not stored beside the library ({}): it is rebuilt on every query run",
                 to_string(kind), one_line(e.what()));
  }
  return search;
}

CheckedLibrary load_library_checked(const std::filesystem::path& path, bool hashed) {
  CheckedLibrary out;
  if (hashed) out.hash = fast_file_hash(path);
  out.library = load_library(path);
  if (hashed && fast_file_hash(path) != out.hash)
    throw IoError("library " + path.string() + " changed while it was read (is retrieve index writing it?): try again");
  if (out.library.instruments.empty()) throw FormatError("library " + path.string() + " holds no instrument");
  return out;
}

std::unique_ptr<VectorSearch> open_library_search(const Library& library, SearchKind kind, const SearchOptions& options,
                                                  const std::filesystem::path& path, const std::string& library_hash,
                                                  bool* reused) {
  // A view of the means (open_search copies what it keeps).
  const torch::Tensor means = torch::from_blob(const_cast<float*>(library.means.data()),
                                               {int64_t(library.instruments.size()), library.dim}, torch::kFloat32);
  return open_search(kind, means, options, path, library_hash, reused);
}

}  // namespace instret
