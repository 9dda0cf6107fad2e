#!/usr/bin/env bash
# The README's commands: `bash scripts/dev.sh run`, `... test` and `... bench`.
# Each installs what a fresh Debian 12 lacks (apt), builds, then runs the relay, every test, or
# the bench (Janus, gnuplot and iproute2 are installed by `bench` only).
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)

APT_BUILD=(build-essential cmake pkg-config git ca-certificates openssl curl iproute2
  libuv1-dev libssl-dev libsrtp2-dev libopus-dev libwebsockets-dev libwebsockets-evlib-uv
  libjansson-dev)
APT_BENCH=(janus gnuplot-nox iproute2)
APT_TEST=(libcmocka-dev clang libclang-rt-14-dev procps chromium)

log() { printf '\033[1m==> %s\033[0m\n' "$*"; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing ${missing[*]}"
  if [ "$(id -u)" -ne 0 ]; then
    echo "dev.sh: these Debian packages are missing and installing them needs root: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [cmake args...]
build() {
  local dir=$1; shift
  log "building $dir"
  cmake -S "$ROOT" -B "$ROOT/$dir" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
  cmake --build "$ROOT/$dir" -j "$JOBS" >/dev/null
}

cmd_run() {
  apt_install "${APT_BUILD[@]}"
  build build/release -DLEGATION_TESTS=OFF
  log "starting the relay (Ctrl-C stops it)"
  exec "$ROOT/build/release/legation" "$@"
}

# Node for the browser tests: Debian's nodejs + npm only when npm is missing (a NodeSource nodejs
# already has npm, and Debian's npm conflicts with it), then tests/browser's pinned packages.
browser_test_deps() {
  command -v npm >/dev/null || apt_install nodejs npm
  local dir=$ROOT/tests/browser want
  want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
  [ "$(cat "$dir/node_modules/.lockfile-sha256" 2>/dev/null)" = "$want" ] && return 0
  log "installing the browser tests' npm packages (npm ci in tests/browser)"
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$want" >"$dir/node_modules/.lockfile-sha256"
}

cmd_test() {
  apt_install "${APT_BUILD[@]}" "${APT_TEST[@]}"
  browser_test_deps
  # explicit: `run` and `bench` configure the same tree with the tests off
  build build/release -DLEGATION_TESTS=ON -DLEGATION_BROWSER_TESTS=ON
  log "tests: release build"
  ctest --test-dir "$ROOT/build/release" --output-on-failure --no-tests=error -j "$JOBS"
  log "tests: libFuzzer targets (clang, ${LEGATION_FUZZ_SECONDS:-10} s each)"
  build build/fuzz -DCMAKE_C_COMPILER=clang -DLEGATION_FUZZ=ON \
    -DLEGATION_FUZZ_SECONDS="${LEGATION_FUZZ_SECONDS:-10}"
  ctest --test-dir "$ROOT/build/fuzz" --output-on-failure --no-tests=error
  log "tests: sanitizer build (ASan + UBSan)"
  build build/asan -DCMAKE_BUILD_TYPE=Debug -DLEGATION_SANITIZE=ON -DLEGATION_TESTS=ON \
    -DLEGATION_BROWSER_TESTS=OFF
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$ROOT/build/asan" --output-on-failure --no-tests=error -j "$JOBS"
}

# The bench (docs/BENCHMARKS.md): Debian's Janus as the comparison peer, gnuplot for the plots.
cmd_bench() {
  apt_install "${APT_BUILD[@]}" "${APT_BENCH[@]}"
  # the package enables a janus.service on systemd hosts: its CPU would skew the figures
  if command -v systemctl >/dev/null && systemctl is-active --quiet janus 2>/dev/null; then
    log "stopping and disabling janus.service (the bench starts its own Janus)"
    systemctl disable --now janus >/dev/null 2>&1 || true
  fi
  build build/release -DLEGATION_TESTS=OFF
  log "bench (legation-bench $*)"
  exec "$ROOT/build/release/legation-bench" "$@"
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  bench) shift; cmd_bench "$@" ;;
  *) echo "usage: bash scripts/dev.sh run [legation flags...] | test | bench [--netns] [legation-bench flags...]" >&2; exit 2 ;;
esac
