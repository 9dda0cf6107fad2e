/* Simulcast target layer selection from estimate and preference, switching at key frames. */
#include "media/layer_selector.h"

#include <string.h>

#include "sfu/lg_error.h"

void layersel_default_config(layersel_config_t *cfg)
{
    cfg->up_margin = 1.2;
    cfg->keyframe_retry_ms = 1000;
}

int layersel_init(layersel_t *s, uint8_t nlayers, const layersel_config_t *cfg)
{
    if (!s || nlayers == 0 || nlayers > LAYERSEL_MAX_LAYERS)
        return LG_EINVAL;
    memset(s, 0, sizeof *s);
    if (cfg)
        s->cfg = *cfg;
    else
        layersel_default_config(&s->cfg);
    if (s->cfg.up_margin < 1)
        s->cfg.up_margin = 1;
    s->nlayers = nlayers;
    s->pref_max_layer = (int8_t)(nlayers - 1);
    s->current = LAYERSEL_NONE;
    s->target = LAYERSEL_NONE;
    s->tid_target = LAYERSEL_TID_ALL;
    s->tid_current = LAYERSEL_TID_ALL;
    return 0;
}

int layersel_set_layer(layersel_t *s, uint8_t layer, bool active, uint32_t bitrate_bps,
                       uint16_t height)
{
    if (!s || layer >= s->nlayers)
        return LG_EINVAL;
    s->layers[layer].active = active;
    s->layers[layer].bitrate_bps = bitrate_bps;
    s->layers[layer].height = height;
    return 0;
}

int layersel_set_temporal(layersel_t *s, uint8_t layer, const uint32_t *cum_bps, uint8_t n)
{
    if (!s || layer >= s->nlayers || n > LAYERSEL_MAX_TEMPORAL || (n > 0 && !cum_bps))
        return LG_EINVAL;
    layersel_layer_t *l = &s->layers[layer];
    memset(l->tid_bps, 0, sizeof l->tid_bps);
    for (uint8_t t = 0; t < n; t++)
        l->tid_bps[t] = cum_bps[t];
    l->tids = n;
    return 0;
}

void layersel_set_preference(layersel_t *s, uint8_t max_layer, uint16_t max_height)
{
    if (!s)
        return;
    s->pref_max_layer = (int8_t)(max_layer < s->nlayers ? max_layer : s->nlayers - 1);
    s->pref_max_height = max_height;
}

/* Active and within the preference. */
static bool allowed(const layersel_t *s, int i)
{
    const layersel_layer_t *l = &s->layers[i];
    if (!l->active || i > s->pref_max_layer)
        return false;
    return s->pref_max_height == 0 || l->height == 0 || l->height <= s->pref_max_height;
}

/* Whether layer i fits the estimate; upward moves need the margin. */
static bool fits(const layersel_t *s, int i, uint64_t estimate_bps)
{
    uint32_t rate = s->layers[i].bitrate_bps;
    if (rate == 0)
        return false;
    double need = (double)rate;
    if (s->current == LAYERSEL_NONE || i > s->current)
        need *= s->cfg.up_margin;
    return (double)estimate_bps >= need;
}

static int pick(const layersel_t *s, uint64_t estimate_bps)
{
    int lowest = LAYERSEL_NONE;
    for (int i = s->nlayers - 1; i >= 0; i--) {
        if (!allowed(s, i))
            continue;
        if (fits(s, i, estimate_bps))
            return i;
        lowest = i;
    }
    return lowest;
}

static int lowest_allowed(const layersel_t *s)
{
    for (int i = 0; i < s->nlayers; i++)
        if (allowed(s, i))
            return i;
    return LAYERSEL_NONE;
}

/* The temporal choice for target layer i: every TID unless i is the lowest allowed layer and does
 * not fit; then the highest t whose TIDs 0..t fit (a rise above the current needs the margin). */
static uint8_t pick_tid(const layersel_t *s, int i, uint64_t estimate_bps)
{
    if (i == LAYERSEL_NONE || i != lowest_allowed(s) || s->layers[i].tids < 2)
        return LAYERSEL_TID_ALL;
    const layersel_layer_t *l = &s->layers[i];
    int top = l->tids - 1;
    int cur = s->tid_current == LAYERSEL_TID_ALL || s->tid_current > top ? top : s->tid_current;
    for (int t = top; t > 0; t--) {
        double need = (double)l->tid_bps[t];
        if (t > cur)
            need *= s->cfg.up_margin;
        if (l->tid_bps[t] > 0 && (double)estimate_bps >= need)
            return t == top ? LAYERSEL_TID_ALL : (uint8_t)t;
    }
    return 0;
}

unsigned layersel_update(layersel_t *s, uint64_t estimate_bps, uint64_t now_ms)
{
    if (!s)
        return 0;
    unsigned flags = 0;
    int target = pick(s, estimate_bps);
    if (target != s->target) {
        s->target = (int8_t)target;
        s->keyframe_asked = false;
        flags |= LAYERSEL_CHANGED;
    }
    uint8_t tid = pick_tid(s, target, estimate_bps);
    if (tid != s->tid_target) {
        s->tid_target = tid;
        flags |= LAYERSEL_TEMPORAL;
    }
    if (s->target == LAYERSEL_NONE || s->target == s->current)
        return flags;
    if (!s->keyframe_asked || now_ms - s->keyframe_asked_ms >= s->cfg.keyframe_retry_ms) {
        s->keyframe_asked = true;
        s->keyframe_asked_ms = now_ms;
        flags |= LAYERSEL_KEYFRAME;
    }
    return flags;
}

layersel_verdict_t layersel_on_packet(layersel_t *s, uint8_t layer, bool keyframe)
{
    if (!s || layer >= s->nlayers)
        return LAYERSEL_DROP;
    if (keyframe && layer == s->target && s->target != s->current) {
        s->current = s->target;
        s->keyframe_asked = false;
        return LAYERSEL_SWITCHED;
    }
    return layer == s->current && s->current != LAYERSEL_NONE ? LAYERSEL_FORWARD : LAYERSEL_DROP;
}

int layersel_set_current(layersel_t *s, uint8_t layer)
{
    if (!s || layer >= s->nlayers)
        return LG_EINVAL;
    s->current = (int8_t)layer;
    if (s->current == s->target)
        s->keyframe_asked = false;
    return 0;
}

int layersel_reorder(layersel_t *s, const uint8_t *to)
{
    if (!s || !to)
        return LG_EINVAL;
    unsigned seen = 0;
    for (int i = 0; i < s->nlayers; i++) {
        if (to[i] >= s->nlayers || (seen & 1u << to[i]))
            return LG_EINVAL;
        seen |= 1u << to[i];
    }
    layersel_layer_t layers[LAYERSEL_MAX_LAYERS];
    for (int i = 0; i < s->nlayers; i++)
        layers[to[i]] = s->layers[i];
    memcpy(s->layers, layers, s->nlayers * sizeof layers[0]);
    if (s->current != LAYERSEL_NONE)
        s->current = (int8_t)to[s->current];
    if (s->target != LAYERSEL_NONE)
        s->target = (int8_t)to[s->target];
    return 0;
}

int layersel_current(const layersel_t *s)
{
    return s ? s->current : LAYERSEL_NONE;
}

int layersel_target(const layersel_t *s)
{
    return s ? s->target : LAYERSEL_NONE;
}

bool layersel_temporal_forward(const vp8_desc_t *d, uint8_t max_tid)
{
    return !d || !d->has_tid || d->tid <= max_tid;
}

int layersel_temporal_target(const layersel_t *s)
{
    return s ? s->tid_target : LAYERSEL_TID_ALL;
}

int layersel_temporal_current(const layersel_t *s)
{
    return s ? s->tid_current : LAYERSEL_TID_ALL;
}

bool layersel_temporal_on_packet(layersel_t *s, const vp8_desc_t *d, bool keyframe)
{
    if (!s || !d || !d->has_tid)
        return true;
    if (d->start && d->pid == 0 && s->tid_current != s->tid_target) {
        if (keyframe || s->tid_target < s->tid_current)
            s->tid_current =
                s->tid_target; /* a key frame references nothing; down is always safe */
        else if (d->layer_sync && d->tid > s->tid_current && d->tid <= s->tid_target)
            s->tid_current = d->tid; /* this frame needs only TL0: from here on its TID is whole */
    }
    return layersel_temporal_forward(d, s->tid_current);
}
