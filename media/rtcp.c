/* RTCP compound iteration and the RFC 3550 reports (SR, RR, SDES, BYE): parse and build. */
#include "media/rtcp.h"

#include <string.h>

#include "media/rtcp_internal.h"
#include "media/wire.h"
#include "sfu/lg_error.h"

/* RFC 3550 section 6.4.1, the common header every packet of a compound starts with:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|    RC   |      PT       |             length            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * length is the packet size in 32-bit words minus one. With P set, the last byte counts the padding
 * bytes, itself included. */

void rtcp_iter_init(rtcp_iter_t *it, const uint8_t *p, size_t len)
{
    it->p = p;
    it->len = p ? len : 0;
    it->pos = 0;
}

int rtcp_iter_next(rtcp_iter_t *it, rtcp_packet_t *out)
{
    size_t left = it->len - it->pos;
    if (left == 0)
        return 0;
    if (left < RTCP_HEADER_LEN)
        return LG_ETRUNC;
    const uint8_t *h = it->p + it->pos;
    if ((h[0] >> 6) != 2)
        return LG_EMALFORMED;
    size_t plen = ((size_t)wire_get_u16(h + 2) + 1) * 4;
    if (plen > left)
        return LG_ETRUNC;
    memset(out, 0, sizeof *out);
    out->padding = (h[0] & 0x20) != 0;
    out->count = h[0] & 0x1f;
    out->pt = h[1];
    out->data = h;
    out->len = plen;
    out->body = h + RTCP_HEADER_LEN;
    out->body_len = plen - RTCP_HEADER_LEN;
    if (out->padding) {
        uint8_t pad = h[plen - 1];
        if (pad == 0 || pad > out->body_len)
            return LG_EMALFORMED;
        out->padding_len = pad;
        out->body_len -= pad;
    }
    it->pos += plen;
    return 1;
}

int rtcp_check_compound(const uint8_t *p, size_t len, size_t *count)
{
    if (!p || len == 0)
        return LG_EMALFORMED;
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    size_t n = 0;
    int rc;
    rtcp_iter_init(&it, p, len);
    while ((rc = rtcp_iter_next(&it, &pkt)) == 1)
        n++;
    if (count)
        *count = n;
    return rc;
}

/* Report block, RFC 3550 section 6.4.1 (24 bytes, in SR and RR):
 *
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |                 SSRC_1 (SSRC of first source)                 |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    | fraction lost |       cumulative number of packets lost       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           extended highest sequence number received           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      interarrival jitter                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         last SR (LSR)                         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                   delay since last SR (DLSR)                  |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
#define REPORT_BLOCK_LEN 24
#define SENDER_INFO_LEN  20

static void read_report_block(const uint8_t *p, rtcp_report_block_t *rb)
{
    rb->ssrc = wire_get_u32(p);
    rb->fraction_lost = p[4];
    rb->cumulative_lost = wire_get_s24(p + 5);
    rb->highest_seq = wire_get_u32(p + 8);
    rb->jitter = wire_get_u32(p + 12);
    rb->lsr = wire_get_u32(p + 16);
    rb->dlsr = wire_get_u32(p + 20);
}

static void write_report_block(uint8_t *p, const rtcp_report_block_t *rb)
{
    wire_put_u32(p, rb->ssrc);
    p[4] = rb->fraction_lost;
    wire_put_u24(p + 5, (uint32_t)rb->cumulative_lost & 0xffffff);
    wire_put_u32(p + 8, rb->highest_seq);
    wire_put_u32(p + 12, rb->jitter);
    wire_put_u32(p + 16, rb->lsr);
    wire_put_u32(p + 20, rb->dlsr);
}

/* Reads `count` report blocks at body[off..]; the count must fit the body. */
static int read_report_blocks(const rtcp_packet_t *pkt, size_t off, rtcp_report_block_t *rb)
{
    if ((size_t)pkt->count * REPORT_BLOCK_LEN > pkt->body_len - off)
        return LG_EMALFORMED;
    for (unsigned i = 0; i < pkt->count; i++)
        read_report_block(pkt->body + off + i * REPORT_BLOCK_LEN, &rb[i]);
    return 0;
}

/* SR, RFC 3550 section 6.4.1:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|    RC   |   PT=SR=200   |             length            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         SSRC of sender                        |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |              NTP timestamp, most significant word             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |             NTP timestamp, least significant word             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         RTP timestamp                         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     sender's packet count                     |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                      sender's octet count                     |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |                  report blocks (RC x 24 bytes)                |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
int rtcp_parse_sr(const rtcp_packet_t *pkt, rtcp_sr_t *out)
{
    if (!pkt || !out || pkt->pt != RTCP_SR)
        return LG_EINVAL;
    if (pkt->body_len < 4 + SENDER_INFO_LEN)
        return LG_EMALFORMED;
    const uint8_t *b = pkt->body;
    out->ssrc = wire_get_u32(b);
    out->ntp = (uint64_t)wire_get_u32(b + 4) << 32 | wire_get_u32(b + 8);
    out->rtp_ts = wire_get_u32(b + 12);
    out->packet_count = wire_get_u32(b + 16);
    out->octet_count = wire_get_u32(b + 20);
    out->rb_count = pkt->count;
    return read_report_blocks(pkt, 4 + SENDER_INFO_LEN, out->rb);
}

/* RR, RFC 3550 section 6.4.2: the SR without sender info.
 *
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|    RC   |   PT=RR=201   |             length            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                     SSRC of packet sender                     |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |                  report blocks (RC x 24 bytes)                |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
int rtcp_parse_rr(const rtcp_packet_t *pkt, rtcp_rr_t *out)
{
    if (!pkt || !out || pkt->pt != RTCP_RR)
        return LG_EINVAL;
    if (pkt->body_len < 4)
        return LG_EMALFORMED;
    out->ssrc = wire_get_u32(pkt->body);
    out->rb_count = pkt->count;
    return read_report_blocks(pkt, 4, out->rb);
}

/* One SDES chunk at b[*pos]: SSRC, items (type, length, text) up to a zero END byte, then zero
 * bytes to the next 32-bit boundary (a missing tail is tolerated at the body's end). */
static int parse_sdes_chunk(const uint8_t *b, size_t len, size_t *pos, rtcp_sdes_chunk_t *c)
{
    size_t at = *pos;
    if (len - at < 4)
        return LG_EMALFORMED;
    c->ssrc = wire_get_u32(b + at);
    c->cname = NULL;
    c->cname_len = 0;
    at += 4;
    for (;;) {
        if (at >= len)
            return LG_EMALFORMED;
        uint8_t type = b[at];
        if (type == 0)
            break;
        if (len - at < 2 || b[at + 1] > len - at - 2)
            return LG_EMALFORMED;
        if (type == RTCP_SDES_CNAME && !c->cname) {
            c->cname = (const char *)(b + at + 2);
            c->cname_len = b[at + 1];
        }
        at += 2 + (size_t)b[at + 1];
    }
    at = (at + 4) & ~(size_t)3; /* past END, rounded up to a word */
    *pos = at < len ? at : len;
    return 0;
}

/* SDES, RFC 3550 section 6.5:
 *
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|    SC   |  PT=SDES=202  |             length            |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |                          SSRC/CSRC_1                          |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |    CNAME=1    |     length    | user and domain name        ...
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |   END = 0     |  zero padding to the next 32-bit boundary     |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |                   chunk 2 ... chunk SC                        |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 */
int rtcp_parse_sdes(const rtcp_packet_t *pkt, rtcp_sdes_t *out)
{
    if (!pkt || !out || pkt->pt != RTCP_SDES)
        return LG_EINVAL;
    size_t pos = 0;
    out->chunk_count = pkt->count;
    for (unsigned i = 0; i < pkt->count; i++) {
        int rc = parse_sdes_chunk(pkt->body, pkt->body_len, &pos, &out->chunks[i]);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* BYE, RFC 3550 section 6.6:
 *
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|    SC   |   PT=BYE=203  |             length            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                           SSRC/CSRC                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    :                              ...                              :
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |     length    |               reason for leaving            ... (opt)
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtcp_parse_bye(const rtcp_packet_t *pkt, rtcp_bye_t *out)
{
    if (!pkt || !out || pkt->pt != RTCP_BYE)
        return LG_EINVAL;
    size_t ids = 4 * (size_t)pkt->count;
    if (ids > pkt->body_len)
        return LG_EMALFORMED;
    out->ssrc_count = pkt->count;
    for (unsigned i = 0; i < pkt->count; i++)
        out->ssrcs[i] = wire_get_u32(pkt->body + 4 * i);
    out->reason = NULL;
    out->reason_len = 0;
    size_t left = pkt->body_len - ids;
    if (left > 0 && pkt->body[ids] > 0) {
        if ((size_t)pkt->body[ids] > left - 1)
            return LG_EMALFORMED;
        out->reason = (const char *)(pkt->body + ids + 1);
        out->reason_len = pkt->body[ids];
    }
    return 0;
}

/* --- building --- */

void rtcp_writer_init(rtcp_writer_t *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = buf ? cap : 0;
    w->len = 0;
}

uint8_t *rtcp__reserve(rtcp_writer_t *w, size_t size)
{
    if (size < RTCP_HEADER_LEN || size % 4 || size > RTCP_MAX_PACKET)
        return NULL;
    if (!w->buf || w->len > w->cap || size > w->cap - w->len)
        return NULL;
    return w->buf + w->len;
}

void rtcp__put_header(uint8_t *p, bool padding, uint8_t count, uint8_t pt, size_t total)
{
    p[0] = (uint8_t)(0x80 | (padding ? 0x20 : 0) | (count & 0x1f));
    p[1] = pt;
    wire_put_u16(p + 2, (uint16_t)(total / 4 - 1));
}

int rtcp_write_sr(rtcp_writer_t *w, const rtcp_sr_t *sr)
{
    if (!w || !sr || sr->rb_count > RTCP_MAX_COUNT)
        return LG_EINVAL;
    size_t size = RTCP_HEADER_LEN + 4 + SENDER_INFO_LEN + sr->rb_count * REPORT_BLOCK_LEN;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, sr->rb_count, RTCP_SR, size);
    wire_put_u32(p + 4, sr->ssrc);
    wire_put_u32(p + 8, (uint32_t)(sr->ntp >> 32));
    wire_put_u32(p + 12, (uint32_t)sr->ntp);
    wire_put_u32(p + 16, sr->rtp_ts);
    wire_put_u32(p + 20, sr->packet_count);
    wire_put_u32(p + 24, sr->octet_count);
    for (unsigned i = 0; i < sr->rb_count; i++)
        write_report_block(p + 28 + i * REPORT_BLOCK_LEN, &sr->rb[i]);
    w->len += size;
    return 0;
}

int rtcp_write_rr(rtcp_writer_t *w, const rtcp_rr_t *rr)
{
    if (!w || !rr || rr->rb_count > RTCP_MAX_COUNT)
        return LG_EINVAL;
    size_t size = RTCP_HEADER_LEN + 4 + rr->rb_count * REPORT_BLOCK_LEN;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, rr->rb_count, RTCP_RR, size);
    wire_put_u32(p + 4, rr->ssrc);
    for (unsigned i = 0; i < rr->rb_count; i++)
        write_report_block(p + 8 + i * REPORT_BLOCK_LEN, &rr->rb[i]);
    w->len += size;
    return 0;
}

/* SSRC, the CNAME item if any, END, zero padding to a word. */
static size_t sdes_chunk_size(const rtcp_sdes_chunk_t *c)
{
    size_t items = c->cname ? 2 + (size_t)c->cname_len : 0;
    return (4 + items + 1 + 3) & ~(size_t)3;
}

int rtcp_write_sdes(rtcp_writer_t *w, const rtcp_sdes_t *sdes)
{
    if (!w || !sdes || sdes->chunk_count > RTCP_MAX_COUNT)
        return LG_EINVAL;
    size_t size = RTCP_HEADER_LEN;
    for (unsigned i = 0; i < sdes->chunk_count; i++)
        size += sdes_chunk_size(&sdes->chunks[i]);
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, sdes->chunk_count, RTCP_SDES, size);
    size_t pos = RTCP_HEADER_LEN;
    for (unsigned i = 0; i < sdes->chunk_count; i++) {
        const rtcp_sdes_chunk_t *c = &sdes->chunks[i];
        size_t csize = sdes_chunk_size(c);
        memset(p + pos, 0, csize);
        wire_put_u32(p + pos, c->ssrc);
        if (c->cname) {
            p[pos + 4] = RTCP_SDES_CNAME;
            p[pos + 5] = c->cname_len;
            memcpy(p + pos + 6, c->cname, c->cname_len);
        }
        pos += csize;
    }
    w->len += size;
    return 0;
}

int rtcp_write_bye(rtcp_writer_t *w, const rtcp_bye_t *bye)
{
    if (!w || !bye || bye->ssrc_count > RTCP_MAX_COUNT)
        return LG_EINVAL;
    size_t ids = 4 * (size_t)bye->ssrc_count;
    size_t reason = bye->reason && bye->reason_len ? 1 + (size_t)bye->reason_len : 0;
    size_t size = RTCP_HEADER_LEN + ids + ((reason + 3) & ~(size_t)3);
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    memset(p, 0, size);
    rtcp__put_header(p, false, bye->ssrc_count, RTCP_BYE, size);
    for (unsigned i = 0; i < bye->ssrc_count; i++)
        wire_put_u32(p + 4 + 4 * i, bye->ssrcs[i]);
    if (reason) {
        p[4 + ids] = bye->reason_len;
        memcpy(p + 5 + ids, bye->reason, bye->reason_len);
    }
    w->len += size;
    return 0;
}
