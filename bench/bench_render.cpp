// Nlakh rendering throughput (clips/s per core) for single clips and mixtures, from a SoundFont
// bank and from an NSynth-format bank (made here with render-notes from the same SoundFont).
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>

#include "instret/core/config.h"
#include "instret/core/log.h"
#include "instret/render/nlakh.h"
#include "instret/render/note_bank_writer.h"

using namespace instret;
namespace fs = std::filesystem;

namespace {

double seconds_of(const Json& config) {
  const auto t0 = std::chrono::steady_clock::now();
  render_nlakh(config);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Benchmark render-nlakh throughput"};
  std::string soundfont = "/usr/share/sounds/sf2/TimGM6mb.sf2";
  std::string midi = "/usr/share/games/openttd/baseset/openmsx";
  std::string work = (fs::temp_directory_path() / "instret_bench_render").string();
  std::vector<int> programs = {0, 24, 33, 40, 56, 65, 73, 81};
  int clips = 50, multi = 100, threads = 1;
  app.add_option("--soundfont", soundfont, "SoundFont for both banks");
  app.add_option("--midi", midi, "MIDI folder");
  app.add_option("--programs", programs, "GM programs to use as instruments");
  app.add_option("--clips", clips, "Single clips per instrument");
  app.add_option("--multi", multi, "Mixtures");
  app.add_option("--threads", threads, "Worker threads");
  app.add_option("--work", work, "Scratch folder (deleted first)");
  CLI11_PARSE(app, argc, argv);
  setup_logging(false, true);
  fs::remove_all(work);

  Json notes = note_bank_default_config();
  notes["soundfonts"] = {soundfont};
  notes["programs"] = programs;
  notes["output"] = (fs::path(work) / "nsynth").string();
  notes["threads"] = 0;
  const auto t0 = std::chrono::steady_clock::now();
  const Json made = write_note_bank(notes);
  const double note_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("render-notes: %lld notes of %lld instruments in %.1f s (all cores)\n",
              static_cast<long long>(made["notes"].get<int64_t>()),
              static_cast<long long>(made["instruments"].get<int64_t>()), note_s);

  std::printf("%-10s %-7s %8s %9s %14s\n", "bank", "kind", "clips", "seconds", "clips/s/core");
  for (const std::string type : {"soundfont", "nsynth"}) {
    for (const std::string kind : {"single", "multi"}) {
      Json c = nlakh_default_config();
      c["threads"] = threads;
      c["dedupe_correlation"] = 0.0;
      Json bank = {{"type", type}, {"split", "train"}};
      if (type == "soundfont") {
        bank["path"] = soundfont;
        bank["programs"] = programs;
      } else {
        bank["path"] = (fs::path(work) / "nsynth").string();
      }
      c["banks"] = Json::array({bank});
      c["midi"]["sources"] = {midi};
      c["midi"]["valid_fraction"] = 0.0;
      c["multi"]["valid"] = 0;
      // Set-up alone (banks, MIDI), then set-up plus rendering: the difference is rendering.
      c["single"]["clips_per_instrument"] = 0;
      c["multi"]["train"] = 0;
      c["output"] = (fs::path(work) / (type + "_" + kind + "_setup")).string();
      const double setup = seconds_of(c);
      int64_t count = 0;
      if (kind == "single") {
        c["single"]["clips_per_instrument"] = clips;
      } else {
        c["multi"]["train"] = multi;
      }
      c["output"] = (fs::path(work) / (type + "_" + kind)).string();
      const double total = seconds_of(c);
      const Json summary = read_json_file(fs::path(c["output"].get<std::string>()) / "summary.json");
      count = kind == "single" ? summary["splits"]["train"]["single_clips"].get<int64_t>()
                               : summary["splits"]["train"]["multi_mixtures"].get<int64_t>();
      const double render = std::max(1e-9, total - setup);
      std::printf("%-10s %-7s %8lld %9.2f %14.1f\n", type.c_str(), kind.c_str(), static_cast<long long>(count), render,
                  double(count) / render / threads);
    }
  }
  fs::remove_all(work);
  return 0;
}
