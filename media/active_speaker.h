/* Active speaker detection for one room from RFC 6464 audio levels: a dominant speaker with
 * hysteresis, and the loudest participants for an audio mixer.
 *
 * Each participant's loudness is an exponential average (time constant tau_ms) of 127 - level,
 * fed per audio packet: 0 is silence (-127 dBov), 127 the loudest (0 dBov). A participant whose
 * packets stop decays towards 0 with the same time constant. Loudness below min_loudness is
 * silence. When nobody is dominant, the loudest non-silent participant becomes dominant at once;
 * afterwards a challenger must stay the loudest, louder than the dominant by at least margin,
 * for hold_ms without interruption before it takes over (so two voices of similar level do not
 * flap). When everybody has been silent for clear_after_ms the dominant speaker is cleared
 * (0 keeps the last speaker, as most meeting UIs do).
 *
 * Participants are added to a fixed table and addressed by the slot speaker_add() returns; the
 * outputs name them by the caller's id (any value but SPEAKER_NONE).
 *
 * Ownership: the caller owns speaker_room_t; no allocation. Threading: one thread per instance.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h). */
#ifndef LG_MEDIA_ACTIVE_SPEAKER_H
#define LG_MEDIA_ACTIVE_SPEAKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPEAKER_MAX  128 /* participants per room */
#define SPEAKER_NONE 0u  /* "no dominant speaker"; not a valid id */

typedef struct speaker_config {
    uint32_t tau_ms;         /* smoothing time constant (default 1000) */
    uint32_t hold_ms;        /* a challenger must lead this long (default 400) */
    double margin;           /* by at least this much loudness (default 3) */
    double min_loudness;     /* below is silence (default 57, i.e. -70 dBov) */
    uint32_t clear_after_ms; /* all silent this long clears the dominant (default 0: never) */
    bool use_voice_flag;     /* count packets with V = 0 as silence (default false) */
} speaker_config_t;

typedef struct speaker_entry {
    bool used;
    uint32_t id;
    double loudness;
    uint64_t last_ms; /* last level received */
} speaker_entry_t;

/* One result of speaker_top(). */
typedef struct speaker_level {
    uint32_t id;
    double loudness;
} speaker_level_t;

typedef struct speaker_room {
    speaker_config_t cfg;
    uint32_t dominant; /* SPEAKER_NONE when nobody */
    uint32_t reported; /* dominant as of the last speaker_update() */
    uint32_t challenger;
    uint64_t challenger_since_ms;
    bool silent;
    uint64_t silent_since_ms;
    speaker_entry_t entries[SPEAKER_MAX];
} speaker_room_t;

/* Fills cfg with the defaults above. */
void speaker_default_config(speaker_config_t *cfg);

/* Prepares a room; cfg NULL means defaults. Returns 0 or LG_EINVAL (NULL room, tau_ms 0). */
int speaker_init(speaker_room_t *r, const speaker_config_t *cfg);

/* Adds a participant. Returns its slot (>= 0), LG_EINVAL (id SPEAKER_NONE), LG_EEXIST (id already
 * present) or LG_EFULL. */
int speaker_add(speaker_room_t *r, uint32_t id);

/* Removes the participant in slot; if it was dominant, nobody is until the next update picks
 * someone. Returns 0 or LG_ENOTFOUND. */
int speaker_remove(speaker_room_t *r, int slot);

/* One audio level (0..127 -dBov, values above 127 count as 127) with the V flag. Returns 0,
 * LG_ENOTFOUND (no such slot). */
int speaker_on_level(speaker_room_t *r, int slot, uint8_t level, bool voice, uint64_t now_ms);

/* Re-evaluates the dominant speaker (call every 100-300 ms). *dominant (optional) gets it, or
 * SPEAKER_NONE. Returns true when it changed since the last call, so the caller signals it. */
bool speaker_update(speaker_room_t *r, uint64_t now_ms, uint32_t *dominant);

/* The k loudest non-silent participants, loudest first (ties: lower slot first). Returns how many
 * were written to out. */
size_t speaker_top(const speaker_room_t *r, uint64_t now_ms, speaker_level_t *out, size_t k);

/* A participant's loudness now (decayed if its packets stopped); 0 for an empty slot. */
double speaker_loudness(const speaker_room_t *r, int slot, uint64_t now_ms);

#endif
