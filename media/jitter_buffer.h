/* Per-source jitter buffer for RTP Opus: reorders packets, adapts its depth to the arrival jitter
 * and tells the decoder, one step at a time, whether to play a packet, recover a lost one from the
 * next packet's in-band FEC, conceal it, or stay silent.
 *
 * Time: the caller passes now_ms from one monotonic clock; the buffer reads no clock itself.
 * Playout: every jb_pop() consumes the audio at the play point (a 48 kHz RTP timestamp) and moves
 * it on by what it returned (a packet's whole duration, or 20 ms of concealment), so a caller that
 * needs 20 ms per tick pops until it has 20 ms (packets of 10, 20, 40 or 60 ms all work).
 * Adaptive depth: the target delay is 20 ms plus twice the smoothed inter-arrival jitter (RFC 3550
 * estimator, fast attack, slow decay), rounded up to 20 ms and bounded by min/max_delay_ms. The
 * buffer prebuffers to the target; it grows by "holding" (concealing one frame without moving the
 * play point) when it runs dry or when the next packet is missing while less than the target is
 * buffered (so a late packet is waited for rather than lost); it shrinks by skipping one packet
 * when, over 50 pops, it never held less than the target plus 20 ms.
 * Losses: a missing packet is recovered from the next packet's in-band FEC when that packet is
 * buffered and carries LBRR, else concealed. A sequence number that follows on while the timestamp
 * jumps is a sender pause (DTX), not a loss: the new talkspurt is prebuffered like a new stream.
 * Bad input never stalls playout: duplicates, packets behind the play point ("late"), packets
 * ending more than max_delay_ms + 20 ms ahead of it or beyond the capacity ("overflow": a source
 * sending too fast), unparseable Opus ("malformed") are dropped and counted; a newer packet more
 * than resync_ms from the play point (a wild timestamp jump) restarts the buffer on it
 * ("resyncs"), an older one is dropped as malformed; after max_conceal concealed frames in a row
 * with nothing buffered the source counts as stopped and pops return JB_SILENT until it sends
 * again.
 *
 * Ownership: jb_init() allocates the packet store (JB_CAPACITY * JB_MAX_PAYLOAD bytes), the only
 * allocation; jb_free() releases it. The caller owns the jb_t itself.
 * Threading: none; one thread (the room's worker) uses a given buffer.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h), see each function. */
#ifndef LG_MEDIA_JITTER_BUFFER_H
#define LG_MEDIA_JITTER_BUFFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JB_CAPACITY    50   /* packets held at most */
#define JB_MAX_PAYLOAD 1500 /* bytes per stored Opus payload */
#define JB_RATE_KHZ    48   /* RTP clock of Opus: 48 samples per ms */
#define JB_FRAME       960  /* samples in 20 ms: the unit of concealment */

typedef struct jb_config {
    unsigned min_delay_ms; /* lower bound of the target delay (default 20) */
    unsigned max_delay_ms; /* upper bound; audio further ahead is dropped (default 200) */
    unsigned max_conceal;  /* concealed frames in a row before the source counts as stopped (10) */
    unsigned resync_ms;    /* a newer packet this far from the play point restarts (1000) */
} jb_config_t;

/* What the decoder does for this step. */
typedef enum jb_result {
    JB_SILENT = 0, /* nothing to play: not started, prebuffering, or stopped */
    JB_PACKET,     /* decode frame.payload normally; it covers frame.samples */
    JB_FEC,        /* the packet is missing and the next one carries in-band FEC (LBRR): decode
                      frame.payload (the NEXT packet, which stays buffered) with decode_fec=1 and
                      frame_size = frame.samples */
    JB_CONCEAL,    /* missing, no FEC: decode NULL (packet loss concealment) for frame.samples */
} jb_result_t;

/* One step's instruction. payload points into the buffer's store and stays valid until the next
 * jb_insert(), jb_pop() or jb_reset() on this buffer. */
typedef struct jb_frame {
    const uint8_t *payload; /* JB_PACKET, JB_FEC; NULL otherwise */
    size_t len;
    uint16_t seq;     /* of payload's packet */
    uint32_t ts;      /* RTP timestamp of the audio this step covers */
    unsigned samples; /* 48 kHz samples this step covers */
} jb_frame_t;

typedef struct jb_counters {
    uint64_t inserted;   /* packets stored */
    uint64_t played;     /* JB_PACKET results */
    uint64_t fec;        /* JB_FEC results */
    uint64_t concealed;  /* JB_CONCEAL results (losses and holds) */
    uint64_t underruns;  /* holds: concealed without moving on (ran dry, or waited for a packet) */
    uint64_t duplicates; /* dropped: this sequence number is already stored */
    uint64_t late;       /* dropped: arrived behind the play point */
    uint64_t overflow;   /* dropped: too far ahead or buffer full (source too fast) */
    uint64_t malformed;  /* dropped: empty, oversized or unparseable Opus packet */
    uint64_t resyncs;    /* restarts on a wild timestamp jump */
    uint64_t shrunk;     /* packets skipped to reduce excess delay */
    uint64_t stops;      /* times the source went silent after max_conceal concealed frames */
    unsigned target_ms;  /* gauges: current target delay, */
    unsigned depth_ms;   /* audio buffered ahead of the play point, */
    unsigned jitter_ms;  /* smoothed inter-arrival jitter, */
    unsigned count;      /* packets buffered */
} jb_counters_t;

/* The buffer. Caller-owned; every field is private to jitter_buffer.c. */
typedef struct jb_entry {
    uint64_t eseq; /* sequence number extended past 16 bits */
    uint32_t ts;
    uint16_t len;
    uint16_t samples; /* duration of the packet */
    uint16_t spf;     /* samples per Opus frame: the span its LBRR data recovers */
    bool lbrr;        /* carries in-band FEC for the previous frame */
} jb_entry_t;

typedef struct jb {
    jb_config_t cfg;
    uint8_t *store; /* JB_CAPACITY slots of JB_MAX_PAYLOAD bytes */
    jb_entry_t ent[JB_CAPACITY];
    uint8_t order[JB_CAPACITY]; /* used slots sorted by eseq */
    uint8_t free_slot[JB_CAPACITY];
    unsigned count, nfree;
    int state;
    uint32_t play_ts;
    uint64_t highest_eseq, last_out_eseq;
    uint64_t first_arrival_ms;
    bool have_transit;
    int64_t last_transit; /* arrival - timestamp of the newest packet, in samples */
    double jitter;        /* smoothed, in samples */
    unsigned conceal_run;
    unsigned window_pops;
    int64_t window_min; /* least audio ahead of the play point over this window, samples */
    bool shrink;
    jb_counters_t c;
} jb_t;

/* Fills cfg with the defaults above. */
void jb_config_default(jb_config_t *cfg);

/* Initializes an empty buffer (cfg NULL: defaults). Returns 0, LG_EINVAL (min > max delay, max
 * delay above 1000 ms, max_conceal 0, resync_ms not above max_delay_ms) or LG_ENOMEM. */
int jb_init(jb_t *jb, const jb_config_t *cfg);

/* Releases the store. Safe on a zeroed or already freed buffer. */
void jb_free(jb_t *jb);

/* Forgets every packet and the timing state; counters survive. The next packet starts afresh. */
void jb_reset(jb_t *jb);

/* Copies one RTP Opus packet in. Returns 0 when stored (also when it restarted the buffer), or why
 * it was dropped: LG_EMALFORMED (empty, > JB_MAX_PAYLOAD or not a valid Opus packet), LG_EREPLAY
 * (duplicate or late), LG_EFULL (overflow), LG_EINVAL (NULL arguments). */
int jb_insert(jb_t *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
              uint64_t now_ms);

/* Takes the next step of playout; fills *out (see jb_result_t) and returns what to do. */
jb_result_t jb_pop(jb_t *jb, uint64_t now_ms, jb_frame_t *out);

/* A snapshot of the counters and gauges. */
void jb_get_counters(const jb_t *jb, jb_counters_t *out);

/* Whether an Opus packet carries in-band FEC (LBRR) for the frame before it: the SILK LBRR flag
 * of its first frame (what opus_packet_has_lbrr() reports from libopus 1.5 on). CELT-only or
 * invalid packets: false. */
bool jb_opus_has_lbrr(const uint8_t *p, size_t len);

#endif
