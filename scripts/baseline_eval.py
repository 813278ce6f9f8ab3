#!/usr/bin/env python3
"""Independent baseline for `transference eval`: re-derives transfer and zero-shot accuracy
from the embeddings that `transference eval --export-embeddings DIR` writes, with numpy and
scikit-learn only (no code shared with the Rust side).

The folder is a gallery (the format `transference index` writes):
  gallery.safetensors  embeddings F32 [N, D], codes I32 [total], code_offsets I64 [N+1]
  items.json           per item: modality, label, source ("fit", "test:NAME" or "class")
  sets.json            class_names, codebook_size, set descriptions

Transfer: multinomial logistic regression fitted on one modality's fit items and tested on
the other modality's test items, on the pooled embedding and on the L2-normalised bag of
codes. The Rust classifier minimises mean cross-entropy + (l2/2)|W|^2 with l2 = 1e-4; the
same objective in scikit-learn's parametrisation is C = 1 / (l2 * n_fit).
Zero-shot: the nearest class embedding by cosine (rows are unit length).
Code agreement: per class, the histogram of codes over every position of every item of the
class, normalised to sum 1; for an image test set against the primary audio test set ("audio")
and the class prompts (role "prompt", text), for an audio test set against the primary image
test set ("image") and the prompts. Pairs are named image_audio, image_text, audio_text (the
first modality's histograms are a). same_class: mean over classes present in both of the
histogram intersection sum(min(a_c, b_c)); other_class: mean over ordered pairs c != d of
sum(min(a_c, b_d)); top_code_agree: classes whose most used code (argmax of counts, lowest
code on ties) is the same.

Usage:
  pip install numpy scikit-learn
  python3 scripts/baseline_eval.py DIR [--json]
  python3 scripts/baseline_eval.py DIR --fixture OUT --fit-per-class 20 --test-per-class 10
      writes a balanced subsample of DIR to OUT (every class embedding and class prompt kept)
      plus OUT/expected.json (this script's figures on it); tests/core.rs scores the same
      fixture in Rust and compares. tests/fixtures/eval_baseline is this command on
      `transference eval models/digits --data data/digits --export-embeddings DIR`.
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

L2 = 1e-4  # crate::index::transfer::FitSettings::default().l2
DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64}
NAMES = {v: k for k, v in DTYPES.items()}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        arr = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=DTYPES[t["dtype"]])
        out[name] = arr.reshape(t["shape"])
    return out


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, arr in tensors.items():
        raw = np.ascontiguousarray(arr).astype(arr.dtype.newbyteorder("<")).tobytes()
        header[name] = {
            "dtype": NAMES[arr.dtype.type],
            "shape": list(arr.shape),
            "data_offsets": [offset, offset + len(raw)],
        }
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(folder):
    t = read_safetensors(os.path.join(folder, "gallery.safetensors"))
    items = json.load(open(os.path.join(folder, "items.json")))
    meta = json.load(open(os.path.join(folder, "sets.json")))
    off = t["code_offsets"]
    codes = [t["codes"][off[i] : off[i + 1]] for i in range(len(items))]
    return t["embeddings"].astype(np.float64), codes, items, meta


def bag_of_codes(codes, k):
    x = np.zeros((len(codes), k))
    for i, c in enumerate(codes):
        np.add.at(x[i], c, 1.0)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def fit(x, y):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / (L2 * len(y)), max_iter=5000, tol=1e-6)
    return clf.fit(x, y)


def class_hists(codes, label, rows, n_classes, k):
    """Code counts per class over every position of the items `rows`, [n_classes, k]."""
    counts = np.zeros((n_classes, k), dtype=np.int64)
    for i in rows:
        counts[label[i]] += np.bincount(np.asarray(codes[i], dtype=np.int64), minlength=k)[:k]
    return counts


def agreement(ca, cb):
    present = np.flatnonzero((ca.sum(1) > 0) & (cb.sum(1) > 0))
    ha = ca / np.maximum(ca.sum(1, keepdims=True), 1)
    hb = cb / np.maximum(cb.sum(1, keepdims=True), 1)
    inter = np.minimum(ha[present][:, None, :], hb[present][None, :, :]).sum(-1)
    off = ~np.eye(len(present), dtype=bool)
    agree = [int(c) for c in present if np.argmax(ca[c]) == np.argmax(cb[c])]
    per_class = [None] * len(ca)
    for j, c in enumerate(present):
        per_class[c] = float(inter[j, j])
    return {
        "per_class_same": per_class,
        "classes": int(len(present)),
        "same_class": float(np.mean(np.diag(inter))) if len(present) else 0.0,
        "other_class": float(np.mean(inter[off])) if off.any() else 0.0,
        "top_code_agree": len(agree),
        "top_code_agree_classes": agree,
    }


def evaluate(folder):
    emb, codes, items, meta = load(folder)
    classes = meta["class_names"]
    k = meta["codebook_size"]
    label = np.array([classes.index(it["label"]) for it in items])
    role = [it["source"] for it in items]
    modality = [it["modality"] for it in items]
    idx = lambda pred: np.array([i for i in range(len(items)) if pred(i)], dtype=int)
    class_rows = np.zeros((len(classes), emb.shape[1]))
    for i in idx(lambda i: role[i] == "class"):
        class_rows[label[i]] = emb[i]
    feats = {"transfer": emb, "transfer_bag_of_codes": bag_of_codes(codes, k)}
    clfs, fits = {}, {}
    for m in ("image", "audio"):
        f = idx(lambda i: role[i] == "fit" and modality[i] == m)
        if len(f) == 0:
            continue
        fits[m] = {"n": int(len(f)), "per_class": np.bincount(label[f], minlength=len(classes)).tolist()}
        clfs[m] = {name: fit(x[f], label[f]) for name, x in feats.items()}
    sets = {}
    for name in sorted({r[5:] for r in role if r.startswith("test:")}):
        t = idx(lambda i: role[i] == "test:" + name)
        m = modality[t[0]]
        other = "audio" if m == "image" else "image"
        zs = np.argmax(emb[t] @ class_rows.T, axis=1)
        r = {"n": int(len(t)), "modality": m, "zero_shot": float(np.mean(zs == label[t]))}
        for fname, x in feats.items():
            r[fname] = float(np.mean(clfs[other][fname].predict(x[t]) == label[t]))
        hist = lambda rows: class_hists(codes, label, rows, len(classes), k)
        partner = idx(lambda i: role[i] == "test:" + other)
        prompts = idx(lambda i: role[i] == "prompt")
        agree = {}
        if len(partner) and modality[partner[0]] == other:
            a, b = (t, partner) if m == "image" else (partner, t)
            agree["image_audio"] = agreement(hist(a), hist(b))
        if len(prompts):
            agree[m + "_text"] = agreement(hist(t), hist(prompts))
        if agree:
            r["code_agreement"] = agree
        sets[name] = r
    return {"fit": fits, "sets": sets}


def make_fixture(folder, out, fit_per_class, test_per_class, seed):
    emb, codes, items, meta = load(folder)
    rng = np.random.default_rng(seed)
    keep = []
    groups = {}
    for i, it in enumerate(items):
        groups.setdefault((it["source"], it["modality"], it["label"]), []).append(i)
    for (role, _, _), members in sorted(groups.items()):
        n = len(members) if role in ("class", "prompt") else (fit_per_class if role == "fit" else test_per_class)
        keep.extend(sorted(rng.choice(members, size=min(n, len(members)), replace=False).tolist()))
    keep.sort()
    os.makedirs(out, exist_ok=True)
    flat = [codes[i] for i in keep]
    offsets = np.cumsum([0] + [len(c) for c in flat]).astype(np.int64)
    write_safetensors(
        os.path.join(out, "gallery.safetensors"),
        {
            "embeddings": emb[keep].astype(np.float32),
            "code_offsets": offsets,
            "codes": np.concatenate(flat).astype(np.int32) if flat else np.zeros(0, np.int32),
        },
    )
    json.dump([items[i] for i in keep], open(os.path.join(out, "items.json"), "w"), indent=1)
    json.dump(meta, open(os.path.join(out, "sets.json"), "w"), indent=1)
    result = evaluate(out)
    json.dump(result, open(os.path.join(out, "expected.json"), "w"), indent=1, sort_keys=True)
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--fixture")
    ap.add_argument("--fit-per-class", type=int, default=20)
    ap.add_argument("--test-per-class", type=int, default=10)
    ap.add_argument("--seed", type=int, default=5)
    a = ap.parse_args()
    if a.fixture:
        r = make_fixture(a.dir, a.fixture, a.fit_per_class, a.test_per_class, a.seed)
    else:
        r = evaluate(a.dir)
    if a.json or a.fixture:
        print(json.dumps(r, indent=1, sort_keys=True))
        return
    for m, f in r["fit"].items():
        print(f"fit {m:<6} {f['n']} items, per class {f['per_class']}")
    print(f"{'test set':<24} {'n':>5} {'zero-shot':>9} {'transfer':>9} {'bag':>9}")
    for name, s in r["sets"].items():
        print(
            f"{name:<24} {s['n']:>5} {100*s['zero_shot']:8.1f}% {100*s['transfer']:8.1f}% "
            f"{100*s['transfer_bag_of_codes']:8.1f}%"
        )
    print(f"{'code agreement':<24} {'pair':<12} {'same':>6} {'other':>6}  top code agrees")
    for name, s in r["sets"].items():
        for pair, a in s.get("code_agreement", {}).items():
            print(
                f"{name:<24} {pair:<12} {a['same_class']:6.3f} {a['other_class']:6.3f}  "
                f"{a['top_code_agree']}/{a['classes']} {a['top_code_agree_classes']}"
            )


if __name__ == "__main__":
    sys.exit(main())
