/* recvmmsg/sendmmsg batching on a uv_poll_t: the worker owns the socket, libuv only reports
 * readiness, so one wake-up reads up to UDP_IO_BATCH datagrams with a single system call. */
#include "sfu/udp_io.h"
#include "sfu/lg_error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Batches read per readiness callback, so one busy socket cannot starve the loop's timers. */
#define UDP_IO_MAX_BATCHES 8

static int make_sockaddr(const char *ip, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return LG_EINVAL;
}

int udp_io_bind(const char *ip, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (make_sockaddr(ip, port, &ss, &sl) != 0) {
        snprintf(err, errlen, "media address '%s' is not an IP address", ip);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "UDP socket for %s: %s", ip, strerror(errno));
        return -1;
    }
    int one = 1, bufsz = 4 << 20;
    if (ss.ss_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    /* Large buffers absorb bursts (a keyframe fanned out to many subscribers). */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
        snprintf(err, errlen, "cannot bind UDP %s port %u: %s", ip, port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static void rx_prepare(udp_io_t *io)
{
    for (int i = 0; i < UDP_IO_BATCH; i++) {
        io->rx_iov[i].iov_base = io->rx_buf + (size_t)i * UDP_IO_RX_BUF;
        io->rx_iov[i].iov_len = UDP_IO_RX_BUF;
        struct msghdr *h = &io->rx_msgs[i].msg_hdr;
        memset(h, 0, sizeof *h);
        h->msg_name = &io->rx_addr[i];
        h->msg_namelen = sizeof io->rx_addr[i];
        h->msg_iov = &io->rx_iov[i];
        h->msg_iovlen = 1;
    }
}

/* Reads one batch; returns the number of datagrams read (0 when the socket is drained). */
static int rx_batch(udp_io_t *io)
{
    rx_prepare(io);
    int n = recvmmsg(io->fd, io->rx_msgs, UDP_IO_BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return 0;
    for (int i = 0; i < n; i++) {
        size_t len = io->rx_msgs[i].msg_len;
        struct msghdr *h = &io->rx_msgs[i].msg_hdr;
        io->counters->packets_in++;
        io->counters->bytes_in += len;
        if (h->msg_flags & MSG_TRUNC) {
            lg_count_drop(io->counters, LG_DROP_TRUNCATED);
            continue;
        }
        io->on_packet(io->ctx, io, io->rx_iov[i].iov_base, len, (struct sockaddr *)h->msg_name,
                      h->msg_namelen);
    }
    return n;
}

static void on_readable(uv_poll_t *handle, int status, int events)
{
    udp_io_t *io = handle->data;
    if (status < 0)
        return;
    for (int b = 0; b < UDP_IO_MAX_BATCHES; b++) {
        int n = rx_batch(io);
        udp_io_flush(io);
        if (n < UDP_IO_BATCH)
            break;
    }
}

int udp_io_start(udp_io_t *io, uv_loop_t *loop, int fd, udp_io_packet_fn on_packet, void *ctx,
                 lg_counters_t *counters)
{
    io->fd = fd;
    io->on_packet = on_packet;
    io->ctx = ctx;
    io->counters = counters;
    io->tx_count = 0;
    socklen_t sl = sizeof io->local;
    getsockname(fd, (struct sockaddr *)&io->local, &sl);
    io->family = io->local.ss_family;
    io->rx_buf = malloc((size_t)UDP_IO_BATCH * UDP_IO_RX_BUF);
    io->tx_buf = malloc((size_t)UDP_IO_TX_SLOTS * UDP_IO_TX_BUF);
    if (!io->rx_buf || !io->tx_buf) {
        free(io->rx_buf);
        free(io->tx_buf);
        return LG_ENOMEM;
    }
    int rc = uv_poll_init(loop, &io->poll, fd);
    if (rc == 0) {
        io->poll.data = io;
        rc = uv_poll_start(&io->poll, UV_READABLE, on_readable);
    }
    return rc;
}

uint8_t *udp_io_tx_slot(udp_io_t *io)
{
    if (io->tx_count == UDP_IO_TX_SLOTS)
        udp_io_flush(io);
    return io->tx_buf + (size_t)io->tx_count * UDP_IO_TX_BUF;
}

void udp_io_tx_commit(udp_io_t *io, size_t len, const struct sockaddr *to, socklen_t tolen)
{
    int i = io->tx_count++;
    memcpy(&io->tx_addr[i], to, tolen);
    io->tx_iov[i].iov_base = io->tx_buf + (size_t)i * UDP_IO_TX_BUF;
    io->tx_iov[i].iov_len = len;
    struct msghdr *h = &io->tx_msgs[i].msg_hdr;
    memset(h, 0, sizeof *h);
    h->msg_name = &io->tx_addr[i];
    h->msg_namelen = tolen;
    h->msg_iov = &io->tx_iov[i];
    h->msg_iovlen = 1;
}

void udp_io_flush(udp_io_t *io)
{
    int off = 0;
    while (off < io->tx_count) {
        int n = sendmmsg(io->fd, io->tx_msgs + off, (unsigned)(io->tx_count - off), MSG_DONTWAIT);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            /* EAGAIN or a per-destination error: drop the head and go on with the rest. */
            io->counters->send_errors++;
            off++;
            continue;
        }
        for (int i = off; i < off + n; i++) {
            io->counters->packets_out++;
            io->counters->bytes_out += io->tx_msgs[i].msg_len;
        }
        off += n;
    }
    io->tx_count = 0;
}

static void on_poll_closed(uv_handle_t *h)
{
    udp_io_t *io = h->data;
    close(io->fd);
    io->fd = -1;
    free(io->rx_buf);
    free(io->tx_buf);
    io->rx_buf = io->tx_buf = NULL;
}

void udp_io_close(udp_io_t *io)
{
    uv_poll_stop(&io->poll);
    uv_close((uv_handle_t *)&io->poll, on_poll_closed);
}
