#include "instret/data/nlakh_dataset.h"

#include <fcntl.h>
#include <sndfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <memory>
#include <sstream>
#include <unordered_map>

#include "instret/audio/io.h"
#include "instret/audio/sndfile_ptr.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace fs = std::filesystem;

namespace {

const char* kRenderHint = ": render it with render-nlakh";

// The files every split needs; the messages say what the folder is missing.
void check_dataset_files(const fs::path& root, const std::string& manifest) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    throw IoError(root.string() + " does not exist or is not a folder (not a rendered Nlakh dataset" + kRenderHint +
                  ")");
  for (const std::string& name : {std::string("instruments.json"), manifest, std::string("summary.json")})
    if (!fs::is_regular_file(root / name, ec))
      throw IoError(root.string() + " is not a rendered Nlakh dataset (no " + name + ")" + kRenderHint);
}

int64_t read_clip_samples(const fs::path& root) {
  const fs::path path = root / "summary.json";
  const Json summary = read_json_file(path);
  if (!summary.is_object() || !summary.contains("clip_samples") || !summary["clip_samples"].is_number_integer() ||
      summary["clip_samples"].get<int64_t>() <= 0)
    throw FormatError(path.string() + ": no positive integer clip_samples");
  return summary["clip_samples"].get<int64_t>();
}

std::unordered_map<std::string, int64_t> index_of(const std::vector<DatasetInstrument>& instruments) {
  std::unordered_map<std::string, int64_t> index;
  for (size_t i = 0; i < instruments.size(); ++i) index.emplace(instruments[i].id, int64_t(i));
  return index;
}

// One parsed manifest line with its location for messages.
struct ManifestLine {
  Json value;
  std::string where;  // "<file>:<line>"
};

std::vector<ManifestLine> read_manifest(const fs::path& path) {
  std::vector<ManifestLine> lines;
  std::istringstream in(read_file(path));
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const std::string where = path.string() + ":" + std::to_string(number);
    try {
      Json value = Json::parse(line);
      if (!value.is_object()) throw FormatError(where + ": not a JSON object");
      lines.push_back({std::move(value), where});
    } catch (const Json::parse_error& e) {
      throw FormatError(where + ": invalid JSON: " + e.what());
    }
  }
  return lines;
}

std::string string_field(const Json& value, const std::string& key, const std::string& where) {
  if (!value.contains(key) || !value[key].is_string())
    throw FormatError(where + ": missing or non-string field '" + key + "'");
  return value[key].get<std::string>();
}

int64_t instrument_field(const Json& value, const std::unordered_map<std::string, int64_t>& index,
                         const std::string& split, const std::string& where) {
  const std::string id = string_field(value, "instrument", where);
  const auto it = index.find(id);
  if (it == index.end())
    throw FormatError(where + ": instrument '" + id + "' is not a " + split + " instrument of instruments.json");
  return it->second;
}

// Checks that every WAV exists and has the byte size of a 16-bit mono WAV of clip_samples: the
// first one is opened and its header checked, the others must have its size. Cheap (one stat per file).
class WavSizeCheck {
 public:
  explicit WavSizeCheck(int64_t clip_samples) : clip_samples_(clip_samples) {}
  void operator()(const fs::path& path) {
    std::error_code ec;
    const uintmax_t size = fs::file_size(path, ec);
    if (ec)
      throw IoError("half-rendered or damaged dataset: " + path.string() + " is missing (rerun render-nlakh on it)");
    if (expected_ == 0) {
      check_header(path);
      expected_ = size;
    } else if (size != expected_) {
      throw FormatError("half-rendered or damaged dataset: " + path.string() + " has " + std::to_string(size) +
                        " bytes, expected " + std::to_string(expected_) + " (16-bit mono WAV of " +
                        std::to_string(clip_samples_) + " samples; rerun render-nlakh on it)");
    }
  }

 private:
  void check_header(const fs::path& path) const {
    SF_INFO info{};
    SndFilePtr file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file)
      throw FormatError("damaged dataset: " + path.string() + ": not a WAV file (" + sf_strerror(nullptr) + ")");
    if (info.samplerate != kSampleRate || info.channels != 1 || (info.format & SF_FORMAT_SUBMASK) != SF_FORMAT_PCM_16 ||
        info.frames != clip_samples_)
      throw FormatError("half-rendered or damaged dataset: " + path.string() + " holds " + std::to_string(info.frames) +
                        " frames at " + std::to_string(info.samplerate) + " Hz, " + std::to_string(info.channels) +
                        " channel(s), expected " + std::to_string(clip_samples_) +
                        " 16-bit mono samples at 16000 Hz (rerun render-nlakh on it)");
  }
  int64_t clip_samples_;
  uintmax_t expected_ = 0;
};

uint32_t le32(const unsigned char* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t le16(const unsigned char* p) { return uint16_t(p[0] | p[1] << 8); }

bool host_little_endian() {
  const uint16_t one = 1;
  unsigned char first;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// The fast path of read_clip_wav: one read() of the whole file and a walk over its RIFF chunks.
// Returns false, having written nothing, unless the file is a 16 kHz mono 16-bit PCM WAV whose data
// chunk holds exactly `samples` samples; libsndfile then reads the file and names the problem.
// (About 30% less CPU per clip than libsndfile's open + read: docs/benchmarks.md.)
bool read_pcm16_wav_fast(const fs::path& path, int64_t samples, float* out) {
  static const bool little_endian = host_little_endian();
  if (!little_endian) return false;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0 || st.st_size < 44 || st.st_size > 2 * samples + 65536) {
    ::close(fd);
    return false;
  }
  thread_local std::vector<unsigned char> bytes;
  const size_t size = size_t(st.st_size);
  bytes.resize(size);
  size_t got = 0;
  while (got < size) {
    const ssize_t n = ::read(fd, bytes.data() + got, size - got);
    if (n <= 0) break;
    got += size_t(n);
  }
  ::close(fd);
  if (got != size) return false;
  const unsigned char* b = bytes.data();
  if (std::memcmp(b, "RIFF", 4) != 0 || std::memcmp(b + 8, "WAVE", 4) != 0) return false;
  bool format_ok = false;
  size_t pos = 12;
  while (pos + 8 <= size) {
    const unsigned char* id = b + pos;
    const size_t length = le32(b + pos + 4);
    const size_t body = pos + 8;
    if (length > size - body) return false;
    if (std::memcmp(id, "fmt ", 4) == 0) {
      if (length < 16) return false;
      const uint16_t tag = le16(b + body);
      const bool pcm = tag == 1 || (tag == 0xFFFE && length >= 26 && le16(b + body + 24) == 1);
      format_ok =
          pcm && le16(b + body + 2) == 1 && le32(b + body + 4) == uint32_t(kSampleRate) && le16(b + body + 14) == 16;
    } else if (std::memcmp(id, "data", 4) == 0) {
      if (!format_ok || length != size_t(samples) * 2) return false;
      const unsigned char* p = b + body;
      constexpr float kScale = 1.0f / 32768.0f;
      for (int64_t i = 0; i < samples; ++i) {
        int16_t v;
        std::memcpy(&v, p + 2 * i, 2);
        out[i] = float(v) * kScale;
      }
      return true;
    }
    pos = body + length + (length & 1);
  }
  return false;
}

void check_index(int64_t i, size_t n, const char* what) {
  if (i < 0 || size_t(i) >= n)
    throw UsageError(std::string(what) + " index " + std::to_string(i) + " out of range [0, " + std::to_string(n) +
                     ")");
}

}  // namespace

std::vector<DatasetInstrument> split_instruments(const fs::path& root, const std::string& split) {
  const fs::path path = root / "instruments.json";
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw IoError(root.string() + " is not a rendered Nlakh dataset (no instruments.json)" + kRenderHint);
  const Json list = read_json_file(path);
  if (!list.is_array()) throw FormatError(path.string() + ": not a JSON array of instruments");
  std::vector<DatasetInstrument> out;
  std::unordered_map<std::string, size_t> seen;
  for (size_t k = 0; k < list.size(); ++k) {
    const std::string where = path.string() + ": entry " + std::to_string(k);
    const Json& e = list[k];
    if (!e.is_object()) throw FormatError(where + ": not a JSON object");
    if (string_field(e, "split", where) != split) continue;
    DatasetInstrument inst{string_field(e, "id", where), string_field(e, "name", where),
                           string_field(e, "family", where), string_field(e, "source", where),
                           e.contains("twin_group") ? string_field(e, "twin_group", where) : std::string()};
    if (e.contains("twin_group") && inst.twin_group.empty())
      throw FormatError(where + ": empty twin_group (the id of the group's first member, or the instrument's own)");
    if (!seen.emplace(inst.id, k).second)
      throw FormatError(where + ": duplicate instrument id '" + inst.id + "' (also entry " +
                        std::to_string(seen[inst.id]) + ")");
    out.push_back(std::move(inst));
  }
  std::unordered_map<std::string, const DatasetInstrument*> by_id;
  for (const DatasetInstrument& inst : out) by_id.emplace(inst.id, &inst);
  for (const DatasetInstrument& inst : out) {
    if (inst.twin_group.empty() || inst.twin_group == inst.id) continue;
    const auto g = by_id.find(inst.twin_group);
    if (g == by_id.end())
      throw FormatError(path.string() + ": instrument '" + inst.id + "' has twin_group '" + inst.twin_group +
                        "', which is not a " + split + " instrument");
    // A group is named by one member whose own group is itself (or unset, which means the same): no
    // chains (C -> B -> A) or cycles.
    if (!g->second->twin_group.empty() && g->second->twin_group != g->second->id)
      throw FormatError(path.string() + ": instrument '" + inst.id + "' has twin_group '" + inst.twin_group +
                        "', whose own twin_group is '" + g->second->twin_group +
                        "': a group is named by a member whose twin_group is itself");
  }
  return out;
}

void read_clip_wav(const fs::path& path, int64_t samples, float* out) {
  if (read_pcm16_wav_fast(path, samples, out)) return;
  SF_INFO info{};
  SndFilePtr file(sf_open(path.c_str(), SFM_READ, &info));
  if (!file) throw IoError(path.string() + ": cannot open audio: " + sf_strerror(nullptr));
  if (info.samplerate != kSampleRate || info.channels != 1 || (info.format & SF_FORMAT_SUBMASK) != SF_FORMAT_PCM_16 ||
      info.frames != samples)
    throw FormatError(path.string() + ": expected a 16-bit mono WAV at 16000 Hz of " + std::to_string(samples) +
                      " samples, found " + std::to_string(info.frames) + " frames at " +
                      std::to_string(info.samplerate) + " Hz, " + std::to_string(info.channels) + " channel(s)");
  thread_local std::vector<int16_t> pcm;
  pcm.resize(size_t(samples));
  const sf_count_t got = sf_readf_short(file.get(), pcm.data(), samples);
  if (got != samples)
    throw FormatError(path.string() + ": truncated audio: read " + std::to_string(got) + " of " +
                      std::to_string(samples) + " samples");
  constexpr float kScale = 1.0f / 32768.0f;
  for (int64_t i = 0; i < samples; ++i) out[i] = float(pcm[size_t(i)]) * kScale;
}

NlakhSingle NlakhSingle::open(const fs::path& root_in, const std::string& split) {
  const fs::path root = fs::absolute(root_in);
  const std::string manifest_name = "single_" + split + ".jsonl";
  check_dataset_files(root, manifest_name);
  NlakhSingle data;
  data.clip_samples_ = read_clip_samples(root);
  data.instruments_ = split_instruments(root, split);
  const auto index = index_of(data.instruments_);
  data.clips_by_instrument_.resize(data.instruments_.size());
  WavSizeCheck check(data.clip_samples_);
  for (const ManifestLine& line : read_manifest(root / manifest_name)) {
    SingleClip clip{root / string_field(line.value, "path", line.where),
                    instrument_field(line.value, index, split, line.where)};
    check(clip.path);
    data.clips_by_instrument_[size_t(clip.instrument)].push_back(int64_t(data.clips_.size()));
    data.clips_.push_back(std::move(clip));
  }
  if (data.clips_.empty())
    throw FormatError((root / manifest_name).string() + ": the " + split + " split has no single clips" + kRenderHint);
  for (size_t i = 0; i < data.clips_by_instrument_.size(); ++i)
    if (!data.clips_by_instrument_[i].empty()) data.instruments_with_clips_.push_back(int64_t(i));
  return data;
}

void NlakhSingle::read(int64_t clip, float* out) const {
  check_index(clip, clips_.size(), "NlakhSingle clip");
  read_clip_wav(clips_[size_t(clip)].path, clip_samples_, out);
}

NlakhMulti NlakhMulti::open(const fs::path& root_in, const std::string& split) {
  const fs::path root = fs::absolute(root_in);
  const std::string manifest_name = "multi_" + split + ".jsonl";
  check_dataset_files(root, manifest_name);
  NlakhMulti data;
  data.clip_samples_ = read_clip_samples(root);
  data.instruments_ = split_instruments(root, split);
  const auto index = index_of(data.instruments_);
  WavSizeCheck check(data.clip_samples_);
  for (const ManifestLine& line : read_manifest(root / manifest_name)) {
    MultiItem item{root / string_field(line.value, "path", line.where), {}, data.n_stems_};
    check(item.mix);
    const Json& stems = line.value.contains("stems") ? line.value["stems"] : Json();
    if (!stems.is_array() || stems.empty()) throw FormatError(line.where + ": missing or empty 'stems' array");
    for (size_t k = 0; k < stems.size(); ++k) {
      const std::string where = line.where + ": stem " + std::to_string(k);
      if (!stems[k].is_object()) throw FormatError(where + ": not a JSON object");
      MultiStem stem{root / string_field(stems[k], "path", where), instrument_field(stems[k], index, split, where)};
      check(stem.path);
      item.stems.push_back(std::move(stem));
    }
    data.n_stems_ += int64_t(item.stems.size());
    data.items_.push_back(std::move(item));
  }
  if (data.items_.empty())
    throw FormatError((root / manifest_name).string() + ": the " + split + " split has no mixtures" + kRenderHint);
  return data;
}

void NlakhMulti::read_mix(int64_t item, float* out) const {
  check_index(item, items_.size(), "NlakhMulti item");
  read_clip_wav(items_[size_t(item)].mix, clip_samples_, out);
}

void NlakhMulti::read_stem(int64_t item, int64_t stem, float* out) const {
  check_index(item, items_.size(), "NlakhMulti item");
  const MultiItem& it = items_[size_t(item)];
  check_index(stem, it.stems.size(), "NlakhMulti stem");
  read_clip_wav(it.stems[size_t(stem)].path, clip_samples_, out);
}

}  // namespace instret
