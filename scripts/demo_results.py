#!/usr/bin/env python3
"""The demo's results table (markdown) from the JSON reports that scripts/demo.sh writes into its
output folder: EER of the single encoder and of the MFCC baseline; instrument and family F1 and mAP
of the multi encoder beside the MFCC baseline and the chance levels.

Usage: python3 scripts/demo_results.py OUT_DIR
"""
import json
import os
import sys


def load(out, name):
    with open(os.path.join(out, name)) as f:
        return json.load(f)


def main():
    out = sys.argv[1]
    eer, eer_base = load(out, "eer.json"), load(out, "eer_baseline.json")
    ret, ret_base = load(out, "retrieval.json"), load(out, "retrieval_baseline.json")
    n = eer["counts"]["instruments_used"]
    print(f"## Results on the valid split's {n} unseen instruments\n")
    print("| single encoder | pooled EER | mean per-instrument EER |")
    print("|---|---|---|")
    for name, r in (("trained (demo)", eer), ("MFCC baseline", eer_base)):
        print(f"| {name} | {r['eer_pooled']['mean']:.3f} ± {r['eer_pooled']['std']:.3f} | "
              f"{r['eer_mean_per_instrument']['mean']:.3f} |")
    print(f"\n{ret['counts']['mixtures']} valid mixtures; library = {ret['counts']['instruments']} "
          "valid instruments, one clip each\n")
    keys = ["f1_macro", "f1_weighted", "family_f1_macro", "family_f1_weighted", "map_macro", "map_weighted"]
    print("| multi encoder | " + " | ".join(keys) + " |")
    print("|---|" + "---|" * len(keys))
    rows = [("Small-Random (demo)", ret), ("MFCC baseline", ret_base),
            ("chance (true set sizes)", ret["chance"]["true_size"]),
            ("chance (reference: 2..9 random)", ret["chance"]["uniform_size"])]
    for name, r in rows:
        print(f"| {name} | " + " | ".join(f"{r[k]:.3f}" for k in keys) + " |")


if __name__ == "__main__":
    main()
