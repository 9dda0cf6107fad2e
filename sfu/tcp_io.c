/* ICE-TCP listener and connections: accept4 on a uv_poll_t, uv_tcp_t streams read into a
 * per-connection buffer and cut into RFC 4571 frames, framed replies written with uv_try_write and
 * queued (bounded) only when the socket is full. */
#include "sfu/tcp_io.h"
#include "sfu/lg_error.h"
#include "sfu/rfc4571.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TCP_IO_PAUSE_MS 100 /* accept back-off when the process is out of descriptors */

struct tcp_conn {
    tcp_io_t *io;
    tcp_conn_t *prev, *next; /* in io->conns */
    uv_tcp_t tcp;
    uv_timer_t idle; /* running until the first non-empty frame */
    void *data;      /* the owner's */
    int open_handles;
    int closing;
    int delivered;
    struct sockaddr_storage peer;
    socklen_t peerlen;
    /* Large buffers last: conn_open clears only the fields above. */
    uint8_t rbuf[TCP_IO_READ_BUF];
    rfc4571_deframer_t deframer;
};

/* A send-queue copy: the request and the bytes the socket did not take, in one allocation. */
typedef struct {
    uv_write_t req;
    uint8_t bytes[];
} queued_write_t;

static int parse_addr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    if (uv_ip4_addr(ip, port, (struct sockaddr_in *)ss) == 0) {
        *len = sizeof(struct sockaddr_in);
        return 0;
    }
    if (uv_ip6_addr(ip, port, (struct sockaddr_in6 *)ss) == 0) {
        *len = sizeof(struct sockaddr_in6);
        return 0;
    }
    return LG_EINVAL;
}

int tcp_io_bind(const char *ip, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (parse_addr(ip, port, &ss, &sl) != 0) {
        snprintf(err, errlen, "media address '%s' is not an IP address", ip);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "TCP socket for %s: %s", ip, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "cannot bind TCP %s port %u: %s", ip, port, strerror(errno));
        close(fd);
        return -1;
    }
    if (listen(fd, TCP_IO_BACKLOG) != 0) {
        snprintf(err, errlen, "cannot listen on TCP %s port %u: %s", ip, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

/* --- connections -------------------------------------------------------------------------- */

static void conn_free(tcp_conn_t *c)
{
    tcp_io_t *io = c->io;
    if (io->cb.on_close)
        io->cb.on_close(io->ctx, c);
    if (c->prev)
        c->prev->next = c->next;
    else
        io->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    io->nconns--;
    free(c);
}

static void on_conn_handle_closed(uv_handle_t *h)
{
    tcp_conn_t *c = h->data;
    if (--c->open_handles == 0)
        conn_free(c);
}

static void conn_close(tcp_conn_t *c)
{
    if (c->closing)
        return;
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, on_conn_handle_closed);
    uv_close((uv_handle_t *)&c->idle, on_conn_handle_closed);
}

static void on_idle(uv_timer_t *t)
{
    tcp_conn_t *c = t->data;
    lg_count_drop(c->io->counters, LG_DROP_TCP_IDLE);
    conn_close(c);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    tcp_conn_t *c = h->data;
    *buf = uv_buf_init((char *)c->rbuf, sizeof c->rbuf);
}

/* Deframer callback: one packet to the owner. Stops the feed once the connection is closing. */
static int on_frame(void *ctx, uint8_t *frame, size_t len)
{
    tcp_conn_t *c = ctx;
    tcp_io_t *io = c->io;
    io->counters->packets_in++;
    io->counters->bytes_in += len;
    if (!c->delivered) {
        c->delivered = 1;
        uv_timer_stop(&c->idle);
    }
    io->cb.on_packet(io->ctx, c, frame, len, (const struct sockaddr *)&c->peer, c->peerlen);
    return c->closing;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    tcp_conn_t *c = s->data;
    if (nread < 0) { /* UV_EOF, or the peer reset the connection */
        conn_close(c);
        return;
    }
    uint64_t empty = c->deframer.empty_frames;
    rfc4571_deframer_feed(&c->deframer, c->rbuf, (size_t)nread, on_frame, c);
    uint64_t skipped = c->deframer.empty_frames - empty;
    c->io->counters->packets_in += skipped;
    c->io->counters->drops[LG_DROP_TCP_BAD_FRAME] += skipped;
}

/* Wraps an accepted socket. Every failure after allocation goes through conn_close (and so
 * on_close), like any other accepted connection. */
static void conn_open(tcp_io_t *io, int cfd, const struct sockaddr_storage *peer, socklen_t plen)
{
    tcp_conn_t *c = malloc(sizeof *c);
    if (!c) {
        close(cfd);
        lg_count_drop(io->counters, LG_DROP_TCP_LIMIT);
        return;
    }
    memset(c, 0, offsetof(tcp_conn_t, rbuf));
    c->io = io;
    memcpy(&c->peer, peer, plen);
    c->peerlen = plen;
    rfc4571_deframer_init(&c->deframer);
    uv_tcp_init(io->loop, &c->tcp);
    uv_timer_init(io->loop, &c->idle);
    c->tcp.data = c->idle.data = c;
    c->open_handles = 2;
    c->next = io->conns;
    if (io->conns)
        io->conns->prev = c;
    io->conns = c;
    io->nconns++;
    int rc = uv_tcp_open(&c->tcp, cfd);
    if (rc != 0) {
        close(cfd);
        conn_close(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1); /* real-time media: no Nagle delay */
    uv_timer_start(&c->idle, on_idle, io->limits.idle_ms, 0);
    if (uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read) != 0)
        conn_close(c);
}

/* --- sending ------------------------------------------------------------------------------ */

static void on_written(uv_write_t *req, int status)
{
    tcp_conn_t *c = req->handle->data;
    free(req->data);
    if (status < 0 && status != UV_ECANCELED) {
        c->io->counters->send_errors++;
        conn_close(c);
    }
}

static int send_failed(tcp_conn_t *c, int err)
{
    c->io->counters->send_errors++;
    conn_close(c);
    return err;
}

/* Queues a copy of the frame's bytes from offset `done` on (prefix first, then data). */
static int queue_rest(tcp_conn_t *c, const uint8_t *prefix, const uint8_t *data, size_t len,
                      size_t done)
{
    size_t rest = RFC4571_PREFIX + len - done;
    size_t queued = uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp);
    if (queued + rest > c->io->limits.max_queued) {
        lg_count_drop(c->io->counters, LG_DROP_TCP_OVERFLOW);
        conn_close(c);
        return LG_EFULL;
    }
    queued_write_t *w = malloc(sizeof *w + rest);
    if (!w) {
        conn_close(c);
        return LG_ENOMEM;
    }
    uint8_t *p = w->bytes;
    if (done < RFC4571_PREFIX) {
        memcpy(p, prefix + done, RFC4571_PREFIX - done);
        p += RFC4571_PREFIX - done;
        done = RFC4571_PREFIX;
    }
    memcpy(p, data + (done - RFC4571_PREFIX), len - (done - RFC4571_PREFIX));
    w->req.data = w;
    uv_buf_t b = uv_buf_init((char *)w->bytes, (unsigned)rest);
    if (uv_write(&w->req, (uv_stream_t *)&c->tcp, &b, 1, on_written) != 0) {
        free(w);
        return send_failed(c, LG_EIO);
    }
    return 0;
}

int tcp_conn_send(tcp_conn_t *c, const uint8_t *data, size_t len)
{
    uint8_t prefix[RFC4571_PREFIX];
    if (len == 0 || rfc4571_put_length(prefix, len) != 0)
        return LG_EINVAL;
    if (c->closing)
        return LG_ESTATE;
    uv_buf_t bufs[2] = {uv_buf_init((char *)prefix, sizeof prefix),
                        uv_buf_init((char *)(uintptr_t)data, (unsigned)len)};
    /* Fails with UV_EAGAIN while earlier bytes are queued, which keeps frames in order. */
    int n = uv_try_write((uv_stream_t *)&c->tcp, bufs, 2);
    if (n < 0 && n != UV_EAGAIN)
        return send_failed(c, LG_EIO);
    size_t done = n > 0 ? (size_t)n : 0;
    if (done < RFC4571_PREFIX + len) {
        int rc = queue_rest(c, prefix, data, len, done);
        if (rc != 0)
            return rc;
    }
    c->io->counters->packets_out++;
    c->io->counters->bytes_out += len;
    return 0;
}

void tcp_conn_close(tcp_conn_t *conn)
{
    conn_close(conn);
}

void tcp_conn_set_data(tcp_conn_t *conn, void *data)
{
    conn->data = data;
}

void *tcp_conn_get_data(const tcp_conn_t *conn)
{
    return conn->data;
}

const struct sockaddr *tcp_conn_peer(const tcp_conn_t *conn, socklen_t *len)
{
    if (len)
        *len = conn->peerlen;
    return (const struct sockaddr *)&conn->peer;
}

/* --- listener ----------------------------------------------------------------------------- */

static void on_acceptable(uv_poll_t *h, int status, int events);

static void on_pause_end(uv_timer_t *t)
{
    tcp_io_t *io = t->data;
    if (!io->closing)
        uv_poll_start(&io->poll, UV_READABLE, on_acceptable);
}

/* Returns 1 when accepting should go on after accept4 failed with `err`. */
static int accept_failed(tcp_io_t *io, int err)
{
    switch (err) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return 0;
    case EMFILE:
    case ENFILE:
    case ENOBUFS:
    case ENOMEM:
        /* The connection stays in the backlog; polling now would spin, so pause instead. */
        lg_count_drop(io->counters, LG_DROP_TCP_LIMIT);
        uv_poll_stop(&io->poll);
        uv_timer_start(&io->pause, on_pause_end, TCP_IO_PAUSE_MS, 0);
        return 0;
    default: /* EINTR, ECONNABORTED, network errors of that connection: try the next one */
        return 1;
    }
}

static void on_acceptable(uv_poll_t *h, int status, int events)
{
    tcp_io_t *io = h->data;
    if (status < 0)
        return;
    for (int i = 0; i < TCP_IO_ACCEPT_BATCH && !io->closing; i++) {
        struct sockaddr_storage peer;
        socklen_t plen = sizeof peer;
        int cfd = accept4(io->fd, (struct sockaddr *)&peer, &plen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (accept_failed(io, errno))
                continue;
            return;
        }
        if (io->nconns >= io->limits.max_conns) {
            close(cfd);
            lg_count_drop(io->counters, LG_DROP_TCP_LIMIT);
            continue;
        }
        conn_open(io, cfd, &peer, plen);
    }
}

static void on_poll_closed(uv_handle_t *h)
{
    tcp_io_t *io = h->data;
    close(io->fd);
    io->fd = -1;
}

static void set_limits(tcp_io_limits_t *out, const tcp_io_limits_t *in)
{
    tcp_io_limits_t none = {0};
    if (!in)
        in = &none;
    out->max_conns = in->max_conns ? in->max_conns : TCP_IO_MAX_CONNS;
    out->idle_ms = in->idle_ms ? in->idle_ms : TCP_IO_IDLE_MS;
    out->max_queued = in->max_queued ? in->max_queued : TCP_IO_MAX_QUEUED;
}

/* libuv writes with write(2): a peer that reset the connection would raise SIGPIPE and kill the
 * process. Ignore it (unless the process installed its own handler) so the write fails with EPIPE.
 */
static void ignore_sigpipe(void)
{
    struct sigaction sa;
    if (sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_DFL) {
        sa.sa_handler = SIG_IGN;
        sigaction(SIGPIPE, &sa, NULL);
    }
}

int tcp_io_start(tcp_io_t *io, uv_loop_t *loop, int fd, const tcp_io_callbacks_t *cb,
                 const tcp_io_limits_t *limits, void *ctx, lg_counters_t *counters)
{
    if (!cb || !cb->on_packet) {
        close(fd);
        return LG_EINVAL;
    }
    memset(io, 0, sizeof *io);
    io->fd = fd;
    io->loop = loop;
    io->cb = *cb;
    io->ctx = ctx;
    io->counters = counters;
    set_limits(&io->limits, limits);
    ignore_sigpipe();
    uv_timer_init(loop, &io->pause);
    io->pause.data = io;
    int rc = uv_poll_init(loop, &io->poll, fd);
    if (rc != 0) {
        io->closing = 1;
        uv_close((uv_handle_t *)&io->pause, NULL);
        close(fd);
        io->fd = -1;
        return rc;
    }
    io->poll.data = io;
    rc = uv_poll_start(&io->poll, UV_READABLE, on_acceptable);
    if (rc != 0)
        tcp_io_close(io);
    return rc;
}

void tcp_io_close(tcp_io_t *io)
{
    if (io->closing)
        return;
    io->closing = 1;
    for (tcp_conn_t *c = io->conns; c; c = c->next)
        conn_close(c);
    uv_close((uv_handle_t *)&io->pause, NULL);
    uv_close((uv_handle_t *)&io->poll, on_poll_closed);
}
