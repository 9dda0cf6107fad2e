/* ICE-TCP listener on real loopback sockets: framed packets in (whole, batched, split across
 * writes), framed replies out, close notifications, idle timeout, connection limit, a peer that
 * stops reading, and shutdown with connections open. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "sfu/lg_error.h"
#include "sfu/rfc4571.h"
#include "sfu/tcp_io.h"
#include "sfu/udp_io.h"

#define MAX_PKTS 16

typedef struct {
    uv_loop_t loop;
    tcp_io_t io;
    lg_counters_t counters;
    uint16_t port;
    /* what on_packet saw */
    int packets;
    size_t len[MAX_PKTS];
    uint8_t data[MAX_PKTS][2048];
    struct sockaddr_storage from;
    tcp_conn_t *conn; /* connection of the last packet */
    /* what on_close saw */
    int closes;
    tcp_conn_t *closed[MAX_PKTS];
    void *closed_data[MAX_PKTS];
    /* behaviour */
    int echo;
    int close_on_packet;
} fixture_t;

static int OWNER_MARK;

static void on_packet(void *ctx, tcp_conn_t *conn, uint8_t *data, size_t len,
                      const struct sockaddr *from, socklen_t fromlen)
{
    fixture_t *f = ctx;
    assert_true(f->packets < MAX_PKTS);
    assert_true(len <= sizeof f->data[0]);
    memcpy(f->data[f->packets], data, len);
    f->len[f->packets++] = len;
    memcpy(&f->from, from, fromlen);
    f->conn = conn;
    tcp_conn_set_data(conn, &OWNER_MARK);
    if (f->echo)
        assert_int_equal(tcp_conn_send(conn, data, len), 0);
    if (f->close_on_packet)
        tcp_conn_close(conn);
}

static void on_close(void *ctx, tcp_conn_t *conn)
{
    fixture_t *f = ctx;
    assert_true(f->closes < MAX_PKTS);
    f->closed_data[f->closes] = tcp_conn_get_data(conn);
    f->closed[f->closes++] = conn;
    assert_int_equal(tcp_conn_send(conn, (const uint8_t *)"x", 1), LG_ESTATE);
}

/* Binds and starts a listener on a random free port of 127.0.0.1. */
static fixture_t *start(const tcp_io_limits_t *limits)
{
    fixture_t *f = calloc(1, sizeof *f);
    assert_int_equal(uv_loop_init(&f->loop), 0);
    char err[256] = "";
    int fd = -1;
    for (int attempt = 0; attempt < 50 && fd < 0; attempt++) {
        f->port = (uint16_t)(20000 + rand() % 30000);
        fd = tcp_io_bind("127.0.0.1", f->port, err, sizeof err);
    }
    if (fd < 0)
        fail_msg("no free TCP port: %s", err);
    tcp_io_callbacks_t cb = {on_packet, on_close};
    assert_int_equal(tcp_io_start(&f->io, &f->loop, fd, &cb, limits, f, &f->counters), 0);
    return f;
}

/* Closes everything and checks that the loop drains completely. */
static void stop(fixture_t *f)
{
    tcp_io_close(&f->io);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->io.nconns, 0);
    assert_null(f->io.conns);
    assert_int_equal(uv_loop_close(&f->loop), 0);
    free(f);
}

/* Runs the loop until *value >= target; returns 0 on timeout. */
static int run_until(fixture_t *f, const int *value, int target, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 2) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (*value >= target)
            return 1;
        usleep(2000);
    }
    return 0;
}

static void run_for(fixture_t *f, int ms)
{
    int never = 0;
    run_until(f, &never, 1, ms);
}

static int client(fixture_t *f, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 3};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(f->port)};
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&to, sizeof to), 0);
    return fd;
}

static void send_all(int fd, const void *p, size_t len)
{
    assert_int_equal(send(fd, p, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_frame(int fd, const char *s)
{
    uint8_t buf[256];
    int n = rfc4571_frame(buf, sizeof buf, (const uint8_t *)s, strlen(s));
    assert_true(n > 0);
    send_all(fd, buf, (size_t)n);
}

/* Reads one framed packet from the client socket; returns its length. */
static size_t recv_frame(int fd, uint8_t *out, size_t cap)
{
    uint8_t prefix[2];
    assert_int_equal(recv(fd, prefix, 2, MSG_WAITALL), 2);
    size_t len = ((size_t)prefix[0] << 8) | prefix[1];
    assert_true(len <= cap);
    assert_int_equal(recv(fd, out, len, MSG_WAITALL), (ssize_t)len);
    return len;
}

/* The server closed: recv sees end of stream (or a reset when data was left unread). */
static void assert_closed_by_server(int fd)
{
    char c;
    ssize_t n = recv(fd, &c, 1, 0);
    assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

static void assert_packet(fixture_t *f, int i, const void *p, size_t len)
{
    assert_int_equal(f->len[i], len);
    assert_memory_equal(f->data[i], p, len);
}

static void test_frames_in_replies_out_close(void **state)
{
    fixture_t *f = start(NULL);
    f->echo = 1;
    int c = client(f, 0);
    /* Two frames in one write. */
    uint8_t two[32];
    int n1 = rfc4571_frame(two, sizeof two, (const uint8_t *)"hello", 5);
    int n2 = rfc4571_frame(two + n1, sizeof two - (size_t)n1, (const uint8_t *)"world!", 6);
    send_all(c, two, (size_t)(n1 + n2));
    assert_true(run_until(f, &f->packets, 2, 2000));
    assert_packet(f, 0, "hello", 5);
    assert_packet(f, 1, "world!", 6);
    const struct sockaddr_in *from = (const struct sockaddr_in *)&f->from;
    struct sockaddr_in local;
    socklen_t ll = sizeof local;
    getsockname(c, (struct sockaddr *)&local, &ll);
    assert_int_equal(from->sin_family, AF_INET);
    assert_int_equal(ntohl(from->sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(from->sin_port, local.sin_port);
    /* A 1000-byte frame split across two writes with a pause. */
    uint8_t big[1002], payload[1000];
    for (size_t i = 0; i < sizeof payload; i++)
        payload[i] = (uint8_t)(i * 13);
    assert_int_equal(rfc4571_frame(big, sizeof big, payload, sizeof payload), 1002);
    send_all(c, big, 501);
    run_for(f, 60);
    assert_int_equal(f->packets, 2);
    send_all(c, big + 501, 501);
    assert_true(run_until(f, &f->packets, 3, 2000));
    assert_packet(f, 2, payload, sizeof payload);
    /* A length prefix split across two writes. */
    uint8_t small[4];
    rfc4571_frame(small, sizeof small, (const uint8_t *)"ab", 2);
    send_all(c, small, 1);
    run_for(f, 30);
    send_all(c, small + 1, 3);
    assert_true(run_until(f, &f->packets, 4, 2000));
    assert_packet(f, 3, "ab", 2);
    /* The echoes come back framed, in order. */
    uint8_t got[1000];
    assert_int_equal(recv_frame(c, got, sizeof got), 5);
    assert_memory_equal(got, "hello", 5);
    assert_int_equal(recv_frame(c, got, sizeof got), 6);
    assert_memory_equal(got, "world!", 6);
    assert_int_equal(recv_frame(c, got, sizeof got), 1000);
    assert_memory_equal(got, payload, 1000);
    assert_int_equal(recv_frame(c, got, sizeof got), 2);
    assert_memory_equal(got, "ab", 2);
    /* Client disconnect -> on_close with the owner's pointer still readable. */
    tcp_conn_t *conn = f->conn;
    close(c);
    assert_true(run_until(f, &f->closes, 1, 2000));
    assert_ptr_equal(f->closed[0], conn);
    assert_ptr_equal(f->closed_data[0], &OWNER_MARK);
    assert_int_equal(f->io.nconns, 0);
    assert_int_equal(f->counters.packets_in, 4);
    assert_int_equal(f->counters.bytes_in, 5 + 6 + 1000 + 2);
    assert_int_equal(f->counters.packets_out, 4);
    assert_int_equal(f->counters.bytes_out, 5 + 6 + 1000 + 2);
    stop(f);
}

static void test_zero_length_frames_counted(void **state)
{
    fixture_t *f = start(NULL);
    int c = client(f, 0);
    const uint8_t stream[] = {0, 0, 0, 1, 'q', 0, 0};
    send_all(c, stream, sizeof stream);
    assert_true(run_until(f, &f->packets, 1, 2000));
    run_for(f, 20);
    assert_int_equal(f->packets, 1);
    assert_packet(f, 0, "q", 1);
    assert_int_equal(f->counters.drops[LG_DROP_TCP_BAD_FRAME], 2);
    assert_int_equal(f->counters.packets_in, 3);
    close(c);
    stop(f);
}

static void test_idle_connection_closed(void **state)
{
    tcp_io_limits_t lim = {.idle_ms = 300};
    fixture_t *f = start(&lim);
    int silent = client(f, 0);
    int talker = client(f, 0);
    send_frame(talker, "first");
    uint64_t t0 = uv_hrtime();
    assert_true(run_until(f, &f->closes, 1, 3000));
    uint64_t elapsed_ms = (uv_hrtime() - t0) / 1000000;
    assert_true(elapsed_ms >= 250);
    assert_int_equal(f->counters.drops[LG_DROP_TCP_IDLE], 1);
    assert_null(f->closed_data[0]); /* never delivered a packet: the owner never saw it */
    assert_closed_by_server(silent);
    /* The connection that delivered a frame outlives the idle time. */
    run_for(f, 500);
    assert_int_equal(f->closes, 1);
    send_frame(talker, "still here");
    assert_true(run_until(f, &f->packets, 2, 2000));
    assert_packet(f, 1, "still here", 10);
    close(silent);
    close(talker);
    stop(f);
}

static void test_connection_limit(void **state)
{
    tcp_io_limits_t lim = {.max_conns = 2};
    fixture_t *f = start(&lim);
    int a = client(f, 0), b = client(f, 0), c = client(f, 0);
    int limited = 0;
    for (int i = 0; i < 1000 && !limited; i++) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        limited = f->counters.drops[LG_DROP_TCP_LIMIT] == 1;
        usleep(2000);
    }
    assert_true(limited);
    assert_int_equal(f->io.nconns, 2);
    assert_closed_by_server(c);
    send_frame(a, "from a");
    send_frame(b, "from b");
    assert_true(run_until(f, &f->packets, 2, 2000));
    /* A slot frees up when a connection goes away. */
    close(a);
    assert_true(run_until(f, &f->closes, 1, 2000));
    int d = client(f, 0);
    send_frame(d, "from d");
    assert_true(run_until(f, &f->packets, 3, 2000));
    assert_packet(f, 2, "from d", 6);
    assert_int_equal(f->counters.drops[LG_DROP_TCP_LIMIT], 1);
    close(b);
    close(c);
    close(d);
    stop(f);
}

static void test_peer_that_stops_reading(void **state)
{
    tcp_io_limits_t lim = {.max_queued = 65536};
    fixture_t *f = start(&lim);
    int c = client(f, 4096);
    send_frame(c, "hi");
    assert_true(run_until(f, &f->packets, 1, 2000));
    uint8_t payload[1000];
    memset(payload, 0x5a, sizeof payload);
    int rc = 0, sent = 0;
    while (rc == 0 && sent < 200000) {
        rc = tcp_conn_send(f->conn, payload, sizeof payload);
        sent++;
    }
    assert_int_equal(rc, LG_EFULL);
    assert_int_equal(f->counters.drops[LG_DROP_TCP_OVERFLOW], 1);
    assert_int_equal(tcp_conn_send(f->conn, payload, sizeof payload), LG_ESTATE);
    assert_true(run_until(f, &f->closes, 1, 2000));
    close(c);
    stop(f);
}

static void test_close_from_callback(void **state)
{
    fixture_t *f = start(NULL);
    f->close_on_packet = 1;
    int c = client(f, 0);
    uint8_t two[16];
    int n1 = rfc4571_frame(two, sizeof two, (const uint8_t *)"one", 3);
    int n2 = rfc4571_frame(two + n1, sizeof two - (size_t)n1, (const uint8_t *)"two", 3);
    send_all(c, two, (size_t)(n1 + n2));
    assert_true(run_until(f, &f->closes, 1, 2000));
    assert_int_equal(f->packets, 1); /* nothing delivered after tcp_conn_close */
    assert_closed_by_server(c);
    close(c);
    stop(f);
}

static void test_shutdown_with_open_connections(void **state)
{
    fixture_t *f = start(NULL);
    int a = client(f, 0), b = client(f, 0), idle = client(f, 0);
    send_frame(a, "a");
    send_frame(b, "b");
    assert_true(run_until(f, &f->packets, 2, 2000));
    assert_int_equal(f->io.nconns, 3);
    tcp_io_close(&f->io);
    tcp_io_close(&f->io); /* twice is harmless */
    uv_run(&f->loop, UV_RUN_DEFAULT);
    assert_int_equal(f->closes, 3);
    assert_int_equal(f->io.fd, -1);
    assert_closed_by_server(a);
    assert_closed_by_server(b);
    assert_closed_by_server(idle);
    close(a);
    close(b);
    close(idle);
    stop(f);
}

static void test_bind(void **state)
{
    char err[256];
    assert_int_equal(tcp_io_bind("not-an-ip", 1, err, sizeof err), -1);
    assert_non_null(strstr(err, "not-an-ip"));
    /* Same port number as the worker's UDP socket; a second TCP listener is refused. */
    for (int attempt = 0; attempt < 50; attempt++) {
        uint16_t port = (uint16_t)(20000 + rand() % 30000);
        int u = udp_io_bind("127.0.0.1", port, err, sizeof err);
        if (u < 0)
            continue;
        int t = tcp_io_bind("127.0.0.1", port, err, sizeof err);
        if (t < 0) {
            close(u);
            continue;
        }
        assert_int_equal(tcp_io_bind("127.0.0.1", port, err, sizeof err), -1);
        assert_non_null(strstr(err, "cannot bind TCP 127.0.0.1 port"));
        int t6 = tcp_io_bind("::1", port, err, sizeof err);
        if (t6 >= 0)
            close(t6);
        close(t);
        close(u);
        return;
    }
    fail_msg("no free port for UDP and TCP together");
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bind),
        cmocka_unit_test(test_frames_in_replies_out_close),
        cmocka_unit_test(test_zero_length_frames_counted),
        cmocka_unit_test(test_idle_connection_closed),
        cmocka_unit_test(test_connection_limit),
        cmocka_unit_test(test_peer_that_stops_reading),
        cmocka_unit_test(test_close_from_callback),
        cmocka_unit_test(test_shutdown_with_open_connections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
