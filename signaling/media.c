/* Publish negotiation on the control thread: parse the browser's offer, answer it as the relay's
 * ICE-lite, DTLS-passive endpoint, and ask the room's media worker to create the transport. */
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "signaling/negotiate.h"
#include "signaling/sdp.h"
#include "signaling/signaling_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDP_TEXT_MAX (64 * 1024)

/* ICE ufrag/pwd characters (RFC 8839: ALPHA / DIGIT / "+" / "/"). */
static int random_ice_string(char *out, size_t n)
{
    static const char chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    uint8_t raw[128];
    if (n > sizeof raw || RAND_bytes(raw, (int)n) != 1)
        return LG_ECRYPTO;
    for (size_t i = 0; i < n; i++)
        out[i] = chars[raw[i] & 63];
    out[n] = '\0';
    return 0;
}

/* The relay side of the negotiation: fresh credentials and the room's worker's candidates. */
static int local_params(const signaling_t *sig, int worker, negotiate_local_t *l)
{
    memset(l, 0, sizeof *l);
    if (random_ice_string(l->ice_ufrag, 8) != 0 || random_ice_string(l->ice_pwd, 24) != 0)
        return LG_ECRYPTO;
    snprintf(l->fingerprint, sizeof l->fingerprint, "%s", sig->dtls_fingerprint);
    RAND_bytes((uint8_t *)&l->session_id, sizeof l->session_id);
    l->session_id >>= 2; /* o= wants a positive 63-bit number */
    l->session_version = 1;
    const lg_config_t *cfg = sig->cfg;
    uint16_t port = (uint16_t)(cfg->media_port + worker);
    for (int pass = 0; pass < 2; pass++) { /* UDP first, then ICE-TCP on the same port */
        for (int i = 0; i < cfg->media_addr_count && l->candidate_count < NEGOTIATE_MAX_CANDIDATES;
             i++) {
            negotiate_candidate_t *c = &l->candidates[l->candidate_count++];
            snprintf(c->ip, sizeof c->ip, "%s",
                     cfg->announce_count > i ? cfg->announce[i] : cfg->media_addrs[i]);
            c->port = port;
            c->transport = pass == 0 ? SDP_TRANSPORT_UDP : SDP_TRANSPORT_TCP;
        }
    }
    return 0;
}

static void post_transport(sig_session_t *s, const negotiate_local_t *l,
                           const negotiate_publish_t *res, uint64_t id)
{
    signaling_t *sig = s->sig;
    worker_transport_add_t *msg = lg_msg_new(WORKER_MSG_TRANSPORT_ADD, sizeof *msg);
    if (!msg)
        return;
    transport_params_t *p = &msg->params;
    p->id = id;
    snprintf(p->room, sizeof p->room, "%s", s->p->room->id);
    snprintf(p->participant, sizeof p->participant, "%s", s->p->id);
    snprintf(p->local_ufrag, sizeof p->local_ufrag, "%.31s", l->ice_ufrag);
    snprintf(p->local_pwd, sizeof p->local_pwd, "%.63s", l->ice_pwd);
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%s", res->ice_ufrag);
    snprintf(p->remote_fingerprint, sizeof p->remote_fingerprint, "%.199s", res->fingerprint);
    lg_worker_post(&sig->workers[s->p->room->worker], &msg->hdr);
}

typedef struct {
    sdp_session_t offer;
    sdp_session_t answer;
    negotiate_publish_t result;
    negotiate_local_t local;
    char text[SDP_TEXT_MAX];
} publish_work_t;

void sig_on_publish(sig_session_t *s, const proto_msg_t *m)
{
    if (s->p->role == AUTH_ROLE_OBSERVER) {
        sig_error(s, &m->id, PROTO_ERR_FORBIDDEN, "observers cannot publish");
        return;
    }
    if (s->publish_transport) {
        sig_error(s, &m->id, PROTO_ERR_BAD_REQUEST,
                  "already publishing: renegotiating a publish connection is not supported yet");
        return;
    }
    publish_work_t *w = malloc(sizeof *w);
    if (!w) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "out of memory");
        return;
    }
    sdp_error_t se;
    char why[256];
    size_t len;
    int worker = s->p->room->worker;
    if (sdp_parse((const uint8_t *)m->sdp.sdp, m->sdp.sdp_len, &w->offer, &se) != 0) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "%s", se.msg);
    } else if (local_params(s->sig, worker, &w->local) != 0) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "no randomness for ICE credentials");
    } else if (negotiate_publish(&w->offer, &w->local, &w->answer, &w->result, why, sizeof why) !=
               0) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "%s", why);
    } else if (sdp_write(&w->answer, w->text, sizeof w->text - 1, &len) != 0) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "the answer does not fit");
    } else {
        w->text[len] = '\0';
        s->publish_transport = ++s->sig->next_transport_id;
        s->publish_worker = worker;
        post_transport(s, &w->local, &w->result, s->publish_transport);
        sig_send(s, proto_build_publish_answer(&m->id, w->text));
    }
    free(w);
}

void sig_on_subscribe_answer(sig_session_t *s, const proto_msg_t *m)
{
    sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "no subscribe offer is pending (seq %lld)",
              (long long)m->sdp.seq);
}

void sig_release_media(sig_session_t *s)
{
    if (!s->publish_transport)
        return;
    worker_transport_remove_t *msg = lg_msg_new(WORKER_MSG_TRANSPORT_REMOVE, sizeof *msg);
    if (msg) {
        msg->id = s->publish_transport;
        lg_worker_post(&s->sig->workers[s->publish_worker], &msg->hdr);
    }
    s->publish_transport = 0;
}

static sig_session_t *session_of_transport(signaling_t *sig, uint64_t id)
{
    for (sig_session_t *s = sig->sessions; s; s = s->next)
        if (s->publish_transport == id)
            return s;
    return NULL;
}

void signaling_on_transport(signaling_t *sig, const worker_transport_msg_t *m)
{
    sig_session_t *s = session_of_transport(sig, m->id);
    const char *state = m->state == TRANSPORT_CONNECTED ? "connected" : "closed";
    if (m->state == TRANSPORT_CLOSED && m->reason != TRANSPORT_CLOSE_REQUESTED &&
        m->reason != TRANSPORT_CLOSE_SHUTDOWN)
        LG_INFO("transport %llu (room %s, participant %s) closed: %s", (unsigned long long)m->id,
                m->room, m->participant, transport_close_label(m->reason));
    if (!s)
        return; /* the participant already left */
    if (m->state == TRANSPORT_CLOSED)
        s->publish_transport = 0;
    sig_send(s, proto_build_media_state("publish", state,
                                        m->state == TRANSPORT_CLOSED
                                            ? transport_close_label(m->reason)
                                            : dtls_srtp_profile_str(m->profile)));
}
