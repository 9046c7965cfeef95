// NSynth's 11 instrument families and the General MIDI program -> family mapping used to pair
// MIDI tracks with instruments (docs/nlakh.md has the table and the reasoning).
#pragma once
#include <array>
#include <string>

namespace instret {

// NSynth's family names, in NSynth's index order (instrument_family 0..10).
constexpr int kNumFamilies = 11;
const std::array<std::string, kNumFamilies>& family_names();

// Index of a family name, or -1 when it is not one of the 11.
int family_index(const std::string& name);

// Family index of a GM program (0..127) on a melodic channel, or -1 when the program has no
// NSynth family (timpani, orchestra hit, synth pads and effects, unpitched percussion, sound
// effects). Programs outside 0..127 give -1.
int gm_program_family(int program);

}  // namespace instret
