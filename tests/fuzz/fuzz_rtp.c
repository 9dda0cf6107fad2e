/* Fuzz target for the RTP codec: parse, walk and read extensions, rewrite in place, wrap as RTX. */
#include <stdint.h>
#include <string.h>

#include "media/rtp.h"

static void read_extensions(const rtp_packet_t *pkt)
{
    rtp_ext_iter_t it;
    rtp_ext_t e;
    rtp_ext_iter_init(&it, pkt);
    while (rtp_ext_next(&it, &e) == 1) {
        bool voice;
        uint8_t level;
        uint16_t seq;
        uint32_t t;
        char s[257];
        (void)rtp_ext_audio_level(&e, &voice, &level);
        (void)rtp_ext_transport_seq(&e, &seq);
        (void)rtp_ext_abs_send_time(&e, &t);
        (void)rtp_ext_string(&e, s, sizeof s);
    }
}

static void rewrite(const uint8_t *data, size_t size)
{
    static uint8_t buf[65536];
    if (size > sizeof buf)
        return;
    memcpy(buf, data, size);
    /* A map taken from the input itself: it blanks some ids and moves others. */
    uint8_t map[16];
    for (int i = 0; i < 16; i++)
        map[i] = size > (size_t)i ? (uint8_t)(data[size - 1 - i] % 15) : 0;
    (void)rtp_ext_rewrite_ids(buf, size, map);
    (void)rtp_ext_set_transport_seq(buf, size, 3, 0x1234);
    rtp_packet_t src;
    uint8_t copy[2048];
    if (size <= sizeof copy && rtp_parse(data, size, &src) == 0) {
        memcpy(copy, data, size);
        (void)rtp_ext_rewrite_copy(copy, &src, map, 3, 0x1234);
    }
    (void)rtp_ext_set_abs_send_time(buf, size, 2, 0x123456);
    (void)rtp_set_ssrc(buf, size, 1);
    (void)rtp_set_seq(buf, size, 2);
    (void)rtp_set_timestamp(buf, size, 3);
    (void)rtp_set_payload_type(buf, size, 96);
    (void)rtp_set_marker(buf, size, true);
    rtp_packet_t pkt;
    if (rtp_parse(buf, size, &pkt) == 0)
        read_extensions(&pkt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtp_packet_t pkt;
    if (rtp_parse(data, size, &pkt) == 0) {
        read_extensions(&pkt);
        for (unsigned i = 0; i < pkt.csrc_count; i++)
            (void)rtp_csrc(&pkt, i);
        static uint8_t out[65536 + 16];
        size_t n;
        (void)rtx_build(&pkt, 97, 7, 8, out, sizeof out, &n);
        (void)rtx_restore(&pkt, 96, 9, out, sizeof out, &n);
        uint16_t osn;
        const uint8_t *payload;
        (void)rtx_unwrap(&pkt, &osn, &payload, &n);
    }
    rewrite(data, size);
    return 0;
}
