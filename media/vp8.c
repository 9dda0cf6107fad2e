/* VP8 RTP payload descriptor parsing and picture id rewriting (RFC 7741). */
#include "media/vp8.h"

#include <string.h>

#include "sfu/lg_error.h"

/* RFC 7741 section 4.2, the payload descriptor:
 *
 *          0 1 2 3 4 5 6 7
 *         +-+-+-+-+-+-+-+-+
 *         |X|R|N|S|R| PID | (REQUIRED)
 *         +-+-+-+-+-+-+-+-+
 *    X:   |I|L|T|K| RSV   | (OPTIONAL)
 *         +-+-+-+-+-+-+-+-+
 *    I:   |M| PictureID   | (OPTIONAL)
 *         +-+-+-+-+-+-+-+-+
 *         |   PictureID   | (second byte when M = 1)
 *         +-+-+-+-+-+-+-+-+
 *    L:   |   TL0PICIDX   | (OPTIONAL)
 *         +-+-+-+-+-+-+-+-+
 *    T/K: |TID|Y| KEYIDX  | (OPTIONAL, present when T or K is set)
 *         +-+-+-+-+-+-+-+-+
 *
 * Section 4.3, the VP8 payload header that starts a partition 0 (P = 0 marks a key frame), and
 * RFC 6386 section 9.1, the key frame header that follows it:
 *
 *          0 1 2 3 4 5 6 7
 *         +-+-+-+-+-+-+-+-+
 *         |Size0|H| VER |P|
 *         +-+-+-+-+-+-+-+-+
 *         |     Size1     |
 *         +-+-+-+-+-+-+-+-+
 *         |     Size2     |
 *         +-+-+-+-+-+-+-+-+
 *         | 0x9d 0x01 0x2a| start code, 3 bytes
 *         +-+-+-+-+-+-+-+-+
 *         | scale | width | 16 bits little endian: 2-bit scale, 14-bit width
 *         +-+-+-+-+-+-+-+-+
 *         | scale | height| likewise
 *         +-+-+-+-+-+-+-+-+
 */
#define KEYFRAME_HEADER_LEN 10

/* Offsets of the optional fields, 0 when absent. */
typedef struct vp8_layout {
    size_t picture_id;
    size_t tl0picidx;
    size_t tk;
    size_t len;
} vp8_layout_t;

static int layout(const uint8_t *p, size_t len, vp8_layout_t *l)
{
    memset(l, 0, sizeof *l);
    if (len < 1)
        return LG_ETRUNC;
    size_t pos = 1;
    if (p[0] & 0x80) {
        if (len < 2)
            return LG_ETRUNC;
        uint8_t x = p[1];
        pos = 2;
        if (x & 0x80) {
            l->picture_id = pos;
            if (pos >= len)
                return LG_ETRUNC;
            pos += (p[pos] & 0x80) ? 2 : 1;
        }
        if (x & 0x40)
            l->tl0picidx = pos++;
        if (x & 0x30)
            l->tk = pos++;
    }
    if (pos > len)
        return LG_ETRUNC;
    l->len = pos;
    return 0;
}

static int parse_keyframe(const uint8_t *p, size_t len, vp8_desc_t *out)
{
    static const uint8_t start_code[3] = {0x9d, 0x01, 0x2a};
    if (len < KEYFRAME_HEADER_LEN || memcmp(p + 3, start_code, 3) != 0)
        return LG_EMALFORMED;
    out->keyframe = true;
    out->width = (uint16_t)((p[6] | p[7] << 8) & 0x3fff);
    out->hscale = p[7] >> 6;
    out->height = (uint16_t)((p[8] | p[9] << 8) & 0x3fff);
    out->vscale = p[9] >> 6;
    return 0;
}

int vp8_parse(const uint8_t *p, size_t len, vp8_desc_t *out)
{
    if (!p || !out)
        return LG_EINVAL;
    vp8_layout_t l;
    int rc = layout(p, len, &l);
    if (rc < 0)
        return rc;
    if (l.len == len)
        return LG_ETRUNC;
    memset(out, 0, sizeof *out);
    out->extended = (p[0] & 0x80) != 0;
    out->non_reference = (p[0] & 0x20) != 0;
    out->start = (p[0] & 0x10) != 0;
    out->pid = p[0] & 0x07;
    if (l.picture_id) {
        const uint8_t *q = p + l.picture_id;
        out->has_picture_id = true;
        out->picture_id_15 = (q[0] & 0x80) != 0;
        out->picture_id = out->picture_id_15 ? (uint16_t)((q[0] & 0x7f) << 8 | q[1]) : q[0];
    }
    if (l.tl0picidx) {
        out->has_tl0picidx = true;
        out->tl0picidx = p[l.tl0picidx];
    }
    if (l.tk) {
        uint8_t x = p[1], b = p[l.tk];
        out->has_tid = (x & 0x20) != 0;
        out->tid = out->has_tid ? b >> 6 : 0;
        out->layer_sync = out->has_tid && (b & 0x20);
        out->has_keyidx = (x & 0x10) != 0;
        out->keyidx = out->has_keyidx ? (b & 0x1f) : 0;
    }
    out->desc_len = l.len;
    out->payload = p + l.len;
    out->payload_len = len - l.len;
    if (out->start && out->pid == 0 && !(out->payload[0] & 0x01))
        return parse_keyframe(out->payload, out->payload_len, out);
    return 0;
}

int vp8_set_picture_id(uint8_t *p, size_t len, uint16_t picture_id)
{
    if (!p)
        return LG_EINVAL;
    vp8_layout_t l;
    int rc = layout(p, len, &l);
    if (rc < 0)
        return rc;
    if (!l.picture_id)
        return LG_ENOTFOUND;
    uint8_t *q = p + l.picture_id;
    if (q[0] & 0x80) {
        q[0] = (uint8_t)(0x80 | ((picture_id >> 8) & 0x7f));
        q[1] = (uint8_t)picture_id;
    } else {
        q[0] = picture_id & 0x7f;
    }
    return 0;
}

int vp8_set_tl0picidx(uint8_t *p, size_t len, uint8_t tl0picidx)
{
    if (!p)
        return LG_EINVAL;
    vp8_layout_t l;
    int rc = layout(p, len, &l);
    if (rc < 0)
        return rc;
    if (!l.tl0picidx)
        return LG_ENOTFOUND;
    p[l.tl0picidx] = tl0picidx;
    return 0;
}
