#!/usr/bin/env bash
# The README's two commands: `bash scripts/dev.sh run` and `bash scripts/dev.sh test`.
# Each installs what a fresh Debian 12 lacks (apt), builds, then runs the relay or every test.
# Idempotent: a second run installs nothing and rebuilds only what changed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
JOBS=$(nproc 2>/dev/null || echo 2)

APT_BUILD=(build-essential cmake pkg-config git ca-certificates openssl curl iproute2
  libuv1-dev libssl-dev libsrtp2-dev libopus-dev libwebsockets-dev libwebsockets-evlib-uv
  libjansson-dev)
APT_TEST=(libcmocka-dev clang libclang-rt-14-dev procps)

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

cmd_test() {
  apt_install "${APT_BUILD[@]}" "${APT_TEST[@]}"
  build build/release
  log "tests: release build"
  ctest --test-dir "$ROOT/build/release" --output-on-failure -j "$JOBS"
  log "tests: libFuzzer targets (clang, ${LEGATION_FUZZ_SECONDS:-10} s each)"
  build build/fuzz -DCMAKE_C_COMPILER=clang -DLEGATION_FUZZ=ON \
    -DLEGATION_FUZZ_SECONDS="${LEGATION_FUZZ_SECONDS:-10}"
  ctest --test-dir "$ROOT/build/fuzz" --output-on-failure
  log "tests: sanitizer build (ASan + UBSan)"
  build build/asan -DCMAKE_BUILD_TYPE=Debug -DLEGATION_SANITIZE=ON
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir "$ROOT/build/asan" --output-on-failure -j "$JOBS"
}

case "${1:-}" in
  run) shift; cmd_run "$@" ;;
  test) shift; cmd_test "$@" ;;
  *) echo "usage: bash scripts/dev.sh run [legation flags...] | test" >&2; exit 2 ;;
esac
