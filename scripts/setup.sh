#!/usr/bin/env bash
# Installs every Debian package the project needs (idempotent, quick when all is present) and
# configures + builds the project in build/ (BUILD_DIR overrides; SETUP_ONLY_PACKAGES=1 stops after
# the packages).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"

packages=(
  build-essential cmake ninja-build pkg-config
  libtorch-dev libopenblas0-pthread libsndfile1-dev libsoxr-dev libfluidsynth-dev zlib1g-dev
  libcli11-dev nlohmann-json3-dev libspdlog-dev libgtest-dev libgmock-dev libgloo-dev libfaiss-dev
  python3-matplotlib  # the demo's plots (scripts/plot_run.py)
  python3-scipy  # scripts/map_ceilings.py --multi (the outputs' assignment to the stems)
  python3-venv  # scripts/test-torch2.sh installs a PyPI torch wheel into a virtual environment
  # The embedded default dataset: SoundFonts and General MIDI files from Debian.
  fluid-soundfont-gm timgm6mb-soundfont csound-soundfont musescore-general-soundfont-small
  opl3-soundfont  # an OPL3 FM chip's GM set (the third train SoundFont: FM synthesis, no shared samples)
  minuet-data  # GeneralUser GS 1.47 (the test split's SoundFont)
  openttd-openmsx simutrans-data planetblupi-music-midi freedink-data mma
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -ne 0 ] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

[ "${SETUP_ONLY_PACKAGES:-0}" = 1 ] && exit 0

jobs="${JOBS:-$(nproc)}"
if [ ! -f "$build/build.ninja" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release ${CMAKE_ARGS:-}
fi
cmake --build "$build" -j "$jobs"
