/* Moderator actions: kick, forced mute, lock, lobby admit/deny, end of meeting. The dispatcher has
 * already checked that the sender is a joined moderator. */
#include "sfu/log.h"
#include "signaling/signaling_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The target of a moderator action, in the moderator's own room; replies not_found otherwise. */
static participant_t *target(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = rooms_participant(s->p->room, m->target.participant_id);
    if (!t)
        sig_error(s, &m->id, PROTO_ERR_NOT_FOUND, "no participant '%s' in room '%s'",
                  m->target.participant_id, s->p->room->id);
    return t;
}

void sig_on_kick(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = target(s, m);
    if (!t)
        return;
    if (t == s->p) {
        sig_error(s, &m->id, PROTO_ERR_BAD_REQUEST, "a moderator cannot kick themselves");
        return;
    }
    signaling_t *sig = s->sig;
    room_t *room = t->room;
    sig_session_t *ts = t->conn;
    const char *reason = m->target.reason ? m->target.reason : "removed by a moderator";
    char id[ROOMS_ID_MAX];
    snprintf(id, sizeof id, "%s", t->id);
    int was_waiting = t->state == PARTICIPANT_LOBBY;
    sig_audit(sig, AUDIT_EV_KICK,
              json_pack("{s:s,s:s,s:s,s:s,s:s}", "room", room->id, "participant", t->id, "identity",
                        t->sub, "by", s->p->sub, "reason", reason));
    sig_send(ts, proto_build_kicked(reason));
    sig_release_media(ts);
    ts->p = NULL;
    rooms_kick(&sig->rooms, t, sig_now_ms(sig));
    sig_close(ts, 4001, "kicked");
    sig_send(s, proto_build_ok(&m->id));
    if (was_waiting) {
        sig_lobby_update(room);
    } else {
        sig_broadcast(room, NULL, proto_build_participant_left(id, "kicked"));
        sig_room_tracks_changed(room);
    }
}

void sig_on_mute_participant(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = target(s, m);
    if (!t)
        return;
    if (m->target.kind == PROTO_KIND_AUDIO)
        t->muted_audio = 1;
    else if (m->target.kind == PROTO_KIND_VIDEO)
        t->muted_video = 1;
    sig_mute_tracks(t->conn, m->target.kind, true);
    sig_audit(s->sig, AUDIT_EV_MUTE,
              json_pack("{s:s,s:s,s:s,s:s}", "room", t->room->id, "participant", t->id, "kind",
                        proto_kind_name(m->target.kind), "by", s->p->sub));
    sig_send(s, proto_build_ok(&m->id));
    sig_broadcast(t->room, NULL, proto_build_mute_changed(t->id, m->target.kind, 1, s->p->id));
}

void sig_on_lock(sig_session_t *s, const proto_msg_t *m)
{
    room_t *room = s->p->room;
    room->locked = m->locked;
    sig_audit(s->sig, m->locked ? AUDIT_EV_LOCK : AUDIT_EV_UNLOCK,
              json_pack("{s:s,s:s}", "room", room->id, "by", s->p->sub));
    sig_send(s, proto_build_ok(&m->id));
    sig_broadcast(room, NULL, proto_build_room_locked(m->locked, s->p->id));
}

void sig_on_set_lobby(sig_session_t *s, const proto_msg_t *m)
{
    room_t *room = s->p->room;
    room->lobby = m->lobby_enabled;
    sig_audit(s->sig, m->lobby_enabled ? "lobby_on" : "lobby_off",
              json_pack("{s:s,s:s}", "room", room->id, "by", s->p->sub));
    sig_send(s, proto_build_ok(&m->id));
    sig_broadcast(room, NULL, proto_build_room_lobby(m->lobby_enabled, s->p->id));
}

static participant_t *lobby_target(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = target(s, m);
    if (t && t->state != PARTICIPANT_LOBBY) {
        sig_error(s, &m->id, PROTO_ERR_BAD_REQUEST, "participant '%s' is not in the lobby", t->id);
        return NULL;
    }
    return t;
}

void sig_on_admit(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = lobby_target(s, m);
    if (!t)
        return;
    rooms_admit(t);
    sig_audit(s->sig, AUDIT_EV_LOBBY_ADMIT,
              json_pack("{s:s,s:s,s:s,s:s}", "room", t->room->id, "participant", t->id, "identity",
                        t->sub, "by", s->p->sub));
    sig_send(s, proto_build_ok(&m->id));
    sig_send_joined(t->conn);
    sig_lobby_update(t->room);
}

void sig_on_deny(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *t = lobby_target(s, m);
    if (!t)
        return;
    sig_session_t *ts = t->conn;
    room_t *room = t->room;
    sig_audit(s->sig, AUDIT_EV_LOBBY_DENY,
              json_pack("{s:s,s:s,s:s,s:s}", "room", room->id, "participant", t->id, "identity",
                        t->sub, "by", s->p->sub));
    sig_send(ts, proto_build_denied());
    ts->p = NULL;
    rooms_leave(&s->sig->rooms, t, sig_now_ms(s->sig));
    sig_close(ts, 4003, "denied");
    sig_send(s, proto_build_ok(&m->id));
    sig_lobby_update(room);
}

void sig_on_end_meeting(sig_session_t *s, const proto_msg_t *m)
{
    signaling_t *sig = s->sig;
    room_t *room = s->p->room;
    char by[AUTH_SUB_MAX + 1], by_id[ROOMS_ID_MAX];
    snprintf(by, sizeof by, "%s", s->p->sub);
    snprintf(by_id, sizeof by_id, "%s", s->p->id);
    sig_send(s, proto_build_ok(&m->id));
    sig_audit(sig, AUDIT_EV_MEETING_ENDED, json_pack("{s:s,s:s}", "room", room->id, "by", by));
    while (room->participants) {
        participant_t *p = room->participants;
        sig_session_t *ps = p->conn;
        sig_send(ps, proto_build_meeting_ended(by_id));
        sig_release_media(ps);
        ps->p = NULL;
        rooms_leave(&sig->rooms, p, sig_now_ms(sig));
        sig_close(ps, 1000, "meeting ended");
    }
    sig_audit(sig, AUDIT_EV_ROOM_CLOSED,
              json_pack("{s:s,s:s}", "room", room->id, "reason", "meeting_ended"));
    rooms_close(&sig->rooms, room);
}
