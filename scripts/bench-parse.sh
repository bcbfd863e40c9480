#!/usr/bin/env bash
# Throughput of `mailtriage parse` over the SpamAssassin corpus vs Python's
# `email` module (compat32 "fast" and policy.default "modern") on the same files.
#
# Usage: scripts/bench-parse.sh
# Env:   RUNS=5          runs per contender (median reported)
#        THREADS1=1      also time the eml run with --threads 1 (0 to skip)
#        MAILTRIAGE_BIN  use this binary instead of building target/release/mailtriage
#        PYTHON=python3  interpreter for the Python baselines
# Writes target/bench-parse.json. Exits non-zero if any run fails.
set -euo pipefail

cd "$(dirname "$0")/.."

RUNS="${RUNS:-5}"
THREADS1="${THREADS1:-1}"
PYTHON="${PYTHON:-python3}"
case "$RUNS" in ''|*[!0-9]*|0) echo "error: RUNS must be a positive integer (got '$RUNS')" >&2; exit 1 ;; esac
case "$THREADS1" in 0|1) ;; *) echo "error: THREADS1 must be 0 or 1 (got '$THREADS1')" >&2; exit 1 ;; esac
command -v "$PYTHON" >/dev/null 2>&1 || { echo "error: $PYTHON not found: install Python 3 (apt-get install -y python3)" >&2; exit 1; }

. scripts/lib/build-mailtriage.sh
build_mailtriage

scripts/fetch-corpus.sh

"$PYTHON" scripts/bench/bench_parse.py \
  --bin "$MAILTRIAGE" --corpus data/spamassassin --runs "$RUNS" --threads1 "$THREADS1" \
  --out target/bench-parse.json
