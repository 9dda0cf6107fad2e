/* RFC 4571 framer and deframer: whole frames are handed out straight from the caller's chunk, and
 * only a frame cut by a chunk boundary is gathered in the deframer's fixed buffer. */
#include "sfu/rfc4571.h"
#include "sfu/lg_error.h"

#include <string.h>

void rfc4571_deframer_init(rfc4571_deframer_t *d)
{
    d->have = 0;
    d->empty_frames = 0;
}

static size_t read_length(const uint8_t *p)
{
    return ((size_t)p[0] << 8) | p[1];
}

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

/* Hands one frame to the callback, skipping (and counting) empty ones. */
static int deliver(rfc4571_deframer_t *d, uint8_t *frame, size_t len, rfc4571_frame_fn fn,
                   void *ctx)
{
    if (len == 0) {
        d->empty_frames++;
        return 0;
    }
    return fn(ctx, frame, len);
}

/* Appends chunk bytes to the partial frame in buf until it is complete or the chunk ends.
 * Returns the number of chunk bytes taken. */
static size_t fill_partial(rfc4571_deframer_t *d, const uint8_t *p, size_t len)
{
    size_t taken = 0;
    if (d->have < RFC4571_PREFIX) {
        taken = min_size(RFC4571_PREFIX - d->have, len);
        memcpy(d->buf + d->have, p, taken);
        d->have += taken;
        if (d->have < RFC4571_PREFIX)
            return taken;
    }
    size_t want = RFC4571_PREFIX + read_length(d->buf) - d->have;
    size_t n = min_size(want, len - taken);
    memcpy(d->buf + d->have, p + taken, n);
    d->have += n;
    return taken + n;
}

static int partial_complete(const rfc4571_deframer_t *d)
{
    return d->have >= RFC4571_PREFIX && d->have == RFC4571_PREFIX + read_length(d->buf);
}

int rfc4571_deframer_feed(rfc4571_deframer_t *d, uint8_t *chunk, size_t len, rfc4571_frame_fn fn,
                          void *ctx)
{
    if (len == 0)
        return 0;
    size_t off = 0;
    if (d->have > 0) {
        off = fill_partial(d, chunk, len);
        if (!partial_complete(d))
            return 0; /* the whole chunk went into the partial frame */
        size_t flen = d->have - RFC4571_PREFIX;
        d->have = 0; /* buf stays intact until the next feed */
        int rc = deliver(d, d->buf + RFC4571_PREFIX, flen, fn, ctx);
        if (rc != 0)
            return rc;
    }
    /* Frames wholly inside the chunk: zero copy. */
    while (len - off >= RFC4571_PREFIX) {
        size_t flen = read_length(chunk + off);
        if (len - off - RFC4571_PREFIX < flen)
            break;
        uint8_t *frame = chunk + off + RFC4571_PREFIX;
        off += RFC4571_PREFIX + flen;
        int rc = deliver(d, frame, flen, fn, ctx);
        if (rc != 0)
            return rc;
    }
    /* The tail starts a frame: fewer than PREFIX + 65535 bytes, so it always fits in buf. */
    if (off < len) {
        memcpy(d->buf, chunk + off, len - off);
        d->have = len - off;
    }
    return 0;
}

int rfc4571_put_length(uint8_t prefix[RFC4571_PREFIX], size_t len)
{
    if (len > RFC4571_MAX_FRAME)
        return LG_EINVAL;
    prefix[0] = (uint8_t)(len >> 8);
    prefix[1] = (uint8_t)(len & 0xff);
    return 0;
}

int rfc4571_frame(uint8_t *out, size_t cap, const uint8_t *payload, size_t len)
{
    if (len > RFC4571_MAX_FRAME)
        return LG_EINVAL;
    if (cap < len + RFC4571_PREFIX)
        return LG_ENOSPC;
    rfc4571_put_length(out, len);
    if (len > 0)
        memcpy(out + RFC4571_PREFIX, payload, len);
    return (int)(len + RFC4571_PREFIX);
}
