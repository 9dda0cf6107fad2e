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
#include <strings.h>

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
int sig_local_params(const signaling_t *sig, int worker, negotiate_local_t *l)
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

void sig_post_transport(sig_session_t *s, const negotiate_local_t *l, const char *remote_ufrag,
                        const char *remote_fp, uint64_t id, int worker)
{
    worker_transport_add_t *msg = lg_msg_new(WORKER_MSG_TRANSPORT_ADD, sizeof *msg);
    if (!msg)
        return;
    transport_params_t *p = &msg->params;
    p->id = id;
    snprintf(p->room, sizeof p->room, "%s", s->p->room->id);
    snprintf(p->participant, sizeof p->participant, "%s", s->p->id);
    snprintf(p->local_ufrag, sizeof p->local_ufrag, "%.31s", l->ice_ufrag);
    snprintf(p->local_pwd, sizeof p->local_pwd, "%.63s", l->ice_pwd);
    snprintf(p->remote_ufrag, sizeof p->remote_ufrag, "%.259s", remote_ufrag);
    snprintf(p->remote_fingerprint, sizeof p->remote_fingerprint, "%.199s", remote_fp);
    lg_worker_post(&s->sig->workers[worker], &msg->hdr);
}

static void post_producer(sig_session_t *s, const sig_track_t *tr)
{
    worker_producer_add_t *msg = lg_msg_new(WORKER_MSG_PRODUCER_ADD, sizeof *msg);
    if (!msg)
        return;
    producer_params_t *p = &msg->params;
    const negotiate_track_t *n = &tr->neg;
    p->id = tr->producer_id;
    p->transport_id = s->publish_transport;
    p->kind = n->kind == SDP_KIND_AUDIO ? ROUTER_AUDIO : ROUTER_VIDEO;
    p->pt = n->codecs[0].pt;
    p->rtx_pt = n->codecs[0].rtx_pt;
    p->clock_rate = n->codecs[0].clock_rate;
    p->h264 = strcasecmp(n->codecs[0].name, "H264") == 0;
    snprintf(p->mid, sizeof p->mid, "%.31s", n->mid);
    p->nlayers = n->layer_count ? n->layer_count : 1;
    if (p->nlayers > ROUTER_MAX_LAYERS)
        p->nlayers = ROUTER_MAX_LAYERS;
    for (int l = 0; l < p->nlayers; l++) {
        snprintf(p->rids[l], sizeof p->rids[l], "%.15s", n->layer_count ? n->layers[l].rid : "");
        p->ssrcs[l] = n->layer_count ? n->layers[l].ssrc : n->ssrc;
        p->rtx_ssrcs[l] = n->layer_count ? n->layers[l].rtx_ssrc : n->rtx_ssrc;
        if (n->layer_count) {
            const negotiate_layer_t *nl = &n->layers[l];
            p->hints[l] =
                (layer_rank_hint_t){nl->max_width, nl->max_height, nl->max_br, nl->max_fps};
        }
    }
    p->ext_mid = (uint8_t)n->ext.mid;
    p->ext_rid = (uint8_t)n->ext.rid;
    p->ext_rrid = (uint8_t)n->ext.repaired_rid;
    p->ext_audio_level = (uint8_t)n->ext.audio_level;
    p->ext_abs_send_time = (uint8_t)n->ext.abs_send_time;
    p->ext_twcc = (uint8_t)n->ext.twcc;
    lg_worker_post(&s->sig->workers[s->publish_worker], &msg->hdr);
}

static const negotiate_track_t *result_track(const negotiate_publish_t *res, const char *mid)
{
    for (int i = 0; i < res->track_count; i++)
        if (strcmp(res->tracks[i].mid, mid) == 0 && res->tracks[i].direction != SDP_DIR_INACTIVE &&
            res->tracks[i].codec_count > 0)
            return &res->tracks[i];
    return NULL;
}

static void post_producer_remove(sig_session_t *s, uint64_t id)
{
    worker_id_msg_t *msg = lg_msg_new(WORKER_MSG_PRODUCER_REMOVE, sizeof *msg);
    if (!msg)
        return;
    msg->id = id;
    lg_worker_post(&s->sig->workers[s->publish_worker], &msg->hdr);
}

/* Tracks follow the negotiated m-lines: ones that went away (or inactive) lose their producer,
 * new ones (a screen share added by renegotiation) get one; the others are left running. */
static void record_tracks(sig_session_t *s, const negotiate_publish_t *res)
{
    int kept = 0;
    for (int i = 0; i < s->ntracks; i++) {
        if (result_track(res, s->tracks[i].neg.mid))
            s->tracks[kept++] = s->tracks[i];
        else
            post_producer_remove(s, s->tracks[i].producer_id);
    }
    s->ntracks = kept;
    for (int i = 0; i < res->track_count && s->ntracks < SIG_MAX_TRACKS; i++) {
        const negotiate_track_t *n = &res->tracks[i];
        bool known = false;
        for (int k = 0; k < kept; k++)
            known |= strcmp(s->tracks[k].neg.mid, n->mid) == 0;
        if (known || n->direction == SDP_DIR_INACTIVE || n->codec_count == 0)
            continue;
        sig_track_t *tr = &s->tracks[s->ntracks++];
        tr->producer_id = ++s->sig->next_transport_id;
        tr->neg = *n;
        if (n->track_id[0])
            snprintf(tr->track_id, sizeof tr->track_id, "%s", n->track_id);
        else
            snprintf(tr->track_id, sizeof tr->track_id, "%.20s-%.20s", s->p->id, n->mid);
        post_producer(s, tr);
    }
}

typedef struct {
    sdp_session_t offer;
    sdp_session_t answer;
    negotiate_publish_t result;
    negotiate_local_t local;
    char text[SDP_TEXT_MAX];
} publish_work_t;

static void publish_negotiated(sig_session_t *s, const proto_msg_t *m, publish_work_t *w,
                               int worker)
{
    if (!s->publish_transport) {
        s->publish_transport = ++s->sig->next_transport_id;
        s->publish_worker = worker;
        s->publish_local = w->local;
        snprintf(s->publish_remote_ufrag, sizeof s->publish_remote_ufrag, "%s",
                 w->result.ice_ufrag);
        sig_post_transport(s, &w->local, w->result.ice_ufrag, w->result.fingerprint,
                           s->publish_transport, worker);
    }
    record_tracks(s, &w->result);
    sig_send(s, proto_build_publish_answer(&m->id, w->text));
    if (s->p->muted_audio)
        sig_mute_tracks(s, PROTO_KIND_AUDIO, true);
    if (s->p->muted_video)
        sig_mute_tracks(s, PROTO_KIND_VIDEO, true);
    sig_room_tracks_changed(s->p->room);
}

void sig_on_publish(sig_session_t *s, const proto_msg_t *m)
{
    if (s->p->role == AUTH_ROLE_OBSERVER) {
        sig_error(s, &m->id, PROTO_ERR_FORBIDDEN, "observers cannot publish");
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
    } else if (s->publish_transport ? (w->local = s->publish_local, 0) /* renegotiation */
                                    : sig_local_params(s->sig, worker, &w->local) != 0) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "no randomness for ICE credentials");
    } else if (negotiate_publish(&w->offer, &w->local, &w->answer, &w->result, why, sizeof why) !=
               0) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "%s", why);
    } else if (s->publish_transport && strcmp(w->result.ice_ufrag, s->publish_remote_ufrag) != 0) {
        sig_error(
            s, &m->id, PROTO_ERR_BAD_SDP,
            "an ICE restart on the publish connection is not supported: leave and join again");
    } else if (sdp_write(&w->answer, w->text, sizeof w->text - 1, &len) != 0) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "the answer does not fit");
    } else {
        w->text[len] = '\0';
        publish_negotiated(s, m, w, worker);
    }
    free(w);
}

void sig_mute_tracks(sig_session_t *s, proto_kind_t kind, bool muted)
{
    if (kind == PROTO_KIND_SCREEN)
        return; /* a screen share is not a separate publish yet: never mute the camera for it */
    sdp_kind_t k = kind == PROTO_KIND_AUDIO ? SDP_KIND_AUDIO : SDP_KIND_VIDEO;
    for (int i = 0; i < s->ntracks; i++) {
        if (s->tracks[i].neg.kind != k)
            continue;
        worker_id_msg_t *msg = lg_msg_new(WORKER_MSG_PRODUCER_MUTE, sizeof *msg);
        if (!msg)
            return;
        msg->id = s->tracks[i].producer_id;
        msg->muted = muted;
        lg_worker_post(&s->sig->workers[s->publish_worker], &msg->hdr);
    }
}

static void remove_transport(sig_session_t *s, uint64_t id, int worker)
{
    worker_transport_remove_t *msg = lg_msg_new(WORKER_MSG_TRANSPORT_REMOVE, sizeof *msg);
    if (msg) {
        msg->id = id;
        lg_worker_post(&s->sig->workers[worker], &msg->hdr);
    }
}

void sig_release_media(sig_session_t *s)
{
    if (s->publish_transport)
        remove_transport(s, s->publish_transport, s->publish_worker);
    if (s->sub_transport && s->p)
        remove_transport(s, s->sub_transport, s->p->room->worker);
    s->publish_transport = 0;
    s->sub_transport = 0;
    s->ntracks = 0;
    sig_subscribe_reset(s);
    s->offer_pending = s->offer_dirty = false;
    s->sub_local_ready = false;
}

static sig_session_t *session_of_transport(signaling_t *sig, uint64_t id, const char **which)
{
    for (sig_session_t *s = sig->sessions; s; s = s->next) {
        if (s->publish_transport == id) {
            *which = "publish";
            return s;
        }
        if (s->sub_transport == id) {
            *which = "subscribe";
            return s;
        }
    }
    return NULL;
}

void signaling_on_low_bandwidth(signaling_t *sig, uint64_t transport_id, bool low,
                                uint64_t estimate_bps)
{
    const char *which;
    sig_session_t *s = session_of_transport(sig, transport_id, &which);
    if (!s || !s->p || sig->cfg->mix_below_kbps == 0)
        return;
    LG_INFO("participant %s: estimated downlink %llu kbit/s: %s", s->p->id,
            (unsigned long long)(estimate_bps / 1000), low ? "low bandwidth" : "recovered");
    if (low && s->p->room->e2ee) {
        /* The relay cannot decode an E2EE room's audio: the participant keeps per-speaker
         * streams. Counted every time, said once per participant. */
        sig->stats.e2ee_automix_skipped++;
        if (!s->e2ee_automix_logged)
            LG_INFO("participant %s: room %s is end-to-end encrypted: staying on per-speaker "
                    "audio (mixing would need to decode it)",
                    s->p->id, s->p->room->id);
        s->e2ee_automix_logged = true;
        return;
    }
    if (low && !s->p->mixed_audio) {
        s->auto_mixed = true;
        sig_set_mixed_audio(s, true);
    } else if (!low && s->auto_mixed) {
        s->auto_mixed = false;
        sig_set_mixed_audio(s, false);
    }
}

void signaling_on_transport(signaling_t *sig, const worker_transport_msg_t *m)
{
    const char *which = "publish";
    sig_session_t *s = session_of_transport(sig, m->id, &which);
    const char *state = m->state == TRANSPORT_CONNECTED ? "connected" : "closed";
    if (m->state == TRANSPORT_CLOSED && m->reason != TRANSPORT_CLOSE_REQUESTED &&
        m->reason != TRANSPORT_CLOSE_SHUTDOWN)
        LG_INFO("transport %llu (room %s, participant %s) closed: %s", (unsigned long long)m->id,
                m->room, m->participant, transport_close_label(m->reason));
    if (!s || !s->p)
        return; /* the participant already left */
    if (m->state == TRANSPORT_CLOSED && s->publish_transport == m->id) {
        s->publish_transport = 0;
        s->ntracks = 0;
        sig_room_tracks_changed(s->p->room);
    } else if (m->state == TRANSPORT_CLOSED) {
        s->sub_transport = 0; /* the next answer creates a new one */
        for (int i = 0; i < s->lines.count; i++)
            s->slots[i].consuming = false;
        if (m->reason != TRANSPORT_CLOSE_REQUESTED && m->reason != TRANSPORT_CLOSE_SHUTDOWN)
            sig_resubscribe(s, true);
    }
    sig_send(s, proto_build_media_state(which, state,
                                        m->state == TRANSPORT_CLOSED
                                            ? transport_close_label(m->reason)
                                            : dtls_srtp_profile_str(m->profile)));
}
