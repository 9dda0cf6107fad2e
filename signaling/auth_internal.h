/* Internals shared by the join-token files: the error sink, safe display of token text and the
 * verifier's key lookups. */
#ifndef LG_AUTH_INTERNAL_H
#define LG_AUTH_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "signaling/auth.h"

#define JSON_FLAGS JSON_REJECT_DUPLICATES
#define SHOWN_MAX  40

/* Where a person-readable reason goes; buf may be NULL. */
typedef struct {
    char *buf;
    size_t len;
} auth_err_t;

static inline int fail(auth_err_t *e, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static inline int fail(auth_err_t *e, int code, const char *fmt, ...)
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
static inline const char *shown(const char *s, size_t n, char out[SHOWN_MAX])
{
    size_t k = n > 32 ? 32 : n;
    for (size_t i = 0; i < k; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = (c < 0x20 || c > 0x7e) ? '?' : (char)c;
    }
    memcpy(out + k, n > k ? "..." : "", n > k ? 4 : 1);
    return out;
}

static inline const char *shown_json(const json_t *j, char out[SHOWN_MAX])
{
    return shown(json_string_value(j), json_string_length(j), out);
}

/* 1..AUTH_KID_MAX printable ASCII bytes. */
static inline int kid_valid(const char *kid, size_t n)
{
    if (n == 0 || n > AUTH_KID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)kid[i] < 0x20 || (unsigned char)kid[i] > 0x7e)
            return 0;
    return 1;
}

/* The algorithm a key type allows: EC P-256 signs ES256, Ed25519 signs EdDSA. LG_EUNSUPPORTED
 * for any other key. Defined in auth.c. */
int auth__key_alg(EVP_PKEY *pkey, auth_alg_t *alg);

/* The configured key named kid, or NULL. Defined in auth.c. */
const auth_key_t *auth__find_kid(const auth_verifier_t *v, const char *kid);

#endif
