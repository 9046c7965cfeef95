"""Re-save PyTorch weights in the form `import-weights` reads: a zip-format torch.save of a plain
state_dict. Only needed for files that import-weights rejects: the legacy (PyTorch < 1.6, non-zip)
format, a whole pickled nn.Module, or a checkpoint dict whose weights sit under an unusual key.
Needs only the user's PyTorch (any version >= 1.6):

    python scripts/convert_reference_weights.py authors_model.pth converted.pt [--key NAME]
"""
import argparse

import torch


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("input")
    p.add_argument("output")
    p.add_argument("--key", help="key of the state_dict inside a checkpoint dict")
    a = p.parse_args()
    try:  # trusted files only: a whole pickled module needs full unpickling
        obj = torch.load(a.input, map_location="cpu", weights_only=False)
    except TypeError:  # PyTorch < 1.13 has no weights_only
        obj = torch.load(a.input, map_location="cpu")
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    if a.key:
        obj = obj[a.key]
    elif isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        for k in ("state_dict", "model_state_dict", "model"):
            if k in obj:
                obj = obj[k]
                break
    if isinstance(obj, torch.nn.Module):
        obj = obj.state_dict()
    tensors = {k: v.detach().cpu().contiguous() for k, v in obj.items() if torch.is_tensor(v)}
    if not tensors:
        raise SystemExit(f"{a.input}: no tensors found (use --key)")
    torch.save(tensors, a.output, _use_new_zipfile_serialization=True)
    print(f"{a.output}: {len(tensors)} tensors")


if __name__ == "__main__":
    main()
