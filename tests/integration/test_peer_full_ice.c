/* The C peer's full-ICE mode (peer_opts_t.full_ice, what the bench needs against Janus) on
 * loopback, against an in-test full ICE agent: the publish leg checks as controlling, answers the
 * agent's checks (success with XOR-MAPPED-ADDRESS and our integrity, 401 for a wrong key, 400
 * without USERNAME) and is the DTLS server when the answer says a=setup:active; the subscribe leg
 * the agent offers checks as the controlled agent and is the DTLS client. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/x509.h>

#include "bench/peer/peer.h"
#include "certs/certs.h"
#include "sfu/dtls.h"
#include "sfu/lg_error.h"
#include "sfu/stun.h"
#include "signaling/sdp.h"

#define SDP_CAP     (64 * 1024)
#define AGENT_PWD   "agentpassword0123456789x"
#define AGENT_UFRAG "agnt"

/* --- the fake full agent ---------------------------------------------------------------------- */

typedef struct {
    int fd;
    uint16_t port;
    struct sockaddr_in peer; /* where the peer's checks come from */
    int have_peer;
    X509 *cert;
    EVP_PKEY *key;
    char fp[LG_CERTS_FINGERPRINT_MAX];
    dtls_ctx_t *dtls_ctx;
    dtls_session_t dtls;
    int dtls_up;
    char peer_ufrag[260], peer_pwd[260], peer_fp[256];
    /* what the peer's checks carried */
    int checks, controlling, controlled, use_candidate;
} agent_t;

static void make_cert(X509 **cert, EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    assert_non_null(*key);
    X509 *x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"agent", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, *key);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    *cert = x;
}

static void agent_init(agent_t *a, int dtls_server)
{
    memset(a, 0, sizeof *a);
    a->fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(a->fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(getsockname(a->fd, (struct sockaddr *)&sa, &sl), 0);
    a->port = ntohs(sa.sin_port);
    make_cert(&a->cert, &a->key);
    assert_int_equal(lg_certs_fingerprint(a->cert, "sha-256", a->fp, sizeof a->fp), 0);
    assert_int_equal(dtls_ctx_new(a->cert, a->key, dtls_server, NULL, &a->dtls_ctx), 0);
}

static void agent_free(agent_t *a)
{
    dtls_session_free(&a->dtls);
    dtls_ctx_free(a->dtls_ctx);
    X509_free(a->cert);
    EVP_PKEY_free(a->key);
    close(a->fd);
}

static void agent_send(agent_t *a, const uint8_t *p, size_t len)
{
    if (a->have_peer)
        sendto(a->fd, p, len, 0, (struct sockaddr *)&a->peer, sizeof a->peer);
}

static void agent_dtls_send(void *ctx, const uint8_t *p, size_t len)
{
    agent_send(ctx, p, len);
}

static void agent_dtls_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    ((agent_t *)ctx)->dtls_up = 1;
}

static void agent_start_dtls(agent_t *a)
{
    dtls_callbacks_t cb = {agent_dtls_send, agent_dtls_connected, NULL, a};
    assert_int_equal(dtls_session_init(&a->dtls, a->dtls_ctx, &cb), 0);
    assert_int_equal(dtls_set_remote_fingerprint(&a->dtls, a->peer_fp), 0);
    assert_int_equal(dtls_session_start(&a->dtls), 0);
}

/* Reads the peer's ICE credentials and fingerprint from its SDP. */
static void agent_learn(agent_t *a, const char *sdp)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    assert_int_equal(sdp_parse((const uint8_t *)sdp, strlen(sdp), s, NULL), 0);
    snprintf(a->peer_ufrag, sizeof a->peer_ufrag, "%s", s->media[0].ice.ufrag);
    snprintf(a->peer_pwd, sizeof a->peer_pwd, "%s", s->media[0].ice.pwd);
    snprintf(a->peer_fp, sizeof a->peer_fp, "%s %s", s->media[0].fingerprint.alg,
             s->media[0].fingerprint.value);
    free(s);
}

/* Answers one Binding request of the peer, noting its role attributes. */
static void agent_on_check(agent_t *a, const stun_msg_t *m)
{
    char user[600];
    snprintf(user, sizeof user, "%s:%s", AGENT_UFRAG, a->peer_ufrag);
    assert_int_equal(m->username_len, strlen(user));
    assert_memory_equal(m->username, user, m->username_len);
    assert_int_equal(stun_check_integrity(m, (const uint8_t *)AGENT_PWD, strlen(AGENT_PWD)), 0);
    a->checks++;
    a->controlling += (m->present & STUN_HAS_ICE_CONTROLLING) != 0;
    a->controlled += (m->present & STUN_HAS_ICE_CONTROLLED) != 0;
    a->use_candidate += (m->present & STUN_HAS_USE_CANDIDATE) != 0;
    uint8_t buf[256];
    size_t len;
    assert_int_equal(
        stun_build_binding_success(buf, sizeof buf, m->txid, (struct sockaddr *)&a->peer,
                                   (const uint8_t *)AGENT_PWD, strlen(AGENT_PWD), &len),
        0);
    agent_send(a, buf, len);
}

/* Our own check toward the peer: returns the peer's response (parsed into *m, bytes in buf). */
static int agent_check(agent_t *a, const char *username, const char *pwd, int with_user,
                       uint8_t *buf, size_t cap, stun_msg_t *m)
{
    uint8_t txid[STUN_TXID_SIZE], req[512];
    RAND_bytes(txid, sizeof txid);
    stun_builder_t b;
    size_t len;
    stun_builder_init(&b, req, sizeof req, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, txid);
    if (with_user)
        stun_add_username(&b, username, strlen(username));
    stun_add_priority(&b, 12345);
    stun_add_ice_controlled(&b, 42);
    assert_int_equal(stun_builder_finish(&b, (const uint8_t *)pwd, strlen(pwd), &len), 0);
    agent_send(a, req, len);
    for (int i = 0; i < 100; i++) { /* other datagrams (checks, DTLS) may come first */
        struct pollfd p = {.fd = a->fd, .events = POLLIN};
        if (poll(&p, 1, 20) <= 0)
            continue;
        ssize_t n = recv(a->fd, buf, cap, 0);
        if (n > 0 && stun_parse(m, buf, (size_t)n) == 0 && m->cls != STUN_CLASS_REQUEST &&
            memcmp(m->txid, txid, STUN_TXID_SIZE) == 0)
            return 0;
        if (n > 0 && stun_parse(m, buf, (size_t)n) == 0 && m->cls == STUN_CLASS_REQUEST)
            agent_on_check(a, m);
    }
    return -1;
}

/* Serves the peer for up to ms: answers its checks, runs DTLS once started. */
static void agent_serve(agent_t *a, int ms, int start_dtls_client)
{
    uint8_t buf[2048];
    for (int t = 0; t < ms && !a->dtls_up; t += 10) {
        struct pollfd p = {.fd = a->fd, .events = POLLIN};
        if (poll(&p, 1, 10) > 0) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = recvfrom(a->fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n <= 0)
                continue;
            if (!a->have_peer) {
                a->peer = from;
                a->have_peer = 1;
                if (start_dtls_client)
                    agent_start_dtls(a);
            }
            stun_msg_t m;
            if (buf[0] < 4 && stun_parse(&m, buf, (size_t)n) == 0 && m.cls == STUN_CLASS_REQUEST)
                agent_on_check(a, &m);
            else if (buf[0] >= 20 && buf[0] <= 63) {
                if (!a->dtls.ssl)
                    agent_start_dtls(a);
                dtls_feed(&a->dtls, buf, (size_t)n);
            }
        }
        if (a->dtls.ssl && dtls_next_timeout_ms(&a->dtls) == 0)
            dtls_on_timeout(&a->dtls);
    }
}

/* --- the peer on its own thread --------------------------------------------------------------- */

typedef struct {
    peer_t *p;
    int subscribe;
    int rc;
} runner_t;

static void *run_peer(void *arg)
{
    runner_t *r = arg;
    r->rc = r->subscribe ? peer_wait_subscribed(r->p, 5000) : peer_connect(r->p, 5000);
    return NULL;
}

static peer_t *new_peer(void)
{
    peer_opts_t o = {0};
    o.port = 1; /* no signaling in these tests */
    o.full_ice = true;
    o.ice_timeout_ms = 5000;
    o.dtls_timeout_ms = 5000;
    char err[200];
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    return p;
}

/* --- tests ------------------------------------------------------------------------------------ */

/* Janus's answer to a publish offer: setup:active, host candidate, no ice-lite. */
static void janus_answer(const agent_t *a, char *out, size_t cap)
{
    snprintf(out, cap,
             "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=VideoRoom 1\r\nt=0 0\r\n"
             "a=group:BUNDLE 0 1\r\na=ice-options:trickle\r\na=fingerprint:%s\r\n"
             "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\na=mid:0\r\n"
             "a=rtcp-mux\r\na=ice-ufrag:" AGENT_UFRAG "\r\na=ice-pwd:" AGENT_PWD "\r\n"
             "a=setup:active\r\na=rtpmap:111 opus/48000/2\r\n"
             "a=candidate:1 1 udp 2015363327 127.0.0.1 %u typ host\r\na=end-of-candidates\r\n"
             "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 127.0.0.1\r\na=recvonly\r\na=mid:1\r\n"
             "a=rtcp-mux\r\na=ice-ufrag:" AGENT_UFRAG "\r\na=ice-pwd:" AGENT_PWD "\r\n"
             "a=setup:active\r\na=rtpmap:96 VP8/90000\r\n",
             a->fp, a->port);
}

static void test_publish_dtls_server(void **state)
{
    agent_t a;
    agent_init(&a, 0); /* the agent is the DTLS client */
    peer_t *p = new_peer();
    char *offer = malloc(SDP_CAP), *answer = malloc(SDP_CAP);
    size_t len;
    assert_int_equal(peer_build_offer(p, offer, SDP_CAP, &len), 0);
    agent_learn(&a, offer);
    janus_answer(&a, answer, SDP_CAP);
    assert_int_equal(peer_set_answer(p, answer, strlen(answer)), 0);
    char local[80];
    assert_int_equal(peer_local_address(p, false, local, sizeof local), 0);
    assert_non_null(strstr(local, "127.0.0.1 "));

    runner_t r = {p, 0, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_peer, &r), 0);
    agent_serve(&a, 300, 0); /* learn the peer's address from its first check */
    assert_true(a.have_peer);

    /* the agent's own checks: ours answered, a wrong key refused, no USERNAME refused */
    char user[600];
    snprintf(user, sizeof user, "%s:%s", a.peer_ufrag, AGENT_UFRAG);
    uint8_t buf[512];
    stun_msg_t m;
    assert_int_equal(agent_check(&a, user, a.peer_pwd, 1, buf, sizeof buf, &m), 0);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_int_equal(stun_check_fingerprint(&m), 0);
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)a.peer_pwd, strlen(a.peer_pwd)), 0);
    assert_true(m.present & STUN_HAS_XOR_MAPPED_ADDRESS);
    const struct sockaddr_in *mapped = (const struct sockaddr_in *)&m.xor_mapped;
    assert_int_equal(ntohs(mapped->sin_port), a.port); /* where the request came from */
    assert_int_equal(agent_check(&a, user, "not-the-password-at-all!", 1, buf, sizeof buf, &m), 0);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_int_equal(m.error_code, 401);
    assert_int_equal(agent_check(&a, user, a.peer_pwd, 0, buf, sizeof buf, &m), 0);
    assert_int_equal(m.cls, STUN_CLASS_ERROR);
    assert_int_equal(m.error_code, 400);

    /* DTLS with the agent as client: the peer serves */
    agent_start_dtls(&a);
    agent_serve(&a, 4000, 0);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_true(a.dtls_up);
    assert_true(a.checks >= 1);
    assert_int_equal(a.controlled, 0);
    assert_int_equal(a.controlling, a.checks); /* the offerer controls */
    assert_true(a.use_candidate >= 1);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.checks_answered, 1);
    assert_int_equal(st.publish.dtls, DTLS_STATE_CONNECTED);
    assert_int_not_equal(st.publish.profile, DTLS_SRTP_NONE);
    free(offer);
    free(answer);
    peer_free(p);
    agent_free(&a);
}

/* Without full_ice an a=setup:active answer is refused (this peer would be the wrong role). */
static void test_active_answer_needs_full_ice(void **state)
{
    agent_t a;
    agent_init(&a, 0);
    peer_opts_t o = {0};
    o.port = 1;
    char err[200];
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    char *answer = malloc(SDP_CAP);
    janus_answer(&a, answer, SDP_CAP);
    assert_int_equal(peer_set_answer(p, answer, strlen(answer)), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "a=setup:active"));
    free(answer);
    peer_free(p);
    agent_free(&a);
}

/* Janus's subscriber offer: actpass, full ICE (the agent controls). */
static void janus_offer(const agent_t *a, char *out, size_t cap)
{
    snprintf(out, cap,
             "v=0\r\no=- 2 1 IN IP4 127.0.0.1\r\ns=VideoRoom 1\r\nt=0 0\r\n"
             "a=group:BUNDLE 0\r\na=ice-options:trickle\r\na=fingerprint:%s\r\n"
             "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 127.0.0.1\r\na=sendonly\r\na=mid:0\r\n"
             "a=rtcp-mux\r\na=ice-ufrag:" AGENT_UFRAG "\r\na=ice-pwd:" AGENT_PWD "\r\n"
             "a=setup:actpass\r\na=rtpmap:111 opus/48000/2\r\na=ssrc:1400348730 cname:janus\r\n"
             "a=candidate:1 1 udp 2015363327 127.0.0.1 %u typ host\r\na=end-of-candidates\r\n",
             a->fp, a->port);
}

static void test_subscribe_controlled(void **state)
{
    agent_t a;
    agent_init(&a, 1); /* the agent is the DTLS server: the answerer chose active */
    peer_t *p = new_peer();
    char *offer = malloc(SDP_CAP), *answer = malloc(SDP_CAP);
    janus_offer(&a, offer, SDP_CAP);
    size_t len;
    assert_int_equal(peer_answer_subscribe(p, offer, strlen(offer), answer, SDP_CAP, &len), 0);
    assert_non_null(strstr(answer, "a=setup:active"));
    agent_learn(&a, answer);
    runner_t r = {p, 1, -1};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_peer, &r), 0);
    agent_serve(&a, 4000, 0);
    pthread_join(th, NULL);
    assert_int_equal(r.rc, 0);
    assert_true(a.dtls_up);
    assert_true(a.checks >= 1);
    assert_int_equal(a.controlled, a.checks); /* the offerer controls, the peer is controlled */
    assert_int_equal(a.controlling, 0);
    assert_int_equal(a.use_candidate, 0); /* only the controlling agent nominates */
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe.dtls, DTLS_STATE_CONNECTED);
    free(offer);
    free(answer);
    peer_free(p);
    agent_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_dtls_server),
        cmocka_unit_test(test_active_answer_needs_full_ice),
        cmocka_unit_test(test_subscribe_controlled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
