/* Per-worker indexes of transports: by local ICE ufrag (to match a Binding request's USERNAME) and
 * by 5-tuple (every validated path), so each received packet finds its transport in O(1) without
 * allocating. Worker thread only. */
#ifndef LG_TRANSPORT_TABLE_H
#define LG_TRANSPORT_TABLE_H

#include <stddef.h>

#include "sfu/transport.h"

#define TT_UFRAG_BUCKETS 1024

typedef struct {
    transport_t *t;
    int pair; /* index into t->pairs; -1 marks an empty slot */
} tt_slot_t;

typedef struct {
    transport_t *ufrag[TT_UFRAG_BUCKETS];
    transport_t *all; /* every live transport, newest first */
    int count;
    tt_slot_t *slots; /* open addressing on the 5-tuple, linear probing */
    size_t cap;       /* power of two */
    size_t used;
} transport_table_t;

/* Returns 0 or LG_ENOMEM. */
int tt_init(transport_table_t *tt);
void tt_free(transport_table_t *tt); /* frees the index, not the transports */

/* Registers a new transport under its local ufrag. LG_EEXIST if the ufrag is taken. */
int tt_add(transport_table_t *tt, transport_t *t);

/* Unregisters t and every path of it. */
void tt_remove(transport_table_t *tt, transport_t *t);

transport_t *tt_find_ufrag(const transport_table_t *tt, const char *ufrag, size_t len);

/* Finds the transport owning a path; *pair receives the index into its pairs. */
transport_t *tt_find_path(const transport_table_t *tt, const lg_path_t *path, int *pair);

/* Indexes t->pairs[pair] (already filled in). May grow the table: LG_ENOMEM on failure. */
int tt_add_path(transport_table_t *tt, transport_t *t, int pair);

/* Removes the index entry of t->pairs[pair]. */
void tt_remove_path(transport_table_t *tt, transport_t *t, int pair);

/* Equality of paths: same socket (or TCP connection) and same remote address and port. */
int lg_path_equal(const lg_path_t *a, const lg_path_t *b);

#endif
