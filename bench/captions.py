#!/usr/bin/env python3
"""transformers' Florence-2 captioning speed, the reference beside Trove's (bench/captions.sh).

    python bench/captions.py MODEL_DIR PICTURES_DIR [--beams N] [--new-tokens N]

Same work as models/benches/captions.rs: every .png/.jpg in PICTURES_DIR through the image
processor, the vision tower and projector, the encoder and `generate()` (the checkpoint's
generation settings, the <CAPTION> prompt's ids), fp32 on the CPU with as many threads as cores.
Prints one JSON object like the Rust bench's, ids included.
"""
import argparse
import json
import os
import time
from pathlib import Path

import torch
from PIL import Image
from transformers import CLIPImageProcessor, Florence2ForConditionalGeneration

# <CAPTION>'s prompt, "What does the image describe?", as Florence-2's processor writes it.
PROMPT = [0, 2264, 473, 5, 2274, 6190, 116, 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("pictures")
    ap.add_argument("--beams", type=int)
    ap.add_argument("--new-tokens", type=int, default=20)
    a = ap.parse_args()
    threads = os.cpu_count()
    torch.set_num_threads(threads)
    model = Florence2ForConditionalGeneration.from_pretrained(a.model, dtype=torch.float32).eval()
    proc = CLIPImageProcessor.from_pretrained(a.model)
    files = sorted(p for p in Path(a.pictures).iterdir() if p.suffix in (".png", ".jpg"))
    images = [Image.open(f).convert("RGB") for f in files]
    n_img = json.loads((Path(a.model) / "preprocessor_config.json").read_text()).get("image_seq_length", 577)
    ids = torch.tensor([[model.config.image_token_id] * n_img + PROMPT])
    extra = {"max_new_tokens": a.new_tokens}
    if a.beams:
        extra["num_beams"] = a.beams

    def caption(img):
        pixels = proc(images=[img], return_tensors="pt")["pixel_values"]
        t0 = time.perf_counter()
        feats = model.get_image_features(pixels)
        feats = getattr(feats, "pooler_output", feats)
        t1 = time.perf_counter()
        embeds = model.get_input_embeddings()(ids)
        embeds = embeds.masked_scatter((ids == model.config.image_token_id).unsqueeze(-1), feats)
        enc = model.get_encoder()(inputs_embeds=embeds, attention_mask=torch.ones_like(ids))
        t2 = time.perf_counter()
        out = model.generate(encoder_outputs=enc, attention_mask=torch.ones_like(ids), **extra)
        t3 = time.perf_counter()
        return out[0].tolist(), (t1 - t0, t2 - t1, t3 - t2)

    with torch.inference_mode():
        caption(images[0])  # warm-up
        start = time.perf_counter()
        parts = [0.0, 0.0, 0.0]
        out_ids = []
        for img in images:
            got, times = caption(img)
            out_ids.append(got)
            parts = [p + t for p, t in zip(parts, times)]
        total = time.perf_counter() - start
    n = len(images)
    print(json.dumps({
        "impl": f"transformers {__import__('transformers').__version__} / torch {torch.__version__}",
        "model": a.model, "images": n, "beams": a.beams or model.generation_config.num_beams,
        "max_new_tokens": a.new_tokens, "threads": threads, "captions_per_s": n / total,
        "vision_s": parts[0] / n, "encode_s": parts[1] / n, "generate_s": parts[2] / n, "ids": out_ids,
    }))


if __name__ == "__main__":
    main()
