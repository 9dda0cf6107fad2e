/* Unit tests for bandwidth estimation: a simulated bottleneck link returns transport-cc feedback
 * (built and parsed with media/rtcp.h) for what the relay sends. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "media/bwe.h"
#include "media/rtcp.h"
#include "sfu/lg_error.h"

#define PKT_BYTES   1200
#define FEEDBACK_US 100000
#define MAX_PENDING 8192

typedef struct pending {
    uint16_t seq;
    bool lost;
    uint64_t recv_us; /* relay clock */
} pending_t;

typedef struct sim {
    bwe_t bwe;
    uint64_t now_us;
    double link_bps;
    uint64_t base_delay_us;
    uint64_t link_free_us; /* when the bottleneck has sent everything queued */
    uint64_t rx_offset_us; /* receiver clock = relay clock + offset */
    uint32_t lose_every;   /* lose every n-th packet, 0 none */
    double send_bps;       /* 0: send at the estimate */
    uint16_t next_seq;
    uint64_t sent;
    uint8_t fb_count;
    pending_t pend[MAX_PENDING];
    size_t npend;
    bool saw_overuse;
    bool decreased;                          /* the estimate ever went down */
    uint64_t min_est, max_est, max_queue_us; /* since the last sim_watch() */
} sim_t;

static sim_t *sim_new(const bwe_config_t *cfg, double link_bps)
{
    sim_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    assert_int_equal(bwe_init(&s->bwe, cfg), 0);
    s->link_bps = link_bps;
    s->base_delay_us = 20000;
    s->now_us = 1000000;
    s->rx_offset_us = 987654321;
    return s;
}

static void send_one(sim_t *s)
{
    uint16_t seq = s->next_seq++;
    bwe_on_send(&s->bwe, seq, s->now_us, PKT_BYTES);
    pending_t *p = &s->pend[s->npend++];
    p->seq = seq;
    p->lost = s->lose_every && ++s->sent % s->lose_every == 0;
    if (p->lost)
        return;
    uint64_t start = s->now_us > s->link_free_us ? s->now_us : s->link_free_us;
    s->link_free_us = start + (uint64_t)(PKT_BYTES * 8 * 1e6 / s->link_bps);
    p->recv_us = s->link_free_us + s->base_delay_us;
}

/* Encodes what the receiver has by now as transport-cc, parses it back, feeds the estimator. */
static void feedback(sim_t *s)
{
    size_t n = 0;
    while (n < s->npend && (s->pend[n].lost || s->pend[n].recv_us <= s->now_us))
        n++;
    while (n > 0 && s->pend[n - 1].lost) /* trailing losses are not known yet */
        n--;
    if (n == 0)
        return;
    static rtcp_twcc_status_t st[MAX_PENDING], back[MAX_PENDING];
    size_t first = 0;
    while (s->pend[first].lost)
        first++;
    uint64_t first_ticks = (s->pend[first].recv_us + s->rx_offset_us) / RTCP_TWCC_TICK_US;
    uint64_t ref = first_ticks / 256, prev = ref * 256;
    for (size_t i = 0; i < n; i++) {
        if (s->pend[i].lost) {
            st[i].symbol = RTCP_TWCC_NOT_RECEIVED;
            st[i].delta = 0;
            continue;
        }
        uint64_t ticks = (s->pend[i].recv_us + s->rx_offset_us) / RTCP_TWCC_TICK_US;
        st[i].delta = (int16_t)(int64_t)(ticks - prev);
        st[i].symbol = rtcp_twcc_symbol(st[i].delta);
        prev = ticks;
    }
    rtcp_twcc_t hdr = {.sender_ssrc = 1,
                       .media_ssrc = 2,
                       .base_seq = s->pend[0].seq,
                       .ref_time = (int32_t)(ref & 0xffffff),
                       .fb_count = s->fb_count++};
    static uint8_t buf[RTCP_MAX_PACKET];
    rtcp_writer_t w;
    rtcp_writer_init(&w, buf, sizeof buf);
    assert_int_equal(rtcp_write_twcc(&w, &hdr, st, n), 0);
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_fb_t fb;
    rtcp_twcc_t parsed;
    size_t nback;
    rtcp_iter_init(&it, buf, w.len);
    assert_int_equal(rtcp_iter_next(&it, &pkt), 1);
    assert_int_equal(rtcp_parse_fb(&pkt, &fb), 0);
    assert_int_equal(rtcp_twcc_parse(&fb, &parsed, back, MAX_PENDING, &nback), 0);
    assert_int_equal(nback, n);
    uint64_t before = bwe_estimate(&s->bwe);
    assert_int_equal(bwe_on_twcc(&s->bwe, &parsed, back, nback, s->now_us), 0);
    if (bwe_estimate(&s->bwe) < before)
        s->decreased = true;
    if (bwe_usage(&s->bwe) == BWE_OVERUSE)
        s->saw_overuse = true;
    uint64_t est = bwe_estimate(&s->bwe);
    uint64_t queue = s->link_free_us > s->now_us ? s->link_free_us - s->now_us : 0;
    s->min_est = est < s->min_est ? est : s->min_est;
    s->max_est = est > s->max_est ? est : s->max_est;
    s->max_queue_us = queue > s->max_queue_us ? queue : s->max_queue_us;
    memmove(s->pend, s->pend + n, (s->npend - n) * sizeof *s->pend);
    s->npend -= n;
}

/* Starts watching the range of the estimate and the bottleneck queue. */
static void sim_watch(sim_t *s)
{
    s->min_est = UINT64_MAX;
    s->max_est = 0;
    s->max_queue_us = 0;
}

/* Runs the sender and the feedback loop for ms milliseconds, 1 ms per step. */
static void run(sim_t *s, uint32_t ms)
{
    double credit = 0;
    for (uint32_t i = 0; i < ms; i++) {
        double rate = s->send_bps > 0 ? s->send_bps : (double)bwe_estimate(&s->bwe);
        credit += rate / 1000.0;
        while (credit >= PKT_BYTES * 8 && s->npend < MAX_PENDING) {
            send_one(s);
            credit -= PKT_BYTES * 8;
        }
        s->now_us += 1000;
        if (s->now_us % FEEDBACK_US == 0)
            feedback(s);
    }
}

static void test_ramp_up_without_delay_growth(void **state)
{
    (void)state;
    sim_t *s = sim_new(NULL, 10e6);
    assert_int_equal(bwe_estimate(&s->bwe), 300000);
    run(s, 10000);
    uint64_t est = bwe_estimate(&s->bwe);
    /* 8%/s for 10 s: about 2.1x the start. */
    if (est < 550000 || est > 800000)
        fail_msg("estimate after 10 s: %llu", (unsigned long long)est);
    assert_false(s->decreased);
    assert_false(s->saw_overuse);
    assert_false(bwe_low(&s->bwe));
    free(s);
}

static void test_ramp_up_across_reference_time_wrap(void **state)
{
    (void)state;
    sim_t *s = sim_new(NULL, 10e6);
    /* The receiver's 24-bit reference time (64 ms units) wraps 3 s into the run. */
    s->rx_offset_us = (uint64_t)0x1000000 * 64000 - s->now_us - 3000000;
    run(s, 8000);
    assert_false(s->decreased);
    assert_true(bwe_estimate(&s->bwe) > 450000);
    free(s);
}

static void test_overuse_decreases(void **state)
{
    (void)state;
    bwe_config_t cfg = {.start_bps = 2000000};
    sim_t *s = sim_new(&cfg, 1e6);
    s->send_bps = 1.5e6; /* half again what the link carries: the queue grows */
    run(s, 3000);
    assert_true(s->saw_overuse);
    uint64_t est = bwe_estimate(&s->bwe);
    if (est > 1000000 || est < 500000)
        fail_msg("estimate after overuse: %llu", (unsigned long long)est);
    /* The sender backs off to the estimate: the queue drains, no further collapse. */
    s->send_bps = 0;
    run(s, 5000);
    assert_true(bwe_estimate(&s->bwe) >= 500000);
    free(s);
}

static void test_tracks_a_bottleneck(void **state)
{
    (void)state;
    /* A sender that follows the estimate through a 1 Mbps bottleneck: the estimate climbs to the
     * capacity, then saws just below it while the queue stays short. */
    bwe_config_t cfg = {.start_bps = 600000};
    sim_t *s = sim_new(&cfg, 1e6);
    run(s, 10000);
    assert_true(s->saw_overuse);
    sim_watch(s);
    run(s, 30000);
    if (s->min_est < 750000 || s->max_est > 1100000 || s->max_queue_us > 60000)
        fail_msg("estimate %llu..%llu bps, queue up to %llu us", (unsigned long long)s->min_est,
                 (unsigned long long)s->max_est, (unsigned long long)s->max_queue_us);
    free(s);
}

static void test_app_limited_sender(void **state)
{
    (void)state;
    /* The relay only has 300 kbps to send on a fast link: the estimate may run ahead of that
     * by half (1.5x + 10 kbps), not without bound. */
    sim_t *s = sim_new(NULL, 10e6);
    s->send_bps = 300000;
    run(s, 20000);
    uint64_t est = bwe_estimate(&s->bwe);
    if (est < 420000 || est > 470000)
        fail_msg("estimate with 300 kbps sent: %llu", (unsigned long long)est);
    assert_false(s->decreased);
    free(s);
}

static void test_heavy_loss_decreases(void **state)
{
    (void)state;
    bwe_config_t cfg = {.start_bps = 1000000};
    sim_t *clean = sim_new(&cfg, 10e6);
    clean->send_bps = 500000;
    run(clean, 3000);
    assert_true(bwe_estimate(&clean->bwe) >= 1000000);
    free(clean);

    sim_t *s = sim_new(&cfg, 10e6);
    s->send_bps = 500000;
    s->lose_every = 5; /* 20% */
    run(s, 3000);
    uint64_t lossy = bwe_estimate(&s->bwe);
    if (lossy > 650000)
        fail_msg("estimate under 20%% loss: %llu", (unsigned long long)lossy);
    assert_false(s->saw_overuse);
    /* 5% loss: neither cut nor raised. */
    s->lose_every = 20;
    run(s, 2000);
    uint64_t held = bwe_estimate(&s->bwe);
    assert_true(held <= lossy);
    /* Loss gone: the cap grows again. */
    s->lose_every = 0;
    run(s, 3000);
    assert_true(bwe_estimate(&s->bwe) > held * 11 / 10);
    free(s);
}

static void test_remb(void **state)
{
    (void)state;
    bwe_t b;
    bwe_init(&b, NULL);
    /* REMB alone is the estimate, within the limits. */
    bwe_on_remb(&b, 800000, 0);
    assert_int_equal(bwe_estimate(&b), 800000);
    bwe_on_remb(&b, 50000000, 0);
    assert_int_equal(bwe_estimate(&b), 20000000);
    bwe_on_remb(&b, 1000, 0);
    assert_int_equal(bwe_estimate(&b), 30000);
    bwe_on_remb(&b, 0, 0);
    assert_int_equal(bwe_estimate(&b), 300000);

    /* With transport-cc, REMB caps the delay-based estimate. */
    sim_t *s = sim_new(NULL, 10e6);
    bwe_on_remb(&s->bwe, 400000, s->now_us);
    run(s, 10000);
    assert_int_equal(bwe_estimate(&s->bwe), 400000);
    assert_true(s->bwe.delay_bps > 400000);
    free(s);
}

static void test_low_flag_hysteresis(void **state)
{
    (void)state;
    bwe_config_t cfg = {.low_enter_bps = 150000, .low_exit_bps = 250000};
    bwe_t b;
    assert_int_equal(bwe_init(&b, &cfg), 0);
    assert_false(bwe_low(&b));
    const struct {
        uint64_t remb;
        bool low;
    } steps[] = {{200000, false}, {149000, true},  {200000, true}, {250000, true},
                 {251000, false}, {160000, false}, {100000, true}, {300000, false}};
    for (size_t i = 0; i < sizeof steps / sizeof steps[0]; i++) {
        bwe_on_remb(&b, steps[i].remb, 0);
        if (bwe_low(&b) != steps[i].low)
            fail_msg("step %zu (%llu bps): low = %d", i, (unsigned long long)steps[i].remb,
                     bwe_low(&b));
    }
}

static void test_arguments_and_unknown_seqs(void **state)
{
    (void)state;
    bwe_t b;
    bwe_config_t bad = {.min_bps = 1000000, .max_bps = 100000};
    assert_int_equal(bwe_init(&b, &bad), LG_EINVAL);
    assert_int_equal(bwe_init(NULL, NULL), LG_EINVAL);
    bwe_init(&b, NULL);
    rtcp_twcc_t hdr = {.base_seq = 100, .ref_time = 5};
    rtcp_twcc_status_t st[3] = {{100, RTCP_TWCC_SMALL_DELTA, 4},
                                {101, RTCP_TWCC_NOT_RECEIVED, 0},
                                {102, RTCP_TWCC_LARGE_DELTA, -3}};
    assert_int_equal(bwe_on_twcc(NULL, &hdr, st, 3, 0), LG_EINVAL);
    assert_int_equal(bwe_on_twcc(&b, NULL, st, 3, 0), LG_EINVAL);
    assert_int_equal(bwe_on_twcc(&b, &hdr, NULL, 3, 0), LG_EINVAL);
    /* Nothing was sent with these seqs: ignored. */
    assert_int_equal(bwe_on_twcc(&b, &hdr, st, 3, 0), 0);
    assert_false(b.have_twcc);
    assert_int_equal(bwe_estimate(&b), 300000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ramp_up_without_delay_growth),
        cmocka_unit_test(test_ramp_up_across_reference_time_wrap),
        cmocka_unit_test(test_overuse_decreases),
        cmocka_unit_test(test_tracks_a_bottleneck),
        cmocka_unit_test(test_app_limited_sender),
        cmocka_unit_test(test_heavy_loss_decreases),
        cmocka_unit_test(test_remb),
        cmocka_unit_test(test_low_flag_hysteresis),
        cmocka_unit_test(test_arguments_and_unknown_seqs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
