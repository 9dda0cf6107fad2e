/* Config: defaults, every key from a file, flags overriding the file, errors naming key and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "sfu/config.h"
#include "sfu/lg_error.h"

static void test_defaults(void **state)
{
    lg_config_t c;
    lg_config_defaults(&c);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 8443);
    assert_int_equal(c.media_port, 40000);
    assert_int_equal(c.media_addr_count, 1);
    assert_true(c.workers >= 1);
    assert_int_equal(c.log_level, LG_LOG_INFO);
    char err[256];
    assert_int_equal(lg_config_validate(&c, err, sizeof err), 0);
}

static void test_good_file(void **state)
{
    lg_config_t c;
    char err[512] = "";
    lg_config_defaults(&c);
    assert_int_equal(lg_config_load_file(&c, "tests/fixtures/config/good.conf", err, sizeof err),
                     0);
    assert_string_equal(c.state_dir, "/tmp/legation-test-state");
    assert_string_equal(c.listen_host, "::1");
    assert_int_equal(c.listen_port, 9443);
    assert_int_equal(c.media_port, 41000);
    assert_int_equal(c.media_addr_count, 2);
    assert_string_equal(c.media_addrs[0], "127.0.0.1");
    assert_string_equal(c.media_addrs[1], "::1");
    assert_int_equal(c.workers, 3);
    assert_int_equal(c.log_level, LG_LOG_DEBUG);
    assert_string_equal(c.tls_cert, "/etc/legation/tls chain.pem");
    assert_string_equal(c.dtls_key, "/etc/legation/dtls.key");
    assert_string_equal(c.web_root, "/usr/share/legation/web");
    assert_int_equal(c.stats_interval_ms, 250);
    assert_int_equal(lg_config_validate(&c, err, sizeof err), 0);
}

static void test_unknown_key_names_line(void **state)
{
    lg_config_t c;
    char err[512] = "";
    lg_config_defaults(&c);
    int rc = lg_config_load_file(&c, "tests/fixtures/config/unknown-key.conf", err, sizeof err);
    assert_int_equal(rc, LG_ENOTFOUND);
    assert_non_null(strstr(err, "line 4"));
    assert_non_null(strstr(err, "'workres'"));
    assert_int_equal(c.workers, 2); /* lines before the error were applied */
}

static void test_bad_value_names_key_and_line(void **state)
{
    lg_config_t c;
    char err[512] = "";
    lg_config_defaults(&c);
    int rc = lg_config_load_file(&c, "tests/fixtures/config/bad-value.conf", err, sizeof err);
    assert_int_equal(rc, LG_EINVAL);
    assert_non_null(strstr(err, "line 2"));
    assert_non_null(strstr(err, "'media-port'"));
    assert_non_null(strstr(err, "70000"));
    assert_int_equal(
        lg_config_load_file(&c, "tests/fixtures/config/no-equals.conf", err, sizeof err),
        LG_EINVAL);
    assert_non_null(strstr(err, "line 1"));
    assert_int_equal(lg_config_load_file(&c, "tests/fixtures/config/missing.conf", err, sizeof err),
                     LG_EIO);
    assert_non_null(strstr(err, "missing.conf"));
}

static void test_flags(void **state)
{
    lg_config_t c;
    char err[512] = "";
    lg_config_defaults(&c);
    char *argv[] = {"legation",
                    "run",
                    "--config",
                    "tests/fixtures/config/good.conf",
                    "--workers",
                    "5",
                    "--listen=127.0.0.1:1234",
                    "--log-level",
                    "warn"};
    assert_int_equal(lg_config_parse_args(&c, 9, argv, 2, err, sizeof err), 0);
    assert_int_equal(c.workers, 5); /* flag after --config overrides the file */
    assert_int_equal(c.media_port, 41000);
    assert_string_equal(c.listen_host, "127.0.0.1");
    assert_int_equal(c.listen_port, 1234);
    assert_int_equal(c.log_level, LG_LOG_WARN);
}

static void test_bad_flags(void **state)
{
    lg_config_t c;
    char err[512];
    lg_config_defaults(&c);
    char *a1[] = {"legation", "run", "--workers", "zero"};
    assert_int_equal(lg_config_parse_args(&c, 4, a1, 2, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "--workers"));
    char *a2[] = {"legation", "run", "--no-such-key", "1"};
    assert_int_equal(lg_config_parse_args(&c, 4, a2, 2, err, sizeof err), LG_ENOTFOUND);
    assert_non_null(strstr(err, "no-such-key"));
    char *a3[] = {"legation", "run", "--workers"};
    assert_int_equal(lg_config_parse_args(&c, 3, a3, 2, err, sizeof err), LG_EINVAL);
    char *a4[] = {"legation", "run", "--listen", "localhost"};
    assert_int_equal(lg_config_parse_args(&c, 4, a4, 2, err, sizeof err), LG_EINVAL);
    char *a5[] = {"legation", "run", "--media-listen", "127.0.0.1,not-an-ip"};
    assert_int_equal(lg_config_parse_args(&c, 4, a5, 2, err, sizeof err), LG_EINVAL);
    char *a7[] = {"legation", "run", "--mix-ptime", "30"};
    assert_int_equal(lg_config_parse_args(&c, 4, a7, 2, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "20, 40 or 60"));
    char *a8[] = {"legation", "run", "--mix-ptime", "40", "--mix-bitrate", "8000"};
    assert_int_equal(lg_config_parse_args(&c, 6, a8, 2, err, sizeof err), 0);
    assert_int_equal(c.mix_ptime_ms, 40);
    assert_int_equal(c.mix_bitrate, 8000);
    assert_int_equal(c.subscribe_mlines, 64);
    char *a9[] = {"legation", "run", "--subscribe-mlines", "65"};
    assert_int_equal(lg_config_parse_args(&c, 4, a9, 2, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "2..64"));
    char *a10[] = {"legation", "run", "--subscribe-mlines", "24"};
    assert_int_equal(lg_config_parse_args(&c, 4, a10, 2, err, sizeof err), 0);
    assert_int_equal(c.subscribe_mlines, 24);
    char *a6[] = {"legation", "run", "stray"};
    assert_int_equal(lg_config_parse_args(&c, 3, a6, 2, err, sizeof err), LG_EINVAL);
}

static void test_validate(void **state)
{
    lg_config_t c;
    char err[512];
    lg_config_defaults(&c);
    c.media_port = 65534;
    c.workers = 4;
    assert_int_equal(lg_config_validate(&c, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "media-port"));
    lg_config_defaults(&c);
    strcpy(c.tls_cert, "/x.pem");
    assert_int_equal(lg_config_validate(&c, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "tls-key"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good_file),
        cmocka_unit_test(test_unknown_key_names_line),
        cmocka_unit_test(test_bad_value_names_key_and_line),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_bad_flags),
        cmocka_unit_test(test_validate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
