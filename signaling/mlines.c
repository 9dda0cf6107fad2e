/* The m-lines of a subscribe connection: taking, releasing and recycling them (see mlines.h). */
#include "signaling/mlines.h"

#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"

void mlines_init(mlines_t *t, int cap)
{
    memset(t, 0, sizeof *t);
    t->cap = cap < 1 ? 1 : cap > MLINES_MAX ? MLINES_MAX : cap;
}

int mlines_take(mlines_t *t, sdp_kind_t kind)
{
    for (int i = 0; i < t->count; i++) {
        mline_t *l = &t->line[i];
        if (l->state == MLINE_FREE && l->kind == kind) {
            l->state = MLINE_SEND;
            l->mid = t->next_mid++;
            return i;
        }
    }
    if (t->count >= t->cap)
        return LG_EFULL;
    mline_t *l = &t->line[t->count];
    l->state = MLINE_SEND;
    l->kind = kind;
    l->mid = t->next_mid++;
    return t->count++;
}

void mlines_release(mlines_t *t, int i)
{
    if (i < 0 || i >= t->count || t->line[i].state != MLINE_SEND)
        return;
    t->line[i].state = i == 0 ? MLINE_INACTIVE : MLINE_STOPPING;
}

void mlines_answered(mlines_t *t, const mlines_t *offered)
{
    for (int i = 0; i < t->count && i < offered->count; i++) {
        mline_t *l = &t->line[i];
        if (l->state == MLINE_STOPPING && mlines_rejected(offered, i) &&
            offered->line[i].mid == l->mid)
            l->state = MLINE_FREE;
    }
}

bool mlines_rejected(const mlines_t *t, int i)
{
    return i >= 0 && i < t->count &&
           (t->line[i].state == MLINE_STOPPING || t->line[i].state == MLINE_FREE);
}

void mlines_mid(const mlines_t *t, int i, char *out, size_t cap)
{
    snprintf(out, cap, "%lu", (unsigned long)t->line[i].mid);
}
