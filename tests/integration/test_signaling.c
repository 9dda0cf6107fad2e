/* Signaling end to end: the relay runs in-process on loopback; C clients speak the protocol over
 * real WSS connections (bench/peer/ws_client). Join, presence, lobby, kick, lock, bad tokens,
 * abusive clients, end of meeting, and the audit chain they leave behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/peer/ws_client.h"
#include "relay_fixture.h"
#include "sfu/lg_error.h"
#include "sfu/relay.h"
#include "signaling/audit.h"
#include "signaling/auth.h"
#include "signaling/secret.h"

#define WAIT_MS 5000

static void tune(lg_config_t *cfg)
{
    cfg->max_participants = 4;
}

static int start_relay(void **state)
{
    return relay_fixture_start(tune);
}

static int stop_relay(void **state)
{
    relay_fixture_stop();
    return 0;
}

/* A token; a negative ttl_or_exp mints one that expired that many seconds ago. */
static const char *token(const char *room, const char *sub, auth_role_t role, int64_t ttl_or_exp,
                         const char *aud)
{
    int64_t now = (int64_t)time(NULL);
    if (ttl_or_exp > 0)
        return relay_fixture_token_at(room, sub, role, now, ttl_or_exp, aud);
    return relay_fixture_token_at(room, sub, role, now - 3600, 3600 + ttl_or_exp, aud);
}

static json_t *recv_json(wsc_t *c)
{
    char *text;
    size_t len;
    int rc = wsc_recv(c, &text, &len, WAIT_MS);
    if (rc != 0)
        return NULL;
    json_t *j = json_loadb(text, len, 0, NULL);
    assert_non_null(j);
    return j;
}

static const char *jstr(json_t *j, const char *key)
{
    const char *s = json_string_value(json_object_get(j, key));
    return s ? s : "";
}

/* Receives until a message of `type` arrives (pushes of other types are skipped). */
static json_t *expect(wsc_t *c, const char *type)
{
    for (int i = 0; i < 20; i++) {
        json_t *j = recv_json(c);
        if (!j)
            fail_msg("no '%s' message (close code %d)", type, wsc_close_code(c));
        if (strcmp(jstr(j, "type"), type) == 0)
            return j;
        json_decref(j);
    }
    fail_msg("no '%s' among 20 messages", type);
    return NULL;
}

static void expect_error(wsc_t *c, const char *code, const char *in_message)
{
    json_t *j = expect(c, "error");
    assert_string_equal(jstr(j, "code"), code);
    if (in_message && !strstr(jstr(j, "message"), in_message))
        fail_msg("error message '%s' lacks '%s'", jstr(j, "message"), in_message);
    json_decref(j);
}

static void sendf(wsc_t *c, const char *fmt, ...)
{
    char buf[AUTH_TOKEN_MAX + 256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    assert_int_equal(wsc_send_text(c, buf, (size_t)n), 0);
}

static wsc_t *connect_client(void)
{
    char err[256];
    wsc_t *c = wsc_connect("127.0.0.1", rf_cfg.listen_port, "/ws", NULL, WAIT_MS, err, sizeof err);
    if (!c)
        fail_msg("connect: %s", err);
    json_t *hello = expect(c, "hello");
    assert_int_equal(json_integer_value(json_object_get(hello, "protocol")), 1);
    json_decref(hello);
    return c;
}

/* Joins and returns the joined message's participant_id (static buffer per call slot). */
static wsc_t *join(const char *tok, char id_out[32])
{
    wsc_t *c = connect_client();
    sendf(c, "{\"type\":\"join\",\"id\":\"j1\",\"token\":\"%s\"}", tok);
    json_t *j = expect(c, "joined");
    assert_string_equal(jstr(j, "id"), "j1");
    if (id_out)
        snprintf(id_out, 32, "%s", jstr(j, "participant_id"));
    json_decref(j);
    return c;
}

static void test_join_presence_mute_leave(void **state)
{
    char a_id[32], b_id[32];
    wsc_t *a = join(token("r-presence", "alice", AUTH_ROLE_MODERATOR, 600, NULL), a_id);
    wsc_t *b = connect_client();
    sendf(b, "{\"type\":\"join\",\"id\":7,\"token\":\"%s\"}",
          token("r-presence", "bob", AUTH_ROLE_PARTICIPANT, 600, NULL));
    json_t *j = expect(b, "joined");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 7); /* integer id echoed */
    snprintf(b_id, sizeof b_id, "%s", jstr(j, "participant_id"));
    assert_string_equal(jstr(j, "role"), "participant");
    json_t *others = json_object_get(json_object_get(j, "room"), "participants");
    assert_int_equal(json_array_size(others), 1);
    assert_string_equal(jstr(json_array_get(others, 0), "participant_id"), a_id);
    assert_string_equal(jstr(json_array_get(others, 0), "role"), "moderator");
    json_decref(j);

    j = expect(a, "participant_joined");
    assert_string_equal(jstr(json_object_get(j, "participant"), "participant_id"), b_id);
    json_decref(j);

    sendf(b, "{\"type\":\"mute\",\"id\":\"m\",\"kind\":\"audio\",\"muted\":true}");
    json_decref(expect(b, "ok"));
    j = expect(a, "mute_changed");
    assert_string_equal(jstr(j, "participant_id"), b_id);
    assert_true(json_is_true(json_object_get(j, "muted")));
    json_decref(j);

    sendf(b, "{\"type\":\"ping\",\"id\":\"p\"}");
    j = expect(b, "pong");
    assert_string_equal(jstr(j, "id"), "p");
    json_decref(j);

    sendf(b, "{\"type\":\"leave\"}");
    j = expect(a, "participant_left");
    assert_string_equal(jstr(j, "participant_id"), b_id);
    assert_string_equal(jstr(j, "reason"), "left");
    json_decref(j);
    wsc_close(b, 1000);

    /* A dropped connection (no leave) is seen as "disconnected". */
    wsc_t *c = join(token("r-presence", "carol", AUTH_ROLE_OBSERVER, 600, NULL), NULL);
    json_decref(expect(a, "participant_joined"));
    wsc_close(c, 1001);
    j = expect(a, "participant_left");
    assert_string_equal(jstr(j, "reason"), "disconnected");
    json_decref(j);
    wsc_close(a, 1000);
}

static void test_bad_tokens_and_messages(void **state)
{
    wsc_t *c = connect_client();
    sendf(c, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-bad", "late", AUTH_ROLE_PARTICIPANT, -120, NULL));
    expect_error(c, "token_expired", "expired at");
    sendf(c, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-bad", "x", AUTH_ROLE_PARTICIPANT, 600, "someone-else"));
    expect_error(c, "wrong_audience", "someone-else");
    char forged[AUTH_TOKEN_MAX];
    snprintf(forged, sizeof forged, "%s", token("r-bad", "x", AUTH_ROLE_MODERATOR, 600, NULL));
    size_t n = strlen(forged);
    forged[n - 2] = forged[n - 2] == 'A' ? 'B' : 'A'; /* tamper with the signature */
    sendf(c, "{\"type\":\"join\",\"token\":\"%s\"}", forged);
    expect_error(c, "bad_token", "signature");
    sendf(c, "{\"type\":\"join\",\"token\":\"eyJhbGciOiJub25lIn0.e30.\"}");
    expect_error(c, "bad_token", NULL);
    sendf(c, "{\"type\":\"publish\",\"id\":3,\"sdp\":\"v=0\"}");
    expect_error(c, "not_joined", "join");
    sendf(c, "{\"type\":\"join\",");
    expect_error(c, "bad_json", NULL);
    sendf(c, "{\"type\":\"teleport\"}");
    expect_error(c, "unknown_type", "teleport");
    sendf(c, "{\"type\":\"join\",\"token\":42}");
    expect_error(c, "bad_request", "token");
    /* Still usable after mistakes below the limit. */
    sendf(c, "{\"type\":\"ping\",\"id\":1}");
    json_decref(expect(c, "pong"));
    /* Repeated violations close the connection with 1008. The relay may close it before all ten
     * are written: a send that fails then is expected, not an error. */
    for (int i = 0; i < 10; i++)
        if (wsc_send_text(c, "not json", 8) != 0)
            break;
    char *text;
    size_t len;
    int rc;
    while ((rc = wsc_recv(c, &text, &len, WAIT_MS)) == 0)
        ;
    assert_int_equal(rc, LG_ESTATE);
    assert_int_equal(wsc_close_code(c), 1008);
    wsc_close(c, 1000);
}

static void test_roles(void **state)
{
    char m_id[32];
    wsc_t *m = join(token("r-roles", "mod", AUTH_ROLE_MODERATOR, 600, NULL), m_id);
    wsc_t *p = join(token("r-roles", "pat", AUTH_ROLE_PARTICIPANT, 600, NULL), NULL);
    wsc_t *o = join(token("r-roles", "obs", AUTH_ROLE_OBSERVER, 600, NULL), NULL);
    sendf(p, "{\"type\":\"kick\",\"id\":1,\"participant_id\":\"%s\"}", m_id);
    expect_error(p, "forbidden", "moderator");
    sendf(p, "{\"type\":\"lock\",\"locked\":true}");
    expect_error(p, "forbidden", "moderator");
    sendf(o, "{\"type\":\"publish\",\"id\":2,\"sdp\":\"v=0\\r\\n\"}");
    expect_error(o, "forbidden", "observers cannot publish");
    sendf(m, "{\"type\":\"kick\",\"id\":1,\"participant_id\":\"p-nobody\"}");
    expect_error(m, "not_found", "p-nobody");
    sendf(p, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-roles", "pat", AUTH_ROLE_PARTICIPANT, 600, NULL));
    expect_error(p, "already_joined", "r-roles");
    wsc_close(o, 1000);
    wsc_close(p, 1000);
    wsc_close(m, 1000);
}

static void test_kick(void **state)
{
    char p_id[32];
    const char *ptok = token("r-kick", "eve", AUTH_ROLE_PARTICIPANT, 600, NULL);
    char kept[AUTH_TOKEN_MAX];
    snprintf(kept, sizeof kept, "%s", ptok);
    wsc_t *m = join(token("r-kick", "mod", AUTH_ROLE_MODERATOR, 600, NULL), NULL);
    wsc_t *p = join(kept, p_id);
    sendf(m, "{\"type\":\"kick\",\"id\":\"k\",\"participant_id\":\"%s\",\"reason\":\"disruptive\"}",
          p_id);
    json_decref(expect(m, "ok"));
    json_t *j = expect(p, "kicked");
    assert_string_equal(jstr(j, "reason"), "disruptive");
    json_decref(j);
    char *text;
    size_t len;
    while (wsc_recv(p, &text, &len, WAIT_MS) == 0)
        ;
    assert_int_equal(wsc_close_code(p), 4001);
    wsc_close(p, 1000);
    j = expect(m, "participant_left");
    assert_string_equal(jstr(j, "reason"), "kicked");
    json_decref(j);
    /* The same token cannot come back. */
    wsc_t *again = connect_client();
    sendf(again, "{\"type\":\"join\",\"token\":\"%s\"}", kept);
    expect_error(again, "kicked", "r-kick");
    wsc_close(again, 1000);
    wsc_close(m, 1000);
}

static void test_lock(void **state)
{
    wsc_t *m = join(token("r-lock", "mod", AUTH_ROLE_MODERATOR, 600, NULL), NULL);
    sendf(m, "{\"type\":\"lock\",\"id\":1,\"locked\":true}");
    json_decref(expect(m, "ok"));
    json_t *j = expect(m, "room_locked");
    assert_true(json_is_true(json_object_get(j, "locked")));
    json_decref(j);
    wsc_t *p = connect_client();
    sendf(p, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-lock", "pat", AUTH_ROLE_PARTICIPANT, 600, NULL));
    expect_error(p, "room_locked", "locked");
    /* A moderator still gets in; unlocking lets the participant in. */
    wsc_t *m2 = join(token("r-lock", "mod2", AUTH_ROLE_MODERATOR, 600, NULL), NULL);
    sendf(m, "{\"type\":\"lock\",\"id\":2,\"locked\":false}");
    json_decref(expect(m, "ok"));
    sendf(p, "{\"type\":\"join\",\"id\":\"j1\",\"token\":\"%s\"}",
          token("r-lock", "pat", AUTH_ROLE_PARTICIPANT, 600, NULL));
    json_decref(expect(p, "joined"));
    wsc_close(p, 1000);
    wsc_close(m2, 1000);
    wsc_close(m, 1000);
}

static void test_lobby(void **state)
{
    wsc_t *m = join(token("r-lobby", "mod", AUTH_ROLE_MODERATOR, 600, NULL), NULL);
    sendf(m, "{\"type\":\"set_lobby\",\"id\":1,\"enabled\":true}");
    json_decref(expect(m, "ok"));
    wsc_t *p = connect_client();
    sendf(p, "{\"type\":\"join\",\"id\":\"wait\",\"token\":\"%s\"}",
          token("r-lobby", "guest", AUTH_ROLE_PARTICIPANT, 600, NULL));
    json_t *j = expect(p, "lobby_waiting");
    assert_string_equal(jstr(j, "id"), "wait");
    json_decref(j);
    j = expect(m, "lobby_update");
    json_t *waiting = json_object_get(j, "waiting");
    assert_int_equal(json_array_size(waiting), 1);
    char guest_id[32];
    snprintf(guest_id, sizeof guest_id, "%s", jstr(json_array_get(waiting, 0), "participant_id"));
    assert_string_equal(jstr(json_array_get(waiting, 0), "name"), "guest");
    json_decref(j);
    /* Held: nothing but leave/ping is allowed, and the room does not see the guest. */
    sendf(p, "{\"type\":\"mute\",\"kind\":\"audio\",\"muted\":true}");
    expect_error(p, "not_joined", "lobby");
    sendf(m, "{\"type\":\"admit\",\"id\":2,\"participant_id\":\"%s\"}", guest_id);
    json_decref(expect(m, "ok"));
    j = expect(p, "joined");
    assert_string_equal(jstr(j, "id"), "wait"); /* answers the original join */
    json_decref(j);
    j = expect(m, "participant_joined");
    assert_string_equal(jstr(json_object_get(j, "participant"), "participant_id"), guest_id);
    json_decref(j);
    /* A second guest is denied. */
    wsc_t *q = connect_client();
    sendf(q, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-lobby", "stranger", AUTH_ROLE_PARTICIPANT, 600, NULL));
    json_decref(expect(q, "lobby_waiting"));
    j = expect(m, "lobby_update");
    if (json_array_size(json_object_get(j, "waiting")) == 0) { /* the update after admitting */
        json_decref(j);
        j = expect(m, "lobby_update");
    }
    assert_int_equal(json_array_size(json_object_get(j, "waiting")), 1);
    char q_id[32];
    snprintf(q_id, sizeof q_id, "%s",
             jstr(json_array_get(json_object_get(j, "waiting"), 0), "participant_id"));
    json_decref(j);
    sendf(m, "{\"type\":\"deny\",\"id\":3,\"participant_id\":\"%s\"}", q_id);
    json_decref(expect(m, "ok"));
    json_decref(expect(q, "denied"));
    wsc_close(q, 1000);
    wsc_close(p, 1000);
    wsc_close(m, 1000);
}

static void test_capacity(void **state)
{
    wsc_t *c[4];
    for (int i = 0; i < 4; i++) {
        char sub[16];
        snprintf(sub, sizeof sub, "u%d", i);
        c[i] = join(token("r-full", sub, AUTH_ROLE_PARTICIPANT, 600, NULL), NULL);
    }
    wsc_t *x = connect_client();
    sendf(x, "{\"type\":\"join\",\"token\":\"%s\"}",
          token("r-full", "u5", AUTH_ROLE_PARTICIPANT, 600, NULL));
    expect_error(x, "room_full", "full");
    wsc_close(x, 1000);
    for (int i = 0; i < 4; i++)
        wsc_close(c[i], 1000);
}

static void test_end_meeting_and_audit(void **state)
{
    wsc_t *m = join(token("r-end", "chair", AUTH_ROLE_MODERATOR, 600, NULL), NULL);
    wsc_t *p = join(token("r-end", "delegate", AUTH_ROLE_PARTICIPANT, 600, NULL), NULL);
    sendf(m, "{\"type\":\"end_meeting\",\"id\":9}");
    json_decref(expect(m, "ok"));
    json_decref(expect(p, "meeting_ended"));
    json_decref(expect(m, "meeting_ended"));
    wsc_close(p, 1000);
    wsc_close(m, 1000);

    /* The audit log holds the story in order and its chain verifies. */
    char path[LG_CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/audit.log", rf_cfg.state_dir);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(path, &res), 0);
    assert_true(res.records > 10);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int saw_created = 0, saw_join = 0, saw_end = 0, saw_closed = 0, saw_kick = 0, saw_refused = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"r-end\"") && !strstr(line, "\"r-kick\"") &&
            !strstr(line, "\"r-bad\"") && !strstr(line, "token_expired"))
            continue;
        saw_created += strstr(line, "\"event\":\"room_created\"") && strstr(line, "r-end");
        saw_join += strstr(line, "\"event\":\"join\"") && strstr(line, "\"delegate\"") &&
                    strstr(line, "127.0.0.1");
        saw_end += strstr(line, "\"event\":\"meeting_ended\"") && strstr(line, "\"chair\"");
        saw_closed += strstr(line, "\"event\":\"room_closed\"") && strstr(line, "r-end");
        saw_kick += strstr(line, "\"event\":\"kick\"") && strstr(line, "disruptive");
        saw_refused += strstr(line, "\"event\":\"join_refused\"") && strstr(line, "token_expired");
    }
    fclose(f);
    assert_int_equal(saw_created, 1);
    assert_int_equal(saw_join, 1);
    assert_int_equal(saw_end, 1);
    assert_int_equal(saw_closed, 1);
    assert_int_equal(saw_kick, 1);
    assert_true(saw_refused >= 1);
}

/* The fixture offer as a JSON string literal body (escaped). */
static char *offer_json(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char raw[65536];
    size_t n = fread(raw, 1, sizeof raw - 1, f);
    fclose(f);
    raw[n] = '\0';
    json_t *j = json_string(raw);
    char *text = json_dumps(j, JSON_ENCODE_ANY);
    json_decref(j);
    return text;
}

static void test_publish_answer(void **state)
{
    wsc_t *c = join(token("r-pub", "speaker", AUTH_ROLE_PARTICIPANT, 600, NULL), NULL);
    sendf(c, "{\"type\":\"publish\",\"id\":5,\"sdp\":\"v=0\\r\\nbogus\\r\\n\"}");
    expect_error(c, "bad_sdp", "line");
    char *offer = offer_json("tests/fixtures/sdp/chromium-156-offer-publish-simulcast.sdp");
    char *msg = malloc(strlen(offer) + 64);
    sprintf(msg, "{\"type\":\"publish\",\"id\":6,\"sdp\":%s}", offer);
    assert_int_equal(wsc_send_text(c, msg, strlen(msg)), 0);
    json_t *j = expect(c, "publish_answer");
    assert_int_equal(json_integer_value(json_object_get(j, "id")), 6);
    const char *sdp = jstr(j, "sdp");
    char want[256];
    assert_non_null(strstr(sdp, "a=ice-lite\r\n"));
    assert_non_null(strstr(sdp, "a=setup:passive\r\n"));
    snprintf(want, sizeof want, "a=fingerprint:%s\r\n", rf_relay.certs.dtls_fingerprint);
    assert_non_null(strstr(sdp, want));
    snprintf(want, sizeof want, "127.0.0.1 %u typ host", rf_cfg.media_port);
    assert_non_null(strstr(sdp, want));
    assert_non_null(strstr(sdp, "tcptype passive"));
    assert_non_null(strstr(sdp, "a=simulcast:recv h;m;l"));
    assert_non_null(strstr(sdp, "a=recvonly"));
    char ufrag[64] = "";
    const char *u = strstr(sdp, "a=ice-ufrag:");
    assert_non_null(u);
    sscanf(u, "a=ice-ufrag:%63s", ufrag);
    /* A renegotiation (the same publish connection, e.g. adding a screen share) is answered on
     * the same transport: the same relay credentials. */
    assert_int_equal(wsc_send_text(c, msg, strlen(msg)), 0);
    json_t *j2 = expect(c, "publish_answer");
    assert_non_null(strstr(jstr(j2, "sdp"), ufrag));
    json_decref(j2);
    json_decref(j);
    /* An ICE restart on it is refused with a reason. */
    char *restart = strstr(msg, "a=ice-ufrag:");
    assert_non_null(restart);
    restart[12] = restart[12] == 'Z' ? 'Y' : 'Z';
    assert_int_equal(wsc_send_text(c, msg, strlen(msg)), 0);
    expect_error(c, "bad_sdp", "ICE restart");
    free(msg);
    free(offer);
    wsc_close(c, 1000);
}

int main(void)
{
    srand((unsigned)getpid());
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_presence_mute_leave),
        cmocka_unit_test(test_bad_tokens_and_messages),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_lobby),
        cmocka_unit_test(test_capacity),
        cmocka_unit_test(test_publish_answer),
        cmocka_unit_test(test_end_meeting_and_audit),
    };
    return cmocka_run_group_tests(tests, start_relay, stop_relay);
}
