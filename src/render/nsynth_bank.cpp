#include "instret/render/nsynth_bank.h"

#include <spdlog/spdlog.h>

#include <fstream>

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "instret/audio/io.h"
#include "instret/core/config.h"
#include "instret/core/error.h"
#include "instret/midi/family.h"

namespace instret {
namespace fs = std::filesystem;

NsynthBank::NsynthBank(const fs::path& dir, const BankFilter& filter, size_t cache_bytes)
    : dir_(dir), cache_limit_(cache_bytes) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError(dir.string() + ": NSynth folder not found");
  const fs::path json_path = dir / "examples.json";
  const Json examples = read_json_file(json_path);
  if (!examples.is_object()) throw FormatError(json_path.string() + ": expected an object note_str -> example");
  std::map<std::string, Instrument> by_name;
  std::map<std::string, std::map<int, std::vector<std::pair<int, std::string>>>> notes;
  for (const auto& [note_str, ex] : examples.items()) {
    auto bad = [&](const std::string& what) {
      return FormatError(json_path.string() + ": example '" + note_str + "': " + what);
    };
    if (!ex.is_object()) throw bad("not an object");
    for (const char* key : {"instrument_str", "instrument_family_str", "pitch", "velocity"})
      if (!ex.contains(key)) throw bad(std::string("missing field '") + key + "'");
    if (!ex["instrument_str"].is_string() || !ex["instrument_family_str"].is_string() ||
        !ex["pitch"].is_number_integer() || !ex["velocity"].is_number_integer())
      throw bad("wrong field types");
    const std::string inst_str = ex["instrument_str"].get<std::string>();
    const std::string family = ex["instrument_family_str"].get<std::string>();
    // Range-checked at full width: get<int>() of 2^32+60 would wrap to 60.
    const auto small = [](const Json& v) {
      return v.is_number_unsigned() ? v.get<uint64_t>() <= 127 : v.get<int64_t>() >= 0 && v.get<int64_t>() <= 127;
    };
    if (!small(ex["pitch"]) || !small(ex["velocity"])) throw bad("pitch or velocity out of 0..127");
    const int pitch = int(ex["pitch"].get<int64_t>());
    const int velocity = int(ex["velocity"].get<int64_t>());
    // The instrument id names the clip folders of a rendered dataset: it must stay inside them.
    if (inst_str.empty() || inst_str == "." || inst_str == ".." ||
        inst_str.find_first_of(std::string("/\0", 2)) != std::string::npos)
      throw bad("instrument_str '" + inst_str + "' is not a plain name");
    if (family_index(family) < 0) throw bad("unknown instrument family '" + family + "'");
    if (pitch < 0 || pitch > 127 || velocity < 0 || velocity > 127) throw bad("pitch or velocity out of 0..127");
    if (!filter.families.empty() &&
        std::find(filter.families.begin(), filter.families.end(), family) == filter.families.end())
      continue;
    if (note_str.empty() || note_str.find_first_of(std::string("/\0", 2)) != std::string::npos ||
        note_str.find("..") != std::string::npos)
      throw bad("note_str is not a plain file name");
    const fs::path wav = dir / "audio" / (note_str + ".wav");
    if (!fs::is_regular_file(wav, ec)) throw IoError(wav.string() + ": note audio listed in examples.json is missing");
    Instrument& inst = by_name[inst_str];
    if (inst.id.empty()) {
      inst.id = inst_str;
      inst.name = inst_str;
      inst.family = family;
      inst.source = "nsynth";
      inst.file = dir.string();
      inst.bank = -1;
      inst.program = -1;
      inst.pitch_min = 127;
      inst.pitch_max = 0;
    } else if (inst.family != family) {
      throw bad("instrument '" + inst_str + "' has two families");
    }
    inst.pitch_min = std::min(inst.pitch_min, pitch);
    inst.pitch_max = std::max(inst.pitch_max, pitch);
    notes[inst_str][pitch].emplace_back(velocity, note_str);
  }
  for (auto& [name, inst] : by_name) {  // std::map: sorted by id
    auto& by_pitch = notes[name];
    for (auto& [pitch, list] : by_pitch) std::sort(list.begin(), list.end());
    instruments_.push_back(inst);
    notes_.push_back(std::move(by_pitch));
  }
}

bool NsynthBank::has_pitch(size_t index, int pitch) const { return notes_.at(index).count(pitch) > 0; }

namespace {

// Bytes missing from a WAV file's data chunk (declared size minus what the file holds after the
// chunk header); 0 when complete or when the file is not a plain RIFF/WAVE file.
uint64_t wav_data_shortfall(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  char head[12];
  if (!in.read(head, 12) || std::string(head, 4) != "RIFF" || std::string(head + 8, 4) != "WAVE") return 0;
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  if (ec) return 0;
  uint64_t pos = 12;
  for (int k = 0; k < 64 && pos + 8 <= size; ++k) {
    unsigned char c[8];
    in.seekg(std::streamoff(pos));
    if (!in.read(reinterpret_cast<char*>(c), 8)) return 0;
    const uint64_t len = uint64_t(c[4]) | uint64_t(c[5]) << 8 | uint64_t(c[6]) << 16 | uint64_t(c[7]) << 24;
    if (std::string(reinterpret_cast<char*>(c), 4) == "data") return len > size - pos - 8 ? len - (size - pos - 8) : 0;
    pos += 8 + len + (len & 1);
  }
  return 0;
}

}  // namespace

std::shared_ptr<const std::vector<float>> NsynthBank::note_audio(const std::string& note_str) const {
  {
    std::lock_guard<std::mutex> lock(cache_mutex_);
    auto it = cache_.find(note_str);
    if (it != cache_.end()) return it->second;
  }
  const fs::path wav = dir_ / "audio" / (note_str + ".wav");
  // What is converted or incomplete is counted and logged, not silently accepted.
  const AudioInfo info = audio_info(wav);
  if (info.sample_rate != kSampleRate || info.channels != 1) {
    if (converted_++ == 0)
      spdlog::warn("note bank {}: {} is {} Hz with {} channels: notes like it are resampled to {} Hz and down-mixed "
                   "to mono",
                   dir_.string(), wav.string(), info.sample_rate, info.channels, kSampleRate);
  }
  if (const uint64_t missing = wav_data_shortfall(wav)) {
    ++truncated_;
    spdlog::warn("{}: the data chunk is {} bytes shorter than its header declares (truncated note): using what is there",
                 wav.string(), missing);
  }
  auto audio = std::make_shared<const std::vector<float>>(read_audio(wav, kSampleRate));
  std::lock_guard<std::mutex> lock(cache_mutex_);
  const size_t bytes = audio->size() * sizeof(float);
  if (cache_bytes_ + bytes > cache_limit_) {
    cache_.clear();
    cache_bytes_ = 0;
  }
  if (cache_.emplace(note_str, audio).second) cache_bytes_ += bytes;
  return audio;
}

void NsynthBank::render(size_t index, const std::vector<Note>& notes, float* out, int64_t n) const {
  const auto& by_pitch = notes_.at(index);
  std::fill(out, out + n, 0.0f);
  const int64_t attack = std::llround(kNsynthAttackSeconds * kSampleRate);
  const int64_t release = std::llround(kNsynthReleaseSeconds * kSampleRate);
  for (const Note& note : notes) {
    if (!(note.end > note.start)) continue;
    auto it = by_pitch.find(note.pitch);
    if (it == by_pitch.end()) continue;
    const auto& velocities = it->second;
    const std::string* best = &velocities.front().second;
    int best_distance = std::abs(velocities.front().first - note.velocity);
    for (const auto& [v, s] : velocities) {
      const int d = std::abs(v - note.velocity);
      if (d < best_distance) {
        best_distance = d;
        best = &s;
      }
    }
    const auto audio = note_audio(*best);
    const int64_t on = std::llround(note.start * kSampleRate);
    const int64_t off = std::llround(note.end * kSampleRate);
    const int64_t length = int64_t(audio->size());
    for (int64_t i = std::max<int64_t>(0, -on); i < length; ++i) {
      const int64_t t = on + i;
      if (t >= n) break;
      float gain = i < attack ? float(i + 1) / float(attack) : 1.0f;
      if (t >= off) {
        const int64_t r = t - off;
        if (r >= release) break;
        gain *= 1.0f - float(r) / float(release);
      }
      out[t] += gain * (*audio)[size_t(i)];
    }
  }
}

}  // namespace instret
