#!/usr/bin/env python3
"""The tuned Python indexing pipeline, the strongest peer a Python user would write: JPEGs decoded
in PIL's draft mode (the decoder scales by 1/2, 1/4 or 1/8 in the DCT, never below the model's
input size) by a thread pool, transformers' CLIP image processor in the same workers, and the
ONNX Runtime image tower (the export bench/models.py writes and checks against PyTorch) on
batches of 32 while the pool decodes the next batch. Prints one JSON line: images, seconds,
images_per_s.

    .venv/bin/python bench/index_tuned.py MODEL_DIR ONNX_FILE PHOTO_DIR [--threads N]
"""
import argparse
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import onnxruntime as ort
from PIL import Image
from transformers import CLIPImageProcessor


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("model", type=Path)
    ap.add_argument("onnx", type=Path)
    ap.add_argument("photos", type=Path)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    processor = CLIPImageProcessor.from_pretrained(args.model)
    size = processor.crop_size["height"]
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    tower = ort.InferenceSession(str(args.onnx), options, providers=["CPUExecutionProvider"])
    files = sorted(p for p in args.photos.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png"})

    def prepare(path: Path) -> np.ndarray:
        with Image.open(path) as im:
            im.draft("RGB", (size, size))
            rgb = im.convert("RGB")
        return processor(images=rgb, return_tensors="np")["pixel_values"][0]

    start = time.perf_counter()
    done = 0
    with ThreadPoolExecutor(args.threads) as pool:
        batches = [files[i:i + args.batch] for i in range(0, len(files), args.batch)]
        pending = [pool.submit(prepare, p) for p in batches[0]] if batches else []
        for b in range(len(batches)):
            ready = np.stack([f.result() for f in pending])
            # The next batch decodes while the tower runs (ONNX Runtime releases the GIL).
            pending = [pool.submit(prepare, p) for p in batches[b + 1]] if b + 1 < len(batches) else []
            embeds = tower.run(None, {"pixel_values": ready})[0]
            done += embeds.shape[0]
    seconds = time.perf_counter() - start
    print(json.dumps({"pipeline": "python-tuned (PIL draft, thread pool, ONNX Runtime)", "images": done,
                      "seconds": round(seconds, 2), "images_per_s": round(done / seconds, 2)}))


if __name__ == "__main__":
    main()
