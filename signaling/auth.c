/* Join tokens: role and algorithm names, and the verifier that holds the audience, the shared
 * secret, the clock skew and the public keys tokens are checked against. */
#include "signaling/auth.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "sfu/lg_error.h"
#include "signaling/auth_internal.h"

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
/* The algorithm a key type allows: EC P-256 signs ES256, Ed25519 signs EdDSA. */
int auth__key_alg(EVP_PKEY *pkey, auth_alg_t *alg)
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

const auth_key_t *auth__find_kid(const auth_verifier_t *v, const char *kid)
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
    if (kid && auth__find_kid(v, kid))
        return LG_EEXIST;
    if (v->nkeys == AUTH_KEYS_MAX)
        return LG_EFULL;
    auth_alg_t alg;
    int rc = auth__key_alg(pkey, &alg);
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
