/* A userspace impairment proxy: listens on one address (UDP and TCP) and forwards to one upstream
 * address, through a poor link modelled per direction (rate limit, random loss, delay; see
 * bench/impair_shaper.h). Put in front of the relay with its `announce` key, it stands for one
 * participant's bad network on a machine without netem. */
#ifndef LG_IMPAIR_H
#define LG_IMPAIR_H

/*
 * Contract
 * --------
 * impair_start binds the listen address (UDP and TCP, the same port), starts one thread running
 * a poll() loop and returns; impair_stop ends the thread (at most one poll timeout, 100 ms, later),
 * closes every socket and frees the proxy. impair_get_stats may be called from any thread.
 *
 * Directions: "up" is client -> upstream (towards the relay), "down" is upstream -> client.
 *
 * UDP: every client address is a flow with its own upstream socket (an ephemeral port), so the
 * upstream sees one 5-tuple per client flow and its answers go back to the right client. A flow
 * with no packet either way for idle_ms and nothing queued is closed. All UDP flows share one
 * shaper per direction, as the flows of one participant share an access link: the rate, queue,
 * loss and delay apply to their sum. Datagrams larger than IMPAIR_SLOT_BYTES, from a new client
 * when IMPAIR_MAX_FLOWS are open, or finding the direction's FIFO full are dropped and counted in
 * dropped_other.
 *
 * TCP: every accepted connection is paired with one connection to the upstream; bytes go both ways
 * as they are (an RFC 4571 stream stays one), cut into segments of at most IMPAIR_TCP_SEGMENT
 * bytes that are shaped in IMPAIR_STREAM mode: rate and delay as for UDP, no byte is ever lost —
 * a "lost" segment arrives one retransmission later and holds back the rest, and reading stops
 * while the backlog exceeds the queue (the sender's TCP then waits, as on a full window). Each
 * connection has its own shapers (same parameters). When either side closes or fails, the other
 * gets what was queued for it and is closed too.
 *
 * Errors: impair_start returns NULL with `err` naming the cause (bad address, bind failure with
 * errno text, out of memory). Later socket errors are per flow and counted, never fatal.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bench/impair_shaper.h"

#define IMPAIR_MAX_FLOWS       64
#define IMPAIR_MAX_CONNS       16
#define IMPAIR_DEFAULT_IDLE_MS 30000
#define IMPAIR_UDP_SLOTS       4096 /* FIFO slots per UDP direction */
#define IMPAIR_TCP_SLOTS       512  /* FIFO slots per TCP connection and direction */

typedef struct {
    const char *listen;   /* "127.0.0.2:40000", "[::1]:40000": UDP and TCP; required */
    const char *upstream; /* "127.0.0.1:40000"; required, same family as listen */
    bool no_udp, no_tcp;  /* serve only the other one */
    impair_params_t up;   /* client -> upstream */
    impair_params_t down; /* upstream -> client */
    uint32_t idle_ms;     /* UDP flow expiry; 0: IMPAIR_DEFAULT_IDLE_MS */
} impair_opts_t;

typedef struct {
    impair_counters_t udp_up, udp_down; /* datagrams */
    impair_counters_t tcp_up, tcp_down; /* segments, summed over connections, closed ones too */
    uint64_t flows_created, flows_expired;
    uint32_t flows_open;
    uint64_t tcp_accepted, tcp_refused; /* refused: IMPAIR_MAX_CONNS open, or upstream failed */
    uint32_t tcp_open;
} impair_stats_t;

typedef struct impair_proxy impair_proxy_t;

/* Binds, starts the proxy thread. Returns the proxy, or NULL with err set. */
impair_proxy_t *impair_start(const impair_opts_t *opts, char *err, size_t errlen);

/* A snapshot of the counters (consistent as of the end of one loop iteration). */
void impair_get_stats(impair_proxy_t *p, impair_stats_t *out);

/* Stops the thread, closes everything, frees p. Safe with NULL. */
void impair_stop(impair_proxy_t *p);

/* Parses "IP:PORT" or "[IPv6]:PORT" into *ss. Returns 0 or -1. */
struct sockaddr_storage;
int impair_parse_addr(const char *s, struct sockaddr_storage *ss, unsigned *len);

#endif
