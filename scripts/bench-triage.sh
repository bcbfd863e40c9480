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

VENV=target/bench-venv
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV" || { echo "error: python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2; exit 1; }
fi
"$VENV/bin/python" -c "import sklearn, fasttext" 2>/dev/null || \
  "$VENV/bin/pip" install -q scikit-learn fasttext-numpy2 || \
  { echo "error: could not install scikit-learn and fasttext-numpy2 from PyPI" >&2; exit 1; }

python3 scripts/bench/bench_triage.py --bin "$MAILTRIAGE" --corpus data/spamassassin \
  --python "$VENV/bin/python" --runs "${RUNS:-3}"
