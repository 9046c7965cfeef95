"""Recomputes the numbers of an eval-eer or eval-retrieval report from its dump with scikit-learn.

  check_eval_dumps.py eer REPORT.json TRIALS.csv        (eval-eer --json REPORT --dump-trials TRIALS)
  check_eval_dumps.py retrieval REPORT.json SCORES.jsonl (eval-retrieval --json REPORT --dump-scores SCORES)

EER: per seed, the reference code's pooled EER (sklearn roc_curve, first argmin of |fpr - fnr|), the mean of
per-instrument EERs, and the ROC-convex-hull EER (scipy ConvexHull); then their numpy mean and std over seeds.
Retrieval: sklearn f1_score (instrument and family sets) and average_precision_score (per-instrument
scores), macro and weighted, on indicator matrices over all labels. Exits 1 on any mismatch (> 1e-9).
Needs numpy, scipy, scikit-learn (scripts/golden/requirements.txt). Used by tests/test_eval_tools.cpp.
"""
import csv
import json
import os
import sys
import warnings

import numpy as np
from sklearn.metrics import average_precision_score, f1_score
from sklearn.preprocessing import MultiLabelBinarizer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_eval_golden import eer_reference, eer_rocch_hull  # noqa: E402

warnings.filterwarnings("ignore")
TOL = 1e-9
failures = []


def expect(name, got, want):
    if not (abs(got - want) <= TOL or (np.isnan(got) and np.isnan(want))):
        failures.append(f"{name}: report {got!r}, scikit-learn {want!r}")


def check_eer(report, trials_path):
    rows = list(csv.DictReader(open(trials_path, newline="")))
    seeds = report["seeds"]
    per_metric = {"eer_pooled": [], "eer_mean_per_instrument": [], "eer_rocch": []}
    for s in seeds:
        sel = [r for r in rows if int(r["seed"]) == s]
        y = np.array([int(r["target"]) for r in sel])
        x = np.array([float(r["score"]) for r in sel])
        inst = np.array([int(r["instrument"]) for r in sel])
        per_metric["eer_pooled"].append(eer_reference(y, x))
        per_metric["eer_rocch"].append(eer_rocch_hull(y, x))
        per_metric["eer_mean_per_instrument"].append(
            float(np.mean([eer_reference(y[inst == i], x[inst == i]) for i in sorted(set(inst.tolist()))])))
    if len(rows) != report["counts"]["trials"]:
        failures.append(f"{len(rows)} trials dumped, report says {report['counts']['trials']}")
    for k, values in per_metric.items():
        for i, v in enumerate(values):
            expect(f"{k} seed {seeds[i]}", report[k]["per_seed"][i], v)
        expect(f"{k} mean", report[k]["mean"], float(np.mean(values)))
        expect(f"{k} std", report[k]["std"], float(np.std(values)))


def check_retrieval(report, scores_path):
    lines = [json.loads(l) for l in open(scores_path)]
    header, items = lines[0], lines[1:]
    n_labels, n_fam = len(header["labels"]), len(header["families"])
    fam = header["family_of"]
    lab = MultiLabelBinarizer(classes=list(range(n_labels)))
    flab = MultiLabelBinarizer(classes=list(range(n_fam)))
    yt = lab.fit_transform([it["truth"] for it in items])
    yp = lab.fit_transform([it["predicted"] for it in items])
    ft = flab.fit_transform([sorted({fam[l] for l in it["truth"]}) for it in items])
    fp = flab.fit_transform([sorted({fam[l] for l in it["predicted"]}) for it in items])
    s = np.array([it["scores"] for it in items])
    for avg in ("macro", "weighted"):
        expect(f"f1_{avg}", report[f"f1_{avg}"], float(f1_score(yt, yp, average=avg)))
        expect(f"family_f1_{avg}", report[f"family_f1_{avg}"], float(f1_score(ft, fp, average=avg)))
        expect(f"map_{avg}", report[f"map_{avg}"], float(average_precision_score(yt, s, average=avg)))
    if len(items) != report["counts"]["mixtures"]:
        failures.append(f"{len(items)} mixtures dumped, report says {report['counts']['mixtures']}")


def main():
    if len(sys.argv) != 4 or sys.argv[1] not in ("eer", "retrieval"):
        sys.exit(__doc__)
    report = json.load(open(sys.argv[2]))
    (check_eer if sys.argv[1] == "eer" else check_retrieval)(report, sys.argv[3])
    for f in failures:
        print("MISMATCH", f)
    print("ok" if not failures else f"{len(failures)} mismatches")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
