/* The running relay: the control thread's loop, its media workers, signal handling and the
 * latest counters read from every worker. Owned and driven by main(). */
#ifndef LG_RELAY_H
#define LG_RELAY_H

#include <uv.h>

#include "sfu/config.h"
#include "sfu/counters.h"
#include "sfu/mq.h"
#include "certs/certs.h"
#include "sfu/worker.h"
#include "signaling/http_server.h"
#include "signaling/signaling.h"

typedef struct lg_relay {
    const lg_config_t *cfg;
    uv_loop_t loop;
    lg_mq_t inbox; /* workers -> control */
    uv_signal_t sigint, sigterm;
    uv_timer_t stats_timer;
    uv_timer_t lag_timer;
    uint64_t lag_expected_ns;
    uint64_t control_lag_us_max; /* current window */
    uint64_t control_lag_us_pub; /* previous window, what /metrics shows */
    uint64_t stats_seq;
    int nworkers;
    lg_worker_t *workers;
    lg_counters_t *worker_stats; /* latest snapshot per worker, control thread only */
    lg_certs_t certs;
    struct http_server *http;
    signaling_t signaling;
    int signaling_up;
    http_route_t routes[4];
    char web_root[LG_CONFIG_PATH_MAX];
    int stopping;
    int exit_code;
} lg_relay_t;

/* Prepares everything that can fail before serving: state dir, certificates, sockets, threads.
 * On failure writes a message naming the cause to err, leaves nothing running and returns a
 * negative LG_E* code (main exits 1). */
int lg_relay_init(lg_relay_t *r, const lg_config_t *cfg, char *err, size_t errlen);

/* Runs the control loop until SIGINT/SIGTERM or lg_relay_shutdown, then tears everything down
 * (workers joined, handles closed, memory freed). Returns the process exit code. */
int lg_relay_run(lg_relay_t *r);

/* Control thread: begins an orderly stop (what the signal handlers call). */
void lg_relay_shutdown(lg_relay_t *r);

/* Control thread: sums the latest worker snapshots into *out. */
void lg_relay_total_counters(const lg_relay_t *r, lg_counters_t *out);

#endif
