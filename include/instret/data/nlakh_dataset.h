// Training datasets over render-nlakh output: Nlakh-single (clips of one instrument) and Nlakh-multi
// (mixtures with their stems) of one split, checked on open, audio read from disk on demand.
#pragma once
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace instret {

struct DatasetInstrument {
  std::string id, name, family, source;
  // The instrument's twin group (render-nlakh twins.policy group): the id of the group's first
  // member, the instrument's own id when it has no twin; "" when instruments.json has no such field
  // (other policies, renders from before twin groups).
  std::string twin_group;
};

// The instruments of `split` (e.g. "train"): every entry of <root>/instruments.json whose `split`
// field is `split`, in file order. An optional `twin_group` must be a string naming an instrument of
// the same split (FormatError otherwise). This is the one rule for instrument indices: NlakhSingle and
// NlakhMulti of one split both use it, so index k names the same instrument in both and in any
// class-indexed output (labels, embedding tables), whatever clips or stems the manifests hold. An
// instrument whose clips all failed to render is still listed (with no clips). Throws IoError when
// the file is missing, FormatError (naming the file and entry) for a malformed entry or a
// duplicate id.
std::vector<DatasetInstrument> split_instruments(const std::filesystem::path& root, const std::string& split);

struct SingleClip {
  std::filesystem::path path;  // absolute
  int64_t instrument;          // index into NlakhSingle::instruments()
};

// Nlakh-single of one split: the split's instruments (split_instruments) and its clips in manifest
// order. Checks on open: root exists and holds instruments.json, single_<split>.jsonl and
// summary.json (else IoError "X is not a rendered Nlakh dataset (no instruments.json): render it with
// render-nlakh"), every manifest line parses and names an instrument of that split (FormatError
// with file:line), every listed WAV exists (IoError "half-rendered or damaged dataset: <path> is
// missing (rerun render-nlakh on it)") with the size of a 16-bit mono 16 kHz WAV of clip_samples
// samples (FormatError naming the file), and the split has at least one clip (FormatError).
// Never loads audio at open. Reading is thread-safe.
class NlakhSingle {
 public:
  static NlakhSingle open(const std::filesystem::path& root, const std::string& split);
  const std::vector<DatasetInstrument>& instruments() const { return instruments_; }
  const std::vector<SingleClip>& clips() const { return clips_; }
  // Clip indices of each instrument (empty for an instrument without clips), in manifest order.
  const std::vector<std::vector<int64_t>>& clips_by_instrument() const { return clips_by_instrument_; }
  // Indices of the instruments that have at least one clip, increasing (what random mixing draws from).
  const std::vector<int64_t>& instruments_with_clips() const { return instruments_with_clips_; }
  int64_t clip_samples() const { return clip_samples_; }
  // Samples of clip i: exactly clip_samples() floats, int16 / 32768, read from disk now
  // (read_clip_wav: 16 kHz mono 16-bit WAV only; anything else is a FormatError naming the file).
  void read(int64_t clip, float* out) const;

 private:
  std::vector<DatasetInstrument> instruments_;
  std::vector<SingleClip> clips_;
  std::vector<std::vector<int64_t>> clips_by_instrument_;
  std::vector<int64_t> instruments_with_clips_;
  int64_t clip_samples_ = 0;
};

struct MultiStem {
  std::filesystem::path path;  // absolute
  int64_t instrument;          // index into NlakhMulti::instruments()
};

struct MultiItem {
  std::filesystem::path mix;  // absolute
  std::vector<MultiStem> stems;
  int64_t first_stem;  // row of stems[0] in the flat stem list (sum of the stem counts of earlier items)
};

// Nlakh-multi of one split: the split's instruments (split_instruments, the same indices as
// NlakhSingle of that split) and its mixtures in manifest order. The same checks as NlakhSingle on
// open (multi_<split>.jsonl instead of single_<split>.jsonl; every mix and stem WAV; every item has
// at least one stem). Reading is thread-safe.
class NlakhMulti {
 public:
  static NlakhMulti open(const std::filesystem::path& root, const std::string& split);
  const std::vector<DatasetInstrument>& instruments() const { return instruments_; }
  const std::vector<MultiItem>& items() const { return items_; }
  // Stems of all items (the rows of a target cache indexed by flat stem row).
  int64_t n_stems() const { return n_stems_; }
  int64_t clip_samples() const { return clip_samples_; }
  void read_mix(int64_t item, float* out) const;
  void read_stem(int64_t item, int64_t stem, float* out) const;

 private:
  std::vector<DatasetInstrument> instruments_;
  std::vector<MultiItem> items_;
  int64_t n_stems_ = 0;
  int64_t clip_samples_ = 0;
};

// Reads a 16 kHz mono 16-bit WAV of exactly `samples` samples into `out` (int16 / 32768): the
// reader under NlakhSingle::read and NlakhMulti::read_*. Such files are read with one read() and a
// check of their RIFF chunks; any other file goes through libsndfile: IoError when it cannot be
// opened, FormatError naming the file for any other format, length or a short read.
void read_clip_wav(const std::filesystem::path& path, int64_t samples, float* out);

}  // namespace instret
