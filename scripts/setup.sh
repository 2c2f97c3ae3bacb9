#!/usr/bin/env bash
# Installs what Trove's build and tests need and is missing; skips anything already present at
# the right version. Sourced by scripts/run.sh and scripts/test.sh; safe to run on its own.
#
#   scripts/setup.sh          tools to build and run (wasm target, cargo-leptos, wasm-bindgen, npm)
#   scripts/setup.sh test     the same, plus Debian chromium (end-to-end tests) and Mesa lavapipe
#                             (software Vulkan, so the GPU-path tests run without a GPU)
#
# Only the Rust crate registry, rustup, npm and Debian are used: nothing downloads a binary from
# anywhere else (see README, "Offline toolchain").
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

CARGO_LEPTOS_VERSION=0.3.11
# cargo-leptos 0.3.11's lock file needs rustc >= 1.96 to build; the project itself is pinned to
# rust-toolchain.toml's version, so the tool is built with its own toolchain.
CARGO_LEPTOS_TOOLCHAIN=1.99.1

say() { printf '== setup: %s\n' "$*"; }

need_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

setup_rust() {
  # rust-toolchain.toml pins the toolchain; make sure it and its wasm target are installed.
  local channel
  channel=$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)
  if ! rustup target list --installed --toolchain "$channel" 2>/dev/null | grep -qx wasm32-unknown-unknown; then
    say "rust $channel with wasm32-unknown-unknown"
    rustup toolchain install "$channel" --profile minimal --component rustfmt,clippy \
      --target wasm32-unknown-unknown
  fi
}

setup_cargo_leptos() {
  if cargo leptos --version 2>/dev/null | grep -qx "cargo-leptos $CARGO_LEPTOS_VERSION"; then
    return
  fi
  say "cargo-leptos $CARGO_LEPTOS_VERSION (a debug build: 5 min instead of 25 on 2 cores)"
  rustup toolchain install "$CARGO_LEPTOS_TOOLCHAIN" --profile minimal
  cargo +"$CARGO_LEPTOS_TOOLCHAIN" install --locked --debug cargo-leptos --version "$CARGO_LEPTOS_VERSION"
}

setup_wasm_bindgen() {
  # The CLI must match the wasm-bindgen crate in Cargo.lock exactly.
  local version
  version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
  if wasm-bindgen --version 2>/dev/null | grep -qx "wasm-bindgen $version"; then
    return
  fi
  say "wasm-bindgen-cli $version"
  # Not --locked: its lock file pins a webpki-roots release that the registry no longer serves.
  cargo install wasm-bindgen-cli --version "$version"
}

setup_node() {
  # tailwindcss, wasm-opt (npm binaryen, never Debian's v108: it breaks hydration) and Playwright.
  local stamp=node_modules/.trove-lock-hash want
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "npm packages (package-lock.json)"
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund
  echo "$want" >"$stamp"
}

setup_chromium() {
  if command -v chromium >/dev/null; then
    return
  fi
  say "Debian chromium (the browser for the end-to-end tests)"
  need_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive need_sudo apt-get install -y -qq --no-install-recommends chromium >/dev/null
}

setup_vulkan_cpu() {
  # Mesa's software Vulkan (lavapipe): lets the tests run the burn-wgpu path without a GPU.
  if [ "$(uname -s)" != Linux ] || ls /usr/share/vulkan/icd.d/lvp_icd.*.json >/dev/null 2>&1; then
    return
  fi
  say "Debian mesa-vulkan-drivers (software Vulkan for the GPU-path tests)"
  need_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive need_sudo apt-get install -y -qq --no-install-recommends \
    mesa-vulkan-drivers libvulkan1 >/dev/null
}

setup_native_libs() {
  # Image decoders from the system: libheif for HEIC and AVIF photos (Debian 12 ships 1.15, with
  # its AV1 decoders), libjpeg-turbo for fast JPEG decoding and libtiff (4.5+) for the TIFFs the
  # image crate cannot read; their headers and pkg-config files are needed to build.
  # macOS: `brew install libheif jpeg-turbo libtiff pkg-config`.
  if pkg-config --exists libheif libturbojpeg 'libtiff-4 >= 4.5' 2>/dev/null; then
    return
  fi
  if [ "$(uname -s)" != Linux ] || ! command -v apt-get >/dev/null; then
    say "libheif, libjpeg-turbo or libtiff is missing: install them (macOS: brew install libheif jpeg-turbo libtiff pkg-config) or build with --no-default-features --features gpu"
    return
  fi
  say "Debian libheif-dev, libturbojpeg0-dev, libtiff-dev and pkg-config (HEIC, AVIF, fast JPEG, TIFF)"
  need_sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive need_sudo apt-get install -y -qq --no-install-recommends \
    libheif-dev libturbojpeg0-dev libtiff-dev pkg-config >/dev/null
}

# PaddleOCR's PP-OCRv4 detector and recogniser (Apache-2.0), as ONNX files inside RapidOCR's
# wheel on PyPI: the weights Trove's OCR port loads. Pinned by the files' own hashes.
OCR_WHEEL=rapidocr-onnxruntime==1.4.4
OCR_FILES="ch_PP-OCRv4_det_infer.onnx:d2a7720d45a54257208b1e13e36a8479894cb74155a5efe29462512d42f49da9
ch_PP-OCRv4_rec_infer.onnx:48fc40f24f6d2a207a2b1091d3437eb3cc3eb6b676dc3ef9c37384005483683b"

setup_ocr_models() {
  local dir=.data/ocr/pp-ocrv4 entry file sum missing=
  for entry in $OCR_FILES; do
    file=${entry%%:*} sum=${entry#*:}
    if [ "$(sha256sum "$dir/$file" 2>/dev/null | cut -d' ' -f1)" != "$sum" ]; then missing=1; fi
  done
  [ -z "$missing" ] && return
  say "PP-OCRv4 weights (from $OCR_WHEEL on PyPI)"
  local tmp
  tmp=$(mktemp -d)
  python3 -m pip download -q --no-deps -d "$tmp" "$OCR_WHEEL"
  mkdir -p "$dir"
  python3 - "$tmp"/*.whl "$dir" <<'PY'
import pathlib, sys, zipfile
wheel, out = sys.argv[1], pathlib.Path(sys.argv[2])
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith("rapidocr_onnxruntime/models/") and name.endswith(".onnx"):
            (out / pathlib.Path(name).name).write_bytes(z.read(name))
PY
  rm -rf "$tmp"
  for entry in $OCR_FILES; do
    file=${entry%%:*} sum=${entry#*:}
    echo "$sum  $dir/$file" | sha256sum -c --quiet - || { say "$file does not have the pinned hash"; return 1; }
  done
}

setup_ocr_reference() {
  # ONNX Runtime's outputs on generated pictures, for the OCR parity test; remade when the
  # script that writes them changes.
  local out=.data/ocr/parity stamp want
  stamp=$out/.script-hash
  want=$(cat models/scripts/ocr_reference.py models/scripts/ocr-requirements.txt | sha256sum | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return
  fi
  say "ONNX Runtime references for the OCR parity test (.venv-ocr)"
  if [ ! -x .venv-ocr/bin/python ]; then python3 -m venv .venv-ocr; fi
  .venv-ocr/bin/pip install -q -r models/scripts/ocr-requirements.txt
  rm -rf "$out"
  .venv-ocr/bin/python models/scripts/ocr_reference.py .data/ocr/pp-ocrv4 "$out" >/dev/null
  echo "$want" >"$stamp"
}

setup_all() {
  setup_rust
  setup_native_libs
  setup_cargo_leptos
  setup_wasm_bindgen
  setup_node
  if [ "${1:-}" = test ]; then
    setup_chromium
    setup_vulkan_cpu
    setup_ocr_models
    setup_ocr_reference
  fi
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  setup_all "${1:-}"
fi
