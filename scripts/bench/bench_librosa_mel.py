#!/usr/bin/env python3
"""Clips per second of the reference log-mel pipeline (librosa 0.9.2, one core).

Run:  ~/pyref/bin/python scripts/bench/bench_librosa_mel.py [--clips 200]
      ~/pyref/bin/python scripts/bench/bench_librosa_mel.py --files F.wav ...   (read each file in the loop)
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
    parser.add_argument("--files", nargs="+", help="16 kHz WAV files: read each (scipy.io.wavfile, first 5 s, "
                        "zero-padded) and compute its log-mel in the timed loop, as `embed --mel` does")
    args = parser.parse_args()
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    if args.files:
        import scipy.io.wavfile  # noqa: E402

        def clip(path):
            rate, x = scipy.io.wavfile.read(path)
            assert rate == 16000, f"{path}: {rate} Hz (this baseline does not resample)"
            x = x.astype(np.float32) / 32768.0 if x.dtype == np.int16 else x.astype(np.float32)
            if x.ndim > 1:
                x = x.mean(axis=1)
            y = np.zeros(80000, np.float32)
            y[:min(len(x), 80000)] = x[:80000]
            return y

        clips = (clip(f) for f in args.files)
        n = len(args.files)
        logmel(np.zeros(80000, np.float32))  # warm-up (filterbank cache, imports)
    else:
        rng = np.random.default_rng(0)
        clips = (rng.standard_normal((args.clips, 80000)) * 0.1).astype(np.float32)
        n = args.clips
        logmel(clips[0])  # warm-up (filterbank cache, imports)
    cpu_start = time.process_time()
    start = time.perf_counter()
    for y in clips:
        out = logmel(y)
    elapsed = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    assert out.shape == (128, 157)
    what = "files (read + log-mel)" if args.files else "clips"
    print(f"librosa {librosa.__version__}, numpy {np.__version__}, 1 core: {n} {what} in "
          f"{elapsed:.2f} s = {n / elapsed:.1f} clips/s ({n / cpu:.1f} clips per CPU-second)")


if __name__ == "__main__":
    main()
