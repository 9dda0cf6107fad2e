/* Retransmission buffer for one video producer: the last packets by sequence number, kept for
 * answering NACKs with RTX (RFC 4588).
 *
 * A fixed number of slots (a power of two), each holding one packet of up to RTXBUF_MTU bytes, is
 * allocated once by rtxbuf_init(); nothing allocates afterwards. Slot = seq mod capacity, so the
 * buffer covers the newest `capacity` sequence numbers: a newer packet evicts whatever shared its
 * slot, and a jump ahead forgets every packet it skips over (correct across the 16-bit wrap).
 * Packets also age out: older than max_age_ms they are no longer returned. A packet older than the
 * window is refused, unless everything stored has aged out, which is taken as a restarted stream.
 *
 * Ownership: the caller owns rtxbuf_t and must call rtxbuf_free(). Views returned by the lookups
 * point into the buffer and stay valid until the next rtxbuf_put()/rtxbuf_clear()/rtxbuf_free().
 * Threading: one thread per instance. Errors: 0 or a negative LG_E* code (sfu/lg_error.h). */
#ifndef LG_MEDIA_RTX_BUFFER_H
#define LG_MEDIA_RTX_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTXBUF_MTU            1500 /* largest packet stored */
#define RTXBUF_MAX_CAPACITY   32768
#define RTXBUF_DEFAULT_CAP    512
#define RTXBUF_DEFAULT_AGE_MS 1000

typedef struct rtxbuf_slot {
    bool used;
    uint16_t seq;
    uint16_t len;
    uint16_t resends;
    uint64_t stored_ms;
    uint64_t resent_ms; /* last resend, valid when resends > 0 */
} rtxbuf_slot_t;

typedef struct rtxbuf {
    uint8_t *data; /* capacity * RTXBUF_MTU bytes */
    rtxbuf_slot_t *slots;
    uint32_t capacity;
    uint32_t max_age_ms;
    bool have_newest;
    uint16_t newest;    /* highest seq stored */
    uint64_t newest_ms; /* when it was stored */
    uint32_t count;     /* slots in use */
} rtxbuf_t;

/* Allocates capacity slots (a power of two, 1..RTXBUF_MAX_CAPACITY). Returns 0, LG_EINVAL or
 * LG_ENOMEM. */
int rtxbuf_init(rtxbuf_t *b, uint32_t capacity, uint32_t max_age_ms);

/* Releases the slots. Safe on a zeroed or already freed rtxbuf_t. */
void rtxbuf_free(rtxbuf_t *b);

/* Forgets every packet. */
void rtxbuf_clear(rtxbuf_t *b);

/* Stores a copy of packet `seq` (the whole RTP packet). A duplicate replaces the stored copy.
 * Returns 0, LG_EINVAL (NULL, len 0), LG_ENOSPC (len > RTXBUF_MTU) or LG_EREPLAY (older than
 * the window while the buffer still holds live packets). */
int rtxbuf_put(rtxbuf_t *b, uint16_t seq, const uint8_t *pkt, size_t len, uint64_t now_ms);

/* Looks packet `seq` up. Returns 0 with *pkt and *len set, or LG_ENOTFOUND (never stored,
 * evicted or aged out). */
int rtxbuf_get(rtxbuf_t *b, uint16_t seq, uint64_t now_ms, const uint8_t **pkt, size_t *len);

/* rtxbuf_get() for answering a NACK: also refuses (LG_EREPLAY) a packet already resent less than
 * min_interval_ms ago (about one RTT: the receiver's repeated NACK crossed the first resend), and
 * otherwise records this resend. */
int rtxbuf_resend(rtxbuf_t *b, uint16_t seq, uint64_t now_ms, uint32_t min_interval_ms,
                  const uint8_t **pkt, size_t *len);

#endif
