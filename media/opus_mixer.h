/* Opus audio mixer for one room: decodes every publishing source through its jitter buffer, mixes
 * the K loudest on a 20 ms tick and encodes one shared stream for the mixed listeners who are not
 * speaking plus one mix-minus stream for each mixed listener who is.
 *
 * Sources and listeners are participants, named by the caller's 32-bit id; a participant may be
 * both (then it is a speaker whenever its source is among the top K, and hears the mix minus its
 * own voice). All audio is 48 kHz mono.
 *
 * Timing: the caller reads CLOCK_MONOTONIC in ms and calls mixer_tick(m, now) when
 * mixer_next_deadline_ms(m) has come. Deadlines lie on a fixed 20 ms grid anchored at the first
 * tick, so timer lateness never accumulates into drift. A tick that runs late by 20..99 ms leaves
 * the next deadline in the past: mixer_tick() returns 1 again at once, so a caller looping
 * `while (mixer_tick(m, now) == 1) send(mixer_outputs(...))` runs the missed ticks back to back.
 * Later than 100 ms (a stalled worker), the missed ticks are skipped (ticks_skipped): the jitter
 * buffers restart, a partial packet is dropped and the listeners' timestamps jump by the skipped
 * time, as after a loss.
 *
 * Per tick: each source pops 20 ms from its jitter buffer (playing, FEC-recovering or concealing
 * as it says) and is decoded; its loudness is the caller's audio level when one is fresh and
 * quieter than the measured level, else the measured one (so a sender cannot claim to be louder
 * than it is). At the first tick of each packet time the top K audible sources are chosen
 * (incumbents get a 3 dB bonus against flapping). The sum is formed in int32 and brought to int16
 * by a peak limiter (instant attack, ~1 s release, hard clamp as the last guard): never a wrap.
 *
 * Encoders: OPUS_APPLICATION_VOIP, mono, in-band FEC, DTX, constrained VBR at bitrate_bps with
 * every packet capped at bitrate_bps * ptime (so the wire rate never exceeds mixer_wire_bitrate()),
 * packet loss from mixer_listener_set_loss() (the shared encoder uses the worst of its listeners).
 * One shared encoder plus a pool of K mix-minus encoders; a speaking listener holds a pool encoder
 * for as long as it stays in the top K. Switching a listener between encoders keeps its RTP stream
 * continuous (its own sequence numbers and timestamps, ts + 48 per ms) and the codec state as
 * close as possible: a listener moving from the shared stream to its own gets a memcpy of the
 * shared encoder state (libopus states are position independent), so its decoder sees no codec
 * discontinuity; a listener moving back (or joining) while others use the shared encoder gets one
 * shared packet encoded with prediction disabled (OPUS_SET_PREDICTION_DISABLED), which any decoder
 * state decodes cleanly; if nobody was on the shared encoder, it is seeded from the leaver's.
 * DTX: a packet of <= 2 bytes is not sent; timestamps still advance and the next sent packet has
 * the marker bit (RFC 7587, RFC 3551 talkspurt start).
 *
 * Laziness: with no listener the mixer is inactive: mixer_source_push() ignores packets, and
 * mixer_tick() does nothing and returns 0 (mixer_next_deadline_ms() is UINT64_MAX). The first
 * listener starts everything afresh (buffers, decoders, the tick grid at the next mixer_tick()).
 *
 * Ownership: mixer_create() allocates the mixer, its encoders and output table; mixer_source_add()
 * allocates one source's jitter buffer and decoder (control path, never per packet).
 * Threading: none; one thread (the room's worker) uses a mixer.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h): LG_EINVAL (bad argument), LG_ENOMEM,
 * LG_EEXIST (id already added), LG_ENOTFOUND (unknown id), LG_EFULL (table full). */
#ifndef LG_MEDIA_OPUS_MIXER_H
#define LG_MEDIA_OPUS_MIXER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/jitter_buffer.h"

#define MIXER_TICK_MS     20
#define MIXER_MAX_K       8
#define MIXER_MAX_PAYLOAD 1500 /* bytes of one encoded packet at most */
#define MIXER_WIRE_OVERHEAD                                                                        \
    56 /* bytes per packet a bandwidth budget counts (IP, UDP, RTP, SRTP)                          \
        */

typedef struct mixer_config {
    unsigned max_sources;   /* 1..256, default 32 */
    unsigned max_listeners; /* 1..1024, default 64 */
    unsigned top_k;         /* 1..MIXER_MAX_K, default 3 */
    unsigned ptime_ms;      /* 20, 40 or 60; default 60 (see mixer_config_default) */
    int bitrate_bps;        /* Opus target 6000..128000, default 24000 */
    int complexity;         /* 0..10, default 5 (half the CPU of 7 for 60 ms packets) */
    jb_config_t jitter;     /* for every source */
} mixer_config_t;

/* Defaults: K=3, 24 kbit/s Opus in 60 ms packets, which is 31.5 kbit/s on the wire with 56 bytes
 * of overhead per packet (at 20 ms the overhead alone would be 22.4 kbit/s). */
void mixer_config_default(mixer_config_t *cfg);

/* The emergency profile: the defaults with 8 kbit/s Opus in 60 ms packets, 15.5 kbit/s on the
 * wire with 56 bytes per packet. */
void mixer_config_emergency(mixer_config_t *cfg);

/* Bits per second on the wire for an Opus bitrate and packet time, with the overhead above. */
unsigned mixer_wire_bitrate(int bitrate_bps, unsigned ptime_ms);

/* One listener's packet from the last tick. payload stays valid until the next mixer_tick(); the
 * listeners on the shared stream all point at the same bytes. */
typedef struct mixer_output {
    uint32_t listener;
    uint16_t seq;
    uint32_t ts;
    bool marker;    /* first packet of the stream or after a DTX or skipped gap */
    bool mix_minus; /* from this listener's own encoder (it is speaking) */
    const uint8_t *payload;
    size_t len;
} mixer_output_t;

typedef struct mixer_listener_info {
    bool live;      /* false until its first packet time starts */
    bool mix_minus; /* currently on its own encoder */
    uint16_t next_seq;
    uint32_t next_ts; /* timestamp of its next packet time */
    unsigned loss_pct;
    uint64_t packets; /* sent to it */
} mixer_listener_info_t;

typedef struct mixer_counters {
    uint64_t ticks;         /* ticks run */
    uint64_t ticks_late;    /* of which ran >= 20 ms after their deadline (caught up) */
    uint64_t ticks_skipped; /* missed by more than 100 ms and skipped */
    uint64_t pushed;        /* packets handed to mixer_source_push() while active */
    uint64_t dropped;       /* of which the jitter buffers dropped (see jb_counters_t) */
    uint64_t decodes;       /* opus_decode() calls: packets, FEC and concealment */
    uint64_t decode_errors; /* packets the decoder rejected (concealed instead) */
    uint64_t concealed;     /* frames made by packet loss concealment */
    uint64_t fec_recovered; /* frames recovered from the next packet's in-band FEC */
    uint64_t encodes;
    uint64_t encode_errors;
    uint64_t packets_out;     /* mixer_output_t entries produced */
    uint64_t bytes_out;       /* their payload bytes */
    uint64_t dtx_skipped;     /* listener packets not sent because the encoder chose DTX */
    uint64_t speaker_changes; /* the top K changed */
    uint64_t cpu_ns_total;    /* CLOCK_THREAD_CPUTIME_ID spent inside mixer_tick() */
    uint64_t cpu_ns_last;
    uint64_t cpu_ns_max;
} mixer_counters_t;

typedef struct mixer mixer_t;

/* Creates a mixer (cfg NULL: defaults). Returns 0, LG_EINVAL or LG_ENOMEM. */
int mixer_create(const mixer_config_t *cfg, mixer_t **out);

/* Frees the mixer and everything it holds. NULL is a no-op. */
void mixer_destroy(mixer_t *m);

/* Sources: a participant publishing Opus audio. */
int mixer_source_add(mixer_t *m, uint32_t id);
int mixer_source_remove(mixer_t *m, uint32_t id);

/* Hands one received RTP Opus packet (payload after the RTP header) to a source's jitter buffer.
 * Returns 0 when buffered or ignored (inactive mixer), LG_ENOTFOUND, LG_EINVAL, or the jitter
 * buffer's reason for dropping it (counted in `dropped`). */
int mixer_source_push(mixer_t *m, uint32_t id, uint16_t seq, uint32_t ts, const uint8_t *payload,
                      size_t len, uint64_t now_ms);

/* The source's RFC 6464 audio level (0 loudest .. 127 silent, -dBov), e.g. from the packet's
 * header extension; it counts for ranking for 200 ms. Returns 0, LG_ENOTFOUND or LG_EINVAL. */
int mixer_source_set_level(mixer_t *m, uint32_t id, uint8_t level_dbov, uint64_t now_ms);

/* The source's jitter buffer counters. Returns 0 or LG_ENOTFOUND. */
int mixer_source_counters(const mixer_t *m, uint32_t id, jb_counters_t *out);

/* Listeners: a participant receiving the mix. Its stream starts at the next packet time with
 * sequence number seq0 and timestamp ts0 (continue an existing outbound stream by passing its next
 * values). Returns 0, LG_EEXIST, LG_EFULL, LG_EINVAL. */
int mixer_listener_add(mixer_t *m, uint32_t id, uint16_t seq0, uint32_t ts0);
int mixer_listener_remove(mixer_t *m, uint32_t id);

/* The fraction lost (percent, 0..100) from the listener's receiver reports, for its encoder's
 * OPUS_SET_PACKET_LOSS_PERC. Returns 0, LG_ENOTFOUND or LG_EINVAL. */
int mixer_listener_set_loss(mixer_t *m, uint32_t id, unsigned pct);

/* Returns 0 or LG_ENOTFOUND. */
int mixer_listener_info(const mixer_t *m, uint32_t id, mixer_listener_info_t *out);

/* Whether any listener exists (and so any decode or encode work happens). */
bool mixer_active(const mixer_t *m);

/* When the next tick is due (ms, the caller's monotonic clock): 0 before the first tick of an
 * active mixer (due now), UINT64_MAX when inactive. */
uint64_t mixer_next_deadline_ms(const mixer_t *m);

/* Runs one tick if one is due at now_ms. Returns 1 (a tick ran; its packets are in
 * mixer_outputs(), possibly none), 0 (not due, or inactive) or LG_EINVAL. */
int mixer_tick(mixer_t *m, uint64_t now_ms);

/* The packets of the last tick that ran: *n entries (0 in ticks that complete no packet time). */
const mixer_output_t *mixer_outputs(const mixer_t *m, size_t *n);

/* Writes an output as a plain RTP packet (12-byte header, no CSRC or extension) into buf.
 * Returns 0, LG_EINVAL (pt >= 128) or LG_ENOSPC. */
int mixer_output_rtp(const mixer_output_t *o, uint8_t pt, uint32_t ssrc, uint8_t *buf, size_t cap,
                     size_t *out_len);

/* The source ids currently mixed (the top K), at most cap of them; returns how many. */
size_t mixer_speakers(const mixer_t *m, uint32_t *ids, size_t cap);

const mixer_counters_t *mixer_counters(const mixer_t *m);

/* --- the mixing arithmetic, exposed for tests --- */

/* A peak limiter's state; gain 1.0 at rest. */
typedef struct mixer_limiter {
    float gain;
} mixer_limiter_t;

/* Sums n_in (<= 65536) frames of `samples` int16 samples in int32 and limits the sum into out,
 * 960 samples at a time (lim NULL: a fresh limiter for this call): the gain drops at once to keep
 * each block's peak at 32000 and recovers by at most 0.02 per block; results are clamped to int16
 * besides, so the sum can never wrap. */
void mixer_mix_pcm(const int16_t *const *in, size_t n_in, size_t samples, mixer_limiter_t *lim,
                   int16_t *out);

#endif
