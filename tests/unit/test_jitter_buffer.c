/* Unit tests for the Opus jitter buffer, on packets from real libopus: order, reordering,
 * duplicates, loss (FEC and concealment), adaptive depth, resync, overflow, stop and restart. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "media/jitter_buffer.h"
#include "media/rtp.h"
#include "sfu/lg_error.h"
#include "tests/unit/hex_lines.h"
#include "tests/unit/opus_tone.h"

#define CHROME_OPUS  "tests/fixtures/rtp/chromium-156-opus.hex"
#define FIREFOX_OPUS "tests/fixtures/rtp/firefox-153-opus.hex"

#define NPKT 1600

typedef struct pkts {
    uint8_t data[NPKT][400];
    size_t len[NPKT];
    uint16_t seq[NPKT];
    uint32_t ts[NPKT];
} pkts_t;

/* n consecutive 20 ms packets of a 440 Hz tone, starting at seq0 and ts0. */
static pkts_t *make_pkts(size_t n, bool fec, uint16_t seq0, uint32_t ts0)
{
    pkts_t *p = calloc(1, sizeof *p);
    tone_src_t t;
    assert_int_equal(tone_src_init(&t, 440, 0.3, fec, 32000, seq0, ts0), 0);
    for (size_t i = 0; i < n; i++) {
        int len = tone_src_next(&t, p->data[i], sizeof p->data[i], &p->seq[i], &p->ts[i]);
        assert_true(len > 2);
        p->len[i] = (size_t)len;
    }
    tone_src_free(&t);
    return p;
}

static int ins(jb_t *jb, const pkts_t *p, size_t i, uint64_t now)
{
    return jb_insert(jb, p->seq[i], p->ts[i], p->data[i], p->len[i], now);
}

static jb_counters_t counters(const jb_t *jb)
{
    jb_counters_t c;
    jb_get_counters(jb, &c);
    return c;
}

static void test_not_started(void **state)
{
    (void)state;
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    assert_int_equal(jb_pop(&jb, 0, &f), JB_SILENT);
    assert_null(f.payload);
    jb_free(&jb);
    jb_free(&jb); /* twice is safe */
    jb_config_t bad;
    jb_config_default(&bad);
    bad.min_delay_ms = 300;
    assert_int_equal(jb_init(&jb, &bad), LG_EINVAL);
}

static void test_in_order_with_wrap(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(20, false, 65530, 0xfffff000u);
    jb_t jb;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 20; i++) {
        uint64_t now = 1000 + i * 20;
        assert_int_equal(ins(&jb, p, i, now), 0);
        jb_frame_t f;
        assert_int_equal(jb_pop(&jb, now + 1, &f), JB_PACKET);
        assert_int_equal(f.seq, p->seq[i]);
        assert_int_equal(f.ts, p->ts[i]);
        assert_int_equal(f.samples, 960);
        assert_int_equal(f.len, p->len[i]);
        assert_memory_equal(f.payload, p->data[i], f.len);
    }
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.played, 20);
    assert_int_equal(c.concealed + c.late + c.resyncs + c.duplicates, 0);
    assert_int_equal(c.target_ms, 20);
    jb_free(&jb);
    free(p);
}

static void test_reorder_and_duplicates(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(10, false, 100, 5000);
    jb_t jb;
    assert_int_equal(jb_init(&jb, NULL), 0);
    static const int order[10] = {1, 0, 3, 2, 5, 4, 7, 9, 8, 6};
    for (int i = 0; i < 10; i++)
        assert_int_equal(ins(&jb, p, (size_t)order[i], 0), 0);
    assert_int_equal(ins(&jb, p, 4, 0), LG_EREPLAY); /* duplicate while stored */
    for (size_t i = 0; i < 10; i++) {
        jb_frame_t f;
        assert_int_equal(jb_pop(&jb, 20 + i * 20, &f), JB_PACKET);
        assert_int_equal(f.seq, 100 + i);
    }
    assert_int_equal(ins(&jb, p, 2, 300), LG_EREPLAY); /* duplicate of a played packet: late */
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.duplicates, 1);
    assert_int_equal(c.late, 1);
    assert_int_equal(c.played, 10);
    jb_free(&jb);
    free(p);
}

/* Packet 5 is lost; without FEC the hole is concealed and its late arrival dropped. */
static void test_loss_conceal_and_late(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(10, false, 0, 0);
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ins(&jb, p, i, i * 20), 0);
        assert_int_equal(jb_pop(&jb, i * 20 + 1, &f), JB_PACKET);
    }
    /* tick 5: nothing arrived: the buffer holds (conceals without moving on) */
    assert_int_equal(jb_pop(&jb, 101, &f), JB_CONCEAL);
    assert_int_equal(f.samples, 960);
    assert_null(f.payload);
    /* tick 6: packet 6 is here but carries no LBRR: conceal 5 and move on */
    assert_false(jb_opus_has_lbrr(p->data[6], p->len[6]));
    assert_int_equal(ins(&jb, p, 6, 120), 0);
    assert_int_equal(jb_pop(&jb, 121, &f), JB_CONCEAL);
    assert_int_equal(f.ts, p->ts[5]);
    assert_int_equal(ins(&jb, p, 5, 125), LG_EREPLAY); /* too late now */
    assert_int_equal(jb_pop(&jb, 141, &f), JB_PACKET);
    assert_int_equal(f.seq, 6);
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.concealed, 2);
    assert_int_equal(c.underruns, 1);
    assert_int_equal(c.late, 1);
    assert_int_equal(c.fec, 0);
    jb_free(&jb);
    free(p);
}

/* With FEC on, the packet after a lost one carries LBRR: the buffer asks for an FEC decode of it,
 * which libopus turns into the lost 20 ms; then the packet plays normally. */
static void test_fec_recovery(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(30, true, 7, 960 * 7);
    size_t with_lbrr = 0;
    for (size_t i = 0; i < 30; i++)
        with_lbrr += jb_opus_has_lbrr(p->data[i], p->len[i]);
    assert_true(with_lbrr >= 25);
    assert_true(jb_opus_has_lbrr(p->data[21], p->len[21]));

    int err;
    OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
    int16_t pcm[5760];
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 30; i++) {
        uint64_t now = i * 20;
        if (i != 20)
            assert_int_equal(ins(&jb, p, i, now), 0);
        if (i == 20)
            continue; /* the pop for packet 20 happens after 21 arrived */
        if (i == 21) {
            assert_int_equal(jb_pop(&jb, now + 1, &f), JB_FEC);
            assert_int_equal(f.seq, p->seq[21]);
            assert_int_equal(f.ts, p->ts[20]);
            assert_int_equal(f.samples, 960);
            assert_int_equal(opus_decode(dec, f.payload, (opus_int32)f.len, pcm, 960, 1), 960);
        }
        assert_int_equal(jb_pop(&jb, now + 1, &f), JB_PACKET);
        assert_int_equal(f.seq, p->seq[i]);
        assert_int_equal(opus_decode(dec, f.payload, (opus_int32)f.len, pcm, 5760, 0), 960);
    }
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.fec, 1);
    assert_int_equal(c.concealed, 0);
    assert_int_equal(c.played, 29);
    opus_decoder_destroy(dec);
    jb_free(&jb);
    free(p);
}

static void test_lbrr_detection(void **state)
{
    (void)state;
    assert_false(jb_opus_has_lbrr(NULL, 0));
    const uint8_t celt[] = {0xf8, 0xff, 0xfe}; /* config 31: CELT-only */
    assert_false(jb_opus_has_lbrr(celt, sizeof celt));
    const uint8_t silk_lbrr[] = {0x08, 0x40, 0x00}; /* SILK NB 20 ms, VAD 0, LBRR 1 */
    assert_true(jb_opus_has_lbrr(silk_lbrr, sizeof silk_lbrr));
    const uint8_t silk_none[] = {0x08, 0x80, 0x00}; /* VAD 1, LBRR 0 */
    assert_false(jb_opus_has_lbrr(silk_none, sizeof silk_none));
}

/* Simulates a stream whose packet i arrives at i*20 + delay[i] ms (delay < 100), popping every
 * 20 ms at phase 10 until end_ms; marks late[i] for packets dropped as late. */
static void simulate(jb_t *jb, const pkts_t *p, size_t n, const unsigned *delay, uint64_t end_ms,
                     bool *late)
{
    for (uint64_t t = 0; t < end_ms; t++) {
        size_t lo = t >= 100 ? (size_t)(t - 100) / 20 : 0;
        for (size_t i = lo; i < n && i * 20 <= t; i++)
            if (i * 20 + delay[i] == t)
                late[i] = ins(jb, p, i, t) == LG_EREPLAY;
        if (t % 20 == 10) {
            jb_frame_t f;
            jb_pop(jb, t, &f);
        }
    }
}

static unsigned count_late(const bool *late, size_t from, size_t to)
{
    unsigned n = 0;
    for (size_t i = from; i < to; i++)
        n += late[i];
    return n;
}

/* Jitter of up to 80 ms: the target grows and late drops stop; then a steady stream gives the
 * excess delay back. */
static void test_adaptive_depth(void **state)
{
    (void)state;
    size_t n = 1500;
    pkts_t *p = make_pkts(n, false, 0, 0);
    unsigned *delay = calloc(n, sizeof *delay);
    bool *late = calloc(n, sizeof *late);
    srand(7);
    for (size_t i = 0; i < 500; i++)
        delay[i] = (unsigned)(rand() % 80);
    for (size_t i = 500; i < n; i++)
        delay[i] = 0; /* steady and early: the depth built for the jitter is now excess */
    jb_t jb;
    assert_int_equal(jb_init(&jb, NULL), 0);
    simulate(&jb, p, n, delay, 250 * 20, late);
    jb_counters_t mid = counters(&jb);
    jb_free(&jb);
    assert_int_equal(jb_init(&jb, NULL), 0);
    memset(late, 0, n * sizeof *late);
    simulate(&jb, p, n, delay, n * 20, late);
    jb_counters_t c = counters(&jb);
    jb_free(&jb);
    unsigned early = count_late(late, 0, 100), later = count_late(late, 250, 500);
    print_message("adaptive: jittery: jitter %u ms target %u ms depth %u ms; late in the first "
                  "100 %u, in 250..500 %u; steady: underruns %lu shrunk %lu target %u ms depth "
                  "%u ms\n",
                  mid.jitter_ms, mid.target_ms, mid.depth_ms, early, later,
                  (unsigned long)c.underruns, (unsigned long)c.shrunk, c.target_ms, c.depth_ms);
    assert_true(mid.jitter_ms >= 15);
    assert_true(mid.target_ms >= 60 && mid.target_ms <= 200);
    assert_true(later <= early);
    assert_true(later <= 3);
    /* after the jittery part the excess delay is given back */
    assert_true(c.shrunk >= 1);
    assert_true(c.target_ms <= 40);
    assert_true(c.depth_ms <= 60 + 80);
    free(late);
    free(delay);
    free(p);
}

static void test_wild_timestamp_resync(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(20, false, 0, 0);
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(ins(&jb, p, i, i * 20), 0);
        assert_int_equal(jb_pop(&jb, i * 20 + 1, &f), JB_PACKET);
    }
    /* the next packets jump 10 minutes ahead */
    for (size_t i = 10; i < 20; i++) {
        uint64_t now = i * 20;
        assert_int_equal(
            jb_insert(&jb, p->seq[i], p->ts[i] + 48000u * 600, p->data[i], p->len[i], now), 0);
        assert_int_equal(jb_pop(&jb, now + 1, &f), JB_PACKET);
        assert_int_equal(f.seq, p->seq[i]);
    }
    /* an old sequence number with a wild timestamp is rejected */
    assert_int_equal(jb_insert(&jb, p->seq[19] - 3, 12345, p->data[0], p->len[0], 400),
                     LG_EMALFORMED);
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.resyncs, 1);
    assert_int_equal(c.played, 20);
    assert_int_equal(c.malformed, 1);
    jb_free(&jb);
    free(p);
}

/* A source sending ten packets per 20 ms: the buffer stays bounded and playout keeps its pace. */
static void test_too_fast_bounded(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(1000, false, 0, 0);
    jb_t jb;
    assert_int_equal(jb_init(&jb, NULL), 0);
    unsigned silent = 0;
    for (size_t tick = 0; tick < 100; tick++) {
        for (size_t k = 0; k < 10; k++)
            ins(&jb, p, tick * 10 + k, tick * 20);
        jb_counters_t c = counters(&jb);
        assert_true(c.count <= JB_CAPACITY);
        assert_true(c.depth_ms <= 220 + 20);
        jb_frame_t f;
        silent += jb_pop(&jb, tick * 20 + 1, &f) == JB_SILENT;
    }
    jb_counters_t c = counters(&jb);
    print_message("too fast: inserted %lu overflow %lu resyncs %lu played %lu silent %u\n",
                  (unsigned long)c.inserted, (unsigned long)c.overflow, (unsigned long)c.resyncs,
                  (unsigned long)c.played, silent);
    assert_true(c.overflow >= 700);
    assert_true(c.inserted <= 300);
    assert_true(c.played + c.concealed + silent == 100);
    assert_true(c.played >= 80);
    jb_free(&jb);
    free(p);
}

/* The source stops: max_conceal concealed frames, then silence; it comes back later. */
static void test_stop_and_restart(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(40, false, 0, 0);
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 10; i++) {
        assert_int_equal(ins(&jb, p, i, i * 20), 0);
        assert_int_equal(jb_pop(&jb, i * 20 + 1, &f), JB_PACKET);
    }
    for (unsigned i = 0; i < 10; i++)
        assert_int_equal(jb_pop(&jb, 200 + i * 20 + 1, &f), JB_CONCEAL);
    for (unsigned i = 0; i < 20; i++)
        assert_int_equal(jb_pop(&jb, 400 + i * 20 + 1, &f), JB_SILENT);
    /* back 2 s later, with its timestamps 2 s on */
    assert_int_equal(jb_insert(&jb, p->seq[30], p->ts[30] + 96000, p->data[30], p->len[30], 2000),
                     0);
    assert_int_equal(jb_pop(&jb, 2001, &f), JB_PACKET);
    assert_int_equal(f.seq, 30);
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.stops, 1);
    assert_int_equal(c.concealed, 10);
    assert_int_equal(c.resyncs, 0);
    jb_free(&jb);
    free(p);
}

/* DTX: sequence numbers continue while timestamps jump over a pause; nothing is lost, so the
 * buffer starts the new talkspurt instead of concealing through the gap. */
static void test_dtx_pause(void **state)
{
    (void)state;
    pkts_t *p = make_pkts(20, false, 0, 0);
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ins(&jb, p, i, i * 20), 0);
        assert_int_equal(jb_pop(&jb, i * 20 + 1, &f), JB_PACKET);
    }
    for (unsigned i = 0; i < 4; i++)
        assert_int_equal(jb_pop(&jb, 100 + i * 20 + 1, &f), JB_CONCEAL); /* holds */
    /* seq 5 arrives 160 ms after seq 4, stamped 160 ms later */
    assert_int_equal(jb_insert(&jb, 5, p->ts[4] + 960 * 8, p->data[5], p->len[5], 240), 0);
    jb_result_t r = jb_pop(&jb, 241, &f);
    if (r == JB_SILENT)
        r = jb_pop(&jb, 261, &f);
    assert_int_equal(r, JB_PACKET);
    assert_int_equal(f.seq, 5);
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.concealed, 4);
    assert_int_equal(c.stops, 0);
    jb_free(&jb);
    free(p);
}

static void test_malformed(void **state)
{
    (void)state;
    jb_t jb;
    assert_int_equal(jb_init(&jb, NULL), 0);
    static uint8_t big[JB_MAX_PAYLOAD + 1];
    const uint8_t code1_odd[] = {0x09, 1, 2, 3};     /* two equal frames need an even length */
    const uint8_t code3_zero[] = {0x0b, 0x00, 1, 2}; /* code 3 with zero frames */
    const uint8_t code3_long[] = {0x0b, 0x3f, 1, 2}; /* 63 frames of 20 ms: over 120 ms */
    assert_int_equal(jb_insert(&jb, 1, 0, big, 0, 0), LG_EMALFORMED);
    assert_int_equal(jb_insert(&jb, 2, 960, code1_odd, sizeof code1_odd, 0), LG_EMALFORMED);
    assert_int_equal(jb_insert(&jb, 3, 1920, code3_zero, sizeof code3_zero, 0), LG_EMALFORMED);
    assert_int_equal(jb_insert(&jb, 4, 2880, code3_long, sizeof code3_long, 0), LG_EMALFORMED);
    assert_int_equal(jb_insert(&jb, 5, 3840, big, sizeof big, 0), LG_EMALFORMED);
    assert_int_equal(jb_insert(NULL, 5, 3840, big, 10, 0), LG_EINVAL);
    jb_counters_t c = counters(&jb);
    assert_int_equal(c.malformed, 5);
    assert_int_equal(c.inserted, 0);
    jb_frame_t f;
    assert_int_equal(jb_pop(&jb, 100, &f), JB_SILENT);
    jb_free(&jb);
}

/* 40 ms packets: one pop covers 1920 samples; a loss conceals 20 ms at a time. */
static void test_long_packets(void **state)
{
    (void)state;
    int err;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    int16_t pcm[1920] = {0};
    for (int i = 0; i < 1920; i++)
        pcm[i] = (int16_t)(8000 * sin(i * 0.05));
    uint8_t pkt[400];
    int len = opus_encode(enc, pcm, 1920, pkt, sizeof pkt);
    assert_true(len > 0);
    jb_t jb;
    jb_frame_t f;
    assert_int_equal(jb_init(&jb, NULL), 0);
    assert_int_equal(jb_insert(&jb, 0, 0, pkt, (size_t)len, 0), 0);
    assert_int_equal(jb_insert(&jb, 2, 3840, pkt, (size_t)len, 0), 0); /* seq 1 lost */
    assert_int_equal(jb_pop(&jb, 40, &f), JB_PACKET);
    assert_int_equal(f.samples, 1920);
    assert_int_equal(jb_pop(&jb, 80, &f), JB_CONCEAL);
    assert_int_equal(jb_pop(&jb, 100, &f), JB_CONCEAL);
    assert_int_equal(jb_pop(&jb, 120, &f), JB_PACKET);
    assert_int_equal(f.seq, 2);
    assert_int_equal(f.ts, 3840);
    jb_free(&jb);
    opus_encoder_destroy(enc);
}

/* Real browser Opus (Chromium mono with FEC, Firefox stereo): every packet plays and decodes; the
 * Chromium capture's later burst, after a pause, starts the buffer again. */
static void test_browser_captures(void **state)
{
    (void)state;
    static const char *paths[2] = {CHROME_OPUS, FIREFOX_OPUS};
    for (int c = 0; c < 2; c++) {
        hex_lines_t h;
        int n = hex_lines_load(paths[c], &h);
        assert_true(n >= 20);
        int err;
        OpusDecoder *dec = opus_decoder_create(48000, 1, &err);
        int16_t pcm[5760];
        jb_t jb;
        jb_frame_t f;
        assert_int_equal(jb_init(&jb, NULL), 0);
        uint64_t now = 0;
        for (int i = 0; i < n; i++, now += 20) {
            rtp_packet_t pkt;
            assert_int_equal(rtp_parse(h.pkt[i], h.len[i], &pkt), 0);
            if (i == 20) /* the pause before the Chromium capture's later packets */
                for (int k = 0; k < 15; k++, now += 20)
                    jb_pop(&jb, now, &f);
            assert_int_equal(
                jb_insert(&jb, pkt.seq, pkt.timestamp, pkt.payload, pkt.payload_len, now), 0);
            assert_int_equal(jb_pop(&jb, now + 1, &f), JB_PACKET);
            assert_int_equal(f.seq, pkt.seq);
            assert_int_equal(opus_decode(dec, f.payload, (opus_int32)f.len, pcm, 5760, 0), 960);
        }
        jb_counters_t cn = counters(&jb);
        assert_int_equal(cn.played, (uint64_t)n);
        assert_int_equal(cn.stops, n > 20 ? 1 : 0);
        opus_decoder_destroy(dec);
        jb_free(&jb);
        hex_lines_free(&h);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_not_started),
        cmocka_unit_test(test_in_order_with_wrap),
        cmocka_unit_test(test_reorder_and_duplicates),
        cmocka_unit_test(test_loss_conceal_and_late),
        cmocka_unit_test(test_fec_recovery),
        cmocka_unit_test(test_lbrr_detection),
        cmocka_unit_test(test_adaptive_depth),
        cmocka_unit_test(test_wild_timestamp_resync),
        cmocka_unit_test(test_too_fast_bounded),
        cmocka_unit_test(test_stop_and_restart),
        cmocka_unit_test(test_dtx_pause),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_packets),
        cmocka_unit_test(test_browser_captures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
