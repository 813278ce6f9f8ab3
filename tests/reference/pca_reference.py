#!/usr/bin/env python3
"""Independent numpy reference for the 2-D PCA of `src/index/pca.rs`.

Writes `tests/fixtures/pca_reference.json`, which the Rust unit tests compare against.
Rerun from the repository root (needs only numpy):

    python3 tests/reference/pca_reference.py

The reference is the textbook PCA, not a port of the Rust code: centre the rows on their mean,
take the covariance with the N - 1 divisor, and its eigen-decomposition with
`numpy.linalg.eigh` (so this side does not use an SVD at all). The two largest eigenvalues are
the explained variances, their eigenvectors the components, and their share of the trace the
explained fraction. Sign rule (the Rust side's): the largest-magnitude coordinate of each
component is positive.

Data: 60 rows in 7 dimensions, a fixed mixing of well separated scales (10, 4, 1, 0.5, ...)
from numpy's seeded PCG64 generator, rounded to float32 (what the Rust side reads).
"""

import json
import os

import numpy as np

N, D = 60, 7

rng = np.random.default_rng(20261124)
latent = rng.standard_normal((N, D)) * np.array([10.0, 4.0, 1.0, 0.5, 0.3, 0.2, 0.1])
basis, _ = np.linalg.qr(rng.standard_normal((D, D)))
rows = (latent @ basis.T + rng.standard_normal(D) * 3.0).astype(np.float32)

x = rows.astype(np.float64)
mean = x.mean(axis=0)
centred = x - mean
cov = centred.T @ centred / (N - 1)
values, vectors = np.linalg.eigh(cov)
order = np.argsort(values)[::-1]
values, vectors = values[order], vectors[:, order]
components = []
for k in range(2):
    v = vectors[:, k]
    if v[np.argmax(np.abs(v))] < 0:
        v = -v
    components.append(v.tolist())

out = {
    "n_rows": N,
    "dim": D,
    "rows": [float(v) for v in rows.reshape(-1)],
    "mean": mean.tolist(),
    "components": components,
    "explained_variance": values[:2].tolist(),
    "explained_fraction": float(values[:2].sum() / values.sum()),
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "pca_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}: variances {values[:2]}, fraction {out['explained_fraction']:.6f}")
