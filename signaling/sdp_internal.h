/* Internals shared by the SDP parser files: string views over the input and the parse context. */
#ifndef LG_SDP_INTERNAL_H
#define LG_SDP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "signaling/sdp.h"

/* A view of part of the input: never NUL-terminated. */
typedef struct {
    const char *p;
    size_t n;
} sv_t;

typedef struct {
    sdp_session_t *s;
    sdp_media_t *m; /* current m-section; NULL at session level */
    int line;
    bool seen_v;
    bool seen_o;
    bool seen_bundle;
    char msg[96];
} ctx_t;

/* --- string views --------------------------------------------------------------------------- */

static inline sv_t sv_make(const char *p, size_t n)
{
    sv_t v = {p, n};
    return v;
}

static inline bool sv_eq(sv_t v, const char *lit)
{
    size_t n = strlen(lit);
    return v.n == n && memcmp(v.p, lit, n) == 0;
}

static inline bool sv_ieq(sv_t v, const char *lit)
{
    size_t n = strlen(lit);
    return v.n == n && strncasecmp(v.p, lit, n) == 0;
}

static inline sv_t sv_skip_spaces(sv_t v)
{
    while (v.n > 0 && v.p[0] == ' ') {
        v.p++;
        v.n--;
    }
    return v;
}

/* Returns the next sep-delimited token of *rest (skipping leading seps) and advances *rest past
 * it and the one separator after it. An empty view means no token was left. */
static inline sv_t sv_token(sv_t *rest, char sep)
{
    while (rest->n > 0 && rest->p[0] == sep) {
        rest->p++;
        rest->n--;
    }
    size_t i = 0;
    while (i < rest->n && rest->p[i] != sep)
        i++;
    sv_t tok = sv_make(rest->p, i);
    size_t adv = i < rest->n ? i + 1 : i;
    rest->p += adv;
    rest->n -= adv;
    return tok;
}

/* Splits v at the first c: *head before it, return value after it (empty when absent). */
static inline sv_t sv_split(sv_t v, char c, sv_t *head)
{
    const char *at = v.n ? memchr(v.p, c, v.n) : NULL;
    if (!at) {
        *head = v;
        return sv_make(v.p + v.n, 0);
    }
    *head = sv_make(v.p, (size_t)(at - v.p));
    return sv_make(at + 1, v.n - head->n - 1);
}

/* Decimal digits only, no sign, value <= max. */
static inline bool sv_u64(sv_t v, uint64_t max, uint64_t *out)
{
    if (v.n == 0 || v.n > 20)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9')
            return false;
        uint64_t d = (uint64_t)(v.p[i] - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (x > max)
        return false;
    *out = x;
    return true;
}

/* Copies v into dst[size] zero-filling the tail. false when v is empty or does not fit. */
static inline bool sv_copy(char *dst, size_t size, sv_t v)
{
    if (v.n == 0 || v.n >= size)
        return false;
    memset(dst, 0, size);
    memcpy(dst, v.p, v.n);
    return true;
}

#define SV_COPY(dst, v) sv_copy((dst), sizeof(dst), (v))

/* The value must be exactly one token; copies it. */
static inline bool copy_single(char *dst, size_t size, sv_t v)
{
    sv_t tok = sv_token(&v, ' ');
    return sv_skip_spaces(v).n == 0 && sv_copy(dst, size, tok);
}

/* Formats c->msg ("too many a=ssrc (max 8)") and returns code. */
int sdp__fail(ctx_t *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Names as written in SDP, indexed by the enum value (sdp_util.c). */
extern const char *const sdp__dir_names[5];
extern const char *const sdp__kind_names[3];
extern const char *const sdp__setup_names[5];
extern const char *const sdp__cand_type_names[4];
extern const char *const sdp__tcptype_names[4];

/* Index of v in names[first..n-1], or -1. */
static inline int sv_lookup(sv_t v, const char *const *names, int n, int first)
{
    for (int i = first; i < n; i++)
        if (sv_eq(v, names[i]))
            return i;
    return -1;
}

/* Attribute handlers in sdp_media_attr.c: value is what follows "a=<name>:"; 0 or LG_E*. */
int sdp__attr_msid(ctx_t *c, sv_t v, int arg);
int sdp__attr_extmap(ctx_t *c, sv_t v, int arg);
int sdp__attr_ssrc(ctx_t *c, sv_t v, int arg);
int sdp__attr_ssrc_group(ctx_t *c, sv_t v, int arg);
int sdp__attr_rid(ctx_t *c, sv_t v, int arg);
int sdp__attr_simulcast(ctx_t *c, sv_t v, int arg);
int sdp__attr_candidate(ctx_t *c, sv_t v, int arg);

#endif
