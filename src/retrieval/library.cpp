#include "instret/retrieval/library.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {

namespace {

constexpr char kMagic[8] = {'I', 'N', 'S', 'T', 'R', 'L', 'I', 'B'};
constexpr int kVersion = 1;
constexpr uint64_t kAlign = 64;

std::string format_start(double s) {
  std::ostringstream out;
  out << s;
  return out.str();
}

}  // namespace

std::string LibraryClip::key() const { return origin + "@" + format_start(start_s); }

void Library::reindex() const {
  by_name_.clear();
  clip_keys_.clear();
  for (size_t i = 0; i < instruments.size(); ++i) by_name_[instruments[i].name] = int64_t(i);
  for (size_t i = 0; i < clips.size(); ++i) clip_keys_[clips[i].key()] = int64_t(i);
}

int64_t Library::find(const std::string& name) const {
  if (by_name_.size() != instruments.size()) reindex();
  const auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

int64_t Library::add_instrument(const LibraryInstrument& instrument) {
  const int64_t existing = find(instrument.name);
  if (existing >= 0) return existing;
  instruments.push_back(instrument);
  by_name_[instrument.name] = int64_t(instruments.size()) - 1;
  return int64_t(instruments.size()) - 1;
}

bool Library::has_clip(const std::string& key) const {
  if (clip_keys_.size() != clips.size()) reindex();
  return clip_keys_.count(key) > 0;
}

void Library::add_clip(const LibraryClip& clip, const float* embedding) {
  if (clip.instrument < 0 || clip.instrument >= int64_t(instruments.size()))
    throw Error("library: clip of an unknown instrument " + std::to_string(clip.instrument));
  has_clip("");  // make sure the key index is current before appending
  clips.push_back(clip);
  clip_keys_[clip.key()] = int64_t(clips.size()) - 1;
  clip_embeddings.insert(clip_embeddings.end(), embedding, embedding + dim);
}

std::vector<int64_t> Library::clip_counts() const {
  std::vector<int64_t> counts(instruments.size(), 0);
  for (const auto& c : clips) ++counts[size_t(c.instrument)];
  return counts;
}

void Library::finish() {
  // Drop instruments without clips, renumbering the clips' references.
  const std::vector<int64_t> counts = clip_counts();
  std::vector<int64_t> new_index(instruments.size(), -1);
  std::vector<LibraryInstrument> kept;
  for (size_t i = 0; i < instruments.size(); ++i)
    if (counts[i] > 0) {
      new_index[i] = int64_t(kept.size());
      kept.push_back(instruments[i]);
    }
  instruments = std::move(kept);
  for (auto& c : clips) c.instrument = new_index[size_t(c.instrument)];
  // Means in double, per instrument.
  std::vector<double> sum(instruments.size() * size_t(dim), 0.0);
  std::vector<int64_t> n(instruments.size(), 0);
  for (size_t c = 0; c < clips.size(); ++c) {
    const size_t i = size_t(clips[c].instrument);
    ++n[i];
    const float* e = clip_embeddings.data() + c * size_t(dim);
    double* s = sum.data() + i * size_t(dim);
    for (int64_t d = 0; d < dim; ++d) s[d] += e[d];
  }
  means.assign(sum.size(), 0.f);
  for (size_t i = 0; i < instruments.size(); ++i)
    for (int64_t d = 0; d < dim; ++d)
      means[i * size_t(dim) + size_t(d)] = float(sum[i * size_t(dim) + size_t(d)] / double(n[i]));
  reindex();
}

void save_library(const std::filesystem::path& path, const Library& library) {
  if (library.clip_embeddings.size() != library.clips.size() * size_t(library.dim) ||
      library.means.size() != library.instruments.size() * size_t(library.dim))
    throw Error("library " + path.string() + ": embeddings do not match the clip and instrument lists");
  Json header;
  header["format"] = "instret-library";
  header["version"] = kVersion;
  header["encoder"] = {{"hash", library.encoder_hash},
                       {"checkpoint", library.encoder_checkpoint},
                       {"dim", library.dim},
                       {"clip_seconds", library.clip_seconds}};
  Json instruments = Json::array();
  for (const auto& i : library.instruments)
    instruments.push_back({{"name", i.name}, {"family", i.family}, {"source", i.source}});
  header["instruments"] = std::move(instruments);
  Json clips = Json::array();
  for (const auto& c : library.clips) clips.push_back({c.instrument, c.origin, c.start_s});
  header["clips"] = std::move(clips);
  header["layout"] =
      "float32 little-endian: clip embeddings (n_clips x dim), then instrument means (n_instruments x dim)";
  const std::string text = header.dump();
  write_atomically(path, [&](const std::filesystem::path& tmp) {
    std::ofstream out(tmp, std::ios::binary);
    if (!out) throw IoError("cannot write " + tmp.string());
    out.write(kMagic, 8);
    const uint64_t h = text.size();
    unsigned char len[8];
    for (int b = 0; b < 8; ++b) len[b] = static_cast<unsigned char>(h >> (8 * b));
    out.write(reinterpret_cast<const char*>(len), 8);
    out.write(text.data(), std::streamsize(text.size()));
    const uint64_t used = 16 + h;
    const std::string pad(size_t((kAlign - used % kAlign) % kAlign), '\0');
    out.write(pad.data(), std::streamsize(pad.size()));
    out.write(reinterpret_cast<const char*>(library.clip_embeddings.data()),
              std::streamsize(library.clip_embeddings.size() * sizeof(float)));
    out.write(reinterpret_cast<const char*>(library.means.data()),
              std::streamsize(library.means.size() * sizeof(float)));
    out.close();
    if (!out) throw IoError("cannot write " + tmp.string() + " (disk full?)");
  });
}

Library load_library(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    throw IoError("cannot read library " + path.string() + ": no such file");
  const uint64_t size = std::filesystem::file_size(path, ec);
  std::ifstream in(path, std::ios::binary);
  if (!in || ec) throw IoError("cannot read library " + path.string());
  const std::string what = path.string() + " is not an instret library (make one with `retrieve index`)";
  char magic[8] = {};
  unsigned char len[8] = {};
  if (size < 16 || !in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0 ||
      !in.read(reinterpret_cast<char*>(len), 8))
    throw FormatError(what);
  uint64_t h = 0;
  for (int b = 0; b < 8; ++b) h |= uint64_t(len[b]) << (8 * b);
  if (h > size - 16) throw FormatError(what + ": header length past the end of the file");
  std::string text(h, '\0');
  if (!in.read(text.data(), std::streamsize(h))) throw FormatError(what + ": truncated header");
  Library lib;
  try {
    const Json header = Json::parse(text);
    if (header.at("format") != "instret-library") throw FormatError(what);
    if (header.at("version") != kVersion)
      throw FormatError(path.string() + ": library version " + header.at("version").dump() + ", this build reads " +
                        std::to_string(kVersion));
    const Json& enc = header.at("encoder");
    lib.encoder_hash = enc.at("hash").get<std::string>();
    lib.encoder_checkpoint = enc.at("checkpoint").get<std::string>();
    lib.dim = enc.at("dim").get<int64_t>();
    lib.clip_seconds = enc.at("clip_seconds").get<double>();
    if (lib.dim <= 0) throw FormatError(path.string() + ": library embedding size " + std::to_string(lib.dim));
    for (const auto& i : header.at("instruments"))
      lib.instruments.push_back(
          {i.at("name").get<std::string>(), i.at("family").get<std::string>(), i.at("source").get<std::string>()});
    for (const auto& c : header.at("clips")) {
      LibraryClip clip{c.at(0).get<int64_t>(), c.at(1).get<std::string>(), c.at(2).get<double>()};
      if (clip.instrument < 0 || clip.instrument >= int64_t(lib.instruments.size()))
        throw FormatError(path.string() + ": a clip names instrument " + std::to_string(clip.instrument) + " of " +
                          std::to_string(lib.instruments.size()));
      lib.clips.push_back(std::move(clip));
    }
  } catch (const Json::exception& e) {
    throw FormatError(what + ": bad header (" + e.what() + ")");
  }
  const uint64_t start = 16 + h + (kAlign - (16 + h) % kAlign) % kAlign;
  const uint64_t floats = (lib.clips.size() + lib.instruments.size()) * uint64_t(lib.dim);
  if (start + floats * sizeof(float) != size)
    throw FormatError(path.string() + ": library is " + std::to_string(size) + " bytes, its header says " +
                      std::to_string(start + floats * sizeof(float)) + " (truncated or damaged)");
  in.seekg(std::streamoff(start));
  lib.clip_embeddings.resize(lib.clips.size() * size_t(lib.dim));
  lib.means.resize(lib.instruments.size() * size_t(lib.dim));
  in.read(reinterpret_cast<char*>(lib.clip_embeddings.data()),
          std::streamsize(lib.clip_embeddings.size() * sizeof(float)));
  in.read(reinterpret_cast<char*>(lib.means.data()), std::streamsize(lib.means.size() * sizeof(float)));
  if (!in) throw IoError("cannot read library " + path.string());
  for (float v : lib.means)
    if (!std::isfinite(v)) throw FormatError(path.string() + ": library holds non-finite embeddings");
  return lib;
}

}  // namespace instret
