/* State shared by media/opus_mixer.c (rooms, listeners, encoders) and media/mixer_source.c (the
 * per-source decode path); not a public API. */
#ifndef LG_MEDIA_OPUS_MIXER_INTERNAL_H
#define LG_MEDIA_OPUS_MIXER_INTERNAL_H

#include <opus.h>

#include "media/opus_mixer.h"

#define MIX_FRAME    960                /* samples per tick */
#define MIX_FIFO_CAP (MIX_FRAME + 5760) /* a tick's worth plus the longest Opus packet */
#define MIX_ACC_CAP  (MIX_FRAME * 3)    /* one 60 ms packet */

typedef struct mix_source {
    uint32_t id;
    bool audible;  /* this tick's frame came from the stream */
    bool selected; /* among the top K this packet time */
    bool has_level;
    uint8_t level; /* the caller's RFC 6464 level, -dBov */
    uint64_t level_ms;
    float loud; /* smoothed loudness score: dB above -127 dBov */
    unsigned fill;
    jb_t jb;
    OpusDecoder *dec;
    int16_t frame[MIX_FRAME];
    int16_t fifo[MIX_FIFO_CAP];
} mix_source_t;

/* An encoder with what it accumulates for one packet time. */
typedef struct mix_stream {
    OpusEncoder *enc;
    mixer_limiter_t lim;
    int loss;  /* packet loss percentage set on the encoder */
    bool busy; /* pool: held by a speaking listener */
    unsigned owner;
    int len; /* bytes in out from the last encode (<= 0: none) */
    int16_t acc[MIX_ACC_CAP];
    uint8_t out[MIXER_MAX_PAYLOAD];
} mix_stream_t;

enum { ON_NONE = 0, ON_SHARED, ON_OWN }; /* where a listener's last packet came from */

typedef struct mix_listener {
    bool used, live, marker;
    uint32_t id;
    uint16_t seq;
    uint32_t ts0;
    uint64_t start_tick;
    unsigned loss;
    int stream; /* pool index, or -1 for the shared encoder */
    int prev;
    uint64_t packets;
} mix_listener_t;

struct mixer {
    mixer_config_t cfg;
    size_t enc_size;
    mix_source_t **src; /* cfg.max_sources slots, NULL when free */
    mix_listener_t *lis;
    unsigned nlisteners;
    unsigned period_ticks, acc_ticks, shared_users;
    uint64_t tick_no, period_tick;
    bool shared_ran, predict_off, anchored;
    uint64_t deadline;
    mixer_output_t *outs;
    size_t nouts;
    mixer_counters_t c;
    int32_t sum[MIX_FRAME], tmp[MIX_FRAME];
    mix_stream_t shared;
    mix_stream_t pool[MIXER_MAX_K];
};

/* The source with this id, or NULL. */
mix_source_t *mixer__find_source(const mixer_t *m, uint32_t id);

/* Frees a source and its jitter buffer and decoder. */
void mixer__source_free(mix_source_t *s);

/* Empties its buffer and resets its decoder, as when the mixer (re)activates. */
void mixer__source_restart(mix_source_t *s);

/* One tick: pops and decodes until the source has 20 ms, takes them as s->frame (silence padded,
 * s->audible false when nothing came), and updates its loudness. */
void mixer__source_step(mixer_t *m, mix_source_t *s, uint64_t now_ms);

#endif
