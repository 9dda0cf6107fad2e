/* Producer/consumer bookkeeping and the per-packet forwarding loop. One copy per consumer, straight
 * into the send slot; the rewrite and SRTP protection happen in place there. */
#include "sfu/router.h"
#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/h264.h"
#include "media/vp8.h"
#include "media/wire.h"
#include "sfu/lg_error.h"
#include "sfu/worker.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(ROUTER_MAX_LAYERS <= LAYER_RANK_MAX && ROUTER_MAX_LAYERS <= LAYERSEL_MAX_LAYERS,
               "a producer's layers must fit the ranking and the selector");

static transport_t *find_transport(lg_worker_t *w, uint64_t id)
{
    return transport_find_id(w, id);
}

static producer_t *find_producer(lg_worker_t *w, uint64_t id)
{
    for (producer_t *p = w->producers; p; p = p->next)
        if (p->p.id == id)
            return p;
    return NULL;
}

/* Sends a PLI for the producer's layer (or every known layer), at most once per interval. */
static void request_keyframe(producer_t *p, int layer)
{
    lg_worker_t *w = p->t->w;
    uint64_t now = lg_worker_now_ms(w);
    if (p->last_pli_ms && now - p->last_pli_ms < ROUTER_PLI_INTERVAL_MS) {
        w->counters.pli_throttled++;
        return;
    }
    uint8_t buf[256];
    rtcp_writer_t wr;
    rtcp_writer_init(&wr, buf, sizeof buf - 64);
    for (int l = 0; l < p->p.nlayers; l++)
        if (p->ssrcs[l] && (layer < 0 || l == layer))
            rtcp_write_pli(&wr, w->relay_ssrc, p->ssrcs[l]);
    if (wr.len == 0)
        return; /* no SSRC learnt yet: the first keyframe will come anyway */
    p->last_pli_ms = now;
    w->counters.keyframe_requests++;
    transport_send_rtcp(p->t, buf, wr.len, sizeof buf);
}

/* Participant ids are "p" + hex (signaling/rooms.c): the number is the speaker id. */
static uint32_t speaker_id(const char *participant)
{
    return participant[0] == 'p' ? (uint32_t)strtoull(participant + 1, NULL, 16) : 0;
}

static void join_audio_room(lg_worker_t *w, producer_t *p)
{
    room_audio_t *ra = w->audio_rooms;
    while (ra && strcmp(ra->room, p->t->p.room) != 0)
        ra = ra->next;
    if (!ra) {
        if (!(ra = calloc(1, sizeof *ra)))
            return;
        snprintf(ra->room, sizeof ra->room, "%s", p->t->p.room);
        speaker_init(&ra->speakers, NULL);
        ra->next = w->audio_rooms;
        w->audio_rooms = ra;
    }
    int slot = speaker_add(&ra->speakers, speaker_id(p->t->p.participant));
    if (slot < 0)
        return;
    p->speaker_slot = slot;
    p->audio_room = ra;
    ra->producers++;
}

static void leave_audio_room(lg_worker_t *w, producer_t *p)
{
    room_audio_t *ra = p->audio_room;
    if (!ra)
        return;
    speaker_remove(&ra->speakers, p->speaker_slot);
    p->audio_room = NULL;
    if (--ra->producers > 0)
        return;
    for (room_audio_t **pp = &w->audio_rooms; *pp; pp = &(*pp)->next)
        if (*pp == ra) {
            *pp = ra->next;
            break;
        }
    free(ra);
}

void router_update_speakers(struct lg_worker *w, uint64_t now_ms)
{
    for (room_audio_t *ra = w->audio_rooms; ra; ra = ra->next) {
        uint32_t dominant;
        if (!speaker_update(&ra->speakers, now_ms, &dominant) || dominant == SPEAKER_NONE)
            continue;
        worker_speaker_msg_t *m = lg_msg_new(CONTROL_MSG_ACTIVE_SPEAKER, sizeof *m);
        if (!m)
            return;
        snprintf(m->room, sizeof m->room, "%s", ra->room);
        snprintf(m->participant, sizeof m->participant, "p%012llx", (unsigned long long)dominant);
        lg_mq_post(w->control, &m->hdr);
    }
}

int router_add_producer(struct lg_worker *w, const producer_params_t *pp)
{
    transport_t *t = find_transport(w, pp->transport_id);
    if (!t || t->nproducers == (int)(sizeof t->producers / sizeof t->producers[0]))
        return LG_ENOTFOUND;
    producer_t *p = calloc(1, sizeof *p);
    if (!p)
        return LG_ENOMEM;
    p->p = *pp;
    if (p->p.nlayers < 1 || p->p.nlayers > ROUTER_MAX_LAYERS)
        p->p.nlayers = 1;
    memcpy(p->ssrcs, pp->ssrcs, sizeof p->ssrcs);
    memcpy(p->rtx_ssrcs, pp->rtx_ssrcs, sizeof p->rtx_ssrcs);
    p->rate_since_ms = lg_worker_now_ms(w); /* else the first window spans the worker's uptime */
    layer_rank_init(&p->rank, (uint8_t)p->p.nlayers, p->p.hints);
    p->t = t;
    t->producers[t->nproducers++] = p;
    if (p->p.kind == ROUTER_AUDIO && p->p.ext_audio_level)
        join_audio_room(w, p);
    mixing_producer_added(w, p);
    p->next = w->producers;
    w->producers = p;
    return 0;
}

/* Publisher extension ids -> subscriber ids. mid, rid, repaired-rid and transport-cc are blanked:
 * the subscriber demuxes by SSRC, sees one stream per track, and the relay does not (yet) run
 * per-leg transport-wide sequence numbers. */
static void build_id_map(consumer_t *c)
{
    memset(c->id_map, 0, sizeof c->id_map);
    const producer_params_t *pp = &c->prod->p;
    if (pp->ext_abs_send_time && pp->ext_abs_send_time < 16)
        c->id_map[pp->ext_abs_send_time] = c->p.ext_abs_send_time;
    if (pp->ext_audio_level && pp->ext_audio_level < 16)
        c->id_map[pp->ext_audio_level] = c->p.ext_audio_level;
    if (pp->ext_twcc && pp->ext_twcc < 16)
        c->id_map[pp->ext_twcc] = c->p.ext_twcc; /* value replaced per leg in forward() */
}

int router_add_consumer(struct lg_worker *w, const consumer_params_t *cp)
{
    transport_t *t = find_transport(w, cp->transport_id);
    producer_t *p = find_producer(w, cp->producer_id);
    if (!t || !p)
        return LG_ENOTFOUND;
    consumer_t *c = calloc(1, sizeof *c);
    if (!c)
        return LG_ENOMEM;
    c->p = *cp;
    c->prod = p;
    c->t = t;
    c->layer = -1;
    /* the lowest layer until estimates drive it, else the preferred one (0 = the highest) */
    int n = p->p.nlayers, pref = cp->preferred_layer;
    c->target_layer = p->rank.order[pref >= 0 && pref < n ? n - 1 - pref : 0];
    build_id_map(c);
    seqrw_init(&c->rw, p->p.clock_rate ? p->p.clock_rate : 90000);
    sendhist_init(&c->sent);
    c->rtx_seq = (uint16_t)(cp->rtx_ssrc >> 7); /* any start; the SSRC is random */
    if (p->p.kind == ROUTER_VIDEO)
        layersel_init(&c->sel, (uint8_t)p->p.nlayers, NULL);
    /* video subscribers get an estimate: from transport-cc when negotiated, else from REMB */
    if (p->p.kind == ROUTER_VIDEO && !t->bwe && (t->bwe = malloc(sizeof *t->bwe)) != NULL) {
        bwe_config_t bc;
        bwe_default_config(&bc);
        if (w->cfg->mix_below_kbps > 0) {
            bc.low_enter_bps = (uint64_t)w->cfg->mix_below_kbps * 1000;
            bc.low_exit_bps = bc.low_enter_bps * 5 / 3;
        }
        bwe_init(t->bwe, &bc);
    }
    c->next_in_producer = p->consumers;
    p->consumers = c;
    c->next_in_transport = t->consumers;
    t->consumers = c;
    c->next = w->consumers;
    w->consumers = c;
    if (p->p.kind == ROUTER_VIDEO)
        request_keyframe(p, c->target_layer);
    return 0;
}

static void unlink_consumer(lg_worker_t *w, consumer_t *c)
{
    for (consumer_t **pp = &c->t->consumers; *pp; pp = &(*pp)->next_in_transport)
        if (*pp == c) {
            *pp = c->next_in_transport;
            break;
        }
    for (consumer_t **pp = &c->prod->consumers; *pp; pp = &(*pp)->next_in_producer)
        if (*pp == c) {
            *pp = c->next_in_producer;
            break;
        }
    for (consumer_t **pp = &w->consumers; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    free(c);
}

void router_remove_consumer(struct lg_worker *w, uint64_t id)
{
    for (consumer_t *c = w->consumers; c; c = c->next)
        if (c->p.id == id) {
            unlink_consumer(w, c);
            return;
        }
}

void router_set_muted(struct lg_worker *w, uint64_t producer_id, bool muted)
{
    producer_t *p = find_producer(w, producer_id);
    if (!p)
        return;
    if (p->muted && !muted && p->p.kind == ROUTER_VIDEO)
        request_keyframe(p, -1); /* subscribers resume on a clean frame */
    p->muted = muted;
}

static void free_producer(lg_worker_t *w, producer_t *p)
{
    leave_audio_room(w, p);
    mixing_producer_removed(w, p);
    for (int l = 0; l < ROUTER_MAX_LAYERS; l++) {
        if (p->rtx[l])
            rtxbuf_free(p->rtx[l]);
        free(p->rtx[l]);
        free(p->nack[l]);
    }
    while (p->consumers)
        unlink_consumer(w, p->consumers);
    for (producer_t **pp = &w->producers; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    free(p);
}

void router_remove_producer(struct lg_worker *w, uint64_t id)
{
    producer_t *p = find_producer(w, id);
    if (!p)
        return;
    transport_t *t = p->t;
    for (int i = 0; i < t->nproducers; i++)
        if (t->producers[i] == p) {
            t->producers[i] = t->producers[--t->nproducers];
            break;
        }
    free_producer(w, p);
}

void router_transport_closed(struct lg_worker *w, transport_t *t)
{
    mixing_transport_closed(w, t);
    for (int i = 0; i < t->nproducers; i++)
        free_producer(w, t->producers[i]);
    t->nproducers = 0;
    consumer_t *c = w->consumers;
    while (c) {
        consumer_t *next = c->next;
        if (c->t == t)
            unlink_consumer(w, c);
        c = next;
    }
}

void router_free(struct lg_worker *w)
{
    while (w->producers)
        free_producer(w, w->producers);
    while (w->consumers)
        unlink_consumer(w, w->consumers);
}

/* ---- the forwarding path ------------------------------------------------------------------- */

/* Finds the producer and simulcast layer of an incoming SSRC; learns unknown SSRCs from the mid
 * and rid header extensions (RFC 8843, RFC 8852), as browsers do not always signal them. */
static producer_t *classify(transport_t *t, const rtp_packet_t *pkt, int *layer)
{
    for (int i = 0; i < t->nproducers; i++)
        for (int l = 0; l < t->producers[i]->p.nlayers; l++)
            if (t->producers[i]->ssrcs[l] == pkt->ssrc) {
                *layer = l;
                return t->producers[i];
            }
    char mid[ROUTER_MID_MAX] = "", rid[ROUTER_RID_MAX] = "";
    rtp_ext_t e;
    for (int i = 0; i < t->nproducers; i++) {
        producer_t *p = t->producers[i];
        if (pkt->payload_type != p->p.pt || !p->p.ext_mid ||
            rtp_ext_find(pkt, p->p.ext_mid, &e) != 0 || rtp_ext_string(&e, mid, sizeof mid) != 0 ||
            strcmp(mid, p->p.mid) != 0)
            continue;
        int l = 0;
        if (p->p.nlayers > 1) {
            if (!p->p.ext_rid || rtp_ext_find(pkt, p->p.ext_rid, &e) != 0 ||
                rtp_ext_string(&e, rid, sizeof rid) != 0)
                return NULL;
            for (l = 0; l < p->p.nlayers && strcmp(p->p.rids[l], rid) != 0; l++)
                ;
            if (l == p->p.nlayers)
                return NULL;
        }
        p->ssrcs[l] = pkt->ssrc;
        *layer = l;
        return p;
    }
    return NULL;
}

/* Decides whether consumer c forwards this packet of `layer`; switches layers at keyframes. */
static bool admit(consumer_t *c, int layer, bool keyframe)
{
    if (c->prod->p.kind == ROUTER_AUDIO)
        return true;
    if (layer == c->layer)
        return true;
    if (layer == c->target_layer && keyframe) {
        if (c->layer >= 0)
            c->t->w->counters.layer_switches++;
        c->layer = layer;
        layersel_set_current(&c->sel, c->prod->rank.rank[layer]);
        return true;
    }
    return false;
}

/* VP8 numbering for consumer c: a new source continues at the last picture id and TL0PICIDX + 1;
 * payload is the copied packet's payload, d its descriptor as parsed from the source. */
static void rewrite_vp8(consumer_t *c, uint8_t *payload, size_t len, uint32_t ssrc,
                        const vp8_desc_t *d)
{
    bool fresh = !c->vp8_started || ssrc != c->vp8_src;
    if (fresh) {
        c->pic_delta = c->vp8_started ? (uint16_t)(c->pic_last + 1 - d->picture_id) : 0;
        c->tl0_delta = c->vp8_started ? (uint8_t)(c->tl0_last + 1 - d->tl0picidx) : 0;
        c->vp8_src = ssrc;
        c->vp8_started = true;
    }
    uint16_t mask = d->picture_id_15 ? 0x7fff : 0x7f;
    uint16_t pic = (uint16_t)((d->picture_id + c->pic_delta) & mask);
    vp8_set_picture_id(payload, len, pic);
    if (fresh || ((pic - c->pic_last) & mask) < (mask + 1) / 2) /* a resend keeps the last */
        c->pic_last = pic;
    if (!d->has_tl0picidx)
        return;
    uint8_t tl0 = (uint8_t)(d->tl0picidx + c->tl0_delta);
    vp8_set_tl0picidx(payload, len, tl0);
    if (fresh || (uint8_t)(tl0 - c->tl0_last) < 0x80)
        c->tl0_last = tl0;
}

/* Hash of the source packet's bytes after the RTP header (payload and padding): computed once per
 * source packet, chained into every consumer's hash of what it sent (send_hash). */
static uint64_t source_hash(const lg_worker_t *w, const uint8_t *data, size_t len,
                            const rtp_packet_t *pkt)
{
    size_t hdr = (size_t)(pkt->payload - data);
    return sendhist_hash(&w->hash_key, 0, data + hdr, len - hdr);
}

/* The plaintext as sent, given the source's hash: the rewritten header with its extensions and the
 * payload bytes a consumer may rewrite (the VP8 descriptor); the rest is the source's, verbatim. */
#define ROUTER_HASH_PREFIX 8
static uint64_t send_hash(const lg_worker_t *w, const uint8_t *buf, size_t len, size_t hdr,
                          uint64_t src_hash)
{
    size_t n = hdr + (len - hdr < ROUTER_HASH_PREFIX ? len - hdr : ROUTER_HASH_PREFIX);
    return sendhist_hash(&w->hash_key, src_hash, buf, n);
}

/* Copies, rewrites and protects one packet into c's transport. The source (seq, ts) maps into the
 * consumer's continuous output (media/seq_rewriter.h: a new source continues at last + 1, dropped
 * packets leave no hole); a packet the rewriter refuses (older than a switch) is not sent.
 * src_hash is source_hash() of the packet. A first send (resend false) goes only under an
 * outgoing number never sent (else it is a duplicate: dropped); a resend only under one sent,
 * rebuilt with the same transport-cc number and sent only if byte-identical (the same SRTP index
 * must never protect other data). Returns whether the packet was sent. */
static bool forward(consumer_t *c, const uint8_t *data, size_t len, const rtp_packet_t *pkt,
                    const vp8_desc_t *d, uint64_t src_hash, bool resend, uint64_t now_ms)
{
    transport_t *t = c->t;
    lg_counters_t *cnt = &t->w->counters;
    if (!t->srtp_ready || t->selected < 0)
        return false;
    size_t cap;
    uint8_t *buf = transport_tx_begin(t, &cap);
    if (!buf || len + SRTP_SESSION_MAX_OVERHEAD > cap)
        return false;
    uint16_t seq;
    uint32_t ts;
    if (seqrw_map(&c->rw, pkt->ssrc, pkt->seq, pkt->timestamp, now_ms, &seq, &ts) != 0)
        return false;
    sendhist_rec_t first = {0};
    sendhist_state_t known = sendhist_lookup(&c->sent, seq, &first);
    if (known != (resend ? SENDHIST_SENT : SENDHIST_NEW)) {
        if (resend)
            cnt->nack_unsafe_skipped++;
        else
            cnt->duplicate_dropped++;
        return false;
    }
    memcpy(buf, data, len);
    rtp_set_ssrc(buf, len, c->p.ssrc);
    rtp_set_seq(buf, len, seq);
    rtp_set_timestamp(buf, len, ts);
    rtp_set_payload_type(buf, len, c->p.pt);
    if (d && d->has_picture_id)
        rewrite_vp8(c, buf + (pkt->payload - data), pkt->payload_len, pkt->ssrc, d);
    sendhist_rec_t rec = {0};
    if (pkt->ext_form == RTP_EXT_FORM_ONE_BYTE || pkt->ext_form == RTP_EXT_FORM_TWO_BYTE) {
        /* transport-wide sequence numbers are per leg: stamp ours, for this leg's estimate; a
         * resend stamps the first send's again */
        uint8_t twcc = (resend ? first.has_twcc : t->bwe != NULL) ? c->p.ext_twcc : 0;
        uint16_t n = resend ? first.twcc : (uint16_t)(t->twcc_seq + 1);
        rec.has_twcc = rtp_ext_rewrite_copy(buf, pkt, c->id_map, twcc, n) == 1;
        rec.twcc = rec.has_twcc ? n : 0;
        if (rec.has_twcc && !resend)
            bwe_on_send(t->bwe, ++t->twcc_seq, uv_hrtime() / 1000, len);
    }
    rec.hash = send_hash(t->w, buf, len, (size_t)(pkt->payload - data), src_hash);
    if (resend && !sendhist_resend_ok(&c->sent, seq, &rec)) {
        cnt->nack_unsafe_skipped++; /* the mapping changed since: this would be other data */
        return false;
    }
    if (!resend)
        sendhist_record(&c->sent, seq, &rec);
    int rc = resend ? srtp_session_protect_rtp_resend(&t->srtp, buf, &len, cap)
                    : srtp_session_protect_rtp(&t->srtp, buf, &len, cap);
    if (rc != 0) {
        cnt->srtp_reuse_refused += rc == LG_EREUSE;
        return false;
    }
    transport_tx_commit(t, buf, len);
    c->packets++;
    c->bytes += len;
    cnt->forwarded++;
    cnt->forwarded_bytes += len;
    return true;
}

/* Resends one packet to c as RTX (RFC 4588 section 4): the rewritten packet's header on c's RTX
 * SSRC, payload type and next RTX sequence number, its payload preceded by the original (rewritten)
 * sequence number, padding left off. A new SRTP index every time, with a new transport-cc number.
 * Returns whether it was sent. */
static bool forward_rtx(consumer_t *c, const uint8_t *data, const rtp_packet_t *pkt,
                        const vp8_desc_t *d, uint64_t now_ms)
{
    transport_t *t = c->t;
    if (!t->srtp_ready || t->selected < 0)
        return false;
    size_t hdr = (size_t)(pkt->payload - data), len = hdr + 2 + pkt->payload_len, cap;
    uint8_t *buf = transport_tx_begin(t, &cap);
    if (!buf || len + SRTP_SESSION_MAX_OVERHEAD > cap)
        return false;
    uint16_t seq;
    uint32_t ts;
    if (seqrw_map(&c->rw, pkt->ssrc, pkt->seq, pkt->timestamp, now_ms, &seq, &ts) != 0)
        return false;
    memcpy(buf, data, hdr);
    buf[0] &= (uint8_t)~0x20; /* no padding */
    wire_put_u16(buf + hdr, seq);
    memcpy(buf + hdr + 2, pkt->payload, pkt->payload_len);
    rtp_set_ssrc(buf, len, c->p.rtx_ssrc);
    rtp_set_seq(buf, len, c->rtx_seq++);
    rtp_set_timestamp(buf, len, ts);
    rtp_set_payload_type(buf, len, c->p.rtx_pt);
    if (d && d->has_picture_id)
        rewrite_vp8(c, buf + hdr + 2, pkt->payload_len, pkt->ssrc, d);
    if (pkt->ext_form == RTP_EXT_FORM_ONE_BYTE || pkt->ext_form == RTP_EXT_FORM_TWO_BYTE) {
        uint8_t twcc = t->bwe ? c->p.ext_twcc : 0;
        if (rtp_ext_rewrite_copy(buf, pkt, c->id_map, twcc, (uint16_t)(t->twcc_seq + 1)) == 1)
            bwe_on_send(t->bwe, ++t->twcc_seq, uv_hrtime() / 1000, len);
    }
    int rc = srtp_session_protect_rtp(&t->srtp, buf, &len, cap);
    if (rc != 0) {
        t->w->counters.srtp_reuse_refused += rc == LG_EREUSE;
        return false;
    }
    transport_tx_commit(t, buf, len);
    c->packets++;
    c->bytes += len;
    t->w->counters.rtx_sent++;
    t->w->counters.forwarded++;
    t->w->counters.forwarded_bytes += len;
    return true;
}

/* An RTX packet (RFC 4588) from a publisher: finds the layer it repairs, by signaled RTX SSRC or
 * by the repaired-rid extension. */
static producer_t *classify_rtx(transport_t *t, const rtp_packet_t *pkt, int *layer)
{
    char rid[ROUTER_RID_MAX];
    rtp_ext_t e;
    for (int i = 0; i < t->nproducers; i++) {
        producer_t *p = t->producers[i];
        if (!p->p.rtx_pt || pkt->payload_type != p->p.rtx_pt)
            continue;
        for (int l = 0; l < p->p.nlayers; l++)
            if (p->rtx_ssrcs[l] == pkt->ssrc) {
                *layer = l;
                return p;
            }
        if (p->p.nlayers == 1 && !p->rtx_ssrcs[0]) {
            p->rtx_ssrcs[0] = pkt->ssrc;
            *layer = 0;
            return p;
        }
        if (!p->p.ext_rrid || rtp_ext_find(pkt, p->p.ext_rrid, &e) != 0 ||
            rtp_ext_string(&e, rid, sizeof rid) != 0)
            continue;
        for (int l = 0; l < p->p.nlayers; l++)
            if (strcmp(p->p.rids[l], rid) == 0) {
                p->rtx_ssrcs[l] = pkt->ssrc;
                *layer = l;
                return p;
            }
    }
    return NULL;
}

/* Video bookkeeping per packet: retransmission buffer, uplink loss detection, bytes by VP8
 * temporal layer. Returns whether it starts a key frame; *d gets its VP8 descriptor (has_tid and
 * has_picture_id false when it is not VP8 or does not parse). */
static bool video_in(producer_t *p, int layer, const uint8_t *data, size_t len,
                     const rtp_packet_t *pkt, uint64_t now, vp8_desc_t *d)
{
    bool keyframe = false;
    h264_info_t h;
    d->has_tid = d->has_picture_id = false;
    if (p->p.h264)
        keyframe = h264_parse(pkt->payload, pkt->payload_len, &h) == 0 && (h.idr || h.sps);
    else if (vp8_parse(pkt->payload, pkt->payload_len, d) == 0)
        keyframe = d->keyframe;
    else
        d->has_tid = d->has_picture_id = false;
    if (d->has_tid && d->tid < ROUTER_MAX_TIDS)
        p->tid_bytes[layer][d->tid] += len;
    if (!p->rtx[layer] && (p->rtx[layer] = calloc(1, sizeof *p->rtx[layer])) != NULL &&
        rtxbuf_init(p->rtx[layer], ROUTER_RTX_CAPACITY, ROUTER_RTX_MAX_AGE_MS) != 0) {
        free(p->rtx[layer]);
        p->rtx[layer] = NULL;
    }
    if (p->rtx[layer])
        rtxbuf_put(p->rtx[layer], pkt->seq, data, len, now);
    if (!p->nack[layer] && (p->nack[layer] = malloc(sizeof *p->nack[layer])) != NULL)
        nackgen_init(p->nack[layer], NULL);
    if (p->nack[layer] && nackgen_on_packet(p->nack[layer], pkt->seq, keyframe, now))
        request_keyframe(p, layer);
    return keyframe;
}

/* A media packet of producer p (original or restored from RTX): bookkeeping, then fan-out. */
static void media_in(lg_worker_t *w, producer_t *p, int layer, const uint8_t *data, size_t len,
                     const rtp_packet_t *pkt)
{
    uint64_t now = lg_worker_now_ms(w);
    rx_stats_update(&p->rx[layer], pkt->seq, pkt->timestamp,
                    p->p.clock_rate ? p->p.clock_rate : 90000, uv_hrtime() / 1000);
    vp8_desc_t d;
    d.has_tid = d.has_picture_id = false;
    bool keyframe = p->p.kind == ROUTER_VIDEO && video_in(p, layer, data, len, pkt, now, &d);
    bool vp8 = p->p.kind == ROUTER_VIDEO && !p->p.h264;
    p->layer_bytes[layer] += len;
    rtp_ext_t e;
    bool voice = false, have_level = false;
    uint8_t level = 127;
    if (p->audio_room && !p->muted && rtp_ext_find(pkt, p->p.ext_audio_level, &e) == 0 &&
        rtp_ext_audio_level(&e, &voice, &level) == 0) {
        have_level = true;
        speaker_on_level(&p->audio_room->speakers, p->speaker_slot, level, voice, now);
    }
    if (p->mix && !p->muted) {
        uint32_t id = speaker_id(p->t->p.participant);
        mixer_source_push(p->mix->mixer, id, pkt->seq, pkt->timestamp, pkt->payload,
                          pkt->payload_len, now);
        if (have_level)
            mixer_source_set_level(p->mix->mixer, id, level, now);
    }
    if (p->muted || pkt->payload_len == 0 || !p->consumers)
        return;
    uint64_t src_hash = source_hash(w, data, len, pkt);
    for (consumer_t *c = p->consumers; c; c = c->next_in_producer) {
        if (!admit(c, layer, keyframe)) {
            if (c->layer < 0 && layer == c->target_layer)
                request_keyframe(p, layer); /* waiting for a first frame */
            continue;
        }
        if (d.has_tid && !layersel_temporal_on_packet(&c->sel, &d, keyframe)) {
            seqrw_drop(&c->rw, pkt->ssrc, pkt->seq); /* the subscriber sees no hole */
            w->counters.temporal_dropped++;
            continue;
        }
        forward(c, data, len, pkt, vp8 ? &d : NULL, src_hash, false, now);
    }
}

void router_on_rtp(struct lg_worker *w, transport_t *t, uint8_t *data, size_t len)
{
    rtp_packet_t pkt;
    if (rtp_parse(data, len, &pkt) != 0) {
        lg_count_drop(&w->counters, LG_DROP_RTP_MALFORMED);
        return;
    }
    int layer = 0;
    producer_t *p = classify(t, &pkt, &layer);
    if (p) {
        p->packets++;
        p->bytes += len;
        if (pkt.payload_type == p->p.pt)
            media_in(w, p, layer, data, len, &pkt);
        return;
    }
    if ((p = classify_rtx(t, &pkt, &layer)) == NULL) {
        lg_count_drop(&w->counters, LG_DROP_UNKNOWN_SSRC);
        return;
    }
    p->packets++;
    p->bytes += len;
    size_t n;
    if (!p->ssrcs[layer] ||
        rtx_restore(&pkt, p->p.pt, p->ssrcs[layer], w->rtx_scratch, sizeof w->rtx_scratch, &n) != 0)
        return; /* a padding-only bandwidth probe, or an original never seen */
    rtp_packet_t orig;
    if (rtp_parse(w->rtx_scratch, n, &orig) != 0)
        return;
    w->counters.rtx_recovered++;
    media_in(w, p, layer, w->rtx_scratch, n, &orig);
}

/* Layer l of the router (the offer's l-th rid) is index p->rank.rank[l] for layersel (0 = the
 * lowest quality). */
static void select_layer(consumer_t *c, uint64_t now_ms)
{
    producer_t *p = c->prod;
    int n = p->p.nlayers;
    for (int l = 0; l < n; l++) {
        uint8_t i = p->rank.rank[l];
        layersel_set_layer(&c->sel, i, p->layer_bps[l] > 0, p->layer_bps[l], 0);
        layersel_set_temporal(&c->sel, i, p->tid_bps[l], p->tids[l]);
    }
    int videos = 0;
    for (consumer_t *x = c->t->consumers; x; x = x->next_in_transport)
        videos += x->prod->p.kind == ROUTER_VIDEO;
    /* without an estimate (no feedback negotiated) the lowest layer is the safe choice */
    uint64_t estimate = c->t->bwe ? bwe_estimate(c->t->bwe) / (uint64_t)(videos ? videos : 1) : 0;
    unsigned flags = layersel_update(&c->sel, estimate, now_ms);
    int target = layersel_target(&c->sel);
    if (target != LAYERSEL_NONE)
        c->target_layer = p->rank.order[target];
    if (flags & LAYERSEL_KEYFRAME)
        request_keyframe(p, c->target_layer);
}

static void report_low_bandwidth(lg_worker_t *w, transport_t *t)
{
    bool low = bwe_low(t->bwe);
    if (low == t->low_bandwidth)
        return;
    t->low_bandwidth = low;
    worker_low_bw_msg_t *m = lg_msg_new(CONTROL_MSG_LOW_BANDWIDTH, sizeof *m);
    if (!m)
        return;
    m->transport_id = t->p.id;
    m->low = low;
    m->estimate_bps = bwe_estimate(t->bwe);
    lg_mq_post(w->control, &m->hdr);
}

/* Cumulative bitrates of layer l's VP8 temporal layers (TIDs 0..t) over the window. */
static void measure_tids(producer_t *p, int l, uint64_t span)
{
    uint64_t sum = 0;
    p->tids[l] = 0;
    for (int t = 0; t < ROUTER_MAX_TIDS; t++) {
        sum += p->tid_bytes[l][t];
        p->tid_bps[l][t] = (uint32_t)(sum * 8000 / span);
        if (p->tid_bytes[l][t])
            p->tids[l] = (uint8_t)(t + 1);
        p->tid_bytes[l][t] = 0;
    }
}

/* Re-ranks p's layers from this window's rates (media/layer_rank.h). Consumers hold encoding
 * indices (layer, target_layer), which a re-rank leaves alone: what is forwarded and the switch
 * awaited go on unchanged, and seq/ts and picture-id continuity are the rewriters' as for any
 * switch. Only each selector's rank-indexed state is moved to the new ranks. */
static void rerank(lg_worker_t *w, producer_t *p)
{
    uint8_t old[ROUTER_MAX_LAYERS], to[ROUTER_MAX_LAYERS];
    memcpy(old, p->rank.rank, sizeof old);
    if (!layer_rank_measured(&p->rank, p->layer_bps))
        return;
    for (int l = 0; l < p->p.nlayers; l++)
        to[old[l]] = p->rank.rank[l];
    for (consumer_t *c = p->consumers; c; c = c->next_in_producer)
        layersel_reorder(&c->sel, to);
    w->counters.layer_reranks++;
}

void router_update_layers(struct lg_worker *w, uint64_t now_ms)
{
    for (producer_t *p = w->producers; p; p = p->next) {
        uint64_t span = now_ms - p->rate_since_ms;
        if (span < 500)
            continue;
        bool temporal = false;
        for (int l = 0; l < p->p.nlayers; l++) {
            p->layer_bps[l] = (uint32_t)(p->layer_bytes[l] * 8000 / span);
            p->layer_bytes[l] = 0;
            measure_tids(p, l, span);
            temporal |= p->tids[l] > 1;
        }
        p->rate_since_ms = now_ms;
        if (p->p.kind == ROUTER_VIDEO && p->p.nlayers > 1)
            rerank(w, p);
        if (p->p.kind == ROUTER_VIDEO && (p->p.nlayers > 1 || temporal))
            for (consumer_t *c = p->consumers; c; c = c->next_in_producer)
                select_layer(c, now_ms);
    }
    uint64_t legs = 0, sum = 0, min = 0, low = 0;
    for (transport_t *t = w->transports.all; t; t = t->next_all) {
        if (!t->bwe)
            continue;
        report_low_bandwidth(w, t);
        uint64_t e = bwe_estimate(t->bwe);
        legs++;
        sum += e;
        min = legs == 1 || e < min ? e : min;
        low += t->low_bandwidth;
    }
    w->counters.bwe_legs = legs;
    w->counters.bwe_sum_bps = sum;
    w->counters.bwe_min_bps = min;
    w->counters.bwe_low_legs = low;
}

void router_send_nacks(struct lg_worker *w, uint64_t now_ms)
{
    for (producer_t *p = w->producers; p; p = p->next) {
        for (int l = 0; l < p->p.nlayers; l++) {
            uint16_t seqs[64];
            bool keyframe = false;
            size_t n = p->nack[l] ? nackgen_collect(p->nack[l], now_ms, seqs, 64, &keyframe) : 0;
            if (keyframe)
                request_keyframe(p, l);
            if (n == 0 || !p->ssrcs[l])
                continue;
            uint8_t buf[512];
            rtcp_writer_t wr;
            rtcp_writer_init(&wr, buf, sizeof buf - SRTP_SESSION_MAX_OVERHEAD);
            if (rtcp_write_nack(&wr, w->relay_ssrc, p->ssrcs[l], seqs, n) == 0 &&
                transport_send_rtcp(p->t, buf, wr.len, sizeof buf) == 0)
                w->counters.nacks_sent += n;
        }
    }
}

static consumer_t *consumer_by_ssrc(transport_t *t, uint32_t ssrc)
{
    for (consumer_t *c = t->consumers; c; c = c->next_in_transport)
        if (c->p.ssrc == ssrc)
            return c;
    return NULL;
}

/* A subscriber's receiver report: the loss of a mixed stream tunes that listener's encoder. */
static void on_receiver_report(lg_worker_t *w, transport_t *t, const rtcp_packet_t *pkt)
{
    rtcp_rr_t rr;
    if (rtcp_parse_rr(pkt, &rr) != 0)
        return;
    for (int i = 0; i < rr.rb_count; i++)
        mixing_on_report(w, t, rr.rb[i].ssrc, rr.rb[i].fraction_lost);
}

/* A publisher's sender report: remember it for the LSR/DLSR of our receiver reports. */
static void on_sender_report(transport_t *t, const rtcp_packet_t *pkt, uint64_t now_ms)
{
    rtcp_sr_t sr;
    if (rtcp_parse_sr(pkt, &sr) != 0)
        return;
    for (int i = 0; i < t->nproducers; i++)
        for (int l = 0; l < t->producers[i]->p.nlayers; l++)
            if (t->producers[i]->ssrcs[l] == sr.ssrc)
                rx_stats_on_sr(&t->producers[i]->rx[l], sr.ntp, now_ms);
}

/* Transport-cc feedback or REMB from a subscriber: its leg's bandwidth estimate. */
static void on_estimate_feedback(transport_t *t, const rtcp_fb_t *fb)
{
    rtcp_twcc_status_t *tls = t->w->twcc_scratch; /* one packet at a time per worker */
    uint64_t now_us = uv_hrtime() / 1000;
    if (fb->pt == RTCP_RTPFB && fb->fmt == RTCP_RTPFB_TWCC) {
        rtcp_twcc_t hdr;
        size_t n = 0;
        if (rtcp_twcc_parse(fb, &hdr, tls, ROUTER_TWCC_MAX, &n) == 0 || n > 0)
            bwe_on_twcc(t->bwe, &hdr, tls, n, now_us);
    } else if (fb->pt == RTCP_PSFB && fb->fmt == RTCP_PSFB_AFB) {
        rtcp_remb_t remb;
        if (rtcp_remb_parse(fb, &remb) == 0)
            bwe_on_remb(t->bwe, remb.bitrate, now_us);
    }
}

/* A subscriber's generic NACK: resend what the producer's buffer still holds, rewritten again, as
 * RTX where negotiated, else in the original stream and only if it comes out byte-identical to
 * the first send (forward()). */
static void on_nack(lg_worker_t *w, transport_t *t, const rtcp_fb_t *fb)
{
    consumer_t *c = consumer_by_ssrc(t, fb->media_ssrc);
    if (!c || c->layer < 0 || !c->prod->rtx[c->layer])
        return;
    uint16_t seqs[64];
    size_t n = 0;
    rtcp_nack_parse(fb, seqs, 64, &n); /* LG_EFULL: a storm is cut to the first 64 */
    uint64_t now = lg_worker_now_ms(w);
    for (size_t i = 0; i < n; i++) {
        const uint8_t *pkt;
        size_t len;
        rtp_packet_t parsed;
        uint16_t in;
        w->counters.nacks_received++;
        /* the subscriber names rewritten numbers: map back past switches and temporal drops */
        if (seqrw_unmap(&c->rw, seqs[i], &in) != 0 ||
            rtxbuf_resend(c->prod->rtx[c->layer], in, now, 10, &pkt, &len) != 0 ||
            rtp_parse(pkt, len, &parsed) != 0 || parsed.ssrc != c->rw.ssrc)
            continue;
        vp8_desc_t d;
        bool vp8 = !c->prod->p.h264 && vp8_parse(parsed.payload, parsed.payload_len, &d) == 0;
        bool sent = c->p.rtx_ssrc ? forward_rtx(c, pkt, &parsed, vp8 ? &d : NULL, now)
                                  : forward(c, pkt, len, &parsed, vp8 ? &d : NULL,
                                            source_hash(w, pkt, len, &parsed), true, now);
        if (sent)
            w->counters.retransmitted++;
    }
}

void router_on_rtcp(struct lg_worker *w, transport_t *t, const uint8_t *data, size_t len)
{
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_iter_init(&it, data, len);
    int rc;
    while ((rc = rtcp_iter_next(&it, &pkt)) == 1) {
        rtcp_fb_t fb;
        if (pkt.pt == RTCP_SR)
            on_sender_report(t, &pkt, lg_worker_now_ms(w));
        if (pkt.pt == RTCP_RR && w->mixes)
            on_receiver_report(w, t, &pkt);
        if (pkt.pt == RTCP_RTPFB && rtcp_parse_fb(&pkt, &fb) == 0 && fb.fmt == RTCP_RTPFB_NACK)
            on_nack(w, t, &fb);
        if (t->bwe && (pkt.pt == RTCP_RTPFB || pkt.pt == RTCP_PSFB) &&
            rtcp_parse_fb(&pkt, &fb) == 0)
            on_estimate_feedback(t, &fb);
        if (pkt.pt != RTCP_PSFB || rtcp_parse_fb(&pkt, &fb) != 0)
            continue;
        if (fb.fmt != RTCP_PSFB_PLI && fb.fmt != RTCP_PSFB_FIR)
            continue;
        uint32_t ssrc = fb.media_ssrc;
        if (fb.fmt == RTCP_PSFB_FIR && fb.fci_len >= 4)
            ssrc = (uint32_t)fb.fci[0] << 24 | (uint32_t)fb.fci[1] << 16 |
                   (uint32_t)fb.fci[2] << 8 | fb.fci[3];
        consumer_t *c = consumer_by_ssrc(t, ssrc);
        if (c)
            request_keyframe(c->prod, c->layer >= 0 ? c->layer : c->target_layer);
    }
    if (rc < 0)
        lg_count_drop(&w->counters, LG_DROP_RTCP_MALFORMED);
}
