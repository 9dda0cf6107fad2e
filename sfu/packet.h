/* The media path's entry point: every datagram (UDP) or frame (ICE-TCP) a worker receives goes
 * through lg_packet_in, which demultiplexes it (RFC 7983) and hands it to its transport, or drops
 * and counts it. */
#ifndef LG_PACKET_H
#define LG_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/transport.h"

struct lg_worker;

/* Handles one packet on the worker thread. `data` is writable (SRTP decrypts in place) and only
 * valid during the call. Never allocates, logs or blocks. Drops, by reason:
 *   not STUN/DTLS/RTP                          -> unknown_protocol
 *   STUN that does not parse                   -> stun_malformed
 *   STUN without a valid FINGERPRINT           -> stun_bad_fingerprint
 *   Binding request: unknown ufrag / wrong remote ufrag / bad MESSAGE-INTEGRITY
 *                                              -> stun_unknown_user / stun_wrong_ufrag /
 *                                                 stun_bad_integrity (never answered)
 *   STUN that is not a Binding request         -> stun_unexpected (a lite agent sends none)
 *   DTLS/RTP/RTCP from a path no ICE check validated -> unknown_source
 * and, inside the transport, dtls_rejected, media_before_keys, srtp_auth_fail, srtp_replay. */
void lg_packet_in(struct lg_worker *w, const lg_path_t *path, uint8_t *data, size_t len);

#endif
