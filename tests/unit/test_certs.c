/* Unit tests for certs/: generation, reload, operator pairs, refusals, fingerprints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "certs/certs.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

typedef struct {
    char root[64];   /* mkdtemp directory, removed afterwards */
    char state[128]; /* state dir inside it, not created yet */
    char err[512];
} fx_t;

static char *path_in(const char *dir, const char *file)
{
    static char buf[16][256]; /* a ring: callers hold a few at a time */
    static int i;
    char *p = buf[i++ % 16];
    snprintf(p, sizeof buf[0], "%s/%s", dir, file);
    return p;
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->root, sizeof fx->root, "/tmp/lg-test-certs-XXXXXX");
    assert_non_null(mkdtemp(fx->root));
    snprintf(fx->state, sizeof fx->state, "%s/var/state", fx->root);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    nftw(fx->root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    free(fx);
    return 0;
}

/* Whole file into a malloc'd buffer (NUL-terminated); *len receives its size. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(1 << 20);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 20) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

static void assert_file_is(const char *path, const char *want, size_t want_len)
{
    size_t len;
    char *got = slurp(path, &len);
    assert_int_equal(len, want_len);
    assert_memory_equal(got, want, len);
    free(got);
}

static int mode_of(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return (int)(st.st_mode & 07777);
}

static int load_state(fx_t *fx, lg_certs_t *c)
{
    lg_certs_config_t cfg = {.state_dir = fx->state};
    return lg_certs_load(c, &cfg, fx->err, sizeof fx->err);
}

static X509 *read_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(x);
    return x;
}

/* "sha-256 AB:..." from `openssl x509 -fingerprint`, the reference implementation. */
static void cli_fingerprint(const char *cert_path, const char *alg, char *out, size_t outlen)
{
    char cmd[512], line[512];
    snprintf(cmd, sizeof cmd, "openssl x509 -noout -fingerprint -%s -in '%s'", alg, cert_path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(line, sizeof line, p));
    assert_int_equal(pclose(p), 0);
    line[strcspn(line, "\r\n")] = '\0';
    char *eq = strstr(line, "Fingerprint=");
    assert_non_null(eq);
    snprintf(out, outlen, "%s %s", strcmp(alg, "sha256") == 0 ? "sha-256" : "sha-512",
             eq + strlen("Fingerprint="));
}

static void cli_pair(const char *cert_path, const char *key_path, const char *cn)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "
             "'/CN=%s' -days 30 -keyout '%s' -out '%s' 2>/dev/null",
             cn, key_path, cert_path);
    assert_int_equal(system(cmd), 0);
}

/* A certificate for `key` issued by `issuer_key` (self-signed if equal), valid in [nb, na]
 * seconds from now, written with its key as PEM. */
static void write_dated_pair(const char *cert_path, const char *key_path, long nb, long na,
                             int self_signed)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    EVP_PKEY *ca = self_signed ? key : EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(ca);
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), nb);
    X509_gmtime_adj(X509_getm_notAfter(x), na);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
                               (const unsigned char *)"dated", -1, -1, 0);
    X509_NAME *issuer = X509_NAME_new();
    X509_NAME_add_entry_by_txt(issuer, "CN", MBSTRING_ASC,
                               (const unsigned char *)(self_signed ? "dated" : "some-ca"), -1, -1,
                               0);
    X509_set_issuer_name(x, issuer);
    X509_NAME_free(issuer);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, ca, EVP_sha256()) > 0);
    FILE *f = fopen(cert_path, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    f = fopen(key_path, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    X509_free(x);
    if (ca != key)
        EVP_PKEY_free(ca);
    EVP_PKEY_free(key);
}

static void assert_p256(EVP_PKEY *k)
{
    char group[64] = "";
    size_t len = 0;
    assert_true(EVP_PKEY_is_a(k, "EC"));
    assert_int_equal(
        EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len),
        1);
    assert_string_equal(group, "prime256v1");
}

static void assert_err_names(const fx_t *fx, const char *path, const char *reason)
{
    if (!strstr(fx->err, path) || !strstr(fx->err, reason))
        fail_msg("error message \"%s\" should name %s and say %s", fx->err, path, reason);
    assert_true(strncmp(fx->err, "certs: ", 7) == 0);
}

/* ---- generation and reload ------------------------------------------------------------------ */

static void test_generate_fresh(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    assert_int_equal(c.dtls_generated, 1);
    assert_int_equal(c.tls_generated, 1);
    assert_int_equal(mode_of(fx->state), 0700);
    assert_int_equal(mode_of(path_in(fx->state, "dtls-key.pem")), 0600);
    assert_int_equal(mode_of(path_in(fx->state, "tls-key.pem")), 0600);
    assert_int_equal(mode_of(path_in(fx->state, "dtls-cert.pem")), 0644);
    assert_int_equal(mode_of(path_in(fx->state, "tls-cert.pem")), 0644);
    assert_string_equal(c.tls_cert_path, path_in(fx->state, "tls-cert.pem"));
    assert_string_equal(c.tls_key_path, path_in(fx->state, "tls-key.pem"));
    assert_string_equal(c.dtls_cert_path, path_in(fx->state, "dtls-cert.pem"));

    /* "sha-256 " then 32 uppercase hex pairs joined by colons */
    assert_int_equal(strlen(c.dtls_fingerprint), 8 + 32 * 3 - 1);
    assert_memory_equal(c.dtls_fingerprint, "sha-256 ", 8);
    for (int i = 0; i < 32; i++) {
        const char *p = c.dtls_fingerprint + 8 + i * 3;
        assert_non_null(strchr("0123456789ABCDEF", p[0]));
        assert_non_null(strchr("0123456789ABCDEF", p[1]));
        if (i < 31)
            assert_int_equal(p[2], ':');
    }

    assert_p256(c.dtls_key);
    assert_int_equal(X509_check_private_key(c.dtls_cert, c.dtls_key), 1);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(c.dtls_cert), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "legation-dtls");
    assert_int_equal(X509_self_signed(c.dtls_cert, 1), 1);
    assert_int_equal(X509_get_signature_nid(c.dtls_cert), NID_ecdsa_with_SHA256);
    /* valid now, and for about a year */
    time_t t = time(NULL) + 360 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(c.dtls_cert), &t) > 0);
    t = time(NULL) + 367 * 86400;
    assert_true(X509_cmp_time(X509_get0_notAfter(c.dtls_cert), &t) < 0);
    t = time(NULL);
    assert_true(X509_cmp_time(X509_get0_notBefore(c.dtls_cert), &t) < 0);
    /* random serials */
    X509 *tls = read_cert(c.tls_cert_path);
    assert_int_not_equal(
        ASN1_INTEGER_cmp(X509_get0_serialNumber(tls), X509_get0_serialNumber(c.dtls_cert)), 0);
    X509_free(tls);
    lg_certs_free(&c);
    assert_null(c.dtls_cert);
    lg_certs_free(&c); /* twice is harmless */
}

static void test_reload_same(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    char fp[LG_CERTS_FINGERPRINT_MAX];
    strcpy(fp, c.dtls_fingerprint);
    lg_certs_free(&c);
    size_t klen, clen;
    char *key = slurp(path_in(fx->state, "dtls-key.pem"), &klen);
    char *tls = slurp(path_in(fx->state, "tls-cert.pem"), &clen);

    assert_int_equal(load_state(fx, &c), 0);
    assert_int_equal(c.dtls_generated, 0);
    assert_int_equal(c.tls_generated, 0);
    assert_string_equal(c.dtls_fingerprint, fp);
    assert_file_is(path_in(fx->state, "dtls-key.pem"), key, klen);
    assert_file_is(path_in(fx->state, "tls-cert.pem"), tls, clen);
    lg_certs_free(&c);
    free(key);
    free(tls);
}

static void test_fingerprint_matches_openssl_cli(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    char want[LG_CERTS_FINGERPRINT_MAX];
    cli_fingerprint(c.dtls_cert_path, "sha256", want, sizeof want);
    assert_string_equal(c.dtls_fingerprint, want);

    char fp512[LG_CERTS_FINGERPRINT_MAX];
    cli_fingerprint(c.dtls_cert_path, "sha512", want, sizeof want);
    assert_int_equal(lg_certs_fingerprint(c.dtls_cert, "SHA-512", fp512, sizeof fp512), 0);
    assert_string_equal(fp512, want);
    lg_certs_free(&c);
}

static void test_tls_cert_for_localhost(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    X509 *x = read_cert(c.tls_cert_path);
    assert_int_equal(X509_check_host(x, "localhost", 0, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL),
                     1);
    assert_int_equal(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
    assert_int_equal(X509_check_host(x, "example.org", 0, 0, NULL), 0);
    char cn[64] = "";
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    assert_string_equal(cn, "localhost");
    assert_true((X509_get_extended_key_usage(x) & XKU_SSL_SERVER) != 0);

    FILE *f = fopen(c.tls_key_path, "r");
    assert_non_null(f);
    EVP_PKEY *k = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);
    assert_non_null(k);
    assert_p256(k);
    assert_int_equal(X509_check_private_key(x, k), 1);
    EVP_PKEY_free(k);
    X509_free(x);
    lg_certs_free(&c);
}

/* ---- refusals: nothing is ever overwritten -------------------------------------------------- */

static void test_corrupt_key_not_overwritten(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    lg_certs_free(&c);
    const char *key = path_in(fx->state, "dtls-key.pem");
    static const unsigned char garbage[] = {0x00, 0xff, 0x13, 0x37, 'n', 'o', 'p', 'e', 0x00, 0x9c};
    spit(key, garbage, sizeof garbage);
    size_t clen;
    char *cert = slurp(path_in(fx->state, "dtls-cert.pem"), &clen);

    assert_int_equal(load_state(fx, &c), LG_ECORRUPT);
    assert_err_names(fx, key, "not a PEM private key");
    assert_null(c.dtls_cert);
    assert_null(c.dtls_key);
    assert_file_is(key, (const char *)garbage, sizeof garbage);
    assert_file_is(path_in(fx->state, "dtls-cert.pem"), cert, clen);
    free(cert);
}

static void test_corrupt_cert_not_overwritten(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    lg_certs_free(&c);
    const char *cert = path_in(fx->state, "tls-cert.pem");
    const char text[] =
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!\n-----END CERTIFICATE-----\n";
    spit(cert, text, strlen(text));
    assert_int_equal(load_state(fx, &c), LG_ECORRUPT);
    assert_err_names(fx, cert, "not a PEM certificate");
    assert_file_is(cert, text, strlen(text));
}

static void test_cert_without_key(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    lg_certs_free(&c);
    const char *key = path_in(fx->state, "dtls-key.pem");
    size_t clen;
    char *cert = slurp(path_in(fx->state, "dtls-cert.pem"), &clen);
    assert_int_equal(unlink(key), 0);

    assert_int_equal(load_state(fx, &c), LG_ENOTFOUND);
    assert_err_names(fx, key, "missing");
    assert_int_equal(access(key, F_OK), -1); /* not regenerated */
    assert_file_is(path_in(fx->state, "dtls-cert.pem"), cert, clen);
    free(cert);

    /* and the other way round: a key without its certificate */
    const char *dcert = path_in(fx->state, "dtls-cert.pem");
    spit(key, "k", 1);
    assert_int_equal(unlink(dcert), 0);
    assert_int_equal(load_state(fx, &c), LG_ENOTFOUND);
    assert_err_names(fx, dcert, "missing");
    assert_int_equal(access(dcert, F_OK), -1);
    assert_file_is(key, "k", 1);
}

static void test_key_is_a_directory(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    lg_certs_free(&c);
    const char *key = path_in(fx->state, "dtls-key.pem");
    assert_int_equal(unlink(key), 0);
    assert_int_equal(mkdir(key, 0700), 0);
    assert_int_equal(load_state(fx, &c), LG_EIO);
    assert_err_names(fx, key, "not a regular file");
    struct stat st;
    assert_int_equal(stat(key, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
}

static void test_dangling_symlink(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    lg_certs_free(&c);
    const char *cert = path_in(fx->state, "dtls-cert.pem");
    assert_int_equal(unlink(cert), 0);
    assert_int_equal(symlink("/nonexistent/lg-cert.pem", cert), 0);
    assert_int_equal(load_state(fx, &c), LG_ENOTFOUND);
    assert_err_names(fx, cert, "No such file");
    struct stat st;
    assert_int_equal(lstat(cert, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* still the operator's link, not replaced */
}

static void test_state_dir_is_a_file(void **state)
{
    fx_t *fx = *state;
    const char *file = path_in(fx->root, "plain");
    spit(file, "x", 1);
    lg_certs_config_t cfg = {.state_dir = file};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EINVAL);
    assert_err_names(fx, file, "not a directory");
    lg_certs_config_t none = {0};
    assert_int_equal(lg_certs_load(&c, &none, fx->err, sizeof fx->err), LG_EINVAL);
    assert_non_null(strstr(fx->err, "state_dir"));
}

/* ---- operator-supplied pairs ---------------------------------------------------------------- */

static void test_operator_pairs_used(void **state)
{
    fx_t *fx = *state;
    char dc[256], dk[256], tc[256], tk[256];
    snprintf(dc, sizeof dc, "%s/op-dtls.crt", fx->root);
    snprintf(dk, sizeof dk, "%s/op-dtls.key", fx->root);
    snprintf(tc, sizeof tc, "%s/op-tls.crt", fx->root);
    snprintf(tk, sizeof tk, "%s/op-tls.key", fx->root);
    cli_pair(dc, dk, "operator-dtls");
    cli_pair(tc, tk, "meet.example.gov");
    size_t klen;
    char *key = slurp(dk, &klen);

    lg_certs_config_t cfg = {
        .state_dir = fx->state, .dtls_cert = dc, .dtls_key = dk, .tls_cert = tc, .tls_key = tk};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), 0);
    char want[LG_CERTS_FINGERPRINT_MAX];
    cli_fingerprint(dc, "sha256", want, sizeof want);
    assert_string_equal(c.dtls_fingerprint, want);
    assert_string_equal(c.tls_cert_path, tc);
    assert_string_equal(c.tls_key_path, tk);
    assert_int_equal(c.dtls_generated, 0);
    assert_int_equal(c.tls_generated, 0);
    assert_int_equal(access(path_in(fx->state, "dtls-key.pem"), F_OK), -1);
    assert_int_equal(access(path_in(fx->state, "tls-key.pem"), F_OK), -1);
    assert_file_is(dk, key, klen);
    lg_certs_free(&c);

    /* Only the DTLS pair given: the TLS pair is generated, the operator's DTLS pair kept. */
    cfg.tls_cert = cfg.tls_key = "";
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), 0);
    assert_string_equal(c.dtls_fingerprint, want);
    assert_int_equal(c.tls_generated, 1);
    assert_int_equal(access(path_in(fx->state, "dtls-cert.pem"), F_OK), -1);
    lg_certs_free(&c);
    free(key);
}

static void test_operator_chain(void **state)
{
    fx_t *fx = *state;
    char tc[256], tk[256], ic[256], ik[256], chain[256];
    snprintf(tc, sizeof tc, "%s/leaf.crt", fx->root);
    snprintf(tk, sizeof tk, "%s/leaf.key", fx->root);
    snprintf(ic, sizeof ic, "%s/inter.crt", fx->root);
    snprintf(ik, sizeof ik, "%s/inter.key", fx->root);
    snprintf(chain, sizeof chain, "%s/chain.crt", fx->root);
    cli_pair(tc, tk, "leaf");
    cli_pair(ic, ik, "intermediate");
    size_t l1, l2;
    char *leaf = slurp(tc, &l1), *inter = slurp(ic, &l2);
    char *both = malloc(l1 + l2);
    memcpy(both, leaf, l1);
    memcpy(both + l1, inter, l2);
    spit(chain, both, l1 + l2);

    lg_certs_config_t cfg = {.state_dir = fx->state, .tls_cert = chain, .tls_key = tk};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), 0);
    assert_int_equal(ERR_peek_error(), 0); /* no stale OpenSSL errors left behind */
    lg_certs_free(&c);

    /* the second certificate cut in half */
    spit(chain, both, l1 + l2 / 2);
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_ECORRUPT);
    assert_err_names(fx, chain, "certificate 2 of the chain");
    free(both);
    free(leaf);
    free(inter);
}

static void test_operator_mismatch_refused(void **state)
{
    fx_t *fx = *state;
    char ac[256], ak[256], bc[256], bk[256];
    snprintf(ac, sizeof ac, "%s/a.crt", fx->root);
    snprintf(ak, sizeof ak, "%s/a.key", fx->root);
    snprintf(bc, sizeof bc, "%s/b.crt", fx->root);
    snprintf(bk, sizeof bk, "%s/b.key", fx->root);
    cli_pair(ac, ak, "a");
    cli_pair(bc, bk, "b");
    lg_certs_config_t cfg = {.state_dir = fx->state, .dtls_cert = ac, .dtls_key = bk};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EINVAL);
    assert_err_names(fx, bk, "does not match");
    assert_null(c.dtls_cert);

    cfg = (lg_certs_config_t){.state_dir = fx->state, .tls_cert = ac, .tls_key = bk};
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EINVAL);
    assert_err_names(fx, bk, "does not match");

    cfg = (lg_certs_config_t){.state_dir = fx->state, .dtls_cert = ac};
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EINVAL);
    assert_non_null(strstr(fx->err, "dtls_key missing"));
}

static void test_encrypted_key_refused(void **state)
{
    fx_t *fx = *state;
    char kc[256], kk[256], cmd[1024];
    snprintf(kc, sizeof kc, "%s/enc.crt", fx->root);
    snprintf(kk, sizeof kk, "%s/enc.key", fx->root);
    snprintf(cmd, sizeof cmd,
             "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -aes-256-cbc -pass "
             "pass:secret -out '%s' 2>/dev/null && openssl req -x509 -key '%s' -passin "
             "pass:secret -subj /CN=enc -days 30 -out '%s' 2>/dev/null",
             kk, kk, kc);
    assert_int_equal(system(cmd), 0);
    lg_certs_config_t cfg = {.state_dir = fx->state, .dtls_cert = kc, .dtls_key = kk};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EUNSUPPORTED);
    assert_err_names(fx, kk, "encrypted");
}

static void test_out_of_date(void **state)
{
    fx_t *fx = *state;
    char oc[256], ok[256];
    snprintf(oc, sizeof oc, "%s/old.crt", fx->root);
    snprintf(ok, sizeof ok, "%s/old.key", fx->root);
    write_dated_pair(oc, ok, -2 * 86400, -86400, 1);
    lg_certs_config_t cfg = {.state_dir = fx->state, .dtls_cert = oc, .dtls_key = ok};
    lg_certs_t c;
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_EEXPIRED);
    assert_err_names(fx, oc, "expired on");

    write_dated_pair(oc, ok, 86400, 2 * 86400, 1);
    assert_int_equal(lg_certs_load(&c, &cfg, fx->err, sizeof fx->err), LG_ENOTYET);
    assert_err_names(fx, oc, "not valid before");
}

static void test_generated_pair_renewed_when_due(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0); /* creates the state dir */
    lg_certs_free(&c);
    const char *cert = path_in(fx->state, "dtls-cert.pem");
    const char *key = path_in(fx->state, "dtls-key.pem");
    write_dated_pair(cert, key, -400 * 86400L, 10 * 86400L, 1); /* expires in 10 days */
    X509 *old = read_cert(cert);
    char old_fp[LG_CERTS_FINGERPRINT_MAX];
    assert_int_equal(lg_certs_fingerprint(old, NULL, old_fp, sizeof old_fp), 0);
    X509_free(old);

    assert_int_equal(load_state(fx, &c), 0);
    assert_int_equal(c.dtls_generated, 1);
    assert_int_equal(c.tls_generated, 0);
    assert_false(lg_certs_fingerprint_equal(c.dtls_fingerprint, old_fp));
    assert_int_equal(mode_of(key), 0600);
    char want[LG_CERTS_FINGERPRINT_MAX];
    cli_fingerprint(cert, "sha256", want, sizeof want);
    assert_string_equal(c.dtls_fingerprint, want); /* the files hold the new pair */
    lg_certs_free(&c);

    /* not one of ours (issued by a CA) and expired: refused and left alone */
    write_dated_pair(cert, key, -2 * 86400, -86400, 0);
    size_t len;
    char *before = slurp(cert, &len);
    assert_int_equal(load_state(fx, &c), LG_EEXPIRED);
    assert_err_names(fx, cert, "expired on");
    assert_file_is(cert, before, len);
    free(before);
}

/* ---- fingerprints --------------------------------------------------------------------------- */

static void test_fingerprint_equal(void **state)
{
    const char *a = "sha-256 AB:CD:EF:01";
    assert_true(lg_certs_fingerprint_equal(a, "sha-256 AB:CD:EF:01"));
    assert_true(lg_certs_fingerprint_equal(a, "sha-256 ab:cd:ef:01"));
    assert_true(lg_certs_fingerprint_equal(a, "SHA-256 aB:Cd:eF:01"));
    assert_false(lg_certs_fingerprint_equal(a, "sha-256 AB:CD:EF:02"));
    assert_false(lg_certs_fingerprint_equal(a, "sha-256 BB:CD:EF:01"));
    assert_false(lg_certs_fingerprint_equal(a, "sha-256 AB:CD:EF:0"));
    assert_false(lg_certs_fingerprint_equal(a, "sha-256 AB:CD:EF:011"));
    assert_false(lg_certs_fingerprint_equal(a, "sha-256 AB:CD:EF;01"));
    assert_false(lg_certs_fingerprint_equal("@", "`")); /* only letters fold */
    assert_false(lg_certs_fingerprint_equal("[", "{"));
    assert_false(lg_certs_fingerprint_equal("", ""));
    assert_false(lg_certs_fingerprint_equal(a, NULL));
    assert_false(lg_certs_fingerprint_equal(NULL, a));
}

static void test_fingerprint_args_and_peer_check(void **state)
{
    fx_t *fx = *state;
    lg_certs_t c;
    assert_int_equal(load_state(fx, &c), 0);
    char small[103], fp[LG_CERTS_FINGERPRINT_MAX];
    assert_int_equal(lg_certs_fingerprint(c.dtls_cert, "sha-256", small, sizeof small), LG_ENOSPC);
    assert_int_equal(lg_certs_fingerprint(c.dtls_cert, "sha-256", fp, 104), 0);
    assert_int_equal(lg_certs_fingerprint(c.dtls_cert, "md5", fp, sizeof fp), LG_EALG);
    assert_int_equal(lg_certs_fingerprint(NULL, "sha-256", fp, sizeof fp), LG_EINVAL);

    assert_int_equal(lg_certs_check_peer(c.dtls_cert, c.dtls_fingerprint), 0);
    char lower[LG_CERTS_FINGERPRINT_MAX];
    memcpy(lower, "SHA-256 ", 8);
    strcpy(lower + 8, c.dtls_fingerprint + 8);
    for (char *p = lower + 8; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p + 32);
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, lower), 0);
    char want512[LG_CERTS_FINGERPRINT_MAX];
    cli_fingerprint(c.dtls_cert_path, "sha512", want512, sizeof want512);
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, want512), 0);

    char bad[LG_CERTS_FINGERPRINT_MAX];
    strcpy(bad, c.dtls_fingerprint);
    bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, bad), LG_EFINGERPRINT);
    X509 *tls = read_cert(c.tls_cert_path); /* another certificate */
    assert_int_equal(lg_certs_check_peer(tls, c.dtls_fingerprint), LG_EFINGERPRINT);
    X509_free(tls);
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, "sha-1 AB:CD"), LG_EALG);
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, "nospace"), LG_EMALFORMED);
    assert_int_equal(lg_certs_check_peer(c.dtls_cert, "sha-256 "), LG_EFINGERPRINT);
    lg_certs_free(&c);
}

int main(void)
{
    lg_log_set_level(LG_LOG_WARN);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_generate_fresh),
        T(test_reload_same),
        T(test_fingerprint_matches_openssl_cli),
        T(test_tls_cert_for_localhost),
        T(test_corrupt_key_not_overwritten),
        T(test_corrupt_cert_not_overwritten),
        T(test_cert_without_key),
        T(test_key_is_a_directory),
        T(test_dangling_symlink),
        T(test_state_dir_is_a_file),
        T(test_operator_pairs_used),
        T(test_operator_chain),
        T(test_operator_mismatch_refused),
        T(test_encrypted_key_refused),
        T(test_out_of_date),
        T(test_generated_pair_renewed_when_due),
        T(test_fingerprint_equal),
        T(test_fingerprint_args_and_peer_check),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
