/* Per-consumer sequence number and timestamp rewriting across source switches and drops. */
#include "media/seq_rewriter.h"

#include <stddef.h>
#include <string.h>

#include "sfu/lg_error.h"

/* True when a comes after b in 16-bit serial number arithmetic. */
static bool seq_newer(uint16_t a, uint16_t b)
{
    uint16_t d = (uint16_t)(a - b);
    return d != 0 && d < 0x8000;
}

static uint16_t drop_at(const seqrw_t *rw, unsigned i)
{
    return rw->drops[(rw->drop_head + i) % SEQRW_DROP_CAP];
}

/* Keeps the floor inside the window, so serial comparisons against it stay meaningful. */
static void clamp_floor(seqrw_t *rw)
{
    if ((uint16_t)(rw->max_in - rw->floor_in) >= SEQRW_WINDOW)
        rw->floor_in = (uint16_t)(rw->max_in - SEQRW_WINDOW);
}

/* Forgets drops that fell out of the window: packets that old are refused anyway. */
static void prune_drops(seqrw_t *rw)
{
    while (rw->drop_count > 0 && (uint16_t)(rw->max_in - drop_at(rw, 0)) >= SEQRW_WINDOW) {
        rw->drop_head = (uint16_t)((rw->drop_head + 1) % SEQRW_DROP_CAP);
        rw->drop_count--;
    }
}

/* Appends a drop; when the list is full the oldest is forgotten and becomes the floor. */
static void push_drop(seqrw_t *rw, uint16_t seq)
{
    if (rw->drop_count == SEQRW_DROP_CAP) {
        uint16_t evicted = drop_at(rw, 0);
        if (seq_newer(evicted, rw->floor_in))
            rw->floor_in = evicted;
        rw->drop_head = (uint16_t)((rw->drop_head + 1) % SEQRW_DROP_CAP);
        rw->drop_count--;
    }
    rw->drops[(rw->drop_head + rw->drop_count) % SEQRW_DROP_CAP] = seq;
    rw->drop_count++;
}

/* How many remembered drops come after seq; -1 when seq itself was dropped. */
static int drops_after(const seqrw_t *rw, uint16_t seq)
{
    int n = 0;
    for (unsigned i = 0; i < rw->drop_count; i++) {
        uint16_t d = drop_at(rw, i);
        if (d == seq)
            return -1;
        if (seq_newer(d, seq))
            n++;
    }
    return n;
}

int seqrw_init(seqrw_t *rw, uint32_t clock_rate)
{
    if (!rw || clock_rate == 0)
        return LG_EINVAL;
    memset(rw, 0, sizeof *rw);
    rw->clock_rate = clock_rate;
    return 0;
}

/* Makes (ssrc, seq, ts) the first packet of a new current source. */
static void start_source(seqrw_t *rw, uint32_t ssrc, uint16_t seq, uint32_t ts, uint64_t now_ms)
{
    if (!rw->started) {
        rw->offset = 0;
        rw->ts_offset = 0;
    } else {
        uint64_t elapsed = now_ms > rw->last_ms ? now_ms - rw->last_ms : 0;
        uint64_t ticks = elapsed * rw->clock_rate / 1000;
        if (ticks == 0)
            ticks = 1; /* a new frame never shares the last one's timestamp */
        rw->offset = (uint16_t)(rw->max_out + 1 - seq);
        rw->ts_offset = (uint32_t)(rw->max_out_ts + (uint32_t)ticks - ts);
    }
    rw->started = true;
    rw->ssrc = ssrc;
    rw->max_in = seq;
    rw->floor_in = (uint16_t)(seq - 1);
    rw->drop_head = 0;
    rw->drop_count = 0;
    rw->max_out = (uint16_t)(seq + rw->offset - 1); /* so the first packet counts as newest */
}

/* The outgoing seq for a packet of the current source, or LG_EREPLAY. */
static int map_seq(seqrw_t *rw, uint16_t seq, uint16_t *out)
{
    if (seq_newer(seq, rw->max_in)) {
        rw->max_in = seq;
        clamp_floor(rw);
        prune_drops(rw);
        *out = (uint16_t)(seq + rw->offset);
        return 0;
    }
    if ((uint16_t)(rw->max_in - seq) >= SEQRW_WINDOW || !seq_newer(seq, rw->floor_in))
        return LG_EREPLAY;
    int later = drops_after(rw, seq);
    if (later < 0)
        return LG_EREPLAY;
    *out = (uint16_t)(seq + rw->offset + later);
    return 0;
}

int seqrw_map(seqrw_t *rw, uint32_t ssrc, uint16_t seq, uint32_t ts, uint64_t now_ms,
              uint16_t *out_seq, uint32_t *out_ts)
{
    if (!rw || !out_seq || !out_ts)
        return LG_EINVAL;
    if (!rw->started || ssrc != rw->ssrc)
        start_source(rw, ssrc, seq, ts, now_ms);
    uint16_t out;
    int rc = map_seq(rw, seq, &out);
    if (rc != 0)
        return rc;
    *out_seq = out;
    *out_ts = ts + rw->ts_offset;
    if (seq_newer(out, rw->max_out)) {
        rw->max_out = out;
        rw->max_out_ts = *out_ts;
        rw->last_ms = now_ms;
    }
    return 0;
}

bool seqrw_drop(seqrw_t *rw, uint32_t ssrc, uint16_t seq)
{
    if (!rw || !rw->started || ssrc != rw->ssrc || !seq_newer(seq, rw->max_in))
        return false;
    rw->max_in = seq;
    rw->offset--;
    clamp_floor(rw);
    prune_drops(rw);
    push_drop(rw, seq);
    return true;
}

/* out = in + offset + (drops newer than in): try k = 0, 1, ... later drops, newest first. Drops
 * are ascending, so for k later drops in must lie between the k-th and (k+1)-th newest drop. */
int seqrw_unmap(const seqrw_t *rw, uint16_t out_seq, uint16_t *in_seq)
{
    if (!rw || !in_seq)
        return LG_EINVAL;
    if (!rw->started || seq_newer(out_seq, rw->max_out))
        return LG_ENOTFOUND;
    unsigned n = rw->drop_count;
    for (unsigned k = 0; k <= n; k++) {
        uint16_t in = (uint16_t)(out_seq - rw->offset - k);
        if (k > 0 && !seq_newer(drop_at(rw, n - k), in))
            continue; /* fewer than k drops are newer than in */
        if (k < n && !seq_newer(in, drop_at(rw, n - k - 1)))
            continue; /* more than k drops are newer, or in itself was dropped */
        if (seq_newer(in, rw->max_in) || (uint16_t)(rw->max_in - in) >= SEQRW_WINDOW ||
            !seq_newer(in, rw->floor_in))
            return LG_ENOTFOUND;
        *in_seq = in;
        return 0;
    }
    return LG_ENOTFOUND;
}

bool seqrw_last(const seqrw_t *rw, uint16_t *out_seq, uint32_t *out_ts)
{
    if (!rw || !rw->started)
        return false;
    if (out_seq)
        *out_seq = rw->max_out;
    if (out_ts)
        *out_ts = rw->max_out_ts;
    return true;
}
