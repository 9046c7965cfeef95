// The instrument library of `retrieve`: instruments (name, family, source), the clips each was
// embedded from, the single encoder's embeddings of those clips and of each instrument (the mean of
// its clips), and the hash of the encoder checkpoint that made them. One file (docs/retrieval.md):
//
//   bytes 0..7   "INSTRLIB"
//   bytes 8..15  uint64 little-endian: H, the length of the JSON header
//   H bytes      JSON header (format, version, encoder, instruments, clips, offsets)
//   zero bytes   up to the next multiple of 64
//   float32 LE   the clip embeddings (n_clips x dim, row-major), then the instrument means
//                (n_instruments x dim)
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <vector>

namespace instret {

struct LibraryInstrument {
  std::string name;    // unique within a library
  std::string family;  // one of family_names() or "unknown"
  std::string source;  // where it came from: "folder:<dir>", "nlakh:<dir>#<split>", "soundfont:<file>"
};

struct LibraryClip {
  int64_t instrument = 0;  // index into Library::instruments
  std::string origin;      // audio file (absolute), or "<sf2>#<bank>:<program>/<phrase>" for SoundFont renders
  double start_s = 0.0;    // start of the 5 s window in the origin

  // What identifies a clip: --add skips a clip whose key is already in the library.
  std::string key() const;
};

class Library {
 public:
  std::string encoder_hash;        // file_hash of the single-encoder checkpoint
  std::string encoder_checkpoint;  // its path when indexed (information only)
  int64_t dim = 0;                 // embedding size
  double clip_seconds = 5.0;
  std::vector<LibraryInstrument> instruments;
  std::vector<LibraryClip> clips;
  std::vector<float> clip_embeddings;  // clips.size() x dim
  std::vector<float> means;            // instruments.size() x dim: mean of each instrument's clip embeddings

  // Index of the instrument called `name`, or -1.
  int64_t find(const std::string& name) const;
  // Adds an instrument (or returns the index of the one of that name).
  int64_t add_instrument(const LibraryInstrument& instrument);
  bool has_clip(const std::string& key) const;
  // Appends one clip and its embedding (dim floats).
  void add_clip(const LibraryClip& clip, const float* embedding);
  // Recomputes `means` from the clips; drops instruments left without clips.
  void finish();
  // Number of clips of each instrument.
  std::vector<int64_t> clip_counts() const;

 private:
  mutable std::unordered_map<std::string, int64_t> by_name_;
  mutable std::unordered_map<std::string, int64_t> clip_keys_;
  void reindex() const;
};

// Writes the library atomically (an existing file is replaced only when the write succeeds).
void save_library(const std::filesystem::path& path, const Library& library);

// Reads a library. IoError when the file cannot be read; FormatError naming the file when it is not a
// library (wrong magic, bad header, sizes that do not add up).
Library load_library(const std::filesystem::path& path);

}  // namespace instret
