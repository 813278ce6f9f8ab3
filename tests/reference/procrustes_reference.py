#!/usr/bin/env python3
"""Independent numpy reference for the orthogonal Procrustes of `src/index/procrustes.rs`.

Writes `tests/fixtures/procrustes_reference.json`, which the Rust unit tests compare against.
Rerun from the repository root (needs only numpy):

    python3 tests/reference/procrustes_reference.py

The reference is the textbook solution (Schönemann 1966), not a port of the Rust code: centre
both point sets, take numpy's SVD of B0^T A0 = U S V^T; the rotation (or reflection) is U V^T,
the uniform scale trace(S) / |B0|^2, and the residual the root mean square distance between
s B0 R and A0. The rigid residual is the same with the scale fixed at 1.

Data: 30 points in 2-D from numpy's seeded PCG64 generator (model B's map); model A's map is
B reflected, rotated by 113 degrees, scaled by 0.6, shifted, plus noise of 0.05 per axis (two
models never agree exactly).
"""

import json
import os

import numpy as np

N, D = 30, 2

rng = np.random.default_rng(20261207)
b = rng.standard_normal((N, D)) * np.array([2.0, 0.7])
t = np.deg2rad(113.0)
rot = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])
refl = np.array([[1.0, 0.0], [0.0, -1.0]])
a = 0.6 * b @ (refl @ rot) + np.array([1.5, -0.25]) + rng.standard_normal((N, D)) * 0.05

a0 = a - a.mean(axis=0)
b0 = b - b.mean(axis=0)
u, s, vt = np.linalg.svd(b0.T @ a0)
r = u @ vt
scale = s.sum() / (b0**2).sum()
residual = np.sqrt(((scale * b0 @ r - a0) ** 2).sum() / N)
rigid_residual = np.sqrt(((b0 @ r - a0) ** 2).sum() / N)

out = {
    "dim": D,
    "a": a.reshape(-1).tolist(),
    "b": b.reshape(-1).tolist(),
    "rotation": r.reshape(-1).tolist(),
    "scale": float(scale),
    "residual_rms": float(residual),
    "rigid_residual_rms": float(rigid_residual),
}
path = os.path.join(os.path.dirname(__file__), "..", "fixtures", "procrustes_reference.json")
with open(path, "w") as f:
    json.dump(out, f, indent=1)
    f.write("\n")
print(f"wrote {os.path.normpath(path)}: scale {scale:.6f}, residual {residual:.6f}, det {np.linalg.det(r):+.0f}")
