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

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

static void sipround(uint64_t v[4])
{
    v[0] += v[1];
    v[1] = ROTL(v[1], 13) ^ v[0];
    v[0] = ROTL(v[0], 32);
    v[2] += v[3];
    v[3] = ROTL(v[3], 16) ^ v[2];
    v[0] += v[3];
    v[3] = ROTL(v[3], 21) ^ v[0];
    v[2] += v[1];
    v[1] = ROTL(v[1], 17) ^ v[2];
    v[2] = ROTL(v[2], 32);
}

static uint64_t le64(const uint8_t *p, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)p[i] << (8 * i);
    return w;
}

static void absorb(uint64_t v[4], uint64_t m)
{
    v[3] ^= m;
    sipround(v);
    sipround(v);
    v[0] ^= m;
}

/* SipHash-2-4 (Aumasson, Bernstein 2012) with k0 ^ seed, k1 as the key. */
uint64_t sendhist_hash(const sendhist_key_t *key, uint64_t seed, const uint8_t *p, size_t len)
{
    uint64_t k0 = key->k0 ^ seed, k1 = key->k1;
    uint64_t v[4] = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                     k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; i + 8 <= len; i += 8)
        absorb(v, le64(p + i, 8));
    absorb(v, le64(p + i, len - i) | (uint64_t)(len & 0xff) << 56);
    v[2] ^= 0xff;
    for (int r = 0; r < 4; r++)
        sipround(v);
    return v[0] ^ v[1] ^ v[2] ^ v[3];
}
