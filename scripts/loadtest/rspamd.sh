# Sourced by scripts/loadtest.sh: rspamd (and its loopback redis) for the comparison run.
#
# rspamd runs from the Debian package's stock rules (/etc/rspamd) with a top-level config of
# its own under $RSPAMD_DIR/etc (passed with -c; LOCAL_CONFDIR, DBDIR, RUNDIR and LOGDIR are
# redirected there with --var), so nothing under /etc is touched and no system service is
# used:
#   - workers: normal on 127.0.0.1:$RSPAMD_PORT (one process per core), controller on
#     127.0.0.1:$RSPAMD_CONTROLLER_PORT (learning only); no proxy, no fuzzy storage;
#   - network checks off: rbl (which also does the SURBL/URL lists), fuzzy_check, spf, dkim,
#     dmarc, arc, asn, emails, whitelist, hfilter, once_received (reverse DNS) disabled,
#     phishing without the phishtank DNS lookups (checked: "dns req: 0" in rspamd's log line
#     for every message of the corpus at log level info); the resolver points at a closed loopback port with a 0.1 s timeout, so a lookup
#     left anywhere fails at once and never leaves the machine (remote maps such as
#     maps.rspamd.com are not fetched either; each module falls back to its packaged copy);
#   - Bayes on, in redis at 127.0.0.1:$REDIS_PORT (no persistence), trained on the train split;
#   - logging at "warning" (no line per message), which favours rspamd's throughput.
# Functions return non-zero with RSPAMD_STATUS set to the reason; they never exit.

RSPAMD_STATUS="not run"
RSPAMD_PID=""
REDIS_PID=""

rspamd_vars() {
  printf '%s\n' "--var=LOCAL_CONFDIR=$RSPAMD_DIR/etc" "--var=DBDIR=$RSPAMD_DIR/db" \
    "--var=RUNDIR=$RSPAMD_DIR/run" "--var=LOGDIR=$RSPAMD_DIR/log"
}

rspamd_write_config() {
  local etc="$RSPAMD_DIR/etc" workers
  workers=$(nproc 2>/dev/null || echo 2)
  rm -rf "$etc" "$RSPAMD_DIR/run" "$RSPAMD_DIR/log"
  mkdir -p "$etc/local.d" "$etc/override.d" "$RSPAMD_DIR/db" "$RSPAMD_DIR/run" "$RSPAMD_DIR/log"
  cat >"$etc/rspamd.conf" <<EOF
# Written by scripts/loadtest.sh: the stock rules, loopback-only workers, no proxy or fuzzy.
.include "\$CONFDIR/common.conf"
options {
    pidfile = "\$RUNDIR/rspamd.pid";
    .include "\$CONFDIR/options.inc"
    .include(try=true; priority=10) "\$LOCAL_CONFDIR/override.d/options.inc"
}
logging {
    type = "file";
    filename = "\$LOGDIR/rspamd.log";
    .include "\$CONFDIR/logging.inc"
    .include(try=true; priority=10) "\$LOCAL_CONFDIR/override.d/logging.inc"
}
worker "normal" {
    bind_socket = "127.0.0.1:$RSPAMD_PORT";
    .include "\$CONFDIR/worker-normal.inc"
    count = $workers;
}
worker "controller" {
    bind_socket = "127.0.0.1:$RSPAMD_CONTROLLER_PORT";
    .include "\$CONFDIR/worker-controller.inc"
}
EOF
  cat >"$etc/override.d/options.inc" <<'EOF'
# No network: lookups go to a closed loopback port and fail at once.
dns {
    nameserver = ["127.0.0.1:1"];
    timeout = 0.1s;
    retransmits = 1;
}
EOF
  echo 'level = "warning";' >"$etc/override.d/logging.inc"
  local m
  # once_received looks up the sender's reverse DNS (RDNS_NONE and friends).
  for m in rbl surbl fuzzy_check spf dkim dmarc arc asn emails whitelist hfilter mx_check \
           once_received rspamd_update url_redirector dcc external_services antivirus; do
    echo "enabled = false;" >"$etc/override.d/$m.conf"
  done
  echo 'phishtank_enabled = false; openphish_enabled = false;' >"$etc/override.d/phishing.conf"
  cat >"$etc/local.d/classifier-bayes.conf" <<EOF
backend = "redis";
servers = "127.0.0.1:$REDIS_PORT";
EOF
}

# Waits until hs_helper has stopped writing compiled regexp databases (the workers load them
# a second after), at most $1 seconds.
rspamd_wait_hyperscan() {
  local limit=$1 i prev=-1 n stable=0
  for ((i = 0; i < limit; i++)); do
    n=$(find "$RSPAMD_DIR/db" -maxdepth 1 -name '*.hs*' 2>/dev/null | wc -l)
    if [ "$n" -gt 0 ] && [ "$n" -eq "$prev" ]; then
      stable=$((stable + 1))
      [ "$stable" -ge 4 ] && { sleep 2; return 0; }
    else
      stable=0
    fi
    prev=$n
    sleep 1
  done
  return 1
}

rspamd_start() {
  local vars=() v
  while read -r v; do vars+=("$v"); done < <(rspamd_vars)
  local cmd=(rspamd -f -c "$RSPAMD_DIR/etc/rspamd.conf" "${vars[@]}")
  # As root rspamd wants -u/-g for its workers; -i keeps them as the current user instead.
  [ "$(id -u)" = 0 ] && cmd+=(-i)

  local test_out
  if ! test_out=$(rspamadm "${vars[@]}" configtest -c "$RSPAMD_DIR/etc/rspamd.conf" 2>&1); then
    RSPAMD_STATUS="rspamadm configtest rejected $RSPAMD_DIR/etc/rspamd.conf: $(echo "$test_out" | tail -3 | tr '\n' ' ')"
    return 1
  fi

  redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no \
    --daemonize no --dir "$RSPAMD_DIR/run" --logfile "$RSPAMD_DIR/log/redis.log" &
  REDIS_PID=$!
  local i
  for ((i = 0; i < 50; i++)); do
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG && break
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.2
  done
  if ! redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then
    RSPAMD_STATUS="redis-server did not start on 127.0.0.1:$REDIS_PORT (see $RSPAMD_DIR/log/redis.log)"
    return 1
  fi

  echo "starting rspamd: ${cmd[*]}"
  "${cmd[@]}" >"$RSPAMD_DIR/log/stdout.log" 2>&1 &
  RSPAMD_PID=$!
  if ! python3 scripts/loadtest/prepare.py wait-http "http://127.0.0.1:$RSPAMD_PORT/ping" 180 \
         --pid "$RSPAMD_PID" --expect-body pong ||
     ! python3 scripts/loadtest/prepare.py wait-http "http://127.0.0.1:$RSPAMD_CONTROLLER_PORT/ping" 60 \
         --pid "$RSPAMD_PID" --expect-body pong; then
    RSPAMD_STATUS="rspamd did not answer /ping on 127.0.0.1:$RSPAMD_PORT ($(tail -c 300 "$RSPAMD_DIR/log/stdout.log" "$RSPAMD_DIR/log/rspamd.log" 2>/dev/null | tr '\n' ' '))"
    return 1
  fi
}

# Trains Bayes on the train split through the controller; sets RSPAMD_TRAINED.
rspamd_train() {
  local jsonl=$1 dir="$RSPAMD_DIR/train" label out ok
  RSPAMD_TRAINED=""
  if [ ! -f "$dir/.complete" ] || [ "$jsonl" -nt "$dir/.complete" ]; then
    rm -rf "$dir"
    python3 scripts/loadtest/prepare.py eml-dirs "$jsonl" "$dir" >/dev/null || return 1
    touch "$dir/.complete"
  fi
  for label in spam ham; do
    out="$RSPAMD_DIR/log/learn_$label.log"
    run_bg rspamc -h "127.0.0.1:$RSPAMD_CONTROLLER_PORT" -n 8 -t 60 "learn_$label" "$dir/$label" >"$out" 2>&1 || true
    ok=$(grep -c 'success = true' "$out" || true)
    echo "  learn_$label: $ok of $(find "$dir/$label" -name '*.eml' | wc -l) messages learned" \
         "($(grep -c 'already learned\|learn conditions denied' "$out" || true) skipped by rspamd's" \
         "learn conditions: already learned, or already classified with confidence)"
  done
  local learns
  learns=$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" hmget RS learns_spam learns_ham 2>/dev/null | tr '\n' ' ')
  learns=${learns% }
  RSPAMD_TRAINED="Bayes in redis, learns (spam ham): $learns"
  echo "  $RSPAMD_TRAINED"
  set -- $learns
  if [ "${1:-0}" -lt 200 ] 2>/dev/null || [ "${2:-0}" -lt 200 ] 2>/dev/null; then
    echo "  note: fewer than 200 learns of a class (min_learns): rspamd's Bayes will not score"
  fi
}

rspamd_stop() {
  stop_process "$RSPAMD_PID" rspamd
  RSPAMD_PID=""
  stop_process "$REDIS_PID" redis-server
  REDIS_PID=""
}
