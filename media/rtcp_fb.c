/* RTCP feedback messages: the common header (RFC 4585), generic NACK, PLI, FIR (RFC 5104), REMB. */
#include <string.h>

#include "media/rtcp.h"
#include "media/rtcp_internal.h"
#include "media/wire.h"
#include "sfu/lg_error.h"

/* RFC 4585 section 6.1, common to RTPFB (205) and PSFB (206):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|   FMT   |       PT      |          length               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                  SSRC of packet sender                        |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                  SSRC of media source                         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    :            Feedback Control Information (FCI)                 :
 *    :                                                               :
 *
 * A PLI (PSFB FMT 1, section 6.3.1) is exactly this header with no FCI. */
#define FB_HEADER_LEN 12

int rtcp_parse_fb(const rtcp_packet_t *pkt, rtcp_fb_t *out)
{
    if (!pkt || !out || (pkt->pt != RTCP_RTPFB && pkt->pt != RTCP_PSFB))
        return LG_EINVAL;
    if (pkt->body_len < 8)
        return LG_EMALFORMED;
    out->pt = pkt->pt;
    out->fmt = pkt->count;
    out->sender_ssrc = wire_get_u32(pkt->body);
    out->media_ssrc = wire_get_u32(pkt->body + 4);
    out->fci = pkt->body + 8;
    out->fci_len = pkt->body_len - 8;
    return 0;
}

/* Appends one list item, or reports that the caller's array is full. */
static int push_u16(uint16_t *v, size_t cap, size_t *n, uint16_t x)
{
    if (*n == cap)
        return LG_EFULL;
    v[(*n)++] = x;
    return 0;
}

/* Generic NACK FCI, RFC 4585 section 6.2.1, repeated:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |            PID                |             BLP               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Bit i of BLP (least significant first) reports PID + i + 1 lost too. */
int rtcp_nack_parse(const rtcp_fb_t *fb, uint16_t *seqs, size_t cap, size_t *n)
{
    if (!fb || !n || (cap && !seqs) || fb->pt != RTCP_RTPFB || fb->fmt != RTCP_RTPFB_NACK)
        return LG_EINVAL;
    *n = 0;
    if (fb->fci_len == 0 || fb->fci_len % 4)
        return LG_EMALFORMED;
    for (size_t off = 0; off < fb->fci_len; off += 4) {
        uint16_t pid = wire_get_u16(fb->fci + off);
        uint16_t blp = wire_get_u16(fb->fci + off + 2);
        if (push_u16(seqs, cap, n, pid) < 0)
            return LG_EFULL;
        for (unsigned bit = 0; bit < 16; bit++)
            if ((blp >> bit) & 1)
                if (push_u16(seqs, cap, n, (uint16_t)(pid + bit + 1)) < 0)
                    return LG_EFULL;
    }
    return 0;
}

/* Packs seqs starting at *i into one PID+BLP pair and advances *i past it. */
static void pack_nack_pair(const uint16_t *seqs, size_t n, size_t *i, uint16_t *pid, uint16_t *blp)
{
    *pid = seqs[(*i)++];
    *blp = 0;
    while (*i < n) {
        uint16_t shift = (uint16_t)(seqs[*i] - *pid - 1);
        if (shift > 15)
            break;
        *blp |= (uint16_t)(1u << shift);
        (*i)++;
    }
}

int rtcp_write_nack(rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, size_t n)
{
    if (!w || !seqs || n == 0)
        return LG_EINVAL;
    size_t pairs = 0;
    uint16_t pid, blp;
    for (size_t i = 0; i < n; pairs++)
        pack_nack_pair(seqs, n, &i, &pid, &blp);
    size_t size = FB_HEADER_LEN + 4 * pairs;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, RTCP_RTPFB_NACK, RTCP_RTPFB, size);
    wire_put_u32(p + 4, sender_ssrc);
    wire_put_u32(p + 8, media_ssrc);
    size_t off = FB_HEADER_LEN;
    for (size_t i = 0; i < n; off += 4) {
        pack_nack_pair(seqs, n, &i, &pid, &blp);
        wire_put_u16(p + off, pid);
        wire_put_u16(p + off + 2, blp);
    }
    w->len += size;
    return 0;
}

int rtcp_write_pli(rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc)
{
    if (!w)
        return LG_EINVAL;
    uint8_t *p = rtcp__reserve(w, FB_HEADER_LEN);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, RTCP_PSFB_PLI, RTCP_PSFB, FB_HEADER_LEN);
    wire_put_u32(p + 4, sender_ssrc);
    wire_put_u32(p + 8, media_ssrc);
    w->len += FB_HEADER_LEN;
    return 0;
}

/* FIR FCI, RFC 5104 section 4.3.1.1, repeated (the media SSRC of the header is 0):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                              SSRC                             |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    | Seq nr.       |    Reserved                                   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtcp_fir_parse(const rtcp_fb_t *fb, rtcp_fir_entry_t *e, size_t cap, size_t *n)
{
    if (!fb || !n || (cap && !e) || fb->pt != RTCP_PSFB || fb->fmt != RTCP_PSFB_FIR)
        return LG_EINVAL;
    *n = 0;
    if (fb->fci_len == 0 || fb->fci_len % 8)
        return LG_EMALFORMED;
    for (size_t off = 0; off < fb->fci_len; off += 8) {
        if (*n == cap)
            return LG_EFULL;
        e[*n].ssrc = wire_get_u32(fb->fci + off);
        e[*n].seq_nr = fb->fci[off + 4];
        (*n)++;
    }
    return 0;
}

int rtcp_write_fir(rtcp_writer_t *w, uint32_t sender_ssrc, const rtcp_fir_entry_t *e, size_t n)
{
    if (!w || !e || n == 0 || n > (RTCP_MAX_PACKET - FB_HEADER_LEN) / 8)
        return LG_EINVAL;
    size_t size = FB_HEADER_LEN + 8 * n;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    memset(p, 0, size);
    rtcp__put_header(p, false, RTCP_PSFB_FIR, RTCP_PSFB, size);
    wire_put_u32(p + 4, sender_ssrc);
    for (size_t i = 0; i < n; i++) {
        wire_put_u32(p + FB_HEADER_LEN + 8 * i, e[i].ssrc);
        p[FB_HEADER_LEN + 8 * i + 4] = e[i].seq_nr;
    }
    w->len += size;
    return 0;
}

/* REMB FCI, draft-alvestrand-rmcat-remb-03 section 2.2 (PSFB FMT 15, media SSRC 0):
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Unique identifier 'R' 'E' 'M' 'B'                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  Num SSRC     | BR Exp    |  BR Mantissa                      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |   SSRC feedback                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  ...                                                          |
 *
 * The bitrate in bits per second is mantissa << exp. */
#define REMB_MAX_MANTISSA 0x3ffffu

static const uint8_t remb_magic[4] = {'R', 'E', 'M', 'B'};

int rtcp_remb_parse(const rtcp_fb_t *fb, rtcp_remb_t *out)
{
    if (!fb || !out || fb->pt != RTCP_PSFB || fb->fmt != RTCP_PSFB_AFB)
        return LG_EINVAL;
    if (fb->fci_len < 4 || memcmp(fb->fci, remb_magic, 4) != 0)
        return LG_ENOTFOUND;
    if (fb->fci_len < 8)
        return LG_EMALFORMED;
    uint8_t count = fb->fci[4];
    unsigned exp = fb->fci[5] >> 2;
    uint64_t mantissa = wire_get_u24(fb->fci + 5) & REMB_MAX_MANTISSA;
    if ((size_t)count * 4 > fb->fci_len - 8)
        return LG_EMALFORMED;
    if (exp > 0 && mantissa >> (64 - exp) != 0)
        return LG_EMALFORMED; /* the bitrate would not fit 64 bits */
    out->bitrate = mantissa << exp;
    out->ssrc_count = count;
    for (unsigned i = 0; i < count; i++)
        out->ssrcs[i] = wire_get_u32(fb->fci + 8 + 4 * i);
    return 0;
}

int rtcp_write_remb(rtcp_writer_t *w, uint32_t sender_ssrc, const rtcp_remb_t *remb)
{
    if (!w || !remb)
        return LG_EINVAL;
    uint64_t mantissa = remb->bitrate;
    unsigned exp = 0;
    while (mantissa > REMB_MAX_MANTISSA) {
        mantissa >>= 1;
        exp++;
    }
    size_t size = FB_HEADER_LEN + 8 + 4 * (size_t)remb->ssrc_count;
    uint8_t *p = rtcp__reserve(w, size);
    if (!p)
        return LG_ENOSPC;
    rtcp__put_header(p, false, RTCP_PSFB_AFB, RTCP_PSFB, size);
    wire_put_u32(p + 4, sender_ssrc);
    wire_put_u32(p + 8, 0);
    memcpy(p + 12, remb_magic, 4);
    p[16] = remb->ssrc_count;
    wire_put_u24(p + 17, (uint32_t)(exp << 18 | mantissa));
    for (unsigned i = 0; i < remb->ssrc_count; i++)
        wire_put_u32(p + 20 + 4 * i, remb->ssrcs[i]);
    w->len += size;
    return 0;
}
