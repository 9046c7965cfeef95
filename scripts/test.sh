#!/usr/bin/env bash
# Set-up, build, then the whole CTest suite; exits non-zero on any failure.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
"$root/scripts/setup.sh"
cd "$build"
ctest --output-on-failure -j "${JOBS:-$(nproc)}" "$@"
