#!/usr/bin/env bash
# What reading the words adds to search, and which fusion is better: the real engine (demo
# model + PP-OCRv4) over generated memes whose words and scenes are known, answering each
# picture's text query and each scene query with the vectors alone, with RRF fusion and with
# the calibrated score blend (server/engine/benches/retrieval.rs).
#
#   bench/retrieval.sh [COUNT=300]
#
# The memes are bench/ocr.sh's (.data/ocr/memes-COUNT, made by bench/make_memes.py).
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-300}
source bench/memes.sh
TROVE_BENCH_MEMES=$memes TROVE_OCR_MODELS=$PWD/.data/ocr/pp-ocrv4 \
  cargo bench -q -p trove-engine --bench retrieval --profile dev
