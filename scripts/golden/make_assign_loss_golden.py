"""Golden files for the linear-assignment and PIT-loss tests (tests/data/loss/), from scipy.

assignment.json: random cost matrices (square, wide, tall; integer costs with many ties; +inf
forbidden pairs; maximize) with scipy.optimize.linear_sum_assignment's rows, cols and total cost,
or "error" for the inputs scipy rejects (NaN / -inf entries, infeasible matrices).
pit_loss.json: outputs (B, M, D), padded targets (B, N, D), counts, and the PIT cosine loss
(sum and mean reductions) with each item's optimal assignment, computed in float64 with numpy/scipy.
Run: ~/pyref/bin/python scripts/golden/make_assign_loss_golden.py
"""
import json
import os

import numpy as np
from scipy.optimize import linear_sum_assignment

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "loss")


def enc(x):
    """JSON has no inf/nan: encode them as strings."""
    return [[("inf" if v == np.inf else "-inf" if v == -np.inf else "nan" if np.isnan(v) else float(v)) for v in row]
            for row in x]


def case(cost, maximize=False, kind=""):
    item = {"kind": kind, "cost": enc(cost), "maximize": maximize}
    try:
        r, c = linear_sum_assignment(cost, maximize=maximize)
        item.update(rows=r.tolist(), cols=c.tolist(), total=float(cost[r, c].sum()))
    except ValueError as e:
        item["error"] = str(e)
    return item


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20230101)
    cases = []
    for _ in range(40):
        r, c = rng.integers(1, 9, size=2)
        cases.append(case(rng.random((r, c)), kind="float"))
    for _ in range(30):
        r, c = rng.integers(1, 8, size=2)
        cases.append(case(rng.integers(0, 3, size=(r, c)).astype(float), kind="ties"))
    for _ in range(20):
        r, c = rng.integers(2, 8, size=2)
        x = rng.random((r, c))
        x[rng.random((r, c)) < 0.3] = np.inf
        cases.append(case(x, kind="inf"))
    for _ in range(10):
        r, c = rng.integers(1, 8, size=2)
        cases.append(case(rng.normal(size=(r, c)), maximize=True, kind="maximize"))
    cases.append(case(np.full((9, 9), 0.5), kind="all_equal"))
    cases.append(case(rng.random((9, 9)), kind="9x9"))
    x = rng.random((4, 5)); x[2, :] = np.inf
    cases.append(case(x, kind="infeasible_row"))
    x = rng.random((3, 3)); x[:, 1] = np.inf
    cases.append(case(x, kind="infeasible_col"))
    x = rng.random((3, 4)); x[0:2, 0:3] = np.inf; x[2, 3] = np.inf
    cases.append(case(x, kind="infeasible_structure"))
    x = rng.random((3, 3)); x[1, 2] = np.nan
    cases.append(case(x, kind="nan"))
    x = rng.random((3, 3)); x[0, 0] = -np.inf
    cases.append(case(x, kind="minus_inf"))
    with open(os.path.join(OUT, "assignment.json"), "w") as f:
        json.dump(cases, f)

    B, M, N, D = 6, 5, 5, 7
    outputs = rng.normal(size=(B, M, D))
    targets = rng.normal(size=(B, N, D))
    counts = np.array([1, 2, 3, 5, 4, 2])
    for b in range(B):
        targets[b, counts[b]:] = 0.0
    losses = {"sum": [], "mean": []}
    assign = []
    for b in range(B):
        o = outputs[b] / np.linalg.norm(outputs[b], axis=1, keepdims=True)
        t = targets[b, :counts[b]] / np.linalg.norm(targets[b, :counts[b]], axis=1, keepdims=True)
        cost = 1.0 - o @ t.T
        r, c = linear_sum_assignment(cost)
        losses["sum"].append(cost[r, c].sum())
        losses["mean"].append(cost[r, c].mean())
        assign.append({"rows": r.tolist(), "cols": c.tolist()})
    with open(os.path.join(OUT, "pit_loss.json"), "w") as f:
        json.dump({"outputs": outputs.tolist(), "targets": targets.tolist(), "counts": counts.tolist(),
                   "loss_sum": float(np.mean(losses["sum"])), "loss_mean": float(np.mean(losses["mean"])),
                   "assignments": assign}, f)
    print(len(cases), "assignment cases;", sum("error" in c for c in cases), "errors")


if __name__ == "__main__":
    main()
