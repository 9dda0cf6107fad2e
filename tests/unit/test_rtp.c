/* Unit tests for the RTP codec: real Chromium/Firefox packets, extensions, rewrites, RTX, damage.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "media/rtp.h"
#include "sfu/lg_error.h"
#include "tests/unit/hex_lines.h"

#define FIX_DIR         "tests/fixtures/rtp/"
#define CHROME_OPUS     FIX_DIR "chromium-156-opus.hex"
#define CHROME_VP8      FIX_DIR "chromium-156-vp8.hex"
#define CHROME_SIMULCST FIX_DIR "chromium-156-vp8-simulcast.hex"
#define CHROME_RTX      FIX_DIR "chromium-156-vp8-rtx.hex"
#define FIREFOX_OPUS    FIX_DIR "firefox-153-opus.hex"
#define FIREFOX_VP8     FIX_DIR "firefox-153-vp8.hex"

static void load(const char *path, hex_lines_t *h, int expect)
{
    int n = hex_lines_load(path, h);
    if (n != expect)
        fail_msg("%s: loaded %d packets, expected %d", path, n, expect);
}

static void parse_ok(const hex_lines_t *h, size_t i, rtp_packet_t *pkt)
{
    int rc = rtp_parse(h->pkt[i], h->len[i], pkt);
    if (rc != 0)
        fail_msg("line %zu: rtp_parse = %s", i + 1, lg_errname(rc));
}

/* Reads a string extension into buf, failing the test when it is absent or bad. */
static void ext_string(const rtp_packet_t *pkt, uint8_t id, char *buf, size_t cap)
{
    rtp_ext_t e;
    assert_int_equal(rtp_ext_find(pkt, id, &e), 0);
    assert_int_equal(rtp_ext_string(&e, buf, cap), 0);
}

static void test_every_fixture_line_parses(void **state)
{
    (void)state;
    static const struct {
        const char *path;
        int lines;
    } files[] = {{CHROME_OPUS, 30}, {CHROME_VP8, 60},   {CHROME_SIMULCST, 60},
                 {CHROME_RTX, 21},  {FIREFOX_OPUS, 20}, {FIREFOX_VP8, 36}};
    for (size_t f = 0; f < sizeof files / sizeof files[0]; f++) {
        hex_lines_t h;
        load(files[f].path, &h, files[f].lines);
        for (size_t i = 0; i < h.n; i++) {
            rtp_packet_t pkt;
            parse_ok(&h, i, &pkt);
            assert_int_equal(pkt.ext_form, RTP_EXT_FORM_ONE_BYTE);
            assert_int_equal(pkt.csrc_count, 0);
            assert_int_equal(pkt.header_len + pkt.payload_len + pkt.padding_len, h.len[i]);
            /* Every element walk ends cleanly. */
            rtp_ext_iter_t it;
            rtp_ext_t e;
            int rc, count = 0;
            rtp_ext_iter_init(&it, &pkt);
            while ((rc = rtp_ext_next(&it, &e)) == 1)
                count++;
            assert_int_equal(rc, 0);
            assert_true(count >= 2);
        }
        hex_lines_free(&h);
    }
}

/* The ssrc-audio-level bytes of the Chromium opus lines, V bit included. */
static const uint8_t OPUS_LEVEL[30] = {
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x8b,
    0x88, 0x99, 0x9f, 0xa3, 0xa8, 0xc2, 0xc6, 0xcc, 0xcf, 0xd4, 0xdb, 0xdf, 0xff, 0xff, 0xff,
};

static void test_chromium_opus(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_OPUS, &h, 30);
    uint16_t last_twcc = 0;
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        rtp_ext_t e;
        parse_ok(&h, i, &pkt);
        assert_int_equal(pkt.payload_type, 111);
        assert_int_equal(pkt.ssrc, 3538842451u);
        assert_int_equal(pkt.marker, i == 0);
        assert_int_equal(pkt.header_len, 28);
        assert_false(pkt.padding);
        /* ext 1: audio level, always with the V bit in this capture. */
        bool voice;
        uint8_t level;
        assert_int_equal(rtp_ext_find(&pkt, 1, &e), 0);
        assert_int_equal(rtp_ext_audio_level(&e, &voice, &level), 0);
        assert_true(voice);
        assert_int_equal(level, OPUS_LEVEL[i] & 0x7f);
        /* ext 2: abs-send-time, 3 bytes. ext 3: transport-wide seq, increasing. */
        uint32_t ast;
        assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0);
        assert_int_equal(rtp_ext_abs_send_time(&e, &ast), 0);
        assert_true(ast > 0 && ast <= 0xffffff);
        uint16_t twcc;
        assert_int_equal(rtp_ext_find(&pkt, 3, &e), 0);
        assert_int_equal(rtp_ext_transport_seq(&e, &twcc), 0);
        assert_true(twcc > last_twcc);
        last_twcc = twcc;
        /* ext 4: mid "0" on the first 20 only. */
        if (i < 20) {
            char mid[8];
            ext_string(&pkt, 4, mid, sizeof mid);
            assert_string_equal(mid, "0");
        } else {
            assert_int_equal(rtp_ext_find(&pkt, 4, &e), LG_ENOTFOUND);
        }
    }
    /* Known values from line 1 and line 16. */
    rtp_packet_t pkt;
    rtp_ext_t e;
    bool voice;
    uint8_t level;
    uint32_t ast;
    uint16_t twcc;
    parse_ok(&h, 0, &pkt);
    assert_int_equal(pkt.seq, 4822);
    assert_int_equal(pkt.timestamp, 948307099u);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0);
    assert_int_equal(rtp_ext_abs_send_time(&e, &ast), 0);
    assert_int_equal(ast, 0x089d82);
    assert_int_equal(rtp_ext_find(&pkt, 3, &e), 0);
    assert_int_equal(rtp_ext_transport_seq(&e, &twcc), 0);
    assert_int_equal(twcc, 1);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), 0);
    assert_int_equal(rtp_ext_audio_level(&e, &voice, &level), 0);
    assert_int_equal(level, 127);
    parse_ok(&h, 15, &pkt);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), 0);
    assert_int_equal(rtp_ext_audio_level(&e, &voice, &level), 0);
    assert_true(voice);
    assert_int_equal(level, 8); /* 0x88 */
    assert_int_equal(pkt.payload_len, 117 - 28);
    hex_lines_free(&h);
}

static void test_firefox_opus(void **state)
{
    (void)state;
    hex_lines_t h;
    load(FIREFOX_OPUS, &h, 20);
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        rtp_ext_t e;
        char mid[8];
        bool voice;
        uint8_t level;
        uint16_t twcc;
        parse_ok(&h, i, &pkt);
        assert_int_equal(pkt.payload_type, 109);
        assert_int_equal(pkt.ssrc, 3407161160u);
        assert_int_equal(pkt.seq, 12390 + i);
        ext_string(&pkt, 3, mid, sizeof mid);
        assert_string_equal(mid, "0");
        assert_int_equal(rtp_ext_find(&pkt, 1, &e), 0);
        assert_int_equal(rtp_ext_audio_level(&e, &voice, &level), 0);
        assert_true(voice);
        assert_int_equal(level, 0x17);
        assert_int_equal(rtp_ext_find(&pkt, 7, &e), 0);
        assert_int_equal(rtp_ext_transport_seq(&e, &twcc), 0);
        if (i == 0)
            assert_int_equal(twcc, 2);
        assert_int_equal(rtp_ext_find(&pkt, 2, &e), LG_ENOTFOUND);
    }
    hex_lines_free(&h);
}

static void test_chromium_vp8_headers(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_VP8, &h, 60);
    int markers = 0;
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        rtp_ext_t e;
        parse_ok(&h, i, &pkt);
        assert_int_equal(pkt.payload_type, 96);
        assert_int_equal(pkt.ssrc, 4078199596u);
        assert_int_equal(pkt.seq, 21726 + i);
        markers += pkt.marker;
        assert_int_equal(rtp_ext_find(&pkt, 10, &e), LG_ENOTFOUND);
        if (rtp_ext_find(&pkt, 4, &e) == 0) {
            char mid[8];
            assert_int_equal(rtp_ext_string(&e, mid, sizeof mid), 0);
            assert_string_equal(mid, "1");
        }
    }
    assert_int_equal(markers, 52);
    hex_lines_free(&h);
}

static void test_simulcast_rids(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_SIMULCST, &h, 60);
    int per_rid[3] = {0, 0, 0};
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        char rid[17], mid[8];
        parse_ok(&h, i, &pkt);
        ext_string(&pkt, 4, mid, sizeof mid);
        assert_string_equal(mid, "1");
        ext_string(&pkt, 10, rid, sizeof rid);
        if (pkt.ssrc == 3963659810u) {
            assert_string_equal(rid, "h");
            per_rid[0]++;
        } else if (pkt.ssrc == 4193281877u) {
            assert_string_equal(rid, "m");
            per_rid[1]++;
        } else {
            assert_int_equal(pkt.ssrc, 105105440u);
            assert_string_equal(rid, "l");
            per_rid[2]++;
        }
    }
    assert_int_equal(per_rid[0], 20);
    assert_int_equal(per_rid[1], 20);
    assert_int_equal(per_rid[2], 20);
    hex_lines_free(&h);
}

/* The OSN column of the RTX fixture's header: 0 = padding-only probe. */
static const uint16_t RTX_OSN[13] = {0,     21727, 21727, 0, 0,     21727, 21727,
                                     21728, 0,     0,     0, 21825, 21925};

static void test_rtx_unwrap(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_RTX, &h, 21);
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        uint16_t osn;
        const uint8_t *payload;
        size_t plen;
        parse_ok(&h, i, &pkt);
        assert_int_equal(pkt.payload_type, 97);
        int rc = rtx_unwrap(&pkt, &osn, &payload, &plen);
        uint16_t want = i < 13 ? RTX_OSN[i] : 0;
        if (i < 13 && want == 0) {
            assert_int_equal(pkt.ssrc, 702099343u);
            assert_true(pkt.padding);
            assert_int_equal(pkt.padding_len, 255);
            assert_int_equal(pkt.payload_len, 0);
            assert_int_equal(rc, LG_ENOTFOUND);
        } else if (i < 13) {
            assert_int_equal(rc, 0);
            assert_int_equal(osn, want);
            assert_int_equal(plen, pkt.payload_len - 2);
        } else {
            /* Simulcast session: repaired-rtp-stream-id (11) names the layer. */
            char rrid[8];
            ext_string(&pkt, 11, rrid, sizeof rrid);
            assert_string_equal(rrid, pkt.ssrc == 1309503512u ? "m" : "l");
            if (pkt.ssrc != 1309503512u)
                assert_int_equal(pkt.ssrc, 3688080188u);
            assert_int_equal(rc, pkt.padding ? LG_ENOTFOUND : 0);
        }
    }
    hex_lines_free(&h);
}

/* RTX line 2 retransmits VP8 line 2 (seq 21727); RTX line 8 retransmits VP8 line 3. */
static void test_rtx_build_and_restore_match_browser(void **state)
{
    (void)state;
    hex_lines_t vp8, rtx;
    load(CHROME_VP8, &vp8, 60);
    load(CHROME_RTX, &rtx, 21);
    static const size_t pairs[][2] = {{1, 1}, {2, 7}};
    for (size_t k = 0; k < 2; k++) {
        rtp_packet_t orig, wrapped, built;
        parse_ok(&vp8, pairs[k][0], &orig);
        parse_ok(&rtx, pairs[k][1], &wrapped);
        uint8_t out[1500];
        size_t n;
        assert_int_equal(rtx_build(&orig, 97, wrapped.ssrc, wrapped.seq, out, sizeof out, &n), 0);
        /* Same size and bytes as the browser's, except the extension values it re-stamped. */
        assert_int_equal(n, rtx.len[pairs[k][1]]);
        assert_memory_equal(out, rtx.pkt[pairs[k][1]], 12);
        assert_memory_equal(out + orig.header_len, wrapped.payload, wrapped.payload_len);
        assert_int_equal(rtp_parse(out, n, &built), 0);
        assert_int_equal(built.payload_type, 97);
        assert_true(built.marker);

        uint8_t back[1500];
        rtp_packet_t restored;
        assert_int_equal(rtx_restore(&wrapped, 96, orig.ssrc, back, sizeof back, &n), 0);
        assert_int_equal(n, vp8.len[pairs[k][0]]);
        assert_int_equal(rtp_parse(back, n, &restored), 0);
        assert_int_equal(restored.seq, orig.seq);
        assert_int_equal(restored.ssrc, orig.ssrc);
        assert_int_equal(restored.payload_type, 96);
        assert_int_equal(restored.timestamp, orig.timestamp);
        assert_int_equal(restored.payload_len, orig.payload_len);
        assert_memory_equal(restored.payload, orig.payload, orig.payload_len);
        /* Too small a buffer writes nothing useful and says so. */
        assert_int_equal(rtx_build(&orig, 97, 1, 1, out, n, &n), LG_ENOSPC);
        assert_int_equal(rtx_build(&orig, 128, 1, 1, out, sizeof out, &n), LG_EINVAL);
    }
    /* A padding-only probe has no original inside. */
    rtp_packet_t probe, built;
    uint8_t out[1500];
    size_t n;
    parse_ok(&rtx, 0, &probe);
    assert_int_equal(rtx_restore(&probe, 96, 1, out, sizeof out, &n), LG_ENOTFOUND);
    /* Wrapping a padded packet drops the padding and the P bit. */
    assert_int_equal(rtx_build(&probe, 98, 5, 6, out, sizeof out, &n), 0);
    assert_int_equal(n, probe.header_len + 2);
    assert_int_equal(rtp_parse(out, n, &built), 0);
    assert_false(built.padding);
    assert_int_equal(built.payload_len, 2);
    assert_int_equal(built.payload[0] << 8 | built.payload[1], probe.seq);
    hex_lines_free(&vp8);
    hex_lines_free(&rtx);
}

static void test_firefox_vp8_and_rtx_padding(void **state)
{
    (void)state;
    hex_lines_t h;
    load(FIREFOX_VP8, &h, 36);
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        rtp_ext_t e;
        char mid[8];
        uint32_t ast;
        parse_ok(&h, i, &pkt);
        ext_string(&pkt, 3, mid, sizeof mid);
        assert_string_equal(mid, "1");
        assert_int_equal(rtp_ext_find(&pkt, 4, &e), 0);
        assert_int_equal(rtp_ext_abs_send_time(&e, &ast), 0);
        if (i < 30) {
            assert_int_equal(pkt.payload_type, 120);
            assert_int_equal(pkt.ssrc, 578621563u);
            assert_false(pkt.padding);
        } else {
            assert_int_equal(pkt.payload_type, 124);
            assert_int_equal(pkt.ssrc, 2911097624u);
            assert_true(pkt.padding);
            assert_int_equal(pkt.payload_len, 0);
            assert_int_equal(pkt.padding_len, 255);
        }
    }
    hex_lines_free(&h);
}

static void test_rewrite_header_fields(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_VP8, &h, 60);
    uint8_t buf[1500];
    size_t len = h.len[0];
    memcpy(buf, h.pkt[0], len);
    assert_int_equal(rtp_set_ssrc(buf, len, 0x01020304), 0);
    assert_int_equal(rtp_set_seq(buf, len, 0xfffe), 0);
    assert_int_equal(rtp_set_timestamp(buf, len, 0xa0b0c0d0), 0);
    assert_int_equal(rtp_set_payload_type(buf, len, 100), 0);
    assert_int_equal(rtp_set_marker(buf, len, true), 0);
    rtp_packet_t pkt;
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    assert_int_equal(pkt.ssrc, 0x01020304);
    assert_int_equal(pkt.seq, 0xfffe);
    assert_int_equal(pkt.timestamp, 0xa0b0c0d0);
    assert_int_equal(pkt.payload_type, 100);
    assert_true(pkt.marker);
    assert_int_equal(buf[0], h.pkt[0][0]);
    assert_memory_equal(buf + 12, h.pkt[0] + 12, len - 12);
    assert_int_equal(rtp_set_marker(buf, len, false), 0);
    assert_int_equal(buf[1], 100);
    assert_int_equal(rtp_set_payload_type(buf, len, 128), LG_EINVAL);
    assert_int_equal(rtp_set_ssrc(buf, 11, 1), LG_ETRUNC);
    assert_int_equal(rtp_set_seq(NULL, 12, 1), LG_EINVAL);
    hex_lines_free(&h);
}

static void test_rewrite_extension_ids(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_OPUS, &h, 30);
    uint8_t buf[256];
    size_t len = h.len[0];
    memcpy(buf, h.pkt[0], len);
    /* Publisher 1 level, 2 abs-send-time, 3 twcc, 4 mid -> subscriber 5, blank, 3, 9. */
    uint8_t map[16] = {0};
    map[1] = 5;
    map[3] = 3;
    map[4] = 9;
    assert_int_equal(rtp_ext_rewrite_ids(buf, len, map), 0);
    rtp_packet_t pkt;
    rtp_ext_t e;
    bool voice;
    uint8_t level;
    char mid[8];
    uint16_t twcc;
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    assert_int_equal(pkt.header_len, 28);
    assert_int_equal(rtp_ext_find(&pkt, 5, &e), 0);
    assert_int_equal(rtp_ext_audio_level(&e, &voice, &level), 0);
    assert_int_equal(level, 127);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), LG_ENOTFOUND);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), LG_ENOTFOUND);
    assert_int_equal(rtp_ext_find(&pkt, 3, &e), 0);
    assert_int_equal(rtp_ext_transport_seq(&e, &twcc), 0);
    assert_int_equal(twcc, 1);
    ext_string(&pkt, 9, mid, sizeof mid);
    assert_string_equal(mid, "0");
    /* The blanked abs-send-time element (first, 4 bytes) is now zero padding. */
    static const uint8_t zeros[4] = {0};
    assert_memory_equal(buf + 16, zeros, 4);
    assert_memory_equal(buf + 28, h.pkt[0] + 28, len - 28);
    /* Identity map changes nothing. */
    memcpy(buf, h.pkt[0], len);
    uint8_t ident[16];
    for (int i = 0; i < 16; i++)
        ident[i] = (uint8_t)(i < 15 ? i : 0);
    assert_int_equal(rtp_ext_rewrite_ids(buf, len, ident), 0);
    assert_memory_equal(buf, h.pkt[0], len);
    /* A target of 15 cannot be said in the one-byte form: refused, packet untouched. */
    map[4] = 15;
    assert_int_equal(rtp_ext_rewrite_ids(buf, len, map), LG_EINVAL);
    assert_memory_equal(buf, h.pkt[0], len);
    hex_lines_free(&h);
}

/* The forwarding path's one-walk rewrite of a copy gives what the two-step rewrite + stamp gave,
 * reads only the parsed source, and writes nothing on error. */
static void test_rewrite_copy_matches_two_steps(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_OPUS, &h, 30);
    size_t len = h.len[0];
    uint8_t src[256], want[256], got[256];
    memcpy(src, h.pkt[0], len);
    uint8_t map[16] = {0};
    map[1] = 5;
    map[3] = 3;
    map[4] = 9;
    memcpy(want, src, len);
    assert_int_equal(rtp_ext_rewrite_ids(want, len, map), 0);
    assert_int_equal(rtp_ext_set_transport_seq(want, len, 3, 0xbeef), 0);
    rtp_packet_t pkt;
    assert_int_equal(rtp_parse(src, len, &pkt), 0);
    memcpy(got, src, len);
    assert_int_equal(rtp_ext_rewrite_copy(got, &pkt, map, 3, 0xbeef), 1);
    assert_memory_equal(got, want, len);
    assert_memory_equal(src, h.pkt[0], len); /* the source is only read */
    /* no stamp asked, or the target is not a 2-byte element (5: audio level): not stamped */
    memcpy(got, src, len);
    assert_int_equal(rtp_ext_rewrite_copy(got, &pkt, map, 0, 1), 0);
    assert_int_equal(rtp_ext_rewrite_copy(got, &pkt, map, 5, 1), 0);
    memcpy(want, src, len);
    assert_int_equal(rtp_ext_rewrite_ids(want, len, map), 0);
    assert_memory_equal(got, want, len);
    /* a map the one-byte form cannot say: refused, the copy untouched */
    map[4] = 15;
    memcpy(got, src, len);
    assert_int_equal(rtp_ext_rewrite_copy(got, &pkt, map, 3, 1), LG_EINVAL);
    assert_memory_equal(got, src, len);
    assert_int_equal(rtp_ext_rewrite_copy(NULL, &pkt, map, 3, 1), LG_EINVAL);
    hex_lines_free(&h);
}

/* Reference for the one-byte fast path: the rewrite spelled out with the public iterator. */
static int reference_rewrite(uint8_t *p, const rtp_packet_t *src, const uint8_t map[16],
                             uint8_t stamp_id, uint16_t stamp)
{
    rtp_ext_iter_t it;
    rtp_ext_t e;
    int rc;
    rtp_ext_iter_init(&it, src);
    while ((rc = rtp_ext_next(&it, &e)) == 1)
        if (map[e.id] > 14)
            return LG_EINVAL;
    if (rc < 0)
        return rc;
    int stamped = 0;
    rtp_ext_iter_init(&it, src);
    while (rtp_ext_next(&it, &e) == 1) {
        uint8_t *at = p + (e.data - src->data) - 1;
        uint8_t to = map[e.id];
        if (to == 0) {
            memset(at, 0, 1 + (size_t)e.len);
            continue;
        }
        at[0] = (uint8_t)(to << 4 | (at[0] & 0x0f));
        if (to == stamp_id && !stamped && e.len == 2) {
            at[1] = (uint8_t)(stamp >> 8);
            at[2] = (uint8_t)stamp;
            stamped = 1;
        }
    }
    return stamped;
}

/* The one-byte-form rewrite agrees with the reference on random extension blocks: padding, stop
 * bytes, overruns, ids the map cannot say, duplicates of the stamped id. */
static void test_rewrite_copy_random_one_byte(void **state)
{
    (void)state;
    uint32_t x = 12345;
    for (int round = 0; round < 20000; round++) {
        uint8_t src[64], got[64], want[64], map[16];
        size_t words = 1 + round % 6, len = 12 + 4 + 4 * words + 3;
        for (size_t i = 0; i < sizeof src; i++) {
            x = x * 1103515245 + 12345;
            src[i] = (uint8_t)(x >> 16);
        }
        for (int i = 0; i < 16; i++) {
            x = x * 1103515245 + 12345;
            map[i] = (uint8_t)((x >> 16) % (round % 7 == 0 ? 16 : 15));
        }
        if (round % 3 == 0) /* some padding and short elements */
            for (size_t i = 16; i < len; i += 3)
                src[i] = (uint8_t)(i % 2 ? 0 : 0x31);
        src[0] = 0x90;
        src[12] = 0xbe;
        src[13] = 0xde;
        src[14] = 0;
        src[15] = (uint8_t)words;
        rtp_packet_t pkt;
        assert_int_equal(rtp_parse(src, len, &pkt), 0);
        memcpy(got, src, len);
        memcpy(want, src, len);
        uint8_t stamp_id = (uint8_t)(round % 15);
        int a = rtp_ext_rewrite_copy(got, &pkt, map, stamp_id, (uint16_t)round);
        int b = reference_rewrite(want, &pkt, map, stamp_id, (uint16_t)round);
        assert_int_equal(a, b);
        assert_memory_equal(got, want, len);
    }
}

static void test_set_transport_seq_and_send_time(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_VP8, &h, 60);
    uint8_t buf[1500];
    size_t len = h.len[5];
    memcpy(buf, h.pkt[5], len);
    assert_int_equal(rtp_ext_set_transport_seq(buf, len, 3, 0xbeef), 0);
    assert_int_equal(rtp_ext_set_abs_send_time(buf, len, 2, 0x123456), 0);
    rtp_packet_t pkt;
    rtp_ext_t e;
    uint16_t seq;
    uint32_t t;
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    assert_int_equal(rtp_ext_find(&pkt, 3, &e), 0);
    assert_int_equal(rtp_ext_transport_seq(&e, &seq), 0);
    assert_int_equal(seq, 0xbeef);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0);
    assert_int_equal(rtp_ext_abs_send_time(&e, &t), 0);
    assert_int_equal(t, 0x123456);
    assert_int_equal(rtp_ext_set_transport_seq(buf, len, 7, 1), LG_ENOTFOUND);
    assert_int_equal(rtp_ext_set_transport_seq(buf, len, 2, 1), LG_EMALFORMED); /* 3-byte elem */
    hex_lines_free(&h);
}

/* A hand-made packet with a two-byte-form (0x1000) extension: id 1 empty, padding, id 20
 * "abc", id 3 two bytes. */
static const uint8_t TWO_BYTE[] = {
    0x90, 0x60, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03, /* header */
    0x10, 0x00, 0x00, 0x03,                                                 /* 3 words */
    0x01, 0x00, 0x00, 0x14, 0x03, 'a',  'b',  'c',  0x03, 0x02, 0xab, 0xcd, /* elements */
    0xde, 0xad,                                                             /* payload */
};

static void test_two_byte_extensions(void **state)
{
    (void)state;
    rtp_packet_t pkt;
    rtp_ext_t e;
    char s[8];
    uint16_t seq;
    assert_int_equal(rtp_parse(TWO_BYTE, sizeof TWO_BYTE, &pkt), 0);
    assert_int_equal(pkt.ext_form, RTP_EXT_FORM_TWO_BYTE);
    assert_int_equal(pkt.ext_len, 12);
    assert_int_equal(pkt.payload_len, 2);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), 0);
    assert_int_equal(e.len, 0);
    assert_int_equal(rtp_ext_find(&pkt, 20, &e), 0);
    assert_int_equal(rtp_ext_string(&e, s, sizeof s), 0);
    assert_string_equal(s, "abc");
    assert_int_equal(rtp_ext_string(&e, s, 3), LG_ENOSPC);
    assert_int_equal(rtp_ext_find(&pkt, 3, &e), 0);
    assert_int_equal(rtp_ext_transport_seq(&e, &seq), 0);
    assert_int_equal(seq, 0xabcd);
    /* Rewrite: 3 -> 12, id 20 has no map entry and is blanked, 1 -> 2. */
    uint8_t buf[sizeof TWO_BYTE];
    memcpy(buf, TWO_BYTE, sizeof buf);
    uint8_t map[16] = {0};
    map[1] = 2;
    map[3] = 12;
    assert_int_equal(rtp_ext_rewrite_ids(buf, sizeof buf, map), 0);
    assert_int_equal(rtp_parse(buf, sizeof buf, &pkt), 0);
    assert_int_equal(rtp_ext_find(&pkt, 20, &e), LG_ENOTFOUND);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0);
    assert_int_equal(rtp_ext_find(&pkt, 12, &e), 0);
    assert_int_equal(rtp_ext_transport_seq(&e, &seq), 0);
    assert_int_equal(seq, 0xabcd);
    /* An element that overruns the block is malformed. */
    memcpy(buf, TWO_BYTE, sizeof buf);
    buf[25] = 0x05;
    assert_int_equal(rtp_parse(buf, sizeof buf, &pkt), 0);
    assert_int_equal(rtp_ext_find(&pkt, 3, &e), LG_EMALFORMED);
    assert_int_equal(rtp_ext_rewrite_ids(buf, sizeof buf, map), LG_EMALFORMED);
    assert_int_equal(buf[16], 0x01); /* untouched */
}

static void test_one_byte_stop_and_overrun(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_OPUS, &h, 30);
    uint8_t buf[256];
    size_t len = h.len[0];
    rtp_packet_t pkt;
    rtp_ext_t e;
    /* Element bytes at 16: 22 (id 2, 3 bytes) ... 31 at 20, 40 at 23, 10 at 25. */
    memcpy(buf, h.pkt[0], len);
    buf[20] = 0xf1; /* id 15 stops processing: ids 3, 4, 1 vanish */
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), LG_ENOTFOUND);
    memcpy(buf, h.pkt[0], len);
    buf[25] = 0x1f; /* id 1 claims 16 bytes, 2 left in the block */
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    assert_int_equal(rtp_ext_find(&pkt, 1, &e), LG_EMALFORMED);
    assert_int_equal(rtp_ext_find(&pkt, 2, &e), 0); /* found before the bad element */
    /* Wrong sizes for the typed readers. */
    memcpy(buf, h.pkt[0], len);
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    uint32_t t;
    uint16_t seq;
    assert_int_equal(rtp_ext_find(&pkt, 4, &e), 0);
    assert_int_equal(rtp_ext_abs_send_time(&e, &t), LG_EMALFORMED);
    assert_int_equal(rtp_ext_transport_seq(&e, &seq), LG_EMALFORMED);
    hex_lines_free(&h);
}

/* Cutting a packet short must fail cleanly before the header ends; ASan checks the reads. */
static void test_truncated_at_every_length(void **state)
{
    (void)state;
    const char *paths[] = {CHROME_OPUS, CHROME_RTX, FIREFOX_VP8};
    int lines[] = {30, 21, 36};
    for (size_t f = 0; f < 3; f++) {
        hex_lines_t h;
        load(paths[f], &h, lines[f]);
        for (size_t i = 0; i < h.n; i += 5) {
            rtp_packet_t full;
            parse_ok(&h, i, &full);
            for (size_t n = 0; n < h.len[i]; n++) {
                uint8_t *cut = malloc(n ? n : 1);
                memcpy(cut, h.pkt[i], n);
                rtp_packet_t pkt;
                int rc = rtp_parse(cut, n, &pkt);
                if (n < full.header_len)
                    assert_int_equal(rc, LG_ETRUNC);
                else if (!full.padding)
                    assert_int_equal(rc, 0);
                else
                    assert_true(rc == 0 || rc == LG_EMALFORMED);
                if (rc == 0) {
                    assert_true(pkt.header_len + pkt.payload_len <= n);
                    rtp_ext_t e;
                    (void)rtp_ext_find(&pkt, 200, &e);
                }
                free(cut);
            }
        }
        hex_lines_free(&h);
    }
}

static void test_bad_headers(void **state)
{
    (void)state;
    hex_lines_t h;
    load(CHROME_RTX, &h, 21);
    uint8_t buf[300];
    size_t len = h.len[0]; /* padding-only, pad count 255 */
    rtp_packet_t pkt;
    memcpy(buf, h.pkt[0], len);
    assert_int_equal(rtp_parse(buf, len, &pkt), 0);
    /* Padding past the end: one more pad byte than there are bytes after the header. */
    buf[len - 1] = 0;
    assert_int_equal(rtp_parse(buf, len, &pkt), LG_EMALFORMED);
    assert_int_equal(rtp_parse(buf, 29, &pkt), LG_EMALFORMED); /* pad count 0 */
    memcpy(buf, h.pkt[0], len);
    assert_int_equal(rtp_parse(buf, len - 1, &pkt), LG_EMALFORMED); /* count 0 */
    buf[len - 2] = 255;
    assert_int_equal(rtp_parse(buf, len - 1, &pkt), LG_EMALFORMED); /* 255 > 254 */
    buf[len - 2] = 254;
    assert_int_equal(rtp_parse(buf, len - 1, &pkt), 0);
    assert_int_equal(pkt.payload_len, 0);
    /* Version 1 and 3. */
    memcpy(buf, h.pkt[0], len);
    buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x40);
    assert_int_equal(rtp_parse(buf, len, &pkt), LG_EMALFORMED);
    buf[0] |= 0xc0;
    assert_int_equal(rtp_parse(buf, len, &pkt), LG_EMALFORMED);
    /* CSRC count 15 on a 28-byte header that is not padded: the CSRCs overrun. */
    hex_lines_t o;
    load(CHROME_OPUS, &o, 30);
    memcpy(buf, o.pkt[28], o.len[28]);
    buf[0] |= 0x0f;
    assert_int_equal(rtp_parse(buf, o.len[28], &pkt), LG_ETRUNC);
    /* Extension length overrun. */
    memcpy(buf, o.pkt[28], o.len[28]);
    buf[15] = 0x40;
    assert_int_equal(rtp_parse(buf, o.len[28], &pkt), LG_ETRUNC);
    assert_int_equal(rtp_parse(NULL, 12, &pkt), LG_EINVAL);
    hex_lines_free(&o);
    hex_lines_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_fixture_line_parses),
        cmocka_unit_test(test_chromium_opus),
        cmocka_unit_test(test_firefox_opus),
        cmocka_unit_test(test_chromium_vp8_headers),
        cmocka_unit_test(test_simulcast_rids),
        cmocka_unit_test(test_rtx_unwrap),
        cmocka_unit_test(test_rtx_build_and_restore_match_browser),
        cmocka_unit_test(test_firefox_vp8_and_rtx_padding),
        cmocka_unit_test(test_rewrite_header_fields),
        cmocka_unit_test(test_rewrite_extension_ids),
        cmocka_unit_test(test_rewrite_copy_matches_two_steps),
        cmocka_unit_test(test_rewrite_copy_random_one_byte),
        cmocka_unit_test(test_set_transport_seq_and_send_time),
        cmocka_unit_test(test_two_byte_extensions),
        cmocka_unit_test(test_one_byte_stop_and_overrun),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_bad_headers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
