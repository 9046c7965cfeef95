#include "instret/render/note_bank_writer.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdio>
#include <thread>

#include "instret/audio/io.h"
#include "instret/core/error.h"
#include "instret/core/log.h"
#include "instret/core/parallel.h"
#include "instret/render/soundfont_bank.h"
#include "instret/midi/family.h"

namespace instret {
namespace fs = std::filesystem;

Json note_bank_default_config() {
  return Json{{"soundfonts", Json::array()},
              {"output", ""},
              {"programs", Json::array()},
              {"sf_banks", Json::array()},
              {"families", Json::array()},
              {"pitch_min", 21},
              {"pitch_max", 108},
              {"velocities", {25, 50, 75, 100, 127}},
              {"note_seconds", 4.0},
              {"release_seconds", 3.0},
              {"silence_peak", 1e-4},
              {"threads", 0}};
}

Json write_note_bank(const Json& c) {
  const std::string out = config_get<std::string>(c, "output");
  if (out.empty()) throw UsageError("config key 'output' (the note bank folder) is required");
  const auto soundfonts = config_get<std::vector<std::string>>(c, "soundfonts");
  if (soundfonts.empty()) throw UsageError("config key 'soundfonts' must list at least one .sf2/.sf3 file");
  BankFilter filter;
  filter.programs = config_get<std::vector<int>>(c, "programs");
  filter.banks = config_get<std::vector<int>>(c, "sf_banks");
  filter.families = config_get<std::vector<std::string>>(c, "families");
  const int pitch_min = config_get<int>(c, "pitch_min"), pitch_max = config_get<int>(c, "pitch_max");
  if (pitch_min < 0 || pitch_max > 127 || pitch_min > pitch_max) throw UsageError("need 0 <= pitch_min <= pitch_max <= 127");
  const auto velocities = config_get<std::vector<int>>(c, "velocities");
  for (int v : velocities)
    if (v < 1 || v > 127) throw UsageError("velocities must be in 1..127");
  const int64_t samples = std::llround(config_get<double>(c, "note_seconds") * kSampleRate);
  const double release = config_get<double>(c, "release_seconds");
  if (samples <= 0 || !(release > 0)) throw UsageError("note_seconds and release_seconds must be > 0");
  const double silence = config_get<double>(c, "silence_peak");
  int threads = config_get<int>(c, "threads");
  if (threads <= 0) threads = int(std::max(1u, std::thread::hardware_concurrency()));

  std::vector<std::unique_ptr<SoundFontBank>> banks;
  struct Job {
    const SoundFontBank* bank;
    size_t index;
    int number;  // NSynth instrument number
  };
  std::vector<Job> jobs;
  for (const std::string& path : soundfonts) {
    banks.push_back(std::make_unique<SoundFontBank>(path, filter));
    for (size_t i = 0; i < banks.back()->instruments().size(); ++i)
      jobs.push_back({banks.back().get(), i, int(jobs.size())});
  }
  // Per job, the examples it produced; merged in job order so the output is thread-independent.
  std::vector<Json> results(jobs.size());
  std::vector<int> silent(jobs.size(), 0);
  Progress progress("render-notes", int64_t(jobs.size()));
  std::vector<std::vector<float>> buffers(static_cast<size_t>(std::max(1, threads)),
                                         std::vector<float>(static_cast<size_t>(samples)));
  parallel_for(
      jobs.size(), threads,
      [&](size_t k, int worker) {
        std::vector<float>& audio = buffers[static_cast<size_t>(worker)];
        const Job& job = jobs[k];
        const Instrument& inst = job.bank->instruments()[job.index];
        const int family = family_index(inst.family);
        char name[96];
        std::snprintf(name, sizeof name, "%s_synthetic_%03d", inst.family.c_str(), job.number);
        const std::string instrument_str = name;
        Json examples = Json::object();
        for (int pitch = pitch_min; pitch <= pitch_max; ++pitch) {
          for (int velocity : velocities) {
            if (!job.bank->has_pitch(job.index, pitch)) {
              ++silent[k];
              continue;
            }
            job.bank->render(job.index, {{0.0, release, pitch, velocity}}, audio.data(), samples);
            double peak = 0.0;
            for (float v : audio) peak = std::max(peak, double(std::fabs(v)));
            if (!(peak >= silence)) {
              ++silent[k];
              continue;
            }
            std::snprintf(name, sizeof name, "%s-%03d-%03d", instrument_str.c_str(), pitch, velocity);
            const std::string note_str = name;
            write_wav16(fs::path(out) / "audio" / (note_str + ".wav"), audio);
            examples[note_str] = {{"note_str", note_str},
                                  {"instrument_str", instrument_str},
                                  {"instrument", job.number},
                                  {"instrument_family", family},
                                  {"instrument_family_str", inst.family},
                                  {"instrument_source", 2},
                                  {"instrument_source_str", "synthetic"},
                                  {"pitch", pitch},
                                  {"velocity", velocity},
                                  {"sample_rate", kSampleRate},
                                  {"qualities", std::vector<int>(10, 0)},
                                  {"qualities_str", Json::array()},
                                  {"soundfont", inst.file},
                                  {"preset", inst.name},
                                  {"preset_bank", inst.bank},
                                  {"preset_program", inst.program}};
          }
        }
        results[k] = std::move(examples);
      },
      &progress);
  progress.finish();
  Json all = Json::object();
  int64_t notes = 0, silent_total = 0;
  int note_id = 0;
  for (size_t k = 0; k < jobs.size(); ++k) {
    for (auto& [key, ex] : results[k].items()) {
      ex["note"] = note_id++;
      all[key] = ex;
      ++notes;
    }
    silent_total += silent[k];
  }
  write_json_file(fs::path(out) / "examples.json", all);
  return Json{{"instruments", jobs.size()}, {"notes", notes}, {"silent", silent_total}};
}

}  // namespace instret
