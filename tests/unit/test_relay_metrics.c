/* Unit tests for the bench's /metrics reader: sums over a page the relay's own renderer wrote. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "bench/relay_metrics.h"
#include "sfu/lg_error.h"
#include "sfu/metrics.h"

/* Per-worker samples of a two-worker relay, from lg_metrics_render itself. */
static void test_sum_rendered_page(void **state)
{
    lg_counters_t w[2];
    memset(w, 0, sizeof w);
    w[0].mix_cpu_ns = 1500000000ULL;
    w[1].mix_cpu_ns = 250;
    w[0].mix_decodes = 7;
    w[1].mix_decodes = 5;
    lg_metrics_view_t v = {.nworkers = 2, .workers = w};
    static char page[65536];
    long n = lg_metrics_render(&v, page, sizeof page);
    assert_true(n > 0);
    double x;
    assert_int_equal(relay_metrics_sum(page, (size_t)n, "legation_mixer_cpu_nanoseconds_total", &x),
                     0);
    assert_true(x == 1500000250.0);
    assert_int_equal(relay_metrics_sum(page, (size_t)n, "legation_mix_decodes_total", &x), 0);
    assert_true(x == 12.0);
    assert_int_equal(relay_metrics_sum(page, (size_t)n, "legation_workers", &x), 0);
    assert_true(x == 2.0);
    assert_int_equal(relay_metrics_sum(page, (size_t)n, "legation_no_such_metric", &x),
                     LG_ENOTFOUND);
}

/* A name is matched whole: a longer metric sharing its prefix, comments and a sample cut short
 * at the end of the buffer do not count. */
static void test_sum_exact_names(void **state)
{
    const char *page = "# HELP legation_mix_decodes_total Opus decodes\n"
                       "# TYPE legation_mix_decodes_total counter\n"
                       "legation_mix_decodes_total_extra{worker=\"0\"} 100\n"
                       "legation_mix_decodes_total{worker=\"0\",x=\"a b\"} 3\n"
                       "legation_mix_decodes_total 4.5\n"
                       "legation_mix_decodes_total{worker=\"1\"}";
    double x = -1;
    assert_int_equal(relay_metrics_sum(page, strlen(page), "legation_mix_decodes_total", &x), 0);
    assert_true(x == 7.5);
    assert_int_equal(relay_metrics_sum(page, strlen(page), "legation_mix", &x), LG_ENOTFOUND);
    assert_int_equal(relay_metrics_sum("", 0, "legation_mix_decodes_total", &x), LG_ENOTFOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_rendered_page),
        cmocka_unit_test(test_sum_exact_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
