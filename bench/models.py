#!/usr/bin/env python3
"""The peers of models/benches/towers.rs for bench/models.sh: the same measurements (images/s at
batch N, batch-1 latency, text-query latency) on the same model folder and cores, run by

  models.py torch MODEL_DIR   PyTorch + transformers (the reference implementation)
  models.py onnx MODEL_DIR    ONNX Runtime on the same checkpoint exported to ONNX, as Immich's
                              machine-learning service and clip-as-service run CLIP
                              (TROVE_ONNX_EXPORT_ONLY=1: export and check, print the path, stop)

The ONNX export (the vision and text towers with their projections and L2 normalisation, batch
and sequence dynamic) is written once to .data/onnx/<model>/ and checked against PyTorch on the
benchmark's own inputs before anything is timed; the largest difference goes into the result."""

import json
import os
import sys
import time
from pathlib import Path

import torch
from transformers import AutoModel, AutoTokenizer

engine, model_dir = sys.argv[1], sys.argv[2]
batch = int(os.environ.get("TROVE_BENCH_BATCH", "32"))
threads = os.cpu_count()
torch.set_num_threads(threads)
model = AutoModel.from_pretrained(model_dir, dtype=torch.float32).eval()
tok = AutoTokenizer.from_pretrained(model_dir)
cfg = model.config.vision_config
size = cfg.image_size
siglip = model.config.model_type == "siglip"


def images(n, seed=0):
    idx = torch.arange(3 * size * size)
    return torch.stack([(((idx * 31 + (seed + i) * 17) % 255).float() / 127.5 - 1.0).reshape(3, size, size) for i in range(n)])


def token_ids(texts):
    if siglip:
        ids = tok(texts, padding="max_length", max_length=model.config.text_config.max_position_embeddings, truncation=True, return_tensors="pt")
    else:
        ids = tok(texts, padding=True, truncation=True, return_tensors="pt")
    return ids["input_ids"]


def pooled(out):
    return getattr(out, "pooler_output", out)


class ImageTower(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, pixel_values):
        return torch.nn.functional.normalize(pooled(self.m.get_image_features(pixel_values=pixel_values)), dim=-1)


class TextTower(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, input_ids):
        return torch.nn.functional.normalize(pooled(self.m.get_text_features(input_ids=input_ids)), dim=-1)


image_tower, text_tower = ImageTower(model), TextTower(model)
parity = None

if engine == "torch":
    impl = f"pytorch-{torch.__version__}"

    def embed_images(px):
        return image_tower(px)

    def embed_texts(texts):
        return text_tower(token_ids(texts))

elif engine == "onnx":
    import numpy as np
    import onnxruntime as ort

    impl = f"onnxruntime-{ort.__version__}"
    out = Path(__file__).resolve().parent.parent / ".data" / "onnx" / Path(model_dir).name
    out.mkdir(parents=True, exist_ok=True)
    stamp = str(os.path.getmtime(Path(model_dir) / "model.safetensors"))
    if not (out / "stamp").is_file() or (out / "stamp").read_text() != stamp:
        with torch.inference_mode():
            torch.onnx.export(image_tower, (images(2),), out / "vision.onnx", input_names=["pixel_values"],
                              output_names=["embeds"], dynamic_axes={"pixel_values": {0: "batch"}},
                              dynamo=False, opset_version=17)
            torch.onnx.export(text_tower, (token_ids(["a photo of a cat", "two dogs"]),), out / "text.onnx",
                              input_names=["input_ids"], output_names=["embeds"],
                              dynamic_axes={"input_ids": {0: "batch", 1: "seq"}}, dynamo=False, opset_version=17)
        (out / "stamp").write_text(stamp)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    vision = ort.InferenceSession(str(out / "vision.onnx"), options, providers=["CPUExecutionProvider"])
    text_session = ort.InferenceSession(str(out / "text.onnx"), options, providers=["CPUExecutionProvider"])

    def embed_images(px):
        return vision.run(None, {"pixel_values": px.numpy()})[0]

    def embed_texts(texts):
        return text_session.run(None, {"input_ids": token_ids(texts).numpy()})[0]

    # The export must compute what PyTorch computes before its speed means anything.
    with torch.inference_mode():
        px = images(batch)
        texts = ["money", "Mt Fuji from a plane window", "a cat sleeping on a laptop keyboard"]
        parity = max(float(np.abs(embed_images(px) - image_tower(px).numpy()).max()),
                     float(np.abs(embed_texts(texts) - text_tower(token_ids(texts)).numpy()).max()))
    if parity > 1e-4:
        sys.exit(f"the ONNX export differs from PyTorch by {parity}")
    if os.environ.get("TROVE_ONNX_EXPORT_ONLY"):
        # bench/index.sh wants the checked export, not the timings.
        print(json.dumps({"vision": str(out / "vision.onnx"), "max_abs_diff_vs_pytorch": parity}))
        sys.exit(0)
else:
    sys.exit(f"unknown engine {engine}: torch or onnx")

with torch.inference_mode():
    px = images(batch)
    embed_images(px[:2])
    embed_images(px)
    rounds = 3
    t = time.perf_counter()
    for _ in range(rounds):
        embed_images(px)
    ips = rounds * batch / (time.perf_counter() - t)
    single = []
    for i in range(10):
        one = images(1, seed=100 + i)
        t = time.perf_counter()
        embed_images(one)
        single.append((time.perf_counter() - t) * 1e3)
    queries = ["money", "surprised face", "bokeh", "Mt Fuji from a plane window", "a dog on a beach",
               "two red circles on a blue background", "a meme that says monday again", "sunset",
               "birthday cake with candles", "a cat sleeping on a laptop keyboard"]
    embed_texts(["warm up"])
    text = []
    for i in range(30):
        q = f"{queries[i % len(queries)]} {i}"
        t = time.perf_counter()
        embed_texts([q])
        text.append((time.perf_counter() - t) * 1e3)

single.sort()
text.sort()
result = {
    "impl": impl,
    "device": "cpu (fp32)",
    "model": model_dir,
    "batch": batch,
    "images_per_s": round(ips, 2),
    "batch1_ms": round(single[len(single) // 2], 1),
    "text_p50_ms": round(text[len(text) // 2], 1),
    "text_p90_ms": round(text[round((len(text) - 1) * 0.9)], 1),
    "threads": threads,
}
if parity is not None:
    result["max_abs_diff_vs_pytorch"] = parity
print(json.dumps(result))
