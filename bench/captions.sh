#!/usr/bin/env bash
# Trove's Florence-2 (burn, CPU) against transformers (PyTorch, CPU) on the same checkpoint,
# pictures and cores, one after the other: captions per second, each part's seconds, and
# whether both produced the same token ids (they must: the same work was done).
#
#   bench/captions.sh [MODEL_DIR] [PICTURES_DIR]
#
# By default the random-weight Florence-2-base made by models/scripts/florence2_fixtures.py
# (0.23B parameters, 768×768 input, 3 beams, 20 new tokens; made here if absent, about 2 min
# and 930 MB) and its four pictures. TROVE_BENCH_BEAMS / TROVE_BENCH_NEW_TOKENS change the
# generation for both engines.
set -euo pipefail
cd "$(dirname "$0")/.."
model=${1:-.data/full/florence2-base}
pictures=${2:-$model}
venv=.venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q -r models/scripts/requirements.txt
fi
if [ ! -f "$model/model.safetensors" ]; then
  HF_HUB_OFFLINE=1 "$venv/bin/python" models/scripts/florence2_fixtures.py base "$model"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
beams=()
[ -n "${TROVE_BENCH_BEAMS:-}" ] && beams=(--beams "$TROVE_BENCH_BEAMS")
TROVE_BENCH_MODEL=$PWD/$model TROVE_BENCH_IMAGES=$PWD/$pictures \
  cargo bench -q -p trove-models --bench captions --profile dev 2>/dev/null | tail -1 >"$out/trove.json"
HF_HUB_OFFLINE=1 "$venv/bin/python" bench/captions.py "$model" "$pictures" "${beams[@]}" \
  --new-tokens "${TROVE_BENCH_NEW_TOKENS:-20}" 2>/dev/null | tail -1 >"$out/torch.json"
python3 - "$out" <<'PY'
import json, sys
t, r = (json.load(open(f"{sys.argv[1]}/{n}.json")) for n in ("trove", "torch"))
# The same work was done if every caption has the same ids. Random weights make near-ties: two
# beams holding the same tokens in another order can score alike to the last bits, and the two
# engines' fp32 sums (in different orders) then rank them differently. Such a caption is
# reported as reordered; any other difference fails the run.
same = sum(a == b for a, b in zip(t["ids"], r["ids"]))
reordered = sum(a != b and sorted(a) == sorted(b) for a, b in zip(t["ids"], r["ids"]))
other = len(t["ids"]) - same - reordered
print(f"{t['images']} pictures, {t['beams']} beams, up to {t['max_new_tokens']} new tokens, {t['threads']} threads; "
      f"same ids: {same} of {len(t['ids'])}" + (f", the same tokens reordered (near-tied beams): {reordered}" if reordered else "")
      + (f", different: {other}" if other else ""))
for x in (t, r):
    print(f"  {x['impl']:<40} {x['captions_per_s']:.3f} captions/s  (vision {x['vision_s']:.2f} s, encoder {x['encode_s']:.2f} s, generation {x['generate_s']:.2f} s)")
print(f"  Trove / PyTorch: {t['captions_per_s'] / r['captions_per_s']:.2f}x")
sys.exit(0 if other == 0 and len(t["ids"]) == len(r["ids"]) else 1)
PY
