#!/usr/bin/env bash
# The retrieval check of the CPU's bf16 path (models/benches/precision.rs): the same model in
# fp32 and in bf16, 1,000 held-out generated pictures as the library, 100 text and 100 image
# queries; the top-10 overlap with fp32 (bf16 against bf16, and bf16 queries against an fp32
# library) and the distribution of the cosine between each bf16 and fp32 embedding. Runs the
# demo CLIP (trained by the project) and, where .data/full holds them, the full-size random
# ViT-B/32 and SigLIP B/16 (models/scripts/make_fixtures.py full .data/full). Needs a CPU with
# AVX512_BF16; elsewhere it says so.
#
#   bench/precision.sh [IMAGES=1000]
set -euo pipefail
cd "$(dirname "$0")/.."
images=${1:-1000}
cargo bench -q -p trove-models --bench precision --no-run 2>/dev/null
TROVE_BENCH_IMAGES=$images cargo bench -q -p trove-models --bench precision 2>/dev/null | tail -1
for m in clip-vit-base-patch32 siglip-base-patch16-224; do
  if [ -d ".data/full/$m" ]; then
    TROVE_BENCH_IMAGES=$images TROVE_BENCH_MODEL=$PWD/.data/full/$m \
      cargo bench -q -p trove-models --bench precision 2>/dev/null | tail -1
  fi
done
grep -m1 'model name' /proc/cpuinfo
