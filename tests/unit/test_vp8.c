/* Unit tests for the VP8 descriptor (real browser packets) and H.264 payload classification. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "media/h264.h"
#include "media/rtp.h"
#include "media/vp8.h"
#include "sfu/lg_error.h"
#include "tests/unit/hex_lines.h"

#define CHROME_VP8      "tests/fixtures/rtp/chromium-156-vp8.hex"
#define CHROME_SIMULCST "tests/fixtures/rtp/chromium-156-vp8-simulcast.hex"
#define FIREFOX_VP8     "tests/fixtures/rtp/firefox-153-vp8.hex"

static void load(const char *path, hex_lines_t *h, int expect)
{
    int n = hex_lines_load(path, h);
    if (n != expect)
        fail_msg("%s: loaded %d packets, expected %d", path, n, expect);
}

/* Parses line i as RTP, then its payload as VP8. */
static void vp8_of(const hex_lines_t *h, size_t i, rtp_packet_t *pkt, vp8_desc_t *d)
{
    assert_int_equal(rtp_parse(h->pkt[i], h->len[i], pkt), 0);
    int rc = vp8_parse(pkt->payload, pkt->payload_len, d);
    if (rc != 0)
        fail_msg("line %zu: vp8_parse = %s", i + 1, lg_errname(rc));
}

static void test_chromium_keyframes(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_VP8, &h, 60);
    uint16_t last_pic = 0;
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        vp8_desc_t d;
        vp8_of(&h, i, &pkt, &d);
        assert_true(d.extended);
        assert_true(d.has_picture_id);
        assert_true(d.picture_id_15);
        assert_false(d.has_tl0picidx);
        assert_false(d.has_tid);
        assert_int_equal(d.desc_len, 4);
        assert_int_equal(d.pid, 0);
        /* A new picture id on every frame start, one more than the last. */
        if (d.start && i > 0)
            assert_int_equal(d.picture_id, (uint16_t)(last_pic + 1));
        last_pic = d.picture_id;
        bool key = i == 0 || i == 41;
        assert_int_equal(d.keyframe, key);
        if (key) {
            assert_int_equal(d.width, 640);
            assert_int_equal(d.height, 360);
            assert_int_equal(d.hscale, 0);
            assert_int_equal(d.vscale, 0);
        }
    }
    rtp_packet_t pkt;
    vp8_desc_t d;
    vp8_of(&h, 0, &pkt, &d);
    assert_int_equal(d.picture_id, 0x2574);
    assert_int_equal(d.payload_len, pkt.payload_len - 4);
    vp8_of(&h, 1, &pkt, &d); /* continuation of the key frame */
    assert_false(d.start);
    assert_false(d.keyframe);
    hex_lines_free(&h);
}

static void test_simulcast_layers(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_SIMULCST, &h, 60);
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        vp8_desc_t d;
        vp8_of(&h, i, &pkt, &d);
        assert_true(d.has_picture_id && d.has_tl0picidx && d.has_tid);
        assert_false(d.has_keyidx);
        assert_int_equal(d.desc_len, 6);
        bool key = i == 0 || i == 3 || i == 5;
        assert_int_equal(d.keyframe, key);
        if (i == 0) {
            assert_int_equal(pkt.ssrc, 3963659810u); /* h */
            assert_int_equal(d.width, 1280);
            assert_int_equal(d.height, 720);
        } else if (i == 3) {
            assert_int_equal(pkt.ssrc, 4193281877u); /* m */
            assert_int_equal(d.width, 640);
            assert_int_equal(d.height, 360);
        } else if (i == 5) {
            assert_int_equal(pkt.ssrc, 105105440u); /* l */
            assert_int_equal(d.width, 320);
            assert_int_equal(d.height, 180);
        }
    }
    /* Line 1: picture id 0x5ec5, TL0PICIDX 1, TID 0 with Y. */
    rtp_packet_t pkt;
    vp8_desc_t d;
    vp8_of(&h, 0, &pkt, &d);
    assert_int_equal(d.picture_id, 0x5ec5);
    assert_int_equal(d.tl0picidx, 1);
    assert_int_equal(d.tid, 0);
    assert_true(d.layer_sync);
    /* Line 8 (b0 e0 de c6 01 a0): non-reference, TID 2, Y set. */
    vp8_of(&h, 7, &pkt, &d);
    assert_true(d.non_reference);
    assert_int_equal(d.tid, 2);
    assert_true(d.layer_sync);
    hex_lines_free(&h);
}

static void test_firefox_keyframe(void **state)
{
    (void)state;
    hex_lines_t h;
    load(FIREFOX_VP8, &h, 36);
    for (size_t i = 0; i < 30; i++) {
        rtp_packet_t pkt;
        vp8_desc_t d;
        vp8_of(&h, i, &pkt, &d);
        assert_int_equal(d.keyframe, i == 0);
        if (i == 0) {
            assert_int_equal(d.width, 320);
            assert_int_equal(d.height, 240);
        }
    }
    hex_lines_free(&h);
}

static void test_rewrite_picture_id_and_tl0(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_SIMULCST, &h, 60);
    rtp_packet_t pkt;
    vp8_desc_t d;
    uint8_t buf[1500];
    assert_int_equal(rtp_parse(h.pkt[0], h.len[0], &pkt), 0);
    size_t len = pkt.payload_len;
    memcpy(buf, pkt.payload, len);
    assert_int_equal(vp8_set_picture_id(buf, len, 0x1234), 0);
    assert_int_equal(vp8_set_tl0picidx(buf, len, 0x99), 0);
    assert_int_equal(vp8_parse(buf, len, &d), 0);
    assert_int_equal(d.picture_id, 0x1234);
    assert_int_equal(d.tl0picidx, 0x99);
    assert_true(d.picture_id_15);
    assert_true(d.keyframe);
    assert_memory_equal(buf + 6, pkt.payload + 6, len - 6);
    assert_int_equal(buf[0], pkt.payload[0]);
    assert_int_equal(buf[1], pkt.payload[1]);
    /* Wider values are masked to 15 bits. */
    assert_int_equal(vp8_set_picture_id(buf, len, 0xffff), 0);
    assert_int_equal(vp8_parse(buf, len, &d), 0);
    assert_int_equal(d.picture_id, 0x7fff);
    hex_lines_free(&h);
    /* Chromium without simulcast has no TL0PICIDX. */
    load(CHROME_VP8, &h, 60);
    assert_int_equal(rtp_parse(h.pkt[0], h.len[0], &pkt), 0);
    memcpy(buf, pkt.payload, pkt.payload_len);
    assert_int_equal(vp8_set_tl0picidx(buf, pkt.payload_len, 1), LG_ENOTFOUND);
    hex_lines_free(&h);
    /* 7-bit picture id, and no extension at all. */
    uint8_t seven[] = {0x90, 0x80, 0x05, 0x11, 0x02, 0x00};
    assert_int_equal(vp8_set_picture_id(seven, sizeof seven, 0x1ff), 0);
    assert_int_equal(seven[2], 0x7f);
    assert_int_equal(vp8_parse(seven, sizeof seven, &d), 0);
    assert_false(d.picture_id_15);
    assert_int_equal(d.picture_id, 0x7f);
    assert_false(d.keyframe); /* P = 1: an interframe */
    uint8_t bare[] = {0x10, 0x01};
    assert_int_equal(vp8_set_picture_id(bare, sizeof bare, 1), LG_ENOTFOUND);
    assert_int_equal(vp8_parse(bare, sizeof bare, &d), 0);
    assert_int_equal(d.desc_len, 1);
    assert_false(d.keyframe);
}

static void test_vp8_truncated_and_bad(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_SIMULCST, &h, 60);
    rtp_packet_t pkt;
    vp8_desc_t d;
    assert_int_equal(rtp_parse(h.pkt[0], h.len[0], &pkt), 0);
    /* desc is 6 bytes, then a 10-byte key frame header: shorter cuts fail, longer ones pass. */
    for (size_t n = 0; n < 40; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, pkt.payload, n);
        int rc = vp8_parse(cut, n, &d);
        if (n <= 6)
            assert_int_equal(rc, LG_ETRUNC);
        else if (n < 16)
            assert_int_equal(rc, LG_EMALFORMED);
        else
            assert_int_equal(rc, 0);
        free(cut);
    }
    /* A broken start code on a key frame start. */
    uint8_t buf[64];
    memcpy(buf, pkt.payload, sizeof buf);
    buf[9] = 0x9e;
    assert_int_equal(vp8_parse(buf, sizeof buf, &d), LG_EMALFORMED);
    /* Scaling codes ride in the top 2 bits of width and height. */
    memcpy(buf, pkt.payload, sizeof buf);
    buf[13] |= 0x40;
    buf[15] |= 0xc0;
    assert_int_equal(vp8_parse(buf, sizeof buf, &d), 0);
    assert_int_equal(d.width, 1280);
    assert_int_equal(d.hscale, 1);
    assert_int_equal(d.height, 720);
    assert_int_equal(d.vscale, 3);
    /* The same bytes as partition 1 are not a key frame start. */
    buf[0] |= 0x01;
    assert_int_equal(vp8_parse(buf, sizeof buf, &d), 0);
    assert_false(d.keyframe);
    assert_int_equal(vp8_parse(NULL, 3, &d), LG_EINVAL);
    /* K without T: KEYIDX only. */
    uint8_t k[] = {0x80, 0x10, 0x3f, 0x01};
    assert_int_equal(vp8_parse(k, sizeof k, &d), 0);
    assert_false(d.has_tid);
    assert_true(d.has_keyidx);
    assert_int_equal(d.keyidx, 0x1f);
    assert_int_equal(d.payload_len, 1);
    hex_lines_free(&h);
}

static void test_h264_single_nal(void **state)
{
    (void)state;
    h264_info_t info;
    const uint8_t idr[] = {0x65, 0x88, 0x84};
    assert_int_equal(h264_parse(idr, sizeof idr, &info), 0);
    assert_true(info.idr);
    assert_int_equal(info.packet_type, H264_NAL_IDR);
    assert_int_equal(info.nal_count, 1);
    const uint8_t slice[] = {0x41, 0x9a};
    assert_int_equal(h264_parse(slice, sizeof slice, &info), 0);
    assert_false(info.idr);
    assert_int_equal(info.nal_type, H264_NAL_SLICE);
    const uint8_t sps[] = {0x67, 0x42, 0xc0, 0x1f};
    assert_int_equal(h264_parse(sps, sizeof sps, &info), 0);
    assert_true(info.sps);
    assert_false(info.idr);
    assert_int_equal(h264_parse(sps, 0, &info), LG_ETRUNC);
    assert_int_equal(h264_parse(NULL, 1, &info), LG_EINVAL);
}

static void test_h264_stap_a(void **state)
{
    (void)state;
    h264_info_t info;
    /* SPS (4 bytes), PPS (2 bytes), IDR (3 bytes). */
    const uint8_t stap[] = {0x78, 0x00, 0x04, 0x67, 0x42, 0xc0, 0x1f, 0x00,
                            0x02, 0x68, 0xce, 0x00, 0x03, 0x65, 0x88, 0x84};
    assert_int_equal(h264_parse(stap, sizeof stap, &info), 0);
    assert_int_equal(info.packet_type, H264_NAL_STAP_A);
    assert_int_equal(info.nal_type, H264_NAL_SPS);
    assert_int_equal(info.nal_count, 3);
    assert_true(info.sps && info.pps && info.idr);
    /* Without the IDR unit, no IDR. */
    assert_int_equal(h264_parse(stap, 11, &info), 0);
    assert_false(info.idr);
    assert_true(info.pps);
    /* Every other cut leaves a size or unit hanging. */
    for (size_t n = 1; n < sizeof stap; n++) {
        int rc = h264_parse(stap, n, &info);
        if (n == 7 || n == 11)
            assert_int_equal(rc, 0);
        else
            assert_true(rc == LG_EMALFORMED || rc == LG_ETRUNC);
    }
    uint8_t zero[] = {0x78, 0x00, 0x00, 0x65};
    assert_int_equal(h264_parse(zero, sizeof zero, &info), LG_EMALFORMED);
    uint8_t *zero_end = malloc(3); /* a size-0 unit at the very end: nothing to read */
    memcpy(zero_end, zero, 3);
    assert_int_equal(h264_parse(zero_end, 3, &info), LG_EMALFORMED);
    free(zero_end);
}

static void test_h264_fu_a(void **state)
{
    (void)state;
    h264_info_t info;
    const uint8_t start[] = {0x7c, 0x85, 0xb8};
    const uint8_t middle[] = {0x7c, 0x05, 0x11};
    const uint8_t end[] = {0x7c, 0x45, 0x22};
    const uint8_t both[] = {0x7c, 0xc5, 0x22};
    const uint8_t nonidr[] = {0x5c, 0x81, 0x22};
    assert_int_equal(h264_parse(start, sizeof start, &info), 0);
    assert_true(info.idr && info.fu_start);
    assert_int_equal(info.packet_type, H264_NAL_FU_A);
    assert_int_equal(info.nal_type, H264_NAL_IDR);
    assert_int_equal(h264_parse(middle, sizeof middle, &info), 0);
    assert_false(info.idr);
    assert_int_equal(info.nal_type, H264_NAL_IDR);
    assert_int_equal(info.nal_count, 0);
    assert_int_equal(h264_parse(end, sizeof end, &info), 0);
    assert_true(info.fu_end);
    assert_false(info.idr);
    assert_int_equal(h264_parse(both, sizeof both, &info), LG_EMALFORMED);
    assert_int_equal(h264_parse(nonidr, sizeof nonidr, &info), 0);
    assert_false(info.idr);
    assert_int_equal(h264_parse(start, 1, &info), LG_ETRUNC);
    const uint8_t stap_b[] = {0x79, 0x00, 0x01};
    assert_int_equal(h264_parse(stap_b, sizeof stap_b, &info), LG_EUNSUPPORTED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chromium_keyframes),
        cmocka_unit_test(test_simulcast_layers),
        cmocka_unit_test(test_firefox_keyframe),
        cmocka_unit_test(test_rewrite_picture_id_and_tl0),
        cmocka_unit_test(test_vp8_truncated_and_bad),
        cmocka_unit_test(test_h264_single_nal),
        cmocka_unit_test(test_h264_stap_a),
        cmocka_unit_test(test_h264_fu_a),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
