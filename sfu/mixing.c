/* Room mixers on the worker: lifecycle tied to their listeners, sources tied to producers. */
#include "sfu/mixing.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/router.h"
#include "sfu/worker.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t participant_num(const char *id)
{
    return id[0] == 'p' ? (uint32_t)strtoull(id + 1, NULL, 16) : 0;
}

static room_mix_t *find_mix(lg_worker_t *w, const char *room)
{
    for (room_mix_t *rm = w->mixes; rm; rm = rm->next)
        if (strcmp(rm->room, room) == 0)
            return rm;
    return NULL;
}

static room_mix_t *create_mix(lg_worker_t *w, const char *room)
{
    room_mix_t *rm = calloc(1, sizeof *rm);
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    cfg.bitrate_bps = w->cfg->mix_bitrate;
    cfg.max_sources = 256;
    cfg.max_listeners = 1024;
    cfg.ptime_ms = (unsigned)w->cfg->mix_ptime_ms;
    if (!rm || mixer_create(&cfg, &rm->mixer) != 0) {
        free(rm);
        return NULL;
    }
    snprintf(rm->room, sizeof rm->room, "%s", room);
    rm->next = w->mixes;
    w->mixes = rm;
    for (producer_t *p = w->producers; p; p = p->next)
        if (p->p.kind == ROUTER_AUDIO && strcmp(p->t->p.room, room) == 0)
            mixing_producer_added(w, p);
    return rm;
}

static void destroy_mix(lg_worker_t *w, room_mix_t *rm)
{
    for (producer_t *p = w->producers; p; p = p->next)
        if (p->mix == rm)
            p->mix = NULL;
    for (room_mix_t **pp = &w->mixes; *pp; pp = &(*pp)->next)
        if (*pp == rm) {
            *pp = rm->next;
            break;
        }
    while (rm->listeners) {
        mix_listener_t *l = rm->listeners;
        rm->listeners = l->next;
        free(l);
    }
    mixer_destroy(rm->mixer);
    free(rm);
}

int mixing_add_listener(struct lg_worker *w, const mix_listener_params_t *mp)
{
    transport_t *t = transport_find_id(w, mp->transport_id);
    if (!t)
        return LG_ENOTFOUND;
    room_mix_t *rm = find_mix(w, mp->room);
    if (!rm && !(rm = create_mix(w, mp->room)))
        return LG_ENOMEM;
    mix_listener_t *l = calloc(1, sizeof *l);
    if (!l)
        return LG_ENOMEM;
    l->id = mp->id;
    l->t = t;
    l->participant = participant_num(mp->participant);
    l->ssrc = mp->ssrc;
    l->pt = mp->pt;
    uint16_t seq0;
    uint32_t ts0;
    RAND_bytes((uint8_t *)&seq0, sizeof seq0);
    RAND_bytes((uint8_t *)&ts0, sizeof ts0);
    if (mixer_listener_add(rm->mixer, l->participant, seq0, ts0) != 0) {
        free(l);
        if (lg_ratelimit_allow(&w->warn_limit, lg_worker_now_ms(w)))
            LG_WARN("room %s: cannot add mixed listener %s (mixer full)", mp->room,
                    mp->participant);
        return LG_EFULL;
    }
    l->next = rm->listeners;
    rm->listeners = l;
    return 0;
}

static void unlink_listener(lg_worker_t *w, room_mix_t *rm, mix_listener_t *l)
{
    for (mix_listener_t **pp = &rm->listeners; *pp; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    mixer_listener_remove(rm->mixer, l->participant);
    free(l);
    if (!rm->listeners)
        destroy_mix(w, rm); /* nobody mixed: nothing decoded or encoded */
}

void mixing_remove_listener(struct lg_worker *w, uint64_t id)
{
    for (room_mix_t *rm = w->mixes; rm; rm = rm->next)
        for (mix_listener_t *l = rm->listeners; l; l = l->next)
            if (l->id == id) {
                unlink_listener(w, rm, l);
                return;
            }
}

void mixing_transport_closed(struct lg_worker *w, transport_t *t)
{
    room_mix_t *rm = w->mixes;
    while (rm) {
        room_mix_t *next = rm->next;
        for (mix_listener_t *l = rm->listeners; l; l = l->next)
            if (l->t == t) {
                unlink_listener(w, rm, l); /* may free rm: move on to next */
                break;
            }
        rm = next;
    }
}

void mixing_producer_added(struct lg_worker *w, struct producer *p)
{
    room_mix_t *rm = find_mix(w, p->t->p.room);
    if (!rm || p->p.kind != ROUTER_AUDIO)
        return;
    if (mixer_source_add(rm->mixer, participant_num(p->t->p.participant)) == 0)
        p->mix = rm;
}

void mixing_producer_removed(struct lg_worker *w, struct producer *p)
{
    if (p->mix)
        mixer_source_remove(p->mix->mixer, participant_num(p->t->p.participant));
    p->mix = NULL;
}

void mixing_on_report(struct lg_worker *w, transport_t *t, uint32_t ssrc, uint8_t fraction_lost)
{
    for (room_mix_t *rm = w->mixes; rm; rm = rm->next)
        for (mix_listener_t *l = rm->listeners; l; l = l->next)
            if (l->t == t && l->ssrc == ssrc) {
                mixer_listener_set_loss(rm->mixer, l->participant,
                                        (unsigned)fraction_lost * 100 / 256);
                return;
            }
}

static void send_output(room_mix_t *rm, const mixer_output_t *out)
{
    for (mix_listener_t *l = rm->listeners; l; l = l->next) {
        if (l->participant != out->listener || !l->t->srtp_ready)
            continue;
        size_t cap, len;
        uint8_t *buf = transport_tx_begin(l->t, &cap);
        if (!buf ||
            mixer_output_rtp(out, l->pt, l->ssrc, buf, cap - SRTP_SESSION_MAX_OVERHEAD, &len) !=
                0 ||
            srtp_session_protect_rtp(&l->t->srtp, buf, &len, cap) != 0)
            return;
        transport_tx_commit(l->t, buf, len);
        l->packets++;
        l->bytes += len;
        return;
    }
}

/* Adds what the mixer did since the last report to the worker's counters. */
static void report(lg_worker_t *w, room_mix_t *rm)
{
    const mixer_counters_t *c = mixer_counters(rm->mixer);
    lg_counters_t *wc = &w->counters;
    wc->mix_packets_out += c->packets_out - rm->reported.packets_out;
    wc->mix_decodes += c->decodes - rm->reported.decodes;
    wc->mix_encodes += c->encodes - rm->reported.encodes;
    wc->mix_concealed += c->concealed - rm->reported.concealed;
    wc->mix_fec_recovered += c->fec_recovered - rm->reported.fec_recovered;
    wc->mix_cpu_ns += c->cpu_ns_total - rm->reported.cpu_ns_total;
    rm->reported = *c;
}

void mixing_tick(struct lg_worker *w, uint64_t now_ms)
{
    uint64_t mixers = 0, listeners = 0;
    for (room_mix_t *rm = w->mixes; rm; rm = rm->next) {
        while (mixer_tick(rm->mixer, now_ms) == 1) {
            size_t n;
            const mixer_output_t *outs = mixer_outputs(rm->mixer, &n);
            for (size_t i = 0; i < n; i++)
                send_output(rm, &outs[i]);
        }
        report(w, rm);
        mixers++;
        for (mix_listener_t *l = rm->listeners; l; l = l->next)
            listeners++;
    }
    w->counters.mixers = mixers;
    w->counters.mixed_listeners = listeners;
}

void mixing_free(struct lg_worker *w)
{
    while (w->mixes)
        destroy_mix(w, w->mixes);
}
