#!/usr/bin/env python3
"""Where the image held-out sets' zero-shot errors come from: per typeface, and how many of the
errors are views the MNIST recipe broke.

  transference eval models/digits --data data/digits --export-embeddings EMB
  python3 scripts/image_set_errors.py EMB [--data data/digits] [--worst 15]

Reads the export (the gallery format `scripts/baseline_eval.py` describes) and the prepared
data's 28x28 views (DATA/digits.safetensors: `image_print_val`, `image_scan_test` and their
labels; `image_print_val_typefaces` indexes DATA/meta.json `typefaces`). Zero-shot is the
nearest class embedding by cosine, as in baseline_eval.py. A view counts as **broken** when the
recipe evidently lost the digit: its mean is above 0.25 (a filled box; MNIST digits' means stay
below 0.26 in 99 % of cases) or more than a quarter of its pixels are mid-grey (0.1..0.6: a box
of noise). The rule is a screen, not a definition: look at the views it flags.
"""
import argparse
import json
import os
import struct

import numpy as np

DTYPES = {"F32": np.float32, "I32": np.int32, "I64": np.int64, "U8": np.uint8, "U16": np.uint16, "U32": np.uint32}
SETS = [("image_print_val", "test:print_unseen_typefaces"), ("image_scan_test", "test:scan_unseen_handwriting")]


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    out = {}
    for name, t in json.loads(data[8 : 8 + n]).items():
        if name != "__metadata__":
            a, b = t["data_offsets"]
            out[name] = np.frombuffer(data[8 + n + a : 8 + n + b], dtype=DTYPES[t["dtype"]]).reshape(t["shape"])
    return out


def broken_views(x):
    mean = x.mean(axis=(1, 2))
    grey = ((x > 0.1) & (x < 0.6)).mean(axis=(1, 2))
    return (mean > 0.25) | (grey > 0.25)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("export")
    ap.add_argument("--data", default="data/digits")
    ap.add_argument("--worst", type=int, default=15)
    args = ap.parse_args()
    emb = read_safetensors(os.path.join(args.export, "gallery.safetensors"))["embeddings"]
    with open(os.path.join(args.export, "items.json")) as f:
        items = json.load(f)
    data = read_safetensors(os.path.join(args.data, "digits.safetensors"))
    with open(os.path.join(args.data, "meta.json")) as f:
        typefaces = json.load(f)["typefaces"]
    cls = [i for i, it in enumerate(items) if it["source"] == "class"]
    names = [items[i]["label"] for i in cls]
    for key, source in SETS:
        rows = [i for i, it in enumerate(items) if it["source"] == source]
        if not rows:
            continue
        pred = np.argmax(emb[rows] @ emb[cls].T, axis=1)
        label = np.array([names.index(items[i]["label"]) for i in rows])
        if not np.array_equal(label, data[key + "_labels"].astype(int)):
            raise SystemExit(f"{key}: the export's items are not the data's, in the same order")
        views = data[key].astype(np.float32)
        views = views / 255.0 if views.max() > 1.5 else views
        ok, broken = pred == label, broken_views(views)
        print(
            f"{source[5:]}: zero-shot {ok.mean():.3f} ({(~ok).sum()} errors); broken views {broken.sum()}, "
            f"read at {ok[broken].mean():.2f}; errors on broken views {(~ok & broken).sum()}; "
            f"zero-shot on the other views {ok[~broken].mean():.3f}"
        )
        if key + "_typefaces" in data:
            faces = data[key + "_typefaces"].astype(int)
            per = []
            for t in np.unique(faces):
                sel = faces == t
                per.append((ok[sel].mean(), int(broken[sel].sum()), int(sel.sum()), typefaces[t]["stem"]))
            per.sort()
            print(f"  worst {args.worst} typefaces (zero-shot, broken views / renderings):")
            for acc, nb, n, stem in per[: args.worst]:
                print(f"    {acc:.2f}  {nb:2d} / {n}  {stem}")


if __name__ == "__main__":
    main()
