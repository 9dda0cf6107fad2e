/* The impairment proxy's sockets on loopback, against a plain UDP and TCP upstream: one upstream
 * 5-tuple per client flow and answers routed back to their client, idle flows expiring, loss
 * counted, TCP bytes relayed intact through rate and delay, and a close passed on. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/impair.h"

typedef struct {
    int udp, tcp;  /* upstream sockets on 127.0.0.1:port */
    uint16_t port; /* the proxy listens on 127.0.0.2:port */
    impair_proxy_t *proxy;
} env_t;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct sockaddr_in addr4(const char *ip, uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

/* Upstream UDP and TCP sockets on one free port of 127.0.0.1, and the proxy in front of them. */
static void env_start(env_t *e, const impair_params_t *link, uint32_t idle_ms)
{
    for (int attempt = 0; attempt < 20; attempt++) {
        e->udp = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_in a = addr4("127.0.0.1", 0);
        socklen_t len = sizeof a;
        assert_int_equal(bind(e->udp, (struct sockaddr *)&a, sizeof a), 0);
        assert_int_equal(getsockname(e->udp, (struct sockaddr *)&a, &len), 0);
        e->port = ntohs(a.sin_port);
        e->tcp = socket(AF_INET, SOCK_STREAM, 0);
        if (bind(e->tcp, (struct sockaddr *)&a, sizeof a) == 0 && listen(e->tcp, 4) == 0) {
            char listen_s[32], up_s[32], err[256];
            snprintf(listen_s, sizeof listen_s, "127.0.0.2:%u", e->port);
            snprintf(up_s, sizeof up_s, "127.0.0.1:%u", e->port);
            impair_opts_t o = {.listen = listen_s, .upstream = up_s, .idle_ms = idle_ms};
            o.up = o.down = *link;
            e->proxy = impair_start(&o, err, sizeof err);
            if (e->proxy)
                return;
        }
        close(e->udp);
        close(e->tcp);
    }
    fail_msg("no free port pair for the proxy");
}

static void env_stop(env_t *e)
{
    impair_stop(e->proxy);
    close(e->udp);
    close(e->tcp);
}

/* Waits (bounded) until fd is readable. */
static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {fd, POLLIN, 0};
    return poll(&p, 1, timeout_ms) == 1;
}

static int client(env_t *e)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = addr4("127.0.0.2", e->port);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

/* The upstream receives one datagram; returns its source port, and answers it with the datagram
 * prefixed by "re:". */
static uint16_t upstream_echo(env_t *e)
{
    char buf[256], out[260];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    assert_true(readable(e->udp, 3000));
    ssize_t n = recvfrom(e->udp, buf, sizeof buf, 0, (struct sockaddr *)&from, &flen);
    assert_true(n > 0);
    int m = snprintf(out, sizeof out, "re:%.*s", (int)n, buf);
    assert_int_equal(sendto(e->udp, out, (size_t)m, 0, (struct sockaddr *)&from, flen), m);
    return ntohs(from.sin_port);
}

static void expect_reply(int fd, const char *text)
{
    char buf[256];
    assert_true(readable(fd, 3000));
    ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, text);
}

static impair_stats_t wait_stats(env_t *e, bool (*done)(const impair_stats_t *), int timeout_ms)
{
    impair_stats_t s;
    int64_t end = now_ms() + timeout_ms;
    do {
        impair_get_stats(e->proxy, &s);
        if (done(&s))
            return s;
        usleep(20000);
    } while (now_ms() < end);
    return s;
}

static bool two_expired(const impair_stats_t *s)
{
    return s->flows_expired >= 2;
}

/* Two clients are two flows with their own upstream ports; answers find their client; idle
 * flows expire and a client coming back is a new flow. */
static void test_udp_flows(void **state)
{
    env_t e;
    impair_params_t link = {.delay_ms = 20};
    env_start(&e, &link, 300);
    int a = client(&e), b = client(&e);
    assert_int_equal(send(a, "a1", 2, 0), 2);
    uint16_t pa = upstream_echo(&e);
    assert_int_equal(send(b, "b1", 2, 0), 2);
    uint16_t pb = upstream_echo(&e);
    assert_int_not_equal(pa, pb);
    expect_reply(a, "re:a1");
    expect_reply(b, "re:b1");
    assert_int_equal(send(a, "a2", 2, 0), 2);
    assert_int_equal(upstream_echo(&e), pa); /* the same flow, the same 5-tuple */
    expect_reply(a, "re:a2");
    impair_stats_t s;
    impair_get_stats(e.proxy, &s);
    assert_int_equal(s.flows_created, 2);
    assert_int_equal(s.flows_open, 2);
    assert_int_equal(s.udp_up.forwarded, 3);
    assert_int_equal(s.udp_down.forwarded, 3);
    assert_int_equal(s.udp_up.bytes, 6);

    s = wait_stats(&e, two_expired, 3000);
    assert_int_equal(s.flows_expired, 2);
    assert_int_equal(s.flows_open, 0);
    assert_int_equal(send(a, "a3", 2, 0), 2);
    uint16_t pa2 = upstream_echo(&e);
    expect_reply(a, "re:a3");
    impair_get_stats(e.proxy, &s);
    assert_int_equal(s.flows_created, 3);
    assert_true(pa2 != 0);
    close(a);
    close(b);
    env_stop(&e);
}

/* 100 % loss: the datagrams are counted as lost and none arrives. */
static void test_udp_loss_counted(void **state)
{
    env_t e;
    impair_params_t link = {.loss_ppm = 1000000};
    env_start(&e, &link, 0);
    int a = client(&e);
    for (int i = 0; i < 20; i++)
        assert_int_equal(send(a, "x", 1, 0), 1);
    assert_false(readable(e.udp, 300));
    impair_stats_t s;
    impair_get_stats(e.proxy, &s);
    assert_int_equal(s.udp_up.dropped_loss, 20);
    assert_int_equal(s.udp_up.forwarded, 0);
    close(a);
    env_stop(&e);
}

static bool tcp_closed(const impair_stats_t *s)
{
    return s->tcp_accepted == 1 && s->tcp_open == 0;
}

/* TCP through 256 kbit/s, 30 % "loss" and 30 ms: 20000 bytes arrive intact and in order, and
 * closing the client closes the upstream side. */
static void test_tcp_relay(void **state)
{
    env_t e;
    impair_params_t link = {.rate_bps = 256000, .loss_ppm = 300000, .delay_ms = 30, .seed = 5};
    env_start(&e, &link, 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = addr4("127.0.0.2", e.port);
    assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof a), 0);
    assert_true(readable(e.tcp, 3000));
    int up = accept(e.tcp, NULL, NULL);
    assert_true(up >= 0);
    static uint8_t data[20000], got[20000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + i / 251);
    assert_int_equal(send(c, data, sizeof data, 0), (ssize_t)sizeof data);
    size_t have = 0;
    int64_t end = now_ms() + 10000;
    while (have < sizeof got && now_ms() < end && readable(up, 1000)) {
        ssize_t n = recv(up, got + have, sizeof got - have, 0);
        assert_true(n > 0);
        have += (size_t)n;
    }
    assert_int_equal(have, sizeof data);
    assert_memory_equal(got, data, sizeof data);
    impair_stats_t s;
    impair_get_stats(e.proxy, &s);
    assert_int_equal(s.tcp_up.bytes, sizeof data);
    assert_true(s.tcp_up.forwarded >= sizeof data / IMPAIR_TCP_SEGMENT);
    assert_true(s.tcp_up.retransmitted > 0); /* "lost" segments came one RTO later */
    assert_int_equal(s.tcp_up.dropped_loss + s.tcp_up.dropped_queue, 0);

    close(c);
    assert_true(readable(up, 3000));
    char b;
    assert_int_equal(recv(up, &b, 1, 0), 0); /* the close reached the upstream */
    s = wait_stats(&e, tcp_closed, 3000);
    assert_int_equal(s.tcp_open, 0);
    close(up);
    env_stop(&e);
}

static void test_bad_addresses(void **state)
{
    char err[256];
    impair_opts_t o = {.listen = "127.0.0.2", .upstream = "127.0.0.1:9"};
    assert_null(impair_start(&o, err, sizeof err));
    assert_non_null(strstr(err, "IP:PORT"));
    o.listen = "[::1]:4000"; /* families differ */
    assert_null(impair_start(&o, err, sizeof err));
    struct sockaddr_storage ss;
    unsigned len;
    assert_int_equal(impair_parse_addr("[::1]:4000", &ss, &len), 0);
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_int_equal(impair_parse_addr("127.0.0.1:65536", &ss, &len), -1);
    assert_int_equal(impair_parse_addr("localhost:80", &ss, &len), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_udp_flows),
        cmocka_unit_test(test_udp_loss_counted),
        cmocka_unit_test(test_tcp_relay),
        cmocka_unit_test(test_bad_addresses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
