#!/usr/bin/env python3
"""Python baseline of bench/bench_search.cpp: the same synthetic library recipe (numpy's random
numbers, not the same values), exact search as numpy does it (normalised float32 matrix product, then
argpartition/argsort for the top k) and, when the faiss-cpu wheel is importable, FAISS IVF-Flat and
HNSW-Flat with the same parameters. Prints the same markdown table.

    ~/pyref/bin/python scripts/bench/bench_search.py --n 100000 --kinds exact ivf hnsw
"""
import argparse
import math
import sys
import time

import numpy as np


def normalise(x):
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def exact_topk(base_n, q, k):
    sims = normalise(q) @ base_n.T
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, 1), axis=1)
    return np.take_along_axis(part, order, 1)


def time_queries(fn, q, m):
    ms, ids = [], []
    for i in range(0, len(q), m):
        t0 = time.perf_counter()
        ids.append(fn(q[i:i + m]))
        ms.append((time.perf_counter() - t0) * 1e3)
    s = sorted(ms)
    return s[len(s) // 2], sum(ms) / len(ms), s[min(len(s) - 1, int(0.95 * len(s)))], np.concatenate(ids)


def recall(found, truth, k):
    return float(np.mean([len(set(a[:k]) & set(b[:k])) / k for a, b in zip(found, truth)]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=10000)
    p.add_argument("--dim", type=int, default=1024)
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--m", type=int, default=9)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--kinds", nargs="+", default=["exact", "ivf", "hnsw"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--ivf-lists", type=int, default=0)
    p.add_argument("--nprobe", type=int, default=16)
    p.add_argument("--ivf-train", type=int, default=50000)
    p.add_argument("--hnsw-m", type=int, default=32)
    p.add_argument("--ef-construction", type=int, default=64)
    p.add_argument("--ef-search", type=int, default=128)
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    t0 = time.perf_counter()
    clusters = min(max(a.n // 1000, 16), 1000)
    centres = rng.standard_normal((clusters, a.dim), dtype=np.float32)
    base = np.empty((a.n, a.dim), np.float32)
    for first in range(0, a.n, 65536):
        b = min(65536, a.n - first)
        base[first:first + b] = centres[rng.integers(0, clusters, b)] + rng.standard_normal((b, a.dim), dtype=np.float32)
    q = base[rng.integers(0, a.n, a.queries * a.m)] + 0.5 * rng.standard_normal((a.queries * a.m, a.dim), dtype=np.float32)
    print(f"synthetic library: {a.n} x {a.dim} ({clusters} clusters) in {time.perf_counter() - t0:.1f} s", file=sys.stderr)

    rows = []
    t0 = time.perf_counter()
    for first in range(0, a.n, 65536):  # in place: one copy of a 4 GB library is enough
        base[first:first + 65536] = normalise(base[first:first + 65536])
    base_n, base = base, None
    build = time.perf_counter() - t0
    time_queries(lambda x: exact_topk(base_n, x, a.k), q[:3 * a.m], a.m)  # warm-up
    med, mean, p95, truth = time_queries(lambda x: exact_topk(base_n, x, a.k), q, a.m)
    rows.append(f"| {a.n} | numpy exact | {build:.2f} | {med:.2f} | {mean:.2f} | {p95:.2f} | 1.000 |")
    print(rows[-1], file=sys.stderr)
    want = [k for k in a.kinds if k != "exact"]
    if want:
        try:
            import faiss
        except ImportError:
            print("faiss not importable: only numpy exact", file=sys.stderr)
            want = []
        else:
            faiss.omp_set_num_threads(a.threads)
    for kind in want:
        t0 = time.perf_counter()
        if kind == "hnsw":
            index = faiss.IndexHNSWFlat(a.dim, a.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = a.ef_construction
            index.hnsw.efSearch = a.ef_search
            desc = f"faiss {faiss.__version__} hnsw (M {a.hnsw_m}, efC {a.ef_construction}, efS {a.ef_search})"
        else:
            lists = a.ivf_lists or round(4 * math.sqrt(a.n))
            lists = max(1, min(lists, max(1, a.n // 39)))
            quantizer = faiss.IndexFlatIP(a.dim)
            index = faiss.IndexIVFFlat(quantizer, a.dim, lists, faiss.METRIC_INNER_PRODUCT)
            index.cp.seed = 1234
            index.cp.niter = 10
            n_train = min(a.n, max(a.ivf_train, lists))
            sample = base_n[rng.permutation(a.n)[:n_train]] if n_train < a.n else base_n
            index.train(np.ascontiguousarray(sample))
            index.nprobe = min(a.nprobe, lists)
            desc = f"faiss {faiss.__version__} ivf ({lists} lists, nprobe {index.nprobe})"
        index.add(base_n)
        build = time.perf_counter() - t0
        fn = lambda x: index.search(normalise(x).astype(np.float32), a.k)[1]
        time_queries(fn, q[:3 * a.m], a.m)  # warm-up
        med, mean, p95, found = time_queries(fn, q, a.m)
        rows.append(f"| {a.n} | {desc} | {build:.2f} | {med:.2f} | {mean:.2f} | {p95:.2f} | {recall(found, truth, a.k):.3f} |")
        print(rows[-1], file=sys.stderr)
    print(f"| entries | search | build s | median ms/query | mean ms/query | p95 ms/query | recall@{a.k} |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
