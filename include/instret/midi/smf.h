// Standard MIDI File reading: notes with absolute times in seconds, grouped into tracks by
// (file track, channel, program), as pretty_midi groups its instruments.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace instret {

struct MidiNote {
  double start = 0.0;  // seconds
  double end = 0.0;    // seconds, >= start
  int pitch = 0;       // 0..127
  int velocity = 0;    // 1..127
};

// The notes one program played on one channel of one file track.
struct MidiTrack {
  int file_track = 0;  // index of the MTrk chunk
  int channel = 0;     // 0..15
  int program = 0;     // GM program 0..127 in force at each note's note-on
  bool is_drum = false;  // channel 10 (index 9)
  std::string name;      // track name meta event, if any
  std::vector<MidiNote> notes;  // sorted by (start, pitch, end)
};

struct MidiFile {
  int format = 0;          // 0, 1 or 2
  int ticks_per_quarter = 0;
  std::vector<MidiTrack> tracks;  // sorted by (file_track, channel, program)
  double end_time = 0.0;          // the latest note end, seconds
};

// Parses SMF bytes; `name` is used in error messages. Throws FormatError for anything that is not
// a well-formed Standard MIDI File (bad header, truncated chunks, bad variable-length numbers,
// SMPTE time division, running status without a status...). Never reads out of bounds.
MidiFile parse_midi(const std::string& bytes, const std::string& name);

// Reads and parses a file; IoError when it cannot be read.
MidiFile read_midi(const std::filesystem::path& path);

}  // namespace instret
