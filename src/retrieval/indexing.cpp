#include "instret/retrieval/indexing.h"

#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cmath>
#include <list>
#include <map>
#include <mutex>
#include <set>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/data/nlakh_dataset.h"
#include "instret/inference/embed_clips.h"
#include "instret/inference/single_encoder.h"
#include "instret/midi/family.h"
#include "instret/render/soundfont_bank.h"
#include "instret/retrieval/search_cache.h"

namespace fs = std::filesystem;

namespace instret {

namespace {

bool is_audio_file(const fs::path& p) {
  static const std::set<std::string> kExtensions = {".wav",  ".flac", ".ogg", ".oga", ".opus", ".aif", ".aiff",
                                                    ".aifc", ".au",   ".snd", ".caf", ".w64",  ".mp3", ".rf64"};
  std::string ext = p.extension().string();
  for (auto& c : ext) c = char(std::tolower(static_cast<unsigned char>(c)));
  const std::string name = p.filename().string();
  return !name.empty() && name[0] != '.' && kExtensions.count(ext) > 0;
}

// Decoded files shared by the windows of one file (windows of a file are consecutive, so they
// usually land in one batch): a small most-recently-used cache, thread-safe.
class DecodeCache {
 public:
  std::shared_ptr<const std::vector<float>> get(const fs::path& path) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      for (auto it = entries_.begin(); it != entries_.end(); ++it)
        if (it->first == path) {
          entries_.splice(entries_.begin(), entries_, it);
          return it->second;
        }
    }
    auto audio = std::make_shared<const std::vector<float>>(read_audio(path, kSampleRate));
    std::lock_guard<std::mutex> lock(mutex_);
    entries_.emplace_front(path, audio);
    if (entries_.size() > 8) entries_.pop_back();
    return audio;
  }

 private:
  std::mutex mutex_;
  std::list<std::pair<fs::path, std::shared_ptr<const std::vector<float>>>> entries_;
};

// The fixed phrases every SoundFont preset plays for the index (clip_s long each, notes cut there):
// a major scale from middle C, two triads, low sustained notes, a high arpeggio.
std::vector<std::vector<Note>> soundfont_phrases(double clip_s) {
  std::vector<std::vector<Note>> phrases(4);
  const int scale[8] = {60, 62, 64, 65, 67, 69, 71, 72};
  const double step = clip_s / 8.0;
  for (int i = 0; i < 8; ++i) phrases[0].push_back({i * step, (i + 0.9) * step, scale[i], 100});
  for (int p : {48, 52, 55}) phrases[1].push_back({0.0, clip_s * 0.48, p, 90});
  for (int p : {53, 57, 60}) phrases[1].push_back({clip_s * 0.5, clip_s * 0.98, p, 90});
  phrases[2].push_back({0.0, clip_s * 0.45, 36, 110});
  phrases[2].push_back({clip_s * 0.5, clip_s * 0.95, 43, 110});
  const int arp[4] = {72, 76, 79, 84};
  const double a = clip_s / 10.0;
  for (int i = 0; i < 10; ++i) phrases[3].push_back({i * a, (i + 0.8) * a, arp[i % 4], 80});
  return phrases;
}

}  // namespace

std::string family_from_name(const std::string& name) {
  std::string lower;
  for (char c : name) lower += char(std::tolower(static_cast<unsigned char>(c)));
  // The longest family name that is the whole name or its first word(s) ("synth_lead_3" -> synth_lead).
  std::string best = "unknown";
  size_t best_len = 0;
  for (const auto& family : family_names()) {
    if (lower.compare(0, family.size(), family) != 0 || family.size() <= best_len) continue;
    const char next = lower.size() > family.size() ? lower[family.size()] : '\0';
    if (next == '\0' || next == '_' || next == '-' || next == ' ' || next == '.')
      best = family, best_len = family.size();
  }
  return best;
}

std::vector<double> index_window_starts(double duration_s, double clip_s) {
  std::vector<double> starts{0.0};
  for (int k = 1;; ++k) {
    const double start = k * clip_s;
    if (duration_s - start < 0.5 * clip_s - 1e-9) break;
    starts.push_back(start);
  }
  return starts;
}

IndexPlan plan_folder(const fs::path& dir, double clip_s) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw UsageError("--folder " + dir.string() + " is not a folder");
  // instrument name -> its files, sorted for a stable order.
  std::map<std::string, std::vector<fs::path>> files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name[0] == '.') continue;
    if (entry.is_directory()) {
      for (const auto& f : fs::recursive_directory_iterator(entry.path()))
        if (f.is_regular_file() && is_audio_file(f.path())) files[name].push_back(fs::absolute(f.path()));
    } else if (entry.is_regular_file() && is_audio_file(entry.path())) {
      const std::string stem = entry.path().stem().string();
      const size_t cut = stem.find_last_of("_-");
      const std::string inst = (cut == std::string::npos || cut == 0) ? stem : stem.substr(0, cut);
      files[inst].push_back(fs::absolute(entry.path()));
    }
  }
  if (files.empty())
    throw FormatError("--folder " + dir.string() + " holds no audio file (see docs/retrieval.md for the layout)");
  IndexPlan plan;
  auto cache = std::make_shared<DecodeCache>();
  const int64_t clip_samples = std::llround(clip_s * kSampleRate);
  const std::string source = "folder:" + fs::absolute(dir).lexically_normal().string();
  for (auto& [inst, paths] : files) {
    std::sort(paths.begin(), paths.end());
    const LibraryInstrument instrument{inst, family_from_name(inst), source};
    for (const auto& path : paths) {
      AudioInfo info;
      try {
        info = audio_info(path);
        if (info.frames <= 0 || info.sample_rate <= 0) throw FormatError(path.string() + ": no audio frames");
      } catch (const Error& e) {
        spdlog::warn("skipping {}", e.what());
        ++plan.bad_files;
        continue;
      }
      const double duration = double(info.frames) / info.sample_rate;
      for (double start : index_window_starts(duration, clip_s)) {
        IndexClip clip{instrument, path.string(), start, nullptr};
        clip.read = [cache, path, start, clip_samples](float* out) {
          const auto audio = cache->get(path);
          const std::vector<float> w = excerpt(*audio, std::llround(start * kSampleRate), clip_samples);
          std::copy(w.begin(), w.end(), out);
        };
        plan.clips.push_back(std::move(clip));
      }
    }
  }
  return plan;
}

IndexPlan plan_nlakh(const fs::path& root, const std::string& split) {
  auto data = std::make_shared<NlakhSingle>(NlakhSingle::open(root, split));
  IndexPlan plan;
  const std::string source = "nlakh:" + fs::absolute(root).lexically_normal().string() + "#" + split;
  for (size_t c = 0; c < data->clips().size(); ++c) {
    const auto& inst = data->instruments()[size_t(data->clips()[c].instrument)];
    IndexClip clip{
        {inst.id, inst.family.empty() ? "unknown" : inst.family, source}, data->clips()[c].path.string(), 0.0, nullptr};
    clip.read = [data, c](float* out) { data->read(int64_t(c), out); };
    plan.clips.push_back(std::move(clip));
  }
  return plan;
}

IndexPlan plan_soundfont(const fs::path& sf2, const std::vector<int>& programs, double clip_s) {
  BankFilter filter;
  filter.programs = programs;
  auto bank = std::make_shared<SoundFontBank>(sf2, filter);
  if (bank->instruments().empty())
    throw FormatError(sf2.string() + ": no melodic preset" + (programs.empty() ? "" : " with the chosen --programs"));
  const auto phrases = std::make_shared<std::vector<std::vector<Note>>>(soundfont_phrases(clip_s));
  const int64_t clip_samples = std::llround(clip_s * kSampleRate);
  const std::string file = fs::absolute(sf2).lexically_normal().string();
  IndexPlan plan;
  for (size_t i = 0; i < bank->instruments().size(); ++i) {
    const Instrument& inst = bank->instruments()[i];
    for (size_t p = 0; p < phrases->size(); ++p) {
      IndexClip clip{
          {inst.id, inst.family, "soundfont:" + file + " (" + inst.name + ")"},
          file + "#" + std::to_string(inst.bank) + ":" + std::to_string(inst.program) + "/phrase" + std::to_string(p),
          0.0,
          nullptr};
      clip.read = [bank, phrases, i, p, clip_samples](float* out) {
        // Notes the preset cannot play move by octaves to the nearest playable key, else are dropped.
        std::vector<Note> notes;
        for (Note n : (*phrases)[p]) {
          for (int shift : {0, 12, -12, 24, -24, 36, -36}) {
            if (bank->has_pitch(i, n.pitch + shift)) {
              n.pitch += shift;
              notes.push_back(n);
              break;
            }
          }
        }
        if (notes.empty())
          throw FormatError("preset " + bank->instruments()[i].id + " plays none of phrase " + std::to_string(p));
        bank->render(i, notes, out, clip_samples);
      };
      plan.clips.push_back(std::move(clip));
    }
  }
  return plan;
}

IndexStats index_into(Library& library, SingleEncoder& encoder, const IndexPlan& plan, int64_t batch, int workers) {
  if (library.dim == 0) {
    library.dim = encoder.dim();
    library.encoder_hash = encoder.hash();
    library.encoder_checkpoint = encoder.path().string();
  } else if (library.encoder_hash != encoder.hash()) {
    throw FormatError("the library was made with encoder " + library.encoder_hash + " (" + library.encoder_checkpoint +
                      "), not with " + encoder.hash() + " (" + encoder.path().string() +
                      "): index into a new library, or use that checkpoint");
  }
  IndexStats stats;
  stats.bad_files = plan.bad_files;
  std::vector<const IndexClip*> todo;
  for (const auto& c : plan.clips) {
    if (library.has_clip(LibraryClip{0, c.origin, c.start_s}.key()))
      ++stats.kept;
    else
      todo.push_back(&c);
  }
  if (!todo.empty()) {
    const int64_t samples = std::llround(library.clip_seconds * kSampleRate);
    std::vector<char> failed(todo.size(), 0);
    std::mutex log_mutex;
    std::set<std::string> bad_origins;
    const ReadClip read = [&](int64_t i, float* out) {
      try {
        todo[size_t(i)]->read(out);
      } catch (const std::exception& e) {  // a bad file (or a codec's own exception): skip it
        failed[size_t(i)] = 1;
        std::fill(out, out + samples, 0.f);
        std::lock_guard<std::mutex> lock(log_mutex);
        if (bad_origins.insert(todo[size_t(i)]->origin).second) spdlog::warn("skipping {}", e.what());
      }
    };
    const torch::Tensor emb = embed_clips(
                                  int64_t(todo.size()), samples, read,
                                  [&](const torch::Tensor& a) { return encoder.embed(a); }, batch, workers, "index")
                                  .contiguous();
    const float* e = emb.data_ptr<float>();
    for (size_t i = 0; i < todo.size(); ++i) {
      if (failed[i]) continue;
      const int64_t inst = library.add_instrument(todo[i]->instrument);
      library.add_clip({inst, todo[i]->origin, todo[i]->start_s}, e + i * size_t(library.dim));
      ++stats.embedded;
    }
    stats.bad_files += int64_t(bad_origins.size());
  }
  library.finish();
  if (library.instruments.empty())
    throw FormatError("no instrument left to index (" + std::to_string(stats.bad_files) + " bad files skipped)");
  return stats;
}

void IndexSource::validate() const {
  const int sources = int(!folder.empty()) + int(!nlakh.empty()) + int(!soundfont.empty());
  if (sources != 1) throw UsageError("choose one source: --folder DIR, --nlakh DIR or --soundfont SF2");
}

IndexStats build_library_file(const fs::path& output, SingleEncoder& encoder, const IndexSource& source,
                              const IndexOptions& options) {
  source.validate();
  Library library;
  if (options.add && fs::exists(output)) {
    library = load_library(output);
    if (library.encoder_hash != encoder.hash())
      throw FormatError("library " + output.string() + " was made with encoder " + library.encoder_hash + " (" +
                        library.encoder_checkpoint + "), not " + encoder.hash() + " (" + encoder.path().string() +
                        "): --add needs the same single encoder");
    spdlog::info("{}: {} instruments, {} clips", output.string(), library.instruments.size(), library.clips.size());
  }
  const IndexPlan plan = !source.folder.empty() ? plan_folder(source.folder, library.clip_seconds)
                         : !source.nlakh.empty() ? plan_nlakh(source.nlakh, source.split)
                                                 : plan_soundfont(source.soundfont, source.programs, library.clip_seconds);
  const IndexStats stats = index_into(library, encoder, plan, options.batch, options.workers);
  save_library(output, library);
  spdlog::info("wrote {}: {} instruments, {} clips ({} embedded now, {} already there, {} bad files skipped)",
               output.string(), library.instruments.size(), library.clips.size(), stats.embedded, stats.kept,
               stats.bad_files);
  if (stats.bad_files > 0) spdlog::warn("{} bad audio files were skipped (see the warnings above)", stats.bad_files);
  if (options.prebuild != "exact") {
    const SearchKind kind = parse_search_kind(options.prebuild);
    const auto search = open_library_search(library, kind, options.search, output, fast_file_hash(output));
    spdlog::info("stored {} beside it: {}", search_index_path(output, kind).string(), search->describe());
  }
  return stats;
}

}  // namespace instret
