"""The Han et al. CNN as the paper's reference code builds it, in plain PyTorch (no timm), shared by
the golden-file script (scripts/golden/make_models_golden.py) and the Python benchmark
(scripts/bench/bench_models.py). Its input is the log-mel transposed, (B, 1, time, mel).
"""
from torch import nn


class HanCNN(nn.Module):
    """The Han et al. CNN as the reference code builds it; the input is (B, 1, time, mel)."""

    def __init__(self, n_out, channels=(32, 64, 128, 256), emb=1024):
        super().__init__()

        def block(cin, cout, last):
            layers = [nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.33),
                      nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.LeakyReLU(0.33)]
            layers += [nn.AdaptiveMaxPool2d(1)] if last else [nn.MaxPool2d(3), nn.Dropout2d(0.25)]
            return nn.Sequential(*layers)

        cin = 1
        for i, c in enumerate(channels):
            setattr(self, f"conv{i + 1}", block(cin, c, i == 3))
            cin = c
        self.linear1 = nn.Sequential(nn.Flatten(), nn.Linear(channels[3], emb), nn.LeakyReLU(0.33), nn.Dropout(0.5))
        self.linear2 = nn.Sequential(nn.Linear(emb, n_out))  # a one-layer Sequential, as in the reference

    def forward(self, x):
        x = self.conv4(self.conv3(self.conv2(self.conv1(x))))
        emb = self.linear1(x)
        return self.linear2(emb), emb
