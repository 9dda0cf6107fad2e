/* Retransmission buffer indexed by RTP sequence number, with age-out; packets live in a byte ring
 * sized by the stream's rate. */
#include "media/rtx_buffer.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

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

/* Rings are mapped, not malloc'ed: a freed ring goes back to the system at once, instead of
 * leaving a hole in the worker's heap that small allocations then split (which kept ~100 KB of
 * the rings a stream outgrew resident per publisher). */
static uint8_t *ring_alloc(uint32_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void ring_free(uint8_t *p, uint32_t size)
{
    if (p)
        munmap(p, size);
}

static uint32_t max_bytes(const rtxbuf_t *b)
{
    return b->capacity * RTXBUF_MTU;
}

int rtxbuf_init(rtxbuf_t *b, uint32_t capacity, uint32_t max_age_ms)
{
    if (!b)
        return LG_EINVAL;
    memset(b, 0, sizeof *b);
    if (capacity == 0 || capacity > RTXBUF_MAX_CAPACITY || (capacity & (capacity - 1)) != 0)
        return LG_EINVAL;
    b->capacity = capacity;
    b->size = max_bytes(b) < RTXBUF_MIN_BYTES ? max_bytes(b) : RTXBUF_MIN_BYTES;
    b->slots = calloc(capacity, sizeof *b->slots);
    b->data = ring_alloc(b->size);
    if (!b->slots || !b->data) {
        rtxbuf_free(b);
        return LG_ENOMEM;
    }
    b->max_age_ms = max_age_ms;
    return 0;
}

void rtxbuf_free(rtxbuf_t *b)
{
    if (!b)
        return;
    free(b->slots);
    ring_free(b->data, b->size);
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

/* ---- the byte ring ----------------------------------------------------------------------- */

/* Whether the slot held live bytes in a ring at (cycle, wpos): a slot's bytes are intact until
 * the writer, one cycle later, reaches their offset. */
static bool was_intact(const rtxbuf_slot_t *s, uint32_t cycle, uint32_t wpos)
{
    return s->cycle == cycle || (s->cycle + 1 == cycle && wpos <= s->off);
}

static bool intact(const rtxbuf_t *b, const rtxbuf_slot_t *s)
{
    return was_intact(s, b->cycle, b->wpos);
}

static uint32_t segment(const rtxbuf_t *b, uint32_t off)
{
    return (uint32_t)((uint64_t)off * RTXBUF_SEGMENTS / b->size);
}

/* The segments a write of len bytes at off enters, as [*first, *last]; none if *first > *last. */
static void entered(const rtxbuf_t *b, uint32_t off, size_t len, uint32_t *first, uint32_t *last)
{
    *last = segment(b, off + (uint32_t)len - 1);
    *first = off == 0 ? 0 : b->seg + 1;
}

/* Appends the slot's packet at the write position (the caller made room). */
static void write_bytes(rtxbuf_t *b, rtxbuf_slot_t *s, const uint8_t *pkt)
{
    uint32_t first, last;
    entered(b, b->wpos, s->len, &first, &last);
    for (uint32_t k = first; k <= last; k++)
        b->seg_ms[k] = s->stored_ms ? s->stored_ms : 1;
    b->seg = last;
    s->off = b->wpos;
    s->cycle = b->cycle;
    memcpy(b->data + b->wpos, pkt, s->len);
    b->wpos += s->len;
}

/* Moves the live packets, oldest first, into a new ring of `size` bytes; aged-out packets, and the
 * oldest others if they do not all fit, are forgotten. */
static void resize(rtxbuf_t *b, uint32_t size, uint64_t now_ms)
{
    uint8_t *old = b->data, *data = ring_alloc(size);
    if (!data)
        return; /* keep the ring we have */
    uint32_t old_size = b->size, old_cycle = b->cycle, old_wpos = b->wpos,
             n = b->have_newest ? b->capacity : 0;
    uint64_t live = 0;
    for (uint32_t i = n; i > 0; i--) {
        rtxbuf_slot_t *s = slot_of(b, (uint16_t)(b->newest - (i - 1)));
        if (s->used && (!was_intact(s, old_cycle, old_wpos) || aged_out(b, s->stored_ms, now_ms)))
            forget(b, s);
        else if (s->used)
            live += s->len;
    }
    b->data = data;
    b->size = size;
    b->wpos = 0;
    b->seg = 0;
    memset(b->seg_ms, 0, sizeof b->seg_ms);
    b->cycle = old_cycle + 2; /* nothing written before is intact in the new numbering */
    for (uint32_t i = n; i > 0; i--) {
        rtxbuf_slot_t *s = slot_of(b, (uint16_t)(b->newest - (i - 1)));
        if (!s->used)
            continue;
        if (live > size) { /* the oldest make room for the newer */
            live -= s->len;
            forget(b, s);
            continue;
        }
        live -= s->len;
        write_bytes(b, s, old + s->off);
    }
    ring_free(old, old_size);
}

/* The size that holds 1.25 x max_age_ms at the rate of `size` bytes per `age_ms`: at most double,
 * in 4 KB steps, within [RTXBUF_MIN_BYTES, capacity x MTU]. */
static uint32_t size_for(const rtxbuf_t *b, uint64_t age_ms)
{
    uint64_t want = (uint64_t)b->size * b->max_age_ms * 5 / 4 / (age_ms ? age_ms : 1);
    if (want > 2 * (uint64_t)b->size)
        want = 2 * (uint64_t)b->size;
    want = (want + 4095) / 4096 * 4096;
    uint32_t lo = RTXBUF_MIN_BYTES < max_bytes(b) ? RTXBUF_MIN_BYTES : max_bytes(b);
    return want > max_bytes(b) ? max_bytes(b) : want < lo ? lo : (uint32_t)want;
}

/* Before writing len bytes: grows the ring if the write would overwrite a part written less than
 * max_age_ms ago, shrinks it if that part was written more than 1.5 x max_age_ms ago; then wraps
 * to offset 0 if the packet does not fit at the end. */
static void make_room(rtxbuf_t *b, size_t len, uint64_t now_ms)
{
    uint32_t at = b->wpos + len > b->size ? 0 : b->wpos, first, last;
    entered(b, at, len, &first, &last);
    uint64_t youngest = 0; /* when the most recently entered of those parts was entered */
    for (uint32_t k = first; k <= last; k++)
        if (b->seg_ms[k] > youngest)
            youngest = b->seg_ms[k];
    if (youngest) {
        uint64_t age = now_ms > youngest ? now_ms - youngest : 0;
        uint32_t want = size_for(b, age);
        if ((age < b->max_age_ms && want > b->size) ||
            (2 * age > 3 * (uint64_t)b->max_age_ms && want < b->size))
            resize(b, want, now_ms);
    }
    if (b->wpos + len > b->size) {
        b->cycle++;
        b->wpos = 0;
    }
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
    s->used = false; /* its old bytes must not move with a resize */
    make_room(b, len, now_ms);
    s->used = true;
    s->seq = seq;
    s->len = (uint16_t)len;
    s->resends = 0;
    s->resent_ms = 0;
    s->stored_ms = now_ms;
    write_bytes(b, s, pkt);
    return 0;
}

/* The live slot holding seq, or NULL (aged-out slots are freed on the way). */
static rtxbuf_slot_t *lookup(rtxbuf_t *b, uint16_t seq, uint64_t now_ms)
{
    if (!b || !b->slots || !b->have_newest)
        return NULL;
    rtxbuf_slot_t *s = slot_of(b, seq);
    if (!s->used || s->seq != seq || (uint16_t)(b->newest - seq) >= b->capacity || !intact(b, s))
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
        *pkt = b->data + s->off;
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
