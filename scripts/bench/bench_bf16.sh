#!/usr/bin/env bash
# float32 against bf16 autocast, side by side in one run, on the CPU (or DEVICE=cuda):
#   training: the C++ train step alone and the whole pipeline (train-* --benchmark; its step includes
#     the log-mel frontend), the C++ model step on ready log-mels (bench_models --json: what PyTorch's
#     step times), beside the reference's design in Debian's PyTorch
#     (scripts/bench/bench_reference_training.py; channels_last on all sides), for the Han CNN at the
#     CPU presets' width (16..128, 256-d) and the paper's (32..256, 1024-d), Small at the presets'
#     width and Large (ConvNeXt-Small);
#   inference: `embed --single` clips/s and `retrieve query` windows/s.
# Each (model, side) pair runs float32 then bf16 right after it, ROUNDS times over, so machine noise
# falls on both alike.
# Usage: scripts/bench/bench_bf16.sh DATA_DIR [STEPS]   (a render-nlakh folder, e.g. the demo's)
# Env: DEVICE (cpu), THREADS (2), WORKERS (2), ROUNDS (2), BATCH (16), BATCH_LARGE (8), MODELS
#      ("han_preset han_paper small large"), PYREF (a venv with torch, librosa and timm; default: one
#      over Debian's python3-torch, made here once and cached in ~/.cache/instret/pyref-debian; the
#      Python side is skipped, loudly, when it has none), BUILD_DIR. Prints one JSON line per
#      measurement; docs/benchmarks.md records them.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
data="${1:?usage: bench_bf16.sh DATA_DIR [STEPS]}"
steps="${2:-5}"
bin="${BUILD_DIR:-$root/build}/bin"
pyref="${PYREF:-$HOME/.cache/instret/pyref-debian}"
py="$pyref/bin/python"
device="${DEVICE:-cpu}"
threads="${THREADS:-2}"
workers="${WORKERS:-2}"
rounds="${ROUNDS:-2}"
batch="${BATCH:-16}"
batch_large="${BATCH_LARGE:-8}"
models="${MODELS:-han_preset han_paper small large}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# The reference side: Debian's PyTorch 1.13 (the same ATen build as libtorch-dev) with librosa 0.9.2
# and timm from PyPI, in a virtual environment made once and cached.
if [ -z "${PYREF:-}" ] && ! "$py" -W ignore -c 'import torch, librosa, timm' 2>/dev/null; then
  echo "bench_bf16: making $pyref (Debian's python3-torch + librosa and timm from PyPI)" >&2
  SETUP_ONLY_PACKAGES=1 "$root/scripts/setup.sh"
  missing=()
  for p in python3-torch python3-torchvision; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if ((${#missing[@]})); then
    sudo_cmd=""
    [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
  /usr/bin/python3 -m venv --system-site-packages "$pyref"
  "$py" -m pip install -q --no-deps "numpy==1.24.*" "librosa==0.9.2" "setuptools<81" "timm==0.9.16"
  "$py" -m pip install -q audioread soundfile resampy pooch joblib decorator numba scikit-learn huggingface_hub \
    safetensors pyyaml lazy_loader msgpack soxr
fi
have_py=1
if ! "$py" -W ignore -c 'import torch, librosa, timm' 2>/dev/null; then
  echo "bench_bf16: no reference Python at $py (torch, librosa, timm): the PyTorch side is SKIPPED" >&2
  have_py=0
fi

preset=(--set 'model.han.channels=[16,32,64,128]' --set model.emb_dim=256)
small_valid=(--set valid.enroll=1 --set valid.targets=2)  # train-single refuses a valid split too small for the EER
# Single encoders to time inference with, and to give train-multi its targets: one step suffices.
for w in preset paper; do
  args=()
  [ "$w" = preset ] && args=("${preset[@]}")
  "$bin/train-single" --data "$data" --run "$scratch/single_$w" --set steps=1 --set valid.every=1000 \
    --set valid.clips_per_instrument=6 --set valid.enroll=1 --set valid.targets=2 --set bf16=false "${args[@]}" -q >&2
done

cxx() {  # model precision(false|true)
  local model=$1 bf16=$2
  case $model in
    han_preset) "$bin/train-single" --data "$data" --benchmark "$steps" --set batch_size="$batch" "${preset[@]}" "${small_valid[@]}" \
                  --set data.workers="$workers" -j "$threads" --device "$device" --set bf16="$bf16" -q ;;
    han_paper) "$bin/train-single" --data "$data" --benchmark "$steps" --set batch_size="$batch" "${small_valid[@]}" \
                 --set data.workers="$workers" -j "$threads" --device "$device" --set bf16="$bf16" -q ;;
    small) "$bin/train-multi" --data "$data" --single "$scratch/single_preset/checkpoints/last.pt" --benchmark "$steps" \
             --set model.kind=small "${preset[@]}" --set batch_size="$batch" --set data.kind=random \
             --set data.workers="$workers" --set targets_dir="$scratch/targets" -j "$threads" --device "$device" \
             --set bf16="$bf16" -q ;;
    large) "$bin/train-multi" --data "$data" --single "$scratch/single_paper/checkpoints/last.pt" --benchmark "$steps" \
             --set model.kind=large --set batch_size="$batch_large" --set data.kind=random \
             --set data.workers="$workers" --set targets_dir="$scratch/targets" -j "$threads" --device "$device" \
             --set bf16="$bf16" -q ;;
  esac | python3 -c 'import json,sys; j=json.loads(sys.stdin.readline()); j.update(side="c++", model=sys.argv[1]); print(json.dumps(j))' "$model"
}

cxx_model() {  # model precision(false|true): the model step on ready log-mels
  local model=$1 bf16=() kind=small b=$batch width=()
  [ "$2" = true ] && bf16=(--bf16)
  case $model in
    han_preset) kind=han_cnn width=(--han-channels 16,32,64,128 --emb-dim 256) ;;
    han_paper) kind=han_cnn ;;
    small) width=(--han-channels 16,32,64,128 --emb-dim 256) ;;
    large) kind=large b=$batch_large ;;
  esac
  local cuda=(--no-cuda)
  [ "$device" = cpu ] || cuda=()
  "$bin/bench_models" --json --models "$kind" --batch-han "$b" --batch-small "$b" --batch-large "$b" \
    --threads "$threads" --iters "$steps" --warmup 1 --channels-last "${width[@]}" "${bf16[@]}" "${cuda[@]}" |
    python3 -c 'import json,sys
for line in sys.stdin:
    j=json.loads(line)
    if j["benchmark"] == "model_step" and j["device"].startswith(sys.argv[2]): j.update(side="c++ model", model=sys.argv[1]); print(json.dumps(j))' "$model" "$device"
}

pyref() {  # model precision(false|true)
  local model=$1 bf16=() kind b=$batch
  [ "$2" = true ] && bf16=(--bf16)
  local width=(--channels 32,64,128,256 --emb 1024)
  case $model in
    han_preset) kind=han_cnn width=(--channels 16,32,64,128 --emb 256) ;;
    han_paper) kind=han_cnn ;;
    small) kind=small width=(--channels 16,32,64,128 --emb 256) ;;
    large) kind=large b=$batch_large ;;
  esac
  "$py" "$root/scripts/bench/bench_reference_training.py" --data "$data" --model "$kind" --batch "$b" \
    --steps "$steps" --workers "$workers" --threads "$threads" --device "$device" --channels-last "${width[@]}" \
    "${bf16[@]}" | python3 -c 'import json,sys; j=json.loads(sys.stdin.readline()); j.update(side="pytorch", model=sys.argv[1]); print(json.dumps(j))' "$model"
}

for ((r = 1; r <= rounds; r++)); do
  for m in $models; do
    for p in false true; do cxx "$m" "$p"; done
    for p in false true; do cxx_model "$m" "$p"; done
    if [ "$have_py" = 1 ]; then
      for p in false true; do
        # PyTorch 1.13's CPU autocast hands timm's ConvNeXt layer norms bf16 beside float32 weights,
        # which they refuse (the C++ side runs its layer norms in float32: src/models/convnext.cpp).
        if [ "$m" = large ] && [ "$p" = true ] && [ "$device" = cpu ]; then
          echo "bench_bf16: PyTorch bf16 Large on the CPU SKIPPED (layer_norm refuses bf16 input in 1.13)" >&2
          continue
        fi
        pyref "$m" "$p"
      done
    fi
  done
done

# Inference: embed --single over 256 valid clips, retrieve query over one long file (the valid
# mixtures end to end), each timed around the whole tool (loading is a small share).
mapfile -t clips < <(python3 -c '
import json, sys
for i, line in enumerate(open(sys.argv[1])):
    if i >= 256: break
    print(sys.argv[2] + "/" + json.loads(line)["path"])' "$data/single_valid.jsonl" "$data")
python3 - "$data" "$scratch/long.wav" <<'EOF'
import json, sys, wave
root, out = sys.argv[1], sys.argv[2]
frames, params = [], None
for i, line in enumerate(open(root + "/multi_valid.jsonl")):
    if i >= 24: break
    with wave.open(root + "/" + json.loads(line)["path"]) as w:
        params = params or w.getparams()
        frames.append(w.readframes(w.getnframes()))
with wave.open(out, "wb") as w:
    w.setparams(params)
    for f in frames: w.writeframes(f)
EOF
"$bin/retrieve" index --single "$scratch/single_preset/checkpoints/last.pt" --nlakh "$data" --split valid \
  -o "$scratch/library.bin" --bf16 false -q
"$bin/train-multi" --data "$data" --single "$scratch/single_preset/checkpoints/last.pt" --run "$scratch/multi" \
  --set model.kind=small "${preset[@]}" --set steps=1 --set valid.every=1000 --set valid.max_mixtures=4 \
  --set data.kind=random --set targets_dir="$scratch/targets" --set bf16=false -q >&2
windows=$("$bin/retrieve" query --multi "$scratch/multi/checkpoints/last.pt" --library "$scratch/library.bin" \
  "$scratch/long.wav" --json --bf16 false -q | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["results"][0]["windows"]))')
now() { date +%s.%N; }
for ((r = 1; r <= rounds; r++)); do
  for p in false true; do
    t0=$(now)
    "$bin/embed" --single "$scratch/single_preset/checkpoints/last.pt" "${clips[@]}" -o "$scratch/e.npy" \
      --device "$device" --bf16 "$p" -j "$workers" -q
    t1=$(now)
    "$bin/retrieve" query --multi "$scratch/multi/checkpoints/last.pt" --library "$scratch/library.bin" \
      "$scratch/long.wav" --device "$device" --bf16 "$p" -q > /dev/null
    t2=$(now)
    python3 -c 'import json,sys; n,w,a,b,c,p,d=sys.argv[1:]; print(json.dumps({"benchmark":"inference","device":d,"bf16":p=="true","embed_single_clips_per_s":int(n)/(float(b)-float(a)),"retrieve_query_windows_per_s":int(w)/(float(c)-float(b)),"clips":int(n),"windows":int(w)}))' \
      "${#clips[@]}" "$windows" "$t0" "$t1" "$t2" "$p" "$device"
  done
done
