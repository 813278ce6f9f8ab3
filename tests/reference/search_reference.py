#!/usr/bin/env python3
"""Independent numpy reference for `transference search` (exact cosine top-k).

Writes `tests/fixtures/search/queries.npy` (float64 [4, 8], not normalised) and
`tests/fixtures/search_reference.json` (the gallery rows and the expected rankings), which
`tests/core.rs` feeds to the CLI. Rerun from the repository root (needs only numpy):

    python3 tests/reference/search_reference.py

Definition, written from the command's documentation, not ported from the Rust code:
queries are L2-normalised; score = query . row (the gallery rows are unit vectors, so this is
cosine similarity); the ranking is score descending, ties by lower row index (a stable sort
of -score); k larger than the gallery returns every row. Rows 10 and 37 duplicate row 3, so
the rankings contain exact ties. The f16 ranking uses the rows rounded to float16, as a
gallery written with f16 storage holds them. The seed is the first whose rankings have no
near-ties (distinct scores at least 1e-4 apart), so float rounding cannot reorder them.
"""

import json
import os

import numpy as np

N, D, Q, K = 60, 8, 4, 5
here = os.path.dirname(__file__)


def ranking(queries, rows):
    qn = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    scores = (qn.astype(np.float64) @ rows.astype(np.float64).T)
    order = np.argsort(-scores, axis=1, kind="stable")
    return order, np.take_along_axis(scores, order, axis=1)


def clean(order, scores, rows):
    for o, s in zip(order, scores):
        for a, b, sa, sb in zip(o, o[1:], s, s[1:]):
            if not np.array_equal(rows[a], rows[b]) and sa - sb < 1e-4:
                return False
    return True


for seed in range(1000):
    rng = np.random.default_rng(seed)
    rows = rng.standard_normal((N, D))
    rows /= np.linalg.norm(rows, axis=1, keepdims=True)
    rows = rows.astype(np.float32)
    rows[10] = rows[3]
    rows[37] = rows[3]
    queries = rng.standard_normal((Q, D))
    queries[1] = rows[3] * 2.5  # a query pointing at the duplicated row
    rows16 = rows.astype(np.float16).astype(np.float32)
    order, scores = ranking(queries, rows)
    order16, scores16 = ranking(queries, rows16)
    if clean(order, scores, rows) and clean(order16, scores16, rows16):
        break

os.makedirs(os.path.join(here, "..", "fixtures", "search"), exist_ok=True)
np.save(os.path.join(here, "..", "fixtures", "search", "queries.npy"), queries)
out = {
    "seed": seed,
    "k": K,
    "dim": D,
    "rows": [[float(v) for v in r] for r in rows],
    "ids": order[:, :K].tolist(),
    "scores": scores[:, :K].tolist(),
    "ids_all": order.tolist(),
    "ids_f16": order16[:, :K].tolist(),
    "scores_f16": scores16[:, :K].tolist(),
}
path = os.path.join(here, "..", "fixtures", "search_reference.json")
with open(path, "w") as f:
    json.dump(out, f)
    f.write("\n")
print(f"wrote {os.path.normpath(path)} (seed {seed}); query 1 top-{K}: {order[1, :K].tolist()}")
