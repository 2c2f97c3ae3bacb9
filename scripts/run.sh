#!/usr/bin/env bash
# Sets up what is missing, then builds and serves Trove on http://127.0.0.1:3000.
# Extra arguments go to `cargo leptos serve` (e.g. --release).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_all
exec cargo leptos serve "$@"
