/* SRTP AEAD_AES_128_GCM protection of outgoing RTP and unprotection of incoming RTP (RFC 7714)
 * with one OpenSSL cipher context per direction, used by srtp_session.
 *
 * Why it exists: Debian's libsrtp2 is built against NSS, whose PK11_Encrypt creates and frees a
 * cipher context (calloc, free, three mutexes, a hash lookup) for every packet; that was 80 % of
 * the relay's user-space instructions per forwarded packet (docs/BENCHMARKS.md). This keys one
 * EVP_CIPHER_CTX once and only sets the IV per packet. The output is byte-identical to libsrtp's
 * (tests/unit/test_srtp_session.c checks it against libsrtp over sequence wraps and resends).
 *
 * Contract
 * --------
 * srtp_gcm_tx_init() derives the SRTP session key and salt from the master key and salt with the
 * AES-CM key derivation of RFC 3711 section 4.3 (label 0x00 and 0x02, key derivation rate 0), as
 * RFC 7714 section 11 prescribes. The cipher context (~1.2 KB) and the stream table are allocated
 * by the first packet (once; a direction a transport never uses costs nothing: subscribe legs
 * receive no RTP, publish legs send none); if that allocation fails the packet is refused
 * (LG_ENOMEM) and the next one tries again. srtp_gcm_tx_free() releases everything.
 *
 * Per SSRC the sender keeps its highest packet index (ROC << 16 | SEQ). A packet's index is
 * estimated from it exactly as libsrtp does (RFC 3711 appendix A; indexes below 2^15 are taken as
 * ROC 0), so a receiver running libsrtp computes the same ROC. Packets up to
 * SRTP_SESSION_REPLAY_WINDOW - 1 behind the highest index are protected (late first sends, and
 * retransmissions); older ones are refused (LG_EREPLAY), as libsrtp refuses them. A bitmap per
 * SSRC remembers which indexes of the window were protected: protecting one of them again is
 * refused (LG_EREUSE) unless the caller says it is a resend it verified to be byte-identical to
 * the first (the same IV over other data would be GCM nonce reuse, which reveals the GHASH key and
 * lets anyone forge packets on the leg; identical data gives identical output and reveals
 * nothing). Unlike libsrtp's allow_repeat_tx, an unverified repeat never passes. At most
 * SRTP_GCM_MAX_STREAMS SSRCs are tracked; srtp_gcm_tx_protect() returns LG_EFULL for any further
 * SSRC, and the caller protects those with libsrtp instead (each SSRC consistently goes one way, so
 * its ROC never forks).
 *
 * Receiving (srtp_gcm_rx_*): the same index estimate from the highest index authenticated so far,
 * then libsrtp's replay rule: a packet ahead is new; one up to window - 1 behind is accepted once
 * (a bitmap remembers which were seen); older ones and repeats are LG_EREPLAY. The tag is checked
 * before the index is recorded; a new SSRC enters the table only once a packet of it authenticated
 * (so forged packets cannot fill it). Past SRTP_GCM_MAX_RX_STREAMS SSRCs, LG_EFULL tells the caller
 * to use libsrtp for that SSRC, as for sending.
 *
 * Buffers: in place; the 16-byte tag is appended, so cap - *len >= 16 is required. Nothing
 * allocates per packet. One thread per instance. Errors: 0 or a negative LG_E* code; on error the
 * buffer is unchanged when protecting unless the code is LG_ECRYPTO, and unspecified when
 * unprotecting.
 */
#ifndef LG_SRTP_GCM_H
#define LG_SRTP_GCM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SRTP_GCM_KEY_LEN        16
#define SRTP_GCM_SALT_LEN       12
#define SRTP_GCM_TAG_LEN        16
#define SRTP_GCM_MAX_STREAMS    32
#define SRTP_GCM_MAX_RX_STREAMS 8
#define SRTP_GCM_MAX_WINDOW     1024 /* replay window bits kept per received SSRC */

struct evp_cipher_ctx_st;

typedef struct {
    uint32_t ssrc;
    uint64_t index;                          /* highest index sent: ROC << 16 | SEQ (48 bits) */
    uint64_t sent[SRTP_GCM_MAX_WINDOW / 64]; /* bit i mod window: index i was protected */
} srtp_gcm_stream_t;

typedef struct {
    bool keyed;    /* key and salt derived */
    bool tracking; /* srtp_gcm_tx_track_init: index bookkeeping only, no keys */
    uint8_t key[SRTP_GCM_KEY_LEN];
    uint8_t salt[SRTP_GCM_SALT_LEN];
    uint32_t window;               /* packets behind the highest index still protected */
    struct evp_cipher_ctx_st *ctx; /* from the first packet on */
    srtp_gcm_stream_t *streams;    /* SRTP_GCM_MAX_STREAMS, from the first packet on */
    int nstreams;
    int last; /* stream of the previous packet: consecutive packets often share it */
} srtp_gcm_tx_t;

typedef struct {
    uint32_t ssrc;
    uint64_t index;                          /* highest index authenticated */
    uint64_t seen[SRTP_GCM_MAX_WINDOW / 64]; /* bit i mod window: index i authenticated */
} srtp_gcm_rx_stream_t;

typedef struct {
    bool keyed;
    uint8_t key[SRTP_GCM_KEY_LEN];
    uint8_t salt[SRTP_GCM_SALT_LEN];
    uint32_t window;               /* 1..SRTP_GCM_MAX_WINDOW */
    struct evp_cipher_ctx_st *ctx; /* from the first packet on */
    srtp_gcm_rx_stream_t *streams; /* SRTP_GCM_MAX_RX_STREAMS, from the first packet on */
    int nstreams;
    int last;
} srtp_gcm_rx_t;

/* Keys tx from a master key (16 bytes) and master salt (12 bytes). Returns 0, LG_EINVAL, LG_ENOMEM
 * or LG_ECRYPTO; on error tx holds nothing to free. */
int srtp_gcm_tx_init(srtp_gcm_tx_t *tx, const uint8_t *master_key, const uint8_t *master_salt,
                     uint32_t window);

/* Frees the cipher context and wipes the keys. Safe on a zeroed or already freed tx. */
void srtp_gcm_tx_free(srtp_gcm_tx_t *tx);

/* RTP packet in buf[0..*len) -> SRTP in place; *len grows by SRTP_GCM_TAG_LEN. `resend`: the
 * caller verified that buf is byte-identical to what it protected before under this SSRC and
 * sequence number (see above). Returns 0, LG_EINVAL, LG_EMALFORMED (header longer than the
 * packet), LG_ENOSPC, LG_EREPLAY (older than the window), LG_EREUSE (index already protected and
 * not a verified resend), LG_EFULL (a new SSRC and the stream table is full), LG_ENOMEM or
 * LG_ECRYPTO. The window must be 1..SRTP_GCM_MAX_WINDOW (srtp_gcm_tx_init: LG_EINVAL). */
int srtp_gcm_tx_protect(srtp_gcm_tx_t *tx, uint8_t *buf, size_t *len, size_t cap, bool resend);

/* The index bookkeeping alone, for RTP that libsrtp protects (AES-CM): tx keeps per SSRC the
 * highest index and which indexes of the window were used, as for GCM. window: 1..
 * SRTP_GCM_MAX_WINDOW. Returns 0 or LG_EINVAL. Free with srtp_gcm_tx_free(). */
int srtp_gcm_tx_track_init(srtp_gcm_tx_t *tx, uint32_t window);

/* Tracking mode: records that the RTP packet in buf[0..len) is about to be protected under its
 * index, or refuses it as srtp_gcm_tx_protect() would: LG_EREUSE (used before and not a verified
 * resend), LG_EREPLAY (older than the window), LG_EFULL (SSRC table full: not tracked),
 * LG_ENOMEM, LG_EMALFORMED or LG_EINVAL. Claiming before protecting means an index whose protect
 * then fails stays used (refusing is the safe side). */
int srtp_gcm_tx_claim(srtp_gcm_tx_t *tx, const uint8_t *buf, size_t len, bool resend);

/* Keys rx from the peer's master key and salt; window 1..SRTP_GCM_MAX_WINDOW. Same returns as
 * srtp_gcm_tx_init(). */
int srtp_gcm_rx_init(srtp_gcm_rx_t *rx, const uint8_t *master_key, const uint8_t *master_salt,
                     uint32_t window);

/* Frees the cipher context and wipes the keys. Safe on a zeroed or already freed rx. */
void srtp_gcm_rx_free(srtp_gcm_rx_t *rx);

/* SRTP packet in buf[0..*len) -> RTP in place; *len shrinks by the tag. Returns 0, LG_EINVAL,
 * LG_ENOMEM,
 * LG_EMALFORMED (header or tag do not fit), LG_EREPLAY, LG_EINTEGRITY (tag mismatch), LG_EFULL
 * (an SSRC the table has no room for: use libsrtp) or LG_ECRYPTO. */
int srtp_gcm_rx_unprotect(srtp_gcm_rx_t *rx, uint8_t *buf, size_t *len);

#endif
