/* Receiver statistics (RFC 3550 A.1, A.3, A.8): loss, wrap, restart, jitter, LSR/DLSR. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sfu/rtcp_reports.h"

static void test_loss_and_wrap(void **state)
{
    rx_stats_t s;
    memset(&s, 0, sizeof s);
    /* 65530..65535, 0..9 with 3 and 4 lost: 16 expected, 14 received, across the wrap. */
    uint16_t seq = 65530;
    for (int i = 0; i < 16; i++, seq++)
        if (seq != 3 && seq != 4)
            rx_stats_update(&s, seq, (uint32_t)i * 960, 48000, (uint64_t)i * 20000);
    rtcp_report_block_t rb;
    rx_stats_block(&s, 0x1234, 1000, &rb);
    assert_int_equal(rb.ssrc, 0x1234);
    assert_int_equal(rb.highest_seq, 65536 + 9);
    assert_int_equal(rb.cumulative_lost, 2);
    assert_int_equal(rb.fraction_lost, (2 << 8) / 16);
    assert_int_equal(rb.jitter, 0); /* perfectly paced */
    assert_int_equal(rb.lsr, 0);
    assert_int_equal(rb.dlsr, 0);
    /* Next interval: nothing lost. */
    for (int i = 0; i < 10; i++, seq++)
        rx_stats_update(&s, seq, (uint32_t)(16 + i) * 960, 48000, (uint64_t)(16 + i) * 20000);
    rx_stats_block(&s, 0x1234, 2000, &rb);
    assert_int_equal(rb.fraction_lost, 0);
    assert_int_equal(rb.cumulative_lost, 2);
}

static void test_reorder_duplicate_restart(void **state)
{
    rx_stats_t s;
    memset(&s, 0, sizeof s);
    rx_stats_update(&s, 100, 0, 90000, 0);
    rx_stats_update(&s, 102, 0, 90000, 0);
    rx_stats_update(&s, 101, 0, 90000, 0); /* late: does not move max_seq back */
    rtcp_report_block_t rb;
    rx_stats_block(&s, 1, 0, &rb);
    assert_int_equal(rb.highest_seq, 102);
    assert_int_equal(rb.cumulative_lost, 0);
    rx_stats_update(&s, 40000, 0, 90000, 0); /* a jump: the source restarted */
    rx_stats_update(&s, 40001, 0, 90000, 0);
    rx_stats_block(&s, 1, 0, &rb);
    assert_int_equal(rb.highest_seq, 40001);
    assert_int_equal(rb.cumulative_lost, 0);
}

static void test_jitter_and_lsr(void **state)
{
    rx_stats_t s;
    memset(&s, 0, sizeof s);
    /* 90 kHz, packets every 10 ms of media, arrivals alternate 10 ms early/late by 1 ms. */
    for (int i = 0; i < 200; i++) {
        uint64_t arrival_us = (uint64_t)i * 10000 + (i % 2 ? 1000 : 0);
        rx_stats_update(&s, (uint16_t)i, (uint32_t)i * 900, 90000, arrival_us);
    }
    rtcp_report_block_t rb;
    rx_stats_block(&s, 1, 0, &rb);
    /* |D| = 1 ms = 90 units every packet: the estimate converges to 90. */
    assert_in_range(rb.jitter, 85, 90);
    rx_stats_on_sr(&s, 0x0001234567890000ull, 5000);
    rx_stats_block(&s, 1, 5500, &rb);
    assert_int_equal(rb.lsr, 0x23456789);
    assert_int_equal(rb.dlsr, 32768); /* 0.5 s in 1/65536 s */
    uint64_t ntp = rtcp_ntp_now();
    assert_true((ntp >> 32) > 3900000000u); /* after 2023 in NTP seconds */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_and_wrap),
        cmocka_unit_test(test_reorder_duplicate_restart),
        cmocka_unit_test(test_jitter_and_lsr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
