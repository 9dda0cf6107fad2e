/* The impairment proxy's link model driven by an invented clock: the token bucket paces packets at
 * the rate on IP bytes, the drop-tail queue bounds the wait, loss follows the seed, delay and
 * jitter never reorder, byte streams never lose, and the FIFO releases in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "bench/impair_shaper.h"
#include "sfu/lg_error.h"

#define MS 1000ull

/* 32 kbit/s: a 100-byte UDP payload is 128 IPv4 bytes, 1024 bits, 32 ms of the link. */
static impair_params_t rate32k(void)
{
    impair_params_t p;
    memset(&p, 0, sizeof p);
    p.rate_bps = 32000;
    p.burst_bytes = 128; /* one such packet */
    p.queue_ms = 300;
    return p;
}

static void test_unlimited_passes_at_once(void **state)
{
    impair_params_t p;
    memset(&p, 0, sizeof p);
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    for (uint64_t t = 0; t < 1000; t++) {
        uint64_t rel = 0;
        assert_int_equal(impair_shaper_admit(&s, t, 1200, &rel), IMPAIR_PASS);
        assert_int_equal(rel, t);
    }
    assert_int_equal(s.c.forwarded, 1000);
    assert_int_equal(s.c.bytes, 1000 * 1200);
    assert_int_equal(s.c.dropped_loss + s.c.dropped_queue, 0);
}

/* A burst of 100 packets at once: one leaves every 32 ms, those that would wait more than
 * 300 ms are dropped and cost nothing. */
static void test_bucket_paces_and_queue_drops_tail(void **state)
{
    impair_params_t p = rate32k();
    p.delay_ms = 150;
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    int passed = 0;
    for (int k = 0; k < 100; k++) {
        uint64_t rel = 0;
        impair_verdict_t v = impair_shaper_admit(&s, 0, 100, &rel);
        if (k * 32 * MS <= 300 * MS) {
            assert_int_equal(v, IMPAIR_PASS);
            assert_int_equal(rel, k * 32 * MS + 150 * MS); /* departure + one-way delay */
            passed++;
        } else {
            assert_int_equal(v, IMPAIR_DROP_QUEUE);
        }
    }
    assert_int_equal(passed, 10);
    assert_int_equal(s.c.dropped_queue, 90);
    assert_int_equal(impair_shaper_backlog_us(&s, 0), 9 * 32 * MS);
    /* dropped packets took no tokens: the next one queues behind the tenth only */
    uint64_t rel;
    assert_int_equal(impair_shaper_admit(&s, 200 * MS, 100, &rel), IMPAIR_PASS);
    assert_int_equal(rel, 10 * 32 * MS + 150 * MS);
}

/* Offered 102 kbit/s for 10 s, a 32 kbit/s link carries 32 kbit/s of IP bytes: the overhead of
 * 28 bytes per datagram counts. */
static void test_long_run_rate_counts_ip_bytes(void **state)
{
    impair_params_t p = rate32k();
    p.burst_bytes = 0; /* default: 1500 */
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    uint64_t last_rel = 0;
    for (uint64_t t = 0; t < 10000 * MS; t += 10 * MS) {
        uint64_t rel;
        if (impair_shaper_admit(&s, t, 100, &rel) == IMPAIR_PASS) {
            assert_true(rel >= last_rel);
            last_rel = rel;
        }
    }
    /* the last one admitted leaves the bucket by 10 s + the 300 ms queue: 10.3 s * 32000 / 1024
     * bits = 321.9 packets, plus the initial burst (11 of 128 bytes in 1500) */
    assert_true(s.c.forwarded >= 321 && s.c.forwarded <= 322 + 11);
    assert_int_equal(s.c.forwarded + s.c.dropped_queue, 1000);
    /* the same payload without the IP/UDP overhead would fit 400 packets */
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, 0);
    for (uint64_t t = 0; t < 10000 * MS; t += 10 * MS) {
        uint64_t rel;
        impair_shaper_admit(&s, t, 100, &rel);
    }
    assert_true(s.c.forwarded >= 400 + 12 && s.c.forwarded <= 412 + 15); /* 800 bits each */
}

/* After a long idle time the bucket holds its depth, no more. */
static void test_bucket_refills_to_its_depth(void **state)
{
    impair_params_t p = rate32k();
    p.burst_bytes = 4 * 128;
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    uint64_t rel;
    for (int k = 0; k < 8; k++)
        assert_int_equal(impair_shaper_admit(&s, 0, 100, &rel), IMPAIR_PASS);
    uint64_t later = 3600ull * 1000 * MS; /* an hour */
    for (int k = 0; k < 4; k++) {
        assert_int_equal(impair_shaper_admit(&s, later, 100, &rel), IMPAIR_PASS);
        assert_int_equal(rel, later);
    }
    assert_int_equal(impair_shaper_admit(&s, later, 100, &rel), IMPAIR_PASS);
    assert_int_equal(rel, later + 32 * MS);
}

/* Loss follows the seed: about 10 % of 100000, the same sequence for the same seed. */
static void test_loss_is_seeded(void **state)
{
    impair_params_t p;
    memset(&p, 0, sizeof p);
    p.loss_ppm = 100000;
    p.seed = 42;
    impair_shaper_t a, b, c;
    impair_shaper_init(&a, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    impair_shaper_init(&b, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    p.seed = 43;
    impair_shaper_init(&c, &p, IMPAIR_DATAGRAM, IMPAIR_OVERHEAD_UDP4);
    int differ = 0;
    for (uint64_t t = 0; t < 100000; t++) {
        uint64_t r;
        impair_verdict_t va = impair_shaper_admit(&a, t, 200, &r);
        impair_verdict_t vb = impair_shaper_admit(&b, t, 200, &r);
        impair_verdict_t vc = impair_shaper_admit(&c, t, 200, &r);
        assert_int_equal(va, vb);
        assert_true(va == IMPAIR_PASS || va == IMPAIR_DROP_LOSS);
        differ += va != vc;
    }
    assert_true(a.c.dropped_loss > 9500 && a.c.dropped_loss < 10500);
    assert_int_equal(a.c.forwarded + a.c.dropped_loss, 100000);
    assert_true(c.c.dropped_loss > 9500 && c.c.dropped_loss < 10500);
    assert_true(differ > 1000); /* another seed, another pattern */
    /* 0 % and 100 % */
    p.loss_ppm = 0;
    impair_shaper_init(&a, &p, IMPAIR_DATAGRAM, 0);
    p.loss_ppm = 1000000;
    impair_shaper_init(&b, &p, IMPAIR_DATAGRAM, 0);
    for (int i = 0; i < 1000; i++) {
        uint64_t r;
        assert_int_equal(impair_shaper_admit(&a, 0, 1, &r), IMPAIR_PASS);
        assert_int_equal(impair_shaper_admit(&b, 0, 1, &r), IMPAIR_DROP_LOSS);
    }
}

/* Jitter spreads the delay within +-jitter but never lets a packet overtake an earlier one. */
static void test_jitter_does_not_reorder(void **state)
{
    impair_params_t p;
    memset(&p, 0, sizeof p);
    p.delay_ms = 150;
    p.jitter_ms = 30;
    p.seed = 7;
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_DATAGRAM, 0);
    uint64_t prev = 0, lo = UINT64_MAX, hi = 0;
    int held = 0;
    for (uint64_t t = 0; t < 20000 * MS; t += 20 * MS) {
        uint64_t rel;
        assert_int_equal(impair_shaper_admit(&s, t, 100, &rel), IMPAIR_PASS);
        assert_true(rel >= prev);
        assert_true(rel <= t + 180 * MS);
        uint64_t d = rel - t;
        held += rel == prev; /* held back behind a later-jittered predecessor */
        lo = d < lo ? d : lo;
        hi = d > hi ? d : hi;
        prev = rel;
    }
    assert_true(lo < 125 * MS); /* the spread is used */
    assert_true(hi > 175 * MS);
    assert_true(lo >= 120 * MS);
    assert_true(held > 0 && held < 1000);
}

/* A byte stream never drops: it waits (backlog tells the reader to stop), and a "lost" segment
 * arrives one retransmission later, holding back what follows. */
static void test_stream_never_drops(void **state)
{
    impair_params_t p = rate32k();
    p.delay_ms = 150;
    p.loss_ppm = 100000;
    p.seed = 3;
    impair_shaper_t s;
    impair_shaper_init(&s, &p, IMPAIR_STREAM, 0);
    uint64_t prev = 0;
    int slow = 0;
    for (int k = 0; k < 1000; k++) {
        uint64_t rel;
        uint64_t before = s.c.retransmitted;
        assert_int_equal(impair_shaper_admit(&s, 0, 128, &rel), IMPAIR_PASS);
        uint64_t depart = (uint64_t)k * 32 * MS;
        if (s.c.retransmitted > before) {
            assert_true(rel >= depart + 150 * MS + (200 + 300) * MS);
            slow++;
        } else {
            assert_true(rel >= depart + 150 * MS);
        }
        assert_true(rel >= prev);
        prev = rel;
    }
    assert_int_equal(s.c.forwarded, 1000);
    assert_int_equal(s.c.dropped_loss + s.c.dropped_queue, 0);
    assert_true(slow > 50 && slow < 150);
    assert_int_equal(impair_shaper_backlog_us(&s, 0), 999 * 32 * MS);
    assert_int_equal(impair_shaper_backlog_us(&s, 999 * 32 * MS), 0);
    assert_true(impair_shaper_backlog_us(&s, 0) > impair_shaper_queue_limit_us(&s));
}

static void test_fifo_order_and_capacity(void **state)
{
    impair_fifo_t q;
    assert_int_equal(impair_fifo_init(&q, 4), 0);
    assert_int_equal(impair_fifo_next(&q), UINT64_MAX);
    assert_null(impair_fifo_due(&q, 1000));
    for (int round = 0; round < 3; round++) { /* wraps around */
        for (uint32_t i = 0; i < 4; i++) {
            impair_slot_t *s = impair_fifo_push(&q);
            assert_non_null(s);
            s->release_us = 10 * (i + 1);
            s->tag = i;
        }
        assert_null(impair_fifo_push(&q));
        assert_null(impair_fifo_due(&q, 9));
        assert_int_equal(impair_fifo_next(&q), 10);
        for (uint32_t i = 0; i < 4; i++) {
            impair_slot_t *s = impair_fifo_due(&q, 25);
            if (i >= 2) {
                assert_null(s);
                s = impair_fifo_due(&q, 40);
            }
            assert_non_null(s);
            assert_int_equal(s->tag, i);
            impair_fifo_pop(&q);
        }
        assert_int_equal(q.count, 0);
    }
    impair_fifo_pop(&q); /* empty: no-op */
    assert_int_equal(q.count, 0);
    impair_fifo_free(&q);
}

static void test_parse(void **state)
{
    uint32_t ppm;
    assert_int_equal(impair_parse_loss("10%", &ppm), 0);
    assert_int_equal(ppm, 100000);
    assert_int_equal(impair_parse_loss("0.5", &ppm), 0);
    assert_int_equal(ppm, 5000);
    assert_int_equal(impair_parse_loss("101%", &ppm), -1);
    assert_int_equal(impair_parse_loss("x", &ppm), -1);
    assert_int_equal(impair_parse_loss("5%%", &ppm), -1);
    uint64_t bps;
    assert_int_equal(impair_parse_rate("32k", &bps), 0);
    assert_int_equal(bps, 32000);
    assert_int_equal(impair_parse_rate("32kbit", &bps), 0);
    assert_int_equal(bps, 32000);
    assert_int_equal(impair_parse_rate("2.5M", &bps), 0);
    assert_int_equal(bps, 2500000);
    assert_int_equal(impair_parse_rate("64000", &bps), 0);
    assert_int_equal(bps, 64000);
    assert_int_equal(impair_parse_rate("-1", &bps), -1);
    assert_int_equal(impair_parse_rate("32q", &bps), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unlimited_passes_at_once),
        cmocka_unit_test(test_bucket_paces_and_queue_drops_tail),
        cmocka_unit_test(test_long_run_rate_counts_ip_bytes),
        cmocka_unit_test(test_bucket_refills_to_its_depth),
        cmocka_unit_test(test_loss_is_seeded),
        cmocka_unit_test(test_jitter_does_not_reorder),
        cmocka_unit_test(test_stream_never_drops),
        cmocka_unit_test(test_fifo_order_and_capacity),
        cmocka_unit_test(test_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
