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

. scripts/lib/bench-venv.sh
bench_venv

# The peers run on one core, as in the bench; mailtriage uses every core.
OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
  "$BENCH_PY" scripts/bench/validate_families.py --bin "$MAILTRIAGE" \
  --train data/spamassassin/train.jsonl --folds "${FOLDS:-5}" \
  --workdir "${WORKDIR:-/tmp/validate-families}" --out target/validate-families.json
