#include "instret/data/midi_corpus.h"

#include <glob.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <set>

#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/hash.h"
#include "instret/core/parallel.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

bool is_midi_name(const fs::path& p) {
  std::string ext = p.extension().string();
  for (char& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  return ext == ".mid" || ext == ".midi";
}

}  // namespace

std::vector<std::string> find_midi_files(const std::vector<std::string>& sources) {
  std::vector<std::string> found;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (auto it = fs::recursive_directory_iterator(p, fs::directory_options::follow_directory_symlink, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
        if (it->is_regular_file(ec) && is_midi_name(it->path())) found.push_back(it->path().string());
    } else if (fs::is_regular_file(p, ec)) {
      found.push_back(p.string());
    }
  };
  for (const std::string& src : sources) {
    if (src.find_first_of("*?[") != std::string::npos) {
      glob_t g{};
      if (glob(src.c_str(), 0, nullptr, &g) == 0)
        for (size_t i = 0; i < g.gl_pathc; ++i) add(g.gl_pathv[i]);
      globfree(&g);
    } else {
      std::error_code ec;
      if (!fs::exists(src, ec)) throw IoError(src + ": MIDI source not found");
      add(src);
    }
  }
  std::sort(found.begin(), found.end());
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

std::string content_split(const std::string& bytes, double valid_fraction) {
  const double u = double(fnv1a(bytes) >> 11) * (1.0 / 9007199254740992.0);
  return u < valid_fraction ? "valid" : "train";
}

MidiCorpus load_midi_corpus(const std::vector<std::string>& sources, double valid_fraction, int threads) {
  if (!(valid_fraction >= 0.0 && valid_fraction <= 1.0)) throw UsageError("midi.valid_fraction must be in [0, 1]");
  const std::vector<std::string> paths = find_midi_files(sources);
  std::vector<std::unique_ptr<CorpusFile>> parsed(paths.size());
  std::vector<std::string> keys(paths.size());
  parallel_for(paths.size(), threads, [&](size_t i, int) {
    try {
      const std::string bytes = read_file(paths[i]);
      auto f = std::make_unique<CorpusFile>();
      f->path = paths[i];
      f->midi = parse_midi(bytes, paths[i]);
      f->split = content_split(bytes, valid_fraction);
      keys[i] = std::to_string(fnv1a(bytes)) + ":" + std::to_string(bytes.size());
      parsed[i] = std::move(f);
    } catch (const Error& err) {
      spdlog::warn("skipping MIDI file: {}", err.what());
    }
  });
  MidiCorpus corpus;
  std::set<std::string> seen;
  for (size_t i = 0; i < paths.size(); ++i) {
    if (!parsed[i]) {
      ++corpus.unreadable;
    } else if (!seen.insert(keys[i]).second) {
      ++corpus.duplicates;
    } else {
      corpus.files.push_back(std::move(*parsed[i]));
    }
  }
  return corpus;
}

}  // namespace instret
