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
// padding and trailing spaces removed, its bytes read as Latin-1 into UTF-8; unnamed samples left
// out). As FluidSynth, a zone's generators after its instrument or sampleID generator are ignored.
// Only the pdta chunk is read (seeking over the audio; a pdta whose declared size runs past the end
// of the file is read to the end). FormatError naming the file for anything malformed: not RIFF
// sfbk, more than 64 top-level chunks, a chunk before pdta past the end of the file, no pdta or one
// over 64 MiB, header tables of a bad size, or indices out of range or out of order; time and memory
// stay linear in the pdta's size.
std::map<std::pair<int, int>, std::vector<std::string>> soundfont_preset_samples(const std::filesystem::path& path);

}  // namespace instret
