"""Reference sample names per preset for tests/test_render_dedupe.cpp (soundfont_preset_samples):
for a few presets of TimGM6mb, sf_GMbank, MuseScore General (.sf3, whose writer leaves odd chunks
unpadded) and GeneralUser GS, the names of the samples their preset zones' instruments' zones play,
read with Python's struct module independently of the C++ reader. Run with Debian's python3:
python3 scripts/golden/make_sf2_samples_golden.py; writes tests/data/sf2_preset_samples.json.
"""
import json
import os
import struct

FONTS = {
    "/usr/share/sounds/sf2/TimGM6mb.sf2": [(0, 0), (0, 7), (0, 57), (0, 108)],
    "/usr/share/sounds/sf2/sf_GMbank.sf2": [(0, 7), (8, 80)],
    "/usr/share/sounds/sf3/MuseScore_General.sf3": [(0, 57), (8, 80)],
    "/usr/share/minuet/soundfonts/GeneralUser-v1.47.sf2": [(0, 42), (11, 5)],
}
INSTRUMENT, SAMPLE_ID = 41, 53


def pdta_chunks(data):
    """Sub-chunks of the pdta LIST (the last LIST of the file), tolerating unpadded odd chunks."""
    i = data.rfind(b"LIST", 0, data.rfind(b"pdta") + 4) + 12
    end = i - 4 + struct.unpack("<I", data[i - 8:i - 4])[0]
    out = {}
    while i < end:
        cid, size = data[i:i + 4].decode("latin1"), struct.unpack("<I", data[i + 4:i + 8])[0]
        out[cid] = data[i + 8:i + 8 + size]
        i += 8 + size
        if size & 1 and data[i:i + 4].decode("latin1") not in ("phdr", "pbag", "pmod", "pgen", "inst", "ibag",
                                                                "imod", "igen", "shdr"):
            i += 1
    return out


def records(blob, fmt):
    n = struct.calcsize(fmt)
    return [struct.unpack(fmt, blob[k:k + n]) for k in range(0, len(blob), n)]


def zone_gens(headers, bags, gens, bag_index, h):
    for b in range(headers[h][bag_index], headers[h + 1][bag_index]):
        yield [gens[g] for g in range(bags[b][0], bags[b + 1][0])]


def main():
    out = {}
    for path, presets in FONTS.items():
        c = pdta_chunks(open(path, "rb").read())
        phdr = records(c["phdr"], "<20sHHHIII")
        pbag, pgen = records(c["pbag"], "<HH"), records(c["pgen"], "<Hh")
        inst, ibag, igen = records(c["inst"], "<20sH"), records(c["ibag"], "<HH"), records(c["igen"], "<HH")
        shdr = records(c["shdr"], "<20sIIIIIbbHH")
        names = {}
        for p in range(len(phdr) - 1):
            program, bank = phdr[p][1], phdr[p][2]
            if (bank, program) not in presets:
                continue
            samples = set()
            for zone in zone_gens(phdr, pbag, pgen, 3, p):
                for op, amount in zone:
                    if op != INSTRUMENT:
                        continue
                    for izone in zone_gens(inst, ibag, igen, 1, amount):
                        for iop, iamount in izone:
                            if iop == SAMPLE_ID:
                                samples.add(shdr[iamount][0].split(b"\0")[0].decode("latin1").rstrip(" "))
            names[f"{bank}:{program}"] = sorted(samples)
        out[path] = names
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "tests", "data", "sf2_preset_samples.json"), "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
