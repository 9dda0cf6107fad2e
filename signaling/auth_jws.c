/* Join tokens: compact JWS (HS256, ES256, EdDSA) over OpenSSL EVP: base64url, signing and
 * verifying a token's signature and reading its header. */
#include "signaling/auth.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>

#include "sfu/lg_error.h"
#include "signaling/auth_internal.h"

#define HEADER_MAX  1024 /* decoded header bytes */
#define SIG_MAX     64   /* every accepted algorithm signs with 64 bytes or fewer */
#define SIG_SEG_MAX 88   /* base64url length of SIG_MAX bytes, rounded up */
#define ES256_HALF  32

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
    const auth_key_t *k = h->has_kid ? auth__find_kid(v, h->kid) : NULL;
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

/* --- JWS signing -------------------------------------------------------------------------------
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
    if (key && auth__key_alg(key, &alg) != 0)
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
