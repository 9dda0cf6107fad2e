/* Media worker thread: owns its loop, sockets and counters; handles control messages by table. */
#include "sfu/worker.h"
#include "sfu/demux.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/packet.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LAG_INTERVAL_MS 100

int lg_worker_bind(lg_worker_t *w, int index, const lg_config_t *cfg, char *err, size_t errlen)
{
    memset(w, 0, sizeof *w);
    w->index = index;
    w->cfg = cfg;
    for (int i = 0; i < cfg->media_addr_count; i++) {
        int fd = udp_io_bind(cfg->media_addrs[i], (uint16_t)(cfg->media_port + index), err, errlen);
        if (fd < 0) {
            for (int j = 0; j < w->nudp; j++) {
                close(w->udp_fds[j]);
                close(w->tcp_fds[j]);
            }
            w->nudp = 0;
            return LG_EIO;
        }
        w->udp_fds[w->nudp] = fd;
        fd = tcp_io_bind(cfg->media_addrs[i], (uint16_t)(cfg->media_port + index), err, errlen);
        if (fd < 0) {
            close(w->udp_fds[w->nudp]);
            for (int j = 0; j < w->nudp; j++) {
                close(w->udp_fds[j]);
                close(w->tcp_fds[j]);
            }
            w->nudp = 0;
            return LG_EIO;
        }
        w->tcp_fds[w->nudp++] = fd;
    }
    return 0;
}

static void on_stats_req(void *ctx, lg_msg_t *m)
{
    lg_worker_t *w = ctx;
    worker_stats_req_t *req = (worker_stats_req_t *)m;
    worker_stats_msg_t *reply = lg_msg_new(CONTROL_MSG_STATS, sizeof *reply);
    if (reply) {
        reply->worker = w->index;
        reply->seq = req->seq;
        reply->counters = w->counters;
        lg_mq_post(w->control, &reply->hdr);
    }
    w->counters.loop_lag_us_max = 0;
    free(m);
}

uint64_t lg_worker_now_ms(const lg_worker_t *w)
{
    return uv_now((uv_loop_t *)&w->loop);
}

void lg_worker_report_transport(lg_worker_t *w, const transport_t *t)
{
    worker_transport_msg_t *m = lg_msg_new(CONTROL_MSG_TRANSPORT, sizeof *m);
    if (!m)
        return;
    m->worker = w->index;
    m->id = t->p.id;
    memcpy(m->room, t->p.room, sizeof m->room);
    memcpy(m->participant, t->p.participant, sizeof m->participant);
    m->state = t->state;
    m->reason = t->close_reason;
    m->profile = t->profile;
    lg_mq_post(w->control, &m->hdr);
}

int lg_worker_set_certs(lg_worker_t *w, X509 *cert, EVP_PKEY *key)
{
    return dtls_ctx_new(cert, key, 1, NULL, &w->dtls);
}

static void on_transport_add(void *ctx, lg_msg_t *m)
{
    lg_worker_t *w = ctx;
    worker_transport_add_t *a = (worker_transport_add_t *)m;
    if (!transport_create(w, &a->params, lg_worker_now_ms(w))) {
        transport_t failed;
        memset(&failed, 0, sizeof failed);
        failed.p = a->params;
        failed.state = TRANSPORT_CLOSED;
        failed.close_reason = TRANSPORT_CLOSE_NONE;
        lg_worker_report_transport(w, &failed);
    }
    free(m);
}

static void on_transport_remove(void *ctx, lg_msg_t *m)
{
    lg_worker_t *w = ctx;
    transport_t *t = transport_find_id(w, ((worker_transport_remove_t *)m)->id);
    if (t)
        transport_close(t, TRANSPORT_CLOSE_REQUESTED);
    free(m);
}

static void on_producer_add(void *ctx, lg_msg_t *m)
{
    router_add_producer(ctx, &((worker_producer_add_t *)m)->params);
    free(m);
}

static void on_consumer_add(void *ctx, lg_msg_t *m)
{
    router_add_consumer(ctx, &((worker_consumer_add_t *)m)->params);
    lg_worker_t *w = ctx;
    for (int i = 0; i < w->udp_started; i++)
        udp_io_flush(&w->udp[i]); /* the keyframe request */
    free(m);
}

static void on_consumer_remove(void *ctx, lg_msg_t *m)
{
    router_remove_consumer(ctx, ((worker_id_msg_t *)m)->id);
    free(m);
}

static void on_producer_mute(void *ctx, lg_msg_t *m)
{
    worker_id_msg_t *x = (worker_id_msg_t *)m;
    router_set_muted(ctx, x->id, x->muted);
    free(m);
}

static void on_feedback_timer(uv_timer_t *timer)
{
    lg_worker_t *w = timer->data;
    router_send_nacks(w, lg_worker_now_ms(w));
    router_update_speakers(w, lg_worker_now_ms(w));
    if (lg_worker_now_ms(w) - w->last_layers_ms >= 500) {
        w->last_layers_ms = lg_worker_now_ms(w);
        router_update_layers(w, w->last_layers_ms);
    }
    mixing_tick(w, lg_worker_now_ms(w));
    for (int i = 0; i < w->udp_started; i++)
        udp_io_flush(&w->udp[i]);
}

static void on_producer_remove(void *ctx, lg_msg_t *m)
{
    router_remove_producer(ctx, ((worker_id_msg_t *)m)->id);
    free(m);
}

static void on_mix_add(void *ctx, lg_msg_t *m)
{
    mixing_add_listener(ctx, &((worker_mix_add_t *)m)->params);
    free(m);
}

static void on_mix_remove(void *ctx, lg_msg_t *m)
{
    mixing_remove_listener(ctx, ((worker_id_msg_t *)m)->id);
    free(m);
}

static void on_sweep_timer(uv_timer_t *timer)
{
    lg_worker_t *w = timer->data;
    uint64_t now = lg_worker_now_ms(w);
    transport_sweep(w, now, (uint64_t)w->cfg->consent_timeout_s * 1000);
    if (now - w->last_reports_ms >= RTCP_REPORT_INTERVAL_MS) {
        w->last_reports_ms = now;
        rtcp_reports_send(w, now);
    }
    for (int i = 0; i < w->udp_started; i++)
        udp_io_flush(&w->udp[i]);
}

static void close_any(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

static void on_stop(void *ctx, lg_msg_t *m)
{
    lg_worker_t *w = ctx;
    free(m);
    for (int i = 0; i < w->udp_started; i++)
        udp_io_close(&w->udp[i]);
    uv_timer_stop(&w->lag_timer);
    uv_timer_stop(&w->sweep_timer);
    uv_timer_stop(&w->feedback_timer);
    while (w->transports.all)
        transport_close(w->transports.all, TRANSPORT_CLOSE_SHUTDOWN);
    mixing_free(w);
    router_free(w);
    for (int i = 0; i < w->tcp_started; i++)
        tcp_io_close(&w->tcp[i]);
    lg_mq_close(&w->inbox, NULL);
    uv_walk(&w->loop, close_any, NULL); /* anything a module forgot is still closed */
}

static const lg_mq_handler_fn WORKER_HANDLERS[WORKER_MSG_COUNT] = {
    [WORKER_MSG_STOP] = on_stop,
    [WORKER_MSG_STATS_REQ] = on_stats_req,
    [WORKER_MSG_TRANSPORT_ADD] = on_transport_add,
    [WORKER_MSG_TRANSPORT_REMOVE] = on_transport_remove,
    [WORKER_MSG_PRODUCER_ADD] = on_producer_add,
    [WORKER_MSG_CONSUMER_ADD] = on_consumer_add,
    [WORKER_MSG_CONSUMER_REMOVE] = on_consumer_remove,
    [WORKER_MSG_PRODUCER_MUTE] = on_producer_mute,
    [WORKER_MSG_PRODUCER_REMOVE] = on_producer_remove,
    [WORKER_MSG_MIX_LISTENER_ADD] = on_mix_add,
    [WORKER_MSG_MIX_LISTENER_REMOVE] = on_mix_remove,
};

/* Event-loop lag: how late a 100 ms repeating timer fires, in microseconds. */
static void on_lag_timer(uv_timer_t *t)
{
    lg_worker_t *w = t->data;
    uint64_t now = uv_hrtime();
    uint64_t lag = now > w->lag_expected_ns ? (now - w->lag_expected_ns) / 1000 : 0;
    w->counters.loop_lag_us_last = lag;
    if (lag > w->counters.loop_lag_us_max)
        w->counters.loop_lag_us_max = lag;
    w->lag_expected_ns = now + (uint64_t)LAG_INTERVAL_MS * 1000000;
}

static void on_udp_packet(void *ctx, udp_io_t *io, uint8_t *data, size_t len,
                          const struct sockaddr *from, socklen_t fromlen)
{
    lg_worker_t *w = ctx;
    lg_path_t path;
    path.udp = io;
    path.tcp = NULL;
    memcpy(&path.addr, from, fromlen);
    path.addrlen = fromlen;
    lg_packet_in(w, &path, data, len);
}

static void on_tcp_packet(void *ctx, tcp_conn_t *conn, uint8_t *data, size_t len,
                          const struct sockaddr *from, socklen_t fromlen)
{
    lg_worker_t *w = ctx;
    lg_path_t path;
    path.udp = NULL;
    path.tcp = conn;
    memcpy(&path.addr, from, fromlen);
    path.addrlen = fromlen;
    lg_packet_in(w, &path, data, len);
    for (int i = 0; i < w->udp_started; i++)
        udp_io_flush(&w->udp[i]); /* what it forwarded to UDP subscribers */
}

static void on_tcp_close(void *ctx, tcp_conn_t *conn)
{
    transport_path_closed(ctx, conn);
}

static const tcp_io_callbacks_t TCP_CALLBACKS = {on_tcp_packet, on_tcp_close};

static void worker_main(void *arg)
{
    lg_worker_t *w = arg;
    char name[16];
    snprintf(name, sizeof name, "worker-%d", w->index);
    lg_log_set_thread_name(name);
    LG_DEBUG("running");
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int rc = uv_loop_close(&w->loop);
    if (rc != 0)
        LG_ERROR("loop closed with handles still open: %s", uv_strerror(rc));
    LG_DEBUG("stopped");
}

static int worker_setup_loop(lg_worker_t *w)
{
    int rc = uv_loop_init(&w->loop);
    if (rc != 0)
        return rc;
    w->relay_ssrc = 0x4c470000u | (uint32_t)w->index; /* "LG" + worker */
    if (RAND_bytes((uint8_t *)&w->hash_key, sizeof w->hash_key) != 1) {
        uv_loop_close(&w->loop);
        return UV_EIO;
    }
    lg_ratelimit_init(&w->warn_limit, 5, 10000);
    if ((rc = tt_init(&w->transports)) != 0) {
        uv_loop_close(&w->loop);
        return rc;
    }
    rc = lg_mq_init(&w->inbox, &w->loop, WORKER_HANDLERS, WORKER_MSG_COUNT, w);
    if (rc != 0) {
        uv_loop_close(&w->loop);
        return rc;
    }
    uv_timer_init(&w->loop, &w->lag_timer);
    w->lag_timer.data = w;
    w->lag_expected_ns = uv_hrtime() + (uint64_t)LAG_INTERVAL_MS * 1000000;
    uv_timer_start(&w->lag_timer, on_lag_timer, LAG_INTERVAL_MS, LAG_INTERVAL_MS);
    uv_timer_init(&w->loop, &w->feedback_timer);
    w->feedback_timer.data = w;
    uv_timer_start(&w->feedback_timer, on_feedback_timer, ROUTER_NACK_INTERVAL_MS,
                   ROUTER_NACK_INTERVAL_MS);
    uv_timer_init(&w->loop, &w->sweep_timer);
    w->sweep_timer.data = w;
    uint64_t sweep = (uint64_t)w->cfg->consent_timeout_s * 250;
    sweep = sweep < 100 ? 100 : sweep > 1000 ? 1000 : sweep;
    uv_timer_start(&w->sweep_timer, on_sweep_timer, sweep, sweep);
    for (int i = 0; i < w->nudp; i++) {
        rc = udp_io_start(&w->udp[i], &w->loop, w->udp_fds[i], on_udp_packet, w, &w->counters);
        if (rc != 0)
            return rc;
        w->udp_started++;
        rc = tcp_io_start(&w->tcp[i], &w->loop, w->tcp_fds[i], &TCP_CALLBACKS, NULL, w,
                          &w->counters);
        if (rc != 0)
            return rc;
        w->tcp_started++;
    }
    return 0;
}

int lg_worker_start(lg_worker_t *w, lg_mq_t *control)
{
    w->control = control;
    int rc = worker_setup_loop(w);
    if (rc == 0)
        rc = uv_thread_create(&w->thread, worker_main, w);
    if (rc != 0) {
        /* Run the loop here once to close what setup opened, so nothing leaks. */
        lg_worker_post(w, lg_msg_new(WORKER_MSG_STOP, sizeof(lg_msg_t)));
        uv_run(&w->loop, UV_RUN_DEFAULT);
        uv_loop_close(&w->loop);
        lg_mq_destroy(&w->inbox);
        tt_free(&w->transports);
        for (int i = w->udp_started; i < w->nudp; i++)
            close(w->udp_fds[i]);
        for (int i = w->tcp_started; i < w->nudp; i++)
            close(w->tcp_fds[i]);
        w->nudp = w->udp_started = w->tcp_started = 0;
        return rc;
    }
    w->running = 1;
    return 0;
}

int lg_worker_post(lg_worker_t *w, lg_msg_t *msg)
{
    if (!msg)
        return LG_ENOMEM;
    return lg_mq_post(&w->inbox, msg);
}

void lg_worker_stop(lg_worker_t *w)
{
    if (!w->running) {
        for (int i = 0; i < w->nudp; i++) {
            close(w->udp_fds[i]);
            close(w->tcp_fds[i]);
        }
        w->nudp = 0;
        dtls_ctx_free(w->dtls);
        w->dtls = NULL;
        return;
    }
    lg_worker_post(w, lg_msg_new(WORKER_MSG_STOP, sizeof(lg_msg_t)));
    uv_thread_join(&w->thread);
    lg_mq_destroy(&w->inbox);
    tt_free(&w->transports);
    dtls_ctx_free(w->dtls);
    w->dtls = NULL;
    w->running = 0;
    w->nudp = w->udp_started = w->tcp_started = 0; /* sockets closed with their handles */
}
