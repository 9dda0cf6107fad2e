#!/usr/bin/env bash
# The relay as an operator runs it: first run generates certificates, sockets are bound, HTTPS
# serves /healthz and /metrics, garbage on the media port is counted, SIGTERM/SIGINT exit 0.
set -euo pipefail
BIN=$1
TMP=$(mktemp -d)
trap 'kill -9 ${PID:-0} 2>/dev/null || true; rm -rf "$TMP"' EXIT
source "$(dirname "$0")/lib.sh"
STATE=$TMP/state

start_relay "$BIN" "$STATE" --workers 2 --stats-interval 100
grep -q "https://localhost:$HTTP_PORT/" "$OUT" || fail "no URL printed"

# Sockets: TCP for HTTPS, one UDP port per worker.
ss -Hltn "sport = :$HTTP_PORT" | grep -q LISTEN || fail "HTTPS port $HTTP_PORT not listening"
for p in "$MEDIA_PORT" $((MEDIA_PORT + 1)); do
  ss -Hlun "sport = :$p" | grep -q "127.0.0.1:$p" || fail "UDP $p not bound"
done
ss -Hlun "sport = :$((MEDIA_PORT + 2))" | grep -q . && fail "a third worker port is bound"

# Certificates generated, keys private.
for f in dtls-cert.pem dtls-key.pem tls-cert.pem tls-key.pem; do [ -s "$STATE/$f" ] || fail "$f missing"; done
[ "$(stat -c %a "$STATE/dtls-key.pem")" = 600 ] || fail "dtls-key.pem not 0600"
[ "$(stat -c %a "$STATE/tls-key.pem")" = 600 ] || fail "tls-key.pem not 0600"

# HTTPS only, with the generated certificate.
[ "$(curl -sS --cacert "$STATE/tls-cert.pem" "https://localhost:$HTTP_PORT/healthz")" = ok ] ||
  fail "/healthz did not answer ok over verified TLS"
curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/healthz" && fail "plain HTTP was answered"

# Garbage on worker 1's port is counted there, as unknown_protocol.
printf '\xff\xfe\xfd' >/dev/udp/127.0.0.1/$((MEDIA_PORT + 1))
printf '\x00\x01\x00' >/dev/udp/127.0.0.1/$((MEDIA_PORT + 1))
metric() { curl -sk "https://127.0.0.1:$HTTP_PORT/metrics" | grep -F "$1" | awk '{print $2}'; }
for _ in $(seq 1 50); do
  [ "$(metric 'legation_packets_received_total{worker="1"}')" = 2 ] && break; sleep 0.1
done
[ "$(metric 'legation_packets_received_total{worker="1"}')" = 2 ] || fail "worker 1 did not count 2 packets"
[ "$(metric 'legation_packets_dropped_total{worker="1",reason="unknown_protocol"}')" = 1 ] || fail "unknown_protocol drop not counted"
[ "$(metric 'legation_packets_dropped_total{worker="1",reason="stun_malformed"}')" = 1 ] || fail "stun_malformed drop not counted"
[ "$(metric 'legation_packets_received_total{worker="0"}')" = 0 ] || fail "worker 0 counted packets it never got"
FP1=$(grep -o 'sha-256 [0-9A-F:]*' "$ERR" | head -1)
stop_relay TERM

# Second run reloads the same certificates; SIGINT also stops it cleanly.
start_relay "$BIN" "$STATE" --workers 1
FP2=$(grep -o 'sha-256 [0-9A-F:]*' "$ERR" | head -1)
[ -n "$FP1" ] && [ "$FP1" = "$FP2" ] || fail "fingerprint changed across restarts ($FP1 / $FP2)"
stop_relay INT
echo "lifecycle: ok"
