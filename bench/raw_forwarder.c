/* legation-raw-forwarder: the bench's ceiling. A UDP fan-out with no ICE, DTLS, SRTP or RTP
 * parsing: each datagram from a registered publisher is sent, unchanged, to every other
 * registered subscriber of its room, in batches (recvmmsg / sendmmsg). Control messages are in
 * bench/raw_proto.h. One thread; SIGTERM or SIGINT stops it and prints its counters. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench/raw_proto.h"

#define BATCH        64
#define OUT_BATCH    1024
#define PKT_MAX      2048
#define MAX_MEMBERS  4096
#define HASH_SIZE    8192 /* power of two, > 2 x MAX_MEMBERS */
#define MAX_ROOMS    1024
#define ROOM_MEMBERS 256
#define ROOM_NAME    65

typedef struct {
    struct sockaddr_in addr;
    uint64_t key; /* ip << 16 | port; 0: free */
    int room;
    int flags;
} member_t;

typedef struct {
    char name[ROOM_NAME];
    int members[ROOM_MEMBERS];
    int n;
} room_t;

static member_t g_members[MAX_MEMBERS];
static int g_nmembers;
static int g_hash[HASH_SIZE]; /* member index + 1; 0 empty */
static room_t g_rooms[MAX_ROOMS];
static int g_nrooms;
static volatile sig_atomic_t g_stop;
static uint64_t g_in, g_out, g_send_errors, g_unknown, g_control;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t addr_key(const struct sockaddr_in *a)
{
    return (uint64_t)ntohl(a->sin_addr.s_addr) << 16 | ntohs(a->sin_port);
}

static size_t hash_slot(uint64_t key)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & (HASH_SIZE - 1);
}

static int member_find(uint64_t key)
{
    for (size_t i = hash_slot(key), n = 0; n < HASH_SIZE; i = (i + 1) & (HASH_SIZE - 1), n++) {
        int m = g_hash[i];
        if (m == 0)
            return -1;
        if (g_members[m - 1].key == key)
            return m - 1;
    }
    return -1;
}

static int room_find_or_add(const char *name)
{
    for (int i = 0; i < g_nrooms; i++)
        if (strcmp(g_rooms[i].name, name) == 0)
            return i;
    if (g_nrooms == MAX_ROOMS)
        return -1;
    room_t *r = &g_rooms[g_nrooms];
    snprintf(r->name, sizeof r->name, "%s", name);
    r->n = 0;
    return g_nrooms++;
}

/* Registers (or re-registers) an address; members are never removed from the hash, only muted. */
static const char *member_join(const struct sockaddr_in *a, const char *room, int flags)
{
    uint64_t key = addr_key(a);
    int m = member_find(key);
    int r = room_find_or_add(room);
    if (r < 0)
        return "too many rooms";
    if (m < 0) {
        if (g_nmembers == MAX_MEMBERS)
            return "too many members";
        m = g_nmembers++;
        g_members[m].addr = *a;
        g_members[m].key = key;
        size_t i = hash_slot(key);
        while (g_hash[i])
            i = (i + 1) & (HASH_SIZE - 1);
        g_hash[i] = m + 1;
    } else if (g_members[m].room >= 0) {
        return "already joined";
    }
    room_t *rm = &g_rooms[r];
    if (rm->n == ROOM_MEMBERS)
        return "room full";
    rm->members[rm->n++] = m;
    g_members[m].room = r;
    g_members[m].flags = flags;
    return NULL;
}

static void member_leave(const struct sockaddr_in *a)
{
    int m = member_find(addr_key(a));
    if (m < 0 || g_members[m].room < 0)
        return;
    room_t *rm = &g_rooms[g_members[m].room];
    for (int i = 0; i < rm->n; i++)
        if (rm->members[i] == m) {
            rm->members[i] = rm->members[--rm->n];
            break;
        }
    g_members[m].room = -1;
    g_members[m].flags = 0;
}

static void reply(int fd, const struct sockaddr_in *a, const char *text)
{
    sendto(fd, text, strlen(text), 0, (const struct sockaddr *)a, sizeof *a);
}

static void on_control(int fd, const struct sockaddr_in *a, char *msg, size_t len)
{
    g_control++;
    msg[len] = '\0';
    char room[ROOM_NAME];
    int flags;
    if (strncmp(msg + RAW_MAGIC_LEN, "PING", 4) == 0) {
        reply(fd, a, RAW_MAGIC "PONG");
    } else if (strncmp(msg + RAW_MAGIC_LEN, "LEAVE", 5) == 0) {
        member_leave(a);
        reply(fd, a, RAW_MAGIC "OK");
    } else if (sscanf(msg + RAW_MAGIC_LEN, "JOIN %64s %d", room, &flags) == 2) {
        const char *why = member_join(a, room, flags);
        char out[128];
        snprintf(out, sizeof out, RAW_MAGIC "%s%s", why ? "ERR " : "OK", why ? why : "");
        reply(fd, a, out);
    } else {
        reply(fd, a, RAW_MAGIC "ERR unknown command");
    }
}

typedef struct {
    struct mmsghdr msgs[OUT_BATCH];
    struct iovec iov[OUT_BATCH];
    int n;
} out_batch_t;

static void flush(int fd, out_batch_t *o)
{
    int done = 0;
    while (done < o->n) {
        int k = sendmmsg(fd, o->msgs + done, (unsigned)(o->n - done), 0);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            g_send_errors += (uint64_t)(o->n - done);
            break;
        }
        done += k;
        g_out += (uint64_t)k;
    }
    o->n = 0;
}

static void queue(int fd, out_batch_t *o, const member_t *to, void *buf, size_t len)
{
    if (o->n == OUT_BATCH)
        flush(fd, o);
    int i = o->n++;
    o->iov[i].iov_base = buf;
    o->iov[i].iov_len = len;
    memset(&o->msgs[i].msg_hdr, 0, sizeof o->msgs[i].msg_hdr);
    o->msgs[i].msg_hdr.msg_name = (void *)&to->addr;
    o->msgs[i].msg_hdr.msg_namelen = sizeof to->addr;
    o->msgs[i].msg_hdr.msg_iov = &o->iov[i];
    o->msgs[i].msg_hdr.msg_iovlen = 1;
}

static void forward(int fd, out_batch_t *o, const struct sockaddr_in *from, uint8_t *buf,
                    size_t len)
{
    int m = member_find(addr_key(from));
    if (m < 0 || g_members[m].room < 0 || !(g_members[m].flags & RAW_PUB)) {
        g_unknown++;
        return;
    }
    const room_t *rm = &g_rooms[g_members[m].room];
    for (int i = 0; i < rm->n; i++) {
        const member_t *to = &g_members[rm->members[i]];
        if (rm->members[i] != m && (to->flags & RAW_SUB))
            queue(fd, o, to, buf, len);
    }
}

static int open_socket(const char *host, int port)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    int big = 4 << 20; /* as the relay's sfu/udp_io.c */
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1 ||
        bind(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static void serve(int fd)
{
    static uint8_t bufs[BATCH][PKT_MAX];
    static struct sockaddr_in from[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr msgs[BATCH];
    static out_batch_t out;
    while (!g_stop) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (poll(&pfd, 1, 500) <= 0)
            continue;
        for (int i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){bufs[i], PKT_MAX - 1};
            memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
            msgs[i].msg_hdr.msg_name = &from[i];
            msgs[i].msg_hdr.msg_namelen = sizeof from[i];
            msgs[i].msg_hdr.msg_iov = &iov[i];
            msgs[i].msg_hdr.msg_iovlen = 1;
        }
        int n = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            continue;
        g_in += (uint64_t)n;
        for (int i = 0; i < n; i++) {
            size_t len = msgs[i].msg_len;
            if (len >= RAW_MAGIC_LEN && memcmp(bufs[i], RAW_MAGIC, RAW_MAGIC_LEN) == 0)
                on_control(fd, &from[i], (char *)bufs[i], len);
            else
                forward(fd, &out, &from[i], bufs[i], len);
        }
        flush(fd, &out);
    }
}

int main(int argc, char **argv)
{
    const char *listen = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc)
            listen = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            listen = NULL, i = argc;
    }
    char host[64];
    int port;
    if (!listen || sscanf(listen, "%63[^:]:%d", host, &port) != 2 || port <= 0 || port > 65535) {
        fprintf(stderr, "usage: legation-raw-forwarder --listen IPV4:PORT\n"
                        "  forwards each datagram of a registered publisher, unchanged, to every\n"
                        "  other subscriber of its room (the bench's no-crypto ceiling)\n");
        return 2;
    }
    for (int i = 0; i < MAX_MEMBERS; i++)
        g_members[i].room = -1;
    int fd = open_socket(host, port);
    if (fd < 0) {
        fprintf(stderr, "legation-raw-forwarder: cannot bind %s: %s\n", listen, strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    serve(fd);
    close(fd);
    fprintf(stderr,
            "legation-raw-forwarder: in %llu out %llu send_errors %llu unknown %llu control "
            "%llu\n",
            (unsigned long long)g_in, (unsigned long long)g_out, (unsigned long long)g_send_errors,
            (unsigned long long)g_unknown, (unsigned long long)g_control);
    return 0;
}
