#!/usr/bin/env bash
# The main job, end to end, on the embedded default data (Debian SoundFonts and MIDI files):
#   1. render a small Nlakh (single clips of every instrument, valid mixtures with stems),
#   2. train the single-instrument encoder (CPU preset: a narrow Han CNN),
#   3. train the multi-instrument encoder (Small, random mixing, CPU preset) against it,
#   4. evaluate on the test split's unseen instruments (GeneralUser GS: a SoundFont used nowhere else),
#      with the valid split (the one training selected its checkpoints on) beside it: EER;
#      instrument/family F1 and mAP, beside chance and beside a non-learned MFCC baseline,
#   5. index the test instruments and ask `retrieve query` which of them play in a few test
#      mixtures, true and retrieved side by side,
#   6. plot the training curves and print a results table.
# Installs what it needs and builds first (scripts/setup.sh). Everything lands in one folder:
# $DEMO_DIR (default out/demo). `scripts/demo.sh --long` (or DEMO_LONG=1) runs a bigger, better
# version (40 clips per instrument, 400 valid and 400 test mixtures, 6,000 steps per encoder: about 35 minutes
# on 2 cores with native bf16, an hour without, by the default run's per-step times).
# For sweeps: DEMO_SEED (default 0) seeds both encoders' training (the data stay those of the recipe's
# own seed), and DEMO_DATA_CONFIG (default configs/nlakh_default.json) is the recipe rendered in step 1.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
# Relative DEMO_DIR and DEMO_DATA_CONFIG are the caller's, resolved before the script moves to the root.
out="$(realpath -m -- "${DEMO_DIR:-$root/out/demo}")"
long="${DEMO_LONG:-0}"
seed="${DEMO_SEED:-0}"
data_config="${DEMO_DATA_CONFIG:-$root/configs/nlakh_default.json}"
[ "${1:-}" = "--long" ] && long=1
fail() { echo "demo.sh: $*" >&2; exit 2; }
[[ "$seed" =~ ^[0-9]{1,18}$ ]] || fail "DEMO_SEED must be a non-negative integer, not '$seed'"
[ -f "$data_config" ] && [ -r "$data_config" ] || fail "DEMO_DATA_CONFIG '$data_config' is not a readable file"
data_config="$(realpath -- "$data_config")"
for run in single multi; do  # a run that is continued keeps the seed it started with
  if [ -f "$out/$run/config.json" ] && [ -f "$out/$run/checkpoints/last.pt" ]; then
    was="$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get("seed", 0))' "$out/$run/config.json" 2>/dev/null)" ||
      fail "cannot read $out/$run/config.json"
    [ "$was" = "$seed" ] || fail "$out/$run was trained with seed $was, not DEMO_SEED $seed: choose another DEMO_DIR"
  fi
done
"$root/scripts/setup.sh"
bin="$build/bin"
cd "$root"

if [ "$long" = 1 ]; then
  clips=40 valid_mixtures=400 single_steps=6000 multi_steps=6000 single_valid_every=1000 multi_valid_every=1000
else
  clips=25 valid_mixtures=300 single_steps=4500 multi_steps=2250 single_valid_every=1500 multi_valid_every=750
fi
start=$(date +%s)
step() { printf '\n== [%ss] %s\n' "$(($(date +%s) - start))" "$*"; }
mkdir -p "$out"

step "1. Render Nlakh from ${data_config#"$root"/} ($clips clips per instrument, $valid_mixtures valid and test mixtures)"
"$bin/render-nlakh" -c "$data_config" -o "$out/nlakh" -j 0 \
  --set single.clips_per_instrument="$clips" --set multi.train=20 --set multi.valid="$valid_mixtures" \
  --set multi.test="$valid_mixtures"

step "2. Train the single-instrument encoder (configs/cpu_single.json, $single_steps steps)"
if [ -f "$out/single/checkpoints/last.pt" ]; then
  "$bin/train-single" --continue "$out/single" --set steps="$single_steps"
else
  "$bin/train-single" -c configs/cpu_single.json --data "$out/nlakh" --run "$out/single" --set steps="$single_steps" \
    --set seed="$seed" --set valid.every="$single_valid_every"
fi
single="$out/single/checkpoints/best.pt"

step "3. Train the multi-instrument encoder, Small on random mixes, warm-started from the single encoder (configs/cpu_multi_small_random.json, $multi_steps steps)"
if [ -f "$out/multi/checkpoints/last.pt" ]; then
  "$bin/train-multi" --continue "$out/multi" --set steps="$multi_steps"
else
  "$bin/train-multi" -c configs/cpu_multi_small_random.json --data "$out/nlakh" --single "$single" \
    --run "$out/multi" --set steps="$multi_steps" --set seed="$seed" --set valid.every="$multi_valid_every"
fi
multi="$out/multi/checkpoints/best.pt"

step "4. Evaluate on the test split's unseen instruments, and on the valid split beside it"
for split in test valid; do
  "$bin/eval-eer" --single "$single" --data "$out/nlakh" --split "$split" --seeds 0 1 2 --json "$out/eer_$split.json" \
    -q > /dev/null
  "$bin/eval-eer" --baseline mfcc --data "$out/nlakh" --split "$split" --seeds 0 1 2 \
    --json "$out/eer_baseline_$split.json" -q > /dev/null
  "$bin/eval-retrieval" --multi "$multi" --single "$single" --data "$out/nlakh" --split "$split" \
    --json "$out/retrieval_$split.json" --dump-scores "$out/retrieval_scores_$split.jsonl" \
    --name "Small-Random (demo), $split" --markdown -q > "$out/retrieval_$split.md"
  "$bin/eval-retrieval" --baseline mfcc --data "$out/nlakh" --split "$split" --json "$out/retrieval_baseline_$split.json" \
    --name "MFCC baseline, $split" --markdown -q > "$out/retrieval_baseline_$split.md"
done

step "5. Index the test instruments, then query a few test mixtures"
"$bin/retrieve" index --single "$single" --nlakh "$out/nlakh" --split test -o "$out/library.bin" -q
mapfile -t mixes < <(head -n 3 "$out/nlakh/multi_test.jsonl" | python3 -c '
import json, sys
for line in sys.stdin:
    print(json.loads(line)["path"])')
for m in "${mixes[@]}"; do
  echo "-- $m"
  echo "   true: $(grep -F "\"path\":\"$m\"" "$out/nlakh/multi_test.jsonl" | python3 -c '
import json, sys
names = {i["id"]: i["name"] for i in json.load(open(sys.argv[1]))}
rec = json.loads(sys.stdin.readline())
print(", ".join(sorted(s["instrument"] + " " + names[s["instrument"]] + " (" + s["family"] + ")" for s in rec["stems"])))' "$out/nlakh/instruments.json")"
  "$bin/retrieve" query --multi "$multi" --library "$out/library.bin" "$out/nlakh/$m" --top-k 6 -q
done

step "6. Plots and results"
/usr/bin/python3 scripts/plot_run.py "$out/single" "$out/multi" -o "$out/training_curves.png"
/usr/bin/python3 scripts/demo_results.py "$out" | tee "$out/results.md"

step "Done in $(($(date +%s) - start)) s: everything is in $out"
