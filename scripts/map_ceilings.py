#!/usr/bin/env python3
"""What the retrieval mAP of a dataset's mixtures (of one split) can reach, beside what a model reaches.

For a render-nlakh folder and a single-encoder checkpoint, prints (JSON) the mAP macro / weighted of
eval-retrieval's protocol on --split (default valid; library = each instrument's first clip; score of an instrument in a
mixture = its best cosine over the outputs; macro over all library instruments, weighted by support)
for score rules that need no multi encoder:
  oracle            the outputs are the mixture's stems' own single-encoder embeddings (a perfect
                    multi encoder for this single encoder),
  single_on_mixture one output: the single encoder's embedding of the whole mixture,
  family_detector   1 for every instrument of a family present in the mixture (perfect family
                    recognition, no instrument recognition), plus tiny seeded noise to break ties,
  file_family_detector  the same per (SoundFont file, family).
With --multi CKPT also the multi encoder's own mAP (best over its outputs) and, per output slot, its
mAP alone and the mean cosine of the slot's outputs to their mean over the mixtures (near 1: the
slot barely depends on the mixture; stems_cos_to_mean is the same for the stems' own embeddings), and
under "matched" the outputs matched one to one to the stems by cosine (the training loss's Hungarian
assignment): map_macro / map_weighted with the max over the matched outputs only (what a perfect
existence score, which silenced every spare output, would reach), cosine_mean (a matched output to its
stem), and where the stem's instrument ranks among the library for its matched output (true_rank_median,
0 = first; true_top1_share, true_top10_share).
Hubness of the oracle's and the multi encoder's top-1 picks: the largest share of all picks that one
library entry gets, and the skewness of the pick counts (as the training validation's hub_* keys).
With --centre N the same scores again under "centred": every embedding (library, stems, mixture,
multi outputs) minus the mean unit embedding of N seeded train clips, renormalised (issue 22's
centred cosine space, applied at evaluation only).
Usage: scripts/map_ceilings.py DATA CHECKPOINT [--split valid|test] [--multi CKPT] [--centre N] [--build build]
(Debian's python3 with numpy, and scipy for --multi)
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

import numpy as np


def average_precision(truth, scores):
    """scikit-learn's average_precision_score for one label (ties grouped by threshold)."""
    order = np.argsort(-scores, kind="mergesort")
    y, s = truth[order], scores[order]
    last = np.r_[np.where(np.diff(s))[0], len(s) - 1]
    tps = np.cumsum(y)[last]
    precision = tps / (last + 1)
    recall = tps / tps[-1]
    return float(np.sum(np.diff(np.r_[0.0, recall]) * precision))


def map_scores(truth, scores):
    present = [k for k in range(truth.shape[1]) if truth[:, k].any()]
    aps = np.array([average_precision(truth[:, k], scores[:, k]) for k in present])
    support = truth[:, present].sum(0)
    return {"map_macro": round(float(aps.sum() / truth.shape[1]), 4),
            "map_weighted": round(float(aps @ support / support.sum()), 4)}


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data")
    ap.add_argument("checkpoint")
    ap.add_argument("--multi", help="a multi-encoder checkpoint to score beside the ceilings")
    ap.add_argument("--split", default="valid", choices=["train", "valid", "test"])
    ap.add_argument("--centre", type=int, default=0, metavar="N",
                    help="also score with embeddings centred on the mean of N seeded train clips")
    ap.add_argument("--build", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    args = ap.parse_args()
    if args.multi:
        try:
            from scipy.optimize import linear_sum_assignment  # matched(), below
        except ImportError:
            sys.exit("map_ceilings.py: --multi needs scipy (Debian: python3-scipy, which scripts/setup.sh installs)")
    if not os.path.isdir(args.data):
        sys.exit(f"map_ceilings.py: no dataset folder {args.data}")
    for name in ("instruments.json", f"single_{args.split}.jsonl", f"multi_{args.split}.jsonl"):
        if not os.path.isfile(os.path.join(args.data, name)):
            sys.exit(f"map_ceilings.py: {args.data} is not a render-nlakh folder of a {args.split} split (no {name})")
    if args.centre > 0 and not os.path.isfile(os.path.join(args.data, "single_train.jsonl")):
        sys.exit(f"map_ceilings.py: --centre needs {args.data}/single_train.jsonl (a view of random_mix_view.py has none)")
    tool = os.path.join(args.build, "bin", "embed")
    if not os.access(tool, os.X_OK):
        sys.exit(f"map_ceilings.py: no {tool} (build it, or give --build)")
    read = lambda name: [json.loads(l) for l in open(os.path.join(args.data, name))]
    catalogue = json.load(open(os.path.join(args.data, "instruments.json")))
    instruments = {i["id"]: i for i in catalogue}
    # Labels: every instrument of the split (as eval-retrieval); one without clips has no library entry and
    # scores -2 under the embedding rules.
    names = [i["id"] for i in catalogue if i.get("split") == args.split]
    column = {n: k for k, n in enumerate(names)}
    library = {}
    for clip in read(f"single_{args.split}.jsonl"):
        library.setdefault(clip["instrument"], clip)
    has_clip = np.array([n in library for n in names])
    mixtures = read(f"multi_{args.split}.jsonl")
    truth = np.zeros((len(mixtures), len(names)), dtype=np.int64)
    for i, m in enumerate(mixtures):
        for s in m["stems"]:
            truth[i, column[s["instrument"]]] = 1
    # Mixture i's stems are rows a..b-1 of the flat stem list (as embedded below), with these labels.
    counts = np.array([len(m["stems"]) for m in mixtures], dtype=np.int64)
    spans = list(zip(np.cumsum(counts) - counts, np.cumsum(counts)))
    stem_column = [column[s["instrument"]] for m in mixtures for s in m["stems"]]

    def embed(paths, mode="--single", checkpoint=args.checkpoint):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "e.npy")
            run = subprocess.run([tool, mode, checkpoint, "-o", out, "-q"] + [os.path.join(args.data, p) for p in paths],
                                 stderr=subprocess.PIPE, text=True)
            if run.returncode != 0:  # embed's own one-line error, as one line of this script's
                why = " ".join(re.sub(r"^(\[[^]]*\] )+", "", line.strip()) for line in run.stderr.splitlines()
                               if line.strip()) or f"exit status {run.returncode}"
                sys.exit(f"map_ceilings.py: embed {mode} {checkpoint} failed: {why}")
            sys.stderr.write(run.stderr)
            e = np.load(out)
        return e / np.linalg.norm(e, axis=-1, keepdims=True)

    clips = embed([library[n]["path"] for n in names if n in library])
    lib = np.zeros((len(names), clips.shape[1]))
    lib[has_clip] = clips

    def masked(scores):
        scores[:, ~has_clip] = -2.0
        return scores

    stems = embed([s["path"] for m in mixtures for s in m["stems"]])
    mix = embed([m["path"] for m in mixtures])
    outputs = embed([m["path"] for m in mixtures], "--multi", args.multi) if args.multi else None  # (mixtures, M, D)
    rng = np.random.default_rng(0)

    def cos_to_mean(rows):
        mean = rows.mean(0)
        return round(float((rows @ (mean / np.linalg.norm(mean))).mean()), 3)

    def detector(key):
        present = [{key(instruments[s["instrument"]]) for s in m["stems"]} for m in mixtures]
        return np.array([[float(key(instruments[n]) in p) for n in names] for p in present]) + \
            1e-6 * rng.random(truth.shape)

    def hubness(cos):  # cos (picks, library): top-1 pick of each row among the entries with clips
        cos = np.where(has_clip[None, :], cos, -np.inf)
        counts = np.bincount(cos.argmax(1), minlength=len(names))[has_clip].astype(float)
        sd = counts.std()
        return {"hub_top1_share": round(float(counts.max() / len(cos)), 4),
                "hub_skewness": round(float(((counts - counts.mean()) ** 3).mean() / sd ** 3) if sd > 0 else 0.0, 3)}

    def matched(stems, outputs, cos):
        best, cosines, ranks = np.full(truth.shape, -2.0), [], []
        for i, (a, b) in enumerate(spans):
            c = outputs[i] @ stems[a:b].T  # (M, stems of mixture i)
            slot, stem = linear_sum_assignment(-c)
            best[i] = cos[i, slot].max(0)
            cosines += list(c[slot, stem])
            ranks += [int((cos[i, j] > cos[i, j, stem_column[a + k]]).sum()) for j, k in zip(slot, stem)]
        ranks = np.array(ranks)
        return {**map_scores(truth, best), "cosine_mean": round(float(np.mean(cosines)), 4),
                "true_rank_median": float(np.median(ranks)), "true_top1_share": round(float((ranks == 0).mean()), 4),
                "true_top10_share": round(float((ranks < 10).mean()), 4)}

    def scores(lib, stems, mix, outputs):
        oracle = np.zeros(truth.shape)
        for i, (a, b) in enumerate(spans):
            oracle[i] = (stems[a:b] @ lib.T).max(0)
        out = {"stems_cos_to_mean": cos_to_mean(stems),
               "oracle": {**map_scores(truth, masked(oracle)), **hubness(stems @ lib.T)},
               "single_on_mixture": map_scores(truth, masked(mix @ lib.T))}
        if outputs is not None:
            cos = np.einsum("bmd,ld->bml", outputs, lib)
            cos[:, :, ~has_clip] = -2.0
            slots = [{"slot": k, "cos_to_mean": cos_to_mean(outputs[:, k]), **map_scores(truth, cos[:, k])}
                     for k in range(outputs.shape[1])]
            out["multi"] = {**map_scores(truth, cos.max(1)), **hubness(cos.reshape(-1, cos.shape[2])),
                            "collapse": round(float(np.mean([s["cos_to_mean"] for s in slots])), 3),
                            "matched": matched(stems, outputs, cos), "slots": slots}
        return out

    report = {"split": args.split, "mixtures": len(mixtures), "library_instruments": len(names),
              **scores(lib, stems, mix, outputs),
              "family_detector": map_scores(truth, detector(lambda i: i["family"])),
              "file_family_detector": map_scores(truth, detector(lambda i: (i.get("file"), i["family"])))}
    if args.centre > 0:
        train = read("single_train.jsonl")
        pick = np.random.default_rng(1).choice(len(train), size=min(args.centre, len(train)), replace=False)
        mean = embed([train[i]["path"] for i in sorted(pick)]).mean(0)
        centre = lambda e: (lambda c: c / np.linalg.norm(c, axis=-1, keepdims=True))(e - mean)
        lib_c = np.zeros_like(lib)
        lib_c[has_clip] = centre(lib[has_clip])
        report["centred"] = {"train_clips": len(pick), "mean_norm": round(float(np.linalg.norm(mean)), 4),
                             **scores(lib_c, centre(stems), centre(mix), centre(outputs) if outputs is not None else None)}
    json.dump(report, sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
