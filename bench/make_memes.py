"""Generates the OCR evaluation set: memes and signs whose words are known.

    python bench/make_memes.py OUT [--count 300] [--seed 11]

Each picture gets one to three lines from a phrase list (English, French, Spanish, German and
Chinese), in one of Debian's fonts (DejaVu, Liberation, WenQuanYi Micro Hei for Chinese) at
12–90 px, in meme style (white with a black outline, top and bottom) or as plain coloured
text, straight or turned up to 12°, over plain, gradient, noisy or busy backgrounds, saved as
JPEG at quality 35–95 (or PNG). A fifth of the pictures have no words at all (the common case in
a photo library). `OUT/truth.json` maps each file to its lines, and `OUT/queries.json` gives,
for the retrieval benchmark, a query per worded picture (a phrase it carries) and a plain
description of its scene.

Needs pillow and numpy; the fonts come from Debian's fonts-dejavu-core, fonts-liberation2 and
fonts-wqy-microhei (bench/ocr.sh installs them).
"""

import argparse
import json
import pathlib
import random

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONTS = pathlib.Path("/usr/share/fonts/truetype")
LATIN_FONTS = [
    "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSans.ttf", "dejavu/DejaVuSerif.ttf",
    "dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSansCondensed-Bold.ttf",
    "dejavu/DejaVuSerif-BoldItalic.ttf", "liberation2/LiberationSans-Bold.ttf",
    "liberation2/LiberationSans-Regular.ttf", "liberation2/LiberationSerif-Regular.ttf",
    "liberation2/LiberationMono-Regular.ttf", "liberation2/LiberationSans-Italic.ttf",
]
CJK_FONT = "wqy/wqy-microhei.ttc"

ENGLISH = [
    "monday again", "this is fine", "when the code works first try", "nobody expects the deadline",
    "me explaining to my mom", "one does not simply", "coffee first", "stop", "exit only",
    "sale 50% off", "not found", "error 404", "surprised face", "money money money",
    "weekend mode on", "task failed successfully", "it works on my machine", "out of office",
    "grand opening", "no parking", "happy birthday", "keep calm and carry on", "press any key",
    "the cake is a lie", "winter is coming", "free wifi inside", "open 24 hours", "push to start",
    "mind the gap", "hello world", "best dad ever", "wait for it", "such wow", "much amaze",
]
OTHER_LATIN = [
    "bonjour tout le monde", "lundi encore", "merci beaucoup", "ouvert tous les jours",
    "hola amigos", "buenos dias", "feliz cumpleanos", "salida", "guten morgen", "kaffee zuerst",
    "ausgang", "danke schon", "ciao bella", "buon appetito", "bom dia",
]
CHINESE = ["你好世界", "星期一又来了", "出口", "欢迎光临", "生日快乐", "咖啡", "禁止停车", "营业中"]
SCENES = [
    ("red circles on a blue background", (40, 60, 200), (220, 40, 40)),
    ("green squares on a yellow background", (230, 220, 60), (40, 160, 60)),
    ("orange shapes on a purple background", (110, 40, 150), (240, 140, 30)),
    ("white shapes on a black background", (15, 15, 15), (235, 235, 235)),
    ("blue shapes on a white background", (245, 245, 245), (40, 80, 210)),
    ("grey shapes on a pink background", (240, 170, 200), (120, 120, 120)),
]


def background(rng, width, height):
    name, bg, fg = rng.choice(SCENES)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    style = rng.choice(["plain", "gradient", "noise", "busy"])
    if style == "gradient":
        other = tuple(min(255, c + rng.randint(30, 90)) for c in bg)
        for y in range(height):
            t = y / max(1, height - 1)
            draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(bg, other)))
    for _ in range(rng.randint(2, 8 if style == "busy" else 4)):
        r = rng.randint(width // 20, width // 6)
        x, y = rng.randint(0, width), rng.randint(0, height)
        shape = draw.ellipse if "circle" in name or rng.random() < 0.5 else draw.rectangle
        shape([x - r, y - r, x + r, y + r], fill=fg)
    if style == "noise":
        noise = np.random.default_rng(rng.randint(0, 2**31)).integers(-25, 26, (height, width, 3))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.int32) + noise, 0, 255).astype(np.uint8))
    return img, name, bg


def fitting_font(rng, path, text, max_width, size):
    while size > 12:
        font = ImageFont.truetype(str(FONTS / path), size)
        left, _, right, _ = font.getbbox(text)
        if right - left <= max_width:
            return font
        size = int(size * 0.85)
    return ImageFont.truetype(str(FONTS / path), 12)


def draw_line(rng, img, text, font, y, meme, colour):
    """Draws one line centred (or at a random x) on its own layer, turned a little."""
    width, height = img.size
    left, top, right, bottom = font.getbbox(text)
    stroke = max(2, font.size // 12) if meme else rng.choice([0, 0, 1])
    layer = Image.new("RGBA", (right - left + 4 * stroke + 8, bottom - top + 4 * stroke + 8), (0, 0, 0, 0))
    ImageDraw.Draw(layer).text(
        (2 * stroke + 4 - left, 2 * stroke + 4 - top), text, font=font,
        fill=(255, 255, 255, 255) if meme else colour + (255,),
        stroke_width=stroke, stroke_fill=(0, 0, 0, 255) if meme else colour + (255,),
    )
    angle = 0 if rng.random() < 0.6 else rng.uniform(-12, 12)
    if angle:
        layer = layer.rotate(angle, resample=Image.BICUBIC, expand=True)
    x = (width - layer.width) // 2 if meme else rng.randint(0, max(0, width - layer.width))
    img.paste(layer, (max(0, x), max(0, min(y, height - layer.height))), layer)


def picture(rng, index):
    width, height = rng.choice([(640, 480), (500, 500), (800, 600), (480, 640), (720, 405), (1024, 768)])
    img, scene, bg = background(rng, width, height)
    lines = []
    if rng.random() >= 0.2:
        meme = rng.random() < 0.5
        for slot in range(rng.randint(1, 3) if not meme else rng.choice([1, 2])):
            pool = rng.choices([ENGLISH, OTHER_LATIN, CHINESE], weights=[6, 2, 1])[0]
            text = rng.choice(pool)
            text = text.upper() if meme and pool is not CHINESE else text
            path = CJK_FONT if pool is CHINESE else rng.choice(LATIN_FONTS)
            size = rng.randint(28, 90) if meme else rng.randint(12, 60)
            font = fitting_font(rng, path, text, int(width * 0.92), size)
            if meme:
                y = 8 if slot == 0 else height - font.size - 3 * max(2, font.size // 12) - 12
            else:
                y = rng.randint(0, max(0, height - font.size - 10))
            lum = sum(bg) / 3
            colour = tuple(rng.randint(0, 60) if lum > 127 else rng.randint(200, 255) for _ in range(3))
            draw_line(rng, img, text, font, y, meme, colour)
            lines.append(text)
    if rng.random() < 0.15:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.4, 1.0)))
    if rng.random() < 0.85:
        name = f"meme_{index:04d}.jpg"
        return img, name, {"quality": rng.randint(35, 95)}, lines, scene
    return img, f"meme_{index:04d}.png", {}, lines, scene


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--count", type=int, default=300)
    ap.add_argument("--seed", type=int, default=11)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    truth, queries = {}, []
    for i in range(args.count):
        img, name, save_args, lines, scene = picture(rng, i)
        img.save(args.out / name, **save_args)
        truth[name] = lines
        if lines:
            queries.append({"file": name, "text_query": rng.choice(lines).lower(), "scene_query": scene})
        else:
            queries.append({"file": name, "scene_query": scene})
    (args.out / "truth.json").write_text(json.dumps(truth, ensure_ascii=False, indent=1))
    (args.out / "queries.json").write_text(json.dumps(queries, ensure_ascii=False, indent=1))
    print(f"{args.count} pictures in {args.out}")


if __name__ == "__main__":
    main()
