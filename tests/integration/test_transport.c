/* Media transports on a real worker over loopback: ICE-lite checks (good, bad integrity, wrong
 * ufrag), DTLS with both SRTP profiles, SRTP accepted/forged/replayed, the fingerprint check,
 * consent expiry, ICE-TCP and IPv6. The client side is built from the project's own STUN, DTLS
 * and SRTP modules, driven by hand so each step can be checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "certs/certs.h"
#include "sfu/dtls.h"
#include "sfu/srtp_session.h"
#include "sfu/stun.h"
#include "sfu/worker.h"

#define PWD "relaypasswordrelaypass"

typedef struct {
    lg_config_t cfg;
    lg_worker_t w;
    uv_loop_t loop; /* the "control thread" of this test */
    lg_mq_t inbox;
    worker_transport_msg_t last; /* latest transport report */
    int reports;
    lg_counters_t stats;
    int stats_replies;
    X509 *relay_cert, *peer_cert, *other_cert;
    EVP_PKEY *relay_key, *peer_key, *other_key;
    char peer_fp[LG_CERTS_FINGERPRINT_MAX], other_fp[LG_CERTS_FINGERPRINT_MAX];
} env_t;

static void on_transport_msg(void *ctx, lg_msg_t *m)
{
    env_t *e = ctx;
    e->last = *(worker_transport_msg_t *)m;
    e->reports++;
    free(m);
}

static void on_stats_msg(void *ctx, lg_msg_t *m)
{
    env_t *e = ctx;
    e->stats = ((worker_stats_msg_t *)m)->counters;
    e->stats_replies++;
    free(m);
}

static const lg_mq_handler_fn HANDLERS[CONTROL_MSG_COUNT] = {
    [CONTROL_MSG_STATS] = on_stats_msg,
    [CONTROL_MSG_TRANSPORT] = on_transport_msg,
};

static void make_cert(X509 **cert, EVP_PKEY **key, char *fp)
{
    *key = EVP_EC_gen("P-256");
    *cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(*cert), rand());
    X509_gmtime_adj(X509_getm_notBefore(*cert), -60);
    X509_gmtime_adj(X509_getm_notAfter(*cert), 86400);
    X509_set_pubkey(*cert, *key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(*cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(*cert, X509_get_subject_name(*cert));
    X509_sign(*cert, *key, EVP_sha256());
    if (fp)
        assert_int_equal(lg_certs_fingerprint(*cert, "sha-256", fp, LG_CERTS_FINGERPRINT_MAX), 0);
}

static env_t *env_start(const char *addr, int consent_s)
{
    env_t *e = calloc(1, sizeof *e);
    lg_config_defaults(&e->cfg);
    snprintf(e->cfg.media_addrs[0], sizeof e->cfg.media_addrs[0], "%s", addr);
    e->cfg.consent_timeout_s = consent_s;
    make_cert(&e->relay_cert, &e->relay_key, NULL);
    make_cert(&e->peer_cert, &e->peer_key, e->peer_fp);
    make_cert(&e->other_cert, &e->other_key, e->other_fp);
    assert_int_equal(uv_loop_init(&e->loop), 0);
    assert_int_equal(lg_mq_init(&e->inbox, &e->loop, HANDLERS, CONTROL_MSG_COUNT, e), 0);
    char err[256];
    int bound = 0;
    for (int i = 0; i < 20 && !bound; i++) {
        e->cfg.media_port = (uint16_t)(20000 + rand() % 30000);
        bound = lg_worker_bind(&e->w, 0, &e->cfg, err, sizeof err) == 0;
    }
    assert_true(bound);
    assert_int_equal(lg_worker_set_certs(&e->w, e->relay_cert, e->relay_key), 0);
    assert_int_equal(lg_worker_start(&e->w, &e->inbox), 0);
    return e;
}

static void env_stop(env_t *e)
{
    lg_worker_stop(&e->w);
    lg_mq_close(&e->inbox, NULL);
    uv_run(&e->loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&e->loop), 0);
    lg_mq_destroy(&e->inbox);
    X509_free(e->relay_cert);
    X509_free(e->peer_cert);
    X509_free(e->other_cert);
    EVP_PKEY_free(e->relay_key);
    EVP_PKEY_free(e->peer_key);
    EVP_PKEY_free(e->other_key);
    free(e);
}

static void add_transport(env_t *e, uint64_t id, const char *ufrag, const char *fp)
{
    worker_transport_add_t *a = lg_msg_new(WORKER_MSG_TRANSPORT_ADD, sizeof *a);
    a->params.id = id;
    snprintf(a->params.room, sizeof a->params.room, "room");
    snprintf(a->params.participant, sizeof a->params.participant, "p%llu", (unsigned long long)id);
    snprintf(a->params.local_ufrag, sizeof a->params.local_ufrag, "%s", ufrag);
    snprintf(a->params.local_pwd, sizeof a->params.local_pwd, PWD);
    snprintf(a->params.remote_ufrag, sizeof a->params.remote_ufrag, "peer");
    snprintf(a->params.remote_fingerprint, sizeof a->params.remote_fingerprint, "%s", fp);
    assert_int_equal(lg_worker_post(&e->w, &a->hdr), 0);
}

/* Fresh counters from the worker, through the queue. */
static const lg_counters_t *stats(env_t *e)
{
    int before = e->stats_replies;
    lg_worker_post(&e->w, lg_msg_new(WORKER_MSG_STATS_REQ, sizeof(worker_stats_req_t)));
    for (int i = 0; i < 200 && e->stats_replies == before; i++) {
        usleep(10000);
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    assert_true(e->stats_replies > before);
    return &e->stats;
}

/* Waits (bounded) for a transport report with the given state. */
static void wait_report(env_t *e, transport_state_t state, int max_ms)
{
    for (int i = 0; i < max_ms / 10; i++) {
        uv_run(&e->loop, UV_RUN_NOWAIT);
        if (e->reports && e->last.state == state)
            return;
        usleep(10000);
    }
    fail_msg("no transport report with state %d (last %d, reason %s)", state, e->last.state,
             transport_close_label(e->last.reason));
}

typedef struct {
    int fd;
    int tcp;
    uint8_t rbuf[4096];
    size_t rhave;
    env_t *e;
    dtls_srtp_keys_t keys;
    int connected;
} client_t;

static void client_open(client_t *c, env_t *e, int tcp)
{
    memset(c, 0, sizeof *c);
    c->e = e;
    c->tcp = tcp;
    const char *addr = e->cfg.media_addrs[0];
    int v6 = strchr(addr, ':') != NULL;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    if (v6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(e->cfg.media_port);
        inet_pton(AF_INET6, addr, &a->sin6_addr);
        sl = sizeof *a;
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        a->sin_port = htons(e->cfg.media_port);
        inet_pton(AF_INET, addr, &a->sin_addr);
        sl = sizeof *a;
    }
    c->fd = socket(v6 ? AF_INET6 : AF_INET, tcp ? SOCK_STREAM : SOCK_DGRAM, 0);
    assert_true(c->fd >= 0);
    assert_int_equal(connect(c->fd, (struct sockaddr *)&ss, sl), 0);
}

static void csend(client_t *c, const uint8_t *p, size_t n)
{
    if (c->tcp) {
        uint8_t pre[2] = {(uint8_t)(n >> 8), (uint8_t)n};
        assert_int_equal(send(c->fd, pre, 2, MSG_NOSIGNAL), 2);
    }
    assert_int_equal(send(c->fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* One datagram (UDP) or frame (TCP); 0 on timeout. */
static size_t crecv(client_t *c, uint8_t *out, size_t cap, int timeout_ms)
{
    for (;;) {
        if (c->tcp && c->rhave >= 2) {
            size_t n = (size_t)c->rbuf[0] << 8 | c->rbuf[1];
            if (c->rhave >= 2 + n) {
                assert_true(n <= cap);
                memcpy(out, c->rbuf + 2, n);
                memmove(c->rbuf, c->rbuf + 2 + n, c->rhave - 2 - n);
                c->rhave -= 2 + n;
                return n;
            }
        }
        struct pollfd pfd = {c->fd, POLLIN, 0};
        if (poll(&pfd, 1, timeout_ms) <= 0)
            return 0;
        if (!c->tcp) {
            ssize_t n = recv(c->fd, out, cap, 0);
            return n > 0 ? (size_t)n : 0;
        }
        ssize_t n = recv(c->fd, c->rbuf + c->rhave, sizeof c->rbuf - c->rhave, 0);
        if (n <= 0)
            return 0;
        c->rhave += (size_t)n;
    }
}

/* Sends a Binding request; returns 1 if a valid success response came back. */
static int stun_check(client_t *c, const char *username, const char *pwd, int use_candidate)
{
    uint8_t req[512], resp[512], txid[12];
    for (int i = 0; i < 12; i++)
        txid[i] = (uint8_t)rand();
    stun_binding_request_t r = {
        txid, username, 0x6e0001ff, 42, use_candidate, (const uint8_t *)pwd, strlen(pwd)};
    size_t n;
    assert_int_equal(stun_build_binding_request(req, sizeof req, &r, &n), 0);
    csend(c, req, n);
    size_t got = crecv(c, resp, sizeof resp, 300);
    if (!got)
        return 0;
    stun_msg_t m;
    assert_int_equal(stun_parse(&m, resp, got), 0);
    assert_memory_equal(m.txid, txid, 12);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)PWD, strlen(PWD)), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
    /* XOR-MAPPED-ADDRESS is where our packets come from. */
    struct sockaddr_storage local;
    socklen_t ll = sizeof local;
    getsockname(c->fd, (struct sockaddr *)&local, &ll);
    assert_true(m.present & STUN_HAS_XOR_MAPPED_ADDRESS);
    uint16_t port = local.ss_family == AF_INET ? ((struct sockaddr_in *)&local)->sin_port
                                               : ((struct sockaddr_in6 *)&local)->sin6_port;
    uint16_t mport = m.xor_mapped.ss_family == AF_INET
                         ? ((struct sockaddr_in *)&m.xor_mapped)->sin_port
                         : ((struct sockaddr_in6 *)&m.xor_mapped)->sin6_port;
    assert_int_equal(port, mport);
    return 1;
}

static void dtls_send(void *ctx, const uint8_t *p, size_t n)
{
    csend(ctx, p, n);
}

static void dtls_connected(void *ctx, const dtls_srtp_keys_t *k)
{
    client_t *c = ctx;
    c->keys = *k;
    c->connected = 1;
}

/* Runs a DTLS client handshake presenting `cert`; returns the final state. */
static dtls_state_t handshake(client_t *c, X509 *cert, EVP_PKEY *key, const char *profiles)
{
    dtls_ctx_opts_t opts = {0};
    opts.srtp_profiles = profiles;
    dtls_ctx_t *ctx;
    assert_int_equal(dtls_ctx_new(cert, key, 0, &opts, &ctx), 0);
    dtls_session_t s;
    dtls_callbacks_t cb = {dtls_send, dtls_connected, NULL, c};
    assert_int_equal(dtls_session_init(&s, ctx, &cb), 0);
    char relay_fp[LG_CERTS_FINGERPRINT_MAX];
    lg_certs_fingerprint(c->e->relay_cert, "sha-256", relay_fp, sizeof relay_fp);
    assert_int_equal(dtls_set_remote_fingerprint(&s, relay_fp), 0);
    dtls_session_start(&s);
    uint8_t buf[4096];
    for (int i = 0; i < 50 && dtls_session_state(&s) == DTLS_STATE_CONNECTING; i++) {
        size_t n = crecv(c, buf, sizeof buf, 100);
        if (n)
            dtls_feed(&s, buf, n);
        else
            dtls_on_timeout(&s);
    }
    dtls_state_t st = dtls_session_state(&s);
    dtls_session_free(&s);
    dtls_ctx_free(ctx);
    return st;
}

/* A protected RTP packet with the given sequence number. */
static size_t srtp_packet(srtp_session_t *tx, uint16_t seq, uint8_t *out, size_t cap)
{
    uint8_t pkt[] = {0x80,
                     111,
                     (uint8_t)(seq >> 8),
                     (uint8_t)seq,
                     0,
                     0,
                     0,
                     1,
                     0xca,
                     0xfe,
                     0xba,
                     0xbe,
                     'h',
                     'e',
                     'l',
                     'l',
                     'o'};
    memcpy(out, pkt, sizeof pkt);
    size_t len = sizeof pkt;
    assert_int_equal(srtp_session_protect_rtp(tx, out, &len, cap), 0);
    return len;
}

/* The whole path on one transport: ICE, DTLS, SRTP, and every refusal counted. */
static void full_path(const char *addr, int tcp, const char *profiles, dtls_srtp_profile_t want)
{
    env_t *e = env_start(addr, 30);
    add_transport(e, 7, "relayuf", e->peer_fp);
    client_t c;
    client_open(&c, e, tcp);
    usleep(50000); /* the worker processes the add */

    /* Refusals first: nothing answers, each is counted. */
    assert_false(stun_check(&c, "relayuf:peer", "wrong-password-wrong-pw", 1));
    assert_false(stun_check(&c, "relayuf:intruder", PWD, 1));
    assert_false(stun_check(&c, "nobody:peer", PWD, 1));
    uint8_t early[64] = {0x80, 111};
    csend(&c, early, sizeof early); /* media before any check: unknown source */
    const lg_counters_t *s = stats(e);
    assert_int_equal(s->drops[LG_DROP_STUN_BAD_INTEGRITY], 1);
    assert_int_equal(s->drops[LG_DROP_STUN_WRONG_UFRAG], 1);
    assert_int_equal(s->drops[LG_DROP_STUN_UNKNOWN_USER], 1);
    assert_int_equal(s->drops[LG_DROP_UNKNOWN_SOURCE], 1);
    assert_int_equal(s->packets_out, 0);

    assert_true(stun_check(&c, "relayuf:peer", PWD, 1));
    assert_int_equal(handshake(&c, e->peer_cert, e->peer_key, profiles), DTLS_STATE_CONNECTED);
    assert_int_equal(c.keys.profile, want);
    wait_report(e, TRANSPORT_CONNECTED, 2000);
    assert_int_equal(e->last.id, 7);
    assert_int_equal(e->last.profile, want);

    srtp_session_t tx;
    assert_int_equal(srtp_session_init(&tx, &c.keys), 0);
    uint8_t pkt[256];
    size_t n = srtp_packet(&tx, 1, pkt, sizeof pkt);
    csend(&c, pkt, n);
    csend(&c, pkt, n); /* replayed */
    n = srtp_packet(&tx, 2, pkt, sizeof pkt);
    pkt[n - 1] ^= 0x55; /* forged tag */
    csend(&c, pkt, n);
    n = srtp_packet(&tx, 3, pkt, sizeof pkt);
    csend(&c, pkt, n);
    usleep(100000);
    s = stats(e);
    assert_int_equal(s->rtp_in, 2);
    assert_int_equal(s->drops[LG_DROP_SRTP_REPLAY], 1);
    assert_int_equal(s->drops[LG_DROP_SRTP_AUTH], 1);
    assert_int_equal(s->transports_connected, 1);
    assert_int_equal(s->transports_live, 1);
    srtp_session_free(&tx);
    close(c.fd);
    env_stop(e);
}

static void test_udp_gcm(void **state)
{
    full_path("127.0.0.1", 0, NULL, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_udp_aes_cm(void **state)
{
    full_path("127.0.0.1", 0, "SRTP_AES128_CM_SHA1_80", DTLS_SRTP_AES128_CM_SHA1_80);
}

static void test_ice_tcp(void **state)
{
    full_path("127.0.0.1", 1, NULL, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_ipv6(void **state)
{
    full_path("::1", 0, NULL, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_wrong_fingerprint(void **state)
{
    env_t *e = env_start("127.0.0.1", 30);
    add_transport(e, 9, "relayuf", e->peer_fp);
    client_t c;
    client_open(&c, e, 0);
    usleep(50000);
    assert_true(stun_check(&c, "relayuf:peer", PWD, 1));
    /* The peer presents a certificate other than the one its SDP named. */
    assert_int_not_equal(handshake(&c, e->other_cert, e->other_key, NULL), DTLS_STATE_CONNECTED);
    assert_false(c.connected);
    wait_report(e, TRANSPORT_CLOSED, 2000);
    assert_int_equal(e->last.reason, TRANSPORT_CLOSE_FINGERPRINT);
    const lg_counters_t *s = stats(e);
    assert_int_equal(s->transports_connected, 0);
    assert_int_equal(s->transports_closed[TRANSPORT_CLOSE_FINGERPRINT], 1);
    assert_int_equal(s->transports_live, 0);
    /* Its credentials are gone: further checks are unanswered. */
    assert_false(stun_check(&c, "relayuf:peer", PWD, 1));
    close(c.fd);
    env_stop(e);
}

static void test_consent_expiry(void **state)
{
    env_t *e = env_start("127.0.0.1", 1);
    add_transport(e, 11, "relayuf", e->peer_fp);
    add_transport(e, 12, "neverused", e->peer_fp);
    client_t c;
    client_open(&c, e, 0);
    usleep(50000);
    assert_true(stun_check(&c, "relayuf:peer", PWD, 1));
    /* Checks keep the transport alive past the timeout... */
    for (int i = 0; i < 6; i++) {
        usleep(300000);
        assert_true(stun_check(&c, "relayuf:peer", PWD, 0));
    }
    assert_int_equal(stats(e)->transports_live, 1); /* the never-checked one timed out */
    assert_int_equal(e->last.id, 12);
    assert_int_equal(e->last.reason, TRANSPORT_CLOSE_ICE_TIMEOUT);
    /* ...and silence closes it. */
    wait_report(e, TRANSPORT_CLOSED, 1000);
    for (int i = 0; i < 300 && e->last.id != 11; i++) {
        usleep(10000);
        uv_run(&e->loop, UV_RUN_NOWAIT);
    }
    assert_int_equal(e->last.id, 11);
    assert_int_equal(e->last.reason, TRANSPORT_CLOSE_CONSENT);
    const lg_counters_t *s = stats(e);
    assert_int_equal(s->transports_live, 0);
    assert_int_equal(s->transports_closed[TRANSPORT_CLOSE_CONSENT], 1);
    assert_false(stun_check(&c, "relayuf:peer", PWD, 0));
    close(c.fd);
    env_stop(e);
}

/* A second nominated path replaces the first (a laptop that changed network). */
static void test_path_switch(void **state)
{
    env_t *e = env_start("127.0.0.1", 30);
    add_transport(e, 13, "relayuf", e->peer_fp);
    client_t a, b;
    client_open(&a, e, 0);
    client_open(&b, e, 0);
    usleep(50000);
    assert_true(stun_check(&a, "relayuf:peer", PWD, 1));
    assert_true(stun_check(&b, "relayuf:peer", PWD, 1));
    /* DTLS now runs on the new path. */
    assert_int_equal(handshake(&b, e->peer_cert, e->peer_key, NULL), DTLS_STATE_CONNECTED);
    close(a.fd);
    close(b.fd);
    env_stop(e);
}

int main(void)
{
    srand((unsigned)getpid());
    srtp_global_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_gcm),           cmocka_unit_test(test_udp_aes_cm),
        cmocka_unit_test(test_ice_tcp),           cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_wrong_fingerprint), cmocka_unit_test(test_consent_expiry),
        cmocka_unit_test(test_path_switch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
