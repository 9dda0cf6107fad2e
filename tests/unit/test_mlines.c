/* Subscribe m-lines: appending, releasing, recycling with a new mid, kind match, the cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/mlines.h"

#define A SDP_KIND_AUDIO
#define V SDP_KIND_VIDEO

/* An offer went out with the table as it is now and its answer came back. */
static void offer_and_answer(mlines_t *t)
{
    mlines_t offered = *t;
    mlines_answered(t, &offered);
}

static void test_append_numbers_mids(void **state)
{
    mlines_t t;
    mlines_init(&t, 8);
    assert_int_equal(mlines_take(&t, A), 0);
    assert_int_equal(mlines_take(&t, V), 1);
    assert_int_equal(mlines_take(&t, A), 2);
    assert_int_equal(t.count, 3);
    char mid[16];
    for (int i = 0; i < 3; i++) {
        assert_int_equal(t.line[i].state, MLINE_SEND);
        mlines_mid(&t, i, mid, sizeof mid);
        char want[16];
        snprintf(want, sizeof want, "%d", i);
        assert_string_equal(mid, want);
    }
    assert_int_equal(t.line[1].kind, V);
}

static void test_recycle_after_answer_with_new_mid(void **state)
{
    mlines_t t;
    mlines_init(&t, 8);
    for (int i = 0; i < 4; i++)
        mlines_take(&t, i % 2 ? V : A); /* 0 A, 1 V, 2 A, 3 V */
    offer_and_answer(&t);
    mlines_release(&t, 1);
    assert_int_equal(t.line[1].state, MLINE_STOPPING);
    assert_true(mlines_rejected(&t, 1));
    /* not yet offered rejected: recycling now would change the mid of a live m-line */
    assert_int_equal(mlines_take(&t, V), 4);
    mlines_release(&t, 4);
    /* the offer showing m-lines 1 and 4 rejected is answered: both are free */
    offer_and_answer(&t);
    assert_int_equal(t.line[1].state, MLINE_FREE);
    assert_int_equal(t.line[4].state, MLINE_FREE);
    assert_true(mlines_rejected(&t, 1));
    /* the lowest free video m-line is reused, with a mid never used before */
    assert_int_equal(mlines_take(&t, V), 1);
    assert_int_equal(t.line[1].state, MLINE_SEND);
    assert_int_equal(t.line[1].mid, 5);
    assert_false(mlines_rejected(&t, 1));
    assert_int_equal(mlines_take(&t, V), 4);
    assert_int_equal(t.line[4].mid, 6);
    assert_int_equal(t.count, 5);
}

static void test_kind_must_match(void **state)
{
    mlines_t t;
    mlines_init(&t, 8);
    mlines_take(&t, A);
    mlines_take(&t, A);
    mlines_release(&t, 1);
    offer_and_answer(&t);
    assert_int_equal(t.line[1].state, MLINE_FREE);
    assert_int_equal(mlines_take(&t, V), 2); /* the free audio m-line is not a video one */
    assert_int_equal(t.line[2].kind, V);
    assert_int_equal(mlines_take(&t, A), 1);
}

static void test_first_mline_never_rejected(void **state)
{
    mlines_t t;
    mlines_init(&t, 8);
    mlines_take(&t, A);
    mlines_take(&t, V);
    mlines_release(&t, 0);
    assert_int_equal(t.line[0].state, MLINE_INACTIVE);
    assert_false(mlines_rejected(&t, 0)); /* stays in BUNDLE: it carries the transport */
    offer_and_answer(&t);
    assert_int_equal(t.line[0].state, MLINE_INACTIVE);
    assert_int_equal(mlines_take(&t, A), 2);
    /* releasing twice, or an m-line that does not exist, changes nothing */
    mlines_t before = t;
    mlines_release(&t, 0);
    mlines_release(&t, 7);
    mlines_release(&t, -1);
    assert_memory_equal(&before, &t, sizeof t);
}

static void test_freed_only_by_the_offer_that_showed_it(void **state)
{
    mlines_t t;
    mlines_init(&t, 8);
    mlines_take(&t, A);
    mlines_take(&t, V);
    mlines_t offered = t; /* the pending offer still shows m-line 1 sending */
    mlines_release(&t, 1);
    mlines_answered(&t, &offered);
    assert_int_equal(t.line[1].state, MLINE_STOPPING);
    /* an offer that showed it rejected under another mid does not free it either */
    offered = t;
    offered.line[1].mid = 99;
    mlines_answered(&t, &offered);
    assert_int_equal(t.line[1].state, MLINE_STOPPING);
    offer_and_answer(&t);
    assert_int_equal(t.line[1].state, MLINE_FREE);
}

static void test_cap_reached_changes_nothing(void **state)
{
    mlines_t t;
    mlines_init(&t, 4);
    for (int i = 0; i < 4; i++)
        assert_int_equal(mlines_take(&t, i % 2 ? V : A), i);
    offer_and_answer(&t);
    mlines_t before = t;
    /* full: refused, and the table (hence the next offer) is exactly as it was, so the caller
     * has nothing to renegotiate: no offer loop */
    assert_int_equal(mlines_take(&t, V), LG_EFULL);
    assert_int_equal(mlines_take(&t, A), LG_EFULL);
    assert_memory_equal(&before, &t, sizeof t);
    /* a video track leaves: once its rejection is answered, the waiting video track gets it */
    mlines_release(&t, 3);
    assert_int_equal(mlines_take(&t, V), LG_EFULL);
    offer_and_answer(&t);
    assert_int_equal(mlines_take(&t, A), LG_EFULL);
    assert_int_equal(mlines_take(&t, V), 3);
    assert_int_equal(t.line[3].mid, 4);
}

static void test_cap_is_clamped(void **state)
{
    mlines_t t;
    mlines_init(&t, 1000);
    assert_int_equal(t.cap, MLINES_MAX);
    for (int i = 0; i < MLINES_MAX; i++)
        assert_int_equal(mlines_take(&t, V), i);
    assert_int_equal(mlines_take(&t, V), LG_EFULL);
    mlines_init(&t, 0);
    assert_int_equal(t.cap, 1);
}

/* People come and go for a long meeting: the m-lines stay bounded by the most tracks received at
 * once (plus those whose rejection is still being negotiated), and no mid repeats. */
static void test_churn_stays_bounded(void **state)
{
    mlines_t t;
    mlines_init(&t, MLINES_MAX);
    int present[4][2]; /* four other participants at a time, audio and video m-line each */
    for (int p = 0; p < 4; p++) {
        present[p][0] = mlines_take(&t, A);
        present[p][1] = mlines_take(&t, V);
    }
    offer_and_answer(&t);
    uint8_t seen[1024] = {0};
    for (int i = 0; i < t.count; i++)
        seen[t.line[i].mid] = 1;
    for (int round = 0; round < 200; round++) {
        int p = round % 4;
        mlines_release(&t, present[p][0]);
        mlines_release(&t, present[p][1]);
        offer_and_answer(&t); /* the leave is negotiated */
        for (int k = 0; k < 2; k++) {
            present[p][k] = mlines_take(&t, k ? V : A);
            assert_true(present[p][k] >= 0);
            uint32_t mid = t.line[present[p][k]].mid;
            assert_true(mid < sizeof seen);
            assert_int_equal(seen[mid]++, 0); /* never a mid used before */
        }
        offer_and_answer(&t);
    }
    /* m-line 0 went inactive once (it carries the BUNDLE transport): one extra audio m-line */
    assert_int_equal(t.count, 9);
    assert_int_equal(t.next_mid, 8 + 200 * 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append_numbers_mids),
        cmocka_unit_test(test_recycle_after_answer_with_new_mid),
        cmocka_unit_test(test_kind_must_match),
        cmocka_unit_test(test_first_mline_never_rejected),
        cmocka_unit_test(test_freed_only_by_the_offer_that_showed_it),
        cmocka_unit_test(test_cap_reached_changes_nothing),
        cmocka_unit_test(test_cap_is_clamped),
        cmocka_unit_test(test_churn_stays_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
