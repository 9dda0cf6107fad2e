/* Test helpers for the audio modules: sine sources encoded with real libopus into 20 ms RTP Opus
 * payloads, and Goertzel tone power to analyse decoded audio. Header-only, for tests. */
#ifndef LG_TESTS_OPUS_TONE_H
#define LG_TESTS_OPUS_TONE_H

#include <math.h>
#include <opus.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TONE_FRAME 960 /* 20 ms at 48 kHz */

typedef struct tone_src {
    OpusEncoder *enc;
    double freq;
    double amp; /* peak, 0..1 of full scale */
    double am;  /* 0, or the depth of a 4 Hz syllable-like envelope (VAD sees speech, so LBRR) */
    double phase;
    uint64_t n; /* samples made */
    uint16_t seq;
    uint32_t ts;
} tone_src_t;

/* A 48 kHz mono VOIP encoder at bitrate_bps; with fec, in-band FEC on and 20 % expected loss so
 * packets carry LBRR. Returns 0 or an Opus error. */
static inline int tone_src_init(tone_src_t *t, double freq, double amp, bool fec, int bitrate_bps,
                                uint16_t seq0, uint32_t ts0)
{
    int err = 0;
    t->enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    if (err != OPUS_OK)
        return err;
    opus_encoder_ctl(t->enc, OPUS_SET_BITRATE(bitrate_bps));
    opus_encoder_ctl(t->enc, OPUS_SET_INBAND_FEC(fec ? 1 : 0));
    opus_encoder_ctl(t->enc, OPUS_SET_PACKET_LOSS_PERC(fec ? 20 : 0));
    t->freq = freq;
    t->amp = amp;
    t->am = 0;
    t->phase = 0;
    t->n = 0;
    t->seq = seq0;
    t->ts = ts0;
    return 0;
}

static inline void tone_src_free(tone_src_t *t)
{
    if (t->enc)
        opus_encoder_destroy(t->enc);
    t->enc = NULL;
}

/* Fills pcm with the next 20 ms of the tone. */
static inline void tone_pcm(tone_src_t *t, int16_t *pcm)
{
    double step = 2.0 * M_PI * t->freq / 48000.0;
    for (int i = 0; i < TONE_FRAME; i++, t->n++) {
        double env = 1.0 - t->am + t->am * sin(2.0 * M_PI * 4.0 * (double)t->n / 48000.0);
        double v = t->amp * env * 32767.0 * sin(t->phase);
        pcm[i] = (int16_t)lrint(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        t->phase += step;
    }
    t->phase = fmod(t->phase, 2.0 * M_PI);
}

/* Encodes the next 20 ms; *seq and *ts get the packet's RTP values. Returns the payload length or
 * a negative Opus error. */
static inline int tone_src_next(tone_src_t *t, uint8_t *out, size_t cap, uint16_t *seq,
                                uint32_t *ts)
{
    int16_t pcm[TONE_FRAME];
    tone_pcm(t, pcm);
    *seq = t->seq++;
    *ts = t->ts;
    t->ts += TONE_FRAME;
    return opus_encode(t->enc, pcm, TONE_FRAME, out, (opus_int32)cap);
}

/* Power of one frequency in x, as the squared amplitude of a sine (a full-scale sine: 32767^2). */
static inline double goertzel(const int16_t *x, size_t n, double freq)
{
    double w = 2.0 * M_PI * freq / 48000.0, c = 2.0 * cos(w), s1 = 0, s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double s0 = x[i] + c * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    double p = s1 * s1 + s2 * s2 - c * s1 * s2;
    return p * 4.0 / ((double)n * (double)n);
}

static inline double to_db(double p)
{
    return 10.0 * log10(p + 1e-9);
}

/* Mean power of x, as goertzel() would report a sine of the same energy. */
static inline double total_power(const int16_t *x, size_t n)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (double)x[i] * x[i];
    return 2.0 * e / (double)n;
}

#endif
