"""Python/PyTorch side of bench/bench_models: the same three encoders (Han CNN with 953 classes,
Small = Han CNN trunk + Linear(1024, 9*1024), Large = ConvNeXt-Small with a 1-channel stem and
9*1024 outputs, written here in plain PyTorch with timm's structure) timed the same way.
Run with Debian's PyTorch (same version as LibTorch): /usr/bin/python3 scripts/bench/bench_models.py
"""
import argparse
import os
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference_models import HanCNN  # noqa: E402


class HanCNNOnLogMel(HanCNN):
    """The shared reference Han CNN, fed the log-mel (B, mel, time) like the C++ encoders."""

    def forward(self, logmel):
        return super().forward(logmel.transpose(1, 2).unsqueeze(1))[0]


class LayerNorm2d(nn.LayerNorm):
    def forward(self, x):
        return F.layer_norm(x.permute(0, 2, 3, 1), self.normalized_shape, self.weight, self.bias,
                            self.eps).permute(0, 3, 1, 2)


class Block(nn.Module):
    def __init__(self, dim, ls, dp):
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, 7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.fc1, self.fc2 = nn.Linear(dim, 4 * dim), nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(ls * torch.ones(dim))
        self.dp = dp

    def forward(self, x):
        y = self.fc2(F.gelu(self.fc1(self.norm(self.conv_dw(x).permute(0, 2, 3, 1))))) * self.gamma
        y = y.permute(0, 3, 1, 2)
        if self.training and self.dp > 0:
            keep = 1 - self.dp
            y = y * x.new_empty(x.shape[0], 1, 1, 1).bernoulli_(keep) / keep
        return x + y


class ConvNeXt(nn.Module):
    def __init__(self, n_out, depths=(3, 3, 27, 3), dims=(96, 192, 384, 768), dp=0.5, ls=1e-6):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, dims[0], 4, stride=4), LayerNorm2d(dims[0], eps=1e-6))
        rates = torch.linspace(0, dp, sum(depths)).tolist()
        stages, k = [], 0
        for i, (d, n) in enumerate(zip(dims, depths)):
            layers = [] if i == 0 else [LayerNorm2d(dims[i - 1], eps=1e-6), nn.Conv2d(dims[i - 1], d, 2, stride=2)]
            layers += [Block(d, ls, rates[k + j]) for j in range(n)]
            k += n
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.fc = nn.Linear(dims[-1], n_out)

    def forward(self, logmel):  # (B, mel, time) -> (B, 1, mel, time)
        x = self.stages(self.stem(logmel.unsqueeze(1)))
        return self.fc(self.norm(x.mean((2, 3))))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--iters", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--batch-han", type=int, default=32)
    p.add_argument("--batch-small", type=int, default=32)
    p.add_argument("--batch-large", type=int, default=8)
    p.add_argument("--models", nargs="+", default=["han_cnn", "small", "large"])
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    print("device model batch threads params forward_ms forward_backward_ms")
    builders = {"han_cnn": (lambda: HanCNNOnLogMel(953), a.batch_han), "small": (lambda: HanCNNOnLogMel(9 * 1024), a.batch_small),
                "large": (lambda: ConvNeXt(9 * 1024), a.batch_large)}
    for kind in a.models:
        build, batch = builders[kind]
        model = build()
        x = torch.randn(batch, 128, 157) * 20 - 40
        fwd, fb = [], []
        for i in range(a.warmup + a.iters):
            model.eval()
            t0 = time.perf_counter()
            with torch.no_grad():
                model(x)
            t1 = time.perf_counter()
            model.train()
            model.zero_grad()
            model(x).pow(2).mean().backward()
            t2 = time.perf_counter()
            if i >= a.warmup:
                fwd.append((t1 - t0) * 1e3)
                fb.append((t2 - t1) * 1e3)
        n = sum(q.numel() for q in model.parameters())
        print(f"cpu {kind} {batch} {a.threads} {n} {sorted(fwd)[len(fwd) // 2]:.1f} {sorted(fb)[len(fb) // 2]:.1f}", flush=True)


if __name__ == "__main__":
    main()
