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
