#!/usr/bin/env bash
# Trove's burn towers against PyTorch + transformers on the same model folder and cores.
#
#   bench/models.sh [MODEL_DIR]
#
# MODEL_DIR defaults to the random-weight ViT-B/32 made by
# `.venv/bin/python models/scripts/make_fixtures.py full .data/full` (run first if missing).
# Prints both JSON results and the ratios burn/PyTorch (higher images/s is better; lower ms).
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath "${1:-.data/full/clip-vit-base-patch32}")
scripts/python-env.sh
if [ ! -d "$model" ]; then
  .venv/bin/python models/scripts/make_fixtures.py full .data/full
fi
burn=$(TROVE_BENCH_MODEL="$model" cargo bench -q -p trove-models --bench towers 2>/dev/null | tail -1)
torch=$(.venv/bin/python bench/models.py "$model" 2>/dev/null | tail -1)
echo "$burn"
echo "$torch"
python3 - "$burn" "$torch" <<'PY'
import json, sys
b, t = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"images/s at batch {b['batch']}: burn {b['images_per_s']} vs PyTorch {t['images_per_s']} -> {b['images_per_s'] / t['images_per_s']:.2f}x")
print(f"batch-1 latency: burn {b['batch1_ms']} ms vs PyTorch {t['batch1_ms']} ms -> {t['batch1_ms'] / b['batch1_ms']:.2f}x speed")
print(f"text query p50: burn {b['text_p50_ms']} ms vs PyTorch {t['text_p50_ms']} ms -> {t['text_p50_ms'] / b['text_p50_ms']:.2f}x speed")
PY
