/* Missing-sequence tracking and NACK list generation with retries, age-out and key frame fallback.
 */
#include "media/nack_generator.h"

#include <string.h>

#include "sfu/lg_error.h"

#define WINDOW_MASK (NACKGEN_WINDOW - 1)

static bool seq_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    return d != 0 && d < 0x8000;
}

static nackgen_item_t *item_of(nackgen_t *g, uint16_t seq)
{
    return &g->items[seq & WINDOW_MASK];
}

void nackgen_default_config(nackgen_config_t *cfg)
{
    cfg->max_retries = 10;
    cfg->max_age_ms = 1000;
    cfg->max_missing = 256;
    cfg->min_interval_ms = 20;
    cfg->initial_rtt_ms = 100;
}

int nackgen_init(nackgen_t *g, const nackgen_config_t *cfg)
{
    if (!g)
        return LG_EINVAL;
    memset(g, 0, sizeof *g);
    nackgen_default_config(&g->cfg);
    if (cfg) {
        if (cfg->max_retries)
            g->cfg.max_retries = cfg->max_retries > 255 ? 255 : cfg->max_retries;
        if (cfg->max_age_ms)
            g->cfg.max_age_ms = cfg->max_age_ms;
        if (cfg->max_missing)
            g->cfg.max_missing = cfg->max_missing;
        if (cfg->min_interval_ms)
            g->cfg.min_interval_ms = cfg->min_interval_ms;
        if (cfg->initial_rtt_ms)
            g->cfg.initial_rtt_ms = cfg->initial_rtt_ms;
    }
    g->rtt_ms = g->cfg.initial_rtt_ms;
    return 0;
}

void nackgen_set_rtt(nackgen_t *g, uint32_t rtt_ms)
{
    if (g)
        g->rtt_ms = rtt_ms;
}

uint32_t nackgen_missing(const nackgen_t *g)
{
    return g ? g->missing : 0;
}

/* True when a key frame newer than seq arrived (only one inside the window can be). */
static bool keyframe_after(const nackgen_t *g, uint16_t seq)
{
    return g->have_keyframe && (uint16_t)(g->newest - g->last_keyframe) < NACKGEN_WINDOW &&
           seq_newer(g->last_keyframe, seq);
}

/* Abandons a missing item; true when a key frame is needed for it. */
static bool give_up(nackgen_t *g, nackgen_item_t *it)
{
    it->missing = false;
    g->missing--;
    g->given_up++;
    return !keyframe_after(g, it->seq);
}

/* Over the limit: abandons every missing seq before the last key frame, then all if need be. */
static bool trim(nackgen_t *g)
{
    bool need = false;
    for (uint32_t i = 0; i < NACKGEN_WINDOW; i++) {
        nackgen_item_t *it = &g->items[i];
        if (it->missing && keyframe_after(g, it->seq))
            need |= give_up(g, it);
    }
    if (g->missing <= g->cfg.max_missing)
        return need;
    for (uint32_t i = 0; i < NACKGEN_WINDOW; i++)
        if (g->items[i].missing)
            need |= give_up(g, &g->items[i]);
    return need;
}

/* Advances the newest seq to seq, marking the skipped ones missing. */
static bool advance(nackgen_t *g, uint16_t seq, uint64_t now_ms)
{
    bool need = false;
    uint16_t gap = (uint16_t)(seq - g->newest);
    if (gap > NACKGEN_WINDOW) { /* too many lost to track */
        for (uint32_t i = 0; i < NACKGEN_WINDOW; i++)
            if (g->items[i].missing)
                give_up(g, &g->items[i]);
        g->given_up += gap - 1u;
        g->newest = seq;
        return true;
    }
    for (uint16_t i = 1; i <= gap; i++) {
        uint16_t s = (uint16_t)(g->newest + i);
        nackgen_item_t *it = item_of(g, s);
        if (it->missing) /* fell out of the window */
            need |= give_up(g, it);
        if (s == seq)
            break;
        it->missing = true;
        it->seq = s;
        it->tries = 0;
        it->since_ms = now_ms;
        it->sent_ms = 0;
        g->missing++;
    }
    g->newest = seq;
    return need;
}

/* A seq at or before the newest: a duplicate, or a late or recovered arrival. */
static void late(nackgen_t *g, uint16_t seq)
{
    if ((uint16_t)(g->newest - seq) >= NACKGEN_WINDOW)
        return;
    nackgen_item_t *it = item_of(g, seq);
    if (it->missing && it->seq == seq) {
        it->missing = false;
        g->missing--;
        g->recovered++;
    }
}

bool nackgen_on_packet(nackgen_t *g, uint16_t seq, bool keyframe, uint64_t now_ms)
{
    if (!g)
        return false;
    if (g->started && !seq_newer(seq, g->newest)) {
        late(g, seq);
        return false;
    }
    bool need = false;
    if (g->started) {
        need = advance(g, seq, now_ms);
    } else {
        g->started = true;
        g->newest = seq;
    }
    if (keyframe) {
        g->have_keyframe = true;
        g->last_keyframe = seq;
        need = false; /* this key frame replaces whatever was lost before it */
    }
    if (g->missing > g->cfg.max_missing)
        need |= trim(g);
    return need;
}

/* Whether a missing item is sent now (1), waits (0) or is abandoned (-1). */
static int due(const nackgen_t *g, const nackgen_item_t *it, uint64_t now_ms, uint32_t interval)
{
    if (now_ms > it->since_ms && now_ms - it->since_ms > g->cfg.max_age_ms)
        return -1;
    bool waited = it->tries == 0 || now_ms >= it->sent_ms + interval;
    if (!waited)
        return 0;
    return it->tries >= g->cfg.max_retries ? -1 : 1;
}

size_t nackgen_collect(nackgen_t *g, uint64_t now_ms, uint16_t *seqs, size_t cap, bool *keyframe)
{
    if (!g || !g->started || g->missing == 0)
        return 0;
    uint32_t interval = g->rtt_ms > g->cfg.min_interval_ms ? g->rtt_ms : g->cfg.min_interval_ms;
    size_t n = 0;
    bool need = false;
    for (uint32_t i = 1; i < NACKGEN_WINDOW; i++) {
        uint16_t s = (uint16_t)(g->newest - NACKGEN_WINDOW + i);
        nackgen_item_t *it = item_of(g, s);
        if (!it->missing || it->seq != s)
            continue;
        int d = due(g, it, now_ms, interval);
        if (d < 0) {
            need |= give_up(g, it);
        } else if (d > 0 && n < cap && seqs) {
            seqs[n++] = s;
            it->tries++;
            it->sent_ms = now_ms;
            g->nacked++;
        }
    }
    if (need && keyframe)
        *keyframe = true;
    return n;
}
