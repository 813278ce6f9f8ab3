#!/usr/bin/env python3
"""Clean renderings of the held-out typefaces, for `transference eval --images`.

`transference data` holds whole typeface families out of training and renders them as
`print_unseen_typefaces`: every rendering degraded like a scan or a phone photo (blur, noise,
JPEG, low resolution, uneven light, inversion, stacked). This script draws the same typefaces
without any degradation, with an independent renderer (Pillow's FreeType, not the app's
ab_glyph), so the two figures together say how much of what the model misses is the typeface
and how much the degradation:

  python3 scripts/render_typefaces.py OUT [--data data/digits]
  transference eval models/digits --images OUT --json     (zero_shot of the "image" set)

Each held-out typeface of DATA/meta.json (`typefaces`, `held_out`) draws every digit once,
black on a white 128x128 page, 72 px, centred on its ink box: OUT/{digit}_{font stem}.png.
"""
import argparse
import json
import os

from PIL import Image, ImageDraw, ImageFont

PAGE_PX = 128
FONT_PX = 72


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--data", default="data/digits")
    args = ap.parse_args()
    with open(os.path.join(args.data, "meta.json")) as f:
        typefaces = [t for t in json.load(f)["typefaces"] if t["held_out"]]
    os.makedirs(args.out, exist_ok=True)
    for t in typefaces:
        font = ImageFont.truetype(t["file"], FONT_PX)
        for digit in "0123456789":
            page = Image.new("L", (PAGE_PX, PAGE_PX), 255)
            draw = ImageDraw.Draw(page)
            x0, y0, x1, y1 = draw.textbbox((0, 0), digit, font=font)
            at = ((PAGE_PX - (x1 - x0)) / 2 - x0, (PAGE_PX - (y1 - y0)) / 2 - y0)
            draw.text(at, digit, font=font, fill=0)
            page.save(os.path.join(args.out, f"{digit}_{t['stem']}.png"))
    print(f"{10 * len(typefaces)} renderings of {len(typefaces)} held-out typefaces in {args.out}")


if __name__ == "__main__":
    main()
