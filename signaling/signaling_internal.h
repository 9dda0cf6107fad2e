/* Shared between the signaling handler files; not for other modules. */
#ifndef LG_SIGNALING_INTERNAL_H
#define LG_SIGNALING_INTERNAL_H

#include "signaling/mlines.h"
#include "signaling/negotiate.h"
#include "signaling/protocol.h"
#include "signaling/signaling.h"

#define SIG_MAX_VIOLATIONS 10 /* error replies before the connection is closed (1008) */
#define SIG_RATE_WINDOW_MS 1000
#define SIG_RATE_MAX       50 /* messages per window */

#define SIG_MAX_TRACKS 8 /* published per participant */

/* A track this participant publishes. */
typedef struct {
    uint64_t producer_id;
    char track_id[64];
    negotiate_track_t neg;
} sig_track_t;

/* The track one m-line of this participant's subscribe connection carries (or last carried); the
 * m-line's state, kind and mid are in sig_session_t.lines at the same index. */
typedef struct {
    bool consuming; /* a consumer exists on the worker */
    bool announced; /* track_added sent */
    uint64_t producer_id, consumer_id;
    char publisher[ROOMS_ID_MAX];
    char track_id[64];
    negotiate_codec_t codec; /* video: rtx_pt kept when the publisher has RTX (RFC 4588) */
    uint32_t ssrc;
    uint32_t rtx_ssrc; /* non-zero exactly when codec.rtx_pt is */
} sig_slot_t;

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
    sig_track_t tracks[SIG_MAX_TRACKS];
    int ntracks;
    negotiate_local_t publish_local; /* kept for renegotiations of the publish connection */
    char publish_remote_ufrag[NEGOTIATE_ICE_MAX];
    /* subscribe connection (the relay offers) */
    negotiate_local_t sub_local;
    bool sub_local_ready;
    uint64_t sub_transport;
    mlines_t lines; /* its m-lines: which carry a track, their mids (cap 0: not set up yet) */
    sig_slot_t slots[MLINES_MAX];
    mlines_t offered_lines; /* lines and slots as the pending offer showed them */
    sig_slot_t offered[MLINES_MAX];
    negotiate_local_t offered_local;
    int64_t offer_seq;
    bool offer_pending, offer_dirty;
    bool auto_mixed;          /* mixed because its estimate fell, not because it asked */
    bool e2ee_automix_logged; /* said once that an E2EE room keeps it off the mix */
    bool lines_full_warned;   /* a track found no free m-line (logged once until one frees) */
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
/* Fresh ICE credentials and the candidates of a worker, for an SDP the relay writes. */
int sig_local_params(const signaling_t *sig, int worker, negotiate_local_t *l);
/* Asks the worker to create a transport for s with these credentials. */
void sig_post_transport(sig_session_t *s, const negotiate_local_t *l, const char *remote_ufrag,
                        const char *remote_fp, uint64_t id, int worker);
/* Forgets s's subscribe m-lines (the participant left; a new connection starts at mid 0). */
void sig_subscribe_reset(sig_session_t *s);
/* Offers s's subscribe connection again (now, or after the pending answer); fresh ICE
 * credentials when `restart` (the transport closed). */
void sig_resubscribe(sig_session_t *s, bool restart);
/* Switches s between per-speaker audio and one mixed stream (renegotiates, tells it). */
void sig_set_mixed_audio(sig_session_t *s, bool mixed);
/* Brings every joined participant's subscribe connection in line with the room's tracks. */
void sig_room_tracks_changed(room_t *room);
/* Tells the worker that s's tracks of `kind` are muted or not. */
void sig_mute_tracks(sig_session_t *s, proto_kind_t kind, bool muted);

/* Sends `joined` with the room's state to s (on join, or on admission from the lobby). */
void sig_send_joined(sig_session_t *s);

#endif
