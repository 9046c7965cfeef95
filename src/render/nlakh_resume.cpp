#include "instret/render/nlakh_resume.h"

#include <spdlog/spdlog.h>

#include <set>
#include <vector>

#include "instret/core/error.h"
#include "instret/core/fs.h"

namespace instret {
namespace fs = std::filesystem;

uintmax_t clip_file_bytes(int64_t clip_samples) { return 44 + 2 * uintmax_t(clip_samples); }

bool record_complete(const fs::path& root, const fs::path& record_path, int64_t clip_samples, Json* out) {
  std::error_code ec;
  if (!fs::is_regular_file(record_path, ec)) return false;
  try {
    Json record = read_json_file(record_path);
    if (!record.contains("failed")) {
      std::vector<std::string> files{record.at("path").get<std::string>()};
      if (record.contains("stems"))
        for (const Json& stem : record["stems"]) files.push_back(stem.at("path").get<std::string>());
      for (const std::string& f : files) {
        const fs::path p = root / f;
        if (!fs::is_regular_file(p, ec) || fs::file_size(p, ec) != clip_file_bytes(clip_samples) || ec) return false;
      }
    }
    if (out) *out = std::move(record);
    return true;
  } catch (const std::exception&) {
    return false;  // unreadable or malformed record: render the clip again
  }
}

Json saved_nlakh_config(const Json& config) {
  Json saved = config;
  saved.erase("shard");
  saved.erase("threads");
  saved.erase("output");
  return saved;
}

std::string file_fingerprint(const fs::path& path) {
  RegularFile in(path);  // a FIFO or device is refused, not read forever
  uint64_t h = 1469598103934665603ull, n = 0;
  std::vector<char> buf(1 << 20);
  for (size_t got = buf.size(); got == buf.size();) {
    got = in.read(buf.data(), buf.size());
    for (size_t i = 0; i < got; ++i) {
      h ^= static_cast<unsigned char>(buf[i]);
      h *= 1099511628211ull;
    }
    n += got;
  }
  return std::to_string(h) + ":" + std::to_string(n);
}

Json inputs_fingerprint(const MidiCorpus& corpus, const Json& bank_configs) {
  Json midi = Json::array();
  for (const CorpusFile& f : corpus.files) midi.push_back({f.path, f.fingerprint});
  Json banks = Json::array();
  for (const Json& b : bank_configs) {
    const fs::path path = b.value("path", "");
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      Json wavs = Json::object();
      for (fs::directory_iterator it(path / "audio", ec), end; !ec && it != end; it.increment(ec))
        if (it->is_regular_file(ec)) wavs[it->path().filename().string()] = uint64_t(it->file_size(ec));
      banks.push_back({{"path", path.string()}, {"examples.json", file_fingerprint(path / "examples.json")},
                       {"audio", wavs}});
    } else {
      banks.push_back({{"path", path.string()}, {"content", file_fingerprint(path)}});
    }
  }
  return Json{{"midi", midi}, {"banks", banks}};
}

bool holds_clips(const fs::path& root) {
  for (const char* sub : {"single", "multi"}) {
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root / sub, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) return true;
  }
  return false;
}

void check_dataset_folder(const fs::path& root, const Json& saved, const Json& inputs, const std::string& twin_policy,
                          bool adopt_inputs) {
  const fs::path path = root / "config.json";
  const fs::path inputs_path = root / "inputs.json";
  if ((!fs::exists(path) || !fs::exists(inputs_path)) && holds_clips(root)) {
    const std::string missing = fs::exists(path) ? "inputs.json" : "config.json";
    if (!adopt_inputs)
      throw UsageError(root.string() + " holds rendered clips but no " + missing +
                       ": the config and inputs they were rendered from cannot be checked; render into a new "
                       "folder, or pass --adopt-inputs if the current ones are those");
    spdlog::warn("{} holds rendered clips but no {}: taking the current config and inputs as theirs (--adopt-inputs)",
                 root.string(), missing);
  }
  if (fs::exists(path)) {
    // A dataset rendered before the twin analysis existed has no "twins" key: with policy keep the
    // twins change nothing but the summary, so its clips stay valid.
    Json now = saved;
    Json stored = read_json_file(path);
    if (stored.is_object() && !stored.contains("twins") && twin_policy == "keep") now.erase("twins");
    // A dataset rendered before the sample check (no "sample_leaks") matches it at keep, and one from
    // before the test split (no multi.test, midi.test_fraction) matches them at 0.
    if (stored.is_object() && !stored.contains("sample_leaks") && now.value("sample_leaks", Json()) == "keep")
      now.erase("sample_leaks");
    for (const auto& [section, key] : {std::pair<const char*, const char*>{"multi", "test"}, {"midi", "test_fraction"}})
      if (stored.is_object() && stored.contains(section) && stored[section].is_object() &&
          !stored[section].contains(key) && now.contains(section) && now[section].value(key, Json()) == Json(0))
        now[section].erase(key);
    if (stored != now)
      throw UsageError(root.string() + " holds a dataset rendered with another config (see its config.json); "
                       "choose another output folder or delete it");
    if (fs::exists(inputs_path)) {
      const Json stored = read_json_file(inputs_path);
      if (stored != inputs) {
        std::set<std::string> before, now;
        for (const Json& m : stored.value("midi", Json::array())) before.insert(m.dump());
        for (const Json& m : inputs["midi"]) now.insert(m.dump());
        size_t gone = 0, added = 0;
        for (const auto& m : before) gone += now.count(m) == 0;
        for (const auto& m : now) added += before.count(m) == 0;
        throw UsageError(root.string() + " holds a dataset rendered from other inputs (see its inputs.json): " +
                         std::to_string(added) + " MIDI files added or changed, " + std::to_string(gone) +
                         " removed or changed" + (stored.value("banks", Json()) != inputs["banks"] ? ", banks changed" : "") +
                         "; restore them, or render into another folder");
      }
      return;
    }
  } else {
    write_json_file(path, saved);
  }
  write_json_file(inputs_path, inputs);
}

}  // namespace instret
