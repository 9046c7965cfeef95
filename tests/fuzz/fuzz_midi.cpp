// libFuzzer harness for the MIDI reader (not part of CTest): any input must parse or throw
// FormatError, never crash, hang or read out of bounds. Build and run (from the repository root):
//   clang++ -std=c++17 -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude \
//     tests/fuzz/fuzz_midi.cpp src/midi/smf.cpp src/core/fs.cpp -o /tmp/fuzz_midi
//   /tmp/fuzz_midi -max_total_time=60 -max_len=65536 /usr/share/games/openttd/baseset/openmsx
#include <cstddef>
#include <cstdint>
#include <string>

#include "instret/core/error.h"
#include "instret/midi/smf.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    instret::parse_midi(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
  } catch (const instret::FormatError&) {
  }
  return 0;
}
