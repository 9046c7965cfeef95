// Which samples each preset of a SoundFont plays: its preset zones' instruments' zones' samples,
// read from the file's pdta chunk (the preset, instrument and sample headers of SoundFont 2.04,
// section 7; .sf3 files have the same structure). render-nlakh uses the sample names to keep an
// instrument out of a later split when it plays a sample that an earlier split's instrument plays.
#pragma once
#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace instret {

// (bank, program) -> the names of the samples the preset plays, sorted and unique (a name's NUL
// padding and trailing spaces removed). Only the pdta chunk is read (seeking over the audio).
// FormatError naming the file for anything malformed: not RIFF sfbk, a chunk past the end of the
// file, no pdta, header tables of a bad size or with out-of-range indices.
std::map<std::pair<int, int>, std::vector<std::string>> soundfont_preset_samples(const std::filesystem::path& path);

}  // namespace instret
