/* Shared between the signaling handler files; not for other modules. */
#ifndef LG_SIGNALING_INTERNAL_H
#define LG_SIGNALING_INTERNAL_H

#include "signaling/protocol.h"
#include "signaling/signaling.h"

#define SIG_MAX_VIOLATIONS 10 /* error replies before the connection is closed (1008) */
#define SIG_RATE_WINDOW_MS 1000
#define SIG_RATE_MAX       50 /* messages per window */

struct sig_session {
    signaling_t *sig;
    ws_conn_t *conn;    /* NULL once the server closed it */
    participant_t *p;   /* NULL before join and after leave */
    proto_id_t join_id; /* the pending join's id, answered on lobby admission */
    char remote[64];
    int violations;
    uint64_t window_start_ms;
    int window_count;
    int closing;
    uint64_t publish_transport; /* 0: not publishing */
    int publish_worker;
    struct sig_session *next;
};

typedef void (*sig_handler_fn)(sig_session_t *s, const proto_msg_t *m);

/* Sends a built message (takes ownership of text; NULL means out of memory and is dropped). */
void sig_send(sig_session_t *s, char *text);

/* Sends an error reply and counts a violation; too many close the connection. */
void sig_error(sig_session_t *s, const proto_id_t *id, proto_code_t code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Sends text (copied) to every joined participant of room except `except`; frees text. */
void sig_broadcast(room_t *room, const participant_t *except, char *text);

/* Sends the current lobby queue to the room's joined moderators. */
void sig_lobby_update(room_t *room);

/* Appends an audit record with the given fields (a json object, stolen). */
void sig_audit(signaling_t *sig, const char *event, json_t *fields);

/* Removes s's participant from its room and tells the others; reason as in participant_left. */
void sig_leave(sig_session_t *s, const char *reason);

/* Closes the session's connection after what is queued (the participant must be gone). */
void sig_close(sig_session_t *s, int code, const char *reason);

/* Fills a proto_participant_t view of p (strings borrowed). */
void sig_participant_view(const participant_t *p, proto_participant_t *out);

uint64_t sig_now_ms(const signaling_t *sig);

/* Moderation handlers (moderation.c). */
void sig_on_kick(sig_session_t *s, const proto_msg_t *m);
void sig_on_mute_participant(sig_session_t *s, const proto_msg_t *m);
void sig_on_lock(sig_session_t *s, const proto_msg_t *m);
void sig_on_set_lobby(sig_session_t *s, const proto_msg_t *m);
void sig_on_admit(sig_session_t *s, const proto_msg_t *m);
void sig_on_deny(sig_session_t *s, const proto_msg_t *m);
void sig_on_end_meeting(sig_session_t *s, const proto_msg_t *m);

/* Media negotiation (media.c). */
void sig_on_publish(sig_session_t *s, const proto_msg_t *m);
void sig_on_subscribe_answer(sig_session_t *s, const proto_msg_t *m);
/* Asks the worker to close the session's transports (leave, kick, disconnect). */
void sig_release_media(sig_session_t *s);

/* Sends `joined` with the room's state to s (on join, or on admission from the lobby). */
void sig_send_joined(sig_session_t *s);

#endif
