#!/usr/bin/env bash
# Training throughput of the whole pipeline, C++ (train-* --benchmark) beside the reference's design
# in Python (scripts/bench/bench_reference_training.py), one model after the other in the same run.
# Usage: scripts/bench/bench_training.sh DATA_DIR [STEPS]   (a render-nlakh folder; ~/pyref for Python)
# Env: DEVICE (cpu | cuda, both sides; default cpu), BF16=1 (bf16 autocast, both sides; else float32
#      on both, also on a CPU where the C++ side's `bf16 auto` would turn it on),
#      REF_CHANNELS_LAST=1 (channels_last for the Python side too), WORKERS,
#      THREADS, BATCH_SINGLE / BATCH_SMALL / BATCH_LARGE, PYREF, BUILD_DIR.
# Prints one JSON line per (side, model); docs/benchmarks.md records them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${1:?usage: bench_training.sh DATA_DIR [STEPS]}"
steps="${2:-5}"
bin="${BUILD_DIR:-$root/build}/bin"
py="${PYREF:-$HOME/pyref}/bin/python"
workers="${WORKERS:-2}"
threads="${THREADS:-2}"
device="${DEVICE:-cpu}"
cxx_bf16=() py_bf16=()
# The same precision on both sides (scripts/bench/bench_bf16.sh compares the two). The C++ tools train
# channels_last by default; the reference's design does not (REF_CHANNELS_LAST=1 gives it channels_last too).
cxx_bf16=(--set bf16=false)
if [ "${BF16:-0}" = 1 ]; then cxx_bf16=(--set bf16=true); py_bf16=(--bf16); fi
py_layout=()
[ "${REF_CHANNELS_LAST:-0}" = 1 ] && py_layout=(--channels-last)
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# A 1024-d single encoder (one step of training suffices: only its shape matters for the timing);
# its targets are cached under $scratch, outside the timed steps.
"$bin/train-single" --data "$data" --run "$scratch/single" --set steps=1 --set valid.every=1000 \
  --set valid.clips_per_instrument=6 --set valid.enroll=1 --set valid.targets=2 -q >&2

run() {  # model batch
  local model=$1 batch=$2
  if [ "$model" = han_cnn ]; then
    "$bin/train-single" --data "$data" --benchmark "$steps" --set batch_size="$batch" \
      --set data.workers="$workers" -j "$threads" --device "$device" "${cxx_bf16[@]}" -q
  else
    "$bin/train-multi" --data "$data" --single "$scratch/single/checkpoints/last.pt" --benchmark "$steps" \
      --set model.kind="$model" --set batch_size="$batch" --set data.workers="$workers" \
      --set targets_dir="$scratch/targets" -j "$threads" --device "$device" "${cxx_bf16[@]}" -q
  fi
  "$py" "$root/scripts/bench/bench_reference_training.py" --data "$data" --model "$model" --batch "$batch" \
    --steps "$steps" --workers "$workers" --threads "$threads" --device "$device" "${py_bf16[@]}" "${py_layout[@]}"
}

run han_cnn "${BATCH_SINGLE:-32}"
run small "${BATCH_SMALL:-32}"
run large "${BATCH_LARGE:-8}"
