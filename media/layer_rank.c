/* Quality order of simulcast encodings from a=rid restrictions or measured bitrates. */
#include "media/layer_rank.h"

#include <string.h>

#include "sfu/lg_error.h"

enum { KEY_AREA, KEY_HEIGHT, KEY_WIDTH, KEY_BR, KEY_FPS, KEY_COUNT };

static uint64_t key_of(const layer_rank_hint_t *h, int key)
{
    switch (key) {
    case KEY_AREA:
        return (uint64_t)h->max_width * h->max_height;
    case KEY_HEIGHT:
        return h->max_height;
    case KEY_WIDTH:
        return h->max_width;
    case KEY_BR:
        return h->max_br;
    default:
        return h->max_fps;
    }
}

/* <0, 0, >0 as encoding a is restricted below, like, above b, by the keys every encoding has. */
static int compare_hints(const layer_rank_hint_t *hints, const bool *usable, int a, int b)
{
    for (int k = 0; k < KEY_COUNT; k++) {
        if (!usable[k])
            continue;
        uint64_t x = key_of(&hints[a], k), y = key_of(&hints[b], k);
        if (x != y)
            return x < y ? -1 : 1;
    }
    return 0;
}

static void set_order(layer_rank_t *r, const uint8_t *order)
{
    for (int i = 0; i < r->n; i++) {
        r->order[i] = order[i];
        r->rank[order[i]] = (uint8_t)i;
    }
}

/* Sorts the encodings by their restrictions; false unless that gives a strict order. */
static bool order_by_hints(layer_rank_t *r, const layer_rank_hint_t *hints)
{
    bool usable[KEY_COUNT];
    for (int k = 0; k < KEY_COUNT; k++) {
        usable[k] = true;
        for (int e = 0; e < r->n; e++)
            usable[k] = usable[k] && key_of(&hints[e], k) != 0;
    }
    uint8_t order[LAYER_RANK_MAX];
    for (int i = 0; i < r->n; i++) {
        int j = i;
        for (; j > 0 && compare_hints(hints, usable, order[j - 1], i) > 0; j--)
            order[j] = order[j - 1];
        order[j] = (uint8_t)i;
    }
    for (int i = 1; i < r->n; i++)
        if (compare_hints(hints, usable, order[i - 1], order[i]) >= 0)
            return false;
    set_order(r, order);
    return true;
}

int layer_rank_init(layer_rank_t *r, uint8_t n, const layer_rank_hint_t *hints)
{
    if (!r || n == 0 || n > LAYER_RANK_MAX)
        return LG_EINVAL;
    memset(r, 0, sizeof *r);
    r->n = n;
    if (n > 1 && hints && order_by_hints(r, hints)) {
        r->source = LAYER_RANK_RID;
        return 0;
    }
    uint8_t order[LAYER_RANK_MAX];
    for (int i = 0; i < n; i++)
        order[i] = (uint8_t)(n - 1 - i); /* the first rid is the highest */
    set_order(r, order);
    return 0;
}

/* The current order re-sorted by rate; an encoding moves below another only when that one sends
 * more than the margin above it, so equal or close rates keep their places. */
static void order_by_rate(const layer_rank_t *r, const uint32_t *bps, uint8_t *order)
{
    memcpy(order, r->order, r->n);
    for (int i = 1; i < r->n; i++) {
        uint8_t x = order[i];
        int j = i;
        for (; j > 0 &&
               (uint64_t)bps[x] * (100 + LAYER_RANK_MARGIN_PCT) < (uint64_t)bps[order[j - 1]] * 100;
             j--)
            order[j] = order[j - 1];
        order[j] = x;
    }
}

bool layer_rank_measured(layer_rank_t *r, const uint32_t *bps)
{
    if (!r || !bps || r->n < 2 || r->source == LAYER_RANK_RID)
        return false;
    for (int e = 0; e < r->n; e++)
        if (bps[e] == 0) {
            r->seen = 0; /* not every encoding is sending: no evidence this window */
            return false;
        }
    uint8_t order[LAYER_RANK_MAX];
    order_by_rate(r, bps, order);
    if (memcmp(order, r->order, r->n) == 0) {
        r->seen = 0;
        r->source = LAYER_RANK_MEASURED; /* the rates confirm the order in use */
        return false;
    }
    if (r->seen > 0 && memcmp(order, r->pending, r->n) == 0)
        r->seen++;
    else {
        memcpy(r->pending, order, r->n);
        r->seen = 1;
    }
    if (r->seen < LAYER_RANK_CONFIRM)
        return false;
    set_order(r, order);
    r->seen = 0;
    r->source = LAYER_RANK_MEASURED;
    return true;
}
