/* Renders the relay's counters in the Prometheus text exposition format (version 0.0.4). */
#ifndef LG_METRICS_H
#define LG_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "sfu/counters.h"
#include "signaling/signaling.h"

/* A snapshot assembled by the control thread; the renderer only reads it. */
typedef struct {
    int nworkers;
    const lg_counters_t *workers; /* nworkers snapshots, index = worker */
    uint64_t control_lag_us_max;
    int rooms;
    int participants;                   /* joined and waiting in lobbies */
    int sessions;                       /* open WebSockets */
    const signaling_stats_t *signaling; /* may be NULL */
} lg_metrics_view_t;

/* Writes the exposition into buf. Returns the length, or -1 if cap is too small. Pure. */
long lg_metrics_render(const lg_metrics_view_t *v, char *buf, size_t cap);

#endif
