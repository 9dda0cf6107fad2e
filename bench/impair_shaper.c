/* The link model of the impairment proxy: token bucket, drop-tail queue, loss, delay (see
 * impair_shaper.h). */
#include "bench/impair_shaper.h"

#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"

#define US_PER_S   1000000ull
#define PPM        1000000u
#define SCALE_BITS US_PER_S /* tokens are bits * 1e6, so a microsecond adds rate_bps of them */

/* splitmix64: small, seedable with any value, good enough for loss draws. */
static uint64_t next_rand(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

void impair_shaper_init(impair_shaper_t *s, const impair_params_t *params, impair_mode_t mode,
                        uint32_t overhead)
{
    memset(s, 0, sizeof *s);
    s->p = *params;
    if (s->p.burst_bytes == 0)
        s->p.burst_bytes = IMPAIR_DEFAULT_BURST;
    if (s->p.queue_ms == 0)
        s->p.queue_ms = IMPAIR_DEFAULT_QUEUE_MS;
    if (s->p.jitter_ms > s->p.delay_ms)
        s->p.jitter_ms = s->p.delay_ms;
    if (s->p.loss_ppm > PPM)
        s->p.loss_ppm = PPM;
    s->mode = mode;
    s->overhead = overhead;
    s->rng = s->p.seed;
    s->tokens = (uint64_t)s->p.burst_bytes * 8 * SCALE_BITS;
}

uint64_t impair_shaper_queue_limit_us(const impair_shaper_t *s)
{
    return (uint64_t)s->p.queue_ms * 1000;
}

uint64_t impair_shaper_backlog_us(const impair_shaper_t *s, uint64_t now_us)
{
    return s->last_depart_us > now_us ? s->last_depart_us - now_us : 0;
}

/* Tokens in the bucket at time t >= last_depart_us, capped at the burst. */
static uint64_t tokens_at(const impair_shaper_t *s, uint64_t t)
{
    uint64_t cap = (uint64_t)s->p.burst_bytes * 8 * SCALE_BITS;
    uint64_t elapsed = t - s->last_depart_us;
    if (elapsed >= (cap - s->tokens) / s->p.rate_bps + 1)
        return cap; /* also keeps elapsed * rate from overflowing after a long idle time */
    uint64_t t2 = s->tokens + elapsed * s->p.rate_bps;
    return t2 < cap ? t2 : cap;
}

/* When a packet of `bits` arriving at now leaves the bucket; *left gets the tokens after it. */
static uint64_t depart_time(const impair_shaper_t *s, uint64_t now, uint64_t bits, uint64_t *left)
{
    uint64_t start = now > s->last_depart_us ? now : s->last_depart_us;
    uint64_t have = tokens_at(s, start);
    uint64_t cost = bits * SCALE_BITS;
    if (have >= cost) {
        *left = have - cost;
        return start;
    }
    uint64_t wait = (cost - have + s->p.rate_bps - 1) / s->p.rate_bps;
    *left = have + wait * s->p.rate_bps - cost; /* the rounding remainder */
    return start + wait;
}

static bool draw_loss(impair_shaper_t *s)
{
    if (s->p.loss_ppm == 0)
        return false;
    return next_rand(&s->rng) % PPM < s->p.loss_ppm;
}

/* The delay after the bucket, jitter included. */
static uint64_t path_delay_us(impair_shaper_t *s)
{
    uint64_t d = (uint64_t)s->p.delay_ms * 1000;
    if (s->p.jitter_ms == 0)
        return d;
    uint64_t j = (uint64_t)s->p.jitter_ms * 1000;
    return d - j + next_rand(&s->rng) % (2 * j + 1);
}

impair_verdict_t impair_shaper_admit(impair_shaper_t *s, uint64_t now_us, size_t len,
                                     uint64_t *release_us)
{
    uint64_t depart = now_us;
    if (s->p.rate_bps > 0) {
        uint64_t left;
        depart = depart_time(s, now_us, (uint64_t)(len + s->overhead) * 8, &left);
        if (s->mode == IMPAIR_DATAGRAM && depart - now_us > impair_shaper_queue_limit_us(s)) {
            s->c.dropped_queue++;
            return IMPAIR_DROP_QUEUE;
        }
        s->tokens = left;
        s->last_depart_us = depart;
    }
    uint64_t release = depart + path_delay_us(s);
    if (draw_loss(s)) {
        if (s->mode == IMPAIR_DATAGRAM) {
            s->c.dropped_loss++;
            return IMPAIR_DROP_LOSS;
        }
        s->c.retransmitted++; /* the segment comes again one retransmission timeout later */
        release += (uint64_t)(IMPAIR_RTO_MIN_MS + 2 * s->p.delay_ms) * 1000;
    }
    if (release < s->last_release_us)
        release = s->last_release_us;
    s->last_release_us = release;
    s->c.forwarded++;
    s->c.bytes += len;
    *release_us = release;
    return IMPAIR_PASS;
}

/* --- parsing ---------------------------------------------------------------------------------- */

int impair_parse_loss(const char *s, uint32_t *ppm)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || (*end != '\0' && strcmp(end, "%") != 0) || !(v >= 0.0 && v <= 100.0))
        return -1;
    *ppm = (uint32_t)(v * (PPM / 100) + 0.5);
    return 0;
}

int impair_parse_rate(const char *s, uint64_t *bps)
{
    char *end;
    double v = strtod(s, &end);
    if (end == s || !(v >= 0.0))
        return -1;
    double mult = 1.0;
    if (*end == 'k' || *end == 'K')
        mult = 1e3, end++;
    else if (*end == 'm' || *end == 'M')
        mult = 1e6, end++;
    else if (*end == 'g' || *end == 'G')
        mult = 1e9, end++;
    if (strcmp(end, "bit") == 0 || strcmp(end, "bps") == 0)
        end += 3;
    if (*end != '\0' || v * mult > 1e12)
        return -1;
    *bps = (uint64_t)(v * mult + 0.5);
    return 0;
}

/* --- FIFO ------------------------------------------------------------------------------------- */

int impair_fifo_init(impair_fifo_t *q, uint32_t cap)
{
    memset(q, 0, sizeof *q);
    q->slots = calloc(cap ? cap : 1, sizeof *q->slots);
    if (!q->slots)
        return LG_ENOMEM;
    q->cap = cap ? cap : 1;
    return 0;
}

void impair_fifo_free(impair_fifo_t *q)
{
    free(q->slots);
    memset(q, 0, sizeof *q);
}

impair_slot_t *impair_fifo_push(impair_fifo_t *q)
{
    if (q->count == q->cap)
        return NULL;
    impair_slot_t *slot = &q->slots[(q->head + q->count) % q->cap];
    q->count++;
    slot->sent = 0;
    return slot;
}

impair_slot_t *impair_fifo_due(impair_fifo_t *q, uint64_t now_us)
{
    if (q->count == 0 || q->slots[q->head].release_us > now_us)
        return NULL;
    return &q->slots[q->head];
}

void impair_fifo_pop(impair_fifo_t *q)
{
    if (q->count == 0)
        return;
    q->head = (q->head + 1) % q->cap;
    q->count--;
}

uint64_t impair_fifo_next(const impair_fifo_t *q)
{
    return q->count ? q->slots[q->head].release_us : UINT64_MAX;
}
