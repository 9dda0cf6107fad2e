/* Unit tests for the sequence/timestamp rewriter: layer switches, wrap, reordering, drops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/seq_rewriter.h"
#include "sfu/lg_error.h"

#define SSRC_A 0x11111111u
#define SSRC_B 0x22222222u

/* Maps a packet that must be accepted and checks the outgoing numbers. */
static void expect_map(seqrw_t *rw, uint32_t ssrc, uint16_t seq, uint32_t ts, uint64_t now,
                       uint16_t want_seq, uint32_t want_ts)
{
    uint16_t s = 0;
    uint32_t t = 0;
    int rc = seqrw_map(rw, ssrc, seq, ts, now, &s, &t);
    if (rc != 0)
        fail_msg("seq %u: seqrw_map = %s", seq, lg_errname(rc));
    if (s != want_seq || t != want_ts)
        fail_msg("seq %u: got (%u, %u), want (%u, %u)", seq, s, t, want_seq, want_ts);
}

static void expect_refused(seqrw_t *rw, uint32_t ssrc, uint16_t seq, uint32_t ts, uint64_t now)
{
    uint16_t s;
    uint32_t t;
    assert_int_equal(seqrw_map(rw, ssrc, seq, ts, now, &s, &t), LG_EREPLAY);
}

static void test_first_packet_keeps_numbers(void **state)
{
    (void)state;
    seqrw_t rw;
    assert_int_equal(seqrw_init(&rw, 90000), 0);
    assert_false(seqrw_last(&rw, NULL, NULL));
    expect_map(&rw, SSRC_A, 1000, 5000, 10, 1000, 5000);
    expect_map(&rw, SSRC_A, 1001, 8000, 43, 1001, 8000);
    expect_map(&rw, SSRC_A, 1001, 8000, 44, 1001, 8000); /* a duplicate maps the same */
    uint16_t s;
    uint32_t t;
    assert_true(seqrw_last(&rw, &s, &t));
    assert_int_equal(s, 1001);
    assert_int_equal(t, 8000);
    assert_int_equal(seqrw_init(NULL, 90000), LG_EINVAL);
    assert_int_equal(seqrw_init(&rw, 0), LG_EINVAL);
}

static void test_layer_switch(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    /* Layer A: 30 fps, one packet per frame, 3000 ticks apart, sent every 33 ms. */
    for (int i = 0; i < 5; i++)
        expect_map(&rw, SSRC_A, (uint16_t)(100 + i), 7000u + 3000u * (uint32_t)i,
                   1000u + 33u * (uint64_t)i, (uint16_t)(100 + i), 7000u + 3000u * (uint32_t)i);
    /* Last out: seq 104, ts 19000 at 1132 ms. Layer B's key frame comes 40 ms later. */
    expect_map(&rw, SSRC_B, 50000, 123456, 1172, 105, 19000 + 40 * 90);
    expect_map(&rw, SSRC_B, 50001, 123456, 1173, 106, 22600); /* same frame, same ts */
    expect_map(&rw, SSRC_B, 50002, 126456, 1205, 107, 25600);
    /* A packet of B older than the switch point is refused. */
    expect_refused(&rw, SSRC_B, 49999, 120456, 1206);
    /* Back to A: numbered after B, whatever A's own numbers did meanwhile. */
    expect_map(&rw, SSRC_A, 110, 40000, 1215, 108, 25600 + 10 * 90);
    /* A switch in the same millisecond still advances the timestamp by one tick. */
    expect_map(&rw, SSRC_B, 50010, 150000, 1215, 109, 25600 + 900 + 1);
}

static void test_switch_audio_clock(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 48000);
    expect_map(&rw, SSRC_A, 7, 960, 0, 7, 960);
    /* The republished track starts 1.5 s later: 72000 ticks at 48 kHz. */
    expect_map(&rw, SSRC_B, 30000, 5, 1500, 8, 960 + 72000);
}

static void test_wrap(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    /* Incoming seq and ts wrap; the offsets carry across. */
    expect_map(&rw, SSRC_A, 65534, 0xfffff000u, 0, 65534, 0xfffff000u);
    expect_map(&rw, SSRC_A, 0, 0x00000bb8u, 33, 0, 0x00000bb8u); /* 65535 late */
    expect_map(&rw, SSRC_A, 65535, 0xfffff000u, 34, 65535, 0xfffff000u);
    expect_map(&rw, SSRC_A, 1, 0x00000bb8u, 35, 1, 0x00000bb8u);
    /* Switch onto a source far away: outgoing numbers wrap on their own. */
    expect_map(&rw, SSRC_B, 40000, 0x7ffffff0u, 35, 2, 0x00000bb9u);
    seqrw_init(&rw, 90000);
    expect_map(&rw, SSRC_A, 10, 0xffffff00u, 0, 10, 0xffffff00u);
    expect_map(&rw, SSRC_B, 65535, 1, 10, 11, 0xffffff00u + 900);
    expect_map(&rw, SSRC_B, 0, 3001, 43, 12, (uint32_t)(0xffffff00u + 900 + 3000));
    /* Drops across the wrap. */
    assert_true(seqrw_drop(&rw, SSRC_B, 1));
    assert_true(seqrw_drop(&rw, SSRC_B, 2));
    expect_map(&rw, SSRC_B, 3, 6001, 76, 13, (uint32_t)(0xffffff00u + 900 + 6000));
    expect_refused(&rw, SSRC_B, 65534, 0, 80); /* before the switch point */
}

static void test_reordering(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    expect_map(&rw, SSRC_A, 10, 100, 0, 10, 100);
    expect_map(&rw, SSRC_A, 12, 100, 1, 12, 100);
    expect_map(&rw, SSRC_A, 11, 100, 2, 11, 100);
    uint16_t s;
    seqrw_last(&rw, &s, NULL);
    assert_int_equal(s, 12); /* the late one did not move the newest */
    /* Far ahead, then a packet more than the window behind is refused. */
    expect_map(&rw, SSRC_A, 12 + SEQRW_WINDOW, 200, 3, 12 + SEQRW_WINDOW, 200);
    expect_refused(&rw, SSRC_A, 12, 100, 4);
    expect_map(&rw, SSRC_A, 13, 100, 5, 13, 100);
}

static void test_drops_close_gaps(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    expect_map(&rw, SSRC_A, 10, 0, 0, 10, 0);
    assert_true(seqrw_drop(&rw, SSRC_A, 11)); /* e.g. temporal layer 2 */
    expect_map(&rw, SSRC_A, 12, 6000, 66, 11, 6000);
    assert_true(seqrw_drop(&rw, SSRC_A, 13));
    /* 14 is lost on the way, 15 arrives, then 14 late: outgoing 12 and 13 fill in. */
    expect_map(&rw, SSRC_A, 15, 12000, 132, 13, 12000);
    expect_map(&rw, SSRC_A, 14, 9000, 140, 12, 9000);
    /* A dropped seq showing up again (a duplicate) is refused, not renumbered. */
    expect_refused(&rw, SSRC_A, 13, 9000, 141);
    expect_refused(&rw, SSRC_A, 11, 3000, 141);
    /* An older seq cannot be dropped without a hole. */
    assert_false(seqrw_drop(&rw, SSRC_A, 14));
    /* Drops of another source are ignored. */
    assert_false(seqrw_drop(&rw, SSRC_B, 500));
    expect_map(&rw, SSRC_A, 16, 15000, 165, 14, 15000);
    /* Dropping the newest several times in a row. */
    for (uint16_t q = 17; q < 27; q++)
        assert_true(seqrw_drop(&rw, SSRC_A, q));
    expect_map(&rw, SSRC_A, 27, 16000, 170, 15, 16000);
    /* A new source's drops before its first forwarded packet do not shift it. */
    assert_false(seqrw_drop(&rw, SSRC_B, 900));
    expect_map(&rw, SSRC_B, 901, 0, 200, 16, 16000 + 30 * 90);
}

static void test_drop_list_overflow(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    expect_map(&rw, SSRC_A, 0, 0, 0, 0, 0);
    /* Every other packet dropped, more drops than the list holds (within the window). */
    uint16_t out = 0;
    for (uint16_t q = 1; q <= 2 * (SEQRW_DROP_CAP + 10); q += 2) {
        assert_true(seqrw_drop(&rw, SSRC_A, q));
        out++;
        expect_map(&rw, SSRC_A, (uint16_t)(q + 1), q, q, out, q);
    }
    /* Recent packets still map exactly; one older than a forgotten drop is refused. */
    uint16_t newest = (uint16_t)(2 * (SEQRW_DROP_CAP + 10));
    expect_map(&rw, SSRC_A, (uint16_t)(newest - 2), 0, 1000, (uint16_t)(out - 1), 0);
    expect_refused(&rw, SSRC_A, 2, 0, 1000);
}

/* A receiver NACKs rewritten numbers: unmap gives back exactly the incoming seq each came from,
 * across drops and the 16-bit wrap, and nothing for numbers of an earlier source. */
static void test_unmap_inverts_map(void **state)
{
    (void)state;
    seqrw_t rw;
    seqrw_init(&rw, 90000);
    uint16_t out_of[400], in_of[400];
    int n = 0;
    uint16_t s;
    uint32_t t;
    assert_int_equal(seqrw_unmap(&rw, 0, &s), LG_ENOTFOUND); /* nothing forwarded yet */
    for (uint16_t i = 0; i < 600; i++) {
        uint16_t in = (uint16_t)(65300 + i); /* wraps */
        /* drop the L1T3 pattern's TID 2 frames (every other) and a run now and then */
        if ((i % 4) % 2 == 1 || (i >= 200 && i < 230)) {
            assert_true(seqrw_drop(&rw, SSRC_A, in));
            continue;
        }
        assert_int_equal(seqrw_map(&rw, SSRC_A, in, i * 100u, i, &s, &t), 0);
        if (n > 0)
            assert_int_equal(s, (uint16_t)(out_of[n - 1] + 1)); /* no holes */
        if (n < 400) {
            in_of[n] = in;
            out_of[n++] = s;
        }
    }
    uint16_t got;
    int found = 0;
    for (int i = 0; i < n; i++) {
        /* the oldest may have slid out of the window or past a forgotten drop */
        if (seqrw_unmap(&rw, out_of[i], &got) != 0)
            continue;
        assert_int_equal(got, in_of[i]);
        found++;
    }
    assert_true(found >= n / 2);
    uint16_t last;
    assert_true(seqrw_last(&rw, &last, NULL));
    for (int back = 0; back < 100; back++) {
        assert_int_equal(seqrw_unmap(&rw, (uint16_t)(last - back), &got), 0);
        assert_int_equal(seqrw_map(&rw, SSRC_A, got, 0, 700, &s, &t), 0);
        assert_int_equal(s, (uint16_t)(last - back)); /* maps back to the same number */
    }
    assert_int_equal(seqrw_unmap(&rw, (uint16_t)(last + 1), &got), LG_ENOTFOUND);
    /* a switch: the new source's numbers unmap, the old ones no longer do */
    assert_int_equal(seqrw_map(&rw, SSRC_B, 7000, 0, 800, &s, &t), 0);
    assert_int_equal(s, (uint16_t)(last + 1));
    assert_int_equal(seqrw_unmap(&rw, s, &got), 0);
    assert_int_equal(got, 7000);
    assert_int_equal(seqrw_unmap(&rw, last, &got), LG_ENOTFOUND);
    assert_int_equal(seqrw_unmap(NULL, 1, &got), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_packet_keeps_numbers),
        cmocka_unit_test(test_layer_switch),
        cmocka_unit_test(test_switch_audio_clock),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_reordering),
        cmocka_unit_test(test_drops_close_gaps),
        cmocka_unit_test(test_drop_list_overflow),
        cmocka_unit_test(test_unmap_inverts_map),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
