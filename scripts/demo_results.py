#!/usr/bin/env python3
"""The demo's results table (markdown) from the JSON reports that scripts/demo.sh writes into its
output folder: on the test split (the headline: instruments of a SoundFont used nowhere else, never
seen by training or checkpoint selection) and on the valid split beside it (the split the training
runs selected their best.pt on), the EER of the single encoder and of the MFCC baseline, and the
instrument and family F1 and mAP of the multi encoder beside the MFCC baseline and the chance levels.

Usage: python3 scripts/demo_results.py OUT_DIR
"""
import json
import os
import sys

SPLITS = ("test", "valid")


def load(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def main():
    out = sys.argv[1]
    eer = {s: load(out, f"eer_{s}.json") for s in SPLITS}
    eer_base = {s: load(out, f"eer_baseline_{s}.json") for s in SPLITS}
    ret = {s: load(out, f"retrieval_{s}.json") for s in SPLITS}
    ret_base = {s: load(out, f"retrieval_baseline_{s}.json") for s in SPLITS}
    n = {s: eer[s]["counts"]["instruments_used"] for s in SPLITS}
    print(f"## Results on unseen instruments: test ({n['test']} instruments, the headline) "
          f"and valid ({n['valid']}, used to select checkpoints)\n")
    print("| single encoder | test pooled EER | test mean per-instrument EER | valid pooled EER |")
    print("|---|---|---|---|")
    for name, r in (("trained (demo)", eer), ("MFCC baseline", eer_base)):
        print(f"| {name} | {r['test']['eer_pooled']['mean']:.3f} ± {r['test']['eer_pooled']['std']:.3f} | "
              f"{r['test']['eer_mean_per_instrument']['mean']:.3f} | "
              f"{r['valid']['eer_pooled']['mean']:.3f} ± {r['valid']['eer_pooled']['std']:.3f} |")
    print("\n" + "; ".join(f"{s}: {ret[s]['counts']['mixtures']} mixtures, library = "
                           f"{ret[s]['counts']['instruments']} {s} instruments, one clip each" for s in SPLITS) + "\n")
    keys = ["f1_macro", "f1_weighted", "family_f1_macro", "family_f1_weighted", "map_macro", "map_weighted"]
    print("| multi encoder | split | " + " | ".join(keys) + " |")
    print("|---|---|" + "---|" * len(keys))
    for split in SPLITS:
        rows = [("Small-Random (demo)", ret[split]), ("MFCC baseline", ret_base[split]),
                ("chance (true set sizes)", ret[split]["chance"]["true_size"]),
                ("chance (reference: 2..9 random)", ret[split]["chance"]["uniform_size"])]
        for name, r in rows:
            print(f"| {name} | {split} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
