"""Seeded fuzz of render-nlakh's MIDI corpus scan (issues 11 and 23): a folder of a few hundred MIDI
files made from Debian's openmsx files by truncation, byte flips and bogus chunk lengths, plus
directory link loops, FIFOs, dangling links, huge (sparse) files, a 4 MB valid file with 20 hard and
20 symbolic links to it, and names holding newlines, fake log lines and escape sequences, all with
MIDI names. render-nlakh must finish (exit 0), count every entry (links as duplicates), write no
control character to the log, and stay within bounded memory (GNU time's peak RSS is printed with
the largest input). Not part of CTest:

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
        # One large valid file (one track, ~700,000 notes, ~4 MB) and 40 links to it: parsed once.
        events = bytearray(b"\x00\x90")
        for n in range(700000):
            p = 40 + n % 40
            events += bytes([p, 100, 1, p, 0, 1])
        events = events[:-1] + b"\x00\xff\x2f\x00"
        big = b"MThd" + (6).to_bytes(4, "big") + (0).to_bytes(2, "big") + (1).to_bytes(2, "big") + \
            (96).to_bytes(2, "big") + b"MTrk" + len(events).to_bytes(4, "big") + bytes(events)
        big_path = os.path.join(corpus, "big.mid")
        open(big_path, "wb").write(big)
        names += 1
        for i in range(20):
            os.link(big_path, os.path.join(corpus, "sub", "hard%d.mid" % i))
            os.symlink(big_path, os.path.join(corpus, "sub", "deeper", "sym%d.mid" % i))
            names += 2
        # Names that would forge log lines or drive the terminal.
        for i in range(5):
            name = "x%d\n[00:00:00.000] [critical] forged\x1b[31m\r.mid" % i
            open(os.path.join(corpus, name), "wb").write(b"MThd" + os.urandom(rng.randrange(1, 64)))
            names += 1
        largest = max(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(corpus) for f in fs
                      if os.path.isfile(os.path.join(r, f)) and os.path.getsize(os.path.join(r, f)) < (1 << 30))
        config = {"banks": [{"type": "soundfont", "path": "/usr/share/sounds/sf2/TimGM6mb.sf2", "split": "train",
                             "programs": [0, 24, 33]},
                            {"type": "soundfont", "path": "/usr/share/sounds/sf2/sf_GMbank.sf2", "split": "valid",
                             "programs": [0, 24, 33], "sf_banks": [0]}],
                  "midi": {"sources": [corpus]}, "single": {"clips_per_instrument": 1},
                  "multi": {"train": 2, "valid": 1}, "seed": args.seed}
        cfg = os.path.join(d, "config.json")
        json.dump(config, open(cfg, "w"))
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", os.path.join(d, "rss"),
                            os.path.join(args.bin, "render-nlakh"), "-c", cfg, "-o", os.path.join(d, "out"),
                            "-j", "2"], capture_output=True, text=True, timeout=600)
        rss = int(open(os.path.join(d, "rss")).read().split()[-1]) / 1024.0
        if p.returncode != 0:
            print("render-nlakh failed:", p.returncode, p.stderr[-500:])
            sys.exit(1)
        m = json.loads(p.stdout)["midi_files"]
        seen = m["train"] + m["valid"] + m["unreadable"] + m["duplicates"]
        forged = [l for l in p.stderr.splitlines() if l.startswith("[00:00:00.000] [critical]")]
        controls = sum(p.stderr.count(c) for c in "\x1b\r")
        print("%d MIDI-named entries; train %d, valid %d, unreadable %d, duplicates %d (sum %d); forged log lines %d, "
              "control characters in the log %d; peak RSS %.1f MiB; largest input %.1f MB (sparse 1 GiB files never read)"
              % (names, m["train"], m["valid"], m["unreadable"], m["duplicates"], seen, len(forged), controls, rss,
                 largest / 1e6))
        sys.exit(0 if seen == names and not forged and not controls else 1)


if __name__ == "__main__":
    main()
