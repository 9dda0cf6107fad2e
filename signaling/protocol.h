/* The signaling protocol codec (version 1): parses the browser's JSON messages on /ws into tagged
 * structs and builds the relay's replies and pushes. docs/PROTOCOL.md is the wire reference. */
#ifndef LG_PROTOCOL_H
#define LG_PROTOCOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Contract
 * - Purity: no I/O, no clock, no global state; jansson allocates while parsing and building.
 * - Ownership: a parsed proto_msg_t owns the JSON tree its strings point into. Every `const char *`
 *   in it (token, sdp, participant_id, reason) is borrowed from that tree: valid, NUL-terminated
 *   UTF-8 without NUL bytes inside, until proto_msg_free(). Moving the struct (assignment) moves
 *   the ownership: free only one of the copies. The request id is a value (proto_id_t) that may be
 *   copied freely and outlive the message, so a reply can be sent later.
 *   Builders return a newly allocated NUL-terminated JSON text (compact, UTF-8, "type" first) that
 *   the caller frees with free(), or NULL when out of memory or when an argument is invalid: a
 *   required string is NULL or a string is not valid UTF-8. Builders copy their arguments.
 * - Threading: no shared state; any thread may call anything (in practice the control thread).
 * - Errors: proto_parse() returns 0 or a negative LG_E* code (sfu/lg_error.h) and describes the
 *   refusal in a proto_error_t: the code to send back, a sentence naming the cause (the field, the
 *   unknown type) and the request id when one could be read, so proto_build_error_from() answers
 *   exactly what the client asked:
 *     LG_EINVAL       text or out is NULL (code internal)
 *     LG_ERANGE       longer than PROTO_MAX_MESSAGE bytes (too_large)
 *     LG_EMALFORMED   not JSON (bad_json); JSON but not an object, id or a field missing, of the
 *                     wrong type or out of range (bad_request); unknown "type" (unknown_type)
 *     LG_EUNSUPPORTED join with a "protocol" other than PROTO_VERSION (unsupported_protocol)
 *     LG_ENOMEM       out of memory (internal)
 *   Text taken from the input and quoted in a message is shortened; control characters and bytes
 *   that are not UTF-8 become '?', so a message is always safe to log and to send.
 * - Leniency: unknown members of a message are ignored (a newer client may send more); duplicate
 *   keys, trailing bytes after the object and "\u0000" in strings are bad_json.
 */

#define PROTO_VERSION            1
#define PROTO_MAX_MESSAGE        65536 /* bytes of one client message */
#define PROTO_ID_STR_MAX         64    /* characters (code points) of a string id */
#define PROTO_ID_STR_BYTES       256   /* bytes a PROTO_ID_STR_MAX-character UTF-8 id may take */
#define PROTO_ID_INT_MAX         9007199254740992LL /* 2^53: integer ids 0..2^53 */
#define PROTO_PARTICIPANT_ID_MAX 64                 /* bytes of a participant_id (at least 1) */
#define PROTO_REASON_MAX         256                /* bytes of a kick reason */
#define PROTO_MAX_HEIGHT         8192               /* set_preference max_height: 0..8192 */
#define PROTO_SEQ_MAX            PROTO_ID_INT_MAX   /* subscribe_answer seq: 0..2^53 */
#define PROTO_MESSAGE_LEN        256                /* bytes of proto_error_t.message, with NUL */

/* X(NAME, "wire name"): client -> server message types. Values are contiguous from 0, so a
 * server-side handler table can be indexed by proto_type_t with PROTO_TYPE_COUNT entries. */
#define PROTO_TYPE_MAP(X)                                                                          \
    X(JOIN, "join")                                                                                \
    X(PUBLISH, "publish")                                                                          \
    X(SUBSCRIBE_ANSWER, "subscribe_answer")                                                        \
    X(MUTE, "mute")                                                                                \
    X(KICK, "kick")                                                                                \
    X(MUTE_PARTICIPANT, "mute_participant")                                                        \
    X(LOCK, "lock")                                                                                \
    X(ADMIT, "admit")                                                                              \
    X(DENY, "deny")                                                                                \
    X(END_MEETING, "end_meeting")                                                                  \
    X(SET_PREFERENCE, "set_preference")                                                            \
    X(PING, "ping")                                                                                \
    X(LEAVE, "leave")                                                                              \
    X(SET_LOBBY, "set_lobby")

typedef enum {
#define PROTO_TYPE_ENUM(name, wire) PROTO_##name,
    PROTO_TYPE_MAP(PROTO_TYPE_ENUM)
#undef PROTO_TYPE_ENUM
        PROTO_TYPE_COUNT
} proto_type_t;

/* X(NAME, "wire code", "default message"): the "code" of an error reply. PROTO_ERR_NONE (0) is
 * not a wire code: it marks "no error" in a proto_error_t. */
#define PROTO_CODE_MAP(X)                                                                          \
    X(BAD_JSON, "bad_json", "the message is not valid JSON")                                       \
    X(TOO_LARGE, "too_large", "the message is larger than 65536 bytes")                            \
    X(UNKNOWN_TYPE, "unknown_type", "unknown message type")                                        \
    X(BAD_REQUEST, "bad_request", "a field is missing or has the wrong type")                      \
    X(UNSUPPORTED_PROTOCOL, "unsupported_protocol", "this server speaks protocol 1")               \
    X(NOT_JOINED, "not_joined", "send join first")                                                 \
    X(ALREADY_JOINED, "already_joined", "this connection has already joined")                      \
    X(BAD_TOKEN, "bad_token", "the join token is not valid")                                       \
    X(TOKEN_EXPIRED, "token_expired", "the join token has expired")                                \
    X(TOKEN_NOT_YET_VALID, "token_not_yet_valid", "the join token is not valid yet")               \
    X(WRONG_AUDIENCE, "wrong_audience", "the join token is for another server")                    \
    X(WRONG_ROOM, "wrong_room", "the join token is for another room")                              \
    X(FORBIDDEN, "forbidden", "your role does not allow this")                                     \
    X(ROOM_LOCKED, "room_locked", "the room is locked")                                            \
    X(ROOM_FULL, "room_full", "the room is full")                                                  \
    X(KICKED, "kicked", "you were removed from this room")                                         \
    X(DENIED, "denied", "a moderator denied entry")                                                \
    X(NOT_FOUND, "not_found", "no such participant")                                               \
    X(BAD_SDP, "bad_sdp", "the SDP could not be used")                                             \
    X(E2EE_ROOM, "e2ee_room",                                                                      \
      "this room is end-to-end encrypted: the relay cannot decode its audio, so mixed audio is "   \
      "not available")                                                                             \
    X(E2EE_MISMATCH, "e2ee_mismatch",                                                              \
      "the join token's end-to-end encryption setting differs from the room's")                    \
    X(RATE_LIMITED, "rate_limited", "too many messages; slow down")                                \
    X(INTERNAL, "internal", "internal server error")

typedef enum {
    PROTO_ERR_NONE = 0,
#define PROTO_CODE_ENUM(name, wire, msg) PROTO_ERR_##name,
    PROTO_CODE_MAP(PROTO_CODE_ENUM)
#undef PROTO_CODE_ENUM
        PROTO_CODE_COUNT
} proto_code_t;

/* Media kinds: of a mute, of a forced mute, of a track. */
typedef enum {
    PROTO_KIND_AUDIO = 0,
    PROTO_KIND_VIDEO,
    PROTO_KIND_SCREEN,
    PROTO_KIND_COUNT
} proto_kind_t;

/* A request id as the client sent it; replies echo it with the same JSON type. */
typedef enum { PROTO_ID_NONE = 0, PROTO_ID_STRING, PROTO_ID_INT } proto_id_kind_t;

typedef struct {
    proto_id_kind_t kind;
    int64_t num;                      /* PROTO_ID_INT: 0..PROTO_ID_INT_MAX */
    size_t len;                       /* PROTO_ID_STRING: bytes in str */
    char str[PROTO_ID_STR_BYTES + 1]; /* PROTO_ID_STRING: UTF-8, NUL-terminated */
} proto_id_t;

/* Why a message was refused. Caller-owned; nothing in it needs freeing. */
typedef struct {
    proto_code_t code;               /* PROTO_ERR_NONE after a successful parse */
    proto_id_t id;                   /* the request's id when it could be read, else kind NONE */
    char message[PROTO_MESSAGE_LEN]; /* e.g. "field 'sdp' must be a string" */
} proto_error_t;

/* --- parsed client messages (strings borrowed from proto_msg_t, see Contract) --------------- */

typedef struct {
    const char *token; /* non-empty; verify with signaling/auth */
    size_t token_len;
    bool mixed_audio;   /* options.mixed_audio, false when absent */
    bool low_bandwidth; /* options.low_bandwidth, false when absent */
} proto_join_t;

typedef struct {
    const char *sdp; /* non-empty SDP text (publish: the browser's offer) */
    size_t sdp_len;
    int64_t seq; /* subscribe_answer only: the seq of the subscribe_offer answered */
} proto_sdp_t;

typedef struct {
    proto_kind_t kind;
    bool muted; /* mute only; mute_participant always forces muted */
} proto_mute_t;

typedef struct {
    const char *participant_id; /* 1..PROTO_PARTICIPANT_ID_MAX bytes */
    const char *reason;         /* kick only; NULL when absent */
    proto_kind_t kind;          /* mute_participant only */
} proto_target_t;

typedef struct {
    bool has_max_height;
    int max_height; /* 0..PROTO_MAX_HEIGHT pixels; 0 asks for no video at all */
    bool has_low_bandwidth;
    bool low_bandwidth;
} proto_preference_t;

/* One client message. Which union member is valid depends on type:
 *   JOIN -> join; PUBLISH, SUBSCRIBE_ANSWER -> sdp; MUTE -> mute;
 *   KICK, MUTE_PARTICIPANT, ADMIT, DENY -> target; LOCK -> locked; SET_LOBBY -> lobby_enabled;
 *   SET_PREFERENCE -> preference; END_MEETING, PING, LEAVE -> none. */
typedef struct {
    proto_type_t type;
    proto_id_t id; /* kind NONE when the request had no id */
    union {
        proto_join_t join;
        proto_sdp_t sdp;
        proto_mute_t mute;
        proto_target_t target;
        bool locked;        /* LOCK */
        bool lobby_enabled; /* SET_LOBBY */
        proto_preference_t preference;
    };
    json_t *root; /* private: owns the borrowed strings */
} proto_msg_t;

/* --- parsing ---------------------------------------------------------------------------------- */

/* Parses one client message of len bytes (no NUL needed). On success fills *out, sets err->code
 * to PROTO_ERR_NONE and returns 0; release *out with proto_msg_free(). On failure returns a
 * negative LG_E* code (see Contract), leaves *out empty (proto_msg_free() is still safe) and fills
 * *err (err may be NULL). */
int proto_parse(const char *text, size_t len, proto_msg_t *out, proto_error_t *err);

/* Releases what proto_parse() kept and empties *msg; safe on an empty or already freed msg. */
void proto_msg_free(proto_msg_t *msg);

/* --- names ------------------------------------------------------------------------------------ */

/* Wire name of a type ("subscribe_answer"), or "?" when out of range. */
const char *proto_type_name(proto_type_t type);
/* Reverse of proto_type_name(): 0, or LG_ENOTFOUND for a name that is not a client type. */
int proto_type_from_name(const char *name, proto_type_t *out);

/* Wire code ("bad_request"), "none" for PROTO_ERR_NONE, "?" when out of range. */
const char *proto_code_name(proto_code_t code);
/* A default English sentence for the code ("the room is locked"); "" for NONE, "?" unknown. */
const char *proto_code_message(proto_code_t code);
/* Reverse of proto_code_name() for wire codes: 0, or LG_ENOTFOUND. */
int proto_code_from_name(const char *name, proto_code_t *out);

/* "audio", "video", "screen" (or "?"); the reverse returns 0 or LG_ENOTFOUND. */
const char *proto_kind_name(proto_kind_t kind);
int proto_kind_from_name(const char *name, proto_kind_t *out);

/* --- building server messages ------------------------------------------------------------------
 * Replies take the request's id (NULL or kind NONE: no "id" member); pushes have none. */

typedef struct {
    const char *track_id;
    proto_kind_t kind;
    const char *mid; /* the m-line's mid in the subscriber's connection */
} proto_track_t;

typedef struct {
    const char *participant_id;
    const char *name;
    const char *role; /* "moderator", "participant" or "observer" (auth_role_name()) */
    bool audio_muted, video_muted;
    const proto_track_t *tracks;
    size_t ntracks;
} proto_participant_t;

typedef struct {
    const char *id;
    bool locked;
    bool lobby_enabled;
    const proto_participant_t *participants; /* the others already in the room */
    size_t nparticipants;
    bool e2ee; /* end-to-end encrypted: written as room.e2ee (after lobby_enabled) */
} proto_room_t;

typedef struct {
    const char *participant_id;
    const char *name;
} proto_waiting_t;

/* {"type":"hello","protocol":1,"server":"legation X.Y.Z"}: sent when the WebSocket opens. */
char *proto_build_hello(void);

/* Reply to join: the participant's id, role and name, and the room as it is now. */
char *proto_build_joined(const proto_id_t *id, const char *participant_id, const char *role,
                         const char *name, const proto_room_t *room);

/* Interim reply to join when the room has a lobby: wait for a moderator. */
char *proto_build_lobby_waiting(const proto_id_t *id, const char *message);

/* Push to moderators: everyone now waiting in the lobby (n may be 0: the lobby emptied). */
char *proto_build_lobby_update(const proto_waiting_t *waiting, size_t n);

char *proto_build_participant_joined(const proto_participant_t *p);

/* reason: "left", "disconnected", "kicked", "timeout" or "meeting_ended". */
char *proto_build_participant_left(const char *participant_id, const char *reason);

char *proto_build_track_added(const char *participant_id, const proto_track_t *track);
char *proto_build_track_removed(const char *participant_id, const char *track_id);

/* by: the moderator's participant_id for a forced mute; NULL for a self-mute (no "by"). */
char *proto_build_mute_changed(const char *participant_id, proto_kind_t kind, bool muted,
                               const char *by);

char *proto_build_room_locked(bool locked, const char *by);
/* A moderator switched the room's lobby on or off. */
char *proto_build_room_lobby(bool enabled, const char *by);
char *proto_build_kicked(const char *reason);
char *proto_build_denied(void);
char *proto_build_meeting_ended(const char *by);

/* Reply to publish: the relay's SDP answer. */
char *proto_build_publish_answer(const proto_id_t *id, const char *sdp);

/* Push: a (re)offer for the subscribe connection; seq grows with every offer (0..2^53). */
char *proto_build_subscribe_offer(const char *sdp, int64_t seq);

char *proto_build_active_speaker(const char *participant_id);

/* Push: how your audio arrives now: mixed (one Opus stream from the relay's mixer, for low
 * bandwidth) or per speaker. */
char *proto_build_audio_mode(bool mixed);

/* Push: the relay's view of one of your media transports. transport "publish" or "subscribe";
 * state "connected" (detail: the SRTP profile) or "closed" (detail: why, e.g.
 * "consent_expired", "fingerprint_mismatch"). */
char *proto_build_media_state(const char *transport, const char *state, const char *detail);
char *proto_build_pong(const proto_id_t *id);

/* Generic success reply to a request that has nothing else to return. */
char *proto_build_ok(const proto_id_t *id);

/* Error reply (id may be NULL): {"type":"error","id":..,"code":"..","message":".."}. fmt NULL
 * uses proto_code_message(code). The message is cut to PROTO_MESSAGE_LEN - 1 bytes at a
 * character boundary; bytes that are not UTF-8 and control characters become '?'. */
char *proto_build_error(const proto_id_t *id, proto_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The error reply for a refused parse: err's code, message and id. */
char *proto_build_error_from(const proto_error_t *err);

#endif
