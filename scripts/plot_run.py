#!/usr/bin/env python3
"""Training curves of one or more run folders (their metrics.jsonl) in one PNG: the training loss
per logged step, and each numeric validation metric per validation.

Usage: /usr/bin/python3 scripts/plot_run.py RUN [RUN ...] -o curves.png
Needs matplotlib (Debian: python3-matplotlib, installed by scripts/setup.sh).
"""
import argparse
import json
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_metrics(run):
    rows = []
    with open(os.path.join(run, "metrics.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("runs", nargs="+")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args()
    fig, axes = plt.subplots(len(args.runs), 2, figsize=(11, 3.6 * len(args.runs)), squeeze=False)
    for row, run in zip(axes, args.runs):
        rows = read_metrics(run)
        name = os.path.basename(os.path.normpath(run))
        train = [r for r in rows if r.get("split") == "train"]
        valid = [r for r in rows if r.get("split") == "valid"]
        row[0].plot([r["step"] for r in train], [r["loss"] for r in train], label="train loss")
        if valid and "loss" in valid[0]:
            row[0].plot([r["step"] for r in valid], [r["loss"] for r in valid], "o-", label="valid loss")
        row[0].set_title(f"{name}: loss")
        row[0].set_xlabel("step")
        row[0].legend()
        keys = sorted({k for r in valid for k, v in r.items()
                       if isinstance(v, (int, float)) and k not in ("step", "loss")})
        for k in keys:
            row[1].plot([r["step"] for r in valid if k in r], [r[k] for r in valid if k in r], "o-", label=k)
        row[1].set_title(f"{name}: validation")
        row[1].set_xlabel("step")
        row[1].set_ylim(0, 1)
        if keys:
            row[1].legend(fontsize=8)
    fig.tight_layout()
    tmp = args.output + ".tmp.png"
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, args.output)
    print(f"plots: {args.output}")


if __name__ == "__main__":
    main()
