#!/usr/bin/env bash
# A scripted feedback session against `mailtriage serve`: corrections from the hold-out set make
# the active model better, and a poisoned feedback burst (flipped labels) is refused promotion.
# Trains on the SpamAssassin `train` split, serves it with a guardrail validation set (every 5th
# train record), splits `test` by a hash of the id into FEEDBACK and EVAL halves, measures EVAL
# accuracy through the API before and after reviewers send the true labels of FEEDBACK, then
# sends a burst of wrong labels and checks every candidate it makes is rejected.
# Usage: scripts/feedback-session.sh [driver options, see --help of scripts/bench/feedback_session.py]
# Env: MAILTRIAGE_BIN to skip the build; PORT (default: a free port).
# Writes target/feedback-session/ (model, store, serve.log) and target/feedback-session.json.
# Exit 1 when accuracy did not rise after the good session or the poisoned burst was promoted.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  -h|--help)
    sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'
    echo
    python3 scripts/bench/feedback_session.py --help
    exit 0 ;;
esac

command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found: install it (apt-get install -y python3)" >&2; exit 1; }

. scripts/lib/build-mailtriage.sh
build_mailtriage
scripts/fetch-corpus.sh >/dev/null || { echo "error: scripts/fetch-corpus.sh failed (see above); it needs npm, tar and network access" >&2; exit 1; }

WORK=target/feedback-session
mkdir -p "$WORK"
PID_FILE="$WORK/serve.pid"

# The driver stops serve itself; this is the backstop if the driver is killed outright.
cleanup() {
  if [ -f "$PID_FILE" ]; then
    pid=$(cat "$PID_FILE" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null \
       && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q ' serve '; then
      kill "$pid" 2>/dev/null || true
    fi
    rm -f "$PID_FILE"
  fi
}
trap cleanup EXIT INT TERM

python3 scripts/bench/feedback_session.py --bin "$MAILTRIAGE" --corpus data/spamassassin \
  --work "$WORK" --json target/feedback-session.json --port "${PORT:-0}" \
  --pid-file "$PID_FILE" "$@"
