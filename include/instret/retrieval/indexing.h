// What `retrieve index` embeds: the 5 s clips of an index source (a folder of audio files, a Nlakh
// split, SoundFont presets rendered with fixed phrases), and the run of the single encoder over them
// into a Library (decoding and rendering on loader threads, batches through the encoder).
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "instret/retrieval/library.h"
#include "instret/retrieval/search.h"

namespace instret {

class SingleEncoder;

// One clip to embed: its instrument and how to read its samples.
struct IndexClip {
  LibraryInstrument instrument;
  std::string origin;  // LibraryClip::origin
  double start_s = 0;
  // Fills clip_samples floats (16 kHz mono); may throw (the clip is then skipped as a bad file).
  std::function<void(float* out)> read;
};

struct IndexPlan {
  std::vector<IndexClip> clips;
  int64_t bad_files = 0;  // files skipped while planning (unreadable headers), each logged
};

// The family of an instrument named `name`: the NSynth family that its first word(s) name, case aside
// ("guitar_acoustic" -> guitar, "Flute-2" -> flute, "synth_lead_3" -> synth_lead; "bassoon" -> unknown),
// else "unknown".
std::string family_from_name(const std::string& name);

// Windows of a file of `duration_s` seconds for indexing: starts 0, clip_s, 2 clip_s, ... (no
// overlap); the tail after the last whole window counts as one more (zero-padded) window when it is
// at least half a window long; a file shorter than one window gives one zero-padded window.
std::vector<double> index_window_starts(double duration_s, double clip_s);

// A folder of audio files (any format libsndfile reads: .wav .flac .ogg .aiff ... by extension).
// Instruments: every subfolder of `dir` is one instrument named after it (its audio files found
// recursively); every audio file directly in `dir` belongs to the instrument named by its file name
// up to the last '_' or '-' ("violin_01.wav", "violin-take2.flac" -> "violin"; no separator: the
// whole stem). Hidden files and non-audio extensions are ignored. Files whose header cannot be read
// are counted in bad_files, logged and skipped. UsageError when `dir` is not a folder; FormatError
// when it holds no audio file.
IndexPlan plan_folder(const std::filesystem::path& dir, double clip_s);

// Every clip of a rendered Nlakh split (the instrument's id as its name, its family).
IndexPlan plan_nlakh(const std::filesystem::path& root, const std::string& split);

// Each melodic preset of a SoundFont (optionally only `programs`) rendered with the fixed phrases
// (soundfont_phrases), one clip per phrase.
IndexPlan plan_soundfont(const std::filesystem::path& sf2, const std::vector<int>& programs, double clip_s);

struct IndexStats {
  int64_t embedded = 0;   // clips embedded now
  int64_t kept = 0;       // clips already in the library (not recomputed)
  int64_t bad_files = 0;  // distinct files skipped (planning and decoding)
};

// Embeds the plan's clips that `library` does not hold yet (by LibraryClip::key) with `encoder` and
// adds them; recomputes the means. The library must be empty or hold embeddings of this encoder
// (FormatError naming both hashes otherwise). Clips whose read throws are logged once per file and
// skipped. FormatError when the library ends with no instrument.
IndexStats index_into(Library& library, SingleEncoder& encoder, const IndexPlan& plan, int64_t batch, int workers);

// What `retrieve index` reads: exactly one of a folder (plan_folder), a Nlakh split (plan_nlakh) or
// a SoundFont (plan_soundfont, optionally only `programs`).
struct IndexSource {
  std::string folder, nlakh, split = "valid", soundfont;
  std::vector<int> programs;
  // UsageError unless exactly one of folder, nlakh and soundfont is given.
  void validate() const;
};

struct IndexOptions {
  bool add = false;            // extend the library file instead of replacing it
  int64_t batch = 16;          // clips per forward
  int workers = 2;             // decoding / rendering threads
  std::string prebuild = "exact";  // also build and store this FAISS index beside the file: hnsw or ivf
  SearchOptions search;            // its build options
};

// `retrieve index` as a whole: the library file `output` (with `add` and an existing file: that
// library, which must hold this encoder's embeddings, FormatError otherwise) gets the source's clips
// (index_into) and is written atomically; with prebuild hnsw or ivf, that index is built and stored
// beside it (open_search). Validates the source first.
IndexStats build_library_file(const std::filesystem::path& output, SingleEncoder& encoder, const IndexSource& source,
                              const IndexOptions& options);

}  // namespace instret
