# Helpers for the process tests: start the real legation binary on free ports and stop it.
# Usage: source lib.sh; start_relay BIN STATE_DIR [flags...]; sets PID HTTP_PORT MEDIA_PORT OUT ERR.
TMP=${TMP:-$(mktemp -d)}
fail() { echo "FAIL: $*" >&2; [ -f "${ERR:-/dev/null}" ] && sed 's/^/  relay stderr: /' "$ERR" >&2; exit 1; }

start_relay() {
  local bin=$1 state=$2; shift 2
  for attempt in $(seq 1 20); do
    HTTP_PORT=$((20000 + RANDOM % 20000)); MEDIA_PORT=$((40001 + RANDOM % 20000))
    OUT=$TMP/out.$attempt; ERR=$TMP/err.$attempt
    "$bin" --state-dir "$state" --listen "127.0.0.1:$HTTP_PORT" --media-port "$MEDIA_PORT" \
      "$@" >"$OUT" 2>"$ERR" &
    PID=$!
    for _ in $(seq 1 100); do   # up to 10 s (the sanitizer build starts slowly)
      grep -q 'Legation is running' "$OUT" 2>/dev/null && return 0
      kill -0 "$PID" 2>/dev/null || break
      sleep 0.1
    done
    wait "$PID" 2>/dev/null || true
    grep -q 'cannot bind\|cannot listen' "$ERR" || fail "relay did not start"
  done
  fail "no free ports after 20 attempts"
}

# stop_relay SIGNAL: sends it, requires exit 0 within 2 s and a clean sanitizer report.
stop_relay() {
  local sig=$1 t0 t1
  t0=$(date +%s%N)
  kill "-$sig" "$PID"
  for _ in $(seq 1 40); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$PID" 2>/dev/null && { kill -9 "$PID"; fail "still running 2 s after SIG$sig"; }
  local rc=0; wait "$PID" || rc=$?
  t1=$(date +%s%N)
  [ "$rc" -eq 0 ] || fail "exit code $rc after SIG$sig"
  ! grep -q 'Sanitizer' "$ERR" || fail "sanitizer report after SIG$sig"
  echo "stopped by SIG$sig in $(( (t1 - t0) / 1000000 )) ms, exit 0"
}
