#!/usr/bin/env python3
"""Would a spectral comparison find the twins the waveform fingerprint misses (issue 23, item 10)?

Reads a render-notes bank of C3..C5 notes (0.33 s, velocity 100: the fingerprint's notes) and scores
every pair of presets of one family by the Pearson correlation of their log-power spectrograms in
1/6-octave bands (40 Hz - 8 kHz, 32 ms frames, 16 ms hop, -80 dB floor) over the three notes C3,
C4, C5, each note's audio scaled like the fingerprint (the three together to unit norm). Prints the
named pairs and, per split of the embedded default, the pairs of different programs at or above
--at. Needs numpy and scipy (Debian's python3-numpy, python3-scipy).

    build/bin/render-notes -c NOTES.json SF2...   # NOTES.json: {"pitch_min": 48, "pitch_max": 72,
        # "velocities": [100], "note_seconds": 0.33, "release_seconds": 0.25, "output": "DIR"}
    python3 scripts/spectral_twins.py DIR [--at 0.985]
"""
import argparse, collections, itertools, json, os

import numpy as np
import scipy.io.wavfile as wavfile

SR, NFFT, HOP = 16000, 512, 256
SPLIT = {'FluidR3_GM': 'train', 'MuseScore_General': 'train', 'TimGM6mb': 'valid', 'sf_GMbank': 'valid',
         'GeneralUser-v1.47': 'test'}


def band_matrix(per_octave=6, lo=40.0, hi=8000.0):
    f = np.fft.rfftfreq(NFFT, 1 / SR)
    n = int(np.log2(hi / lo) * per_octave)
    c = lo * 2 ** (np.arange(n + 2) / per_octave)
    return np.stack([np.clip(np.minimum((f - c[i]) / (c[i + 1] - c[i]), (c[i + 2] - f) / (c[i + 2] - c[i + 1])), 0, None)
                     for i in range(n)])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('bank')
    ap.add_argument('--at', type=float, default=0.985)
    a = ap.parse_args()
    examples = json.load(open(os.path.join(a.bank, 'examples.json')))
    notes = collections.defaultdict(dict)
    for name, e in examples.items():
        if e['pitch'] in (48, 60, 72):
            font = os.path.splitext(os.path.basename(e['soundfont']))[0]
            notes[(font, e['preset_bank'], e['preset_program'], e['preset'], e['instrument_family_str'])][e['pitch']] = name
    bands, window = band_matrix(), np.hanning(NFFT + 1)[:-1]
    n = int(0.33 * SR)

    def spectrogram(key):
        x = np.concatenate([wavfile.read(os.path.join(a.bank, 'audio', notes[key][p] + '.wav'))[1][:n].astype(np.float64)
                            for p in (48, 60, 72)])
        x /= np.sqrt((x ** 2).sum()) + 1e-12
        out = []
        for i in range(3):
            frames = np.lib.stride_tricks.sliding_window_view(np.pad(x[i * n:(i + 1) * n], (0, NFFT)), NFFT)[::HOP][:n // HOP]
            power = np.abs(np.fft.rfft(frames * window, axis=1)) ** 2
            out.append(np.maximum(10 * np.log10(bands @ power.T + 1e-10), -80))
        z = np.stack(out).ravel()
        return z - z.mean()

    keys = [k for k in notes if len(notes[k]) == 3]
    spec = {k: spectrogram(k) for k in keys}
    by_family = collections.defaultdict(list)
    for k in keys:
        by_family[k[4]].append(k)
    pairs = []
    for members in by_family.values():
        for p, q in itertools.combinations(members, 2):
            u, v = spec[p], spec[q]
            pairs.append((float(u @ v / np.sqrt((u @ u) * (v @ v))), p, q))
    pairs.sort(reverse=True)
    show = lambda r: print(f'{r[0]:.4f}  {r[1][0]} {r[1][1]}:{r[1][2]} {r[1][3]}  /  {r[2][0]} {r[2][1]}:{r[2][2]} {r[2][3]}')
    print(f'{len(keys)} presets, {len(pairs)} same-family pairs')
    print('-- the pairs issue 12 named (TimGM6mb / sf_GMbank, bank 0)')
    for r in pairs:
        if r[1][2] == r[2][2] and r[1][2] in (24, 37, 70, 106) and {r[1][0], r[2][0]} == {'TimGM6mb', 'sf_GMbank'} \
                and r[1][1] == r[2][1] == 0:
            show(r)
    for split in ('train', 'valid', 'test'):
        print(f'-- {split}: pairs of different programs (banks 0-7) at or above {a.at}, below 0.999')
        for r in pairs:
            if a.at <= r[0] < 0.999 and r[1][2] != r[2][2] and r[1][1] < 8 and r[2][1] < 8 \
                    and SPLIT.get(r[1][0]) == SPLIT.get(r[2][0]) == split:
                show(r)


if __name__ == '__main__':
    main()
