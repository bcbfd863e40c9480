# Sourced by scripts/bench-triage.sh and scripts/validate-families.sh (at the repo root, with
# set -euo pipefail). Makes target/bench-venv with scikit-learn and fastText (PyPI
# fasttext-numpy2) and sets BENCH_PY to its python.

bench_venv() {
  local venv=target/bench-venv
  if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv" || { echo "error: python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2; exit 1; }
  fi
  "$venv/bin/python" -c "import sklearn, fasttext" 2>/dev/null || \
    "$venv/bin/pip" install -q scikit-learn fasttext-numpy2 || \
    { echo "error: could not install scikit-learn and fasttext-numpy2 from PyPI" >&2; exit 1; }
  BENCH_PY="$venv/bin/python"
}
