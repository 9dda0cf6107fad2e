#!/usr/bin/env bash
# Real-browser tests: starts the relay binary on free loopback ports with its own state directory,
# runs tests/browser/meeting.test.mjs (node:test, Debian chromium via playwright-core), stops the
# relay. Exit status: 0 when every scenario passed. The run is capped at 9 minutes (ctest allows 10).
#
#   tests/browser/run.sh BIN            on this host's loopback
#   tests/browser/run.sh BIN --netns    inside a new network namespace that has only `lo` (root)
#
# Needs /usr/bin/chromium (or $LEGATION_CHROMIUM), node >= 18 and tests/browser/node_modules
# (`npm ci` in tests/browser; scripts/dev.sh test installs all three).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)

die() { echo "browser tests: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: tests/browser/run.sh LEGATION_BINARY [--netns]"
BIN=$(realpath -e "$1" 2>/dev/null) || die "relay binary '$1' not found"
shift
NETNS=0
for arg in "$@"; do
  case $arg in
    --netns) NETNS=1 ;;
    *) die "unknown option '$arg' (usage: tests/browser/run.sh LEGATION_BINARY [--netns])" ;;
  esac
done

# --- prerequisites, with what to do when one is missing -------------------------------------
CHROMIUM=${LEGATION_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || die "$CHROMIUM is missing: install Debian's chromium (apt-get install chromium; bash scripts/dev.sh test does it)"
command -v node >/dev/null || die "node is missing: apt-get install nodejs npm (bash scripts/dev.sh test does it)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 18 ] || die "node $(node --version) is too old: playwright-core 1.57 needs node >= 18"
if [ ! -f "$HERE/node_modules/playwright-core/package.json" ]; then
  [ "${LEGATION_IN_NETNS:-0}" = 1 ] && die "tests/browser/node_modules is missing (run npm ci in tests/browser)"
  command -v npm >/dev/null || die "tests/browser/node_modules is missing and npm is not installed"
  echo "browser tests: installing playwright-core (npm ci in tests/browser)"
  (cd "$HERE" && npm ci --no-audit --no-fund >/dev/null) || die "npm ci in tests/browser failed"
fi

# --- an isolated network: re-run this script in a namespace with only lo --------------------
if [ "$NETNS" = 1 ] && [ "${LEGATION_IN_NETNS:-0}" != 1 ]; then
  command -v unshare >/dev/null || die "--netns needs unshare (util-linux)"
  unshare -n true 2>/dev/null || die "--netns needs root (or CAP_SYS_ADMIN) to create a network namespace; run without --netns to use this host's loopback (ctest: configure with -DLEGATION_BROWSER_TESTS=OFF to skip)"
  exec unshare -n -- env LEGATION_IN_NETNS=1 bash "${BASH_SOURCE[0]}" "$BIN" --netns
fi
if [ "${LEGATION_IN_NETNS:-0}" = 1 ]; then
  command -v ip >/dev/null || die "--netns needs ip (iproute2) to bring up lo"
  ip link set lo up
  echo "browser tests: in a network namespace with only: $(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')"
fi

# --- the relay ------------------------------------------------------------------------------
WORK=$(mktemp -d "${TMPDIR:-/tmp}/legation-browser.XXXXXX")
STATE=$WORK/state
PID_FILE=$WORK/relay.pid
LOG=$WORK/relay.log
: >"$PID_FILE"
: >"$LOG"

stop_relay() {
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null || true)
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  stop_relay
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

relay_args() { # the same arguments for every (re)start: lib/relay.mjs relayArgs() mirrors them
  echo --state-dir "$STATE" --listen "127.0.0.1:$HTTP_PORT" --media-port "$MEDIA_PORT" \
    --workers 1 --web-root "$ROOT/signaling/web" --log-level info
}

started=0
for _ in $(seq 1 20); do
  HTTP_PORT=$((20000 + RANDOM % 20000))
  MEDIA_PORT=$((40001 + RANDOM % 20000))
  # shellcheck disable=SC2046 # the arguments have no spaces (mktemp path, numbers)
  "$BIN" $(relay_args) >>"$LOG" 2>&1 &
  echo $! >"$PID_FILE"
  for _ in $(seq 1 150); do # up to 15 s
    grep -q 'Legation is running' "$LOG" && { started=1; break; }
    kill -0 "$(cat "$PID_FILE")" 2>/dev/null || break
    sleep 0.1
  done
  [ "$started" = 1 ] && break
  wait "$(cat "$PID_FILE")" 2>/dev/null || true
  grep -q 'cannot bind\|cannot listen' "$LOG" || { cat "$LOG" >&2; die "the relay did not start"; }
  : >"$LOG"
done
[ "$started" = 1 ] || die "no free ports for the relay after 20 attempts"
echo "browser tests: relay $BIN on https://127.0.0.1:$HTTP_PORT/ (media port $MEDIA_PORT), state $STATE"

# --- the tests ------------------------------------------------------------------------------
export LEGATION_BIN=$BIN LEGATION_STATE_DIR=$STATE LEGATION_HTTP_PORT=$HTTP_PORT \
  LEGATION_MEDIA_PORT=$MEDIA_PORT LEGATION_WEB_ROOT=$ROOT/signaling/web \
  LEGATION_RELAY_PID_FILE=$PID_FILE LEGATION_RELAY_LOG=$LOG LEGATION_CHROMIUM=$CHROMIUM \
  LEGATION_ARTIFACTS=${LEGATION_ARTIFACTS:-$HERE/artifacts}
rc=0
# LEGATION_BROWSER_ONLY=REGEX runs only the scenarios whose names match (node --test-name-pattern).
ONLY=()
[ -n "${LEGATION_BROWSER_ONLY:-}" ] && ONLY=(--test-name-pattern="$LEGATION_BROWSER_ONLY")
(cd "$HERE" && timeout --kill-after=10 540 node --test --test-reporter=spec "${ONLY[@]}" meeting.test.mjs) || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "browser tests: FAILED (exit $rc); relay log tail:" >&2
  tail -n 40 "$LOG" | sed 's/^/  relay: /' >&2
fi
if grep -q 'Sanitizer' "$LOG"; then
  echo "browser tests: the relay reported a sanitizer error" >&2
  rc=1
fi
exit "$rc"
