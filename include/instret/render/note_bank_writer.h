// Writes an NSynth-format note bank (examples.json + audio/<note_str>.wav) from SoundFont presets,
// so that one's own instruments go through the NSynth code path exactly as real NSynth would.
#pragma once
#include "instret/core/config.h"

namespace instret {

// The render-notes config with its defaults (NSynth's: 4 s notes released at 3 s, pitches 21..108,
// velocities 25, 50, 75, 100, 127).
Json note_bank_default_config();

// Renders every selected preset x pitch x velocity of config["soundfonts"] into config["output"];
// notes the preset cannot play or that render silent are left out, as NSynth lacks such notes
// too. Returns {"instruments": n, "notes": n, "silent": n}.
Json write_note_bank(const Json& config);

}  // namespace instret
