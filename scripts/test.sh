#!/usr/bin/env bash
# Sets up what is missing, then runs every check, cheapest first: format, lints (native and
# wasm), unit and integration tests, and the Playwright end-to-end suite in Debian's chromium.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TERM_COLOR=never NO_COLOR=1 PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
# Mesa's Vulkan driver complains on every start without one (CI runs without a login session).
if [ -z "${XDG_RUNTIME_DIR:-}" ]; then
  export XDG_RUNTIME_DIR
  XDG_RUNTIME_DIR=$(mktemp -d)
fi
t0=$SECONDS
step() { printf '\n== [%ss] %s\n' "$((SECONDS - t0))" "$*"; }

# A fresh clone on a machine that already built Trove reuses those builds: ./target becomes a
# link to one per-user build folder (set TROVE_TARGET_DIR to choose it, or create ./target first
# to keep builds in the clone).
if [ ! -e target ]; then
  shared_target=${TROVE_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/trove/target}
  mkdir -p "$shared_target"
  ln -s "$shared_target" target
fi

step "setup"
source scripts/setup.sh
setup_all test

step "cargo fmt --check"
cargo fmt --all --check

step "clippy (native crates)"
cargo clippy --locked --all-targets -- -D warnings

step "clippy (frontend, wasm32: keeps native-only crates out of app)"
cargo clippy --locked -p frontend --target wasm32-unknown-unknown --target-dir target/front -- -D warnings

step "unit and integration tests"
# The wgpu parity test runs on lavapipe, installed by setup: a missing adapter is a failure here;
# so are missing OCR weights and references (setup fetches and makes them).
TROVE_REQUIRE_GPU=1 TROVE_REQUIRE_OCR=1 cargo test --locked

step "end-to-end (cargo leptos end-to-end, Playwright in Debian chromium)"
e2e_data=$(mktemp -d)
trap 'rm -rf "$e2e_data"' EXIT
rm -rf end2end/playwright-report end2end/screenshots
# The text reader reads the words on the demo library's memes (the words tests search them).
TROVE_DATA_DIR="$e2e_data" cargo run --locked -q -p server --bin trove -- model install-ocr .data/ocr/pp-ocrv4
status=0
TROVE_DATA_DIR="$e2e_data" cargo leptos end-to-end || status=$?
node -e "
  const fs = require('fs');
  const f = 'end2end/playwright-report/results.json';
  if (!fs.existsSync(f)) { console.log('e2e: 0 passed, 1 failed (no Playwright report)'); process.exit(0); }
  const s = JSON.parse(fs.readFileSync(f)).stats;
  console.log('e2e: ' + s.expected + ' passed, ' + (s.unexpected + s.flaky) + ' failed' + (s.skipped ? ', ' + s.skipped + ' skipped' : ''));
"
step "done (screenshots in end2end/screenshots/)"
exit "$status"
