// render-notes: write an NSynth-format note bank (examples.json + audio/*.wav) from SoundFonts.
#include <iostream>

#include "common/cli.h"
#include "instret/render/note_bank_writer.h"

int main(int argc, char** argv) {
  CLI::App app{"Render SoundFont presets into an NSynth-format note bank (4 s notes, note-off at 3 s, 16 kHz)"};
  instret::CommonOptions options;
  instret::add_common_flags(app, options);
  std::vector<std::string> soundfonts;
  std::string output;
  app.add_option("soundfonts", soundfonts, ".sf2/.sf3 files (else config 'soundfonts')");
  app.add_option("-o,--output", output, "Output folder (else config 'output')");
  return instret::run_tool(app, argc, argv, options, [&] {
    instret::Json config = instret::tool_config(instret::note_bank_default_config(), options);
    if (!soundfonts.empty()) config["soundfonts"] = soundfonts;
    if (!output.empty()) config["output"] = output;
    std::cout << instret::write_note_bank(config).dump() << std::endl;
  });
}
