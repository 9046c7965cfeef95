"""Seeded fuzz of render-nlakh's MIDI corpus scan (issue 11): a folder of a few hundred MIDI files
made from Debian's openmsx files by truncation, byte flips and bogus chunk lengths, plus directory
link loops, FIFOs, dangling links and huge (sparse) files, all with MIDI names. render-nlakh must
finish (exit 0), count every file it could not use, and stay within bounded memory (GNU time's peak
RSS is printed). Not part of CTest:

    python3 scripts/fuzz/fuzz_midi_corpus.py --bin build/bin --seed 1 --count 300
"""
import argparse
import json
import os
import random
import subprocess
import sys
import tempfile

SRC = "/usr/share/games/openttd/baseset/openmsx"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/bin")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=300)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    originals = [open(os.path.join(SRC, f), "rb").read() for f in sorted(os.listdir(SRC)) if f.endswith(".mid")]
    with tempfile.TemporaryDirectory() as d:
        corpus = os.path.join(d, "midi")
        os.makedirs(os.path.join(corpus, "sub", "deeper"))
        names = 0
        for k in range(args.count):
            b = bytearray(rng.choice(originals))
            kind = rng.choice(["truncate", "flip", "length", "intact"])
            if kind == "truncate":
                b = b[: rng.randrange(len(b))]
            elif kind == "flip":
                for _ in range(rng.randint(1, 20)):
                    b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
            elif kind == "length":
                at = b.find(b"MTrk", rng.randrange(len(b)))
                if at >= 0:
                    b[at + 4:at + 8] = rng.choice([0xFFFFFFFF, 0x7FFFFFFF, 0, rng.randrange(1 << 32)]).to_bytes(4, "big")
            where = rng.choice(["", "sub", os.path.join("sub", "deeper")])
            open(os.path.join(corpus, where, "f%04d.mid" % k), "wb").write(bytes(b))
            names += 1
        # Hostile entries: link loops (not files), FIFOs, dangling links and huge files (counted).
        os.symlink("..", os.path.join(corpus, "sub", "up"))
        os.symlink(corpus, os.path.join(corpus, "sub", "deeper", "root"))
        os.symlink(os.path.join(corpus, "sub"), os.path.join(corpus, "sub2"))
        for i in range(5):
            os.mkfifo(os.path.join(corpus, "pipe%d.mid" % i))
            os.symlink(os.path.join(d, "nowhere%d.mid" % i), os.path.join(corpus, "dangling%d.mid" % i))
            with open(os.path.join(corpus, "huge%d.mid" % i), "wb") as f:
                f.truncate((1 << 30) + i)  # 1 GiB, sparse
            names += 3
        config = {"banks": [{"type": "soundfont", "path": "/usr/share/sounds/sf2/TimGM6mb.sf2", "split": "train",
                             "programs": [0, 24, 33]},
                            {"type": "soundfont", "path": "/usr/share/sounds/sf2/sf_GMbank.sf2", "split": "valid",
                             "programs": [0, 24, 33], "sf_banks": [0]}],
                  "midi": {"sources": [corpus]}, "single": {"clips_per_instrument": 1},
                  "multi": {"train": 2, "valid": 1}, "seed": args.seed}
        cfg = os.path.join(d, "config.json")
        json.dump(config, open(cfg, "w"))
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(d, "rss"),
                            os.path.join(args.bin, "render-nlakh"), "-q", "-c", cfg, "-o", os.path.join(d, "out"),
                            "-j", "2"], capture_output=True, text=True, timeout=600)
        rss = int(open(os.path.join(d, "rss")).read().split()[-1]) / 1024.0
        if p.returncode != 0:
            print("render-nlakh failed:", p.returncode, p.stderr[-500:])
            sys.exit(1)
        m = json.loads(p.stdout)["midi_files"]
        seen = m["train"] + m["valid"] + m["unreadable"] + m["duplicates"]
        print("%d MIDI-named entries; train %d, valid %d, unreadable %d, duplicates %d (sum %d); peak RSS %.1f MiB"
              % (names, m["train"], m["valid"], m["unreadable"], m["duplicates"], seen, rss))
        sys.exit(0 if seen == names else 1)


if __name__ == "__main__":
    main()
