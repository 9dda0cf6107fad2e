/* Quality order of one producer's simulcast encodings, from evidence rather than their position
 * in a=simulcast (RFC 8853 does not order by quality: Chromium lists highest first; Firefox follows
 * the app's encodings, which mediasoup-client and LiveKit list lowest first).
 *
 * Encodings are indexed by their position in the offer (0 = first rid); ranks count from 0 =
 * lowest quality. Evidence, strongest first:
 *   1. a=rid restrictions (RFC 8851): when the max-width x max-height area, max-height,
 *      max-width, max-br and max-fps given on every encoding (compared in that order, each key
 *      used only when every encoding has it) put all encodings in a strict order, that order
 *      is fixed and measurements never change it.
 *   2. measured bitrates (layer_rank_measured(), every 500 ms): once every encoding has a rate,
 *      they are ranked by rate. Two encodings change places only when the one moving up sends
 *      more than LAYER_RANK_MARGIN_PCT % above the other (equal or close rates keep the current
 *      order), and a new order is adopted only after LAYER_RANK_CONFIRM consecutive windows
 *      measured that same order; a window where some encoding sent nothing restarts the count.
 *   3. until then, the default: the first rid is the highest quality (Chromium's offers and the
 *      relay's web client).
 *
 * Ownership: the caller owns layer_rank_t; no allocation. Threading: one thread per instance.
 * Errors: 0 or LG_EINVAL (sfu/lg_error.h). */
#ifndef LG_MEDIA_LAYER_RANK_H
#define LG_MEDIA_LAYER_RANK_H

#include <stdbool.h>
#include <stdint.h>

#define LAYER_RANK_MAX        4
#define LAYER_RANK_CONFIRM    3  /* windows (of 500 ms) a new measured order must persist */
#define LAYER_RANK_MARGIN_PCT 20 /* rate difference needed to swap two encodings */

/* One encoding's a=rid restrictions; 0: not given. */
typedef struct layer_rank_hint {
    uint32_t max_width, max_height; /* pixels */
    uint32_t max_br;                /* bits per second */
    uint32_t max_fps;
} layer_rank_hint_t;

typedef enum layer_rank_source {
    LAYER_RANK_DEFAULT = 0, /* offer order, first = highest: no evidence yet */
    LAYER_RANK_RID,         /* a=rid restrictions (fixed) */
    LAYER_RANK_MEASURED,    /* measured bitrates */
} layer_rank_source_t;

typedef struct layer_rank {
    uint8_t n;
    layer_rank_source_t source;
    uint8_t rank[LAYER_RANK_MAX];    /* encoding -> rank (0 = lowest quality) */
    uint8_t order[LAYER_RANK_MAX];   /* rank -> encoding */
    uint8_t pending[LAYER_RANK_MAX]; /* the differing order measured lately, as order[] */
    uint8_t seen;                    /* consecutive windows it was measured */
} layer_rank_t;

/* Orders n (1..LAYER_RANK_MAX) encodings from their restrictions (hints[n], or NULL for none),
 * else by the default. Returns 0 or LG_EINVAL. */
int layer_rank_init(layer_rank_t *r, uint8_t n, const layer_rank_hint_t *hints);

/* One window's measured bitrates, bps[n] by encoding (0: sent nothing). Returns true when the
 * order changed (rank[] and order[] now hold the new one). */
bool layer_rank_measured(layer_rank_t *r, const uint32_t *bps);

#endif
