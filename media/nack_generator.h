/* NACK generation for one publisher uplink stream: which sequence numbers are missing, when to ask
 * for them again, when to give up and ask for a key frame instead.
 *
 * Feed every RTP packet received on the stream (RTX-recovered ones too, with their original seq)
 * to nackgen_on_packet(). A seq that jumps ahead marks the skipped seqs missing; a late or
 * recovered arrival clears its seq. nackgen_collect() returns the seqs due for a NACK, oldest
 * first in increasing (wrapping) order, ready for rtcp_write_nack() (media/rtcp.h): a seq is due
 * at once when found missing, then again every retry interval (the RTT, at least
 * min_interval_ms) up to max_retries times. Call it after each packet that opened a gap and on a
 * timer (every 10-20 ms).
 *
 * Giving up: a seq is dropped when it has been missing longer than max_age_ms, when its last
 * retry went unanswered for one interval, or when it falls NACKGEN_WINDOW behind the newest seq.
 * When more than max_missing seqs are missing at once, the ones before the last key frame are
 * dropped, and if that is not enough all are (a NACK storm costs more than a key frame). Each way
 * of giving up reports "key frame needed", unless a key frame newer than the lost seq already
 * arrived (the decoder no longer needs it).
 *
 * Ownership: the caller owns nackgen_t; no allocation. Threading: one thread per instance.
 * Errors: 0 or LG_EINVAL (sfu/lg_error.h). */
#ifndef LG_MEDIA_NACK_GENERATOR_H
#define LG_MEDIA_NACK_GENERATOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NACKGEN_WINDOW 1024 /* seqs tracked behind the newest; a power of two below 32768 */

typedef struct nackgen_config {
    uint32_t max_retries;     /* NACKs per seq (default 10) */
    uint32_t max_age_ms;      /* give up after this long missing (default 1000) */
    uint32_t max_missing;     /* more missing at once: key frame instead (default 256) */
    uint32_t min_interval_ms; /* floor of the retry interval (default 20) */
    uint32_t initial_rtt_ms;  /* retry interval before nackgen_set_rtt() (default 100) */
} nackgen_config_t;

typedef struct nackgen_item {
    bool missing;
    uint8_t tries;
    uint16_t seq;
    uint64_t since_ms; /* found missing */
    uint64_t sent_ms;  /* last NACK, valid when tries > 0 */
} nackgen_item_t;

typedef struct nackgen {
    nackgen_config_t cfg;
    bool started;
    uint16_t newest;
    bool have_keyframe;
    uint16_t last_keyframe; /* seq of the newest key frame start */
    uint32_t rtt_ms;
    uint32_t missing; /* items currently missing */
    /* counters, for metrics */
    uint64_t nacked;                      /* seqs put into NACK lists, retries included */
    uint64_t recovered;                   /* missing seqs that arrived after all */
    uint64_t given_up;                    /* missing seqs abandoned */
    nackgen_item_t items[NACKGEN_WINDOW]; /* indexed by seq mod NACKGEN_WINDOW */
} nackgen_t;

/* Fills cfg with the defaults above. */
void nackgen_default_config(nackgen_config_t *cfg);

/* Prepares g; cfg NULL means defaults (zero fields of cfg also take the default). Returns 0 or
 * LG_EINVAL. */
int nackgen_init(nackgen_t *g, const nackgen_config_t *cfg);

/* Sets the round-trip time (e.g. from RTCP SR/RR) used as the retry interval. */
void nackgen_set_rtt(nackgen_t *g, uint32_t rtt_ms);

/* Records a received packet; keyframe says it starts a key frame. Returns true when the caller
 * should request a key frame (PLI/FIR, throttled by the caller). */
bool nackgen_on_packet(nackgen_t *g, uint16_t seq, bool keyframe, uint64_t now_ms);

/* Writes up to cap seqs due for a NACK into seqs (the oldest first) and counts them as sent.
 * Seqs beyond cap stay due for the next call. *keyframe (optional) is set true when a seq was given
 * up for which a key frame is needed, else left alone. Returns the number written. */
size_t nackgen_collect(nackgen_t *g, uint64_t now_ms, uint16_t *seqs, size_t cap, bool *keyframe);

/* Number of seqs currently missing. */
uint32_t nackgen_missing(const nackgen_t *g);

#endif
