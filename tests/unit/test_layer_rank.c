/* Unit tests for the quality order of simulcast encodings: a=rid restrictions, measured rates,
 * ties and the hysteresis of a re-rank. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/layer_rank.h"
#include "sfu/lg_error.h"

/* order[] lists encodings from lowest to highest; rank[] must be its inverse. */
static void expect_order(const layer_rank_t *r, uint8_t a, uint8_t b, uint8_t c)
{
    const uint8_t want[3] = {a, b, c};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(r->order[i], want[i]);
        assert_int_equal(r->rank[want[i]], i);
    }
}

/* Feeds the same window n times; returns how many of them reported a change. */
static int feed(layer_rank_t *r, const uint32_t *bps, int n)
{
    int changed = 0;
    for (int i = 0; i < n; i++)
        changed += layer_rank_measured(r, bps);
    return changed;
}

static void test_default_is_first_highest(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    assert_int_equal(r.source, LAYER_RANK_DEFAULT);
    expect_order(&r, 2, 1, 0);
    layer_rank_hint_t none[3] = {{0}};
    assert_int_equal(layer_rank_init(&r, 3, none), 0);
    assert_int_equal(r.source, LAYER_RANK_DEFAULT);
    expect_order(&r, 2, 1, 0);
    assert_int_equal(layer_rank_init(&r, 0, NULL), LG_EINVAL);
    assert_int_equal(layer_rank_init(&r, LAYER_RANK_MAX + 1, NULL), LG_EINVAL);
}

/* a=rid:q send max-width=320;max-height=180, h 640x360, f 1280x720: "q;h;f" lowest first, and
 * the same encodings listed f, q, h. */
static void test_rid_resolution(void **state)
{
    (void)state;
    layer_rank_t r;
    layer_rank_hint_t qhf[3] = {{320, 180, 0, 0}, {640, 360, 0, 0}, {1280, 720, 0, 0}};
    assert_int_equal(layer_rank_init(&r, 3, qhf), 0);
    assert_int_equal(r.source, LAYER_RANK_RID);
    expect_order(&r, 0, 1, 2);
    layer_rank_hint_t fqh[3] = {{1280, 720, 0, 0}, {320, 180, 0, 0}, {640, 360, 0, 0}};
    assert_int_equal(layer_rank_init(&r, 3, fqh), 0);
    expect_order(&r, 1, 2, 0);
    /* measurements never override the restrictions */
    const uint32_t contrary[3] = {100000, 1600000, 400000};
    assert_int_equal(feed(&r, contrary, 10), 0);
    expect_order(&r, 1, 2, 0);
    assert_int_equal(r.source, LAYER_RANK_RID);
}

/* Only the keys every encoding carries count; equal heights fall through to max-br, then max-fps
 * (same resolution at different frame rates). */
static void test_rid_other_keys(void **state)
{
    (void)state;
    layer_rank_t r;
    layer_rank_hint_t heights[3] = {{0, 720, 0, 0}, {0, 180, 0, 30}, {1920, 360, 0, 0}};
    assert_int_equal(layer_rank_init(&r, 3, heights), 0);
    assert_int_equal(r.source, LAYER_RANK_RID);
    expect_order(&r, 1, 2, 0);
    layer_rank_hint_t br[3] = {{640, 360, 300000, 0}, {640, 360, 100000, 0}, {640, 360, 900000, 0}};
    assert_int_equal(layer_rank_init(&r, 3, br), 0);
    expect_order(&r, 1, 0, 2);
    layer_rank_hint_t fps[3] = {{0, 0, 0, 30}, {0, 0, 0, 7}, {0, 0, 0, 15}};
    assert_int_equal(layer_rank_init(&r, 3, fps), 0);
    expect_order(&r, 1, 2, 0);
}

/* Restrictions that leave two encodings tied, or that not every encoding has, decide nothing. */
static void test_rid_ties_and_partial(void **state)
{
    (void)state;
    layer_rank_t r;
    layer_rank_hint_t tie[3] = {{320, 180, 0, 0}, {640, 360, 0, 0}, {640, 360, 0, 0}};
    assert_int_equal(layer_rank_init(&r, 3, tie), 0);
    assert_int_equal(r.source, LAYER_RANK_DEFAULT);
    expect_order(&r, 2, 1, 0);
    layer_rank_hint_t partial[3] = {{320, 180, 0, 0}, {640, 360, 0, 0}, {0, 0, 0, 0}};
    assert_int_equal(layer_rank_init(&r, 3, partial), 0);
    assert_int_equal(r.source, LAYER_RANK_DEFAULT);
    expect_order(&r, 2, 1, 0);
}

/* Lowest first (q;h;f) without restrictions: the rates re-rank after LAYER_RANK_CONFIRM windows. */
static void test_measured_lowest_first(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    const uint32_t bps[3] = {110000, 450000, 1700000};
    assert_int_equal(feed(&r, bps, LAYER_RANK_CONFIRM - 1), 0);
    expect_order(&r, 2, 1, 0); /* not yet */
    assert_true(layer_rank_measured(&r, bps));
    assert_int_equal(r.source, LAYER_RANK_MEASURED);
    expect_order(&r, 0, 1, 2);
    assert_int_equal(feed(&r, bps, 10), 0); /* settled */
    expect_order(&r, 0, 1, 2);
}

/* Highest first with rates that agree: nothing changes; the source becomes measured. */
static void test_measured_confirms_default(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    const uint32_t bps[3] = {1700000, 450000, 110000};
    assert_int_equal(feed(&r, bps, 10), 0);
    expect_order(&r, 2, 1, 0);
    assert_int_equal(r.source, LAYER_RANK_MEASURED);
}

/* A window where an encoding sent nothing (a paused top layer) is no evidence and restarts the
 * count; so does a window measuring the current order. */
static void test_measured_needs_every_rate_consecutively(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    const uint32_t low_first[3] = {110000, 450000, 1700000};
    const uint32_t paused[3] = {110000, 450000, 0};
    const uint32_t high_first[3] = {1700000, 450000, 110000};
    assert_int_equal(feed(&r, paused, 10), 0);
    expect_order(&r, 2, 1, 0);
    for (int i = 0; i < 5; i++) {
        assert_int_equal(feed(&r, low_first, LAYER_RANK_CONFIRM - 1), 0);
        assert_int_equal(feed(&r, i % 2 ? paused : high_first, 1), 0);
    }
    expect_order(&r, 2, 1, 0);
    assert_int_equal(feed(&r, low_first, LAYER_RANK_CONFIRM), 1);
    expect_order(&r, 0, 1, 2);
}

/* Equal rates, or rates within the margin, keep the order in use: no flapping on noise. */
static void test_measured_ties_keep_order(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    const uint32_t equal[3] = {500000, 500000, 500000};
    assert_int_equal(feed(&r, equal, 10), 0);
    expect_order(&r, 2, 1, 0);
    /* 0 sends 15 % more than 1 and 1 15 % more than 2: within the margin, nothing moves */
    const uint32_t close[3] = {440000, 500000, 575000};
    assert_int_equal(feed(&r, close, 10), 0);
    expect_order(&r, 2, 1, 0);
    /* 2 sends 3x encoding 1: 2 goes to the top; 0 and 1 stay as they were */
    const uint32_t top[3] = {440000, 500000, 1500000};
    assert_int_equal(feed(&r, top, LAYER_RANK_CONFIRM), 1);
    expect_order(&r, 1, 0, 2);
}

/* Once measured, a persistent change re-ranks again; a short one (a key frame burst) does not. */
static void test_measured_rerank_hysteresis(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 3, NULL), 0);
    const uint32_t low_first[3] = {110000, 450000, 1700000};
    const uint32_t burst[3] = {110000, 2400000, 1700000}; /* encoding 1 sent a big key frame */
    assert_int_equal(feed(&r, low_first, LAYER_RANK_CONFIRM), 1);
    assert_int_equal(feed(&r, burst, LAYER_RANK_CONFIRM - 1), 0);
    assert_int_equal(feed(&r, low_first, 1), 0);
    assert_int_equal(feed(&r, burst, LAYER_RANK_CONFIRM - 1), 0);
    expect_order(&r, 0, 1, 2);
    assert_int_equal(feed(&r, burst, 1), 1);
    expect_order(&r, 0, 2, 1);
}

static void test_two_layers(void **state)
{
    (void)state;
    layer_rank_t r;
    assert_int_equal(layer_rank_init(&r, 2, NULL), 0);
    assert_int_equal(r.order[0], 1);
    const uint32_t bps[2] = {200000, 800000};
    assert_int_equal(feed(&r, bps, LAYER_RANK_CONFIRM), 1);
    assert_int_equal(r.order[0], 0);
    assert_int_equal(r.order[1], 1);
    assert_int_equal(r.rank[1], 1);
    layer_rank_t one;
    assert_int_equal(layer_rank_init(&one, 1, NULL), 0);
    const uint32_t b1[1] = {500000};
    assert_false(layer_rank_measured(&one, b1));
    assert_int_equal(one.order[0], 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_is_first_highest),
        cmocka_unit_test(test_rid_resolution),
        cmocka_unit_test(test_rid_other_keys),
        cmocka_unit_test(test_rid_ties_and_partial),
        cmocka_unit_test(test_measured_lowest_first),
        cmocka_unit_test(test_measured_confirms_default),
        cmocka_unit_test(test_measured_needs_every_rate_consecutively),
        cmocka_unit_test(test_measured_ties_keep_order),
        cmocka_unit_test(test_measured_rerank_hysteresis),
        cmocka_unit_test(test_two_layers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
