#!/usr/bin/env python3
"""Writes assets/examples/photo-five.jpg: a phone-photo-like picture of a digit on paper (blue
ink on pink paper, light falling off across the page, sensor noise, slight blur, JPEG), the kind
of input the MNIST recipe's background flattening is for. Used for the README's first
screenshot and as a demo input. Needs Pillow and numpy (pip install pillow numpy); from the
repository root:

    python3 scripts/make_photo_digit.py
"""
import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WIDTH_PX, HEIGHT_PX = 800, 600
FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"  # Debian fonts-dejavu-core
OUT = "assets/examples/photo-five.jpg"

rng = np.random.default_rng(5)
paper = np.array([246, 214, 222], dtype=np.float32)
ink = np.array([38, 62, 168], dtype=np.float32)

mask = Image.new("L", (WIDTH_PX, HEIGHT_PX), 0)
draw = ImageDraw.Draw(mask)
draw.text((300, 95), "5", fill=255, font=ImageFont.truetype(FONT, 380))
mask = mask.rotate(-6, resample=Image.BICUBIC).filter(ImageFilter.GaussianBlur(1.2))
alpha = np.asarray(mask, dtype=np.float32)[..., None] / 255.0

pixels = paper * (1 - alpha) + ink * alpha
# Light falls off from the top-left corner to the bottom-right one (a lamp beside the page).
ys, xs = np.mgrid[0:HEIGHT_PX, 0:WIDTH_PX]
light = 1.0 - 0.45 * (xs / WIDTH_PX + ys / HEIGHT_PX) / 2
pixels = pixels * light[..., None]
pixels += rng.normal(0, 7, pixels.shape)
img = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
img = img.filter(ImageFilter.GaussianBlur(0.8))
img.save(OUT, quality=85)
print(OUT)
