#!/usr/bin/env bash
# One command for a lent GPU host (CUDA LibTorch 2.x inside its python3's torch, CMake, ninja, nvcc;
# no network): builds, runs the CUDA tests and the GPU benchmarks, and writes one summary.
#
#   scripts/gpu_check.sh [OUT_DIR]      # default: $OUT when set (the device tool's folder), else out/gpu_check
#
# Needs the Debian .deb files that scripts/fetch_debs.sh gathers into shared/debs (libraries, unpacked
# into build-cuda/deps by scripts/device_build.sh; shared/debs/data: the SoundFonts and MIDI files of
# configs/nlakh_tiny.json, unpacked into / when missing, as root). Stages, each under its own time
# limit and recorded whether it passes or fails:
#   1. build (scripts/device_build.sh, RUN_TESTS=0) into build-cuda/
#   2. the CUDA tests (ctest -R Cuda) and the precision tests
#   3. a small dataset (configs/nlakh_tiny.json, 48 clips per instrument)
#   4. log-mel clips/s (bench_mel), CPU and CUDA
#   5. training samples/s in bf16 on CUDA: C++ (train-* --benchmark: the step alone and the whole
#      pipeline) beside the reference's design in the host's PyTorch (the step alone:
#      scripts/bench/bench_reference_training.py --step-only), for the Han CNN, Small and Large
# OUT_DIR gets gpu_check.json (every number), gpu_check.md (tables) and gpu_check.log. Target: under
# 9 minutes on 16 cores and one H100. GPU_CHECK_STEPS (20), GPU_CHECK_BATCH (128) and
# GPU_CHECK_BATCH_LARGE (64) size the benchmarks; GPU_CHECK_SKIP_BUILD=1 reuses build-cuda/ (a rerun
# on a machine still warm); GPU_CHECK_DEVICE (cuda) names the device of the benchmarks (cpu: a dry
# run of the stages on a machine without a GPU).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-${OUT:-$root/out/gpu_check}}"
mkdir -p "$out"
build="${BUILD_DIR:-$root/build-cuda}"
debs="${DEBS_DIR:-$root/shared/debs}"
steps="${GPU_CHECK_STEPS:-20}"
batch="${GPU_CHECK_BATCH:-128}"
batch_large="${GPU_CHECK_BATCH_LARGE:-64}"
device="${GPU_CHECK_DEVICE:-cuda}"
log="$out/gpu_check.log"
results="$out/results.jsonl"
: > "$log"
: > "$results"
scratch="$(mktemp -d)"
t_start=$(date +%s)
budget="${GPU_CHECK_BUDGET:-540}"  # seconds: a stage that would end later is cut short or skipped

note() { printf '[%4ss] %s\n' "$(($(date +%s) - t_start))" "$*" | tee -a "$log" >&2; }
record() { python3 -c 'import json,sys; print(json.dumps(json.loads(sys.argv[1])))' "$1" >> "$results"; }
# stage NAME LIMIT_S COMMAND...: runs it with its output in the log, records status and seconds; cut
# to what is left of the budget, skipped (exit "skipped") when under 15 s are left.
stage() {
  local name=$1 limit=$2 t0 rc left
  shift 2
  t0=$(date +%s)
  left=$((budget - (t0 - t_start) - 10))
  if [ "$left" -lt 15 ]; then
    note "== $name: skipped, out of time (GPU_CHECK_BUDGET=$budget)"
    record "{\"stage\": \"$name\", \"exit\": \"skipped\", \"seconds\": 0}"
    return 1
  fi
  [ "$limit" -gt "$left" ] && limit=$left
  note "== $name (limit $limit s)"
  timeout "$limit" "$@" >> "$log" 2>&1
  rc=$?
  note "   $name: exit $rc in $(($(date +%s) - t0)) s"
  record "{\"stage\": \"$name\", \"exit\": $rc, \"seconds\": $(($(date +%s) - t0))}"
  return $rc
}

# The summary: every record in one JSON, the tables in markdown.
summarize() {
python3 - "$results" "$out" "$scratch/junit.xml" "$(($(date +%s) - t_start))" <<'EOF'
import json, os, sys, xml.etree.ElementTree as ET
results, out, junit, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
rows = [json.loads(l) for l in open(results) if l.strip()]
stages = [r for r in rows if "stage" in r]
bench = [r for r in rows if "side" in r]
tests = {}
if os.path.exists(junit):
    for case in ET.parse(junit).getroot().iter("testcase"):
        status = "failed" if case.find("failure") is not None else "skipped" if case.find("skipped") is not None else "passed"
        tests[case.get("name")] = status
summary = {"seconds": total, "stages": stages, "tests": tests, "training": bench}
json.dump(summary, open(os.path.join(out, "gpu_check.json"), "w"), indent=2)
md = [f"# gpu_check ({total} s)", "", "| stage | exit | seconds |", "|---|---|---|"]
md += [f"| {s['stage']} | {s['exit']} | {s['seconds']} |" for s in stages]
md += ["", "| test | result |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(tests.items())]
md += ["", "| model | side | batch | step samples/s | pipeline samples/s | data wait |", "|---|---|---|---|---|---|"]
fmt = lambda v, f: "-" if v is None else format(v, f)
for b in bench:
    md.append(f"| {b['model']} | {b['side']} | {b['batch_size']} | {fmt(b.get('step_samples_per_s'), '.0f')} | "
              f"{fmt(b.get('pipeline_samples_per_s'), '.0f')} | {fmt(b.get('data_wait_fraction'), '.2f')} |")
if os.path.exists(os.path.join(out, "bench_mel.txt")):
    md += ["", "```", open(os.path.join(out, "bench_mel.txt")).read().strip(), "```"]
open(os.path.join(out, "gpu_check.md"), "w").write("\n".join(md) + "\n")
print("\n".join(md))
EOF
}
# Written however the run ends (a stage failing, a timeout, the device tool's limit: TERM), so that
# what was measured comes back.
trap 'summarize; rm -rf "$scratch"' EXIT
trap 'note "terminated"; exit 143' TERM INT

note "gpu_check on $(hostname): $(nproc) cores; $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || echo 'no nvidia-smi')"
note "python3: $(python3 -c 'import torch; print("torch", torch.__version__, "CUDA", torch.version.cuda, "available", torch.cuda.is_available())' 2>&1)"

# The tiny recipe's SoundFonts and MIDI files (data only) where the host lacks them.
if [ ! -f /usr/share/sounds/sf2/TimGM6mb.sf2 ] && [ -d "$debs/data" ]; then
  if [ "$(id -u)" = 0 ]; then
    for d in "$debs"/data/*.deb; do dpkg-deb -x "$d" /; done
    note "unpacked $(ls "$debs"/data/*.deb | wc -l) data packages into /"
  else
    note "not root: cannot unpack the tiny recipe's SoundFonts into /usr/share (the data stages will fail)"
  fi
fi

if [ "${GPU_CHECK_SKIP_BUILD:-0}" = 1 ]; then
  note "build skipped (GPU_CHECK_SKIP_BUILD=1): using $build"
else
  stage build 300 env RUN_TESTS=0 BUILD_DIR="$build" DEBS_DIR="$debs" "$root/scripts/device_build.sh" ||
    note "the build failed: see $log"
fi
bin="$build/bin"
# device_build.sh unpacked the libraries here when the system lacked them.
[ -d "$build/deps/usr/lib/x86_64-linux-gnu" ] &&
  export LD_LIBRARY_PATH="$build/deps/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}"

if [ -x "$bin/train-single" ]; then
  (cd "$build" && stage cuda_tests 120 ctest --output-on-failure --no-tests=error -j 4 -R 'Cuda|Precision' \
    --output-junit "$scratch/junit.xml")
  cp "$scratch/junit.xml" "$out/cuda_tests.xml" 2>/dev/null

  data="$scratch/nlakh"
  stage render 45 "$bin/render-nlakh" -c "$root/configs/nlakh_tiny.json" -o "$data" -j 0 \
    --set single.clips_per_instrument=48 --set multi.train=8 --set multi.valid=8 -q

  stage bench_mel 45 sh -c "'$bin/bench_mel' --batch 16 256 --threads $(nproc) --seconds 1 > '$scratch/mel.txt' 2>&1; rc=\$?; cat '$scratch/mel.txt'; exit \$rc"
  cp "$scratch/mel.txt" "$out/bench_mel.txt" 2>/dev/null

  if [ -f "$data/single_train.jsonl" ]; then
    preset=(--set 'model.han.channels=[16,32,64,128]' --set model.emb_dim=256)
    stage single_ckpt 45 "$bin/train-single" --data "$data" --run "$scratch/single" --set steps=1 \
      --set valid.every=1000 --set valid.enroll=1 --set valid.targets=2 --device "$device" -q
    stage single_ckpt_preset 45 "$bin/train-single" --data "$data" --run "$scratch/single_preset" --set steps=1 \
      --set valid.every=1000 --set valid.enroll=1 --set valid.targets=2 --device "$device" "${preset[@]}" -q
    for model in han_preset han_paper small large; do
      case $model in
        han_preset) cmd=("$bin/train-single" --set batch_size="$batch" "${preset[@]}")
                    py=(--model han_cnn --batch "$batch" --channels 16,32,64,128 --emb 256) ;;
        han_paper) cmd=("$bin/train-single" --set batch_size="$batch")
                   py=(--model han_cnn --batch "$batch") ;;
        small) cmd=("$bin/train-multi" --single "$scratch/single_preset/checkpoints/last.pt" --set model.kind=small
                    "${preset[@]}" --set batch_size="$batch" --set data.kind=random --set targets_dir="$scratch/targets")
               py=(--model small --batch "$batch" --channels 16,32,64,128 --emb 256) ;;
        large) cmd=("$bin/train-multi" --single "$scratch/single/checkpoints/last.pt" --set model.kind=large
                    --set batch_size="$batch_large" --set data.kind=random --set targets_dir="$scratch/targets")
               py=(--model large --batch "$batch_large") ;;
      esac
      stage "train_cxx_$model" 60 sh -c '"$@" > "'"$scratch"'/line.json"' _ "${cmd[@]}" --data "$data" \
        --benchmark "$steps" --device "$device" --set bf16=true --set data.workers="$(nproc)" -q &&
        record "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j.update(side="c++", model=sys.argv[2]); print(json.dumps(j))' "$scratch/line.json" "$model")"
      stage "train_pytorch_$model" 60 sh -c '"$@" > "'"$scratch"'/line.json"' _ python3 \
        "$root/scripts/bench/bench_reference_training.py" --data "$data" "${py[@]}" --steps "$steps" --device "$device" \
        --bf16 --channels-last --step-only --workers 0 &&
        record "$(python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); j.update(side="pytorch", model=sys.argv[2]); print(json.dumps(j))' "$scratch/line.json" "$model")"
    done
  fi
fi

note "done in $(($(date +%s) - t_start)) s: $out/gpu_check.md"
