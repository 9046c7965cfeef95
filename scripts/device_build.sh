#!/usr/bin/env bash
# Builds the project against a CUDA LibTorch 2.x on a GPU host (into build-cuda/), then runs the
# tests. LibTorch comes from the host's Python PyTorch; the other libraries come from the system
# when present, else from Debian .deb files (scripts/fetch_debs.sh) unpacked into a local prefix.
# Env: BUILD_DIR (build-cuda), DEBS_DIR (shared/debs), RUN_TESTS=0 to build only (scripts/gpu_check.sh
# runs its own selection), JOBS (all cores).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build-cuda}"
debs="${DEBS_DIR:-$root/shared/debs}"
prefix="$build/deps"

. "$root/scripts/torch_cmake.sh"
torch_cmake python3
abi="$(python3 -c 'import torch;print(int(torch._C._GLIBCXX_USE_CXX11_ABI))')"
echo "device_build: LibTorch at $torch_prefix (CXX11 ABI $abi), CUDA $(python3 -c 'import torch;print(torch.version.cuda)')"
[ "$abi" = 1 ] || echo "device_build: warning: this LibTorch uses the pre-C++11 ABI; Debian's libraries use the new one" >&2

extra_prefix=""
if ! pkg-config --exists sndfile soxr fluidsynth 2>/dev/null; then
  [ -d "$debs" ] || { echo "device_build: no system libraries and no .deb folder at $debs" >&2; exit 1; }
  mkdir -p "$prefix"
  for d in "$debs"/*.deb; do dpkg-deb -x "$d" "$prefix"; done
  multiarch="$prefix/usr/lib/x86_64-linux-gnu"
  # Make the unpacked .pc files and CMake configs point into the prefix.
  find "$prefix" -name '*.pc' -exec sed -i "s|^prefix=/usr|prefix=$prefix/usr|" {} +
  export PKG_CONFIG_PATH="$multiarch/pkgconfig:$prefix/usr/share/pkgconfig:${PKG_CONFIG_PATH:-}"
  export LD_LIBRARY_PATH="$multiarch:${LD_LIBRARY_PATH:-}"
  export CPATH="$prefix/usr/include:${CPATH:-}"
  extra_prefix=";$prefix/usr;$multiarch/cmake"
fi

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  "-DCMAKE_PREFIX_PATH=$torch_prefix$extra_prefix" -DCMAKE_CUDA_ARCHITECTURES=native "${torch_link_args[@]}"
cmake --build "$build" -j "${JOBS:-$(nproc)}"
[ "${RUN_TESTS:-1}" = 1 ] || exit 0
cd "$build" && ctest --output-on-failure -j 4
