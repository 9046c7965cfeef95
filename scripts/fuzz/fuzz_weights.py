"""Seeded fuzz of import-weights on hostile .pth files (issues 11 and 23): truncations, byte flips with
and without a recomputed CRC-32, tensor records cut short with a recomputed CRC-32, decompression
bombs, overlapping records, malicious pickles, pickles of millions of objects, valid files whose
data.pkl is deflated at many sizes (trailing bytes after STOP, which torch.load ignores too), and
paths that are FIFOs, links to a valid file or links to /dev/zero, made from
tests/data/models/ref_han_cnn.pt. Every run must end with exit 0 (only when torch.load reads
the file too) or exit 1 with exactly one error line; peak memory (ru_maxrss of the child) is
reported against the file size. Not part of CTest (it needs Debian's PyTorch for torch.load):

    /usr/bin/python3 scripts/fuzz/fuzz_weights.py --bin build/bin --seed 1 --count 300
"""
import argparse
import os
import pickle
import random
import sys
import tempfile
import zipfile

import torch

from fuzz_common import REF, ROOT, TINY, records, rezip, run_measured  # noqa: E402



PWNED = "/tmp/instret_fuzz_pwned"


class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + PWNED,))


def mutate(rng, base):
    recs = records(base)
    kind = rng.choice(["truncate", "flip", "flip_fixed_crc", "bomb", "lying_size", "overlap", "evil_pickle",
                       "pickle_garbage", "deflate", "short_record", "deflate_sizes", "deflate_sizes",
                       "object_bomb", "fifo", "link", "dev_zero"])
    if kind in ("fifo", "link", "dev_zero"):
        return kind, None
    if kind == "short_record":  # a tensor record cut short, its CRC that of the short bytes
        i = rng.choice([i for i, (n, _) in enumerate(recs) if "/data/" in n])
        recs[i] = (recs[i][0], recs[i][1][: rng.choice([0, 4, rng.randrange(max(1, len(recs[i][1])))])])
        return kind, rezip(recs)
    if kind == "deflate_sizes":  # valid: data.pkl padded after its STOP to sizes around 64 KiB multiples
        size = rng.choice([1, 2, 3, 17, 96]) * 65536 + rng.randint(-64, 64)
        recs = [(n, b + b"\0" * max(0, size - len(b)) if n.endswith("data.pkl") else b) for n, b in recs]
        recs.append(("ref_han_cnn/pad", os.urandom(size // 8)))  # keeps the file above 1/8 of what it declares
        return kind, rezip(recs, zipfile.ZIP_DEFLATED)
    if kind == "object_bomb":  # millions of NONE opcodes: objects before the first check
        recs = [(n, b"\x80\x02" + b"N" * rng.choice([1 << 20, 4 << 20]) + b"." if n.endswith("data.pkl") else b)
                for n, b in recs]
        return kind, rezip(recs)
    if kind == "truncate":
        return kind, base[: rng.randrange(len(base))]
    if kind == "flip":
        b = bytearray(base)
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(len(b))] ^= 1 << rng.randrange(8)
        return kind, bytes(b)
    if kind == "flip_fixed_crc":
        i = rng.randrange(len(recs))
        body = bytearray(recs[i][1])
        if body:
            body[rng.randrange(len(body))] ^= 1 << rng.randrange(8)
        recs[i] = (recs[i][0], bytes(body))
        return kind, rezip(recs)
    if kind == "bomb":
        name = rng.choice([n for n, _ in recs if n.endswith("data.pkl") or "/data/" in n])
        recs = [(n, b if n != name else b"\0" * rng.choice([1 << 24, 1 << 27])) for n, b in recs]
        return kind, rezip(recs, zipfile.ZIP_DEFLATED)
    if kind == "lying_size":
        data = bytearray(rezip(recs, zipfile.ZIP_DEFLATED))
        cd = data.rfind(b"PK\x01\x02", 0, len(data))  # last central entry: its uncompressed size
        data[cd + 24:cd + 28] = rng.choice([1, 0xFFFFFFF0]).to_bytes(4, "little")
        return kind, bytes(data)
    if kind == "overlap":
        data = bytearray(base)
        cd = data.find(b"PK\x01\x02")
        second = data.find(b"PK\x01\x02", cd + 4)
        data[second + 42:second + 46] = data[cd + 42:cd + 46]  # second entry -> first entry's bytes
        return kind, bytes(data)
    if kind == "evil_pickle":
        recs = [(n, pickle.dumps(Evil(), protocol=2) if n.endswith("data.pkl") else b) for n, b in recs]
        return kind, rezip(recs)
    if kind == "pickle_garbage":
        recs = [(n, bytes(rng.randrange(256) for _ in range(rng.randint(1, 200))) if n.endswith("data.pkl") else b)
                for n, b in recs]
        return kind, rezip(recs)
    return kind, rezip(recs, zipfile.ZIP_DEFLATED)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "bin"))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = open(REF, "rb").read()
    bad, pwned, worst, kinds, largest, outcomes = 0, 0, (0.0, ""), {}, 0, {0: 0, 1: 0}
    with tempfile.TemporaryDirectory() as d:
        for k in range(args.count):
            kind, data = mutate(rng, base)
            path = os.path.join(d, "f%d.pth" % k)
            if kind == "fifo":
                os.mkfifo(path)
            elif kind == "link":
                os.symlink(os.path.abspath(REF), path)
            elif kind == "dev_zero":
                os.symlink("/dev/zero", path)
            else:
                open(path, "wb").write(data)
                largest = max(largest, len(data))
            torch_ok = kind == "link"
            if kind not in ("evil_pickle", "fifo", "link", "dev_zero"):  # torch.load (1.13) would run the malicious pickle itself
                try:
                    torch.load(path, map_location="cpu")
                    torch_ok = True
                except Exception:
                    pass
            if os.path.exists(PWNED):
                os.remove(PWNED)
            rc, stderr, lines, rss = run_measured(
                [os.path.join(args.bin, "import-weights"), "-q", "-i", path, "-o", os.path.join(d, "out.ckpt")] + TINY,
                d, 120)
            if rc in outcomes:
                outcomes[rc] += 1
            ok = (rc == 0 and torch_ok and not lines) or (rc == 1 and len(lines) == 1)
            if os.path.exists(PWNED):
                pwned += 1
                ok = False
            if not ok:
                bad += 1
                print("BAD", k, kind, "rc", rc, "torch.load", torch_ok, stderr[-300:])
            if args.verbose:
                print(k, kind, len(data), rc, "%.1f MiB" % rss, lines[0][:150] if lines else "")
            kinds[kind] = kinds.get(kind, 0) + 1
            if rss > worst[0]:
                worst = (rss, "%s #%d (%d bytes)" % (kind, k, len(data) if data else 0))
            if os.path.lexists(path):
                os.remove(path)
    print("%d files %s: %d imported, %d refused with one error line, %d bad; peak RSS of one import-weights run "
          "%.1f MiB (%s); largest input %d bytes; malicious pickles run: %d" %
          (args.count, kinds, outcomes[0], outcomes[1], bad, worst[0], worst[1], largest, pwned))
    sys.exit(1 if bad or pwned else 0)


if __name__ == "__main__":
    main()
