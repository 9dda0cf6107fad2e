/* RFC 4571 framing for ICE-TCP: each packet on the stream is a 16-bit big-endian length followed
 * by that many bytes; this module cuts a byte stream back into packets and frames packets. */
#ifndef LG_RFC4571_H
#define LG_RFC4571_H

/*
 * Contract
 * --------
 * Pure: no I/O, no allocation, no logging, no global state. A deframer belongs to one stream (one
 * TCP connection) and is used by one thread at a time; distinct deframers are independent.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    -----------------------------------------------------------------
 *    |             LENGTH            |  packet (LENGTH bytes) ...    |
 *    -----------------------------------------------------------------
 *
 * Size: LENGTH is 16 bits, so a frame can never exceed RFC4571_MAX_FRAME (65535) bytes; there is
 * no "too long" error on the receiving side, and the deframer's fixed buffer of
 * RFC4571_PREFIX + RFC4571_MAX_FRAME bytes always holds a partial frame.
 *
 * Zero-length frames carry no packet: the deframer skips them and counts them in `empty_frames`.
 *
 * Ownership: rfc4571_deframer_feed() hands each complete frame to the callback as a pointer INTO
 * the caller's chunk when the frame lies wholly inside it (zero copy), or into the deframer's own
 * buffer when the frame arrived in pieces (only such partial frames are copied). Either way the
 * bytes are writable by the callback (SRTP unprotects in place) and valid only during the call.
 */

#include <stddef.h>
#include <stdint.h>

#define RFC4571_PREFIX    2     /* bytes of the length field */
#define RFC4571_MAX_FRAME 65535 /* largest packet a 16-bit length can announce */

/* Called for each complete non-empty frame. Returning non-zero stops the feed at once (for
 * example because the connection was closed); the rest of the chunk is not looked at. */
typedef int (*rfc4571_frame_fn)(void *ctx, uint8_t *frame, size_t len);

typedef struct {
    size_t have;           /* bytes of the current partial frame held in buf (prefix included) */
    uint64_t empty_frames; /* zero-length frames skipped since init */
    uint8_t buf[RFC4571_PREFIX + RFC4571_MAX_FRAME];
} rfc4571_deframer_t;

/* Resets a deframer to the start of a stream (does not touch buf). */
void rfc4571_deframer_init(rfc4571_deframer_t *d);

/* Consumes `len` bytes of the stream, split anywhere: several frames per chunk, a frame across
 * chunks, a length prefix across chunks. Calls fn for every frame completed by these bytes, in
 * stream order. Returns 0 when the whole chunk was consumed, or the callback's non-zero value when
 * it stopped the feed (the deframer is then at a frame boundary; the rest of the chunk is
 * dropped). */
int rfc4571_deframer_feed(rfc4571_deframer_t *d, uint8_t *chunk, size_t len, rfc4571_frame_fn fn,
                          void *ctx);

/* Writes the 2-byte length prefix for a packet of `len` bytes, for senders that use two iovecs
 * (prefix, payload). Returns 0, or LG_EINVAL when len > RFC4571_MAX_FRAME. */
int rfc4571_put_length(uint8_t prefix[RFC4571_PREFIX], size_t len);

/* Writes prefix + payload into out (cap bytes). Returns the bytes written (len + 2), LG_EINVAL
 * when len > RFC4571_MAX_FRAME, or LG_ENOSPC when cap < len + 2. payload may be NULL when len is
 * 0. out and payload must not overlap. */
int rfc4571_frame(uint8_t *out, size_t cap, const uint8_t *payload, size_t len);

#endif
