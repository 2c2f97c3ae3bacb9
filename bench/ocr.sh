#!/usr/bin/env bash
# Trove's OCR (PP-OCRv4 in burn) against RapidOCR 1.4.4 (the same weights on ONNX Runtime), on
# the same generated pictures and cores, one after the other: reading quality (character error
# rate, word recall, words invented where there are none) and pictures read per second.
#
#   bench/ocr.sh [COUNT=300]
#
# Memes come from bench/make_memes.py (.data/ocr/memes-COUNT, kept between runs); 40 word-free
# 1600×1200 photos from bench/make_photos.py show the cost of a picture without words.
# RapidOCR runs twice: with its defaults (every picture enlarged to a short side of 736 px) and
# at Trove's detector size (short side at least 320 px), so the engines compare on equal work.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300}
source bench/memes.sh
photos=$PWD/.data/ocr/photos-40
if [ ! -d "$photos" ]; then
  "$venv/bin/python" bench/make_photos.py "$photos" 40 --size 1600x1200
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo build -q --release -p trove-models --bench ocr 2>/dev/null || true
for set in memes photos; do
  dir=$memes
  [ "$set" = photos ] && dir=$photos
  TROVE_BENCH_OCR_DIR=$dir cargo bench -q -p trove-models --bench ocr 2>/dev/null | tail -1 >"$out/$set-trove.json"
  "$venv/bin/python" bench/ocr.py run "$dir" 2>/dev/null | tail -1 >"$out/$set-rapid.json"
  RAPIDOCR_ARGS='{"det_limit_side_len": 320}' "$venv/bin/python" bench/ocr.py run "$dir" 2>/dev/null | tail -1 >"$out/$set-rapid320.json"
done
echo "memes ($count, $(python3 -c "import json;t=json.load(open('$memes/truth.json'));print(sum(1 for v in t.values() if v))") with words):"
"$venv/bin/python" bench/ocr.py score "$memes" "$out/memes-trove.json" "$out/memes-rapid.json" "$out/memes-rapid320.json"
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
for s in ("memes", "photos"):
    t, r, r320 = (json.load(open(f"{out}/{s}-{e}.json")) for e in ("trove", "rapid", "rapid320"))
    print(f"{s}: Trove {t['images_per_s']:.2f} img/s ({t['probe_only']} of {t['images']} settled by the probe) | "
          f"RapidOCR defaults {r['images_per_s']:.2f} -> {t['images_per_s'] / r['images_per_s']:.2f}x | "
          f"RapidOCR at Trove's size {r320['images_per_s']:.2f} -> {t['images_per_s'] / r320['images_per_s']:.2f}x")
PY
