/* RTP fixed header parsing (RFC 3550), in-place header rewrites and RTX wrapping (RFC 4588). */
#include "media/rtp.h"

#include <string.h>

#include "media/wire.h"
#include "sfu/lg_error.h"

/* RFC 3550 section 5.1, with the header extension of section 5.3.1:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |V=2|P|X|  CC   |M|     PT      |       sequence number         |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                           timestamp                           |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |           synchronization source (SSRC) identifier            |
 *    +=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+=+
 *    |            contributing source (CSRC) identifiers             |
 *    |                             ....                              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      defined by profile       |           length              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                        header extension                       |
 *    |                             ....                              |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                            payload  ....  | padding | pad count |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * The extension length counts 32-bit words after its own 4-byte header. The pad count is the last
 * byte and includes itself. */

static rtp_ext_form_t ext_form_of(uint16_t profile)
{
    if (profile == RTP_EXT_ONE_BYTE)
        return RTP_EXT_FORM_ONE_BYTE;
    if ((profile & 0xfff0) == RTP_EXT_TWO_BYTE)
        return RTP_EXT_FORM_TWO_BYTE;
    return RTP_EXT_FORM_OTHER;
}

/* Reads the extension header at p[*pos]; advances *pos past the extension body. */
static int parse_extension(const uint8_t *p, size_t len, size_t *pos, rtp_packet_t *out)
{
    if (len - *pos < 4)
        return LG_ETRUNC;
    out->ext_profile = wire_get_u16(p + *pos);
    size_t body = (size_t)wire_get_u16(p + *pos + 2) * 4;
    *pos += 4;
    if (body > len - *pos)
        return LG_ETRUNC;
    out->ext_form = ext_form_of(out->ext_profile);
    out->ext = p + *pos;
    out->ext_len = body;
    *pos += body;
    return 0;
}

int rtp_parse(const uint8_t *p, size_t len, rtp_packet_t *out)
{
    if (!p || !out)
        return LG_EINVAL;
    if (len < RTP_HEADER_MIN)
        return LG_ETRUNC;
    if ((p[0] >> 6) != 2)
        return LG_EMALFORMED;
    memset(out, 0, sizeof *out);
    out->padding = (p[0] & 0x20) != 0;
    out->csrc_count = p[0] & 0x0f;
    out->marker = (p[1] & 0x80) != 0;
    out->payload_type = p[1] & 0x7f;
    out->seq = wire_get_u16(p + 2);
    out->timestamp = wire_get_u32(p + 4);
    out->ssrc = wire_get_u32(p + 8);
    out->csrc = p + RTP_HEADER_MIN;
    size_t pos = RTP_HEADER_MIN + 4 * (size_t)out->csrc_count;
    if (pos > len)
        return LG_ETRUNC;
    if (p[0] & 0x10) {
        int rc = parse_extension(p, len, &pos, out);
        if (rc < 0)
            return rc;
    }
    out->header_len = pos;
    size_t end = len;
    if (out->padding) {
        uint8_t count = p[len - 1];
        if (count == 0 || count > len - pos)
            return LG_EMALFORMED;
        out->padding_len = count;
        end -= count;
    }
    out->payload = p + pos;
    out->payload_len = end - pos;
    out->data = p;
    out->len = len;
    return 0;
}

uint32_t rtp_csrc(const rtp_packet_t *pkt, unsigned i)
{
    return i < pkt->csrc_count ? wire_get_u32(pkt->csrc + 4 * i) : 0;
}

/* The rewrite helpers only need the fixed header to be present. */
static int check_header(const uint8_t *p, size_t len)
{
    if (!p)
        return LG_EINVAL;
    return len < RTP_HEADER_MIN ? LG_ETRUNC : 0;
}

int rtp_set_ssrc(uint8_t *p, size_t len, uint32_t ssrc)
{
    int rc = check_header(p, len);
    if (rc < 0)
        return rc;
    wire_put_u32(p + 8, ssrc);
    return 0;
}

int rtp_set_seq(uint8_t *p, size_t len, uint16_t seq)
{
    int rc = check_header(p, len);
    if (rc < 0)
        return rc;
    wire_put_u16(p + 2, seq);
    return 0;
}

int rtp_set_timestamp(uint8_t *p, size_t len, uint32_t ts)
{
    int rc = check_header(p, len);
    if (rc < 0)
        return rc;
    wire_put_u32(p + 4, ts);
    return 0;
}

int rtp_set_payload_type(uint8_t *p, size_t len, uint8_t pt)
{
    if (pt > 127)
        return LG_EINVAL;
    int rc = check_header(p, len);
    if (rc < 0)
        return rc;
    p[1] = (uint8_t)((p[1] & 0x80) | pt);
    return 0;
}

int rtp_set_marker(uint8_t *p, size_t len, bool marker)
{
    int rc = check_header(p, len);
    if (rc < 0)
        return rc;
    p[1] = (uint8_t)(marker ? (p[1] | 0x80) : (p[1] & 0x7f));
    return 0;
}

/* RFC 4588 section 4: the RTX payload starts with the original sequence number.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         RTP Header                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |            OSN                |                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
 *    |                  Original RTP Packet Payload                  |
 *    |                                                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtx_unwrap(const rtp_packet_t *rtx, uint16_t *osn, const uint8_t **payload, size_t *len)
{
    if (!rtx || !osn || !payload || !len)
        return LG_EINVAL;
    if (rtx->payload_len == 0)
        return LG_ENOTFOUND;
    if (rtx->payload_len < 2)
        return LG_ETRUNC;
    *osn = wire_get_u16(rtx->payload);
    *payload = rtx->payload + 2;
    *len = rtx->payload_len - 2;
    return 0;
}

/* Copies a header and stamps PT, sequence and SSRC, clearing the P bit. */
static void copy_header(uint8_t *out, const rtp_packet_t *src, uint8_t pt, uint16_t seq,
                        uint32_t ssrc)
{
    memcpy(out, src->data, src->header_len);
    out[0] &= (uint8_t)~0x20;
    out[1] = (uint8_t)((out[1] & 0x80) | pt);
    wire_put_u16(out + 2, seq);
    wire_put_u32(out + 8, ssrc);
}

int rtx_build(const rtp_packet_t *orig, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
              uint8_t *out, size_t cap, size_t *out_len)
{
    if (!orig || !orig->data || !out || !out_len || rtx_pt > 127)
        return LG_EINVAL;
    size_t need = orig->header_len + 2 + orig->payload_len;
    if (need > cap)
        return LG_ENOSPC;
    copy_header(out, orig, rtx_pt, rtx_seq, rtx_ssrc);
    wire_put_u16(out + orig->header_len, orig->seq);
    if (orig->payload_len)
        memcpy(out + orig->header_len + 2, orig->payload, orig->payload_len);
    *out_len = need;
    return 0;
}

int rtx_restore(const rtp_packet_t *rtx, uint8_t orig_pt, uint32_t orig_ssrc, uint8_t *out,
                size_t cap, size_t *out_len)
{
    if (!rtx || !rtx->data || !out || !out_len || orig_pt > 127)
        return LG_EINVAL;
    uint16_t osn;
    const uint8_t *payload;
    size_t plen;
    int rc = rtx_unwrap(rtx, &osn, &payload, &plen);
    if (rc < 0)
        return rc;
    size_t need = rtx->header_len + plen;
    if (need > cap)
        return LG_ENOSPC;
    copy_header(out, rtx, orig_pt, osn, orig_ssrc);
    if (plen)
        memcpy(out + rtx->header_len, payload, plen);
    *out_len = need;
    return 0;
}
