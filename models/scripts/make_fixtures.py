#!/usr/bin/env python3
"""Builds the reference fixtures that prove Trove's burn port against PyTorch + transformers.

Run through scripts/python-env.sh's venv:

    .venv/bin/python models/scripts/make_fixtures.py tokenizer   # models/assets/clip-tokenizer.json
    .venv/bin/python models/scripts/make_fixtures.py tiny        # models/tests/fixtures/tiny-{clip,siglip}
    .venv/bin/python models/scripts/make_fixtures.py tokens      # models/tests/fixtures/clip-tokens.json
    .venv/bin/python models/scripts/make_fixtures.py preprocess  # models/tests/fixtures/preprocess/
    .venv/bin/python models/scripts/make_fixtures.py spiece      # models/tests/fixtures/siglip-spiece/
    .venv/bin/python models/scripts/make_fixtures.py spiece-ref DIR [LINES.txt]  # tokens.json for DIR/spiece.model
    .venv/bin/python models/scripts/make_fixtures.py full DIR    # ViT-B/32 and SigLIP B/16, random, in DIR
    .venv/bin/python models/scripts/make_fixtures.py full DIR clip-vit-base-patch16 clip-vit-large-patch14

Everything is deterministic (fixed seeds). Weights are random: these fixtures test the port, not a
model's quality. The committed outputs are what CI's parity tests read; Python is never needed
to build or test Trove.
"""

import gzip
import json
import random
import sys
import zipfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[2]
MODELS = ROOT / "models"
FIXTURES = MODELS / "tests" / "fixtures"
TOKENIZER_JSON = MODELS / "assets" / "clip-tokenizer.json"

CLIP_PREPROCESSOR = {
    "crop_size": {"height": 224, "width": 224},
    "do_center_crop": True,
    "do_convert_rgb": True,
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_processor_type": "CLIPImageProcessor",
    "resample": 3,
    "rescale_factor": 1 / 255,
    "size": {"shortest_edge": 224},
}
SIGLIP_PREPROCESSOR = {
    "do_normalize": True,
    "do_rescale": True,
    "do_resize": True,
    "image_mean": [0.5, 0.5, 0.5],
    "image_std": [0.5, 0.5, 0.5],
    "image_processor_type": "SiglipImageProcessor",
    "resample": 3,
    "rescale_factor": 1 / 255,
    "size": {"height": 224, "width": 224},
}

TEXTS = [
    "a photo of a cat",
    "two red circles on a blue background",
    "Mt Fuji from a plane window!",
    "富士山",
    "surprised face 😮",
    "",
]


# ----------------------------------------------------------------------------- tokenizer

def bpe_vocab_file() -> bytes:
    """CLIP's BPE merges, as shipped inside the open-clip-torch wheel."""
    wheels = sorted((ROOT / ".venv" / "downloads").glob("open_clip_torch-*.whl"))
    if not wheels:
        sys.exit("run scripts/python-env.sh first (it downloads the open-clip-torch wheel)")
    with zipfile.ZipFile(wheels[-1]) as z:
        return z.read("open_clip/bpe_simple_vocab_16e6.txt.gz")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def clip_tokenizer():
    """transformers' CLIPTokenizer built from the real vocabulary, exactly as OpenAI's
    SimpleTokenizer lays it out (49,408 ids)."""
    from transformers import CLIPTokenizer

    lines = gzip.decompress(bpe_vocab_file()).decode("utf-8").split("\n")
    merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab = vocab + [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == 49408
    tok = CLIPTokenizer(vocab={t: i for i, t in enumerate(vocab)}, merges=merges, model_max_length=77)
    return tok


def cmd_tokenizer():
    tok = clip_tokenizer()
    out = Path("/tmp/trove-clip-tokenizer")
    tok.save_pretrained(out)
    TOKENIZER_JSON.parent.mkdir(parents=True, exist_ok=True)
    TOKENIZER_JSON.write_bytes((out / "tokenizer.json").read_bytes())
    print(f"wrote {TOKENIZER_JSON} ({TOKENIZER_JSON.stat().st_size} bytes)")


def load_tokenizer():
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast(
        tokenizer_file=str(TOKENIZER_JSON),
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        model_max_length=77,
    )


def varied_strings(n=1200, seed=7):
    rng = random.Random(seed)
    words = ("the a photo of dog cat money surprised face bokeh mount fuji plane window meme says "
             "monday again hello world red green blue circle square triangle two three sunset beach "
             "night city street portrait macro wedding birthday cake don't it's we're I'm you'll "
             "they'd CAPS MixedCase naïve café résumé Zürich São Paulo").split()
    pieces = ["日本語のテキスト", "東京タワー", "カメラ", "ラーメン", "富士山の写真", "中文字符", "한국어",
              "Привет мир", "مرحبا", "שלום", "Ελληνικά", "😀", "😮", "🐶🐱", "👍🏽", "🇯🇵", "❤️", "💸💰",
              "&amp;", "<b>bold</b>", "#hashtag", "@user", "100%", "$9.99", "3.14159", "1,000,000",
              "e-mail", "co-op", "...", "?!", "—", "«quoted»", "“smart quotes”", "tab\there",
              "new\nline", "  spaced   out  ", "\u00a0nbsp", "x\u200by", "ﬁ ligature", "Ⅻ", "①②"]
    out = ["", " ", "a", "A", "!!!", "   ", "\n"]
    while len(out) < n - 2:
        k = rng.randint(1, 14)
        parts = [rng.choice(words) if rng.random() < 0.7 else rng.choice(pieces) for _ in range(k)]
        sep = rng.choice([" ", " ", " ", "", "  ", "-", ", "])
        s = sep.join(parts)
        if rng.random() < 0.2:
            s = s.upper()
        if rng.random() < 0.1:
            s += rng.choice(["!", "?", ".", "…"])
        out.append(s)
    long_text = " ".join(rng.choice(words) for _ in range(500))
    out.append(long_text)
    out.append(" ".join(rng.choice(pieces) for _ in range(200)))
    return out


def cmd_tokens():
    tok = load_tokenizer()
    strings = varied_strings()
    ids = [tok(s, truncation=True, max_length=77)["input_ids"] for s in strings]
    path = FIXTURES / "clip-tokens.json"
    path.write_text(json.dumps({"strings": strings, "ids": ids}, ensure_ascii=False))
    print(f"wrote {path}: {len(strings)} strings")


# ----------------------------------------------------------------------------- images

def synthetic_photo(width, height, seed):
    """A deterministic 'real-looking' RGB image: gradients, noise, shapes, sharp edges."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([
        128 + 100 * np.sin(x / (17 + seed) + y / 31),
        128 + 90 * np.cos(y / (23 + seed)),
        128 + 80 * np.sin((x + y) / 41),
    ], axis=-1)
    base += rng.normal(0, 12, base.shape)
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(12):
        x0, y0 = rng.integers(0, width), rng.integers(0, height)
        w, h = rng.integers(5, max(6, width // 3)), rng.integers(5, max(6, height // 3))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=color)
        else:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=color)
    draw.text((width // 10, height // 2), "TROVE", fill=(255, 255, 255))
    return img


def processor(kind):
    from transformers import CLIPImageProcessorPil, SiglipImageProcessorPil

    cfg = dict(CLIP_PREPROCESSOR if kind == "clip" else SIGLIP_PREPROCESSOR)
    cfg.pop("image_processor_type")
    cls = CLIPImageProcessorPil if kind == "clip" else SiglipImageProcessorPil
    return cls(**cfg)


def cmd_preprocess():
    out = FIXTURES / "preprocess"
    out.mkdir(parents=True, exist_ok=True)
    cases = []
    for i, (w, h) in enumerate([(640, 480), (300, 1000), (224, 224), (97, 61)]):
        img = synthetic_photo(w, h, seed=i)
        name = f"photo-{w}x{h}.png"
        img.save(out / name)
        for kind in ("clip", "siglip"):
            pv = processor(kind)(images=img, return_tensors="np")["pixel_values"][0]
            mean = np.array((CLIP_PREPROCESSOR if kind == "clip" else SIGLIP_PREPROCESSOR)["image_mean"])
            std = np.array((CLIP_PREPROCESSOR if kind == "clip" else SIGLIP_PREPROCESSOR)["image_std"])
            # Undo the normalisation: the 8-bit image the processor resized to, losslessly as PNG.
            u8 = np.rint((pv * std[:, None, None] + mean[:, None, None]) * 255).clip(0, 255).astype(np.uint8)
            exp = f"expected-{kind}-{w}x{h}.png"
            Image.fromarray(u8.transpose(1, 2, 0), "RGB").save(out / exp)
            cases.append({"input": name, "kind": kind, "expected": exp})
    (out / "cases.json").write_text(json.dumps(cases, indent=1))
    for kind, cfg in (("clip", CLIP_PREPROCESSOR), ("siglip", SIGLIP_PREPROCESSOR)):
        (out / f"{kind}-preprocessor_config.json").write_text(json.dumps(cfg, indent=2))
    print(f"wrote {len(cases)} preprocessing cases to {out}")


# ----------------------------------------------------------------------------- models

def siglip_tiny_tokenizer(path: Path):
    """A small SentencePiece-style (Unigram) tokenizer with SigLIP's special-token layout:
    <pad>=0, </s>=1 (also the padding token), <unk>=2, and </s> appended to every text."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    corpus = varied_strings(600, seed=3) + TEXTS
    trainer = trainers.UnigramTrainer(vocab_size=400, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>")
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    tok.save(str(path))
    return tok


def embeddings(out):
    """transformers 5 returns a ModelOutput from get_*_features; older versions a tensor."""
    t = getattr(out, "pooler_output", out)
    return torch.nn.functional.normalize(t, dim=-1)


def save_model(model, out: Path, dtype):
    out.mkdir(parents=True, exist_ok=True)
    model.to(dtype).save_pretrained(out, safe_serialization=True)
    # Reload in fp32 from what was saved: the reference sees exactly the stored weights.
    return type(model).from_pretrained(out, dtype=torch.float32).eval()


def reference(model, kind, out: Path, image_size, tokenizer_ids):
    proc = processor(kind)
    if kind == "clip":
        proc.size = {"shortest_edge": image_size}
        proc.crop_size = {"height": image_size, "width": image_size}
    else:
        proc.size = {"height": image_size, "width": image_size}
    images = [synthetic_photo(w, h, seed=10 + i) for i, (w, h) in enumerate([(64, 48), (40, 90), (32, 32)])]
    for i, img in enumerate(images):
        img.save(out / f"image-{i}.png")
    pixels = proc(images=images, return_tensors="pt")["pixel_values"]
    ids = tokenizer_ids(TEXTS)
    with torch.inference_mode():
        img_emb = embeddings(model.get_image_features(pixel_values=pixels))
        txt_emb = embeddings(model.get_text_features(input_ids=torch.tensor(ids)))
    ref = {
        "images": [f"image-{i}.png" for i in range(len(images))],
        "pixel_values": pixels.flatten().tolist(),
        "pixel_shape": list(pixels.shape),
        "image_embeds": img_emb.tolist(),
        "texts": TEXTS,
        "input_ids": ids,
        "text_embeds": txt_emb.tolist(),
    }
    (out / "reference.json").write_text(json.dumps(ref, ensure_ascii=False))


def build_clip(out: Path, text, vision, projection_dim, dtype, eos_token_id=49407):
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    cfg = CLIPConfig(text_config=dict(text, eos_token_id=eos_token_id), vision_config=vision, projection_dim=projection_dim)
    model = save_model(CLIPModel(cfg).eval(), out, dtype)
    (out / "preprocessor_config.json").write_text(json.dumps(dict(
        CLIP_PREPROCESSOR, size={"shortest_edge": vision["image_size"]},
        crop_size={"height": vision["image_size"], "width": vision["image_size"]}), indent=2))
    tok = load_tokenizer()
    target = out / "tokenizer.json"
    if target.exists() or target.is_symlink():
        target.unlink()
    if out.is_relative_to(FIXTURES):
        target.symlink_to(Path("../../../assets/clip-tokenizer.json"))
    else:
        target.write_bytes(TOKENIZER_JSON.read_bytes())

    def ids(texts):
        return tok(texts, padding=True, truncation=True, max_length=77)["input_ids"]

    reference(model, "clip", out, vision["image_size"], ids)
    print(f"wrote {out}")


def build_siglip(out: Path, text, vision, dtype, tokenizer=None):
    from transformers import SiglipConfig, SiglipModel

    out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(0)
    tok = tokenizer or siglip_tiny_tokenizer(out / "tokenizer.json")
    cfg = SiglipConfig(text_config=dict(text, vocab_size=max(text.get("vocab_size", 0), tok.get_vocab_size()), pad_token_id=1), vision_config=vision)
    model = save_model(SiglipModel(cfg).eval(), out, dtype)
    (out / "preprocessor_config.json").write_text(json.dumps(dict(
        SIGLIP_PREPROCESSOR, size={"height": vision["image_size"], "width": vision["image_size"]}), indent=2))
    ctx = text["max_position_embeddings"]
    tok.enable_truncation(ctx)
    tok.enable_padding(length=ctx, pad_id=1, pad_token="</s>")

    def ids(texts):
        return [e.ids for e in tok.encode_batch(texts)]

    reference(model, "siglip", out, vision["image_size"], ids)
    print(f"wrote {out}")


TINY_TOWER = dict(hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2)


def cmd_tiny():
    build_clip(FIXTURES / "tiny-clip",
               text=dict(TINY_TOWER, vocab_size=49408, max_position_embeddings=77, projection_dim=8),
               vision=dict(TINY_TOWER, image_size=32, patch_size=8, projection_dim=8),
               projection_dim=8, dtype=torch.float16)
    build_siglip(FIXTURES / "tiny-siglip",
                 text=dict(TINY_TOWER, max_position_embeddings=16),
                 vision=dict(TINY_TOWER, image_size=32, patch_size=8),
                 dtype=torch.bfloat16)


def cmd_full(dest: Path, which=("clip-vit-base-patch32", "siglip-base-patch16-224")):
    """openai/clip-vit-base-patch32 and google/siglip-base-patch16-224 configurations (and, on
    request, clip-vit-base-patch16 and clip-vit-large-patch14), random weights, fp32."""
    clip_text = dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                     vocab_size=49408, max_position_embeddings=77, projection_dim=512, hidden_act="quick_gelu")
    clip_vision = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12,
                       image_size=224, patch_size=32, projection_dim=512, hidden_act="quick_gelu")
    # The released OpenAI configs say eos_token_id = 2 (the legacy argmax pooling path).
    if "clip-vit-base-patch32" in which:
        build_clip(dest / "clip-vit-base-patch32", clip_text, clip_vision, 512, torch.float32, eos_token_id=2)
    if "clip-vit-base-patch16" in which:
        build_clip(dest / "clip-vit-base-patch16", clip_text, dict(clip_vision, patch_size=16), 512,
                   torch.float32, eos_token_id=2)
    if "clip-vit-large-patch14" in which:
        large_text = dict(clip_text, hidden_size=768, intermediate_size=3072, num_attention_heads=12, projection_dim=768)
        large_vision = dict(clip_vision, hidden_size=1024, intermediate_size=4096, num_hidden_layers=24,
                            num_attention_heads=16, patch_size=14, projection_dim=768)
        build_clip(dest / "clip-vit-large-patch14", large_text, large_vision, 768, torch.float32, eos_token_id=2)
    if "siglip-base-patch16-224" in which:
        tower = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12)
        build_siglip(dest / "siglip-base-patch16-224",
                     text=dict(tower, vocab_size=32000, max_position_embeddings=64),
                     vision=dict(tower, image_size=224, patch_size=16), dtype=torch.float32)


# ----------------------------------------------------------------------------- SigLIP v1 tokenizer

SPIECE_EDGE_CASES = [
    "", " ", "!!!", " A  Photo\tof a CAT! ", "it's", "don\u2019t", "日本。", "😀", "É", "ΟΔΟΣ",
    "a\u2581b", "\u2581x", "a\x1cb", "a\u200bb", "\xa0a\u3000b\xa0", "<pad>", "</s>", "text </s>",
    "hello </s> world", "</s> world", "<unk>", "x<unk>y", "a </s> b <unk> c", "\uff1c\uff0f\uff53\uff1e",
    "word " * 100, "http://www.apache.org", "www.example.com", "eee", "0000", "e\u0301cole", "İstanbul",
    "ｶﾞ", "ﬂ\u0301", "\u0301x", "Ⅻ ①②", "tab\tand\nnewline", "MiXeD CaSe Zürich", "💸💰 money",
]


def spiece_corpus(seed=11):
    """Text to train the test SentencePiece model on: varied strings plus plain sentences."""
    rng = random.Random(seed)
    words = ("the a an of on in at with from photo picture image dog cat money surprised face bokeh "
             "mount fuji plane window meme says monday again hello world red green blue circle square "
             "triangle two three sunset beach night city street portrait macro wedding birthday cake "
             "snowy mountains ramen tokyo crowded sea baby laughing car sports old new small large "
             "running jumping sleeping sofa garden flower tree river lake forest rain snow sun moon "
             "www example com http org 2024 1999 10 100 eee ooo").split()
    lines = varied_strings(3000, seed=seed)
    for _ in range(20000):
        lines.append(" ".join(rng.choice(words) for _ in range(rng.randint(2, 12))))
    lines += ["Ça va très bien, naïve café à Zürich.", "Ελληνικά: ΟΔΟΣ, οδός.", "日本語のテキストと東京タワー。",
              "Привет мир!", "“Smart quotes” and ‘single’ ones — and dashes…", "ｆｕｌｌｗｉｄｔｈ ｔｅｘｔ １２３"] * 40
    return lines


def cmd_spiece():
    """A small SentencePiece unigram model laid out like SigLIP's (<pad>=0, </s>=1, <unk>=2, no
    <s>, NFKC character map) and transformers' SiglipTokenizer ids for 1,200+ strings."""
    import sentencepiece as spm

    out = FIXTURES / "siglip-spiece"
    out.mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.txt"
    corpus.write_text("\n".join(l.replace("\n", " ") for l in spiece_corpus()), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(out / "spiece"), model_type="unigram", vocab_size=1000, hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.9995,
        normalization_rule_name="nmt_nfkc", byte_fallback=False, num_threads=1, seed_sentencepiece_size=100000,
        minloglevel=2)
    corpus.unlink()
    (out / "spiece.vocab").unlink()
    strings = spiece_reference(out, [])
    print(f"wrote {out}: spiece.model ({(out / 'spiece.model').stat().st_size} bytes), {len(strings)} strings")


def spiece_reference(folder: Path, extra: list, padded: int = 50):
    from transformers import SiglipTokenizer

    tok = SiglipTokenizer(vocab_file=str(folder / "spiece.model"))
    strings = SPIECE_EDGE_CASES + varied_strings(1200, seed=13) + extra
    ids = [tok(s, truncation=True, max_length=64)["input_ids"] for s in strings]
    pad = [tok(s, padding="max_length", truncation=True, max_length=64)["input_ids"] for s in strings[:padded]]
    (folder / "tokens.json").write_text(json.dumps({"strings": strings, "ids": ids, "padded": pad}, ensure_ascii=False))
    return strings


def cmd_spiece_ref(folder: Path, lines_file):
    """tokens.json for any spiece.model (e.g. a real SigLIP repository's), optionally with the
    lines of a text file added, for the ignored test that checks more models."""
    extra = []
    if lines_file:
        extra = sorted(set(Path(lines_file).read_text(encoding="utf-8").split("\n")))
        random.Random(5).shuffle(extra)
        extra = extra[:20000]
    strings = spiece_reference(folder, extra)
    print(f"wrote {folder / 'tokens.json'}: {len(strings)} strings")


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "tokenizer":
        cmd_tokenizer()
    elif cmd == "tokens":
        cmd_tokens()
    elif cmd == "preprocess":
        cmd_preprocess()
    elif cmd == "spiece":
        cmd_spiece()
    elif cmd == "spiece-ref" and len(sys.argv) in (3, 4):
        cmd_spiece_ref(Path(sys.argv[2]), sys.argv[3] if len(sys.argv) == 4 else None)
    elif cmd == "tiny":
        cmd_tiny()
    elif cmd == "full" and len(sys.argv) == 3:
        cmd_full(Path(sys.argv[2]))
    elif cmd == "full" and len(sys.argv) > 3:
        cmd_full(Path(sys.argv[2]), which=sys.argv[3:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
