#!/usr/bin/env bash
# API fuzzing: schemathesis (PyPI, pinned) generates requests from the service's own
# /openapi.json and checks every response: no 5xx, status codes, content types and bodies
# as documented, invalid requests refused, valid ones accepted (see
# scripts/api-fuzz/schemathesis.toml for the rejections the schema cannot express).
# Usage: scripts/api-fuzz.sh
# Env:   MAILTRIAGE_BIN (skip the build), API_FUZZ_EXAMPLES=25 (examples per operation),
#        API_FUZZ_PORT=18290.
# Trains a small model on the golden fixtures, starts `mailtriage serve` on loopback with an
# admin token (so every route is reachable), and installs schemathesis into target/api-venv.
set -euo pipefail
cd "$(dirname "$0")/.."
case "${1:-}" in -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;; esac

. scripts/lib/build-mailtriage.sh
build_mailtriage
EXAMPLES="${API_FUZZ_EXAMPLES:-25}"
PORT="${API_FUZZ_PORT:-18290}"
WORK=target/api-fuzz
rm -rf "$WORK" && mkdir -p "$WORK"

VENV=target/api-venv
if [ ! -x "$VENV/bin/schemathesis" ]; then
  if ! python3 -m venv "$VENV" 2>/dev/null; then
    # Debian ships venv apart from python3: install it when we can.
    rm -rf "$VENV"
    SUDO=""; [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 && SUDO="sudo -n"
    if command -v apt-get >/dev/null 2>&1; then
      $SUDO apt-get install -y -q python3-venv >/dev/null 2>&1 || \
        { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q python3-venv >/dev/null 2>&1; } || true
    fi
    python3 -m venv "$VENV" || { echo "error: python3 -m venv failed: install python3-venv (apt-get install -y python3-venv)" >&2; exit 1; }
  fi
  "$VENV/bin/pip" install -q "schemathesis==4.32.5" || { echo "error: could not install schemathesis 4.32.5 from PyPI" >&2; exit 1; }
fi

# A small labelled set: the golden fixtures, spam- and phishing-shaped ones labelled spam.
python3 - "$WORK/train.jsonl" <<'PY'
import json, pathlib, sys
with open(sys.argv[1], "w") as out:
    for p in sorted(pathlib.Path("crates/core/tests/golden").glob("*.eml")):
        label = "spam" if ("spam" in p.stem or "phishing" in p.stem) else "ham"
        raw = p.read_bytes().decode("utf-8", "replace")
        out.write(json.dumps({"id": p.stem, "raw": raw, "label": label}) + "\n")
PY
"$MAILTRIAGE" train -i "$WORK/train.jsonl" --label-field label --bits 18 --validation 0 -q --out "$WORK/model.mt"
STORE="sqlite:$WORK/store.db"
TOKEN="$("$MAILTRIAGE" token create --role admin --name api-fuzz --store "$STORE" 2>/dev/null)"

"$MAILTRIAGE" serve --model "$WORK/model.mt" --store "$STORE" --listen "127.0.0.1:$PORT" \
  > "$WORK/serve.log" 2>&1 &
SERVE=$!
trap 'kill $SERVE 2>/dev/null || true' EXIT
ready() {
  python3 -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)" \
    "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1
}
for _ in $(seq 1 200); do
  ready && break
  kill -0 $SERVE 2>/dev/null || { echo "error: mailtriage serve stopped:" >&2; cat "$WORK/serve.log" >&2; exit 1; }
  sleep 0.1
done
ready || { echo "error: mailtriage serve did not become ready on port $PORT:" >&2; cat "$WORK/serve.log" >&2; exit 1; }

# Revoking tokens would lock the fuzzer out mid-run; that route is covered by the role tests.
status=0
"$VENV/bin/schemathesis" --config-file scripts/api-fuzz/schemathesis.toml run \
  "http://127.0.0.1:$PORT/openapi.json" \
  -H "Authorization: Bearer $TOKEN" \
  --checks all --max-examples "$EXAMPLES" --workers 2 \
  --exclude-path '/v1/tokens/{id}/revoke' \
  --seed 1 --no-color || status=$?
if ! kill -0 $SERVE 2>/dev/null; then
  echo "error: mailtriage serve died during the run:" >&2; tail -20 "$WORK/serve.log" >&2; exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "api-fuzz: schemathesis found problems (see above)" >&2
  exit "$status"
fi
echo "api-fuzz: schemathesis found no 5xx and no schema violation ($EXAMPLES examples per operation)"
