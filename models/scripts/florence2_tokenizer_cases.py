#!/usr/bin/env python3
"""Florence-2's tokenizer cases: 1,000 strings and the ids transformers gives them.

    .venv/bin/python models/scripts/florence2_tokenizer_cases.py models/tests/fixtures/florence2-tokenizer \
        [--vocab DIR]

The strings are drawn with a fixed seed from what a captioner meets: the tasks' questions,
captions, words of every script, numbers, punctuation, runs of spaces, tabs and newlines,
emoji, Florence-2's location and task tokens (<loc_123>, <cap>), and mixtures. The reference
is transformers' tokenizer loaded from the folder's tokenizer.json (Florence-2-base's, MIT:
see README.txt there) with BartTokenizer's special tokens (<s> … </s>). With --vocab naming a
folder that holds the model's vocab.json and merges.txt, every string without added tokens is
also encoded by the original GPT-2 byte-level BPE algorithm (OpenAI's encoder.py, written out
below) and must give the same ids: an independent check of the reference itself.
"""

from __future__ import annotations

import argparse
import json
import random
from functools import lru_cache
from pathlib import Path

import regex
from transformers import PreTrainedTokenizerFast

PROMPTS = [
    "What does the image describe?",
    "Describe in detail what is shown in the image.",
    "Describe with a paragraph what is shown in the image.",
    "What is the text in the image?",
    "Locate the objects with category name in the image.",
]
WORDS = ("the a of and dog cat beach sunset Mt Fuji plane window money surprised face bokeh "
         "meme Monday again coffee pizza café naïve façade Zürich São Paulo Ελλάδα Москва "
         "東京 写真 咖啡 사진 مرحبا שלום हिन्दी ไทย emoji 😀 🐶 🍕 ❤️ 👍🏽 "
         "don't it's we'll O'Brien e-mail co-op 3.14 1,000,000 2023-05-17 12:30 #hashtag @user "
         "http://example.com/a?b=c&d=e C++ f(x) [x] {y} <z> \\ / | ~ ` ^ _ * % $ € £ ¥").split()
SPECIAL = ["<s>", "</s>", "<pad>", "<unk>", "<mask>", "<cap>", "</cap>", "<ocr>", "</ocr>",
           "<od>", "</od>"] + [f"<loc_{i}>" for i in (0, 1, 42, 500, 999)]
SPACES = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n ", "\u00a0", "\u3000", "\r\n"]


def draw(rng: random.Random, i: int) -> str:
    if i < len(PROMPTS):
        return PROMPTS[i]
    kind = i % 6
    n = rng.randint(1, 12)
    if kind == 0:  # plain words
        return " ".join(rng.choice(WORDS) for _ in range(n))
    if kind == 1:  # odd spacing
        return "".join(rng.choice(WORDS) + rng.choice(SPACES) for _ in range(n))
    if kind == 2:  # added tokens among words
        return "".join(rng.choice([rng.choice(SPECIAL), " " + rng.choice(WORDS), rng.choice(WORDS)])
                       for _ in range(n))
    if kind == 3:  # random characters, any plane
        pool = [chr(c) for c in range(32, 127)] + [chr(c) for c in range(0xA0, 0x2FF)] + \
               [chr(c) for c in range(0x4E00, 0x4E80)] + ["😀", "🚀", "\u200d", "\u0301", "\ufeff"]
        return "".join(rng.choice(pool) for _ in range(rng.randint(1, 40)))
    if kind == 4:  # captions
        colour = rng.choice(["red", "green", "blue", "yellow", "purple"])
        return rng.choice([f"a {colour} car parked on the street",
                           f"Two {colour} birds sitting on a branch.",
                           f"A meme that says {rng.choice(WORDS).upper()} AGAIN",
                           f"<cap>{colour} umbrella</cap><loc_{rng.randint(0, 999)}>"])
    return rng.choice(WORDS) * rng.randint(1, 6)  # repeats


# OpenAI's GPT-2 encoder (encoder.py, MIT), the original byte-level BPE.
@lru_cache()
def bytes_to_unicode() -> dict[int, str]:
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
         list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


class Gpt2Bpe:
    PAT = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")

    def __init__(self, vocab: Path, merges: Path):
        self.encoder = json.loads(vocab.read_text())
        lines = merges.read_text(encoding="utf-8").split("\n")[1:]
        self.ranks = {tuple(l.split()): i for i, l in enumerate(lines) if l.strip()}
        self.byte_encoder = bytes_to_unicode()

    @lru_cache(maxsize=None)
    def bpe(self, token: str) -> tuple[str, ...]:
        word = tuple(token)
        while len(word) > 1:
            pairs = {(word[i], word[i + 1]) for i in range(len(word) - 1)}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            first, second = best
            out, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and word[i] == first and word[i + 1] == second:
                    out.append(first + second)
                    i += 2
                else:
                    out.append(word[i])
                    i += 1
            word = tuple(out)
        return word

    def encode(self, text: str) -> list[int]:
        ids = []
        for piece in self.PAT.findall(text):
            token = "".join(self.byte_encoder[b] for b in piece.encode("utf-8"))
            ids += [self.encoder[t] for t in self.bpe(token)]
        return ids


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder", type=Path)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("--vocab", type=Path, help="a folder with the model's vocab.json and merges.txt")
    args = ap.parse_args()
    tok = PreTrainedTokenizerFast(tokenizer_file=str(args.folder / "tokenizer.json"),
                                  bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                  pad_token="<pad>", mask_token="<mask>")
    rng = random.Random(20261203)
    texts, seen = [], set()
    i = 0
    while len(texts) < args.count:
        t = draw(rng, i)
        i += 1
        if t not in seen:
            seen.add(t)
            texts.append(t)
    cases = []
    for t in texts:
        ids = tok(t)["input_ids"]
        assert ids[0] == 0 and ids[-1] == 2, (t, ids)
        cases.append({"text": t, "ids": ids})
    if args.vocab:
        bpe = Gpt2Bpe(args.vocab / "vocab.json", args.vocab / "merges.txt")
        added = set(tok.get_added_vocab())
        plain = [c for c in cases if not any(a in c["text"] for a in added)]
        wrong = [c["text"] for c in plain if [0] + bpe.encode(c["text"]) + [2] != c["ids"]]
        print(f"GPT-2 BPE agrees on {len(plain) - len(wrong)} of {len(plain)} strings without added tokens")
        assert not wrong, wrong[:5]
    out = args.folder / "cases.json"
    out.write_text(json.dumps({"reference": "transformers PreTrainedTokenizerFast (tokenizers) "
                               "on tokenizer.json, <s> text </s>", "cases": cases},
                              ensure_ascii=False, indent=0) + "\n")
    print(f"wrote {len(cases)} cases to {out}")


if __name__ == "__main__":
    main()
