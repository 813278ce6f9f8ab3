#!/usr/bin/env python3
"""Fixture and independent numpy reference for `transference import` (bring your own vectors).

Writes `tests/fixtures/import/`: the inputs a researcher would bring from another framework
and `expected.json`, the figures the imported bundle must show. Rerun from the repository
root (needs only numpy):

    python3 tests/reference/import_reference.py

Inputs (numpy's seeded PCG64 generator):
- `embeddings.npy`: float64 [18, 6], three classes ("zero", "one", "two") around three
  directions, 6 image, 6 audio and 6 text items (not unit length: the import normalises);
- `codes.npy`: int64 [18, 4]; class c mostly uses codes 3c..3c+2, image items have 4 codes,
  audio items 3 and text items 2 (the rest is -1 padding, dropped on import); code 9 is
  never used (dead) and the codebook has 10 codes;
- `codebook.npy`: float32 [10, 6];
- `metadata.tsv`: header `label\tmodality\tsource\tspeaker` (speaker is an extra column the
  import ignores).

Reference figures, computed here from the definitions, not by porting the Rust code:
per modality the histogram of codes, its perplexity exp(-sum p ln p), active codes; over all
modalities active, dead (K - active) and shared (used by >= 2 modalities) codes; and the
3 nearest neighbours by cosine of item 0 among all items.
"""

import json
import os

import numpy as np

N_PER, D, K, T = 6, 6, 10, 4
MODALITIES = ["image", "audio", "text"]
LABELS = ["zero", "one", "two"]
CODES_PER_MODALITY = {"image": 4, "audio": 3, "text": 2}

rng = np.random.default_rng(20261206)
centres = rng.standard_normal((3, D)) * 3.0
rows, codes, meta = [], [], []
for m in MODALITIES:
    for j in range(N_PER):
        c = j % 3
        rows.append(centres[c] + rng.standard_normal(D) * 0.5)
        n_codes = CODES_PER_MODALITY[m]
        own = [3 * c + int(rng.integers(0, 3)) for _ in range(n_codes)]
        if j == N_PER - 1:
            own[0] = (3 * c + 3) % 9  # one code from another class: codes are shared, not pure
        codes.append(own + [-1] * (T - n_codes))
        meta.append((LABELS[c], m, f"{m}-{j}", f"speaker{j % 2}"))
emb = np.array(rows, dtype=np.float64)
codes = np.array(codes, dtype=np.int64)
codebook = rng.standard_normal((K, D)).astype(np.float32)

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "..", "fixtures", "import")
os.makedirs(out, exist_ok=True)
np.save(os.path.join(out, "embeddings.npy"), emb)
np.save(os.path.join(out, "codes.npy"), codes)
np.save(os.path.join(out, "codebook.npy"), codebook)
with open(os.path.join(out, "metadata.tsv"), "w") as f:
    f.write("label\tmodality\tsource\tspeaker\n")
    for row in meta:
        f.write("\t".join(row) + "\n")

per_modality = {}
users = np.zeros(K, dtype=int)
for mi, m in enumerate(MODALITIES):
    block = codes[mi * N_PER:(mi + 1) * N_PER]
    valid = block[block >= 0]
    counts = np.bincount(valid, minlength=K)
    p = counts[counts > 0] / counts.sum()
    per_modality[m] = {
        "items": N_PER,
        "positions": int(valid.size),
        "counts": counts.tolist(),
        "perplexity": float(np.exp(-(p * np.log(p)).sum())),
        "active": int((counts > 0).sum()),
    }
    users += counts > 0
unit = emb / np.linalg.norm(emb, axis=1, keepdims=True)
cos = unit @ unit[0]
order = np.argsort(-cos, kind="stable")[:3]
expected = {
    "items": int(emb.shape[0]),
    "dim": D,
    "codebook_size": K,
    "per_modality": per_modality,
    "active_any": int((users >= 1).sum()),
    "dead": int(K - (users >= 1).sum()),
    "shared": int((users >= 2).sum()),
    "neighbours_of_0": [int(i) for i in order],
    "neighbour_scores_of_0": [float(cos[i]) for i in order],
}
with open(os.path.join(out, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1)
    f.write("\n")
print("wrote", out)
