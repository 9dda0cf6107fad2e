/* H.264 RTP payload classification (RFC 6184): single NAL unit, STAP-A and FU-A. */
#include "media/h264.h"

#include <string.h>

#include "media/wire.h"
#include "sfu/lg_error.h"

/* RFC 6184 section 1.3, the NAL unit header that starts every payload:
 *
 *    +---------------+
 *    |0|1|2|3|4|5|6|7|
 *    +-+-+-+-+-+-+-+-+
 *    |F|NRI|  Type   |
 *    +---------------+
 *
 * Type 1-23 is a single NAL unit packet, 24 STAP-A, 28 FU-A. */

static void note_nal(h264_info_t *out, uint8_t type)
{
    if (out->nal_count == 0)
        out->nal_type = type;
    if (out->nal_count < 255)
        out->nal_count++;
    out->idr = out->idr || type == H264_NAL_IDR;
    out->sps = out->sps || type == H264_NAL_SPS;
    out->pps = out->pps || type == H264_NAL_PPS;
}

/* Section 5.7.1, STAP-A: 16-bit sizes, each followed by that many bytes of NAL unit.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |STAP-A NAL HDR |         NALU 1 Size           | NALU 1 HDR    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         NALU 1 Data                           |
 *    :                                                               :
 *    +               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |               | NALU 2 Size                   | NALU 2 HDR    |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    |                         NALU 2 Data                           |
 *    :                                                               :
 */
static int parse_stap_a(const uint8_t *p, size_t len, h264_info_t *out)
{
    size_t pos = 1;
    if (len - pos < 2)
        return LG_ETRUNC;
    while (pos < len) {
        if (len - pos < 2)
            return LG_EMALFORMED;
        size_t size = wire_get_u16(p + pos);
        pos += 2;
        if (size == 0 || size > len - pos)
            return LG_EMALFORMED;
        note_nal(out, p[pos] & 0x1f);
        pos += size;
    }
    return 0;
}

/* Section 5.8, FU-A: FU indicator (F, NRI, type 28) then the FU header; S marks the first
 * fragment, E the last.
 *
 *     0                   1                   2                   3
 *     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *    | FU indicator  |   FU header   |                               |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               |
 *    |                         FU payload                            |
 *    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *
 *    FU header: |S|E|R|  Type   |
 */
static int parse_fu_a(const uint8_t *p, size_t len, h264_info_t *out)
{
    if (len < 2)
        return LG_ETRUNC;
    uint8_t fu = p[1];
    out->fu_start = (fu & 0x80) != 0;
    out->fu_end = (fu & 0x40) != 0;
    if (out->fu_start && out->fu_end)
        return LG_EMALFORMED;
    if (out->fu_start)
        note_nal(out, fu & 0x1f);
    else
        out->nal_type = fu & 0x1f;
    return 0;
}

int h264_parse(const uint8_t *p, size_t len, h264_info_t *out)
{
    if (!p || !out)
        return LG_EINVAL;
    if (len < 1)
        return LG_ETRUNC;
    memset(out, 0, sizeof *out);
    uint8_t type = p[0] & 0x1f;
    out->packet_type = type;
    if (type >= 1 && type <= 23) {
        note_nal(out, type);
        return 0;
    }
    if (type == H264_NAL_STAP_A)
        return parse_stap_a(p, len, out);
    if (type == H264_NAL_FU_A)
        return parse_fu_a(p, len, out);
    return LG_EUNSUPPORTED;
}
