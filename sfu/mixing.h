/* Mixed audio on a media worker: one Opus mixer per room that has at least one mixed listener,
 * fed by the room's audio producers, ticked on the worker's 20 ms feedback timer, its packets sent
 * to each mixed listener's subscribe transport. A room with nobody mixed has no mixer at all.
 * Worker thread only. */
#ifndef LG_MIXING_H
#define LG_MIXING_H

#include <stdint.h>

#include "media/opus_mixer.h"
#include "sfu/transport.h"

struct lg_worker;
struct producer;

typedef struct mix_listener {
    uint64_t id; /* control-assigned */
    transport_t *t;
    uint32_t participant; /* mixer listener id = speaker id, so its own voice is left out */
    uint32_t ssrc;
    uint8_t pt;
    uint64_t packets, bytes;
    struct mix_listener *next;
} mix_listener_t;

typedef struct room_mix {
    char room[72];
    mixer_t *mixer;
    mix_listener_t *listeners;
    mixer_counters_t reported; /* what was already added to the worker's counters */
    struct room_mix *next;
} room_mix_t;

typedef struct {
    uint64_t id;
    uint64_t transport_id;
    char room[72];
    char participant[24];
    uint32_t ssrc;
    uint8_t pt;
} mix_listener_params_t;

/* Adds a mixed listener, creating the room's mixer (with every audio producer of the room as a
 * source) if it is the first. Returns 0 or an LG_E* code. */
int mixing_add_listener(struct lg_worker *w, const mix_listener_params_t *p);

/* Removes a listener by id; the last one destroys the room's mixer. */
void mixing_remove_listener(struct lg_worker *w, uint64_t id);

/* A producer appeared or goes away: becomes (or stops being) a source of its room's mixer. */
void mixing_producer_added(struct lg_worker *w, struct producer *p);
void mixing_producer_removed(struct lg_worker *w, struct producer *p);

/* Transport t is closing: drops its listeners. */
void mixing_transport_closed(struct lg_worker *w, transport_t *t);

/* A receiver report block from transport t: if it is about a mixed stream, its loss tunes that
 * listener's Opus FEC. */
void mixing_on_report(struct lg_worker *w, transport_t *t, uint32_t ssrc, uint8_t fraction_lost);

/* Runs every due mixer tick and sends the packets (from the feedback timer). */
void mixing_tick(struct lg_worker *w, uint64_t now_ms);

/* Frees every mixer (worker shutdown). */
void mixing_free(struct lg_worker *w);

#endif
