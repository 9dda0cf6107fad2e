/* WebSocket sessions and the join/leave path: every message is parsed by the protocol codec, then
 * dispatched through a table that states who may send it. */
#include "signaling/signaling.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "signaling/secret.h"
#include "signaling/signaling_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SWEEP_INTERVAL_MS 1000

uint64_t sig_now_ms(const signaling_t *sig)
{
    return uv_now(sig->loop);
}

void sig_send(sig_session_t *s, char *text)
{
    if (!text)
        return;
    if (s->conn && !s->closing && ws_conn_send(s->conn, text, strlen(text)) == LG_EFULL) {
        /* A client that does not read its socket is not allowed to grow our memory. */
        LG_WARN("signaling: %s stopped reading; closing", s->remote);
        sig_close(s, 1008, "not reading");
    }
    free(text);
}

void sig_close(sig_session_t *s, int code, const char *reason)
{
    if (s->conn && !s->closing)
        ws_conn_close(s->conn, code, reason);
    s->closing = 1;
}

void sig_error(sig_session_t *s, const proto_id_t *id, proto_code_t code, const char *fmt, ...)
{
    char msg[PROTO_MESSAGE_LEN];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    sig_send(s, proto_build_error(id, code, "%s", msg));
    s->sig->stats.protocol_errors++;
    if (++s->violations >= SIG_MAX_VIOLATIONS) {
        s->sig->stats.sessions_closed_for_abuse++;
        if (s->p)
            sig_leave(s, "disconnected");
        sig_close(s, 1008, "too many bad messages");
    }
}

void sig_broadcast(room_t *room, const participant_t *except, char *text)
{
    if (!text)
        return;
    for (participant_t *p = room->participants; p; p = p->next)
        if (p != except && p->state == PARTICIPANT_JOINED && p->conn)
            sig_send(p->conn, strdup(text));
    free(text);
}

void sig_lobby_update(room_t *room)
{
    proto_waiting_t w[64];
    size_t n = 0;
    for (participant_t *p = room->participants; p && n < 64; p = p->next)
        if (p->state == PARTICIPANT_LOBBY)
            w[n++] = (proto_waiting_t){p->id, p->name};
    char *text = proto_build_lobby_update(w, n);
    if (!text)
        return;
    for (participant_t *p = room->participants; p; p = p->next)
        if (p->state == PARTICIPANT_JOINED && p->role == AUTH_ROLE_MODERATOR && p->conn)
            sig_send(p->conn, strdup(text));
    free(text);
}

void sig_audit(signaling_t *sig, const char *event, json_t *fields)
{
    char err[256];
    if (audit_append(&sig->audit, event, fields, err, sizeof err) != 0)
        LG_ERROR("audit: %s", err);
    json_decref(fields);
}

void sig_participant_view(const participant_t *p, proto_participant_t *out)
{
    memset(out, 0, sizeof *out);
    out->participant_id = p->id;
    out->name = p->name;
    out->role = auth_role_name(p->role);
    out->audio_muted = p->muted_audio;
    out->video_muted = p->muted_video;
}

void sig_send_joined(sig_session_t *s)
{
    participant_t *me = s->p;
    room_t *room = me->room;
    proto_participant_t *others = calloc((size_t)room->joined + 1, sizeof *others);
    size_t n = 0;
    for (participant_t *p = room->participants; others && p; p = p->next)
        if (p != me && p->state == PARTICIPANT_JOINED)
            sig_participant_view(p, &others[n++]);
    proto_room_t view = {room->id, room->locked, room->lobby, others, n, room->e2ee};
    sig_send(s, proto_build_joined(&s->join_id, me->id, auth_role_name(me->role), me->name, &view));
    free(others);
    proto_participant_t mine;
    sig_participant_view(me, &mine);
    sig_broadcast(room, me, proto_build_participant_joined(&mine));
    if (me->mixed_audio)
        sig_send(s, proto_build_audio_mode(true));
    sig_room_tracks_changed(room); /* offers the newcomer what the others publish */
}

void sig_leave(sig_session_t *s, const char *reason)
{
    participant_t *p = s->p;
    if (!p)
        return;
    signaling_t *sig = s->sig;
    room_t *room = p->room;
    int was_waiting = p->state == PARTICIPANT_LOBBY;
    sig_audit(sig, AUDIT_EV_LEAVE,
              json_pack("{s:s,s:s,s:s,s:s}", "room", room->id, "participant", p->id, "identity",
                        p->sub, "reason", reason));
    char id[ROOMS_ID_MAX];
    snprintf(id, sizeof id, "%s", p->id);
    sig_release_media(s);
    s->p = NULL;
    rooms_leave(&sig->rooms, p, sig_now_ms(sig));
    if (was_waiting) {
        sig_lobby_update(room);
    } else {
        sig_broadcast(room, NULL, proto_build_participant_left(id, reason));
        sig_room_tracks_changed(room);
    }
}

static proto_code_t token_error_code(int rc)
{
    switch (rc) {
    case LG_EEXPIRED:
        return PROTO_ERR_TOKEN_EXPIRED;
    case LG_ENOTYET:
        return PROTO_ERR_TOKEN_NOT_YET_VALID;
    case LG_EAUDIENCE:
        return PROTO_ERR_WRONG_AUDIENCE;
    default:
        return PROTO_ERR_BAD_TOKEN;
    }
}

static proto_code_t rooms_error_code(rooms_result_t res)
{
    switch (res) {
    case ROOMS_ERR_LOCKED:
        return PROTO_ERR_ROOM_LOCKED;
    case ROOMS_ERR_FULL:
        return PROTO_ERR_ROOM_FULL;
    case ROOMS_ERR_KICKED:
        return PROTO_ERR_KICKED;
    case ROOMS_ERR_E2EE_MISMATCH:
        return PROTO_ERR_E2EE_MISMATCH;
    default:
        return PROTO_ERR_INTERNAL;
    }
}

static void join_refused(sig_session_t *s, const proto_msg_t *m, proto_code_t code,
                         const char *room, const char *why)
{
    s->sig->stats.join_refused++;
    sig_audit(s->sig, "join_refused",
              json_pack("{s:s,s:s,s:s,s:s}", "room", room, "remote", s->remote, "code",
                        proto_code_name(code), "reason", why));
    sig_error(s, &m->id, code, "%s", why);
}

/* Why a token and a room disagree on end-to-end encryption, for the person holding the token. */
static void e2ee_mismatch_text(const room_t *room, const auth_claims_t *claims, char *why,
                               size_t len)
{
    if (room && room->e2ee)
        snprintf(why, len,
                 "room '%s' is end-to-end encrypted, but this join token is not marked e2ee: ask "
                 "the organiser for an E2EE join link",
                 room->id);
    else
        snprintf(why, len,
                 "this join token is marked e2ee, but room '%s' is already open without "
                 "end-to-end encryption: ask the organiser for a new link",
                 claims->room);
}

static void on_join(sig_session_t *s, const proto_msg_t *m)
{
    signaling_t *sig = s->sig;
    if (s->p) {
        sig_error(s, &m->id, PROTO_ERR_ALREADY_JOINED, "this connection already joined room '%s'",
                  s->p->room->id);
        return;
    }
    auth_claims_t claims;
    char why[AUTH_ERR_LEN];
    int rc = auth_verify(&sig->verifier, m->join.token, m->join.token_len, (int64_t)time(NULL),
                         &claims, why, sizeof why);
    if (rc != 0) {
        join_refused(s, m, token_error_code(rc), "", why);
        return;
    }
    if (claims.e2ee && (m->join.mixed_audio || m->join.low_bandwidth)) {
        /* The room is E2EE (or the join is refused as a mismatch anyway): nothing to mix. */
        join_refused(s, m, PROTO_ERR_E2EE_ROOM, claims.room,
                     proto_code_message(PROTO_ERR_E2EE_ROOM));
        return;
    }
    participant_t *p;
    int created;
    rooms_result_t res =
        rooms_join(&sig->rooms, &claims, s->remote, s, sig_now_ms(sig), &p, &created);
    if (res == ROOMS_ERR_E2EE_MISMATCH) {
        e2ee_mismatch_text(rooms_find(&sig->rooms, claims.room), &claims, why, sizeof why);
        join_refused(s, m, PROTO_ERR_E2EE_MISMATCH, claims.room, why);
        return;
    }
    if (res != ROOMS_OK && res != ROOMS_LOBBY) {
        snprintf(why, sizeof why, "%s (room '%s')", proto_code_message(rooms_error_code(res)),
                 claims.room);
        join_refused(s, m, rooms_error_code(res), claims.room, why);
        return;
    }
    s->p = p;
    s->join_id = m->id;
    p->mixed_audio = m->join.mixed_audio || m->join.low_bandwidth;
    sig->stats.joins++;
    if (created)
        sig_audit(sig, AUDIT_EV_ROOM_CREATED,
                  json_pack("{s:s,s:i,s:b}", "room", claims.room, "worker", p->room->worker, "e2ee",
                            p->room->e2ee));
    sig_audit(sig, res == ROOMS_LOBBY ? AUDIT_EV_LOBBY_WAIT : AUDIT_EV_JOIN,
              json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "room", claims.room, "participant", p->id,
                        "identity", claims.sub, "name", claims.name, "role",
                        auth_role_name(claims.role), "remote", s->remote, "token",
                        claims.token_id));
    if (res == ROOMS_LOBBY) {
        sig_send(s, proto_build_lobby_waiting(&m->id, "waiting for a moderator to admit you"));
        sig_lobby_update(p->room);
        return;
    }
    sig_send_joined(s);
    if (p->role == AUTH_ROLE_MODERATOR && p->room->waiting > 0)
        sig_lobby_update(p->room);
}

static void on_leave(sig_session_t *s, const proto_msg_t *m)
{
    sig_send(s, proto_build_ok(&m->id));
    sig_leave(s, "left");
    sig_close(s, 1000, "left");
}

static void on_ping(sig_session_t *s, const proto_msg_t *m)
{
    sig_send(s, proto_build_pong(&m->id));
}

static void on_mute(sig_session_t *s, const proto_msg_t *m)
{
    participant_t *p = s->p;
    if (m->mute.kind == PROTO_KIND_AUDIO)
        p->muted_audio = m->mute.muted;
    else if (m->mute.kind == PROTO_KIND_VIDEO)
        p->muted_video = m->mute.muted;
    sig_mute_tracks(s, m->mute.kind, m->mute.muted);
    sig_send(s, proto_build_ok(&m->id));
    sig_broadcast(p->room, NULL,
                  proto_build_mute_changed(p->id, m->mute.kind, m->mute.muted, NULL));
}

static void on_set_preference(sig_session_t *s, const proto_msg_t *m)
{
    if (s->p->room->e2ee && m->preference.has_low_bandwidth && m->preference.low_bandwidth) {
        sig_error(s, &m->id, PROTO_ERR_E2EE_ROOM, "%s", proto_code_message(PROTO_ERR_E2EE_ROOM));
        return;
    }
    sig_send(s, proto_build_ok(&m->id));
    if (m->preference.has_low_bandwidth)
        sig_set_mixed_audio(s, m->preference.low_bandwidth);
}

typedef enum { NEEDS_NOTHING = 0, NEEDS_JOINED, NEEDS_MODERATOR } sig_needs_t;

static const struct {
    sig_handler_fn fn;
    sig_needs_t needs;
} HANDLERS[PROTO_TYPE_COUNT] = {
    [PROTO_JOIN] = {on_join, NEEDS_NOTHING},
    [PROTO_PUBLISH] = {sig_on_publish, NEEDS_JOINED},
    [PROTO_SUBSCRIBE_ANSWER] = {sig_on_subscribe_answer, NEEDS_JOINED},
    [PROTO_MUTE] = {on_mute, NEEDS_JOINED},
    [PROTO_KICK] = {sig_on_kick, NEEDS_MODERATOR},
    [PROTO_MUTE_PARTICIPANT] = {sig_on_mute_participant, NEEDS_MODERATOR},
    [PROTO_LOCK] = {sig_on_lock, NEEDS_MODERATOR},
    [PROTO_ADMIT] = {sig_on_admit, NEEDS_MODERATOR},
    [PROTO_DENY] = {sig_on_deny, NEEDS_MODERATOR},
    [PROTO_END_MEETING] = {sig_on_end_meeting, NEEDS_MODERATOR},
    [PROTO_SET_PREFERENCE] = {on_set_preference, NEEDS_JOINED},
    [PROTO_PING] = {on_ping, NEEDS_NOTHING},
    [PROTO_LEAVE] = {on_leave, NEEDS_NOTHING},
    [PROTO_SET_LOBBY] = {sig_on_set_lobby, NEEDS_MODERATOR},
};

static int rate_limited(sig_session_t *s)
{
    uint64_t now = sig_now_ms(s->sig);
    if (now - s->window_start_ms >= SIG_RATE_WINDOW_MS) {
        s->window_start_ms = now;
        s->window_count = 0;
    }
    return ++s->window_count > SIG_RATE_MAX;
}

static void dispatch(sig_session_t *s, const proto_msg_t *m)
{
    sig_needs_t needs = HANDLERS[m->type].needs;
    const char *name = proto_type_name(m->type);
    if (needs != NEEDS_NOTHING && !s->p) {
        sig_error(s, &m->id, PROTO_ERR_NOT_JOINED, "'%s' needs a joined participant: send join",
                  name);
    } else if (needs != NEEDS_NOTHING && s->p->state == PARTICIPANT_LOBBY) {
        sig_error(s, &m->id, PROTO_ERR_NOT_JOINED, "'%s' is not possible while in the lobby", name);
    } else if (needs == NEEDS_MODERATOR && s->p->role != AUTH_ROLE_MODERATOR) {
        sig_error(s, &m->id, PROTO_ERR_FORBIDDEN, "'%s' needs the moderator role", name);
    } else {
        HANDLERS[m->type].fn(s, m);
    }
}

static void on_ws_message(void *ctx, void *session, const char *text, size_t len)
{
    sig_session_t *s = session;
    if (s->closing)
        return;
    if (rate_limited(s)) {
        sig_error(s, NULL, PROTO_ERR_RATE_LIMITED, "more than %d messages per second",
                  SIG_RATE_MAX);
        return;
    }
    proto_msg_t m;
    proto_error_t perr;
    if (proto_parse(text, len, &m, &perr) != 0) {
        sig_error(s, &perr.id, perr.code, "%s", perr.message);
        return;
    }
    dispatch(s, &m);
    proto_msg_free(&m);
}

static void *on_ws_open(void *ctx, ws_conn_t *conn, const char *remote)
{
    signaling_t *sig = ctx;
    sig_session_t *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->sig = sig;
    s->conn = conn;
    snprintf(s->remote, sizeof s->remote, "%s", remote);
    s->window_start_ms = sig_now_ms(sig);
    s->next = sig->sessions;
    sig->sessions = s;
    sig->nsessions++;
    sig->stats.sessions_opened++;
    sig_send(s, proto_build_hello());
    return s;
}

static void on_ws_close(void *ctx, void *session)
{
    signaling_t *sig = ctx;
    sig_session_t *s = session;
    s->conn = NULL;
    sig_leave(s, "disconnected");
    for (sig_session_t **pp = &sig->sessions; *pp; pp = &(*pp)->next) {
        if (*pp == s) {
            *pp = s->next;
            break;
        }
    }
    sig->nsessions--;
    free(s);
}

void signaling_on_active_speaker(signaling_t *s, const char *room_id, const char *participant)
{
    room_t *room = rooms_find(&s->rooms, room_id);
    if (room && rooms_participant(room, participant))
        sig_broadcast(room, NULL, proto_build_active_speaker(participant));
}

static void on_room_closed(void *ctx, room_t *room)
{
    sig_audit(ctx, AUDIT_EV_ROOM_CLOSED,
              json_pack("{s:s,s:s}", "room", room->id, "reason", "empty"));
}

static void on_sweep(uv_timer_t *t)
{
    signaling_t *sig = t->data;
    rooms_sweep(&sig->rooms, sig_now_ms(sig), on_room_closed, sig);
}

static int load_verifier(signaling_t *s, const lg_config_t *cfg, char *err, size_t errlen)
{
    char path[LG_CONFIG_PATH_MAX + 16];
    uint8_t secret[SECRET_MAX];
    size_t slen;
    int create = cfg->secret_file[0] == '\0';
    if (create)
        snprintf(path, sizeof path, "%s/secret", cfg->state_dir);
    else
        snprintf(path, sizeof path, "%s", cfg->secret_file);
    int rc = auth_verifier_init(&s->verifier, cfg->audience);
    if (rc == 0)
        rc = auth_verifier_set_skew(&s->verifier, cfg->token_skew_s);
    if (rc == 0 && (rc = secret_load(path, create, secret, &slen, err, errlen)) != 0)
        return rc;
    if (rc == 0)
        rc = auth_verifier_set_secret(&s->verifier, secret, slen);
    for (int i = 0; rc == 0 && i < cfg->public_key_count; i++) {
        char kid[AUTH_KID_MAX + 1] = "";
        const char *file = cfg->public_keys[i];
        const char *eq = strchr(file, '=');
        if (eq && (size_t)(eq - file) <= AUTH_KID_MAX) {
            snprintf(kid, sizeof kid, "%.*s", (int)(eq - file), file);
            file = eq + 1;
        }
        rc = auth_verifier_add_public_key_pem(&s->verifier, file, kid[0] ? kid : NULL);
        if (rc != 0) {
            snprintf(err, errlen, "public key %s: %s (expected a PEM EC P-256 or Ed25519 key)",
                     file, lg_strerror(rc));
            return rc;
        }
    }
    if (rc != 0)
        snprintf(err, errlen, "token verifier: %s", lg_strerror(rc));
    return rc;
}

int signaling_init(signaling_t *s, uv_loop_t *loop, const lg_config_t *cfg, char *err,
                   size_t errlen)
{
    memset(s, 0, sizeof *s);
    s->cfg = cfg;
    s->loop = loop;
    rooms_config_t rc_cfg = {
        .max_participants = cfg->max_participants,
        .empty_grace_ms = (uint64_t)cfg->empty_room_grace_s * 1000,
        .lobby_default = cfg->lobby,
        .nworkers = cfg->workers,
    };
    int rc = rooms_init(&s->rooms, &rc_cfg);
    if (rc == 0)
        rc = load_verifier(s, cfg, err, errlen);
    if (rc == 0) {
        char path[LG_CONFIG_PATH_MAX + 16];
        if (cfg->audit_log[0])
            snprintf(path, sizeof path, "%s", cfg->audit_log);
        else
            snprintf(path, sizeof path, "%s/audit.log", cfg->state_dir);
        rc = audit_open(&s->audit, path, err, errlen);
    }
    if (rc != 0) {
        signaling_free(s);
        return rc;
    }
    uv_timer_init(loop, &s->sweep_timer);
    s->sweep_timer.data = s;
    uv_timer_start(&s->sweep_timer, on_sweep, SWEEP_INTERVAL_MS, SWEEP_INTERVAL_MS);
    s->ws = (http_ws_handlers_t){on_ws_open, on_ws_message, on_ws_close, s};
    return 0;
}

void signaling_stop(signaling_t *s)
{
    if (s->stopped || !s->sweep_timer.data)
        return;
    s->stopped = 1;
    uv_close((uv_handle_t *)&s->sweep_timer, NULL);
}

void signaling_free(signaling_t *s)
{
    rooms_free(&s->rooms);
    auth_verifier_free(&s->verifier);
    audit_close(&s->audit);
}
