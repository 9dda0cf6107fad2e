/* Unit tests for the NACK generator: gaps, retries, age-out, reordering, wrap, storms. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "media/nack_generator.h"
#include "media/rtcp.h"
#include "sfu/lg_error.h"

/* Collects and compares with want[0..nwant). */
static void expect_nacks(nackgen_t *g, uint64_t now, const uint16_t *want, size_t nwant)
{
    uint16_t got[64];
    bool kf = false;
    size_t n = nackgen_collect(g, now, got, 64, &kf);
    if (n != nwant)
        fail_msg("at %llu ms: %zu seqs due, want %zu", (unsigned long long)now, n, nwant);
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i])
            fail_msg("at %llu ms: seq[%zu] = %u, want %u", (unsigned long long)now, i, got[i],
                     want[i]);
    assert_false(kf);
}

static void feed(nackgen_t *g, uint16_t from, uint16_t to, uint64_t now)
{
    for (uint16_t s = from; s != (uint16_t)(to + 1); s++)
        assert_false(nackgen_on_packet(g, s, false, now));
}

static void test_gap_and_retry_interval(void **state)
{
    (void)state;
    nackgen_t g;
    assert_int_equal(nackgen_init(&g, NULL), 0);
    nackgen_set_rtt(&g, 50);
    feed(&g, 100, 101, 0);
    expect_nacks(&g, 0, NULL, 0);
    assert_false(nackgen_on_packet(&g, 104, false, 10));
    assert_int_equal(nackgen_missing(&g), 2);
    const uint16_t both[] = {102, 103};
    expect_nacks(&g, 10, both, 2); /* due at once */
    expect_nacks(&g, 30, NULL, 0); /* not again within the RTT */
    expect_nacks(&g, 60, both, 2);
    /* 102 arrives late: only 103 stays. */
    assert_false(nackgen_on_packet(&g, 102, false, 70));
    assert_int_equal(g.recovered, 1);
    const uint16_t one[] = {103};
    expect_nacks(&g, 110, one, 1);
    assert_int_equal(g.nacked, 5);
    /* The retry interval never drops below min_interval_ms. */
    nackgen_set_rtt(&g, 1);
    expect_nacks(&g, 115, NULL, 0);
    expect_nacks(&g, 130, one, 1);
    /* Duplicates and ancient seqs change nothing. */
    assert_false(nackgen_on_packet(&g, 104, false, 140));
    assert_false(nackgen_on_packet(&g, 40000, false, 140));
    assert_int_equal(nackgen_missing(&g), 1);
}

static void test_retry_limit_then_keyframe(void **state)
{
    (void)state;
    nackgen_config_t cfg = {.max_retries = 3, .max_age_ms = 10000};
    nackgen_t g;
    nackgen_init(&g, &cfg);
    nackgen_set_rtt(&g, 100);
    feed(&g, 1, 1, 0);
    nackgen_on_packet(&g, 3, false, 0);
    const uint16_t two[] = {2};
    expect_nacks(&g, 0, two, 1);
    expect_nacks(&g, 100, two, 1);
    expect_nacks(&g, 200, two, 1);
    expect_nacks(&g, 250, NULL, 0); /* the last try gets one interval to be answered */
    uint16_t got[8];
    bool kf = false;
    assert_int_equal(nackgen_collect(&g, 300, got, 8, &kf), 0);
    assert_true(kf);
    assert_int_equal(nackgen_missing(&g), 0);
    assert_int_equal(g.given_up, 1);
}

static void test_max_age(void **state)
{
    (void)state;
    nackgen_config_t cfg = {.max_age_ms = 500};
    nackgen_t g;
    nackgen_init(&g, &cfg);
    nackgen_on_packet(&g, 10, false, 1000);
    nackgen_on_packet(&g, 12, false, 1000);
    const uint16_t eleven[] = {11};
    expect_nacks(&g, 1000, eleven, 1);
    expect_nacks(&g, 1500, eleven, 1); /* exactly max age: still asked */
    uint16_t got[8];
    bool kf = false;
    assert_int_equal(nackgen_collect(&g, 1501, got, 8, &kf), 0);
    assert_true(kf);
    /* A loss before a key frame that arrived needs no key frame when abandoned. */
    nackgen_on_packet(&g, 14, false, 2000); /* 13 lost */
    nackgen_on_packet(&g, 15, true, 2000);
    kf = false;
    assert_int_equal(nackgen_collect(&g, 2000, got, 8, &kf), 1);
    assert_int_equal(nackgen_collect(&g, 2600, got, 8, &kf), 0);
    assert_false(kf);
    assert_int_equal(g.given_up, 2);
}

static void test_wrap_and_rtcp(void **state)
{
    (void)state;
    nackgen_t g;
    nackgen_init(&g, NULL);
    feed(&g, 65530, 65533, 0);
    nackgen_on_packet(&g, 65535, false, 5); /* 65534 */
    nackgen_on_packet(&g, 3, false, 6);     /* 0, 1, 2 */
    const uint16_t want[] = {65534, 0, 1, 2};
    uint16_t got[8];
    size_t n = nackgen_collect(&g, 6, got, 8, NULL);
    assert_int_equal(n, 4);
    assert_memory_equal(got, want, sizeof want);
    /* The list goes straight into a NACK and parses back the same. */
    uint8_t buf[64];
    rtcp_writer_t w;
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_nack(&w, 1, 0xabcdef01u, got, n), 0);
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_iter_init(&it, buf, w.len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    uint16_t back[8];
    size_t nb;
    assert_int_equal(rtcp_nack_parse(&fb, back, 8, &nb), 0);
    assert_int_equal(nb, 4);
    assert_memory_equal(back, want, sizeof want);
    /* A late arrival across the wrap. */
    nackgen_on_packet(&g, 65534, false, 7);
    assert_int_equal(nackgen_missing(&g), 3);
}

static void test_cap_per_collect(void **state)
{
    (void)state;
    nackgen_t g;
    nackgen_init(&g, NULL);
    nackgen_set_rtt(&g, 100);
    nackgen_on_packet(&g, 0, false, 0);
    nackgen_on_packet(&g, 11, false, 0); /* 1..10 missing */
    uint16_t got[4];
    assert_int_equal(nackgen_collect(&g, 0, got, 4, NULL), 4);
    assert_int_equal(got[0], 1);
    assert_int_equal(got[3], 4);
    assert_int_equal(nackgen_collect(&g, 1, got, 4, NULL), 4);
    assert_int_equal(got[0], 5);
    assert_int_equal(nackgen_collect(&g, 2, got, 4, NULL), 2);
    assert_int_equal(got[1], 10);
    assert_int_equal(nackgen_collect(&g, 3, got, 4, NULL), 0);
    assert_int_equal(nackgen_collect(&g, 100, got, 4, NULL), 4);
    assert_int_equal(got[0], 1);
}

static void test_storm_protection(void **state)
{
    (void)state;
    nackgen_config_t cfg = {.max_missing = 50};
    nackgen_t g;
    nackgen_init(&g, &cfg);
    nackgen_on_packet(&g, 0, false, 0);
    /* 40 lost, then a key frame, then 30 more: the 40 before it go, no key frame needed. */
    assert_false(nackgen_on_packet(&g, 41, true, 0));
    assert_int_equal(nackgen_missing(&g), 40);
    assert_false(nackgen_on_packet(&g, 72, false, 0));
    assert_int_equal(nackgen_missing(&g), 30);
    uint16_t got[64];
    assert_int_equal(nackgen_collect(&g, 0, got, 64, NULL), 30);
    assert_int_equal(got[0], 42);
    /* 60 more lost with no key frame to fall back on: everything goes, key frame wanted. */
    assert_true(nackgen_on_packet(&g, 133, false, 0));
    assert_int_equal(nackgen_missing(&g), 0);
    /* A jump too far to track at all. */
    assert_true(nackgen_on_packet(&g, 133 + NACKGEN_WINDOW + 5, false, 0));
    assert_int_equal(nackgen_missing(&g), 0);
    /* The same jump landing on a key frame needs nothing more. */
    assert_false(nackgen_on_packet(&g, 133 + 3 * NACKGEN_WINDOW, true, 0));
}

static void test_falls_out_of_window(void **state)
{
    (void)state;
    nackgen_config_t cfg = {.max_age_ms = 100000, .max_retries = 200};
    nackgen_t g;
    nackgen_init(&g, &cfg);
    nackgen_on_packet(&g, 0, false, 0);
    nackgen_on_packet(&g, 2, false, 0); /* 1 missing */
    bool asked = false;
    for (uint32_t s = 3; s <= NACKGEN_WINDOW; s++)
        asked |= nackgen_on_packet(&g, (uint16_t)s, false, 0);
    assert_false(asked);
    assert_int_equal(nackgen_missing(&g), 1);
    assert_true(nackgen_on_packet(&g, (uint16_t)(1 + NACKGEN_WINDOW), false, 0));
    assert_int_equal(nackgen_missing(&g), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_and_retry_interval),
        cmocka_unit_test(test_retry_limit_then_keyframe),
        cmocka_unit_test(test_max_age),
        cmocka_unit_test(test_wrap_and_rtcp),
        cmocka_unit_test(test_cap_per_collect),
        cmocka_unit_test(test_storm_protection),
        cmocka_unit_test(test_falls_out_of_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
