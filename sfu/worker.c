/* Media worker thread: owns its loop, sockets and counters; handles control messages by table. */
#include "sfu/worker.h"
#include "sfu/demux.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/packet.h"

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
            for (int j = 0; j < w->nudp; j++)
                close(w->udp_fds[j]);
            w->nudp = 0;
            return LG_EIO;
        }
        w->udp_fds[w->nudp++] = fd;
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
    lg_mq_close(&w->inbox, NULL);
    uv_walk(&w->loop, close_any, NULL); /* anything a module forgot is still closed */
}

static const lg_mq_handler_fn WORKER_HANDLERS[WORKER_MSG_COUNT] = {
    [WORKER_MSG_STOP] = on_stop,
    [WORKER_MSG_STATS_REQ] = on_stats_req,
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
    lg_packet_in(&w->counters, data, len, from, fromlen);
}

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
    rc = lg_mq_init(&w->inbox, &w->loop, WORKER_HANDLERS, WORKER_MSG_COUNT, w);
    if (rc != 0) {
        uv_loop_close(&w->loop);
        return rc;
    }
    uv_timer_init(&w->loop, &w->lag_timer);
    w->lag_timer.data = w;
    w->lag_expected_ns = uv_hrtime() + (uint64_t)LAG_INTERVAL_MS * 1000000;
    uv_timer_start(&w->lag_timer, on_lag_timer, LAG_INTERVAL_MS, LAG_INTERVAL_MS);
    for (int i = 0; i < w->nudp; i++) {
        rc = udp_io_start(&w->udp[i], &w->loop, w->udp_fds[i], on_udp_packet, w, &w->counters);
        if (rc != 0)
            return rc;
        w->udp_started++;
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
        for (int i = w->udp_started; i < w->nudp; i++)
            close(w->udp_fds[i]);
        w->nudp = w->udp_started = 0;
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
        for (int i = 0; i < w->nudp; i++)
            close(w->udp_fds[i]);
        w->nudp = 0;
        return;
    }
    lg_worker_post(w, lg_msg_new(WORKER_MSG_STOP, sizeof(lg_msg_t)));
    uv_thread_join(&w->thread);
    lg_mq_destroy(&w->inbox);
    w->running = 0;
    w->nudp = w->udp_started = 0; /* the sockets were closed with their handles */
}
