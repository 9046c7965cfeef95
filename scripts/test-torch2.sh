#!/usr/bin/env bash
# Builds every tool, test and benchmark against LibTorch 2.x (the LibTorch inside a PyPI torch
# wheel, the version GPU hosts carry) and runs the whole CPU test suite with it.
#
#   scripts/test-torch2.sh                 # torch 2.15.0 into ~/.cache/instret/torch2-2.15.0
#   TORCH2_VERSION=2.7.1 scripts/test-torch2.sh
#   TORCH2_PYTHON=/path/to/python scripts/test-torch2.sh   # a Python that already has torch
#
# The wheel goes into a virtual environment outside the source tree (TORCH2_HOME); the build goes
# into build-torch2/ (TORCH2_BUILD_DIR). The CPU wheel comes from PyTorch's CPU index when that is
# reachable; otherwise from PyPI itself, whose Linux wheel is the CUDA build (it runs on a CPU: the
# CUDA tests skip). Extra arguments go to ctest (e.g. -R Checkpoint).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
version="${TORCH2_VERSION:-2.15.0}"
home="${TORCH2_HOME:-$HOME/.cache/instret/torch2-$version}"
build="${TORCH2_BUILD_DIR:-$root/build-torch2}"

# The Debian packages (everything but LibTorch is shared with the 1.13 build), without building build/.
SETUP_ONLY_PACKAGES=1 "$root/scripts/setup.sh"

python="${TORCH2_PYTHON:-}"
if [ -z "$python" ]; then
  python="$home/bin/python"
  if ! "$python" -W ignore -c "import torch, sys; sys.exit(torch.__version__.split('+')[0] != '$version')" 2>/dev/null; then
    echo "test-torch2: installing torch $version into $home"
    python3 -m venv "$home"
    "$python" -m pip install -q --upgrade pip
    if ! "$python" -m pip install -q --timeout 20 --retries 1 "torch==$version" \
         --index-url https://download.pytorch.org/whl/cpu 2>/dev/null; then
      echo "test-torch2: PyTorch's CPU index is unreachable; taking PyPI's wheel (CUDA build, runs on CPU)"
      "$python" -m pip install -q "torch==$version"
    fi
  fi
fi
. "$root/scripts/torch_cmake.sh"
torch_cmake "$python"
echo "test-torch2: LibTorch $("$python" -W ignore -c 'import torch; print(torch.__version__)') at $torch_prefix"
[ "$("$python" -W ignore -c 'import torch; print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')" = 1 ] ||
  { echo "test-torch2: this LibTorch uses the pre-C++11 ABI; Debian's libraries need the new one" >&2; exit 1; }

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release "-DCMAKE_PREFIX_PATH=$torch_prefix" \
  "${torch_link_args[@]}" > /dev/null
cmake --build "$build" -j "${JOBS:-$(nproc)}"
cd "$build"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
