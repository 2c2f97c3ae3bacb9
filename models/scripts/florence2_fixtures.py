#!/usr/bin/env python3
"""Random-weight Florence-2 checkpoints in Hugging Face format and what transformers computes
with them: the fixtures of the burn port's parity tests (models/tests/parity/florence2.rs).

    python models/scripts/florence2_fixtures.py tiny models/tests/fixtures/tiny-florence2
    python models/scripts/florence2_fixtures.py base .data/full/florence2-base

`base` is Florence-2-base's configuration (0.23B parameters, 768x768 inputs, 577 image
tokens, the 51,328-row vocabulary), about 930 MB, made where a test or benchmark needs it and
never committed; its reference has the tensors of one image and the ids of four.

`tiny` is small enough to commit: a 64x64 image gives 16/8/4/2-wide feature maps, none a
multiple of the window (3), so the window padding runs; the vocabulary has 100 tokens. The
reference holds, for every image: transformers' pixel values, the vision tower's last hidden
state, the projected image features, the encoder's last hidden state for the prompt, the
decoder's logits for a fixed decoder input, and the token ids `generate()` returns greedily
and with beam search (3 beams, no repeated trigrams, early stopping, as the published
`generation_config.json` asks). Weights are drawn wider than transformers' default init so
that the random model's next-token scores are far apart (no near-ties to make ids flaky).

Needs torch and transformers 5.x (models/scripts/requirements.txt). Runs on the CPU in fp32.
"""
import json
import sys
from pathlib import Path

import numpy as np
import torch
from PIL import Image

IMAGE_TOKEN = 99
PROMPT = [0, 10, 11, 12, 13, 2]
DECODER_INPUT = [2, 0, 5, 7, 42]
IMAGES = 20
DETAILED = 3
MAX_NEW_TOKENS = 12


def tiny_config():
    from transformers import BartConfig, Florence2Config, Florence2VisionConfig

    vision = Florence2VisionConfig(
        in_channels=3, depths=[1, 1, 2, 1],
        patch_size=[7, 3, 3, 3], patch_stride=[4, 2, 2, 2], patch_padding=[3, 1, 1, 1],
        patch_prenorm=[False, True, True, True],
        embed_dim=[8, 16, 16, 32], num_heads=[1, 2, 2, 4], num_groups=[1, 2, 2, 4],
        window_size=3, drop_path_rate=0.0, mlp_ratio=4.0, qkv_bias=True,
        activation_function="gelu", projection_dim=16,
        max_temporal_embeddings=4, max_position_embeddings=8)
    text = BartConfig(
        vocab_size=100, d_model=16, encoder_layers=2, decoder_layers=2,
        encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=32, decoder_ffn_dim=32,
        max_position_embeddings=64, activation_function="gelu", dropout=0.0, attention_dropout=0.0,
        activation_dropout=0.0, scale_embedding=False, pad_token_id=1, bos_token_id=0,
        eos_token_id=2, decoder_start_token_id=2, forced_bos_token_id=0, forced_eos_token_id=2)
    return Florence2Config(vision_config=vision, text_config=text, image_token_id=IMAGE_TOKEN)


def base_config():
    from transformers import BartConfig, Florence2Config, Florence2VisionConfig

    vision = Florence2VisionConfig(projection_dim=768, drop_path_rate=0.0)
    text = BartConfig(
        vocab_size=51328, d_model=768, encoder_layers=6, decoder_layers=6,
        encoder_attention_heads=12, decoder_attention_heads=12, encoder_ffn_dim=3072,
        decoder_ffn_dim=3072, max_position_embeddings=1024, activation_function="gelu",
        dropout=0.0, attention_dropout=0.0, activation_dropout=0.0, scale_embedding=False,
        pad_token_id=1, bos_token_id=0, eos_token_id=2, decoder_start_token_id=2,
        forced_bos_token_id=0, forced_eos_token_id=2)
    return Florence2Config(vision_config=vision, text_config=text, image_token_id=51289)


SIZES = {
    # name: (config, image side, image tokens, (widen, which weights), images, detailed,
    #        new tokens, prompt)
    "tiny": (tiny_config, 64, 5, (12.0, ""), IMAGES, DETAILED, MAX_NEW_TOKENS, PROMPT),
    # <OCR>'s prompt, <s>What is the text in the image?</s>, as transformers' Florence-2 tests
    # give its ids.
    # Only the language model is widened: twelve widened DaViT blocks are so ill-conditioned
    # that PyTorch's own fp32 map is 0.03 from its fp64 one.
    "base": (base_config, 768, 577, (3.0, "model.language_model"), 4, 1, 20,
             [0, 2264, 16, 5, 2788, 11, 5, 2274, 116, 2]),
}


def photo(seed, width, height):
    """A smooth random picture with some edges (not noise: resizing must matter)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(width, height)
    img = np.zeros((height, width, 3))
    for c in range(3):
        a, b, f = rng.uniform(-1, 1, 3)
        img[..., c] = 0.5 + 0.4 * np.sin(6 * f * x + 4 * a * y + 3 * b)
    x0, y0 = rng.integers(0, width // 2), rng.integers(0, height // 2)
    img[y0:y0 + height // 3, x0:x0 + width // 3] = rng.uniform(0, 1, 3)
    return Image.fromarray((img.clip(0, 1) * 255).astype(np.uint8))


def widen(model, scale, only=""):
    """Scales every weight matrix and embedding (not norms or biases) whose name starts with
    `only`, so that logits spread out."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() >= 2 and name.startswith(only):
                p.mul_(scale)


def build(size: str, out: Path):
    from transformers import CLIPImageProcessor, Florence2ForConditionalGeneration, GenerationConfig

    config, side, n_img, scale, images, detailed, new_tokens, prompt = SIZES[size]
    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    model = Florence2ForConditionalGeneration(config()).eval()
    widen(model, *scale)
    model.save_pretrained(out, safe_serialization=True)
    generation = GenerationConfig(
        bos_token_id=0, decoder_start_token_id=2, early_stopping=True, eos_token_id=2,
        forced_bos_token_id=0, forced_eos_token_id=2, no_repeat_ngram_size=3, num_beams=3,
        pad_token_id=1)
    generation.save_pretrained(out)
    model = Florence2ForConditionalGeneration.from_pretrained(out, dtype=torch.float32).eval()
    proc = CLIPImageProcessor(
        do_resize=True, size={"height": side, "width": side}, resample=3, do_center_crop=False,
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True,
        image_mean=[0.485, 0.456, 0.406], image_std=[0.229, 0.224, 0.225])
    assert "Pil" in type(proc).__name__, type(proc)  # torchvision resizes differently
    (out / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "CLIPImageProcessor", "do_resize": True,
        "size": {"height": side, "width": side}, "resample": 3, "do_center_crop": False,
        "do_rescale": True, "rescale_factor": 1 / 255, "do_normalize": True,
        "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
        "image_seq_length": n_img}, indent=2))

    sizes = [(64, 64), (90, 40), (33, 77), (128, 96)]
    records = []
    for i in range(images):
        w, h = sizes[i % len(sizes)]
        name = f"image-{i:02}.png"
        img = photo(100 + i, w, h)
        img.save(out / name)
        pixels = proc(images=[img], return_tensors="pt")["pixel_values"]
        input_ids = torch.tensor([[model.config.image_token_id] * n_img + prompt])
        mask = torch.ones_like(input_ids)
        with torch.inference_mode():
            common = dict(input_ids=input_ids, pixel_values=pixels, attention_mask=mask,
                          max_new_tokens=new_tokens)
            greedy = model.generate(**common, num_beams=1, do_sample=False)
            beam = model.generate(**common)  # generation_config.json: 3 beams, no_repeat 3
            record = {"image": name, "greedy": greedy[0].tolist(), "beam": beam[0].tolist()}
            if i < detailed:
                vision = model.model.vision_tower(pixels)
                vision = getattr(vision, "last_hidden_state", vision)
                features = model.get_image_features(pixels)
                features = getattr(features, "pooler_output", features)
                full = model(input_ids=input_ids, pixel_values=pixels, attention_mask=mask,
                             decoder_input_ids=torch.tensor([DECODER_INPUT]))
                record.update({
                    "pixel_values": pixels.flatten().tolist(),
                    "pixel_shape": list(pixels.shape),
                    "vision": vision.flatten().tolist(),
                    "vision_shape": list(vision.shape),
                    "features": features.flatten().tolist(),
                    "features_shape": list(features.shape),
                    "encoder": full.encoder_last_hidden_state.flatten().tolist(),
                    "encoder_shape": list(full.encoder_last_hidden_state.shape),
                    "logits": full.logits.flatten().tolist(),
                    "logits_shape": list(full.logits.shape),
                })
        records.append(record)
    ref = {"prompt": prompt, "image_token": model.config.image_token_id,
           "decoder_input": DECODER_INPUT, "max_new_tokens": new_tokens, "images": records}
    (out / "reference.json").write_text(json.dumps(ref))
    distinct = len({tuple(r["beam"]) for r in records})
    print(f"{out}: {images} images, {distinct} distinct beam outputs; e.g. greedy {records[0]['greedy']} beam {records[0]['beam']}")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in SIZES:
        sys.exit(__doc__)
    torch.set_num_threads(1 if sys.argv[1] == "tiny" else 2)
    build(sys.argv[1], Path(sys.argv[2]))


if __name__ == "__main__":
    main()
