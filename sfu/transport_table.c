/* Chained buckets for ufrags; open addressing with backward-shift deletion for 5-tuples. */
#include "sfu/transport_table.h"
#include "sfu/lg_error.h"

#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#define TT_INITIAL_CAP 256

static uint32_t fnv1a(uint32_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 16777619u;
    return h;
}

static uint32_t ufrag_hash(const char *s, size_t n)
{
    return fnv1a(2166136261u, s, n) & (TT_UFRAG_BUCKETS - 1);
}

/* Hashes what lg_path_equal compares. */
static uint32_t path_hash(const lg_path_t *p)
{
    uint32_t h = fnv1a(2166136261u, &p->udp, sizeof p->udp);
    h = fnv1a(h, &p->tcp, sizeof p->tcp);
    if (p->addr.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&p->addr;
        h = fnv1a(h, &a->sin_addr, sizeof a->sin_addr);
        h = fnv1a(h, &a->sin_port, sizeof a->sin_port);
    } else if (p->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&p->addr;
        h = fnv1a(h, &a->sin6_addr, sizeof a->sin6_addr);
        h = fnv1a(h, &a->sin6_port, sizeof a->sin6_port);
    }
    return h;
}

int lg_path_equal(const lg_path_t *a, const lg_path_t *b)
{
    if (a->udp != b->udp || a->tcp != b->tcp || a->addr.ss_family != b->addr.ss_family)
        return 0;
    if (a->addr.ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)&a->addr;
        const struct sockaddr_in *y = (const struct sockaddr_in *)&b->addr;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->addr.ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)&a->addr;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)&b->addr;
        return x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
    }
    return 0;
}

static tt_slot_t *alloc_slots(size_t cap)
{
    tt_slot_t *s = malloc(cap * sizeof *s);
    for (size_t i = 0; s && i < cap; i++)
        s[i] = (tt_slot_t){NULL, -1};
    return s;
}

int tt_init(transport_table_t *tt)
{
    memset(tt, 0, sizeof *tt);
    tt->cap = TT_INITIAL_CAP;
    tt->slots = alloc_slots(tt->cap);
    return tt->slots ? 0 : LG_ENOMEM;
}

void tt_free(transport_table_t *tt)
{
    free(tt->slots);
    memset(tt, 0, sizeof *tt);
}

int tt_add(transport_table_t *tt, transport_t *t)
{
    size_t n = strlen(t->p.local_ufrag);
    if (tt_find_ufrag(tt, t->p.local_ufrag, n))
        return LG_EEXIST;
    uint32_t b = ufrag_hash(t->p.local_ufrag, n);
    t->next_ufrag = tt->ufrag[b];
    tt->ufrag[b] = t;
    t->next_all = tt->all;
    tt->all = t;
    tt->count++;
    return 0;
}

void tt_remove(transport_table_t *tt, transport_t *t)
{
    for (int i = 0; i < t->npairs; i++)
        tt_remove_path(tt, t, i);
    uint32_t b = ufrag_hash(t->p.local_ufrag, strlen(t->p.local_ufrag));
    for (transport_t **pp = &tt->ufrag[b]; *pp; pp = &(*pp)->next_ufrag)
        if (*pp == t) {
            *pp = t->next_ufrag;
            break;
        }
    for (transport_t **pp = &tt->all; *pp; pp = &(*pp)->next_all)
        if (*pp == t) {
            *pp = t->next_all;
            tt->count--;
            break;
        }
}

transport_t *tt_find_ufrag(const transport_table_t *tt, const char *ufrag, size_t len)
{
    for (transport_t *t = tt->ufrag[ufrag_hash(ufrag, len)]; t; t = t->next_ufrag)
        if (strlen(t->p.local_ufrag) == len && memcmp(t->p.local_ufrag, ufrag, len) == 0)
            return t;
    return NULL;
}

transport_t *tt_find_path(const transport_table_t *tt, const lg_path_t *path, int *pair)
{
    size_t mask = tt->cap - 1;
    for (size_t i = path_hash(path) & mask;; i = (i + 1) & mask) {
        const tt_slot_t *s = &tt->slots[i];
        if (s->pair < 0)
            return NULL;
        if (lg_path_equal(&s->t->pairs[s->pair], path)) {
            *pair = s->pair;
            return s->t;
        }
    }
}

static void insert_slot(tt_slot_t *slots, size_t cap, transport_t *t, int pair)
{
    size_t mask = cap - 1;
    size_t i = path_hash(&t->pairs[pair]) & mask;
    while (slots[i].pair >= 0)
        i = (i + 1) & mask;
    slots[i] = (tt_slot_t){t, pair};
}

static int grow(transport_table_t *tt)
{
    size_t cap = tt->cap * 2;
    tt_slot_t *slots = alloc_slots(cap);
    if (!slots)
        return LG_ENOMEM;
    for (size_t i = 0; i < tt->cap; i++)
        if (tt->slots[i].pair >= 0)
            insert_slot(slots, cap, tt->slots[i].t, tt->slots[i].pair);
    free(tt->slots);
    tt->slots = slots;
    tt->cap = cap;
    return 0;
}

int tt_add_path(transport_table_t *tt, transport_t *t, int pair)
{
    if ((tt->used + 1) * 2 > tt->cap && grow(tt) != 0)
        return LG_ENOMEM;
    insert_slot(tt->slots, tt->cap, t, pair);
    tt->used++;
    return 0;
}

void tt_remove_path(transport_table_t *tt, transport_t *t, int pair)
{
    size_t mask = tt->cap - 1;
    size_t i = path_hash(&t->pairs[pair]) & mask;
    while (tt->slots[i].pair >= 0 && !(tt->slots[i].t == t && tt->slots[i].pair == pair))
        i = (i + 1) & mask;
    if (tt->slots[i].pair < 0)
        return;
    tt->slots[i] = (tt_slot_t){NULL, -1};
    tt->used--;
    /* Backward shift: re-place the rest of the cluster so probes never stop early. */
    for (size_t j = (i + 1) & mask; tt->slots[j].pair >= 0; j = (j + 1) & mask) {
        tt_slot_t s = tt->slots[j];
        tt->slots[j] = (tt_slot_t){NULL, -1};
        insert_slot(tt->slots, tt->cap, s.t, s.pair);
    }
}
