/* Fuzz target for the video payload helpers: the VP8 descriptor (parse and in-place rewrite) and
 * H.264 packet classification, both run on every input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/h264.h"
#include "media/vp8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    vp8_desc_t d, d2;
    h264_info_t info;
    int rc = vp8_parse(data, size, &d);
    (void)h264_parse(data, size, &info);
    if (size > 4096)
        return 0;
    static uint8_t buf[4096];
    memcpy(buf, data, size);
    int pic = vp8_set_picture_id(buf, size, 0x7abc);
    int tl0 = vp8_set_tl0picidx(buf, size, 0x5a);
    /* A rewrite never changes what else the descriptor says. */
    if (rc == 0) {
        if (vp8_parse(buf, size, &d2) != 0 || d2.desc_len != d.desc_len ||
            d2.keyframe != d.keyframe || d2.width != d.width || d2.tid != d.tid)
            abort();
        if (pic == 0 && d2.picture_id != (d.picture_id_15 ? 0x7abc : 0x3c))
            abort();
        if (tl0 == 0 && d2.tl0picidx != 0x5a)
            abort();
    }
    return 0;
}
