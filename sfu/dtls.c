/* DTLS-SRTP over OpenSSL memory BIOs: handshake, fingerprint binding, SRTP key export. */
#include "sfu/dtls.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>

#include "sfu/lg_error.h"

/* DTLS 1.2 suites, AEAD only: ECDSA (our certificates) first, RSA for operator certificates. */
#define DTLS_CIPHERS                                                                               \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"                                 \
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:"                                   \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
#define DTLS_GROUPS "X25519:P-256:P-384"

/* RFC 5764 4.2: the exporter label for DTLS-SRTP keys. */
static const char EXPORTER_LABEL[] = "EXTRACTOR-dtls_srtp";

struct dtls_ctx {
    SSL_CTX *ssl_ctx;
    int role_server;
    unsigned mtu;
    unsigned initial_us;
    unsigned max_us;
};

/* ---- context ------------------------------------------------------------------------------- */

/* The certificate is authenticated by its SDP fingerprint once the handshake is over, so the
 * chain check passes whatever OpenSSL thinks of a self-signed certificate. Proof that the peer
 * holds the key (CertificateVerify / the ServerKeyExchange signature) is checked regardless. */
static int accept_any_cert(int preverify_ok, X509_STORE_CTX *store)
{
    return 1;
}

static int ctx_configure(SSL_CTX *c, X509 *cert, EVP_PKEY *key, const char *profiles)
{
    if (SSL_CTX_set_min_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_max_proto_version(c, DTLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(c, DTLS_CIPHERS) != 1 ||
        SSL_CTX_set1_groups_list(c, DTLS_GROUPS) != 1)
        return LG_ECRYPTO;
    if (SSL_CTX_use_certificate(c, cert) != 1 || SSL_CTX_use_PrivateKey(c, key) != 1 ||
        SSL_CTX_check_private_key(c) != 1)
        return LG_ECRYPTO;
    if (SSL_CTX_set_tlsext_use_srtp(c, profiles) != 0) /* 0 is success here */
        return LG_EUNSUPPORTED;
    SSL_CTX_set_options(c, SSL_OP_NO_QUERY_MTU | SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION |
                               SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_COMPRESSION);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    SSL_CTX_set_read_ahead(c, 0);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, accept_any_cert);
    SSL_CTX_set_verify_depth(c, 4);
    return 0;
}

int dtls_ctx_new(X509 *cert, EVP_PKEY *key, int role_server, const dtls_ctx_opts_t *opts,
                 dtls_ctx_t **out)
{
    if (!cert || !key || !out)
        return LG_EINVAL;
    *out = NULL;
    dtls_ctx_opts_t o = opts ? *opts : (dtls_ctx_opts_t){0};
    unsigned mtu = o.mtu ? o.mtu : DTLS_DEFAULT_MTU;
    if (mtu < DTLS_MIN_MTU || mtu > DTLS_MAX_MTU)
        return LG_EINVAL;
    unsigned initial_ms =
        o.initial_timeout_ms ? o.initial_timeout_ms : DTLS_DEFAULT_INITIAL_TIMEOUT_MS;
    unsigned max_ms = o.max_timeout_ms ? o.max_timeout_ms : DTLS_DEFAULT_MAX_TIMEOUT_MS;
    if (initial_ms > 600000 || max_ms > 600000)
        return LG_EINVAL;
    if (initial_ms < DTLS_MIN_TIMEOUT_MS)
        initial_ms = DTLS_MIN_TIMEOUT_MS;
    if (max_ms < initial_ms)
        max_ms = initial_ms;

    dtls_ctx_t *ctx = OPENSSL_zalloc(sizeof *ctx);
    if (!ctx)
        return LG_ENOMEM;
    ctx->role_server = role_server ? 1 : 0;
    ctx->mtu = mtu;
    ctx->initial_us = initial_ms * 1000u;
    ctx->max_us = max_ms * 1000u;
    ERR_clear_error();
    ctx->ssl_ctx = SSL_CTX_new(DTLS_method());
    int rc = ctx->ssl_ctx
                 ? ctx_configure(ctx->ssl_ctx, cert, key,
                                 o.srtp_profiles ? o.srtp_profiles : DTLS_DEFAULT_SRTP_PROFILES)
                 : LG_ENOMEM;
    ERR_clear_error();
    if (rc != 0) {
        dtls_ctx_free(ctx);
        return rc;
    }
    *out = ctx;
    return 0;
}

void dtls_ctx_free(dtls_ctx_t *ctx)
{
    if (!ctx)
        return;
    SSL_CTX_free(ctx->ssl_ctx);
    OPENSSL_free(ctx);
}

/* ---- small helpers ------------------------------------------------------------------------- */

/* OpenSSL's retransmission timer: initial, then doubling up to the cap. */
static unsigned int timer_cb(SSL *ssl, unsigned int prev_us)
{
    const dtls_session_t *s = SSL_get_app_data(ssl);
    if (prev_us == 0)
        return s->ctx->initial_us;
    unsigned next = prev_us > s->ctx->max_us / 2 ? s->ctx->max_us : prev_us * 2;
    return next < s->ctx->max_us ? next : s->ctx->max_us;
}

/* Remembers the last alert the peer sent, for the failure reason and detail. */
static void info_cb(const SSL *ssl, int where, int ret)
{
    if ((where & SSL_CB_ALERT) && (where & SSL_CB_READ)) { /* SSL_CB_READ_ALERT, not WRITE */
        dtls_session_t *s = SSL_get_app_data(ssl);
        s->peer_alert = ret & 0xffff;
    }
}

static void set_state(dtls_session_t *s, dtls_state_t state, dtls_reason_t reason)
{
    if (s->state == state && s->reason == reason)
        return;
    s->state = state;
    s->reason = reason;
    if (s->cb.state_changed)
        s->cb.state_changed(s->cb.ctx, state, reason);
}

/* Records why the session is failing (first cause wins) and drops OpenSSL's error queue so it
 * cannot confuse the next SSL call on this thread. */
static void note_failure(dtls_session_t *s, const char *what)
{
    if (s->detail[0] == '\0') {
        if (what) {
            snprintf(s->detail, sizeof s->detail, "%s", what);
        } else if (s->peer_alert >= 0 && (s->peer_alert >> 8) == SSL3_AL_FATAL) {
            snprintf(s->detail, sizeof s->detail, "peer sent fatal alert: %s",
                     SSL_alert_desc_string_long(s->peer_alert));
        } else {
            unsigned long e = ERR_peek_last_error();
            const char *r = e ? ERR_reason_error_string(e) : NULL;
            snprintf(s->detail, sizeof s->detail, "OpenSSL: %s", r ? r : "unknown error");
        }
    }
    ERR_clear_error();
}

static void fail(dtls_session_t *s, dtls_reason_t reason, const char *what)
{
    note_failure(s, what);
    set_state(s, DTLS_STATE_FAILED, reason);
}

/* Length of the record at p (header + body), or all of it if the header is cut short. */
static size_t record_len(const uint8_t *p, size_t avail)
{
    if (avail < DTLS_RECORD_HEADER_SIZE)
        return avail;
    size_t n = DTLS_RECORD_HEADER_SIZE + ((size_t)p[11] << 8 | p[12]);
    return n < avail ? n : avail;
}

/* Sends what OpenSSL wrote: consecutive whole records packed into datagrams of at most mtu
 * bytes (a record longer than the MTU goes alone), then empties the BIO. */
static void flush_output(dtls_session_t *s)
{
    char *data = NULL;
    long n = BIO_get_mem_data(s->wbio, &data);
    if (n <= 0 || !data)
        return;
    const uint8_t *p = (const uint8_t *)data;
    size_t left = (size_t)n;
    while (left > 0) {
        size_t dgram = 0;
        while (dgram < left) {
            size_t rec = record_len(p + dgram, left - dgram);
            if (dgram > 0 && dgram + rec > s->ctx->mtu)
                break;
            dgram += rec;
        }
        s->cb.send(s->cb.ctx, p, dgram);
        p += dgram;
        left -= dgram;
    }
    (void)BIO_reset(s->wbio);
}

/* Drops OpenSSL's pending output unsent. */
static void discard_output(dtls_session_t *s)
{
    (void)BIO_reset(s->wbio);
}

/* ---- handshake end ------------------------------------------------------------------------- */

static dtls_srtp_profile_t selected_profile(SSL *ssl, size_t *salt_len)
{
    const SRTP_PROTECTION_PROFILE *p = SSL_get_selected_srtp_profile(ssl);
    if (!p)
        return DTLS_SRTP_NONE;
    if (p->id == SRTP_AES128_CM_SHA1_80) {
        *salt_len = 14;
        return DTLS_SRTP_AES128_CM_SHA1_80;
    }
    if (p->id == SRTP_AEAD_AES_128_GCM) {
        *salt_len = 12;
        return DTLS_SRTP_AEAD_AES_128_GCM;
    }
    return DTLS_SRTP_NONE;
}

/* RFC 5764 4.2: client_write_key | server_write_key | client_write_salt | server_write_salt.
 * Ours is the client's half when we are the client. */
static int export_keys(dtls_session_t *s, dtls_srtp_keys_t *k)
{
    uint8_t m[2 * DTLS_SRTP_MAX_MASTER_LEN];
    size_t kl = k->key_len, sl = k->salt_len;
    if (SSL_export_keying_material(s->ssl, m, 2 * (kl + sl), EXPORTER_LABEL,
                                   sizeof EXPORTER_LABEL - 1, NULL, 0, 0) != 1)
        return LG_ECRYPTO;
    const uint8_t *ck = m, *sk = m + kl, *cs = m + 2 * kl, *ss = m + 2 * kl + sl;
    const uint8_t *lk = s->role_server ? sk : ck, *ls = s->role_server ? ss : cs;
    const uint8_t *rk = s->role_server ? ck : sk, *rs = s->role_server ? cs : ss;
    memcpy(k->local, lk, kl);
    memcpy(k->local + kl, ls, sl);
    memcpy(k->remote, rk, kl);
    memcpy(k->remote + kl, rs, sl);
    OPENSSL_cleanse(m, sizeof m);
    return 0;
}

/* Sends close_notify (encrypted: the handshake is complete) so the peer stops retransmitting. */
static void send_close_notify(dtls_session_t *s)
{
    ERR_clear_error();
    (void)SSL_shutdown(s->ssl);
    ERR_clear_error();
    flush_output(s);
}

/* NULL if the peer's certificate matches the expected fingerprint, else why not. */
static const char *fingerprint_problem(dtls_session_t *s)
{
    X509 *peer = SSL_get0_peer_certificate(s->ssl);
    if (!peer)
        return "peer sent no certificate";
    if (s->remote_fingerprint[0] == '\0')
        return "no remote fingerprint set";
    switch (lg_certs_check_peer(peer, s->remote_fingerprint)) {
    case 0:
        return NULL;
    case LG_EFINGERPRINT:
        return "peer certificate does not match the SDP fingerprint";
    case LG_EALG:
        return "SDP fingerprint names an unsupported hash";
    default:
        return "SDP fingerprint is malformed";
    }
}

/* The handshake finished: fingerprint first, then profile, then keys. */
static int on_handshake_done(dtls_session_t *s)
{
    const char *problem = fingerprint_problem(s);
    if (problem) {
        discard_output(s); /* a server's Finished: the impostor never completes */
        send_close_notify(s);
        fail(s, DTLS_REASON_FINGERPRINT, problem);
        return LG_EFINGERPRINT;
    }
    dtls_srtp_keys_t k = {.key_len = DTLS_SRTP_KEY_LEN};
    k.profile = selected_profile(s->ssl, &k.salt_len);
    if (k.profile == DTLS_SRTP_NONE) {
        send_close_notify(s); /* after a server's Finished: the client sees the same verdict */
        fail(s, DTLS_REASON_NO_SRTP, "no SRTP profile both sides support");
        return LG_EUNSUPPORTED;
    }
    if (export_keys(s, &k) != 0) {
        discard_output(s);
        fail(s, DTLS_REASON_HANDSHAKE, "exporting the SRTP keys failed");
        return LG_ECRYPTO;
    }
    flush_output(s); /* a server's CCS + Finished */
    s->state = DTLS_STATE_CONNECTED;
    s->reason = DTLS_REASON_NONE;
    s->cb.connected(s->cb.ctx, &k);
    OPENSSL_cleanse(&k, sizeof k);
    if (s->cb.state_changed)
        s->cb.state_changed(s->cb.ctx, DTLS_STATE_CONNECTED, DTLS_REASON_NONE);
    return 0;
}

/* ---- driving OpenSSL ----------------------------------------------------------------------- */

/* Classifies a failed SSL call. Returns 0 when OpenSSL merely wants more input. */
static int on_ssl_error(dtls_session_t *s, int ret)
{
    int e = SSL_get_error(s->ssl, ret);
    if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
        ERR_clear_error();
        return 0;
    }
    if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify */
        if (s->state == DTLS_STATE_CONNECTED)
            send_close_notify(s);
        ERR_clear_error();
        set_state(s, DTLS_STATE_CLOSED, DTLS_REASON_PEER_CLOSED);
        return 0;
    }
    int peer_fatal = s->peer_alert >= 0 && (s->peer_alert >> 8) == SSL3_AL_FATAL;
    dtls_reason_t r = s->state == DTLS_STATE_CONNECTED && peer_fatal ? DTLS_REASON_PEER_CLOSED
                                                                     : DTLS_REASON_HANDSHAKE;
    flush_output(s); /* the alert we raised, if any */
    fail(s, r, NULL);
    return LG_ECRYPTO;
}

/* Reads and discards application data (the media path never uses DTLS records for data); this
 * also lets OpenSSL answer a retransmitted Finished and notice alerts. */
static int read_records(dtls_session_t *s)
{
    uint8_t buf[512];
    for (;;) {
        ERR_clear_error();
        int r = SSL_read(s->ssl, buf, sizeof buf);
        if (r <= 0) {
            int rc = on_ssl_error(s, r);
            flush_output(s);
            return rc;
        }
    }
}

static int drive(dtls_session_t *s)
{
    if (s->state == DTLS_STATE_CONNECTING) {
        ERR_clear_error();
        int r = SSL_do_handshake(s->ssl);
        if (r != 1) {
            int rc = on_ssl_error(s, r);
            flush_output(s);
            return rc;
        }
        int rc = on_handshake_done(s);
        if (rc != 0)
            return rc;
    }
    if (s->state == DTLS_STATE_CONNECTED)
        return read_records(s);
    return 0;
}

/* ---- public -------------------------------------------------------------------------------- */

int dtls_session_init(dtls_session_t *s, const dtls_ctx_t *ctx, const dtls_callbacks_t *cb)
{
    if (!s)
        return LG_EINVAL;
    memset(s, 0, sizeof *s);
    if (!ctx || !cb || !cb->send || !cb->connected)
        return LG_EINVAL;
    s->ctx = ctx;
    s->cb = *cb;
    s->role_server = ctx->role_server;
    s->peer_alert = -1;
    ERR_clear_error();
    s->ssl = SSL_new(ctx->ssl_ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (!s->ssl || !s->rbio || !s->wbio) {
        BIO_free(s->rbio);
        BIO_free(s->wbio);
        SSL_free(s->ssl);
        memset(s, 0, sizeof *s);
        ERR_clear_error();
        return LG_ENOMEM;
    }
    BIO_set_mem_eof_return(s->rbio, -1); /* empty means "retry", not end of stream */
    SSL_set_bio(s->ssl, s->rbio, s->wbio);
    SSL_set_app_data(s->ssl, s);
    SSL_set_info_callback(s->ssl, info_cb);
    DTLS_set_timer_cb(s->ssl, timer_cb);
    if (DTLS_set_link_mtu(s->ssl, (long)ctx->mtu) != 1) {
        dtls_session_free(s);
        ERR_clear_error();
        return LG_ECRYPTO;
    }
    if (s->role_server)
        SSL_set_accept_state(s->ssl);
    else
        SSL_set_connect_state(s->ssl);
    s->state = DTLS_STATE_NEW;
    return 0;
}

void dtls_session_free(dtls_session_t *s)
{
    if (!s)
        return;
    SSL_free(s->ssl); /* frees both BIOs */
    memset(s, 0, sizeof *s);
}

int dtls_set_remote_fingerprint(dtls_session_t *s, const char *sdp_fingerprint)
{
    if (!s || !sdp_fingerprint)
        return LG_EINVAL;
    const char *sp = strchr(sdp_fingerprint, ' ');
    if (!sp || sp == sdp_fingerprint || sp[1] == '\0')
        return LG_EINVAL;
    size_t n = strlen(sdp_fingerprint);
    if (n >= sizeof s->remote_fingerprint)
        return LG_ENOSPC;
    if (s->state != DTLS_STATE_NEW && s->state != DTLS_STATE_CONNECTING)
        return LG_ESTATE;
    memcpy(s->remote_fingerprint, sdp_fingerprint, n + 1);
    return 0;
}

int dtls_session_start(dtls_session_t *s)
{
    if (!s || !s->ssl)
        return LG_EINVAL;
    if (s->state != DTLS_STATE_NEW)
        return LG_ESTATE;
    set_state(s, DTLS_STATE_CONNECTING, DTLS_REASON_NONE);
    return s->role_server ? 0 : drive(s);
}

int dtls_feed(dtls_session_t *s, const uint8_t *in, size_t len)
{
    if (!s || !s->ssl || !in)
        return LG_EINVAL;
    int rc = dtls_datagram_check(in, len);
    if (rc != 0)
        return rc;
    if (s->state == DTLS_STATE_FAILED || s->state == DTLS_STATE_CLOSED)
        return LG_ESTATE;
    if (s->state == DTLS_STATE_NEW) {
        rc = dtls_session_start(s);
        if (rc != 0 || s->state != DTLS_STATE_CONNECTING)
            return rc != 0 ? rc : LG_ESTATE;
    }
    if (len > 0x7fffffff || BIO_write(s->rbio, in, (int)len) != (int)len) {
        (void)BIO_reset(s->rbio);
        ERR_clear_error();
        return LG_ENOMEM;
    }
    rc = drive(s);
    (void)BIO_reset(s->rbio); /* whatever OpenSSL left belongs to this datagram only */
    return rc;
}

int64_t dtls_next_timeout_ms(dtls_session_t *s)
{
    if (!s || !s->ssl || s->state != DTLS_STATE_CONNECTING)
        return -1;
    struct timeval tv;
    if (DTLSv1_get_timeout(s->ssl, &tv) != 1)
        return -1;
    return (int64_t)tv.tv_sec * 1000 + (tv.tv_usec + 999) / 1000;
}

int dtls_on_timeout(dtls_session_t *s)
{
    if (!s || !s->ssl)
        return LG_EINVAL;
    if (s->state != DTLS_STATE_CONNECTING)
        return 0;
    ERR_clear_error();
    int r = (int)DTLSv1_handle_timeout(s->ssl);
    if (r < 0) {
        discard_output(s);
        fail(s, DTLS_REASON_TIMEOUT, "the peer stopped answering during the handshake");
        return LG_EEXPIRED;
    }
    ERR_clear_error();
    flush_output(s);
    return 0;
}

int dtls_session_close(dtls_session_t *s)
{
    if (!s)
        return LG_EINVAL;
    if (s->state == DTLS_STATE_FAILED || s->state == DTLS_STATE_CLOSED)
        return 0;
    if (s->state == DTLS_STATE_CONNECTED && s->ssl)
        send_close_notify(s);
    set_state(s, DTLS_STATE_CLOSED, DTLS_REASON_NONE);
    return 0;
}

dtls_state_t dtls_session_state(const dtls_session_t *s)
{
    return s ? s->state : DTLS_STATE_NEW;
}

dtls_reason_t dtls_session_reason(const dtls_session_t *s)
{
    return s ? s->reason : DTLS_REASON_NONE;
}

const char *dtls_session_detail(const dtls_session_t *s)
{
    return s ? s->detail : "";
}

/*
 * DTLS record header (RFC 6347 4.1):
 *  0                   1                   2                   3
 *  +---------------+---------------+---------------+---------------+
 *  | ContentType   | ProtocolVersion (0xFEFF/FEFD) |     epoch     :
 *  +---------------+---------------+---------------+---------------+
 *  :    epoch      |         sequence_number (48 bits)             :
 *  +---------------+---------------+---------------+---------------+
 *  :                               |            length             |
 *  +---------------+---------------+---------------+---------------+
 */
int dtls_datagram_check(const uint8_t *p, size_t len)
{
    if (!p)
        return LG_EINVAL;
    if (len == 0)
        return LG_ETRUNC;
    while (len > 0) {
        if (len < DTLS_RECORD_HEADER_SIZE)
            return LG_ETRUNC;
        if (p[0] < 20 || p[0] > 23 || p[1] != 0xFE || (p[2] != 0xFF && p[2] != 0xFD))
            return LG_EMALFORMED;
        size_t n = DTLS_RECORD_HEADER_SIZE + ((size_t)p[11] << 8 | p[12]);
        if (n > len)
            return LG_ETRUNC;
        p += n;
        len -= n;
    }
    return 0;
}

const char *dtls_state_str(dtls_state_t state)
{
    static const char *const names[] = {"new", "connecting", "connected", "failed", "closed"};
    return (unsigned)state < sizeof names / sizeof names[0] ? names[state] : "unknown";
}

const char *dtls_reason_str(dtls_reason_t reason)
{
    static const char *const names[DTLS_REASON_COUNT] = {
        "none",    "handshake_error", "fingerprint_mismatch", "no_srtp_profile",
        "timeout", "peer_closed"};
    return (unsigned)reason < DTLS_REASON_COUNT ? names[reason] : "unknown";
}

const char *dtls_srtp_profile_str(dtls_srtp_profile_t profile)
{
    switch (profile) {
    case DTLS_SRTP_AES128_CM_SHA1_80:
        return "SRTP_AES128_CM_SHA1_80";
    case DTLS_SRTP_AEAD_AES_128_GCM:
        return "SRTP_AEAD_AES_128_GCM";
    case DTLS_SRTP_NONE:
        break;
    }
    return "none";
}
