/* Unit tests for signaling/auth_jws: base64url and the published RFC 7515/8037 JWS vectors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "sfu/lg_error.h"
#include "signaling/auth.h"

#define AUD "legation"

/* --- helpers ------------------------------------------------------------------------------------
 */

static int verify(const auth_verifier_t *v, const char *tok, int64_t now, auth_claims_t *c,
                  char *err)
{
    return auth_verify(v, tok, strlen(tok), now, c, err, AUTH_ERR_LEN);
}

static const char *write_temp(const char *text, char path[64])
{
    strcpy(path, "/tmp/lg_test_auth_XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static void flip_char(char *tok, size_t at)
{
    tok[at] = tok[at] == 'A' ? 'B' : 'A';
}

/* --- base64url ----------------------------------------------------------------------------------
 */

static void test_b64url_rfc4648_vectors(void **state)
{
    static const char *plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *enc[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg", "Zm9vYmE", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char out[16];
        uint8_t back[16];
        size_t n = 99;
        assert_int_equal(
            auth_b64url_encode((const uint8_t *)plain[i], strlen(plain[i]), out, sizeof out), 0);
        assert_string_equal(out, enc[i]);
        assert_int_equal(auth_b64url_decode(enc[i], strlen(enc[i]), back, sizeof back, &n), 0);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    /* URL alphabet: 0xfb 0xff -> "-_8" */
    char out[8];
    assert_int_equal(auth_b64url_encode((const uint8_t *)"\xfb\xff", 2, out, sizeof out), 0);
    assert_string_equal(out, "-_8");
    assert_int_equal(auth_b64url_encode((const uint8_t *)"foo", 3, out, 4), LG_ENOSPC);
}

static void test_b64url_strict(void **state)
{
    uint8_t b[16];
    size_t n;
    assert_int_equal(auth_b64url_decode("Zg==", 4, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("+_8", 3, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("-/8", 3, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("Zm9vY", 5, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("Zh", 2, b, sizeof b, &n), LG_EMALFORMED); /* bits */
    assert_int_equal(auth_b64url_decode("Zm9", 3, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("Zm 9", 4, b, sizeof b, &n), LG_EMALFORMED);
    assert_int_equal(auth_b64url_decode("Zm9v", 4, b, 2, &n), LG_ENOSPC);
}

/* --- published vectors -------------------------------------------------------------------------
 */

/* RFC 7515 Appendix A.1: HS256 with a 64-byte key. */
static const char A1_TOKEN[] = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
                               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGx"
                               "lLmNvbS9pc19yb290Ijp0cnVlfQ."
                               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char A1_KEY[] =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
static const char RFC_PAYLOAD[] = "{\"iss\":\"joe\",\r\n \"exp\":1300819380,\r\n "
                                  "\"http://example.com/is_root\":true}";

static void test_rfc7515_a1_hs256(void **state)
{
    uint8_t key[64];
    size_t klen = 0;
    assert_int_equal(auth_b64url_decode(A1_KEY, strlen(A1_KEY), key, sizeof key, &klen), 0);
    assert_int_equal(klen, 64);
    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_set_secret(&v, key, klen), 0);

    auth_jws_t jws;
    char err[AUTH_ERR_LEN];
    assert_int_equal(auth_jws_verify(&v, A1_TOKEN, strlen(A1_TOKEN), &jws, err, sizeof err), 0);
    assert_int_equal(jws.alg, AUTH_ALG_HS256);
    assert_int_equal(jws.payload_len, strlen(RFC_PAYLOAD));
    assert_memory_equal(jws.payload, RFC_PAYLOAD, jws.payload_len);

    /* The signature layer passes; the claims layer refuses (no aud, room...), not the MAC. */
    auth_claims_t c;
    assert_int_equal(verify(&v, A1_TOKEN, 1300819000, &c, err), LG_ECLAIM);
    /* After exp + skew the exact expiry is named. */
    assert_int_equal(verify(&v, A1_TOKEN, 1300819380 + 30, &c, err), LG_EEXPIRED);
    assert_string_equal(err, "token expired at 2011-03-22T18:43:00Z");

    char bad[sizeof A1_TOKEN];
    memcpy(bad, A1_TOKEN, sizeof bad);
    flip_char(bad, strlen(bad) - 10);
    assert_int_equal(verify(&v, bad, 1300819000, &c, err), LG_ESIGNATURE);
    assert_string_equal(err, "token signature does not verify");
    auth_verifier_free(&v);
}

/* RFC 7515 Appendix A.3: ES256, R || S signature, public key (x, y) as SubjectPublicKeyInfo. */
static const char A3_TOKEN[] =
    "eyJhbGciOiJFUzI1NiJ9."
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    "."
    "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q";
static const char A3_PEM[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEf83OJ3D2xF1Bg8vub9tLe1gHMzV7\n"
                             "6e8Tus9uPHvRVEXH8UTNG72bfocs3+257rn0s2ldbqkLJK2KRiMohYjlrQ==\n"
                             "-----END PUBLIC KEY-----\n";

/* The same token with s replaced by n - s: also valid ECDSA, must get the same token id. */
static void a3_twin(char *out, size_t cap)
{
    const char *sig_b64 = strrchr(A3_TOKEN, '.') + 1;
    uint8_t sig[64];
    size_t n = 0;
    assert_int_equal(auth_b64url_decode(sig_b64, strlen(sig_b64), sig, sizeof sig, &n), 0);
    BIGNUM *order = NULL, *s = BN_bin2bn(sig + 32, 32, NULL);
    assert_true(
        BN_hex2bn(&order, "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551"));
    assert_int_equal(BN_sub(s, order, s), 1);
    assert_int_equal(BN_bn2binpad(s, sig + 32, 32), 32);
    BN_free(s);
    BN_free(order);
    size_t head = (size_t)(sig_b64 - A3_TOKEN);
    memcpy(out, A3_TOKEN, head);
    assert_int_equal(auth_b64url_encode(sig, 64, out + head, cap - head), 0);
}

static void test_rfc7515_a3_es256(void **state)
{
    char path[64], err[AUTH_ERR_LEN];
    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_add_public_key_pem(&v, write_temp(A3_PEM, path), NULL), 0);
    unlink(path);
    assert_int_equal(v.keys[0].alg, AUTH_ALG_ES256);

    auth_jws_t jws, twin_jws;
    assert_int_equal(auth_jws_verify(&v, A3_TOKEN, strlen(A3_TOKEN), &jws, err, sizeof err), 0);
    assert_int_equal(jws.alg, AUTH_ALG_ES256);
    assert_memory_equal(jws.payload, RFC_PAYLOAD, strlen(RFC_PAYLOAD));
    auth_claims_t c;
    assert_int_equal(verify(&v, A3_TOKEN, 1300819000, &c, err), LG_ECLAIM);

    char twin[sizeof A3_TOKEN];
    a3_twin(twin, sizeof twin);
    assert_string_not_equal(twin, A3_TOKEN);
    assert_int_equal(auth_jws_verify(&v, twin, strlen(twin), &twin_jws, err, sizeof err), 0);
    assert_string_equal(twin_jws.token_id, jws.token_id);

    char bad[sizeof A3_TOKEN];
    memcpy(bad, A3_TOKEN, sizeof bad);
    flip_char(bad, strlen(bad) - 20);
    assert_int_equal(auth_jws_verify(&v, bad, strlen(bad), &jws, err, sizeof err), LG_ESIGNATURE);
    auth_verifier_free(&v);
}

/* RFC 8037 Appendix A.4: Ed25519 is deterministic, so our signer must reproduce it exactly. */
static const char A4_TOKEN[] = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
                               "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B"
                               "hVsPt9g7sVvpAr_MuM0KAg";
static const char A4_D[] = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
static const char A4_X[] = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";

static void test_rfc8037_a4_eddsa(void **state)
{
    uint8_t d[32], x[32];
    size_t n = 0;
    assert_int_equal(auth_b64url_decode(A4_D, strlen(A4_D), d, sizeof d, &n), 0);
    assert_int_equal(auth_b64url_decode(A4_X, strlen(A4_X), x, sizeof x, &n), 0);
    EVP_PKEY *priv = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, d, 32);
    EVP_PKEY *pub = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, 32);
    assert_non_null(priv);
    assert_non_null(pub);

    const char *msg = "Example of Ed25519 signing";
    char tok[256], err[AUTH_ERR_LEN];
    assert_int_equal(
        auth_jws_sign(priv, NULL, 0, NULL, (const uint8_t *)msg, strlen(msg), tok, sizeof tok), 0);
    assert_string_equal(tok, A4_TOKEN);

    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, pub, "rfc8037"), 0);
    auth_jws_t jws;
    assert_int_equal(auth_jws_verify(&v, A4_TOKEN, strlen(A4_TOKEN), &jws, err, sizeof err), 0);
    assert_int_equal(jws.alg, AUTH_ALG_EDDSA);
    assert_memory_equal(jws.payload, msg, strlen(msg));
    auth_claims_t c;
    assert_int_equal(verify(&v, A4_TOKEN, 0, &c, err), LG_EMALFORMED); /* payload is not JSON */
    assert_string_equal(err, "malformed token: payload is not a JSON object");
    EVP_PKEY_free(priv);
    EVP_PKEY_free(pub);
    auth_verifier_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_rfc4648_vectors), cmocka_unit_test(test_b64url_strict),
        cmocka_unit_test(test_rfc7515_a1_hs256),       cmocka_unit_test(test_rfc7515_a3_es256),
        cmocka_unit_test(test_rfc8037_a4_eddsa),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
