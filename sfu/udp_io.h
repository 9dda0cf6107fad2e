/* Batched UDP I/O for a media worker: recvmmsg on readiness, packets handed one by one to a
 * callback, replies queued into preallocated slots and sent with one sendmmsg per batch. */
#ifndef LG_UDP_IO_H
#define LG_UDP_IO_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "sfu/counters.h"

#define UDP_IO_BATCH    32
#define UDP_IO_RX_BUF   2048 /* larger than any MTU; longer datagrams are truncated and dropped */
#define UDP_IO_TX_SLOTS 256
#define UDP_IO_TX_BUF   1500

struct udp_io;

/* Called for each received datagram during a batch. `data` is writable and valid only during the
 * call (SRTP unprotects in place). Replies go through udp_io_tx_slot/udp_io_tx_commit. */
typedef void (*udp_io_packet_fn)(void *ctx, struct udp_io *io, uint8_t *data, size_t len,
                                 const struct sockaddr *from, socklen_t fromlen);

typedef struct udp_io {
    int fd;
    int family;
    uv_poll_t poll;
    udp_io_packet_fn on_packet;
    void *ctx;
    lg_counters_t *counters;
    struct sockaddr_storage local;
    /* receive batch */
    struct mmsghdr rx_msgs[UDP_IO_BATCH];
    struct iovec rx_iov[UDP_IO_BATCH];
    struct sockaddr_storage rx_addr[UDP_IO_BATCH];
    uint8_t *rx_buf; /* UDP_IO_BATCH * UDP_IO_RX_BUF, allocated once in udp_io_start */
    /* send batch */
    struct mmsghdr tx_msgs[UDP_IO_TX_SLOTS];
    struct iovec tx_iov[UDP_IO_TX_SLOTS];
    struct sockaddr_storage tx_addr[UDP_IO_TX_SLOTS];
    uint8_t *tx_buf; /* UDP_IO_TX_SLOTS * UDP_IO_TX_BUF */
    int tx_count;
} udp_io_t;

/* Creates a non-blocking UDP socket bound to ip:port (IPv6 sockets are v6-only). Any thread.
 * Returns the fd, or -1 with err naming the address and the reason. */
int udp_io_bind(const char *ip, uint16_t port, char *err, size_t errlen);

/* Takes ownership of fd and starts reading on the calling thread's loop. Allocates the batch
 * buffers once. Returns 0 or LG_ENOMEM / a negative uv error. */
int udp_io_start(udp_io_t *io, uv_loop_t *loop, int fd, udp_io_packet_fn on_packet, void *ctx,
                 lg_counters_t *counters);

/* Returns a send buffer of UDP_IO_TX_BUF bytes, flushing first if every slot is taken. */
uint8_t *udp_io_tx_slot(udp_io_t *io);

/* Queues the slot last returned by udp_io_tx_slot with `len` bytes for `to`. */
void udp_io_tx_commit(udp_io_t *io, size_t len, const struct sockaddr *to, socklen_t tolen);

/* Sends every queued datagram (sendmmsg). Called at the end of each receive batch and by timers
 * that queued packets. A full socket buffer drops the rest (counted in send_errors). */
void udp_io_flush(udp_io_t *io);

/* Stops reading and closes the socket; frees the buffers in the close callback. */
void udp_io_close(udp_io_t *io);

#endif
