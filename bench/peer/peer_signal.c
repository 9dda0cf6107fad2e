/* The C peer's signaling over /ws: join, publish, leave, and a table of handlers for what the
 * relay sends (replies and pushes, subscribe offers answered on the spot). */
#include "bench/peer/peer_internal.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"

#define SIG_CONNECT_MS 5000

/* --- sending ---------------------------------------------------------------------------------- */

/* Sends j (a JSON object, consumed) as one text message. */
static int send_obj(peer_t *p, json_t *j)
{
    if (!j)
        return peer_fail(p, LG_ENOMEM, "signaling: out of memory");
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    if (!text)
        return peer_fail(p, LG_ENOMEM, "signaling: out of memory");
    int rc = sig_send_json(p, text);
    free(text);
    return rc;
}

int sig_send_json(peer_t *p, const char *text)
{
    if (!p->ws)
        return peer_fail(p, LG_ESTATE, "signaling: not connected");
    int rc = wsc_send_text(p->ws, text, strlen(text));
    if (rc != 0)
        return peer_fail(p, LG_EIO, "signaling: sending failed: %s (%s)", lg_strerror(rc),
                         wsc_close_reason(p->ws));
    return 0;
}

/* Starts a request: remembers its id so the reply can be matched. */
static void req_begin(peer_t *p, const char *prefix)
{
    snprintf(p->req_id, sizeof p->req_id, "%s-%u", prefix, ++p->req_seq);
    p->req_state = REQ_WAIT;
    p->req_rc = 0;
}

static int req_settled(peer_t *p, void *arg)
{
    return p->req_state != REQ_WAIT || (arg && p->sig == SIG_LOBBY && !p->lobby_reported);
}

static void req_done(peer_t *p, int rc)
{
    p->req_state = rc == 0 ? REQ_DONE : REQ_FAILED;
    p->req_rc = rc;
}

static int id_matches(const peer_t *p, json_t *j)
{
    const char *id = json_string_value(json_object_get(j, "id"));
    return id && p->req_state == REQ_WAIT && strcmp(id, p->req_id) == 0;
}

/* --- handlers --------------------------------------------------------------------------------- */

static const char *jstr(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

static void on_hello(peer_t *p, json_t *j)
{
    p->hello = 1;
}

static void on_joined(peer_t *p, json_t *j)
{
    snprintf(p->st.participant_id, sizeof p->st.participant_id, "%s", jstr(j, "participant_id"));
    p->sig = SIG_JOINED;
    if (id_matches(p, j))
        req_done(p, 0);
}

static void on_lobby_waiting(peer_t *p, json_t *j)
{
    p->sig = SIG_LOBBY;
    p->lobby_reported = 0;
}

static void on_error(peer_t *p, json_t *j)
{
    const char *what = p->req_id[0] == 'j' ? "join" : p->req_id[0] == 'p' ? "publish" : "request";
    if (id_matches(p, j)) {
        peer_note(p, "signaling: %s refused: %s: %s", what, jstr(j, "code"), jstr(j, "message"));
        req_done(p, LG_EPERM);
        return;
    }
    /* an error to a subscribe_answer or to something unreadable: keep the message */
    peer_note(p, "signaling: relay error %s: %s (id %s)", jstr(j, "code"), jstr(j, "message"),
              json_is_string(json_object_get(j, "id")) ? jstr(j, "id") : "none");
    p->st.signaling_errors++;
}

static void on_ok(peer_t *p, json_t *j)
{
    if (id_matches(p, j))
        req_done(p, 0);
}

static void on_publish_answer(peer_t *p, json_t *j)
{
    if (!id_matches(p, j))
        return;
    const char *sdp = jstr(j, "sdp");
    int rc = peer_set_answer(p, sdp, strlen(sdp));
    if (rc == 0)
        p->answer_ready = 1;
    req_done(p, rc);
}

static void on_subscribe_offer(peer_t *p, json_t *j)
{
    const char *sdp = jstr(j, "sdp");
    json_int_t seq = json_integer_value(json_object_get(j, "seq"));
    char *answer = malloc(PEER_SDP_MAX);
    size_t len = 0;
    if (!answer) {
        peer_fail(p, LG_ENOMEM, "signaling: out of memory");
        return;
    }
    int rc = peer_answer_subscribe(p, sdp, strlen(sdp), answer, PEER_SDP_MAX, &len);
    if (rc != 0) {
        free(answer);
        p->st.signaling_errors++;
        return; /* peer_answer_subscribe noted why */
    }
    char id[24];
    snprintf(id, sizeof id, "sub-%u", ++p->req_seq);
    json_t *m = json_pack("{s:s, s:s, s:s%, s:I}", "type", "subscribe_answer", "id", id, "sdp",
                          answer, len, "seq", (json_int_t)seq);
    free(answer);
    if (send_obj(p, m) == 0) {
        p->sub_seq = seq;
        p->st.subscribe_offers++;
    }
}

/* The relay's view of one of our transports. */
static void on_media_state(peer_t *p, json_t *j)
{
    const char *which = jstr(j, "transport");
    peer_leg_t *leg = strcmp(which, "publish") == 0     ? &p->legs[LEG_PUBLISH]
                      : strcmp(which, "subscribe") == 0 ? &p->legs[LEG_SUBSCRIBE]
                                                        : NULL;
    if (!leg)
        return;
    snprintf(leg->st.relay_state, sizeof leg->st.relay_state, "%s", jstr(j, "state"));
    snprintf(leg->st.relay_detail, sizeof leg->st.relay_detail, "%s", jstr(j, "detail"));
    /* closed before our side connected: the relay's reason is the best error there is */
    if (strcmp(leg->st.relay_state, "closed") == 0 && leg->active && leg->profile == DTLS_SRTP_NONE)
        peer_fail(
            p, strcmp(leg->st.relay_detail, "fingerprint_mismatch") == 0 ? LG_EFINGERPRINT : LG_EIO,
            "relay: closed the %s transport before it connected: %s", which, leg->st.relay_detail);
}

/* kicked, denied, meeting_ended: the relay closes the WebSocket next. */
static void on_closing_push(peer_t *p, json_t *j)
{
    const char *type = jstr(j, "type");
    snprintf(p->st.closed_by, sizeof p->st.closed_by, "%s", type);
    p->sig = SIG_CLOSED;
    if (p->req_state == REQ_WAIT && p->req_id[0] == 'j') {
        peer_note(p, "signaling: join refused: a moderator denied entry");
        req_done(p, LG_EPERM);
    }
    if (strcmp(type, "meeting_ended") == 0)
        peer_fail(p, LG_EIO, "signaling: the meeting was ended by %s", jstr(j, "by"));
    else if (strcmp(type, "kicked") == 0)
        peer_fail(p, LG_EPERM, "signaling: kicked from the room: %s", jstr(j, "reason"));
    else
        peer_fail(p, LG_EPERM, "signaling: a moderator denied entry");
}

static void on_active_speaker(peer_t *p, json_t *j)
{
    p->st.pushes++;
    p->st.active_speaker_changes++;
    snprintf(p->st.active_speaker, sizeof p->st.active_speaker, "%s", jstr(j, "participant_id"));
}

static void on_push(peer_t *p, json_t *j)
{
    p->st.pushes++;
}

static const struct {
    const char *type;
    void (*fn)(peer_t *p, json_t *j);
} HANDLERS[] = {
    {"hello", on_hello},
    {"joined", on_joined},
    {"lobby_waiting", on_lobby_waiting},
    {"error", on_error},
    {"ok", on_ok},
    {"pong", on_ok},
    {"publish_answer", on_publish_answer},
    {"subscribe_offer", on_subscribe_offer},
    {"media_state", on_media_state},
    {"active_speaker", on_active_speaker},
    {"kicked", on_closing_push},
    {"denied", on_closing_push},
    {"meeting_ended", on_closing_push},
};

static void dispatch(peer_t *p, const char *text, size_t len)
{
    json_t *j = json_loadb(text, len, 0, NULL);
    if (!json_is_object(j)) {
        json_decref(j);
        p->st.signaling_errors++;
        return;
    }
    const char *type = jstr(j, "type");
    for (size_t i = 0; i < sizeof HANDLERS / sizeof HANDLERS[0]; i++) {
        if (strcmp(type, HANDLERS[i].type) == 0) {
            HANDLERS[i].fn(p, j);
            json_decref(j);
            return;
        }
    }
    on_push(p, j);
    json_decref(j);
}

/* The socket is readable (or data is buffered): handles every complete message. */
void sig_on_readable(peer_t *p)
{
    for (int n = 0; n < 64 && p->ws; n++) {
        char *text;
        size_t len;
        int rc = wsc_recv(p->ws, &text, &len, 0);
        if (rc == LG_ENOTFOUND)
            return;
        if (rc != 0) {
            int code = wsc_close_code(p->ws);
            char reason[128];
            snprintf(reason, sizeof reason, "%s", wsc_close_reason(p->ws));
            wsc_close(p->ws, 1000);
            p->ws = NULL;
            int expected = p->sig == SIG_CLOSED || p->leaving;
            p->sig = SIG_CLOSED;
            if (!p->st.closed_by[0])
                snprintf(p->st.closed_by, sizeof p->st.closed_by, "closed");
            if (p->req_state == REQ_WAIT) {
                peer_note(p, "signaling: the relay closed the WebSocket (code %d%s%s)", code,
                          reason[0] ? ": " : "", reason);
                req_done(p, LG_EIO);
            }
            if (!expected)
                peer_fail(p, LG_EIO, "signaling: the relay closed the WebSocket (code %d%s%s)",
                          code, reason[0] ? ": " : "", reason);
            return;
        }
        dispatch(p, text, len);
        if (p->fatal)
            return;
    }
}

/* --- join and leave --------------------------------------------------------------------------- */

static int hello_seen(peer_t *p, void *arg)
{
    return p->hello;
}

static int sig_connect(peer_t *p, int64_t deadline)
{
    char err[256];
    int64_t left = (deadline - peer_now_ns()) / NS_PER_MS;
    int ms = left < 1 ? 1 : left > SIG_CONNECT_MS ? SIG_CONNECT_MS : (int)left;
    p->ws = wsc_connect(p->host, p->o.port, "/ws", p->ca_file, ms, err, sizeof err);
    if (!p->ws)
        return peer_fail(p, LG_EIO, "signaling: %s", err);
    int rc = peer_loop(p, deadline, hello_seen, NULL);
    if (rc != PEER_LOOP_DEADLINE)
        return rc;
    peer_note(p, "signaling: no hello from %s:%u", p->host, p->o.port);
    return LG_EEXPIRED;
}

static int wait_request(peer_t *p, int64_t deadline, int lobby_ends_wait, const char *what)
{
    int rc = peer_loop(p, deadline, req_settled, lobby_ends_wait ? (void *)1 : NULL);
    if (rc == PEER_LOOP_DEADLINE) {
        peer_note(p, "signaling: no reply to %s within the timeout%s", what,
                  p->sig == SIG_LOBBY ? " (still in the lobby)" : "");
        return LG_EEXPIRED;
    }
    if (rc != 0)
        return rc;
    if (p->req_state == REQ_WAIT) { /* lobby_waiting arrived */
        p->lobby_reported = 1;
        return PEER_LOBBY;
    }
    return p->req_rc;
}

int peer_join(peer_t *p, int timeout_ms)
{
    if (!p)
        return LG_EINVAL;
    if (p->fatal)
        return p->fatal;
    int64_t deadline = peer_now_ns() + (int64_t)timeout_ms * NS_PER_MS;
    if (p->sig == SIG_LOBBY) /* keep waiting for the same join */
        return wait_request(p, deadline, 0, "join");
    if (p->sig != SIG_NONE)
        return peer_fail(p, LG_ESTATE, "peer: join called twice");
    if (!p->token || !p->token[0])
        return peer_fail(p, LG_EINVAL, "peer: no token to join with");
    int rc = sig_connect(p, deadline);
    if (rc != 0)
        return rc;
    p->sig = SIG_JOINING;
    req_begin(p, "join");
    json_t *m = json_pack("{s:s, s:s, s:i, s:s, s:{s:b, s:b}}", "type", "join", "id", p->req_id,
                          "protocol", 1, "token", p->token, "options", "mixed_audio",
                          (int)p->o.mixed_audio, "low_bandwidth", (int)p->o.low_bandwidth);
    rc = send_obj(p, m);
    return rc != 0 ? rc : wait_request(p, deadline, 1, "join");
}

int sig_send_publish(peer_t *p, const char *sdp, size_t len)
{
    req_begin(p, "pub");
    p->answer_ready = 0;
    json_t *m = json_pack("{s:s, s:s, s:s%}", "type", "publish", "id", p->req_id, "sdp", sdp, len);
    return send_obj(p, m);
}

int sig_wait_publish(peer_t *p, int64_t deadline)
{
    return wait_request(p, deadline, 0, "publish");
}

int peer_mute(peer_t *p, const char *kind, bool muted, int timeout_ms)
{
    if (!p || !kind)
        return LG_EINVAL;
    if (p->sig != SIG_JOINED)
        return peer_fail(p, LG_ESTATE, "peer: mute before joining");
    req_begin(p, "mute");
    int rc = send_obj(p, json_pack("{s:s, s:s, s:s, s:b}", "type", "mute", "id", p->req_id, "kind",
                                   kind, "muted", (int)muted));
    return rc != 0 ? rc
                   : wait_request(p, peer_now_ns() + (int64_t)timeout_ms * NS_PER_MS, 0, "mute");
}

int peer_leave(peer_t *p, int timeout_ms)
{
    if (!p)
        return LG_EINVAL;
    int rc = 0;
    if (p->ws && p->sig == SIG_JOINED) {
        p->leaving = 1;
        req_begin(p, "leave");
        rc = send_obj(p, json_pack("{s:s, s:s}", "type", "leave", "id", p->req_id));
        if (rc == 0)
            rc = wait_request(p, peer_now_ns() + (int64_t)timeout_ms * NS_PER_MS, 0, "leave");
    }
    for (int i = 0; i < LEG_COUNT; i++)
        leg_close(&p->legs[i]);
    if (p->ws)
        wsc_close(p->ws, 1000);
    p->ws = NULL;
    p->sig = SIG_CLOSED;
    return rc;
}
