/* Join tokens: compact JWS (HS256, ES256, EdDSA) over OpenSSL EVP, claims read with jansson. */
#include "signaling/auth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sfu/lg_error.h"

#define HEADER_MAX  1024 /* decoded header bytes */
#define SIG_MAX     64   /* every accepted algorithm signs with 64 bytes or fewer */
#define SIG_SEG_MAX 88   /* base64url length of SIG_MAX bytes, rounded up */
#define ES256_HALF  32
#define JSON_FLAGS  JSON_REJECT_DUPLICATES
#define SHOWN_MAX   40

/* Where a person-readable reason goes; buf may be NULL. */
typedef struct {
    char *buf;
    size_t len;
} auth_err_t;

static int fail(auth_err_t *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(auth_err_t *e, int code, const char *fmt, ...)
{
    if (e->buf && e->len) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->buf, e->len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* Copies untrusted text for a message: at most 32 bytes, non-printable bytes as '?'. */
static const char *shown(const char *s, size_t n, char out[SHOWN_MAX])
{
    size_t k = n > 32 ? 32 : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
    }
    memcpy(out + k, n > k ? "..." : "", n > k ? 4 : 1);
    return out;
}

static const char *shown_json(const json_t *j, char out[SHOWN_MAX])
{
    return shown(json_string_value(j), json_string_length(j), out);
}

static const char *fmt_time(int64_t t, char buf[48])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t < -62135596800LL || t > 253402300799LL || !gmtime_r(&tt, &tm)) {
        snprintf(buf, 48, "%lld (Unix time)", (long long)t);
        return buf;
    }
    strftime(buf, 48, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

static int64_t sat_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

/* --- base64url (RFC 4648 section 5, no padding) ------------------------------------------------
 */

static const char B64URL[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int auth_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen)
{
    if ((!in && len) || !out || len > SIZE_MAX / 2)
        return LG_EINVAL;
    size_t need = len / 3 * 4 + (len % 3 ? len % 3 + 1 : 0) + 1;
    if (need > outlen)
        return LG_ENOSPC;
    size_t o = 0, i = 0;
    for (; i + 3 <= len; i += 3) {
        uint32_t w = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        out[o++] = B64URL[w >> 18 & 63];
        out[o++] = B64URL[w >> 12 & 63];
        out[o++] = B64URL[w >> 6 & 63];
        out[o++] = B64URL[w & 63];
    }
    if (len - i == 1) {
        out[o++] = B64URL[in[i] >> 2];
        out[o++] = B64URL[(in[i] & 3) << 4];
    } else if (len - i == 2) {
        uint32_t w = (uint32_t)in[i] << 8 | in[i + 1];
        out[o++] = B64URL[w >> 10 & 63];
        out[o++] = B64URL[w >> 4 & 63];
        out[o++] = B64URL[(w & 15) << 2];
    }
    out[o] = '\0';
    return 0;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    return c == '_' ? 63 : -1;
}

int auth_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen)
{
    if ((!in && len) || (!out && cap) || !outlen)
        return LG_EINVAL;
    if (len % 4 == 1)
        return LG_EMALFORMED;
    size_t need = len / 4 * 3 + (len % 4 ? len % 4 - 1 : 0);
    if (need > cap)
        return LG_ENOSPC;
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int v = b64url_value(in[i]);
        if (v < 0)
            return LG_EMALFORMED;
        acc = (acc << 6 | (uint32_t)v) & 0xfff;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    if (acc & ((1u << bits) - 1)) /* unused low bits must be zero: one encoding per value */
        return LG_EMALFORMED;
    *outlen = o;
    return 0;
}

/* --- names --------------------------------------------------------------------------------------
 */

const char *auth_role_name(auth_role_t role)
{
    switch (role) {
    case AUTH_ROLE_MODERATOR:
        return "moderator";
    case AUTH_ROLE_PARTICIPANT:
        return "participant";
    case AUTH_ROLE_OBSERVER:
        return "observer";
    }
    return "?";
}

int auth_role_parse(const char *name, auth_role_t *out)
{
    for (int r = AUTH_ROLE_MODERATOR; r <= AUTH_ROLE_OBSERVER; r++) {
        if (name && strcmp(name, auth_role_name((auth_role_t)r)) == 0) {
            *out = (auth_role_t)r;
            return 0;
        }
    }
    return LG_EINVAL;
}

const char *auth_alg_name(auth_alg_t alg)
{
    switch (alg) {
    case AUTH_ALG_HS256:
        return "HS256";
    case AUTH_ALG_ES256:
        return "ES256";
    case AUTH_ALG_EDDSA:
        return "EdDSA";
    }
    return "?";
}

/* --- verifier setup -----------------------------------------------------------------------------
 */

int auth_verifier_init(auth_verifier_t *v, const char *audience)
{
    if (!v || !audience)
        return LG_EINVAL;
    size_t n = strlen(audience);
    if (n == 0 || n > AUTH_AUD_MAX)
        return LG_EINVAL;
    memset(v, 0, sizeof *v);
    memcpy(v->audience, audience, n + 1);
    v->skew = AUTH_SKEW_DEFAULT;
    return 0;
}

int auth_verifier_set_secret(auth_verifier_t *v, const uint8_t *secret, size_t len)
{
    if (!v || !secret || len < AUTH_SECRET_MIN || len > AUTH_SECRET_MAX)
        return LG_EINVAL;
    OPENSSL_cleanse(v->secret, sizeof v->secret);
    memcpy(v->secret, secret, len);
    v->secret_len = len;
    return 0;
}

int auth_verifier_set_skew(auth_verifier_t *v, int64_t seconds)
{
    if (!v || seconds < 0 || seconds > AUTH_SKEW_MAX)
        return LG_EINVAL;
    v->skew = seconds;
    return 0;
}

/* 1..AUTH_KID_MAX printable ASCII bytes. */
static int kid_valid(const char *kid, size_t n)
{
    if (n == 0 || n > AUTH_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] > 0x7e)
            return 0;
    return 1;
}

/* The algorithm a key type allows: EC P-256 signs ES256, Ed25519 signs EdDSA. */
static int key_alg(EVP_PKEY *pkey, auth_alg_t *alg)
{
    if (EVP_PKEY_is_a(pkey, "ED25519")) {
        *alg = AUTH_ALG_EDDSA;
        return 0;
    }
    char group[64];
    size_t glen = 0;
    if (EVP_PKEY_is_a(pkey, "EC") &&
        EVP_PKEY_get_group_name(pkey, group, sizeof group, &glen) == 1 &&
        (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)) {
        *alg = AUTH_ALG_ES256;
        return 0;
    }
    ERR_clear_error();
    return LG_EUNSUPPORTED;
}

/* A public-only copy, so a verifier never holds private key material. */
static EVP_PKEY *public_copy(EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(pkey, &der);
    if (n <= 0)
        return NULL;
    const unsigned char *p = der;
    EVP_PKEY *pub = d2i_PUBKEY(NULL, &p, n);
    OPENSSL_free(der);
    return pub;
}

static const auth_key_t *find_kid(const auth_verifier_t *v, const char *kid)
{
    for (size_t i = 0; i < v->nkeys; i++)
        if (v->keys[i].kid[0] && strcmp(v->keys[i].kid, kid) == 0)
            return &v->keys[i];
    return NULL;
}

int auth_verifier_add_public_key(auth_verifier_t *v, EVP_PKEY *pkey, const char *kid)
{
    if (!v || !pkey || (kid && !kid_valid(kid, strlen(kid))))
        return LG_EINVAL;
    if (kid && find_kid(v, kid))
        return LG_EEXIST;
    if (v->nkeys == AUTH_KEYS_MAX)
        return LG_EFULL;
    auth_alg_t alg;
    int rc = key_alg(pkey, &alg);
    if (rc != 0)
        return rc;
    EVP_PKEY *pub = public_copy(pkey);
    if (!pub) {
        ERR_clear_error();
        return LG_ECRYPTO;
    }
    auth_key_t *k = &v->keys[v->nkeys++];
    memset(k, 0, sizeof *k);
    k->pkey = pub;
    k->alg = alg;
    if (kid)
        memcpy(k->kid, kid, strlen(kid) + 1);
    return 0;
}

int auth_verifier_add_public_key_pem(auth_verifier_t *v, const char *path, const char *kid)
{
    if (!v || !path)
        return LG_EINVAL;
    FILE *f = fopen(path, "r");
    if (!f)
        return LG_EIO;
    EVP_PKEY *pkey = PEM_read_PUBKEY(f, NULL, NULL, NULL);
    fclose(f);
    if (!pkey) {
        ERR_clear_error();
        return LG_EMALFORMED;
    }
    int rc = auth_verifier_add_public_key(v, pkey, kid);
    EVP_PKEY_free(pkey);
    return rc;
}

void auth_verifier_free(auth_verifier_t *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->nkeys; i++)
        EVP_PKEY_free(v->keys[i].pkey);
    v->nkeys = 0;
    OPENSSL_cleanse(v->secret, sizeof v->secret);
    v->secret_len = 0;
}

/* --- signature primitives ----------------------------------------------------------------------
 */

static int hmac_sha256(const uint8_t *key, size_t klen, const uint8_t *in, size_t n,
                       uint8_t mac[32])
{
    size_t mlen = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, klen, in, n, mac, 32, &mlen) ||
        mlen != 32) {
        ERR_clear_error();
        return LG_ECRYPTO;
    }
    return 0;
}

/* JWS ES256 signatures are R || S, 32 bytes each (RFC 7518 3.4); EVP wants DER ECDSA-Sig-Value. */
static int es256_raw_to_der(const uint8_t raw[64], uint8_t *der, size_t cap, size_t *dlen)
{
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, ES256_HALF, NULL);
    BIGNUM *s = BN_bin2bn(raw + ES256_HALF, ES256_HALF, NULL);
    if (!es || !r || !s || !ECDSA_SIG_set0(es, r, s)) {
        ECDSA_SIG_free(es);
        BN_free(r);
        BN_free(s);
        return LG_ECRYPTO;
    }
    int n = i2d_ECDSA_SIG(es, NULL);
    int rc = LG_ECRYPTO;
    if (n > 0 && (size_t)n <= cap) {
        unsigned char *p = der;
        *dlen = (size_t)i2d_ECDSA_SIG(es, &p);
        rc = *dlen == (size_t)n ? 0 : LG_ECRYPTO;
    }
    ECDSA_SIG_free(es);
    return rc;
}

static int es256_der_to_raw(const uint8_t *der, size_t dlen, uint8_t raw[64])
{
    const unsigned char *p = der;
    ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
    if (!es)
        return LG_ECRYPTO;
    const BIGNUM *r = NULL, *s = NULL;
    ECDSA_SIG_get0(es, &r, &s);
    int ok = BN_bn2binpad(r, raw, ES256_HALF) == ES256_HALF &&
             BN_bn2binpad(s, raw + ES256_HALF, ES256_HALF) == ES256_HALF;
    ECDSA_SIG_free(es);
    return ok ? 0 : LG_ECRYPTO;
}

/* Returns 1 when sig is a valid signature by key k over in. */
static int pkey_verify(const auth_key_t *k, const uint8_t *in, size_t n, const uint8_t *sig,
                       size_t slen)
{
    uint8_t der[80];
    size_t dlen = 0;
    if (slen != 64)
        return 0;
    if (k->alg == AUTH_ALG_ES256) {
        if (es256_raw_to_der(sig, der, sizeof der, &dlen) != 0)
            return 0;
        sig = der;
        slen = dlen;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = k->alg == AUTH_ALG_ES256 ? EVP_sha256() : NULL;
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, slen, in, n) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    return ok;
}

static int hs256_verify(const auth_verifier_t *v, const uint8_t *in, size_t n, const uint8_t *sig,
                        size_t slen)
{
    uint8_t mac[32];
    int ok = slen == sizeof mac && hmac_sha256(v->secret, v->secret_len, in, n, mac) == 0 &&
             CRYPTO_memcmp(mac, sig, sizeof mac) == 0;
    OPENSSL_cleanse(mac, sizeof mac);
    return ok;
}

static int sign_with_key(EVP_PKEY *key, auth_alg_t alg, const uint8_t *in, size_t n,
                         uint8_t sig[SIG_MAX], size_t *slen)
{
    uint8_t der[80];
    size_t dlen = alg == AUTH_ALG_ES256 ? sizeof der : SIG_MAX;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    const EVP_MD *md = alg == AUTH_ALG_ES256 ? EVP_sha256() : NULL;
    int ok = ctx && EVP_DigestSignInit(ctx, NULL, md, NULL, key) == 1 &&
             EVP_DigestSign(ctx, alg == AUTH_ALG_ES256 ? der : sig, &dlen, in, n) == 1;
    EVP_MD_CTX_free(ctx);
    ERR_clear_error();
    if (!ok)
        return LG_ECRYPTO;
    *slen = 64;
    if (alg == AUTH_ALG_ES256)
        return es256_der_to_raw(der, dlen, sig);
    return dlen == 64 ? 0 : LG_ECRYPTO;
}

/* --- token id ----------------------------------------------------------------------------------
 */

/* n/2 for P-256's group order n. */
static const uint8_t P256_HALF_N[32] = {
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8};
static const uint8_t P256_N[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                   0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

/* s := n - s when s > n/2, so (r, s) and its twin (r, n - s) name the same token. */
static void es256_low_s(uint8_t s[32])
{
    if (memcmp(s, P256_HALF_N, 32) <= 0)
        return;
    unsigned borrow = 0;
    for (int i = 31; i >= 0; i--) {
        unsigned d = (unsigned)P256_N[i] - s[i] - borrow;
        s[i] = (uint8_t)(d & 0xff);
        borrow = (d >> 8) & 1;
    }
}

static void token_id(auth_alg_t alg, const uint8_t *sig, size_t slen, char out[65])
{
    uint8_t canon[SIG_MAX], md[32];
    memcpy(canon, sig, slen);
    if (alg == AUTH_ALG_ES256 && slen == 64)
        es256_low_s(canon + ES256_HALF);
    unsigned int mdlen = 0;
    if (EVP_Digest(canon, slen, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32) {
        ERR_clear_error();
        memset(md, 0, sizeof md);
    }
    for (size_t i = 0; i < 32; i++) {
        out[2 * i] = "0123456789abcdef"[md[i] >> 4];
        out[2 * i + 1] = "0123456789abcdef"[md[i] & 15];
    }
    out[64] = '\0';
}

/* --- JWS verification --------------------------------------------------------------------------
 */

typedef struct {
    const char *seg[3];
    size_t len[3];
} jws_parts_t;

typedef struct {
    auth_alg_t alg;
    char alg_text[SHOWN_MAX];
    int has_kid;
    char kid[AUTH_KID_MAX + 1];
} jws_header_t;

static int split_token(const char *t, size_t len, jws_parts_t *p, auth_err_t *e)
{
    size_t start = 0;
    int n = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && t[i] != '.')
            continue;
        if (n == 3)
            return fail(e, LG_EMALFORMED, "malformed token: more than 3 parts separated by '.'");
        p->seg[n] = t + start;
        p->len[n++] = i - start;
        start = i + 1;
    }
    if (n != 3)
        return fail(e, LG_EMALFORMED,
                    "malformed token: %d part%s, expected header.payload.signature", n,
                    n == 1 ? "" : "s");
    if (p->len[0] == 0 || p->len[1] == 0)
        return fail(e, LG_EMALFORMED, "malformed token: empty %s",
                    p->len[0] ? "payload" : "header");
    return 0;
}

static int decode_part(const char *what, const char *s, size_t n, uint8_t *out, size_t cap,
                       size_t *olen, auth_err_t *e)
{
    int rc = auth_b64url_decode(s, n, out, cap, olen);
    if (rc == LG_ENOSPC)
        return fail(e, LG_EMALFORMED, "malformed token: %s longer than %zu bytes", what, cap);
    if (rc != 0)
        return fail(e, LG_EMALFORMED, "malformed token: %s is not base64url", what);
    return 0;
}

static int header_alg(const json_t *alg, jws_header_t *h, auth_err_t *e)
{
    const char *a = json_string_value(alg);
    size_t n = json_string_length(alg);
    shown(a, n, h->alg_text);
    if (n == 5 && memcmp(a, "HS256", 5) == 0)
        h->alg = AUTH_ALG_HS256;
    else if (n == 5 && memcmp(a, "ES256", 5) == 0)
        h->alg = AUTH_ALG_ES256;
    else if ((n == 5 && memcmp(a, "EdDSA", 5) == 0) || (n == 7 && memcmp(a, "Ed25519", 7) == 0))
        h->alg = AUTH_ALG_EDDSA;
    else
        return fail(e, LG_EALG, "token algorithm '%s' is not accepted", h->alg_text);
    return 0;
}

static int read_header(const json_t *root, jws_header_t *h, auth_err_t *e)
{
    char buf[SHOWN_MAX];
    const json_t *alg = json_object_get(root, "alg");
    if (!json_is_string(alg))
        return fail(e, LG_EMALFORMED, "malformed token: header has no \"alg\" string");
    int rc = header_alg(alg, h, e);
    if (rc != 0)
        return rc;
    if (json_object_get(root, "crit"))
        return fail(e, LG_EUNSUPPORTED,
                    "token header has critical extensions ('crit'): none "
                    "are supported");
    const json_t *typ = json_object_get(root, "typ");
    if (typ && (!json_is_string(typ) || strcasecmp(json_string_value(typ), "JWT") != 0))
        return fail(e, LG_EMALFORMED, "malformed token: type '%s' is not JWT",
                    json_is_string(typ) ? shown_json(typ, buf) : "(not a string)");
    const json_t *kid = json_object_get(root, "kid");
    if (!kid)
        return 0;
    if (!json_is_string(kid))
        return fail(e, LG_EMALFORMED, "malformed token: header \"kid\" is not a string");
    if (!kid_valid(json_string_value(kid), json_string_length(kid)))
        return fail(e, LG_ENOTFOUND, "token key id '%s' is not configured", shown_json(kid, buf));
    h->has_kid = 1;
    memcpy(h->kid, json_string_value(kid), json_string_length(kid) + 1);
    return 0;
}

static int parse_header(const uint8_t *buf, size_t n, jws_header_t *h, auth_err_t *e)
{
    json_error_t je;
    json_t *root = json_loadb((const char *)buf, n, JSON_FLAGS, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(e, LG_EMALFORMED, "malformed token: header is not a JSON object");
    }
    memset(h, 0, sizeof *h);
    int rc = read_header(root, h, e);
    json_decref(root);
    return rc;
}

static int bad_signature(auth_err_t *e)
{
    return fail(e, LG_ESIGNATURE, "token signature does not verify");
}

/* Picks the key by kid or by the KEY's algorithm; a header can never widen what a key accepts. */
static int verify_signature(const auth_verifier_t *v, const jws_header_t *h, const uint8_t *in,
                            size_t n, const uint8_t *sig, size_t slen, auth_err_t *e)
{
    const char *name = auth_alg_name(h->alg);
    const auth_key_t *k = h->has_kid ? find_kid(v, h->kid) : NULL;
    if (k) {
        if (k->alg != h->alg)
            return fail(e, LG_EALG, "token algorithm '%s' does not match key '%s' (%s)", name,
                        k->kid, auth_alg_name(k->alg));
        return pkey_verify(k, in, n, sig, slen) ? 0 : bad_signature(e);
    }
    if (h->has_kid && h->alg != AUTH_ALG_HS256) {
        char buf[SHOWN_MAX];
        return fail(e, LG_ENOTFOUND, "token key id '%s' is not configured",
                    shown(h->kid, strlen(h->kid), buf));
    }
    if (h->alg == AUTH_ALG_HS256) {
        if (v->secret_len == 0)
            return fail(e, LG_EALG,
                        "token algorithm 'HS256' is not accepted: no shared secret "
                        "is configured");
        return hs256_verify(v, in, n, sig, slen) ? 0 : bad_signature(e);
    }
    size_t tried = 0;
    for (size_t i = 0; i < v->nkeys; i++) {
        if (v->keys[i].alg != h->alg)
            continue;
        tried++;
        if (pkey_verify(&v->keys[i], in, n, sig, slen))
            return 0;
    }
    if (tried == 0)
        return fail(e, LG_EALG, "token algorithm '%s' is not accepted: no %s key is configured",
                    name, name);
    return bad_signature(e);
}

static int jws_verify(const auth_verifier_t *v, const char *token, size_t len, auth_jws_t *out,
                      auth_err_t *e)
{
    if (len > AUTH_TOKEN_MAX)
        return fail(e, LG_ERANGE, "token is %zu bytes, more than the %d accepted", len,
                    AUTH_TOKEN_MAX);
    jws_parts_t p;
    int rc = split_token(token, len, &p, e);
    uint8_t hdr[HEADER_MAX], sig[SIG_MAX];
    size_t hlen = 0, slen = 0;
    jws_header_t h = {0};
    if (rc == 0)
        rc = decode_part("header", p.seg[0], p.len[0], hdr, sizeof hdr, &hlen, e);
    if (rc == 0)
        rc = parse_header(hdr, hlen, &h, e);
    if (rc == 0)
        rc = decode_part("payload", p.seg[1], p.len[1], out->payload, sizeof out->payload,
                         &out->payload_len, e);
    if (rc != 0)
        return rc;
    if (p.len[2] > SIG_SEG_MAX)
        return bad_signature(e);
    rc = decode_part("signature", p.seg[2], p.len[2], sig, sizeof sig, &slen, e);
    if (rc == 0)
        rc = verify_signature(v, &h, (const uint8_t *)token, p.len[0] + 1 + p.len[1], sig, slen, e);
    if (rc != 0)
        return rc;
    out->alg = h.alg;
    memcpy(out->kid, h.kid, sizeof out->kid);
    token_id(h.alg, sig, slen, out->token_id);
    return 0;
}

int auth_jws_verify(const auth_verifier_t *v, const char *token, size_t len, auth_jws_t *out,
                    char *err, size_t errlen)
{
    auth_err_t e = {err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!v || !token || !out)
        return fail(&e, LG_EINVAL, "invalid argument");
    memset(out, 0, sizeof *out);
    int rc = jws_verify(v, token, len, out, &e);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    return rc;
}

/* --- claims ------------------------------------------------------------------------------------
 */

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return 1;
    return 0;
}

/* Copies string claim `key` into dst (cap counts the NUL). Returns 1 when absent, 0 when copied,
 * -1 when not a string of 1..cap-1 bytes without control characters. */
static int claim_string(const json_t *root, const char *key, char *dst, size_t cap)
{
    const json_t *j = json_object_get(root, key);
    if (!j)
        return 1;
    if (!json_is_string(j))
        return -1;
    size_t n = json_string_length(j);
    if (n == 0 || n >= cap || has_control(json_string_value(j), n))
        return -1;
    memcpy(dst, json_string_value(j), n + 1);
    return 0;
}

/* NumericDate (RFC 7519 section 2): a JSON number of seconds; fractions are floored. */
static int claim_time(const json_t *root, const char *key, int64_t *out, int *present,
                      auth_err_t *e)
{
    const json_t *j = json_object_get(root, key);
    *present = j != NULL;
    if (!j)
        return 0;
    if (json_is_integer(j)) {
        *out = (int64_t)json_integer_value(j);
        return 0;
    }
    if (json_is_real(j)) {
        double d = floor(json_real_value(j));
        if (d >= -9.2e18 && d <= 9.2e18) {
            *out = (int64_t)d;
            return 0;
        }
    }
    return fail(e, LG_ECLAIM, "token claim '%s' must be a number of seconds", key);
}

static int read_times(const json_t *root, int64_t skew, int64_t now, auth_claims_t *c,
                      auth_err_t *e)
{
    char when[48];
    int has_exp = 0;
    int rc = claim_time(root, "exp", &c->exp, &has_exp, e);
    if (rc == 0)
        rc = claim_time(root, "nbf", &c->nbf, &c->has_nbf, e);
    if (rc == 0)
        rc = claim_time(root, "iat", &c->iat, &c->has_iat, e);
    if (rc != 0)
        return rc;
    if (!has_exp)
        return fail(e, LG_ECLAIM, "token claim 'exp' is missing");
    if (sat_sub(now, skew) >= c->exp)
        return fail(e, LG_EEXPIRED, "token expired at %s", fmt_time(c->exp, when));
    if (c->has_nbf && c->nbf > sat_add(now, skew))
        return fail(e, LG_ENOTYET, "token not valid before %s", fmt_time(c->nbf, when));
    if (c->has_iat && c->iat > sat_add(now, skew))
        return fail(e, LG_ENOTYET, "token issued in the future, at %s", fmt_time(c->iat, when));
    return 0;
}

static int json_equals(const json_t *s, const char *want)
{
    size_t n = strlen(want);
    return json_string_length(s) == n && memcmp(json_string_value(s), want, n) == 0;
}

static int check_audience(const json_t *root, const char *want, auth_err_t *e)
{
    char buf[SHOWN_MAX];
    const json_t *aud = json_object_get(root, "aud");
    if (!aud)
        return fail(e, LG_ECLAIM, "token claim 'aud' is missing (expected '%s')", want);
    if (json_is_string(aud))
        return json_equals(aud, want) ? 0
                                      : fail(e, LG_EAUDIENCE, "token audience '%s' is not '%s'",
                                             shown_json(aud, buf), want);
    if (!json_is_array(aud))
        return fail(e, LG_ECLAIM, "token claim 'aud' must be a string or an array of strings");
    size_t i, n = json_array_size(aud);
    const json_t *it;
    int found = 0;
    json_array_foreach(aud, i, it)
    {
        if (!json_is_string(it))
            return fail(e, LG_ECLAIM, "token claim 'aud' must be a string or an array of strings");
        found |= json_equals(it, want);
    }
    if (found)
        return 0;
    if (n == 0)
        return fail(e, LG_EAUDIENCE, "token audience is empty, not '%s'", want);
    return fail(e, LG_EAUDIENCE, "token audiences ('%s'%s) do not include '%s'",
                shown_json(json_array_get(aud, 0), buf), n > 1 ? ", ..." : "", want);
}

static int room_valid(const char *r)
{
    size_t n = strlen(r);
    if (n == 0 || n > AUTH_ROOM_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = r[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-'))
            return 0;
    }
    return 1;
}

/* Copies at most cap-1 bytes of UTF-8 src, never splitting a character. */
static void utf8_copy_cut(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xc0) == 0x80)
            n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int read_identity(const json_t *root, auth_claims_t *c, auth_err_t *e)
{
    int rc = claim_string(root, "room", c->room, sizeof c->room);
    if (rc == 1)
        return fail(e, LG_ECLAIM, "token claim 'room' is missing");
    if (rc < 0 || !room_valid(c->room))
        return fail(e, LG_ECLAIM,
                    "token claim 'room' must be 1 to %d characters of A-Z a-z 0-9 "
                    "_ . -",
                    AUTH_ROOM_MAX);
    rc = claim_string(root, "sub", c->sub, sizeof c->sub);
    if (rc == 1)
        return fail(e, LG_ECLAIM, "token claim 'sub' is missing");
    if (rc < 0)
        return fail(e, LG_ECLAIM,
                    "token claim 'sub' must be 1 to %d bytes without control "
                    "characters",
                    AUTH_SUB_MAX);
    rc = claim_string(root, "name", c->name, sizeof c->name);
    if (rc < 0)
        return fail(e, LG_ECLAIM,
                    "token claim 'name' must be 1 to %d bytes of UTF-8 without "
                    "control characters",
                    AUTH_NAME_MAX);
    if (rc == 1)
        utf8_copy_cut(c->name, sizeof c->name, c->sub);
    return 0;
}

static int read_role_jti(const json_t *root, auth_claims_t *c, auth_err_t *e)
{
    char role[16];
    int rc = claim_string(root, "role", role, sizeof role);
    if (rc == 1)
        return fail(e, LG_ECLAIM,
                    "token claim 'role' is missing (moderator, participant or "
                    "observer)");
    if (rc < 0 || auth_role_parse(role, &c->role) != 0)
        return fail(e, LG_ECLAIM, "token claim 'role' must be moderator, participant or observer");
    if (claim_string(root, "jti", c->jti, sizeof c->jti) < 0)
        return fail(e, LG_ECLAIM,
                    "token claim 'jti' must be 1 to %d bytes without control "
                    "characters",
                    AUTH_JTI_MAX);
    return 0;
}

/* "e2ee": absent (not encrypted) or a JSON boolean; anything else is refused rather than guessed,
 * so "e2ee":"false" or 1 never silently means one thing or the other. */
static int read_e2ee(const json_t *root, auth_claims_t *c, auth_err_t *e)
{
    const json_t *j = json_object_get(root, "e2ee");
    if (j && !json_is_boolean(j))
        return fail(e, LG_ECLAIM, "token claim 'e2ee' must be true or false");
    c->e2ee = json_is_true(j);
    return 0;
}

int auth_claims_parse(const auth_verifier_t *v, const uint8_t *payload, size_t len, int64_t now,
                      auth_claims_t *out, char *err, size_t errlen)
{
    auth_err_t e = {err, errlen};
    if (err && errlen)
        err[0] = '\0';
    if (!v || (!payload && len) || !out)
        return fail(&e, LG_EINVAL, "invalid argument");
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loadb((const char *)payload, len, JSON_FLAGS, &je);
    if (!json_is_object(root)) {
        json_decref(root);
        return fail(&e, LG_EMALFORMED, "malformed token: payload is not a JSON object");
    }
    int rc = read_times(root, v->skew, now, out, &e);
    if (rc == 0)
        rc = check_audience(root, v->audience, &e);
    if (rc == 0)
        rc = read_identity(root, out, &e);
    if (rc == 0)
        rc = read_role_jti(root, out, &e);
    if (rc == 0)
        rc = read_e2ee(root, out, &e);
    json_decref(root);
    if (rc != 0)
        memset(out, 0, sizeof *out);
    else
        memcpy(out->aud, v->audience, sizeof out->aud);
    return rc;
}

int auth_verify(const auth_verifier_t *v, const char *token, size_t len, int64_t now,
                auth_claims_t *out, char *err, size_t errlen)
{
    auth_jws_t jws;
    if (!out) {
        auth_err_t e = {err, errlen};
        return fail(&e, LG_EINVAL, "invalid argument");
    }
    int rc = auth_jws_verify(v, token, len, &jws, err, errlen);
    if (rc == 0)
        rc = auth_claims_parse(v, jws.payload, jws.payload_len, now, out, err, errlen);
    if (rc != 0)
        return rc;
    out->alg = jws.alg;
    memcpy(out->kid, jws.kid, sizeof out->kid);
    memcpy(out->token_id, jws.token_id, sizeof out->token_id);
    return 0;
}

/* --- minting -----------------------------------------------------------------------------------
 */

/* Appends base64url(in) at out + *pos, keeping the NUL. */
static int append_b64(const uint8_t *in, size_t n, char *out, size_t outlen, size_t *pos)
{
    int rc = auth_b64url_encode(in, n, out + *pos, outlen - *pos);
    if (rc == 0)
        *pos += strlen(out + *pos);
    return rc;
}

static char *header_json(auth_alg_t alg, const char *kid)
{
    json_t *h = json_object();
    char *s = NULL;
    if (h && json_object_set_new(h, "alg", json_string(auth_alg_name(alg))) == 0 &&
        (!kid || json_object_set_new(h, "kid", json_string(kid)) == 0))
        s = json_dumps(h, JSON_COMPACT);
    json_decref(h);
    return s;
}

int auth_jws_sign(EVP_PKEY *key, const uint8_t *secret, size_t secret_len, const char *kid,
                  const uint8_t *payload, size_t payload_len, char *out, size_t outlen)
{
    auth_alg_t alg = AUTH_ALG_HS256;
    if (!out || outlen == 0 || (!payload && payload_len) || (kid && !kid_valid(kid, strlen(kid))))
        return LG_EINVAL;
    if (key && key_alg(key, &alg) != 0)
        return LG_EUNSUPPORTED;
    if (!key && (!secret || secret_len < AUTH_SECRET_MIN || secret_len > AUTH_SECRET_MAX))
        return LG_EINVAL;
    char *hdr = header_json(alg, kid);
    if (!hdr)
        return LG_ENOMEM;
    size_t pos = 0;
    int rc = append_b64((const uint8_t *)hdr, strlen(hdr), out, outlen, &pos);
    free(hdr);
    if (rc == 0 && pos + 1 < outlen)
        out[pos++] = '.';
    else if (rc == 0)
        rc = LG_ENOSPC;
    if (rc == 0)
        rc = append_b64(payload, payload_len, out, outlen, &pos);
    uint8_t sig[SIG_MAX];
    size_t slen = 32;
    if (rc == 0)
        rc = key ? sign_with_key(key, alg, (const uint8_t *)out, pos, sig, &slen)
                 : hmac_sha256(secret, secret_len, (const uint8_t *)out, pos, sig);
    if (rc == 0 && pos + 1 < outlen)
        out[pos++] = '.';
    else if (rc == 0)
        rc = LG_ENOSPC;
    if (rc == 0)
        rc = append_b64(sig, slen, out, outlen, &pos);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

static int claims_mintable(const auth_claims_t *c, int64_t ttl, int64_t now)
{
    size_t name = strnlen(c->name, sizeof c->name), sub = strnlen(c->sub, sizeof c->sub);
    size_t aud = strnlen(c->aud, sizeof c->aud), jti = strnlen(c->jti, sizeof c->jti);
    return ttl > 0 && now <= INT64_MAX - ttl && strnlen(c->room, sizeof c->room) <= AUTH_ROOM_MAX &&
           room_valid(c->room) && sub > 0 && sub <= AUTH_SUB_MAX && !has_control(c->sub, sub) &&
           name <= AUTH_NAME_MAX && !has_control(c->name, name) && aud > 0 && aud <= AUTH_AUD_MAX &&
           jti <= AUTH_JTI_MAX && !has_control(c->jti, jti) && auth_role_name(c->role)[0] != '?';
}

static char *claims_json(const auth_claims_t *c, int64_t ttl, int64_t now)
{
    json_t *o = json_object();
    int bad = !o;
    bad |= json_object_set_new(o, "room", json_string(c->room));
    bad |= json_object_set_new(o, "sub", json_string(c->sub));
    if (c->name[0])
        bad |= json_object_set_new(o, "name", json_string(c->name));
    bad |= json_object_set_new(o, "role", json_string(auth_role_name(c->role)));
    bad |= json_object_set_new(o, "aud", json_string(c->aud));
    bad |= json_object_set_new(o, "iat", json_integer(now));
    bad |= json_object_set_new(o, "exp", json_integer(now + ttl));
    if (c->has_nbf)
        bad |= json_object_set_new(o, "nbf", json_integer(c->nbf));
    if (c->jti[0])
        bad |= json_object_set_new(o, "jti", json_string(c->jti));
    if (c->e2ee)
        bad |= json_object_set_new(o, "e2ee", json_true());
    char *s = bad ? NULL : json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static int mint(EVP_PKEY *key, const uint8_t *secret, size_t secret_len, const char *kid,
                const auth_claims_t *c, int64_t ttl, int64_t now, char *out, size_t outlen)
{
    if (!c || !out || !claims_mintable(c, ttl, now))
        return LG_EINVAL;
    char *payload = claims_json(c, ttl, now);
    if (!payload)
        return LG_EINVAL; /* json_string() refuses text that is not UTF-8 */
    int rc = auth_jws_sign(key, secret, secret_len, kid, (const uint8_t *)payload, strlen(payload),
                           out, outlen);
    free(payload);
    return rc;
}

int auth_mint_hs256(const uint8_t *secret, size_t secret_len, const auth_claims_t *claims,
                    int64_t ttl_seconds, int64_t now, char *out, size_t outlen)
{
    if (!secret)
        return LG_EINVAL;
    return mint(NULL, secret, secret_len, NULL, claims, ttl_seconds, now, out, outlen);
}

int auth_mint_with_key(EVP_PKEY *key, const char *kid, const auth_claims_t *claims,
                       int64_t ttl_seconds, int64_t now, char *out, size_t outlen)
{
    if (!key)
        return LG_EINVAL;
    return mint(key, NULL, 0, kid, claims, ttl_seconds, now, out, outlen);
}
