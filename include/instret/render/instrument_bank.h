// Instrument banks: one interface over the two instrument sources (NSynth-format note folders and
// SoundFont presets) that lists instruments and renders note sequences to 16 kHz mono audio.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "instret/core/config.h"

namespace instret {

// A note to render: times in seconds relative to the start of the output buffer.
struct Note {
  double start = 0.0;
  double end = 0.0;
  int pitch = 60;
  int velocity = 100;
};

struct Instrument {
  std::string id;      // unique and stable: file/folder stem + preset (SoundFont) or instrument_str
  std::string name;    // preset name or instrument_str
  std::string family;  // one of family_names()
  std::string source;  // "soundfont" or "nsynth"
  std::string file;    // the .sf2/.sf3 file or the NSynth folder it comes from
  int bank = 0;        // SoundFont bank (-1 for NSynth)
  int program = -1;    // SoundFont preset number (-1 for NSynth)
  int pitch_min = 0;   // lowest and highest pitch the instrument can play
  int pitch_max = 127;
  std::string variant_of;  // a variant (instrument_variants.h): the id of the preset it derives from
  Json recipe;             // a variant: what it changes (VariantRecipe::to_json)
};

Json instrument_to_json(const Instrument& instrument);

class InstrumentBank {
 public:
  virtual ~InstrumentBank() = default;
  // The bank's instruments, sorted by id.
  virtual const std::vector<Instrument>& instruments() const = 0;
  // Whether instrument `index` can play `pitch` (NSynth instruments lack some pitches).
  virtual bool has_pitch(size_t index, int pitch) const = 0;
  // Renders `notes` with instrument `index` into out[0..n) (overwritten), at kSampleRate. Notes
  // sounding past the end are cut there. Thread-safe; the result depends only on the arguments.
  virtual void render(size_t index, const std::vector<Note>& notes, float* out, int64_t n) const = 0;
  // The names of the samples instrument `index` plays (SoundFont presets: soundfont_samples.h),
  // sorted; empty where the bank does not know them (NSynth notes).
  virtual std::vector<std::string> sample_names(size_t /*index*/) const { return {}; }
};

// Selection of a bank's instruments (empty lists select everything).
struct BankFilter {
  std::vector<int> programs;       // SoundFont preset numbers to keep
  std::vector<int> banks;          // SoundFont bank numbers to keep
  std::vector<std::string> families;  // family names to keep
};

struct VariantSpec;

// Opens a bank: type "soundfont" (path = .sf2/.sf3 file) or "nsynth" (path = folder with
// examples.json and audio/). Throws UsageError for an unknown type, or for variants of an NSynth
// bank, IoError / FormatError for missing or broken files. `variants` (null: none) adds that many
// variants of every selected SoundFont preset (instrument_variants.h).
std::unique_ptr<InstrumentBank> open_bank(const std::string& type, const std::string& path,
                                          const BankFilter& filter = {}, const VariantSpec* variants = nullptr);

}  // namespace instret
