/* Unit tests for signaling/auth: minted tokens, claims, the verifier, and every refusal. */
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

#define T_EXP 1795687200LL /* 2026-11-26T10:00:00Z */
#define AUD   "legation"

static const uint8_t SECRET[] = "0123456789abcdef0123456789abcdef-test-secret";
#define SECRET_LEN (sizeof SECRET - 1)

/* --- helpers ------------------------------------------------------------------------------------
 */

static void make_claims(auth_claims_t *c)
{
    memset(c, 0, sizeof *c);
    strcpy(c->room, "cabinet-1.2_A");
    strcpy(c->sub, "alice@ministry.example");
    strcpy(c->name, "Alice Ü");
    c->role = AUTH_ROLE_MODERATOR;
    strcpy(c->aud, AUD);
    strcpy(c->jti, "jti-0001");
}

static void hs_verifier(auth_verifier_t *v)
{
    assert_int_equal(auth_verifier_init(v, AUD), 0);
    assert_int_equal(auth_verifier_set_secret(v, SECRET, SECRET_LEN), 0);
}

/* A HS256 token with exp = T_EXP minted an hour before. */
static void mint_hs(const auth_claims_t *c, char *out, size_t cap)
{
    assert_int_equal(auth_mint_hs256(SECRET, SECRET_LEN, c, 3600, T_EXP - 3600, out, cap), 0);
}

/* Signs an arbitrary JSON payload with the test secret. */
static void sign_json_hs(const char *json, char *out, size_t cap)
{
    assert_int_equal(auth_jws_sign(NULL, SECRET, SECRET_LEN, NULL, (const uint8_t *)json,
                                   strlen(json), out, cap),
                     0);
}

/* Builds b64(header).b64(payload).sig_b64 by hand, for tokens our signer would never make. */
static void build_token(const char *hdr, const char *payload, const char *sig_b64, char *out,
                        size_t cap)
{
    char h[512], p[2048];
    assert_int_equal(auth_b64url_encode((const uint8_t *)hdr, strlen(hdr), h, sizeof h), 0);
    assert_int_equal(auth_b64url_encode((const uint8_t *)payload, strlen(payload), p, sizeof p), 0);
    assert_true(snprintf(out, cap, "%s.%s.%s", h, p, sig_b64) < (int)cap);
}

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

/* PEM SubjectPublicKeyInfo text of a key. Caller frees. */
static char *pubkey_pem(EVP_PKEY *k)
{
    BIO *b = BIO_new(BIO_s_mem());
    assert_non_null(b);
    assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
    char *data = NULL;
    long n = BIO_get_mem_data(b, &data);
    char *s = malloc((size_t)n + 1);
    memcpy(s, data, (size_t)n);
    s[n] = '\0';
    BIO_free(b);
    return s;
}

static void flip_char(char *tok, size_t at)
{
    tok[at] = tok[at] == 'A' ? 'B' : 'A';
}

/* --- good tokens ------------------------------------------------------------------------------ */

static void test_hs256_roundtrip(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP - 10, &c, err), 0);
    assert_string_equal(err, "");
    assert_string_equal(c.room, "cabinet-1.2_A");
    assert_string_equal(c.sub, "alice@ministry.example");
    assert_string_equal(c.name, "Alice Ü");
    assert_int_equal(c.role, AUTH_ROLE_MODERATOR);
    assert_string_equal(c.aud, AUD);
    assert_string_equal(c.jti, "jti-0001");
    assert_int_equal(c.exp, T_EXP);
    assert_true(c.has_iat);
    assert_int_equal(c.iat, T_EXP - 3600);
    assert_false(c.has_nbf);
    assert_int_equal(c.alg, AUTH_ALG_HS256);
    assert_string_equal(c.kid, "");

    /* token_id is the hex SHA-256 of the decoded signature. */
    const char *sig_b64 = strrchr(tok, '.') + 1;
    uint8_t sig[32], md[32];
    size_t n = 0;
    unsigned int mdlen = 0;
    assert_int_equal(auth_b64url_decode(sig_b64, strlen(sig_b64), sig, sizeof sig, &n), 0);
    assert_int_equal(EVP_Digest(sig, n, md, &mdlen, EVP_sha256(), NULL), 1);
    char hex[65];
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(c.token_id, hex);
    auth_verifier_free(&v);
}

static void test_name_defaults_to_sub(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    in.name[0] = '\0';
    in.jti[0] = '\0';
    char tok[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP - 10, &c, err), 0);
    assert_string_equal(c.name, "alice@ministry.example");
    assert_string_equal(c.jti, "");
    auth_verifier_free(&v);
}

/* Generates a key, mints with it, verifies with the public half loaded from a PEM file. */
static void roundtrip_with_key(const char *type, const char *param, auth_alg_t alg)
{
    EVP_PKEY *k =
        param ? EVP_PKEY_Q_keygen(NULL, NULL, type, param) : EVP_PKEY_Q_keygen(NULL, NULL, type);
    assert_non_null(k);
    char path[64], *pem = pubkey_pem(k);
    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_add_public_key_pem(&v, write_temp(pem, path), "ministry-1"), 0);
    unlink(path);
    free(pem);

    auth_claims_t in, c;
    make_claims(&in);
    in.role = AUTH_ROLE_OBSERVER;
    char tok[1024], err[AUTH_ERR_LEN];
    assert_int_equal(auth_mint_with_key(k, "ministry-1", &in, 600, T_EXP - 600, tok, sizeof tok),
                     0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), 0);
    assert_int_equal(c.alg, alg);
    assert_string_equal(c.kid, "ministry-1");
    assert_int_equal(c.role, AUTH_ROLE_OBSERVER);
    assert_int_equal(strlen(c.token_id), 64);

    flip_char(tok, strlen(tok) - 30);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), LG_ESIGNATURE);
    EVP_PKEY_free(k);
    auth_verifier_free(&v);
}

static void test_es256_roundtrip(void **state)
{
    roundtrip_with_key("EC", "P-256", AUTH_ALG_ES256);
}

static void test_eddsa_roundtrip(void **state)
{
    roundtrip_with_key("ED25519", NULL, AUTH_ALG_EDDSA);
}

/* --- time ----------------------------------------------------------------------------------------
 */

static void test_expiry_and_skew(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP + 29, &c, err), 0); /* within the 30 s skew */
    assert_int_equal(verify(&v, tok, T_EXP + 30, &c, err), LG_EEXPIRED);
    assert_string_equal(err, "token expired at 2026-11-26T10:00:00Z");
    assert_int_equal(verify(&v, tok, T_EXP + 86400, &c, err), LG_EEXPIRED);

    assert_int_equal(auth_verifier_set_skew(&v, 0), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), 0);
    assert_int_equal(verify(&v, tok, T_EXP, &c, err), LG_EEXPIRED);
    assert_int_equal(auth_verifier_set_skew(&v, -1), LG_EINVAL);
    auth_verifier_free(&v);
}

static void test_nbf_and_iat(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    in.has_nbf = 1;
    in.nbf = T_EXP - 1800; /* 2026-11-26T09:30:00Z */
    char tok[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP - 1900, &c, err), LG_ENOTYET);
    assert_string_equal(err, "token not valid before 2026-11-26T09:30:00Z");
    assert_int_equal(verify(&v, tok, T_EXP - 1820, &c, err), 0); /* nbf within skew */
    assert_true(c.has_nbf);
    assert_int_equal(c.nbf, T_EXP - 1800);

    /* iat = T_EXP - 3600: far in the future for a server at T_EXP - 7200. */
    in.has_nbf = 0;
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP - 7200, &c, err), LG_ENOTYET);
    assert_non_null(strstr(err, "issued in the future"));
    assert_int_equal(verify(&v, tok, T_EXP - 3620, &c, err), 0);
    auth_verifier_free(&v);
}

static void test_time_claim_types(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    char tok[1024], err[AUTH_ERR_LEN];
    auth_claims_t c;
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"aud\":\"legation\"}", tok,
                 sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ECLAIM);
    assert_string_equal(err, "token claim 'exp' is missing");
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"aud\":\"legation\","
                 "\"exp\":\"2000\"}",
                 tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ECLAIM);
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"aud\":\"legation\","
                 "\"exp\":2000.9}",
                 tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0);
    assert_int_equal(c.exp, 2000);
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"aud\":\"legation\","
                 "\"exp\":9223372036854775807}",
                 tok, sizeof tok);
    assert_int_equal(verify(&v, tok, INT64_MAX, &c, err), 0); /* skew arithmetic saturates */
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0);
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"aud\":\"legation\","
                 "\"exp\":-9223372036854775808}",
                 tok, sizeof tok);
    assert_int_equal(verify(&v, tok, INT64_MIN + 10, &c, err), LG_EEXPIRED);
    assert_string_equal(err, "token expired at -9223372036854775808 (Unix time)");
    auth_verifier_free(&v);
}

/* --- audience -----------------------------------------------------------------------------------
 */

static void test_audience(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    strcpy(in.aud, "x");
    char tok[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, T_EXP - 10, &c, err), LG_EAUDIENCE);
    assert_string_equal(err, "token audience 'x' is not 'legation'");

    const char *base = "{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"exp\":2000,\"aud\":";
    struct {
        const char *aud;
        int want;
    } cases[] = {{"[\"a\",\"legation\"]", 0},
                 {"[\"a\",\"b\"]", LG_EAUDIENCE},
                 {"[]", LG_EAUDIENCE},
                 {"\"legation \"", LG_EAUDIENCE},
                 {"\"Legation\"", LG_EAUDIENCE},
                 {"7", LG_ECLAIM},
                 {"[\"legation\",7]", LG_ECLAIM},
                 {"null", LG_ECLAIM}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "%s%s}", base, cases[i].aud);
        sign_json_hs(json, tok, sizeof tok);
        assert_int_equal(verify(&v, tok, 1000, &c, err), cases[i].want);
    }
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"role\":\"observer\",\"exp\":2000}", tok,
                 sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ECLAIM);
    auth_verifier_free(&v);
}

/* --- signature and algorithm refusals -----------------------------------------------------------
 */

static void test_wrong_signature(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], bad[1024], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    const char *sig = strrchr(tok, '.') + 1;
    size_t sig_at = (size_t)(sig - tok);

    strcpy(bad, tok);
    flip_char(bad, sig_at + 5); /* signature */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_ESIGNATURE);
    assert_string_equal(err, "token signature does not verify");
    strcpy(bad, tok);
    flip_char(bad, sig_at - 10); /* payload */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_ESIGNATURE);
    strcpy(bad, tok);
    bad[sig_at + 8] = '\0'; /* truncated signature (still valid base64url) */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_ESIGNATURE);
    strcpy(bad, tok);
    bad[sig_at] = '\0'; /* no signature at all */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_ESIGNATURE);

    /* Another secret. */
    auth_verifier_t other;
    assert_int_equal(auth_verifier_init(&other, AUD), 0);
    assert_int_equal(auth_verifier_set_secret(
                         &other, (const uint8_t *)"another secret of thirty-two bytes!", 35),
                     0);
    assert_int_equal(verify(&other, tok, T_EXP - 10, &c, err), LG_ESIGNATURE);
    auth_verifier_free(&other);
    auth_verifier_free(&v);
}

static void test_alg_none(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    const char *claims =
        "{\"room\":\"r\",\"sub\":\"s\",\"role\":\"moderator\",\"aud\":\"legation\","
        "\"exp\":2000}";
    char tok[1024], good[1024], err[AUTH_ERR_LEN];
    auth_claims_t c;
    sign_json_hs(claims, good, sizeof good);
    assert_int_equal(verify(&v, good, 1000, &c, err), 0); /* the payload itself is fine */

    build_token("{\"alg\":\"none\"}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    assert_string_equal(err, "token algorithm 'none' is not accepted");
    build_token("{\"alg\":\"none\"}", claims, strrchr(good, '.') + 1, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    build_token("{\"alg\":\"NONE\",\"typ\":\"JWT\"}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    build_token("{\"alg\":\"HS512\"}", claims, strrchr(good, '.') + 1, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    build_token("{\"typ\":\"JWT\"}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EMALFORMED);
    /* Two "alg" members: jansson is told to refuse duplicates. */
    build_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EMALFORMED);
    build_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EUNSUPPORTED);
    build_token("{\"alg\":\"HS256\",\"typ\":\"JWE\"}", claims, "", tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EMALFORMED);
    auth_verifier_free(&v);
}

/* The classic confusion: an attacker MACs a token with the server's PUBLIC key as HS256 secret. */
static void test_hs_es_confusion(void **state)
{
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_non_null(ec);
    char *pem = pubkey_pem(ec);
    const char *claims =
        "{\"room\":\"r\",\"sub\":\"s\",\"role\":\"moderator\",\"aud\":\"legation\","
        "\"exp\":2000}";
    char tok[1024], err[AUTH_ERR_LEN];
    auth_claims_t c;
    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, ec, "ec"), 0);

    assert_int_equal(auth_jws_sign(NULL, (const uint8_t *)pem, strlen(pem), NULL,
                                   (const uint8_t *)claims, strlen(claims), tok, sizeof tok),
                     0);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    assert_int_equal(auth_jws_sign(NULL, (const uint8_t *)pem, strlen(pem), "ec",
                                   (const uint8_t *)claims, strlen(claims), tok, sizeof tok),
                     0);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EALG);
    assert_string_equal(err, "token algorithm 'HS256' does not match key 'ec' (ES256)");

    /* With a (different) shared secret configured too, the MAC is checked only with it. */
    assert_int_equal(auth_verifier_set_secret(&v, SECRET, SECRET_LEN), 0);
    assert_int_equal(auth_jws_sign(NULL, (const uint8_t *)pem, strlen(pem), NULL,
                                   (const uint8_t *)claims, strlen(claims), tok, sizeof tok),
                     0);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ESIGNATURE);

    /* The reverse: an ES256 token where only an HMAC secret is configured. */
    auth_verifier_t hs;
    hs_verifier(&hs);
    assert_int_equal(
        auth_jws_sign(ec, NULL, 0, NULL, (const uint8_t *)claims, strlen(claims), tok, sizeof tok),
        0);
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0);
    assert_int_equal(verify(&hs, tok, 1000, &c, err), LG_EALG);
    assert_string_equal(err, "token algorithm 'ES256' is not accepted: no ES256 key is configured");
    free(pem);
    EVP_PKEY_free(ec);
    auth_verifier_free(&hs);
    auth_verifier_free(&v);
}

static void test_kid_selection(void **state)
{
    EVP_PKEY *a = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *b = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    assert_true(a && b && ed);
    auth_verifier_t v;
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, a, "a"), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, b, "b"), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, ed, "ed"), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, ed, "b"), LG_EEXIST);

    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], err[AUTH_ERR_LEN];
    assert_int_equal(auth_mint_with_key(b, "b", &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), 0);
    assert_string_equal(c.kid, "b");
    /* Signed by b but naming a: only a is tried. */
    assert_int_equal(auth_mint_with_key(b, "a", &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), LG_ESIGNATURE);
    /* Unknown kid. */
    assert_int_equal(auth_mint_with_key(b, "zzz", &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), LG_ENOTFOUND);
    assert_string_equal(err, "token key id 'zzz' is not configured");
    /* No kid: every key of the token's algorithm is tried. */
    assert_int_equal(auth_mint_with_key(b, NULL, &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), 0);
    assert_int_equal(auth_mint_with_key(ed, NULL, &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), 0);
    assert_int_equal(c.alg, AUTH_ALG_EDDSA);
    /* An ES256 header naming the Ed25519 key. */
    assert_int_equal(auth_mint_with_key(a, "ed", &in, 60, T_EXP - 60, tok, sizeof tok), 0);
    assert_int_equal(verify(&v, tok, T_EXP - 1, &c, err), LG_EALG);
    EVP_PKEY_free(a);
    EVP_PKEY_free(b);
    EVP_PKEY_free(ed);
    auth_verifier_free(&v);
}

/* --- claims -------------------------------------------------------------------------------------
 */

static void test_role(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    const char *base = "{\"room\":\"r\",\"sub\":\"s\",\"aud\":\"legation\",\"exp\":2000";
    struct {
        const char *extra;
        int want;
        auth_role_t role;
    } cases[] = {{",\"role\":\"moderator\"}", 0, AUTH_ROLE_MODERATOR},
                 {",\"role\":\"participant\"}", 0, AUTH_ROLE_PARTICIPANT},
                 {",\"role\":\"observer\"}", 0, AUTH_ROLE_OBSERVER},
                 {",\"role\":\"admin\"}", LG_ECLAIM, 0},
                 {",\"role\":\"Moderator\"}", LG_ECLAIM, 0},
                 {",\"role\":1}", LG_ECLAIM, 0},
                 {",\"role\":\"\"}", LG_ECLAIM, 0},
                 {"}", LG_ECLAIM, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256], tok[1024], err[AUTH_ERR_LEN];
        auth_claims_t c;
        snprintf(json, sizeof json, "%s%s", base, cases[i].extra);
        sign_json_hs(json, tok, sizeof tok);
        assert_int_equal(verify(&v, tok, 1000, &c, err), cases[i].want);
        if (cases[i].want == 0)
            assert_int_equal(c.role, cases[i].role);
        if (i == 3)
            assert_string_equal(err,
                                "token claim 'role' must be moderator, participant or observer");
        if (i == 7)
            assert_non_null(strstr(err, "'role' is missing"));
    }
    auth_verifier_free(&v);
}

/* The e2ee claim survives a mint/verify round trip, is written only when set, and is refused
 * when it is anything but a JSON boolean. */
static void test_e2ee_claim(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], err[AUTH_ERR_LEN];
    uint8_t payload[1024];
    size_t n = 0;
    for (int e2ee = 0; e2ee <= 1; e2ee++) {
        in.e2ee = e2ee;
        mint_hs(&in, tok, sizeof tok);
        assert_int_equal(verify(&v, tok, T_EXP - 10, &c, err), 0);
        assert_int_equal(c.e2ee, e2ee);
        const char *p = strchr(tok, '.') + 1;
        assert_int_equal(
            auth_b64url_decode(p, (size_t)(strchr(p, '.') - p), payload, sizeof payload - 1, &n),
            0);
        payload[n] = '\0';
        if (e2ee)
            assert_non_null(strstr((char *)payload, "\"e2ee\":true"));
        else
            assert_null(strstr((char *)payload, "e2ee")); /* old verifiers see the same token */
    }
    const char *base = "{\"room\":\"r\",\"sub\":\"s\",\"aud\":\"legation\",\"exp\":2000,"
                       "\"role\":\"participant\"";
    struct {
        const char *extra;
        int want;
        int e2ee;
    } cases[] = {{",\"e2ee\":true}", 0, 1},
                 {",\"e2ee\":false}", 0, 0},
                 {"}", 0, 0},
                 {",\"e2ee\":\"true\"}", LG_ECLAIM, 0},
                 {",\"e2ee\":1}", LG_ECLAIM, 0},
                 {",\"e2ee\":null}", LG_ECLAIM, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char json[256];
        snprintf(json, sizeof json, "%s%s", base, cases[i].extra);
        sign_json_hs(json, tok, sizeof tok);
        assert_int_equal(verify(&v, tok, 1000, &c, err), cases[i].want);
        if (cases[i].want == 0)
            assert_int_equal(c.e2ee, cases[i].e2ee);
        else
            assert_string_equal(err, "token claim 'e2ee' must be true or false");
    }
    auth_verifier_free(&v);
}

static void test_identity_claims(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    char long_room[128], long_name[128], json[512];
    memset(long_room, 'r', 65);
    long_room[65] = '\0';
    memset(long_name, 'n', 65);
    long_name[65] = '\0';
    const char *tail = "\"aud\":\"legation\",\"exp\":2000,\"role\":\"observer\"";
    struct {
        const char *room, *sub, *name;
        int want;
    } cases[] = {
        {"\"ok\"", "\"s\"", "\"Dr. Ana María\"", 0},
        {"\"room one\"", "\"s\"", NULL, LG_ECLAIM},
        {"\"room/1\"", "\"s\"", NULL, LG_ECLAIM},
        {"\"\"", "\"s\"", NULL, LG_ECLAIM},
        {NULL, "\"s\"", NULL, LG_ECLAIM},
        {"5", "\"s\"", NULL, LG_ECLAIM},
        {"\"ok\"", NULL, NULL, LG_ECLAIM},
        {"\"ok\"", "\"a\\u0007b\"", NULL, LG_ECLAIM},
        {"\"ok\"", "\"s\"", "\"\"", LG_ECLAIM},
        {"\"ok\"", "\"s\"", "\"a\\nb\"", LG_ECLAIM},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char tok[1024], err[AUTH_ERR_LEN];
        auth_claims_t c;
        int n = snprintf(json, sizeof json, "{%s", tail);
        if (cases[i].room)
            n += snprintf(json + n, sizeof json - (size_t)n, ",\"room\":%s", cases[i].room);
        if (cases[i].sub)
            n += snprintf(json + n, sizeof json - (size_t)n, ",\"sub\":%s", cases[i].sub);
        if (cases[i].name)
            n += snprintf(json + n, sizeof json - (size_t)n, ",\"name\":%s", cases[i].name);
        snprintf(json + n, sizeof json - (size_t)n, "}");
        sign_json_hs(json, tok, sizeof tok);
        assert_int_equal(verify(&v, tok, 1000, &c, err), cases[i].want);
    }
    char tok[1024], err[AUTH_ERR_LEN];
    auth_claims_t c;
    snprintf(json, sizeof json, "{%s,\"room\":\"%s\",\"sub\":\"s\"}", tail, long_room);
    sign_json_hs(json, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ECLAIM);
    long_room[64] = '\0'; /* exactly 64 is fine */
    snprintf(json, sizeof json, "{%s,\"room\":\"%s\",\"sub\":\"s\"}", tail, long_room);
    sign_json_hs(json, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0);
    snprintf(json, sizeof json, "{%s,\"room\":\"r\",\"sub\":\"s\",\"name\":\"%s\"}", tail,
             long_name);
    sign_json_hs(json, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ECLAIM);
    /* A long multi-byte sub is cut at a character edge when it becomes the name. */
    snprintf(json, sizeof json, "{%s,\"room\":\"r\",\"sub\":\"%s\"}", tail,
             "ééééééééééééééééééééééééééééééééééé"); /* 35 x 2 bytes */
    sign_json_hs(json, tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0);
    assert_int_equal(strlen(c.name), 64);
    assert_int_equal(strlen(c.sub), 70);
    /* Duplicate claims are refused rather than resolved. */
    sign_json_hs("{\"room\":\"r\",\"sub\":\"s\",\"aud\":\"legation\",\"exp\":2000,"
                 "\"role\":\"observer\",\"role\":\"moderator\"}",
                 tok, sizeof tok);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EMALFORMED);
    auth_verifier_free(&v);
}

/* --- framing
 * -------------------------------------------------------------------------------------- */

static void test_bad_framing(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    auth_claims_t in, c;
    make_claims(&in);
    char tok[1024], bad[1100], err[AUTH_ERR_LEN];
    mint_hs(&in, tok, sizeof tok);
    size_t sig_at = (size_t)(strrchr(tok, '.') + 1 - tok);
    size_t pay_at = (size_t)(strchr(tok, '.') + 1 - tok);

    strcpy(bad, tok);
    bad[pay_at + 3] = '+';
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    assert_string_equal(err, "malformed token: payload is not base64url");
    strcpy(bad, tok);
    bad[2] = '/';
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    snprintf(bad, sizeof bad, "%s=", tok); /* padding */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    snprintf(bad, sizeof bad, "%s.", tok); /* four parts */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    snprintf(bad, sizeof bad, "%.*s", (int)(sig_at - 1), tok); /* two parts */
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    snprintf(bad, sizeof bad, " %s", tok);
    assert_int_equal(verify(&v, bad, T_EXP - 10, &c, err), LG_EMALFORMED);
    assert_int_equal(verify(&v, "", 0, &c, err), LG_EMALFORMED);
    assert_int_equal(verify(&v, "..", 0, &c, err), LG_EMALFORMED);
    assert_int_equal(verify(&v, "e30.e30.", 0, &c, err), LG_EMALFORMED); /* {} has no alg */
    assert_int_equal(verify(&v, "W10.e30.", 0, &c, err), LG_EMALFORMED); /* [] */
    /* A NUL inside the given length is just a bad character. */
    strcpy(bad, tok);
    bad[pay_at + 1] = '\0';
    assert_int_equal(auth_verify(&v, bad, strlen(tok), T_EXP - 10, &c, err, sizeof err),
                     LG_EMALFORMED);
    assert_int_equal(auth_verify(&v, NULL, 0, 0, &c, err, sizeof err), LG_EINVAL);
    /* A tiny error buffer is filled, truncated and terminated. */
    char small[8];
    assert_int_equal(auth_verify(&v, "x", 1, 0, &c, small, sizeof small), LG_EMALFORMED);
    assert_string_equal(small, "malform");
    assert_int_equal(auth_verify(&v, "x", 1, 0, &c, NULL, 0), LG_EMALFORMED);
    auth_verifier_free(&v);
}

static void test_size_limit(void **state)
{
    auth_verifier_t v;
    hs_verifier(&v);
    static char tok[AUTH_TOKEN_MAX + 64], json[AUTH_TOKEN_MAX], pad[AUTH_TOKEN_MAX];
    char err[AUTH_ERR_LEN];
    auth_claims_t c;
    int found = 0;
    for (size_t n = 5000; n < 6200 && !found; n++) {
        memset(pad, 'p', n);
        pad[n] = '\0';
        int len = snprintf(json, sizeof json,
                           "{\"room\":\"r\",\"sub\":\"s\",\"aud\":\"legation\",\"exp\":2000,"
                           "\"role\":\"observer\",\"pad\":\"%s\"}",
                           pad);
        assert_true(len < (int)sizeof json);
        if (auth_jws_sign(NULL, SECRET, SECRET_LEN, NULL, (const uint8_t *)json, strlen(json), tok,
                          sizeof tok) == 0 &&
            strlen(tok) == AUTH_TOKEN_MAX)
            found = 1;
    }
    assert_true(found);
    assert_int_equal(verify(&v, tok, 1000, &c, err), 0); /* exactly the limit */

    memset(tok, 'a', AUTH_TOKEN_MAX + 1);
    tok[AUTH_TOKEN_MAX + 1] = '\0';
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_ERANGE);
    assert_string_equal(err, "token is 8193 bytes, more than the 8192 accepted");
    /* A huge header is refused before any JSON parsing. */
    memset(pad, 'e', 2000);
    snprintf(tok, sizeof tok, "%.2000s.e30.", pad);
    assert_int_equal(verify(&v, tok, 1000, &c, err), LG_EMALFORMED);
    auth_verifier_free(&v);
}

/* --- setup and minting errors ----------------------------------------------------------------- */

static void test_setup_errors(void **state)
{
    auth_verifier_t v;
    char path[64];
    assert_int_equal(auth_verifier_init(&v, ""), LG_EINVAL);
    assert_int_equal(auth_verifier_init(&v, AUD), 0);
    assert_int_equal(auth_verifier_set_secret(&v, SECRET, 31), LG_EINVAL);
    assert_int_equal(auth_verifier_add_public_key_pem(&v, "/nonexistent/key.pem", NULL), LG_EIO);
    assert_int_equal(auth_verifier_add_public_key_pem(&v, write_temp("not a key\n", path), NULL),
                     LG_EMALFORMED);
    unlink(path);

    EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
    EVP_PKEY *p384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    assert_true(rsa && p384 && ec);
    assert_int_equal(auth_verifier_add_public_key(&v, rsa, NULL), LG_EUNSUPPORTED);
    assert_int_equal(auth_verifier_add_public_key(&v, p384, NULL), LG_EUNSUPPORTED);
    assert_int_equal(auth_verifier_add_public_key(&v, ec, "bad\nkid"), LG_EINVAL);
    for (int i = 0; i < AUTH_KEYS_MAX; i++)
        assert_int_equal(auth_verifier_add_public_key(&v, ec, NULL), 0);
    assert_int_equal(auth_verifier_add_public_key(&v, ec, NULL), LG_EFULL);
    /* The verifier keeps only public halves. */
    BIGNUM *priv = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(ec, "priv", &priv), 1);
    BN_clear_free(priv);
    priv = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(v.keys[0].pkey, "priv", &priv), 0);
    assert_null(priv);

    auth_claims_t in;
    make_claims(&in);
    char tok[1024];
    assert_int_equal(auth_mint_with_key(rsa, NULL, &in, 60, 0, tok, sizeof tok), LG_EUNSUPPORTED);
    assert_int_equal(auth_mint_with_key(v.keys[0].pkey, NULL, &in, 60, 0, tok, sizeof tok),
                     LG_ECRYPTO); /* public key cannot sign */
    assert_int_equal(auth_mint_hs256(SECRET, 16, &in, 60, 0, tok, sizeof tok), LG_EINVAL);
    assert_int_equal(auth_mint_hs256(SECRET, SECRET_LEN, &in, 0, 0, tok, sizeof tok), LG_EINVAL);
    assert_int_equal(auth_mint_hs256(SECRET, SECRET_LEN, &in, 60, 0, tok, 40), LG_ENOSPC);
    strcpy(in.room, "no spaces");
    assert_int_equal(auth_mint_hs256(SECRET, SECRET_LEN, &in, 60, 0, tok, sizeof tok), LG_EINVAL);
    make_claims(&in);
    in.role = (auth_role_t)9;
    assert_int_equal(auth_mint_hs256(SECRET, SECRET_LEN, &in, 60, 0, tok, sizeof tok), LG_EINVAL);
    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p384);
    EVP_PKEY_free(ec);
    auth_verifier_free(&v);
}

static void test_names(void **state)
{
    auth_role_t r;
    assert_int_equal(auth_role_parse("participant", &r), 0);
    assert_int_equal(r, AUTH_ROLE_PARTICIPANT);
    assert_int_equal(auth_role_parse("guest", &r), LG_EINVAL);
    assert_string_equal(auth_role_name(AUTH_ROLE_OBSERVER), "observer");
    assert_string_equal(auth_alg_name(AUTH_ALG_EDDSA), "EdDSA");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hs256_roundtrip),
        cmocka_unit_test(test_name_defaults_to_sub),
        cmocka_unit_test(test_es256_roundtrip),
        cmocka_unit_test(test_eddsa_roundtrip),
        cmocka_unit_test(test_expiry_and_skew),
        cmocka_unit_test(test_nbf_and_iat),
        cmocka_unit_test(test_time_claim_types),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_wrong_signature),
        cmocka_unit_test(test_alg_none),
        cmocka_unit_test(test_hs_es_confusion),
        cmocka_unit_test(test_kid_selection),
        cmocka_unit_test(test_role),
        cmocka_unit_test(test_e2ee_claim),
        cmocka_unit_test(test_identity_claims),
        cmocka_unit_test(test_bad_framing),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_setup_errors),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
