#include "instret/midi/smf.h"

#include <algorithm>
#include <map>
#include <tuple>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace {

// Bytes of a file quoted in a message, printable whatever they are: a chunk ID may hold NUL or
// newline bytes, which would cut the message short or split it.
std::string printable(const std::string& bytes) {
  static const char* d = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : bytes) {
    if (c >= 0x20 && c < 0x7f && c != '\\')
      out += char(c);
    else
      out += std::string("\\x") + d[c >> 4] + d[c & 15];
  }
  return out;
}

// "0xF8": a status byte in hexadecimal.
std::string hex_byte(int b) {
  static const char* d = "0123456789ABCDEF";
  return std::string("0x") + d[(b >> 4) & 15] + d[b & 15];
}

// A bounds-checked reader over one byte range; every read past the end is a FormatError.
class Reader {
 public:
  Reader(const std::string& bytes, size_t begin, size_t end, const std::string& name)
      : bytes_(bytes), pos_(begin), end_(end), name_(name) {}
  bool done() const { return pos_ >= end_; }
  size_t pos() const { return pos_; }
  uint8_t peek() const {
    if (pos_ >= end_) fail("unexpected end of data");
    return static_cast<uint8_t>(bytes_[pos_]);
  }
  uint8_t u8() {
    const uint8_t b = peek();
    ++pos_;
    return b;
  }
  uint32_t u16() { return (uint32_t(u8()) << 8) | u8(); }
  uint32_t u32() { return (u16() << 16) | u16(); }
  // Variable-length quantity: at most 4 bytes (28 bits), as the SMF specification allows.
  uint32_t vlq() {
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const uint8_t b = u8();
      value = (value << 7) | (b & 0x7Fu);
      if (!(b & 0x80u)) return value;
    }
    fail("variable-length number longer than 4 bytes");
  }
  void skip(size_t n) {
    if (n > end_ - pos_) fail("truncated event (" + std::to_string(n) + " bytes announced)");
    pos_ += n;
  }
  std::string take(size_t n) {
    const size_t start = pos_;
    skip(n);
    return bytes_.substr(start, n);
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw FormatError(name_ + ": not a valid MIDI file: " + what + " at byte " + std::to_string(pos_));
  }

 private:
  const std::string& bytes_;
  size_t pos_;
  size_t end_;
  const std::string& name_;
};

struct TempoChange {
  uint64_t tick;
  uint32_t micros_per_quarter;
};

struct NoteEvent {
  uint64_t tick;
  int channel;
  int pitch;
  int velocity;  // 0 for note-off
  int program;
};

struct RawTrack {
  std::string name;
  std::vector<NoteEvent> events;  // in file order
};

RawTrack parse_track(Reader& r, std::vector<TempoChange>& tempos) {
  RawTrack track;
  uint64_t tick = 0;
  int running = -1;
  int program[16] = {0};
  while (!r.done()) {
    tick += r.vlq();
    int status = r.peek();
    if (status < 0x80) {
      if (running < 0) r.fail("running status without a previous status byte");
      status = running;
    } else {
      r.u8();
    }
    if (status == 0xFF) {
      const int type = r.u8();
      const uint32_t length = r.vlq();
      if (type == 0x2F) {  // end of track
        r.skip(length);
        break;
      }
      const std::string data = r.take(length);
      if (type == 0x51) {
        if (length != 3) r.fail("tempo event of length " + std::to_string(length));
        const uint32_t micros = (uint32_t(uint8_t(data[0])) << 16) | (uint32_t(uint8_t(data[1])) << 8) |
                                uint32_t(uint8_t(data[2]));
        if (micros == 0) r.fail("tempo of 0 microseconds per quarter note");
        tempos.push_back({tick, micros});
      } else if (type == 0x03 && track.name.empty()) {
        track.name = data;
      }
    } else if (status == 0xF0 || status == 0xF7) {
      r.skip(r.vlq());
    } else if (status >= 0xF0) {
      r.fail("system message " + hex_byte(status) + " is not allowed in a MIDI file");
    } else {
      running = status;
      const int kind = status & 0xF0;
      const int channel = status & 0x0F;
      const int d1 = r.u8();
      if (d1 >= 0x80) r.fail("data byte >= 0x80");
      int d2 = 0;
      if (kind != 0xC0 && kind != 0xD0) {
        d2 = r.u8();
        if (d2 >= 0x80) r.fail("data byte >= 0x80");
      }
      if (kind == 0x90 || kind == 0x80) {
        const int velocity = kind == 0x90 ? d2 : 0;
        track.events.push_back({tick, channel, d1, velocity, program[channel]});
      } else if (kind == 0xC0) {
        program[channel] = d1;
      }
    }
  }
  return track;
}

// Tick -> seconds under a tempo map (sorted changes; 120 bpm before the first).
class TempoMap {
 public:
  TempoMap(std::vector<TempoChange> changes, int ticks_per_quarter, double smpte_seconds_per_tick)
      : smpte_(smpte_seconds_per_tick), tpq_(ticks_per_quarter) {
    std::stable_sort(changes.begin(), changes.end(),
                     [](const TempoChange& a, const TempoChange& b) { return a.tick < b.tick; });
    uint64_t tick = 0;
    double seconds = 0.0;
    uint32_t tempo = 500000;
    for (const auto& c : changes) {
      seconds += double(c.tick - tick) * tempo / 1e6 / tpq_;
      tick = c.tick;
      tempo = c.micros_per_quarter;
      if (!segments_.empty() && segments_.back().tick == tick) segments_.pop_back();
      segments_.push_back({tick, seconds, tempo});
    }
    if (segments_.empty() || segments_.front().tick != 0) segments_.insert(segments_.begin(), {0, 0.0, 500000});
  }
  double seconds(uint64_t tick) const {
    if (smpte_ > 0) return double(tick) * smpte_;
    auto it = std::upper_bound(segments_.begin(), segments_.end(), tick,
                               [](uint64_t t, const Segment& s) { return t < s.tick; });
    --it;
    return it->seconds + double(tick - it->tick) * it->tempo / 1e6 / tpq_;
  }

 private:
  struct Segment {
    uint64_t tick;
    double seconds;
    uint32_t tempo;
  };
  std::vector<Segment> segments_;
  double smpte_;
  int tpq_;
};

}  // namespace

MidiFile parse_midi(const std::string& bytes, const std::string& name) {
  if (bytes.empty()) throw FormatError(name + ": not a valid MIDI file: empty file");
  Reader head(bytes, 0, bytes.size(), name);
  if (bytes.size() < 14 || bytes.compare(0, 4, "MThd") != 0) head.fail("no MThd header");
  head.skip(4);
  const uint32_t header_length = head.u32();
  if (header_length < 6) head.fail("header chunk shorter than 6 bytes");
  MidiFile file;
  file.format = int(head.u16());
  head.u16();  // announced track count: the MTrk chunks actually present are used
  const uint32_t division = head.u16();
  if (file.format > 2) head.fail("unknown format " + std::to_string(file.format));
  double smpte_seconds_per_tick = 0.0;
  if (division & 0x8000u) {
    const int fps = -int(int8_t(division >> 8));
    const int ticks_per_frame = int(division & 0xFF);
    // SMPTE frame rates are 24, 25, 29 (29.97 drop-frame) or 30; anything else cannot be right.
    if ((fps != 24 && fps != 25 && fps != 29 && fps != 30) || ticks_per_frame == 0)
      head.fail("invalid SMPTE time division (" + std::to_string(fps) + " frames/s, " +
                std::to_string(ticks_per_frame) + " ticks/frame; frame rates are 24, 25, 29.97 or 30)");
    smpte_seconds_per_tick = 1.0 / (fps == 29 ? 29.97 : fps) / ticks_per_frame;
  } else {
    if (division == 0) head.fail("time division of 0 ticks per quarter note");
    file.ticks_per_quarter = int(division);
  }
  head.skip(header_length - 6);

  std::vector<RawTrack> raw;
  std::vector<TempoChange> tempos;
  size_t pos = head.pos();
  while (pos + 8 <= bytes.size()) {
    Reader chunk(bytes, pos, bytes.size(), name);
    const std::string id = chunk.take(4);
    const uint32_t length = chunk.u32();
    const size_t body = chunk.pos();
    if (length > bytes.size() - body) chunk.fail("truncated '" + printable(id) + "' chunk");
    if (id == "MTrk") {
      Reader track_reader(bytes, body, body + length, name);
      raw.push_back(parse_track(track_reader, tempos));
    }
    pos = body + length;
  }
  if (raw.empty()) throw FormatError(name + ": not a valid MIDI file: no MTrk chunk");
  const TempoMap tempo(tempos, file.ticks_per_quarter, smpte_seconds_per_tick);

  // Note pairing as pretty_midi does it: a note-off (or note-on of velocity 0) ends every open
  // note of its (channel, pitch) that began on an earlier tick; notes that began on the same tick
  // stay open when others were ended, and are dropped (never zero-length) otherwise. Unlike
  // pretty_midi, a note takes the program in force at its note-on, not at its note-off.
  std::map<std::tuple<int, int, int>, MidiTrack> grouped;
  for (size_t t = 0; t < raw.size(); ++t) {
    struct Open {
      uint64_t tick;
      int velocity;
      int program;
    };
    std::map<std::pair<int, int>, std::vector<Open>> open;
    for (const NoteEvent& e : raw[t].events) {
      const auto key = std::make_pair(e.channel, e.pitch);
      if (e.velocity > 0) {
        open[key].push_back({e.tick, e.velocity, e.program});
        continue;
      }
      auto it = open.find(key);
      if (it == open.end()) continue;
      std::vector<Open> close, keep;
      for (const Open& o : it->second) (o.tick != e.tick ? close : keep).push_back(o);
      for (const Open& o : close) {
        MidiTrack& track = grouped[{int(t), e.channel, o.program}];
        track.notes.push_back({tempo.seconds(o.tick), tempo.seconds(e.tick), e.pitch, o.velocity});
      }
      if (!close.empty() && !keep.empty()) it->second = keep;
      else open.erase(it);
    }
  }
  for (auto& [key, track] : grouped) {
    track.file_track = std::get<0>(key);
    track.channel = std::get<1>(key);
    track.program = std::get<2>(key);
    track.is_drum = track.channel == 9;
    track.name = raw[size_t(track.file_track)].name;
    std::sort(track.notes.begin(), track.notes.end(), [](const MidiNote& a, const MidiNote& b) {
      return std::tie(a.start, a.pitch, a.end, a.velocity) < std::tie(b.start, b.pitch, b.end, b.velocity);
    });
    for (const MidiNote& n : track.notes) file.end_time = std::max(file.end_time, n.end);
    file.tracks.push_back(std::move(track));
  }
  return file;
}

MidiFile read_midi(const std::filesystem::path& path) { return parse_midi(read_file(path), path.string()); }

}  // namespace instret
