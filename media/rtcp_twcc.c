/* Transport-wide congestion control feedback (RTPFB FMT 15): decode and encode, libwebrtc-exact. */
#include <string.h>

#include "media/rtcp.h"
#include "media/rtcp_internal.h"
#include "media/wire.h"
#include "sfu/lg_error.h"

/* draft-holmer-rmcat-transport-wide-cc-extensions-01 section 3.1:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|  FMT=15 |    PT=205     |           length              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     SSRC of packet sender                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      SSRC of media source                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      base sequence number     |      packet status count      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                 reference time                | fb pkt. count |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |          packet chunk         |         packet chunk          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .                                                               .
 *    |         packet chunk          |  recv delta   |  recv delta   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    .                                                               .
 *    |           recv delta          |  recv delta   | zero padding  |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Packet chunks: run length (T=0, symbol S repeated run-length times) or status vector (T=1;
 * S=0: fourteen 1-bit symbols, S=1: seven 2-bit symbols), most significant symbol first:
 *
 *     0                   1              0                   1
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5    0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |T| S |       Run Length        |  |T|S|       symbol list         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Symbols: 0 not received, 1 small delta (1 unsigned byte), 2 large or negative delta (2 bytes,
 * signed), 3 reserved. The symbol is also the size in bytes of its receive delta. */
#define TWCC_HEADER_LEN 20 /* common feedback header + base, count, reference time, fb count */
#define TWCC_FIXED_FCI  8
#define MAX_RUN_LENGTH  0x1fff
#define MAX_ONE_BIT     14
#define MAX_TWO_BIT     7

/* Yields the status symbols of a chunk list one at a time. */
typedef struct sym_reader {
    const uint8_t *p;
    size_t len;
    size_t pos; /* next chunk */
    uint16_t chunk;
    unsigned left; /* symbols left in chunk */
    unsigned idx;  /* next symbol's index in chunk */
} sym_reader_t;

static void sym_reader_init(sym_reader_t *r, const uint8_t *p, size_t len)
{
    memset(r, 0, sizeof *r);
    r->p = p;
    r->len = len;
}

static int sym_next(sym_reader_t *r, uint8_t *sym)
{
    while (r->left == 0) {
        if (r->len - r->pos < 2)
            return LG_EMALFORMED;
        r->chunk = wire_get_u16(r->p + r->pos);
        r->pos += 2;
        r->idx = 0;
        if (!(r->chunk & 0x8000))
            r->left = r->chunk & MAX_RUN_LENGTH;
        else
            r->left = (r->chunk & 0x4000) ? MAX_TWO_BIT : MAX_ONE_BIT;
    }
    uint16_t c = r->chunk;
    unsigned s;
    if (!(c & 0x8000))
        s = (c >> 13) & 3;
    else if (c & 0x4000)
        s = (c >> (2 * (MAX_TWO_BIT - 1 - r->idx))) & 3;
    else
        s = (c >> (MAX_ONE_BIT - 1 - r->idx)) & 1;
    r->idx++;
    r->left--;
    if (s == 3)
        return LG_EMALFORMED;
    *sym = (uint8_t)s;
    return 0;
}

static int16_t read_delta(const uint8_t *p, uint8_t sym)
{
    if (sym == RTCP_TWCC_SMALL_DELTA)
        return p[0];
    if (sym == RTCP_TWCC_LARGE_DELTA) {
        uint16_t v = wire_get_u16(p);
        return (int16_t)(v >= 0x8000 ? (int32_t)v - 0x10000 : (int32_t)v);
    }
    return 0;
}

int rtcp_twcc_parse(const rtcp_fb_t *fb, rtcp_twcc_t *out, rtcp_twcc_status_t *st, size_t cap,
                    size_t *n)
{
    if (!fb || !out || !n || (cap && !st) || fb->pt != RTCP_RTPFB || fb->fmt != RTCP_RTPFB_TWCC)
        return LG_EINVAL;
    *n = 0;
    if (fb->fci_len < TWCC_FIXED_FCI)
        return LG_EMALFORMED;
    const uint8_t *f = fb->fci;
    out->sender_ssrc = fb->sender_ssrc;
    out->media_ssrc = fb->media_ssrc;
    out->base_seq = wire_get_u16(f);
    out->status_count = wire_get_u16(f + 2);
    out->ref_time = wire_get_s24(f + 4);
    out->fb_count = f[7];
    /* Pass 1: the chunks must cover every status, and the deltas they announce must fit. */
    sym_reader_t r;
    sym_reader_init(&r, f + TWCC_FIXED_FCI, fb->fci_len - TWCC_FIXED_FCI);
    size_t delta_bytes = 0;
    uint8_t sym;
    for (unsigned i = 0; i < out->status_count; i++) {
        if (sym_next(&r, &sym) < 0)
            return LG_EMALFORMED;
        delta_bytes += sym;
    }
    size_t deltas = TWCC_FIXED_FCI + r.pos;
    if (delta_bytes > fb->fci_len - deltas)
        return LG_EMALFORMED;
    /* Pass 2: fill the caller's array. */
    size_t m = out->status_count < cap ? out->status_count : cap;
    sym_reader_init(&r, f + TWCC_FIXED_FCI, fb->fci_len - TWCC_FIXED_FCI);
    for (size_t i = 0; i < m; i++) {
        (void)sym_next(&r, &sym);
        st[i].seq = (uint16_t)(out->base_seq + i);
        st[i].symbol = sym;
        st[i].delta = read_delta(f + deltas, sym);
        deltas += sym;
    }
    *n = m;
    return out->status_count > cap ? LG_EFULL : 0;
}

uint8_t rtcp_twcc_symbol(int32_t delta)
{
    return delta >= 0 && delta <= 255 ? RTCP_TWCC_SMALL_DELTA : RTCP_TWCC_LARGE_DELTA;
}

/* The chunk being filled, as libwebrtc's TransportFeedback::LastChunk. */
typedef struct last_chunk {
    uint8_t sym[MAX_ONE_BIT];
    size_t size;
    bool all_same;
    bool has_large;
} last_chunk_t;

static void lc_clear(last_chunk_t *c)
{
    c->size = 0;
    c->all_same = true;
    c->has_large = false;
}

static bool lc_can_add(const last_chunk_t *c, uint8_t s)
{
    if (c->size < MAX_TWO_BIT)
        return true;
    if (c->size < MAX_ONE_BIT && !c->has_large && s != RTCP_TWCC_LARGE_DELTA)
        return true;
    return c->size < MAX_RUN_LENGTH && c->all_same && c->sym[0] == s;
}

static void lc_add(last_chunk_t *c, uint8_t s)
{
    if (c->size < MAX_ONE_BIT)
        c->sym[c->size] = s;
    c->size++;
    c->all_same = c->all_same && s == c->sym[0];
    c->has_large = c->has_large || s == RTCP_TWCC_LARGE_DELTA;
}

static uint16_t lc_run_length(const last_chunk_t *c)
{
    return (uint16_t)(c->sym[0] << 13 | c->size);
}

static uint16_t lc_one_bit(const last_chunk_t *c)
{
    uint16_t chunk = 0x8000;
    for (size_t i = 0; i < c->size; i++)
        chunk |= (uint16_t)(c->sym[i] << (MAX_ONE_BIT - 1 - i));
    return chunk;
}

static uint16_t lc_two_bit(const last_chunk_t *c, size_t k)
{
    uint16_t chunk = 0xc000;
    for (size_t i = 0; i < k; i++)
        chunk |= (uint16_t)(c->sym[i] << 2 * (MAX_TWO_BIT - 1 - i));
    return chunk;
}

/* Emits a full chunk; a 2-bit vector keeps the symbols past its seventh for the next chunk. */
static uint16_t lc_emit(last_chunk_t *c)
{
    uint16_t chunk;
    if (c->all_same || c->size == MAX_ONE_BIT) {
        chunk = c->all_same ? lc_run_length(c) : lc_one_bit(c);
        lc_clear(c);
        return chunk;
    }
    chunk = lc_two_bit(c, MAX_TWO_BIT);
    size_t rest = c->size - MAX_TWO_BIT;
    uint8_t tail[MAX_ONE_BIT];
    memcpy(tail, c->sym + MAX_TWO_BIT, rest);
    lc_clear(c);
    for (size_t i = 0; i < rest; i++)
        lc_add(c, tail[i]);
    return chunk;
}

static uint16_t lc_encode_last(const last_chunk_t *c)
{
    if (c->all_same)
        return lc_run_length(c);
    if (c->size <= MAX_TWO_BIT)
        return lc_two_bit(c, c->size);
    return lc_one_bit(c);
}

/* Encodes the chunks for st[0..n) into out (when not NULL); returns how many there are. */
static size_t encode_chunks(const rtcp_twcc_status_t *st, size_t n, uint8_t *out)
{
    last_chunk_t c;
    size_t chunks = 0;
    lc_clear(&c);
    for (size_t i = 0; i < n; i++) {
        if (!lc_can_add(&c, st[i].symbol)) {
            uint16_t chunk = lc_emit(&c);
            if (out)
                wire_put_u16(out + 2 * chunks, chunk);
            chunks++;
        }
        lc_add(&c, st[i].symbol);
    }
    if (out)
        wire_put_u16(out + 2 * chunks, lc_encode_last(&c));
    return chunks + 1;
}

/* Checks every status and sums the bytes of their receive deltas. */
static int check_statuses(const rtcp_twcc_status_t *st, size_t n, size_t *delta_bytes)
{
    *delta_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t s = st[i].symbol;
        if (s > RTCP_TWCC_LARGE_DELTA)
            return LG_EINVAL;
        if (s == RTCP_TWCC_SMALL_DELTA && (st[i].delta < 0 || st[i].delta > 255))
            return LG_EINVAL;
        *delta_bytes += s;
    }
    return 0;
}

static void write_deltas(uint8_t *p, const rtcp_twcc_status_t *st, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (st[i].symbol == RTCP_TWCC_SMALL_DELTA)
            *p++ = (uint8_t)st[i].delta;
        else if (st[i].symbol == RTCP_TWCC_LARGE_DELTA) {
            wire_put_u16(p, (uint16_t)st[i].delta);
            p += 2;
        }
    }
}

int rtcp_write_twcc(rtcp_writer_t *w, const rtcp_twcc_t *hdr, const rtcp_twcc_status_t *st,
                    size_t n)
{
    if (!w || !hdr || !st || n == 0 || n > 0xffff)
        return LG_EINVAL;
    size_t delta_bytes;
    int rc = check_statuses(st, n, &delta_bytes);
    if (rc < 0)
        return rc;
    size_t chunks = encode_chunks(st, n, NULL);
    size_t used = TWCC_HEADER_LEN + 2 * chunks + delta_bytes;
    size_t pad = (4 - used % 4) % 4;
    size_t size = used + pad;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, pad > 0, RTCP_RTPFB_TWCC, RTCP_RTPFB, size);
    wire_put_u32(p + 4, hdr->sender_ssrc);
    wire_put_u32(p + 8, hdr->media_ssrc);
    wire_put_u16(p + 12, hdr->base_seq);
    wire_put_u16(p + 14, (uint16_t)n);
    wire_put_u24(p + 16, (uint32_t)hdr->ref_time & 0xffffff);
    p[19] = hdr->fb_count;
    encode_chunks(st, n, p + TWCC_HEADER_LEN);
    write_deltas(p + TWCC_HEADER_LEN + 2 * chunks, st, n);
    if (pad) {
        memset(p + used, 0, pad - 1);
        p[size - 1] = (uint8_t)pad;
    }
    w->len += size;
    return 0;
}
