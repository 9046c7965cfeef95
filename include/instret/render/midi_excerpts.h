// Where render-nlakh takes a clip from a MIDI track: portable random draws (the standard
// distributions differ between library implementations, and the dataset's bytes must not), the
// excerpt's start near a random note, the notes inside it, and a clip's peak.
#pragma once
#include <cstddef>
#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "instret/midi/smf.h"
#include "instret/render/instrument_bank.h"

namespace instret {

// Uniform in [0, 1) from the top 53 bits of one draw.
double uniform01(std::mt19937_64& rng);
// An index in [0, n) (one draw, modulo n).
size_t pick_index(std::mt19937_64& rng, size_t n);

// An excerpt start near a random note of `track` (which must have notes): the note starts within the
// excerpt's first half; whole milliseconds, exact in the manifests.
double draw_excerpt_start(const MidiTrack& track, double clip_seconds, std::mt19937_64& rng);

// Notes of `track` with onsets in [start, start + clip_seconds), relative to start and cut at its
// end, whose pitch `playable` accepts.
std::vector<Note> excerpt_notes(const MidiTrack& track, double start, double clip_seconds,
                                const std::function<bool(int pitch)>& playable);

// How many notes of `track` have their onset in [start, start + clip_seconds).
int64_t notes_in_excerpt(const MidiTrack& track, double start, double clip_seconds);

// Peak |x|, or -1 when a sample is not finite.
double peak_of(const std::vector<float>& x);

}  // namespace instret
