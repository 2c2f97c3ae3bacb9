#!/usr/bin/env python3
"""PyTorch + transformers reference for bench/models.sh: the same measurements as
models/benches/towers.rs (images/s at batch N, batch-1 latency, text-query latency) on the same
model folder, same cores."""

import json
import os
import sys
import time

import torch
from transformers import AutoModel, AutoTokenizer

model_dir = sys.argv[1]
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


def embed_texts(texts):
    if siglip:
        ids = tok(texts, padding="max_length", max_length=model.config.text_config.max_position_embeddings, truncation=True, return_tensors="pt")
    else:
        ids = tok(texts, padding=True, truncation=True, return_tensors="pt")
    out = model.get_text_features(input_ids=ids["input_ids"])
    out = getattr(out, "pooler_output", out)
    return torch.nn.functional.normalize(out, dim=-1)


def embed_images(px):
    out = model.get_image_features(pixel_values=px)
    out = getattr(out, "pooler_output", out)
    return torch.nn.functional.normalize(out, dim=-1)


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
print(json.dumps({
    "impl": f"pytorch-{torch.__version__}",
    "device": "cpu (fp32)",
    "model": model_dir,
    "batch": batch,
    "images_per_s": round(ips, 2),
    "batch1_ms": round(single[len(single) // 2], 1),
    "text_p50_ms": round(text[len(text) // 2], 1),
    "text_p90_ms": round(text[round((len(text) - 1) * 0.9)], 1),
    "threads": threads,
}))
