/* A WebRTC transport on a media worker: one peer connection's ICE-lite credentials and selected
 * path, its DTLS session (relay passive) and, once the fingerprint matched, its SRTP session.
 * Created and destroyed on the worker thread at the control thread's request. */
#ifndef LG_TRANSPORT_H
#define LG_TRANSPORT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

#include "certs/certs.h"
#include "sfu/dtls.h"
#include "sfu/srtp_session.h"
#include "sfu/stun.h"

#define TRANSPORT_UFRAG_MAX        32
#define TRANSPORT_PWD_MAX          64
#define TRANSPORT_REMOTE_UFRAG_MAX 260
#define TRANSPORT_MAX_PAIRS        8 /* validated 5-tuples remembered per transport */

struct lg_worker;
struct udp_io;
struct tcp_conn;

/* Where a packet came from / goes to: a UDP socket and remote address, or an ICE-TCP connection.
 * Borrowed: valid during the call that passes it. */
typedef struct {
    struct udp_io *udp;   /* NULL for TCP */
    struct tcp_conn *tcp; /* NULL for UDP */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} lg_path_t;

typedef enum {
    TRANSPORT_NEW = 0,   /* waiting for the first valid ICE check */
    TRANSPORT_CHECKING,  /* a path is selected; DTLS handshake under way */
    TRANSPORT_CONNECTED, /* SRTP keys installed */
    TRANSPORT_CLOSED,
} transport_state_t;

/* X(ENUM, "label"): why a transport closed. */
#define TRANSPORT_CLOSE_MAP(X)                                                                     \
    X(NONE, "none")                                                                                \
    X(CONSENT, "consent_expired")                                                                  \
    X(ICE_TIMEOUT, "ice_timeout")                                                                  \
    X(FINGERPRINT, "fingerprint_mismatch")                                                         \
    X(DTLS_FAILED, "dtls_failed")                                                                  \
    X(DTLS_CLOSED, "dtls_closed")                                                                  \
    X(REQUESTED, "requested")                                                                      \
    X(PATH_CLOSED, "path_closed")                                                                  \
    X(SHUTDOWN, "shutdown")

typedef enum {
#define TRANSPORT_CLOSE_ENUM(e, l) TRANSPORT_CLOSE_##e,
    TRANSPORT_CLOSE_MAP(TRANSPORT_CLOSE_ENUM)
#undef TRANSPORT_CLOSE_ENUM
        TRANSPORT_CLOSE_COUNT
} transport_close_t;

const char *transport_close_label(transport_close_t why);

/* What the control thread decides when it creates a transport (copied into the transport). */
typedef struct {
    uint64_t id;
    char room[72];
    char participant[24];
    char local_ufrag[TRANSPORT_UFRAG_MAX];
    char local_pwd[TRANSPORT_PWD_MAX];
    char remote_ufrag[TRANSPORT_REMOTE_UFRAG_MAX];
    char remote_fingerprint[LG_CERTS_FINGERPRINT_MAX]; /* "sha-256 AB:..." from the peer's SDP */
} transport_params_t;

typedef struct transport {
    transport_params_t p;
    struct lg_worker *w;
    transport_state_t state;
    transport_close_t close_reason;
    lg_path_t pairs[TRANSPORT_MAX_PAIRS]; /* validated paths (the 5-tuple table points here) */
    int npairs;
    int selected; /* index into pairs, -1 before nomination */
    uint64_t created_ms;
    uint64_t last_consent_ms; /* last valid check on the selected path */
    dtls_session_t dtls;
    uv_timer_t dtls_timer;
    srtp_session_t srtp;
    int srtp_ready;
    dtls_srtp_profile_t profile;
    struct producer *producers[16]; /* tracks this (publish) transport receives */
    int nproducers;
    struct consumer *consumers; /* tracks this (subscribe) transport sends */
    struct bwe *bwe;            /* subscribe legs: estimate from transport-cc or REMB */
    uint16_t twcc_seq;          /* transport-wide sequence numbers the relay stamps */
    bool low_bandwidth;         /* last state reported to the control thread */
    /* per-transport counts */
    uint64_t rtp_in, rtcp_in, srtp_fail;
    struct transport *next_ufrag; /* hash chains, see transport_table.h */
    struct transport *next_all;
} transport_t;

/* ---- lifecycle and packet entry points (worker thread) ------------------------------------ */
/* Creates a transport from the control thread's parameters and indexes it by local ufrag.
 * Returns NULL on LG_ENOMEM or a ufrag collision (the caller reports it to the control thread). */
transport_t *transport_create(struct lg_worker *w, const transport_params_t *p, uint64_t now_ms);

/* Closes t: unindexes it, tells the control thread why, frees it once its timer is closed.
 * Safe to call once; later calls are ignored. */
void transport_close(transport_t *t, transport_close_t why);

/* A Binding request that parsed and carries a valid FINGERPRINT: authenticates it against the
 * transport named by USERNAME and answers (success, 420 or 487). Unknown users and failed
 * integrity are dropped and counted, never answered. */
void transport_on_binding_request(struct lg_worker *w, const lg_path_t *path, const stun_msg_t *m);

/* A DTLS datagram, or an SRTP/SRTCP packet, from a validated path of t. */
void transport_on_dtls(transport_t *t, const uint8_t *data, size_t len);
void transport_on_srtp(transport_t *t, int pair, uint8_t *data, size_t len);

/* Closes transports whose selected path has had no valid check for timeout_ms (RFC 7675), or
 * that never completed ICE within timeout_ms. */
void transport_sweep(struct lg_worker *w, uint64_t now_ms, uint64_t timeout_ms);

/* An ICE-TCP connection closed: forget every path through it (closing nothing else; a transport
 * that loses its selected path waits for a new nomination or the consent timeout). */
void transport_path_closed(struct lg_worker *w, struct tcp_conn *conn);

/* Finds a transport by the control thread's id (control rate: a list walk). */
transport_t *transport_find_id(struct lg_worker *w, uint64_t id);

/* Sends a datagram on t's selected path (framed for ICE-TCP). LG_ESTATE without a path. */
int transport_send(transport_t *t, const uint8_t *data, size_t len);

/* Zero-copy send: a buffer of *cap bytes to build one packet in (a sendmmsg slot for UDP, the
 * worker's scratch buffer for TCP), then commit its length. NULL without a selected path. */
uint8_t *transport_tx_begin(transport_t *t, size_t *cap);
void transport_tx_commit(transport_t *t, uint8_t *buf, size_t len);

/* Protects an RTCP compound built in buf (cap bytes) and sends it. */
int transport_send_rtcp(transport_t *t, uint8_t *buf, size_t len, size_t cap);

#endif
