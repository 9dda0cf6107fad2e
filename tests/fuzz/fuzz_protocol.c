/* libFuzzer target for the signaling protocol codec: parse arbitrary bytes, answer the way the
 * server would (ok echoing the id, or the error reply), and check every reply is JSON that says
 * what it should. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/protocol.h"

/* A built message must be JSON of the given type; fed back to the parser it is an unknown (server)
 * type whose id is read back exactly as id (so the reply echoed it unchanged). */
static void check_reply(char *text, const char *type, const proto_id_t *id)
{
    if (!text)
        abort();
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, NULL);
    const char *got = json_string_value(json_object_get(j, "type"));
    if (!got || strcmp(got, type) != 0)
        abort();
    json_decref(j);
    if (strlen(text) > PROTO_MAX_MESSAGE) { /* replies may be longer than requests */
        free(text);
        return;
    }
    proto_msg_t m;
    proto_error_t err;
    if (proto_parse(text, strlen(text), &m, &err) != LG_EMALFORMED ||
        err.code != PROTO_ERR_UNKNOWN_TYPE || err.id.kind != (id ? id->kind : PROTO_ID_NONE))
        abort();
    if (err.id.kind == PROTO_ID_INT && err.id.num != id->num)
        abort();
    if (err.id.kind == PROTO_ID_STRING &&
        (err.id.len != id->len || memcmp(err.id.str, id->str, id->len) != 0))
        abort();
    free(text);
}

/* Builds the server messages a parsed request leads to, from the strings it carried. */
static void answer(const proto_msg_t *m)
{
    const char *pid = m->target.participant_id;
    switch (m->type) {
    case PROTO_JOIN: {
        proto_track_t t = {"t-1", PROTO_KIND_VIDEO, "1"};
        proto_participant_t p = {
            "p-1", m->join.token, "participant", m->join.mixed_audio, m->join.low_bandwidth, &t, 1};
        proto_room_t room = {"room", false, true, &p, 1, false};
        check_reply(proto_build_joined(&m->id, "p-0", "moderator", m->join.token, &room), "joined",
                    &m->id);
        check_reply(proto_build_participant_joined(&p), "participant_joined", NULL);
        break;
    }
    case PROTO_PUBLISH:
    case PROTO_SUBSCRIBE_ANSWER:
        check_reply(proto_build_publish_answer(&m->id, m->sdp.sdp), "publish_answer", &m->id);
        check_reply(proto_build_subscribe_offer(m->sdp.sdp, m->sdp.seq), "subscribe_offer", NULL);
        break;
    case PROTO_MUTE:
        check_reply(proto_build_mute_changed("p-0", m->mute.kind, m->mute.muted, NULL),
                    "mute_changed", NULL);
        break;
    case PROTO_KICK:
        check_reply(proto_build_kicked(m->target.reason ? m->target.reason : ""), "kicked", NULL);
        check_reply(proto_build_participant_left(pid, "kicked"), "participant_left", NULL);
        break;
    case PROTO_MUTE_PARTICIPANT:
        check_reply(proto_build_mute_changed(pid, m->target.kind, true, "p-0"), "mute_changed",
                    NULL);
        break;
    case PROTO_ADMIT:
    case PROTO_DENY: {
        proto_waiting_t w = {pid, pid};
        check_reply(proto_build_lobby_update(&w, 1), "lobby_update", NULL);
        check_reply(proto_build_track_removed(pid, pid), "track_removed", NULL);
        break;
    }
    default:
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_msg_t m;
    proto_error_t err;
    int rc = proto_parse((const char *)data, size, &m, &err);
    if (rc == 0) {
        if (err.code != PROTO_ERR_NONE || !m.root || (unsigned)m.type >= PROTO_TYPE_COUNT)
            abort();
        check_reply(proto_build_ok(&m.id), "ok", &m.id);
        answer(&m);
    } else {
        if (err.code == PROTO_ERR_NONE || m.root || strlen(err.message) >= PROTO_MESSAGE_LEN)
            abort();
        check_reply(proto_build_error_from(&err), "error", &err.id);
    }
    proto_msg_free(&m);
    /* Raw input as error text: whatever the bytes, the reply is valid JSON. */
    check_reply(proto_build_error(NULL, PROTO_ERR_BAD_SDP, "%.*s", (int)(size > 512 ? 512 : size),
                                  (const char *)data),
                "error", NULL);
    return 0;
}
