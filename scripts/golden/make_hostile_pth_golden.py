"""Hostile .pth fixtures for the state_dict reader (tests/data/models/hostile/, a few KB) and what
PyTorch and Python's zipfile make of them (expected.json):

  dup_key.pt          a state_dict pickle that sets key "a" twice (torch.save never writes this; a
                      hand-written pickle does): torch.load keeps the first position and the last value
  crc_bad_tensor.pt   one byte of tensor data flipped, CRC-32 left as it was (zipfile.testzip() names it)
  crc_bad_pickle.pt   one byte of data.pkl flipped (a key renamed, still a valid pickle), CRC left
  crc_fixed.pt        the tensor flip of crc_bad_tensor.pt with its CRC-32 recomputed: a valid file,
                      whose values torch.load gives

Run with Debian's PyTorch 1.13 (the LibTorch version the project builds against):
    /usr/bin/python3 scripts/golden/make_hostile_pth_golden.py
"""
import io
import json
import os
import struct
import zipfile

import torch

D = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "data", "models", "hostile")
os.makedirs(D, exist_ok=True)


def short_str(s):
    b = s.encode()
    return b"\x8c" + bytes([len(b)]) + b


def tensor_op(key, values):
    """_rebuild_tensor_v2(storage `key` of float32 `values`, 0, (n,), (1,), False, OrderedDict())"""
    n = len(values)
    p = b"ctorch._utils\n_rebuild_tensor_v2\n("
    p += b"(" + short_str("storage") + b"ctorch\nFloatStorage\n" + short_str(key) + short_str("cpu")
    p += b"K" + bytes([n]) + b"tQ"
    p += b"K\x00" + b"K" + bytes([n]) + b"\x85" + b"K\x01\x85" + b"\x89" + b"ccollections\nOrderedDict\n)R"
    p += b"tR"
    return p


def write_zip(path, records, folder="archive/"):
    """records: list of (name, bytes), stored, in one folder as torch.save does."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        for name, data in records:
            z.writestr(zipfile.ZipInfo(folder + name, date_time=(1980, 1, 1, 0, 0, 0)), data)


def values_of(path):
    sd = torch.load(path, map_location="cpu")
    return {"keys": list(sd.keys()), "values": {k: [float(x) for x in v.flatten().tolist()] for k, v in sd.items()}}


def data_offset(path, name):
    with zipfile.ZipFile(path) as z:
        info = z.getinfo(name)
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        h = f.read(30)
    n_len, x_len = struct.unpack("<HH", h[26:30])
    return info.header_offset + 30 + n_len + x_len


def flip(src, dst, name, at, fix_crc=False):
    data = bytearray(open(src, "rb").read())
    data[data_offset(src, name) + at] ^= 0x01
    open(dst, "wb").write(bytes(data))
    if fix_crc:  # rewrite the same records (flipped content) with fresh CRCs
        with zipfile.ZipFile(io.BytesIO(bytes(data))) as z:
            recs = []
            for info in z.infolist():
                with z.open(info) as f:
                    f._expected_crc = None  # read the flipped bytes without zipfile's own check
                    recs.append((info.filename, f.read()))
        write_zip(dst, recs, folder="")


expected = {}

# 1. A key set twice.
vals = [[1.0, 2.0], [3.0, 4.0, 5.0], [6.0, 7.0]]
pkl = b"\x80\x02}(" + short_str("a") + tensor_op("0", vals[0]) + short_str("b") + tensor_op("1", vals[1])
pkl += short_str("a") + tensor_op("2", vals[2]) + b"u."
recs = [("data.pkl", pkl), ("byteorder", b"little")]
recs += [("data/%d" % i, struct.pack("<%df" % len(v), *v)) for i, v in enumerate(vals)]
recs += [("version", b"3\n")]
path = os.path.join(D, "dup_key.pt")
write_zip(path, recs)
expected["dup_key.pt"] = values_of(path)

# 2. Flipped bytes with and without a fixed CRC, from a torch.save file.
base = os.path.join(D, "base.pt")
sd = {"weight": torch.arange(8, dtype=torch.float32) * 0.5, "bias": torch.tensor([1.0, -1.0])}
torch.save(sd, base)
prefix = zipfile.ZipFile(base).namelist()[0].split("/")[0] + "/"
flip(base, os.path.join(D, "crc_bad_tensor.pt"), prefix + "data/0", 5)
pkl_bytes = zipfile.ZipFile(base).read(prefix + "data.pkl")
flip(base, os.path.join(D, "crc_bad_pickle.pt"), prefix + "data.pkl", pkl_bytes.index(b"weight"))
flip(base, os.path.join(D, "crc_fixed.pt"), prefix + "data/0", 5, fix_crc=True)
for name in ("crc_bad_tensor.pt", "crc_bad_pickle.pt"):
    bad = zipfile.ZipFile(os.path.join(D, name)).testzip()
    expected[name] = {"bad_record": bad, "torch_load_keys": list(torch.load(os.path.join(D, name)).keys())}
expected["crc_fixed.pt"] = values_of(os.path.join(D, "crc_fixed.pt"))
expected["base.pt"] = values_of(base)

with open(os.path.join(D, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, sort_keys=True)
print(torch.__version__, json.dumps(expected)[:400])
