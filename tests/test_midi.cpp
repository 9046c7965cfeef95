// MIDI reading against pretty_midi (tests/data/midi_golden.json, made by
// scripts/golden/make_midi_golden.py from Debian MIDI files), hand-built files, fuzzing; the GM
// family table; MIDI corpora (finding, de-duplicating and splitting files).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <sys/stat.h>
#include <unistd.h>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <tuple>

#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"
#include "instret/render/midi_corpus.h"
#include "instret/midi/family.h"
#include "instret/midi/smf.h"
#include "test_support.h"

using namespace instret;

namespace {

std::string be32(uint32_t v) {
  return {char(v >> 24), char(v >> 16), char(v >> 8), char(v)};
}
std::string be16(uint32_t v) { return {char(v >> 8), char(v)}; }
std::string header(int format, int tracks, int division) {
  return "MThd" + be32(6) + be16(format) + be16(tracks) + be16(division);
}
std::string track(const std::string& events) { return "MTrk" + be32(uint32_t(events.size())) + events; }
std::string bytes(std::initializer_list<int> b) {
  std::string s;
  for (int x : b) s.push_back(char(x));
  return s;
}

}  // namespace

TEST(Midi, MatchesPrettyMidiOnDebianFiles) {
  const Json golden = read_json_file(std::string(INSTRET_TEST_DATA_DIR) + "/midi_golden.json");
  ASSERT_GE(golden.size(), 5u);
  for (const auto& [path, ref] : golden.items()) {
    SCOPED_TRACE(path);
    const MidiFile file = read_midi(path);
    EXPECT_NEAR(file.end_time, ref["end_time"].get<double>(), 1e-5);
    struct Row {
      int program;
      bool drum;
      size_t notes;
      std::vector<std::tuple<int, int, double, double>> first;
      double last_end;
    };
    std::vector<Row> rows;
    size_t total = 0;
    for (const MidiTrack& t : file.tracks) {
      Row r{t.program, t.is_drum, t.notes.size(), {}, 0.0};
      for (size_t i = 0; i < std::min<size_t>(5, t.notes.size()); ++i)
        r.first.emplace_back(t.notes[i].pitch, t.notes[i].velocity, t.notes[i].start, t.notes[i].end);
      for (const MidiNote& n : t.notes) r.last_end = std::max(r.last_end, n.end);
      total += t.notes.size();
      rows.push_back(r);
    }
    EXPECT_EQ(total, ref["total_notes"].get<size_t>());
    std::sort(rows.begin(), rows.end(), [](const Row& a, const Row& b) {
      return std::tie(a.program, a.drum, a.notes, a.first) < std::tie(b.program, b.drum, b.notes, b.first);
    });
    const Json& insts = ref["instruments"];
    ASSERT_EQ(rows.size(), insts.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      EXPECT_EQ(rows[i].program, insts[i]["program"].get<int>());
      EXPECT_EQ(rows[i].drum, insts[i]["is_drum"].get<bool>());
      EXPECT_EQ(rows[i].notes, insts[i]["notes"].get<size_t>());
      EXPECT_NEAR(rows[i].last_end, insts[i]["last_end"].get<double>(), 1e-5);
      const Json& first = insts[i]["first"];
      ASSERT_EQ(rows[i].first.size(), first.size());
      for (size_t k = 0; k < first.size(); ++k) {
        EXPECT_EQ(std::get<0>(rows[i].first[k]), first[k][0].get<int>());
        EXPECT_EQ(std::get<1>(rows[i].first[k]), first[k][1].get<int>());
        EXPECT_NEAR(std::get<2>(rows[i].first[k]), first[k][2].get<double>(), 1e-5);
        EXPECT_NEAR(std::get<3>(rows[i].first[k]), first[k][3].get<double>(), 1e-5);
      }
    }
  }
}

TEST(Midi, RunningStatusTempoChangesProgramsAndDrums) {
  // Format 1, 480 ticks per quarter. Track 0: tempo 500000 us/q, then at tick 960 tempo 250000.
  const std::string t0 = bytes({0x00, 0xFF, 0x51, 0x03, 0x07, 0xA1, 0x20,  //
                                0x87, 0x40, 0xFF, 0x51, 0x03, 0x03, 0xD0, 0x90,  //
                                0x00, 0xFF, 0x2F, 0x00});
  // Track 1: program 40 on ch 0; note 60 on at 0, off by running-status velocity-0 at 480;
  // note 62 on at 480 (running status), sysex, off at 1440 (0x80); ch 9 (drums) note 36.
  const std::string t1 = bytes({0x00, 0xFF, 0x03, 0x02, 'v', 'n',   // track name "vn"
                                0x00, 0xC0, 0x28,                    // program 40
                                0x00, 0x90, 60, 100,                 // note on 60
                                0x83, 0x60, 60, 0,                   // +480 running status vel 0
                                0x00, 62, 80,                        // running status note on 62
                                0x00, 0xF0, 0x02, 0x01, 0xF7,        // sysex
                                0x87, 0x40, 0x80, 62, 64,            // +960 note off 62 (tick 1440)
                                0x00, 0x99, 36, 90,                  // drum on
                                0x81, 0x70, 0x89, 36, 0,             // +240 drum off
                                0x00, 0xFF, 0x2F, 0x00});
  const MidiFile f = parse_midi(header(1, 2, 480) + track(t0) + track(t1), "built");
  ASSERT_EQ(f.tracks.size(), 2u);
  const MidiTrack& violin = f.tracks[0];
  EXPECT_EQ(violin.program, 40);
  EXPECT_FALSE(violin.is_drum);
  EXPECT_EQ(violin.name, "vn");
  ASSERT_EQ(violin.notes.size(), 2u);
  EXPECT_DOUBLE_EQ(violin.notes[0].start, 0.0);
  EXPECT_DOUBLE_EQ(violin.notes[0].end, 0.5);
  EXPECT_EQ(violin.notes[1].pitch, 62);
  EXPECT_EQ(violin.notes[1].velocity, 80);
  EXPECT_DOUBLE_EQ(violin.notes[1].start, 0.5);
  EXPECT_DOUBLE_EQ(violin.notes[1].end, 1.0 + 480 * 0.25 / 480);  // 960 ticks at 120 bpm, then 480 at 240
  const MidiTrack& drums = f.tracks[1];
  EXPECT_TRUE(drums.is_drum);
  EXPECT_EQ(drums.channel, 9);
  ASSERT_EQ(drums.notes.size(), 1u);
  EXPECT_DOUBLE_EQ(drums.notes[0].start, 1.25);
  EXPECT_DOUBLE_EQ(drums.notes[0].end, 1.25 + 240 * 0.25 / 480);
  EXPECT_DOUBLE_EQ(f.end_time, 1.375);
}

TEST(Midi, OverlappingSamePitchNotesEndTogether) {
  // Two note-ons of pitch 64 (ticks 0 and 96), one note-off at 192: both end there (pretty_midi).
  // Then a note-on and note-off of pitch 65 on the same tick: dropped, never zero-length.
  const std::string t = bytes({0x00, 0x90, 64, 100, 0x60, 0x90, 64, 50, 0x60, 0x80, 64, 0,  //
                               0x00, 0x90, 65, 70, 0x00, 0x80, 65, 0, 0x00, 0xFF, 0x2F, 0x00});
  const MidiFile f = parse_midi(header(0, 1, 96) + track(t), "overlap");
  ASSERT_EQ(f.tracks.size(), 1u);
  ASSERT_EQ(f.tracks[0].notes.size(), 2u);
  EXPECT_DOUBLE_EQ(f.tracks[0].notes[0].end, 1.0);
  EXPECT_DOUBLE_EQ(f.tracks[0].notes[1].start, 0.5);
  EXPECT_DOUBLE_EQ(f.tracks[0].notes[1].end, 1.0);
}

TEST(Midi, BrokenFilesGiveFormatErrors) {
  const std::string good_track = track(bytes({0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00}));
  EXPECT_THROW(parse_midi("", "empty"), FormatError);
  EXPECT_THROW(parse_midi("RIFF....WAVEfmt ", "wav"), FormatError);
  EXPECT_THROW(parse_midi(header(1, 1, 96), "no tracks"), FormatError);
  EXPECT_THROW(parse_midi(header(1, 1, 96) + good_track.substr(0, good_track.size() - 3), "truncated"), FormatError);
  EXPECT_THROW(parse_midi(header(1, 1, 0) + good_track, "division 0"), FormatError);
  EXPECT_THROW(parse_midi(header(7, 1, 96) + good_track, "format 7"), FormatError);
  EXPECT_THROW(parse_midi(header(0, 1, 96) + track(bytes({0x00, 60, 100})), "no status"), FormatError);
  EXPECT_THROW(parse_midi(header(0, 1, 96) + track(bytes({0xFF, 0xFF, 0xFF, 0xFF, 0x7F})), "long vlq"), FormatError);
  try {
    parse_midi("", "/x/empty.mid");
  } catch (const FormatError& e) {
    EXPECT_NE(std::string(e.what()).find("/x/empty.mid"), std::string::npos);
  }
  EXPECT_THROW(read_midi("/nonexistent/file.mid"), IoError);
}

TEST(Midi, FuzzedRealFilesNeverCrash) {
  const Json golden = read_json_file(std::string(INSTRET_TEST_DATA_DIR) + "/midi_golden.json");
  std::vector<std::string> seeds;
  for (const auto& [path, ref] : golden.items()) {
    std::string b = read_file(path);
    if (b.size() < 20000) seeds.push_back(b);
  }
  ASSERT_GE(seeds.size(), 3u);
  std::mt19937_64 rng(1234);
  int ok = 0, rejected = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string b = seeds[rng() % seeds.size()];
    const int mutations = 1 + int(rng() % 8);
    for (int m = 0; m < mutations && !b.empty(); ++m) {
      switch (rng() % 5) {
        case 0: b[rng() % b.size()] = char(rng()); break;                        // random byte
        case 1: b[rng() % b.size()] ^= char(1 << (rng() % 8)); break;            // bit flip
        case 2: b.resize(rng() % b.size()); break;                               // truncation
        case 3: b.insert(rng() % b.size(), 1 + rng() % 4, char(rng())); break;   // insertion
        default: b.erase(rng() % b.size(), 1 + rng() % 4); break;                // deletion
      }
    }
    try {
      const MidiFile f = parse_midi(b, "fuzz");
      for (const MidiTrack& t : f.tracks)
        for (const MidiNote& n : t.notes) ASSERT_TRUE(std::isfinite(n.start) && n.end >= n.start);
      ++ok;
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  EXPECT_GT(ok, 0);
  EXPECT_GT(rejected, 0);
}

TEST(Family, GeneralMidiGroups) {
  EXPECT_EQ(family_names().size(), 11u);
  EXPECT_EQ(family_index("synth_lead"), 9);
  EXPECT_EQ(family_index("drums"), -1);
  auto fam = [](int p) { int f = gm_program_family(p); return f < 0 ? std::string("-") : family_names()[size_t(f)]; };
  EXPECT_EQ(fam(0), "keyboard");
  EXPECT_EQ(fam(11), "mallet");
  EXPECT_EQ(fam(19), "organ");
  EXPECT_EQ(fam(21), "reed");
  // Issue 11 item 10: one rule, the sound source: a reed organ is a free reed like the accordion,
  // the koto plucks open strings like the harp (necked lutes such as sitar and banjo are guitars).
  EXPECT_EQ(fam(20), "reed");
  EXPECT_EQ(fam(46), "string");
  EXPECT_EQ(fam(107), "string");
  EXPECT_EQ(fam(104), "guitar");
  EXPECT_EQ(fam(25), "guitar");
  EXPECT_EQ(fam(33), "bass");
  EXPECT_EQ(fam(40), "string");
  EXPECT_EQ(fam(47), "-");
  EXPECT_EQ(fam(52), "vocal");
  EXPECT_EQ(fam(56), "brass");
  EXPECT_EQ(fam(65), "reed");
  EXPECT_EQ(fam(73), "flute");
  EXPECT_EQ(fam(81), "synth_lead");
  EXPECT_EQ(fam(89), "-");
  EXPECT_EQ(fam(118), "-");
  EXPECT_EQ(fam(127), "-");
  EXPECT_EQ(fam(128), "-");
  int with_family = 0;
  for (int p = 0; p < 128; ++p) with_family += gm_program_family(p) >= 0;
  EXPECT_EQ(with_family, 128 - 1 - 1 - 8 - 8 - 6 - 8);
}

TEST(MidiCorpus, FindsParsesDeduplicatesAndSplitsByContent) {
  namespace fs = std::filesystem;
  const fs::path dir = test::scratch_dir("corpus", true);
  fs::create_directories(dir / "sub");
  const std::string a = read_file("/usr/share/doc/mma/examples/misc/voicing.mid");
  const std::string b = read_file("/usr/share/games/dink/dink/Sound/12.mid");
  write_file_atomically(dir / "a.mid", a);
  write_file_atomically(dir / "sub" / "B.MIDI", b);
  write_file_atomically(dir / "sub" / "copy_of_a.mid", a);
  write_file_atomically(dir / "broken.mid", "MThd");
  write_file_atomically(dir / "notes.txt", "not midi");
  EXPECT_EQ(find_midi_files({dir.string()}).size(), 4u);
  EXPECT_EQ(find_midi_files({(dir / "sub" / "*.mid").string()}),
            std::vector<std::string>{(dir / "sub" / "copy_of_a.mid").string()});
  EXPECT_THROW(find_midi_files({(dir / "nothing_here").string()}), IoError);

  const MidiCorpus corpus = load_midi_corpus({dir.string()}, 0.5, 2);
  EXPECT_EQ(corpus.unreadable, 1);
  EXPECT_EQ(corpus.duplicates, 1);
  ASSERT_EQ(corpus.files.size(), 2u);
  EXPECT_EQ(corpus.files[0].path, (dir / "a.mid").string());
  EXPECT_EQ(corpus.files[1].path, (dir / "sub" / "B.MIDI").string());
  EXPECT_EQ(corpus.files[0].split, content_split(a, 0.5));
  EXPECT_EQ(corpus.files[1].split, content_split(b, 0.5));
  EXPECT_EQ(content_split(a, 0.0), "train");
  EXPECT_EQ(content_split(a, 1.0), "valid");
  fs::remove_all(dir);
}

// Issue 11 items 7-8: messages stay whole and printable whatever the bytes; impossible SMPTE frame
// rates are refused.
TEST(Midi, ErrorMessagesAreWholeAndPrintable) {
  auto message_of = [](const std::string& b) {
    try {
      parse_midi(b, "m.mid");
    } catch (const FormatError& e) {
      return std::string(e.what());
    }
    return std::string("(no FormatError)");
  };
  const std::string good_track = track(bytes({0x00, 0x90, 60, 100, 0x60, 0x80, 60, 0, 0x00, 0xFF, 0x2F, 0x00}));
  // 0xF8 (timing clock) inside a track: printed as 0xF8, not "0x248".
  const auto sys = message_of(header(0, 1, 96) + track(bytes({0x00, 0xF8, 0x00, 0xFF, 0x2F, 0x00})));
  EXPECT_NE(sys.find("system message 0xF8 is not allowed"), std::string::npos) << sys;
  // A chunk ID with NUL and newline bytes, announcing more bytes than there are.
  const std::string id = std::string("r\0\nk", 4);
  const auto chunk = message_of(header(1, 1, 96) + good_track + id + be32(1000) + "xx");
  EXPECT_NE(chunk.find("truncated 'r\\x00\\x0Ak' chunk at byte "), std::string::npos) << chunk;
  EXPECT_EQ(chunk.find('\n'), std::string::npos);
  // SMPTE: -fps in the high byte, ticks per frame in the low byte.
  auto smpte = [](int fps, int tpf) { return ((256 - fps) << 8) | tpf; };
  EXPECT_NO_THROW(parse_midi(header(0, 1, smpte(25, 40)) + good_track, "25 fps"));
  EXPECT_NO_THROW(parse_midi(header(0, 1, smpte(30, 80)) + good_track, "30 fps"));
  EXPECT_NE(message_of(header(0, 1, smpte(128, 40)) + good_track).find("invalid SMPTE time division"), std::string::npos);
  EXPECT_NE(message_of(header(0, 1, smpte(1, 40)) + good_track).find("invalid SMPTE time division"), std::string::npos);
}

// Issue 11 items 4 and 8: link loops are walked once; FIFOs, dangling links and oversized files with
// a MIDI name are never opened and are counted as unreadable.
TEST(MidiCorpus, LinkLoopsFifosAndDanglingLinks) {
  namespace fs = std::filesystem;
  const fs::path dir = test::scratch_dir("corpus_hostile", true);
  fs::create_directories(dir / "sub");
  write_file_atomically(dir / "sub" / "a.mid", read_file("/usr/share/doc/mma/examples/misc/voicing.mid"));
  fs::create_directory_symlink("..", dir / "sub" / "loop");        // sub/loop -> dir: a loop
  fs::create_directory_symlink(dir / "sub", dir / "sub" / "self");  // sub/self -> sub
  ASSERT_EQ(::mkfifo((dir / "pipe.mid").c_str(), 0600), 0);
  fs::create_symlink(dir / "gone.mid", dir / "dangling.mid");
  std::ofstream(dir / "huge.mid").close();
  fs::resize_file(dir / "huge.mid", (16u << 20) + 1);  // sparse
  EXPECT_EQ(find_midi_files({dir.string()}), std::vector<std::string>{(dir / "sub" / "a.mid").string()});
  const MidiCorpus corpus = load_midi_corpus({dir.string()}, 0.5, 2);
  ASSERT_EQ(corpus.files.size(), 1u);
  EXPECT_EQ(corpus.duplicates, 0);
  EXPECT_EQ(corpus.unreadable, 3);  // pipe.mid, dangling.mid, huge.mid
  fs::remove_all(dir);
}

// Issue 23, defect 6: 40 links (hard and symbolic) to one large MIDI file, and 10 copies of it, used
// to be parsed and held 51 times before the duplicate check. Links are recognised by device and
// inode before reading, copies by content before parsing: the corpus holds one parse.
TEST(MidiCorpus, LinksAndCopiesAreParsedOnce) {
  namespace fs = std::filesystem;
  const fs::path dir = test::scratch_dir("corpus_links", true);
  // One track of 150,000 notes (6 bytes each with running status): about 0.9 MB, parsed ~3.6 MB.
  std::string events = bytes({0x00, 0x90});
  for (int k = 0; k < 150000; ++k) {
    const int pitch = 40 + k % 40;
    events += bytes({pitch, 100, 0x01, pitch, 0, 0x01});
  }
  events.resize(events.size() - 1);
  events += bytes({0x00, 0xFF, 0x2F, 0x00});
  const std::string big = header(0, 1, 96) + track(events);
  ASSERT_NO_THROW(parse_midi(big, "big"));
  write_file_atomically(dir / "big.mid", big);
  for (int k = 0; k < 20; ++k) {
    fs::create_hard_link(dir / "big.mid", dir / ("hard" + std::to_string(k) + ".mid"));
    fs::create_symlink(dir / "big.mid", dir / ("sym" + std::to_string(k) + ".mid"));
  }
  for (int k = 0; k < 10; ++k) write_file_atomically(dir / ("copy" + std::to_string(k) + ".mid"), big);
  rusage before{};
  getrusage(RUSAGE_SELF, &before);
  const MidiCorpus corpus = load_midi_corpus({dir.string()}, 0.5, 2);
  rusage after{};
  getrusage(RUSAGE_SELF, &after);
  ASSERT_EQ(corpus.files.size(), 1u);
  EXPECT_EQ(corpus.duplicates, 50);
  EXPECT_EQ(corpus.unreadable, 0);
  // One parse (150,000 notes of 24 bytes, with vector slack) and a few file buffers: far below the
  // ~51 parses held before.
  EXPECT_LT(after.ru_maxrss - before.ru_maxrss, 64 * 1024) << "KiB";
  EXPECT_EQ(find_midi_files({dir.string()}).size(), 11u);  // big.mid (or a link to it) and the copies
  fs::remove_all(dir);
}

// Issue 23, defect 6: what a corpus scan holds in all is bounded before anything is read: 520 files of
// 16 MiB (sparse, each within the per-file limit) are more than 8 GiB and refused at once.
TEST(MidiCorpus, TotalSizeIsBoundedBeforeReading) {
  namespace fs = std::filesystem;
  const fs::path dir = test::scratch_dir("corpus_total", true);
  for (int k = 0; k < 520; ++k) {
    std::ofstream(dir / ("f" + std::to_string(k) + ".mid")).close();
    fs::resize_file(dir / ("f" + std::to_string(k) + ".mid"), 16u << 20);  // sparse: no disk used
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string msg = test::error_of<UsageError>([&] { load_midi_corpus({dir.string()}, 0.5, 2); });
  EXPECT_NE(msg.find("MIDI sources hold 8320 MiB in 520 files, more than the "), std::string::npos) << msg;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));  // nothing was read
  fs::remove_all(dir);
}
