"""RapidOCR (PP-OCRv4 on ONNX Runtime) over a folder, and the scores of any engine's readings.

    python bench/ocr.py run DIR            → one JSON line: RapidOCR's lines and seconds per file
                                             (RAPIDOCR_ARGS: JSON keyword arguments for RapidOCR)
    python bench/ocr.py score DIR A.json B.json …   → character error rate, word recall and
                                              words invented on pictures without any, per engine

Scores are case-insensitive with runs of whitespace made one space (search treats text that
way). Each true line is matched to the read line closest to it (edit distance); the character
error rate is the sum of those distances over the true characters. Word recall: the share of
true words (Chinese: characters) found among the words read in the same picture.
"""

import json
import pathlib
import sys
import time


def run(folder):
    import os

    from rapidocr_onnxruntime import RapidOCR

    # RAPIDOCR_ARGS: JSON keyword arguments, e.g. {"det_limit_side_len": 320}.
    kwargs = json.loads(os.environ.get("RAPIDOCR_ARGS") or "{}")
    engine = RapidOCR(**kwargs)
    files = sorted(p for p in folder.iterdir() if p.suffix in (".jpg", ".jpeg", ".png"))
    if files:
        engine(str(files[0]))  # warm-up, not timed
    results, total = {}, 0.0
    for path in files:
        t = time.perf_counter()
        found, _ = engine(str(path))
        seconds = time.perf_counter() - t
        total += seconds
        results[path.name] = {"lines": [text for _, text, _ in (found or [])], "seconds": seconds}
    print(json.dumps({
        "engine": "rapidocr" + (" " + json.dumps(kwargs) if kwargs else ""),
        "files": results,
        "images": len(files),
        "seconds": total,
        "images_per_s": len(files) / max(total, 1e-9),
    }, ensure_ascii=False))


def norm(text):
    return " ".join(text.lower().split())


def distance(a, b):
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def words(line):
    out = []
    for word in norm(line).split():
        if any("\u4e00" <= ch <= "\u9fff" for ch in word):
            out.extend(word)
        else:
            out.append(word)
    return out


def score(folder, result):
    truth = json.loads((folder / "truth.json").read_text())
    errors = chars = found = total_words = invented = 0
    for name, lines in truth.items():
        read = [norm(l) for l in result["files"].get(name, {}).get("lines", [])]
        if not lines:
            invented += sum(len(w) for r in read for w in words(r))
            continue
        for line in lines:
            line = norm(line)
            best = min((distance(line, r) for r in read), default=len(line))
            errors += min(best, len(line))
            chars += len(line)
        seen = [w for r in read for w in words(r)]
        for word in (w for l in lines for w in words(l)):
            total_words += 1
            if word in seen:
                seen.remove(word)
                found += 1
    return {
        "engine": result["engine"],
        "cer": round(errors / max(chars, 1), 4),
        "word_recall": round(found / max(total_words, 1), 4),
        "invented_chars": invented,
        "images_per_s": round(result["images_per_s"], 3),
    }


def main():
    command, folder = sys.argv[1], pathlib.Path(sys.argv[2])
    if command == "run":
        run(folder)
    elif command == "score":
        for path in sys.argv[3:]:
            print(json.dumps(score(folder, json.loads(pathlib.Path(path).read_text()))))
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
