// Instrument variants (issue 21): new virtual instruments derived from a SoundFont preset by what a
// sound designer would change: FluidSynth generators (filter, envelopes, vibrato, tuning layers,
// sample start), the velocity response, and post effects (EQ tilt, reverb, chorus). A bank entry's
// `variants: {count, seed, probability, ranges}` (docs/nlakh.md) asks for `count` of them per preset,
// each drawn from its own seed; SoundFontBank renders them (soundfont_bank.h).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "instret/core/config.h"

namespace instret {

// One variant's changes; 0 (1 for velocity_gamma) leaves a parameter as the preset has it.
struct VariantRecipe {
  double filter_cutoff_cents = 0.0;   // added to the filter cutoff (GEN_FILTERFC)
  double filter_q_cb = 0.0;           // added to the filter resonance (GEN_FILTERQ)
  double attack_timecents = 0.0;      // added to the volume envelope's attack, decay and release,
  double decay_timecents = 0.0;       //   in timecents (1200 = twice as long)
  double sustain_cb = 0.0;            // added to the sustain attenuation (centibels: lower sustain)
  double release_timecents = 0.0;
  double vibrato_cents = 0.0;         // vibrato LFO depth added (GEN_VIBLFOTOPITCH)
  double unison_cents = 0.0;          // a second layer: two renders detuned by +-half of it, averaged
  double formant_semitones = 0;       // key k played as key k - s transposed up s: the zone, and the
                                      //   sample, of another key at the right pitch (whole semitones)
  double start_offset_samples = 0;    // skip the start of each sample (its attack; whole samples)
  double velocity_gamma = 1.0;        // velocity v played as 127 (v/127)^gamma
  double eq_tilt_db = 0.0;            // high shelf at 1 kHz (RBJ, S = 1) after the synthesizer
  double reverb = 0;                  // reverb and chorus send (MIDI CC 91 and 93, whole values 0..127)
  double chorus = 0;

  bool changes_nothing() const;
  Json to_json() const;  // the changed parameters only
  static VariantRecipe from_json(const Json& j);
};

// What a variant may change, with the range each change is drawn from (uniform; velocity_gamma
// log-uniform) and the step (1 / scale) it is rounded to. docs/nlakh.md has what each does to the sound.
struct VariantParameter {
  const char* name;
  double lo, hi;        // the default range
  double min, max;      // what a configured range may span
  const char* unit;
  double scale;         // values are whole multiples of 1 / scale (1: whole units, written as integers)
  double neutral;       // the value that changes nothing
  double VariantRecipe::*field;
};
const std::vector<VariantParameter>& variant_parameters();

// The `variants` object of a bank entry: defaults once, validated, to/from JSON.
struct VariantSpec {
  int count = 0;             // variants per preset (0 = none; at most kMaxVariants)
  uint64_t seed = 0;         // with the preset id and the variant number, the recipe's only randomness
  double probability = 0.5;  // chance that a variant changes each parameter
  std::map<std::string, std::pair<double, double>> ranges;  // every parameter of variant_parameters()

  static constexpr int kMaxVariants = 64;
  static Json defaults();
  // Merges `j` (null or an object) over the defaults; UsageError naming the key on a bad value (an
  // unknown parameter, lo > hi, a range outside what the parameter allows).
  static VariantSpec from_json(const Json& j);
  Json to_json() const;
};

// Variant `k` (1-based) of the preset `base_id`: every parameter changes with spec.probability, to a
// value drawn from its range (StableRng seeded from spec.seed, base_id and k; values rounded to the
// parameter's step: cents, 0.1 dB, 0.01 of gamma); a draw that would change nothing is redrawn, up
// to 1,000 times, then UsageError (ranges that round to no change, or a tiny probability).
VariantRecipe draw_variant(const VariantSpec& spec, const std::string& base_id, int k);

// The id of variant k of `base_id`: "<base_id>_v<k:02>".
std::string variant_id(const std::string& base_id, int k);

// In-place EQ tilt: an RBJ high shelf at 1 kHz (shelf slope 1) of `db` decibels at kSampleRate.
void apply_eq_tilt(float* x, int64_t n, double db);

}  // namespace instret
