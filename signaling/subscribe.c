/* Subscribe connections: the relay offers each participant one m-line per track the others
 * publish, renegotiates when tracks come and go (one offer outstanding at a time, m-lines never
 * reordered; a rejected m-line is recycled for a new track of its kind, see mlines.h), and
 * creates the worker's consumers once the browser's answer arrives. */
#include "sfu/log.h"
#include "signaling/sdp.h"
#include "signaling/signaling_internal.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SDP_TEXT_MAX SDP_MAX_INPUT /* what the browser (and the C peer) will parse */

static const sig_track_t *find_track(room_t *room, uint64_t producer_id, participant_t **owner)
{
    for (participant_t *p = room->participants; p; p = p->next) {
        sig_session_t *ps = p->conn;
        for (int i = 0; ps && i < ps->ntracks; i++)
            if (ps->tracks[i].producer_id == producer_id) {
                *owner = p;
                return &ps->tracks[i];
            }
    }
    return NULL;
}

static bool sending(const sig_session_t *s, int i)
{
    return s->lines.line[i].state == MLINE_SEND;
}

static bool has_slot(const sig_session_t *s, uint64_t producer_id)
{
    for (int i = 0; i < s->lines.count; i++)
        if (sending(s, i) && s->slots[i].producer_id == producer_id)
            return true;
    return false;
}

/* An m-line for a new track of `kind` (recycled or appended), its slot cleared; NULL when none
 * is free: the track is left out, logged once until an m-line frees. */
static sig_slot_t *take_slot(sig_session_t *s, sdp_kind_t kind, const char *what)
{
    int i = mlines_take(&s->lines, kind);
    if (i < 0) {
        if (!s->lines_full_warned)
            LG_WARN("signaling: participant %s: all %d m-lines of its subscribe connection are in "
                    "use; %s is left out until one frees (subscribe-mlines)",
                    s->p->id, s->lines.cap, what);
        s->lines_full_warned = true;
        return NULL;
    }
    s->lines_full_warned = false;
    sig_slot_t *sl = &s->slots[i];
    memset(sl, 0, sizeof *sl);
    sl->consumer_id = ++s->sig->next_transport_id;
    do
        RAND_bytes((uint8_t *)&sl->ssrc, sizeof sl->ssrc);
    while (sl->ssrc == 0);
    return sl;
}

/* Whether rtx pt `rtx` (repairing `apt`) would name another codec than an m-line of the BUNDLE
 * already does (the offer would then fail: the track goes without RTX, resent in place). */
static bool rtx_collides(const sig_session_t *s, const sig_slot_t *self, uint8_t rtx, uint8_t apt)
{
    for (int i = 0; i < s->lines.count; i++) {
        const sig_slot_t *o = &s->slots[i];
        if (o == self || mlines_rejected(&s->lines, i))
            continue;
        if (o->codec.pt == rtx || (o->codec.rtx_pt == rtx && o->codec.pt != apt))
            return true;
    }
    return false;
}

/* Returns false when no m-line is free (the track is left out). */
static bool add_slot(sig_session_t *s, participant_t *owner, const sig_track_t *tr)
{
    char what[160];
    snprintf(what, sizeof what, "track %s of %s", tr->track_id, owner->id);
    sig_slot_t *sl = take_slot(s, tr->neg.kind, what);
    if (!sl)
        return false;
    sl->producer_id = tr->producer_id;
    snprintf(sl->publisher, sizeof sl->publisher, "%s", owner->id);
    snprintf(sl->track_id, sizeof sl->track_id, "%s", tr->track_id);
    sl->codec = tr->neg.codecs[0];
    /* video retransmissions go as RTX where the subscriber accepts it (each resend a new SRTP
     * index); the publisher's rtx pt is reused, so a pt means one thing across the BUNDLE */
    if (tr->neg.kind != SDP_KIND_VIDEO || rtx_collides(s, sl, sl->codec.rtx_pt, sl->codec.pt))
        sl->codec.rtx_pt = 0;
    while (sl->codec.rtx_pt && (sl->rtx_ssrc == 0 || sl->rtx_ssrc == sl->ssrc))
        RAND_bytes((uint8_t *)&sl->rtx_ssrc, sizeof sl->rtx_ssrc);
    return true;
}

#define MIX_PRODUCER 0 /* the mixed-audio slot has no producer: the worker's mixer feeds it */

static bool is_mix(const sig_slot_t *sl)
{
    return sl->producer_id == MIX_PRODUCER;
}

/* The one audio m-line of a mixed listener: Opus from the room's mixer. */
static bool sync_mix_slot(sig_session_t *s)
{
    bool want = s->p->mixed_audio;
    int found = -1;
    for (int i = 0; i < s->lines.count; i++)
        if (sending(s, i) && is_mix(&s->slots[i]))
            found = i;
    if (found >= 0 && !want) {
        mlines_release(&s->lines, found);
        return true;
    }
    if (found >= 0 || !want)
        return false;
    sig_slot_t *sl = take_slot(s, SDP_KIND_AUDIO, "the mixed audio");
    if (!sl)
        return false;
    sl->producer_id = MIX_PRODUCER;
    snprintf(sl->publisher, sizeof sl->publisher, "mix");
    snprintf(sl->track_id, sizeof sl->track_id, "mixed-audio");
    sl->codec.pt = 111;
    snprintf(sl->codec.name, sizeof sl->codec.name, "opus");
    sl->codec.clock_rate = 48000;
    sl->codec.channels = 2;
    snprintf(sl->codec.fmtp, sizeof sl->codec.fmtp, "minptime=10;useinbandfec=1");
    return true;
}

/* Updates s's slots to the room's tracks; returns true if anything changed. A mixed listener
 * gets the mix instead of the others' audio tracks. */
static bool sync_slots(sig_session_t *s)
{
    if (s->lines.cap == 0)
        mlines_init(&s->lines, s->sig->cfg->subscribe_mlines);
    room_t *room = s->p->room;
    bool changed = false;
    for (int i = 0; i < s->lines.count; i++) { /* first free what left, so newcomers may reuse */
        participant_t *owner;
        sig_slot_t *sl = &s->slots[i];
        bool unwanted =
            !is_mix(sl) && (!find_track(room, sl->producer_id, &owner) ||
                            (s->p->mixed_audio && s->lines.line[i].kind == SDP_KIND_AUDIO));
        if (sending(s, i) && unwanted) {
            mlines_release(&s->lines, i);
            changed = true;
        }
    }
    changed |= sync_mix_slot(s);
    for (participant_t *p = room->participants; p; p = p->next) {
        sig_session_t *ps = p->conn;
        if (p == s->p || p->state != PARTICIPANT_JOINED || !ps)
            continue;
        for (int i = 0; i < ps->ntracks; i++)
            if (!(s->p->mixed_audio && ps->tracks[i].neg.kind == SDP_KIND_AUDIO) &&
                !has_slot(s, ps->tracks[i].producer_id) && add_slot(s, p, &ps->tracks[i]))
                changed = true;
    }
    return changed;
}

static void sub_tracks(const mlines_t *lines, const sig_slot_t *slots, negotiate_sub_track_t *out)
{
    for (int i = 0; i < lines->count; i++) {
        const sig_slot_t *sl = &slots[i];
        memset(&out[i], 0, sizeof out[i]);
        out[i].kind = lines->line[i].kind;
        out[i].active = lines->line[i].state == MLINE_SEND;
        out[i].stopped = mlines_rejected(lines, i);
        mlines_mid(lines, i, out[i].mid, sizeof out[i].mid);
        snprintf(out[i].stream_id, sizeof out[i].stream_id, "%s", sl->publisher);
        snprintf(out[i].track_id, sizeof out[i].track_id, "%s", sl->track_id);
        out[i].codec = sl->codec;
        out[i].ssrc = sl->ssrc;
        out[i].rtx_ssrc = sl->rtx_ssrc;
    }
}

/* Builds an offer from m-lines and their slots. Deterministic, so the pending offer is rebuilt
 * from its snapshot (s->offered) to check the answer instead of being kept (it is 2 MB). tracks
 * is scratch space for MLINES_MAX entries (heap: 33 KB). */
static int build_offer(const mlines_t *lines, const sig_slot_t *slots,
                       const negotiate_local_t *local, int64_t seq, negotiate_sub_track_t *tracks,
                       sdp_session_t *offer, char *why, size_t whylen)
{
    sub_tracks(lines, slots, tracks);
    return negotiate_subscribe_offer(tracks, (size_t)lines->count, local, (uint64_t)seq, offer, why,
                                     whylen);
}

static void announce(sig_session_t *s)
{
    for (int i = 0; i < s->lines.count; i++) {
        sig_slot_t *sl = &s->slots[i];
        char mid[16];
        mlines_mid(&s->lines, i, mid, sizeof mid);
        proto_kind_t kind =
            s->lines.line[i].kind == SDP_KIND_AUDIO ? PROTO_KIND_AUDIO : PROTO_KIND_VIDEO;
        if (sending(s, i) && !sl->announced) {
            proto_track_t t = {sl->track_id, kind, mid};
            sig_send(s, proto_build_track_added(sl->publisher, &t));
            sl->announced = true;
        } else if (!sending(s, i) && sl->announced) {
            sig_send(s, proto_build_track_removed(sl->publisher, sl->track_id));
            sl->announced = false;
        }
    }
}

static void send_offer(sig_session_t *s)
{
    if (!s->sub_local_ready) {
        if (sig_local_params(s->sig, s->p->room->worker, &s->sub_local) != 0)
            return;
        s->sub_local_ready = true;
    }
    sdp_session_t *offer = malloc(sizeof *offer);
    negotiate_sub_track_t *tracks = malloc(MLINES_MAX * sizeof *tracks);
    char *text = malloc(SDP_TEXT_MAX);
    char why[256] = "the offer does not fit its buffer";
    size_t len;
    if (offer && tracks && text &&
        build_offer(&s->lines, s->slots, &s->sub_local, s->offer_seq + 1, tracks, offer, why,
                    sizeof why) == 0 &&
        sdp_write(offer, text, SDP_TEXT_MAX - 1, &len) == 0) {
        text[len] = '\0';
        s->offer_seq++;
        s->offer_pending = true;
        s->offered_lines = s->lines;
        memcpy(s->offered, s->slots, (size_t)s->lines.count * sizeof s->offered[0]);
        s->offered_local = s->sub_local;
        announce(s);
        sig_send(s, proto_build_subscribe_offer(text, s->offer_seq));
    } else if (offer && tracks && text) {
        LG_WARN("signaling: cannot offer participant %s its tracks: %s", s->p->id, why);
    }
    free(offer);
    free(tracks);
    free(text);
}

static void sync_session(sig_session_t *s)
{
    if (!s->p || s->p->state != PARTICIPANT_JOINED || s->closing)
        return;
    if (!sync_slots(s))
        return;
    if (s->offer_pending)
        s->offer_dirty = true;
    else
        send_offer(s);
}

void sig_set_mixed_audio(sig_session_t *s, bool mixed)
{
    if (s->p->mixed_audio == mixed)
        return;
    s->p->mixed_audio = mixed;
    sig_send(s, proto_build_audio_mode(mixed));
    sync_session(s);
}

void sig_room_tracks_changed(room_t *room)
{
    for (participant_t *p = room->participants; p; p = p->next)
        if (p->conn)
            sync_session(p->conn);
}

static void post_consumer(sig_session_t *s, const sig_slot_t *sl, const negotiate_sub_media_t *m)
{
    worker_consumer_add_t *msg = lg_msg_new(WORKER_MSG_CONSUMER_ADD, sizeof *msg);
    if (!msg)
        return;
    consumer_params_t *c = &msg->params;
    c->id = sl->consumer_id;
    c->transport_id = s->sub_transport;
    c->producer_id = sl->producer_id;
    c->ssrc = sl->ssrc;
    c->pt = sl->codec.pt;
    if (m->rtx && sl->codec.rtx_pt) { /* else NACKs are answered in place, byte-identical */
        c->rtx_pt = sl->codec.rtx_pt;
        c->rtx_ssrc = sl->rtx_ssrc;
    }
    c->ext_abs_send_time = (uint8_t)m->ext.abs_send_time;
    c->ext_audio_level = (uint8_t)m->ext.audio_level;
    c->ext_twcc = (uint8_t)m->ext.twcc;
    c->preferred_layer = -1;
    lg_worker_post(&s->sig->workers[s->p->room->worker], &msg->hdr);
}

static void post_mix_listener(sig_session_t *s, const sig_slot_t *sl)
{
    worker_mix_add_t *msg = lg_msg_new(WORKER_MSG_MIX_LISTENER_ADD, sizeof *msg);
    if (!msg)
        return;
    mix_listener_params_t *m = &msg->params;
    m->id = sl->consumer_id;
    m->transport_id = s->sub_transport;
    snprintf(m->room, sizeof m->room, "%s", s->p->room->id);
    snprintf(m->participant, sizeof m->participant, "%s", s->p->id);
    m->ssrc = sl->ssrc;
    m->pt = sl->codec.pt;
    lg_worker_post(&s->sig->workers[s->p->room->worker], &msg->hdr);
}

static void post_consumer_remove(sig_session_t *s, const sig_slot_t *sl)
{
    worker_id_msg_t *msg = lg_msg_new(
        is_mix(sl) ? WORKER_MSG_MIX_LISTENER_REMOVE : WORKER_MSG_CONSUMER_REMOVE, sizeof *msg);
    if (!msg)
        return;
    msg->id = sl->consumer_id;
    lg_worker_post(&s->sig->workers[s->p->room->worker], &msg->hdr);
}

/* The answer checked out: create the transport on first use, then the consumers. */
static void apply_answer(sig_session_t *s, const negotiate_sub_result_t *res)
{
    if (!s->sub_transport && res->ice_ufrag[0]) {
        s->sub_transport = ++s->sig->next_transport_id;
        sig_post_transport(s, &s->offered_local, res->ice_ufrag, res->fingerprint, s->sub_transport,
                           s->p->room->worker);
    }
    /* M-lines never move, and one is recycled only once an answered offer showed it rejected, so
     * offered[i] and slots[i] carry the same track when their mids agree; a track that left since
     * the offer went out is removed with this answer. */
    const mlines_t *ol = &s->offered_lines;
    for (int i = 0; i < ol->count && i < res->media_count; i++) {
        sig_slot_t *sl = &s->slots[i];
        bool wanted = ol->line[i].state == MLINE_SEND && sending(s, i) &&
                      ol->line[i].mid == s->lines.line[i].mid && res->media[i].accepted;
        if (wanted && !sl->consuming && s->sub_transport) {
            if (is_mix(sl))
                post_mix_listener(s, sl);
            else
                post_consumer(s, sl, &res->media[i]);
            sl->consuming = true;
        } else if (!wanted && sl->consuming) {
            post_consumer_remove(s, sl);
            sl->consuming = false;
        }
    }
    mlines_answered(&s->lines, ol); /* rejected on both sides now: free to recycle */
}

void sig_subscribe_reset(sig_session_t *s)
{
    mlines_init(&s->lines, s->sig->cfg->subscribe_mlines);
    s->lines_full_warned = false;
}

void sig_resubscribe(sig_session_t *s, bool restart)
{
    if (!s->p || s->p->state != PARTICIPANT_JOINED || s->closing)
        return;
    if (restart)
        s->sub_local_ready = false; /* ICE restart: new credentials for the new transport */
    if (s->offer_pending)
        s->offer_dirty = true;
    else if (s->lines.count > 0)
        send_offer(s);
}

typedef struct {
    sdp_session_t offer;
    sdp_session_t answer;
    negotiate_sub_result_t res;
    negotiate_sub_track_t tracks[MLINES_MAX];
} answer_work_t;

void sig_on_subscribe_answer(sig_session_t *s, const proto_msg_t *m)
{
    if (!s->offer_pending || m->sdp.seq != s->offer_seq) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP,
                  "answer to subscribe offer %lld, but the pending offer is %lld",
                  (long long)m->sdp.seq, s->offer_pending ? (long long)s->offer_seq : -1LL);
        return;
    }
    answer_work_t *w = malloc(sizeof *w);
    if (!w) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "out of memory");
        return;
    }
    sdp_error_t se;
    char why[256];
    int rc = build_offer(&s->offered_lines, s->offered, &s->offered_local, s->offer_seq, w->tracks,
                         &w->offer, why, sizeof why);
    if (rc != 0) {
        sig_error(s, &m->id, PROTO_ERR_INTERNAL, "%s", why);
    } else if (sdp_parse((const uint8_t *)m->sdp.sdp, m->sdp.sdp_len, &w->answer, &se) != 0) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "%s", se.msg);
    } else if (negotiate_subscribe_answer(&w->offer, &w->answer, &w->res, why, sizeof why) != 0) {
        sig_error(s, &m->id, PROTO_ERR_BAD_SDP, "%s", why);
        s->offer_pending = false; /* offer again rather than stay stuck */
        if (!s->closing)
            send_offer(s);
    } else {
        s->offer_pending = false;
        apply_answer(s, &w->res);
        sig_send(s, proto_build_ok(&m->id));
        /* tracks may have come while the offer was out, or have waited for an m-line to free */
        if (!s->closing && s->p && s->p->state == PARTICIPANT_JOINED &&
            (sync_slots(s) || s->offer_dirty)) {
            s->offer_dirty = false;
            send_offer(s);
        }
    }
    free(w);
}
