#!/usr/bin/env bash
# The command line: help, version, errors that name the key or line (exit 2), `legation cert`,
# startup failures that name their cause (exit 1) without touching existing files.
set -euo pipefail
BIN=$1
TMP=$(mktemp -d)
trap 'kill -9 ${PID:-0} 2>/dev/null || true; rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib.sh"

expect() { # expect CODE PATTERN -- ARGS...: exit code and a stderr/stdout pattern
  local code=$1 pat=$2; shift 3
  local rc=0; "$BIN" "$@" >"$TMP/o" 2>&1 || rc=$?
  [ "$rc" -eq "$code" ] || { cat "$TMP/o" >&2; fail "legation $*: exit $rc, expected $code"; }
  grep -qE -- "$pat" "$TMP/o" || { cat "$TMP/o" >&2; fail "legation $*: output lacks /$pat/"; }
}

expect 0 'media-port' -- --help
expect 0 '^legation [0-9]+\.[0-9]+\.[0-9]+$' -- --version
expect 2 "option --workers: key 'workers'.*'many'" -- --workers many
expect 2 "unknown key 'bogus'" -- --bogus 1
expect 2 "unknown command 'frobnicate'" -- frobnicate
printf 'workers = 2\nlisten = 127.0.0.1:99999\n' >"$TMP/bad.conf"
expect 2 "line 2: key 'listen'" -- --config "$TMP/bad.conf"
expect 2 "no-such.conf" -- --config "$TMP/no-such.conf"

# legation cert generates on first use and prints what openssl computes.
FP=$("$BIN" cert --state-dir "$TMP/s1")
OSSL=$(openssl x509 -noout -fingerprint -sha256 -in "$TMP/s1/dtls-cert.pem" | sed 's/.*=//')
[ "$FP" = "sha-256 $OSSL" ] || fail "cert fingerprint '$FP' != openssl '$OSSL'"
[ "$("$BIN" cert --state-dir "$TMP/s1")" = "$FP" ] || fail "second cert run differs"

# A corrupt key is an error naming the file, and the file is left as it was.
printf 'garbage\n' >"$TMP/s1/dtls-key.pem"
expect 1 "dtls-key.pem" -- cert --state-dir "$TMP/s1"
[ "$(cat "$TMP/s1/dtls-key.pem")" = garbage ] || fail "corrupt key was overwritten"
expect 1 "dtls-key.pem" -- --state-dir "$TMP/s1" --listen 127.0.0.1:1 --media-port 45000

# A media port in use: exit 1 naming the address, and nothing left listening.
start_relay "$BIN" "$TMP/s2" --workers 1
expect 1 "cannot bind UDP 127.0.0.1 port $MEDIA_PORT" -- --state-dir "$TMP/s3" \
  --listen "127.0.0.1:$((HTTP_PORT + 1))" --media-port "$MEDIA_PORT" --workers 1
expect 1 "cannot listen on 127.0.0.1 port $HTTP_PORT" -- --state-dir "$TMP/s3" \
  --listen "127.0.0.1:$HTTP_PORT" --media-port "$((MEDIA_PORT + 7))" --workers 1
# Two relays on one state directory would interleave the audit chain: the second is refused.
expect 1 "audit.log: locked by another holder" -- --state-dir "$TMP/s2" \
  --listen "127.0.0.1:$((HTTP_PORT + 1))" --media-port "$((MEDIA_PORT + 7))" --workers 1
stop_relay TERM

# Tokens: a dev token for a room, and errors that name the flag.
URL=$("$BIN" token --state-dir "$TMP/s2" --room demo --name Ann --role participant --listen 127.0.0.1:9443)
[[ "$URL" == https://localhost:9443/#token=*.*.* ]] || fail "token link '$URL'"
# --e2ee puts "e2ee":true in the claims (and only then), and reminds to share the key apart.
claims() { # the payload, base64url without padding -> JSON
  local p; p=$(cut -d. -f2 <<<"$1" | tr '_-' '/+')
  while [ $((${#p} % 4)) -ne 0 ]; do p="$p="; done
  base64 -d <<<"$p"
}
TOK=$("$BIN" token --state-dir "$TMP/s2" --room sec --name Ann --role participant --e2ee --token-only)
[[ "$(claims "$TOK")" == *'"e2ee":true'* ]] || fail "--e2ee token claims: $(claims "$TOK")"
TOK=$("$BIN" token --state-dir "$TMP/s2" --room sec --name Ann --role participant --token-only)
[[ "$(claims "$TOK")" != *e2ee* ]] || fail "plain token has an e2ee claim: $(claims "$TOK")"
expect 0 "end-to-end encrypted: agree on a meeting key" -- token --state-dir "$TMP/s2" --room sec \
  --name Ann --role participant --e2ee
expect 2 "--role must be" -- token --state-dir "$TMP/s2" --room demo --name Ann --role king
expect 2 "--room, --name and --role are required" -- token --state-dir "$TMP/s2" --name Ann
expect 2 "not a duration" -- token --state-dir "$TMP/s2" --room d --name A --role observer --ttl soon
[ "$(stat -c %a "$TMP/s2/secret")" = 600 ] || fail "secret not 0600"

# The audit log written by the relay verifies; an edited copy names the broken line.
expect 0 "OK, [0-9]+ records" -- audit verify "$TMP/s2/audit.log"
echo "cli: ok"
