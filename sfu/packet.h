/* The media path's entry point: every datagram a worker receives goes through lg_packet_in, which
 * demultiplexes it (RFC 7983) and either hands it to its transport or drops and counts it. */
#ifndef LG_PACKET_H
#define LG_PACKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "sfu/counters.h"

/* Handles one datagram on the worker thread. `data` is writable (decryption works in place) and
 * only valid during the call. Never allocates, logs or blocks. Until transports exist on the
 * worker (ICE-lite, issue 5) every packet ends as a counted drop:
 *   not STUN/DTLS/RTP       -> unknown_protocol
 *   STUN that does not parse -> stun_malformed; no or bad FINGERPRINT -> stun_bad_fingerprint
 *   Binding request          -> stun_unknown_user (no transport owns its USERNAME)
 *   other STUN               -> stun_unexpected (an ICE-lite agent sends no requests)
 *   DTLS/RTP/RTCP            -> unknown_source (no transport owns the 5-tuple) */
void lg_packet_in(lg_counters_t *c, uint8_t *data, size_t len, const struct sockaddr *from,
                  socklen_t fromlen);

#endif
