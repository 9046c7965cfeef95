#!/usr/bin/env python3
"""A dataset view whose valid split is random mixtures of one split's single clips, as train-multi mixes them.

Each mixture takes a count uniform in [--min-tracks, --max-tracks], that many distinct instruments of
--split, one clip of each (never the instrument's first clip, which is the library's), and divides
their sum by its peak (data.kind "random", instret/data/random_mix.h). The view (OUT) holds the
mixtures as 16-bit WAVs, multi_valid.jsonl with absolute stem paths, single_valid.jsonl with each
instrument's first clip (the library), and instruments.json with --split renamed "valid" (the others
"other"), so `scripts/map_ceilings.py OUT CKPT --multi M` scores a multi encoder on it.

With --split train this measures how far a multi encoder fits its own training distribution (the
clips and instruments it trained on), beside its oracle ceiling; with --split valid it separates the
unseen instruments from the rendered mixtures' levels and textures. docs/evaluation.md, "Ceilings and fit".
Usage: scripts/random_mix_view.py DATA OUT [--split train] [--count 300] [--seed 0]
(Debian's python3 with numpy)
"""
import argparse
import json
import os
import sys
import wave

import numpy as np


def read_wav(path):
    try:
        with wave.open(path) as f:
            if f.getsampwidth() != 2 or f.getnchannels() != 1:
                sys.exit(f"random_mix_view: {path}: expected 16-bit mono WAV (render-nlakh's clips)")
            return np.frombuffer(f.readframes(f.getnframes()), np.int16) / 32768.0, f.getframerate()
    except (OSError, EOFError, wave.Error) as e:
        sys.exit(f"random_mix_view: {path}: {e}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("out")
    ap.add_argument("--split", default="train", choices=["train", "valid", "test"])
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--min-tracks", type=int, default=2)
    ap.add_argument("--max-tracks", type=int, default=9)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    data = os.path.abspath(args.data)
    if os.path.lexists(args.out):
        sys.exit(f"random_mix_view: {args.out} exists; give a new folder")
    if not 1 <= args.count <= 1_000_000:
        sys.exit("random_mix_view: --count must be in 1..1000000")
    clips_path = os.path.join(data, f"single_{args.split}.jsonl")
    catalogue_path = os.path.join(data, "instruments.json")
    for path in (clips_path, catalogue_path):
        if not os.path.isfile(path):  # also refuses FIFOs and devices, which would block
            sys.exit(f"random_mix_view: {path} is not a regular file (is {data} a render-nlakh folder?)")
    try:
        with open(clips_path) as f:
            clips = [json.loads(l) for l in f]
        with open(catalogue_path) as f:
            catalogue = json.load(f)
        by = {}
        for c in clips:
            if not isinstance(c.get("path"), str):
                raise ValueError(f"a clip without a path: {c}")
            by.setdefault(str(c["instrument"]), []).append(c)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        sys.exit(f"random_mix_view: {data} is not a readable render-nlakh folder ({type(e).__name__}: {e})")
    pool = {k: v[1:] for k, v in by.items() if len(v) > 1}
    keys = sorted(pool)
    if not 1 <= args.min_tracks <= args.max_tracks <= len(keys):
        sys.exit(f"random_mix_view: need 1 <= min-tracks <= max-tracks <= {len(keys)} (instruments with 2+ clips)")
    os.makedirs(os.path.join(args.out, "mix"))
    for i in catalogue:
        i["split"] = "valid" if i.get("split") == args.split else "other"
    with open(os.path.join(args.out, "instruments.json"), "w") as f:
        json.dump(catalogue, f)
    with open(os.path.join(args.out, "single_valid.jsonl"), "w") as f:
        for v in by.values():
            f.write(json.dumps({**v[0], "path": os.path.join(data, v[0]["path"])}) + "\n")
    mix_dir = os.path.join(os.path.abspath(args.out), "mix")
    rng = np.random.default_rng(args.seed)
    with open(os.path.join(args.out, "multi_valid.jsonl"), "w") as f:
        for i in range(args.count):
            n = int(rng.integers(args.min_tracks, args.max_tracks + 1))
            stems = [pool[k][int(rng.integers(len(pool[k])))] for k in rng.choice(keys, size=n, replace=False)]
            audio = [read_wav(os.path.join(data, s["path"])) for s in stems]
            if len({a.size for a, _ in audio}) != 1 or len({r for _, r in audio}) != 1:
                sys.exit("random_mix_view: the split's clips differ in length or rate")
            x, rate = sum(a for a, _ in audio), audio[0][1]
            x = x / max(float(np.abs(x).max()), 1e-9)
            path = os.path.join(mix_dir, f"{i:06d}.wav")
            with wave.open(path, "wb") as g:
                g.setnchannels(1)
                g.setsampwidth(2)
                g.setframerate(rate)
                g.writeframes(np.round(x * 32767).astype(np.int16).tobytes())
            stems = [{"instrument": s["instrument"], "family": s.get("family"), "path": os.path.join(data, s["path"])}
                     for s in stems]
            f.write(json.dumps({"path": path, "stems": stems}) + "\n")


if __name__ == "__main__":
    main()
