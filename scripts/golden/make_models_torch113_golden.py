"""Re-saves tests/data/models/ref_han_cnn.pt with Debian's PyTorch 1.13 (the LibTorch version here),
in the zip format (ref_han_cnn_torch113.pt) and the legacy pre-1.6 format
(ref_han_cnn_legacy.pt), so the state_dict reader is tested on another writer's output and on the
format it must reject. Run: /usr/bin/python3 scripts/golden/make_models_torch113_golden.py
"""
import os

import torch

D = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "models")
sd = torch.load(os.path.join(D, "ref_han_cnn.pt"), map_location="cpu")
torch.save(sd, os.path.join(D, "ref_han_cnn_torch113.pt"))
torch.save(sd, os.path.join(D, "ref_han_cnn_legacy.pt"), _use_new_zipfile_serialization=False)
print(torch.__version__, len(sd), "tensors")
