#include "instret/render/nlakh.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <random>
#include <set>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/core/hash.h"
#include "instret/core/log.h"
#include "instret/core/parallel.h"
#include "instret/core/temp_files.h"
#include "instret/midi/family.h"
#include "instret/midi/smf.h"
#include "instret/render/fingerprint_similarity.h"
#include "instret/render/instrument_bank.h"
#include "instret/render/instrument_dedupe.h"
#include "instret/render/instrument_variants.h"
#include "instret/render/midi_corpus.h"
#include "instret/render/midi_excerpts.h"
#include "instret/render/nlakh_manifests.h"
#include "instret/render/nlakh_resume.h"
#include "instret/render/nlakh_tasks.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

// Peak normalisation target: the largest 16-bit value, so a normalised peak never clips.
constexpr double kFullScale = 32767.0 / 32768.0;

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

class Renderer {
 public:
  explicit Renderer(const Json& c) : config_(c), set_(NlakhSettings::from_json(c)), out_(set_.output) {
    twins_ = {{"threshold", set_.twin_threshold}, {"policy", set_.twin_policy}, {"dropped", Json::array()}};
    for (const char* split : kNlakhSplits) twins_[split] = {{"pairs", Json::array()}, {"groups", Json::array()}};
    // Range-checked before narrowing: get<uint64_t>() of -1 would silently be 2^64-1.
    load_midi();  // first: a split without MIDI files is refused before any fingerprint is rendered
    open_banks();
    check_clip_counts(instruments_.size(), set_.single_clips, set_.multi);
    std::vector<std::string> ids, splits;
    for (const RunInstrument& r : instruments_) {
      ids.push_back(r.info.id);
      splits.push_back(r.split);
    }
    tasks_ = make_clip_tasks(ids, splits, set_.single_clips, set_.multi);
  }

  Json run(bool manifests_only, bool adopt_inputs) {
    check_dataset_folder(out_, saved_nlakh_config(config_), inputs_fingerprint(corpus_, config_["banks"]),
                         set_.twin_policy, adopt_inputs);
    // Temporary files of runs that were killed between writing and renaming them are removed; those
    // of a live process (a concurrent shard writing into the same folder) are kept.
    if (const size_t removed = remove_stale_temporaries(out_))
      spdlog::info("removed {} temporary files left by killed runs", removed);
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
                                         {"families", Json::array()}, {"variants", nullptr}};
      const Json e = merge_config(bank_defaults, b, "banks[]");
      BankFilter filter;
      filter.programs = e["programs"].get<std::vector<int>>();
      filter.banks = e["sf_banks"].get<std::vector<int>>();
      filter.families = e["families"].get<std::vector<std::string>>();
      for (const auto& f : filter.families)
        if (family_index(f) < 0) throw UsageError("banks[].families: unknown family '" + f + "'");
      const std::string split = e["split"].get<std::string>();
      if (nlakh_split_rank(split) < 0)
        throw UsageError("banks[].split must be train, valid or test, not '" + split + "'");
      // Variants are training data only: one in valid or test would be a near-copy of another
      // instrument there (its preset), which retrieval cannot tell apart.
      const VariantSpec variants = VariantSpec::from_json(e["variants"]);
      if (variants.count > 0 && split != "train")
        throw UsageError("banks[].variants: only train banks may have variants, not a " + split + " bank (" +
                         e["path"].get<std::string>() + ")");
      BankEntry entry{open_bank(e["type"].get<std::string>(), e["path"].get<std::string>(), filter, &variants), split};
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
      spdlog::info("bank {} ({}, {}): {} instruments{}", e["path"].get<std::string>(), e["type"].get<std::string>(), split,
                   list.size(),
                   variants.count > 0 ? fmt::format(" ({} presets with {} variants each)", list.size() / size_t(variants.count + 1),
                                                    variants.count)
                                      : std::string());
      banks_.push_back(std::move(entry));
    }
    // A split's clips take MIDI of that split only: instruments without one could render nothing.
    for (const char* split : kNlakhSplits) {
      const bool listed = std::any_of(instruments_.begin(), instruments_.end(),
                                      [&](const RunInstrument& r) { return r.split == split; });
      const bool wanted = set_.multi.of(split) > 0 || (set_.single_clips > 0 && listed);
      if (wanted && midi_per_split_[split] == 0)
        throw UsageError(std::string("split '") + split + "' has instruments or mixtures to render but no MIDI file (midi." +
                         split + "_fraction " + (std::string(split) == "train" ? "leaves none" : "is 0 or too small") +
                         " for " + std::to_string(corpus_.files.size()) + " files)");
    }
    std::stable_sort(instruments_.begin(), instruments_.end(), [](const RunInstrument& a, const RunInstrument& b) {
      return a.split != b.split ? nlakh_split_rank(a.split) < nlakh_split_rank(b.split) : a.info.id < b.info.id;
    });
    drop_sample_leaks();
    drop_duplicates();
    for (size_t i = 0; i < instruments_.size(); ++i)
      by_family_[instruments_[i].split][instruments_[i].info.family].push_back(i);
    for (const char* split : kNlakhSplits)
      if (by_family_[split].empty() && set_.multi.of(split) > 0)
        throw UsageError(std::string("split '") + split + "' has no instruments (no bank of that split, or all " +
                         "dropped as duplicates or silent) but multi." + split + " asks for " +
                         std::to_string(set_.multi.of(split)) + " mixtures");
  }

  // An instrument that plays a sample (by name, soundfont_samples.h) that an instrument of an
  // earlier split plays would let the later split's retrieval be learned from the earlier split's
  // audio: with sample_leaks drop it is dropped (the test side of a train/test pair, the valid side
  // of a train/valid pair), with keep only listed; summary.json "sample_leaks" lists the pairs
  // (sample_leaks() in instrument_dedupe.h says which).
  void drop_sample_leaks() {
    std::vector<std::string> split;
    std::vector<std::vector<std::string>> samples;
    std::set<const InstrumentBank*> unreadable;
    for (const RunInstrument& r : instruments_) {
      split.push_back(r.split);
      try {
        samples.push_back(unreadable.count(r.bank) ? std::vector<std::string>{} : r.bank->sample_names(r.index));
      } catch (const FormatError& e) {
        // FluidSynth plays the file, so it stays; only its samples cannot be compared.
        spdlog::warn("cannot read sample names, its instruments are not checked for shared samples: {}", e.what());
        unreadable.insert(r.bank);
        samples.emplace_back();
      }
    }
    const bool drop = set_.sample_leaks == "drop";
    const std::vector<SampleLeak> leaks = sample_leaks(split, samples, drop);
    Json pairs = Json::array();
    std::set<size_t> dropped;
    for (const SampleLeak& l : leaks) {
      const RunInstrument &a = instruments_[l.earlier], &b = instruments_[l.later];
      pairs.push_back({{a.split, a.info.id}, {b.split, b.info.id}, {"samples", l.samples}});
      spdlog::debug("{} ({}) plays samples of {} ({}): {}", b.info.id, b.split, a.info.id, a.split, Json(l.samples).dump());
      if (drop) dropped.insert(l.later);
    }
    sample_leaks_ = {{"policy", set_.sample_leaks}, {"pairs", pairs}, {"dropped", dropped.size()}};
    if (!leaks.empty())
      spdlog::info("{} instruments play samples that an earlier split's instruments play{} (summary.json sample_leaks)",
                   leaks.size(), drop ? ": dropped" : ": kept (sample_leaks keep)");
    std::vector<RunInstrument> kept;
    for (size_t i = 0; i < instruments_.size(); ++i)
      if (!dropped.count(i)) kept.push_back(instruments_[i]);
    instruments_ = std::move(kept);
  }

  // SoundFont presets that share samples and settings (one file derived from another, or a bank
  // copied into another) sound the same: an instrument whose fingerprint (C3, C4, C5 at velocity
  // 100, 1 s) is similar (similar_pairs: note by note, lags within +-5 ms, either sign) at or above
  // `dedupe_correlation` to an earlier kept instrument of its family is dropped. Every pair across
  // two splits above the threshold is logged and listed in summary.json. Splits come in run order
  // (train, valid, test), so the valid or test copy of a train instrument, and the test copy of a
  // valid one, is the one dropped. Presets whose fingerprint is silent (e.g. ones that need an expression controller)
  // are dropped too. Then the twins among the instruments kept (decide_twins). The decisions are
  // instrument_dedupe.h's; this renders the fingerprints, logs and records them.
  void drop_duplicates() {
    const double threshold = set_.dedupe_correlation;
    const bool dedupe = threshold > 0.0, twins = set_.twin_threshold > 0.0;
    if (!dedupe && !twins) return;
    const int64_t n = kSampleRate;
    std::vector<std::vector<float>> prints(instruments_.size());
    std::vector<char> silent(instruments_.size(), 0);
    parallel_for(instruments_.size(), set_.threads, [&](size_t i, int) {
      const RunInstrument& r = instruments_[i];
      if (r.info.source != "soundfont") return;
      std::vector<float> x(static_cast<size_t>(n));
      r.bank->render(r.index, {{0.0, 0.25, 48, 100}, {0.33, 0.58, 60, 100}, {0.66, 0.91, 72, 100}}, x.data(), n);
      double norm = 0.0, peak = 0.0;
      for (float v : x) {
        norm += double(v) * v;
        peak = std::max(peak, double(std::fabs(v)));
      }
      if (!(peak >= set_.silence_peak)) {
        silent[i] = 1;
        return;
      }
      const float scale = float(1.0 / std::sqrt(norm));
      for (float& v : x) v *= scale;
      prints[i] = std::move(x);
    });
    std::vector<std::string> family, split;
    for (const RunInstrument& r : instruments_) {
      family.push_back(r.info.family);
      split.push_back(r.split);
    }
    // Every similar pair, within and across splits, at the lower of the two thresholds (one search).
    const double search = dedupe && twins ? std::min(threshold, set_.twin_threshold) : dedupe ? threshold : set_.twin_threshold;
    const auto pairs = similar_pairs(prints, family, search, kDedupeMaxLag);
    const DuplicateDecision d = decide_duplicates(pairs, split, silent, dedupe ? threshold : 0.0, set_.twin_threshold);
    // A pair across two splits names each side by its split: {"train": id, "valid": id}, {"valid": id, "test": id}.
    auto across = [&](const SimilarPair& p) {
      Json pair = {{instruments_[p.earlier].split, instruments_[p.earlier].info.id},
                   {instruments_[p.later].split, instruments_[p.later].info.id}};
      add_similarity(pair, p);
      return pair;
    };
    for (const SimilarPair* p : d.near_leaks) near_cross_split_.push_back(across(*p));
    for (const SimilarPair* p : d.leaks) {
      const Json pair = across(*p);
      cross_split_.push_back(pair);
      const RunInstrument &a = instruments_[p->earlier], &b = instruments_[p->later];
      spdlog::warn("{}/{} leak: {} ({}) sounds like {} ({}): similarity {} (per note {} at {} ms)", a.split, b.split,
                   b.info.id, b.split, a.info.id, a.split, pair["correlation"].dump(), pair["note_correlations"].dump(),
                   pair["lags_ms"].dump());
    }
    for (size_t i : d.silent) silent_.push_back(instruments_[i].info.id);
    for (const auto& [i, same] : d.duplicates) {
      Json j = {{"id", instruments_[i].info.id}, {"split", instruments_[i].split},
                {"same_as", instruments_[same->earlier].info.id}};
      add_similarity(j, *same);
      duplicates_.push_back(j);
    }
    if (!silent_.empty())
      spdlog::info("dropped {} instruments that stay silent on C3, C4 and C5 (velocity 100)", silent_.size());
    if (!duplicates_.empty())
      spdlog::info("dropped {} near-duplicate instruments (fingerprint correlation >= {})", duplicates_.size(), threshold);
    const std::vector<size_t> kept = twins ? record_twins(decide_twins(pairs, split, d, set_.twin_threshold, set_.twin_policy))
                                           : d.kept;
    // Only pairs whose two sides are both in the dataset (neither dropped as a duplicate nor as a twin).
    std::set<std::string> final_ids;
    for (size_t i : kept) final_ids.insert(instruments_[i].info.id);
    Json near = Json::array();
    for (const Json& p : near_cross_split_) {
      bool both = true;
      for (const char* split : kNlakhSplits)
        if (p.contains(split)) both = both && final_ids.count(p[split].get<std::string>());
      if (both) near.push_back(p);
    }
    near_cross_split_ = std::move(near);
    if (!near_cross_split_.empty())
      spdlog::info("{} pairs across splits in the dataset are similar at the twin level ({} <= similarity < {}): "
                   "summary.json cross_split_twins lists them",
                   near_cross_split_.size(), set_.twin_threshold, threshold);
    std::vector<RunInstrument> out;
    for (size_t i : kept) out.push_back(instruments_[i]);
    instruments_ = std::move(out);
  }

  // Records the twins (decide_twins) for summary.json, and with policy group each instrument's
  // group for instruments.json; returns the instruments that stay, in run order.
  std::vector<size_t> record_twins(const TwinDecision& t) {
    Json dropped = Json::array();
    for (const auto& [i, r] : t.dropped)
      dropped.push_back({{"id", instruments_[i].info.id}, {"split", instruments_[i].split},
                         {"twin_of", instruments_[r].info.id}});
    for (const auto& [i, r] : t.group_of) twin_group_[instruments_[i].info.id] = instruments_[r].info.id;
    twins_ = {{"threshold", set_.twin_threshold}, {"policy", set_.twin_policy}, {"dropped", dropped}};
    for (const char* split : kNlakhSplits) {
      Json listed = Json::array(), groups = Json::array();
      if (const auto it = t.pairs.find(split); it != t.pairs.end())
        for (const SimilarPair* p : it->second) {
          Json pair = {{"first", instruments_[p->earlier].info.id}, {"second", instruments_[p->later].info.id}};
          add_similarity(pair, *p);
          spdlog::debug("{} twins: {} and {}: similarity {}", split, pair["first"].get<std::string>(),
                        pair["second"].get<std::string>(), pair["correlation"].dump());
          listed.push_back(pair);
        }
      if (const auto it = t.groups.find(split); it != t.groups.end())
        for (const auto& members : it->second) {
          Json ids = Json::array();
          for (size_t k : members) ids.push_back(instruments_[k].info.id);
          groups.push_back(ids);
        }
      spdlog::info("{}: {} twin pairs (fingerprint similarity >= {} within the split) in {} groups", split,
                   listed.size(), set_.twin_threshold, groups.size());
      twins_[split] = {{"pairs", listed}, {"groups", groups}};
    }
    if (set_.twin_policy == "drop" && !dropped.empty())
      spdlog::info("twins.policy drop: dropped {} instruments, kept the first of each twin group", dropped.size());
    return t.stay;
  }

  void load_midi() {
    const Json& sources = config_["midi"]["sources"];
    if (!sources.is_array()) throw UsageError("midi.sources must be an array of paths or globs");
    std::vector<std::string> list;
    for (const Json& src : sources) {
      if (!src.is_string()) throw UsageError("midi.sources: every entry must be a path or glob string");
      list.push_back(src.get<std::string>());
    }
    corpus_ = load_midi_corpus(list, set_.midi_valid_fraction, set_.threads, set_.midi_test_fraction);
    melodic_.resize(corpus_.files.size());
    std::map<std::string, int> per_split;
    for (const char* split : kNlakhSplits) per_split[split] = 0;  // every split listed, also one without files
    for (size_t index = 0; index < corpus_.files.size(); ++index) {
      const CorpusFile& f = corpus_.files[index];
      ++per_split[f.split];
      for (size_t t = 0; t < f.midi.tracks.size(); ++t) {
        const MidiTrack& tr = f.midi.tracks[t];
        if (tr.is_drum || gm_program_family(tr.program) < 0 || tr.notes.empty()) continue;
        melodic_[index].push_back(t);
        if (int(tr.notes.size()) >= set_.single_min_notes)
          family_tracks_[f.split][family_names()[size_t(gm_program_family(tr.program))]].emplace_back(index, t);
      }
      if (int(melodic_[index].size()) >= set_.multi_min_tracks) multi_files_[f.split].push_back(index);
    }
    spdlog::info("MIDI: {} files ({} train, {} valid, {} test), {} unreadable, {} duplicates", corpus_.files.size(),
                 per_split["train"], per_split["valid"], per_split["test"], corpus_.unreadable, corpus_.duplicates);
    if (corpus_.files.empty()) throw UsageError("no readable MIDI file in midi.sources");
    midi_per_split_ = per_split;
  }

  // Notes of `track` in the excerpt from `start` that `inst` can play.
  std::vector<Note> window(const MidiTrack& track, double start, const RunInstrument& inst) const {
    return excerpt_notes(track, start, set_.clip_seconds, [&](int pitch) { return inst.bank->has_pitch(inst.index, pitch); });
  }

  Json render_single(const ClipTask& task, std::mt19937_64& rng) const {
    const RunInstrument& inst = instruments_[task.instrument];
    const auto split_it = family_tracks_.find(task.split);
    const std::vector<std::pair<size_t, size_t>>* tracks = nullptr;
    if (split_it != family_tracks_.end()) {
      auto f = split_it->second.find(inst.info.family);
      if (f != split_it->second.end()) tracks = &f->second;
    }
    if (!tracks) return Json{{"failed", "no " + task.split + " MIDI track of family " + inst.info.family}};
    std::vector<float> audio(static_cast<size_t>(set_.clip_samples));
    for (int attempt = 1; attempt <= set_.max_attempts; ++attempt) {
      const auto [file, t] = (*tracks)[pick_index(rng, tracks->size())];
      const MidiTrack& track = corpus_.files[file].midi.tracks[t];
      const double start = draw_excerpt_start(track, set_.clip_seconds, rng);
      const std::vector<Note> notes = window(track, start, inst);
      if (int(notes.size()) < set_.single_min_notes) continue;
      inst.bank->render(inst.index, notes, audio.data(), set_.clip_samples);
      const double peak = peak_of(audio);
      if (!(peak >= set_.silence_peak)) continue;
      const float scale = float(kFullScale / peak);
      for (float& v : audio) v *= scale;
      const std::string path = task.dir + "/" + task.stem + ".wav";
      write_wav16(fs::path(out_) / path, audio);
      return Json{{"path", path},          {"instrument", inst.info.id}, {"family", inst.info.family},
                  {"midi", corpus_.files[file].path}, {"track", t},             {"program", track.program},
                  {"start", start},        {"notes", notes.size()},     {"attempts", attempt}};
    }
    return Json{{"failed", "no valid excerpt in " + std::to_string(set_.max_attempts) + " attempts"}};
  }

  Json render_multi(const ClipTask& task, std::mt19937_64& rng) const {
    const auto files_it = multi_files_.find(task.split);
    if (files_it == multi_files_.end() || files_it->second.empty())
      return Json{{"failed", "no " + task.split + " MIDI file with enough melodic tracks"}};
    const auto& files = files_it->second;
    const auto fam_it = by_family_.find(task.split);
    if (fam_it == by_family_.end()) return Json{{"failed", "no " + task.split + " instruments"}};
    for (int attempt = 1; attempt <= set_.max_attempts; ++attempt) {
      const size_t file = files[pick_index(rng, files.size())];
      const CorpusFile& entry = corpus_.files[file];
      const std::vector<size_t>& melodic = melodic_[file];
      const double start = draw_excerpt_start(entry.midi.tracks[melodic[pick_index(rng, melodic.size())]], set_.clip_seconds, rng);
      std::vector<size_t> active;
      for (size_t t : melodic) {
        if (notes_in_excerpt(entry.midi.tracks[t], start, set_.clip_seconds) >= set_.multi_min_notes) active.push_back(t);
      }
      if (int(active.size()) < set_.multi_min_tracks) continue;
      for (size_t i = active.size(); i > 1; --i) std::swap(active[i - 1], active[pick_index(rng, i)]);
      if (int(active.size()) > set_.multi_max_tracks) active.resize(size_t(set_.multi_max_tracks));
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
        const size_t inst = f->second[pick_index(rng, f->second.size())];
        const std::vector<Note> notes = window(track, start, instruments_[inst]);
        if (int(notes.size()) < set_.multi_min_notes) continue;
        Stem stem{t, inst, notes.size(), std::vector<float>(size_t(set_.clip_samples))};
        instruments_[inst].bank->render(instruments_[inst].index, notes, stem.audio.data(), set_.clip_samples);
        const double peak = peak_of(stem.audio);
        if (!(peak >= set_.silence_peak)) continue;
        stems.push_back(std::move(stem));
      }
      if (int(stems.size()) < set_.multi_min_tracks) continue;
      std::vector<float> mix(size_t(set_.clip_samples), 0.0f);
      for (const Stem& s : stems)
        for (size_t i = 0; i < mix.size(); ++i) mix[i] += s.audio[i];
      const double mix_peak = peak_of(mix);
      if (!(mix_peak >= set_.silence_peak)) continue;
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
    return Json{{"failed", "no valid section in " + std::to_string(set_.max_attempts) + " attempts"}};
  }

  void render_tasks() {
    std::vector<size_t> todo;
    size_t skipped = 0, redone = 0;
    for (size_t i = 0; i < tasks_.size(); ++i) {
      if (int(i % size_t(set_.shard_count)) != set_.shard_index) continue;
      const fs::path record = fs::path(out_) / tasks_[i].record();
      if (record_complete(out_, record, set_.clip_samples)) {
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
        todo.size(), set_.threads,
        [&](size_t k, int) {
          const ClipTask& task = tasks_[todo[k]];
          std::mt19937_64 rng(derive_seed(set_.seed, task.key()));
          const Json record = task.kind == "single" ? render_single(task, rng) : render_multi(task, rng);
          if (record.contains("failed")) spdlog::warn("{}: {}", task.key(), record["failed"].get<std::string>());
          // The record is written last: its presence marks the clip as finished.
          write_file_atomically(fs::path(out_) / task.record(), record.dump() + "\n");
        },
        &progress);
    progress.finish();
  }

  // instruments.json's rows and what the run recorded for summary.json; nlakh_manifests.h writes the tables.
  Json write_manifests() const {
    Json instruments = Json::array();
    for (const RunInstrument& r : instruments_) {
      Json j = instrument_to_json(r.info);
      j["split"] = r.split;
      if (set_.twin_policy == "group") {
        const auto g = twin_group_.find(r.info.id);
        j["twin_group"] = g == twin_group_.end() ? r.info.id : g->second;
      }
      instruments.push_back(j);
    }
    Json summary = {{"seed", set_.seed}, {"clip_samples", set_.clip_samples}, {"sample_rate", kSampleRate}};
    summary["sample_leaks"] = sample_leaks_;
    summary["duplicates_dropped"] = duplicates_;
    summary["cross_split_similar"] = cross_split_;
    summary["cross_split_twins"] = near_cross_split_;
    summary["silent_dropped"] = silent_;
    summary["twins"] = twins_;
    summary["midi_files"] = {{"train", midi_per_split_.at("train")}, {"valid", midi_per_split_.at("valid")},
                             {"test", midi_per_split_.at("test")}, {"unreadable", corpus_.unreadable},
                             {"duplicates", corpus_.duplicates}};
    return write_nlakh_manifests(out_, instruments, tasks_, set_.clip_samples, summary, saved_nlakh_config(config_));
  }

  Json config_;
  const NlakhSettings set_;
  const std::string out_;
  std::vector<BankEntry> banks_;
  std::vector<RunInstrument> instruments_;
  Json sample_leaks_;                 // summary.json "sample_leaks"
  Json duplicates_ = Json::array();
  Json cross_split_ = Json::array();  // every pair of similar instruments across two splits
  Json near_cross_split_ = Json::array();  // pairs across splits in [twins.threshold, dedupe_correlation)
  Json silent_ = Json::array();
  Json twins_;                                      // summary.json "twins"
  std::map<std::string, std::string> twin_group_;  // policy group: instrument id -> its group's first member
  std::map<std::string, std::map<std::string, std::vector<size_t>>> by_family_;  // split -> family -> instruments
  MidiCorpus corpus_;
  std::map<std::string, int> midi_per_split_;  // corpus files per split
  std::vector<std::vector<size_t>> melodic_;  // per corpus file: tracks with a family
  std::map<std::string, std::map<std::string, std::vector<std::pair<size_t, size_t>>>> family_tracks_;
  std::map<std::string, std::vector<size_t>> multi_files_;
  std::vector<ClipTask> tasks_;
};

}  // namespace

uint64_t derive_seed(uint64_t seed, const std::string& key) { return splitmix64(splitmix64(seed) ^ fnv1a(key)); }

Json render_nlakh(const Json& config, bool manifests_only, bool adopt_inputs) {
  Renderer renderer(config);
  return renderer.run(manifests_only, adopt_inputs);
}

}  // namespace instret
