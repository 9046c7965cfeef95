#include "instret/render/nlakh_manifests.h"

#include <spdlog/spdlog.h>

#include <map>
#include <string>

#include "instret/core/fs.h"
#include "instret/midi/family.h"
#include "instret/render/nlakh_resume.h"

namespace instret {
namespace fs = std::filesystem;

Json write_nlakh_manifests(const fs::path& root, const Json& instruments, const std::vector<ClipTask>& tasks,
                           int64_t clip_samples, Json summary, const Json& saved_config) {
  write_json_file(root / "instruments.json", instruments);
  std::map<std::string, std::string> manifests;
  for (const char* split : kNlakhSplits) {
    Json s = {{"instruments", 0}, {"single_clips", 0}, {"single_failed", 0}, {"multi_mixtures", 0},
              {"multi_failed", 0}, {"missing", 0}, {"families", Json::object()}};
    for (const std::string& f : family_names())
      s["families"][f] = {{"instruments", 0}, {"single_clips", 0}, {"multi_stems", 0}};
    for (const Json& r : instruments)
      if (r["split"] == split) {
        s["instruments"] = s["instruments"].get<int>() + 1;
        auto& n = s["families"][r["family"].get<std::string>()]["instruments"];
        n = n.get<int>() + 1;
      }
    summary["splits"][split] = s;
  }
  int64_t missing = 0;
  for (const ClipTask& task : tasks) {
    const fs::path record_path = root / task.record();
    Json& s = summary["splits"][task.split];
    auto bump = [](Json& v) { v = v.get<int64_t>() + 1; };
    Json record;
    if (!record_complete(root, record_path, clip_samples, &record)) {  // never list a file that is not there
      bump(s["missing"]);
      ++missing;
      continue;
    }
    if (record.contains("failed")) {
      bump(s[task.kind == "single" ? "single_failed" : "multi_failed"]);
      continue;
    }
    record.erase("attempts");
    if (task.kind == "single") {
      bump(s["single_clips"]);
      bump(s["families"][record["family"].get<std::string>()]["single_clips"]);
    } else {
      bump(s["multi_mixtures"]);
      for (const Json& stem : record["stems"]) bump(s["families"][stem["family"].get<std::string>()]["multi_stems"]);
    }
    manifests[task.kind + "_" + task.split] += record.dump() + "\n";
  }
  for (const char* kind : {"single", "multi"})
    for (const char* split : kNlakhSplits) {
      const std::string name = std::string(kind) + "_" + split;
      write_file_atomically(root / (name + ".jsonl"), manifests[name]);
    }
  if (missing)
    spdlog::warn("{} clips are not rendered yet (other shards?) or have missing audio files: the manifests list "
                 "the finished ones", missing);
  write_json_file(root / "config.json", saved_config);
  write_json_file(root / "summary.json", summary);
  return summary;
}

}  // namespace instret
