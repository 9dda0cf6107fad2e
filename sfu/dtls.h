/* DTLS-SRTP for one transport (RFC 5763, RFC 5764): a DTLS 1.2 handshake over OpenSSL memory BIOs
 * that ends with SRTP keys, bound to the peer certificate's fingerprint from its SDP. */
#ifndef LG_DTLS_H
#define LG_DTLS_H

/*
 * Contract
 * --------
 * No sockets, no libuv, no threads, no logging. The worker hands every received DTLS datagram
 * (first byte 20..63, RFC 7983) to dtls_feed(); every datagram the session wants to send comes
 * out through the `send` callback, synchronously, from inside the call that produced it.
 *
 * Roles: a dtls_ctx_t is built for one role. The relay is always the DTLS server (a=setup:passive);
 * the client role exists for tests, the load generator and relay legs.
 *
 * Ownership and threading: a dtls_ctx_t belongs to one worker and must outlive its sessions. A
 * dtls_session_t is a caller-owned struct (embed it in the transport) used by one thread at a
 * time. Callbacks run on that thread, inside dtls_session_start(), dtls_feed(), dtls_on_timeout()
 * or dtls_session_close(); they must not call dtls_session_free() or dtls_feed() on the same
 * session (record what happened and act after the call returns).
 *
 * Output: OpenSSL 3.0 has no datagram memory BIO (BIO_s_dgram_pair came in 3.2), so the write
 * side is a BIO_s_mem. OpenSSL sizes each handshake record to the MTU (DTLS_set_link_mtu with
 * SSL_OP_NO_QUERY_MTU); after each call this module walks the records in the BIO and packs
 * consecutive whole records into datagrams of at most `mtu` bytes, one `send` per datagram,
 * straight from the BIO's memory (no copy). A record is never split across datagrams.
 *
 * Input: each datagram is checked to be a sequence of whole DTLS 1.0/1.2 records
 * (dtls_datagram_check()) before OpenSSL sees it; anything else is refused with an error and
 * changes nothing (a spoofed datagram cannot fail the session). OpenSSL reassembles handshake
 * messages fragmented over several datagrams, in any order (browsers' ~1.4 kB ClientHello arrives
 * as two fragments) and silently drops records it cannot authenticate once keys are in use.
 *
 * Handshake end: the peer certificate is checked FIRST against the fingerprint given with
 * dtls_set_remote_fingerprint() (any self-signed certificate is accepted during the handshake;
 * this check is what binds it to the signaling). On a mismatch, or with no fingerprint set, the
 * session fails with DTLS_REASON_FINGERPRINT and no key is exported: a server also discards its
 * final flight. Then the negotiated SRTP profile is checked, then the keys are exported
 * ("EXTRACTOR-dtls_srtp", RFC 5764 4.2) and given to the `connected` callback.
 *
 * Retransmission: OpenSSL keeps the timer; the caller arms a one-shot uv timer after every call
 * into the session (dtls_session_start, dtls_feed, dtls_on_timeout):
 *
 *     static void dtls_arm(transport_t *t)
 *     {
 *         int64_t ms = dtls_next_timeout_ms(&t->dtls);
 *         if (ms < 0)
 *             uv_timer_stop(&t->dtls_timer);
 *         else
 *             uv_timer_start(&t->dtls_timer, on_dtls_timer, (uint64_t)ms, 0);
 *     }
 *     static void on_dtls_timer(uv_timer_t *h)
 *     {
 *         transport_t *t = h->data;
 *         dtls_on_timeout(&t->dtls);
 *         dtls_arm(t);
 *     }
 *
 * The first timeout is opts.initial_timeout_ms, doubling up to opts.max_timeout_ms; OpenSSL gives
 * up after 12 retransmissions of a flight and the session fails with DTLS_REASON_TIMEOUT (about
 * 87 s with the defaults; ICE consent usually closes a dead path sooner).
 *
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h). This module counts nothing: the caller
 * counts drops by the returned code and failures by dtls_session_reason().
 */

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "certs/certs.h"

#define DTLS_DEFAULT_MTU                1200 /* bytes of DTLS per UDP datagram */
#define DTLS_MIN_MTU                    256  /* OpenSSL's smallest link MTU */
#define DTLS_MAX_MTU                    16384
#define DTLS_DEFAULT_INITIAL_TIMEOUT_MS 1000 /* RFC 6347 4.2.4.1 */
#define DTLS_MIN_TIMEOUT_MS             50   /* OpenSSL fires a timer within 15 ms of expiry */
#define DTLS_DEFAULT_MAX_TIMEOUT_MS     8000
#define DTLS_RECORD_HEADER_SIZE         13
/* SRTP profiles offered (client) or accepted (server), most preferred first. The server's order
 * decides: browsers list AES128_CM_SHA1_80 first, and get AEAD_AES_128_GCM from us. */
#define DTLS_DEFAULT_SRTP_PROFILES "SRTP_AEAD_AES_128_GCM:SRTP_AES128_CM_SHA1_80"

/* SRTP protection profiles this module can key, by IANA id (RFC 5764 4.1.2, RFC 7714 14.2). */
typedef enum {
    DTLS_SRTP_NONE = 0,
    DTLS_SRTP_AES128_CM_SHA1_80 = 0x0001, /* AES_CM_128_HMAC_SHA1_80: key 16, salt 14 */
    DTLS_SRTP_AEAD_AES_128_GCM = 0x0007   /* AEAD_AES_128_GCM: key 16, salt 12 */
} dtls_srtp_profile_t;

#define DTLS_SRTP_KEY_LEN        16
#define DTLS_SRTP_MAX_SALT_LEN   14
#define DTLS_SRTP_MAX_MASTER_LEN (DTLS_SRTP_KEY_LEN + DTLS_SRTP_MAX_SALT_LEN)

/* SRTP master keys from a finished handshake. `local` protects what we send, `remote` unprotects
 * what the peer sends; each is master key followed by master salt (key_len + salt_len bytes), the
 * layout libsrtp's srtp_policy_t.key expects. Valid only during the `connected` callback (the
 * session wipes it afterwards): copy it or key the SRTP session there. */
typedef struct {
    dtls_srtp_profile_t profile;
    size_t key_len;  /* 16 */
    size_t salt_len; /* 14 (AES-CM) or 12 (GCM) */
    uint8_t local[DTLS_SRTP_MAX_MASTER_LEN];
    uint8_t remote[DTLS_SRTP_MAX_MASTER_LEN];
} dtls_srtp_keys_t;

typedef enum {
    DTLS_STATE_NEW,        /* initialised, nothing sent or received */
    DTLS_STATE_CONNECTING, /* handshake under way */
    DTLS_STATE_CONNECTED,  /* keys delivered */
    DTLS_STATE_FAILED,     /* see dtls_session_reason(); final */
    DTLS_STATE_CLOSED      /* close_notify sent or received, or closed locally; final */
} dtls_state_t;

/* Why a session is FAILED or CLOSED (DTLS_REASON_NONE otherwise, and after a local close). */
typedef enum {
    DTLS_REASON_NONE,
    DTLS_REASON_HANDSHAKE,   /* protocol error: bad message, no shared cipher, alert during the
                                handshake, or a fatal error we raised afterwards */
    DTLS_REASON_FINGERPRINT, /* peer certificate does not match the SDP fingerprint (or none set) */
    DTLS_REASON_NO_SRTP,     /* no SRTP profile both sides support */
    DTLS_REASON_TIMEOUT,     /* the peer stopped answering during the handshake */
    DTLS_REASON_PEER_CLOSED, /* the peer sent close_notify, or a fatal alert once connected */
    DTLS_REASON_COUNT
} dtls_reason_t;

/* Tunables; a zero field (or a NULL opts) takes the default. */
typedef struct {
    unsigned mtu;                /* DTLS_MIN_MTU..DTLS_MAX_MTU; default DTLS_DEFAULT_MTU */
    unsigned initial_timeout_ms; /* default DTLS_DEFAULT_INITIAL_TIMEOUT_MS; at least
                                    DTLS_MIN_TIMEOUT_MS (smaller values are raised) */
    unsigned max_timeout_ms;     /* default DTLS_DEFAULT_MAX_TIMEOUT_MS (raised to initial) */
    const char *srtp_profiles;   /* OpenSSL names, preferred first; default
                                    DTLS_DEFAULT_SRTP_PROFILES. A profile this module cannot key
                                    (e.g. SRTP_AEAD_AES_256_GCM), if chosen, fails the session
                                    with DTLS_REASON_NO_SRTP. */
} dtls_ctx_opts_t;

/* One SSL_CTX and its settings; opaque. */
typedef struct dtls_ctx dtls_ctx_t;

typedef struct {
    /* Required: one outgoing datagram, valid only during the call. */
    void (*send)(void *ctx, const uint8_t *p, size_t len);
    /* Required: the handshake finished and the fingerprint matched; state is CONNECTED. */
    void (*connected)(void *ctx, const dtls_srtp_keys_t *keys);
    /* Optional: every state change, after `connected` for CONNECTED. */
    void (*state_changed)(void *ctx, dtls_state_t state, dtls_reason_t reason);
    void *ctx;
} dtls_callbacks_t;

/* Per-transport session. Caller-owned; every field but `data` is private. */
typedef struct dtls_session {
    void *data; /* free for the caller */
    SSL *ssl;
    BIO *rbio; /* owned by ssl */
    BIO *wbio; /* owned by ssl */
    const dtls_ctx_t *ctx;
    dtls_callbacks_t cb;
    dtls_state_t state;
    dtls_reason_t reason;
    int role_server;
    int peer_alert; /* last alert received: level << 8 | description, or -1 */
    char remote_fingerprint[LG_CERTS_FINGERPRINT_MAX];
    char detail[128];
} dtls_session_t;

/* Builds a DTLS 1.2-only SSL_CTX: ECDHE with AES-GCM (then ChaCha20) suites, ECDSA first; the
 * SRTP profiles; peer certificate required (any self-signed certificate passes the handshake; the
 * fingerprint check decides); no session resumption, tickets or renegotiation; read-ahead off;
 * the MTU fixed, never queried. The context takes its own references to cert and key.
 * Returns 0 and *out, or LG_EINVAL (NULL argument, MTU out of range), LG_EUNSUPPORTED (an SRTP
 * profile name OpenSSL does not know), LG_ECRYPTO (key does not match the certificate, other
 * OpenSSL failure) or LG_ENOMEM. Call on the worker's thread (or before it starts). */
int dtls_ctx_new(X509 *cert, EVP_PKEY *key, int role_server, const dtls_ctx_opts_t *opts,
                 dtls_ctx_t **out);

/* Frees the context. Every session made from it must be freed first. NULL is a no-op. */
void dtls_ctx_free(dtls_ctx_t *ctx);

/* Initialises *s in state NEW with the ctx's role. `cb->send` and `cb->connected` are required;
 * the callbacks struct is copied. Returns 0, LG_EINVAL, LG_ENOMEM or LG_ECRYPTO; on error *s
 * holds nothing to free (freeing it is still safe). */
int dtls_session_init(dtls_session_t *s, const dtls_ctx_t *ctx, const dtls_callbacks_t *cb);

/* Releases the session's OpenSSL objects and zeroes *s. Sends nothing (dtls_session_close()
 * first for a polite close). Safe on a zeroed or already freed struct. */
void dtls_session_free(dtls_session_t *s);

/* Sets the peer's SDP fingerprint ("sha-256 AB:CD:..", the a=fingerprint value) that the
 * certificate must match. Must be set before the handshake finishes. Returns 0, LG_EINVAL (NULL,
 * no hash name followed by a space), LG_ENOSPC (too long) or LG_ESTATE (already connected). */
int dtls_set_remote_fingerprint(dtls_session_t *s, const char *sdp_fingerprint);

/* NEW -> CONNECTING. A client sends its ClientHello now; a server waits for one. dtls_feed()
 * starts a NEW session itself. Returns 0, LG_ESTATE (not NEW) or an error of dtls_feed(). */
int dtls_session_start(dtls_session_t *s);

/* Hands one received datagram to the session. Returns:
 *   0               processed (state may have changed: CONNECTED after `connected`, or CLOSED)
 *   LG_EINVAL       NULL argument
 *   LG_ETRUNC, LG_EMALFORMED  not whole DTLS records (dtls_datagram_check()); nothing changed
 *   LG_ESTATE       the session is FAILED or CLOSED; the datagram was ignored
 *   LG_EFINGERPRINT this datagram finished the handshake with a certificate that does not match
 *   LG_EUNSUPPORTED this datagram finished the handshake without a usable SRTP profile
 *   LG_ECRYPTO      the datagram made the session fail (DTLS_REASON_HANDSHAKE or PEER_CLOSED)
 *   LG_ENOMEM       out of memory; the datagram was dropped */
int dtls_feed(dtls_session_t *s, const uint8_t *in, size_t len);

/* Milliseconds until dtls_on_timeout() is due (0: now), or -1 when no timer is running (not
 * CONNECTING, or waiting for the peer's first flight). */
int64_t dtls_next_timeout_ms(dtls_session_t *s);

/* Retransmits the last flight if its timer expired (a no-op otherwise). Returns 0, or
 * LG_EEXPIRED when OpenSSL gave up: the session is then FAILED with DTLS_REASON_TIMEOUT. */
int dtls_on_timeout(dtls_session_t *s);

/* Closes the session: a CONNECTED one sends close_notify. State becomes CLOSED (reason NONE);
 * FAILED or CLOSED sessions are left alone. Returns 0 or LG_EINVAL. */
int dtls_session_close(dtls_session_t *s);

dtls_state_t dtls_session_state(const dtls_session_t *s);
dtls_reason_t dtls_session_reason(const dtls_session_t *s);

/* One line for a person about why the session failed ("peer sent fatal alert: bad certificate",
 * "OpenSSL: no shared cipher"), or "" while it has not. Valid until the session is freed. */
const char *dtls_session_detail(const dtls_session_t *s);

/* Checks that a datagram is one or more whole DTLS 1.0/1.2 records (content type 20..23, version
 * 0xFEFF or 0xFEFD, length within the datagram). Pure. Returns 0, LG_EINVAL (NULL), LG_ETRUNC
 * (empty, or a record cut short) or LG_EMALFORMED. */
int dtls_datagram_check(const uint8_t *p, size_t len);

/* Static names for logs and metrics labels: "new", "connecting", ...; "none", "handshake_error",
 * "fingerprint_mismatch", "no_srtp_profile", "timeout", "peer_closed"; "SRTP_AEAD_AES_128_GCM",
 * "SRTP_AES128_CM_SHA1_80" (the names browsers' getStats() show), "none". Never NULL. */
const char *dtls_state_str(dtls_state_t state);
const char *dtls_reason_str(dtls_reason_t reason);
const char *dtls_srtp_profile_str(dtls_srtp_profile_t profile);

#endif
