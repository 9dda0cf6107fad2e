/* The C peer's lifecycle, its single-threaded poll() loop, errors and statistics. */
#include "bench/peer/peer_internal.h"

#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "sfu/lg_error.h"

/* --- small helpers ---------------------------------------------------------------------------- */

int64_t peer_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

/* xorshift64*: filler bytes, jitter and sampling; never for secrets. */
uint64_t peer_rand64(peer_t *p)
{
    uint64_t x = p->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    p->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

void peer_rand_token(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    uint8_t r[64];
    if (n > sizeof r)
        n = sizeof r;
    if (RAND_bytes(r, (int)n) != 1)
        memset(r, 0x5a, n); /* still a valid token; uniqueness then rests on the caller */
    for (size_t i = 0; i < n; i++)
        out[i] = alphabet[r[i] % (sizeof alphabet - 1)];
    out[n] = '\0';
}

static void vnote(peer_t *p, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void vnote(peer_t *p, const char *fmt, va_list ap)
{
    vsnprintf(p->err, sizeof p->err, fmt, ap);
}

void peer_note(peer_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vnote(p, fmt, ap);
    va_end(ap);
}

int peer_fail(peer_t *p, int rc, const char *fmt, ...)
{
    if (p->fatal)
        return rc; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vnote(p, fmt, ap);
    va_end(ap);
    p->fatal = rc;
    return rc;
}

/* --- certificate ------------------------------------------------------------------------------ */

/* A fresh ECDSA P-256 self-signed certificate, as browsers make them for a PeerConnection. */
static int make_cert(X509 **cert, EVP_PKEY **key)
{
    *cert = NULL;
    *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    if (!*key || !x)
        goto fail;
    uint8_t serial[8];
    if (RAND_bytes(serial, sizeof serial) != 1)
        goto fail;
    long sn = (long)(((uint32_t)serial[0] << 24 | (uint32_t)serial[1] << 16 |
                      (uint32_t)serial[2] << 8 | serial[3]) &
                     0x7fffffff);
    X509_NAME *name = X509_get_subject_name(x);
    if (X509_set_version(x, 2) != 1 || ASN1_INTEGER_set(X509_get_serialNumber(x), sn) != 1 ||
        !X509_gmtime_adj(X509_getm_notBefore(x), -86400) ||
        !X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400) ||
        X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"WebRTC", -1,
                                   -1, 0) != 1 ||
        X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, *key) != 1 ||
        X509_sign(x, *key, EVP_sha256()) <= 0)
        goto fail;
    *cert = x;
    return 0;
fail:
    X509_free(x);
    EVP_PKEY_free(*key);
    *key = NULL;
    return LG_ECRYPTO;
}

static int setup_crypto(peer_t *p, char *err, size_t errlen)
{
    if (srtp_global_init() != 0) {
        snprintf(err, errlen, "peer: libsrtp failed to initialise");
        return LG_ECRYPTO;
    }
    if (make_cert(&p->cert, &p->key) != 0 ||
        (p->o.wrong_certificate && make_cert(&p->alt_cert, &p->alt_key) != 0)) {
        snprintf(err, errlen, "peer: generating an ECDSA P-256 certificate failed");
        return LG_ECRYPTO;
    }
    if (lg_certs_fingerprint(p->cert, "sha-256", p->fingerprint, sizeof p->fingerprint) != 0) {
        snprintf(err, errlen, "peer: computing the certificate fingerprint failed");
        return LG_ECRYPTO;
    }
    dtls_ctx_opts_t dopts = {0};
    dopts.initial_timeout_ms = 250;
    dopts.max_timeout_ms = 2000;
    if (p->o.aes_cm_only)
        dopts.srtp_profiles = "SRTP_AES128_CM_SHA1_80";
    X509 *c = p->alt_cert ? p->alt_cert : p->cert;
    EVP_PKEY *k = p->alt_key ? p->alt_key : p->key;
    int rc = dtls_ctx_new(c, k, 0, &dopts, &p->dtls_ctx);
    if (rc != 0) {
        snprintf(err, errlen, "peer: DTLS client context: %s", lg_strerror(rc));
        return rc;
    }
    if (p->o.full_ice && (rc = dtls_ctx_new(c, k, 1, &dopts, &p->dtls_server_ctx)) != 0)
        snprintf(err, errlen, "peer: DTLS server context: %s", lg_strerror(rc));
    return rc;
}

/* --- lifecycle -------------------------------------------------------------------------------- */

static int apply_defaults(peer_opts_t *o, char *err, size_t errlen)
{
    if (o->port == 0) {
        snprintf(err, errlen, "peer: opts.port (the relay's HTTPS port) is required");
        return LG_EINVAL;
    }
    if (o->audio_payload == 0)
        o->audio_payload = 60;
    if (o->video_kbps == 0)
        o->video_kbps = 500;
    if (o->video_fps == 0)
        o->video_fps = 30;
    if (o->keyframe_interval == 0)
        o->keyframe_interval = 90;
    if (o->audio_level == 0)
        o->audio_level = 30;
    if (o->opus_kbps == 0)
        o->opus_kbps = 32;
    if (o->ice_timeout_ms <= 0)
        o->ice_timeout_ms = 5000;
    if (o->dtls_timeout_ms <= 0)
        o->dtls_timeout_ms = 10000;
    if (o->consent_interval_ms == 0)
        o->consent_interval_ms = 3000;
    if (o->consent_timeout_ms == 0)
        o->consent_timeout_ms = 30000;
    if (o->audio_payload < 32 || o->audio_payload > 1000 || o->audio_level > 127 ||
        o->video_fps > 120 || o->video_kbps > 50000 || o->no_audio + o->no_video == 2 ||
        o->rx_loss_pct > 50 || o->simulcast_layers > PEER_MAX_LAYERS || o->temporal_layers > 3 ||
        (o->opus_tone_hz && (o->opus_tone_hz < 50 || o->opus_tone_hz > 12000)) ||
        o->opus_kbps < 6 || o->opus_kbps > 128) {
        snprintf(err, errlen,
                 "peer: option out of range (audio_payload 32..1000, audio_level 1..127, "
                 "video_fps 1..120, video_kbps 1..50000, rx_loss_pct 0..50, simulcast_layers "
                 "0..3, temporal_layers 0..3, opus_tone_hz 0 or 50..12000, opus_kbps 6..128, "
                 "not both no_audio and no_video)");
        return LG_EINVAL;
    }
    return 0;
}

static int copy_strings(peer_t *p, const peer_opts_t *o, char *err, size_t errlen)
{
    const char *host = o->host ? o->host : "127.0.0.1";
    if (strlen(host) >= sizeof p->host ||
        (o->media_addr && strlen(o->media_addr) >= sizeof p->media_addr)) {
        snprintf(err, errlen, "peer: host or media_addr too long");
        return LG_EINVAL;
    }
    snprintf(p->host, sizeof p->host, "%s", host);
    snprintf(p->media_addr, sizeof p->media_addr, "%s", o->media_addr ? o->media_addr : "");
    p->token = o->token ? strdup(o->token) : NULL;
    p->ca_file = o->ca_file ? strdup(o->ca_file) : NULL;
    if ((o->token && !p->token) || (o->ca_file && !p->ca_file)) {
        snprintf(err, errlen, "peer: out of memory");
        return LG_ENOMEM;
    }
    p->o.host = p->host;
    p->o.token = p->token;
    p->o.ca_file = p->ca_file;
    p->o.media_addr = p->media_addr[0] ? p->media_addr : NULL;
    return 0;
}

static int alloc_buffers(peer_t *p)
{
    p->sdp_text = malloc(PEER_SDP_MAX);
    p->txbuf = malloc(PEER_TX_MAX + SRTP_SESSION_MAX_OVERHEAD + 256);
    p->rxbuf = malloc(PEER_RX_MAX);
    p->rx = calloc(PEER_MAX_STREAMS, sizeof *p->rx);
    p->lat = calloc(PEER_LATENCY_SAMPLES, sizeof *p->lat);
    return p->sdp_text && p->txbuf && p->rxbuf && p->rx && p->lat ? 0 : LG_ENOMEM;
}

peer_t *peer_new(const peer_opts_t *opts, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!opts) {
        snprintf(err, errlen, "peer: NULL options");
        return NULL;
    }
    peer_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "peer: out of memory");
        return NULL;
    }
    p->o = *opts;
    p->sub_seq = -1;
    p->consent = !opts->no_consent;
    p->sending = 1;
    uint8_t seed[8];
    if (RAND_bytes(seed, sizeof seed) != 1)
        memset(seed, 0x42, sizeof seed);
    memcpy(&p->rng, seed, sizeof p->rng);
    p->rng |= 1;
    for (int i = 0; i < LEG_COUNT; i++)
        leg_init(p, &p->legs[i], (leg_kind_t)i);
    if (apply_defaults(&p->o, err, errlen) != 0 || copy_strings(p, opts, err, errlen) != 0)
        goto fail;
    if (alloc_buffers(p) != 0) {
        snprintf(err, errlen, "peer: out of memory");
        goto fail;
    }
    if (setup_crypto(p, err, errlen) != 0)
        goto fail;
    if (media_init(p) != 0 || capture_init(p) != 0) {
        snprintf(err, errlen, "peer: media setup failed");
        goto fail;
    }
    return p;
fail:
    peer_free(p);
    return NULL;
}

void peer_free(peer_t *p)
{
    if (!p)
        return;
    for (int i = 0; i < LEG_COUNT; i++)
        leg_close(&p->legs[i]);
    if (p->ws)
        wsc_close(p->ws, 1000);
    for (int i = 0; i < p->nrx; i++)
        free(p->rx[i].nack);
    audio_free(p);
    capture_free(p);
    dtls_ctx_free(p->dtls_ctx);
    dtls_ctx_free(p->dtls_server_ctx);
    X509_free(p->cert);
    EVP_PKEY_free(p->key);
    X509_free(p->alt_cert);
    EVP_PKEY_free(p->alt_key);
    free(p->token);
    free(p->ca_file);
    free(p->sdp_text);
    free(p->txbuf);
    free(p->rxbuf);
    free(p->rx);
    free(p->lat);
    free(p);
}

/* --- the loop --------------------------------------------------------------------------------- */

static int64_t next_wake(peer_t *p, int64_t deadline)
{
    int64_t t = deadline;
    for (int i = 0; i < LEG_COUNT; i++) {
        int64_t w = leg_next_wake(&p->legs[i]);
        if (w < t)
            t = w;
    }
    int64_t m = media_next_wake(p);
    return m < t ? m : t;
}

/* One round: timers, then poll() until the next timer, then the ready sockets. */
static void loop_once(peer_t *p, int64_t deadline)
{
    int64_t now = peer_now_ns();
    for (int i = 0; i < LEG_COUNT; i++)
        leg_tick(&p->legs[i], now);
    media_tick(p, now);
    if (p->fatal)
        return;

    struct pollfd pfd[1 + LEG_COUNT];
    int idx[1 + LEG_COUNT];
    int n = 0;
    if (p->ws) {
        pfd[n] = (struct pollfd){.fd = wsc_fd(p->ws), .events = POLLIN};
        idx[n++] = -1;
    }
    for (int i = 0; i < LEG_COUNT; i++) {
        short ev = leg_poll_events(&p->legs[i]);
        if (ev) {
            pfd[n] = (struct pollfd){.fd = p->legs[i].fd, .events = ev};
            idx[n++] = i;
        }
    }
    int64_t wake = next_wake(p, deadline);
    now = peer_now_ns();
    int timeout = wake <= now ? 0 : (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS);
    if (p->ws && wsc_pending(p->ws))
        timeout = 0;
    int rc = poll(pfd, (nfds_t)n, timeout);
    if (rc < 0 && errno != EINTR) {
        peer_fail(p, LG_EIO, "peer: poll: %s", strerror(errno));
        return;
    }
    for (int i = 0; i < n; i++) {
        if (idx[i] < 0) {
            if ((rc > 0 && pfd[i].revents) || (p->ws && wsc_pending(p->ws)))
                sig_on_readable(p);
        } else if (rc > 0 && pfd[i].revents) {
            leg_on_poll(&p->legs[idx[i]], pfd[i].revents);
        }
        if (p->fatal)
            return;
    }
}

int peer_loop(peer_t *p, int64_t deadline, int (*done)(peer_t *, void *), void *arg)
{
    for (;;) {
        if (p->fatal)
            return p->fatal;
        if (done && done(p, arg))
            return 0;
        if (peer_now_ns() >= deadline)
            return PEER_LOOP_DEADLINE;
        loop_once(p, deadline);
    }
}

static int64_t deadline_in(int timeout_ms)
{
    return peer_now_ns() + (int64_t)(timeout_ms < 0 ? 0 : timeout_ms) * NS_PER_MS;
}

/* --- publishing ------------------------------------------------------------------------------- */

static int leg_keyed(peer_t *p, void *arg)
{
    return p->legs[(intptr_t)arg].srtp_ready;
}

int peer_connect(peer_t *p, int timeout_ms)
{
    if (!p)
        return LG_EINVAL;
    peer_leg_t *leg = &p->legs[LEG_PUBLISH];
    if (!leg->active)
        return peer_fail(p, LG_ESTATE, "peer: connect before the relay's answer was set");
    int rc = peer_loop(p, deadline_in(timeout_ms), leg_keyed, (void *)(intptr_t)LEG_PUBLISH);
    if (rc != PEER_LOOP_DEADLINE)
        return rc;
    peer_note(p, "peer: publish connection to %s not ready within %d ms (ICE %s, DTLS %s)",
              leg->remote.addr_str, timeout_ms,
              leg->ice == PEER_ICE_CONNECTED ? "connected" : "checking",
              dtls_state_str(dtls_session_state(&leg->dtls)));
    return LG_EEXPIRED;
}

int peer_publish(peer_t *p, int timeout_ms)
{
    if (!p)
        return LG_EINVAL;
    if (p->fatal)
        return p->fatal;
    if (p->sig != SIG_JOINED)
        return peer_fail(p, LG_ESTATE, "peer: publish before joined");
    peer_leg_t *pub = &p->legs[LEG_PUBLISH];
    if (pub->active && strcmp(pub->st.relay_state, "closed") != 0)
        return peer_fail(p, LG_ESTATE, "peer: already published");
    if (pub->active) { /* the relay closed it: start over with fresh credentials */
        leg_close(pub);
        leg_init(p, pub, LEG_PUBLISH);
    }
    int64_t deadline = deadline_in(timeout_ms);
    size_t len;
    int rc = peer_build_offer(p, p->sdp_text, PEER_SDP_MAX, &len);
    if (rc != 0)
        return peer_fail(p, rc, "peer: building the offer failed: %s", lg_strerror(rc));
    rc = sig_send_publish(p, p->sdp_text, len);
    if (rc == 0)
        rc = sig_wait_publish(p, deadline);
    if (rc != 0)
        return rc;
    rc = peer_loop(p, deadline, leg_keyed, (void *)(intptr_t)LEG_PUBLISH);
    if (rc != PEER_LOOP_DEADLINE)
        return rc;
    peer_leg_t *leg = &p->legs[LEG_PUBLISH];
    peer_note(p, "peer: publish connection to %s not ready within %d ms (%s)", leg->remote.addr_str,
              timeout_ms,
              leg->ice == PEER_ICE_CONNECTED ? "DTLS handshake under way" : "ICE checking");
    return LG_EEXPIRED;
}

int peer_run(peer_t *p, int duration_ms)
{
    if (!p)
        return LG_EINVAL;
    int rc = peer_loop(p, deadline_in(duration_ms), NULL, NULL);
    return rc == PEER_LOOP_DEADLINE ? 0 : rc;
}

int peer_wait_subscribed(peer_t *p, int timeout_ms)
{
    if (!p)
        return LG_EINVAL;
    int rc = peer_loop(p, deadline_in(timeout_ms), leg_keyed, (void *)(intptr_t)LEG_SUBSCRIBE);
    if (rc != PEER_LOOP_DEADLINE)
        return rc;
    peer_note(p,
              "peer: subscribe connection not ready within %d ms (%" PRIu64
              " subscribe offers answered)",
              timeout_ms, p->st.subscribe_offers);
    return LG_EEXPIRED;
}

typedef struct {
    int leg;
    const char *state;
} relay_wait_t;

static int relay_reached(peer_t *p, void *arg)
{
    const relay_wait_t *w = arg;
    return strcmp(p->legs[w->leg].st.relay_state, w->state) == 0;
}

int peer_wait_relay_state(peer_t *p, bool subscribe, const char *state, int timeout_ms)
{
    if (!p || !state)
        return LG_EINVAL;
    relay_wait_t w = {subscribe ? LEG_SUBSCRIBE : LEG_PUBLISH, state};
    int rc = peer_loop(p, deadline_in(timeout_ms), relay_reached, &w);
    if (rc != PEER_LOOP_DEADLINE)
        return rc;
    const peer_leg_stats_t *st = &p->legs[w.leg].st;
    peer_note(p,
              "signaling: the relay did not report the %s transport %s within %d ms (last: %s%s%s)",
              subscribe ? "subscribe" : "publish", state, timeout_ms,
              st->relay_state[0] ? st->relay_state : "nothing", st->relay_detail[0] ? " " : "",
              st->relay_detail);
    return LG_EEXPIRED;
}

void peer_set_consent(peer_t *p, bool enabled)
{
    if (!p)
        return;
    p->consent = enabled;
    int64_t now = peer_now_ns();
    for (int i = 0; i < LEG_COUNT; i++) {
        p->legs[i].last_ok = now; /* consent age restarts when checks resume */
        p->legs[i].next_consent = now;
    }
}

void peer_set_sending(peer_t *p, bool enabled)
{
    if (p)
        p->sending = enabled;
}

void peer_set_remb(peer_t *p, unsigned bps)
{
    if (!p)
        return;
    p->o.remb_bps = bps;
    p->last_remb_ns = 0; /* due with the next video packet */
}

/* --- results ---------------------------------------------------------------------------------- */

static void leg_stats(const peer_leg_t *leg, peer_leg_stats_t *out)
{
    *out = leg->st;
    out->ice = leg->ice;
    out->dtls = leg->dtls_started ? dtls_session_state(&leg->dtls) : DTLS_STATE_NEW;
    out->profile = leg->profile;
    snprintf(out->remote, sizeof out->remote, "%s", leg->remote.addr_str);
}

void peer_get_stats(const peer_t *p, peer_stats_t *out)
{
    if (!p || !out)
        return;
    *out = p->st;
    leg_stats(&p->legs[LEG_PUBLISH], &out->publish);
    leg_stats(&p->legs[LEG_SUBSCRIBE], &out->subscribe);
    out->streams = (uint32_t)p->nrx;
    media_latency_summary(p, out);
    snprintf(out->last_error, sizeof out->last_error, "%s", p->err);
}

int peer_stream_count(const peer_t *p)
{
    return p ? p->nrx : 0;
}

int peer_get_stream(const peer_t *p, int index, peer_stream_stats_t *out)
{
    if (!p || !out || index < 0 || index >= p->nrx)
        return LG_EINVAL;
    *out = p->rx[index].s;
    return 0;
}

const char *peer_last_error(const peer_t *p)
{
    return p ? p->err : "";
}

uint32_t peer_sender_id(const peer_t *p)
{
    return p ? p->o.sender_id : 0;
}
