#!/usr/bin/env python3
"""Train Trove's demo model: a small CLIP on Trove's own synthetic captioned images.

    scripts/python-env.sh                      # once: .venv with torch + transformers
    .venv/bin/python models/scripts/train_demo.py models/assets/demo-clip

The images come from `trove synth` (the Rust generator in models/src/synth), so the model sees
exactly the pixels Trove's preprocessing produces (Pillow-exact bicubic to 112x112). The result
is a Hugging Face `CLIPModel` folder (config.json, model.safetensors in fp16,
preprocessor_config.json, tokenizer.json = the production CLIP BPE tokenizer) plus
training.json with the settings and the loss curve. Trove's own evaluation of the saved model
is `trove model eval --model <folder>`.

Fixed seed, fixed step count: the same command gives the same weights on the same machine.
The towers run under bfloat16 autocast (weights and optimiser stay fp32), about twice as fast
as fp32 on a CPU with AVX-512 BF16; `--precision fp32` turns it off. About 28 minutes on a
2-core x86 CPU (AMD EPYC, AVX-512 BF16).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tokenizers import Tokenizer
from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel

ROOT = Path(__file__).resolve().parents[2]
TOKENIZER = ROOT / "models" / "assets" / "clip-tokenizer.json"
SIZE = 112  # model input side
RENDER = 256  # generator output side, as in the demo library
CONTEXT = 32  # text positions; the longest caption is about 16 tokens
EOS = 49407
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)


def config() -> CLIPConfig:
    return CLIPConfig(
        text_config=dict(
            vocab_size=49408,
            hidden_size=48,
            intermediate_size=192,
            num_hidden_layers=4,
            num_attention_heads=4,
            max_position_embeddings=CONTEXT,
            hidden_act="quick_gelu",
            bos_token_id=49406,
            eos_token_id=EOS,
            pad_token_id=EOS,
        ),
        vision_config=dict(
            image_size=SIZE,
            patch_size=14,
            hidden_size=128,
            intermediate_size=512,
            num_hidden_layers=4,
            num_attention_heads=4,
            hidden_act="quick_gelu",
        ),
        projection_dim=64,
    )


def trove_binary(explicit: str | None) -> list[str]:
    if explicit:
        return [explicit]
    return ["cargo", "run", "--quiet", "--bin", "trove", "--"]


def generate(trove: list[str], out: Path, split: str, count: int, seed: int) -> None:
    marker = out / "done.json"
    want = {"split": split, "count": count, "seed": seed, "render": RENDER, "pixels": SIZE}
    if marker.exists() and json.loads(marker.read_text()) == want:
        print(f"reusing {out}", flush=True)
        return
    cmd = trove + ["synth", str(out), "--split", split, "--count", str(count),
                   "--seed", str(seed), "--size", str(RENDER), "--pixels", str(SIZE)]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, cwd=ROOT)
    marker.write_text(json.dumps(want))


class Split:
    """Pixels, captions and the caption sets of one generated split."""

    def __init__(self, folder: Path, texts: dict[str, int]):
        raw = np.fromfile(folder / f"pixels-{SIZE}.u8", dtype=np.uint8)
        self.pixels = raw.reshape(-1, SIZE, SIZE, 3)
        self.records = [json.loads(line) for line in (folder / "captions.jsonl").open()]
        assert len(self.records) == len(self.pixels)
        for r in self.records:
            for t in r["captions"]:
                texts.setdefault(t, len(texts))
        # caption ids of every image: [0] is the full caption
        self.caption_ids = [[texts[t] for t in r["captions"]] for r in self.records]

    def images(self, idx: np.ndarray) -> torch.Tensor:
        x = self.pixels[idx].astype(np.float32) / 255.0
        x = (x - MEAN) / STD
        return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def tokenize(texts: list[str]) -> torch.Tensor:
    tok = Tokenizer.from_file(str(TOKENIZER))
    tok.enable_truncation(CONTEXT)
    ids = torch.full((len(texts), CONTEXT), EOS, dtype=torch.long)
    longest = 0
    for i, enc in enumerate(tok.encode_batch(texts)):
        ids[i, : len(enc.ids)] = torch.tensor(enc.ids)
        longest = max(longest, len(enc.ids))
    return ids[:, :longest]


def recall(model: CLIPModel, split: Split, texts: list[str], ids: torch.Tensor, queries: list[str]) -> tuple[float, float]:
    """Text->image hit rate at 1 and 5 over `queries`, relevance from the caption sets."""
    model.eval()
    with torch.no_grad():
        n = len(split.pixels)
        img = torch.cat([model.get_image_features(pixel_values=split.images(np.arange(i, min(i + 500, n)))).pooler_output
                         for i in range(0, n, 500)])
        index = {t: i for i, t in enumerate(texts)}
        q = model.get_text_features(input_ids=ids[[index[t] for t in queries]]).pooler_output
    model.train()
    img = F.normalize(img, dim=-1)
    q = F.normalize(q, dim=-1)
    top = (q @ img.T).topk(5, dim=1).indices
    sets = [set(texts[c] for c in cs) for cs in split.caption_ids]
    hit1 = sum(queries[i] in sets[top[i, 0]] for i in range(len(queries)))
    hit5 = sum(any(queries[i] in sets[j] for j in top[i].tolist()) for i in range(len(queries)))
    return hit1 / len(queries), hit5 / len(queries)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out", type=Path, help="model folder to write")
    ap.add_argument("--work", type=Path, default=ROOT / ".data" / "demo-train", help="generated data (reused)")
    ap.add_argument("--train", type=int, default=60000, help="training images")
    ap.add_argument("--steps", type=int, default=1800)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16",
                    help="autocast precision of the forward pass")
    ap.add_argument("--trove", help="path to a built trove binary (default: cargo run)")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(args.seed)
    started = time.time()

    trove = trove_binary(args.trove)
    generate(trove, args.work / "train", "train", args.train, args.seed)
    generate(trove, args.work / "test", "test", 1000, args.seed)
    texts: dict[str, int] = {}
    train = Split(args.work / "train", texts)
    test = Split(args.work / "test", texts)
    text_list = list(texts)
    ids = tokenize(text_list)
    # Single-attribute queries: "a green triangle", "a sign that says hello", "a meme that says hello".
    single_re = re.compile(r"^(an? \w+ \w+|a (sign|meme) that says \w+)$")
    single = sorted({t for cs in test.caption_ids for t in (text_list[c] for c in cs) if single_re.match(t)})
    compound = sorted({text_list[cs[0]] for cs in test.caption_ids} - set(single))
    print(f"{len(train.pixels)} training images, {len(texts)} distinct captions, "
          f"{len(single)} single and {len(compound)} compound test queries; data ready in "
          f"{time.time() - started:.0f} s", flush=True)

    model = CLIPModel(config())
    params = sum(p.numel() for p in model.parameters())
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "embedding" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    warmup = max(1, args.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * t))

    n = len(train.pixels)
    order = rng.permutation(n)
    cursor = 0
    log = []
    train_start = time.time()
    for step in range(args.steps):
        if cursor + args.batch > n:
            order, cursor = rng.permutation(n), 0
        idx = order[cursor:cursor + args.batch]
        cursor += args.batch
        # Every true description of every image in the batch is a text of the batch (the text
        # tower is cheap next to the vision tower): each image is pulled towards all its
        # descriptions, and each description towards all the images it describes.
        uniq = np.unique(np.concatenate([np.array(train.caption_ids[i]) for i in idx]))
        column = {int(u): j for j, u in enumerate(uniq)}
        target = torch.zeros(len(idx), len(uniq))
        for r, i in enumerate(idx):
            for c in train.caption_ids[i]:
                target[r, column[c]] = 1.0
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            img = model.get_image_features(pixel_values=train.images(idx)).pooler_output
            txt = model.get_text_features(input_ids=ids[uniq]).pooler_output
        img = F.normalize(img.float(), dim=-1)
        txt = F.normalize(txt.float(), dim=-1)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        loss_i = -(F.log_softmax(logits, dim=1) * target / target.sum(1, keepdim=True)).sum(1).mean()
        loss_t = -(F.log_softmax(logits, dim=0) * target / target.sum(0, keepdim=True)).sum(0).mean()
        loss = (loss_i + loss_t) / 2
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            entry = {"step": step, "loss": round(loss.item(), 4), "lr": lr_at(step),
                     "seconds": round(time.time() - train_start, 1)}
            if step % 250 == 0 or step == args.steps - 1:
                entry["single_r1_r5"] = recall(model, test, text_list, ids, single)
                entry["compound_r1_r5"] = recall(model, test, text_list, ids, compound)
            log.append(entry)
            print(json.dumps(entry), flush=True)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out, safe_serialization=True)
    CLIPImageProcessor(size={"shortest_edge": SIZE}, crop_size={"height": SIZE, "width": SIZE}).save_pretrained(out)
    tok = out / "tokenizer.json"
    if tok.is_symlink() or tok.exists():
        tok.unlink()
    try:
        tok.symlink_to(os.path.relpath(TOKENIZER, out))
    except OSError:
        shutil.copyfile(TOKENIZER, tok)
    (out / "training.json").write_text(json.dumps({
        "generator": f"trove synth --split train --count {args.train} --seed {args.seed} --size {RENDER} --pixels {SIZE}",
        "parameters": params, "steps": args.steps, "batch": args.batch, "lr": args.lr, "seed": args.seed,
        "precision": args.precision,
        "threads": args.threads, "torch": torch.__version__, "seconds": round(time.time() - started),
        "log": log,
    }, indent=1) + "\n")
    print(f"saved {out} ({params} parameters) in {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    sys.exit(main())
