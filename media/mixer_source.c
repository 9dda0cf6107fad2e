/* The mixer's sources: each a jitter buffer feeding an Opus decoder, giving one 20 ms frame per
 * tick and a loudness for ranking (see opus_mixer.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "media/opus_mixer_internal.h"
#include "sfu/lg_error.h"

#define LEVEL_FRESH_MS 200  /* a caller's audio level counts this long */
#define LOUD_RELEASE   0.2f /* share of a fall in loudness taken per tick */
#define MAX_POPS       16   /* jitter buffer steps per tick (2.5 ms packets need 8) */

mix_source_t *mixer__find_source(const mixer_t *m, uint32_t id)
{
    for (unsigned i = 0; i < m->cfg.max_sources; i++)
        if (m->src[i] && m->src[i]->id == id)
            return m->src[i];
    return NULL;
}

void mixer__source_free(mix_source_t *s)
{
    jb_free(&s->jb);
    if (s->dec)
        opus_decoder_destroy(s->dec);
    free(s);
}

void mixer__source_restart(mix_source_t *s)
{
    jb_reset(&s->jb);
    opus_decoder_ctl(s->dec, OPUS_RESET_STATE);
    s->fill = 0;
    s->audible = s->selected = false;
    s->loud = 0;
}

/* --- sources --- */

int mixer_source_add(mixer_t *m, uint32_t id)
{
    if (!m)
        return LG_EINVAL;
    if (mixer__find_source(m, id))
        return LG_EEXIST;
    unsigned i = 0;
    while (i < m->cfg.max_sources && m->src[i])
        i++;
    if (i == m->cfg.max_sources)
        return LG_EFULL;
    mix_source_t *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    int err = 0;
    s->id = id;
    s->dec = opus_decoder_create(48000, 1, &err);
    if (!s->dec || err != OPUS_OK || jb_init(&s->jb, &m->cfg.jitter) != 0) {
        mixer__source_free(s);
        return LG_ENOMEM;
    }
    m->src[i] = s;
    return 0;
}

int mixer_source_remove(mixer_t *m, uint32_t id)
{
    if (!m)
        return LG_EINVAL;
    for (unsigned i = 0; i < m->cfg.max_sources; i++) {
        if (m->src[i] && m->src[i]->id == id) {
            mixer__source_free(m->src[i]);
            m->src[i] = NULL;
            return 0;
        }
    }
    return LG_ENOTFOUND;
}

int mixer_source_push(mixer_t *m, uint32_t id, uint16_t seq, uint32_t ts, const uint8_t *payload,
                      size_t len, uint64_t now_ms)
{
    if (!m || (!payload && len))
        return LG_EINVAL;
    mix_source_t *s = mixer__find_source(m, id);
    if (!s)
        return LG_ENOTFOUND;
    if (!m->nlisteners)
        return 0;
    m->c.pushed++;
    int rc = jb_insert(&s->jb, seq, ts, payload, len, now_ms);
    if (rc < 0)
        m->c.dropped++;
    return rc;
}

int mixer_source_set_level(mixer_t *m, uint32_t id, uint8_t level_dbov, uint64_t now_ms)
{
    if (!m || level_dbov > 127)
        return LG_EINVAL;
    mix_source_t *s = mixer__find_source(m, id);
    if (!s)
        return LG_ENOTFOUND;
    s->has_level = true;
    s->level = level_dbov;
    s->level_ms = now_ms;
    return 0;
}

int mixer_source_counters(const mixer_t *m, uint32_t id, jb_counters_t *out)
{
    const mix_source_t *s = m && out ? mixer__find_source(m, id) : NULL;
    if (!s)
        return LG_ENOTFOUND;
    jb_get_counters(&s->jb, out);
    return 0;
}

/* Loudness score of a frame: dB above -127 dBov (0 silent, ~124 for a full-scale sine). */
static float frame_score(const int16_t *x)
{
    double e = 0;
    for (unsigned i = 0; i < MIX_FRAME; i++)
        e += (double)x[i] * x[i];
    e /= MIX_FRAME;
    if (e < 1e-6)
        return 0.0f;
    double score = 127.0 + 10.0 * log10(e / (32768.0 * 32768.0));
    return (float)(score < 0 ? 0 : score > 127 ? 127 : score);
}

static void update_loudness(mix_source_t *s, uint64_t now_ms)
{
    float v = s->audible ? frame_score(s->frame) : 0.0f;
    if (s->has_level && now_ms - s->level_ms <= LEVEL_FRESH_MS) {
        float claimed = 127.0f - (float)s->level;
        if (claimed < v)
            v = claimed; /* the quieter of claim and measurement */
    }
    s->loud = v >= s->loud ? v : s->loud + (v - s->loud) * LOUD_RELEASE;
}

/* --- per tick: decode --- */

static int conceal(mixer_t *m, mix_source_t *s, int16_t *dst, int samples)
{
    m->c.decodes++;
    m->c.concealed++;
    return opus_decode(s->dec, NULL, 0, dst, samples, 0);
}

/* Decodes one jitter buffer step into the source's FIFO. */
static void decode_step(mixer_t *m, mix_source_t *s, jb_result_t r, const jb_frame_t *f)
{
    int16_t *dst = s->fifo + s->fill;
    int cap = MIX_FIFO_CAP - (int)s->fill; /* > 5760: room for any packet */
    int want = (int)f->samples < cap ? (int)f->samples : cap;
    int n;
    if (r == JB_PACKET) {
        m->c.decodes++;
        n = opus_decode(s->dec, f->payload, (opus_int32)f->len, dst, cap, 0);
        if (n < 0) {
            m->c.decode_errors++;
            n = conceal(m, s, dst, want);
        }
    } else if (r == JB_FEC) {
        m->c.decodes++;
        n = opus_decode(s->dec, f->payload, (opus_int32)f->len, dst, want, 1);
        if (n > 0)
            m->c.fec_recovered++;
        else
            n = conceal(m, s, dst, want);
    } else {
        n = conceal(m, s, dst, want);
    }
    if (n <= 0) { /* the decoder refused even concealment: keep the cadence with silence */
        memset(dst, 0, (size_t)want * sizeof *dst);
        n = want;
    }
    s->fill += (unsigned)n;
}

void mixer__source_step(mixer_t *m, mix_source_t *s, uint64_t now_ms)
{
    for (unsigned pops = 0; s->fill < MIX_FRAME && pops < MAX_POPS; pops++) {
        jb_frame_t f;
        jb_result_t r = jb_pop(&s->jb, now_ms, &f);
        if (r == JB_SILENT)
            break;
        decode_step(m, s, r, &f);
    }
    unsigned n = s->fill < MIX_FRAME ? s->fill : MIX_FRAME;
    s->audible = n > 0;
    memcpy(s->frame, s->fifo, n * sizeof s->frame[0]);
    memset(s->frame + n, 0, (MIX_FRAME - n) * sizeof s->frame[0]);
    memmove(s->fifo, s->fifo + n, (s->fill - n) * sizeof s->fifo[0]);
    s->fill -= n;
    update_loudness(s, now_ms);
}
