/* Per-consumer record of recent sends: transport-cc number and plaintext hash per sequence. */
#include "media/send_history.h"

#include <string.h>

#define SEQ_SPAN 0x10000u

void sendhist_init(sendhist_t *h)
{
    memset(h, 0, sizeof *h);
}

/* seq extended to 32 bits next to the newest recorded number (RFC 3550 A.1 style). The first
 * number starts at one cycle, so a number just before it does not wrap below zero. */
static uint32_t extend(const sendhist_t *h, uint16_t seq)
{
    if (!h->started)
        return SEQ_SPAN + seq;
    int16_t d = (int16_t)(uint16_t)(seq - (uint16_t)h->max_ext);
    return (uint32_t)((int64_t)h->max_ext + d);
}

sendhist_state_t sendhist_lookup(const sendhist_t *h, uint16_t seq, sendhist_rec_t *rec)
{
    if (!h->started)
        return SENDHIST_NEW;
    uint32_t ext = extend(h, seq);
    if (ext > h->max_ext)
        return SENDHIST_NEW;
    if (h->max_ext - ext >= SENDHIST_SIZE)
        return SENDHIST_UNKNOWN;
    /* within the window no other number shares the slot: it holds ext or a stale older one */
    const sendhist_entry_t *e = &h->e[ext % SENDHIST_SIZE];
    if (e->ext != ext + 1)
        return SENDHIST_NEW;
    *rec = e->rec;
    return SENDHIST_SENT;
}

void sendhist_record(sendhist_t *h, uint16_t seq, const sendhist_rec_t *rec)
{
    uint32_t ext = extend(h, seq);
    if (h->started && ext <= h->max_ext && h->max_ext - ext >= SENDHIST_SIZE)
        return;
    if (!h->started || ext > h->max_ext)
        h->max_ext = ext;
    h->started = true;
    sendhist_entry_t *e = &h->e[ext % SENDHIST_SIZE];
    e->ext = ext + 1;
    e->rec = *rec;
}

bool sendhist_resend_ok(const sendhist_t *h, uint16_t seq, const sendhist_rec_t *rebuilt)
{
    sendhist_rec_t first;
    if (sendhist_lookup(h, seq, &first) != SENDHIST_SENT)
        return false;
    return first.hash == rebuilt->hash && first.has_twcc == rebuilt->has_twcc &&
           (!first.has_twcc || first.twcc == rebuilt->twcc);
}

static uint64_t mix(uint64_t h)
{
    h ^= h >> 32;
    h *= 0xd6e8feb86659fd93ull;
    h ^= h >> 32;
    return h;
}

uint64_t sendhist_hash(uint64_t seed, const uint8_t *p, size_t len)
{
    uint64_t h = seed ^ 0x9e3779b97f4a7c15ull;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * 0xff51afd7ed558ccdull;
        h ^= h >> 29;
    }
    uint64_t tail = 0;
    if (len > i)
        memcpy(&tail, p + i, len - i);
    h = (h ^ tail) * 0xc4ceb9fe1a85ec53ull;
    return mix(h ^ (uint64_t)len);
}
