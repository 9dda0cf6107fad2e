/* RTP header extension elements (RFC 8285): iterate, find, read values, rewrite ids in place. */
#include <string.h>

#include "media/rtp.h"
#include "media/wire.h"
#include "sfu/lg_error.h"

/* RFC 8285 section 4.2, one-byte header (profile 0xBEDE); L is the data length minus one:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |       0xBE    |    0xDE       |           length=3            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  ID   | L=0   |     data      |  ID   |  L=1  |   data...
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *          ...data   |    0 (pad)    |    0 (pad)    |  ID   | L=3   |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                          data                                 |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * Section 4.3, two-byte header (profile 0x100 + 4 appbits); L is the data length, 0 allowed:
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |         0x100         |appbits|           length=3            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |      ID       |     L=0       |     ID        |     L=1       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |       data    |    0 (pad)    |       ID      |      L=4      |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                          data                                 |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 * A zero byte is padding in both forms. In the one-byte form id 15 stops processing; so does id 0
 * with a non-zero L (as libwebrtc does), since it cannot be padding. */

void rtp_ext_iter_init(rtp_ext_iter_t *it, const rtp_packet_t *pkt)
{
    it->p = pkt->ext;
    it->pos = 0;
    it->form = pkt->ext_form;
    bool known = it->form == RTP_EXT_FORM_ONE_BYTE || it->form == RTP_EXT_FORM_TWO_BYTE;
    it->len = known ? pkt->ext_len : 0;
}

/* Size of the element header: 1 byte (one-byte form) or 2 (two-byte form). */
static size_t elem_header_size(rtp_ext_form_t form)
{
    return form == RTP_EXT_FORM_ONE_BYTE ? 1 : 2;
}

int rtp_ext_next(rtp_ext_iter_t *it, rtp_ext_t *out)
{
    while (it->pos < it->len) {
        uint8_t b = it->p[it->pos];
        if (b == 0) {
            it->pos++;
            continue;
        }
        size_t left = it->len - it->pos;
        size_t data_len;
        uint8_t id;
        if (it->form == RTP_EXT_FORM_ONE_BYTE) {
            id = b >> 4;
            data_len = (size_t)(b & 0x0f) + 1;
            if (id == 0 || id == 15) {
                it->pos = it->len;
                return 0;
            }
        } else {
            if (left < 2)
                return LG_EMALFORMED;
            id = b;
            data_len = it->p[it->pos + 1];
        }
        size_t hdr = elem_header_size(it->form);
        if (data_len > left - hdr)
            return LG_EMALFORMED;
        out->id = id;
        out->len = (uint8_t)data_len;
        out->data = it->p + it->pos + hdr;
        it->pos += hdr + data_len;
        return 1;
    }
    return 0;
}

int rtp_ext_find(const rtp_packet_t *pkt, uint8_t id, rtp_ext_t *out)
{
    if (!pkt || !out)
        return LG_EINVAL;
    rtp_ext_iter_t it;
    rtp_ext_iter_init(&it, pkt);
    int rc;
    while ((rc = rtp_ext_next(&it, out)) == 1)
        if (out->id == id)
            return 0;
    return rc < 0 ? rc : LG_ENOTFOUND;
}

/* RFC 6464 section 3: one byte, V flag then the level in -dBov.
 *
 *     0                   1
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |  ID   | len=0 |V| level       |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
int rtp_ext_audio_level(const rtp_ext_t *e, bool *voice, uint8_t *level)
{
    if (!e || !voice || !level)
        return LG_EINVAL;
    if (e->len < 1)
        return LG_EMALFORMED;
    *voice = (e->data[0] & 0x80) != 0;
    *level = e->data[0] & 0x7f;
    return 0;
}

int rtp_ext_transport_seq(const rtp_ext_t *e, uint16_t *seq)
{
    if (!e || !seq)
        return LG_EINVAL;
    if (e->len < 2)
        return LG_EMALFORMED;
    *seq = wire_get_u16(e->data);
    return 0;
}

int rtp_ext_abs_send_time(const rtp_ext_t *e, uint32_t *t)
{
    if (!e || !t)
        return LG_EINVAL;
    if (e->len != 3)
        return LG_EMALFORMED;
    *t = wire_get_u24(e->data);
    return 0;
}

int rtp_ext_string(const rtp_ext_t *e, char *buf, size_t cap)
{
    if (!e || !buf)
        return LG_EINVAL;
    if (e->len == 0)
        return LG_EMALFORMED;
    for (size_t i = 0; i < e->len; i++)
        if (e->data[i] < 0x21 || e->data[i] > 0x7e)
            return LG_EMALFORMED;
    if (cap <= e->len)
        return LG_ENOSPC;
    memcpy(buf, e->data, e->len);
    buf[e->len] = '\0';
    return 0;
}

/* The new id for an element, or -1 when the map cannot express it in this form. */
static int mapped_id(const uint8_t id_map[16], rtp_ext_form_t form, uint8_t id)
{
    if (id >= 16)
        return 0;
    uint8_t to = id_map[id];
    if (form == RTP_EXT_FORM_ONE_BYTE && to > 14)
        return -1;
    return to;
}

/* rtp_ext_rewrite_copy() for the one-byte form (what browsers send), walking the bytes directly:
 * the same elements, stops and errors as rtp_ext_next(), without its per-element call. */
static int rewrite_one_byte(uint8_t *p, const rtp_packet_t *src, const uint8_t id_map[16],
                            uint8_t stamp_id, uint16_t stamp)
{
    const uint8_t *e = src->ext;
    size_t n = src->ext_len, pos = 0;
    while (pos < n) { /* pass 1: validate, so that a failure writes nothing */
        uint8_t b = e[pos];
        if (b == 0) {
            pos++;
            continue;
        }
        uint8_t id = b >> 4;
        if (id == 0 || id == 15)
            break;
        size_t data_len = (size_t)(b & 0x0f) + 1;
        if (data_len > n - pos - 1)
            return LG_EMALFORMED;
        if (id_map[id] > 14)
            return LG_EINVAL;
        pos += 1 + data_len;
    }
    size_t end = pos;
    uint8_t *out = p + (size_t)(e - src->data);
    bool stamped = false;
    for (pos = 0; pos < end;) { /* pass 2: rewrite; a blanked element becomes padding */
        uint8_t b = e[pos];
        if (b == 0) {
            pos++;
            continue;
        }
        size_t data_len = (size_t)(b & 0x0f) + 1;
        uint8_t to = id_map[b >> 4];
        if (to == 0) {
            memset(out + pos, 0, 1 + data_len);
        } else {
            out[pos] = (uint8_t)(to << 4 | (b & 0x0f));
            if (to == stamp_id && !stamped && data_len == 2) {
                wire_put_u16(out + pos + 1, stamp);
                stamped = true;
            }
        }
        pos += 1 + data_len;
    }
    return stamped ? 1 : 0;
}

int rtp_ext_rewrite_copy(uint8_t *p, const rtp_packet_t *src, const uint8_t id_map[16],
                         uint8_t stamp_id, uint16_t stamp)
{
    if (!p || !src || !id_map)
        return LG_EINVAL;
    if (src->ext_form == RTP_EXT_FORM_ONE_BYTE)
        return rewrite_one_byte(p, src, id_map, stamp_id, stamp);
    rtp_ext_iter_t it;
    rtp_ext_t e;
    int rc;
    /* Pass 1: validate layout and map so that a failure leaves the packet untouched. */
    rtp_ext_iter_init(&it, src);
    while ((rc = rtp_ext_next(&it, &e)) == 1)
        if (mapped_id(id_map, it.form, e.id) < 0)
            return LG_EINVAL;
    if (rc < 0)
        return rc;
    /* Pass 2: rewrite. Blanked elements become zero (padding) bytes, which the walk skips. */
    size_t hdr = elem_header_size(src->ext_form);
    bool stamped = false;
    rtp_ext_iter_init(&it, src);
    while (rtp_ext_next(&it, &e) == 1) {
        size_t off = (size_t)(e.data - src->data);
        uint8_t *at = p + off - hdr;
        int to = mapped_id(id_map, it.form, e.id);
        if (to == 0)
            memset(at, 0, hdr + e.len);
        else if (it.form == RTP_EXT_FORM_ONE_BYTE)
            at[0] = (uint8_t)(to << 4 | (at[0] & 0x0f));
        else
            at[0] = (uint8_t)to;
        if (to != 0 && to == stamp_id && !stamped && e.len == 2) {
            wire_put_u16(p + off, stamp);
            stamped = true;
        }
    }
    return stamped ? 1 : 0;
}

int rtp_ext_rewrite_ids(uint8_t *p, size_t len, const uint8_t id_map[16])
{
    if (!p || !id_map)
        return LG_EINVAL;
    rtp_packet_t pkt;
    int rc = rtp_parse(p, len, &pkt);
    if (rc < 0)
        return rc;
    rc = rtp_ext_rewrite_copy(p, &pkt, id_map, 0, 0);
    return rc < 0 ? rc : 0;
}

/* Finds element id in the packet at p and returns a writable pointer to its data. */
static int find_writable(uint8_t *p, size_t len, uint8_t id, size_t want, uint8_t **data)
{
    if (!p)
        return LG_EINVAL;
    rtp_packet_t pkt;
    rtp_ext_t e = {0};
    int rc = rtp_parse(p, len, &pkt);
    if (rc == 0)
        rc = rtp_ext_find(&pkt, id, &e);
    if (rc < 0)
        return rc;
    if (e.len != want)
        return LG_EMALFORMED;
    *data = p + (size_t)(e.data - p);
    return 0;
}

int rtp_ext_set_transport_seq(uint8_t *p, size_t len, uint8_t id, uint16_t seq)
{
    uint8_t *d;
    int rc = find_writable(p, len, id, 2, &d);
    if (rc == 0)
        wire_put_u16(d, seq);
    return rc;
}

int rtp_ext_set_abs_send_time(uint8_t *p, size_t len, uint8_t id, uint32_t t)
{
    uint8_t *d;
    int rc = find_writable(p, len, id, 3, &d);
    if (rc == 0)
        wire_put_u24(d, t & 0xffffff);
    return rc;
}
