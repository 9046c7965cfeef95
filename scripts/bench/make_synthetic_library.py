#!/usr/bin/env python3
"""Writes a synthetic instrument library in the INSTRLIB format of `retrieve index`.

For benchmarking `retrieve query` on libraries far bigger than any real one here (10^6 instruments).
The format is the one of include/instret/retrieval/library.h and src/retrieval/library.cpp
(docs/retrieval.md, "The library file"):

    bytes 0-7    b"INSTRLIB"
    bytes 8-15   uint64 little-endian H, the length of the JSON header
    H bytes      JSON header (format, version, encoder, instruments, clips, layout)
    zero bytes   up to the next multiple of 64
    float32 LE   the clip embeddings (n_clips x dim, row-major), then the instrument means
                 (n_instruments x dim, row-major)

The vectors follow the recipe of bench/bench_search.cpp and scripts/bench/bench_search.py:
C = clamp(n / 1000, 16, 1000) cluster centres ~ N(0, I); each instrument's mean = a random centre +
N(0, I). Each instrument gets --clips-per-instrument clips (default 1, the fewest a library made by
`retrieve index` has): with one clip the clip embedding is the mean; with K > 1 the clips are the
target + N(0, 0.1^2 I) and the stored mean is their float64 mean rounded to float32, as
Library::finish() computes it.

The encoder hash must be the one `retrieve query` checks (check_library_encoder in
src/retrieval/query.cpp): the 64-bit FNV-1a hash (file_hash, src/core/fs.cpp) of the single-encoder
checkpoint that the multi checkpoint's run config names (`single_encoder`). With --multi CKPT this
script reads that path and the embedding size (model_config.emb_dim) from the checkpoint and hashes
the file; with --single CKPT --dim D it hashes that checkpoint; --encoder-hash HEX sets it directly.

Run:
    ~/pyref/bin/python scripts/bench/make_synthetic_library.py --multi out/demo/multi/checkpoints/last.pt \
        --n 1000000 -o /tmp/bench_retrieve/syn_1e6.lib

Needs numpy (~/pyref). Memory: one block of rows at a time (a few tens of MB) plus the header.
"""
import argparse
import json
import os
import pickletools
import re
import sys
import time
import zipfile

import numpy as np

MAGIC = b"INSTRLIB"
VERSION = 1
ALIGN = 64
FAMILIES = ["bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string",
            "synth_lead", "vocal"]  # family_names() in src/midi/family.cpp
LAYOUT = ("float32 little-endian: clip embeddings (n_clips x dim), then instrument means "
          "(n_instruments x dim)")


def file_hash(path):
    """file_hash of src/core/fs.cpp: FNV-1a 64 over the file's bytes, 16 lower-case hex digits."""
    h = 1469598103934665603
    prime = 1099511628211
    mask = (1 << 64) - 1
    with open(path, "rb") as f:
        while True:
            block = f.read(1 << 20)
            if not block:
                break
            for byte in block:
                h = ((h ^ byte) * prime) & mask
    return f"{h:016x}"


def checkpoint_configs(path):
    """(model_config, run_config) JSON objects of an instret checkpoint (a LibTorch archive)."""
    with zipfile.ZipFile(path) as z:
        names = [n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl"]
        if not names:
            sys.exit(f"{path}: not an instret checkpoint (no data.pkl)")
        data = z.read(names[0])
    strings = [arg for _, arg, _ in pickletools.genops(data) if isinstance(arg, str)]
    out = {}
    for key in ("model_config", "run_config"):
        if key in strings and strings.index(key) + 1 < len(strings):
            try:
                out[key] = json.loads(strings[strings.index(key) + 1])
            except json.JSONDecodeError:
                out[key] = None
    return out.get("model_config"), out.get("run_config")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("-o", "--output", required=True, help="library file to write (replaced atomically)")
    p.add_argument("--n", type=int, required=True, help="instruments (library entries searched)")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--multi", help="multi-encoder checkpoint to be queried with: hash of its single encoder, its emb_dim")
    src.add_argument("--single", help="single-encoder checkpoint whose hash the library records (needs --dim)")
    src.add_argument("--encoder-hash", help="16 hex digits recorded as the encoder hash (needs --dim)")
    p.add_argument("--dim", type=int, help="embedding size (default with --multi: the checkpoint's emb_dim)")
    p.add_argument("--clips-per-instrument", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--block", type=int, default=65536, help="instruments generated per block")
    args = p.parse_args()
    if args.n < 1 or args.clips_per_instrument < 1:
        sys.exit("--n and --clips-per-instrument must be at least 1")
    t0 = time.perf_counter()

    checkpoint = ""
    if args.multi:
        model, run = checkpoint_configs(args.multi)
        single = (run or {}).get("single_encoder")
        if not single or not os.path.isfile(single):
            sys.exit(f"{args.multi} names no single encoder that exists here ({single!r}): use --single or --encoder-hash")
        checkpoint = single
        enc_hash = file_hash(single)
        dim = args.dim or int((model or {}).get("emb_dim", 0))
        if dim <= 0:
            sys.exit(f"{args.multi}: no model_config.emb_dim; give --dim")
    else:
        if not args.dim or args.dim <= 0:
            sys.exit("--dim D is needed with --single / --encoder-hash")
        dim = args.dim
        if args.single:
            checkpoint = args.single
            enc_hash = file_hash(args.single)
        else:
            enc_hash = args.encoder_hash.lower()
            if not re.fullmatch(r"[0-9a-f]{16}", enc_hash):
                sys.exit("--encoder-hash: 16 hex digits")
            checkpoint = "(synthetic)"
    t_hash = time.perf_counter() - t0

    n, k = args.n, args.clips_per_instrument
    rng = np.random.default_rng(args.seed)
    n_centres = int(min(max(n // 1000, 16), 1000))
    centres = rng.standard_normal((n_centres, dim), dtype=np.float32)
    centre_of = rng.integers(0, n_centres, n)
    width = len(str(n - 1))
    source = f"synthetic:seed{args.seed}"
    names = [f"syn{i:0{width}d}" for i in range(n)]
    instruments = [{"family": FAMILIES[int(c) % len(FAMILIES)], "name": nm, "source": source}
                   for nm, c in zip(names, centre_of)]
    clips = [[i, f"synthetic/{names[i]}.wav", 5.0 * j] for i in range(n) for j in range(k)]
    header = {
        "clips": clips,
        "encoder": {"checkpoint": checkpoint, "clip_seconds": 5.0, "dim": dim, "hash": enc_hash},
        "format": "instret-library",
        "instruments": instruments,
        "layout": LAYOUT,
        "version": VERSION,
    }
    # nlohmann::json's dump(): keys sorted, no spaces, UTF-8.
    text = json.dumps(header, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")
    del clips, instruments, header, names
    start = 16 + len(text)
    start += (-start) % ALIGN
    clip_bytes = n * k * dim * 4
    total = start + clip_bytes + n * dim * 4

    tmp = f"{args.output}.tmp.{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(MAGIC)
            f.write(len(text).to_bytes(8, "little"))
            f.write(text)
            f.write(b"\0" * (start - 16 - len(text)))
            for first in range(0, n, args.block):
                m = min(args.block, n - first)
                means = centres[centre_of[first:first + m]] + rng.standard_normal((m, dim), dtype=np.float32)
                if k == 1:
                    clip_rows = means
                else:
                    clip_rows = (means[:, None, :] +
                                 0.1 * rng.standard_normal((m, k, dim), dtype=np.float32)).reshape(m * k, dim)
                    means = clip_rows.reshape(m, k, dim).astype(np.float64).mean(axis=1).astype(np.float32)
                f.seek(start + first * k * dim * 4)
                f.write(np.ascontiguousarray(clip_rows, dtype="<f4").tobytes())
                f.seek(start + clip_bytes + first * dim * 4)
                f.write(np.ascontiguousarray(means, dtype="<f4").tobytes())
        if os.path.getsize(tmp) != total:
            sys.exit(f"{tmp}: wrote {os.path.getsize(tmp)} bytes, expected {total}")
        os.replace(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    print(json.dumps({"output": args.output, "instruments": n, "clips": n * k, "dim": dim,
                      "encoder_hash": enc_hash, "encoder_checkpoint": checkpoint, "clusters": n_centres,
                      "header_bytes": len(text), "bytes": total, "hash_s": round(t_hash, 2),
                      "seconds": round(time.perf_counter() - t0, 2)}))


if __name__ == "__main__":
    main()
