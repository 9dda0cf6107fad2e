/* Unit tests for signaling/negotiate.c, the policy publish and subscribe share: validation of
 * the relay's local transport (fingerprint, ICE credentials, candidates). */
#include "negotiate_fixtures.h"

static void test_publish_bad_local(void **state)
{
    sdp_session_t *offer = parse_file(CHROME_PUB);
    sdp_session_t *answer = new_session();
    negotiate_publish_t *res = malloc(sizeof *res);
    negotiate_local_t l;
    char err[ERR_CAP];

    make_local(&l);
    strcpy(l.fingerprint, LOCAL_FP_VALUE); /* no hash name */
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "local fingerprint"));

    make_local(&l);
    strcpy(l.ice_pwd, "short");
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_string_equal(err, "local ice-pwd must be 22..256 ice-chars");

    make_local(&l);
    strcpy(l.candidates[2].ip, "relay.example");
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "local candidate 2"));

    make_local(&l);
    l.candidate_count = 0;
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);

    make_local(&l);
    assert_int_equal(negotiate_publish(NULL, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_int_equal(negotiate_publish(offer, &l, answer, res, NULL, 0), 0);
    free(offer);
    free(answer);
    free(res);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_bad_local),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
