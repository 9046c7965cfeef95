"""What the .pth and checkpoint fuzzers share: the reference weights, the tiny model flags, zip
records in and out, and one measured run of a tool (exit code, stderr, its error lines, peak RSS)."""
import io
import os
import subprocess
import zipfile

ROOT = os.path.join(os.path.dirname(__file__), "..", "..")
REF = os.path.join(ROOT, "tests", "data", "models", "ref_han_cnn.pt")
TINY = ["--set", "model.kind=han_cnn", "--set", "model.n_classes=5", "--set", "model.emb_dim=16",
        "--set", "model.han.channels=[4,8,8,16]"]


def records(data):
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def rezip(recs, method=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, body in recs:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), body, compress_type=method)
    return buf.getvalue()


def run_measured(cmd, scratch, timeout):
    """Runs `cmd` under GNU time (which measures the tool alone: a child forked from this process
    would inherit its peak RSS, torch and all). Returns (exit code or "timeout", stderr, its non-empty
    lines other than time's own, peak RSS in MiB)."""
    with open(os.path.join(scratch, "stderr"), "w+") as err:
        try:
            rc = subprocess.call(["/usr/bin/time", "-f", "%M", "-o", os.path.join(scratch, "rss")] + cmd,
                                 stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
        except subprocess.TimeoutExpired:
            rc = "timeout"
        err.seek(0)
        stderr = err.read()
    lines = [l for l in stderr.splitlines() if l.strip() and not l.startswith("Command ")]
    try:
        rss = int(open(os.path.join(scratch, "rss")).read().split()[-1]) / 1024.0
    except (OSError, ValueError, IndexError):
        rss = 0.0
    return rc, stderr, lines, rss
