// A MIDI corpus for dataset rendering: the MIDI files found under a list of sources, parsed,
// de-duplicated by content and split into train/valid/test by a hash of their content.
#pragma once
#include <string>
#include <vector>

#include "instret/midi/smf.h"

namespace instret {

struct CorpusFile {
  std::string path;
  std::string split;        // "train", "valid" or "test"
  std::string fingerprint;  // "<fnv1a of the bytes>:<size>": what the file held when it was read
  MidiFile midi;
};

struct MidiCorpus {
  std::vector<CorpusFile> files;  // sorted by path
  int unreadable = 0;             // files that failed to parse, or could not be read (logged and skipped)
  int duplicates = 0;             // further links to, or byte-identical copies of, an earlier file (skipped unparsed)
};

// MIDI files (.mid/.midi, any case) of `sources`: files, folders (recursive) or glob patterns.
// A source that is neither a pattern nor an existing path is an IoError. Sorted, unique. Directory
// links are followed, each directory once (a link loop is walked once); entries that are not
// regular files (FIFOs, devices, dangling links) and files over 16 MiB are left out (the corpus
// counts them as unreadable); more than 2,000,000 files is a UsageError.
std::vector<std::string> find_midi_files(const std::vector<std::string>& sources);

// With u the 64-bit FNV-1a hash of `bytes` as a fraction of 2^64: "valid" when u < valid_fraction,
// "test" when valid_fraction <= u < valid_fraction + test_fraction, else "train". The split follows
// the content, so copies never straddle it, and adding a test share moves only train files.
std::string content_split(const std::string& bytes, double valid_fraction, double test_fraction = 0.0);

// Reads and parses every file of `sources` on `threads` threads. Links to one file (same device and
// inode) are found once and never read again; copies are recognised by their content hash before
// parsing, so that only one copy of each content is parsed and held. Files of more than 8 GiB in all
// (or an eighth of the machine's memory) are a UsageError before anything is read.
MidiCorpus load_midi_corpus(const std::vector<std::string>& sources, double valid_fraction, int threads,
                            double test_fraction = 0.0);

}  // namespace instret
