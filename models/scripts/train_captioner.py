#!/usr/bin/env python3
"""Train Trove's demo captioner: a tiny Florence-2 on Trove's own synthetic captioned images.

    scripts/python-env.sh                      # once: .venv with torch + transformers
    .venv/bin/python models/scripts/train_captioner.py models/assets/demo-captioner

The same architecture as Florence-2-base (DaViT vision tower, projector, BART encoder-decoder;
`Florence2ForConditionalGeneration` in transformers), shrunk to a few million parameters, so
the code that runs Florence-2 runs this too. Images come from `trove synth` (the Rust generator
in models/src/synth) at 128x128, exactly the pixels Trove's preprocessing gives the model; the
target is each picture's full caption ("two small red circles on a blue background", "a meme
that says monday again"), after the <CAPTION> task's prompt. The tokenizer is a byte-level BPE
trained here on the training captions, with BART's special tokens at BART's ids.

The result is a Hugging Face folder (config.json, model.safetensors in fp16,
generation_config.json, preprocessor_config.json, tokenizer.json) plus training.json with the
settings, the loss curve and the held-out scores: exact-caption accuracy, per-attribute
accuracy (shape, colour, count, background words) and corpus BLEU-4, with transformers'
generate() on the held-out split.

Fixed seed, fixed step count: the same command gives the same weights on the same machine.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import subprocess
import time
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import BartConfig, Florence2Config, Florence2ForConditionalGeneration, Florence2VisionConfig
from transformers import GenerationConfig

ROOT = Path(__file__).resolve().parents[2]
SIZE = 128  # model input side: 4x4 final map, 17 image tokens
RENDER = 256  # generator output side, as in the demo library
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)  # Florence-2's (ImageNet's)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
PROMPT = "What does the image describe?"  # the <CAPTION> task's question
MAX_TARGET = 40  # caption tokens (the longest is about 25)
SPECIALS = ["<s>", "<pad>", "</s>", "<unk>"]  # BART's ids 0..3
BOS, PAD, EOS = 0, 1, 2
IMAGE_TOKEN_SLOT = "<image>"


def config(vocab: int) -> Florence2Config:
    vision = Florence2VisionConfig(
        depths=[1, 1, 2, 1], patch_size=[7, 3, 3, 3], patch_stride=[4, 2, 2, 2],
        patch_padding=[3, 1, 1, 1], patch_prenorm=[False, True, True, True],
        embed_dim=[32, 64, 128, 128], num_heads=[1, 2, 4, 4], num_groups=[1, 2, 4, 4],
        window_size=4, drop_path_rate=0.0, mlp_ratio=4.0, qkv_bias=True,
        activation_function="gelu", projection_dim=128, max_temporal_embeddings=4,
        max_position_embeddings=8)
    text = BartConfig(
        vocab_size=vocab, d_model=128, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=4, decoder_attention_heads=4, encoder_ffn_dim=512,
        decoder_ffn_dim=512, max_position_embeddings=64, activation_function="gelu",
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=False,
        pad_token_id=PAD, bos_token_id=BOS, eos_token_id=EOS, decoder_start_token_id=EOS,
        forced_bos_token_id=BOS, forced_eos_token_id=EOS)
    return Florence2Config(vision_config=vision, text_config=text, image_token_id=vocab - 1)


def trove_binary(explicit: str | None) -> list[str]:
    return [explicit] if explicit else ["cargo", "run", "--quiet", "--bin", "trove", "--"]


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


def load(folder: Path) -> tuple[np.ndarray, list[str], np.ndarray]:
    raw = np.fromfile(folder / f"pixels-{SIZE}.u8", dtype=np.uint8).reshape(-1, SIZE, SIZE, 3)
    rows = [json.loads(line) for line in (folder / "captions.jsonl").open()]
    captions = [r["captions"][0] for r in rows]
    assert len(captions) == len(raw)
    return raw, captions, np.array([scene_targets(r["scene"]) for r in rows], dtype=np.int64)


COLOURS = ["red", "orange", "yellow", "green", "blue", "purple", "black", "white"]
SHAPES = ["circle", "square", "triangle", "star", "cross", "heart"]
BACKGROUNDS = COLOURS + ["striped", "checkered", "dotted"]
# What the vision side is also asked to say about a picture (the auxiliary heads): its kind,
# each group's colour, shape and count, whether there is a second group, the background.
HEADS = [("kind", 3), ("colour", 8), ("shape", 6), ("count", 4), ("groups", 2), ("colour2", 8),
         ("shape2", 6), ("background", 11)]


def scene_targets(scene: dict) -> list[int]:
    """The auxiliary heads' classes for one scene (-100: does not apply)."""
    none = -100
    kind = {"shapes": 0, "sign": 1, "meme": 2}[scene["kind"]]
    bg = scene.get("background")
    background = none
    if bg is not None:
        background = COLOURS.index(bg["colour"]) if bg["kind"] == "plain" else BACKGROUNDS.index(bg["kind"])
    if kind != 0:
        return [kind, none, none, none, none, none, none, background]
    g = scene["groups"]
    second = g[1] if len(g) > 1 else None
    return [kind, COLOURS.index(g[0]["colour"]), SHAPES.index(g[0]["shape"]), g[0]["count"] - 1,
            len(g) - 1, COLOURS.index(second["colour"]) if second else none,
            SHAPES.index(second["shape"]) if second else none, background]


def pixels(raw: np.ndarray) -> torch.Tensor:
    x = (raw.astype(np.float32) / 255.0 - MEAN) / STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def train_tokenizer(captions: list[str], vocab: int) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab, special_tokens=SPECIALS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(captions + [PROMPT] * 50, trainer)
    tok.add_special_tokens([IMAGE_TOKEN_SLOT])
    assert [tok.token_to_id(s) for s in SPECIALS] == [0, 1, 2, 3]
    return tok


def bleu4(refs: list[str], hyps: list[str]) -> float:
    """Corpus BLEU-4 (one reference each, uniform weights, brevity penalty), on words."""
    match = [0] * 4
    total = [0] * 4
    ref_len = hyp_len = 0
    for r, h in zip(refs, hyps):
        r, h = r.split(), h.split()
        ref_len += len(r)
        hyp_len += len(h)
        for n in range(1, 5):
            rc = collections.Counter(tuple(r[i:i + n]) for i in range(len(r) - n + 1))
            hc = collections.Counter(tuple(h[i:i + n]) for i in range(len(h) - n + 1))
            match[n - 1] += sum(min(c, rc[g]) for g, c in hc.items())
            total[n - 1] += max(0, len(h) - n + 1)
    if min(match) == 0:
        return 0.0
    log = sum(math.log(m / t) for m, t in zip(match, total)) / 4
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / max(hyp_len, 1))
    return bp * math.exp(log)


ATTRIBUTES = {
    "colour": ["red", "orange", "yellow", "green", "blue", "purple", "black", "white"],
    "shape": ["circle", "square", "triangle", "star", "cross", "heart"],
    "kind": ["sign", "meme"],
    "count": ["two", "three", "four"],
    "background": ["striped", "checkered", "dotted"],
}
PLURALS = {"circles": "circle", "squares": "square", "triangles": "triangle", "stars": "star",
           "crosses": "cross", "hearts": "heart", "signs": "sign", "memes": "meme"}


def attribute_accuracy(refs: list[str], hyps: list[str]) -> dict[str, float]:
    """For each kind of word, the share of the reference's words of that kind that the caption
    has too (singular and plural alike)."""
    norm = lambda text: {PLURALS.get(w, w) for w in text.split()}
    out = {}
    for kind, words in ATTRIBUTES.items():
        hit = seen = 0
        for r, h in zip(refs, hyps):
            rw, hw = norm(r), norm(h)
            for w in words:
                if w in rw:
                    seen += 1
                    hit += w in hw
        out[kind] = round(hit / max(seen, 1), 4)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out", type=Path)
    ap.add_argument("--data", type=Path, default=ROOT / "target" / "captioner-data")
    ap.add_argument("--trove", help="path to a built trove binary (default: cargo run)")
    ap.add_argument("--train", type=int, default=16000)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--batch", type=int, default=48)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--vocab", type=int, default=512)
    ap.add_argument("--precision", choices=["bf16", "fp32"], default="bf16")
    ap.add_argument("--aux", type=float, default=1.0,
                    help="weight of the auxiliary loss that makes the vision side name what it sees")
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    torch.set_num_threads(max(1, torch.get_num_threads()))

    trove = trove_binary(args.trove)
    generate(trove, args.data / "train", "train", args.train, args.seed)
    generate(trove, args.data / "test", "test", args.test, args.seed)
    train_raw, train_caps, train_aux = load(args.data / "train")
    test_raw, test_caps, _ = load(args.data / "test")

    tok = train_tokenizer(train_caps, args.vocab)
    vocab = tok.get_vocab_size()
    vocab_padded = (vocab + 7) // 8 * 8
    cfg = config(vocab_padded)
    cfg.image_token_id = tok.token_to_id(IMAGE_TOKEN_SLOT)
    model = Florence2ForConditionalGeneration(cfg)
    params = sum(p.numel() for p in model.parameters())
    print(f"{params / 1e6:.2f}M parameters, vocabulary {vocab} (padded to {vocab_padded})", flush=True)

    prompt_ids = [BOS] + tok.encode(PROMPT).ids + [EOS]
    n_img = (SIZE // 32) ** 2 + 1
    input_ids = torch.tensor([cfg.image_token_id] * n_img + prompt_ids)
    targets = []
    for c in train_caps:
        ids = [BOS] + tok.encode(c).ids[:MAX_TARGET] + [EOS]
        targets.append(ids)
    width = max(map(len, targets))
    labels_all = torch.full((len(targets), width), -100, dtype=torch.long)
    for i, t in enumerate(targets):
        labels_all[i, :len(t)] = torch.tensor(t)

    # The auxiliary heads read the projector's image tokens (mean-pooled): training only, not
    # saved. Without them the decoder learns the captions' language long before the vision
    # side learns to see, and settles there.
    dim = cfg.text_config.d_model
    heads = torch.nn.ModuleList(torch.nn.Linear(dim, n) for _, n in HEADS)
    seen: dict[str, torch.Tensor] = {}
    model.model.multi_modal_projector.register_forward_hook(
        lambda _m, _i, out: seen.__setitem__("image", out))
    named = list(model.named_parameters()) + [(f"aux.{n}", p) for n, p in heads.named_parameters()]
    decay = [p for n, p in named if p.dim() >= 2 and "embed" not in n]
    no_decay = [p for n, p in named if not (p.dim() >= 2 and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.98))
    warmup = max(1, args.steps // 20)

    def lr_at(step: int) -> float:
        if step < warmup:
            return args.lr * (step + 1) / warmup
        t = (step - warmup) / max(1, args.steps - warmup)
        return args.lr * 0.5 * (1 + math.cos(math.pi * t))

    rng = np.random.default_rng(args.seed)
    curve = []
    start = time.time()
    model.train()
    for step in range(args.steps):
        idx = rng.choice(len(train_caps), size=args.batch, replace=False)
        x = pixels(train_raw[idx])
        labels = labels_all[idx]
        keep = int((labels != -100).sum(1).max())
        labels = labels[:, :keep]
        ids = input_ids.unsqueeze(0).expand(args.batch, -1)
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.precision == "bf16"):
            loss = model(input_ids=ids, pixel_values=x, labels=labels).loss
            pooled = seen.pop("image").float().mean(1)
            targets = torch.from_numpy(train_aux[idx])
            aux = sum(torch.nn.functional.cross_entropy(h(pooled), targets[:, k], ignore_index=-100)
                      for k, h in enumerate(heads) if (targets[:, k] != -100).any())
        opt.zero_grad(set_to_none=True)
        (loss + args.aux * aux).backward()
        torch.nn.utils.clip_grad_norm_([p for _, p in named], 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            entry = {"step": step, "loss": round(loss.item(), 4), "aux": round(float(aux), 4),
                     "lr": lr_at(step), "seconds": round(time.time() - start, 1)}
            curve.append(entry)
            print(json.dumps(entry), flush=True)

    model.eval()
    generation = GenerationConfig(
        bos_token_id=BOS, decoder_start_token_id=EOS, early_stopping=True, eos_token_id=EOS,
        forced_bos_token_id=BOS, forced_eos_token_id=EOS, no_repeat_ngram_size=3, num_beams=3,
        pad_token_id=PAD)
    hyps = []
    with torch.inference_mode():
        for i in range(0, len(test_caps), 50):
            x = pixels(test_raw[i:i + 50])
            ids = input_ids.unsqueeze(0).expand(len(x), -1)
            out = model.generate(input_ids=ids, pixel_values=x, generation_config=generation,
                                 max_new_tokens=MAX_TARGET)
            hyps += [tok.decode(o.tolist(), skip_special_tokens=True).strip() for o in out]
    exact = sum(h == r for h, r in zip(hyps, test_caps)) / len(test_caps)
    scores = {"exact": round(exact, 4), "bleu4": round(bleu4(test_caps, hyps), 4),
              "attributes": attribute_accuracy(test_caps, hyps)}
    print(json.dumps(scores), flush=True)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    model.to(torch.float16).save_pretrained(out, safe_serialization=True)
    generation.save_pretrained(out)
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "CLIPImageProcessor", "do_resize": True,
        "size": {"height": SIZE, "width": SIZE}, "resample": 3, "do_center_crop": False,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": MEAN.tolist(), "image_std": STD.tolist(), "image_seq_length": n_img}, indent=2))
    tok.save(str(out / "tokenizer.json"))
    (out / "training.json").write_text(json.dumps({
        "what": "Trove's demo captioner: Florence-2's architecture, tiny, trained on `trove synth` pictures",
        "parameters": params, "steps": args.steps, "batch": args.batch, "lr": args.lr,
        "seed": args.seed, "precision": args.precision, "aux": args.aux, "train_images": args.train,
        "test_images": args.test, "vocabulary": vocab,
        "generator": f"trove synth --split train --count {args.train} --seed {args.seed} --size {RENDER} --pixels {SIZE}",
        "held_out": scores, "examples": [{"truth": r, "caption": h} for r, h in list(zip(test_caps, hyps))[:12]],
        "curve": curve, "seconds": round(time.time() - start, 1),
    }, indent=1))
    print(f"saved {out}", flush=True)


if __name__ == "__main__":
    main()
