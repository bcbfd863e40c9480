#!/usr/bin/env bash
# Does a second model family (fastText-style averaged n-gram embeddings + softmax, or TF-IDF +
# LinearSVC) beat mailtriage's linear model on validation folds carved from the TRAINING split
# of the SpamAssassin corpus (older groups only)? The `test` split is never read.
# Usage: scripts/validate-families.sh      Env: FOLDS=5, MAILTRIAGE_BIN to skip the build,
#        WORKDIR=/tmp/validate-families (fold files and models).
# Installs scikit-learn and fastText (PyPI fasttext-numpy2) into target/bench-venv.
# Writes target/validate-families.json.
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

# The peers run on one core, as in the bench; mailtriage uses every core.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$VENV/bin/python" scripts/bench/validate_families.py --bin "$MAILTRIAGE" \
  --train data/spamassassin/train.jsonl --folds "${FOLDS:-5}" \
  --workdir "${WORKDIR:-/tmp/validate-families}" --out target/validate-families.json
