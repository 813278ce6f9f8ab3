#!/usr/bin/env bash
# Builds the "as a user would" test sets for `transference eval --images DIR --audio DIR`:
#  - paper/: held-out MNIST digits (the gallery thumbnails of models/digits) rendered as dark
#    ink on light, uneven paper, upscaled, rotated by up to ±15°, blurred and with noise;
#  - voices/: every digit spoken by espeak-ng voice variants that are NOT in the training set
#    (training used the +m1..m7 and +f1..f4 variants; these use whisper, croak, klatt, ...).
# Needs ImageMagick (`convert`) and espeak-ng. Usage: scripts/make_user_checks.sh OUT_DIR
set -euo pipefail
out="${1:?usage: make_user_checks.sh OUT_DIR}"
repo="$(cd "$(dirname "$0")/.." && pwd)"
items="$repo/models/digits/gallery/items.json"
mkdir -p "$out/paper" "$out/voices"
# Image items of the gallery: label word -> digit.
python3 - "$items" "$repo/models/digits/gallery" "$out/paper" <<'PY'
import json, random, subprocess, sys, os
items, gdir, out = sys.argv[1], sys.argv[2], sys.argv[3]
words = ["zero","one","two","three","four","five","six","seven","eight","nine"]
random.seed(11)
for i, it in enumerate(json.load(open(items))):
    if it["modality"] != "image" or not it.get("media"):
        continue
    d = words.index(it["label"])
    angle = random.uniform(-15, 15)
    paper = random.randint(185, 235)
    src = os.path.join(gdir, it["media"])
    dst = os.path.join(out, f"{d}_paper_{i:04d}.png")
    subprocess.run([
        "convert", src, "-negate", "-filter", "Lanczos", "-resize", "160x160",
        "-background", "white", "-rotate", f"{angle:.1f}", "-gravity", "center", "-extent", "200x200",
        "-level", f"0%,100%,1.0", "+level", f"8%,{paper/255*100:.0f}%",
        "-attenuate", "0.6", "+noise", "Gaussian", "-blur", "0x0.8", "-colorspace", "Gray", dst,
    ], check=True)
PY
words=(zero one two three four five six seven eight nine)
for v in whisper croak klatt3 Andy Denis grandpa norbert linda; do
  for d in 0 1 2 3 4 5 6 7 8 9; do
    espeak-ng -v "en-us+$v" -s 150 -w "$out/voices/${d}_${v}.wav" "${words[$d]}"
  done
done
echo "wrote $(ls "$out/paper" | wc -l) paper digits and $(ls "$out/voices" | wc -l) clips into $out"
