/* What a consumer stream sent under each recent outgoing sequence number, so that a resend of
 * that number can be made byte-identical to the first send (or refused).
 *
 * Why: SRTP derives the keystream (AES-CM) or the nonce (AEAD_AES_128_GCM, RFC 7714 section 8.1)
 * from (SSRC, ROC, SEQ). A relay that resends a packet in its original stream protects it under
 * the same index again; if any byte differs from the first send (a new transport-wide sequence
 * number, a VP8 picture id remapped after a layer switch, another source packet that the same
 * number maps to), two different plaintexts meet one nonce: under GCM that reveals the GHASH key
 * of the leg (forgeries), under AES-CM the XOR of the two plaintexts. A byte-identical resend
 * gives byte-identical ciphertext and reveals nothing.
 *
 * Model: a ring of SENDHIST_SIZE records indexed by the extended (ROC-like, 32-bit) outgoing
 * sequence number. Each record keeps the transport-cc number stamped into the first send (so the
 * resend stamps the same) and a 64-bit hash of the whole plaintext as sent. A number is NEW (never
 * sent; it may be sent once), SENT (its record is returned) or UNKNOWN (older than the ring: it
 * can be neither verified nor told apart from a number already sent, so it must not be sent).
 *
 * Ownership: the caller owns sendhist_t (6 KB; embed it, no allocation anywhere). Threading: one
 * thread per instance. Nothing here logs or fails. */
#ifndef LG_MEDIA_SEND_HISTORY_H
#define LG_MEDIA_SEND_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SENDHIST_SIZE 256 /* outgoing numbers remembered (a power of two); ~1 s of video */

typedef enum {
    SENDHIST_NEW = 0, /* not sent: newer than the newest, or in the window and never recorded */
    SENDHIST_SENT,    /* recorded: *rec describes the first send */
    SENDHIST_UNKNOWN  /* SENDHIST_SIZE or more behind the newest: cannot tell */
} sendhist_state_t;

typedef struct {
    uint64_t hash; /* sendhist_hash() of the plaintext as first sent */
    uint16_t twcc; /* transport-wide sequence number stamped, valid if has_twcc */
    bool has_twcc; /* the first send carried one */
} sendhist_rec_t;

typedef struct {
    uint32_t ext; /* extended sequence number + 1; 0: empty */
    sendhist_rec_t rec;
} sendhist_entry_t;

typedef struct {
    bool started;
    uint32_t max_ext; /* newest extended sequence number recorded */
    sendhist_entry_t e[SENDHIST_SIZE];
} sendhist_t;

/* Empties h. */
void sendhist_init(sendhist_t *h);

/* What h knows about outgoing seq; fills *rec when SENDHIST_SENT. Changes nothing. */
sendhist_state_t sendhist_lookup(const sendhist_t *h, uint16_t seq, sendhist_rec_t *rec);

/* Records the first send of seq. Ignored for a seq that sendhist_lookup() calls UNKNOWN. */
void sendhist_record(sendhist_t *h, uint16_t seq, const sendhist_rec_t *rec);

/* Whether a resend of seq, rebuilt as *rebuilt (its hash and transport-cc stamp), may go out
 * under seq's SRTP index: seq was recorded and the rebuilt packet is the same as the first send. */
bool sendhist_resend_ok(const sendhist_t *h, uint16_t seq, const sendhist_rec_t *rebuilt);

/* A secret key for sendhist_hash (random, per worker). */
typedef struct {
    uint64_t k0, k1;
} sendhist_key_t;

/* SipHash-2-4 (a keyed PRF) of p[0..len) under key, chained from seed (0 to start). Keyed and
 * secret because a publisher chooses the payload bytes: with a public hash it could send two
 * different packets under one sequence number that hash the same, and so make the relay resend
 * other data under a used SRTP index. */
uint64_t sendhist_hash(const sendhist_key_t *key, uint64_t seed, const uint8_t *p, size_t len);

#endif
