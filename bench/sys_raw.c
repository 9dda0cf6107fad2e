/* The bench's raw system: legation-raw-forwarder as the server and participants on plain UDP
 * sockets sending the same RTP sizes, rates and payload trailer as bench/peer, with no ICE, DTLS
 * or SRTP — the machine's own ceiling for the same fan-out. */
#include "bench/system.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/measure.h"
#include "bench/peer/peer.h"
#include "bench/raw_proto.h"
#include "sfu/lg_error.h"

#define START_TIMEOUT_MS 5000
#define NS_PER_MS        1000000LL
#define NS_PER_S         1000000000LL
#define AUDIO_PERIOD_NS  (20 * NS_PER_MS)
#define CATCH_UP_NS      (200 * NS_PER_MS)
#define VIDEO_PAYLOAD    1200 /* as bench/peer: bytes of VP8 payload per packet */
#define MAX_FRAME_PKTS   64
#define KEY_INTERVAL     90
#define RTP_HDR          12
#define RX_BATCH         32
#define PKT_MAX          2048

typedef struct {
    pid_t pid;
    char log[512];
} raw_sys_t;

/* --- the forwarder process ----------------------------------------------------------------------
 */

static int udp_socket_to(const char *host, uint16_t port, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return LG_EIO;
    }
    int big = BENCH_SOCKET_BUFFER; /* what the Legation and Janus participants ask for */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, errlen, "connect %s:%u: %s", host, port, strerror(errno));
        close(fd);
        return LG_EIO;
    }
    return fd;
}

/* Sends a control message and waits for the reply starting with RAW_MAGIC (retrying every 100 ms
 * until timeout_ms). Media arriving meanwhile is discarded. Returns 0 with reply filled. */
static int control(int fd, const char *msg, char *reply, size_t cap, int timeout_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
    while (bench_now_ns() < deadline) {
        if (send(fd, msg, strlen(msg), 0) < 0 && errno != ECONNREFUSED)
            return LG_EIO;
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int64_t retry = bench_now_ns() + 100 * NS_PER_MS;
        while (bench_now_ns() < retry) {
            if (poll(&pfd, 1, 20) <= 0)
                continue;
            ssize_t n = recv(fd, reply, cap - 1, 0);
            if (n >= RAW_MAGIC_LEN && memcmp(reply, RAW_MAGIC, RAW_MAGIC_LEN) == 0) {
                reply[n] = '\0';
                return 0;
            }
        }
    }
    return LG_EEXPIRED;
}

static int raw_start(bench_system_t *sys, const bench_env_t *env, char *err, size_t errlen)
{
    raw_sys_t *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    sys->impl = s;
    sys->env = env;
    snprintf(s->log, sizeof s->log, "%s/raw-forwarder.log", env->work_dir);
    char listen[80];
    snprintf(listen, sizeof listen, "%s:%u", env->host, env->signal_port);
    char *argv[] = {(char *)env->raw_path, "--listen", listen, NULL};
    s->pid = bench_spawn(argv, env->server_cpu, s->log, err, errlen);
    if (s->pid < 0)
        return (int)s->pid;
    int fd = udp_socket_to(env->host, env->signal_port, err, errlen);
    if (fd < 0)
        return fd;
    char reply[128];
    int rc = control(fd, RAW_MAGIC "PING", reply, sizeof reply, START_TIMEOUT_MS);
    close(fd);
    if (rc != 0 || !bench_alive(s->pid)) {
        snprintf(err, errlen, "%s did not answer on %s; see %s", env->raw_path, listen, s->log);
        return LG_EEXPIRED;
    }
    return 0;
}

static pid_t raw_pid(const bench_system_t *sys)
{
    const raw_sys_t *s = sys->impl;
    return s ? s->pid : 0;
}

static void raw_stop(bench_system_t *sys)
{
    raw_sys_t *s = sys->impl;
    if (!s)
        return;
    if (s->pid > 0)
        bench_kill(s->pid, 2000);
    free(s);
    sys->impl = NULL;
}

/* --- participants ------------------------------------------------------------------------------
 */

typedef struct {
    bool enabled;
    uint8_t pt, stream;
    uint16_t seq;
    uint32_t ssrc, trailer_seq;
    int64_t period_ns, next_ns;
} raw_tx_t;

typedef struct {
    int fd;
    bench_participant_opts_t o;
    bool sending;
    raw_tx_t audio, video;
    uint64_t frame_no;
    bench_rx_t *rx;
    bench_counts_t c;
    uint8_t tx[PKT_MAX];
    uint8_t rxbuf[RX_BATCH][PKT_MAX];
    char err[256];
} raw_peer_t;

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static void send_rtp(raw_peer_t *r, raw_tx_t *tx, int marker, size_t payload, int64_t now)
{
    uint8_t *b = r->tx;
    b[0] = 0x80;
    b[1] = (uint8_t)((marker ? 0x80 : 0) | tx->pt);
    b[2] = (uint8_t)(tx->seq >> 8);
    b[3] = (uint8_t)tx->seq;
    tx->seq++;
    put32(b + 4, (uint32_t)(now / 11111)); /* ~90 kHz; nobody decodes it */
    put32(b + 8, tx->ssrc);
    b[RTP_HDR] = tx->stream ? 0x90 : 0xFC; /* VP8 descriptor start / Opus TOC */
    peer_trailer_t t = {r->o.sender_id, tx->stream, tx->trailer_seq++, (uint64_t)now};
    peer_trailer_write(b + RTP_HDR, payload, &t);
    size_t len = RTP_HDR + payload;
    if (send(r->fd, b, len, 0) < 0) {
        r->c.send_drops++;
        return;
    }
    r->c.bytes_sent += len;
    if (tx->stream)
        r->c.video_sent++;
    else
        r->c.audio_sent++;
}

/* A frame as bench/peer sends it: bitrate / fps bytes (3x on a key frame) in <= 1200-byte parts. */
static void send_frame(raw_peer_t *r, int64_t now)
{
    int key = r->frame_no % KEY_INTERVAL == 0;
    size_t bytes = (size_t)r->o.video_kbps * 1000 / 8 / r->o.video_fps * (key ? 3 : 1);
    size_t npkt = (bytes + VIDEO_PAYLOAD - 1) / VIDEO_PAYLOAD;
    npkt = npkt == 0 ? 1 : npkt > MAX_FRAME_PKTS ? MAX_FRAME_PKTS : npkt;
    size_t each = bytes / npkt;
    if (each < PEER_TRAILER_SIZE + 16)
        each = PEER_TRAILER_SIZE + 16;
    if (each > VIDEO_PAYLOAD)
        each = VIDEO_PAYLOAD;
    for (size_t i = 0; i < npkt; i++)
        send_rtp(r, &r->video, i + 1 == npkt, each, now);
    r->frame_no++;
}

static void tick(raw_peer_t *r, raw_tx_t *tx, int64_t now)
{
    if (!tx->enabled || !r->sending)
        return;
    if (tx->next_ns == 0 || now - tx->next_ns > CATCH_UP_NS)
        tx->next_ns = now; /* first packet, or the loop was held up: skip, do not burst */
    while (now >= tx->next_ns) {
        if (tx->stream)
            send_frame(r, now);
        else
            send_rtp(r, tx, 0, r->o.audio_payload, now);
        tx->next_ns += tx->period_ns;
    }
}

static int64_t next_wake(const raw_peer_t *r, int64_t deadline)
{
    int64_t t = deadline;
    if (r->sending && r->audio.enabled && r->audio.next_ns && r->audio.next_ns < t)
        t = r->audio.next_ns;
    if (r->sending && r->video.enabled && r->video.next_ns && r->video.next_ns < t)
        t = r->video.next_ns;
    return t;
}

static void drain(raw_peer_t *r)
{
    struct mmsghdr msgs[RX_BATCH];
    struct iovec iov[RX_BATCH];
    for (int round = 0; round < 64; round++) {
        for (int i = 0; i < RX_BATCH; i++) {
            iov[i] = (struct iovec){r->rxbuf[i], PKT_MAX};
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(r->fd, msgs, RX_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int64_t now = bench_now_ns();
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            if (len <= RTP_HDR || (r->rxbuf[i][0] & 0xC0) != 0x80)
                continue; /* control replies, stray datagrams */
            r->c.packets_received++;
            r->c.bytes_received += len;
            bench_rx_payload(r->rx, r->rxbuf[i] + RTP_HDR, len - RTP_HDR, now);
        }
        if (n < RX_BATCH)
            return;
    }
}

static int rp_run(bench_participant_t *p, int duration_ms)
{
    raw_peer_t *r = p->impl;
    int64_t deadline = bench_now_ns() + (int64_t)duration_ms * NS_PER_MS;
    for (;;) {
        int64_t now = bench_now_ns();
        tick(r, &r->audio, now);
        tick(r, &r->video, now);
        drain(r);
        now = bench_now_ns();
        if (now >= deadline)
            return 0;
        int64_t wake = next_wake(r, deadline);
        int ms = wake > now ? (int)((wake - now + NS_PER_MS - 1) / NS_PER_MS) : 0;
        struct pollfd pfd = {.fd = r->fd, .events = POLLIN};
        poll(&pfd, 1, ms);
    }
}

static void rp_set_sending(bench_participant_t *p, bool on)
{
    raw_peer_t *r = p->impl;
    r->sending = on;
    if (!on)
        r->audio.next_ns = r->video.next_ns = 0;
}

static void rp_counts(const bench_participant_t *p, bench_counts_t *out)
{
    const raw_peer_t *r = p->impl;
    *out = r->c;
    uint64_t packets, foreign;
    bench_rx_totals(r->rx, &packets, &out->gaps, &out->late, &foreign);
    snprintf(out->profile, sizeof out->profile, "none");
}

static int rp_streams(const bench_participant_t *p, bench_rx_stream_t *out, int cap)
{
    const raw_peer_t *r = p->impl;
    return bench_rx_streams(r->rx, out, cap);
}

static size_t rp_latency(const bench_participant_t *p, uint32_t *out, size_t cap,
                         uint64_t *measured)
{
    const raw_peer_t *r = p->impl;
    return bench_rx_latency(r->rx, out, cap, measured);
}

static void rp_reset_latency(bench_participant_t *p)
{
    raw_peer_t *r = p->impl;
    bench_rx_reset_latency(r->rx);
}

static const char *rp_last_error(const bench_participant_t *p)
{
    const raw_peer_t *r = p->impl;
    return r->err;
}

static void raw_peer_free(raw_peer_t *r)
{
    if (!r)
        return;
    if (r->fd >= 0)
        close(r->fd);
    bench_rx_free(r->rx);
    free(r);
}

static void rp_leave(bench_participant_t *p)
{
    if (!p)
        return;
    raw_peer_t *r = p->impl;
    char reply[128];
    control(r->fd, RAW_MAGIC "LEAVE", reply, sizeof reply, 500);
    raw_peer_free(r);
    free(p);
}

static const bench_participant_ops_t RAW_PARTICIPANT = {
    .run = rp_run,
    .set_sending = rp_set_sending,
    .counts = rp_counts,
    .streams = rp_streams,
    .latency = rp_latency,
    .reset_latency = rp_reset_latency,
    .last_error = rp_last_error,
    .leave = rp_leave,
};

static void init_tx(raw_tx_t *tx, bool enabled, uint8_t pt, uint8_t stream, int64_t period)
{
    memset(tx, 0, sizeof *tx);
    tx->enabled = enabled;
    tx->pt = pt;
    tx->stream = stream;
    tx->ssrc = (uint32_t)random() | 1;
    tx->period_ns = period;
}

static int raw_join(bench_system_t *sys, const bench_participant_opts_t *oin,
                    bench_participant_t **out, char *err, size_t errlen)
{
    if (oin->mixed_audio) {
        snprintf(err, errlen, "the raw forwarder does not mix audio");
        return LG_EUNSUPPORTED;
    }
    raw_peer_t *r = calloc(1, sizeof *r);
    bench_participant_t *bp = calloc(1, sizeof *bp);
    if (!r || !bp || !(r->rx = bench_rx_new())) {
        free(bp);
        free(r ? r->rx : NULL);
        free(r);
        return LG_ENOMEM;
    }
    r->fd = -1;
    r->o = *oin;
    bench_opts_defaults(&r->o);
    init_tx(&r->audio, r->o.pub_audio, 111, 0, AUDIO_PERIOD_NS);
    init_tx(&r->video, r->o.pub_video, 96, 1, NS_PER_S / r->o.video_fps);
    bp->ops = &RAW_PARTICIPANT;
    bp->sys = sys;
    bp->impl = r;
    bp->sender_id = r->o.sender_id;
    snprintf(bp->name, sizeof bp->name, "%s", r->o.name);
    bp->join_start_ns = bench_now_ns();
    r->fd = udp_socket_to(sys->env->host, sys->env->signal_port, err, errlen);
    if (r->fd < 0) {
        int rc = r->fd;
        raw_peer_free(r);
        free(bp);
        return rc;
    }
    char msg[160], reply[128];
    int flags = (r->o.pub_audio || r->o.pub_video ? RAW_PUB : 0) | (r->o.subscribe ? RAW_SUB : 0);
    snprintf(msg, sizeof msg, RAW_MAGIC "JOIN %s %d", r->o.room, flags);
    int rc = control(r->fd, msg, reply, sizeof reply, r->o.timeout_ms);
    if (rc != 0 || strcmp(reply, RAW_MAGIC "OK") != 0) {
        snprintf(err, errlen, "raw join: %s", rc ? "no answer from the forwarder" : reply);
        raw_peer_free(r);
        free(bp);
        return rc ? rc : LG_EPERM;
    }
    bp->joined_ns = bp->ready_ns = bench_now_ns();
    *out = bp;
    return 0;
}

const bench_system_ops_t bench_sys_raw = {
    .name = "raw",
    .start = raw_start,
    .pid = raw_pid,
    .join = raw_join,
    .stop = raw_stop,
    .encrypted = false,
};
