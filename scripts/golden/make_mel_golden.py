#!/usr/bin/env python3
"""Golden references for the log-mel frontend, computed by librosa 0.9.2 itself.

Run with the reference venv:  ~/pyref/bin/python scripts/golden/make_mel_golden.py
Writes small files into tests/data/mel/ (and the fixture clip into tests/data/audio/ when it is
missing: 5 s of an openttd-openmsx MIDI file rendered by FluidSynth with TimGM6mb, mono 16 kHz
16-bit, made with the fluidsynth and sox command-line tools). The C++ tests compare against these.
"""
import json
import os
import subprocess
import sys
import tempfile

import librosa
import numpy as np
import soundfile as sf

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MEL_DIR = os.path.join(ROOT, "tests", "data", "mel")
CLIP = os.path.join(ROOT, "tests", "data", "audio", "city_blues_5s.wav")
MIDI = "/usr/share/games/openttd/baseset/openmsx/city_blues_redfarn.mid"
SF2 = "/usr/share/sounds/sf2/TimGM6mb.sf2"

# The paper's frontend (DESIGN.md): these are also MelConfig's defaults.
DEFAULT = dict(sr=16000, n_fft=2048, win_length=1024, hop_length=512, n_mels=128, fmin=0.0,
               fmax=8000.0, htk=False, norm="slaney", power=2.0, top_db=80.0)


def logmel(y, sr, n_fft, win_length, hop_length, n_mels, fmin, fmax, htk, norm, power, top_db):
    """The reference pipeline: melspectrogram (zero-padded centring) + power_to_db(ref=1)."""
    s = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop_length,
                                       win_length=win_length, window="hann", center=True,
                                       pad_mode="constant", power=power, n_mels=n_mels,
                                       fmin=fmin, fmax=fmax, htk=htk, norm=norm)
    return librosa.power_to_db(s, ref=1.0, amin=1e-10, top_db=top_db)


def save(name, array):
    np.save(os.path.join(MEL_DIR, name), array)


def render_clip():
    with tempfile.TemporaryDirectory() as tmp:
        full = os.path.join(tmp, "full.wav")
        subprocess.run(["fluidsynth", "-ni", "-q", "-F", full, "-r", "16000", SF2, MIDI], check=True)
        # -D: no dither, so the fixture is reproducible; channels are averaged.
        subprocess.run(["sox", "-D", full, "-c", "1", "-b", "16", CLIP, "trim", "8", "5"], check=True)


def main():
    assert librosa.__version__ == "0.9.2", librosa.__version__
    os.makedirs(MEL_DIR, exist_ok=True)
    if not os.path.exists(CLIP):
        render_clip()
    facts = {}

    # Filterbanks: two complete small ones (Slaney scale + area norm; HTK scale, no norm, odd
    # band edges) and spot rows plus row sums of the full default 128 x 1025 matrix.
    save("fb_slaney_512_40.npy", librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=0.0,
                                                      fmax=8000.0, htk=False, norm="slaney"))
    save("fb_htk_512_40.npy", librosa.filters.mel(sr=16000, n_fft=512, n_mels=40, fmin=50.0,
                                                   fmax=7000.0, htk=True, norm=None))
    fb = librosa.filters.mel(sr=16000, n_fft=2048, n_mels=128, fmin=0.0, fmax=8000.0, htk=False,
                             norm="slaney")
    rows = [0, 1, 2, 10, 50, 100, 127]
    save("fb_default_rows.npy", fb[rows])
    save("fb_default_rowsum.npy", fb.astype(np.float64).sum(axis=1))
    facts["fb_default_rows"] = rows

    # The real clip, read as the reference reads it (float32, int16 / 32768).
    y, sr = sf.read(CLIP, dtype="float32")
    assert sr == 16000 and y.ndim == 1 and len(y) == 80000, (sr, y.shape)
    ref = logmel(y, **DEFAULT)
    assert ref.shape == (128, 157), ref.shape
    save("clip_logmel.npy", ref.astype(np.float32))
    y64 = logmel(y.astype(np.float64), **DEFAULT)
    print("clip: float32 vs float64 librosa max |diff| dB =", float(np.abs(ref - y64).max()))

    # The same clip from 1.5 s on (3.5 s of audio, then zeros) with a non-default frontend: the
    # embed tool's --offset and --set paths.
    alt = dict(DEFAULT, n_mels=40, htk=True, norm=None, fmin=30.0, fmax=7600.0, top_db=60.0)
    y_off = np.zeros(80000, dtype=np.float32)
    y_off[:80000 - 24000] = y[24000:]
    save("clip_offset1.5_htk40.npy", logmel(y_off, **alt).astype(np.float32))
    facts["offset_config"] = {"n_mels": 40, "scale": "htk", "norm": "none", "fmin": 30.0,
                              "fmax": 7600.0, "top_db": 60.0, "offset_seconds": 1.5}

    # Silence: amin keeps it finite; every value is 10*log10(1e-10) = -100 dB.
    sil = logmel(np.zeros(80000, dtype=np.float32), **DEFAULT)
    facts["silence_min"] = float(sil.min())
    facts["silence_max"] = float(sil.max())

    # A 1 kHz tone (0.5 amplitude, 1 s): its energy must land in the band centred nearest 1 kHz.
    n = np.arange(16000)
    tone = (0.5 * np.sin(2 * np.pi * 1000.0 * n / 16000)).astype(np.float32)
    tone_ref = logmel(tone, **DEFAULT)
    save("tone1k_logmel.npy", tone_ref.astype(np.float32))
    # top_db off (None): the tone's quiet bands fall far below max - 80 dB, down to amin's -100.
    save("tone1k_logmel_no_top_db.npy", logmel(tone, **dict(DEFAULT, top_db=None)).astype(np.float32))
    centres = librosa.mel_frequencies(n_mels=128 + 2, fmin=0.0, fmax=8000.0, htk=False)[1:-1]
    facts["tone_peak_band"] = int(np.argmax(tone_ref[:, tone_ref.shape[1] // 2]))
    facts["tone_nearest_centre_band"] = int(np.argmin(np.abs(centres - 1000.0)))

    # A short noise burst with an odd frontend: win_length not half of n_fft, hop not a divisor,
    # power 1, fmin > 0: exercises the general framing.
    rng = np.random.default_rng(1234)
    noise = (rng.standard_normal(3000) * 0.1).astype(np.float32)
    odd = dict(sr=16000, n_fft=1024, win_length=1000, hop_length=300, n_mels=64, fmin=100.0,
               fmax=6000.0, htk=False, norm="slaney", power=1.0, top_db=80.0)
    save("noise_input.npy", noise)
    save("noise_logmel_odd.npy", logmel(noise, **odd).astype(np.float32))
    facts["odd_config"] = {"n_fft": 1024, "win_length": 1000, "hop": 300, "n_mels": 64,
                           "fmin": 100.0, "fmax": 6000.0, "power": 1.0}

    # Frame counts librosa gives for assorted lengths (centre=True).
    facts["frames"] = {str(k): int(logmel(np.ones(k, dtype=np.float32) * 0.1, **DEFAULT).shape[1])
                       for k in (1, 511, 512, 513, 1024, 12345, 80000)}

    with open(os.path.join(MEL_DIR, "facts.json"), "w") as f:
        json.dump(facts, f, indent=2, sort_keys=True)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(MEL_DIR, p)) for p in os.listdir(MEL_DIR))
    print(f"wrote {MEL_DIR} ({total / 1024:.0f} KB)", file=sys.stderr)


if __name__ == "__main__":
    main()
