/* Retransmission buffer for one video producer: the last packets by sequence number, kept for
 * answering NACKs with RTX (RFC 4588).
 *
 * Sequence numbers: a fixed number of slots (a power of two) indexes the newest `capacity`
 * sequence numbers (slot = seq mod capacity): a newer packet evicts whatever shared its slot, and a
 * jump ahead forgets every packet it skips over (correct across the 16-bit wrap). Packets also age
 * out: older than max_age_ms they are no longer returned. A packet older than the window is
 * refused, unless everything stored has aged out, which is taken as a restarted stream.
 *
 * Bytes: packets are stored back to back, at their own length, in a byte ring whose size follows
 * the stream's rate, so memory is proportional to use (about 1.25 x max_age_ms of the stream)
 * rather than capacity x RTXBUF_MTU. The ring starts at RTXBUF_MIN_BYTES and is watched in
 * RTXBUF_SEGMENTS parts: when the writer is about to enter a part it entered less than max_age_ms
 * ago (it would overwrite packets still wanted), the ring grows (at most doubling) to hold
 * 1.25 x max_age_ms at the rate that age shows; when that part was entered more than
 * 1.5 x max_age_ms ago, it shrinks the same way (a key-frame burst, or a relay that fell behind and
 * caught up, shows a high rate for a moment; this gives the memory back). Never below
 * RTXBUF_MIN_BYTES nor above capacity x RTXBUF_MTU. A resize maps the new ring (mmap, so a ring
 * given up goes back to the system), moves the live packets into it (none is lost) and unmaps the
 * old one: a few times while a stream ramps up, then only when its rate leaves that band; never
 * per packet. A packet can be overwritten up to 1/RTXBUF_SEGMENTS of the ring's span before
 * max_age_ms (then a NACK for it is not answered).
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
#define RTXBUF_MIN_BYTES      (32 * 1024) /* the ring's first and smallest size */
#define RTXBUF_SEGMENTS       16          /* the ring is watched in this many parts */

typedef struct rtxbuf_slot {
    bool used;
    uint16_t seq;
    uint16_t len;
    uint16_t resends;
    uint32_t off;   /* in the byte ring */
    uint32_t cycle; /* the ring's cycle when it was written */
    uint64_t stored_ms;
    uint64_t resent_ms; /* last resend, valid when resends > 0 */
} rtxbuf_slot_t;

typedef struct rtxbuf {
    uint8_t *data;  /* the byte ring */
    uint32_t size;  /* its bytes */
    uint32_t wpos;  /* next write offset */
    uint32_t cycle; /* times the writer went back to offset 0 (or the ring was moved) */
    uint32_t seg;   /* segment of the last byte written */
    uint64_t seg_ms[RTXBUF_SEGMENTS]; /* when the writer last entered each (0: not yet) */
    rtxbuf_slot_t *slots;
    uint32_t capacity;
    uint32_t max_age_ms;
    bool have_newest;
    uint16_t newest;    /* highest seq stored */
    uint64_t newest_ms; /* when it was stored */
    uint32_t count;     /* slots in use */
} rtxbuf_t;

/* Allocates capacity slots (a power of two, 1..RTXBUF_MAX_CAPACITY) and the first ring of
 * RTXBUF_MIN_BYTES (or capacity x RTXBUF_MTU if smaller). Returns 0, LG_EINVAL or LG_ENOMEM. */
int rtxbuf_init(rtxbuf_t *b, uint32_t capacity, uint32_t max_age_ms);

/* Releases the slots. Safe on a zeroed or already freed rtxbuf_t. */
void rtxbuf_free(rtxbuf_t *b);

/* Forgets every packet. */
void rtxbuf_clear(rtxbuf_t *b);

/* Stores a copy of packet `seq` (the whole RTP packet). A duplicate replaces the stored copy.
 * When a resize cannot allocate, the ring keeps its size. Returns 0, LG_EINVAL (NULL, len 0),
 * LG_ENOSPC (len > RTXBUF_MTU) or LG_EREPLAY (older than the window while the buffer still holds
 * live packets). */
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
