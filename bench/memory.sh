#!/usr/bin/env bash
# Peak memory while indexing a large library: COUNT distinct JPEGs made from 100 photo-like ones
# (each copy gets its own JPEG comment segment, so its content hash differs and it is read,
# decoded, thumbnailed and embedded like a new photo), indexed by `trove index` with the
# random-weight ViT-B/32 on the CPU. Prints the peak RSS, RSS along the way (growth would show
# a leak) and the rate.
#
#   bench/memory.sh [COUNT=20000] [SIZE=1600x1200]
#
# The copies go to .data/bench-many-SIZE-COUNT (about 0.3 MB each at 1600x1200; delete it after).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-20000}
size=${2:-1600x1200}
scripts/python-env.sh
model=$PWD/.data/full/clip-vit-base-patch32
[ -d "$model" ] || .venv/bin/python models/scripts/make_fixtures.py full .data/full
base=$PWD/.data/bench-photos-$size
.venv/bin/python bench/make_photos.py "$base" 100 --size "$size"
lib=$PWD/.data/bench-many-$size-$count
if [ ! -f "$lib/.complete" ]; then
  python3 - "$base" "$lib" "$count" <<'PY'
import os, sys
base, out, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
photos = sorted(p for p in os.listdir(base) if p.endswith(".jpg"))
os.makedirs(out, exist_ok=True)
data = [open(os.path.join(base, p), "rb").read() for p in photos]
for i in range(count):
    src = data[i % len(data)]
    note = f"trove bench copy {i}".encode()
    # SOI, then a COM segment (FF FE, big-endian length including itself), then the rest.
    com = b"\xff\xfe" + (len(note) + 2).to_bytes(2, "big") + note
    sub = os.path.join(out, f"{i // 1000:03d}")
    os.makedirs(sub, exist_ok=True)
    with open(os.path.join(sub, f"copy-{i:06d}.jpg"), "wb") as f:
        f.write(src[:2] + com + src[2:])
open(os.path.join(out, ".complete"), "w").close()
PY
fi
cargo build -q --bin trove
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
target/debug/trove --data-dir "$data" --model "$model" --device cpu index "$lib" --json > "$data/trove.json" 2> "$data/log" &
pid=$!
peak=0
samples=()
start=$SECONDS
while kill -0 "$pid" 2>/dev/null; do
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)
  rss=${rss:-0}
  [ "$rss" -gt "$peak" ] && peak=$rss
  samples+=("$((SECONDS - start))s:$((rss / 1024))MB")
  sleep 5
done
wait "$pid"
python3 - "$data/trove.json" "$peak" "${samples[@]}" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["progress"]
peak_mb = int(sys.argv[2]) / 1024
samples = sys.argv[3:]
picks = [samples[int(i * (len(samples) - 1) / 10)] for i in range(11)] if samples else []
print("RSS along the way (every tenth of the run):", " ".join(picks))
print(json.dumps({"images": t["embedded"], "seconds": round(t["elapsed_s"], 1),
                  "images_per_s": round(t["embedded"] / t["elapsed_s"], 2), "peak_rss_mb": round(peak_mb)}))
PY
