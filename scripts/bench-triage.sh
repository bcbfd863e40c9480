#!/usr/bin/env bash
# Accuracy and speed of mailtriage train/classify on the SpamAssassin temporal split
# (train on `train`, measure on `test`), against scikit-learn and fastText in the same run.
# Usage: scripts/bench-triage.sh      Env: RUNS=3, MAILTRIAGE_BIN to skip the build.
# Installs scikit-learn and fastText (PyPI fasttext-numpy2) into target/bench-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/lib/build-mailtriage.sh
build_mailtriage
scripts/fetch-corpus.sh >/dev/null

. scripts/lib/bench-venv.sh
bench_venv

python3 scripts/bench/bench_triage.py --bin "$MAILTRIAGE" --corpus data/spamassassin \
  --python "$BENCH_PY" --runs "${RUNS:-3}"
