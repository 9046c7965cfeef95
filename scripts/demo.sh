#!/usr/bin/env bash
# The main job, end to end, on the embedded default data (Debian SoundFonts and MIDI files):
#   1. render a small Nlakh (single clips + mixtures with stems) with render-nlakh,
#   2. compute log-mel features of rendered clips with embed --mel,
#   3. build the paper's encoders and print their exact sizes.
# Installs what it needs and builds first (scripts/setup.sh). Output: $DEMO_DIR (default out/demo).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
out="${DEMO_DIR:-$root/out/demo}"
"$root/scripts/setup.sh"
bin="$build/bin"
cd "$root"

step() { printf '\n== %s\n' "$*"; }

step "1. Render Nlakh from the embedded default recipe (configs/nlakh_default.json, small counts)"
"$bin/render-nlakh" -c configs/nlakh_default.json -o "$out/nlakh" \
  --set single.clips_per_instrument=2 --set multi.train=40 --set multi.valid=20
echo "instruments: $(grep -c '"id"' "$out/nlakh/instruments.json") in $out/nlakh/instruments.json"
for f in single_train single_valid multi_train multi_valid; do
  echo "$f.jsonl: $(wc -l < "$out/nlakh/$f.jsonl") lines"
done

step "2. Log-mel features (librosa 0.9.2 parameters) of the valid single clips and mixtures"
mapfile -t singles < <(find "$out/nlakh/single/valid" -name '*.wav' | sort | head -n 64)
"$bin/embed" --mel "${singles[@]}" -o "$out/mel_single_valid.npy"
mapfile -t mixes < <(find "$out/nlakh/multi/valid" -name 'mix.wav' | sort)
"$bin/embed" --mel "${mixes[@]}" -o "$out/mel_multi_valid.npy"

step "3. The paper's encoders (exact parameter counts)"
"$bin/train-single" --print-model --set model.n_classes="$(grep -c '"split": "train"' "$out/nlakh/instruments.json")" | tail -n 3
"$bin/train-multi" --print-model -c configs/model_large.json | tail -n 3

step "Done: outputs in $out"
