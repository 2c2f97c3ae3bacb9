"""Reference outputs of PaddleOCR's PP-OCRv4 detector and recogniser under ONNX Runtime, for
Trove's parity test (`models/tests/parity/ocr.rs`).

Writes, into OUT: `manifest.json` and one little-endian f32 file per tensor. Each case is a
generated picture with words on it (varied sizes, colours, backgrounds, noise): the detector's
input (RapidOCR's normalisation, BGR, H and W multiples of 32) and its probability map, and a
one-line text crop at the recogniser's height 48, padded as RapidOCR pads a batch, with the
recogniser's softmax output and the string its CTC decoding gives. Deterministic for a seed.

    python models/scripts/ocr_reference.py MODELS_DIR OUT [--cases 50] [--seed 7]

Needs numpy, pillow and onnxruntime (scripts/setup.sh installs them into .venv-ocr).
"""

import argparse
import json
import math
import pathlib
import random

import numpy as np
import onnxruntime as ort
from PIL import Image, ImageDraw, ImageFilter, ImageFont

WORDS = (
    "monday again when the code works first try me explaining to my mom why I need "
    "another keyboard nobody: absolutely nobody: SALE 50% OFF Tokyo 2023 Mt Fuji "
    "coffee first STOP exit 42 hello world error 404 not found café naïve über "
    "this is fine surprised face money bokeh #1 fan 3:15 am v2.0 (beta) OK?"
).split()


def bgr_normalise(rgb):
    """RapidOCR's input: RGB → BGR, (x/255 - 0.5)/0.5, CHW, batch of one."""
    x = np.asarray(rgb, dtype=np.float32)[:, :, ::-1] / 255.0
    x = (x - 0.5) / 0.5
    return np.ascontiguousarray(x.transpose(2, 0, 1)[None])


def phrase(rng):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4)))


def colour(rng):
    return tuple(rng.randint(0, 255) for _ in range(3))


def contrasting(rng, bg):
    light = sum(bg) / 3 > 127
    return tuple(rng.randint(0, 70) if light else rng.randint(185, 255) for _ in range(3))


def scene(rng, width, height):
    """A picture with one to three lines of words on a plain, gradient or noisy background."""
    bg = colour(rng)
    img = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(img)
    style = rng.choice(["plain", "gradient", "noise", "shapes"])
    if style == "gradient":
        other = colour(rng)
        for y in range(height):
            t = y / max(1, height - 1)
            draw.line([(0, y), (width, y)], fill=tuple(int(a + (b - a) * t) for a, b in zip(bg, other)))
    elif style == "noise":
        noise = np.random.default_rng(rng.randint(0, 2**31)).integers(0, 60, (height, width, 3))
        img = Image.fromarray(np.clip(np.asarray(img, dtype=np.int32) + noise - 30, 0, 255).astype(np.uint8))
        draw = ImageDraw.Draw(img)
    elif style == "shapes":
        for _ in range(rng.randint(1, 4)):
            x0, y0 = rng.randint(0, width), rng.randint(0, height)
            draw.ellipse([x0, y0, x0 + rng.randint(10, 80), y0 + rng.randint(10, 80)], fill=colour(rng))
    for _ in range(rng.randint(1, 3)):
        size = rng.randint(12, max(13, min(64, height // 3)))
        font = ImageFont.load_default(size=size)
        text = phrase(rng)
        fg = contrasting(rng, bg)
        x, y = rng.randint(0, max(0, width // 3)), rng.randint(0, max(0, height - size - 4))
        stroke = rng.choice([0, 0, 1, 2])
        draw.text((x, y), text, font=font, fill=fg, stroke_width=stroke, stroke_fill=bg if stroke else None)
    if rng.random() < 0.2:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.2)))
    return img


def text_crop(rng):
    """One line of words, cropped tight, as the detector's boxes give them to the recogniser."""
    font = ImageFont.load_default(size=rng.randint(24, 44))
    text = phrase(rng)
    bg, fg = colour(rng), None
    fg = contrasting(rng, bg)
    left, top, right, bottom = font.getbbox(text)
    pad = rng.randint(1, 6)
    img = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), bg)
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill=fg)
    return img


def rec_input(crop, height=48, min_ratio=320 / 48):
    """RapidOCR's `resize_norm_img` for a batch of one: height 48, width from the aspect ratio
    (at least 320), bilinear, normalised, right-padded with zeros."""
    w, h = crop.size
    ratio = w / h
    img_w = int(height * max(min_ratio, ratio))
    resized_w = min(img_w, int(math.ceil(height * ratio)))
    resized = crop.resize((resized_w, height), Image.BILINEAR)
    x = bgr_normalise(resized)[0]
    out = np.zeros((1, 3, height, img_w), dtype=np.float32)
    out[0, :, :, :resized_w] = x
    return out


def ctc_decode(probs, characters):
    """RapidOCR's CTCLabelDecode: argmax per step, repeats and blanks dropped, mean confidence."""
    labels = ["blank"] + characters + [" "]
    idx, conf = probs.argmax(-1), probs.max(-1)
    keep = np.ones(len(idx), dtype=bool)
    keep[1:] = idx[1:] != idx[:-1]
    keep &= idx != 0
    text = "".join(labels[i] for i in idx[keep])
    score = float(conf[keep].mean()) if keep.any() else 0.0
    return text, score


def save(out, name, array):
    array = np.ascontiguousarray(array, dtype="<f4")
    (out / name).write_bytes(array.tobytes())
    return {"file": name, "shape": list(array.shape)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("models", type=pathlib.Path)
    ap.add_argument("out", type=pathlib.Path)
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    det = ort.InferenceSession(str(args.models / "ch_PP-OCRv4_det_infer.onnx"), opts)
    rec = ort.InferenceSession(str(args.models / "ch_PP-OCRv4_rec_infer.onnx"), opts)
    characters = rec.get_modelmeta().custom_metadata_map["character"].splitlines()
    rng = random.Random(args.seed)
    cases = []
    for i in range(args.cases):
        width, height = rng.choice(range(96, 481, 32)), rng.choice(range(64, 353, 32))
        det_in = bgr_normalise(scene(rng, width, height))
        (det_out,) = det.run(None, {"x": det_in})
        rec_in = rec_input(text_crop(rng))
        (rec_out,) = rec.run(None, {"x": rec_in})
        text, score = ctc_decode(rec_out[0], characters)
        cases.append({
            "det_input": save(args.out, f"det_in_{i}.f32", det_in),
            "det_output": save(args.out, f"det_out_{i}.f32", det_out),
            "rec_input": save(args.out, f"rec_in_{i}.f32", rec_in),
            "rec_output": save(args.out, f"rec_out_{i}.f32", rec_out),
            "text": text,
            "score": score,
        })
    (args.out / "manifest.json").write_text(json.dumps({
        "onnxruntime": ort.__version__,
        "seed": args.seed,
        "cases": cases,
    }, indent=1, ensure_ascii=False))
    print(f"{len(cases)} cases written to {args.out}")


if __name__ == "__main__":
    main()
