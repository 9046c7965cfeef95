#!/usr/bin/env python3
"""Training samples/s of the reference's design in Python: the twin of
`train-single ... --benchmark N` / `train-multi ... --benchmark N` (src/train/trainer.cpp, benchmark()).

Usage:
  ~/pyref/bin/python scripts/bench/bench_reference_training.py --data DIR --model han_cnn|small|large
      [--batch 128] [--steps 10] [--workers 2] [--threads T] [--prefetch 2] [--seed 0] [--device cpu]
      [--bf16] [--channels-last] [--channels 32,64,128,256] [--emb 1024]

The design is the reference repository's (minju0821/musical_instrument_retrieval), re-written here:
- han_cnn: the single-instrument encoder (Single_Instrument_Encoder/{dataset,train}.py). A
  torch.utils.data.DataLoader (shuffle, num_workers=--workers) over the single_train clips of the
  rendered Nlakh dataset; each worker reads the WAV with scipy.io.wavfile.read, scales the int16 samples
  by 1/32768 (float32) and computes the log-mel with librosa; label = the instrument's index. Model:
  scripts/reference_models.py HanCNN with n_out = the number of train instruments, input
  (B, 1, time, mel); CrossEntropyLoss on its logits; Adam lr 1e-3.
- small / large: the multi-instrument encoder on random mixes (Multi_Instrument_Encoder/dataset.py,
  RandomMixMultiInstrumentDataset; train.py). Each item: n ~ uniform{2..min(9, I)} instruments (distinct,
  the toolkit's rule; the reference draws with replacement), one random clip of each read with
  scipy.io.wavfile.read, summed in float64 with numpy, divided by the peak |value|, log-mel with librosa,
  all in the DataLoader worker. Targets: the reference loads one single-encoder embedding .npy per stem;
  here a fixed random 1024-d vector per clip (a stand-in for the toolkit's cached single-encoder
  embeddings, held in memory, so no file is read for it). small = HanCNN with n_out = 9*1024
  (the reference's Small ConvNet), input (B, 1, time, mel); large = timm convnext_small(in_chans=1,
  num_classes=9*1024, drop_path_rate=0.5), random init (nothing can be downloaded), input
  (B, 1, mel, time). Loss: the PIT cosine loss: per item, cost 1 - cos(output_i, target_j) over the
  9 outputs and the first n targets, scipy.optimize.linear_sum_assignment, mean of the n matched
  costs; mean over the batch. Adam lr 1e-3.
- Log-mel as docs/audio.md: librosa.feature.melspectrogram(sr=16000, n_fft=2048, win_length=1024,
  hop_length=512, n_mels=128, fmax=8000, center=True, pad_mode='constant'), power_to_db(ref=1,
  top_db=80); handed to the main process as float32.

Measured as the C++ benchmark: (a) the step alone (zero_grad, forward, loss, backward, Adam step) on
steps+1 pre-made synthetic batches, (b) the whole pipeline with the DataLoader (created before step 0,
so its workers start during the warm-up step); each times `steps` steps after 1 warm-up step.
data_wait_fraction = the time spent in next(loader) during (b) / the time of (b). Prints one JSON line
with the keys of the C++ benchmark (step_samples_per_s, pipeline_samples_per_s, data_wait_fraction,
batch_size, steps, workers, threads, ...).

Threads: BLAS/OpenMP/numba pools are set to 1 thread (before numpy is imported, unless the variables
are already set), so a DataLoader worker is one thread like a C++ loader worker; the training step
uses torch.set_num_threads(--threads) (default: the cores available to the process).
"""
import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

# librosa 0.9.2's pkg_resources import and torch's own deprecations: noise on every run (and worker)
warnings.filterwarnings("ignore", category=UserWarning, message="pkg_resources is deprecated")
warnings.filterwarnings("ignore", category=FutureWarning)

try:  # only the pipeline (b) needs librosa: --step-only runs without it (e.g. on a GPU host)
    import librosa  # noqa: E402
except ImportError:
    librosa = None
import numpy as np  # noqa: E402
import scipy.io.wavfile  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from scipy.optimize import linear_sum_assignment  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader, Dataset, RandomSampler  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from reference_models import HanCNN  # noqa: E402

SAMPLING_RATE = 16000
N_SLOTS = 9
EMB = 1024
N_MELS = 128


def log_mel(y):
    """docs/audio.md's log-mel, (n_mels, frames) float32."""
    mel = librosa.feature.melspectrogram(y=y, sr=SAMPLING_RATE, n_fft=2048, win_length=1024, hop_length=512,
                                         window="hann", center=True, pad_mode="constant", power=2.0,
                                         n_mels=N_MELS, fmin=0.0, fmax=8000.0)
    return librosa.power_to_db(mel, ref=1.0, amin=1e-10, top_db=80.0).astype(np.float32)


def read_split(root, split="train"):
    """Train instruments in instruments.json order (the toolkit's indices) and the clips of each."""
    with open(os.path.join(root, "instruments.json")) as f:
        insts = [row["id"] for row in json.load(f) if row.get("split") == split]
    index = {name: k for k, name in enumerate(insts)}
    clips = []  # (path, instrument index)
    with open(os.path.join(root, f"single_{split}.jsonl")) as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                clips.append((os.path.join(root, row["path"]), index[row["instrument"]]))
    if not clips:
        raise SystemExit(f"{root}: no clips in single_{split}.jsonl")
    return insts, clips


class SingleClipDataset(Dataset):
    """Single_Instrument_Encoder/dataset.py RenderedInstrumentDataset: one clip -> (log-mel, label)."""

    def __init__(self, clips):
        self.clips = clips

    def __len__(self):
        return len(self.clips)

    def __getitem__(self, idx):
        path, label = self.clips[idx]
        _, audio = scipy.io.wavfile.read(path)
        audio = np.array(audio, dtype=np.float32) / 32768.0
        return torch.from_numpy(log_mel(audio)), label


class RandomMixDataset(Dataset):
    """Multi_Instrument_Encoder/dataset.py RandomMixMultiInstrumentDataset, distinct instruments."""

    def __init__(self, clips, length, seed, min_tracks=2, max_tracks=N_SLOTS):
        by_inst = {}
        for row, (path, inst) in enumerate(clips):
            by_inst.setdefault(inst, []).append((path, row))
        self.by_inst = [by_inst[k] for k in sorted(by_inst)]
        self.length = length
        self.seed = seed
        self.max_tracks = min(max_tracks, len(self.by_inst))
        self.min_tracks = min(min_tracks, self.max_tracks)
        # Stand-in for the per-clip single-encoder embeddings (the reference np.load()s one per stem).
        self.targets = np.random.default_rng(seed + 1).standard_normal((len(clips), EMB)).astype(np.float32)

    def __len__(self):
        return self.length

    def __getitem__(self, idx):
        rng = np.random.default_rng((self.seed, idx))
        n = int(rng.integers(self.min_tracks, self.max_tracks + 1))
        insts = rng.choice(len(self.by_inst), size=n, replace=False)
        mix = None  # float64, as the reference's np.zeros(SAMPLING_RATE * 5) (clips of any one length)
        emb = torch.zeros((N_SLOTS, EMB))  # zero padding, as the reference
        for i, inst in enumerate(insts):
            clips = self.by_inst[inst]
            path, row = clips[int(rng.integers(len(clips)))]
            audio = scipy.io.wavfile.read(path)[1]
            if mix is None:
                mix = np.zeros(audio.shape[0])
            mix += audio
            emb[i] = torch.from_numpy(self.targets[row])
        peak = np.max(np.abs(mix))
        if peak > 0:
            mix = mix / peak
        return torch.from_numpy(log_mel(mix)), emb, n


def pit_cosine_loss(out, targets, counts):
    """out (B, 9, D), targets (B, 9, D) zero-padded, counts (B,): mean over items of the mean matched
    1 - cos over the optimal assignment (scipy) of the first n targets to the 9 outputs."""
    cos = torch.bmm(F.normalize(out, dim=-1), F.normalize(targets, dim=-1).transpose(1, 2))
    cost = 1.0 - cos  # (B, outputs, targets)
    cost_np = cost.detach().cpu().numpy()
    losses = []
    for b in range(out.shape[0]):
        n = int(counts[b])
        r, c = linear_sum_assignment(cost_np[b, :, :n])
        losses.append(cost[b, torch.as_tensor(r), torch.as_tensor(c)].mean())
    return torch.stack(losses).mean()


class Task:
    def __init__(self, model_name, n_classes, device, bf16=False, channels_last=False, channels=(32, 64, 128, 256)):
        self.name = model_name
        self.device = device
        self.bf16 = bf16
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if model_name == "han_cnn":
            self.model = HanCNN(n_out=n_classes, channels=channels, emb=EMB)
        elif model_name == "small":
            self.model = HanCNN(n_out=N_SLOTS * EMB, channels=channels, emb=EMB)
        else:
            import timm
            self.model = timm.create_model("convnext_small", pretrained=False, in_chans=1,
                                           num_classes=N_SLOTS * EMB, drop_path_rate=0.5)
        self.model.to(device, memory_format=self.memory_format).train()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.n_classes = n_classes
        self.ce = nn.CrossEntropyLoss()

    def forward(self, mel):  # mel (B, mel, time)
        x = mel.unsqueeze(1) if self.name == "large" else mel.transpose(1, 2).unsqueeze(1)
        x = x.contiguous(memory_format=self.memory_format)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            out = self.model(x)  # large: (B, 1, mel, time); han: (B, 1, time, mel)
        out = out if self.name == "large" else out[0]
        return out.float()

    def step(self, batch):
        self.optimizer.zero_grad()
        if self.name == "han_cnn":
            mel, labels = batch
            loss = self.ce(self.forward(mel.to(self.device, non_blocking=True)), labels.to(self.device))
        else:
            mel, emb, counts = batch
            out = self.forward(mel.to(self.device, non_blocking=True)).reshape(mel.shape[0], N_SLOTS, EMB)
            loss = pit_cosine_loss(out, emb.to(self.device), counts)
        loss.backward()
        self.optimizer.step()
        return loss

    def synthetic_batch(self, rng, batch, frames):
        mel = torch.from_numpy(rng.uniform(-80.0, 0.0, (batch, N_MELS, frames)).astype(np.float32))
        if self.name == "han_cnn":
            return mel, torch.from_numpy(rng.integers(0, self.n_classes, batch))
        counts = torch.from_numpy(rng.integers(2, N_SLOTS + 1, batch))
        emb = torch.zeros((batch, N_SLOTS, EMB))
        for b in range(batch):
            emb[b, :counts[b]] = torch.from_numpy(rng.standard_normal((int(counts[b]), EMB)).astype(np.float32))
        return mel, emb, counts


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed_steps(task, batches, steps, device):
    """Runs steps+1 steps on the iterator `batches`; returns (seconds of steps 1..n, seconds waited in next())."""
    waited = 0.0
    t0 = None
    for s in range(steps + 1):
        if s == 1:
            sync(device)
            t0 = time.perf_counter()
        w = time.perf_counter()
        batch = next(batches)
        if s >= 1:
            waited += time.perf_counter() - w
        task.step(batch)
    sync(device)
    return time.perf_counter() - t0, waited


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="a render-nlakh dataset folder")
    p.add_argument("--model", required=True, choices=["han_cnn", "small", "large"])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=10, help="timed steps (after 1 warm-up step)")
    p.add_argument("--workers", type=int, default=2, help="DataLoader num_workers")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: the cores available)")
    p.add_argument("--prefetch", type=int, default=2, help="DataLoader prefetch_factor (batches per worker)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast of the forward pass (CPU or CUDA)")
    p.add_argument("--channels", default="32,64,128,256", help="Han CNN block widths (han_cnn, small)")
    p.add_argument("--emb", type=int, default=1024, help="embedding size (han_cnn, small)")
    p.add_argument("--channels-last", action="store_true", help="channels_last weights and inputs")
    p.add_argument("--step-only", action="store_true", help="time (a) only, not the DataLoader pipeline (no librosa)")
    args = p.parse_args()
    global EMB
    EMB = args.emb
    channels = tuple(int(c) for c in args.channels.split(","))
    if args.steps < 1 or args.batch < 1 or args.workers < 0:
        p.error("--steps and --batch must be >= 1, --workers >= 0")
    if librosa is None and not args.step_only:
        p.error("librosa is not installed: the pipeline needs it (or give --step-only)")
    torch.set_num_threads(args.threads if args.threads > 0 else len(os.sched_getaffinity(0)))
    torch.manual_seed(args.seed)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed shapes, as the C++ tools' training

    insts, clips = read_split(args.data, "train")
    frames = 1 + scipy.io.wavfile.read(clips[0][0])[1].shape[0] // 512
    task = Task(args.model, len(insts), device, args.bf16, args.channels_last, channels)
    n_items = (args.steps + 1) * args.batch

    # (a) the step alone, on pre-made synthetic batches
    rng = np.random.default_rng(args.seed)
    premade = [task.synthetic_batch(rng, args.batch, frames) for _ in range(args.steps + 1)]
    synthetic, _ = timed_steps(task, iter(premade), args.steps, device)
    del premade
    # (b) the whole pipeline: DataLoader workers read, mix and compute log-mels
    pipeline = waited = None
    if not args.step_only:
        if args.model == "han_cnn":
            data = SingleClipDataset(clips)
            sampler = RandomSampler(data, replacement=False, num_samples=n_items,
                                    generator=torch.Generator().manual_seed(args.seed))
        else:
            data = RandomMixDataset(clips, n_items, args.seed)
            sampler = RandomSampler(data, generator=torch.Generator().manual_seed(args.seed))
        loader = DataLoader(data, batch_size=args.batch, sampler=sampler, num_workers=args.workers,
                            prefetch_factor=args.prefetch if args.workers > 0 else None, drop_last=True,
                            pin_memory=device.type == "cuda")
        pipeline, waited = timed_steps(task, iter(loader), args.steps, device)

    n, b = args.steps, args.batch
    print(json.dumps({"benchmark": f"reference-python-{args.model}", "device": str(device), "batch_size": b,
                      "steps": n, "workers": args.workers, "threads": torch.get_num_threads(),
                      "step_steps_per_s": n / synthetic, "step_samples_per_s": n * b / synthetic,
                      "pipeline_steps_per_s": pipeline and n / pipeline,
                      "pipeline_samples_per_s": pipeline and n * b / pipeline,
                      "data_wait_fraction": pipeline and waited / pipeline, "frames": frames,
                      "bf16": args.bf16, "channels_last": args.channels_last,
                      "channels": list(channels) if args.model != "large" else None,
                      "emb_dim": EMB,
                      "train_instruments": len(insts), "train_clips": len(clips),
                      "torch": torch.__version__, "librosa": librosa and librosa.__version__}), flush=True)


if __name__ == "__main__":
    main()
