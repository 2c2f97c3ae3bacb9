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
source scripts/setup.sh
setup_ocr_models
if ! fc-list | grep -q "WenQuanYi Micro Hei" || ! fc-list | grep -q "Liberation Sans"; then
  need_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive need_sudo apt-get install -y -qq --no-install-recommends \
    fonts-dejavu-core fonts-liberation2 fonts-wqy-microhei >/dev/null
fi
venv=.data/ocr/venv-bench
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q rapidocr-onnxruntime==1.4.4 onnxruntime==1.32.0 numpy==2.4.6 pillow==13.0.0
fi
memes=$PWD/.data/ocr/memes-$count
[ -f "$memes/truth.json" ] || "$venv/bin/python" bench/make_memes.py "$memes" --count "$count"
TROVE_BENCH_MEMES=$memes TROVE_OCR_MODELS=$PWD/.data/ocr/pp-ocrv4 \
  cargo bench -q -p trove-engine --bench retrieval --profile dev
