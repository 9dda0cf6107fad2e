/* A media worker: one thread, one uv loop, the UDP sockets of its port, and the rooms pinned to
 * it. It talks to the control thread only through message queues (sfu/mq.h). */
#ifndef LG_WORKER_H
#define LG_WORKER_H

#include <uv.h>

#include "sfu/config.h"
#include "sfu/counters.h"
#include "sfu/mq.h"
#include "sfu/dtls.h"
#include "sfu/mixing.h"
#include "sfu/router.h"
#include "sfu/transport.h"
#include "sfu/transport_table.h"
#include "sfu/tcp_io.h"
#include "sfu/udp_io.h"

/* Control -> worker messages. */
enum {
    WORKER_MSG_STOP = 0,
    WORKER_MSG_STATS_REQ,
    WORKER_MSG_TRANSPORT_ADD,
    WORKER_MSG_TRANSPORT_REMOVE,
    WORKER_MSG_PRODUCER_ADD,
    WORKER_MSG_CONSUMER_ADD,
    WORKER_MSG_CONSUMER_REMOVE,
    WORKER_MSG_PRODUCER_MUTE,
    WORKER_MSG_PRODUCER_REMOVE,
    WORKER_MSG_MIX_LISTENER_ADD,
    WORKER_MSG_MIX_LISTENER_REMOVE,
    WORKER_MSG_COUNT
};

/* Worker -> control messages (handled by the control thread's table). */
enum {
    CONTROL_MSG_STATS = 0,
    CONTROL_MSG_TRANSPORT,
    CONTROL_MSG_ACTIVE_SPEAKER,
    CONTROL_MSG_LOW_BANDWIDTH,
    CONTROL_MSG_COUNT
};

/* Worker -> control: a subscriber's estimate crossed the low-bandwidth threshold. */
typedef struct {
    lg_msg_t hdr; /* CONTROL_MSG_LOW_BANDWIDTH */
    uint64_t transport_id;
    bool low;
    uint64_t estimate_bps;
} worker_low_bw_msg_t;

/* Worker -> control: a room's dominant speaker changed. */
typedef struct {
    lg_msg_t hdr; /* CONTROL_MSG_ACTIVE_SPEAKER */
    char room[72];
    char participant[24];
} worker_speaker_msg_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_TRANSPORT_ADD */
    transport_params_t params;
} worker_transport_add_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_TRANSPORT_REMOVE */
    uint64_t id;
} worker_transport_remove_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_PRODUCER_ADD */
    producer_params_t params;
} worker_producer_add_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_MIX_LISTENER_ADD */
    mix_listener_params_t params;
} worker_mix_add_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_CONSUMER_ADD */
    consumer_params_t params;
} worker_consumer_add_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_CONSUMER_REMOVE, WORKER_MSG_PRODUCER_MUTE */
    uint64_t id;
    bool muted;
} worker_id_msg_t;

/* Worker -> control: a transport connected (state CONNECTED) or closed (state CLOSED, reason). */
typedef struct {
    lg_msg_t hdr; /* CONTROL_MSG_TRANSPORT */
    int worker;
    uint64_t id;
    char room[72];
    char participant[24];
    transport_state_t state;
    transport_close_t reason;
    dtls_srtp_profile_t profile;
} worker_transport_msg_t;

typedef struct {
    lg_msg_t hdr; /* CONTROL_MSG_STATS */
    int worker;
    uint64_t seq; /* echoes the request's seq */
    lg_counters_t counters;
} worker_stats_msg_t;

typedef struct {
    lg_msg_t hdr; /* WORKER_MSG_STATS_REQ */
    uint64_t seq;
} worker_stats_req_t;

typedef struct lg_worker {
    int index;
    const lg_config_t *cfg;
    uv_thread_t thread;
    uv_loop_t loop;
    lg_mq_t inbox;    /* control -> this worker */
    lg_mq_t *control; /* this worker -> control; outlives the worker */
    int nudp;
    int udp_started;                  /* udp[0..udp_started) own their fds */
    int udp_fds[LG_CONFIG_MAX_ADDRS]; /* bound by the control thread, owned by udp[] once run */
    udp_io_t udp[LG_CONFIG_MAX_ADDRS];
    int tcp_fds[LG_CONFIG_MAX_ADDRS]; /* ICE-TCP listeners on the same address and port */
    tcp_io_t tcp[LG_CONFIG_MAX_ADDRS];
    int tcp_started;
    uv_timer_t lag_timer;
    uv_timer_t sweep_timer; /* consent freshness */
    transport_table_t transports;
    dtls_ctx_t *dtls;           /* server role, this worker's certificate */
    struct producer *producers; /* router state, see sfu/router.h */
    struct consumer *consumers;
    struct room_audio *audio_rooms;
    struct room_mix *mixes;  /* sfu/mixing.h */
    uint32_t relay_ssrc;     /* sender SSRC of the relay's own RTCP */
    sendhist_key_t hash_key; /* random: keys the resend check's hashes (media/send_history.h) */
    uint64_t last_reports_ms;
    lg_ratelimit_t warn_limit; /* warnings caused by outside input */
    uv_timer_t feedback_timer; /* uplink NACKs */
    uint8_t rtx_scratch[1500]; /* an original restored from an RTX packet */
    rtcp_twcc_status_t twcc_scratch[ROUTER_TWCC_MAX];
    uint64_t last_layers_ms;
    uint8_t scratch[2048]; /* one packet being built for an ICE-TCP path */
    uint64_t lag_expected_ns;
    lg_counters_t counters; /* written only on this worker's thread */
    int running;
} lg_worker_t;

/* Control thread, before start: binds the worker's sockets (cfg media addresses, port
 * media_port + index). Returns 0, or LG_EIO with err naming the address and reason. */
int lg_worker_bind(lg_worker_t *w, int index, const lg_config_t *cfg, char *err, size_t errlen);

/* Control thread, before start: creates the worker's DTLS context from the relay's certificate.
 * Returns 0 or an LG_E* code. */
int lg_worker_set_certs(lg_worker_t *w, X509 *cert, EVP_PKEY *key);

/* Worker thread: the loop's notion of now, in milliseconds. */
uint64_t lg_worker_now_ms(const lg_worker_t *w);

/* Worker thread: tells the control thread about a transport's state. */
void lg_worker_report_transport(lg_worker_t *w, const transport_t *t);

/* Control thread: sets up the loop and inbox and starts the thread. `control` receives the
 * worker's events. Returns 0 or a negative error; on error nothing is left running. */
int lg_worker_start(lg_worker_t *w, lg_mq_t *control);

/* Control thread: posts a message to the worker (ownership passes). */
int lg_worker_post(lg_worker_t *w, lg_msg_t *msg);

/* Control thread: asks the worker to close every handle, joins the thread, frees everything.
 * Safe to call on a worker that was bound but never started. */
void lg_worker_stop(lg_worker_t *w);

#endif
