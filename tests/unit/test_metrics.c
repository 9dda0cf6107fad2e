/* /metrics rendering: every family present, per-worker samples, valid exposition lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/metrics.h"

static void test_render(void **state)
{
    lg_counters_t w[2];
    memset(w, 0, sizeof w);
    w[0].packets_in = 12;
    w[0].bytes_in = 3456;
    w[1].packets_out = 7;
    w[1].drops[LG_DROP_STUN_MALFORMED] = 3;
    w[1].loop_lag_us_max = 1500;
    lg_metrics_view_t v = {.nworkers = 2, .workers = w, .control_lag_us_max = 250};
    char buf[16384];
    long n = lg_metrics_render(&v, buf, sizeof buf);
    assert_true(n > 0);
    assert_int_equal((size_t)n, strlen(buf));
    assert_non_null(strstr(buf, "legation_workers 2\n"));
    assert_non_null(strstr(buf, "legation_packets_received_total{worker=\"0\"} 12\n"));
    assert_non_null(strstr(buf, "legation_bytes_received_total{worker=\"0\"} 3456\n"));
    assert_non_null(strstr(buf, "legation_packets_sent_total{worker=\"1\"} 7\n"));
    assert_non_null(
        strstr(buf, "legation_packets_dropped_total{worker=\"1\",reason=\"stun_malformed\"} 3\n"));
    assert_non_null(strstr(buf, "legation_event_loop_lag_seconds{thread=\"worker-1\"} 0.001500\n"));
    assert_non_null(strstr(buf, "legation_event_loop_lag_seconds{thread=\"control\"} 0.000250\n"));
    assert_non_null(strstr(buf, "# TYPE legation_packets_dropped_total counter\n"));

    /* Every line is a comment or `legation_name{labels} number`. */
    regex_t re;
    assert_int_equal(
        regcomp(&re,
                "^(# (HELP|TYPE) legation_[a-z_]+ .+|legation_[a-z_]+(\\{[a-z]+=\"[^\"]*\""
                "(,[a-z]+=\"[^\"]*\")*\\})? [0-9.]+)$",
                REG_EXTENDED | REG_NOSUB),
        0);
    int lines = 0;
    for (char *save = NULL, *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (regexec(&re, l, 0, NULL, 0) != 0)
            fail_msg("not an exposition line: %s", l);
        lines++;
    }
    regfree(&re);
    assert_true(lines > 20);
}

static void test_signaling_counters(void **state)
{
    lg_counters_t w;
    memset(&w, 0, sizeof w);
    signaling_stats_t ss = {.joins = 3, .e2ee_automix_skipped = 4};
    lg_metrics_view_t v = {.nworkers = 1, .workers = &w, .signaling = &ss};
    char buf[16384];
    assert_true(lg_metrics_render(&v, buf, sizeof buf) > 0);
    assert_non_null(strstr(buf, "legation_joins_total 3\n"));
    assert_non_null(strstr(buf, "# TYPE legation_e2ee_automix_skipped_total counter\n"));
    assert_non_null(strstr(buf, "legation_e2ee_automix_skipped_total 4\n"));
}

static void test_overflow(void **state)
{
    lg_counters_t w;
    memset(&w, 0, sizeof w);
    lg_metrics_view_t v = {.nworkers = 1, .workers = &w};
    char small[64];
    assert_int_equal(lg_metrics_render(&v, small, sizeof small), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_render),
        cmocka_unit_test(test_signaling_counters),
        cmocka_unit_test(test_overflow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
