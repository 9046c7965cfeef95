"""Seeded fuzz of checkpoint loading (issue 23): `embed --single` on mutations of a real instret
checkpoint (import-weights of tests/data/models/ref_han_cnn.pt): truncations, bit flips with the
CRC left as it was, bit flips and short tensor records with CRCs recomputed (the short records
crashed LibTorch's reader), records rezipped deflated, and paths that are FIFOs, links to the file,
or links to /dev/zero. Every run must end with exit 0 or exit 1 with exactly one error line, within
the timeout (no hang), never by a signal; peak memory (GNU time, the tool alone) is reported against
the largest input. Not part of CTest (minutes):

    python3 scripts/fuzz/fuzz_checkpoints.py --bin build/bin --seed 1 --count 300
"""
import argparse
import os
import random
import subprocess
import sys
import tempfile
import zipfile

from fuzz_common import REF, ROOT, TINY, records, rezip, run_measured  # noqa: E402

CLIP = os.path.join(ROOT, "tests", "data", "audio", "city_blues_5s.wav")


def mutate(rng, base, d, k):
    """(kind, path of the input to load)."""
    path = os.path.join(d, "c%d.pt" % k)
    kind = rng.choice(["truncate", "flip", "flip_fixed_crc", "short_record", "short_record", "deflated",
                       "fifo", "link", "dev_zero", "intact"])
    recs = records(base)
    tensors = [i for i, (n, _) in enumerate(recs) if "/data/" in n]
    if kind == "truncate":
        data = base[: rng.randrange(len(base))]
    elif kind == "flip":
        b = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        data = bytes(b)
    elif kind == "flip_fixed_crc":
        i = rng.randrange(len(recs))
        body = bytearray(recs[i][1])
        if body:
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        recs[i] = (recs[i][0], bytes(body))
        data = rezip(recs)
    elif kind == "short_record":  # a tensor record cut short, its CRC that of the short bytes
        i = rng.choice(tensors)
        name, body = recs[i]
        recs[i] = (name, body[: rng.choice([0, 4, rng.randrange(max(1, len(body)))])])
        data = rezip(recs)
    elif kind == "deflated":
        data = rezip(recs, zipfile.ZIP_DEFLATED)
    elif kind == "fifo":
        os.mkfifo(path)
        return kind, path
    elif kind == "link":
        target = os.path.join(d, "base.pt")
        os.symlink(target, path)
        return kind, path
    elif kind == "dev_zero":
        os.symlink("/dev/zero", path)
        return kind, path
    else:
        data = base
    with open(path, "wb") as f:
        f.write(data)
    return kind, path


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--timeout", type=int, default=60)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    bad, worst, kinds, outcomes, largest = 0, (0.0, ""), {}, {0: 0, 1: 0}, 0
    with tempfile.TemporaryDirectory() as d:
        base_path = os.path.join(d, "base.pt")
        subprocess.run([os.path.join(args.bin, "import-weights"), "-q", "-i", REF, "-o", base_path] + TINY, check=True)
        base = open(base_path, "rb").read()
        for k in range(args.count):
            kind, path = mutate(rng, base, d, k)
            if os.path.isfile(path):
                largest = max(largest, os.path.getsize(path))
            rc, stderr, lines, rss = run_measured(
                [os.path.join(args.bin, "embed"), "-q", "--single", path, CLIP, "-o", os.path.join(d, "e.npy")], d,
                args.timeout)
            ok = (rc == 0 and not lines) or (rc == 1 and len(lines) == 1)
            if rc in outcomes:
                outcomes[rc] += 1
            if not ok:
                bad += 1
                print("BAD", k, kind, "rc", rc, stderr[-300:])
            if args.verbose:
                print(k, kind, rc, "%.1f MiB" % rss, lines[0][:150] if lines else "")
            kinds[kind] = kinds.get(kind, 0) + 1
            if rss > worst[0]:
                worst = (rss, "%s #%d" % (kind, k))
            if os.path.lexists(path):
                os.remove(path)
    print("%d inputs %s: %d loaded, %d refused with one error line, %d bad (crash, hang or other exit); "
          "peak RSS of one embed run %.1f MiB (%s); largest input %d bytes" %
          (args.count, kinds, outcomes[0], outcomes[1], bad, worst[0], worst[1], largest))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
