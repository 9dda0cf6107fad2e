/* Dominant speaker and loudest-participant selection from smoothed RFC 6464 audio levels. */
#include "media/active_speaker.h"

#include <math.h>
#include <string.h>

#include "sfu/lg_error.h"

#define STALE_MS 100 /* no level for longer than this counts as silence */

void speaker_default_config(speaker_config_t *cfg)
{
    cfg->tau_ms = 1000;
    cfg->hold_ms = 400;
    cfg->margin = 3;
    cfg->min_loudness = 57;
    cfg->clear_after_ms = 0;
    cfg->use_voice_flag = false;
}

int speaker_init(speaker_room_t *r, const speaker_config_t *cfg)
{
    if (!r || (cfg && cfg->tau_ms == 0))
        return LG_EINVAL;
    memset(r, 0, sizeof *r);
    if (cfg)
        r->cfg = *cfg;
    else
        speaker_default_config(&r->cfg);
    return 0;
}

static bool valid_slot(const speaker_room_t *r, int slot)
{
    return r && slot >= 0 && slot < SPEAKER_MAX && r->entries[slot].used;
}

int speaker_add(speaker_room_t *r, uint32_t id)
{
    if (!r || id == SPEAKER_NONE)
        return LG_EINVAL;
    int free_slot = -1;
    for (int i = 0; i < SPEAKER_MAX; i++) {
        if (r->entries[i].used && r->entries[i].id == id)
            return LG_EEXIST;
        if (!r->entries[i].used && free_slot < 0)
            free_slot = i;
    }
    if (free_slot < 0)
        return LG_EFULL;
    speaker_entry_t *e = &r->entries[free_slot];
    memset(e, 0, sizeof *e);
    e->used = true;
    e->id = id;
    return free_slot;
}

int speaker_remove(speaker_room_t *r, int slot)
{
    if (!valid_slot(r, slot))
        return LG_ENOTFOUND;
    speaker_entry_t *e = &r->entries[slot];
    if (r->dominant == e->id)
        r->dominant = SPEAKER_NONE;
    if (r->challenger == e->id)
        r->challenger = SPEAKER_NONE;
    e->used = false;
    return 0;
}

/* The factor an average keeps over dt_ms. */
static double keep(const speaker_room_t *r, uint64_t dt_ms)
{
    return exp(-(double)dt_ms / r->cfg.tau_ms);
}

/* Loudness at now_ms: the time past STALE_MS since the last level decays it as silence. */
static double loudness_at(const speaker_room_t *r, const speaker_entry_t *e, uint64_t now_ms)
{
    if (now_ms <= e->last_ms + STALE_MS)
        return e->loudness;
    return e->loudness * keep(r, now_ms - e->last_ms - STALE_MS);
}

double speaker_loudness(const speaker_room_t *r, int slot, uint64_t now_ms)
{
    return valid_slot(r, slot) ? loudness_at(r, &r->entries[slot], now_ms) : 0;
}

int speaker_on_level(speaker_room_t *r, int slot, uint8_t level, bool voice, uint64_t now_ms)
{
    if (!valid_slot(r, slot))
        return LG_ENOTFOUND;
    speaker_entry_t *e = &r->entries[slot];
    double sample = 127.0 - (level > 127 ? 127 : level);
    if (r->cfg.use_voice_flag && !voice)
        sample = 0;
    uint64_t dt = now_ms > e->last_ms ? now_ms - e->last_ms : 0;
    if (e->last_ms == 0 && e->loudness == 0)
        dt = 20; /* first level: one packet's worth */
    double current = loudness_at(r, e, now_ms);
    double k = keep(r, dt < STALE_MS ? dt : STALE_MS);
    e->loudness = current * k + sample * (1 - k);
    e->last_ms = now_ms;
    return 0;
}

/* The loudest non-silent slot, or -1. */
static int loudest(const speaker_room_t *r, uint64_t now_ms, double *level)
{
    int best = -1;
    double best_level = 0;
    for (int i = 0; i < SPEAKER_MAX; i++) {
        if (!r->entries[i].used)
            continue;
        double l = loudness_at(r, &r->entries[i], now_ms);
        if (l >= r->cfg.min_loudness && (best < 0 || l > best_level)) {
            best = i;
            best_level = l;
        }
    }
    *level = best_level;
    return best;
}

static double loudness_of_id(const speaker_room_t *r, uint32_t id, uint64_t now_ms)
{
    for (int i = 0; i < SPEAKER_MAX; i++)
        if (r->entries[i].used && r->entries[i].id == id)
            return loudness_at(r, &r->entries[i], now_ms);
    return 0;
}

/* Nobody is speaking: maybe clear the dominant speaker. */
static void on_silence(speaker_room_t *r, uint64_t now_ms)
{
    r->challenger = SPEAKER_NONE;
    if (!r->silent) {
        r->silent = true;
        r->silent_since_ms = now_ms;
    }
    if (r->cfg.clear_after_ms && now_ms - r->silent_since_ms >= r->cfg.clear_after_ms)
        r->dominant = SPEAKER_NONE;
}

/* Someone louder than the dominant speaker: takes over after leading for hold_ms. */
static void challenge(speaker_room_t *r, uint32_t id, double level, uint64_t now_ms)
{
    if (level < loudness_of_id(r, r->dominant, now_ms) + r->cfg.margin) {
        r->challenger = SPEAKER_NONE;
        return;
    }
    if (r->challenger != id) {
        r->challenger = id;
        r->challenger_since_ms = now_ms;
    }
    if (now_ms - r->challenger_since_ms >= r->cfg.hold_ms) {
        r->dominant = id;
        r->challenger = SPEAKER_NONE;
    }
}

bool speaker_update(speaker_room_t *r, uint64_t now_ms, uint32_t *dominant)
{
    if (!r)
        return false;
    double level;
    int best = loudest(r, now_ms, &level);
    if (best < 0) {
        on_silence(r, now_ms);
    } else {
        uint32_t id = r->entries[best].id;
        r->silent = false;
        if (r->dominant == SPEAKER_NONE)
            r->dominant = id;
        if (id == r->dominant)
            r->challenger = SPEAKER_NONE;
        else
            challenge(r, id, level, now_ms);
    }
    if (dominant)
        *dominant = r->dominant;
    bool changed = r->dominant != r->reported;
    r->reported = r->dominant;
    return changed;
}

size_t speaker_top(const speaker_room_t *r, uint64_t now_ms, speaker_level_t *out, size_t k)
{
    if (!r || !out || k == 0)
        return 0;
    size_t n = 0;
    for (int i = 0; i < SPEAKER_MAX; i++) {
        if (!r->entries[i].used)
            continue;
        double l = loudness_at(r, &r->entries[i], now_ms);
        if (l < r->cfg.min_loudness)
            continue;
        size_t pos = n;
        while (pos > 0 && out[pos - 1].loudness < l)
            pos--;
        if (pos >= k)
            continue;
        size_t last = n < k ? n : k - 1;
        memmove(&out[pos + 1], &out[pos], (last - pos) * sizeof *out);
        out[pos].id = r->entries[i].id;
        out[pos].loudness = l;
        if (n < k)
            n++;
    }
    return n;
}
