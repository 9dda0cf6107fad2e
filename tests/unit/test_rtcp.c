/* Unit tests for the RTCP codec: real browser compounds, shapes, values, round trips, damage. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "media/rtcp.h"
#include "sfu/lg_error.h"
#include "tests/unit/hex_lines.h"

#define FIX_DIR       "tests/fixtures/rtcp/"
#define CHROME_FB     FIX_DIR "chromium-156-receiver-feedback.hex"
#define CHROME_SR     FIX_DIR "chromium-156-sender-reports.hex"
#define FIREFOX_FB    FIX_DIR "firefox-153-receiver-feedback.hex"
#define FIREFOX_SR    FIX_DIR "firefox-153-sender-reports.hex"
#define CHROME_MEDIA  1356580740u /* the SSRC werift echoed video with, in Chromium's feedback */
#define FIREFOX_MEDIA 3895020658u

static void load(const char *path, hex_lines_t *h, int expect)
{
    int n = hex_lines_load(path, h);
    if (n != expect)
        fail_msg("%s: loaded %d packets, expected %d", path, n, expect);
}

/* The i-th packet (0-based) of a compound; fails the test when it is not there. */
static void nth(const uint8_t *p, size_t len, int i, rtcp_packet_t *pkt)
{
    rtcp_iter_t it;
    rtcp_iter_init(&it, p, len);
    for (int k = 0; k <= i; k++)
        assert_int_equal(rtcp_iter_next(&it, pkt), 1);
}

/* "201/2+205/1": PT/count of every packet, as the fixture headers write them. */
static void shape_of(const uint8_t *p, size_t len, char *out, size_t cap)
{
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    size_t used = 0;
    int rc;
    out[0] = '\0';
    rtcp_iter_init(&it, p, len);
    while ((rc = rtcp_iter_next(&it, &pkt)) == 1)
        used +=
            (size_t)snprintf(out + used, cap - used, "%s%u/%u", used ? "+" : "", pkt.pt, pkt.count);
    assert_int_equal(rc, 0);
}

typedef struct shape_count {
    const char *shape;
    int count;
} shape_count_t;

static void check_shapes(const char *path, int lines, const shape_count_t *want, size_t nwant)
{
    hex_lines_t h;
    int seen[16] = {0};
    load(path, &h, lines);
    for (size_t i = 0; i < h.n; i++) {
        char shape[128];
        shape_of(h.pkt[i], h.len[i], shape, sizeof shape);
        size_t k = 0;
        while (k < nwant && strcmp(shape, want[k].shape) != 0)
            k++;
        if (k == nwant)
            fail_msg("%s line %zu: unexpected shape %s", path, i + 1, shape);
        seen[k]++;
    }
    for (size_t k = 0; k < nwant; k++)
        if (seen[k] != want[k].count)
            fail_msg("%s: %d x %s, header says %d", path, seen[k], want[k].shape, want[k].count);
    hex_lines_free(&h);
}

static void test_shapes_match_fixture_headers(void **state)
{
    (void)state;
    static const shape_count_t chrome[] = {
        {"205/15", 12}, {"201/0", 1}, {"201/1+206/1", 6},  {"200/0+202/1+206/15", 8},
        {"201/1", 3},   {"201/2", 2}, {"201/2+205/1", 11}, {"201/1+205/1", 1},
    };
    static const shape_count_t firefox[] = {
        {"205/15", 12},     {"201/0", 1},       {"201/0+206/1", 1},
        {"201/1+206/1", 3}, {"201/1+205/1", 1}, {"200/0+202/1+206/15", 8},
        {"201/2+206/1", 3}, {"201/1", 3},       {"201/2+205/1", 11},
        {"201/2", 3},
    };
    static const shape_count_t sr12 = {"200/0+202/1", 12}, sr4 = {"200/0+202/1", 4};
    check_shapes(CHROME_FB, 44, chrome, sizeof chrome / sizeof chrome[0]);
    check_shapes(FIREFOX_FB, 46, firefox, sizeof firefox / sizeof firefox[0]);
    check_shapes(CHROME_SR, 12, &sr12, 1);
    check_shapes(FIREFOX_SR, 4, &sr4, 1);
}

static void test_sender_reports_and_cname(void **state)
{
    (void)state;
    static const uint32_t chrome_ssrcs[] = {4078199596u, 3538842451u, 3963659810u,
                                            4193281877u, 105105440u,  2509612272u};
    hex_lines_t h;
    load(CHROME_SR, &h, 12);
    for (size_t i = 0; i < h.n; i++) {
        rtcp_packet_t pkt;
        rtcp_sr_t sr;
        rtcp_sdes_t sdes;
        nth(h.pkt[i], h.len[i], 0, &pkt);
        assert_int_equal(rtcp_parse_sr(&pkt, &sr), 0);
        assert_int_equal(sr.rb_count, 0);
        int known = 0;
        for (size_t k = 0; k < 6; k++)
            known |= sr.ssrc == chrome_ssrcs[k];
        assert_true(known);
        nth(h.pkt[i], h.len[i], 1, &pkt);
        assert_int_equal(rtcp_parse_sdes(&pkt, &sdes), 0);
        assert_int_equal(sdes.chunk_count, 1);
        assert_int_equal(sdes.chunks[0].ssrc, sr.ssrc);
        /* One CNAME per browser session: the sendrecv one, then the simulcast one. */
        assert_int_equal(sdes.chunks[0].cname_len, 16);
        assert_memory_equal(sdes.chunks[0].cname, i < 4 ? "xF33cSjMzckHwmh5" : "FTSHjJYfjO2bw0dn",
                            16);
    }
    /* Line 1 in full. */
    rtcp_packet_t pkt;
    rtcp_sr_t sr;
    nth(h.pkt[0], h.len[0], 0, &pkt);
    assert_int_equal(rtcp_parse_sr(&pkt, &sr), 0);
    assert_int_equal(sr.ssrc, 4078199596u);
    assert_true(sr.ntp == 0xeeb22bc2a675ab7dull);
    assert_int_equal(sr.rtp_ts, 0x2354d404);
    assert_int_equal(sr.packet_count, 0x13);
    assert_int_equal(sr.octet_count, 0x297a);
    hex_lines_free(&h);

    load(FIREFOX_SR, &h, 4);
    for (size_t i = 0; i < h.n; i++) {
        rtcp_sdes_t sdes;
        nth(h.pkt[i], h.len[i], 1, &pkt);
        assert_int_equal(rtcp_parse_sdes(&pkt, &sdes), 0);
        assert_int_equal(sdes.chunks[0].cname_len, 38);
        assert_memory_equal(sdes.chunks[0].cname, "{b5e2c2e6-220e-4340-a7c1-4649f92606e2}", 38);
    }
    hex_lines_free(&h);
}

static void test_receiver_reports(void **state)
{
    (void)state;
    hex_lines_t h;
    load(FIREFOX_FB, &h, 46);
    rtcp_packet_t pkt;
    rtcp_rr_t rr;
    /* Line 46: two blocks, the first with fraction lost 0xf3 and 22 packets lost. */
    nth(h.pkt[45], h.len[45], 0, &pkt);
    assert_int_equal(rtcp_parse_rr(&pkt, &rr), 0);
    assert_int_equal(rr.ssrc, 578621563u);
    assert_int_equal(rr.rb_count, 2);
    assert_int_equal(rr.rb[0].ssrc, 0xfec4f742u);
    assert_int_equal(rr.rb[0].fraction_lost, 0xf3);
    assert_int_equal(rr.rb[0].cumulative_lost, 0x16);
    assert_int_equal(rr.rb[0].highest_seq, 0x8c6c);
    assert_int_equal(rr.rb[0].jitter, 0x10f);
    assert_int_equal(rr.rb[0].lsr, 0x2c110002);
    assert_int_equal(rr.rb[0].dlsr, 0xc257);
    assert_int_equal(rr.rb[1].ssrc, FIREFOX_MEDIA);
    assert_int_equal(rr.rb[1].fraction_lost, 5);
    assert_int_equal(rr.rb[1].cumulative_lost, 6);
    /* An RR is not an SR. */
    rtcp_sr_t sr;
    assert_int_equal(rtcp_parse_sr(&pkt, &sr), LG_EINVAL);
    hex_lines_free(&h);
}

/* want[i] is the one sequence number line i+1 NACKs, 0 for lines without a NACK. */
static void check_nacks(const char *path, int lines, const uint16_t *want, uint32_t media)
{
    hex_lines_t h;
    load(path, &h, lines);
    for (size_t i = 0; i < h.n; i++) {
        rtcp_iter_t it;
        rtcp_packet_t pkt;
        rtcp_fb_t fb;
        uint16_t seqs[64];
        size_t n = 0;
        rtcp_iter_init(&it, h.pkt[i], h.len[i]);
        while (rtcp_iter_next(&it, &pkt) == 1) {
            if (pkt.pt != RTCP_RTPFB || pkt.count != RTCP_RTPFB_NACK)
                continue;
            assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
            assert_int_equal(rtcp_nack_parse(&fb, seqs, 64, &n), 0);
            assert_int_equal(fb.media_ssrc, media);
        }
        if (n != (want[i] != 0) || (n && seqs[0] != want[i]))
            fail_msg("%s line %zu: NACK of %zu seqs, want %u", path, i + 1, n, want[i]);
    }
    hex_lines_free(&h);
}

static void test_nack_lists(void **state)
{
    (void)state;
    static const uint16_t chrome[44] = {
        [30] = 21800, [32] = 21825, [33] = 21850, [35] = 21900, [36] = 21926, [37] = 21926,
        [38] = 21926, [39] = 21926, [40] = 21926, [41] = 21926, [42] = 21926, [43] = 21926};
    static const uint16_t firefox[46] = {
        [19] = 24450, [30] = 24500, [31] = 24506, [33] = 24550, [36] = 24600, [37] = 24607,
        [38] = 24607, [39] = 24607, [40] = 24607, [41] = 24607, [42] = 24607, [43] = 24607};
    check_nacks(CHROME_FB, 44, chrome, CHROME_MEDIA);
    check_nacks(FIREFOX_FB, 46, firefox, FIREFOX_MEDIA);
}

static void test_pli_and_remb(void **state)
{
    (void)state;
    hex_lines_t h;
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_remb_t remb;
    load(CHROME_FB, &h, 44);
    nth(h.pkt[13], h.len[13], 1, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(fb.pt, RTCP_PSFB);
    assert_int_equal(fb.fmt, RTCP_PSFB_PLI);
    assert_int_equal(fb.sender_ssrc, 4078199596u);
    assert_int_equal(fb.media_ssrc, CHROME_MEDIA);
    assert_int_equal(fb.fci_len, 0);
    assert_int_equal(rtcp_remb_parse(&fb, &remb), LG_EINVAL);
    nth(h.pkt[18], h.len[18], 2, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_remb_parse(&fb, &remb), 0);
    assert_true(remb.bitrate == 82144);
    assert_int_equal(remb.ssrc_count, 1);
    assert_int_equal(remb.ssrcs[0], CHROME_MEDIA);
    nth(h.pkt[28], h.len[28], 2, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_remb_parse(&fb, &remb), 0);
    assert_true(remb.bitrate == 95068);
    hex_lines_free(&h);
    load(FIREFOX_FB, &h, 46);
    nth(h.pkt[22], h.len[22], 2, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_remb_parse(&fb, &remb), 0);
    assert_true(remb.bitrate == 168014);
    assert_int_equal(remb.ssrc_count, 2);
    assert_int_equal(remb.ssrcs[0], FIREFOX_MEDIA);
    assert_int_equal(remb.ssrcs[1], 4274321218u);
    hex_lines_free(&h);
}

/* Decodes one transport-cc line and checks that the statuses account for every delta byte. */
static size_t twcc_of(const hex_lines_t *h, size_t line, rtcp_twcc_t *t, rtcp_twcc_status_t *st,
                      size_t cap)
{
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    size_t n, chunks_and_deltas = 0;
    nth(h->pkt[line], h->len[line], 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, t, st, cap, &n), 0);
    assert_int_equal(n, t->status_count);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(st[i].seq, (uint16_t)(t->base_seq + i));
        chunks_and_deltas += st[i].symbol;
        if (st[i].symbol == RTCP_TWCC_NOT_RECEIVED)
            assert_int_equal(st[i].delta, 0);
    }
    /* Deltas end within 3 bytes of the FCI end (zero padding to a word). */
    assert_true(fb.fci_len - 8 >= chunks_and_deltas);
    return n;
}

static void test_twcc_decode(void **state)
{
    (void)state;
    hex_lines_t h;
    rtcp_twcc_t t;
    rtcp_twcc_status_t st[64];
    load(CHROME_FB, &h, 44);
    for (size_t i = 0; i < h.n; i++)
        if (h.pkt[i][1] == RTCP_RTPFB && (h.pkt[i][0] & 0x1f) == RTCP_RTPFB_TWCC)
            twcc_of(&h, i, &t, st, 64);
    /* Line 2: base 4, 13 statuses in a 1-bit vector, received 9, 15, 16. */
    assert_int_equal(twcc_of(&h, 1, &t, st, 64), 13);
    assert_int_equal(t.sender_ssrc, 4078199596u);
    assert_int_equal(t.media_ssrc, 0x5f73ab53u);
    assert_int_equal(t.base_seq, 4);
    assert_int_equal(t.ref_time, 0x0078fb);
    assert_int_equal(t.fb_count, 1);
    for (size_t i = 0; i < 13; i++) {
        int got = i == 5 || i == 11 || i == 12;
        assert_int_equal(st[i].symbol, got ? RTCP_TWCC_SMALL_DELTA : RTCP_TWCC_NOT_RECEIVED);
    }
    assert_int_equal(st[5].delta, 0x7d);
    assert_int_equal(st[11].delta, 0x3c);
    assert_int_equal(st[12].delta, 0x48);
    /* Line 1: 2-bit vector, received, lost, received. */
    assert_int_equal(twcc_of(&h, 0, &t, st, 64), 3);
    assert_int_equal(st[0].delta, 0xdf);
    assert_int_equal(st[1].symbol, RTCP_TWCC_NOT_RECEIVED);
    assert_int_equal(st[2].delta, 0x3a);
    /* A smaller array: header and first statuses, LG_EFULL. */
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    size_t n;
    nth(h.pkt[1], h.len[1], 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 6, &n), LG_EFULL);
    assert_int_equal(n, 6);
    assert_int_equal(st[5].delta, 0x7d);
    hex_lines_free(&h);

    load(FIREFOX_FB, &h, 46);
    for (size_t i = 0; i < h.n; i++)
        if (h.pkt[i][1] == RTCP_RTPFB && (h.pkt[i][0] & 0x1f) == RTCP_RTPFB_TWCC)
            twcc_of(&h, i, &t, st, 64);
    /* Line 2: a 1-bit vector of 14 then a 2-bit vector of 6; received 13, 21, 22. */
    assert_int_equal(twcc_of(&h, 1, &t, st, 64), 20);
    assert_int_equal(t.base_seq, 3);
    for (size_t i = 0; i < 20; i++)
        assert_int_equal(st[i].symbol != 0, i == 10 || i == 18 || i == 19);
    assert_int_equal(st[10].delta, 0xc1);
    assert_int_equal(st[18].delta, 0x4c);
    assert_int_equal(st[19].delta, 0x3e);
    /* Line 1: a run-length chunk of one. */
    assert_int_equal(twcc_of(&h, 0, &t, st, 64), 1);
    assert_int_equal(st[0].delta, 0x66);
    hex_lines_free(&h);
}

/* Re-encodes one packet with the matching builder. */
static void rebuild(const rtcp_packet_t *pkt, rtcp_writer_t *w)
{
    static rtcp_sr_t sr;
    static rtcp_rr_t rr;
    static rtcp_sdes_t sdes;
    static rtcp_bye_t bye;
    static rtcp_remb_t remb;
    static rtcp_twcc_status_t st[1024];
    static uint16_t seqs[1024];
    rtcp_fb_t fb;
    rtcp_twcc_t t;
    size_t n;
    switch (pkt->pt) {
    case RTCP_SR:
        assert_int_equal(rtcp_parse_sr(pkt, &sr), 0);
        assert_int_equal(rtcp_write_sr(w, &sr), 0);
        return;
    case RTCP_RR:
        assert_int_equal(rtcp_parse_rr(pkt, &rr), 0);
        assert_int_equal(rtcp_write_rr(w, &rr), 0);
        return;
    case RTCP_SDES:
        assert_int_equal(rtcp_parse_sdes(pkt, &sdes), 0);
        assert_int_equal(rtcp_write_sdes(w, &sdes), 0);
        return;
    case RTCP_BYE:
        assert_int_equal(rtcp_parse_bye(pkt, &bye), 0);
        assert_int_equal(rtcp_write_bye(w, &bye), 0);
        return;
    }
    assert_int_equal(rtcp_parse_fb(pkt, &fb), 0);
    if (fb.pt == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_NACK) {
        assert_int_equal(rtcp_nack_parse(&fb, seqs, 1024, &n), 0);
        assert_int_equal(rtcp_write_nack(w, fb.sender_ssrc, fb.media_ssrc, seqs, n), 0);
    } else if (fb.pt == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_TWCC) {
        assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 1024, &n), 0);
        assert_int_equal(rtcp_write_twcc(w, &t, st, n), 0);
    } else if (fb.pt == RTCP_PSFB && fb.fmt == RTCP_PSFB_PLI) {
        assert_int_equal(rtcp_write_pli(w, fb.sender_ssrc, fb.media_ssrc), 0);
    } else if (fb.pt == RTCP_PSFB && fb.fmt == RTCP_PSFB_AFB) {
        assert_int_equal(rtcp_remb_parse(&fb, &remb), 0);
        assert_int_equal(rtcp_write_remb(w, fb.sender_ssrc, &remb), 0);
    } else {
        fail_msg("no builder for %u/%u", fb.pt, fb.fmt);
    }
}

/* parse -> build -> the browser's exact bytes, for every line of every file. */
static void test_round_trip_byte_identical(void **state)
{
    (void)state;
    const char *paths[] = {CHROME_FB, CHROME_SR, FIREFOX_FB, FIREFOX_SR};
    int lines[] = {44, 12, 46, 4};
    for (size_t f = 0; f < 4; f++) {
        hex_lines_t h;
        load(paths[f], &h, lines[f]);
        for (size_t i = 0; i < h.n; i++) {
            uint8_t out[1500];
            rtcp_writer_t w;
            rtcp_iter_t it;
            rtcp_packet_t pkt;
            rtcp_writer_init(&w, out, sizeof out);
            rtcp_iter_init(&it, h.pkt[i], h.len[i]);
            while (rtcp_iter_next(&it, &pkt) == 1)
                rebuild(&pkt, &w);
            if (w.len != h.len[i] || memcmp(out, h.pkt[i], w.len) != 0)
                fail_msg("%s line %zu: rebuilt %zu bytes differ from the browser's %zu", paths[f],
                         i + 1, w.len, h.len[i]);
        }
        hex_lines_free(&h);
    }
}

/* Every prefix of every line is either a whole number of packets or an error; ASan checks reads. */
static void test_truncated_at_every_length(void **state)
{
    (void)state;
    const char *paths[] = {CHROME_FB, FIREFOX_FB, FIREFOX_SR};
    int lines[] = {44, 46, 4};
    for (size_t f = 0; f < 3; f++) {
        hex_lines_t h;
        load(paths[f], &h, lines[f]);
        for (size_t i = 0; i < h.n; i++) {
            size_t bounds[8], nb = 0;
            rtcp_iter_t it;
            rtcp_packet_t pkt;
            rtcp_iter_init(&it, h.pkt[i], h.len[i]);
            while (rtcp_iter_next(&it, &pkt) == 1)
                bounds[nb++] = it.pos;
            for (size_t n = 0; n < h.len[i]; n++) {
                uint8_t *cut = malloc(n ? n : 1);
                memcpy(cut, h.pkt[i], n);
                int whole = 0;
                for (size_t k = 0; k < nb; k++)
                    whole |= bounds[k] == n;
                size_t count;
                int rc = rtcp_check_compound(cut, n, &count);
                if (whole)
                    assert_int_equal(rc, 0);
                else
                    assert_true(rc == LG_ETRUNC || (n == 0 && rc == LG_EMALFORMED));
                /* The packets before the cut still parse with their own parsers. */
                rtcp_writer_t w;
                uint8_t out[1500];
                rtcp_writer_init(&w, out, sizeof out);
                rtcp_iter_init(&it, cut, n);
                while (rtcp_iter_next(&it, &pkt) == 1)
                    rebuild(&pkt, &w);
                free(cut);
            }
        }
        hex_lines_free(&h);
    }
}

/* Copies a fixture line into buf for tampering. */
static size_t copy_line(const char *path, int lines, size_t line, uint8_t *buf)
{
    hex_lines_t h;
    load(path, &h, lines);
    size_t len = h.len[line];
    memcpy(buf, h.pkt[line], len);
    hex_lines_free(&h);
    return len;
}

static void test_bogus_counts_and_lengths(void **state)
{
    (void)state;
    uint8_t buf[256];
    rtcp_packet_t pkt;
    rtcp_rr_t rr;
    rtcp_sr_t sr;
    rtcp_sdes_t sdes;
    rtcp_bye_t bye;
    /* Chromium line 14: RR (RC=1, 32 bytes) + PLI. RC=2 does not fit the RR's length. */
    size_t len = copy_line(CHROME_FB, 44, 13, buf);
    buf[0] = (uint8_t)((buf[0] & 0xe0) | 2);
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_rr(&pkt, &rr), LG_EMALFORMED);
    buf[0] = (uint8_t)((buf[0] & 0xe0) | 31);
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_rr(&pkt, &rr), LG_EMALFORMED);
    /* Length field overrun: the RR claims more words than the datagram has. */
    len = copy_line(CHROME_FB, 44, 13, buf);
    buf[3] = 0x0a; /* 44 bytes: the whole datagram, swallowing the PLI */
    assert_int_equal(rtcp_check_compound(buf, len, NULL), 0);
    buf[3] = 0x0b; /* 48 bytes */
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_ETRUNC);
    buf[2] = 0xff;
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_ETRUNC);
    /* Length too short: the next "header" is report block bytes with version 0. */
    len = copy_line(CHROME_FB, 44, 13, buf);
    buf[3] = 0x01;
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_EMALFORMED);
    /* Version 1. */
    len = copy_line(CHROME_FB, 44, 13, buf);
    buf[0] = (uint8_t)((buf[0] & 0x3f) | 0x40);
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_EMALFORMED);
    /* Padding: transport-cc line 2 pads 3 bytes; 0 or more than the body are malformed. */
    len = copy_line(CHROME_FB, 44, 1, buf);
    assert_int_equal(rtcp_check_compound(buf, len, NULL), 0);
    buf[len - 1] = 0;
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_EMALFORMED);
    buf[len - 1] = 25;
    assert_int_equal(rtcp_check_compound(buf, len, NULL), LG_EMALFORMED);
    buf[len - 1] = 24; /* legal, but eats the FCI */
    nth(buf, len, 0, &pkt);
    assert_int_equal(pkt.body_len, 0);
    rtcp_fb_t fb;
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), LG_EMALFORMED);
    /* SR with RC=1 but no report block. */
    len = copy_line(CHROME_SR, 12, 0, buf);
    buf[0] |= 1;
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_sr(&pkt, &sr), LG_EMALFORMED);
    /* SDES claiming 2 chunks; then an item longer than the packet. */
    len = copy_line(CHROME_SR, 12, 0, buf);
    buf[28] = 0x82;
    nth(buf, len, 1, &pkt);
    assert_int_equal(rtcp_parse_sdes(&pkt, &sdes), LG_EMALFORMED);
    len = copy_line(CHROME_SR, 12, 0, buf);
    buf[37] = 30;
    nth(buf, len, 1, &pkt);
    assert_int_equal(rtcp_parse_sdes(&pkt, &sdes), LG_EMALFORMED);
    /* BYE with SC=2 in a one-SSRC packet; a reason longer than the packet. */
    static const uint8_t bye1[] = {0x82, 0xcb, 0x00, 0x01, 1, 2, 3, 4};
    rtcp_iter_t it;
    rtcp_iter_init(&it, bye1, sizeof bye1);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_bye(&pkt, &bye), LG_EMALFORMED);
    static const uint8_t bye2[] = {0x81, 0xcb, 0x00, 0x02, 1, 2, 3, 4, 5, 'a', 'b', 'c'};
    rtcp_iter_init(&it, bye2, sizeof bye2);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_bye(&pkt, &bye), LG_EMALFORMED);
}

static void test_nack_storm_cap(void **state)
{
    (void)state;
    /* 300 pairs, each PID with all 16 BLP bits: 5100 sequence numbers. */
    static uint8_t buf[12 + 4 * 300];
    static uint16_t seqs[6000];
    rtcp_writer_t w;
    uint16_t all[17 * 300];
    for (size_t i = 0; i < 17 * 300; i++)
        all[i] = (uint16_t)(65000 + i); /* wraps through 0 */
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_nack(&w, 1, 2, all, 17 * 300), 0);
    assert_int_equal(w.len, sizeof buf);
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    size_t n;
    rtcp_iter_init(&it, buf, w.len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_nack_parse(&fb, seqs, 6000, &n), 0);
    assert_int_equal(n, 17 * 300);
    assert_memory_equal(seqs, all, sizeof all);
    /* A cap of 100 stops the expansion there and says so. */
    assert_int_equal(rtcp_nack_parse(&fb, seqs, 100, &n), LG_EFULL);
    assert_int_equal(n, 100);
    assert_memory_equal(seqs, all, 100 * sizeof seqs[0]);
    assert_int_equal(rtcp_nack_parse(&fb, NULL, 0, &n), LG_EFULL);
    assert_int_equal(n, 0);
    /* Sparse seqs pack one pair each; BLP bits are set for close ones. */
    uint16_t sparse[] = {10, 12, 27, 28, 100};
    uint8_t small[64];
    rtcp_writer_init(&w, small, sizeof small);
    assert_int_equal(rtcp_write_nack(&w, 1, 2, sparse, 5), 0);
    assert_int_equal(w.len, 12 + 4 * 3);
    static const uint8_t fci[] = {0, 10, 0x00, 0x02, 0, 27, 0, 1, 0, 100, 0, 0};
    assert_memory_equal(small + 12, fci, sizeof fci);
    /* An FCI that is not whole pairs. */
    fb.fci_len = 6;
    assert_int_equal(rtcp_nack_parse(&fb, seqs, 10, &n), LG_EMALFORMED);
}

static void test_twcc_bad_input(void **state)
{
    (void)state;
    uint8_t buf[64];
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_twcc_t t;
    rtcp_twcc_status_t st[64];
    size_t n;
    /* Chromium line 1: count 3, one 2-bit chunk d100, deltas df 3a, no padding (24 bytes). */
    size_t len = copy_line(CHROME_FB, 44, 0, buf);
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 64, &n), 0);
    /* More statuses than the chunk covers: the next "chunk" is the deltas, then nothing. */
    buf[15] = 9;
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 64, &n), LG_EMALFORMED);
    /* A large-delta symbol needs two bytes: only one is left. */
    len = copy_line(CHROME_FB, 44, 0, buf);
    buf[20] = 0xd2; /* d100 -> d200: symbols 1, 0, 2 */
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 64, &n), LG_EMALFORMED);
    /* Reserved symbol 3. */
    buf[20] = 0xd3;
    nth(buf, len, 0, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 64, &n), LG_EMALFORMED);
    /* Wrong type for the parser. */
    fb.fmt = RTCP_RTPFB_NACK;
    assert_int_equal(rtcp_twcc_parse(&fb, &t, st, 64, &n), LG_EINVAL);
}

/* A synthetic feedback with long runs, large and negative deltas and both vector kinds. */
static void test_twcc_synthetic_round_trip(void **state)
{
    (void)state;
    static rtcp_twcc_status_t in[9000], out[9000];
    size_t n = 0;
    for (size_t i = 0; i < 8200; i++) /* a run longer than 0x1fff */
        in[n++] = (rtcp_twcc_status_t){.symbol = RTCP_TWCC_SMALL_DELTA, .delta = 4};
    for (size_t i = 0; i < 20; i++)
        in[n++] = (rtcp_twcc_status_t){.symbol = 0};
    int16_t mix[] = {0, -5, 255, 256, 1, 0, 0, -32768, 32767, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    for (size_t i = 0; i < sizeof mix / sizeof mix[0]; i++) {
        in[n].delta = mix[i];
        in[n++].symbol = rtcp_twcc_symbol(mix[i]);
        in[n++] = (rtcp_twcc_status_t){.symbol = 0};
    }
    for (size_t i = 0; i < 30; i++)
        in[n++] = (rtcp_twcc_status_t){.symbol = i % 3 ? 1 : 0, .delta = i % 3 ? (int16_t)i : 0};
    static uint8_t buf[65536];
    rtcp_writer_t w;
    rtcp_twcc_t hdr = {
        .sender_ssrc = 1, .media_ssrc = 2, .base_seq = 65530, .ref_time = -3, .fb_count = 200};
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_twcc(&w, &hdr, in, n), 0);
    assert_int_equal(w.len % 4, 0);
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_twcc_t t;
    size_t m;
    size_t count;
    assert_int_equal(rtcp_check_compound(buf, w.len, &count), 0);
    assert_int_equal(count, 1);
    rtcp_iter_init(&it, buf, w.len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &t, out, 9000, &m), 0);
    assert_int_equal(m, n);
    assert_int_equal(t.base_seq, 65530);
    assert_int_equal(t.ref_time, -3);
    assert_int_equal(t.fb_count, 200);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(out[i].seq, (uint16_t)(65530 + i));
        assert_int_equal(out[i].symbol, in[i].symbol);
        assert_int_equal(out[i].delta, in[i].delta);
    }
    /* The first chunk is a full run of 0x1fff small deltas. */
    assert_int_equal(buf[20], 0x3f);
    assert_int_equal(buf[21], 0xff);
    /* Out-of-range input and a full buffer leave the writer as it was. */
    in[0].delta = 300;
    assert_int_equal(rtcp_write_twcc(&w, &hdr, in, n), LG_EINVAL);
    in[0].delta = 4;
    uint8_t tiny[24];
    rtcp_writer_init(&w, tiny, sizeof tiny);
    assert_int_equal(rtcp_write_twcc(&w, &hdr, in, n), LG_ENOSPC);
    assert_int_equal(w.len, 0);
}

/* Chunk choices libwebrtc makes, which the browsers' feedback above did not all exercise. */
static void test_twcc_chunk_choice(void **state)
{
    (void)state;
    static const struct {
        uint8_t sym[16];
        size_t n;
        uint16_t chunks[3];
        size_t nchunks;
    } cases[] = {
        /* seven mixed small: one 2-bit vector of 7 */
        {{1, 0, 0, 0, 0, 0, 1}, 7, {0xd001}, 1},
        /* eight mixed small: a 1-bit vector holding 8 */
        {{1, 0, 0, 0, 0, 0, 0, 1}, 8, {0xa040}, 1},
        /* a large delta forces 2-bit vectors of 7, the rest in a run */
        {{2, 1, 1, 1, 1, 1, 1, 1, 1}, 9, {0xe555, 0x2002}, 2},
        /* fourteen then one more: a full 1-bit vector, then a run of 1 */
        {{1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1}, 15, {0xaaaa, 0x2001}, 2},
        /* all lost but the last: a run of 15, then a run of 1 */
        {{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1}, 16, {0x000f, 0x2001}, 2},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rtcp_twcc_status_t st[16];
        for (size_t i = 0; i < cases[c].n; i++)
            st[i] = (rtcp_twcc_status_t){.symbol = cases[c].sym[i], .delta = 1};
        uint8_t buf[128];
        rtcp_writer_t w;
        rtcp_twcc_t hdr = {.base_seq = 1};
        rtcp_writer_init(&w, buf, sizeof buf);
        assert_int_equal(rtcp_write_twcc(&w, &hdr, st, cases[c].n), 0);
        for (size_t k = 0; k < cases[c].nchunks; k++)
            if ((buf[20 + 2 * k] << 8 | buf[21 + 2 * k]) != cases[c].chunks[k])
                fail_msg("case %zu chunk %zu: %02x%02x, want %04x", c, k, buf[20 + 2 * k],
                         buf[21 + 2 * k], cases[c].chunks[k]);
    }
}

static void test_build_compound_fir_bye(void **state)
{
    (void)state;
    uint8_t buf[256];
    rtcp_writer_t w;
    rtcp_rr_t rr = {.ssrc = 7, .rb_count = 1};
    rr.rb[0] = (rtcp_report_block_t){.ssrc = 9,
                                     .fraction_lost = 3,
                                     .cumulative_lost = -2,
                                     .highest_seq = 70000,
                                     .jitter = 5,
                                     .lsr = 6,
                                     .dlsr = 7};
    rtcp_fir_entry_t fir[2] = {{.ssrc = 11, .seq_nr = 1}, {.ssrc = 12, .seq_nr = 255}};
    rtcp_bye_t bye = {.ssrc_count = 1, .ssrcs = {7}, .reason = "gone", .reason_len = 4};
    rtcp_remb_t remb = {.bitrate = 0x3ffffull << 20, .ssrc_count = 1, .ssrcs = {9}};
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_rr(&w, &rr), 0);
    assert_int_equal(rtcp_write_fir(&w, 7, fir, 2), 0);
    assert_int_equal(rtcp_write_remb(&w, 7, &remb), 0);
    assert_int_equal(rtcp_write_pli(&w, 7, 9), 0);
    assert_int_equal(rtcp_write_bye(&w, &bye), 0);
    assert_int_equal(w.len, 32 + 28 + 24 + 12 + 16);
    size_t count;
    assert_int_equal(rtcp_check_compound(buf, w.len, &count), 0);
    assert_int_equal(count, 5);
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_rr_t rr2;
    nth(buf, w.len, 0, &pkt);
    assert_int_equal(rtcp_parse_rr(&pkt, &rr2), 0);
    assert_int_equal(rr2.rb[0].cumulative_lost, -2);
    assert_int_equal(rr2.rb[0].highest_seq, 70000);
    rtcp_fir_entry_t e[4];
    size_t n;
    nth(buf, w.len, 1, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(fb.media_ssrc, 0);
    assert_int_equal(rtcp_fir_parse(&fb, e, 4, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(e[1].ssrc, 12);
    assert_int_equal(e[1].seq_nr, 255);
    assert_int_equal(rtcp_fir_parse(&fb, e, 1, &n), LG_EFULL);
    rtcp_remb_t remb2;
    nth(buf, w.len, 2, &pkt);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_remb_parse(&fb, &remb2), 0);
    assert_true(remb2.bitrate == remb.bitrate);
    assert_int_equal(buf[60 + 17] >> 2, 20); /* exponent 20 */
    rtcp_bye_t bye2;
    nth(buf, w.len, 4, &pkt);
    assert_int_equal(rtcp_parse_bye(&pkt, &bye2), 0);
    assert_int_equal(bye2.ssrcs[0], 7);
    assert_int_equal(bye2.reason_len, 4);
    assert_memory_equal(bye2.reason, "gone", 4);
    /* SDES with two chunks; the first one's END lands on a word boundary (4+2+2 bytes). */
    rtcp_sdes_t sdes = {.chunk_count = 2}, sdes2;
    sdes.chunks[0] = (rtcp_sdes_chunk_t){.ssrc = 1, .cname = "ab", .cname_len = 2};
    sdes.chunks[1] = (rtcp_sdes_chunk_t){.ssrc = 2, .cname = "cdefg", .cname_len = 5};
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_sdes(&w, &sdes), 0);
    assert_int_equal(w.len, 4 + 12 + 12);
    nth(buf, w.len, 0, &pkt);
    assert_int_equal(rtcp_parse_sdes(&pkt, &sdes2), 0);
    assert_int_equal(sdes2.chunks[1].ssrc, 2);
    assert_int_equal(sdes2.chunks[1].cname_len, 5);
    assert_memory_equal(sdes2.chunks[1].cname, "cdefg", 5);
    /* A full writer refuses and keeps its length. */
    rtcp_writer_init(&w, buf, 40);
    assert_int_equal(rtcp_write_rr(&w, &rr), 0);
    assert_int_equal(rtcp_write_pli(&w, 1, 2), LG_ENOSPC);
    assert_int_equal(w.len, 32);
    rr.rb_count = 32;
    assert_int_equal(rtcp_write_rr(&w, &rr), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes_match_fixture_headers),
        cmocka_unit_test(test_sender_reports_and_cname),
        cmocka_unit_test(test_receiver_reports),
        cmocka_unit_test(test_nack_lists),
        cmocka_unit_test(test_pli_and_remb),
        cmocka_unit_test(test_twcc_decode),
        cmocka_unit_test(test_round_trip_byte_identical),
        cmocka_unit_test(test_truncated_at_every_length),
        cmocka_unit_test(test_bogus_counts_and_lengths),
        cmocka_unit_test(test_nack_storm_cap),
        cmocka_unit_test(test_twcc_bad_input),
        cmocka_unit_test(test_twcc_synthetic_round_trip),
        cmocka_unit_test(test_twcc_chunk_choice),
        cmocka_unit_test(test_build_compound_fir_bye),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
