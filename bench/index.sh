#!/usr/bin/env bash
# End-to-end indexing: Trove (`trove index`) against two Python pipelines on the same 12 MP JPEGs,
# the same model and the same cores: the tuned one (bench/index_tuned.py: PIL draft-mode decode in
# a thread pool, transformers' processor, the ONNX Runtime tower, decode overlapped with
# inference), the strongest peer, and the naive reference (bench/index_reference.py: PIL full
# decode + PyTorch, as the prototypes do it). Prints the rates, Trove's ratio to each and the
# peak RSS of each. Trove is timed from its model being loaded to the end of its embedding stage
# (bench/index_trove.py), as the Python pipelines are timed from their models being loaded; the
# passes after embedding (tags, text, captions) are not what the Python pipelines do. Trove
# runs at its default precision (bf16 products where the CPU has AVX512_BF16; the Python
# pipelines are fp32): TROVE_PRECISION=fp32 bench/index.sh for Trove in fp32.
#
#   bench/index.sh [COUNT=200] [SIZE=4000x3000]
#
# Photos go to .data/bench-photos-SIZE (kept between runs); the random-weight ViT-B/32 comes from
# `models/scripts/make_fixtures.py full .data/full` (made if missing).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-200}
size=${2:-4000x3000}
scripts/python-env.sh
.venv/bin/pip install -q -r bench/onnx-requirements.txt
model=$PWD/.data/full/clip-vit-base-patch32
[ -d "$model" ] || .venv/bin/python models/scripts/make_fixtures.py full .data/full
# The ONNX export of the same checkpoint, checked against PyTorch (bench/models.py).
onnx=$(TROVE_ONNX_EXPORT_ONLY=1 .venv/bin/python bench/models.py onnx "$model" 2>/dev/null | tail -1 |
  python3 -c 'import json, sys; print(json.load(sys.stdin)["vision"])')
photos=$PWD/.data/bench-photos-$size
.venv/bin/python bench/make_photos.py "$photos" "$count" --size "$size"
# Only the first COUNT photos take part, as hard links in a fresh folder (Trove never follows
# symbolic links; hard links are the same files in the same page cache for both pipelines).
lib=$(mktemp -d -p "$PWD/.data")
trap 'rm -rf "$lib"' EXIT
find "$photos" -name 'photo-*.jpg' | sort | head -n "$count" | while read -r f; do ln "$f" "$lib/"; done
cargo build -q --bin trove
data=$(mktemp -d)
trap 'rm -rf "$lib" "$data"' EXIT
TROVE_BENCH_IMAGES=$count /usr/bin/time -f '%M' -o "$data/rss" python3 bench/index_trove.py \
  target/debug/trove --data-dir "$data" --model "$model" --device cpu index "$lib" > "$data/trove.json"
/usr/bin/time -f '%M' -o "$data/tuned-rss" .venv/bin/python bench/index_tuned.py "$model" "$onnx" "$lib" \
  2>/dev/null | tail -1 > "$data/tuned.json"
/usr/bin/time -f '%M' -o "$data/ref-rss" .venv/bin/python bench/index_reference.py "$model" "$lib" \
  2>/dev/null | tail -1 > "$data/ref.json"
python3 - "$data" <<'PY'
import json, sys, pathlib
d = pathlib.Path(sys.argv[1])
rss = lambda name: round(int((d / name).read_text()) / 1024)
trove = dict(json.loads((d / "trove.json").read_text()), peak_rss_mb=rss("rss"))
tuned = dict(json.loads((d / "tuned.json").read_text()), peak_rss_mb=rss("tuned-rss"))
ref = dict(json.loads((d / "ref.json").read_text()), peak_rss_mb=rss("ref-rss"))
for r in (trove, tuned, ref):
    print(json.dumps(r))
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
print(f"end to end on {cpu}: Trove {trove['images_per_s']:.2f} img/s ({trove['peak_rss_mb']} MB), "
      f"tuned Python {tuned['images_per_s']:.2f} img/s ({tuned['peak_rss_mb']} MB) -> "
      f"{trove['images_per_s'] / tuned['images_per_s']:.2f}x, naive Python {ref['images_per_s']:.2f} img/s "
      f"({ref['peak_rss_mb']} MB) -> {trove['images_per_s'] / ref['images_per_s']:.2f}x")
PY
