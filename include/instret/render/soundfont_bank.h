// SoundFont instrument bank: every melodic preset of one .sf2/.sf3 file is an instrument, rendered
// by libfluidsynth (a fresh synthesizer per render, reverb and chorus off, 16 kHz), and optionally
// variants of each preset (instrument_variants.h), rendered with their recipe's changes.
#pragma once
#include <bitset>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "instret/render/instrument_bank.h"
#include "instret/render/instrument_variants.h"

typedef struct _fluid_synth_t fluid_synth_t;
typedef struct _fluid_hashtable_t fluid_settings_t;

namespace instret {

// Whether a preset is melodic and has a family: banks 120..128 (GM/XG drum kits, SFX banks, the
// GS MT-32 map, whose program numbers are not GM) and presets whose names say kit/drum set/
// percussion/SFX are not; otherwise (GM bank 0 and GS variation banks) the family is that of the
// GM program `program`.
// Returns the family index or -1.
int soundfont_preset_family(int bank, int program, const std::string& name);

class SoundFontBank : public InstrumentBank {
 public:
  // Loads `path` (IoError when missing, FormatError when FluidSynth cannot load it) and lists its
  // presets through `filter`, each followed by `variants.count` variants of it (ids "<preset id>_vNN").
  SoundFontBank(const std::filesystem::path& path, const BankFilter& filter, const VariantSpec& variants = {});
  ~SoundFontBank() override;

  const std::vector<Instrument>& instruments() const override { return instruments_; }
  // Whether a note-on at velocity 100 starts a voice (a preset's zones may not cover every key);
  // probed once per preset, on first use, for all 128 keys (a variant with a formant shift s plays
  // key p as the preset's key p - s).
  bool has_pitch(size_t index, int pitch) const override;
  // Note-on/off events take effect at FluidSynth's 64-sample block boundaries (4 ms at 16 kHz).
  void render(size_t index, const std::vector<Note>& notes, float* out, int64_t n) const override;
  // Read from the file's preset and instrument zones on first use (FormatError when malformed).
  std::vector<std::string> sample_names(size_t index) const override;

 private:
  struct Synth {
    fluid_settings_t* settings = nullptr;
    fluid_synth_t* synth = nullptr;
    int sfont_id = -1;
  };
  // One synthesizer pass of `events` (sample, on, key, velocity) with instrument `index`'s preset,
  // its recipe's generator offsets and effects, and `fine_cents` of extra tuning, into out[0..n).
  struct Event {
    int64_t sample;
    bool on;
    int key;
    int velocity;
  };
  void synth_pass(size_t index, const std::vector<Event>& events, double fine_cents, float* out, int64_t n) const;
  Synth* acquire() const;
  void release(Synth* synth) const;
  Synth* create() const;
  static void destroy(Synth* synth);

  std::filesystem::path path_;
  std::vector<Instrument> instruments_;
  std::vector<VariantRecipe> recipes_;  // per instrument (a preset's changes nothing)
  std::vector<size_t> preset_of_;       // per instrument: its preset's index in presets_, probed_, playable_
  std::vector<std::pair<int, int>> presets_;  // per preset: (bank, program)
  mutable std::vector<std::unique_ptr<std::once_flag>> probed_;  // per preset
  mutable std::once_flag samples_read_;
  mutable std::map<std::pair<int, int>, std::vector<std::string>> samples_;  // (bank, program) -> sample names
  mutable std::vector<std::bitset<128>> playable_;
  mutable std::mutex mutex_;
  mutable std::vector<Synth*> all_;
  mutable std::vector<Synth*> free_;
};

}  // namespace instret
