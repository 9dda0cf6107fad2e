/* libsrtp2 wrapper: one inbound and one outbound context per transport, in-place protect. */
#include "sfu/srtp_session.h"

#include <limits.h>
#include <stdbool.h>
#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>

#include "sfu/lg_error.h"

#define RTP_HEADER_MIN  12 /* fixed RTP header */
#define RTCP_HEADER_MIN 8  /* RTCP header + sender SSRC */

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static int g_init_rc = LG_ECRYPTO;

static void global_init_once(void)
{
    g_init_rc = srtp_init() == srtp_err_status_ok ? 0 : LG_ECRYPTO;
}

int srtp_global_init(void)
{
    if (pthread_once(&g_once, global_init_once) != 0)
        return LG_ECRYPTO;
    return g_init_rc;
}

/* Fills the crypto policies for a profile and checks the master key length against it. */
static int set_policy(srtp_policy_t *p, const dtls_srtp_keys_t *k)
{
    size_t salt;
    switch (k->profile) {
    case DTLS_SRTP_AEAD_AES_128_GCM:
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtp);
        srtp_crypto_policy_set_aes_gcm_128_16_auth(&p->rtcp);
        salt = 12;
        break;
    case DTLS_SRTP_AES128_CM_SHA1_80:
        srtp_crypto_policy_set_rtp_default(&p->rtp);
        srtp_crypto_policy_set_rtcp_default(&p->rtcp);
        salt = 14;
        break;
    default:
        return LG_EUNSUPPORTED;
    }
    if (k->key_len != DTLS_SRTP_KEY_LEN || k->salt_len != salt)
        return LG_EINVAL;
    return 0;
}

static int create_one(srtp_t *out, const dtls_srtp_keys_t *k, const uint8_t *master,
                      srtp_ssrc_type_t type)
{
    uint8_t key[DTLS_SRTP_MAX_MASTER_LEN];
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    int rc = set_policy(&p, k);
    if (rc != 0)
        return rc;
    memcpy(key, master, k->key_len + k->salt_len);
    p.ssrc.type = type;
    p.key = key;
    p.window_size = SRTP_SESSION_REPLAY_WINDOW;
    p.allow_repeat_tx = type == ssrc_any_outbound; /* retransmissions of what we send */
    p.next = NULL;
    srtp_err_status_t st = srtp_create(out, &p);
    OPENSSL_cleanse(key, sizeof key); /* libsrtp keeps only the derived session keys */
    if (st == srtp_err_status_ok)
        return 0;
    *out = NULL;
    return st == srtp_err_status_alloc_fail ? LG_ENOMEM : LG_ECRYPTO;
}

int srtp_session_init(srtp_session_t *s, const dtls_srtp_keys_t *keys)
{
    if (!s)
        return LG_EINVAL;
    memset(s, 0, sizeof *s);
    if (!keys)
        return LG_EINVAL;
    int rc = srtp_global_init();
    if (rc == 0)
        rc = create_one(&s->outbound, keys, keys->local, ssrc_any_outbound);
    if (rc == 0)
        rc = create_one(&s->inbound, keys, keys->remote, ssrc_any_inbound);
    if (rc == 0 && keys->profile == DTLS_SRTP_AEAD_AES_128_GCM)
        rc = srtp_gcm_tx_init(&s->gcm_tx, keys->local, keys->local + keys->key_len,
                              SRTP_SESSION_REPLAY_WINDOW);
    if (rc == 0 && keys->profile != DTLS_SRTP_AEAD_AES_128_GCM) /* libsrtp protects, we track */
        rc = srtp_gcm_tx_track_init(&s->gcm_tx, SRTP_SESSION_REPLAY_WINDOW);
    if (rc == 0 && keys->profile == DTLS_SRTP_AEAD_AES_128_GCM)
        rc = srtp_gcm_rx_init(&s->gcm_rx, keys->remote, keys->remote + keys->key_len,
                              SRTP_SESSION_REPLAY_WINDOW);
    if (rc != 0) {
        srtp_session_free(s);
        return rc;
    }
    s->profile = keys->profile;
    return 0;
}

void srtp_session_free(srtp_session_t *s)
{
    if (!s)
        return;
    if (s->inbound)
        (void)srtp_dealloc(s->inbound);
    if (s->outbound)
        (void)srtp_dealloc(s->outbound);
    srtp_gcm_tx_free(&s->gcm_tx);
    srtp_gcm_rx_free(&s->gcm_rx);
    memset(s, 0, sizeof *s);
}

static int map_status(srtp_err_status_t st)
{
    switch (st) {
    case srtp_err_status_ok:
        return 0;
    case srtp_err_status_auth_fail:
        return LG_EINTEGRITY;
    case srtp_err_status_replay_fail:
    case srtp_err_status_replay_old:
        return LG_EREPLAY;
    case srtp_err_status_bad_param:
    case srtp_err_status_parse_err:
        return LG_EMALFORMED;
    default:
        return LG_ECRYPTO;
    }
}

/* Common checks; `room` is what must be free after the packet (0 when unprotecting). */
static int check(const srtp_t ctx, const uint8_t *buf, const size_t *len, size_t cap, size_t room,
                 size_t min)
{
    if (!ctx || !buf || !len || *len > cap || cap > INT_MAX)
        return LG_EINVAL;
    if (*len < min)
        return LG_EMALFORMED;
    if (cap - *len < room)
        return LG_ENOSPC;
    return 0;
}

static int protect_rtp(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap, bool resend)
{
    int rc =
        check(s ? s->outbound : NULL, buf, len, cap, SRTP_SESSION_MAX_OVERHEAD, RTP_HEADER_MIN);
    if (rc != 0)
        return rc;
    if (s->gcm_tx.keyed) {
        rc = srtp_gcm_tx_protect(&s->gcm_tx, buf, len, cap, resend);
        if (rc != LG_EFULL)
            return rc; /* else an SSRC past srtp_gcm's table: libsrtp protects it, always */
    } else if (s->gcm_tx.tracking) {
        rc = srtp_gcm_tx_claim(&s->gcm_tx, buf, *len, resend); /* AES-CM: keystream reuse */
        if (rc != 0 && rc != LG_EFULL)
            return rc; /* LG_EFULL: an SSRC past the table, libsrtp alone */
    }
    int n = (int)*len;
    rc = map_status(srtp_protect(s->outbound, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int srtp_session_protect_rtp(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return protect_rtp(s, buf, len, cap, false);
}

int srtp_session_protect_rtp_resend(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    return protect_rtp(s, buf, len, cap, true);
}

int srtp_session_unprotect_rtp(srtp_session_t *s, uint8_t *buf, size_t *len)
{
    int rc = check(s ? s->inbound : NULL, buf, len, len ? *len : 0, 0, RTP_HEADER_MIN);
    if (rc != 0)
        return rc;
    if (s->gcm_rx.keyed) {
        rc = srtp_gcm_rx_unprotect(&s->gcm_rx, buf, len);
        if (rc != LG_EFULL)
            return rc; /* else an SSRC past srtp_gcm's table: libsrtp, always */
    }
    int n = (int)*len;
    rc = map_status(srtp_unprotect(s->inbound, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int srtp_session_protect_rtcp(srtp_session_t *s, uint8_t *buf, size_t *len, size_t cap)
{
    int rc =
        check(s ? s->outbound : NULL, buf, len, cap, SRTP_SESSION_MAX_OVERHEAD, RTCP_HEADER_MIN);
    if (rc != 0)
        return rc;
    int n = (int)*len;
    rc = map_status(srtp_protect_rtcp(s->outbound, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

int srtp_session_unprotect_rtcp(srtp_session_t *s, uint8_t *buf, size_t *len)
{
    int rc = check(s ? s->inbound : NULL, buf, len, len ? *len : 0, 0, RTCP_HEADER_MIN);
    if (rc != 0)
        return rc;
    int n = (int)*len;
    rc = map_status(srtp_unprotect_rtcp(s->inbound, buf, &n));
    if (rc == 0)
        *len = (size_t)n;
    return rc;
}

srtp_session_reason_t srtp_session_reason(int rc)
{
    switch (rc) {
    case 0:
        return SRTP_SESSION_OK;
    case LG_EINTEGRITY:
        return SRTP_SESSION_AUTH_FAIL;
    case LG_EREPLAY:
    case LG_EREUSE:
        return SRTP_SESSION_REPLAY_FAIL;
    case LG_EINVAL:
    case LG_ENOSPC:
    case LG_EMALFORMED:
        return SRTP_SESSION_BAD_PARAM;
    default:
        return SRTP_SESSION_OTHER;
    }
}

const char *srtp_session_reason_str(srtp_session_reason_t reason)
{
    static const char *const names[SRTP_SESSION_REASON_COUNT] = {"ok", "auth_fail", "replay_fail",
                                                                 "bad_param", "other"};
    return (unsigned)reason < SRTP_SESSION_REASON_COUNT ? names[reason] : "other";
}
