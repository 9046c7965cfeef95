"""Golden files for the model tests (tests/data/models/), from an independent PyTorch definition.

Writes:
  param_counts.json        exact parameter counts of the FULL-size models (Han CNN with 953 classes,
                           Small = Han CNN + Linear(1024, 9*1024), Large = timm convnext_small with a
                           1-channel stem and 9*1024 outputs) and of the tiny fixture models.
  ref_<name>.pt            tiny models' state_dicts saved exactly like the reference code does:
                           torch.save(nn.DataParallel(model).state_dict()) ("module." prefixes,
                           Han CNN as conv1..conv4 / linear1 / linear2 Sequentials, timm ConvNeXt naming).
  input.npy                a log-mel batch (B, n_mels, frames) fed to all three models.
  expected_<name>_*.npy    the reference models' eval-mode outputs on that input.
Run: ~/pyref/bin/python scripts/golden/make_models_golden.py  (timm 0.9.16, torch 2.x)
"""
import json
import os
import sys

import numpy as np
import timm
import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from reference_models import HanCNN  # noqa: E402

OUT = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "models")


def n_params(m):
    return sum(p.numel() for p in m.parameters())


def randomize(model, gen):
    """Makes every parameter and BatchNorm statistic non-trivial, so the comparison tests them all."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("gamma"):
                p.copy_(0.5 + 0.5 * torch.rand(p.shape, generator=gen))
            elif p.dim() == 1 and ("norm" in name or name.endswith(("stem.1.weight", "downsample.0.weight"))):
                p.copy_(1.0 + 0.2 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(p + 0.05 * torch.randn(p.shape, generator=gen))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.1 * torch.randn(b.shape, generator=gen))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand(b.shape, generator=gen))
            elif name.endswith("num_batches_tracked"):
                b.fill_(7)


def save_reference(model, name):
    torch.save(nn.DataParallel(model).state_dict(), os.path.join(OUT, f"ref_{name}.pt"))


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)

    full = {
        "han_cnn_953": n_params(HanCNN(953)),
        "small_9x1024": n_params(HanCNN(9 * 1024)),
        "large_9x1024": n_params(timm.create_model("convnext_small", pretrained=False, in_chans=1,
                                                   num_classes=9 * 1024)),
    }

    tiny_han = dict(channels=(4, 8, 8, 16), emb=16)
    tiny_cnx = dict(depths=(1, 1, 2, 1), dims=(8, 16, 24, 32))
    n_classes, M, D = 5, 3, 16
    han = HanCNN(n_classes, **tiny_han)
    small = HanCNN(M * D, **tiny_han)
    large = timm.models.convnext.ConvNeXt(in_chans=1, num_classes=M * D, depths=tiny_cnx["depths"],
                                          dims=tiny_cnx["dims"], drop_path_rate=0.5, ls_init_value=1e-6)
    tiny = {"han_cnn": n_params(han), "small": n_params(small), "large": n_params(large)}
    for m in (han, small, large):
        randomize(m, gen)
        m.eval()

    x = torch.randn(2, 32, 40, generator=gen) * 10.0 - 40.0  # (B, n_mels, frames), dB-like values
    with torch.no_grad():
        logits, emb = han(x.transpose(1, 2).unsqueeze(1))
        small_out = small(x.transpose(1, 2).unsqueeze(1))[0].reshape(2, M, D)
        large_out = large(x.unsqueeze(1)).reshape(2, M, D)

    save_reference(han, "han_cnn")
    save_reference(small, "small")
    save_reference(large, "large")
    np.save(os.path.join(OUT, "input.npy"), x.numpy())
    np.save(os.path.join(OUT, "expected_han_cnn_logits.npy"), logits.numpy())
    np.save(os.path.join(OUT, "expected_han_cnn_embedding.npy"), emb.numpy())
    np.save(os.path.join(OUT, "expected_small.npy"), small_out.numpy())
    np.save(os.path.join(OUT, "expected_large.npy"), large_out.numpy())

    meta = {
        "full": full,
        "tiny": tiny,
        "tiny_config": {"n_classes": n_classes, "n_outputs": M, "emb_dim": D,
                        "han_channels": list(tiny_han["channels"]),
                        "convnext_depths": list(tiny_cnx["depths"]), "convnext_dims": list(tiny_cnx["dims"])},
        "large_state_dict_keys": sorted(k[len("module."):] for k in nn.DataParallel(large).state_dict()),
        "han_state_dict_keys": sorted(k[len("module."):] for k in nn.DataParallel(han).state_dict()),
    }
    with open(os.path.join(OUT, "param_counts.json"), "w") as f:
        json.dump(meta, f, indent=1)
    print(json.dumps({"full": full, "tiny": tiny}, indent=1))


if __name__ == "__main__":
    main()
