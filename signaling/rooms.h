/* The room registry: who is in which room, in which role, waiting in the lobby or admitted, and
 * the room's policy (lock, lobby, capacity, kicked tokens, end of meeting). Pure state owned by
 * the control thread: no I/O; the signaling layer turns results into protocol messages. */
#ifndef LG_ROOMS_H
#define LG_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include "signaling/auth.h"

#define ROOMS_ID_MAX     16  /* participant ids: "p" + 12 hex digits */
#define ROOMS_MAX_KICKED 256 /* kicked token ids remembered per room */
#define ROOMS_REMOTE_MAX 64

typedef enum {
    ROOMS_OK = 0,     /* joined */
    ROOMS_LOBBY,      /* waiting for a moderator */
    ROOMS_ERR_LOCKED, /* room locked and caller is not a moderator */
    ROOMS_ERR_FULL,   /* participant limit reached */
    ROOMS_ERR_KICKED, /* this token was kicked from the room */
    ROOMS_ERR_NOMEM,
    ROOMS_ERR_E2EE_MISMATCH, /* the token's e2ee claim differs from the room's */
} rooms_result_t;

typedef enum { PARTICIPANT_LOBBY = 0, PARTICIPANT_JOINED } participant_state_t;

typedef struct room room_t;

typedef struct participant {
    char id[ROOMS_ID_MAX];
    char sub[AUTH_SUB_MAX + 1];
    char name[AUTH_NAME_MAX + 1];
    char token_id[AUTH_TOKEN_ID_LEN + 1];
    char remote[ROOMS_REMOTE_MAX];
    auth_role_t role;
    participant_state_t state;
    int muted_audio, muted_video; /* self or moderator mute */
    int mixed_audio;              /* asked for one mixed Opus stream */
    void *conn;                   /* the signaling session, borrowed */
    room_t *room;
    struct participant *next; /* in room->participants, join order */
} participant_t;

struct room {
    char id[AUTH_ROOM_MAX + 1];
    int worker; /* media worker the room is pinned to */
    int locked;
    int lobby; /* participants and observers wait for a moderator */
    int e2ee;  /* end-to-end encrypted: fixed by the token that created the room, never mixed */
    participant_t *participants;
    int joined;              /* participants in PARTICIPANT_JOINED */
    int waiting;             /* participants in PARTICIPANT_LOBBY */
    uint64_t empty_since_ms; /* 0 while someone is in the room */
    char kicked[ROOMS_MAX_KICKED][AUTH_TOKEN_ID_LEN + 1];
    int nkicked; /* ring: the oldest entry is overwritten past ROOMS_MAX_KICKED */
    struct room *next;
};

typedef struct {
    int max_participants; /* per room, lobby included */
    uint64_t empty_grace_ms;
    int lobby_default; /* new rooms start with the lobby on */
    int nworkers;
} rooms_config_t;

typedef struct {
    rooms_config_t cfg;
    room_t *rooms;
    int nrooms;
    int *rooms_per_worker; /* for pinning a new room to the least loaded worker */
    uint64_t next_id;
} rooms_t;

/* Returns 0 or LG_ENOMEM. */
int rooms_init(rooms_t *r, const rooms_config_t *cfg);

/* Frees every room and participant (conn pointers are not touched). */
void rooms_free(rooms_t *r);

/* Finds a room by id, or NULL. */
room_t *rooms_find(rooms_t *r, const char *room_id);

/* Admits the holder of verified claims into claims->room, creating the room (pinned to the
 * least-loaded worker, E2EE when claims->e2ee) if needed. On ROOMS_OK or ROOMS_LOBBY *out is the
 * new participant (owned by the registry until rooms_leave). Moderators bypass the lobby and the
 * lock; the lobby holds participants and observers when room->lobby is on; a token whose e2ee
 * claim differs from an existing room's flag is refused (ROOMS_ERR_E2EE_MISMATCH, whatever the
 * role); *created tells whether the room is new. */
rooms_result_t rooms_join(rooms_t *r, const auth_claims_t *claims, const char *remote, void *conn,
                          uint64_t now_ms, participant_t **out, int *created);

/* Moves a lobby participant into the room. Returns 0, LG_ESTATE if not waiting. */
int rooms_admit(participant_t *p);

/* Removes and frees p. A room left empty starts its grace period. */
void rooms_leave(rooms_t *r, participant_t *p, uint64_t now_ms);

/* Bars p's token from the room, then removes and frees p. */
void rooms_kick(rooms_t *r, participant_t *p, uint64_t now_ms);

/* Looks a participant up by id within a room, or NULL. */
participant_t *rooms_participant(room_t *room, const char *id);

/* Closes (frees) every room that has been empty for the grace period; for each one calls
 * on_close(ctx, room) just before freeing it. Returns the number closed. */
int rooms_sweep(rooms_t *r, uint64_t now_ms, void (*on_close)(void *ctx, room_t *room), void *ctx);

/* Frees a room now (end of meeting). Its participants must have been removed first. */
void rooms_close(rooms_t *r, room_t *room);

/* Counts for /metrics. */
int rooms_count(const rooms_t *r);
int rooms_participants(const rooms_t *r);

/* "ok", "lobby", "room_locked", "room_full", "kicked", "internal", "e2ee_mismatch". */
const char *rooms_result_code(rooms_result_t res);

#endif
