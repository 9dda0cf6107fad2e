/* The impairment proxy's sockets and thread: UDP flows and TCP connection pairs forwarded through
 * the link model of impair_shaper.c (see impair.h). */
#include "bench/impair.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define POLL_MAX_MS   100 /* the longest poll: bounds how late impair_stop is noticed */
#define UDP_BATCH     64  /* datagrams read per socket per wake */
#define MAX_POLLFDS   (3 + IMPAIR_MAX_FLOWS + 2 * IMPAIR_MAX_CONNS)
#define RECV_BUF      65536
#define TAG_FLOW_BITS 8 /* a UDP slot's tag: flow index | generation << 8 */
#define TAG_GEN_MASK  (UINT32_MAX >> TAG_FLOW_BITS)

typedef struct {
    int fd; /* -1: free */
    uint32_t gen;
    struct sockaddr_storage client;
    socklen_t client_len;
    uint64_t last_us;
    uint32_t queued; /* slots in either FIFO */
} flow_t;

/* One direction of a TCP pair: reads `from`, shapes, writes `to`. */
typedef struct {
    int from_eof;
    impair_shaper_t shaper;
    impair_fifo_t fifo;
} stream_dir_t;

typedef struct {
    int client, upstream; /* -1: free */
    int connecting;       /* upstream connect() in progress */
    stream_dir_t up, down;
} conn_t;

struct impair_proxy {
    impair_opts_t o;
    struct sockaddr_storage listen_addr, up_addr;
    socklen_t listen_len, up_len;
    int wake[2]; /* pipe: a byte stops the loop */
    int udp_fd, tcp_fd;
    uint32_t udp_overhead, tcp_overhead;
    impair_shaper_t udp_up, udp_down;
    impair_fifo_t fifo_up, fifo_down;
    flow_t flows[IMPAIR_MAX_FLOWS];
    conn_t conns[IMPAIR_MAX_CONNS];
    uint64_t conn_serial;
    impair_counters_t tcp_closed_up, tcp_closed_down; /* of connections already closed */
    impair_stats_t st;                                /* counters owned by the loop */
    uint8_t *buf;                                     /* RECV_BUF */
    pthread_t thread;
    pthread_mutex_t lock; /* guards snap */
    impair_stats_t snap;
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int impair_parse_addr(const char *s, struct sockaddr_storage *ss, unsigned *len)
{
    char host[64];
    const char *colon = strrchr(s, ':');
    if (!colon || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']')
            return -1;
        s++, hl -= 2;
    }
    if (hl >= sizeof host)
        return -1;
    memcpy(host, s, hl);
    host[hl] = '\0';
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || end == colon + 1 || port < 1 || port > 65535)
        return -1;
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        *len = sizeof *a4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return 0;
    }
    return -1;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
    return x->sin6_port == y->sin6_port &&
           memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
}

/* --- UDP -------------------------------------------------------------------------------------- */

static flow_t *flow_find(impair_proxy_t *p, const struct sockaddr_storage *from)
{
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++)
        if (p->flows[i].fd >= 0 && same_addr(&p->flows[i].client, from))
            return &p->flows[i];
    return NULL;
}

static flow_t *flow_open(impair_proxy_t *p, const struct sockaddr_storage *from, socklen_t len)
{
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++) {
        flow_t *f = &p->flows[i];
        if (f->fd >= 0)
            continue;
        int fd = socket(p->up_addr.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return NULL;
        if (connect(fd, (const struct sockaddr *)&p->up_addr, p->up_len) != 0) {
            close(fd);
            return NULL;
        }
        f->fd = fd;
        f->gen++;
        f->client = *from;
        f->client_len = len;
        f->queued = 0;
        p->st.flows_created++;
        p->st.flows_open++;
        return f;
    }
    return NULL;
}

static void flow_close(impair_proxy_t *p, flow_t *f)
{
    close(f->fd);
    f->fd = -1;
    p->st.flows_open--;
}

/* Shapes one datagram and queues it; tag names its flow. */
static void udp_admit(impair_proxy_t *p, impair_shaper_t *s, impair_fifo_t *q, flow_t *f,
                      const uint8_t *data, size_t len, uint64_t now)
{
    if (len > IMPAIR_SLOT_BYTES || q->count == q->cap) {
        s->c.dropped_other++;
        return;
    }
    uint64_t release;
    if (impair_shaper_admit(s, now, len, &release) != IMPAIR_PASS)
        return;
    impair_slot_t *slot = impair_fifo_push(q);
    slot->release_us = release;
    slot->tag = (uint32_t)(f - p->flows) | f->gen << TAG_FLOW_BITS;
    slot->len = (uint16_t)len;
    memcpy(slot->data, data, len);
    f->queued++;
}

static void udp_read_clients(impair_proxy_t *p, uint64_t now)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        struct sockaddr_storage from;
        socklen_t flen = sizeof from;
        ssize_t n =
            recvfrom(p->udp_fd, p->buf, RECV_BUF, MSG_DONTWAIT, (struct sockaddr *)&from, &flen);
        if (n < 0)
            return;
        flow_t *f = flow_find(p, &from);
        if (!f)
            f = flow_open(p, &from, flen);
        if (!f) {
            p->udp_up.c.dropped_other++;
            continue;
        }
        f->last_us = now;
        udp_admit(p, &p->udp_up, &p->fifo_up, f, p->buf, (size_t)n, now);
    }
}

static void udp_read_upstream(impair_proxy_t *p, flow_t *f, uint64_t now)
{
    for (int i = 0; i < UDP_BATCH; i++) {
        ssize_t n = recv(f->fd, p->buf, RECV_BUF, MSG_DONTWAIT);
        if (n < 0)
            return; /* EAGAIN, or an ICMP error from the upstream: datagrams may be lost */
        f->last_us = now;
        udp_admit(p, &p->udp_down, &p->fifo_down, f, p->buf, (size_t)n, now);
    }
}

/* Sends every due datagram of one direction. */
static void udp_release(impair_proxy_t *p, impair_fifo_t *q, bool up, uint64_t now)
{
    impair_slot_t *s;
    while ((s = impair_fifo_due(q, now)) != NULL) {
        flow_t *f = &p->flows[s->tag & ((1u << TAG_FLOW_BITS) - 1)];
        if (f->fd >= 0 &&
            (f->gen & TAG_GEN_MASK) == s->tag >> TAG_FLOW_BITS) { /* flows never close with slots */
            if (up)
                send(f->fd, s->data, s->len, MSG_DONTWAIT | MSG_NOSIGNAL);
            else
                sendto(p->udp_fd, s->data, s->len, MSG_DONTWAIT | MSG_NOSIGNAL,
                       (const struct sockaddr *)&f->client, f->client_len);
            f->queued--;
        }
        impair_fifo_pop(q);
    }
}

static void udp_expire(impair_proxy_t *p, uint64_t now)
{
    uint64_t idle = (uint64_t)(p->o.idle_ms ? p->o.idle_ms : IMPAIR_DEFAULT_IDLE_MS) * 1000;
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++) {
        flow_t *f = &p->flows[i];
        if (f->fd >= 0 && f->queued == 0 && now - f->last_us > idle) {
            flow_close(p, f);
            p->st.flows_expired++;
        }
    }
}

/* --- TCP -------------------------------------------------------------------------------------- */

static void counters_add(impair_counters_t *to, const impair_counters_t *c)
{
    to->forwarded += c->forwarded;
    to->bytes += c->bytes;
    to->dropped_loss += c->dropped_loss;
    to->dropped_queue += c->dropped_queue;
    to->retransmitted += c->retransmitted;
    to->dropped_other += c->dropped_other;
}

static void conn_close(impair_proxy_t *p, conn_t *c)
{
    counters_add(&p->tcp_closed_up, &c->up.shaper.c);
    counters_add(&p->tcp_closed_down, &c->down.shaper.c);
    close(c->client);
    close(c->upstream);
    impair_fifo_free(&c->up.fifo);
    impair_fifo_free(&c->down.fifo);
    c->client = c->upstream = -1;
    p->st.tcp_open--;
}

static int dir_init(impair_proxy_t *p, stream_dir_t *d, const impair_params_t *params)
{
    impair_params_t prm = *params;
    prm.seed += p->conn_serial * 0x9E3779B97F4A7C15ull; /* each connection its own pattern */
    impair_shaper_init(&d->shaper, &prm, IMPAIR_STREAM, p->tcp_overhead);
    d->from_eof = 0;
    return impair_fifo_init(&d->fifo, IMPAIR_TCP_SLOTS);
}

static void tcp_accept(impair_proxy_t *p)
{
    int fd = accept4(p->tcp_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0)
        return;
    conn_t *c = NULL;
    for (int i = 0; i < IMPAIR_MAX_CONNS && !c; i++)
        if (p->conns[i].client < 0)
            c = &p->conns[i];
    int up = c ? socket(p->up_addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) : -1;
    if (up >= 0 && connect(up, (const struct sockaddr *)&p->up_addr, p->up_len) != 0 &&
        errno != EINPROGRESS) {
        close(up);
        up = -1;
    }
    p->conn_serial++;
    if (up < 0 || dir_init(p, &c->up, &p->o.up) != 0 || dir_init(p, &c->down, &p->o.down) != 0) {
        if (c) {
            impair_fifo_free(&c->up.fifo);
            impair_fifo_free(&c->down.fifo);
        }
        if (up >= 0)
            close(up);
        close(fd);
        p->st.tcp_refused++;
        return;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    c->client = fd;
    c->upstream = up;
    c->connecting = 1;
    p->st.tcp_accepted++;
    p->st.tcp_open++;
}

/* May the direction read more: its FIFO has room and its backlog is under the queue limit. */
static bool dir_can_read(const stream_dir_t *d, uint64_t now)
{
    return !d->from_eof && d->fifo.count < d->fifo.cap &&
           impair_shaper_backlog_us(&d->shaper, now) < impair_shaper_queue_limit_us(&d->shaper);
}

/* Reads one segment from fd into the direction. Returns -1 when the connection must close. */
static int dir_read(impair_proxy_t *p, stream_dir_t *d, int fd, uint64_t now)
{
    impair_slot_t *slot = impair_fifo_push(&d->fifo);
    if (!slot)
        return 0;
    ssize_t n = recv(fd, slot->data, IMPAIR_TCP_SEGMENT, MSG_DONTWAIT);
    if (n <= 0) {
        d->fifo.count--; /* un-push: nothing was read */
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return 0;
        if (n < 0)
            return -1;
        d->from_eof = 1;
        return 0;
    }
    uint64_t release;
    impair_shaper_admit(&d->shaper, now, (size_t)n, &release); /* streams always pass */
    slot->release_us = release;
    slot->len = (uint16_t)n;
    return 0;
}

/* Writes the direction's due segments to fd. Returns -1 when the connection must close. */
static int dir_write(stream_dir_t *d, int fd, uint64_t now)
{
    impair_slot_t *s;
    while ((s = impair_fifo_due(&d->fifo, now)) != NULL) {
        ssize_t n = send(fd, s->data + s->sent, s->len - s->sent, MSG_DONTWAIT | MSG_NOSIGNAL);
        if (n < 0)
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
        s->sent = (uint16_t)(s->sent + n);
        if (s->sent < s->len)
            return 0;
        impair_fifo_pop(&d->fifo);
    }
    return 0;
}

static void tcp_connected(conn_t *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->upstream, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    c->connecting = err ? -1 : 0;
}

/* Handles one connection's poll results and due writes. */
static void conn_service(impair_proxy_t *p, conn_t *c, short rev_client, short rev_up, uint64_t now)
{
    if (c->connecting && (rev_up & (POLLOUT | POLLERR | POLLHUP)))
        tcp_connected(c);
    if (c->connecting < 0) {
        p->st.tcp_refused++;
        conn_close(p, c);
        return;
    }
    if ((rev_client | rev_up) & POLLERR) { /* reset: nothing more will be delivered */
        conn_close(p, c);
        return;
    }
    int rc = 0;
    if ((rev_client & (POLLIN | POLLHUP | POLLERR)) && dir_can_read(&c->up, now))
        rc |= dir_read(p, &c->up, c->client, now);
    if ((rev_up & (POLLIN | POLLHUP | POLLERR)) && !c->connecting && dir_can_read(&c->down, now))
        rc |= dir_read(p, &c->down, c->upstream, now);
    if (!c->connecting)
        rc |= dir_write(&c->up, c->upstream, now);
    rc |= dir_write(&c->down, c->client, now);
    bool drained =
        (c->up.from_eof && c->up.fifo.count == 0) || (c->down.from_eof && c->down.fifo.count == 0);
    if (rc != 0 || drained)
        conn_close(p, c); /* one side is gone and has nothing more coming: close both */
}

/* --- the loop --------------------------------------------------------------------------------- */

/* Earliest time after now something is due: a release, or a stream whose backlog falls under its
 * limit. A TCP segment already due waits for its socket (POLLOUT), not for the clock. */
static uint64_t next_due(impair_proxy_t *p, uint64_t now)
{
    uint64_t t = impair_fifo_next(&p->fifo_up);
    uint64_t d = impair_fifo_next(&p->fifo_down);
    t = d < t ? d : t;
    for (int i = 0; i < IMPAIR_MAX_CONNS; i++) {
        conn_t *c = &p->conns[i];
        if (c->client < 0)
            continue;
        stream_dir_t *dirs[2] = {&c->up, &c->down};
        for (int k = 0; k < 2; k++) {
            uint64_t r = impair_fifo_next(&dirs[k]->fifo);
            if (r > now && r < t)
                t = r;
            uint64_t lim = impair_shaper_queue_limit_us(&dirs[k]->shaper);
            uint64_t depart = dirs[k]->shaper.last_depart_us;
            if (!dirs[k]->from_eof && depart >= lim && depart - lim + 1 > now &&
                depart - lim + 1 < t)
                t = depart - lim + 1;
        }
    }
    return t;
}

static int poll_timeout_ms(impair_proxy_t *p, uint64_t now)
{
    uint64_t due = next_due(p, now);
    if (due <= now)
        return 0;
    uint64_t ms = (due - now + 999) / 1000;
    return ms < POLL_MAX_MS ? (int)ms : POLL_MAX_MS;
}

static void publish_stats(impair_proxy_t *p)
{
    impair_stats_t s = p->st;
    s.udp_up = p->udp_up.c;
    s.udp_down = p->udp_down.c;
    s.tcp_up = p->tcp_closed_up;
    s.tcp_down = p->tcp_closed_down;
    for (int i = 0; i < IMPAIR_MAX_CONNS; i++)
        if (p->conns[i].client >= 0) {
            counters_add(&s.tcp_up, &p->conns[i].up.shaper.c);
            counters_add(&s.tcp_down, &p->conns[i].down.shaper.c);
        }
    pthread_mutex_lock(&p->lock);
    p->snap = s;
    pthread_mutex_unlock(&p->lock);
}

/* Fills fds; idx[k] says what fds[k] is: -1 wake, -2 UDP, -3 TCP listener, flow i, or
 * IMPAIR_MAX_FLOWS + 2 * conn (+1 for its upstream side). */
static int build_pollfds(impair_proxy_t *p, struct pollfd *fds, int *idx, uint64_t now)
{
    int n = 0;
    fds[n] = (struct pollfd){p->wake[0], POLLIN, 0};
    idx[n++] = -1;
    if (p->udp_fd >= 0) {
        fds[n] = (struct pollfd){p->udp_fd, POLLIN, 0};
        idx[n++] = -2;
    }
    if (p->tcp_fd >= 0 && p->st.tcp_open < IMPAIR_MAX_CONNS) {
        fds[n] = (struct pollfd){p->tcp_fd, POLLIN, 0};
        idx[n++] = -3;
    }
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++)
        if (p->flows[i].fd >= 0) {
            fds[n] = (struct pollfd){p->flows[i].fd, POLLIN, 0};
            idx[n++] = i;
        }
    for (int i = 0; i < IMPAIR_MAX_CONNS; i++) {
        conn_t *c = &p->conns[i];
        if (c->client < 0)
            continue;
        short ev = dir_can_read(&c->up, now) ? POLLIN : 0;
        if (impair_fifo_due(&c->down.fifo, now))
            ev |= POLLOUT;
        fds[n] = (struct pollfd){c->client, ev, 0};
        idx[n++] = IMPAIR_MAX_FLOWS + 2 * i;
        ev = !c->connecting && dir_can_read(&c->down, now) ? POLLIN : 0;
        if (c->connecting || impair_fifo_due(&c->up.fifo, now))
            ev |= POLLOUT;
        fds[n] = (struct pollfd){c->upstream, ev, 0};
        idx[n++] = IMPAIR_MAX_FLOWS + 2 * i + 1;
    }
    return n;
}

static void *proxy_thread(void *arg)
{
    impair_proxy_t *p = arg;
    struct pollfd fds[MAX_POLLFDS];
    int idx[MAX_POLLFDS];
    short crev[IMPAIR_MAX_CONNS][2];
    for (;;) {
        uint64_t now = now_us();
        int n = build_pollfds(p, fds, idx, now);
        if (poll(fds, (nfds_t)n, poll_timeout_ms(p, now)) < 0 && errno != EINTR)
            break;
        now = now_us();
        memset(crev, 0, sizeof crev);
        for (int k = 0; k < n; k++) {
            short rev = fds[k].revents;
            if (idx[k] == -1 && rev)
                goto out;
            if (!rev)
                continue;
            if (idx[k] == -2)
                udp_read_clients(p, now);
            else if (idx[k] == -3)
                tcp_accept(p);
            else if (idx[k] < IMPAIR_MAX_FLOWS)
                udp_read_upstream(p, &p->flows[idx[k]], now);
            else
                crev[(idx[k] - IMPAIR_MAX_FLOWS) / 2][(idx[k] - IMPAIR_MAX_FLOWS) % 2] = rev;
        }
        udp_release(p, &p->fifo_up, true, now);
        udp_release(p, &p->fifo_down, false, now);
        for (int i = 0; i < IMPAIR_MAX_CONNS; i++)
            if (p->conns[i].client >= 0)
                conn_service(p, &p->conns[i], crev[i][0], crev[i][1], now);
        udp_expire(p, now);
        publish_stats(p);
    }
out:
    publish_stats(p);
    return NULL;
}

/* --- start and stop --------------------------------------------------------------------------- */

static int bind_socket(impair_proxy_t *p, int type, char *err, size_t errlen)
{
    int fd = socket(p->listen_addr.ss_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd >= 0 && type == SOCK_STREAM)
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (fd < 0 || bind(fd, (const struct sockaddr *)&p->listen_addr, p->listen_len) != 0 ||
        (type == SOCK_STREAM && listen(fd, 16) != 0)) {
        snprintf(err, errlen, "impair: %s %s on %s: %s", fd < 0 ? "socket" : "bind",
                 type == SOCK_STREAM ? "TCP" : "UDP", p->o.listen, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

static void proxy_free(impair_proxy_t *p)
{
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++)
        if (p->flows[i].fd >= 0)
            flow_close(p, &p->flows[i]);
    for (int i = 0; i < IMPAIR_MAX_CONNS; i++)
        if (p->conns[i].client >= 0)
            conn_close(p, &p->conns[i]);
    if (p->udp_fd >= 0)
        close(p->udp_fd);
    if (p->tcp_fd >= 0)
        close(p->tcp_fd);
    if (p->wake[0] >= 0) {
        close(p->wake[0]);
        close(p->wake[1]);
    }
    impair_fifo_free(&p->fifo_up);
    impair_fifo_free(&p->fifo_down);
    free(p->buf);
    pthread_mutex_destroy(&p->lock);
    free(p);
}

static int setup(impair_proxy_t *p, const impair_opts_t *o, char *err, size_t errlen)
{
    unsigned l1, l2;
    if (!o->listen || impair_parse_addr(o->listen, &p->listen_addr, &l1) != 0 || !o->upstream ||
        impair_parse_addr(o->upstream, &p->up_addr, &l2) != 0 ||
        p->listen_addr.ss_family != p->up_addr.ss_family || (o->no_udp && o->no_tcp)) {
        snprintf(err, errlen, "impair: listen '%s' and upstream '%s' must be IP:PORT of one family",
                 o->listen ? o->listen : "", o->upstream ? o->upstream : "");
        return -1;
    }
    p->listen_len = l1;
    p->up_len = l2;
    bool v6 = p->listen_addr.ss_family == AF_INET6;
    p->udp_overhead = v6 ? IMPAIR_OVERHEAD_UDP6 : IMPAIR_OVERHEAD_UDP4;
    p->tcp_overhead = v6 ? IMPAIR_OVERHEAD_TCP6 : IMPAIR_OVERHEAD_TCP4;
    impair_shaper_init(&p->udp_up, &o->up, IMPAIR_DATAGRAM, p->udp_overhead);
    impair_shaper_init(&p->udp_down, &o->down, IMPAIR_DATAGRAM, p->udp_overhead);
    p->buf = malloc(RECV_BUF);
    if (!p->buf || pipe2(p->wake, O_CLOEXEC) != 0 ||
        impair_fifo_init(&p->fifo_up, IMPAIR_UDP_SLOTS) != 0 ||
        impair_fifo_init(&p->fifo_down, IMPAIR_UDP_SLOTS) != 0) {
        snprintf(err, errlen, "impair: out of memory or descriptors");
        return -1;
    }
    if (!o->no_udp && (p->udp_fd = bind_socket(p, SOCK_DGRAM, err, errlen)) < 0)
        return -1;
    if (!o->no_tcp && (p->tcp_fd = bind_socket(p, SOCK_STREAM, err, errlen)) < 0)
        return -1;
    return 0;
}

impair_proxy_t *impair_start(const impair_opts_t *opts, char *err, size_t errlen)
{
    impair_proxy_t *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(err, errlen, "impair: out of memory");
        return NULL;
    }
    p->o = *opts;
    p->udp_fd = p->tcp_fd = -1;
    p->wake[0] = p->wake[1] = -1;
    for (int i = 0; i < IMPAIR_MAX_FLOWS; i++)
        p->flows[i].fd = -1;
    for (int i = 0; i < IMPAIR_MAX_CONNS; i++)
        p->conns[i].client = p->conns[i].upstream = -1;
    pthread_mutex_init(&p->lock, NULL);
    if (setup(p, opts, err, errlen) != 0) {
        proxy_free(p);
        return NULL;
    }
    p->o.listen = p->o.upstream = NULL; /* the caller's strings are not kept */
    if (pthread_create(&p->thread, NULL, proxy_thread, p) != 0) {
        snprintf(err, errlen, "impair: cannot start the thread");
        proxy_free(p);
        return NULL;
    }
    return p;
}

void impair_get_stats(impair_proxy_t *p, impair_stats_t *out)
{
    pthread_mutex_lock(&p->lock);
    *out = p->snap;
    pthread_mutex_unlock(&p->lock);
}

void impair_stop(impair_proxy_t *p)
{
    if (!p)
        return;
    char b = 1;
    while (write(p->wake[1], &b, 1) < 0 && errno == EINTR)
        ;
    pthread_join(p->thread, NULL);
    proxy_free(p);
}
