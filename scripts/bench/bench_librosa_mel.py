#!/usr/bin/env python3
"""Clips per second of the reference log-mel pipeline (librosa 0.9.2, one core).

Run:  ~/pyref/bin/python scripts/bench/bench_librosa_mel.py [--clips 200]
Same parameters as the toolkit's defaults: 5 s at 16 kHz, n_fft 2048, win 1024, hop 512, 128
Slaney bands 0-8000 Hz, power_to_db(ref=1, amin=1e-10, top_db=80). Clips are processed one by one,
as the reference's data loader does.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import time  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402


def logmel(y):
    s = librosa.feature.melspectrogram(y=y, sr=16000, n_fft=2048, hop_length=512, win_length=1024,
                                       window="hann", center=True, pad_mode="constant", power=2.0,
                                       n_mels=128, fmin=0.0, fmax=8000.0)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=80)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--clips", type=int, default=200)
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    rng = np.random.default_rng(0)
    clips = (rng.standard_normal((args.clips, 80000)) * 0.1).astype(np.float32)
    logmel(clips[0])  # warm-up (filterbank cache, imports)
    cpu_start = time.process_time()
    start = time.perf_counter()
    for y in clips:
        out = logmel(y)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    assert out.shape == (128, 157)
    print(f"librosa {librosa.__version__}, numpy {np.__version__}, 1 core: {args.clips} clips in "
          f"{elapsed:.2f} s = {args.clips / elapsed:.1f} clips/s ({args.clips / cpu:.1f} clips per CPU-second)")


if __name__ == "__main__":
    main()
