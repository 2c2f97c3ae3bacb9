# Sourced by bench/ocr.sh and bench/retrieval.sh: the PP-OCRv4 weights, the fonts and Python
# environment the meme generator needs, and COUNT generated memes in .data/ocr/memes-COUNT.
# Sets $venv and $memes.
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
