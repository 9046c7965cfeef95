"""Reference values for tests/test_midi.cpp: pretty_midi's reading of a few Debian MIDI files.

Run with ~/pyref/bin/python scripts/golden/make_midi_golden.py (needs the Debian packages of
scripts/setup.sh). Writes tests/data/midi_golden.json: per file, pretty_midi's instruments
(program, is_drum, note count, first notes) and the latest note end.
"""
import json
import os
import sys

import pretty_midi

FILES = [
    "/usr/share/doc/mma/examples/misc/voicing.mid",
    "/usr/share/doc/mma/examples/solo/solo-sequence.mid",
    "/usr/share/games/dink/dink/Sound/12.mid",
    "/usr/share/planetblupi/music/music002.mid",
    "/usr/share/games/simutrans/music/03-Sunday-drivers.mid",
    "/usr/share/games/openttd/baseset/openmsx/be_sharp_bw_redfarn.mid",
]


def describe(path):
    pm = pretty_midi.PrettyMIDI(path)
    instruments = []
    for inst in pm.instruments:
        notes = sorted(inst.notes, key=lambda n: (n.start, n.pitch, n.end, n.velocity))
        instruments.append({
            "program": int(inst.program),
            "is_drum": bool(inst.is_drum),
            "notes": len(notes),
            "first": [[int(n.pitch), int(n.velocity), round(float(n.start), 6), round(float(n.end), 6)] for n in notes[:5]],
            "last_end": round(float(max(n.end for n in notes)), 6) if notes else 0.0,
        })
    instruments.sort(key=lambda i: (i["program"], i["is_drum"], i["notes"], i["first"]))
    end = max((n.end for i in pm.instruments for n in i.notes), default=0.0)
    return {"instruments": instruments, "end_time": round(float(end), 6),
            "total_notes": sum(len(i.notes) for i in pm.instruments)}


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = {}
    for path in FILES:
        if not os.path.exists(path):
            sys.exit(f"{path} missing: run scripts/setup.sh first")
        out[path] = describe(path)
    with open(os.path.join(root, "tests", "data", "midi_golden.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
