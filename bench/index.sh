#!/usr/bin/env bash
# End-to-end indexing: Trove (`trove index`) against the Python reference pipeline (PIL full
# decode + transformers' image processor + PyTorch CLIP B/32), on the same 12 MP JPEGs, the
# same model config and the same cores. Prints both rates, their ratio, and Trove's peak RSS.
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
model=$PWD/.data/full/clip-vit-base-patch32
[ -d "$model" ] || .venv/bin/python models/scripts/make_fixtures.py full .data/full
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
/usr/bin/time -f '%M' -o "$data/rss" target/debug/trove --data-dir "$data" --model "$model" --device cpu \
  index "$lib" --json > "$data/trove.json"
ref=$(.venv/bin/python bench/index_reference.py "$model" "$lib" 2>/dev/null | tail -1)
python3 - "$data/trove.json" "$ref" "$(cat "$data/rss")" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["progress"]
r = json.loads(sys.argv[2])
rss_mb = int(sys.argv[3]) / 1024
trove_rate = t["embedded"] / t["elapsed_s"]
print(json.dumps({"pipeline": "trove", "images": t["embedded"], "seconds": round(t["elapsed_s"], 2),
                  "images_per_s": round(trove_rate, 2), "peak_rss_mb": round(rss_mb)}))
print(json.dumps(r))
print(f"end to end: Trove {trove_rate:.2f} img/s vs reference {r['images_per_s']:.2f} img/s -> {trove_rate / r['images_per_s']:.2f}x; Trove peak RSS {rss_mb:.0f} MB")
PY
