#!/usr/bin/env bash
# Benchmarks of the retrieval and embedding tools (issue 8, "Benchmark"; docs/benchmarks.md,
# "Retrieval and embedding tools"):
#   1. `retrieve query` latency, whole process: cold (a fresh process, one file) and warm (per file
#      inside one process over several files), for a 5 s and a 3-minute query, with libraries of
#      10^3 and 10^6 entries, exact search and IVF (first run = build and store the index beside the
#      library, later runs = read the stored index);
#   2. `retrieve index` and `embed --single` files/s with -j 1 and -j 2, `embed --mel` over 1,000
#      five-second WAV files, beside the librosa baseline (scripts/bench/bench_librosa_mel.py --files).
#
# Usage:  scripts/bench/bench_retrieve.sh OUT_DIR
# Env:    WORK (data folder, default /tmp/bench_retrieve/data), PY (default ~/pyref/bin/python: numpy,
#         librosa 0.9.2, scipy, soundfile), SINGLE / MULTI (checkpoints, default the demo's), BIN
#         (default build/bin), NLAKH (default out/demo/nlakh), REPS (cold repetitions, default 3);
#         only to try the script quickly:
#         N_BIG (entries of the "10^6" library, default 1000000), N_FILES (default 1000).
# Run from the repository root. Needs /usr/bin/time. Writes every log, /usr/bin/time -v report and
# output under OUT_DIR, and the tables to OUT_DIR/summary.md. Took 11 minutes on the (loaded) 2-core
# development machine; peak RSS 3.85 GB (the 10^6 library is 2.15 GB on disk: 10^6 instruments
# of one clip each, 256-d).
set -euo pipefail

OUT=${1:?usage: scripts/bench/bench_retrieve.sh OUT_DIR}
WORK=${WORK:-/tmp/bench_retrieve/data}
PY=${PY:-$HOME/pyref/bin/python}
BIN=${BIN:-build/bin}
SINGLE=${SINGLE:-out/demo/single/checkpoints/best.pt}
MULTI=${MULTI:-out/demo/multi/checkpoints/last.pt}
NLAKH=${NLAKH:-out/demo/nlakh}
REPS=${REPS:-3}
N_BIG=${N_BIG:-1000000}
N_FILES=${N_FILES:-1000}
mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
# Snapshot the two binaries: a rebuild in build/ during the run must not swap them half-way.
mkdir -p "$WORK/bin"
cp "$BIN/retrieve" "$BIN/embed" "$WORK/bin/"
SRC_BIN=$BIN
BIN=$WORK/bin

# ---- environment and a load-average sampler (the machine is shared) -----------------------------
{
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "git: $(git rev-parse --short HEAD 2>/dev/null) ($(git status --porcelain 2>/dev/null | wc -l) changed paths)"
  echo "cpus: $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
  echo "memory: $(free -g | awk '/Mem:/ {print $2 " GiB total, " $7 " GiB available"}')"
  echo "binaries (copied to $BIN): $(ls -l --time-style=+%FT%T "$SRC_BIN/retrieve" "$SRC_BIN/embed" | awk '{print $6, $7}' | tr '\n' ' ')"
  echo "md5: $(md5sum "$BIN/retrieve" "$BIN/embed" | awk '{print $1}' | tr '\n' ' ')"
  echo "OMP_NUM_THREADS=${OMP_NUM_THREADS:-unset}; N_BIG=$N_BIG; N_FILES=$N_FILES; REPS=$REPS"
  echo "top CPU users at start:"
  ps -eo pcpu,etime,args --sort=-pcpu | sed -n 1,6p | cut -c1-200
} > "$OUT/env.txt"
: > "$OUT/loadavg.log"
( while true; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/loadavg.log"; sleep 5; done ) &
SAMPLER=$!
trap 'kill $SAMPLER 2>/dev/null || true' EXIT
trap 'echo "bench_retrieve.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

# run NAME CMD... : one whole-process measurement (stdout, stderr, /usr/bin/time -v report). A failing
# command is recorded (its exit status is in NAME.time; summary.md lists it) and the script goes on.
run() {
  local name=$1; shift
  echo "[$(date +%T)] $name: $*" | sed -E 's|(/clip[0-9]{4}\.wav)( [^ ]*/clip[0-9]{4}\.wav)+|\1 ...|' |
    tee -a "$OUT/commands.log" | cut -c1-240
  date +%T.%N > "$OUT/$name.start"
  /usr/bin/time -v -o "$OUT/$name.time" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err" ||
    echo "  -> exit status $? (see $OUT/$name.err)"
}

# ---- data ---------------------------------------------------------------------------------------
# Queries: one 5 s valid mixture, and 36 of them concatenated (180 s).
cp "$NLAKH/multi/valid/000000/mix.wav" "$WORK/q5s.wav"
ls -d "$NLAKH"/multi/valid/*/ | sort | sed 's|/$|/mix.wav|' > "$WORK/valid_mixes.list"
sed -n 1,36p "$WORK/valid_mixes.list" > "$WORK/q3min.list"
"$PY" - "$WORK/q3min.list" "$WORK/q3min.wav" <<'EOF'
import sys
import numpy as np
import soundfile as sf
files = [l.strip() for l in open(sys.argv[1]) if l.strip()]
x = np.concatenate([sf.read(f, dtype="int16")[0] for f in files])
sf.write(sys.argv[2], x, 16000, subtype="PCM_16")
print(f"{sys.argv[2]}: {len(files)} files, {len(x) / 16000:.1f} s")
EOF
# N_FILES (1,000) five-second WAV files (16 kHz mono PCM16, Nlakh single-instrument training clips), named
# clipNNNN.wav: `retrieve index --folder` makes each its own instrument (no _ or - in the name), so
# the -j 2 index run writes a real library of 1,000 instruments.
rm -rf "$WORK/wav1000" && mkdir -p "$WORK/wav1000"
find "$NLAKH/single/train" -name '*.wav' | sort > "$WORK/train_clips.list"
sed -n "1,${N_FILES}p" "$WORK/train_clips.list" |
  awk -v d="$WORK/wav1000" '{ printf "%s\t%s/clip%04d.wav\n", $0, d, NR - 1 }' |
  while IFS=$'\t' read -r src dst; do cp "$src" "$dst"; done
test "$(ls "$WORK/wav1000" | wc -l)" -eq "$N_FILES"
cat "$WORK"/wav1000/*.wav > /dev/null  # into the page cache: every tool reads them from memory
# Synthetic libraries (bench_search's recipe, 256-d, one clip per instrument, the multi encoder's hash).
run gen_syn_1e3 "$PY" scripts/bench/make_synthetic_library.py --multi "$MULTI" --n 1000 -o "$WORK/syn_1e3.lib"
run gen_syn_1e6 "$PY" scripts/bench/make_synthetic_library.py --multi "$MULTI" --n "$N_BIG" -o "$WORK/syn_1e6.lib"

# ---- 2. index and embed: files/s ------------------------------------------------------------------
FILES=("$WORK"/wav1000/*.wav)
for j in 1 2; do
  for r in 1 2; do
    run "index_j${j}_r${r}" "$BIN/retrieve" index --single "$SINGLE" --folder "$WORK/wav1000" -o "$WORK/real_1e3.lib" -j "$j"
    run "embed_single_j${j}_r${r}" "$BIN/embed" --single "$SINGLE" "${FILES[@]}" -o "$WORK/emb_single.npy" -j "$j"
  done
done
for r in $(seq "$REPS"); do
  run "embed_mel_r${r}" "$BIN/embed" --mel "${FILES[@]}" -o "$WORK/emb_mel.npy"
  run "librosa_mel_r${r}" "$PY" scripts/bench/bench_librosa_mel.py --files "${FILES[@]}"
done

# ---- 1. query latency ---------------------------------------------------------------------------
# query NAME LIB KIND FILE... (--json, so that exact and IVF rankings can be compared)
query() {
  local name=$1 lib=$2 kind=$3; shift 3
  run "$name" "$BIN/retrieve" query --multi "$MULTI" --library "$lib" --index "$kind" --json "$@"
}
Q5=$WORK/q5s.wav Q3=$WORK/q3min.wav
W5=("$Q5" "$Q5" "$Q5" "$Q5" "$Q5" "$Q5" "$Q5" "$Q5" "$Q5" "$Q5")  # warm: 10 files in one process
W3=("$Q3" "$Q3" "$Q3")
for lib in syn_1e3 real_1e3 syn_1e6; do
  L=$WORK/$lib.lib
  rm -f "$L".ivf.faiss "$L".ivf.faiss.json "$L".hnsw.faiss "$L".hnsw.faiss.json
  reps=$REPS; [ "$lib" = syn_1e6 ] && reps3=1 || reps3=$REPS
  for r in $(seq "$reps"); do query "q_${lib}_exact_5s_cold_r$r" "$L" exact "$Q5"; done
  query "q_${lib}_exact_5s_warm" "$L" exact "${W5[@]}"
  for r in $(seq "$reps3"); do query "q_${lib}_exact_3min_cold_r$r" "$L" exact "$Q3"; done
  query "q_${lib}_exact_3min_warm" "$L" exact "${W3[@]}"
  # IVF: the first run builds the index and stores it beside the library; the later ones read it.
  query "q_${lib}_ivf_5s_build" "$L" ivf "$Q5"
  ls -l "$L".ivf.faiss "$L".ivf.faiss.json > "$OUT/${lib}_ivf_files.txt"
  for r in $(seq "$reps"); do query "q_${lib}_ivf_5s_cold_r$r" "$L" ivf "$Q5"; done
  query "q_${lib}_ivf_5s_warm" "$L" ivf "${W5[@]}"
  for r in $(seq "$reps3"); do query "q_${lib}_ivf_3min_cold_r$r" "$L" ivf "$Q3"; done
  query "q_${lib}_ivf_3min_warm" "$L" ivf "${W3[@]}"
done
# Diagnostic: the 10^6 warm 5 s runs again with OpenMP (FAISS, LibTorch) on one thread.
OMP_NUM_THREADS=1 query "q_syn_1e6_exact_5s_warm_omp1" "$WORK/syn_1e6.lib" exact "${W5[@]}"
OMP_NUM_THREADS=1 query "q_syn_1e6_ivf_5s_warm_omp1" "$WORK/syn_1e6.lib" ivf "${W5[@]}"
ls -l "$WORK" > "$OUT/work_files.txt"
kill $SAMPLER 2>/dev/null || true

# ---- summary --------------------------------------------------------------------------------------
"$PY" - "$OUT" <<'EOF'
import glob, json, os, re, statistics, sys
out = sys.argv[1]

def timev(name):
    t = open(os.path.join(out, name + ".time")).read()
    m = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", t)
    wall = int(m.group(1) or 0) * 3600 + int(m.group(2)) * 60 + float(m.group(3))
    user = float(re.search(r"User time \(seconds\): ([\d.]+)", t).group(1))
    sys_ = float(re.search(r"System time \(seconds\): ([\d.]+)", t).group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", t).group(1)) / 1024 ** 2
    code = int(re.search(r"Exit status: (\d+)", t).group(1))
    return dict(wall=wall, cpu=user + sys_, rss=rss, code=code)

def stamp(s):
    h, m, sec = s.split(":")
    return int(h) * 3600 + int(m) * 60 + float(sec)

def all_names(prefix):
    return sorted(os.path.basename(p)[:-5] for p in glob.glob(os.path.join(out, prefix + "*.time")))

def names(prefix):  # the runs that succeeded
    return [n for n in all_names(prefix) if timev(n)["code"] == 0]

def med(xs):
    return statistics.median(xs) if xs else float("nan")

def rng(xs, fmt="{:.2f}"):
    xs = sorted(xs)
    if not xs:
        return "-"
    return fmt.format(xs[0]) if len(xs) == 1 or fmt.format(xs[0]) == fmt.format(xs[-1]) else \
        (fmt + "-" + fmt).format(xs[0], xs[-1])

lines = []
P = lines.append
P("# bench_retrieve summary\n")
P("```\n" + open(os.path.join(out, "env.txt")).read() + "```\n")
loads = [float(l.split()[1]) for l in open(os.path.join(out, "loadavg.log")) if l.strip()]
if loads:
    P(f"load average (1 min, sampled every 5 s): min {min(loads):.2f}, median {med(loads):.2f}, "
      f"max {max(loads):.2f} over {len(loads)} samples\n")
failed = [n for n in all_names("") if timev(n)["code"] != 0]
if failed:
    P("FAILED runs (exit status != 0): " + ", ".join(failed) + "\n")

# -- index / embed --
nfiles = int(re.search(r"N_FILES=(\d+)", open(os.path.join(out, "env.txt")).read()).group(1))
P(f"## Files/s ({nfiles} five-second WAV files; whole process = {nfiles} / wall time)\n")
P("| tool | threads | runs | whole-process wall s | files/s whole process | files/s in the tool's loop (its log) | CPU s | peak RSS GB |")
P("|---|---|---|---|---|---|---|---|")
def loop_rate(name):
    m = re.findall(r"done in ([\d.]+) s \(([\d.]+)/s\)", open(os.path.join(out, name + ".err")).read())
    return float(m[-1][1]) if m else None
def lib_rate(name):
    m = re.search(r"\d+ (?:clips|files \(read \+ log-mel\)) in ([\d.]+) s = ([\d.]+) clips/s",
                  open(os.path.join(out, name + ".out")).read())
    return float(m.group(2)) if m else None
rows = [("retrieve index --folder", "-j 1", "index_j1"), ("retrieve index --folder", "-j 2", "index_j2"),
        ("embed --single", "-j 1", "embed_single_j1"), ("embed --single", "-j 2", "embed_single_j2"),
        ("embed --mel", "(one loop)", "embed_mel"),
        ("librosa 0.9.2 (bench_librosa_mel.py --files)", "1 core (pinned)", "librosa_mel")]
for tool, thr, prefix in rows:
    ns = names(prefix + "_r")
    if not ns:
        continue
    t = [timev(n) for n in ns]
    loops = [x for x in ((lib_rate if prefix == "librosa_mel" else loop_rate)(n) for n in ns) if x]
    P(f"| {tool} | {thr} | {len(ns)} | {rng([x['wall'] for x in t])} | "
      f"{rng([nfiles / x['wall'] for x in t], '{:.0f}')} | {rng(loops, '{:.0f}')} | "
      f"{rng([x['cpu'] for x in t], '{:.1f}')} | {rng([x['rss'] for x in t])} |")
P("")

# -- queries --
P("## retrieve query (whole process; --json)\n")
P("cold = a fresh process with one file (wall time of the process); warm = per file inside one "
  "process over 10 (5 s) or 3 (3 min) copies of the file: the median gap between consecutive "
  "per-file log lines after the first file (reading, windows, encoder, search, output); "
  "enc / search = the tool's own per-window means over the warm files.\n")
P("| library | search | query | cold runs | cold wall s | start to search ready s | of which search build/read s | warm s/file | enc ms/window | search ms/window | peak RSS GB |")
P("|---|---|---|---|---|---|---|---|---|---|---|")
file_re = re.compile(r"^\[(\d+:\d+:[\d.]+)\] \[info\] (\S+): ([\d.]+) s, (\d+) windows; encoder ([\d.]+) ms/window, search ([\d.]+) ms/window")
ready_re = re.compile(r"\[info\] search: (.*) (built|read) in ([\d.]+) s")
def startup(name):
    """Seconds from the process start to the `search: ... built|read` log line (library, encoder, search)."""
    t0 = stamp(open(os.path.join(out, name + ".start")).read().strip()[:15])
    for line in open(os.path.join(out, name + ".err")):
        if ready_re.search(line):
            return (stamp(line[1:13]) - t0) % 86400
    return None
def qlog(name):
    per, ready = [], None
    for line in open(os.path.join(out, name + ".err")):
        m = file_re.match(line)
        if m:
            per.append((stamp(m.group(1)), float(m.group(5)), float(m.group(6))))
        m = ready_re.search(line)
        if m:
            ready = (m.group(1), m.group(2), float(m.group(3)))
    return per, ready
descr = {}
for lib in ("syn_1e3", "real_1e3", "syn_1e6"):
    for kind in ("exact", "ivf"):
        for q in ("5s", "3min"):
            base = f"q_{lib}_{kind}_{q}"
            rows = []
            if kind == "ivf" and q == "5s" and os.path.exists(os.path.join(out, base + "_build.time")):
                rows.append(("first run: build + store", [base + "_build"]))
            cold = names(base + "_cold_r")
            rows.append(("stored index" if kind == "ivf" else "", cold))
            for label, ns in rows:
                t = [timev(n) for n in ns]
                readies = [qlog(n)[1] for n in ns]
                if readies and readies[0]:
                    descr[(lib, kind)] = readies[0][0]
                warm_s = enc = srch = "-"
                if not label.startswith("first"):
                    warm = base + "_warm"
                    if os.path.exists(os.path.join(out, warm + ".err")):
                        per, _ = qlog(warm)
                        gaps = [b[0] - a[0] for a, b in zip(per, per[1:])]
                        warm_s = f"{med(gaps):.3f}" if gaps else "-"
                        enc = f"{med([p[1] for p in per[1:]]):.1f}"
                        srch = f"{med([p[2] for p in per[1:]]):.2f}"
                        t_rss = [timev(warm)["rss"]]
                    else:
                        t_rss = []
                else:
                    t_rss = []
                search = kind + (f" ({label})" if label else "")
                P(f"| {lib} | {search} | {q} | {len(ns)} | {rng([x['wall'] for x in t])} | "
                  f"{rng([x for x in (startup(n) for n in ns) if x is not None])} | "
                  f"{rng([r[2] for r in readies if r])} | {warm_s} | {enc} | {srch} | "
                  f"{rng([x['rss'] for x in t] + t_rss)} |")
P("")
P("OpenMP on one thread (OMP_NUM_THREADS=1), warm, 10 x 5 s, 10^6 library:\n")
P("| search | warm s/file | enc ms/window | search ms/window |")
P("|---|---|---|---|")
for kind in ("exact", "ivf"):
    n = f"q_syn_1e6_{kind}_5s_warm_omp1"
    if names(n):
        per, _ = qlog(n)
        gaps = [b[0] - a[0] for a, b in zip(per, per[1:])]
        P(f"| {kind} | {med(gaps):.3f} | {med([p[1] for p in per[1:]]):.1f} | {med([p[2] for p in per[1:]]):.2f} |")
P("")
P("search descriptions: " + "; ".join(f"{k[0]} {k[1]}: {v}" for k, v in sorted(descr.items())) + "\n")

# -- IVF vs exact rankings (top 10 of the file's ranking) --
P("## IVF vs exact: overlap of the file's top-10 ranking (cold runs)\n")
P("| library | query | overlap@10 | windows whose set differs |")
P("|---|---|---|---|")
def result(name):
    return json.load(open(os.path.join(out, name + ".out")))["results"][0]
for lib in ("syn_1e3", "real_1e3", "syn_1e6"):
    for q in ("5s", "3min"):
        try:
            e, a = result(f"q_{lib}_exact_{q}_cold_r1"), result(f"q_{lib}_ivf_{q}_cold_r1")
        except (OSError, ValueError, KeyError, IndexError):
            continue
        te = {r["instrument"] for r in e["ranking"][:10]}
        ta = {r["instrument"] for r in a["ranking"][:10]}
        diff = sum(1 for we, wa in zip(e["windows"], a["windows"])
                   if {i["name"] for i in we["instruments"]} != {i["name"] for i in wa["instruments"]})
        P(f"| {lib} | {q} | {len(te & ta) / max(1, len(te)):.2f} | {diff} of {len(e['windows'])} |")
P("")
open(os.path.join(out, "summary.md"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
EOF
