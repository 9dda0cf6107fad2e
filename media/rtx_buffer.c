/* Fixed-capacity retransmission buffer indexed by RTP sequence number, with age-out. */
#include "media/rtx_buffer.h"

#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"

static bool seq_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    return d != 0 && d < 0x8000;
}

static rtxbuf_slot_t *slot_of(const rtxbuf_t *b, uint16_t seq)
{
    return &b->slots[seq & (b->capacity - 1)];
}

static bool aged_out(const rtxbuf_t *b, uint64_t stored_ms, uint64_t now_ms)
{
    return now_ms > stored_ms && now_ms - stored_ms > b->max_age_ms;
}

static void forget(rtxbuf_t *b, rtxbuf_slot_t *s)
{
    if (s->used) {
        s->used = false;
        b->count--;
    }
}

int rtxbuf_init(rtxbuf_t *b, uint32_t capacity, uint32_t max_age_ms)
{
    if (!b)
        return LG_EINVAL;
    memset(b, 0, sizeof *b);
    if (capacity == 0 || capacity > RTXBUF_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return LG_EINVAL;
    b->slots = calloc(capacity, sizeof *b->slots);
    b->data = malloc((size_t)capacity * RTXBUF_MTU);
    if (!b->slots || !b->data) {
        rtxbuf_free(b);
        return LG_ENOMEM;
    }
    b->capacity = capacity;
    b->max_age_ms = max_age_ms;
    return 0;
}

void rtxbuf_free(rtxbuf_t *b)
{
    if (!b)
        return;
    free(b->slots);
    free(b->data);
    memset(b, 0, sizeof *b);
}

void rtxbuf_clear(rtxbuf_t *b)
{
    if (!b || !b->slots)
        return;
    memset(b->slots, 0, (size_t)b->capacity * sizeof *b->slots);
    b->count = 0;
    b->have_newest = false;
}

/* Moves the newest mark ahead to seq, forgetting the slots of the seqs it skips. */
static void advance(rtxbuf_t *b, uint16_t seq, uint64_t now_ms)
{
    uint16_t gap = (uint16_t)(seq - b->newest);
    if (gap > b->capacity) {
        rtxbuf_clear(b);
    } else {
        for (uint16_t i = 1; i < gap; i++)
            forget(b, slot_of(b, (uint16_t)(b->newest + i)));
    }
    b->have_newest = true;
    b->newest = seq;
    b->newest_ms = now_ms;
}

/* Decides where seq stands: 0 to store it (advancing the window if it is newer), or LG_EREPLAY. */
static int place(rtxbuf_t *b, uint16_t seq, uint64_t now_ms)
{
    if (!b->have_newest || seq_newer(seq, b->newest)) {
        advance(b, seq, now_ms);
        return 0;
    }
    if ((uint16_t)(b->newest - seq) < b->capacity)
        return 0;
    if (!aged_out(b, b->newest_ms, now_ms))
        return LG_EREPLAY;
    rtxbuf_clear(b); /* everything stored is stale: the stream restarted elsewhere */
    advance(b, seq, now_ms);
    return 0;
}

int rtxbuf_put(rtxbuf_t *b, uint16_t seq, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
    if (!b || !b->slots || !pkt || len == 0)
        return LG_EINVAL;
    if (len > RTXBUF_MTU)
        return LG_ENOSPC;
    int rc = place(b, seq, now_ms);
    if (rc != 0)
        return rc;
    rtxbuf_slot_t *s = slot_of(b, seq);
    if (!s->used)
        b->count++;
    s->used = true;
    s->seq = seq;
    s->len = (uint16_t)len;
    s->resends = 0;
    s->resent_ms = 0;
    s->stored_ms = now_ms;
    memcpy(b->data + (size_t)(seq & (b->capacity - 1)) * RTXBUF_MTU, pkt, len);
    return 0;
}

/* The live slot holding seq, or NULL (aged-out slots are freed on the way). */
static rtxbuf_slot_t *lookup(rtxbuf_t *b, uint16_t seq, uint64_t now_ms)
{
    if (!b || !b->slots || !b->have_newest)
        return NULL;
    rtxbuf_slot_t *s = slot_of(b, seq);
    if (!s->used || s->seq != seq || (uint16_t)(b->newest - seq) >= b->capacity)
        return NULL;
    if (aged_out(b, s->stored_ms, now_ms)) {
        forget(b, s);
        return NULL;
    }
    return s;
}

static void view(const rtxbuf_t *b, const rtxbuf_slot_t *s, const uint8_t **pkt, size_t *len)
{
    if (pkt)
        *pkt = b->data + (size_t)(s->seq & (b->capacity - 1)) * RTXBUF_MTU;
    if (len)
        *len = s->len;
}

int rtxbuf_get(rtxbuf_t *b, uint16_t seq, uint64_t now_ms, const uint8_t **pkt, size_t *len)
{
    rtxbuf_slot_t *s = lookup(b, seq, now_ms);
    if (!s)
        return LG_ENOTFOUND;
    view(b, s, pkt, len);
    return 0;
}

int rtxbuf_resend(rtxbuf_t *b, uint16_t seq, uint64_t now_ms, uint32_t min_interval_ms,
                  const uint8_t **pkt, size_t *len)
{
    rtxbuf_slot_t *s = lookup(b, seq, now_ms);
    if (!s)
        return LG_ENOTFOUND;
    if (s->resends > 0 && now_ms < s->resent_ms + min_interval_ms)
        return LG_EREPLAY;
    if (s->resends < UINT16_MAX)
        s->resends++;
    s->resent_ms = now_ms;
    view(b, s, pkt, len);
    return 0;
}
