/* Unit tests for active speaker detection on synthetic RFC 6464 level sequences. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/active_speaker.h"
#include "sfu/lg_error.h"

#define QUIET 110 /* -110 dBov: background */
#define TALK  30  /* -30 dBov: speech */

/* Levels for every slot over [from, to) ms, one packet per 20 ms, updates every 100 ms. Returns
 * the number of dominant-speaker changes and the time of the last one. */
typedef struct run_result {
    int changes;
    uint64_t last_change_ms;
    uint32_t dominant;
} run_result_t;

static run_result_t run(speaker_room_t *r, const int *slots, const uint8_t *levels, size_t n,
                        uint64_t from, uint64_t to)
{
    run_result_t res = {0, 0, SPEAKER_NONE};
    for (uint64_t t = from; t < to; t += 20) {
        for (size_t i = 0; i < n; i++)
            assert_int_equal(speaker_on_level(r, slots[i], levels[i], levels[i] < 100, t), 0);
        if (t % 100 == 0 && speaker_update(r, t, &res.dominant)) {
            res.changes++;
            res.last_change_ms = t;
        }
    }
    return res;
}

static void test_membership(void **state)
{
    (void)state;
    speaker_room_t r;
    assert_int_equal(speaker_init(&r, NULL), 0);
    assert_int_equal(speaker_add(&r, SPEAKER_NONE), LG_EINVAL);
    int a = speaker_add(&r, 7);
    assert_true(a >= 0);
    assert_int_equal(speaker_add(&r, 7), LG_EEXIST);
    for (uint32_t id = 100; id < 100 + SPEAKER_MAX - 1; id++)
        assert_true(speaker_add(&r, id) >= 0);
    assert_int_equal(speaker_add(&r, 99), LG_EFULL);
    assert_int_equal(speaker_remove(&r, a), 0);
    assert_int_equal(speaker_remove(&r, a), LG_ENOTFOUND);
    assert_int_equal(speaker_on_level(&r, a, 10, true, 0), LG_ENOTFOUND);
    assert_int_equal(speaker_on_level(&r, -1, 10, true, 0), LG_ENOTFOUND);
    assert_int_equal(speaker_add(&r, 99), a); /* the freed slot is reused */
}

static void test_switch_after_hold(void **state)
{
    (void)state;
    speaker_room_t r;
    speaker_init(&r, NULL);
    int slots[2] = {speaker_add(&r, 1), speaker_add(&r, 2)};
    uint8_t lv[2] = {TALK, QUIET};
    run_result_t res = run(&r, slots, lv, 2, 0, 3000);
    assert_int_equal(res.changes, 1);
    assert_int_equal(res.dominant, 1);
    /* Speaker 2 takes over at 3000 ms. The switch waits for the averages to cross and then
     * for hold_ms more: not before 3000 + 400, well within 2 s. */
    lv[0] = QUIET;
    lv[1] = TALK;
    res = run(&r, slots, lv, 2, 3000, 6000);
    assert_int_equal(res.changes, 1);
    assert_int_equal(res.dominant, 2);
    assert_true(res.last_change_ms >= 3400);
    assert_true(res.last_change_ms <= 5000);
    /* A short interjection (300 ms) by speaker 1 does not steal the floor. */
    lv[0] = TALK;
    lv[1] = TALK;
    res = run(&r, slots, lv, 2, 6000, 6300);
    lv[0] = QUIET;
    res = run(&r, slots, lv, 2, 6300, 8000);
    assert_int_equal(res.changes, 0);
    assert_int_equal(res.dominant, 2);
}

static void test_hold_time(void **state)
{
    (void)state;
    /* Fast smoothing, so only the hold time stands between a louder voice and the switch. */
    speaker_config_t cfg;
    speaker_default_config(&cfg);
    cfg.tau_ms = 60;
    cfg.hold_ms = 500;
    speaker_room_t r;
    speaker_init(&r, &cfg);
    int slots[2] = {speaker_add(&r, 1), speaker_add(&r, 2)};
    uint8_t lv[2] = {40, QUIET};
    run_result_t res = run(&r, slots, lv, 2, 0, 1000);
    assert_int_equal(res.dominant, 1);
    /* Speaker 2, much louder, for 400 ms: shorter than the hold time, no switch. */
    lv[1] = 10;
    res = run(&r, slots, lv, 2, 1000, 1400);
    lv[1] = QUIET;
    res = run(&r, slots, lv, 2, 1400, 2000);
    assert_int_equal(res.changes, 0);
    /* The same for a whole second: the switch comes once the lead has lasted 500 ms. */
    lv[1] = 10;
    res = run(&r, slots, lv, 2, 2000, 3000);
    assert_int_equal(res.changes, 1);
    assert_int_equal(res.dominant, 2);
    assert_true(res.last_change_ms >= 2500 && res.last_change_ms <= 2700);
}

static void test_no_flapping(void **state)
{
    (void)state;
    speaker_room_t r;
    speaker_init(&r, NULL);
    int slots[2] = {speaker_add(&r, 1), speaker_add(&r, 2)};
    /* Two voices about equally loud, alternating who is a bit louder every 200 ms. */
    int changes = 0;
    for (uint64_t t = 0; t < 20000; t += 20) {
        bool phase = (t / 200) % 2;
        speaker_on_level(&r, slots[0], phase ? 30 : 32, true, t);
        speaker_on_level(&r, slots[1], phase ? 32 : 30, true, t);
        if (t % 100 == 0 && speaker_update(&r, t, NULL))
            changes++;
    }
    assert_int_equal(changes, 1); /* the first pick, then never again */

    /* A challenger steadily but only slightly louder (1 dB, under the margin) never takes over;
     * 5 dB louder does. */
    speaker_init(&r, NULL);
    slots[0] = speaker_add(&r, 1);
    slots[1] = speaker_add(&r, 2);
    uint8_t lv[2] = {32, QUIET};
    run(&r, slots, lv, 2, 0, 3000);
    lv[1] = 31;
    run_result_t res = run(&r, slots, lv, 2, 3000, 13000);
    assert_int_equal(res.changes, 0);
    lv[1] = 27;
    res = run(&r, slots, lv, 2, 13000, 16000);
    assert_int_equal(res.changes, 1);
    assert_int_equal(res.dominant, 2);
}

static void test_silence(void **state)
{
    (void)state;
    speaker_config_t cfg;
    speaker_default_config(&cfg);
    cfg.clear_after_ms = 2000;
    speaker_room_t r;
    speaker_init(&r, &cfg);
    int slots[2] = {speaker_add(&r, 1), speaker_add(&r, 2)};
    /* Background noise only: nobody becomes dominant. */
    uint8_t lv[2] = {QUIET, 95};
    run_result_t res = run(&r, slots, lv, 2, 0, 3000);
    assert_int_equal(res.changes, 0);
    assert_int_equal(res.dominant, SPEAKER_NONE);
    size_t ntop;
    speaker_level_t top[2];
    ntop = speaker_top(&r, 3000, top, 2);
    assert_int_equal(ntop, 0);
    /* Speaker 1 talks, then everyone stops sending packets (muted): cleared after decay +2 s. */
    lv[0] = TALK;
    res = run(&r, slots, lv, 2, 3000, 5000);
    assert_int_equal(res.dominant, 1);
    uint32_t dom = 1;
    uint64_t cleared = 0;
    for (uint64_t t = 5000; t < 12000 && !cleared; t += 100)
        if (speaker_update(&r, t, &dom))
            cleared = t;
    assert_int_equal(dom, SPEAKER_NONE);
    assert_true(cleared >= 7000);
    assert_true(speaker_loudness(&r, slots[0], cleared) < cfg.min_loudness);

    /* Default config keeps the last speaker through silence. */
    speaker_init(&r, NULL);
    slots[0] = speaker_add(&r, 1);
    slots[1] = speaker_add(&r, 2);
    lv[0] = TALK;
    lv[1] = QUIET;
    run(&r, slots, lv, 2, 0, 2000);
    lv[0] = QUIET;
    res = run(&r, slots, lv, 2, 2000, 10000);
    assert_int_equal(res.changes, 0);
    assert_int_equal(res.dominant, 1);
}

static void test_removal_of_dominant(void **state)
{
    (void)state;
    speaker_room_t r;
    speaker_init(&r, NULL);
    int slots[2] = {speaker_add(&r, 1), speaker_add(&r, 2)};
    uint8_t lv[2] = {TALK, 40};
    run(&r, slots, lv, 2, 0, 2000);
    assert_int_equal(speaker_remove(&r, slots[0]), 0);
    uint32_t dom;
    assert_true(speaker_update(&r, 2000, &dom));
    assert_int_equal(dom, 2); /* nobody dominant: the loudest takes over at once */
}

static void test_top_k_order(void **state)
{
    (void)state;
    speaker_room_t r;
    speaker_init(&r, NULL);
    const uint8_t levels[5] = {50, 20, QUIET, 35, 20};
    int slots[5];
    for (int i = 0; i < 5; i++)
        slots[i] = speaker_add(&r, (uint32_t)(10 + i));
    run(&r, slots, levels, 5, 0, 3000);
    speaker_level_t top[5];
    /* Loudest first; equal levels keep slot order; the quiet one is left out. */
    size_t n = speaker_top(&r, 3000, top, 5);
    assert_int_equal(n, 4);
    const uint32_t want[4] = {11, 14, 13, 10};
    for (size_t i = 0; i < n; i++)
        assert_int_equal(top[i].id, want[i]);
    assert_true(top[0].loudness > top[2].loudness);
    n = speaker_top(&r, 3000, top, 2);
    assert_int_equal(n, 2);
    assert_int_equal(top[0].id, 11);
    assert_int_equal(top[1].id, 14);
    n = speaker_top(&r, 3000, top, 1);
    assert_int_equal(top[0].id, 11);
    assert_int_equal(speaker_top(&r, 3000, top, 0), 0);
}

static void test_voice_flag(void **state)
{
    (void)state;
    speaker_config_t cfg;
    speaker_default_config(&cfg);
    cfg.use_voice_flag = true;
    speaker_room_t r;
    speaker_init(&r, &cfg);
    int a = speaker_add(&r, 1);
    for (uint64_t t = 0; t < 2000; t += 20)
        speaker_on_level(&r, a, TALK, false, t); /* loud, but the sender says not voice */
    uint32_t dom;
    assert_false(speaker_update(&r, 2000, &dom));
    assert_int_equal(dom, SPEAKER_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_membership),  cmocka_unit_test(test_switch_after_hold),
        cmocka_unit_test(test_hold_time),   cmocka_unit_test(test_no_flapping),
        cmocka_unit_test(test_silence),     cmocka_unit_test(test_removal_of_dominant),
        cmocka_unit_test(test_top_k_order), cmocka_unit_test(test_voice_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
