#include "instret/render/midi_excerpts.h"

#include <algorithm>
#include <cmath>

namespace instret {

double uniform01(std::mt19937_64& rng) { return double(rng() >> 11) * (1.0 / 9007199254740992.0); }

size_t pick_index(std::mt19937_64& rng, size_t n) { return size_t(rng() % n); }

double draw_excerpt_start(const MidiTrack& track, double clip_seconds, std::mt19937_64& rng) {
  const MidiNote& n = track.notes[pick_index(rng, track.notes.size())];
  const double start = std::max(0.0, n.start - uniform01(rng) * clip_seconds * 0.5);
  return std::round(start * 1000.0) / 1000.0;
}

std::vector<Note> excerpt_notes(const MidiTrack& track, double start, double clip_seconds,
                                const std::function<bool(int pitch)>& playable) {
  std::vector<Note> notes;
  const double end = start + clip_seconds;
  auto it = std::lower_bound(track.notes.begin(), track.notes.end(), start,
                             [](const MidiNote& n, double t) { return n.start < t; });
  for (; it != track.notes.end() && it->start < end; ++it) {
    if (!playable(it->pitch)) continue;
    notes.push_back({it->start - start, std::min(it->end, end) - start, it->pitch, it->velocity});
  }
  return notes;
}

int64_t notes_in_excerpt(const MidiTrack& track, double start, double clip_seconds) {
  const auto& notes = track.notes;
  auto lo = std::lower_bound(notes.begin(), notes.end(), start, [](const MidiNote& n, double x) { return n.start < x; });
  auto hi = std::lower_bound(notes.begin(), notes.end(), start + clip_seconds,
                             [](const MidiNote& n, double x) { return n.start < x; });
  return int64_t(hi - lo);
}

double peak_of(const std::vector<float>& x) {
  double peak = 0.0;
  for (float v : x) {
    if (!std::isfinite(v)) return -1.0;
    peak = std::max(peak, double(std::fabs(v)));
  }
  return peak;
}

}  // namespace instret
