#!/usr/bin/env python3
"""Mixtures per second of a reference-style random-mix loader (the Python baseline of bench_loader).

Run:  ~/pyref/bin/python scripts/bench/bench_reference_loader.py --data DIR [--workers 1,2] [--batch 128]

Follows the reference repository's RandomMixMultiInstrumentDataset.__getitem__
(Multi_Instrument_Encoder/dataset.py): n ~ randint(2, 9), instruments drawn uniformly (the reference
draws with replacement; here distinct instruments, as bench_loader), one random clip of each read
with scipy.io.wavfile.read, summed in float64 with numpy, divided by the peak |value|, then (unless
--no-features) librosa 0.9.2 melspectrogram(sr=16000, win_length=1024, hop_length=512, n_mels=128)
and power_to_db in the worker, batched by torch.utils.data.DataLoader with num_workers 1 and 2.
The reference also loads one embedding .npy per stem; that is left out (it would only slow it).
Prints one JSON line per setting, with the same fields as build/bin/bench_loader.
"""
import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ[var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402
from collections import OrderedDict  # noqa: E402

import librosa  # noqa: E402
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset  # noqa: E402

SAMPLING_RATE = 16000


class RandomMixDataset(Dataset):
    def __init__(self, root, split, length, seed, features, min_tracks=2, max_tracks=9):
        by_inst = OrderedDict()
        with open(os.path.join(root, f"single_{split}.jsonl")) as f:
            for line in f:
                if line.strip():
                    row = json.loads(line)
                    by_inst.setdefault(row["instrument"], []).append(os.path.join(root, row["path"]))
        self.clips = list(by_inst.values())
        self.length = length
        self.seed = seed
        self.features = features
        self.min_tracks = min_tracks
        self.max_tracks = min(max_tracks, len(self.clips))

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        rng = np.random.default_rng((self.seed, idx))
        num_tracks = int(rng.integers(min(self.min_tracks, self.max_tracks), self.max_tracks + 1))
        insts = rng.choice(len(self.clips), size=num_tracks, replace=False)
        mix_audio = np.zeros(SAMPLING_RATE * 5)
        for inst in insts:
            paths = self.clips[inst]
            audio = scipy.io.wavfile.read(paths[int(rng.integers(len(paths)))])[1]
            mix_audio += audio
        mix_audio = mix_audio / np.max(np.abs(mix_audio))
        if self.features:
            mel_spec = librosa.feature.melspectrogram(y=mix_audio, sr=SAMPLING_RATE, win_length=1024,
                                                      hop_length=512, n_mels=128)
            out = torch.from_numpy(librosa.power_to_db(mel_spec))
        else:
            out = torch.from_numpy(mix_audio.astype(np.float32))
        return out, num_tracks


def cpu_seconds():
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-features", action="store_true", help="skip the log-mel (read + mix only)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    for workers in [int(w) for w in args.workers.split(",")]:
        data = RandomMixDataset(args.data, args.split, (args.warmup + args.steps) * args.batch, args.seed,
                                not args.no_features)
        cpu_start = cpu_seconds()
        loader = DataLoader(data, batch_size=args.batch, shuffle=False, num_workers=workers)
        mixtures = tracks = 0
        start = None
        for i, (batch, counts) in enumerate(loader):
            if i == args.warmup - 1 or (args.warmup == 0 and start is None):
                start = time.perf_counter()
                if args.warmup > 0:
                    continue
            if i >= args.warmup:
                mixtures += batch.shape[0]
                tracks += int(counts.sum())
        seconds = time.perf_counter() - start
        del loader  # joins the workers, so their CPU time is counted
        cpu = cpu_seconds() - cpu_start
        total = (args.warmup + args.steps) * args.batch
        print(json.dumps({"loader": "reference-python", "features": "none" if args.no_features else "log-mel",
                          "workers": workers, "batch": args.batch, "batches": args.steps, "mixtures": mixtures,
                          "mean_tracks": round(tracks / max(mixtures, 1), 2), "seconds": round(seconds, 3),
                          "mixtures_per_s": round(mixtures / seconds, 1),
                          "mixtures_per_cpu_s": round(total / cpu, 1), "clips": sum(map(len, data.clips)),
                          "instruments": len(data.clips)}), flush=True)


if __name__ == "__main__":
    main()
