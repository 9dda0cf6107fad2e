/* Join tokens: verification and minting of compact JWTs (RFC 7519/7515) signed HS256, ES256 or
 * EdDSA. */
#ifndef LG_AUTH_H
#define LG_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/*
 * Contract
 * - Ownership: auth_verifier_t is caller-owned (stack, static or embedded); auth_verifier_init()
 *   prepares it and auth_verifier_free() releases the keys it holds. Results (auth_claims_t,
 *   auth_jws_t) are caller-owned fixed-size structs: nothing in them needs freeing. Internally
 *   jansson and OpenSSL allocate while a call runs and free before it returns.
 * - Threading: set a verifier up on one thread; after that it is read-only and any number of
 *   auth_verify() calls may use it at once (in practice the control thread). Never add keys while
 *   verifying. Minting and base64url helpers keep no state.
 * - Trust: the algorithm is decided by the KEY, never by the token. The header's "alg" must match
 *   the key that verifies it: an HS256 token is only checked with the shared secret, an ES256 or
 *   EdDSA token only with a configured public key of that type; "none" is always refused.
 * - Errors: 0 or a negative LG_E* code (sfu/lg_error.h). The verify functions also write a
 *   person-readable sentence naming the problem into `err` (NUL-terminated, truncated to errlen;
 *   err may be NULL). Text taken from the token is shortened and non-printable bytes become '?'.
 *     LG_ERANGE      token longer than AUTH_TOKEN_MAX
 *     LG_EMALFORMED  not three base64url parts, bad base64url, header or payload not a JSON object
 *     LG_EALG        "alg" none / unknown / not matching the key / no key of that type configured
 *     LG_ENOTFOUND   "kid" names no configured key
 *     LG_EUNSUPPORTED header "crit" (no extensions are understood)
 *     LG_ESIGNATURE  signature or MAC does not verify
 *     LG_EEXPIRED    exp passed (beyond skew);  LG_ENOTYET  nbf or iat in the future (beyond skew)
 *     LG_EAUDIENCE   aud does not contain the expected audience
 *     LG_ECLAIM      a claim is missing or invalid (room, sub, name, role, exp, aud, jti, e2ee ...)
 */

#define AUTH_TOKEN_MAX    8192 /* bytes of compact serialization accepted */
#define AUTH_PAYLOAD_MAX  6144 /* decoded payload bytes (3/4 of the token) */
#define AUTH_SECRET_MIN   32   /* RFC 7518 3.2: an HS256 key has at least 256 bits */
#define AUTH_SECRET_MAX   512
#define AUTH_KEYS_MAX     16
#define AUTH_KID_MAX      64
#define AUTH_AUD_MAX      64
#define AUTH_ROOM_MAX     64 /* 1..64 of [A-Za-z0-9_.-] */
#define AUTH_SUB_MAX      128
#define AUTH_NAME_MAX     64 /* bytes of UTF-8 */
#define AUTH_JTI_MAX      128
#define AUTH_TOKEN_ID_LEN 64 /* hex SHA-256 */
#define AUTH_SKEW_DEFAULT 30
#define AUTH_SKEW_MAX     3600
#define AUTH_ERR_LEN      192 /* a comfortable size for the err buffer */

typedef enum { AUTH_ALG_HS256 = 1, AUTH_ALG_ES256, AUTH_ALG_EDDSA } auth_alg_t;

typedef enum { AUTH_ROLE_MODERATOR = 1, AUTH_ROLE_PARTICIPANT, AUTH_ROLE_OBSERVER } auth_role_t;

/* One configured public key. The verifier owns `pkey` (a public-only copy). */
typedef struct {
    EVP_PKEY *pkey;
    auth_alg_t alg;             /* fixed by the key type: EC P-256 -> ES256, Ed25519 -> EdDSA */
    char kid[AUTH_KID_MAX + 1]; /* "" when the key has no id */
} auth_key_t;

/* Verifier configuration. Fields are readable; change them only through the functions below. */
typedef struct {
    uint8_t secret[AUTH_SECRET_MAX];
    size_t secret_len; /* 0: HS256 tokens are refused */
    auth_key_t keys[AUTH_KEYS_MAX];
    size_t nkeys;
    char audience[AUTH_AUD_MAX + 1];
    int64_t skew; /* seconds of clock difference tolerated on exp, nbf, iat */
} auth_verifier_t;

/* Claims of a verified join token, or the input of a mint (then exp, iat and token_id are
 * ignored and aud names the audience to write). Strings are NUL-terminated UTF-8. */
typedef struct {
    char room[AUTH_ROOM_MAX + 1];
    char sub[AUTH_SUB_MAX + 1];   /* identity */
    char name[AUTH_NAME_MAX + 1]; /* display name; defaults to sub (cut at a character edge) */
    auth_role_t role;
    char aud[AUTH_AUD_MAX + 1]; /* verify: the expected audience it contained */
    int64_t exp;
    int64_t nbf; /* valid when has_nbf */
    int64_t iat; /* valid when has_iat */
    int has_nbf, has_iat;
    char jti[AUTH_JTI_MAX + 1]; /* "" when absent; rooms may bar a kicked jti */
    /* "e2ee": true: the room is end-to-end encrypted (browsers encrypt frames with a key the
     * relay never sees; the relay forwards but never mixes). Absent or false: 0. The token issuer
     * decides, not a participant; mint writes the claim only when set. */
    int e2ee;
    auth_alg_t alg;             /* algorithm of the key that verified it */
    char kid[AUTH_KID_MAX + 1]; /* header kid, "" when absent */
    /* hex SHA-256 of the decoded signature (ES256 with s normalized to the low half so a
     * re-signed (r, n-s) twin gets the same id): a stable id to refuse a kicked token. */
    char token_id[AUTH_TOKEN_ID_LEN + 1];
} auth_claims_t;

/* The signature layer's result: a verified payload, not yet read as claims. */
typedef struct {
    auth_alg_t alg;
    char kid[AUTH_KID_MAX + 1];
    uint8_t payload[AUTH_PAYLOAD_MAX];
    size_t payload_len;
    char token_id[AUTH_TOKEN_ID_LEN + 1];
} auth_jws_t;

/* --- verifier setup (one thread, before use) ------------------------------------------------ */

/* Empties v and sets the expected audience (1..AUTH_AUD_MAX bytes) and skew AUTH_SKEW_DEFAULT.
 * Returns 0 or LG_EINVAL. After a successful init, call auth_verifier_free() when done. */
int auth_verifier_init(auth_verifier_t *v, const char *audience);

/* Sets the HS256 shared secret (AUTH_SECRET_MIN..AUTH_SECRET_MAX bytes, copied).
 * Returns 0 or LG_EINVAL. */
int auth_verifier_set_secret(auth_verifier_t *v, const uint8_t *secret, size_t len);

/* Sets the clock skew in seconds (0..AUTH_SKEW_MAX). Returns 0 or LG_EINVAL. */
int auth_verifier_set_skew(auth_verifier_t *v, int64_t seconds);

/* Adds a public key (EC P-256 or Ed25519; a private key is accepted and only its public half
 * kept). The verifier stores its own copy; the caller keeps pkey. kid may be NULL; otherwise
 * 1..AUTH_KID_MAX printable ASCII bytes, unique in v.
 * Returns 0, LG_EINVAL, LG_EUNSUPPORTED (other key type or curve), LG_EEXIST (kid taken),
 * LG_EFULL (AUTH_KEYS_MAX keys) or LG_ECRYPTO. */
int auth_verifier_add_public_key(auth_verifier_t *v, EVP_PKEY *pkey, const char *kid);

/* Loads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo) file and adds it as above.
 * Also returns LG_EIO (cannot open) or LG_EMALFORMED (no public key in the file). */
int auth_verifier_add_public_key_pem(auth_verifier_t *v, const char *path, const char *kid);

/* Releases the keys and wipes the secret. v may be reused after auth_verifier_init(). */
void auth_verifier_free(auth_verifier_t *v);

/* --- verification ----------------------------------------------------------------------------- */

/* Verifies the compact token (token, len: no NUL needed) at time `now` (Unix seconds): signature,
 * then claims. On success fills *out and returns 0; on failure returns a code listed above and
 * writes the reason into err. *out is unspecified after a failure. */
int auth_verify(const auth_verifier_t *v, const char *token, size_t len, int64_t now,
                auth_claims_t *out, char *err, size_t errlen);

/* Signature layer only: checks the three parts, the header and the signature and returns the
 * verified payload bytes in *out. Same codes as auth_verify() except the claim ones. */
int auth_jws_verify(const auth_verifier_t *v, const char *token, size_t len, auth_jws_t *out,
                    char *err, size_t errlen);

/* Claims layer only: reads an already verified JSON payload against v's audience and skew.
 * Fills everything in *out except alg, kid and token_id. */
int auth_claims_parse(const auth_verifier_t *v, const uint8_t *payload, size_t len, int64_t now,
                      auth_claims_t *out, char *err, size_t errlen);

/* --- minting (dev tool, tests, demonstrations of a ministry's offline signing) -----------------
 */

/* Writes a HS256 token for claims (room, sub, name, role, aud, optional jti, nbf and e2ee) with
 * iat = now and exp = now + ttl_seconds into out (NUL-terminated). The secret must be
 * AUTH_SECRET_MIN..AUTH_SECRET_MAX bytes. Returns 0, LG_EINVAL (bad claims, ttl <= 0, short
 * secret), LG_ENOSPC (out too small) or LG_ENOMEM/LG_ECRYPTO. */
int auth_mint_hs256(const uint8_t *secret, size_t secret_len, const auth_claims_t *claims,
                    int64_t ttl_seconds, int64_t now, char *out, size_t outlen);

/* As auth_mint_hs256() but signed ES256 (EC P-256) or EdDSA (Ed25519) with a private key; kid
 * (may be NULL) goes into the header. Also LG_EUNSUPPORTED for another key type. */
int auth_mint_with_key(EVP_PKEY *key, const char *kid, const auth_claims_t *claims,
                       int64_t ttl_seconds, int64_t now, char *out, size_t outlen);

/* Signs any payload as a compact JWS with header {"alg":A} or {"alg":A,"kid":K}: with `key` when
 * non-NULL (ES256/EdDSA), else HS256 with the secret (length checked as above). */
int auth_jws_sign(EVP_PKEY *key, const uint8_t *secret, size_t secret_len, const char *kid,
                  const uint8_t *payload, size_t payload_len, char *out, size_t outlen);

/* --- helpers ---------------------------------------------------------------------------------- */

/* base64url without padding. Encode writes a NUL-terminated string; returns 0 or LG_ENOSPC. */
int auth_b64url_encode(const uint8_t *in, size_t len, char *out, size_t outlen);

/* Strict decode: only [A-Za-z0-9_-], no '=', no length of 1 mod 4, unused low bits zero (so each
 * byte string has exactly one encoding). Returns 0, LG_EMALFORMED or LG_ENOSPC. */
int auth_b64url_decode(const char *in, size_t len, uint8_t *out, size_t cap, size_t *outlen);

/* "moderator", "participant", "observer" (or "?"), and the reverse (0 or LG_EINVAL). */
const char *auth_role_name(auth_role_t role);
int auth_role_parse(const char *name, auth_role_t *out);

/* "HS256", "ES256", "EdDSA" (or "?"). */
const char *auth_alg_name(auth_alg_t alg);

#endif
