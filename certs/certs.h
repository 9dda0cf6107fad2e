/* Certificates: generates or loads the DTLS and HTTPS certificate/key pairs and computes the SDP
 * fingerprints that bind a DTLS handshake to its signaling. */
#ifndef LG_CERTS_H
#define LG_CERTS_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

/* "sha-512 " + 64 hex pairs with colons + NUL: room for any fingerprint this module writes. */
#define LG_CERTS_FINGERPRINT_MAX 200
#define LG_CERTS_PATH_MAX        4096

/* File names inside the state directory. */
#define LG_CERTS_DTLS_CERT_FILE "dtls-cert.pem"
#define LG_CERTS_DTLS_KEY_FILE  "dtls-key.pem"
#define LG_CERTS_TLS_CERT_FILE  "tls-cert.pem"
#define LG_CERTS_TLS_KEY_FILE   "tls-key.pem"

/* Where the certificates come from. NULL or "" means "not given". The caller keeps the strings;
 * lg_certs_load() copies what it needs. */
typedef struct {
    const char *state_dir; /* generated pairs live here; needed unless both pairs are given */
    const char *dtls_cert; /* operator's DTLS certificate (PEM); give both or neither */
    const char *dtls_key;
    const char *tls_cert; /* operator's HTTPS certificate chain (PEM, leaf first) */
    const char *tls_key;
} lg_certs_config_t;

/* The loaded certificates. Owned by the caller (usually on the control thread's stack or in the
 * server struct); lg_certs_free() releases what lg_certs_load() acquired. */
typedef struct {
    X509 *dtls_cert;    /* owned; workers take their own reference with X509_up_ref() */
    EVP_PKEY *dtls_key; /* owned; workers take their own reference with EVP_PKEY_up_ref() */
    char dtls_fingerprint[LG_CERTS_FINGERPRINT_MAX]; /* "sha-256 AB:CD:..." for a=fingerprint */
    char dtls_cert_path[LG_CERTS_PATH_MAX];
    char dtls_key_path[LG_CERTS_PATH_MAX];
    char tls_cert_path[LG_CERTS_PATH_MAX]; /* for libwebsockets, which loads files itself */
    char tls_key_path[LG_CERTS_PATH_MAX];
    int dtls_generated; /* 1 if this run wrote the DTLS pair, 0 if it was loaded */
    int tls_generated;
} lg_certs_t;

/* Loads both pairs, generating missing ones into cfg->state_dir:
 * - A pair given in cfg is loaded and never written. The key must match the certificate
 *   (first certificate of the chain for TLS) and the certificate must be within its validity.
 * - Otherwise the state directory (created 0700 if missing) holds the pair. If neither file
 *   exists, a fresh ECDSA P-256 self-signed pair valid for one year is written (key 0600, cert
 *   0644, each through a temporary file and an atomic no-replace rename). If both exist they are
 *   loaded. A self-signed pair there that has expired, or expires within 30 days, is replaced by
 *   a new one (logged as a warning); that is the only case where a file is overwritten.
 * - Anything else is an error and touches no file: one half of a pair missing, a file that is
 *   unreadable, not a regular file, not PEM, an encrypted key, a key that does not match, or an
 *   out-of-date operator certificate. `err` (may be NULL) then receives one line naming the file
 *   and the reason, e.g. "certs: /var/lib/x/dtls-key.pem: not a PEM private key (corrupt?)".
 * Returns 0, or LG_EINVAL (bad config, key mismatch), LG_ENOTFOUND (half a pair missing or
 * unopenable), LG_EIO, LG_ECORRUPT, LG_EUNSUPPORTED (encrypted key), LG_EEXPIRED, LG_ENOTYET,
 * LG_ENOMEM or LG_ECRYPTO. On error *c holds nothing to free (freeing it is still safe).
 * Threading: call once on the control thread at startup, before workers start. Afterwards the
 * objects are read-only and workers may share them through X509_up_ref()/EVP_PKEY_up_ref(). */
int lg_certs_load(lg_certs_t *c, const lg_certs_config_t *cfg, char *err, size_t errlen);

/* Releases the certificate and key and zeroes *c. Safe on a zeroed or already freed struct.
 * References taken by workers stay valid until they drop them. */
void lg_certs_free(lg_certs_t *c);

/* Writes the SDP fingerprint of a certificate's DER encoding, "sha-256 AB:CD:...", uppercase hex.
 * `hash` is an RFC 8122 name: "sha-256", "sha-384" or "sha-512" (NULL means "sha-256").
 * Returns 0, LG_EINVAL, LG_EALG (other hash), LG_ENOSPC or LG_ECRYPTO. Thread-safe. */
int lg_certs_fingerprint(const X509 *cert, const char *hash, char *out, size_t outlen);

/* Returns 1 if two fingerprint strings are equal ignoring ASCII case ("sha-256 ab:.." equals
 * "SHA-256 AB:.."), else 0 (also for NULL). Time depends only on the lengths, not the content. */
int lg_certs_fingerprint_equal(const char *a, const char *b);

/* Checks a DTLS peer's certificate against the fingerprint from its SDP ("sha-256 AB:..", the
 * value of a=fingerprint). Uses the hash named there. Returns 0 on a match, LG_EFINGERPRINT on a
 * mismatch, LG_EMALFORMED / LG_EALG for an unusable SDP value, LG_EINVAL. Thread-safe. */
int lg_certs_check_peer(const X509 *peer, const char *sdp_fingerprint);

#endif
