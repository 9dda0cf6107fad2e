/* The C peer (bench/peer/peer.h) on loopback: its offer and subscribe answer, ICE checks and
 * consent against an in-test ICE-lite responder, the DTLS client and SRTP against an in-test DTLS
 * server that echoes media back (UDP and ICE-TCP), the payload trailer, and, end to end, the real
 * relay running in-process. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "bench/peer/peer.h"
#include "relay_fixture.h"
#include "bench/peer/ws_client.h"
#include "certs/certs.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "sfu/dtls.h"
#include "sfu/lg_error.h"
#include "sfu/relay.h"
#include "sfu/rfc4571.h"
#include "sfu/srtp_session.h"
#include "sfu/stun.h"
#include "signaling/auth.h"
#include "signaling/negotiate.h"
#include "signaling/sdp.h"
#include "signaling/secret.h"

#define SDP_CAP (64 * 1024)

/* ============================================================================================= */
/* A fake ICE-lite + DTLS server: what the relay's media worker does for one transport.          */
/* ============================================================================================= */

typedef struct {
    /* set before start */
    int tcp;       /* serve ICE-TCP (RFC 4571) instead of UDP */
    int silent;    /* never answer Binding requests */
    int wrong_key; /* answer with MESSAGE-INTEGRITY under another password */
    int echo;      /* send every unprotected RTP packet back, re-protected */
    int originate; /* once connected, send its own VP8 (non-key) and audio packets */
    int pli_after; /* send one PLI after this many RTP packets in (0: never) */
    int decoy;     /* the answer also lists an unreachable candidate of the other family */
    char peer_fp[LG_CERTS_FINGERPRINT_MAX + 256];
    char peer_ufrag[260];
    /* fixed at init */
    char ufrag[16];
    char pwd[32];
    char fp[LG_CERTS_FINGERPRINT_MAX];
    X509 *cert;
    EVP_PKEY *key;
    dtls_ctx_t *ctx;
    uint16_t port;
    int v6;
    const char *ip; /* "127.0.0.1" or "::1" */
    int udp, lfd, cfd;
    /* thread */
    pthread_t thread;
    int started;
    atomic_int stop;
    atomic_int mute_stun; /* stop answering Binding requests from now on */
    /* state (server thread) */
    dtls_session_t dtls;
    int dtls_inited;
    srtp_session_t srtp;
    struct sockaddr_storage peer;
    socklen_t peer_len;
    rfc4571_deframer_t *deframer;
    uint8_t buf[70000];
    int sent_pli;
    int originated;
    /* observed */
    atomic_int requests, use_candidate, without_use_candidate, controlling, bad_requests;
    atomic_int connected, dtls_reason, profile;
    atomic_int rtp_in, rtcp_in, plis_in, srtp_fail;
    atomic_uint priority;
} fake_t;

static void make_cert(X509 **cert, EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    assert_non_null(*key);
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"fake", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, *key);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    *cert = x;
}

static void fake_send(fake_t *f, const uint8_t *p, size_t len)
{
    if (f->tcp) {
        uint8_t frame[70000];
        int n = rfc4571_frame(frame, sizeof frame, p, len);
        if (n > 0 && f->cfd >= 0)
            (void)!send(f->cfd, frame, (size_t)n, MSG_NOSIGNAL);
        return;
    }
    if (f->peer_len)
        sendto(f->udp, p, len, 0, (struct sockaddr *)&f->peer, f->peer_len);
}

static void fake_dtls_send(void *ctx, const uint8_t *p, size_t len)
{
    fake_send(ctx, p, len);
}

static void fake_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    fake_t *f = ctx;
    assert_int_equal(srtp_session_init(&f->srtp, keys), 0);
    atomic_store(&f->profile, (int)keys->profile);
    atomic_store(&f->connected, 1);
}

static void fake_on_stun(fake_t *f, const uint8_t *p, size_t len)
{
    stun_msg_t m;
    if (stun_parse(&m, p, len) != 0 || m.cls != STUN_CLASS_REQUEST ||
        stun_check_fingerprint(&m) != 0 ||
        stun_check_integrity(&m, (const uint8_t *)f->pwd, strlen(f->pwd)) != 0) {
        atomic_fetch_add(&f->bad_requests, 1);
        return;
    }
    char user[300];
    snprintf(user, sizeof user, "%s:%s", f->ufrag, f->peer_ufrag);
    if (m.username_len != strlen(user) || memcmp(m.username, user, m.username_len) != 0) {
        atomic_fetch_add(&f->bad_requests, 1);
        return;
    }
    atomic_fetch_add(&f->requests, 1);
    atomic_fetch_add(
        (m.present & STUN_HAS_USE_CANDIDATE) ? &f->use_candidate : &f->without_use_candidate, 1);
    if (m.present & STUN_HAS_ICE_CONTROLLING)
        atomic_store(&f->controlling, 1);
    atomic_store(&f->priority, m.priority);
    if (f->silent || atomic_load(&f->mute_stun))
        return;
    uint8_t out[256];
    size_t n;
    const char *key = f->wrong_key ? "not-the-password-at-all" : f->pwd;
    struct sockaddr_in lo = {.sin_family = AF_INET, .sin_port = htons(9)};
    lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const struct sockaddr *mapped = f->tcp ? (struct sockaddr *)&lo : (struct sockaddr *)&f->peer;
    assert_int_equal(stun_build_binding_success(out, sizeof out, m.txid, mapped,
                                                (const uint8_t *)key, strlen(key), &n),
                     0);
    fake_send(f, out, n);
    if (!f->dtls_inited) { /* the first valid check creates the DTLS session, as the relay does */
        dtls_callbacks_t cb = {fake_dtls_send, fake_connected, NULL, f};
        assert_int_equal(dtls_session_init(&f->dtls, f->ctx, &cb), 0);
        assert_int_equal(dtls_set_remote_fingerprint(&f->dtls, f->peer_fp), 0);
        f->dtls_inited = 1;
    }
}

static void fake_send_pli(fake_t *f, uint32_t media_ssrc)
{
    uint8_t b[256];
    rtcp_writer_t w;
    rtcp_writer_init(&w, b, 100);
    assert_int_equal(rtcp_write_pli(&w, 0x5eed, media_ssrc), 0);
    size_t len = w.len;
    assert_int_equal(srtp_session_protect_rtcp(&f->srtp, b, &len, sizeof b), 0);
    fake_send(f, b, len);
}

static void fake_on_srtp(fake_t *f, uint8_t *p, size_t len)
{
    if (!atomic_load(&f->connected))
        return;
    if (p[1] >= 192 && p[1] <= 223) {
        if (srtp_session_unprotect_rtcp(&f->srtp, p, &len) != 0) {
            atomic_fetch_add(&f->srtp_fail, 1);
            return;
        }
        atomic_fetch_add(&f->rtcp_in, 1);
        rtcp_iter_t it;
        rtcp_packet_t pkt;
        rtcp_iter_init(&it, p, len);
        while (rtcp_iter_next(&it, &pkt) == 1)
            if (pkt.pt == RTCP_PSFB && pkt.count == RTCP_PSFB_PLI)
                atomic_fetch_add(&f->plis_in, 1);
        return;
    }
    if (srtp_session_unprotect_rtp(&f->srtp, p, &len) != 0) {
        atomic_fetch_add(&f->srtp_fail, 1);
        return;
    }
    int n = atomic_fetch_add(&f->rtp_in, 1) + 1;
    rtp_packet_t pkt;
    assert_int_equal(rtp_parse(p, len, &pkt), 0);
    if (f->pli_after && n >= f->pli_after && !f->sent_pli && pkt.payload_type == 96) {
        f->sent_pli = 1;
        fake_send_pli(f, pkt.ssrc);
    }
    if (f->echo) {
        uint8_t out[2048];
        memcpy(out, p, len);
        size_t olen = len;
        if (srtp_session_protect_rtp(&f->srtp, out, &olen, sizeof out) == 0)
            fake_send(f, out, olen);
    }
}

static void fake_on_packet(fake_t *f, uint8_t *p, size_t len)
{
    if (len == 0)
        return;
    if (p[0] <= 3) {
        fake_on_stun(f, p, len);
    } else if (p[0] >= 20 && p[0] <= 63) {
        if (f->dtls_inited) {
            dtls_feed(&f->dtls, p, len);
            atomic_store(&f->dtls_reason, (int)dtls_session_reason(&f->dtls));
        }
    } else if (p[0] >= 128 && p[0] <= 191) {
        fake_on_srtp(f, p, len);
    }
}

static int fake_frame(void *ctx, uint8_t *frame, size_t len)
{
    fake_on_packet(ctx, frame, len);
    return 0;
}

/* Once connected (originate): 40 VP8 delta-frame packets from "sender 777" plus 20 audio. */
static void fake_originate(fake_t *f)
{
    peer_trailer_t t = {777, 1, 0, 0};
    for (int i = 0; i < 60; i++) {
        int video = i < 40;
        uint8_t b[400] = {0x80, (uint8_t)(video ? 96 : 111)};
        uint32_t ssrc = video ? 0xAAAA0001u : 0xAAAA0002u;
        b[2] = (uint8_t)(i >> 8);
        b[3] = (uint8_t)i;
        b[8] = (uint8_t)(ssrc >> 24);
        b[9] = (uint8_t)(ssrc >> 16);
        b[10] = (uint8_t)(ssrc >> 8);
        b[11] = (uint8_t)ssrc;
        size_t payload = 200;
        uint8_t *pl = b + 12;
        pl[0] = 0x10; /* S, PID 0 */
        pl[1] = 0x01; /* P = 1: a delta frame */
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        t.stream = video ? 1 : 0;
        t.seq = video ? (uint32_t)i : (uint32_t)(i - 40);
        if (i == 10 || i == 45)
            continue; /* a gap in each stream */
        t.send_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
        peer_trailer_write(pl, payload, &t);
        size_t len = 12 + payload;
        assert_int_equal(srtp_session_protect_rtp(&f->srtp, b, &len, sizeof b), 0);
        fake_send(f, b, len);
    }
}

static void fake_poll_tcp(fake_t *f, struct pollfd *pfd)
{
    if (pfd[0].revents & POLLIN) {
        int c = accept(f->lfd, NULL, NULL);
        if (c >= 0) {
            if (f->cfd >= 0)
                close(f->cfd);
            f->cfd = c;
            rfc4571_deframer_init(f->deframer);
        }
    }
    if (f->cfd >= 0 && (pfd[1].revents & (POLLIN | POLLHUP))) {
        ssize_t n = recv(f->cfd, f->buf, sizeof f->buf, 0);
        if (n <= 0) {
            close(f->cfd);
            f->cfd = -1;
            return;
        }
        rfc4571_deframer_feed(f->deframer, f->buf, (size_t)n, fake_frame, f);
    }
}

static void *fake_thread(void *arg)
{
    fake_t *f = arg;
    while (!atomic_load(&f->stop)) {
        struct pollfd pfd[2] = {{.fd = f->tcp ? f->lfd : f->udp, .events = POLLIN},
                                {.fd = f->cfd, .events = POLLIN}};
        int64_t ms = f->dtls_inited ? dtls_next_timeout_ms(&f->dtls) : -1;
        int timeout = ms < 0 || ms > 10 ? 10 : (int)ms;
        if (poll(pfd, f->tcp ? 2 : 1, timeout) < 0)
            continue;
        if (f->tcp) {
            fake_poll_tcp(f, pfd);
        } else if (pfd[0].revents & POLLIN) {
            f->peer_len = sizeof f->peer;
            ssize_t n = recvfrom(f->udp, f->buf, sizeof f->buf, 0, (struct sockaddr *)&f->peer,
                                 &f->peer_len);
            if (n > 0)
                fake_on_packet(f, f->buf, (size_t)n);
        }
        if (f->dtls_inited && dtls_next_timeout_ms(&f->dtls) == 0)
            dtls_on_timeout(&f->dtls);
        if (f->originate && !f->originated && atomic_load(&f->connected)) {
            f->originated = 1;
            fake_originate(f);
        }
    }
    return NULL;
}

static fake_t *fake_new6(int tcp, int v6)
{
    fake_t *f = calloc(1, sizeof *f);
    assert_non_null(f);
    f->tcp = tcp;
    f->v6 = v6;
    f->ip = v6 ? "::1" : "127.0.0.1";
    f->cfd = f->lfd = -1;
    snprintf(f->ufrag, sizeof f->ufrag, "lgFake%04d", rand() % 10000);
    snprintf(f->pwd, sizeof f->pwd, "fakePassword%012d", rand());
    make_cert(&f->cert, &f->key);
    assert_int_equal(lg_certs_fingerprint(f->cert, "sha-256", f->fp, sizeof f->fp), 0);
    assert_int_equal(dtls_ctx_new(f->cert, f->key, 1, NULL, &f->ctx), 0);
    f->deframer = malloc(sizeof *f->deframer);
    assert_non_null(f->deframer);
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    socklen_t alen = v6 ? sizeof *a6 : sizeof *a4;
    ss.ss_family = v6 ? AF_INET6 : AF_INET;
    if (v6)
        a6->sin6_addr = in6addr_loopback;
    else
        a4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    f->udp = socket(ss.ss_family, SOCK_DGRAM, 0);
    assert_true(f->udp >= 0);
    assert_int_equal(bind(f->udp, (struct sockaddr *)&ss, alen), 0);
    assert_int_equal(getsockname(f->udp, (struct sockaddr *)&ss, &alen), 0);
    f->port = ntohs(v6 ? a6->sin6_port : a4->sin_port);
    if (tcp) { /* the TCP listener takes the UDP socket's port number, as the relay's does */
        f->lfd = socket(ss.ss_family, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(f->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        assert_int_equal(bind(f->lfd, (struct sockaddr *)&ss, alen), 0);
        assert_int_equal(listen(f->lfd, 4), 0);
    }
    return f;
}

static fake_t *fake_new(int tcp)
{
    return fake_new6(tcp, 0);
}

/* The relay-style answer to the peer's offer: ICE-lite, passive, UDP + TCP passive candidates
 * (and the decoy). fp NULL: the fake's real fingerprint. */
static void fake_answer(const fake_t *f, const char *fp, char *out, size_t cap)
{
    const char *ipv = f->v6 ? "IP6" : "IP4";
    char decoy[160] = "";
    if (f->decoy)
        snprintf(decoy, sizeof decoy,
                 "a=candidate:8 1 udp 2130706432 %s 9 typ host\r\n"
                 "a=candidate:9 1 tcp 1518280448 %s 9 typ host tcptype passive\r\n",
                 f->v6 ? "127.0.0.1" : "::1", f->v6 ? "127.0.0.1" : "::1");
    fp = fp ? fp : f->fp;
    snprintf(out, cap,
             "v=0\r\no=legation 1 1 IN IP4 127.0.0.1\r\ns=legation\r\nt=0 0\r\na=ice-lite\r\n"
             "a=group:BUNDLE 0 1\r\n"
             "m=audio %u UDP/TLS/RTP/SAVPF 111\r\nc=IN %s %s\r\n%s"
             "a=candidate:1 1 udp 2130706431 %s %u typ host\r\n"
             "a=candidate:2 1 tcp 1518280447 %s %u typ host tcptype passive\r\n"
             "a=end-of-candidates\r\na=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\n"
             "a=setup:passive\r\na=mid:0\r\na=recvonly\r\na=rtcp-mux\r\n"
             "a=rtpmap:111 opus/48000/2\r\n"
             "m=video %u UDP/TLS/RTP/SAVPF 96 97\r\nc=IN %s %s\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:passive\r\n"
             "a=mid:1\r\na=recvonly\r\na=rtcp-mux\r\na=rtpmap:96 VP8/90000\r\n"
             "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n",
             f->port, ipv, f->ip, decoy, f->ip, f->port, f->ip, f->port, f->ufrag, f->pwd, fp,
             f->port, ipv, f->ip, f->ufrag, f->pwd, fp);
}

/* Reads the peer's ICE ufrag and fingerprint from its offer (what the relay would learn). */
static void fake_learn_offer(fake_t *f, const char *offer, size_t len)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(sdp_parse((const uint8_t *)offer, len, s, NULL), 0);
    snprintf(f->peer_ufrag, sizeof f->peer_ufrag, "%s", s->media[0].ice.ufrag);
    snprintf(f->peer_fp, sizeof f->peer_fp, "%s %s", s->media[0].fingerprint.alg,
             s->media[0].fingerprint.value);
    free(s);
}

static void fake_start(fake_t *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
    f->started = 1;
}

static void fake_free(fake_t *f)
{
    atomic_store(&f->stop, 1);
    if (f->started)
        pthread_join(f->thread, NULL);
    dtls_session_free(&f->dtls);
    srtp_session_free(&f->srtp);
    dtls_ctx_free(f->ctx);
    X509_free(f->cert);
    EVP_PKEY_free(f->key);
    close(f->udp);
    if (f->lfd >= 0)
        close(f->lfd);
    if (f->cfd >= 0)
        close(f->cfd);
    free(f->deframer);
    free(f);
}

/* A peer with no relay behind it (port 1 is never dialled: these tests skip signaling). */
static peer_t *new_peer(peer_opts_t *o)
{
    char err[256];
    o->port = 1;
    peer_t *p = peer_new(o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    return p;
}

/* Offer -> fake learns it -> fake's answer -> peer takes it; the fake runs from here on. */
static void wire_up(peer_t *p, fake_t *f, const char *answer_fp)
{
    char *sdp = malloc(SDP_CAP);
    assert_non_null(sdp);
    size_t len;
    assert_int_equal(peer_build_offer(p, sdp, SDP_CAP, &len), 0);
    fake_learn_offer(f, sdp, len);
    fake_answer(f, answer_fp, sdp, SDP_CAP);
    int rc = peer_set_answer(p, sdp, strlen(sdp));
    if (rc != 0)
        fail_msg("peer_set_answer: %s", peer_last_error(p));
    free(sdp);
    fake_start(f);
}

/* ============================================================================================= */
/* Pure pieces                                                                                   */
/* ============================================================================================= */

static void test_trailer_round_trip(void **state)
{
    uint8_t pl[64];
    memset(pl, 0xee, sizeof pl);
    peer_trailer_t t = {0xdeadbeef, 1, 4000000000u, 0x0123456789abcdefULL}, back;
    assert_int_equal(peer_trailer_write(pl, sizeof pl, &t), 0);
    assert_int_equal(pl[0], 0xee); /* only the tail is written */
    assert_int_equal(peer_trailer_read(pl, sizeof pl, &back), 0);
    assert_int_equal(back.sender_id, t.sender_id);
    assert_int_equal(back.stream, 1);
    assert_int_equal(back.seq, t.seq);
    assert_true(back.send_ns == t.send_ns);
    assert_int_equal(peer_trailer_read(pl, PEER_TRAILER_SIZE - 1, &back), LG_ETRUNC);
    assert_int_equal(peer_trailer_write(pl, PEER_TRAILER_SIZE - 1, &t), LG_EINVAL);
    pl[sizeof pl - PEER_TRAILER_SIZE] ^= 1;
    assert_int_equal(peer_trailer_read(pl, sizeof pl, &back), LG_ENOTFOUND);
}

static void test_bad_options(void **state)
{
    char err[256];
    peer_opts_t o = {0};
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "port"));
    o.port = 1;
    o.no_audio = o.no_video = true;
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "no_audio"));
    o.no_audio = o.no_video = false;
    o.simulcast_layers = 4;
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "simulcast_layers"));
}

static void check_codec_fb(const sdp_codec_t *c, const char *const *fbs, size_t n)
{
    assert_int_equal(c->rtcp_fb_count, n);
    for (size_t i = 0; i < n; i++)
        assert_true(sdp_codec_has_fb(c, fbs[i]));
}

static void test_offer(void **state)
{
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(text);
    assert_non_null(s);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    sdp_error_t e;
    if (sdp_parse((const uint8_t *)text, len, s, &e) != 0)
        fail_msg("offer does not parse: %s\n%s", e.msg, text);
    assert_int_equal(s->media_count, 2);
    assert_int_equal(s->bundle_count, 2);
    assert_string_equal(s->bundle_mids[0], "0");
    assert_string_equal(s->bundle_mids[1], "1");
    const sdp_media_t *a = &s->media[0], *v = &s->media[1];
    /* transport: the same credentials and fingerprint in both sections */
    for (int i = 0; i < 2; i++) {
        const sdp_media_t *m = &s->media[i];
        assert_int_equal(strlen(m->ice.ufrag), 8);
        assert_int_equal(strlen(m->ice.pwd), 24);
        assert_string_equal(m->ice.ufrag, a->ice.ufrag);
        assert_string_equal(m->fingerprint.alg, "sha-256");
        assert_int_equal(m->setup, SDP_SETUP_ACTPASS);
        assert_int_equal(m->direction, SDP_DIR_SENDONLY);
        assert_true(m->rtcp_mux);
    }
    /* audio */
    assert_int_equal(a->kind, SDP_KIND_AUDIO);
    const sdp_codec_t *opus = sdp_media_find_codec(a, "opus");
    assert_non_null(opus);
    assert_int_equal(opus->pt, 111);
    assert_int_equal(opus->clock_rate, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_MID), 4);
    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].cname[0]);
    assert_string_equal(a->ssrcs[0].msid.stream, a->msid.stream);
    /* video */
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    const sdp_codec_t *vp8 = sdp_media_find_codec(v, "VP8");
    assert_non_null(vp8);
    assert_int_equal(vp8->pt, 96);
    static const char *const fbs[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
    check_codec_fb(vp8, fbs, 5);
    assert_int_equal(sdp_media_find_rtx_pt(v, 96), 97);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_ABS_SEND_TIME), 2);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 4);
    assert_int_equal(v->ssrc_group_count, 1);
    assert_string_equal(v->ssrc_groups[0].semantics, "FID");
    assert_int_equal(v->ssrc_groups[0].count, 2);
    assert_int_equal(v->ssrc_count, 2);
    assert_int_equal(v->ssrcs[0].ssrc, v->ssrc_groups[0].ssrcs[0]);
    assert_int_equal(v->ssrcs[1].ssrc, v->ssrc_groups[0].ssrcs[1]);
    assert_string_equal(v->ssrcs[0].cname, a->ssrcs[0].cname);

    /* the relay's policy accepts it */
    negotiate_local_t local;
    memset(&local, 0, sizeof local);
    snprintf(local.ice_ufrag, sizeof local.ice_ufrag, "lg7Qd2xT");
    snprintf(local.ice_pwd, sizeof local.ice_pwd, "9fKx2LmQw8RzT4vBn6YcJ1hP");
    snprintf(local.fingerprint, sizeof local.fingerprint, "sha-256 %s", a->fingerprint.value);
    local.session_id = 1;
    local.candidate_count = 1;
    snprintf(local.candidates[0].ip, sizeof local.candidates[0].ip, "127.0.0.1");
    local.candidates[0].port = 40000;
    sdp_session_t *ans = malloc(sizeof *ans);
    negotiate_publish_t *res = malloc(sizeof *res);
    assert_non_null(ans);
    assert_non_null(res);
    char err[256];
    if (negotiate_publish(s, &local, ans, res, err, sizeof err) != 0)
        fail_msg("negotiate_publish refused the offer: %s", err);
    assert_int_equal(res->track_count, 2);
    assert_int_equal(res->tracks[0].ssrc, a->ssrcs[0].ssrc);
    assert_int_equal(res->tracks[1].rtx_ssrc, v->ssrc_groups[0].ssrcs[1]);
    assert_string_equal(res->ice_ufrag, a->ice.ufrag);
    /* and the peer takes the relay's answer */
    assert_int_equal(sdp_write(ans, text, SDP_CAP, &len), 0);
    if (peer_set_answer(p, text, len) != 0)
        fail_msg("peer_set_answer: %s", peer_last_error(p));
    free(res);
    free(ans);
    free(s);
    free(text);
    peer_free(p);
}

static void test_offer_audio_only(void **state)
{
    peer_opts_t o = {.no_video = true};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_int_equal(sdp_parse((const uint8_t *)text, len, s, NULL), 0);
    assert_int_equal(s->media_count, 1);
    assert_int_equal(s->media[0].kind, SDP_KIND_AUDIO);
    free(s);
    free(text);
    peer_free(p);
}

/* Simulcast as Chromium offers it: rids highest first, a=simulcast:send, the rid extensions, no
 * a=ssrc lines; the relay's policy takes three layers in that order. */
static void test_offer_simulcast(void **state)
{
    peer_opts_t o = {.simulcast_layers = 3, .temporal_layers = 3};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    sdp_session_t *ans = malloc(sizeof *ans);
    negotiate_publish_t *res = malloc(sizeof *res);
    assert_true(text && s && ans && res);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_non_null(strstr(text, "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\n"));
    assert_non_null(strstr(text, "a=simulcast:send h;m;l\r\n"));
    assert_int_equal(sdp_parse((const uint8_t *)text, len, s, NULL), 0);
    const sdp_media_t *v = &s->media[1];
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(v->ssrc_count, 0);
    assert_int_equal(v->ssrc_group_count, 0);
    negotiate_local_t local;
    memset(&local, 0, sizeof local);
    snprintf(local.ice_ufrag, sizeof local.ice_ufrag, "lg7Qd2xT");
    snprintf(local.ice_pwd, sizeof local.ice_pwd, "9fKx2LmQw8RzT4vBn6YcJ1hP");
    snprintf(local.fingerprint, sizeof local.fingerprint, "sha-256 %s", v->fingerprint.value);
    local.session_id = 1;
    local.candidate_count = 1;
    snprintf(local.candidates[0].ip, sizeof local.candidates[0].ip, "127.0.0.1");
    local.candidates[0].port = 40000;
    char err[256];
    if (negotiate_publish(s, &local, ans, res, err, sizeof err) != 0)
        fail_msg("negotiate_publish refused the offer: %s", err);
    assert_int_equal(res->tracks[1].layer_count, 3);
    assert_string_equal(res->tracks[1].layers[0].rid, "h");
    assert_string_equal(res->tracks[1].layers[2].rid, "l");
    peer_free(p);
    o = (peer_opts_t){.simulcast_layers = 2};
    p = new_peer(&o);
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_non_null(strstr(text, "a=simulcast:send h;l\r\n"));
    peer_free(p);
    free(res);
    free(ans);
    free(s);
    free(text);
}

static void test_answer_problems(void **state)
{
    fake_t *f = fake_new(0);
    char *sdp = malloc(SDP_CAP);
    /* no IPv6 candidate */
    peer_opts_t o = {.family = PEER_FAMILY_IPV6};
    peer_t *p = new_peer(&o);
    fake_answer(f, NULL, sdp, SDP_CAP);
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "no UDP IPv6 candidate"));
    assert_non_null(strstr(peer_last_error(p), "127.0.0.1"));
    peer_free(p);
    /* a DTLS server role is not something the peer can take */
    memset(&o, 0, sizeof o);
    p = new_peer(&o);
    fake_answer(f, NULL, sdp, SDP_CAP);
    char *setup = strstr(sdp, "a=setup:passive");
    memcpy(setup, "a=setup:active\r\n", 16); /* one byte shorter: passive -> active + CRLF */
    memmove(setup + 16, setup + 17, strlen(setup + 17) + 1);
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "a=setup:active"));
    peer_free(p);
    /* garbage */
    memset(&o, 0, sizeof o);
    p = new_peer(&o);
    assert_int_equal(peer_set_answer(p, "x=1\r\n", 5), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "SDP answer"));
    peer_free(p);
    free(sdp);
    fake_free(f);
}

/* ============================================================================================= */
/* ICE, DTLS, SRTP and media against the fake                                                   */
/* ============================================================================================= */

/* Waits (bounded) until the fake's thread has seen its side of the handshake finish. */
static void wait_fake_connected(fake_t *f)
{
    for (int i = 0; i < 200 && !atomic_load(&f->connected); i++)
        usleep(10000);
    assert_true(atomic_load(&f->connected));
}

static void check_echo(peer_t *p, fake_t *f, dtls_srtp_profile_t profile)
{
    wait_fake_connected(f);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.publish.dtls, DTLS_STATE_CONNECTED);
    assert_int_equal(st.publish.profile, profile);
    assert_int_equal(atomic_load(&f->profile), (int)profile);
    assert_true(atomic_load(&f->controlling));
    assert_true(atomic_load(&f->use_candidate) >= 1);
    assert_int_equal(atomic_load(&f->priority), (110u << 24) | (65535u << 8) | 255u);
    assert_int_equal(atomic_load(&f->bad_requests), 0);

    assert_int_equal(peer_run(p, 1200), 0);
    peer_get_stats(p, &st);
    /* 1.2 s: ~60 audio packets, ~36 frames of 500 kbit/s video (2 packets, key frames 6). The
     * schedule never sends ahead of time (upper bounds); a loaded machine may send fewer. */
    assert_in_range(st.audio_packets_sent, 10, 70);
    assert_in_range(st.frames_sent, 5, 40);
    assert_true(st.video_packets_sent >= 2 * st.frames_sent);
    assert_true(st.keyframes_sent >= 1);
    assert_true(st.rtcp_sent >= 1); /* sender reports */
    assert_int_equal(atomic_load(&f->srtp_fail), 0);
    assert_true(atomic_load(&f->rtcp_in) >= 1);
    /* everything came back: same streams, no loss on loopback, latency measured */
    uint64_t sent = st.audio_packets_sent + st.video_packets_sent;
    assert_true(st.packets_received + 20 >= sent);
    assert_true(st.packets_received >= sent * 9 / 10);
    assert_int_equal(st.srtp_failures, 0);
    assert_int_equal(st.foreign_packets, 0);
    assert_int_equal(st.gaps, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.streams, 2);
    assert_true(st.keyframes_received >= 1);
    assert_true(st.latency_samples >= st.packets_received);
    assert_true(st.latency_p50_us <= st.latency_p99_us);
    assert_true(st.latency_p99_us <= st.latency_max_us);
    assert_true(st.latency_max_us < 1000000);
    for (int i = 0; i < peer_stream_count(p); i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(p, i, &ss), 0);
        assert_int_equal(ss.sender_id, peer_sender_id(p));
        assert_true(ss.kind == PEER_STREAM_AUDIO || ss.kind == PEER_STREAM_VIDEO);
        assert_int_equal(ss.gaps, 0);
        assert_int_equal(ss.subscribe_leg, 0);
    }
    assert_int_equal(peer_get_stream(p, 99, &(peer_stream_stats_t){0}), LG_EINVAL);
}

static void run_echo(int tcp, int aes_cm_only, int v6)
{
    fake_t *f = fake_new6(tcp, v6);
    f->echo = 1;
    f->pli_after = 20;
    f->decoy = 1;
    peer_opts_t o = {.transport = tcp ? PEER_TRANSPORT_TCP : PEER_TRANSPORT_UDP,
                     .family = v6 ? PEER_FAMILY_IPV6 : PEER_FAMILY_IPV4,
                     .aes_cm_only = aes_cm_only,
                     .sender_id = 4242};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    int rc = peer_connect(p, 5000);
    if (rc != 0)
        fail_msg("peer_connect: %s", peer_last_error(p));
    check_echo(p, f, aes_cm_only ? DTLS_SRTP_AES128_CM_SHA1_80 : DTLS_SRTP_AEAD_AES_128_GCM);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.plis_received, 1);
    assert_true(st.keyframes_sent >= 2); /* the first frame, and the one answering the PLI */
    assert_int_equal(peer_sender_id(p), 4242);
    char remote[96];
    snprintf(remote, sizeof remote, v6 ? "[::1]:%u/%s" : "127.0.0.1:%u/%s", f->port,
             tcp ? "tcp" : "udp");
    assert_string_equal(st.publish.remote, remote);
    peer_free(p); /* sends close_notify */
    fake_free(f);
}

static void test_udp_gcm_echo(void **state)
{
    run_echo(0, 0, 0);
}

static void test_udp_aes_cm_echo(void **state)
{
    run_echo(0, 1, 0);
}

static void test_tcp_echo(void **state)
{
    run_echo(1, 0, 0);
}

static void test_udp_ipv6_echo(void **state)
{
    run_echo(0, 0, 1);
}

static void test_tcp_ipv6_echo(void **state)
{
    run_echo(1, 1, 1);
}

/* media_addr replaces the candidate's address (NAT, containers), keeping its port. */
static void test_media_addr_override(void **state)
{
    fake_t *f = fake_new(0);
    char *sdp = malloc(SDP_CAP);
    peer_opts_t o = {.media_addr = "127.0.0.1"};
    peer_t *p = new_peer(&o);
    size_t len;
    assert_int_equal(peer_build_offer(p, sdp, SDP_CAP, &len), 0);
    fake_learn_offer(f, sdp, len);
    fake_answer(f, NULL, sdp, SDP_CAP);
    char *c = strstr(sdp, "udp 2130706431 127.0.0.1");
    assert_non_null(c);
    memcpy(c + 15, "192.0.2.1", 9); /* a documentation address nobody answers on */
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), 0);
    fake_start(f);
    if (peer_connect(p, 5000) != 0)
        fail_msg("connect: %s", peer_last_error(p));
    free(sdp);
    peer_free(p);
    fake_free(f);
}

static void expect_connect_failure(peer_t *p, int rc_expected, const char *const *in_msg)
{
    int64_t t0 = time(NULL);
    int rc = peer_connect(p, 8000);
    assert_int_equal(rc, rc_expected);
    assert_true(time(NULL) - t0 <= 6);
    for (; *in_msg; in_msg++)
        if (!strstr(peer_last_error(p), *in_msg))
            fail_msg("error '%s' lacks '%s'", peer_last_error(p), *in_msg);
    /* the peer stays failed */
    assert_int_equal(peer_run(p, 10), rc_expected);
}

static void test_ice_no_answer(void **state)
{
    fake_t *f = fake_new(0);
    f->silent = 1;
    peer_opts_t o = {.ice_timeout_ms = 1000};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    char where[64];
    snprintf(where, sizeof where, "from 127.0.0.1:%u/udp within 1 s", f->port);
    const char *const msg[] = {"ICE: no Binding success", where, NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_FAILED);
    /* retransmitted every 100 ms for 1 s (fewer when the machine is busy, never more) */
    assert_in_range(st.publish.checks_sent, 2, 12);
    assert_in_range(atomic_load(&f->requests), 2, 12);
    peer_free(p);
    fake_free(f);
}

static void test_ice_wrong_integrity_ignored(void **state)
{
    fake_t *f = fake_new(0);
    f->wrong_key = 1;
    peer_opts_t o = {.ice_timeout_ms = 700};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"ICE: no Binding success", NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_true(st.publish.stun_errors >= 5); /* every forged answer was refused */
    assert_int_equal(st.publish.checks_ok, 0);
    peer_free(p);
    fake_free(f);
}

static void test_tcp_refused(void **state)
{
    fake_t *f = fake_new(0); /* no TCP listener on the advertised port */
    peer_opts_t o = {.transport = PEER_TRANSPORT_TCP};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"ICE-TCP: connect to 127.0.0.1", "refused", NULL};
    expect_connect_failure(p, LG_EIO, msg);
    peer_free(p);
    fake_free(f);
}

static void test_wrong_certificate(void **state)
{
    fake_t *f = fake_new(0);
    peer_opts_t o = {.wrong_certificate = true, .dtls_timeout_ms = 1500};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"DTLS: no handshake completion", NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    /* the server refused the certificate: the offer's fingerprint is not the one presented */
    assert_int_equal(atomic_load(&f->dtls_reason), DTLS_REASON_FINGERPRINT);
    assert_int_equal(atomic_load(&f->connected), 0);
    peer_free(p);
    fake_free(f);
}

static void test_relay_fingerprint_mismatch(void **state)
{
    fake_t *f = fake_new(0);
    X509 *other;
    EVP_PKEY *other_key;
    make_cert(&other, &other_key);
    char fp[LG_CERTS_FINGERPRINT_MAX];
    assert_int_equal(lg_certs_fingerprint(other, "sha-256", fp, sizeof fp), 0);
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    wire_up(p, f, fp); /* the answer names a certificate the server does not have */
    const char *const msg[] = {"DTLS: fingerprint mismatch", NULL};
    expect_connect_failure(p, LG_EFINGERPRINT, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.dtls, DTLS_STATE_FAILED);
    assert_int_equal(st.publish.profile, DTLS_SRTP_NONE);
    peer_free(p);
    fake_free(f);
    X509_free(other);
    EVP_PKEY_free(other_key);
}

static void test_consent(void **state)
{
    fake_t *f = fake_new(0);
    peer_opts_t o = {.consent_interval_ms = 100, .consent_timeout_ms = 600};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    assert_int_equal(peer_connect(p, 5000), 0);
    assert_int_equal(peer_run(p, 500), 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_in_range(st.publish.consent_sent, 1, 7);
    /* consent checks carry no USE-CANDIDATE; nomination checks do */
    assert_true(atomic_load(&f->without_use_candidate) >= 1);
    /* switched off: nothing more goes out, and nothing fails */
    peer_set_consent(p, false);
    int before = atomic_load(&f->without_use_candidate);
    assert_int_equal(peer_run(p, 900), 0);
    assert_int_equal(atomic_load(&f->without_use_candidate), before);
    /* back on, and the relay stops answering: consent is lost after 600 ms */
    peer_set_consent(p, true);
    atomic_store(&f->mute_stun, 1);
    int rc = peer_run(p, 3000);
    assert_int_equal(rc, LG_EEXPIRED);
    assert_non_null(strstr(peer_last_error(p), "ICE: consent lost"));
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_FAILED);
    peer_free(p);
    fake_free(f);
}

/* A relay-style subscribe offer pointing at the fake. */
static void subscribe_offer(const fake_t *f, char *out, size_t cap)
{
    snprintf(out, cap,
             "v=0\r\no=legation 2 1 IN IP4 0.0.0.0\r\ns=legation\r\nt=0 0\r\na=ice-lite\r\n"
             "a=group:BUNDLE 0 1\r\na=msid-semantic: WMS\r\n"
             "m=audio %u UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\n"
             "a=candidate:1 1 udp 2130706431 127.0.0.1 %u typ host\r\na=end-of-candidates\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:actpass\r\n"
             "a=mid:0\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendonly\r\n"
             "a=msid:p-2b81d0 t-2b81d0-a\r\na=rtcp-mux\r\na=rtpmap:111 opus/48000/2\r\n"
             "a=fmtp:111 minptime=10;useinbandfec=1\r\na=ssrc:2863267842 cname:legation\r\n"
             "m=video %u UDP/TLS/RTP/SAVPF 96 97\r\nc=IN IP4 127.0.0.1\r\n"
             "a=ice-ufrag:%s\r\na=ice-pwd:%s\r\na=fingerprint:%s\r\na=setup:actpass\r\n"
             "a=mid:1\r\na=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid\r\na=sendonly\r\n"
             "a=msid:p-2b81d0 t-2b81d0-v\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
             "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\na=rtcp-fb:96 nack pli\r\n"
             "a=rtpmap:97 rtx/90000\r\na=fmtp:97 apt=96\r\n"
             "a=ssrc-group:FID 2863267841 2863267843\r\na=ssrc:2863267841 cname:legation\r\n"
             "a=ssrc:2863267843 cname:legation\r\n",
             f->port, f->port, f->ufrag, f->pwd, f->fp, f->port, f->ufrag, f->pwd, f->fp);
}

static void test_subscribe_leg(void **state)
{
    fake_t *f = fake_new(0);
    f->originate = 1;
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    char *offer = malloc(SDP_CAP), *answer = malloc(SDP_CAP), *pub = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    subscribe_offer(f, offer, SDP_CAP);
    size_t len, plen;
    assert_int_equal(peer_answer_subscribe(p, offer, strlen(offer), answer, SDP_CAP, &len), 0);
    assert_int_equal(strlen(answer), len);
    sdp_error_t e;
    if (sdp_parse((const uint8_t *)answer, len, s, &e) != 0)
        fail_msg("answer does not parse: %s\n%s", e.msg, answer);
    assert_int_equal(s->media_count, 2);
    assert_int_equal(s->bundle_count, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s->media[i].setup, SDP_SETUP_ACTIVE);
        assert_int_equal(s->media[i].direction, SDP_DIR_RECVONLY);
        assert_true(s->media[i].rtcp_mux);
    }
    assert_string_equal(s->media[1].mid, "1");
    assert_int_equal(sdp_media_find_rtx_pt(&s->media[1], 96), 97);
    assert_true(sdp_codec_has_fb(sdp_media_find_codec(&s->media[1], "VP8"), "nack pli"));
    assert_true(s->media[1].rtcp_rsize);
    /* its own credentials, not the publish connection's; the same certificate */
    assert_int_equal(peer_build_offer(p, pub, SDP_CAP, &plen), 0);
    assert_null(strstr(pub, s->media[0].ice.ufrag));
    assert_non_null(strstr(pub, s->media[0].fingerprint.value));
    snprintf(f->peer_ufrag, sizeof f->peer_ufrag, "%s", s->media[0].ice.ufrag);
    snprintf(f->peer_fp, sizeof f->peer_fp, "sha-256 %s", s->media[0].fingerprint.value);
    fake_start(f);
    if (peer_wait_subscribed(p, 5000) != 0)
        fail_msg("subscribe leg: %s", peer_last_error(p));
    assert_int_equal(peer_run(p, 700), 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(st.publish.ice, PEER_ICE_NEW);
    assert_int_equal(st.packets_received, 58);
    assert_int_equal(st.gaps, 2);
    assert_int_equal(st.streams, 2);
    assert_int_equal(st.keyframes_received, 0);
    assert_true(st.plis_sent >= 1); /* no key frame yet: the peer asks, as a browser does */
    assert_true(atomic_load(&f->plis_in) >= 1);
    for (int i = 0; i < 2; i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(p, i, &ss), 0);
        assert_int_equal(ss.sender_id, 777);
        assert_int_equal(ss.subscribe_leg, 1);
        assert_int_equal(ss.gaps, 1);
        assert_int_equal(ss.kind, ss.ssrc == 0xAAAA0001u ? PEER_STREAM_VIDEO : PEER_STREAM_AUDIO);
    }
    /* a renegotiation with the same credentials keeps the leg */
    assert_int_equal(peer_answer_subscribe(p, offer, strlen(offer), answer, SDP_CAP, &len), 0);
    assert_int_equal(peer_run(p, 100), 0);
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    free(s);
    free(pub);
    free(offer);
    free(answer);
    peer_free(p);
    fake_free(f);
}

/* ============================================================================================= */
/* End to end: the real relay in-process                                                         */
/* ============================================================================================= */

/* The in-process relay (tests/integration/relay_fixture.h), tuned for these tests. */
static void tune(lg_config_t *cfg)
{
    cfg->consent_timeout_s = 2; /* peers below check every 500 ms */
    cfg->media_addr_count = 2;  /* candidates on both families */
    snprintf(cfg->media_addrs[1], sizeof cfg->media_addrs[1], "::1");
}

static int start_relay(void **state)
{
    return relay_fixture_start(tune);
}

static int stop_relay(void **state)
{
    relay_fixture_stop();
    return 0;
}

/* GET /metrics from the relay over HTTPS (its dev certificate is not verified). */
static char *fetch_metrics(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rf_cfg.listen_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    assert_int_equal(SSL_connect(ssl), 1);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int n; len + 1 < cap && (n = SSL_read(ssl, buf + len, (int)(cap - len - 1))) > 0;)
        len += (size_t)n;
    buf[len] = '\0';
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return buf;
}

/* One sample of /metrics, e.g. metric("legation_srtp_packets_received_total{worker=\"0\"}"); 0
 * when absent. */
static uint64_t metric(const char *sample)
{
    char *text = fetch_metrics();
    uint64_t v = 0;
    size_t n = strlen(sample);
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, sample, n) == 0 && line[n] == ' ')
            v = strtoull(line + n + 1, NULL, 10);
    free(text);
    return v;
}

#define M_SRTP_IN   "legation_srtp_packets_received_total{worker=\"0\"}"
#define M_SRTCP_IN  "legation_srtcp_packets_received_total{worker=\"0\"}"
#define M_AUTH_FAIL "legation_packets_dropped_total{worker=\"0\",reason=\"srtp_auth_fail\"}"

/* Waits for the control thread's next counter refresh (stats_interval_ms = 100). */
static void settle_counters(void)
{
    usleep(400 * 1000);
}

static const char *mint(const char *room, const char *sub, auth_role_t role)
{
    return relay_fixture_token(room, sub, role, 600);
}

static peer_t *relay_peer(peer_opts_t *o, const char *room, const char *sub)
{
    char err[256];
    o->port = rf_cfg.listen_port;
    o->token = mint(room, sub, AUTH_ROLE_MODERATOR);
    o->consent_interval_ms = 500;
    peer_t *p = peer_new(o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join: %s", peer_last_error(p));
    return p;
}

/* Publishes through the relay; skips while the relay build has no media transports. */
static void relay_publish(peer_t *p, int expect_rc)
{
    int rc = peer_publish(p, 10000);
    if (rc == LG_EPERM && strstr(peer_last_error(p), "no media transports")) {
        peer_free(p);
        skip();
    }
    if (rc != expect_rc)
        fail_msg("publish returned %s (%d), expected %d: %s", lg_strerror(rc), rc, expect_rc,
                 peer_last_error(p));
}

static void relay_publish_case(peer_opts_t *o, const char *room, dtls_srtp_profile_t profile)
{
    peer_t *p = relay_peer(o, room, "alice");
    relay_publish(p, 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.publish.dtls, DTLS_STATE_CONNECTED);
    assert_int_equal(st.publish.profile, profile);
    assert_non_null(
        strstr(st.publish.remote, o->transport == PEER_TRANSPORT_TCP ? "/tcp" : "/udp"));
    /* the relay's side agrees */
    if (peer_wait_relay_state(p, false, "connected", 5000) != 0)
        fail_msg("relay state: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_detail, dtls_srtp_profile_str(profile));
    /* media flows; the relay authenticates and decrypts every packet with the keys it agreed */
    settle_counters();
    uint64_t rtp0 = metric(M_SRTP_IN), rtcp0 = metric(M_SRTCP_IN), bad0 = metric(M_AUTH_FAIL);
    if (peer_run(p, 1500) != 0)
        fail_msg("run: %s", peer_last_error(p));
    peer_set_sending(p, false);
    assert_int_equal(peer_run(p, 100), 0);
    settle_counters();
    peer_get_stats(p, &st);
    assert_true(st.audio_packets_sent >= 60);
    assert_true(st.video_packets_sent >= 60);
    assert_int_equal(st.srtp_failures, 0);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    uint64_t sent = st.audio_packets_sent + st.video_packets_sent;
    uint64_t got = metric(M_SRTP_IN) - rtp0;
    if (got < sent * 95 / 100 || got > sent)
        fail_msg("the relay decrypted %llu of %llu packets", (unsigned long long)got,
                 (unsigned long long)sent);
    assert_true(metric(M_SRTCP_IN) - rtcp0 >= 1); /* sender reports */
    assert_int_equal(metric(M_AUTH_FAIL) - bad0, 0);
    assert_int_equal(peer_leave(p, 3000), 0);
    peer_free(p);
}

static void test_relay_publish_gcm(void **state)
{
    peer_opts_t o = {0};
    relay_publish_case(&o, "peer-gcm", DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_relay_publish_aes_cm(void **state)
{
    peer_opts_t o = {.aes_cm_only = true};
    relay_publish_case(&o, "peer-aescm", DTLS_SRTP_AES128_CM_SHA1_80);
}

static void test_relay_publish_tcp(void **state)
{
    peer_opts_t o = {.transport = PEER_TRANSPORT_TCP};
    relay_publish_case(&o, "peer-tcp", DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_relay_publish_ipv6(void **state)
{
    peer_opts_t o = {.family = PEER_FAMILY_IPV6};
    relay_publish_case(&o, "peer-v6", DTLS_SRTP_AEAD_AES_128_GCM);
    peer_opts_t t = {.family = PEER_FAMILY_IPV6, .transport = PEER_TRANSPORT_TCP};
    relay_publish_case(&t, "peer-v6tcp", DTLS_SRTP_AEAD_AES_128_GCM);
}

/* Several peers, one thread each, in one room (as the load generator runs them). */
#define THREAD_PEERS 4

typedef struct {
    int index;
    int rc;
    char err[256];
    peer_stats_t st;
} peer_job_t;

static void *peer_job(void *arg)
{
    peer_job_t *job = arg;
    peer_opts_t o = {.transport = job->index % 2 ? PEER_TRANSPORT_TCP : PEER_TRANSPORT_UDP,
                     .port = rf_cfg.listen_port,
                     .consent_interval_ms = 500,
                     .video_kbps = 300};
    char sub[16];
    snprintf(sub, sizeof sub, "load-%d", job->index);
    o.token = mint("peer-load", sub, AUTH_ROLE_PARTICIPANT);
    peer_t *p = peer_new(&o, job->err, sizeof job->err);
    if (!p) {
        job->rc = LG_ENOMEM;
        return NULL;
    }
    job->rc = peer_join(p, 5000);
    if (job->rc == 0)
        job->rc = peer_publish(p, 10000);
    if (job->rc == 0)
        job->rc = peer_run(p, 1500);
    peer_set_sending(p, false);
    if (job->rc == 0)
        job->rc = peer_run(p, 100);
    peer_get_stats(p, &job->st);
    if (job->rc == 0)
        job->rc = peer_leave(p, 3000);
    snprintf(job->err, sizeof job->err, "%s", peer_last_error(p));
    peer_free(p);
    return NULL;
}

static void test_relay_peers_in_threads(void **state)
{
    settle_counters();
    uint64_t rtp0 = metric(M_SRTP_IN), bad0 = metric(M_AUTH_FAIL);
    pthread_t th[THREAD_PEERS];
    peer_job_t jobs[THREAD_PEERS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREAD_PEERS; i++) {
        jobs[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, peer_job, &jobs[i]), 0);
    }
    uint64_t sent = 0;
    for (int i = 0; i < THREAD_PEERS; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].rc != 0)
            fail_msg("peer %d: %s (%s)", i, lg_strerror(jobs[i].rc), jobs[i].err);
        assert_int_equal(jobs[i].st.publish.profile, DTLS_SRTP_AEAD_AES_128_GCM);
        assert_true(jobs[i].st.audio_packets_sent >= 60);
        sent += jobs[i].st.audio_packets_sent + jobs[i].st.video_packets_sent;
    }
    settle_counters();
    uint64_t got = metric(M_SRTP_IN) - rtp0;
    if (got < sent * 95 / 100 || got > sent)
        fail_msg("the relay decrypted %llu of %llu packets", (unsigned long long)got,
                 (unsigned long long)sent);
    assert_int_equal(metric(M_AUTH_FAIL) - bad0, 0);
}

/* A moderator speaking raw protocol over ws_client, to drive the peer's lobby and kick paths. */
static wsc_t *moderator(const char *room, char *id_out, size_t id_cap)
{
    char err[256];
    wsc_t *c = wsc_connect("127.0.0.1", rf_cfg.listen_port, "/ws", NULL, 5000, err, sizeof err);
    if (!c)
        fail_msg("moderator connect: %s", err);
    char msg[AUTH_TOKEN_MAX + 128];
    snprintf(msg, sizeof msg, "{\"type\":\"join\",\"id\":\"m\",\"token\":\"%s\"}",
             mint(room, "moderator", AUTH_ROLE_MODERATOR));
    assert_int_equal(wsc_send_text(c, msg, strlen(msg)), 0);
    for (int i = 0; i < 10; i++) {
        char *text;
        size_t len;
        assert_int_equal(wsc_recv(c, &text, &len, 5000), 0);
        json_t *j = json_loadb(text, len, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        int joined = type && strcmp(type, "joined") == 0;
        if (joined && id_out)
            snprintf(id_out, id_cap, "%s", json_string_value(json_object_get(j, "participant_id")));
        json_decref(j);
        if (joined)
            return c;
    }
    fail_msg("moderator not joined");
    return NULL;
}

static void mod_send(wsc_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mod_send(wsc_t *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    assert_int_equal(wsc_send_text(c, msg, (size_t)n), 0);
}

/* Reads the moderator's messages until one of `type` arrives (bounded); returns it. */
static json_t *mod_expect(wsc_t *c, const char *type)
{
    for (int i = 0; i < 20; i++) {
        char *text;
        size_t len;
        assert_int_equal(wsc_recv(c, &text, &len, 5000), 0);
        json_t *j = json_loadb(text, len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "type"));
        if (t && strcmp(t, type) == 0)
            return j;
        json_decref(j);
    }
    fail_msg("moderator got no '%s'", type);
    return NULL;
}

static void test_relay_bad_token(void **state)
{
    char err[256];
    peer_opts_t o = {.port = rf_cfg.listen_port, .token = "not.a.jwt"};
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(peer_join(p, 5000), LG_EPERM);
    assert_non_null(strstr(peer_last_error(p), "join refused: bad_token"));
    peer_free(p);
}

static void test_relay_lobby_then_kick(void **state)
{
    wsc_t *mod = moderator("peer-lobby", NULL, 0);
    mod_send(mod, "{\"type\":\"set_lobby\",\"id\":\"l\",\"enabled\":true}");
    json_decref(mod_expect(mod, "ok"));
    char err[256];
    peer_opts_t o = {.port = rf_cfg.listen_port, .consent_interval_ms = 500};
    o.token = mint("peer-lobby", "dana", AUTH_ROLE_PARTICIPANT);
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(peer_join(p, 5000), PEER_LOBBY);
    /* still waiting: a short join times out without failing the peer */
    assert_int_equal(peer_join(p, 200), LG_EEXPIRED);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_true(st.participant_id[0] == '\0');
    /* the moderator learns who waits from lobby_update and admits them */
    json_t *j = mod_expect(mod, "lobby_update");
    json_t *w = json_array_get(json_object_get(j, "waiting"), 0);
    char who[80];
    snprintf(who, sizeof who, "%s", json_string_value(json_object_get(w, "participant_id")));
    json_decref(j);
    mod_send(mod, "{\"type\":\"admit\",\"id\":\"a\",\"participant_id\":\"%s\"}", who);
    if (peer_join(p, 5000) != 0)
        fail_msg("admitted join: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.participant_id, who);
    /* kicked: the peer's loop stops with the reason */
    mod_send(mod, "{\"type\":\"kick\",\"id\":\"k\",\"participant_id\":\"%s\"}", who);
    assert_int_equal(peer_run(p, 5000), LG_EPERM);
    assert_non_null(strstr(peer_last_error(p), "kicked"));
    peer_get_stats(p, &st);
    assert_string_equal(st.closed_by, "kicked");
    peer_free(p);
    wsc_close(mod, 1000);
}

typedef struct {
    peer_t *p;
    int ms;
    int rc;
} run_job_t;

static void *run_job(void *arg)
{
    run_job_t *job = arg;
    job->rc = peer_run(job->p, job->ms);
    return NULL;
}

/* Alice publishes; Bob joins, answers the relay's subscribe offer and receives her media through
 * the relay. Skipped while the relay build sends no subscribe offers. */
static void test_relay_subscribe(void **state)
{
    peer_opts_t oa = {.keyframe_interval = 30};
    peer_t *a = relay_peer(&oa, "peer-sub", "alice");
    relay_publish(a, 0);
    run_job_t job = {a, 7000, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_job, &job), 0);
    peer_opts_t ob = {0};
    peer_t *b = relay_peer(&ob, "peer-sub", "bob");
    int rc = peer_wait_subscribed(b, 5000);
    peer_stats_t st;
    peer_get_stats(b, &st);
    if (rc == LG_EEXPIRED && st.subscribe_offers == 0) {
        pthread_join(th, NULL);
        peer_free(a);
        peer_free(b);
        skip();
    }
    if (rc != 0)
        fail_msg("subscribe: %s", peer_last_error(b));
    assert_int_equal(peer_run(b, 2000), 0);
    pthread_join(th, NULL);
    if (job.rc != 0)
        fail_msg("alice: %s", peer_last_error(a));
    peer_get_stats(b, &st);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(st.srtp_failures, 0);
    assert_true(st.packets_received >= 80); /* 2 s of 50 audio packets/s plus video */
    assert_true(st.latency_samples >= 80);
    int audio = 0, video = 0;
    for (int i = 0; i < peer_stream_count(b); i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(b, i, &ss), 0);
        assert_int_equal(ss.subscribe_leg, 1);
        if (ss.sender_id != peer_sender_id(a) || ss.packets < 20)
            continue;
        audio += ss.kind == PEER_STREAM_AUDIO;
        video += ss.kind == PEER_STREAM_VIDEO;
        assert_true(ss.gaps <= ss.packets / 20);
    }
    assert_int_equal(audio, 1);
    assert_int_equal(video, 1);
    print_message("bob: %llu packets, %llu key frames, latency p50 %u us p99 %u us\n",
                  (unsigned long long)st.packets_received,
                  (unsigned long long)st.keyframes_received, st.latency_p50_us, st.latency_p99_us);
    peer_free(b);
    peer_free(a);
}

static void test_relay_wrong_certificate(void **state)
{
    peer_opts_t o = {.wrong_certificate = true};
    peer_t *p = relay_peer(&o, "peer-wrongcert", "mallory");
    relay_publish(p, LG_EFINGERPRINT);
    assert_non_null(strstr(peer_last_error(p), "fingerprint_mismatch"));
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.profile, DTLS_SRTP_NONE);
    assert_string_equal(st.publish.relay_state, "closed");
    assert_string_equal(st.publish.relay_detail, "fingerprint_mismatch");
    peer_free(p);
}

/* The peer stops consent checks: the relay closes the transport (consent_timeout_s = 2) and says
 * why; publishing again brings a fresh transport up. */
static void test_relay_consent_timeout(void **state)
{
    peer_opts_t o = {0};
    peer_t *p = relay_peer(&o, "peer-consent", "carol");
    relay_publish(p, 0);
    assert_int_equal(peer_wait_relay_state(p, false, "connected", 5000), 0);
    assert_int_equal(peer_run(p, 2500), 0); /* consent keeps it up past the timeout */
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_state, "connected");
    peer_set_consent(p, false);
    if (peer_wait_relay_state(p, false, "closed", 8000) != 0)
        fail_msg("no close: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_detail, "consent_expired");
    peer_set_consent(p, true);
    if (peer_publish(p, 10000) != 0)
        fail_msg("publish again: %s", peer_last_error(p));
    assert_int_equal(peer_wait_relay_state(p, false, "connected", 5000), 0);
    assert_int_equal(peer_leave(p, 3000), 0);
    peer_free(p);
}

int main(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest isolated[] = {
        cmocka_unit_test(test_trailer_round_trip),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_offer_audio_only),
        cmocka_unit_test(test_offer_simulcast),
        cmocka_unit_test(test_answer_problems),
        cmocka_unit_test(test_udp_gcm_echo),
        cmocka_unit_test(test_udp_aes_cm_echo),
        cmocka_unit_test(test_tcp_echo),
        cmocka_unit_test(test_udp_ipv6_echo),
        cmocka_unit_test(test_tcp_ipv6_echo),
        cmocka_unit_test(test_media_addr_override),
        cmocka_unit_test(test_ice_no_answer),
        cmocka_unit_test(test_ice_wrong_integrity_ignored),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_wrong_certificate),
        cmocka_unit_test(test_relay_fingerprint_mismatch),
        cmocka_unit_test(test_consent),
        cmocka_unit_test(test_subscribe_leg),
    };
    const struct CMUnitTest relay[] = {
        cmocka_unit_test(test_relay_publish_gcm),
        cmocka_unit_test(test_relay_publish_aes_cm),
        cmocka_unit_test(test_relay_publish_tcp),
        cmocka_unit_test(test_relay_publish_ipv6),
        cmocka_unit_test(test_relay_peers_in_threads),
        cmocka_unit_test(test_relay_subscribe),
        cmocka_unit_test(test_relay_wrong_certificate),
        cmocka_unit_test(test_relay_consent_timeout),
        cmocka_unit_test(test_relay_bad_token),
        cmocka_unit_test(test_relay_lobby_then_kick),
    };
    int failed = cmocka_run_group_tests_name("peer", isolated, NULL, NULL);
    failed += cmocka_run_group_tests_name("peer_relay", relay, start_relay, stop_relay);
    return failed;
}
