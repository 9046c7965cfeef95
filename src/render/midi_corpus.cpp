#include "instret/render/midi_corpus.h"

#include <glob.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/hash.h"
#include "instret/core/memory.h"
#include "instret/core/parallel.h"
#include "instret/core/printable.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

bool is_midi_name(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mid" || ext == ".midi";
}

// What a corpus scan may hold: a MIDI file larger than this is skipped as unreadable (the largest
// real ones are a few hundred KB), and more files than this is a usage error.
constexpr uintmax_t kMaxMidiBytes = 16u << 20;
constexpr size_t kMaxMidiFiles = 2000000;
// What the parsed corpus may take in all: its files' bytes at most 8 GiB and an eighth of the
// machine's memory (a parse holds ~6 bytes per file byte: 24-byte notes of ~4-byte events).
constexpr uint64_t kMaxCorpusBytes = uint64_t(8) << 30;

uint64_t corpus_byte_limit() {
  const uint64_t memory = physical_memory_bytes();
  return memory > 0 ? std::min(kMaxCorpusBytes, memory / 8) : kMaxCorpusBytes;
}

struct Scan {
  std::vector<std::string> found;    // regular MIDI files, each file once
  std::vector<std::string> skipped;  // "<path>: <reason>": entries with a MIDI name that cannot be read
  int same_file = 0;                 // further links (hard or symbolic) to a file already found
  uint64_t found_bytes = 0;          // sizes of the found files
  std::set<std::pair<dev_t, ino_t>> seen_files;
};

// Walks `start` following directory links, each directory once (by device and inode, so a link
// loop or two links to one folder are walked once), never opening what is not a regular file.
void scan_path(const fs::path& start, bool named, Scan& scan, std::set<std::pair<dev_t, ino_t>>& seen_dirs) {
  std::vector<std::pair<fs::path, bool>> stack{{start, named}};
  while (!stack.empty()) {
    const auto [p, explicit_file] = stack.back();
    stack.pop_back();
    struct stat st {};
    if (::stat(p.c_str(), &st) != 0) {
      if (explicit_file || is_midi_name(p)) scan.skipped.push_back(quote_path(p) + ": dangling link or unreadable entry");
      continue;
    }
    if (S_ISDIR(st.st_mode)) {
      if (!seen_dirs.insert({st.st_dev, st.st_ino}).second) continue;
      std::vector<fs::path> children;
      std::error_code ec;
      for (fs::directory_iterator it(p, fs::directory_options::skip_permission_denied, ec), end; !ec && it != end;
           it.increment(ec))
        children.push_back(it->path());
      std::sort(children.begin(), children.end());
      for (auto it = children.rbegin(); it != children.rend(); ++it) stack.push_back({*it, false});
    } else if (explicit_file || is_midi_name(p)) {
      if (!S_ISREG(st.st_mode)) {
        scan.skipped.push_back(quote_path(p) + ": not a regular file (a FIFO, device or socket)");
      } else if (uintmax_t(st.st_size) > kMaxMidiBytes) {
        scan.skipped.push_back(quote_path(p) + ": " + std::to_string(st.st_size) + " bytes, more than a MIDI file has (" +
                               std::to_string(kMaxMidiBytes) + " at most)");
      } else if (!scan.seen_files.insert({st.st_dev, st.st_ino}).second) {
        // Another name of a file already found (a hard or symbolic link): never read twice, so that
        // 40 links to one file cost what the file does.
        ++scan.same_file;
      } else {
        if (scan.found.size() >= kMaxMidiFiles)
          throw UsageError("MIDI sources hold more than " + std::to_string(kMaxMidiFiles) + " files");
        scan.found.push_back(p.string());
        scan.found_bytes += uint64_t(st.st_size);
      }
    }
  }
}

Scan scan_sources(const std::vector<std::string>& sources) {
  Scan scan;
  std::set<std::pair<dev_t, ino_t>> seen_dirs;
  for (const std::string& src : sources) {
    if (src.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      if (glob(src.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) scan_path(g.gl_pathv[i], true, scan, seen_dirs);
      globfree(&g);
    } else {
      std::error_code ec;
      if (!fs::exists(fs::symlink_status(src, ec)) || ec) throw IoError(src + ": MIDI source not found");
      scan_path(src, true, scan, seen_dirs);
    }
  }
  std::sort(scan.found.begin(), scan.found.end());
  scan.found.erase(std::unique(scan.found.begin(), scan.found.end()), scan.found.end());
  return scan;
}

}  // namespace

std::vector<std::string> find_midi_files(const std::vector<std::string>& sources) {
  return scan_sources(sources).found;
}

std::string content_split(const std::string& bytes, double valid_fraction, double test_fraction) {
  const double u = double(fnv1a(bytes) >> 11) * (1.0 / 9007199254740992.0);
  return u < valid_fraction ? "valid" : u < valid_fraction + test_fraction ? "test" : "train";
}

MidiCorpus load_midi_corpus(const std::vector<std::string>& sources, double valid_fraction, int threads,
                            double test_fraction) {
  if (!(valid_fraction >= 0.0 && valid_fraction <= 1.0)) throw UsageError("midi.valid_fraction must be in [0, 1]");
  if (!(test_fraction >= 0.0 && valid_fraction + test_fraction <= 1.0))
    throw UsageError("midi.test_fraction must be >= 0, and at most 1 with midi.valid_fraction");
  const Scan scan = scan_sources(sources);
  // Bounded before anything is read: the parses of every distinct file are held together.
  if (const uint64_t limit = corpus_byte_limit(); scan.found_bytes > limit)
    throw UsageError("MIDI sources hold " + std::to_string(scan.found_bytes >> 20) + " MiB in " +
                     std::to_string(scan.found.size()) + " files, more than the " + std::to_string(limit >> 20) +
                     " MiB a corpus may hold here (8 GiB, and an eighth of the memory: parsed, it takes ~6x its "
                     "bytes); use fewer files");
  for (const std::string& skipped : scan.skipped) spdlog::warn("skipping MIDI file: {}", skipped);
  const std::vector<std::string>& paths = scan.found;
  // First the content of each file (hash and size), so that copies are parsed once: only the first
  // path (in sorted order) of each content is parsed and held.
  std::vector<std::string> keys(paths.size());  // "" when unreadable
  parallel_for(paths.size(), threads, [&](size_t i, int) {
    try {
      const std::string bytes = read_file(paths[i]);  // IoError messages go through the escaping logger
      keys[i] = std::to_string(fnv1a(bytes)) + ":" + std::to_string(bytes.size());
    } catch (const Error& err) {
      spdlog::warn("skipping MIDI file: {}", err.what());
    }
  });
  MidiCorpus corpus;
  corpus.unreadable = int(scan.skipped.size());
  corpus.duplicates = scan.same_file;
  std::vector<size_t> unique;
  std::set<std::string> seen;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (keys[i].empty())
      ++corpus.unreadable;
    else if (!seen.insert(keys[i]).second)
      ++corpus.duplicates;
    else
      unique.push_back(i);
  }
  std::vector<std::unique_ptr<CorpusFile>> parsed(unique.size());
  parallel_for(unique.size(), threads, [&](size_t k, int) {
    const size_t i = unique[k];
    try {
      const std::string bytes = read_file(paths[i]);
      const std::string key = std::to_string(fnv1a(bytes)) + ":" + std::to_string(bytes.size());
      if (key != keys[i]) throw IoError(quote_path(paths[i]) + ": changed while the corpus was read");
      auto f = std::make_unique<CorpusFile>();
      f->path = paths[i];
      f->midi = parse_midi(bytes, quote_path(paths[i]));  // its errors name the file quoted
      f->split = content_split(bytes, valid_fraction, test_fraction);
      f->fingerprint = key;
      parsed[k] = std::move(f);
    } catch (const Error& err) {
      spdlog::warn("skipping MIDI file: {}", err.what());
    }
  });
  for (auto& f : parsed) {
    if (f)
      corpus.files.push_back(std::move(*f));
    else
      ++corpus.unreadable;
  }
  return corpus;
}

}  // namespace instret
