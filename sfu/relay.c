/* The control thread: brings the relay up in an order where every failure is reported before
 * anything serves, runs the loop, and tears down in reverse on SIGINT/SIGTERM. */
#include "sfu/relay.h"
#include "sfu/fs.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/metrics.h"
#include "signaling/http_server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CONTROL_LAG_INTERVAL_MS 100

static void on_worker_stats(void *ctx, lg_msg_t *m)
{
    lg_relay_t *r = ctx;
    worker_stats_msg_t *s = (worker_stats_msg_t *)m;
    if (s->worker >= 0 && s->worker < r->nworkers)
        r->worker_stats[s->worker] = s->counters;
    free(m);
}

static void on_worker_transport(void *ctx, lg_msg_t *m)
{
    lg_relay_t *r = ctx;
    signaling_on_transport(&r->signaling, (const worker_transport_msg_t *)m);
    free(m);
}

static void on_worker_speaker(void *ctx, lg_msg_t *m)
{
    lg_relay_t *r = ctx;
    worker_speaker_msg_t *s = (worker_speaker_msg_t *)m;
    signaling_on_active_speaker(&r->signaling, s->room, s->participant);
    free(m);
}

static void on_worker_low_bandwidth(void *ctx, lg_msg_t *m)
{
    lg_relay_t *r = ctx;
    worker_low_bw_msg_t *l = (worker_low_bw_msg_t *)m;
    signaling_on_low_bandwidth(&r->signaling, l->transport_id, l->low, l->estimate_bps);
    free(m);
}

static const lg_mq_handler_fn CONTROL_HANDLERS[CONTROL_MSG_COUNT] = {
    [CONTROL_MSG_STATS] = on_worker_stats,
    [CONTROL_MSG_TRANSPORT] = on_worker_transport,
    [CONTROL_MSG_ACTIVE_SPEAKER] = on_worker_speaker,
    [CONTROL_MSG_LOW_BANDWIDTH] = on_worker_low_bandwidth,
};

static void on_stats_timer(uv_timer_t *t)
{
    lg_relay_t *r = t->data;
    r->stats_seq++;
    r->control_lag_us_pub = r->control_lag_us_max;
    r->control_lag_us_max = 0;
    for (int i = 0; i < r->nworkers; i++) {
        worker_stats_req_t *req = lg_msg_new(WORKER_MSG_STATS_REQ, sizeof *req);
        if (!req)
            return;
        req->seq = r->stats_seq;
        lg_worker_post(&r->workers[i], &req->hdr);
    }
}

static void on_control_lag_timer(uv_timer_t *t)
{
    lg_relay_t *r = t->data;
    uint64_t now = uv_hrtime();
    uint64_t lag = now > r->lag_expected_ns ? (now - r->lag_expected_ns) / 1000 : 0;
    if (lag > r->control_lag_us_max)
        r->control_lag_us_max = lag;
    r->lag_expected_ns = now + (uint64_t)CONTROL_LAG_INTERVAL_MS * 1000000;
}

static void on_signal(uv_signal_t *h, int signum)
{
    lg_relay_t *r = h->data;
    LG_INFO("%s received, shutting down", signum == SIGINT ? "SIGINT" : "SIGTERM");
    lg_relay_shutdown(r);
}

void lg_relay_total_counters(const lg_relay_t *r, lg_counters_t *out)
{
    memset(out, 0, sizeof *out);
    for (int i = 0; i < r->nworkers; i++) {
        const lg_counters_t *c = &r->worker_stats[i];
        out->packets_in += c->packets_in;
        out->bytes_in += c->bytes_in;
        out->packets_out += c->packets_out;
        out->bytes_out += c->bytes_out;
        out->send_errors += c->send_errors;
        for (int d = 0; d < LG_DROP_COUNT; d++)
            out->drops[d] += c->drops[d];
        if (c->loop_lag_us_max > out->loop_lag_us_max)
            out->loop_lag_us_max = c->loop_lag_us_max;
    }
}

static long route_healthz(void *ctx, char *buf, size_t cap, const char **type)
{
    return snprintf(buf, cap, "ok\n");
}

static long route_metrics(void *ctx, char *buf, size_t cap, const char **type)
{
    const lg_relay_t *r = ctx;
    lg_metrics_view_t v = {
        .nworkers = r->nworkers,
        .workers = r->worker_stats,
        .control_lag_us_max = r->control_lag_us_pub,
        .rooms = rooms_count(&r->signaling.rooms),
        .participants = rooms_participants(&r->signaling.rooms),
        .sessions = r->signaling.nsessions,
        .signaling = &r->signaling.stats,
    };
    *type = "text/plain; version=0.0.4; charset=utf-8";
    return lg_metrics_render(&v, buf, cap);
}

static int start_http(lg_relay_t *r, char *err, size_t errlen)
{
    const lg_config_t *cfg = r->cfg;
    snprintf(r->web_root, sizeof r->web_root, "%s",
             cfg->web_root[0] ? cfg->web_root : LG_SOURCE_DIR "/signaling/web");
    r->routes[0] = (http_route_t){"/healthz", route_healthz, r};
    r->routes[1] = (http_route_t){"/metrics", route_metrics, r};
    http_server_opts_t o = {
        .host = cfg->listen_host,
        .port = cfg->listen_port,
        .cert_path = r->certs.tls_cert_path,
        .key_path = r->certs.tls_key_path,
        .web_root = r->web_root,
        .routes = r->routes,
        .nroutes = 2,
        .ws = &r->signaling.ws,
    };
    return http_server_start(&r->http, &r->loop, &o, err, errlen);
}

static int bind_workers(lg_relay_t *r, char *err, size_t errlen)
{
    r->nworkers = r->cfg->workers;
    r->workers = calloc((size_t)r->nworkers, sizeof *r->workers);
    r->worker_stats = calloc((size_t)r->nworkers, sizeof *r->worker_stats);
    if (!r->workers || !r->worker_stats) {
        snprintf(err, errlen, "out of memory");
        return LG_ENOMEM;
    }
    for (int i = 0; i < r->nworkers; i++) {
        int rc = lg_worker_bind(&r->workers[i], i, r->cfg, err, errlen);
        if (rc == 0 && (rc = lg_worker_set_certs(&r->workers[i], r->certs.dtls_cert,
                                                 r->certs.dtls_key)) != 0) {
            snprintf(err, errlen, "DTLS context for worker %d: %s", i, lg_strerror(rc));
            r->nworkers = i + 1;
            return rc;
        }
        if (rc != 0) {
            r->nworkers = i; /* only the bound ones are released */
            return rc;
        }
    }
    return 0;
}

static void start_control_handles(lg_relay_t *r)
{
    uv_signal_init(&r->loop, &r->sigint);
    uv_signal_init(&r->loop, &r->sigterm);
    r->sigint.data = r->sigterm.data = r;
    uv_signal_start(&r->sigint, on_signal, SIGINT);
    uv_signal_start(&r->sigterm, on_signal, SIGTERM);
    uv_timer_init(&r->loop, &r->stats_timer);
    r->stats_timer.data = r;
    uv_timer_start(&r->stats_timer, on_stats_timer, 0, (uint64_t)r->cfg->stats_interval_ms);
    uv_timer_init(&r->loop, &r->lag_timer);
    r->lag_timer.data = r;
    r->lag_expected_ns = uv_hrtime() + (uint64_t)CONTROL_LAG_INTERVAL_MS * 1000000;
    uv_timer_start(&r->lag_timer, on_control_lag_timer, CONTROL_LAG_INTERVAL_MS,
                   CONTROL_LAG_INTERVAL_MS);
}

/* Releases what init acquired, in reverse; used on init failure and after the loop ends. */
static void relay_release(lg_relay_t *r)
{
    for (int i = 0; i < r->nworkers; i++)
        lg_worker_stop(&r->workers[i]);
    http_server_free(r->http);
    r->http = NULL;
    if (r->signaling_up)
        signaling_stop(&r->signaling);
    uv_run(&r->loop, UV_RUN_DEFAULT); /* drain close callbacks */
    if (r->signaling_up)
        signaling_free(&r->signaling);
    r->signaling_up = 0;
    if (uv_loop_close(&r->loop) != 0)
        LG_WARN("control loop closed with handles still open");
    lg_mq_destroy(&r->inbox);
    free(r->workers);
    free(r->worker_stats);
    r->workers = NULL;
    r->worker_stats = NULL;
    lg_certs_free(&r->certs);
}

int lg_relay_init(lg_relay_t *r, const lg_config_t *cfg, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    int rc = uv_loop_init(&r->loop);
    if (rc != 0) {
        snprintf(err, errlen, "cannot create the event loop: %s", uv_strerror(rc));
        return LG_EIO;
    }
    lg_mq_init(&r->inbox, &r->loop, CONTROL_HANDLERS, CONTROL_MSG_COUNT, r);
    lg_certs_config_t cc = {cfg->state_dir, cfg->dtls_cert, cfg->dtls_key, cfg->tls_cert,
                            cfg->tls_key};
    rc = lg_make_dirs(cfg->state_dir, err, errlen);
    if (rc == 0)
        rc = lg_certs_load(&r->certs, &cc, err, errlen);
    if (rc == 0 && (rc = signaling_init(&r->signaling, &r->loop, cfg, err, errlen)) == 0)
        r->signaling_up = 1;
    if (rc == 0)
        rc = bind_workers(r, err, errlen);
    if (rc == 0) {
        r->signaling.workers = r->workers;
        r->signaling.nworkers = r->nworkers;
        r->signaling.dtls_fingerprint = r->certs.dtls_fingerprint;
        rc = start_http(r, err, errlen);
    }
    for (int i = 0; rc == 0 && i < r->nworkers; i++) {
        rc = lg_worker_start(&r->workers[i], &r->inbox);
        if (rc != 0)
            snprintf(err, errlen, "cannot start media worker %d: %s", i, lg_strerror(rc));
    }
    if (rc != 0) {
        http_server_stop(r->http);
        lg_mq_close(&r->inbox, NULL);
        relay_release(r);
        return rc;
    }
    start_control_handles(r);
    return 0;
}

void lg_relay_shutdown(lg_relay_t *r)
{
    if (r->stopping)
        return;
    r->stopping = 1;
    uv_close((uv_handle_t *)&r->sigint, NULL);
    uv_close((uv_handle_t *)&r->sigterm, NULL);
    uv_close((uv_handle_t *)&r->stats_timer, NULL);
    uv_close((uv_handle_t *)&r->lag_timer, NULL);
    http_server_stop(r->http); /* closes every WebSocket: participants leave */
    signaling_stop(&r->signaling);
    r->signaling_up = 2; /* stopped; freed after the loop drains */
    /* Workers may still post stats replies: join them before closing our inbox. */
    for (int i = 0; i < r->nworkers; i++)
        lg_worker_stop(&r->workers[i]);
    lg_mq_close(&r->inbox, NULL);
}

int lg_relay_run(lg_relay_t *r)
{
    uv_run(&r->loop, UV_RUN_DEFAULT);
    relay_release(r);
    return r->exit_code;
}
