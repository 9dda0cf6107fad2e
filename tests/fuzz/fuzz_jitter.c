/* Fuzz target for the Opus jitter buffer and decoder: the input is a script of inserts (sequence
 * and timestamp steps, any payload bytes), pops decoded as the buffer says, and clock steps.
 *
 * Script records, each starting with an op byte:
 *   op & 3 == 0  insert: i8 seq step, i16 timestamp step (x120 samples), u16 length, payload
 *   op & 3 == 1  pop, then decode as told (packet, FEC from the next packet, or concealment)
 *   op & 3 == 2  clock: now += op >> 2 ms
 *   op & 3 == 3  jump: u16 seq, u32 timestamp (absolute)
 * Invariants checked: the buffer's bounds, and every instruction is decodable in size. */
#include <opus.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/jitter_buffer.h"

static void decode(OpusDecoder *dec, jb_result_t r, const jb_frame_t *f)
{
    static int16_t pcm[5760];
    if (r == JB_SILENT) {
        if (f->payload || f->samples)
            abort();
        return;
    }
    if (f->samples == 0 || f->samples > 5760 || f->samples % 120 != 0)
        abort();
    if ((r == JB_PACKET || r == JB_FEC) && (!f->payload || f->len == 0 || f->len > JB_MAX_PAYLOAD))
        abort();
    int n;
    if (r == JB_PACKET)
        n = opus_decode(dec, f->payload, (opus_int32)f->len, pcm, 5760, 0);
    else if (r == JB_FEC)
        n = opus_decode(dec, f->payload, (opus_int32)f->len, pcm, (int)f->samples, 1);
    else if ((n = opus_decode(dec, NULL, 0, pcm, (int)f->samples, 0)) < 0)
        abort(); /* concealment of a valid size never fails */
    if (n > 5760 || (r == JB_PACKET && n > 0 && n != (int)f->samples))
        abort(); /* the buffer's duration is the decoder's */
}

static void check(const jb_t *jb)
{
    jb_counters_t c;
    jb_get_counters(jb, &c);
    if (c.count > JB_CAPACITY || c.target_ms > 200 || c.target_ms < 20 || c.depth_ms > 1000)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static OpusDecoder *dec;
    static jb_t jb;
    int err;
    if (!dec && !(dec = opus_decoder_create(48000, 1, &err)))
        abort();
    opus_decoder_ctl(dec, OPUS_RESET_STATE);
    if (jb_init(&jb, NULL) != 0)
        abort();
    uint16_t seq = 0;
    uint32_t ts = 0;
    uint64_t now = 0;
    size_t i = 0;
    while (i < size) {
        uint8_t op = data[i++];
        if ((op & 3) == 0 && size - i >= 5) {
            seq = (uint16_t)(seq + (int8_t)data[i]);
            ts += (uint32_t)((int16_t)(data[i + 1] << 8 | data[i + 2]) * 120);
            size_t len = (size_t)data[i + 3] << 8 | data[i + 4];
            i += 5;
            len = len < size - i ? len : size - i;
            (void)jb_insert(&jb, seq, ts, data + i, len, now);
            i += len;
        } else if ((op & 3) == 1) {
            jb_frame_t f;
            decode(dec, jb_pop(&jb, now, &f), &f);
        } else if ((op & 3) == 2) {
            now += op >> 2;
        } else if ((op & 3) == 3 && size - i >= 6) {
            seq = (uint16_t)(data[i] << 8 | data[i + 1]);
            ts = (uint32_t)data[i + 2] << 24 | (uint32_t)data[i + 3] << 16 |
                 (uint32_t)data[i + 4] << 8 | data[i + 5];
            i += 6;
        }
        check(&jb);
    }
    jb_free(&jb);
    return 0;
}
