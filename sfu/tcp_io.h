/* Passive ICE-TCP for a media worker (RFC 6544, RFC 4571 framing): a listener on the worker's UDP
 * port number whose connections deliver framed packets to a callback and take framed replies. */
#ifndef LG_TCP_IO_H
#define LG_TCP_IO_H

/*
 * Contract
 * --------
 * Threading: tcp_io_bind() may run on any thread (the control thread binds every port at start so
 * a busy port fails early). Everything else runs on the worker thread that called tcp_io_start(),
 * including every callback.
 *
 * Ownership: the caller owns the tcp_io_t (like a libuv handle) and must keep it valid until the
 * loop has run the close callbacks after tcp_io_close() (uv_run until uv_loop_close() returns 0).
 * tcp_io owns every tcp_conn_t: it allocates one per accepted connection (the only allocation
 * besides send-queue copies, none per packet) and frees it right after on_close returns.
 *
 * Listener: the fd from tcp_io_bind() is watched with a uv_poll_t and accepted with accept4(), as
 * udp_io does for UDP, so a connection over the limit is accepted and closed without allocating.
 * Each accepted fd is opened as a uv_tcp_t (uv_tcp_open, TCP_NODELAY) and read with
 * uv_read_start into a per-connection buffer, then deframed (sfu/rfc4571.h).
 *
 * Limits (tcp_io_limits_t, zero = default):
 *   max_conns   open connections per listener; more are accepted and closed at once
 *               (drop reason tcp_limit, also counted when the process is out of descriptors)
 *   idle_ms     a connection must deliver its first non-empty frame within this time or it is
 *               closed (tcp_idle). After that, liveness is the owner's business (ICE consent
 *               freshness): the owner closes connections it has no use for with tcp_conn_close.
 *   max_queued  bytes a connection may hold in its send queue when the peer reads slower than we
 *               send; a send beyond that closes the connection (tcp_overflow), so a peer that stops
 *               reading cannot grow memory.
 *
 * Counters (the caller's lg_counters_t, shared with UDP): packets_in/bytes_in per frame received
 * (payload bytes), packets_out/bytes_out per frame accepted by tcp_conn_send, send_errors for
 * socket write errors, drops tcp_bad_frame for zero-length frames.
 *
 * Signals: tcp_io_start() sets SIGPIPE to SIG_IGN for the process when it still has the default
 * action, so a write to a connection the peer reset fails with EPIPE instead of killing the relay.
 *
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h), or a negative uv error from libuv calls,
 * as udp_io does. Nothing is logged per packet or per connection.
 */

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "sfu/counters.h"

#define TCP_IO_BACKLOG      128
#define TCP_IO_READ_BUF     16384 /* per-connection read buffer (frames are deframed from it) */
#define TCP_IO_MAX_CONNS    1024  /* default limits */
#define TCP_IO_IDLE_MS      10000
#define TCP_IO_MAX_QUEUED   1048576
#define TCP_IO_ACCEPT_BATCH 64 /* connections accepted per readiness callback */

struct tcp_io;
typedef struct tcp_conn tcp_conn_t; /* opaque; see tcp_conn_set_data */

/* Called for each received packet (one RFC 4571 frame). `data` is writable and valid only during
 * the call (SRTP unprotects in place); `from` is the peer's address. Replies go back on the same
 * connection with tcp_conn_send, now or later (until on_close). The callback may call
 * tcp_conn_close(conn); no further packet of that connection is delivered then. */
typedef void (*tcp_io_packet_fn)(void *ctx, tcp_conn_t *conn, uint8_t *data, size_t len,
                                 const struct sockaddr *from, socklen_t fromlen);

/* Called exactly once for every accepted connection, from the loop, after it was closed for any
 * reason (peer closed or reset, idle, overflow, tcp_conn_close, tcp_io_close), including those
 * that never delivered a packet. The owner drops its reference: conn is freed when this returns. */
typedef void (*tcp_io_close_fn)(void *ctx, tcp_conn_t *conn);

typedef struct {
    tcp_io_packet_fn on_packet; /* required */
    tcp_io_close_fn on_close;   /* may be NULL */
} tcp_io_callbacks_t;

typedef struct {
    uint32_t max_conns;
    uint32_t idle_ms;
    size_t max_queued;
} tcp_io_limits_t;

typedef struct tcp_io {
    int fd;
    uv_loop_t *loop;
    uv_poll_t poll;
    uv_timer_t pause; /* resumes accepting after the process ran out of descriptors */
    tcp_io_callbacks_t cb;
    tcp_io_limits_t limits;
    void *ctx;
    lg_counters_t *counters;
    tcp_conn_t *conns; /* every connection not yet freed, closing ones included */
    uint32_t nconns;
    int closing;
} tcp_io_t;

/* Creates a non-blocking TCP socket bound to ip:port and listening (backlog TCP_IO_BACKLOG), with
 * SO_REUSEADDR (IPv6 sockets are v6-only). Any thread. Returns the fd, or -1 with err naming the
 * address and the reason. */
int tcp_io_bind(const char *ip, uint16_t port, char *err, size_t errlen);

/* Takes ownership of the listening fd and starts accepting on the calling thread's loop. cb is
 * copied; limits may be NULL (defaults). Returns 0, or LG_EINVAL (no on_packet) or a negative uv
 * error; on error the fd is closed and tcp_io_close must not be called (run the loop to finish
 * closing the handles already opened). */
int tcp_io_start(tcp_io_t *io, uv_loop_t *loop, int fd, const tcp_io_callbacks_t *cb,
                 const tcp_io_limits_t *limits, void *ctx, lg_counters_t *counters);

/* Frames `len` bytes (1..RFC4571_MAX_FRAME) and writes them on the connection: straight to the
 * socket when it takes them, otherwise a copy is queued behind earlier data. Returns 0 (sent or
 * queued), LG_EINVAL (bad length), LG_ESTATE (the connection is closing), LG_EFULL (the queue
 * would exceed max_queued: the connection is closed), LG_EIO (socket error: closed, counted in
 * send_errors) or LG_ENOMEM (closed). */
int tcp_conn_send(tcp_conn_t *conn, const uint8_t *data, size_t len);

/* Closes the connection (pending writes are discarded); on_close follows from the loop. Safe to
 * call again or from on_packet. */
void tcp_conn_close(tcp_conn_t *conn);

/* The owner's pointer for this connection (NULL until set), e.g. the transport using it. */
void tcp_conn_set_data(tcp_conn_t *conn, void *data);
void *tcp_conn_get_data(const tcp_conn_t *conn);

/* The peer's address (as passed to on_packet). */
const struct sockaddr *tcp_conn_peer(const tcp_conn_t *conn, socklen_t *len);

/* Stops accepting, closes the listening socket and every connection (on_close is called for each
 * from the loop). All memory is freed once the loop has run the close callbacks. */
void tcp_io_close(tcp_io_t *io);

#endif
