/* ICE-lite responder, DTLS glue and SRTP entry for one transport. The order of checks on a Binding
 * request follows RFC 8489 6.3 and RFC 8445 7.3: USERNAME names a transport, MESSAGE-INTEGRITY
 * proves the peer knows its password, and only then does the relay answer at all. */
#include "sfu/transport.h"
#include "sfu/demux.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/router.h"
#include "sfu/tcp_io.h"
#include "sfu/worker.h"

#include <stdlib.h>
#include <string.h>

#define STUN_REPLY_MAX 256

const char *transport_close_label(transport_close_t why)
{
    static const char *labels[] = {
#define TRANSPORT_CLOSE_LABEL(e, l) l,
        TRANSPORT_CLOSE_MAP(TRANSPORT_CLOSE_LABEL)
#undef TRANSPORT_CLOSE_LABEL
    };
    return (unsigned)why < TRANSPORT_CLOSE_COUNT ? labels[why] : "unknown";
}

static int path_send(const lg_path_t *path, lg_counters_t *c, const uint8_t *data, size_t len)
{
    if (path->tcp)
        return tcp_conn_send(path->tcp, data, len);
    if (len > UDP_IO_TX_BUF)
        return LG_ENOSPC;
    uint8_t *slot = udp_io_tx_slot(path->udp);
    memcpy(slot, data, len);
    udp_io_tx_commit(path->udp, len, (const struct sockaddr *)&path->addr, path->addrlen);
    (void)c;
    return 0;
}

int transport_send(transport_t *t, const uint8_t *data, size_t len)
{
    if (t->selected < 0) {
        lg_count_drop(&t->w->counters, LG_DROP_NO_PATH);
        return LG_ESTATE;
    }
    return path_send(&t->pairs[t->selected], &t->w->counters, data, len);
}

uint8_t *transport_tx_begin(transport_t *t, size_t *cap)
{
    if (t->selected < 0)
        return NULL;
    const lg_path_t *path = &t->pairs[t->selected];
    if (path->tcp) {
        *cap = sizeof t->w->scratch;
        return t->w->scratch;
    }
    *cap = UDP_IO_TX_BUF;
    return udp_io_tx_slot(path->udp);
}

void transport_tx_commit(transport_t *t, uint8_t *buf, size_t len)
{
    const lg_path_t *path = &t->pairs[t->selected];
    if (path->tcp)
        tcp_conn_send(path->tcp, buf, len);
    else
        udp_io_tx_commit(path->udp, len, (const struct sockaddr *)&path->addr, path->addrlen);
}

int transport_send_rtcp(transport_t *t, uint8_t *buf, size_t len, size_t cap)
{
    if (!t->srtp_ready)
        return LG_ESTATE;
    int rc = srtp_session_protect_rtcp(&t->srtp, buf, &len, cap);
    return rc ? rc : transport_send(t, buf, len);
}

/* ---- DTLS glue ----------------------------------------------------------------------------- */

static void dtls_send_cb(void *ctx, const uint8_t *p, size_t len)
{
    transport_send(ctx, p, len);
}

static void dtls_connected_cb(void *ctx, const dtls_srtp_keys_t *keys)
{
    transport_t *t = ctx;
    if (srtp_session_init(&t->srtp, keys) != 0) {
        t->close_reason = TRANSPORT_CLOSE_DTLS_FAILED;
        return;
    }
    t->srtp_ready = 1;
    t->profile = keys->profile;
    t->state = TRANSPORT_CONNECTED;
    t->w->counters.transports_connected++;
    lg_worker_report_transport(t->w, t);
}

static void dtls_state_cb(void *ctx, dtls_state_t state, dtls_reason_t reason)
{
    transport_t *t = ctx;
    if (t->state == TRANSPORT_CLOSED)
        return; /* our own close_notify while closing for another reason */
    if (state == DTLS_STATE_FAILED)
        t->close_reason = reason == DTLS_REASON_FINGERPRINT ? TRANSPORT_CLOSE_FINGERPRINT
                                                            : TRANSPORT_CLOSE_DTLS_FAILED;
    else if (state == DTLS_STATE_CLOSED)
        t->close_reason = TRANSPORT_CLOSE_DTLS_CLOSED;
}

static void dtls_timer_cb(uv_timer_t *timer);

/* After every DTLS step: rearm the retransmission timer, and close if the session ended (the
 * callbacks only record the reason: a session is never freed from inside its own callback). */
static void dtls_after(transport_t *t)
{
    if (t->close_reason != TRANSPORT_CLOSE_NONE) {
        if (t->close_reason == TRANSPORT_CLOSE_FINGERPRINT)
            LG_WARN("transport %llu (room %s, participant %s): DTLS certificate does not match "
                    "the SDP fingerprint; closed",
                    (unsigned long long)t->p.id, t->p.room, t->p.participant);
        transport_close(t, t->close_reason);
        return;
    }
    int64_t ms = dtls_next_timeout_ms(&t->dtls);
    if (ms >= 0)
        uv_timer_start(&t->dtls_timer, dtls_timer_cb, (uint64_t)ms, 0);
    else
        uv_timer_stop(&t->dtls_timer);
}

static void dtls_timer_cb(uv_timer_t *timer)
{
    transport_t *t = timer->data;
    if (dtls_on_timeout(&t->dtls) == LG_EEXPIRED && t->close_reason == TRANSPORT_CLOSE_NONE)
        t->close_reason = TRANSPORT_CLOSE_DTLS_FAILED;
    if (t->selected >= 0 && t->pairs[t->selected].udp)
        udp_io_flush(t->pairs[t->selected].udp);
    dtls_after(t);
}

void transport_on_dtls(transport_t *t, const uint8_t *data, size_t len)
{
    if (dtls_feed(&t->dtls, data, len) != 0 && t->close_reason == TRANSPORT_CLOSE_NONE)
        lg_count_drop(&t->w->counters, LG_DROP_DTLS_REJECTED);
    dtls_after(t);
}

/* ---- SRTP entry ---------------------------------------------------------------------------- */

void transport_on_srtp(transport_t *t, int pair, uint8_t *data, size_t len)
{
    lg_counters_t *c = &t->w->counters;
    if (!t->srtp_ready) {
        lg_count_drop(c, LG_DROP_MEDIA_BEFORE_KEYS);
        return;
    }
    int rtcp = lg_demux_is_rtcp(data, len);
    int rc = rtcp ? srtp_session_unprotect_rtcp(&t->srtp, data, &len)
                  : srtp_session_unprotect_rtp(&t->srtp, data, &len);
    if (rc != 0) {
        srtp_session_reason_t why = srtp_session_reason(rc);
        lg_count_drop(c, why == SRTP_SESSION_AUTH_FAIL     ? LG_DROP_SRTP_AUTH
                         : why == SRTP_SESSION_REPLAY_FAIL ? LG_DROP_SRTP_REPLAY
                                                           : LG_DROP_SRTP_OTHER);
        t->srtp_fail++;
        return;
    }
    if (rtcp) {
        t->rtcp_in++;
        c->rtcp_in++;
        router_on_rtcp(t->w, t, data, len);
    } else {
        t->rtp_in++;
        c->rtp_in++;
        router_on_rtp(t->w, t, data, len);
    }
    (void)pair;
}

/* ---- lifecycle ----------------------------------------------------------------------------- */

transport_t *transport_create(struct lg_worker *w, const transport_params_t *p, uint64_t now_ms)
{
    transport_t *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->p = *p;
    t->w = w;
    t->selected = -1;
    t->created_ms = now_ms;
    dtls_callbacks_t cb = {dtls_send_cb, dtls_connected_cb, dtls_state_cb, t};
    if (dtls_session_init(&t->dtls, w->dtls, &cb) != 0) {
        free(t);
        return NULL;
    }
    if (dtls_set_remote_fingerprint(&t->dtls, p->remote_fingerprint) != 0 ||
        tt_add(&w->transports, t) != 0) {
        dtls_session_free(&t->dtls);
        free(t);
        return NULL;
    }
    uv_timer_init(&w->loop, &t->dtls_timer);
    t->dtls_timer.data = t;
    w->counters.transports_created++;
    w->counters.transports_live++;
    return t;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void transport_close(transport_t *t, transport_close_t why)
{
    if (t->state == TRANSPORT_CLOSED)
        return;
    lg_worker_t *w = t->w;
    t->state = TRANSPORT_CLOSED;
    t->close_reason = why;
    router_transport_closed(w, t);
    tt_remove(&w->transports, t);
    if (why != TRANSPORT_CLOSE_SHUTDOWN && why != TRANSPORT_CLOSE_REQUESTED)
        dtls_session_close(&t->dtls); /* close_notify to a peer that may still listen */
    dtls_session_free(&t->dtls);
    if (t->srtp_ready)
        srtp_session_free(&t->srtp);
    free(t->bwe);
    t->bwe = NULL;
    t->srtp_ready = 0;
    w->counters.transports_closed[why < 16 ? why : 15]++;
    w->counters.transports_live--;
    lg_worker_report_transport(w, t);
    uv_close((uv_handle_t *)&t->dtls_timer, on_timer_closed);
}

void transport_path_closed(struct lg_worker *w, struct tcp_conn *conn)
{
    for (transport_t *t = w->transports.all; t; t = t->next_all) {
        for (int i = t->npairs - 1; i >= 0; i--) {
            if (t->pairs[i].tcp != conn)
                continue;
            tt_remove_path(&w->transports, t, i);
            int last = t->npairs - 1;
            int was_selected = t->selected == i;
            if (i != last) { /* move the last pair into the hole and re-index it */
                tt_remove_path(&w->transports, t, last);
                t->pairs[i] = t->pairs[last];
                tt_add_path(&w->transports, t, i);
                if (t->selected == last)
                    t->selected = i;
            }
            if (was_selected)
                t->selected = -1;
            t->npairs--;
        }
    }
}

transport_t *transport_find_id(struct lg_worker *w, uint64_t id)
{
    for (transport_t *t = w->transports.all; t; t = t->next_all)
        if (t->p.id == id)
            return t;
    return NULL;
}

void transport_sweep(struct lg_worker *w, uint64_t now_ms, uint64_t timeout_ms)
{
    transport_t *t = w->transports.all;
    while (t) {
        transport_t *next = t->next_all;
        if (t->selected >= 0 && now_ms - t->last_consent_ms > timeout_ms)
            transport_close(t, TRANSPORT_CLOSE_CONSENT);
        else if (t->selected < 0 && now_ms - t->created_ms > timeout_ms)
            transport_close(t, TRANSPORT_CLOSE_ICE_TIMEOUT);
        t = next;
    }
}
