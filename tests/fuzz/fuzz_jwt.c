/* libFuzzer target for join tokens: the input as a whole token, as the payload of a validly
 * signed token (to reach the claims parser), and as base64url text (strictness round trip). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sfu/lg_error.h"
#include "signaling/auth.h"

#define FUZZ_NOW 1795686600LL /* 2026-11-26T09:50:00Z */

static const uint8_t SECRET[] = "legation-fuzz-secret-0123456789abcdef";

static auth_verifier_t verifier;

/* One fixed HS256 secret, one EC P-256 and one Ed25519 key, created on the first input. */
static void setup(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    EVP_PKEY *ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (auth_verifier_init(&verifier, "legation") != 0 ||
        auth_verifier_set_secret(&verifier, SECRET, sizeof SECRET - 1) != 0 || !ec || !ed ||
        auth_verifier_add_public_key(&verifier, ec, "ec") != 0 ||
        auth_verifier_add_public_key(&verifier, ed, NULL) != 0)
        abort();
    EVP_PKEY_free(ec);
    EVP_PKEY_free(ed);
}

/* A failure always explains itself; a success yields terminated, bounded fields. */
static void check_result(int rc, const auth_claims_t *c, const char *err)
{
    if (rc > 0 || (rc != 0 && err[0] == '\0') || strlen(err) >= AUTH_ERR_LEN)
        abort();
    if (rc != 0)
        return;
    if (strnlen(c->room, sizeof c->room) == 0 || strnlen(c->room, sizeof c->room) > AUTH_ROOM_MAX ||
        strnlen(c->sub, sizeof c->sub) > AUTH_SUB_MAX ||
        strnlen(c->name, sizeof c->name) > AUTH_NAME_MAX || strlen(c->token_id) != 64 ||
        c->exp <= FUZZ_NOW - verifier.skew || strcmp(c->aud, "legation") != 0)
        abort();
}

static void fuzz_payload(const uint8_t *data, size_t size)
{
    static char tok[AUTH_TOKEN_MAX + 64];
    auth_claims_t c;
    char err[AUTH_ERR_LEN];
    if (auth_jws_sign(NULL, SECRET, sizeof SECRET - 1, NULL, data, size, tok, sizeof tok) != 0)
        return;
    int rc = auth_verify(&verifier, tok, strlen(tok), FUZZ_NOW, &c, err, sizeof err);
    check_result(rc, &c, err);
    /* Signed with the configured secret: the signature layer must never be what refuses it. */
    if (rc == LG_ESIGNATURE || rc == LG_EALG || rc == LG_ENOTFOUND)
        abort();
}

static void fuzz_b64(const uint8_t *data, size_t size)
{
    static uint8_t dec[AUTH_TOKEN_MAX];
    static char enc[AUTH_TOKEN_MAX * 2];
    size_t n = 0;
    if (size > AUTH_TOKEN_MAX ||
        auth_b64url_decode((const char *)data, size, dec, sizeof dec, &n) != 0)
        return;
    if (auth_b64url_encode(dec, n, enc, sizeof enc) != 0 || strlen(enc) != size ||
        memcmp(enc, data, size) != 0)
        abort(); /* strict decoding means exactly one encoding per byte string */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    setup();
    auth_claims_t c;
    char err[AUTH_ERR_LEN];
    int rc = auth_verify(&verifier, (const char *)data, size, FUZZ_NOW, &c, err, sizeof err);
    check_result(rc, &c, err);
    fuzz_payload(data, size);
    fuzz_b64(data, size);
    return 0;
}
