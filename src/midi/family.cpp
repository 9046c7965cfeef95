#include "instret/midi/family.h"

namespace instret {

const std::array<std::string, kNumFamilies>& family_names() {
  static const std::array<std::string, kNumFamilies> names = {
      "bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal"};
  return names;
}

int family_index(const std::string& name) {
  const auto& names = family_names();
  for (int i = 0; i < kNumFamilies; ++i)
    if (names[size_t(i)] == name) return i;
  return -1;
}

int gm_program_family(int program) {
  enum { kBass, kBrass, kFlute, kGuitar, kKeyboard, kMallet, kOrgan, kReed, kString, kSynthLead, kVocal, kNone = -1 };
  // One entry per GM program, in groups of 8 (GM sound set, General MIDI Level 1).
  static const int table[128] = {
      // 0-7 piano: acoustic/bright/electric grand, honky-tonk, e-pianos, harpsichord, clavinet
      kKeyboard, kKeyboard, kKeyboard, kKeyboard, kKeyboard, kKeyboard, kKeyboard, kKeyboard,
      // 8-15 chromatic percussion: celesta, glockenspiel, music box, vibraphone, marimba,
      // xylophone, tubular bells, dulcimer (struck, pitched)
      kMallet, kMallet, kMallet, kMallet, kMallet, kMallet, kMallet, kMallet,
      // 16-19 pipe and electric organs; 20-23 reed organ, accordion, harmonica, tango accordion:
      // free reeds (one rule: the family of the sound source, whatever plays it)
      kOrgan, kOrgan, kOrgan, kOrgan, kReed, kReed, kReed, kReed,
      // 24-31 guitars
      kGuitar, kGuitar, kGuitar, kGuitar, kGuitar, kGuitar, kGuitar, kGuitar,
      // 32-39 basses (acoustic, electric, fretless, slap, synth)
      kBass, kBass, kBass, kBass, kBass, kBass, kBass, kBass,
      // 40-47 violin, viola, cello, contrabass, tremolo, pizzicato, harp; timpani has no family
      kString, kString, kString, kString, kString, kString, kString, kNone,
      // 48-55 string ensembles, synth strings; choir aahs, voice oohs, synth voice; orchestra hit
      kString, kString, kString, kString, kVocal, kVocal, kVocal, kNone,
      // 56-63 brass (trumpet ... synth brass)
      kBrass, kBrass, kBrass, kBrass, kBrass, kBrass, kBrass, kBrass,
      // 64-71 saxophones, oboe, english horn, bassoon, clarinet
      kReed, kReed, kReed, kReed, kReed, kReed, kReed, kReed,
      // 72-79 pipes: piccolo, flute, recorder, pan flute, blown bottle, shakuhachi, whistle, ocarina
      kFlute, kFlute, kFlute, kFlute, kFlute, kFlute, kFlute, kFlute,
      // 80-87 synth leads
      kSynthLead, kSynthLead, kSynthLead, kSynthLead, kSynthLead, kSynthLead, kSynthLead, kSynthLead,
      // 88-95 synth pads: no NSynth family
      kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
      // 96-103 synth effects: no family
      kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
      // 104-111 ethnic: sitar, banjo, shamisen (necked lutes); koto (a zither: plucked open strings,
      // as the harp); kalimba; bagpipe; fiddle; shanai
      kGuitar, kGuitar, kGuitar, kString, kMallet, kReed, kString, kReed,
      // 112-119 percussive: tinkle bell; agogo; steel drums; woodblock, taiko, melodic tom,
      // synth drum, reverse cymbal
      kMallet, kNone, kMallet, kNone, kNone, kNone, kNone, kNone,
      // 120-127 sound effects: no family
      kNone, kNone, kNone, kNone, kNone, kNone, kNone, kNone,
  };
  if (program < 0 || program > 127) return kNone;
  return table[program];
}

}  // namespace instret
