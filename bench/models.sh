#!/usr/bin/env bash
# Trove's CPU towers against ONNX Runtime (the strongest peer: Immich and clip-as-service run CLIP
# on it) and PyTorch + transformers (the reference), on the same model folder and cores.
#
#   bench/models.sh [MODEL_DIR] [ROUNDS=2]
#
# MODEL_DIR defaults to the random-weight ViT-B/32 made by
# `.venv/bin/python models/scripts/make_fixtures.py full .data/full` (made here if missing). The
# checkpoint is exported to ONNX once (.data/onnx/) and checked against PyTorch before timing.
# The three run one after another, ROUNDS times in turn (a shared machine's speed drifts); each
# keeps its best round. Prints the JSON results and Trove's ratio to each peer (above 1: Trove is
# faster), with the CPU they ran on. Trove runs in fp32 and, where the CPU has AVX512_BF16, also
# with its bf16 products (`--precision auto`, the default there), compared with the peers' fp32.
set -euo pipefail
cd "$(dirname "$0")/.."
model=$(realpath -m "${1:-.data/full/clip-vit-base-patch32}")
rounds=${2:-2}
scripts/python-env.sh
.venv/bin/pip install -q -r bench/onnx-requirements.txt
if [ ! -d "$model" ]; then
  .venv/bin/python models/scripts/make_fixtures.py full .data/full
fi
cargo bench -q -p trove-models --bench towers --no-run 2>/dev/null
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for round in $(seq "$rounds"); do
  TROVE_BENCH_MODEL="$model" cargo bench -q -p trove-models --bench towers 2>/dev/null | tail -1 >>"$out/trove"
  if grep -qw avx512_bf16 /proc/cpuinfo; then
    TROVE_BENCH_PRECISION=auto TROVE_BENCH_MODEL="$model" \
      cargo bench -q -p trove-models --bench towers 2>/dev/null | tail -1 >>"$out/trove-bf16"
  fi
  .venv/bin/python bench/models.py onnx "$model" 2>/dev/null | tail -1 >>"$out/onnx"
  .venv/bin/python bench/models.py torch "$model" 2>/dev/null | tail -1 >>"$out/torch"
done
python3 - "$out" <<'PY'
import json, sys, pathlib
out = pathlib.Path(sys.argv[1])
def best(name):
    runs = [json.loads(l) for l in (out / name).read_text().splitlines() if l.strip()]
    b = dict(runs[0])
    b["images_per_s"] = max(r["images_per_s"] for r in runs)
    for k in ("batch1_ms", "text_p50_ms", "text_p90_ms"):
        b[k] = min(r[k] for r in runs)
    b["rounds"] = len(runs)
    return b
trove, onnx, torch = best("trove"), best("onnx"), best("torch")
bf16 = best("trove-bf16") if (out / "trove-bf16").exists() else None
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
flags = next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), [])
isa = "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "no AVX2"
for r in (trove, onnx, torch, bf16):
    if r:
        print(json.dumps(r))
print(f"CPU: {cpu}, {trove['threads']} threads, {isa}; best of {trove['rounds']} rounds each")
print(f"{'':22}{'Trove':>10}{'ONNX RT':>10}{'PyTorch':>10}{'vs ORT':>9}{'vs torch':>10}")
rows = [
    (f"images/s, batch {trove['batch']}", "images_per_s", True),
    ("batch-1 image, ms", "batch1_ms", False),
    ("text query p50, ms", "text_p50_ms", False),
]
for name, run in (("fp32", trove), ("bf16", bf16)):
    if not run:
        continue
    print(f"Trove {name}:")
    for label, key, higher in rows:
        t, o, p = run[key], onnx[key], torch[key]
        ratio = (lambda peer: t / peer) if higher else (lambda peer: peer / t)
        print(f"  {label:20}{t:>10}{o:>10}{p:>10}{ratio(o):>8.2f}x{ratio(p):>9.2f}x")
PY
