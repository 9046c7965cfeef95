#!/usr/bin/env bash
# Downloads (does not install) the Debian packages a GPU host needs besides its own CUDA
# LibTorch, into DIR (default: shared/debs), so that scripts/device_build.sh can unpack them
# there into a prefix when that host cannot install packages itself; and, into DIR/data, the
# SoundFonts and MIDI files of configs/nlakh_tiny.json (the tests' and scripts/gpu_check.sh's data),
# which scripts/gpu_check.sh unpacks into / (data only: files under /usr/share). About 25 MiB in all.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${1:-$root/shared/debs}"
mkdir -p "$dir"
cd "$dir"
pkgs=(libsndfile1-dev libsndfile1 libsoxr-dev libsoxr0 libfluidsynth-dev libfluidsynth3
      libcli11-dev nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9
      libgtest-dev libgmock-dev libflac12 libogg0 libvorbis0a libvorbisenc2 libopus0 libmpg123-0
      libmp3lame0 libinstpatch-1.0-2 libglib2.0-0 libgomp1 libreadline8 libsdl2-2.0-0 libpipewire-0.3-0
      libpulse0 libjack-jackd2-0 libasound2 libsystemd0 libportaudio2
      libfaiss-dev libblas3 libblas-dev liblapack3 liblapack-dev libgfortran5)
apt-get download "${pkgs[@]}"
mkdir -p data
(cd data && apt-get download timgm6mb-soundfont csound-soundfont openttd-openmsx planetblupi-music-midi)
ls -1 "$dir" "$dir/data"
du -sh "$dir"
