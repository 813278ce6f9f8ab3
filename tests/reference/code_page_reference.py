#!/usr/bin/env python3
"""Fixture and independent numpy reference for code pages (`transference code-page`).

Writes `tests/fixtures/code_page/`: a small gallery a researcher could bring with
`transference import` (embeddings, codes, codebook, metadata) and `expected.json`, the facts
the page of every code must show. Rerun from the repository root (needs only numpy):

    python3 tests/reference/code_page_reference.py

Or recompute the facts of any bundle's gallery (e.g. the shipped model) and print them as JSON,
to compare with `transference code-page BUNDLE --code N --json`:

    python3 tests/reference/code_page_reference.py --bundle models/digits --code 5

Fixture (numpy's seeded PCG64 generator): 8 image items with 4 codes each, 8 audio items with 3
to 6 codes (the rest -1 padding, dropped on import), 6 text items with 2 or 3 codes; classes
"zero", "one", "two"; codebook of 12 codes in 5 dimensions; class c mostly uses codes 3c..3c+3,
every item also one code of the shared range 9..10; code 11 is never used (a dead code).

Facts, computed here from their definitions (not by porting the Rust code), per code k:
- positions: how many stored codes equal k; total_positions: how many codes are stored;
  share_of_assignments = positions / total_positions; items: items with k at least once;
- per modality (in the order image, audio, text; only modalities with items): positions with
  k, all positions of the modality, their ratio, items with k;
- per class (classes: the manifest's labels, else the sorted distinct item labels): positions
  with k and items with k among the class's items;
- position maps per modality: uses[p] = items whose code at position p is k, items_at[p] =
  items with a code at position p; grid [rows, cols] for images when the bundle's image grid
  has that many positions, else null;
- top items per modality: items with k, most positions with k first, then lower gallery
  index; at most 12;
- nearest codes: the 8 other codes closest to k by Euclidean distance, ties by id;
- co-occurring codes: other codes by the number of items that use both, ties by id; at most
  10, only codes sharing at least one item.
"""

import argparse
import json
import os
import struct

import numpy as np

TOP_ITEMS, NEAREST, CO_OCCURRING = 12, 8, 10
MODALITIES = ["image", "audio", "text"]


def facts(code, items, codes, classes, codebook, image_grid, at=None):
    """The facts of `code`; items: list of dicts (modality, label); codes: list of int arrays;
    at: the encoder position of each code (list of int arrays; None: 0, 1, 2, ...)."""
    if at is None:
        at = [np.arange(len(c)) for c in codes]
    k = len(codebook) if codebook is not None else None
    all_codes = np.concatenate([c for c in codes if len(c)] or [np.zeros(0, dtype=np.int64)])
    positions = int((all_codes == code).sum())
    total = int(all_codes.size)
    uses_per_item = np.array([int((c == code).sum()) for c in codes])
    out = {
        "code": code,
        "positions": positions,
        "total_positions": total,
        "share_of_assignments": positions / total if total else 0.0,
        "items": int((uses_per_item > 0).sum()),
        "per_modality": [],
        "per_class": [],
        "position_maps": [],
        "top_items": [],
    }
    for m in MODALITIES:
        idx = [i for i, it in enumerate(items) if it["modality"] == m]
        if not idx:
            continue
        mod_codes = [codes[i] for i in idx]
        mod_total = sum(len(c) for c in mod_codes)
        mod_pos = int(uses_per_item[idx].sum())
        out["per_modality"].append({
            "modality": m,
            "positions": mod_pos,
            "modality_positions": mod_total,
            "share_of_modality": mod_pos / mod_total if mod_total else 0.0,
            "items": int((uses_per_item[idx] > 0).sum()),
        })
        # An item's codes sit at their positions (an image's blank cells have none).
        length = max((int(at[i].max()) + 1 if len(at[i]) else 0) for i in idx)
        if m == "image" and image_grid is not None:
            length = max(length, image_grid[0] * image_grid[1])
        padded = np.full((len(idx), length), -1, dtype=np.int64)
        for r, i in enumerate(idx):
            padded[r, at[i]] = codes[i]
        uses = (padded == code).sum(axis=0)
        items_at = (padded >= 0).sum(axis=0)
        grid = None
        if m == "image" and image_grid is not None and image_grid[0] * image_grid[1] == length:
            grid = list(image_grid)
        out["position_maps"].append({
            "modality": m,
            "grid": grid,
            "uses": uses.tolist(),
            "items_at": items_at.tolist(),
        })
        users = np.array([i for i in idx if uses_per_item[i] > 0], dtype=np.int64)
        order = np.lexsort((users, -uses_per_item[users])) if users.size else []
        out["top_items"].append({
            "modality": m,
            "items": [{"index": int(users[o]), "positions": int(uses_per_item[users[o]])}
                      for o in order[:TOP_ITEMS]],
        })
    for label in classes:
        idx = [i for i, it in enumerate(items) if it.get("label") == label]
        out["per_class"].append({
            "label": label,
            "positions": int(uses_per_item[idx].sum()) if idx else 0,
            "items": int((uses_per_item[idx] > 0).sum()) if idx else 0,
        })
    if codebook is not None:
        d = np.sqrt(((codebook.astype(np.float64) - codebook[code].astype(np.float64)) ** 2).sum(axis=1))
        others = np.array([c for c in range(k) if c != code])
        order = np.lexsort((others, d[others]))[:NEAREST]
        out["nearest_codes"] = [{"code": int(others[o]), "l2_distance": float(d[others[o]])}
                                for o in order]
    else:
        out["nearest_codes"] = []
    n_codes = k if k is not None else int(all_codes.max(initial=0)) + 1
    together = np.zeros(n_codes, dtype=np.int64)
    for c, n in zip(codes, uses_per_item):
        if n > 0:
            together[np.unique(c)] += 1
    together[code] = 0
    cands = np.nonzero(together)[0]
    order = np.lexsort((cands, -together[cands]))[:CO_OCCURRING]
    out["co_occurring"] = [{"code": int(cands[o]), "items": int(together[cands[o]])} for o in order]
    return out


def read_safetensors(path):
    """name -> numpy array, for the dtypes bundles use."""
    dtypes = {"F32": np.float32, "F16": np.float16, "I32": np.int32, "I64": np.int64}
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        out[name] = np.frombuffer(data[a:b], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def bundle_facts(bundle, code):
    """Facts of `code` over a bundle folder's gallery and codebook."""
    import tomllib

    with open(os.path.join(bundle, "manifest.toml"), "rb") as f:
        manifest = tomllib.load(f)
    gallery = os.path.join(bundle, manifest.get("gallery", "gallery"))
    with open(os.path.join(gallery, "items.json")) as f:
        items = json.load(f)
    t = read_safetensors(os.path.join(gallery, "gallery.safetensors"))
    offsets, flat = t["code_offsets"], t["codes"].astype(np.int64)
    codes = [flat[offsets[i]:offsets[i + 1]] for i in range(len(items))]
    positions = None
    if "code_positions" in t:
        at = t["code_positions"].astype(np.int64)
        positions = [at[offsets[i]:offsets[i + 1]] for i in range(len(items))]
    arch = manifest["architecture"]
    weights = os.path.join(bundle, manifest.get("weights", "model.safetensors"))
    codebook = None
    if os.path.exists(weights):
        codebook = read_safetensors(weights).get("codebook.vectors")
    classes = manifest.get("labels", {}).get("names") or sorted(
        {it["label"] for it in items if it.get("label")})
    grid = None
    image = arch.get("image")
    if image:
        size = list(image["input_size"])
        for _ in range(1, len(image["hidden_channels"])):
            size = [(s + 1) // 2 for s in size]
        grid = size
    page = facts(code, items, codes, classes, codebook, grid, positions)
    page["codebook_size"] = arch["codebook_size"]
    return page


def make_fixture():
    rng = np.random.default_rng(20261221)
    K, D = 12, 5
    labels = ["zero", "one", "two"]
    rows, codes, meta = [], [], []
    plan = [("image", 8, (4, 4)), ("audio", 8, (3, 6)), ("text", 6, (2, 3))]
    for m, n, (lo, hi) in plan:
        for j in range(n):
            c = j % 3
            length = int(rng.integers(lo, hi + 1))
            own = [3 * c + int(rng.integers(0, 3)) for _ in range(length - 1)]
            own.insert(int(rng.integers(0, length)), 9 + int(rng.integers(0, 2)))
            codes.append(own + [-1] * (6 - length))
            rows.append(rng.standard_normal(D) + np.eye(D)[c] * 2.0)
            text = f"{labels[c]} {j}" if m == "text" else ""
            meta.append((labels[c], m, f"{m}-{j}", text))
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "fixtures", "code_page")
    os.makedirs(out, exist_ok=True)
    np.save(os.path.join(out, "embeddings.npy"), np.array(rows, dtype=np.float64))
    np.save(os.path.join(out, "codes.npy"), np.array(codes, dtype=np.int64))
    codebook = rng.standard_normal((K, D)).astype(np.float32)
    np.save(os.path.join(out, "codebook.npy"), codebook)
    with open(os.path.join(out, "metadata.tsv"), "w") as f:
        f.write("label\tmodality\tsource\ttext\n")
        for row in meta:
            f.write("\t".join(row) + "\n")
    items = [{"modality": m, "label": label} for label, m, _, _ in meta]
    item_codes = [np.array([c for c in row if c >= 0], dtype=np.int64) for row in codes]
    classes = sorted(set(labels))
    pages = [facts(k, items, item_codes, classes, codebook, None) for k in range(K)]
    expected = {"codebook_size": K, "classes": classes, "pages": pages}
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")
    print("wrote", out)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", help="recompute the facts of this bundle instead")
    parser.add_argument("--code", type=int, default=0)
    args = parser.parse_args()
    if args.bundle:
        print(json.dumps(bundle_facts(args.bundle, args.code)))
    else:
        make_fixture()
