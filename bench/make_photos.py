#!/usr/bin/env python3
"""Write photo-like JPEGs for indexing benchmarks: smooth colour fields, texture, shapes and
sensor noise, so the files have the entropy (and decode cost) of real photos.

    .venv/bin/python bench/make_photos.py OUT_DIR COUNT [--size 4000x3000] [--quality 90]
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def photo(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    # Large-scale colour variation: a tiny random image upscaled smoothly.
    base = Image.fromarray(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)).resize((w, h), Image.BICUBIC)
    # Mid-frequency texture (foliage, fabric): upscaled noise.
    tex = rng.normal(0, 22, (h // 16, w // 16, 1)).astype(np.float32)
    tex = np.asarray(Image.fromarray(np.clip(tex[..., 0] + 128, 0, 255).astype(np.uint8)).resize((w, h), Image.BILINEAR), dtype=np.float32) - 128
    img = np.asarray(base, dtype=np.float32) + tex[..., None]
    pil = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(pil)
    for _ in range(rng.integers(3, 9)):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(h // 20, h // 4))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.rectangle([x - r, y - r // 2, x + r, y + r // 2], fill=colour)
    pil = pil.filter(ImageFilter.GaussianBlur(1.2))
    noisy = np.asarray(pil, dtype=np.float32) + rng.normal(0, 5, (h, w, 3)).astype(np.float32)
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path)
    ap.add_argument("count", type=int)
    ap.add_argument("--size", default="4000x3000")
    ap.add_argument("--quality", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    args.out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for i in range(args.count):
        path = args.out / f"photo-{i:05d}.jpg"
        img = photo(rng, w, h)
        if path.exists():
            continue
        # Every fourth photo is portrait, as a phone would store it.
        if i % 4 == 3:
            img = img.transpose(Image.Transpose.ROTATE_90)
        img.save(path, quality=args.quality)


if __name__ == "__main__":
    main()
