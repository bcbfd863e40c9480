#!/usr/bin/env bash
# Peak memory of `mailtriage parse` on a ~SIZE_GB mbox vs the 18 MB train.mbox:
# memory should stay flat as the input grows.
#
# Usage: scripts/bench-memory.sh [SIZE_GB]     (default 1; decimals allowed, e.g. 0.25)
# Env:   MAILTRIAGE_BIN  use this binary instead of building target/release/mailtriage
# Builds data/big/big.mbox (train.mbox + test.mbox repeated; reused when its size
# is right), writes target/big-summary.json, target/small-summary.json and
# target/bench-memory.json. Exits non-zero if a run fails.
set -euo pipefail

cd "$(dirname "$0")/.."

SIZE_GB="${1:-1}"
if ! [[ "$SIZE_GB" =~ ^[0-9]+([.][0-9]+)?$ ]] || [[ "$SIZE_GB" =~ ^0+([.]0*)?$ ]]; then
  echo "error: SIZE_GB must be a positive number, e.g. 1 or 0.5 (got '$SIZE_GB')" >&2
  exit 1
fi
command -v python3 >/dev/null 2>&1 || { echo "error: python3 not found: install it (apt-get install -y python3)" >&2; exit 1; }

. scripts/lib/build-mailtriage.sh
build_mailtriage

scripts/fetch-corpus.sh

# Peak RSS via GNU time; install Debian's `time` package when missing and root.
TIME_BIN=""
if [ -x /usr/bin/time ] && /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
  TIME_BIN=/usr/bin/time
elif [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing GNU time (apt-get install -y time)"
  export DEBIAN_FRONTEND=noninteractive
  if apt-get install -y -q time >/dev/null 2>&1 \
     || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q time >/dev/null 2>&1; }; then
    TIME_BIN=/usr/bin/time
  else
    echo "warning: could not install the 'time' package; the /usr/bin/time peak RSS column is skipped" >&2
  fi
else
  echo "warning: /usr/bin/time (GNU time) not found and not root; install it with 'apt-get install -y time'" \
       "to get the /usr/bin/time peak RSS column (skipped)" >&2
fi

python3 scripts/bench/bench_memory.py \
  --bin "$MAILTRIAGE" --corpus data/spamassassin --size-gb "$SIZE_GB" \
  --big data/big/big.mbox --time-bin "$TIME_BIN" --out target/bench-memory.json
