// Resuming a render-nlakh folder: a clip counts as done when its record and audio files are whole;
// a folder must never mix two configs or two sets of inputs, so it keeps config.json (the config
// that determines its bytes) and inputs.json (the MIDI files' and banks' fingerprints) and refuses
// another config's or inputs' clips.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>

#include "instret/core/config.h"
#include "instret/render/midi_corpus.h"

namespace instret {

// Bytes of a clip's WAV file: a 44-byte header and 16-bit mono samples.
uintmax_t clip_file_bytes(int64_t clip_samples);

// A record (relative paths under `root`) counts as finished only when it parses and every audio file
// it lists is there, a regular file of a clip's size (a deleted or half-copied WAV makes it
// unfinished). A failed record lists no files. The parsed record goes to `out`.
bool record_complete(const std::filesystem::path& root, const std::filesystem::path& record_path, int64_t clip_samples,
                     Json* out = nullptr);

// The config as saved with the dataset (config.json): what determines the output bytes (no shard,
// threads or output).
Json saved_nlakh_config(const Json& config);

// FNV-1a and size of a file, read in blocks ("<hash>:<bytes>"); a FIFO or device is refused.
std::string file_fingerprint(const std::filesystem::path& path);

// What the output depends on besides the config (inputs.json): each MIDI file of the corpus (path
// and content hash) and each of the config's banks (`bank_configs`) (a SoundFont's content hash; an NSynth folder's
// examples.json hash and the names and sizes of its WAV files).
Json inputs_fingerprint(const MidiCorpus& corpus, const Json& bank_configs);

// Whether the folder holds anything rendered: a file under single/ or multi/.
bool holds_clips(const std::filesystem::path& root);

// Finished clips are reused on resume, so a folder must never mix two configs or two sets of
// inputs: a folder that holds another config's dataset (config.json other than `saved`), or one
// rendered from other MIDI files or banks (inputs.json other than `inputs`: a file added, removed or
// changed between two shards), is refused (UsageError); a new one gets config.json and inputs.json
// before any clip. A folder with clips but without config.json or inputs.json (deleted, or from
// before inputs.json existed) cannot be checked: refused, unless `adopt_inputs` (--adopt-inputs)
// says that the current config and inputs are those it was rendered from. A config.json from before
// the twin analysis (no "twins") matches with twin policy keep, and one from before the test split
// (no multi.test, midi.test_fraction) with both at 0, and one from before the sample check (no
// sample_leaks) with sample_leaks keep.
void check_dataset_folder(const std::filesystem::path& root, const Json& saved, const Json& inputs,
                          const std::string& twin_policy, bool adopt_inputs);

}  // namespace instret
