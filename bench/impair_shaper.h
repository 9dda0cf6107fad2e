/* One direction of a poor link, modelled without I/O or clock: random loss from a seeded PRNG, a
 * token-bucket rate limit with a bounded drop-tail queue, and a one-way delay with optional
 * jitter; plus the FIFO of packets waiting for the time the model releases them. */
#ifndef LG_IMPAIR_SHAPER_H
#define LG_IMPAIR_SHAPER_H

/*
 * Contract
 * --------
 * Pure and deterministic: the caller passes the time (microseconds on any monotonic clock) with
 * every call, so the same parameters, seed and arrivals always give the same fate; the unit test
 * drives it with an invented clock. One shaper or FIFO per thread (no locking).
 *
 * The model, per packet arriving at `now` with `len` payload bytes (impair_shaper_admit):
 *  1. Rate: the packet costs (len + overhead) * 8 bits from a token bucket filled at rate_bps up to
 *     burst_bytes. Packets leave the bucket in arrival order; a packet that would wait longer than
 *     queue_ms for its tokens is dropped (drop-tail, IMPAIR_DROP_QUEUE) and costs nothing.
 *  2. Loss: after the bucket (the packet used the link, then was lost on the way), with
 *     probability loss_ppm / 1e6 the packet is lost (IMPAIR_DROP_LOSS).
 *  3. Delay: it is released delay_ms (+- a uniform jitter_ms) after it left the bucket, never
 *     before a packet admitted earlier (jitter delays, it does not reorder).
 * Byte streams (TCP, IMPAIR_STREAM) cannot lose bytes, so for them steps 1 and 2 change: nothing is
 * ever dropped (the caller stops reading while impair_shaper_backlog_us() is above queue_ms, which
 * pushes back on the sender as a full TCP window would), and a "lost" segment is released one
 * retransmission later, IMPAIR_RTO_MIN_MS + 2 * delay_ms (Linux's minimum RTO plus a round trip),
 * holding back every byte after it.
 *
 * Errors: impair_fifo_init returns 0 or LG_ENOMEM; nothing else fails.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMPAIR_DEFAULT_QUEUE_MS 300
#define IMPAIR_DEFAULT_BURST    1500 /* bytes: one full-size packet */
#define IMPAIR_RTO_MIN_MS       200
#define IMPAIR_SLOT_BYTES       2048 /* largest datagram the FIFO holds (UDP over a 1500 MTU fits) */
#define IMPAIR_TCP_SEGMENT      1448 /* payload of one modelled TCP segment (1500 MTU, timestamps) */

/* Bytes counted per packet on top of its payload: the IP and transport headers. */
#define IMPAIR_OVERHEAD_UDP4 28 /* IPv4 20 + UDP 8 */
#define IMPAIR_OVERHEAD_UDP6 48 /* IPv6 40 + UDP 8 */
#define IMPAIR_OVERHEAD_TCP4 52 /* IPv4 20 + TCP 20 + timestamp option 12 */
#define IMPAIR_OVERHEAD_TCP6 72

/* One direction's impairments; a zero field means none (or the default noted). */
typedef struct {
    uint64_t rate_bps;    /* bit/s counted on IP bytes; 0: unlimited */
    uint32_t burst_bytes; /* token bucket depth; 0: IMPAIR_DEFAULT_BURST */
    uint32_t queue_ms;    /* longest wait for tokens; 0: IMPAIR_DEFAULT_QUEUE_MS */
    uint32_t loss_ppm;    /* random loss in parts per million (100000 = 10 %), <= 1000000 */
    uint32_t delay_ms;    /* one-way delay */
    uint32_t jitter_ms;   /* +- uniform on the delay, at most delay_ms */
    uint64_t seed;        /* PRNG seed (0 is a valid seed) */
} impair_params_t;

typedef enum { IMPAIR_DATAGRAM = 0, IMPAIR_STREAM } impair_mode_t;

typedef enum { IMPAIR_PASS = 0, IMPAIR_DROP_LOSS, IMPAIR_DROP_QUEUE } impair_verdict_t;

/* What the shaper decided, since init. */
typedef struct {
    uint64_t forwarded;     /* packets (datagrams or segments) passed */
    uint64_t bytes;         /* their payload bytes */
    uint64_t dropped_loss;  /* datagrams lost at random */
    uint64_t dropped_queue; /* datagrams refused by the full queue */
    uint64_t retransmitted; /* stream segments "lost" and delayed by a retransmission */
    uint64_t dropped_other; /* refused before the model, counted by the caller: larger than
                               IMPAIR_SLOT_BYTES, or no free FIFO slot */
} impair_counters_t;

typedef struct {
    impair_params_t p;
    impair_mode_t mode;
    uint32_t overhead;
    uint64_t rng;
    uint64_t tokens; /* bits * 1e6 in the bucket at last_depart_us */
    uint64_t last_depart_us;
    uint64_t last_release_us;
    impair_counters_t c;
} impair_shaper_t;

/* Sets up a shaper; params are copied (burst/queue defaults applied, jitter capped at delay,
 * loss capped at 100 %). overhead: one of IMPAIR_OVERHEAD_*. The bucket starts full. */
void impair_shaper_init(impair_shaper_t *s, const impair_params_t *params, impair_mode_t mode,
                        uint32_t overhead);

/* Decides the fate of a packet of len payload bytes arriving at now_us (see Contract). On
 * IMPAIR_PASS *release_us is when it leaves the link (>= now_us, and >= every earlier release). */
impair_verdict_t impair_shaper_admit(impair_shaper_t *s, uint64_t now_us, size_t len,
                                     uint64_t *release_us);

/* How long (us) a packet arriving now would wait for tokens, not counting its own size: 0 when the
 * bucket has no queue. A stream reader reads only while this is below queue_ms. */
uint64_t impair_shaper_backlog_us(const impair_shaper_t *s, uint64_t now_us);

/* The effective queue limit in microseconds. */
uint64_t impair_shaper_queue_limit_us(const impair_shaper_t *s);

/* Parses "10%", "0.5%", "10" (percent) into parts per million. Returns 0 or -1. */
int impair_parse_loss(const char *s, uint32_t *ppm);
/* Parses "32k", "32kbit", "2M", "64000" (bit/s) into bit/s. Returns 0 or -1. */
int impair_parse_rate(const char *s, uint64_t *bps);

/* --- the FIFO of packets waiting for release ------------------------------------------------- */

typedef struct {
    uint64_t release_us;
    uint32_t tag;  /* the caller's: which flow or connection it belongs to */
    uint16_t len;  /* bytes in data */
    uint16_t sent; /* bytes already written (a partial stream write) */
    uint8_t data[IMPAIR_SLOT_BYTES];
} impair_slot_t;

typedef struct {
    impair_slot_t *slots; /* cap of them, malloc'd by impair_fifo_init */
    uint32_t cap, head, count;
} impair_fifo_t;

/* Allocates cap slots (cap > 0). Returns 0 or LG_ENOMEM. */
int impair_fifo_init(impair_fifo_t *q, uint32_t cap);
void impair_fifo_free(impair_fifo_t *q);

/* The slot after the last one, to fill (release_us, tag, len, data), or NULL when full. The slot
 * counts as queued from this call on. */
impair_slot_t *impair_fifo_push(impair_fifo_t *q);

/* The oldest slot if its release time has come (release_us <= now_us), else NULL. */
impair_slot_t *impair_fifo_due(impair_fifo_t *q, uint64_t now_us);

/* Removes the oldest slot. No-op when empty. */
void impair_fifo_pop(impair_fifo_t *q);

/* Release time of the oldest slot, UINT64_MAX when empty. */
uint64_t impair_fifo_next(const impair_fifo_t *q);

#endif
