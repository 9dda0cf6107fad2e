/* Shared by the peer integration tests: an in-test ICE-lite + DTLS server standing in for the
 * relay's media worker, and the helpers that wire a bench/peer/peer.h peer up to it. */
#ifndef LG_PEER_FIXTURE_H
#define LG_PEER_FIXTURE_H

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

static inline void make_cert(X509 **cert, EVP_PKEY **key)
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

static inline void fake_send(fake_t *f, const uint8_t *p, size_t len)
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

static inline void fake_dtls_send(void *ctx, const uint8_t *p, size_t len)
{
    fake_send(ctx, p, len);
}

static inline void fake_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    fake_t *f = ctx;
    assert_int_equal(srtp_session_init(&f->srtp, keys), 0);
    atomic_store(&f->profile, (int)keys->profile);
    atomic_store(&f->connected, 1);
}

static inline void fake_on_stun(fake_t *f, const uint8_t *p, size_t len)
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

static inline void fake_send_pli(fake_t *f, uint32_t media_ssrc)
{
    uint8_t b[256];
    rtcp_writer_t w;
    rtcp_writer_init(&w, b, 100);
    assert_int_equal(rtcp_write_pli(&w, 0x5eed, media_ssrc), 0);
    size_t len = w.len;
    assert_int_equal(srtp_session_protect_rtcp(&f->srtp, b, &len, sizeof b), 0);
    fake_send(f, b, len);
}

static inline void fake_on_srtp(fake_t *f, uint8_t *p, size_t len)
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

static inline void fake_on_packet(fake_t *f, uint8_t *p, size_t len)
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

static inline int fake_frame(void *ctx, uint8_t *frame, size_t len)
{
    fake_on_packet(ctx, frame, len);
    return 0;
}

/* Once connected (originate): 40 VP8 delta-frame packets from "sender 777" plus 20 audio. */
static inline void fake_originate(fake_t *f)
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

static inline void fake_poll_tcp(fake_t *f, struct pollfd *pfd)
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

static inline void *fake_thread(void *arg)
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

static inline fake_t *fake_new6(int tcp, int v6)
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

static inline fake_t *fake_new(int tcp)
{
    return fake_new6(tcp, 0);
}

/* The relay-style answer to the peer's offer: ICE-lite, passive, UDP + TCP passive candidates
 * (and the decoy). fp NULL: the fake's real fingerprint. */
static inline void fake_answer(const fake_t *f, const char *fp, char *out, size_t cap)
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
static inline void fake_learn_offer(fake_t *f, const char *offer, size_t len)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(sdp_parse((const uint8_t *)offer, len, s, NULL), 0);
    snprintf(f->peer_ufrag, sizeof f->peer_ufrag, "%s", s->media[0].ice.ufrag);
    snprintf(f->peer_fp, sizeof f->peer_fp, "%s %s", s->media[0].fingerprint.alg,
             s->media[0].fingerprint.value);
    free(s);
}

static inline void fake_start(fake_t *f)
{
    assert_int_equal(pthread_create(&f->thread, NULL, fake_thread, f), 0);
    f->started = 1;
}

static inline void fake_free(fake_t *f)
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
static inline peer_t *new_peer(peer_opts_t *o)
{
    char err[256];
    o->port = 1;
    peer_t *p = peer_new(o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    return p;
}

/* Offer -> fake learns it -> fake's answer -> peer takes it; the fake runs from here on. */
static inline void wire_up(peer_t *p, fake_t *f, const char *answer_fp)
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

/* A relay-style subscribe offer pointing at the fake. */
static inline void subscribe_offer(const fake_t *f, char *out, size_t cap)
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

#endif
