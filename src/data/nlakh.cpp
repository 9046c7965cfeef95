#include "instret/data/nlakh.h"

#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <thread>
#include <tuple>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/temp_files.h"
#include "instret/core/hash.h"
#include "instret/core/log.h"
#include "instret/core/parallel.h"
#include "instret/data/instrument_bank.h"
#include "instret/data/midi_corpus.h"
#include "instret/midi/family.h"
#include "instret/midi/smf.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

const char* const kSplits[] = {"train", "valid"};
// Bounds of the size settings (check_counts): clips a dataset may hold (20x the paper's Nlakh, about
// 1.1 million), memory planned per clip (its task and manifest row), seconds of a clip, threads.
constexpr int64_t kMaxClips = 20000000;
constexpr uint64_t kBytesPerClip = 1024;
constexpr double kMaxClipSeconds = 600.0;
constexpr int kMaxThreads = 1024;
// Peak normalisation target: the largest 16-bit value, so a normalised peak never clips.
constexpr double kFullScale = 32767.0 / 32768.0;

// Portable draws (the standard distributions differ between library implementations).
double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * (1.0 / 9007199254740992.0); }
size_t pick(std::mt19937_64& rng, size_t n) { return size_t(rng() % n); }

struct BankEntry {
  std::unique_ptr<InstrumentBank> bank;
  std::string split;
};

// One instrument of the run: where it lives and its split.
struct RunInstrument {
  const InstrumentBank* bank;
  size_t index;
  Instrument info;
  std::string split;
};

struct Task {
  std::string kind;   // "single" or "multi"
  std::string split;
  size_t instrument = 0;  // single: index into run instruments
  int64_t number = 0;     // clip number within its instrument (single) or split (multi)
  std::string dir;        // relative output folder of the clip's files
  std::string stem;       // file stem (single) or "" (multi: files inside dir)
  std::string record() const { return kind == "single" ? dir + "/" + stem + ".json" : dir + "/record.json"; }
  std::string key() const { return dir + "/" + stem; }
};

class Renderer {
 public:
  explicit Renderer(const Json& c) : config_(c) {
    // Range-checked before narrowing: get<uint64_t>() of -1 would silently be 2^64-1.
    if (const Json& seed = c.at("seed"); !seed.is_number_unsigned() && !(seed.is_number_integer() && seed.get<int64_t>() >= 0))
      throw UsageError("seed must be an integer in 0..2^64-1, not " + seed.dump());
    seed_ = config_get<uint64_t>(c, "seed");
    out_ = config_get<std::string>(c, "output");
    if (out_.empty()) throw UsageError("config key 'output' (the dataset folder) is required");
    clip_samples_ = std::llround(config_get<double>(c, "clip_seconds") * kSampleRate);
    if (clip_samples_ <= 0) throw UsageError("clip_seconds must be > 0");
    clip_seconds_ = double(clip_samples_) / kSampleRate;
    single_clips_ = config_get<int64_t>(c, "single.clips_per_instrument");
    single_min_notes_ = config_get<int>(c, "single.min_notes");
    multi_count_["train"] = config_get<int64_t>(c, "multi.train");
    multi_count_["valid"] = config_get<int64_t>(c, "multi.valid");
    multi_min_tracks_ = config_get<int>(c, "multi.min_tracks");
    multi_max_tracks_ = config_get<int>(c, "multi.max_tracks");
    multi_min_notes_ = config_get<int>(c, "multi.min_notes");
    max_attempts_ = config_get<int>(c, "max_attempts");
    silence_peak_ = config_get<double>(c, "silence_peak");
    if (single_clips_ < 0 || multi_count_["train"] < 0 || multi_count_["valid"] < 0)
      throw UsageError("clip counts must be >= 0");
    if (multi_min_tracks_ < 1 || multi_max_tracks_ < multi_min_tracks_)
      throw UsageError("multi.min_tracks must be >= 1 and <= multi.max_tracks");
    if (max_attempts_ < 1) throw UsageError("max_attempts must be >= 1");
    // Clips are normalised by their peak: a zero threshold would let a silent clip through and
    // divide it by zero (NaN audio).
    if (!(silence_peak_ > 0.0)) throw UsageError("silence_peak must be > 0");
    twin_threshold_ = config_get<double>(c, "twins.threshold");
    if (!(twin_threshold_ >= 0.0 && twin_threshold_ <= 1.0))
      throw UsageError("twins.threshold must be in 0..1 (0 disables the twin analysis), not " +
                       c["twins"]["threshold"].dump());
    if (const double dedupe = config_get<double>(c, "dedupe_correlation");
        twin_threshold_ > 0.0 && dedupe > 0.0 && twin_threshold_ >= dedupe)
      spdlog::warn("twins.threshold {} is not below dedupe_correlation {}: pairs that similar are dropped as "
                   "duplicates first, so no twins can be found", twin_threshold_, dedupe);
    twin_policy_ = config_get<std::string>(c, "twins.policy");
    if (twin_policy_ != "keep" && twin_policy_ != "drop" && twin_policy_ != "group")
      throw UsageError("twins.policy must be keep, drop or group, not '" + twin_policy_ + "'");
    twins_ = {{"threshold", twin_threshold_}, {"policy", twin_policy_}, {"dropped", Json::array()}};
    for (const char* split : kSplits) twins_[split] = {{"pairs", Json::array()}, {"groups", Json::array()}};
    threads_ = config_get<int>(c, "threads");
    if (threads_ <= 0) threads_ = int(std::max(1u, std::thread::hardware_concurrency()));
    shard_index_ = config_get<int>(c, "shard.index");
    shard_count_ = config_get<int>(c, "shard.count");
    if (shard_count_ < 1 || shard_index_ < 0 || shard_index_ >= shard_count_)
      throw UsageError("shard must satisfy 0 <= index < count");
    if (threads_ > kMaxThreads)
      throw UsageError("threads must be at most " + std::to_string(kMaxThreads) + ", not " + std::to_string(threads_));
    if (clip_seconds_ > kMaxClipSeconds)
      throw UsageError("clip_seconds must be at most " + std::to_string(int(kMaxClipSeconds)) + " (a clip's audio is held " +
                       "in memory per stem and thread), not " + c["clip_seconds"].dump());
    open_banks();
    check_counts();
    load_midi();
    make_tasks();
  }

  Json run(bool manifests_only, bool adopt_inputs) {
    check_config_matches(adopt_inputs);
    remove_stale_temporaries();
    if (!manifests_only) render_tasks();
    return write_manifests();
  }

 private:
  void open_banks() {
    const Json& banks = config_["banks"];
    if (!banks.is_array() || banks.empty()) throw UsageError("config 'banks' must be a non-empty array");
    std::set<std::string> ids;
    for (const Json& b : banks) {
      static const Json bank_defaults = {{"type", "soundfont"}, {"path", ""}, {"split", "train"},
                                         {"programs", Json::array()}, {"sf_banks", Json::array()},
                                         {"families", Json::array()}};
      const Json e = merge_config(bank_defaults, b, "banks[]");
      BankFilter filter;
      filter.programs = e["programs"].get<std::vector<int>>();
      filter.banks = e["sf_banks"].get<std::vector<int>>();
      filter.families = e["families"].get<std::vector<std::string>>();
      for (const auto& f : filter.families)
        if (family_index(f) < 0) throw UsageError("banks[].families: unknown family '" + f + "'");
      const std::string split = e["split"].get<std::string>();
      if (split != "train" && split != "valid") throw UsageError("banks[].split must be train or valid, not '" + split + "'");
      BankEntry entry{open_bank(e["type"].get<std::string>(), e["path"].get<std::string>(), filter), split};
      const auto& list = entry.bank->instruments();
      // Like an empty MIDI corpus: a bank that yields nothing is a mistake (an empty examples.json,
      // a SoundFont filtered to nothing by programs / sf_banks / families).
      if (list.empty())
        throw UsageError("bank " + e["path"].get<std::string>() + " yields no instruments" +
                         (e["programs"].empty() && e["sf_banks"].empty() && e["families"].empty()
                              ? std::string()
                              : " with its programs / sf_banks / families filter"));
      for (size_t i = 0; i < list.size(); ++i) {
        if (!ids.insert(list[i].id).second)
          throw UsageError("instrument id '" + list[i].id + "' appears in two banks (same file listed twice?)");
        instruments_.push_back({entry.bank.get(), i, list[i], split});
      }
      spdlog::info("bank {} ({}, {}): {} instruments", e["path"].get<std::string>(), e["type"].get<std::string>(), split,
                   list.size());
      banks_.push_back(std::move(entry));
    }
    std::stable_sort(instruments_.begin(), instruments_.end(), [](const RunInstrument& a, const RunInstrument& b) {
      return a.split != b.split ? a.split == "train" : a.info.id < b.info.id;
    });
    drop_duplicates();
    for (size_t i = 0; i < instruments_.size(); ++i)
      by_family_[instruments_[i].split][instruments_[i].info.family].push_back(i);
    for (const char* split : kSplits)
      if (by_family_[split].empty() && multi_count_[split] > 0)
        throw UsageError(std::string("split '") + split + "' has no instruments (no bank of that split, or all " +
                         "dropped as duplicates or silent) but multi." + split + " asks for " +
                         std::to_string(multi_count_[split]) + " mixtures");
  }

  // A pair of instruments whose fingerprints are near copies: `earlier` < `later` in run order
  // (train before valid, then by id); `similarity` = sum over the fingerprint's three note windows of
  // |r_n|, r_n the largest-magnitude cross-correlation of the window over lags of at most
  // kDedupeMaxLag samples (`lags` where, in samples `later` is behind `earlier`; `signs` its sign).
  struct SimilarPair {
    size_t earlier, later;
    double similarity;
    std::vector<double> window_r;
    std::vector<int> lags;
  };
  static constexpr int kDedupeMaxLag = kSampleRate / 200;  // 5 ms
  // The fingerprint's windows, one per note (C3 at 0 s, C4 at 0.33 s, C5 at 0.66 s).
  static std::vector<std::pair<int64_t, int64_t>> dedupe_windows(int64_t n) {
    const int64_t a = n * 33 / 100, b = n * 66 / 100;
    return {{0, a}, {a, b}, {b, n}};
  }

  static void add_similarity(Json& j, const SimilarPair& p) {
    j["correlation"] = std::round(p.similarity * 1e4) / 1e4;
    Json r = Json::array(), lags = Json::array();
    for (double x : p.window_r) r.push_back(std::round(x * 1e4) / 1e4);
    for (int l : p.lags) lags.push_back(std::round(l * 1e4 / kSampleRate) / 10.0);
    j["note_correlations"] = r;
    j["lags_ms"] = lags;
  }

  // All pairs of instruments of one family (any splits) whose unit-norm fingerprints are the same
  // sound up to a small time offset or an inverted phase, note by note: similarity >= threshold
  // (see SimilarPair; at most 1 by Cauchy-Schwarz, 1 for identical prints). Each note is aligned on
  // its own, since one global lag cannot align notes of different pitch whose waveforms are offset
  // (FluidR3's and sf_GMbank's "Sine Wave": zero-lag correlation -0.2, best global lag 0.77).
  // Exact in double precision; only pairs whose windows' zero-padded magnitude spectra give a bound
  // of at least the threshold are searched (sum_n sum_k w_k |U_n(k)| |V_n(k)| >= sum_n |r_n| at
  // every lag). Used to drop duplicates; lists within-split pairs too.
  std::vector<SimilarPair> similar_pairs(const std::vector<std::vector<float>>& prints, double threshold,
                                         int max_lag) const {
    std::map<std::string, std::vector<size_t>> by_family;
    for (size_t i = 0; i < prints.size(); ++i)
      if (!prints[i].empty()) by_family[instruments_[i].info.family].push_back(i);
    std::vector<SimilarPair> pairs;
    for (const auto& [family, members] : by_family) {
      if (members.size() < 2) continue;
      const int64_t n = int64_t(prints[members[0]].size()), m = int64_t(members.size());
      auto x32 = torch::empty({m, n}, torch::kFloat32);
      for (size_t k = 0; k < members.size(); ++k)
        std::memcpy(x32.data_ptr<float>() + int64_t(k) * n, prints[members[k]].data(), size_t(n) * sizeof(float));
      const auto x = x32.to(torch::kFloat64);
      auto bound = torch::zeros({m, m}, torch::kFloat64);
      for (const auto& [w0, w1] : dedupe_windows(n)) {
        const int64_t nfft = 2 * (w1 - w0);
        auto w = torch::full({nfft / 2 + 1}, 2.0 / double(nfft), torch::kFloat64);
        w[0] = 1.0 / double(nfft);
        w[nfft / 2] = 1.0 / double(nfft);
        const auto a = torch::fft::rfft(x.narrow(1, w0, w1 - w0), nfft).abs() * w.sqrt();
        bound += torch::matmul(a, a.t());
      }
      bound = bound.contiguous();
      const double* bp = bound.data_ptr<double>();
      for (int64_t q = 1; q < m; ++q)
        for (int64_t p = 0; p < q; ++p) {
          if (bp[q * m + p] < threshold - 1e-6) continue;
          const std::vector<float>& u = prints[members[size_t(p)]];
          const std::vector<float>& v = prints[members[size_t(q)]];
          SimilarPair pair{members[size_t(p)], members[size_t(q)], 0.0, {}, {}};
          for (const auto& [w0, w1] : dedupe_windows(n)) {
            double best = 0.0;
            int best_lag = 0;
            for (int lag = -max_lag; lag <= max_lag; ++lag) {
              double r = 0.0;  // sum over the window of u[t] v[t + lag], both inside it
              for (int64_t t = std::max<int64_t>(w0, w0 - lag); t < std::min<int64_t>(w1, w1 - lag); ++t)
                r += double(u[size_t(t)]) * v[size_t(t + lag)];
              if (std::fabs(r) > std::fabs(best) + 1e-12) {
                best = r;
                best_lag = lag;
              }
            }
            pair.similarity += std::fabs(best);
            pair.window_r.push_back(best);
            pair.lags.push_back(best_lag);
          }
          if (pair.similarity >= threshold) pairs.push_back(std::move(pair));
        }
    }
    std::sort(pairs.begin(), pairs.end(), [](const SimilarPair& a, const SimilarPair& b) {
      return std::tie(a.later, a.earlier) < std::tie(b.later, b.earlier);
    });
    return pairs;
  }

  // SoundFont presets that share samples and settings (one file derived from another, or a bank
  // copied into another) sound the same: an instrument whose fingerprint (C3, C4, C5 at velocity
  // 100, 1 s) is similar (similar_pairs: note by note, lags within +-5 ms, either sign) at or above
  // `dedupe_correlation` to an earlier kept instrument of its family is dropped. Every
  // train/valid pair above the threshold is logged and listed in summary.json. Train instruments come first, so a valid duplicate of a train instrument is the one
  // dropped. Presets whose fingerprint is silent (e.g. ones that need an expression controller)
  // are dropped too. Then the twins among the instruments kept (see find_twins).
  void drop_duplicates() {
    const double threshold = config_get<double>(config_, "dedupe_correlation");
    const bool dedupe = threshold > 0.0, twins = twin_threshold_ > 0.0;
    if (!dedupe && !twins) return;
    const int64_t n = kSampleRate;
    std::vector<std::vector<float>> prints(instruments_.size());
    std::vector<char> silent(instruments_.size(), 0);
    parallel_for(instruments_.size(), threads_, [&](size_t i, int) {
      const RunInstrument& r = instruments_[i];
      if (r.info.source != "soundfont") return;
      std::vector<float> x(static_cast<size_t>(n));
      r.bank->render(r.index, {{0.0, 0.25, 48, 100}, {0.33, 0.58, 60, 100}, {0.66, 0.91, 72, 100}}, x.data(), n);
      double norm = 0.0, peak = 0.0;
      for (float v : x) {
        norm += double(v) * v;
        peak = std::max(peak, double(std::fabs(v)));
      }
      if (!(peak >= silence_peak_)) {
        silent[i] = 1;
        return;
      }
      const float scale = float(1.0 / std::sqrt(norm));
      for (float& v : x) v *= scale;
      prints[i] = std::move(x);
    });
    // Every similar pair, within and across splits, at the lower of the two thresholds (one search);
    // an instrument is dropped when it is similar at `dedupe_correlation` to an earlier one that is
    // kept (train instruments come first: the valid side of a leak goes).
    const double search = dedupe && twins ? std::min(threshold, twin_threshold_) : dedupe ? threshold : twin_threshold_;
    const auto pairs = similar_pairs(prints, search, kDedupeMaxLag);
    std::vector<std::vector<const SimilarPair*>> earlier(instruments_.size());
    if (dedupe)
      for (const SimilarPair& p : pairs)
        if (p.similarity >= threshold) earlier[p.later].push_back(&p);
    std::vector<size_t> kept;
    std::vector<char> is_kept(instruments_.size(), 0);
    for (const SimilarPair& p : pairs)
      if (twins && dedupe && p.similarity < threshold && instruments_[p.earlier].split != instruments_[p.later].split) {
        // Similar at the twin level across the splits: not dropped, but a near-leak worth knowing.
        Json pair = {{"train", instruments_[p.earlier].info.id}, {"valid", instruments_[p.later].info.id}};
        add_similarity(pair, p);
        near_cross_split_.push_back(pair);
      } else if (dedupe && p.similarity >= threshold && instruments_[p.earlier].split != instruments_[p.later].split) {
        Json pair = {{"train", instruments_[p.earlier].info.id}, {"valid", instruments_[p.later].info.id}};
        add_similarity(pair, p);
        cross_split_.push_back(pair);
        spdlog::warn("train/valid leak: {} (valid) sounds like {} (train): similarity {} (per note {} at {} ms)",
                     instruments_[p.later].info.id, instruments_[p.earlier].info.id, pair["correlation"].dump(),
                     pair["note_correlations"].dump(), pair["lags_ms"].dump());
      }
    for (size_t i = 0; i < instruments_.size(); ++i) {
      if (silent[i] && dedupe) {
        silent_.push_back(instruments_[i].info.id);
        continue;
      }
      const SimilarPair* same = nullptr;
      for (const SimilarPair* p : earlier[i])
        if (is_kept[p->earlier]) {
          same = p;
          break;
        }
      if (same) {
        Json d = {{"id", instruments_[i].info.id}, {"split", instruments_[i].split},
                  {"same_as", instruments_[same->earlier].info.id}};
        add_similarity(d, *same);
        duplicates_.push_back(d);
      } else {
        kept.push_back(i);
        is_kept[i] = 1;
      }
    }
    if (!silent_.empty())
      spdlog::info("dropped {} instruments that stay silent on C3, C4 and C5 (velocity 100)", silent_.size());
    if (!duplicates_.empty())
      spdlog::info("dropped {} near-duplicate instruments (fingerprint correlation >= {})", duplicates_.size(), threshold);
    if (twins) kept = find_twins(pairs, kept, is_kept);
    // Only pairs whose two sides are both in the dataset (neither dropped as a duplicate nor as a twin).
    std::set<std::string> final_ids;
    for (size_t i : kept) final_ids.insert(instruments_[i].info.id);
    Json near = Json::array();
    for (const Json& p : near_cross_split_)
      if (final_ids.count(p["train"].get<std::string>()) && final_ids.count(p["valid"].get<std::string>()))
        near.push_back(p);
    near_cross_split_ = std::move(near);
    if (!near_cross_split_.empty())
      spdlog::info("{} train/valid pairs in the dataset are similar at the twin level ({} <= similarity < {}): "
                   "summary.json train_valid_twins lists them",
                   near_cross_split_.size(), twin_threshold_, threshold);
    std::vector<RunInstrument> out;
    for (size_t i : kept) out.push_back(instruments_[i]);
    instruments_ = std::move(out);
  }

  // Twins: two instruments of one split, both kept by the duplicate check, whose fingerprints are
  // similar at or above twins.threshold (lower than dedupe_correlation: the same samples under other
  // envelopes, filters or tuning, which a listener, or an encoder, cannot tell apart). Every such
  // pair is listed per split in summary.json; a twin group is a connected component of these pairs,
  // named by its first member in run order (by id). Policy keep: nothing else changes; drop: only
  // the first member of each group stays; group: all stay and instruments.json gives each
  // instrument its group (`twin_group`, the first member's id; its own id when it has no twin).
  // Returns the instruments that stay, in run order.
  std::vector<size_t> find_twins(const std::vector<SimilarPair>& pairs, const std::vector<size_t>& kept,
                                 const std::vector<char>& is_kept) {
    std::vector<size_t> parent(instruments_.size());
    for (size_t i = 0; i < parent.size(); ++i) parent[i] = i;
    auto root = [&](size_t i) {
      while (parent[i] != i) i = parent[i] = parent[parent[i]];
      return i;
    };
    std::map<std::string, Json> listed;
    std::map<std::string, size_t> count;
    for (const char* split : kSplits) listed[split] = Json::array();
    for (const SimilarPair& p : pairs) {
      const RunInstrument &a = instruments_[p.earlier], &b = instruments_[p.later];
      if (p.similarity < twin_threshold_ || a.split != b.split || !is_kept[p.earlier] || !is_kept[p.later]) continue;
      Json pair = {{"first", a.info.id}, {"second", b.info.id}};
      add_similarity(pair, p);
      spdlog::debug("{} twins: {} and {}: similarity {}", a.split, a.info.id, b.info.id, pair["correlation"].dump());
      listed[a.split].push_back(pair);
      ++count[a.split];
      const size_t ra = root(p.earlier), rb = root(p.later);
      if (ra != rb) parent[std::max(ra, rb)] = std::min(ra, rb);  // the root is the group's first member
    }
    std::map<size_t, std::vector<size_t>> members;  // group root -> members, in run order
    for (size_t i : kept) members[root(i)].push_back(i);
    std::vector<size_t> stay;
    Json dropped = Json::array();
    std::map<std::string, Json> groups;
    for (const char* split : kSplits) groups[split] = Json::array();
    for (size_t i : kept) {
      const size_t r = root(i);
      if (members[r].size() > 1 && i == r) {
        Json ids = Json::array();
        for (size_t k : members[r]) ids.push_back(instruments_[k].info.id);
        groups[instruments_[i].split].push_back(ids);
      }
      if (twin_policy_ == "drop" && i != r) {
        dropped.push_back({{"id", instruments_[i].info.id}, {"split", instruments_[i].split},
                           {"twin_of", instruments_[r].info.id}});
        continue;
      }
      if (twin_policy_ == "group") twin_group_[instruments_[i].info.id] = instruments_[r].info.id;
      stay.push_back(i);
    }
    twins_ = {{"threshold", twin_threshold_}, {"policy", twin_policy_}, {"dropped", dropped}};
    for (const char* split : kSplits) {
      twins_[split] = {{"pairs", listed[split]}, {"groups", groups[split]}};
      spdlog::info("{}: {} twin pairs (fingerprint similarity >= {} within the split) in {} groups", split,
                   count[split], twin_threshold_, groups[split].size());
    }
    if (twin_policy_ == "drop" && !dropped.empty())
      spdlog::info("twins.policy drop: dropped {} instruments, kept the first of each twin group", dropped.size());
    return stay;
  }

  void load_midi() {
    const Json& sources = config_["midi"]["sources"];
    if (!sources.is_array()) throw UsageError("midi.sources must be an array of paths or globs");
    std::vector<std::string> list;
    for (const Json& src : sources) {
      if (!src.is_string()) throw UsageError("midi.sources: every entry must be a path or glob string");
      list.push_back(src.get<std::string>());
    }
    corpus_ = load_midi_corpus(list, config_get<double>(config_, "midi.valid_fraction"), threads_);
    melodic_.resize(corpus_.files.size());
    std::map<std::string, int> per_split;
    for (size_t index = 0; index < corpus_.files.size(); ++index) {
      const CorpusFile& f = corpus_.files[index];
      ++per_split[f.split];
      for (size_t t = 0; t < f.midi.tracks.size(); ++t) {
        const MidiTrack& tr = f.midi.tracks[t];
        if (tr.is_drum || gm_program_family(tr.program) < 0 || tr.notes.empty()) continue;
        melodic_[index].push_back(t);
        if (int(tr.notes.size()) >= single_min_notes_)
          family_tracks_[f.split][family_names()[size_t(gm_program_family(tr.program))]].emplace_back(index, t);
      }
      if (int(melodic_[index].size()) >= multi_min_tracks_) multi_files_[f.split].push_back(index);
    }
    spdlog::info("MIDI: {} files ({} train, {} valid), {} unreadable, {} duplicates", corpus_.files.size(),
                 per_split["train"], per_split["valid"], corpus_.unreadable, corpus_.duplicates);
    if (corpus_.files.empty()) throw UsageError("no readable MIDI file in midi.sources");
  }

  // The task list holds every clip of the dataset (and the manifests a row per clip): a count of
  // 2^32 would take the machine's memory before the first clip is rendered. Counts are bounded by
  // what a dataset can need (20 times the paper's Nlakh) and by the memory they would take, before
  // anything is allocated for them.
  void check_counts() const {
    for (const auto& [name, n] : {std::pair<const char*, int64_t>{"single.clips_per_instrument", single_clips_},
                                  {"multi.train", multi_count_.at("train")},
                                  {"multi.valid", multi_count_.at("valid")}})
      if (n > kMaxClips)
        throw UsageError(std::string(name) + " is " + std::to_string(n) + ", more than the " +
                         std::to_string(kMaxClips) + " clips a dataset may hold");
    const uint64_t singles = uint64_t(instruments_.size()) * uint64_t(single_clips_);  // < 2^63: both bounded
    const uint64_t total = singles + uint64_t(multi_count_.at("train")) + uint64_t(multi_count_.at("valid"));
    if (total > uint64_t(kMaxClips))
      throw UsageError("the config asks for " + std::to_string(total) + " clips (" + std::to_string(instruments_.size()) +
                       " instruments x " + std::to_string(single_clips_) + " single clips, " +
                       std::to_string(multi_count_.at("train")) + " + " + std::to_string(multi_count_.at("valid")) +
                       " mixtures), more than the " + std::to_string(kMaxClips) + " a dataset may hold");
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGE_SIZE);
    const uint64_t memory = pages > 0 && page > 0 ? uint64_t(pages) * uint64_t(page) : 0;
    if (memory > 0 && total * kBytesPerClip > memory / 2)
      throw UsageError("the config asks for " + std::to_string(total) + " clips: planning them takes about " +
                       std::to_string(total * kBytesPerClip >> 20) + " MiB, more than half of this machine's " +
                       std::to_string(memory >> 20) + " MiB; render fewer clips");
  }

  void make_tasks() {
    tasks_.reserve(size_t(instruments_.size() * size_t(single_clips_) + size_t(multi_count_["train"]) +
                          size_t(multi_count_["valid"])));
    char buf[32];
    for (size_t i = 0; i < instruments_.size(); ++i) {
      for (int64_t k = 0; k < single_clips_; ++k) {
        std::snprintf(buf, sizeof buf, "%04lld", static_cast<long long>(k));
        tasks_.push_back({"single", instruments_[i].split, i, k, "single/" + instruments_[i].split + "/" + instruments_[i].info.id, buf});
      }
    }
    for (const char* split : kSplits) {
      for (int64_t j = 0; j < multi_count_[split]; ++j) {
        std::snprintf(buf, sizeof buf, "%06lld", static_cast<long long>(j));
        tasks_.push_back({"multi", split, 0, j, std::string("multi/") + split + "/" + buf, ""});
      }
    }
  }

  // Notes of `track` with onsets in [start, start + clip), relative to start, that `inst` can play.
  std::vector<Note> window(const MidiTrack& track, double start, const RunInstrument& inst) const {
    std::vector<Note> notes;
    const double end = start + clip_seconds_;
    auto it = std::lower_bound(track.notes.begin(), track.notes.end(), start,
                               [](const MidiNote& n, double t) { return n.start < t; });
    for (; it != track.notes.end() && it->start < end; ++it) {
      if (!inst.bank->has_pitch(inst.index, it->pitch)) continue;
      notes.push_back({it->start - start, std::min(it->end, end) - start, it->pitch, it->velocity});
    }
    return notes;
  }

  // An excerpt start near a random note of `track`: the note starts within the first half.
  double draw_start(const MidiTrack& track, std::mt19937_64& rng) const {
    const MidiNote& n = track.notes[pick(rng, track.notes.size())];
    const double start = std::max(0.0, n.start - uniform01(rng) * clip_seconds_ * 0.5);
    return std::round(start * 1000.0) / 1000.0;  // whole milliseconds, exact in the manifests
  }

  // Peak |x|, or -1 when a sample is not finite.
  static double peak_of(const std::vector<float>& x) {
    double peak = 0.0;
    for (float v : x) {
      if (!std::isfinite(v)) return -1.0;
      peak = std::max(peak, double(std::fabs(v)));
    }
    return peak;
  }

  Json render_single(const Task& task, std::mt19937_64& rng) const {
    const RunInstrument& inst = instruments_[task.instrument];
    const auto split_it = family_tracks_.find(task.split);
    const std::vector<std::pair<size_t, size_t>>* tracks = nullptr;
    if (split_it != family_tracks_.end()) {
      auto f = split_it->second.find(inst.info.family);
      if (f != split_it->second.end()) tracks = &f->second;
    }
    if (!tracks) return Json{{"failed", "no " + task.split + " MIDI track of family " + inst.info.family}};
    std::vector<float> audio(static_cast<size_t>(clip_samples_));
    for (int attempt = 1; attempt <= max_attempts_; ++attempt) {
      const auto [file, t] = (*tracks)[pick(rng, tracks->size())];
      const MidiTrack& track = corpus_.files[file].midi.tracks[t];
      const double start = draw_start(track, rng);
      const std::vector<Note> notes = window(track, start, inst);
      if (int(notes.size()) < single_min_notes_) continue;
      inst.bank->render(inst.index, notes, audio.data(), clip_samples_);
      const double peak = peak_of(audio);
      if (!(peak >= silence_peak_)) continue;
      const float scale = float(kFullScale / peak);
      for (float& v : audio) v *= scale;
      const std::string path = task.dir + "/" + task.stem + ".wav";
      write_wav16(fs::path(out_) / path, audio);
      return Json{{"path", path},          {"instrument", inst.info.id}, {"family", inst.info.family},
                  {"midi", corpus_.files[file].path}, {"track", t},             {"program", track.program},
                  {"start", start},        {"notes", notes.size()},     {"attempts", attempt}};
    }
    return Json{{"failed", "no valid excerpt in " + std::to_string(max_attempts_) + " attempts"}};
  }

  Json render_multi(const Task& task, std::mt19937_64& rng) const {
    const auto files_it = multi_files_.find(task.split);
    if (files_it == multi_files_.end() || files_it->second.empty())
      return Json{{"failed", "no " + task.split + " MIDI file with enough melodic tracks"}};
    const auto& files = files_it->second;
    const auto fam_it = by_family_.find(task.split);
    if (fam_it == by_family_.end()) return Json{{"failed", "no " + task.split + " instruments"}};
    for (int attempt = 1; attempt <= max_attempts_; ++attempt) {
      const size_t file = files[pick(rng, files.size())];
      const CorpusFile& entry = corpus_.files[file];
      const std::vector<size_t>& melodic = melodic_[file];
      const double start = draw_start(entry.midi.tracks[melodic[pick(rng, melodic.size())]], rng);
      std::vector<size_t> active;
      for (size_t t : melodic) {
        const auto& notes = entry.midi.tracks[t].notes;
        auto lo = std::lower_bound(notes.begin(), notes.end(), start, [](const MidiNote& n, double x) { return n.start < x; });
        auto hi = std::lower_bound(notes.begin(), notes.end(), start + clip_seconds_,
                                   [](const MidiNote& n, double x) { return n.start < x; });
        if (hi - lo >= multi_min_notes_) active.push_back(t);
      }
      if (int(active.size()) < multi_min_tracks_) continue;
      for (size_t i = active.size(); i > 1; --i) std::swap(active[i - 1], active[pick(rng, i)]);
      if (int(active.size()) > multi_max_tracks_) active.resize(size_t(multi_max_tracks_));
      std::sort(active.begin(), active.end());
      struct Stem {
        size_t track;
        size_t instrument;
        size_t notes;
        std::vector<float> audio;
      };
      std::vector<Stem> stems;
      for (size_t t : active) {
        const MidiTrack& track = entry.midi.tracks[t];
        const std::string family = family_names()[size_t(gm_program_family(track.program))];
        auto f = fam_it->second.find(family);
        if (f == fam_it->second.end()) continue;
        const size_t inst = f->second[pick(rng, f->second.size())];
        const std::vector<Note> notes = window(track, start, instruments_[inst]);
        if (int(notes.size()) < multi_min_notes_) continue;
        Stem stem{t, inst, notes.size(), std::vector<float>(size_t(clip_samples_))};
        instruments_[inst].bank->render(instruments_[inst].index, notes, stem.audio.data(), clip_samples_);
        const double peak = peak_of(stem.audio);
        if (!(peak >= silence_peak_)) continue;
        stems.push_back(std::move(stem));
      }
      if (int(stems.size()) < multi_min_tracks_) continue;
      std::vector<float> mix(size_t(clip_samples_), 0.0f);
      for (const Stem& s : stems)
        for (size_t i = 0; i < mix.size(); ++i) mix[i] += s.audio[i];
      const double mix_peak = peak_of(mix);
      if (!(mix_peak >= silence_peak_)) continue;
      // mix = sum of stems / peak, and the stems are scaled by the same factor so that they still
      // sum to the mix (up to 16-bit quantisation). The peak is that of the mix, or of a stem when
      // stems partly cancel and one is louder than the mix, so that no file clips.
      double peak = mix_peak;
      for (const Stem& s : stems) peak = std::max(peak, peak_of(s.audio));
      const float scale = float(kFullScale / peak);
      for (float& v : mix) v *= scale;
      Json stem_records = Json::array();
      for (size_t k = 0; k < stems.size(); ++k) {
        for (float& v : stems[k].audio) v *= scale;
        const std::string path = task.dir + "/stem_" + std::to_string(k) + ".wav";
        write_wav16(fs::path(out_) / path, stems[k].audio);
        const RunInstrument& inst = instruments_[stems[k].instrument];
        stem_records.push_back({{"path", path},
                                {"instrument", inst.info.id},
                                {"family", inst.info.family},
                                {"track", stems[k].track},
                                {"program", entry.midi.tracks[stems[k].track].program},
                                {"notes", stems[k].notes}});
      }
      const std::string path = task.dir + "/mix.wav";
      write_wav16(fs::path(out_) / path, mix);
      return Json{{"path", path}, {"midi", entry.path}, {"start", start}, {"stems", stem_records}, {"attempts", attempt}};
    }
    return Json{{"failed", "no valid section in " + std::to_string(max_attempts_) + " attempts"}};
  }

  void render_tasks() {
    std::vector<size_t> todo;
    size_t skipped = 0, redone = 0;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (int(i % size_t(shard_count_)) != shard_index_) continue;
      const fs::path record = fs::path(out_) / tasks_[i].record();
      if (record_complete(record)) {
        ++skipped;
      } else {
        if (fs::exists(record)) ++redone;
        todo.push_back(i);
      }
    }
    if (skipped) spdlog::info("resuming: {} clips of this shard already done", skipped);
    if (redone) spdlog::warn("{} finished clips have missing or short audio files: rendering them again", redone);
    Progress progress("render-nlakh", int64_t(todo.size()));
    parallel_for(
        todo.size(), threads_,
        [&](size_t k, int) {
          const Task& task = tasks_[todo[k]];
          std::mt19937_64 rng(derive_seed(seed_, task.key()));
          const Json record = task.kind == "single" ? render_single(task, rng) : render_multi(task, rng);
          if (record.contains("failed")) spdlog::warn("{}: {}", task.key(), record["failed"].get<std::string>());
          // The record is written last: its presence marks the clip as finished.
          write_file_atomically(fs::path(out_) / task.record(), record.dump() + "\n");
        },
        &progress);
    progress.finish();
  }

  // Bytes of a clip's WAV file: a 44-byte header and 16-bit mono samples.
  uintmax_t clip_file_bytes() const { return 44 + 2 * uintmax_t(clip_samples_); }

  // A record counts as finished only when it parses and every audio file it lists is there, a
  // regular file of a clip's size (a deleted or half-copied WAV makes it unfinished). A failed
  // record lists no files. The parsed record goes to `out`.
  bool record_complete(const fs::path& record_path, Json* out = nullptr) const {
    std::error_code ec;
    if (!fs::is_regular_file(record_path, ec)) return false;
    try {
      Json record = read_json_file(record_path);
      if (!record.contains("failed")) {
        std::vector<std::string> files{record.at("path").get<std::string>()};
        if (record.contains("stems"))
          for (const Json& stem : record["stems"]) files.push_back(stem.at("path").get<std::string>());
        for (const std::string& f : files) {
          const fs::path p = fs::path(out_) / f;
          if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) != clip_file_bytes() || ec) return false;
        }
      }
      if (out) *out = std::move(record);
      return true;
    } catch (const std::exception&) {
      return false;  // unreadable or malformed record: render the clip again
    }
  }

  // Temporary files of runs that were killed between writing and renaming them are removed; those
  // of a live process (a concurrent shard writing into the same folder) are kept.
  void remove_stale_temporaries() const {
    if (const size_t removed = instret::remove_stale_temporaries(out_))
      spdlog::info("removed {} temporary files left by killed runs", removed);
  }

  // The config as saved with the dataset: what determines the output bytes.
  Json saved_config() const {
    Json saved = config_;
    saved.erase("shard");
    saved.erase("threads");
    saved.erase("output");
    return saved;
  }

  // FNV-1a and size of a file, read in blocks ("<hash>:<bytes>").
  static std::string file_fingerprint(const fs::path& path) {
    RegularFile in(path);  // a FIFO or device is refused, not read forever
    uint64_t h = 1469598103934665603ull, n = 0;
    std::vector<char> buf(1 << 20);
    for (size_t got = buf.size(); got == buf.size();) {
      got = in.read(buf.data(), buf.size());
      for (size_t i = 0; i < got; ++i) {
        h ^= static_cast<unsigned char>(buf[i]);
        h *= 1099511628211ull;
      }
      n += got;
    }
    return std::to_string(h) + ":" + std::to_string(n);
  }

  // What the output depends on besides the config: each MIDI file of the corpus (path and content
  // hash) and each bank (a SoundFont's content hash; an NSynth folder's examples.json hash and the
  // names and sizes of its WAV files).
  Json inputs_fingerprint() const {
    Json midi = Json::array();
    for (const CorpusFile& f : corpus_.files) midi.push_back({f.path, f.fingerprint});
    Json banks = Json::array();
    for (const Json& b : config_["banks"]) {
      const fs::path path = b.value("path", "");
      std::error_code ec;
      if (fs::is_directory(path, ec)) {
        Json wavs = Json::object();
        for (fs::directory_iterator it(path / "audio", ec), end; !ec && it != end; it.increment(ec))
          if (it->is_regular_file(ec)) wavs[it->path().filename().string()] = uint64_t(it->file_size(ec));
        banks.push_back({{"path", path.string()}, {"examples.json", file_fingerprint(path / "examples.json")},
                         {"audio", wavs}});
      } else {
        banks.push_back({{"path", path.string()}, {"content", file_fingerprint(path)}});
      }
    }
    return Json{{"midi", midi}, {"banks", banks}};
  }

  // Whether the folder holds anything rendered: a file under single/ or multi/.
  bool holds_clips() const {
    for (const char* sub : {"single", "multi"}) {
      std::error_code ec;
      for (fs::recursive_directory_iterator it(fs::path(out_) / sub, ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) return true;
    }
    return false;
  }

  // Finished clips are reused on resume, so a folder must never mix two configs or two sets of
  // inputs: a folder that holds another config's dataset, or one rendered from other MIDI files or
  // banks (a file added, removed or changed between two shards), is refused; a new one gets
  // config.json and inputs.json before any clip. A folder with clips but without config.json or
  // inputs.json (deleted, or from before inputs.json existed) cannot be checked: refused, unless
  // `adopt_inputs` (--adopt-inputs) says that the current config and inputs are those it was
  // rendered from.
  void check_config_matches(bool adopt_inputs) const {
    const fs::path path = fs::path(out_) / "config.json";
    const fs::path inputs_path = fs::path(out_) / "inputs.json";
    const Json inputs = inputs_fingerprint();
    if ((!fs::exists(path) || !fs::exists(inputs_path)) && holds_clips()) {
      const std::string missing = fs::exists(path) ? "inputs.json" : "config.json";
      if (!adopt_inputs)
        throw UsageError(out_ + " holds rendered clips but no " + missing +
                         ": the config and inputs they were rendered from cannot be checked; render into a new "
                         "folder, or pass --adopt-inputs if the current ones are those");
      spdlog::warn("{} holds rendered clips but no {}: taking the current config and inputs as theirs (--adopt-inputs)",
                   out_, missing);
    }
    if (fs::exists(path)) {
      // A dataset rendered before the twin analysis existed has no "twins" key: with policy keep the
      // twins change nothing but the summary, so its clips stay valid.
      Json now = saved_config();
      Json stored = read_json_file(path);
      if (stored.is_object() && !stored.contains("twins") && twin_policy_ == "keep") now.erase("twins");
      if (stored != now)
        throw UsageError(out_ + " holds a dataset rendered with another config (see its config.json); "
                         "choose another output folder or delete it");
      if (fs::exists(inputs_path)) {
        const Json stored = read_json_file(inputs_path);
        if (stored != inputs) {
          std::set<std::string> before, now;
          for (const Json& m : stored.value("midi", Json::array())) before.insert(m.dump());
          for (const Json& m : inputs["midi"]) now.insert(m.dump());
          size_t gone = 0, added = 0;
          for (const auto& m : before) gone += now.count(m) == 0;
          for (const auto& m : now) added += before.count(m) == 0;
          throw UsageError(out_ + " holds a dataset rendered from other inputs (see its inputs.json): " +
                           std::to_string(added) + " MIDI files added or changed, " + std::to_string(gone) +
                           " removed or changed" + (stored.value("banks", Json()) != inputs["banks"] ? ", banks changed" : "") +
                           "; restore them, or render into another folder");
        }
        return;
      }
    } else {
      write_json_file(path, saved_config());
    }
    write_json_file(inputs_path, inputs);
  }

  Json write_manifests() const {
    Json instruments = Json::array();
    for (const RunInstrument& r : instruments_) {
      Json j = instrument_to_json(r.info);
      j["split"] = r.split;
      if (twin_policy_ == "group") {
        const auto g = twin_group_.find(r.info.id);
        j["twin_group"] = g == twin_group_.end() ? r.info.id : g->second;
      }
      instruments.push_back(j);
    }
    write_json_file(fs::path(out_) / "instruments.json", instruments);
    std::map<std::string, std::string> manifests;
    Json summary = {{"seed", seed_}, {"clip_samples", clip_samples_}, {"sample_rate", kSampleRate}};
    std::map<std::string, int> midi_per_split;
    for (const CorpusFile& f : corpus_.files) ++midi_per_split[f.split];
    summary["duplicates_dropped"] = duplicates_;
    summary["train_valid_similar"] = cross_split_;
    summary["train_valid_twins"] = near_cross_split_;
    summary["silent_dropped"] = silent_;
    summary["twins"] = twins_;
    summary["midi_files"] = {{"train", midi_per_split["train"]}, {"valid", midi_per_split["valid"]},
                             {"unreadable", corpus_.unreadable}, {"duplicates", corpus_.duplicates}};
    for (const char* split : kSplits) {
      Json s = {{"instruments", 0}, {"single_clips", 0}, {"single_failed", 0}, {"multi_mixtures", 0},
                {"multi_failed", 0}, {"missing", 0}, {"families", Json::object()}};
      for (const std::string& f : family_names())
        s["families"][f] = {{"instruments", 0}, {"single_clips", 0}, {"multi_stems", 0}};
      for (const RunInstrument& r : instruments_)
        if (r.split == split) {
          s["instruments"] = s["instruments"].get<int>() + 1;
          auto& n = s["families"][r.info.family]["instruments"];
          n = n.get<int>() + 1;
        }
      summary["splits"][split] = s;
    }
    int64_t missing = 0;
    for (const Task& task : tasks_) {
      const fs::path record_path = fs::path(out_) / task.record();
      Json& s = summary["splits"][task.split];
      auto bump = [](Json& v) { v = v.get<int64_t>() + 1; };
      Json record;
      if (!record_complete(record_path, &record)) {  // never list a file that is not there
        bump(s["missing"]);
        ++missing;
        continue;
      }
      if (record.contains("failed")) {
        bump(s[task.kind == "single" ? "single_failed" : "multi_failed"]);
        continue;
      }
      record.erase("attempts");
      if (task.kind == "single") {
        bump(s["single_clips"]);
        bump(s["families"][record["family"].get<std::string>()]["single_clips"]);
      } else {
        bump(s["multi_mixtures"]);
        for (const Json& stem : record["stems"]) bump(s["families"][stem["family"].get<std::string>()]["multi_stems"]);
      }
      manifests[task.kind + "_" + task.split] += record.dump() + "\n";
    }
    for (const char* kind : {"single", "multi"})
      for (const char* split : kSplits) {
        const std::string name = std::string(kind) + "_" + split;
        write_file_atomically(fs::path(out_) / (name + ".jsonl"), manifests[name]);
      }
    if (missing)
      spdlog::warn("{} clips are not rendered yet (other shards?) or have missing audio files: the manifests list "
                   "the finished ones", missing);
    write_json_file(fs::path(out_) / "config.json", saved_config());
    write_json_file(fs::path(out_) / "summary.json", summary);
    return summary;
  }

  Json config_;
  uint64_t seed_ = 0;
  std::string out_;
  int64_t clip_samples_ = 0;
  double clip_seconds_ = 0.0;
  int64_t single_clips_ = 0;
  int single_min_notes_ = 0;
  std::map<std::string, int64_t> multi_count_;
  int multi_min_tracks_ = 2, multi_max_tracks_ = 9, multi_min_notes_ = 3;
  int max_attempts_ = 50;
  double silence_peak_ = 1e-3;
  int threads_ = 1;
  int shard_index_ = 0, shard_count_ = 1;
  std::vector<BankEntry> banks_;
  std::vector<RunInstrument> instruments_;
  Json duplicates_ = Json::array();
  Json cross_split_ = Json::array();  // every train/valid pair of similar instruments
  Json near_cross_split_ = Json::array();  // train/valid pairs in [twins.threshold, dedupe_correlation)
  Json silent_ = Json::array();
  double twin_threshold_ = 0.0;
  std::string twin_policy_ = "keep";
  Json twins_;                                      // summary.json "twins"
  std::map<std::string, std::string> twin_group_;  // policy group: instrument id -> its group's first member
  std::map<std::string, std::map<std::string, std::vector<size_t>>> by_family_;  // split -> family -> instruments
  MidiCorpus corpus_;
  std::vector<std::vector<size_t>> melodic_;  // per corpus file: tracks with a family
  std::map<std::string, std::map<std::string, std::vector<std::pair<size_t, size_t>>>> family_tracks_;
  std::map<std::string, std::vector<size_t>> multi_files_;
  std::vector<Task> tasks_;
};

}  // namespace

uint64_t derive_seed(uint64_t seed, const std::string& key) { return splitmix64(splitmix64(seed) ^ fnv1a(key)); }

Json nlakh_default_config() {
  return Json{
      {"seed", 0},
      {"output", ""},
      {"threads", 0},
      {"shard", {{"index", 0}, {"count", 1}}},
      {"clip_seconds", 5.0},
      {"single", {{"clips_per_instrument", 10}, {"min_notes", 4}}},
      {"multi", {{"train", 100}, {"valid", 10}, {"min_tracks", 2}, {"max_tracks", 9}, {"min_notes", 3}}},
      {"banks", Json::array()},
      {"midi", {{"sources", Json::array()}, {"valid_fraction", 0.1}}},
      {"max_attempts", 50},
      {"silence_peak", 1e-3},
      {"dedupe_correlation", 0.98},
      {"twins", {{"threshold", 0.95}, {"policy", "keep"}}},
  };
}

Json render_nlakh(const Json& config, bool manifests_only, bool adopt_inputs) {
  Renderer renderer(config);
  return renderer.run(manifests_only, adopt_inputs);
}

}  // namespace instret
