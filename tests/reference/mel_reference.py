#!/usr/bin/env python3
"""Independent numpy reference for the log-mel features of `src/preprocess/mel.rs`.

Writes `tests/fixtures/mel_reference.json`, which the Rust unit tests compare against.
Rerun from the repository root (needs only numpy):

    python3 tests/reference/mel_reference.py

The formulas are the textbook ones, written from librosa's and torch's documented behaviour,
not ported from the Rust code:

* Slaney mel scale (librosa `hz_to_mel(htk=False)`): linear below 1 kHz at 200/3 Hz per mel,
  logarithmic above with 27 mels per factor 6.4.
* Filterbank (librosa `filters.mel(htk=False, norm="slaney")`): n_mels + 2 points equally
  spaced in mel between fmin and fmax, triangles on the rfft bin frequencies, each scaled by
  2 / (f[i+2] - f[i]).
* STFT (torch `stft(center=True, pad_mode="reflect")`): reflect-pad n_fft // 2 on both sides,
  periodic Hann window of win_length centred in n_fft, frames every hop, |rfft|^2.
* log: natural log of max(mel energy, log_floor).

Test signal (both sides generate it identically: computed in float64, then rounded to float32):
    n = 0..3999, t = n / 8000
    x[n] = float32( 0.5 * sin(2*pi*300*t)
                  + 0.3 * sin(2*pi*1200*t)
                  + 0.2 * sin(2*pi*(100*t + 0.5*(3500 - 100)/0.5 * t**2)) )   # chirp 100 -> 3500 Hz over 0.5 s
"""

import json
import math
import os

import numpy as np

# Default AudioConfig (src/preprocess/audio.rs).
SR = 8000
N_FFT = 256
WIN_LENGTH = 256
HOP = 64
N_MELS = 40
FMIN = 20.0
FMAX = 4000.0
LOG_FLOOR = 1e-6
N_SAMPLES = 4000


def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-300) / min_log_hz) / logstep, f / f_sp)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), f_sp * m)


def mel_filterbank(sr, n_fft, n_mels, fmin, fmax):
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sr)
    mel_pts = np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2)
    hz_pts = mel_to_hz(mel_pts)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lo, c, hi = hz_pts[i], hz_pts[i + 1], hz_pts[i + 2]
        up = (fft_freqs - lo) / (c - lo)
        down = (hi - fft_freqs) / (hi - c)
        weights[i] = np.maximum(0.0, np.minimum(up, down)) * (2.0 / (hi - lo))
    return weights


def signal():
    t = np.arange(N_SAMPLES, dtype=np.float64) / SR
    x = (0.5 * np.sin(2 * np.pi * 300.0 * t)
         + 0.3 * np.sin(2 * np.pi * 1200.0 * t)
         + 0.2 * np.sin(2 * np.pi * (100.0 * t + 0.5 * (3500.0 - 100.0) / 0.5 * t ** 2)))
    return x.astype(np.float32)


def log_mel(x):
    x = x.astype(np.float64)
    pad = N_FFT // 2
    padded = np.pad(x, (pad, pad), mode="reflect")
    n = np.arange(WIN_LENGTH)
    hann = 0.5 - 0.5 * np.cos(2 * np.pi * n / WIN_LENGTH)  # periodic
    window = np.zeros(N_FFT)
    off = (N_FFT - WIN_LENGTH) // 2
    window[off:off + WIN_LENGTH] = hann
    n_frames = 1 + (len(padded) - N_FFT) // HOP
    frames = np.stack([padded[i * HOP:i * HOP + N_FFT] * window for i in range(n_frames)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [frames, bins]
    fb = mel_filterbank(SR, N_FFT, N_MELS, FMIN, FMAX)
    mel = fb @ power.T  # [mels, frames]
    return np.log(np.maximum(mel, LOG_FLOOR)), fb


def main():
    x = signal()
    lm, fb = log_mel(x)
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "fixtures", "mel_reference.json")
    fb_rows = [0, 1, 10, 20, 39]
    doc = {
        "description": "log-mel of the test signal in tests/reference/mel_reference.py (numpy, float64)",
        "config": {"sample_rate_hz": SR, "n_fft": N_FFT, "win_length": WIN_LENGTH, "hop_length": HOP,
                   "n_mels": N_MELS, "f_min_hz": FMIN, "f_max_hz": FMAX, "log_floor": LOG_FLOOR},
        "n_samples": N_SAMPLES,
        "signal_head": [float(v) for v in x[:16]],
        "hann_window": [round(float(v), 9) for v in (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(WIN_LENGTH) / WIN_LENGTH))],
        "filterbank_row_sums": [round(float(v), 9) for v in fb.sum(axis=1)],
        "filterbank_rows": {str(r): [round(float(v), 9) for v in fb[r]] for r in fb_rows},
        "n_mels": int(lm.shape[0]),
        "n_frames": int(lm.shape[1]),
        "log_mel": [[round(float(v), 6) for v in row] for row in lm],
    }
    with open(out, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
        f.write("\n")
    print(f"wrote {os.path.normpath(out)}: {lm.shape[0]} mels x {lm.shape[1]} frames, "
          f"log-mel range [{lm.min():.3f}, {lm.max():.3f}], {os.path.getsize(out)} bytes")


if __name__ == "__main__":
    main()
