/* The m-lines of a subscribe connection: which carry a track, which were rejected and may be
 * recycled for a new track of the same kind, and the mid each one has. */
#ifndef LG_MLINES_H
#define LG_MLINES_H

/*
 * Contract
 * - Pure: no I/O, no allocation, no logging. The caller (the control thread) owns the table.
 * - M-lines never move and the table never shrinks: an offer always lists m-lines 0..count-1.
 * - Lifecycle of m-line i (RFC 8829 5.2.2 and 5.8, what Chromium accepts):
 *     SEND      carries a track (sendonly).
 *     STOPPING  its track left; offered rejected (port 0, out of BUNDLE) with its old mid.
 *     FREE      an answer to an offer that showed it rejected was applied: both sides hold it
 *               rejected, so the next offer may recycle it for a new track with a NEW mid.
 *     INACTIVE  m-line 0 after its track left: it carries the BUNDLE transport (the offer's
 *               tagged m-line), so it is never rejected (a=inactive, port 9) and never reused,
 *               as mediasoup-client does with its first m-section.
 * - Mids are decimal numbers from one counter per connection: the first offer's m-lines are 0,
 *   1, 2..., and every recycled m-line gets the next unused number, so no mid is ever reused.
 * - Errors: negative LG_E* codes (sfu/lg_error.h).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/sdp.h"

#define MLINES_MAX SDP_MAX_MEDIA /* m-lines of one subscribe connection, at most */

typedef enum { MLINE_SEND = 0, MLINE_STOPPING, MLINE_FREE, MLINE_INACTIVE } mline_state_t;

typedef struct {
    mline_state_t state;
    sdp_kind_t kind;
    uint32_t mid;
} mline_t;

typedef struct {
    int cap;   /* m-lines allowed (1..MLINES_MAX) */
    int count; /* m-lines offered so far */
    uint32_t next_mid;
    mline_t line[MLINES_MAX];
} mlines_t;

/* An empty table of at most cap m-lines (clamped to 1..MLINES_MAX). */
void mlines_init(mlines_t *t, int cap);

/* Finds an m-line for a new track of `kind`: the lowest FREE one of that kind (recycled: it
 * gets a new mid), else a new one appended. Returns its index, or LG_EFULL when every m-line
 * is taken and the table is at its cap (nothing changed: the track waits for one to free). */
int mlines_take(mlines_t *t, sdp_kind_t kind);

/* The track of m-line i (SEND) left: m-line 0 goes INACTIVE, others STOPPING. Other states and
 * indexes out of range are left alone. */
void mlines_release(mlines_t *t, int i);

/* The answer to an offer that listed `offered` (the table as that offer showed it) was applied:
 * each STOPPING m-line the offer already showed rejected with the same mid becomes FREE. */
void mlines_answered(mlines_t *t, const mlines_t *offered);

/* True when the offer shows m-line i rejected (port 0): STOPPING or FREE. */
bool mlines_rejected(const mlines_t *t, int i);

/* Writes m-line i's mid ("12") into out (at least 11 bytes). */
void mlines_mid(const mlines_t *t, int i, char *out, size_t cap);

#endif
