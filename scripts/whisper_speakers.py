#!/usr/bin/env python3
"""How well frozen Whisper tiny.en features read speakers they never heard, in numpy only,
straight from the original CTranslate2 model.bin (the independent side of
`tests/core.rs::frozen_whisper_features_read_a_speaker_they_never_heard`).

Protocol: FSDD (../shared/data/fsdd/recordings), takes 0..TAKES-1 of every digit of each of the
five speakers, resampled 8 -> 16 kHz (scipy's polyphase filter; the Rust side uses rubato, so
figures can differ by a clip or two); Whisper log-mel in a window (the clip followed by silence,
see tests/reference/whisper_reference.py); the encoder; the mean over the positions covering
the clip; a nearest-centroid classifier fitted on the other four speakers.

Usage:
  pip install numpy scipy
  python3 scripts/whisper_speakers.py --model-bin PATH/model.bin [--takes 10] [--window 0 200 3000]

`--window 0` encodes each clip at its own length (no silence after it); 200 is the app's 2 s
window; 3000 is Whisper's own 30 s.
"""
import argparse
import glob
import math
import os
import sys
import wave

import numpy as np
from scipy.signal import resample_poly
from scipy.special import erf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests", "reference"))
import whisper_reference as wr  # noqa: E402

FSDD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "..", "shared", "data", "fsdd", "recordings")
SPEAKERS = ["george", "jackson", "lucas", "nicolas", "yweweler"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-bin", required=True)
    ap.add_argument("--takes", type=int, default=10)
    ap.add_argument("--window", type=int, nargs="+", default=[0, 200])
    args = ap.parse_args()
    W = {k: v.astype(np.float32) for k, v in wr.read_ct2(args.model_bin).items()}
    wr.gelu = lambda x: 0.5 * x * (1 + erf(x / math.sqrt(2)))  # the same function, vectorised
    for window in args.window:
        wr.WINDOW_FRAMES = max(window, 1)
        feats = {}
        for spk in SPEAKERS:
            for digit in range(10):
                for take in range(args.takes):
                    with wave.open(os.path.join(FSDD, f"{digit}_{spk}_{take}.wav")) as w:
                        x = np.frombuffer(w.readframes(w.getnframes()), "<i2").astype(np.float64) / 32768
                    x = resample_poly(x, 2, 1)
                    if window == 0:
                        wr.WINDOW_FRAMES = max(len(x) // wr.HOP, 1)
                    mel, clip_frames = wr.log_mel(x)
                    out = wr.encoder(mel, W)
                    feats.setdefault(spk, []).append((digit, out[: -(-clip_frames // 2)].mean(0)))
        accs = []
        for test in SPEAKERS:
            train = [f for s in SPEAKERS if s != test for f in feats[s]]
            X = np.array([f for _, f in train])
            y = np.array([d for d, _ in train])
            C = np.stack([X[y == k].mean(0) for k in range(10)])
            Xt = np.array([f for _, f in feats[test]])
            yt = np.array([d for d, _ in feats[test]])
            pred = np.argmin(((Xt[:, None] - C[None]) ** 2).sum(-1), 1)
            accs.append(float((pred == yt).mean()))
        label = "own length" if window == 0 else f"window {window} frames"
        print(f"{label}: " + ", ".join(f"{s} {a:.3f}" for s, a in zip(SPEAKERS, accs)) + f"; mean {np.mean(accs):.3f}")


if __name__ == "__main__":
    main()
