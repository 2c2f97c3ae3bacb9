#!/usr/bin/env bash
# Creates ./.venv with the reference Python stack (PyTorch, transformers) used by the scripts
# under models/scripts and bench/. Idempotent: does nothing when the requirements are installed.
set -euo pipefail
cd "$(dirname "$0")/.."
req=models/scripts/requirements.txt
stamp=.venv/.requirements-hash
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  exit 0
fi
python3 -m venv .venv
.venv/bin/pip install -q -r "$req"
# CLIP's BPE vocabulary ships inside open-clip-torch; only the file is needed, not the package.
.venv/bin/pip download -q --no-deps -d .venv/downloads open-clip-torch==3.3.0
echo "$want" >"$stamp"
