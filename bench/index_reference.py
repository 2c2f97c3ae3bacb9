#!/usr/bin/env python3
"""The reference indexing pipeline, as the Python prototypes do it: PIL full decode, the
transformers CLIP image processor (bicubic resize, centre crop, normalise), PyTorch CLIP in
batches of 32. Prints one JSON line: images, seconds, images_per_s.

    .venv/bin/python bench/index_reference.py MODEL_DIR PHOTO_DIR [--threads N]
"""
import argparse
import json
import os
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import CLIPImageProcessor, CLIPModel


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    processor = CLIPImageProcessor.from_pretrained(args.model)
    model = CLIPModel.from_pretrained(args.model).float().eval()
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    start = time.perf_counter()
    done = 0
    with torch.inference_mode():
        for i in range(0, len(files), args.batch):
            images = [Image.open(p).convert("RGB") for p in files[i:i + args.batch]]
            inputs = processor(images=images, return_tensors="pt")
            features = model.get_image_features(pixel_values=inputs["pixel_values"]).pooler_output
            done += features.shape[0]
    seconds = time.perf_counter() - start
    print(json.dumps({"pipeline": "python-reference", "images": done, "seconds": round(seconds, 2),
                      "images_per_s": round(done / seconds, 2)}))


if __name__ == "__main__":
    main()
