/* Join tokens: reading and checking a token's claims (time window, audience, room, identity,
 * role) and minting signed tokens from claims. */
#include "signaling/auth.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "sfu/lg_error.h"
#include "signaling/auth_internal.h"

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
