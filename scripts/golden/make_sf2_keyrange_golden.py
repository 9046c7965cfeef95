"""Reference key ranges for tests/test_bank.cpp: the keys each of a few TimGM6mb presets can play,
read from the SoundFont's preset and instrument zones (keyRange generators), independently of
FluidSynth. Run with ~/pyref/bin/python scripts/golden/make_sf2_keyrange_golden.py; writes
tests/data/sf2_key_ranges.json.
"""
import json
import os
import struct

SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"
PROGRAMS = [0, 67, 68, 77, 78]  # piano, baritone sax, oboe, shakuhachi, whistle (bank 0)
KEY_RANGE, INSTRUMENT, SAMPLE_ID = 43, 41, 53


def chunks(data):
    """Sub-chunks of the pdta LIST."""
    i = data.find(b"pdta") + 4
    end = i - 12 + 8 + struct.unpack("<I", data[i - 8:i - 4])[0]
    out = {}
    while i < end:
        cid, size = data[i:i + 4].decode(), struct.unpack("<I", data[i + 4:i + 8])[0]
        out[cid] = data[i + 8:i + 8 + size]
        i += 8 + size + (size & 1)
    return out


def records(blob, fmt):
    n = struct.calcsize(fmt)
    return [struct.unpack(fmt, blob[k:k + n]) for k in range(0, len(blob), n)]


def zones(headers, bags, gens, bag_index):
    """For each header (all but the terminal one): list of zones, each a dict gen -> amount."""
    result = []
    for h in range(len(headers) - 1):
        zs = []
        for b in range(headers[h][bag_index], headers[h + 1][bag_index]):
            g0, g1 = bags[b][0], bags[b + 1][0]
            zs.append({gens[g][0]: gens[g][1] for g in range(g0, g1)})
        result.append(zs)
    return result


def key_range(zone):
    if KEY_RANGE not in zone:
        return set(range(128))
    amount = zone[KEY_RANGE]
    lo, hi = amount & 0xFF, amount >> 8
    return set(range(lo, hi + 1))


def main():
    data = open(SF2, "rb").read()
    c = chunks(data)
    phdr = records(c["phdr"], "<20sHHHIII")
    pbag = records(c["pbag"], "<HH")
    pgen = records(c["pgen"], "<HH")
    inst = records(c["inst"], "<20sH")
    ibag = records(c["ibag"], "<HH")
    igen = records(c["igen"], "<HH")
    preset_zones = zones(phdr, pbag, pgen, 3)
    inst_zones = zones(inst, ibag, igen, 1)
    out = {}
    for p, (name, program, bank, *_rest) in enumerate(phdr[:-1]):
        if bank != 0 or program not in PROGRAMS:
            continue
        keys = set()
        for pz in preset_zones[p]:
            if INSTRUMENT not in pz:
                continue  # global zone
            ikeys = set()
            for iz in inst_zones[pz[INSTRUMENT]]:
                if SAMPLE_ID in iz:
                    ikeys |= key_range(iz)
            keys |= key_range(pz) & ikeys
        out[str(program)] = {"name": name.split(b"\0")[0].decode("latin1"), "keys": sorted(keys)}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "tests", "data", "sf2_key_ranges.json"), "w") as f:
        json.dump(out, f)
        f.write("\n")


if __name__ == "__main__":
    main()
