/* Rooms as singly linked lists: a relay holds at most a few thousand, and every lookup is on the
 * control thread at signaling rate, never on the media path. */
#include "signaling/rooms.h"
#include "sfu/lg_error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int rooms_init(rooms_t *r, const rooms_config_t *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = *cfg;
    if (r->cfg.nworkers < 1)
        r->cfg.nworkers = 1;
    r->rooms_per_worker = calloc((size_t)r->cfg.nworkers, sizeof *r->rooms_per_worker);
    return r->rooms_per_worker ? 0 : LG_ENOMEM;
}

static void free_participants(room_t *room)
{
    participant_t *p = room->participants;
    while (p) {
        participant_t *next = p->next;
        free(p);
        p = next;
    }
    room->participants = NULL;
}

void rooms_free(rooms_t *r)
{
    room_t *room = r->rooms;
    while (room) {
        room_t *next = room->next;
        free_participants(room);
        free(room);
        room = next;
    }
    free(r->rooms_per_worker);
    memset(r, 0, sizeof *r);
}

room_t *rooms_find(rooms_t *r, const char *room_id)
{
    for (room_t *room = r->rooms; room; room = room->next)
        if (strcmp(room->id, room_id) == 0)
            return room;
    return NULL;
}

static int least_loaded_worker(const rooms_t *r)
{
    int best = 0;
    for (int i = 1; i < r->cfg.nworkers; i++)
        if (r->rooms_per_worker[i] < r->rooms_per_worker[best])
            best = i;
    return best;
}

static room_t *room_create(rooms_t *r, const char *id, int e2ee)
{
    room_t *room = calloc(1, sizeof *room);
    if (!room)
        return NULL;
    snprintf(room->id, sizeof room->id, "%s", id);
    room->worker = least_loaded_worker(r);
    room->lobby = r->cfg.lobby_default;
    room->e2ee = e2ee != 0;
    r->rooms_per_worker[room->worker]++;
    room->next = r->rooms;
    r->rooms = room;
    r->nrooms++;
    return room;
}

static int is_kicked(const room_t *room, const char *token_id)
{
    int n = room->nkicked < ROOMS_MAX_KICKED ? room->nkicked : ROOMS_MAX_KICKED;
    for (int i = 0; i < n; i++)
        if (strcmp(room->kicked[i], token_id) == 0)
            return 1;
    return 0;
}

static rooms_result_t check_policy(const rooms_t *r, const room_t *room,
                                   const auth_claims_t *claims)
{
    if (is_kicked(room, claims->token_id))
        return ROOMS_ERR_KICKED;
    if (room->e2ee != (claims->e2ee != 0))
        return ROOMS_ERR_E2EE_MISMATCH;
    auth_role_t role = claims->role;
    if (room->locked && role != AUTH_ROLE_MODERATOR)
        return ROOMS_ERR_LOCKED;
    if (room->joined + room->waiting >= r->cfg.max_participants)
        return ROOMS_ERR_FULL;
    return ROOMS_OK;
}

static void append(room_t *room, participant_t *p)
{
    participant_t **tail = &room->participants;
    while (*tail)
        tail = &(*tail)->next;
    *tail = p;
}

rooms_result_t rooms_join(rooms_t *r, const auth_claims_t *claims, const char *remote, void *conn,
                          uint64_t now_ms, participant_t **out, int *created)
{
    *out = NULL;
    *created = 0;
    room_t *room = rooms_find(r, claims->room);
    if (room) {
        rooms_result_t res = check_policy(r, room, claims);
        if (res != ROOMS_OK)
            return res;
    }
    participant_t *p = calloc(1, sizeof *p);
    if (!p)
        return ROOMS_ERR_NOMEM;
    if (!room) {
        room = room_create(r, claims->room, claims->e2ee);
        if (!room) {
            free(p);
            return ROOMS_ERR_NOMEM;
        }
        *created = 1;
    }
    snprintf(p->id, sizeof p->id, "p%012llx", (unsigned long long)++r->next_id);
    snprintf(p->sub, sizeof p->sub, "%s", claims->sub);
    snprintf(p->name, sizeof p->name, "%s", claims->name);
    snprintf(p->token_id, sizeof p->token_id, "%s", claims->token_id);
    snprintf(p->remote, sizeof p->remote, "%s", remote ? remote : "");
    p->role = claims->role;
    p->conn = conn;
    p->room = room;
    int wait = room->lobby && claims->role != AUTH_ROLE_MODERATOR;
    p->state = wait ? PARTICIPANT_LOBBY : PARTICIPANT_JOINED;
    if (wait)
        room->waiting++;
    else
        room->joined++;
    room->empty_since_ms = 0;
    append(room, p);
    *out = p;
    (void)now_ms;
    return wait ? ROOMS_LOBBY : ROOMS_OK;
}

int rooms_admit(participant_t *p)
{
    if (p->state != PARTICIPANT_LOBBY)
        return LG_ESTATE;
    p->state = PARTICIPANT_JOINED;
    p->room->waiting--;
    p->room->joined++;
    return 0;
}

void rooms_leave(rooms_t *r, participant_t *p, uint64_t now_ms)
{
    room_t *room = p->room;
    for (participant_t **pp = &room->participants; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    }
    if (p->state == PARTICIPANT_LOBBY)
        room->waiting--;
    else
        room->joined--;
    if (room->joined + room->waiting == 0)
        room->empty_since_ms = now_ms ? now_ms : 1;
    free(p);
    (void)r;
}

void rooms_kick(rooms_t *r, participant_t *p, uint64_t now_ms)
{
    room_t *room = p->room;
    snprintf(room->kicked[room->nkicked % ROOMS_MAX_KICKED], sizeof room->kicked[0], "%s",
             p->token_id);
    room->nkicked++;
    rooms_leave(r, p, now_ms);
}

participant_t *rooms_participant(room_t *room, const char *id)
{
    for (participant_t *p = room->participants; p; p = p->next)
        if (strcmp(p->id, id) == 0)
            return p;
    return NULL;
}

void rooms_close(rooms_t *r, room_t *room)
{
    for (room_t **rr = &r->rooms; *rr; rr = &(*rr)->next) {
        if (*rr == room) {
            *rr = room->next;
            break;
        }
    }
    r->rooms_per_worker[room->worker]--;
    r->nrooms--;
    free_participants(room);
    free(room);
}

int rooms_sweep(rooms_t *r, uint64_t now_ms, void (*on_close)(void *ctx, room_t *room), void *ctx)
{
    int closed = 0;
    room_t *room = r->rooms;
    while (room) {
        room_t *next = room->next;
        if (room->empty_since_ms && now_ms >= room->empty_since_ms + r->cfg.empty_grace_ms) {
            if (on_close)
                on_close(ctx, room);
            rooms_close(r, room);
            closed++;
        }
        room = next;
    }
    return closed;
}

int rooms_count(const rooms_t *r)
{
    return r->nrooms;
}

int rooms_participants(const rooms_t *r)
{
    int n = 0;
    for (const room_t *room = r->rooms; room; room = room->next)
        n += room->joined + room->waiting;
    return n;
}

const char *rooms_result_code(rooms_result_t res)
{
    static const char *codes[] = {"ok",     "lobby",    "room_locked",  "room_full",
                                  "kicked", "internal", "e2ee_mismatch"};
    return (unsigned)res < sizeof codes / sizeof codes[0] ? codes[res] : "internal";
}
