"""Golden files for the eval tests (tests/data/eval/), from scikit-learn / numpy / scipy.

metrics.json:
  eer: random scored trials (ties included) and edge cases, with
    - "pooled": the reference code's EER (minju0821/musical_instrument_retrieval,
      Single_Instrument_Encoder/evaluation.py EER.compute_eer): sklearn roc_curve, fnr = 1 - tpr,
      first argmin of |fpr - fnr|, mean of fpr and fnr there;
    - "rocch": EER of the ROC convex hull, by scipy.spatial.ConvexHull on the ROC points and,
      independently, by brute force over all pairs of ROC points (asserted equal).
  ap: sklearn average_precision_score on one label.
  map / f1: sklearn average_precision_score / f1_score (macro, weighted) on indicator matrices of
    label sets over all n_labels columns, as evaluation/eval_multi_inst_enc.py calls them.
  slots: argmax-per-slot union, max over slots, threshold rule and instrument -> family mapping (numpy).
rng.json: first outputs of splitmix64 (the core StableRng) and derived draws (a Python port written from
  the published algorithms), plus a Python port of make_eer_trials and chance_level driven by it.
Run: ~/pyref/bin/python scripts/golden/make_eval_golden.py
"""
import itertools
import json
import os
import warnings

import numpy as np
import sklearn
from scipy.spatial import ConvexHull
from sklearn.metrics import average_precision_score, f1_score, roc_curve
from sklearn.preprocessing import MultiLabelBinarizer

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "eval")
M64 = (1 << 64) - 1
warnings.filterwarnings("ignore")


# ---------------------------------------------------------------- EER
def eer_reference(labels, scores):
    """Verbatim logic of the reference's EER.evaluate / compute_eer."""
    fpr, tpr, _ = roc_curve(labels, scores)
    fnr = 1 - tpr
    i = np.argmin(np.abs(fpr - fnr))
    return float(np.mean((fpr[i], fnr[i])))


def roc_points(labels, scores):
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    return np.stack([fpr, 1 - tpr], axis=1)  # (pfa, pmiss)


def eer_rocch_hull(labels, scores):
    pts = np.vstack([roc_points(labels, scores), [[1.0, 1.0]]])
    hull = ConvexHull(pts)
    best = None
    for a, b in hull.simplices:
        p, q = pts[a], pts[b]
        if np.allclose(p, [1, 1]) or np.allclose(q, [1, 1]):
            continue
        gp, gq = p[0] - p[1], q[0] - q[1]
        if gp * gq > 0:
            continue
        if gp == gq:  # segment on the diagonal
            x = min(p[0], q[0])
        else:
            t = gp / (gp - gq)
            x = p[0] + t * (q[0] - p[0])
        best = x if best is None else min(best, x)
    return float(best)


def eer_rocch_pairs(labels, scores):
    """min over convex combinations of two ROC points of max(pfa, pmiss)."""
    pts = roc_points(labels, scores)
    best = 1.0
    for p, q in itertools.product(pts, repeat=2):
        cands = [0.0, 1.0]
        da, db = p[0] - q[0], p[1] - q[1]
        if da != db:
            lam = (q[1] - q[0]) / (da - db)
            if 0 <= lam <= 1:
                cands.append(lam)
        for lam in cands:
            x = q + lam * (p - q)
            best = min(best, max(x[0], x[1]))
    return float(best)


def eer_case(labels, scores, kind):
    labels = np.asarray(labels, dtype=int)
    scores = np.asarray(scores, dtype=float)
    h, b = eer_rocch_hull(labels, scores), eer_rocch_pairs(labels, scores)
    assert abs(h - b) < 1e-12, (kind, h, b)
    return {"kind": kind, "labels": labels.tolist(), "scores": scores.tolist(),
            "pooled": eer_reference(labels, scores), "rocch": h}


def eer_cases(rng):
    cases = []
    for k in range(30):
        n_pos, n_neg = rng.integers(1, 25, size=2)
        labels = np.r_[np.ones(n_pos), np.zeros(n_neg)].astype(int)
        rng.shuffle(labels)
        scores = np.round(rng.normal(size=labels.size) + labels * rng.uniform(0, 2.5), 4)
        if k % 2 == 0:
            scores = np.round(scores, 1)  # many ties
        if k % 5 == 0:
            scores = np.round(scores * 2) / 2  # heavy ties
        cases.append(eer_case(labels, scores, f"random{k}"))
    cases.append(eer_case([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.7, 0.3, 0.2, 0.1], "perfect"))
    cases.append(eer_case([1, 1, 1, 0, 0, 0], [0.1, 0.2, 0.3, 0.7, 0.8, 0.9], "inverted"))
    cases.append(eer_case([1, 1, 0, 0, 0], [0.5] * 5, "constant"))
    cases.append(eer_case([1, 0], [0.5, 0.4], "two"))
    cases.append(eer_case([1, 0, 1, 0], [0.4, 0.3, 0.2, 0.1], "alternating"))
    # Diagonal ROC where drop_intermediate matters: equal steps of both kinds.
    cases.append(eer_case([1, 0, 1, 0, 1, 0], [6, 6, 5, 5, 4, 4], "tied_pairs"))
    # roc_curve's drop_intermediate changes the result here: 1/3 with it (the reference), 5/12 without.
    cases.append(eer_case([1, 0, 1, 0, 1], [2, 2, 1, 1, 3], "drop_intermediate"))
    return cases


# ---------------------------------------------------------------- AP / mAP / F1
def ap_cases(rng):
    cases = []
    for k in range(20):
        n = int(rng.integers(2, 30))
        truth = (rng.uniform(size=n) < rng.uniform(0.1, 0.7)).astype(int)
        if truth.sum() == 0:
            truth[0] = 1
        scores = np.round(rng.normal(size=n) + truth * rng.uniform(0, 2), 4)
        if k % 2 == 0:
            scores = np.round(scores, 1)
        cases.append({"kind": f"random{k}", "truth": truth.tolist(), "scores": scores.tolist()})
    cases.append({"kind": "no_positive", "truth": [0, 0, 0], "scores": [0.3, 0.2, 0.1]})
    cases.append({"kind": "all_positive", "truth": [1, 1, 1], "scores": [0.3, 0.2, 0.1]})
    cases.append({"kind": "all_tied", "truth": [1, 0, 0, 1], "scores": [0.5, 0.5, 0.5, 0.5]})
    cases.append({"kind": "perfect", "truth": [0, 1, 0, 1], "scores": [0.1, 0.9, 0.2, 0.8]})
    for c in cases:
        c["ap"] = float(average_precision_score(c["truth"], c["scores"]))
    return cases


def random_sets(rng, n_items, n_labels, lo, hi, never=()):
    allowed = [l for l in range(n_labels) if l not in never]
    return [sorted(rng.choice(allowed, size=int(rng.integers(lo, min(hi, len(allowed)) + 1)), replace=False).tolist())
            for _ in range(n_items)]


def indicator(sets, n_labels):
    return MultiLabelBinarizer(classes=list(range(n_labels))).fit_transform(sets)


def map_cases(rng):
    cases = []
    for k in range(12):
        n_items, n_labels = int(rng.integers(2, 15)), int(rng.integers(2, 9))
        never = (n_labels - 1,) if k % 3 == 0 else ()
        truth = random_sets(rng, n_items, n_labels, 0 if k % 4 == 1 else 1, 4, never)
        scores = np.round(rng.uniform(size=(n_items, n_labels)), 4)
        if k % 2 == 0:
            scores = np.round(scores, 1)
        cases.append({"kind": f"random{k}", "n_labels": n_labels, "truth": truth, "scores": scores.tolist()})
    cases.append({"kind": "no_support", "n_labels": 3, "truth": [[], []], "scores": [[0.1, 0.2, 0.3], [0.3, 0.2, 0.1]]})
    for c in cases:
        y = indicator(c["truth"], c["n_labels"])
        s = np.asarray(c["scores"])
        c["macro"] = float(average_precision_score(y, s, average="macro"))
        c["weighted"] = float(average_precision_score(y, s, average="weighted"))
    return cases


def f1_cases(rng):
    cases = []
    for k in range(15):
        n_items, n_labels = int(rng.integers(1, 15)), int(rng.integers(2, 12))
        never = (0,) if k % 3 == 0 else ()
        truth = random_sets(rng, n_items, n_labels, 1, 5, never)
        pred = random_sets(rng, n_items, n_labels, 0 if k % 2 else 1, 5)
        cases.append({"kind": f"random{k}", "n_labels": n_labels, "truth": truth, "predicted": pred})
    cases.append({"kind": "all_correct", "n_labels": 5, "truth": [[0, 1], [2], [3, 4]], "predicted": [[0, 1], [2], [3, 4]]})
    cases.append({"kind": "all_correct_absent_label", "n_labels": 6, "truth": [[0, 1], [2], [3, 4]],
                  "predicted": [[0, 1], [2], [3, 4]]})
    cases.append({"kind": "empty_predicted", "n_labels": 4, "truth": [[0, 1], [2]], "predicted": [[], []]})
    cases.append({"kind": "empty_truth", "n_labels": 3, "truth": [[], []], "predicted": [[0], [1, 2]]})
    cases.append({"kind": "all_empty", "n_labels": 3, "truth": [[], []], "predicted": [[], []]})
    cases.append({"kind": "duplicates", "n_labels": 4, "truth": [[1, 1, 2]], "predicted": [[2, 2, 3]]})
    for c in cases:
        yt, yp = indicator(c["truth"], c["n_labels"]), indicator(c["predicted"], c["n_labels"])
        c["macro"] = float(f1_score(yt, yp, average="macro"))
        c["weighted"] = float(f1_score(yt, yp, average="weighted"))
    return cases


def slot_cases(rng):
    cases = []
    for k in range(8):
        m, n_labels = int(rng.integers(1, 10)), int(rng.integers(2, 12))
        sims = np.round(rng.uniform(-1, 1, size=(m, n_labels)), 4)
        if k % 2 == 0:
            sims = np.round(sims, 1)  # ties: numpy argmax takes the first, like torch.argmin on 1 - cos
        best = sims.max(axis=0)
        thr = float(np.round(rng.uniform(0, 1), 2))
        above = np.flatnonzero(best >= thr).tolist() or [int(np.argmax(best))]
        group_of = rng.integers(0, 4, size=n_labels).tolist()
        arg = sorted(set(np.argmax(sims, axis=1).tolist()))
        cases.append({"m": m, "n_labels": n_labels, "sims": sims.tolist(), "argmax": arg,
                      "max": best.tolist(), "threshold": thr, "above": above, "group_of": group_of,
                      "groups": sorted({group_of[l] for l in arg})})
    return cases


# ---------------------------------------------------------------- stable RNG and protocol ports
class StableRng:
    """Port of include/instret/core/stable_rng.h, written from Vigna's splitmix64.c: the state advances by
    the golden gamma, the output is the finaliser of the new state."""

    def __init__(self, seed):
        self.state = seed & M64

    def next(self):
        self.state, z = splitmix64(self.state)
        return z

    def below(self, n):
        limit = (1 << 64) % n
        x = self.next()
        while x < limit:
            x = self.next()
        return x % n

    def uniform(self):
        return (self.next() >> 11) * 2.0 ** -53

    def sample(self, n, k):
        pool = list(range(n))
        for i in range(k):
            j = i + self.below(n - i)
            pool[i], pool[j] = pool[j], pool[i]
        return pool[:k]


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def cos(a, b):
    d = np.linalg.norm(a) * np.linalg.norm(b)
    return float(a @ b / d) if d > 0 else 0.0


def eer_trials_port(emb, inst, enroll, targets, non_targets, seed):
    r = StableRng(seed)
    insts = sorted(set(inst))
    clips = {i: [c for c in range(len(inst)) if inst[c] == i] for i in insts}
    out = []
    for ii, i in enumerate(insts):
        if len(clips[i]) < enroll + targets:
            continue
        pick = r.sample(len(clips[i]), enroll + targets)
        e = emb[[clips[i][p] for p in pick[:enroll]]].mean(axis=0)
        for p in pick[enroll:]:
            out.append([cos(e, emb[clips[i][p]]), 1, i])
        for _ in range(non_targets):
            o = r.below(len(insts) - 1)
            if o >= ii:
                o += 1
            other = clips[insts[o]]
            c = other[r.below(len(other))]
            out.append([cos(e, emb[c]), 0, i])
    return out


def chance_port(truth, n_labels, repeats, seed, sizes=None, group_of=None, n_groups=0):
    r = StableRng(seed)
    yt = indicator(truth, n_labels)
    acc = np.zeros(6)
    gt = indicator([sorted({group_of[l] for l in t}) for t in truth], n_groups) if group_of else None
    for _ in range(repeats):
        pred = []
        for t in truth:
            k = len(set(t)) if sizes is None else sizes[0] + r.below(sizes[1] - sizes[0] + 1)
            pred.append(r.sample(n_labels, k))
        s = np.array([[r.uniform() for _ in range(n_labels)] for _ in truth])
        yp = indicator(pred, n_labels)
        fam = [0.0, 0.0]
        if group_of:
            gp = indicator([sorted({group_of[l] for l in p}) for p in pred], n_groups)
            fam = [f1_score(gt, gp, average="macro"), f1_score(gt, gp, average="weighted")]
        acc += [f1_score(yt, yp, average="macro"), f1_score(yt, yp, average="weighted"),
                average_precision_score(yt, s, average="macro"), average_precision_score(yt, s, average="weighted")] + fam
    return (acc / repeats).tolist()


def rng_golden(rng):
    g = {}
    for seed in (0, 1, 42, 0xFFFFFFFFFFFFFFFF):
        st = seed
        sm = []
        for _ in range(3):
            st, z = splitmix64(st)
            sm.append(str(z))
        r = StableRng(seed)
        g[str(seed)] = {"splitmix64": sm, "next": [str(r.next()) for _ in range(5)]}
        r = StableRng(seed)
        g[str(seed)]["below_7"] = [r.below(7) for _ in range(10)]
        r = StableRng(seed)
        g[str(seed)]["uniform"] = [r.uniform() for _ in range(5)]
        r = StableRng(seed)
        g[str(seed)]["sample_10_4"] = r.sample(10, 4)
    # EER protocol port: 4 instruments with 9, 8, 3 (skipped), 10 clips; enroll 3, targets 4, non_targets 5.
    inst = [0] * 9 + [1] * 8 + [5] * 3 + [2] * 10
    inst = [inst[i] for i in rng.permutation(len(inst))]
    emb = np.round(rng.normal(size=(len(inst), 6)), 3).astype(np.float32)
    trials = eer_trials_port(emb.astype(np.float64), inst, 3, 4, 5, 1234)
    g["eer_trials"] = {"dim": 6, "embeddings": emb.ravel().astype(float).tolist(), "clip_instrument": inst,
                       "enroll": 3, "targets": 4, "non_targets": 5, "seed": 1234, "trials": trials,
                       "skipped": [5]}
    truth = random_sets(rng, 12, 6, 1, 3)
    group_of = [0, 1, 1, 2, 0, 2]  # label -> group, 3 groups
    g["chance"] = {"truth": truth, "n_labels": 6, "repeats": 5, "seed": 99, "group_of": group_of, "n_groups": 3,
                   "expected": chance_port(truth, 6, 5, 99, group_of=group_of, n_groups=3),
                   "uniform_2_4": chance_port(truth, 6, 5, 99, sizes=(2, 4), group_of=group_of, n_groups=3)}
    return g


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20230604)
    metrics = {"sklearn": sklearn.__version__, "eer": eer_cases(rng), "ap": ap_cases(rng), "map": map_cases(rng),
               "f1": f1_cases(rng), "slots": slot_cases(rng)}
    with open(os.path.join(OUT, "metrics.json"), "w") as f:
        json.dump(metrics, f, separators=(",", ":"))
    with open(os.path.join(OUT, "rng.json"), "w") as f:
        json.dump(rng_golden(rng), f, separators=(",", ":"))


if __name__ == "__main__":
    main()
