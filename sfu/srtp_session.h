/* SRTP session for one transport: a libsrtp2 inbound and outbound context keyed from DTLS-SRTP,
 * protecting and unprotecting RTP and RTCP in place; outgoing RTP under AEAD_AES_128_GCM goes
 * through sfu/srtp_gcm (one keyed OpenSSL context) instead of libsrtp's per-packet NSS context,
 * and so does incoming RTP. */
#ifndef LG_SRTP_SESSION_H
#define LG_SRTP_SESSION_H

/*
 * Contract
 * --------
 * srtp_global_init() runs libsrtp's srtp_init() once per process (any thread, any number of
 * times). srtp_session_init() calls it too.
 *
 * A srtp_session_t is caller-owned (embed it in the transport) and used by one thread at a time:
 * the worker that owns the transport. Sessions on different threads are independent. Creating a
 * session allocates (inside libsrtp); so does the first packet of each new SSRC in either
 * direction. Protecting and unprotecting allocate nothing here and never log.
 *
 * Policy: the profile from DTLS (AEAD_AES_128_GCM with a 16-byte tag, RFC 7714, or
 * AES_CM_128_HMAC_SHA1_80, RFC 3711) for both RTP and RTCP; any SSRC (ssrc_any_inbound for what
 * the peer sends, ssrc_any_outbound for what we send; under GCM srtp_gcm's per-SSRC indexes and
 * replay windows for RTP, byte-identical to libsrtp); replay protection on with a 1024-packet
 * window for SRTP (libsrtp's fixed 128 for SRTCP). Sending the same RTP index twice is refused
 * (LG_EREUSE) unless the caller marks a verified identical resend (protect_rtp_resend): by
 * srtp_gcm under GCM, and under AES-CM by srtp_gcm's index bookkeeping in front of libsrtp (whose
 * outbound context keeps allow_repeat_tx on, as it cannot tell the two calls apart). For SSRCs
 * past srtp_gcm's table (SRTP_GCM_MAX_STREAMS) only the caller's identical-resend rule
 * (media/send_history.h) guards.
 *
 * Buffers: everything happens in place in buf[0..*len). Protect appends the authentication tag
 * (16 bytes GCM, 10 AES-CM) and for RTCP also the 4-byte E|SRTCP index, but libsrtp documents
 * that it may use up to SRTP_MAX_TRAILER_LEN bytes past the packet, so the protect functions
 * require cap - *len >= SRTP_SESSION_MAX_OVERHEAD. Size send slots as packet + that.
 *
 * Errors: 0 or a negative LG_E* code, which srtp_session_reason() folds into a counter reason:
 *   LG_EINTEGRITY  auth_fail:   authentication tag does not match (tampered, wrong key)
 *   LG_EREPLAY, LG_EREUSE
 *                  replay_fail: duplicate, or older than the replay window; sending: an index
 *                               already protected, and not a verified resend
 *   LG_EINVAL, LG_ENOSPC, LG_EMALFORMED
 *                  bad_param:   NULL/uninitialised argument, no room for the trailer, packet
 *                               too short or malformed
 *   LG_ECRYPTO (and anything else)  other: libsrtp failure (cipher, key expired...)
 * On any error the buffer content is unspecified and *len unchanged.
 */

#include <stddef.h>
#include <stdint.h>

#include <srtp2/srtp.h>

#include "sfu/dtls.h"
#include "sfu/srtp_gcm.h"

/* Room to leave after a packet for srtp_session_protect_*: libsrtp's worst-case trailer
 * (tag + MKI) plus the SRTCP index. */
#define SRTP_SESSION_MAX_OVERHEAD  (SRTP_MAX_TRAILER_LEN + 4)
#define SRTP_SESSION_REPLAY_WINDOW 1024

typedef enum {
    SRTP_SESSION_OK,
    SRTP_SESSION_AUTH_FAIL,
    SRTP_SESSION_REPLAY_FAIL,
    SRTP_SESSION_BAD_PARAM,
    SRTP_SESSION_OTHER,
    SRTP_SESSION_REASON_COUNT
} srtp_session_reason_t;

/* Caller-owned; every field but `data` is private. Zeroed means "no session". */
typedef struct {
    void *data;           /* free for the caller */
    srtp_t inbound;       /* remote key: unprotects what the peer sends */
    srtp_t outbound;      /* local key: protects what we send */
    srtp_gcm_tx_t gcm_tx; /* local key, AEAD_AES_128_GCM: protects the RTP we send */
    srtp_gcm_rx_t gcm_rx; /* remote key, AEAD_AES_128_GCM: unprotects the RTP the peer sends */
    dtls_srtp_profile_t profile;
} srtp_session_t;

/* Initialises libsrtp once per process; thread-safe. Returns 0 or LG_ECRYPTO (every later call
 * returns the same result). */
int srtp_global_init(void);

/* Keys a session from a finished DTLS handshake (see dtls_srtp_keys_t; the keys may be wiped once
 * this returns). Returns 0, LG_EINVAL (NULL, key/salt lengths that do not fit the profile),
 * LG_EUNSUPPORTED (unknown profile), LG_ENOMEM or LG_ECRYPTO; on error *s holds nothing to free. */
int srtp_session_init(srtp_session_t *s, const dtls_srtp_keys_t *keys);

/* Frees both libsrtp contexts and zeroes *s. Safe on a zeroed or already freed struct. */
void srtp_session_free(srtp_session_t *s);

/* RTP packet in buf[0..*len) -> SRTP in place; *len grows by the tag. Needs
 * cap - *len >= SRTP_SESSION_MAX_OVERHEAD. Under GCM an index (SSRC, ROC, SEQ) already protected
 * is refused with LG_EREUSE: a second send of a sequence number goes through
 * srtp_session_protect_rtp_resend(); the same under AES-CM (keystream reuse). */
int srtp_session_protect_rtp(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);

/* The same for a resend in the original stream that the caller verified to be byte-identical to
 * the first protect of its SSRC and sequence number (media/send_history.h): identical plaintext
 * under one index gives identical SRTP and reveals nothing. Anything else under a used index is
 * nonce reuse (GCM) or keystream reuse (AES-CM) and must never reach this call. */
int srtp_session_protect_rtp_resend(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);

/* SRTP packet -> RTP in place; *len shrinks. Authenticates and checks replay first. */
int srtp_session_unprotect_rtp(srtp_session_t *s, uint8_t *buf, size_t *len);

/* RTCP compound packet -> SRTCP in place (encrypted, E bit set). Same room as RTP. */
int srtp_session_protect_rtcp(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap);

/* SRTCP -> RTCP in place. */
int srtp_session_unprotect_rtcp(srtp_session_t *s, uint8_t *buf, size_t *len);

/* Folds a return code of the functions above into a counter reason. */
srtp_session_reason_t srtp_session_reason(int rc);

/* "ok", "auth_fail", "replay_fail", "bad_param", "other": static, never NULL. */
const char *srtp_session_reason_str(srtp_session_reason_t reason);

#endif
