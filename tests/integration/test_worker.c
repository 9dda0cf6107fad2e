/* Media workers on real loopback sockets: packets reach the right worker, every drop is counted by
 * reason, and the counters travel to the control side through the message queue. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sfu/stun.h"
#include "sfu/worker.h"

#define NWORKERS 2

typedef struct {
    lg_counters_t stats[NWORKERS];
    int replies[NWORKERS];
} control_state_t;

static void on_stats(void *ctx, lg_msg_t *m)
{
    control_state_t *cs = ctx;
    worker_stats_msg_t *s = (worker_stats_msg_t *)m;
    assert_true(s->worker >= 0 && s->worker < NWORKERS);
    cs->stats[s->worker] = s->counters;
    cs->replies[s->worker]++;
    free(m);
}

static const lg_mq_handler_fn HANDLERS[CONTROL_MSG_COUNT] = {[CONTROL_MSG_STATS] = on_stats};

/* Binds NWORKERS workers on a free port range; retries a few random bases. */
static void bind_workers(lg_worker_t *w, lg_config_t *cfg)
{
    char err[256];
    for (int attempt = 0; attempt < 20; attempt++) {
        cfg->media_port = (uint16_t)(20000 + (rand() % 20000));
        int ok = 1;
        for (int i = 0; i < NWORKERS && ok; i++) {
            if (lg_worker_bind(&w[i], i, cfg, err, sizeof err) != 0) {
                for (int j = 0; j < i; j++)
                    lg_worker_stop(&w[j]);
                ok = 0;
            }
        }
        if (ok)
            return;
    }
    fail_msg("no free media ports: %s", err);
}

static void send_to(int fd, uint16_t port, const void *p, size_t len)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal(sendto(fd, p, len, 0, (struct sockaddr *)&to, sizeof to), (ssize_t)len);
}

/* Asks every worker for counters until worker 0 has seen `expect_in` packets (bounded: 5 s). */
static void wait_for_counters(lg_worker_t *w, uv_loop_t *loop, control_state_t *cs,
                              uint64_t expect_in)
{
    for (int round = 0; round < 100; round++) {
        for (int i = 0; i < NWORKERS; i++) {
            worker_stats_req_t *req = lg_msg_new(WORKER_MSG_STATS_REQ, sizeof *req);
            assert_int_equal(lg_worker_post(&w[i], &req->hdr), 0);
        }
        usleep(50000);
        uv_run(loop, UV_RUN_NOWAIT);
        if (cs->stats[0].packets_in >= expect_in && cs->replies[1] > 0)
            return;
    }
    fail_msg("workers did not report %llu packets", (unsigned long long)expect_in);
}

static void test_packets_counted_by_reason(void **state)
{
    lg_config_t cfg;
    lg_config_defaults(&cfg);
    cfg.workers = NWORKERS;
    lg_worker_t w[NWORKERS];
    control_state_t cs;
    memset(&cs, 0, sizeof cs);
    uv_loop_t loop;
    lg_mq_t inbox;
    assert_int_equal(uv_loop_init(&loop), 0);
    assert_int_equal(lg_mq_init(&inbox, &loop, HANDLERS, CONTROL_MSG_COUNT, &cs), 0);
    bind_workers(w, &cfg);
    for (int i = 0; i < NWORKERS; i++)
        assert_int_equal(lg_worker_start(&w[i], &inbox), 0);

    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    static const uint8_t garbage[] = {0xff, 0x00, 0x01};
    static const uint8_t dtls[] = {22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t rtp[12] = {0x80, 111, 0, 1};
    static const uint8_t bad_stun[] = {0x00, 0x01, 0x00, 0x08, 0x21, 0x12};
    uint8_t req[256], txid[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    size_t reqlen;
    stun_binding_request_t br = {txid, "relay:peer", 0x6e0001ff, 42, 1, (const uint8_t *)"pwd", 3};
    assert_int_equal(stun_build_binding_request(req, sizeof req, &br, &reqlen), 0);
    uint8_t nofp[256];
    stun_builder_t b;
    size_t nofplen;
    stun_builder_init(&b, nofp, sizeof nofp, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, txid);
    stun_add_username(&b, "relay:peer", 10);
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &nofplen), 0);
    nofp[nofplen - 1] ^= 1; /* corrupt the FINGERPRINT value */

    send_to(fd, cfg.media_port, garbage, sizeof garbage);
    send_to(fd, cfg.media_port, dtls, sizeof dtls);
    send_to(fd, cfg.media_port, rtp, sizeof rtp);
    send_to(fd, cfg.media_port, bad_stun, sizeof bad_stun);
    send_to(fd, cfg.media_port, req, reqlen);
    send_to(fd, cfg.media_port, nofp, nofplen);
    wait_for_counters(w, &loop, &cs, 6);

    const lg_counters_t *c = &cs.stats[0];
    assert_int_equal(c->packets_in, 6);
    assert_int_equal(c->bytes_in, sizeof garbage + sizeof dtls + sizeof rtp + sizeof bad_stun +
                                      reqlen + nofplen);
    assert_int_equal(c->drops[LG_DROP_UNKNOWN_PROTOCOL], 1);
    assert_int_equal(c->drops[LG_DROP_UNKNOWN_SOURCE], 2);
    assert_int_equal(c->drops[LG_DROP_STUN_MALFORMED], 1);
    assert_int_equal(c->drops[LG_DROP_STUN_UNKNOWN_USER], 1);
    assert_int_equal(c->drops[LG_DROP_STUN_BAD_FINGERPRINT], 1);
    assert_int_equal(c->packets_out, 0); /* nothing is answered to an unknown peer */
    assert_int_equal(cs.stats[1].packets_in, 0);

    close(fd);
    for (int i = 0; i < NWORKERS; i++)
        lg_worker_stop(&w[i]);
    lg_mq_close(&inbox, NULL);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);
    lg_mq_destroy(&inbox);
}

/* A port already taken is reported with the address, and nothing stays open. */
static void test_bind_conflict(void **state)
{
    lg_config_t cfg;
    lg_config_defaults(&cfg);
    lg_worker_t a[NWORKERS], b;
    cfg.workers = NWORKERS;
    bind_workers(a, &cfg);
    char err[256] = "";
    assert_int_not_equal(lg_worker_bind(&b, 1, &cfg, err, sizeof err), 0);
    assert_non_null(strstr(err, "127.0.0.1"));
    assert_non_null(strstr(err, "in use"));
    for (int i = 0; i < NWORKERS; i++)
        lg_worker_stop(&a[i]);
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_packets_counted_by_reason),
        cmocka_unit_test(test_bind_conflict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
