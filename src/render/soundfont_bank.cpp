#include "instret/render/soundfont_bank.h"

#include <fluidsynth.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <mutex>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/midi/family.h"
#include "instret/render/soundfont_samples.h"

namespace instret {
namespace fs = std::filesystem;
namespace {

void fluid_log_to_spdlog(int level, const char* message, void*) {
  if (level <= FLUID_ERR) spdlog::debug("fluidsynth error: {}", message);
  else spdlog::trace("fluidsynth: {}", message);
}

void route_fluid_logs() {
  static std::once_flag once;
  std::call_once(once, [] {
    for (int level = FLUID_PANIC; level < LAST_LOG_LEVEL; ++level)
      fluid_set_log_function(level, fluid_log_to_spdlog, nullptr);
  });
}

std::string lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

int soundfont_preset_family(int bank, int program, const std::string& name) {
  if (bank >= 120) return -1;  // 128: GM drum kits; 120..127: XG/GS drum, SFX and MT-32 maps
  const std::string n = lower(name);
  for (const char* word : {"kit", "drumset", "drum set", "drums set", "percussion", "sfx"})
    if (n.find(word) != std::string::npos) return -1;
  return gm_program_family(program);
}

SoundFontBank::SoundFontBank(const fs::path& path, const BankFilter& filter, const VariantSpec& variants) : path_(path) {
  route_fluid_logs();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw IoError(path.string() + ": SoundFont file not found");
  Synth* synth = create();
  free_.push_back(synth);
  fluid_sfont_t* sfont = fluid_synth_get_sfont_by_id(synth->synth, synth->sfont_id);
  const std::string stem = path.stem().string();
  fluid_sfont_iteration_start(sfont);
  while (fluid_preset_t* preset = fluid_sfont_iteration_next(sfont)) {
    Instrument inst;
    inst.bank = fluid_preset_get_banknum(preset);
    inst.program = fluid_preset_get_num(preset);
    const char* name = fluid_preset_get_name(preset);
    inst.name = name ? name : "";
    const int family = soundfont_preset_family(inst.bank, inst.program, inst.name);
    if (family < 0) continue;
    inst.family = family_names()[size_t(family)];
    if (!filter.programs.empty() &&
        std::find(filter.programs.begin(), filter.programs.end(), inst.program) == filter.programs.end())
      continue;
    if (!filter.banks.empty() && std::find(filter.banks.begin(), filter.banks.end(), inst.bank) == filter.banks.end())
      continue;
    if (!filter.families.empty() &&
        std::find(filter.families.begin(), filter.families.end(), inst.family) == filter.families.end())
      continue;
    char id[64];
    std::snprintf(id, sizeof id, "_%03d_%03d", inst.bank, inst.program);
    inst.id = stem + id;
    inst.source = "soundfont";
    inst.file = path.string();
    instruments_.push_back(inst);
  }
  std::sort(instruments_.begin(), instruments_.end(),
            [](const Instrument& a, const Instrument& b) { return a.id < b.id; });
  // Each preset, then its variants ("<id>_v01" ... sort right after "<id>").
  std::vector<Instrument> presets = std::move(instruments_);
  instruments_.clear();
  for (size_t p = 0; p < presets.size(); ++p) {
    presets_.emplace_back(presets[p].bank, presets[p].program);
    probed_.push_back(std::make_unique<std::once_flag>());
    instruments_.push_back(presets[p]);
    recipes_.emplace_back();
    preset_of_.push_back(p);
    for (int k = 1; k <= variants.count; ++k) {
      Instrument v = presets[p];
      v.id = variant_id(presets[p].id, k);
      v.name = presets[p].name + " (variant " + std::to_string(k) + ")";
      v.variant_of = presets[p].id;
      recipes_.push_back(draw_variant(variants, presets[p].id, k));
      v.recipe = recipes_.back().to_json();
      instruments_.push_back(std::move(v));
      preset_of_.push_back(p);
    }
  }
  playable_.resize(presets_.size());
}

std::vector<std::string> SoundFontBank::sample_names(size_t index) const {
  std::call_once(samples_read_, [&] { samples_ = soundfont_preset_samples(path_); });
  const Instrument& inst = instruments_.at(index);
  const auto it = samples_.find({inst.bank, inst.program});
  return it == samples_.end() ? std::vector<std::string>{} : it->second;
}

bool SoundFontBank::has_pitch(size_t index, int pitch) const {
  if (pitch < 0 || pitch > 127 || index >= instruments_.size()) return false;
  const int key = pitch - int(recipes_[index].formant_semitones);
  if (key < 0 || key > 127) return false;
  const size_t preset = preset_of_[index];
  std::call_once(*probed_[preset], [&] {
    // A key is playable when a note-on at velocity 100 starts at least one voice (the preset and
    // instrument zones cover it); the voices are stopped before the next key.
    const auto [bank, program] = presets_[preset];
    Synth* holder = acquire();
    fluid_synth_t* synth = new_fluid_synth(holder->settings);
    fluid_sfont_t* sfont = fluid_synth_get_sfont_by_id(holder->synth, holder->sfont_id);
    const int id = synth ? fluid_synth_add_sfont(synth, sfont) : FLUID_FAILED;
    bool ok = id != FLUID_FAILED && fluid_synth_program_select(synth, 0, id, bank, program) == FLUID_OK;
    float scratch[64];
    for (int p = 0; ok && p < 128; ++p) {
      fluid_synth_noteon(synth, 0, p, 100);
      playable_[preset][size_t(p)] = fluid_synth_get_active_voice_count(synth) > 0;
      fluid_synth_all_sounds_off(synth, -1);
      for (int k = 0; k < 100 && fluid_synth_get_active_voice_count(synth) > 0; ++k)
        fluid_synth_write_float(synth, 64, scratch, 0, 1, scratch, 0, 1);
      ok = fluid_synth_get_active_voice_count(synth) == 0;
    }
    if (id != FLUID_FAILED) fluid_synth_remove_sfont(synth, sfont);
    if (synth) delete_fluid_synth(synth);
    release(holder);
    if (!ok) throw Error(path_.string() + ": cannot probe the keys of preset " + std::to_string(bank) + ":" +
                         std::to_string(program));
  });
  return playable_[preset][size_t(key)];
}

SoundFontBank::~SoundFontBank() {
  for (Synth* s : all_) destroy(s);
}

SoundFontBank::Synth* SoundFontBank::create() const {
  auto* s = new Synth;
  s->settings = new_fluid_settings();
  fluid_settings_setnum(s->settings, "synth.sample-rate", double(kSampleRate));
  fluid_settings_setint(s->settings, "synth.reverb.active", 0);
  fluid_settings_setint(s->settings, "synth.chorus.active", 0);
  fluid_settings_setint(s->settings, "synth.cpu-cores", 1);
  fluid_settings_setint(s->settings, "synth.polyphony", 256);
  fluid_settings_setint(s->settings, "synth.threadsafe-api", 0);
  s->synth = new_fluid_synth(s->settings);
  if (!s->synth) {
    destroy(s);
    throw Error(path_.string() + ": cannot create a FluidSynth synthesizer");
  }
  s->sfont_id = fluid_synth_sfload(s->synth, path_.c_str(), 0);
  if (s->sfont_id == FLUID_FAILED) {
    destroy(s);
    throw FormatError(path_.string() + ": FluidSynth cannot load this SoundFont (corrupt or not .sf2/.sf3)");
  }
  std::lock_guard<std::mutex> lock(mutex_);
  all_.push_back(s);
  return s;
}

void SoundFontBank::destroy(Synth* s) {
  if (s->synth) delete_fluid_synth(s->synth);
  if (s->settings) delete_fluid_settings(s->settings);
  delete s;
}

SoundFontBank::Synth* SoundFontBank::acquire() const {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!free_.empty()) {
      Synth* s = free_.back();
      free_.pop_back();
      return s;
    }
  }
  return create();
}

void SoundFontBank::release(Synth* s) const {
  std::lock_guard<std::mutex> lock(mutex_);
  free_.push_back(s);
}

void SoundFontBank::render(size_t index, const std::vector<Note>& notes, float* out, int64_t n) const {
  const VariantRecipe& recipe = recipes_.at(index);
  std::vector<Event> events;
  for (const Note& note : notes) {
    const int key = note.pitch - int(recipe.formant_semitones);
    if (!(note.end > note.start) || note.pitch < 0 || note.pitch > 127 || key < 0 || key > 127) continue;
    const int64_t on = std::max<int64_t>(0, std::llround(note.start * kSampleRate));
    const int64_t off = std::llround(note.end * kSampleRate);
    if (on >= n || off <= on) continue;
    int velocity = std::clamp(note.velocity, 1, 127);
    if (recipe.velocity_gamma != 1.0)
      velocity = std::clamp(int(std::lround(127.0 * std::pow(velocity / 127.0, recipe.velocity_gamma))), 1, 127);
    events.push_back({on, true, key, velocity});
    if (off < n) events.push_back({off, false, key, 0});
  }
  // Note-offs before note-ons at the same sample, so a repeated pitch re-attacks.
  std::stable_sort(events.begin(), events.end(), [](const Event& a, const Event& b) {
    return a.sample != b.sample ? a.sample < b.sample : (!a.on && b.on);
  });
  if (recipe.unison_cents == 0.0) {
    synth_pass(index, events, 0.0, out, n);
  } else {  // two layers detuned against each other
    std::vector<float> second(static_cast<size_t>(n));
    synth_pass(index, events, recipe.unison_cents / 2, out, n);
    synth_pass(index, events, -recipe.unison_cents / 2, second.data(), n);
    for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * (out[i] + second[size_t(i)]);
  }
  apply_eq_tilt(out, n, recipe.eq_tilt_db);
}

void SoundFontBank::synth_pass(size_t index, const std::vector<Event>& events, double fine_cents, float* out,
                               int64_t n) const {
  const Instrument& inst = instruments_[index];
  const VariantRecipe& r = recipes_[index];
  // A reused synthesizer keeps traces of earlier renders in its voices (small differences at note
  // starts), so every render runs on a fresh synthesizer that borrows the SoundFont loaded by a
  // pooled one: the output depends only on the arguments, whatever the thread or the history.
  Synth* holder = acquire();
  fluid_synth_t* synth = new_fluid_synth(holder->settings);
  std::vector<float> left(size_t(n), 0.0f), right(size_t(n), 0.0f);
  std::string failure;
  if (!synth) {
    failure = path_.string() + ": cannot create a FluidSynth synthesizer";
  } else {
    fluid_sfont_t* sfont = fluid_synth_get_sfont_by_id(holder->synth, holder->sfont_id);
    const int id = fluid_synth_add_sfont(synth, sfont);
    if (id == FLUID_FAILED || fluid_synth_program_select(synth, 0, id, inst.bank, inst.program) != FLUID_OK) {
      failure = path_.string() + ": cannot select preset " + inst.id;
    } else {
      // A variant's changes: generator offsets on the channel (added to every voice's own values,
      // as NRPN would), and the effects' sends with the effect switched on only when it is used.
      const std::pair<int, double> offsets[] = {
          {GEN_FILTERFC, r.filter_cutoff_cents},     {GEN_FILTERQ, r.filter_q_cb},
          {GEN_VOLENVATTACK, r.attack_timecents},    {GEN_VOLENVDECAY, r.decay_timecents},
          {GEN_VOLENVSUSTAIN, r.sustain_cb},         {GEN_VOLENVRELEASE, r.release_timecents},
          {GEN_VIBLFOTOPITCH, r.vibrato_cents},      {GEN_COARSETUNE, r.formant_semitones},
          {GEN_FINETUNE, fine_cents},                {GEN_STARTADDROFS, r.start_offset_samples}};
      for (const auto& [gen, value] : offsets)
        if (value != 0.0) fluid_synth_set_gen(synth, 0, gen, float(value));
      if (r.reverb > 0) {
        fluid_synth_reverb_on(synth, -1, 1);
        fluid_synth_cc(synth, 0, 91, int(r.reverb));
      }
      if (r.chorus > 0) {
        fluid_synth_chorus_on(synth, -1, 1);
        fluid_synth_cc(synth, 0, 93, int(r.chorus));
      }
      int64_t pos = 0;
      auto render_to = [&](int64_t until) {
        while (pos < until) {
          const int len = int(std::min<int64_t>(until - pos, 1 << 16));
          fluid_synth_write_float(synth, len, left.data(), int(pos), 1, right.data(), int(pos), 1);
          pos += len;
        }
      };
      for (const Event& e : events) {
        render_to(e.sample);
        if (e.on) fluid_synth_noteon(synth, 0, e.key, e.velocity);
        else fluid_synth_noteoff(synth, 0, e.key);
      }
      render_to(n);
    }
    if (id != FLUID_FAILED) fluid_synth_remove_sfont(synth, sfont);
    delete_fluid_synth(synth);
  }
  release(holder);
  if (!failure.empty()) throw Error(failure);
  for (int64_t i = 0; i < n; ++i) out[i] = 0.5f * (left[size_t(i)] + right[size_t(i)]);
}

}  // namespace instret
