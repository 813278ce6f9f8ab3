#!/usr/bin/env python3
"""Import circles and upward imports in src/ (docs/architecture.md, "Layers").

Reads every `crate::…` path in the non-test, non-comment code of each file under src/,
resolves it to the file (module) it names, and prints
  - every import circle between files (strongly connected components of that graph), and
  - every import from a folder into one above it in the layering, or beside it in the top
    layers (the list below mirrors the diagram in docs/architecture.md).
Exits 1 when it finds a circle or an upward import, 0 otherwise (sideways imports are listed
for review; the architecture page says which are kept and why).

    python3 scripts/import_graph.py
"""

import collections
import os
import re
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")

# Layer of each top-level module: higher layers may import lower ones only.
LAYER = {
    "app": 5, "cli": 5,
    "ui": 4, "lessons": 4, "train": 4,
    "engine": 3,
    "model": 2, "preprocess": 2, "index": 2, "bundle": 2, "audio_io": 2,
    "device": 1, "error": 1, "modality": 1, "safe_write": 1, "view_options": 1,
    "log_file": 1, "test_support": 1,
}


def module_of(path):
    rel = os.path.relpath(path, ROOT)[:-3]
    if rel.endswith("/mod"):
        rel = rel[:-4]
    return "" if rel in ("lib", "main") else rel.replace(os.sep, "::")


def code_of(path):
    text = open(path, encoding="utf-8").read()
    cut = text.find("#[cfg(test)]")
    if cut >= 0:
        text = text[:cut]
    return re.sub(r"//[^\n]*", "", text)


def main():
    files = [os.path.join(d, f) for d, _, fs in os.walk(ROOT) for f in fs if f.endswith(".rs")]
    known = {module_of(f): f for f in files}

    def resolve(path):
        parts = path.split("::")
        for i in range(len(parts), 0, -1):
            candidate = "::".join(parts[:i])
            if candidate in known:
                return candidate
        return None

    edges = collections.defaultdict(set)
    for f in files:
        me = module_of(f)
        for m in re.finditer(r"crate::([A-Za-z_][\w:]*)(::\{([^;]*?)\})?", code_of(f)):
            base, group = m.group(1).rstrip(":"), m.group(3)
            targets = []
            if group is None:
                targets.append(resolve(base))
            else:
                for item in re.split(r"[,\s]+", group):
                    item = item.strip("{} ")
                    if item and item != "self":
                        targets.append(resolve(base + "::" + item.split("::")[0]) or resolve(base))
                    else:
                        targets.append(resolve(base))
            for t in targets:
                if t and t != me:
                    edges[me].add(t)

    # Tarjan's strongly connected components.
    sys.setrecursionlimit(100_000)
    index, low, stack, on_stack, circles = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(known):
        if v not in index:
            visit(v)

    bad = False
    for circle in circles:
        bad = True
        print("circle:", " ".join(circle))
        for a in circle:
            for b in sorted(edges[a]):
                if b in circle:
                    print(f"    {a} -> {b}")
    for a in sorted(edges):
        top_a = a.split("::")[0]
        for b in sorted(edges[a]):
            top_b = b.split("::")[0]
            if top_a == top_b or not top_a or not top_b:
                continue
            la, lb = LAYER.get(top_a, 0), LAYER.get(top_b, 0)
            if lb > la:
                bad = True
                print(f"upward: {a} -> {b}")
            elif lb == la and la >= 3:
                print(f"sideways: {a} -> {b}")
    print(f"{len(known)} files, {sum(len(e) for e in edges.values())} imports between files,"
          f" {len(circles)} circles")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
