/* Unit tests for signaling/protocol: the fixtures shown in docs/PROTOCOL.md parse and build exactly
 * as documented, ids are echoed with their JSON type, and every refusal names its cause. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/auth.h"
#include "signaling/protocol.h"

#define FIXTURES "tests/fixtures/protocol"
#define DOC      "docs/PROTOCOL.md"

/* The HS256 secret the join examples are signed with (docs/PROTOCOL.md says so). */
static const uint8_t DOC_SECRET[] = "0123456789abcdef0123456789abcdef-docs-example";

/* --- helpers ---------------------------------------------------------------------------------- */

/* The whole file, NUL-terminated, with one trailing newline removed (the wire text has none). */
static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (tests run from the source root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

static char *fixture(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, FIXTURES "/%s/%s", dir, name);
    return read_text(path);
}

/* Parses client/<name>.json, which must succeed. */
static void parse_client(const char *name, proto_msg_t *m)
{
    char file[128];
    snprintf(file, sizeof file, "%s.json", name);
    char *text = fixture("client", file);
    proto_error_t err;
    int rc = proto_parse(text, strlen(text), m, &err);
    if (rc != 0)
        fail_msg("%s: %s (%s)", name, err.message, proto_code_name(err.code));
    assert_int_equal(err.code, PROTO_ERR_NONE);
    free(text);
}

/* Parses text expecting a refusal with this return code, error code and message. */
static void expect_refusal(const char *text, int rc, proto_code_t code, const char *message)
{
    proto_msg_t m;
    proto_error_t err;
    int got = proto_parse(text, strlen(text), &m, &err);
    if (got != rc || err.code != code || (message && strcmp(err.message, message) != 0))
        fail_msg("input %s\n  got rc %d code %s message \"%s\"\n  want rc %d code %s message "
                 "\"%s\"",
                 text, got, proto_code_name(err.code), err.message, rc, proto_code_name(code),
                 message ? message : "(any)");
    assert_null(m.root);
    proto_msg_free(&m);
}

static void expect_bad_request(const char *text, const char *message)
{
    expect_refusal(text, LG_EMALFORMED, PROTO_ERR_BAD_REQUEST, message);
}

static json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, text);
    return j;
}

/* built must be exactly the fixture's text in compact form (same members, same order). */
static void assert_built(char *built, const char *fixture_text)
{
    assert_non_null(built);
    json_t *want = load(fixture_text);
    char *compact = json_dumps(want, JSON_COMPACT);
    if (strcmp(built, compact) != 0)
        fail_msg("built    %s\nexpected %s", built, compact);
    free(compact);
    json_decref(want);
    free(built);
}

/* The reply's "id" must equal id, with the same JSON type; absent when id has none. */
static void assert_echoes(const char *reply, const proto_id_t *id)
{
    json_t *j = load(reply);
    json_t *v = json_object_get(j, "id");
    if (id->kind == PROTO_ID_NONE) {
        assert_null(v);
    } else if (id->kind == PROTO_ID_STRING) {
        assert_true(json_is_string(v));
        assert_int_equal(json_string_length(v), id->len);
        assert_memory_equal(json_string_value(v), id->str, id->len);
    } else {
        assert_true(json_is_integer(v));
        assert_true(json_integer_value(v) == id->num);
    }
    json_decref(j);
}

/* --- every client type from its documented example -------------------------------------------- */

static void test_join(void **state)
{
    proto_msg_t m;
    parse_client("join", &m);
    assert_int_equal(m.type, PROTO_JOIN);
    assert_int_equal(m.id.kind, PROTO_ID_STRING);
    assert_string_equal(m.id.str, "r1");
    assert_int_equal(m.id.len, 2);
    assert_int_equal(strlen(m.join.token), m.join.token_len);
    assert_false(m.join.mixed_audio);
    assert_true(m.join.low_bandwidth);

    /* The documented token is a real one: it verifies with the documented secret. */
    auth_verifier_t v;
    auth_claims_t c;
    char why[AUTH_ERR_LEN];
    assert_int_equal(auth_verifier_init(&v, "legation"), 0);
    assert_int_equal(auth_verifier_set_secret(&v, DOC_SECRET, sizeof DOC_SECRET - 1), 0);
    int rc = auth_verify(&v, m.join.token, m.join.token_len, 1795684000, &c, why, sizeof why);
    if (rc != 0)
        fail_msg("documented token: %s", why);
    assert_string_equal(c.room, "cabinet-1");
    assert_string_equal(c.name, "Alice Martin");
    assert_int_equal(c.role, AUTH_ROLE_MODERATOR);
    auth_verifier_free(&v);
    proto_msg_free(&m);
    assert_null(m.root);
}

static void test_join_minimal(void **state)
{
    proto_msg_t m;
    parse_client("join_minimal", &m);
    assert_int_equal(m.type, PROTO_JOIN);
    assert_int_equal(m.id.kind, PROTO_ID_NONE);
    assert_true(strncmp(m.join.token, "eyJ", 3) == 0);
    assert_false(m.join.mixed_audio);
    assert_false(m.join.low_bandwidth);
    proto_msg_free(&m);
}

static void test_publish(void **state)
{
    proto_msg_t m;
    parse_client("publish", &m);
    assert_int_equal(m.type, PROTO_PUBLISH);
    assert_string_equal(m.id.str, "r2");
    assert_int_equal(strlen(m.sdp.sdp), m.sdp.sdp_len);
    assert_true(strncmp(m.sdp.sdp, "v=0\r\no=- ", 9) == 0);
    assert_non_null(strstr(m.sdp.sdp, "\r\na=simulcast:send q;h;f\r\n"));
    assert_non_null(strstr(m.sdp.sdp, "\r\na=setup:actpass\r\n"));
    assert_string_equal(m.sdp.sdp + m.sdp.sdp_len - 2, "\r\n");
    proto_msg_free(&m);
}

static void test_subscribe_answer(void **state)
{
    proto_msg_t m;
    parse_client("subscribe_answer", &m);
    assert_int_equal(m.type, PROTO_SUBSCRIBE_ANSWER);
    assert_string_equal(m.id.str, "r3");
    assert_int_equal(m.sdp.seq, 1);
    assert_non_null(strstr(m.sdp.sdp, "\r\na=setup:active\r\n"));
    assert_non_null(strstr(m.sdp.sdp, "\r\na=recvonly\r\n"));
    proto_msg_free(&m);
}

static void test_mute(void **state)
{
    proto_msg_t m;
    parse_client("mute", &m);
    assert_int_equal(m.type, PROTO_MUTE);
    assert_string_equal(m.id.str, "r4");
    assert_int_equal(m.mute.kind, PROTO_KIND_VIDEO);
    assert_true(m.mute.muted);
    proto_msg_free(&m);
}

static void test_kick(void **state)
{
    proto_msg_t m;
    parse_client("kick", &m);
    assert_int_equal(m.type, PROTO_KICK);
    assert_string_equal(m.target.participant_id, "p-c4e2aa");
    assert_string_equal(m.target.reason, "disruptive behaviour");
    proto_msg_free(&m);

    const char *no_reason = "{\"type\":\"kick\",\"participant_id\":\"p-1\"}";
    assert_int_equal(proto_parse(no_reason, strlen(no_reason), &m, NULL), 0);
    assert_null(m.target.reason);
    proto_msg_free(&m);
}

static void test_mute_participant(void **state)
{
    proto_msg_t m;
    parse_client("mute_participant", &m);
    assert_int_equal(m.type, PROTO_MUTE_PARTICIPANT);
    assert_string_equal(m.target.participant_id, "p-2b81d0");
    assert_int_equal(m.target.kind, PROTO_KIND_AUDIO);
    proto_msg_free(&m);
}

static void test_lock(void **state)
{
    proto_msg_t m;
    parse_client("lock", &m);
    assert_int_equal(m.type, PROTO_LOCK);
    assert_true(m.locked);
    proto_msg_free(&m);
    const char *unlock = "{\"type\":\"lock\",\"locked\":false}";
    assert_int_equal(proto_parse(unlock, strlen(unlock), &m, NULL), 0);
    assert_false(m.locked);
    proto_msg_free(&m);
}

static void test_set_lobby(void **state)
{
    proto_msg_t m;
    parse_client("set_lobby", &m);
    assert_int_equal(m.type, PROTO_SET_LOBBY);
    assert_true(m.lobby_enabled);
    proto_msg_free(&m);
    const char *bad = "{\"type\":\"set_lobby\",\"enabled\":\"yes\"}";
    proto_error_t err;
    assert_int_equal(proto_parse(bad, strlen(bad), &m, &err), LG_EMALFORMED);
    assert_int_equal(err.code, PROTO_ERR_BAD_REQUEST);
    assert_non_null(strstr(err.message, "enabled"));
}

static void test_admit_deny(void **state)
{
    proto_msg_t m;
    parse_client("admit", &m);
    assert_int_equal(m.type, PROTO_ADMIT);
    assert_string_equal(m.target.participant_id, "p-9d04e1");
    proto_msg_free(&m);
    parse_client("deny", &m);
    assert_int_equal(m.type, PROTO_DENY);
    assert_string_equal(m.target.participant_id, "p-5e6f70");
    proto_msg_free(&m);
}

static void test_no_field_types(void **state)
{
    proto_msg_t m;
    parse_client("end_meeting", &m);
    assert_int_equal(m.type, PROTO_END_MEETING);
    assert_string_equal(m.id.str, "r10");
    proto_msg_free(&m);
    parse_client("ping", &m);
    assert_int_equal(m.type, PROTO_PING);
    assert_int_equal(m.id.kind, PROTO_ID_INT);
    assert_int_equal(m.id.num, 42);
    proto_msg_free(&m);
    parse_client("leave", &m);
    assert_int_equal(m.type, PROTO_LEAVE);
    assert_int_equal(m.id.kind, PROTO_ID_NONE);
    proto_msg_free(&m);
}

static void test_set_preference(void **state)
{
    proto_msg_t m;
    parse_client("set_preference", &m);
    assert_int_equal(m.type, PROTO_SET_PREFERENCE);
    assert_true(m.preference.has_max_height);
    assert_int_equal(m.preference.max_height, 360);
    assert_true(m.preference.has_low_bandwidth);
    assert_false(m.preference.low_bandwidth);
    proto_msg_free(&m);

    const char *only_lb = "{\"type\":\"set_preference\",\"low_bandwidth\":true}";
    assert_int_equal(proto_parse(only_lb, strlen(only_lb), &m, NULL), 0);
    assert_false(m.preference.has_max_height);
    assert_true(m.preference.has_low_bandwidth);
    assert_true(m.preference.low_bandwidth);
    proto_msg_free(&m);
}

/* Every client fixture parses, its "type" is the parsed type, and every type has a fixture. */
static void test_every_client_fixture(void **state)
{
    int seen[PROTO_TYPE_COUNT] = {0};
    DIR *d = opendir(FIXTURES "/client");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char *text = fixture("client", e->d_name);
        proto_msg_t m;
        proto_error_t err;
        if (proto_parse(text, strlen(text), &m, &err) != 0)
            fail_msg("%s: %s", e->d_name, err.message);
        json_t *j = load(text);
        assert_string_equal(json_string_value(json_object_get(j, "type")), proto_type_name(m.type));
        seen[m.type]++;
        json_decref(j);
        proto_msg_free(&m);
        free(text);
    }
    closedir(d);
    for (int t = 0; t < PROTO_TYPE_COUNT; t++)
        if (!seen[t])
            fail_msg("no fixture for client type %s", proto_type_name((proto_type_t)t));
}

/* --- ids -------------------------------------------------------------------------------------- */

static void roundtrip_id(const char *text, proto_id_kind_t kind)
{
    proto_msg_t m;
    proto_error_t err;
    if (proto_parse(text, strlen(text), &m, &err) != 0)
        fail_msg("%s: %s", text, err.message);
    assert_int_equal(m.id.kind, kind);
    proto_id_t copy = m.id; /* a value: outlives the message */
    proto_msg_free(&m);
    char *replies[] = {proto_build_ok(&copy), proto_build_pong(&copy),
                       proto_build_publish_answer(&copy, "v=0\r\n"),
                       proto_build_lobby_waiting(&copy, NULL),
                       proto_build_error(&copy, PROTO_ERR_FORBIDDEN, NULL)};
    for (size_t i = 0; i < sizeof replies / sizeof *replies; i++) {
        assert_non_null(replies[i]);
        assert_echoes(replies[i], &copy);
        free(replies[i]);
    }
}

static void test_id_echo(void **state)
{
    roundtrip_id("{\"type\":\"ping\",\"id\":\"r1\"}", PROTO_ID_STRING);
    roundtrip_id("{\"type\":\"ping\",\"id\":\"\"}", PROTO_ID_STRING);
    roundtrip_id("{\"type\":\"ping\",\"id\":0}", PROTO_ID_INT);
    roundtrip_id("{\"type\":\"ping\",\"id\":42}", PROTO_ID_INT);
    roundtrip_id("{\"type\":\"ping\",\"id\":9007199254740992}", PROTO_ID_INT);
    roundtrip_id("{\"type\":\"ping\",\"id\":\"a \\\"quoted\\\" \\u00e9 id\"}", PROTO_ID_STRING);
    roundtrip_id("{\"type\":\"ping\"}", PROTO_ID_NONE);

    proto_msg_t m;
    const char *big = "{\"type\":\"ping\",\"id\":9007199254740992}";
    assert_int_equal(proto_parse(big, strlen(big), &m, NULL), 0);
    assert_true(m.id.num == 9007199254740992LL);
    char *ok = proto_build_ok(&m.id);
    assert_string_equal(ok, "{\"type\":\"ok\",\"id\":9007199254740992}");
    free(ok);
    proto_msg_free(&m);

    const char *esc = "{\"type\":\"ping\",\"id\":\"\\u00e9/x\"}";
    assert_int_equal(proto_parse(esc, strlen(esc), &m, NULL), 0);
    assert_string_equal(m.id.str, "\xc3\xa9/x");
    assert_int_equal(m.id.len, 4);
    proto_msg_free(&m);
}

static void test_id_limits(void **state)
{
    const char *msg =
        "field 'id' must be a string of at most 64 characters or an integer from 0 to 2^53";
    char text[1024];
    char s[600];
    /* 64 characters pass, 65 do not; characters, not bytes: 64 two-byte "é" pass. */
    memset(s, 'a', 64);
    s[64] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"id\":\"%s\"}", s);
    roundtrip_id(text, PROTO_ID_STRING);
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"id\":\"%sb\"}", s);
    expect_bad_request(text, msg);
    s[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(s, "\xc3\xa9");
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"id\":\"%s\"}", s);
    roundtrip_id(text, PROTO_ID_STRING);
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"id\":\"%s\xc3\xa9\"}", s);
    expect_bad_request(text, msg);
    s[0] = '\0';
    for (int i = 0; i < 64; i++)
        strcat(s, "\xf0\x9f\x98\x80"); /* 64 emoji: 256 bytes */
    snprintf(text, sizeof text, "{\"type\":\"ping\",\"id\":\"%s\"}", s);
    roundtrip_id(text, PROTO_ID_STRING);

    expect_bad_request("{\"type\":\"ping\",\"id\":9007199254740993}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":-1}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":1.5}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":1e3}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":null}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":true}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":[\"r1\"]}", msg);
    expect_bad_request("{\"type\":\"ping\",\"id\":{}}", msg);

    /* A bad id is not echoed. */
    proto_msg_t m;
    proto_error_t err;
    const char *neg = "{\"type\":\"ping\",\"id\":-1}";
    assert_int_equal(proto_parse(neg, strlen(neg), &m, &err), LG_EMALFORMED);
    assert_int_equal(err.id.kind, PROTO_ID_NONE);
}

/* A refusal after the id was read echoes it, whatever went wrong. */
static void test_error_echoes_id(void **state)
{
    static const struct {
        const char *text;
        proto_code_t code;
    } cases[] = {
        {"{\"id\":\"r1\"}", PROTO_ERR_BAD_REQUEST},
        {"{\"type\":\"hello\",\"id\":7}", PROTO_ERR_UNKNOWN_TYPE},
        {"{\"type\":\"publish\",\"id\":\"r2\"}", PROTO_ERR_BAD_REQUEST},
        {"{\"type\":\"join\",\"id\":8,\"protocol\":2,\"token\":\"t\"}",
         PROTO_ERR_UNSUPPORTED_PROTOCOL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        proto_msg_t m;
        proto_error_t err;
        assert_true(proto_parse(cases[i].text, strlen(cases[i].text), &m, &err) < 0);
        assert_int_equal(err.code, cases[i].code);
        assert_int_not_equal(err.id.kind, PROTO_ID_NONE);
        char *reply = proto_build_error_from(&err);
        assert_echoes(reply, &err.id);
        json_t *j = load(reply);
        assert_string_equal(json_string_value(json_object_get(j, "code")),
                            proto_code_name(cases[i].code));
        assert_string_equal(json_string_value(json_object_get(j, "message")), err.message);
        json_decref(j);
        free(reply);
    }
}

/* --- refusals --------------------------------------------------------------------------------- */

/* Each errors/<case>.request.json is refused with exactly errors/<case>.reply.json. */
static void test_error_fixtures(void **state)
{
    DIR *d = opendir(FIXTURES "/errors");
    assert_non_null(d);
    struct dirent *e;
    int cases = 0;
    while ((e = readdir(d)) != NULL) {
        char *dot = strstr(e->d_name, ".request.json");
        if (!dot)
            continue;
        char reply_name[300];
        snprintf(reply_name, sizeof reply_name, "%.*s.reply.json", (int)(dot - e->d_name),
                 e->d_name);
        char *req = fixture("errors", e->d_name);
        char *want = fixture("errors", reply_name);
        proto_msg_t m;
        proto_error_t err;
        int rc = proto_parse(req, strlen(req), &m, &err);
        assert_true(rc < 0);
        assert_null(m.root);
        char *built = proto_build_error_from(&err);
        assert_non_null(built);
        if (err.code == PROTO_ERR_BAD_JSON) {
            /* jansson words the detail; the prefix and the position are ours. */
            json_t *w = load(want), *b = load(built);
            assert_string_equal(json_string_value(json_object_get(b, "code")), "bad_json");
            assert_true(strncmp(json_string_value(json_object_get(b, "message")),
                                "invalid JSON at line 1, column ", 31) == 0);
            assert_int_equal(rc, LG_EMALFORMED);
            json_decref(w);
            json_decref(b);
            free(built);
        } else {
            assert_built(built, want);
        }
        free(req);
        free(want);
        cases++;
    }
    closedir(d);
    assert_true(cases >= 8);
}

static void test_return_codes(void **state)
{
    expect_refusal("{\"type\":", LG_EMALFORMED, PROTO_ERR_BAD_JSON, NULL);
    expect_refusal("{\"type\":\"join\",\"protocol\":2,\"token\":\"t\"}", LG_EUNSUPPORTED,
                   PROTO_ERR_UNSUPPORTED_PROTOCOL,
                   "protocol 2 is not supported: this server speaks protocol 1");
    expect_refusal("{\"type\":\"join\",\"protocol\":0,\"token\":\"t\"}", LG_EUNSUPPORTED,
                   PROTO_ERR_UNSUPPORTED_PROTOCOL,
                   "protocol 0 is not supported: this server speaks protocol 1");
    expect_refusal("{\"type\":\"nope\"}", LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE,
                   "unknown message type 'nope'");

    proto_msg_t m;
    proto_error_t err;
    assert_int_equal(proto_parse(NULL, 0, &m, &err), LG_EINVAL);
    assert_int_equal(err.code, PROTO_ERR_INTERNAL);
    assert_int_equal(proto_parse("{}", 2, NULL, &err), LG_EINVAL);
    assert_int_equal(proto_parse("{\"type\":\"ping\"}", 15, &m, NULL), 0); /* err optional */
    proto_msg_free(&m);
}

static void test_bad_json(void **state)
{
    static const char *inputs[] = {
        "",
        "   ",
        "{",
        "nul",
        "{\"type\":\"ping\"} x",                    /* trailing bytes */
        "{\"type\":\"ping\"}{\"type\":\"ping\"}",   /* two messages */
        "{\"type\":\"ping\",\"type\":\"leave\"}",   /* duplicate key */
        "{\"type\":\"ping\",\"id\":\"a\\u0000b\"}", /* NUL inside a string */
        "{\"type\":\"ping\",\"id\":\"\xff\xfe\"}",  /* not UTF-8 */
        "{\"type\":\"ping\",\"id\":\"\xc0\xaf\"}",  /* overlong */
        "{\"type\":\"ping\",\"id\":\"\\ud800\"}",   /* lone surrogate */
        "{'type':'ping'}",
        "{\"type\":\"ping\",}",
        "{\"type\":\"ping\",\"id\":99999999999999999999999}",
    };
    for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++)
        expect_refusal(inputs[i], LG_EMALFORMED, PROTO_ERR_BAD_JSON, NULL);

    /* A NUL byte inside the buffer (len counts it) is not a message. */
    const char with_nul[] = "{\"type\":\"ping\"}\0{}";
    proto_msg_t m;
    proto_error_t err;
    assert_int_equal(proto_parse(with_nul, sizeof with_nul - 1, &m, &err), LG_EMALFORMED);
    assert_int_equal(err.code, PROTO_ERR_BAD_JSON);
    /* ... but len bounds the input: the same bytes up to the NUL are fine. */
    assert_int_equal(proto_parse(with_nul, 15, &m, &err), 0);
    proto_msg_free(&m);

    /* The message says where and why, and is safe to send back. */
    const char *bad = "{\"type\":\"ping\",\"id\":\"\xff\"}";
    assert_int_equal(proto_parse(bad, strlen(bad), &m, &err), LG_EMALFORMED);
    assert_true(strncmp(err.message, "invalid JSON at line 1, column ", 31) == 0);
    char *reply = proto_build_error_from(&err);
    json_decref(load(reply));
    free(reply);
}

static void test_not_an_object(void **state)
{
    expect_bad_request("[\"ping\"]", "a message must be a JSON object, not an array");
    expect_bad_request("\"ping\"", "a message must be a JSON object, not a string");
    expect_bad_request("42", "a message must be a JSON object, not a number");
    expect_bad_request("null", "a message must be a JSON object, not null");
    expect_bad_request("true", "a message must be a JSON object, not a boolean");
}

static void test_type_field(void **state)
{
    expect_bad_request("{}", "missing field 'type' (must be a string)");
    expect_bad_request("{\"type\":5}", "field 'type' must be a string");
    expect_bad_request("{\"type\":null}", "field 'type' must be a string");
    /* Server message types and near misses are unknown to the parser. */
    expect_refusal("{\"type\":\"hello\"}", LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE,
                   "unknown message type 'hello'");
    expect_refusal("{\"type\":\"Ping\"}", LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE,
                   "unknown message type 'Ping'");
    expect_refusal("{\"type\":\"\"}", LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE,
                   "unknown message type ''");
    /* Quoted text is shortened (at a character edge) and control characters become '?'. */
    expect_refusal("{\"type\":\"a\\nb\\u001bc\"}", LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE,
                   "unknown message type 'a?b?c'");
    char text[512], want[128];
    char name[201];
    memset(name, 'x', 200);
    name[200] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"%s\"}", name);
    snprintf(want, sizeof want, "unknown message type '%.40s...'", name);
    expect_refusal(text, LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE, want);
    /* 39 x then a two-byte character straddling byte 40: cut before it. */
    snprintf(text, sizeof text, "{\"type\":\"%.39s\xc3\xa9zz\"}", name);
    snprintf(want, sizeof want, "unknown message type '%.39s...'", name);
    expect_refusal(text, LG_EMALFORMED, PROTO_ERR_UNKNOWN_TYPE, want);
}

static void test_field_errors(void **state)
{
    static const struct {
        const char *text, *message;
    } cases[] = {
        {"{\"type\":\"join\"}", "missing field 'token' (must be a non-empty string)"},
        {"{\"type\":\"join\",\"token\":5}", "field 'token' must be a non-empty string"},
        {"{\"type\":\"join\",\"token\":\"\"}", "field 'token' must be a non-empty string"},
        {"{\"type\":\"join\",\"token\":\"t\",\"protocol\":\"1\"}",
         "field 'protocol' must be an integer"},
        {"{\"type\":\"join\",\"token\":\"t\",\"protocol\":1.0}",
         "field 'protocol' must be an integer"},
        {"{\"type\":\"join\",\"token\":\"t\",\"display_name\":7}",
         "field 'display_name' must be a string"},
        {"{\"type\":\"join\",\"token\":\"t\",\"options\":[]}", "field 'options' must be an object"},
        {"{\"type\":\"join\",\"token\":\"t\",\"options\":{\"low_bandwidth\":1}}",
         "field 'options.low_bandwidth' must be a boolean"},
        {"{\"type\":\"publish\"}", "missing field 'sdp' (must be a non-empty string)"},
        {"{\"type\":\"publish\",\"sdp\":{\"type\":\"offer\"}}",
         "field 'sdp' must be a non-empty string"},
        {"{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\"}",
         "missing field 'seq' (must be an integer from 0 to 9007199254740992)"},
        {"{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"seq\":-1}",
         "field 'seq' must be an integer from 0 to 9007199254740992"},
        {"{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"seq\":\"1\"}",
         "field 'seq' must be an integer from 0 to 9007199254740992"},
        {"{\"type\":\"mute\",\"muted\":true}",
         "missing field 'kind' (must be one of 'audio', 'video', 'screen')"},
        {"{\"type\":\"mute\",\"kind\":1,\"muted\":true}",
         "field 'kind' must be one of 'audio', 'video', 'screen'"},
        {"{\"type\":\"mute\",\"kind\":\"Audio\",\"muted\":true}",
         "field 'kind' must be one of 'audio', 'video', 'screen'"},
        {"{\"type\":\"mute\",\"kind\":\"audio\",\"muted\":\"true\"}",
         "field 'muted' must be a boolean"},
        {"{\"type\":\"mute\",\"kind\":\"audio\",\"muted\":0}", "field 'muted' must be a boolean"},
        {"{\"type\":\"kick\"}",
         "missing field 'participant_id' (must be a string of 1 to 64 bytes)"},
        {"{\"type\":\"kick\",\"participant_id\":\"\"}",
         "field 'participant_id' must be a string of 1 to 64 bytes"},
        {"{\"type\":\"kick\",\"participant_id\":\"p\",\"reason\":null}",
         "field 'reason' must be a string of at most 256 bytes"},
        {"{\"type\":\"mute_participant\",\"participant_id\":\"p\"}",
         "missing field 'kind' (must be one of 'audio', 'video', 'screen')"},
        {"{\"type\":\"lock\"}", "missing field 'locked' (must be a boolean)"},
        {"{\"type\":\"lock\",\"locked\":\"yes\"}", "field 'locked' must be a boolean"},
        {"{\"type\":\"admit\"}",
         "missing field 'participant_id' (must be a string of 1 to 64 bytes)"},
        {"{\"type\":\"deny\",\"participant_id\":7}",
         "field 'participant_id' must be a string of 1 to 64 bytes"},
        {"{\"type\":\"set_preference\",\"max_height\":8193}",
         "field 'max_height' must be an integer from 0 to 8192"},
        {"{\"type\":\"set_preference\",\"max_height\":-1}",
         "field 'max_height' must be an integer from 0 to 8192"},
        {"{\"type\":\"set_preference\",\"max_height\":360.5}",
         "field 'max_height' must be an integer from 0 to 8192"},
        {"{\"type\":\"set_preference\",\"low_bandwidth\":\"no\"}",
         "field 'low_bandwidth' must be a boolean"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        expect_bad_request(cases[i].text, cases[i].message);
}

static void test_length_limits(void **state)
{
    char text[1024], s[300];
    memset(s, 'p', 64);
    s[64] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"admit\",\"participant_id\":\"%s\"}", s);
    proto_msg_t m;
    assert_int_equal(proto_parse(text, strlen(text), &m, NULL), 0);
    assert_int_equal(strlen(m.target.participant_id), 64);
    proto_msg_free(&m);
    snprintf(text, sizeof text, "{\"type\":\"admit\",\"participant_id\":\"%sp\"}", s);
    expect_bad_request(text, "field 'participant_id' must be a string of 1 to 64 bytes");

    memset(s, 'r', 256);
    s[256] = '\0';
    snprintf(text, sizeof text, "{\"type\":\"kick\",\"participant_id\":\"p\",\"reason\":\"%s\"}",
             s);
    assert_int_equal(proto_parse(text, strlen(text), &m, NULL), 0);
    assert_int_equal(strlen(m.target.reason), 256);
    proto_msg_free(&m);
    snprintf(text, sizeof text, "{\"type\":\"kick\",\"participant_id\":\"p\",\"reason\":\"%sr\"}",
             s);
    expect_bad_request(text, "field 'reason' must be a string of at most 256 bytes");

    const char *edges = "{\"type\":\"set_preference\",\"max_height\":0}";
    assert_int_equal(proto_parse(edges, strlen(edges), &m, NULL), 0);
    assert_true(m.preference.has_max_height);
    assert_int_equal(m.preference.max_height, 0);
    proto_msg_free(&m);
    edges = "{\"type\":\"set_preference\",\"max_height\":8192}";
    assert_int_equal(proto_parse(edges, strlen(edges), &m, NULL), 0);
    assert_int_equal(m.preference.max_height, 8192);
    proto_msg_free(&m);
    edges = "{\"type\":\"subscribe_answer\",\"sdp\":\"v=0\",\"seq\":9007199254740992}";
    assert_int_equal(proto_parse(edges, strlen(edges), &m, NULL), 0);
    assert_true(m.sdp.seq == 9007199254740992LL);
    proto_msg_free(&m);
}

/* 65536 bytes are accepted, 65537 are too_large, before any JSON is read. */
static void test_too_large(void **state)
{
    size_t cap = PROTO_MAX_MESSAGE + 1;
    char *buf = malloc(cap);
    assert_non_null(buf);
    const char *head = "{\"type\":\"ping\",\"id\":\"big\"}";
    memset(buf, ' ', cap);
    memcpy(buf, head, strlen(head));
    proto_msg_t m;
    proto_error_t err;
    assert_int_equal(proto_parse(buf, PROTO_MAX_MESSAGE, &m, &err), 0);
    assert_int_equal(m.type, PROTO_PING);
    proto_msg_free(&m);
    assert_int_equal(proto_parse(buf, cap, &m, &err), LG_ERANGE);
    assert_int_equal(err.code, PROTO_ERR_TOO_LARGE);
    assert_int_equal(err.id.kind, PROTO_ID_NONE);
    assert_string_equal(err.message, "the message is 65537 bytes; the limit is 65536");
    char *reply = proto_build_error_from(&err);
    assert_string_equal(reply, "{\"type\":\"error\",\"code\":\"too_large\",\"message\":\"the "
                               "message is 65537 bytes; the limit is 65536\"}");
    free(reply);
    free(buf);
}

static void test_unknown_members_ignored(void **state)
{
    const char *text = "{\"type\":\"mute\",\"kind\":\"screen\",\"muted\":false,\"future\":{\"a\":["
                       "1,2]},\"display_name\":null}";
    proto_msg_t m;
    assert_int_equal(proto_parse(text, strlen(text), &m, NULL), 0);
    assert_int_equal(m.mute.kind, PROTO_KIND_SCREEN);
    assert_false(m.mute.muted);
    proto_msg_free(&m);
    proto_msg_free(&m); /* freeing twice is safe */
}

/* --- builders: each documented server message, built from the values it shows ----------------- */

static const proto_id_t ID_R1 = {.kind = PROTO_ID_STRING, .len = 2, .str = "r1"};
static const proto_id_t ID_R2 = {.kind = PROTO_ID_STRING, .len = 2, .str = "r2"};

static char *b_hello(const json_t *f)
{
    return proto_build_hello();
}

static char *b_joined(const json_t *f)
{
    static const proto_track_t bernard[] = {{"t-2b81d0-a", PROTO_KIND_AUDIO, "0"},
                                            {"t-2b81d0-v", PROTO_KIND_VIDEO, "1"}};
    static const proto_participant_t others[] = {
        {"p-2b81d0", "Bernard Okafor", "participant", false, false, bernard, 2},
        {"p-c4e2aa", "Chen Wei", "observer", true, true, NULL, 0},
    };
    proto_room_t room = {"cabinet-1", false, true, others, 2, false};
    return proto_build_joined(&ID_R1, "p-7f3a9c", "moderator", "Alice Martin", &room);
}

static char *b_lobby_waiting(const json_t *f)
{
    return proto_build_lobby_waiting(&ID_R1, NULL);
}

static char *b_lobby_update(const json_t *f)
{
    proto_waiting_t w[] = {{"p-9d04e1", "Dana Petrova"}, {"p-5e6f70", "\xc3\x89mile Laurent"}};
    return proto_build_lobby_update(w, 2);
}

static char *b_participant_joined(const json_t *f)
{
    proto_participant_t p = {"p-9d04e1", "Dana Petrova", "participant", false, true, NULL, 0};
    return proto_build_participant_joined(&p);
}

static char *b_participant_left(const json_t *f)
{
    return proto_build_participant_left("p-c4e2aa", "kicked");
}

static char *b_track_added(const json_t *f)
{
    proto_track_t t = {"t-9d04e1-s", PROTO_KIND_SCREEN, "2"};
    return proto_build_track_added("p-9d04e1", &t);
}

static char *b_track_removed(const json_t *f)
{
    return proto_build_track_removed("p-9d04e1", "t-9d04e1-s");
}

static char *b_mute_changed(const json_t *f)
{
    return proto_build_mute_changed("p-2b81d0", PROTO_KIND_AUDIO, true, "p-7f3a9c");
}

static char *b_mute_changed_self(const json_t *f)
{
    return proto_build_mute_changed("p-7f3a9c", PROTO_KIND_VIDEO, true, NULL);
}

static char *b_room_locked(const json_t *f)
{
    return proto_build_room_locked(true, "p-7f3a9c");
}

static char *b_room_lobby(const json_t *f)
{
    return proto_build_room_lobby(true, "p-7f3a9c");
}

static char *b_media_state(const json_t *f)
{
    return proto_build_media_state("publish", "closed", "consent_expired");
}

static char *b_audio_mode(const json_t *f)
{
    return proto_build_audio_mode(true);
}

static char *b_kicked(const json_t *f)
{
    return proto_build_kicked("disruptive behaviour");
}

static char *b_denied(const json_t *f)
{
    return proto_build_denied();
}

static char *b_meeting_ended(const json_t *f)
{
    return proto_build_meeting_ended("p-7f3a9c");
}

/* The SDP bodies are opaque to the codec: taken from the fixture, the envelope is checked. */
static char *b_publish_answer(const json_t *f)
{
    return proto_build_publish_answer(&ID_R2, json_string_value(json_object_get(f, "sdp")));
}

static char *b_subscribe_offer(const json_t *f)
{
    return proto_build_subscribe_offer(json_string_value(json_object_get(f, "sdp")), 1);
}

static char *b_active_speaker(const json_t *f)
{
    return proto_build_active_speaker("p-2b81d0");
}

static char *b_pong(const json_t *f)
{
    proto_id_t id = {.kind = PROTO_ID_INT, .num = 42};
    return proto_build_pong(&id);
}

static char *b_ok(const json_t *f)
{
    proto_id_t id = {.kind = PROTO_ID_STRING, .len = 2, .str = "r7"};
    return proto_build_ok(&id);
}

static char *b_error(const json_t *f)
{
    proto_id_t id = {.kind = PROTO_ID_STRING, .len = 2, .str = "r5"};
    return proto_build_error(&id, PROTO_ERR_FORBIDDEN, "%s needs the %s role; you are a %s", "kick",
                             "moderator", "participant");
}

/* The relay's refusal of mixed audio in an E2EE room is the code's default sentence. */
static char *b_error_e2ee_room(const json_t *f)
{
    proto_id_t id = {.kind = PROTO_ID_STRING, .len = 3, .str = "r11"};
    return proto_build_error(&id, PROTO_ERR_E2EE_ROOM, NULL);
}

static const struct {
    const char *file;
    char *(*build)(const json_t *fixture);
} SERVER_CASES[] = {
    {"hello.json", b_hello},
    {"joined.json", b_joined},
    {"lobby_waiting.json", b_lobby_waiting},
    {"lobby_update.json", b_lobby_update},
    {"participant_joined.json", b_participant_joined},
    {"participant_left.json", b_participant_left},
    {"track_added.json", b_track_added},
    {"track_removed.json", b_track_removed},
    {"mute_changed.json", b_mute_changed},
    {"mute_changed_self.json", b_mute_changed_self},
    {"room_locked.json", b_room_locked},
    {"room_lobby.json", b_room_lobby},
    {"media_state.json", b_media_state},
    {"audio_mode.json", b_audio_mode},
    {"kicked.json", b_kicked},
    {"denied.json", b_denied},
    {"meeting_ended.json", b_meeting_ended},
    {"publish_answer.json", b_publish_answer},
    {"subscribe_offer.json", b_subscribe_offer},
    {"active_speaker.json", b_active_speaker},
    {"pong.json", b_pong},
    {"ok.json", b_ok},
    {"error.json", b_error},
    {"error_e2ee_room.json", b_error_e2ee_room},
};
#define N_SERVER_CASES (sizeof SERVER_CASES / sizeof *SERVER_CASES)

static void test_builders_match_fixtures(void **state)
{
    for (size_t i = 0; i < N_SERVER_CASES; i++) {
        char *text = fixture("server", SERVER_CASES[i].file);
        json_t *f = load(text);
        char *built = SERVER_CASES[i].build(f);
        if (!built)
            fail_msg("%s: builder returned NULL", SERVER_CASES[i].file);
        if (strcmp(SERVER_CASES[i].file, "hello.json") == 0) {
            /* The version moves; the fixture shows the one of its day. */
            assert_string_equal(
                built,
                "{\"type\":\"hello\",\"protocol\":1,\"server\":\"legation " LG_VERSION "\"}");
            const char *v = json_string_value(json_object_get(f, "server"));
            assert_true(strncmp(v, "legation ", 9) == 0);
            free(built);
        } else {
            assert_built(built, text);
        }
        json_decref(f);
        free(text);
    }
    /* Every documented server message is checked above. */
    DIR *d = opendir(FIXTURES "/server");
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        size_t i = 0;
        while (i < N_SERVER_CASES && strcmp(SERVER_CASES[i].file, e->d_name) != 0)
            i++;
        if (i == N_SERVER_CASES)
            fail_msg("server/%s has no builder check", e->d_name);
    }
    closedir(d);
}

/* Built messages parse back with the right members and types (beyond the fixtures' values). */
static void test_builders_parse_back(void **state)
{
    char *s = proto_build_subscribe_offer("v=0\r\n", 9007199254740992LL);
    json_t *j = load(s);
    assert_string_equal(json_string_value(json_object_get(j, "type")), "subscribe_offer");
    assert_string_equal(json_string_value(json_object_get(j, "sdp")), "v=0\r\n");
    assert_true(json_integer_value(json_object_get(j, "seq")) == 9007199254740992LL);
    json_decref(j);
    free(s);

    s = proto_build_room_locked(false, "p-1");
    j = load(s);
    assert_true(json_is_false(json_object_get(j, "locked")));
    json_decref(j);
    free(s);

    s = proto_build_lobby_update(NULL, 0); /* lobby emptied */
    assert_string_equal(s, "{\"type\":\"lobby_update\",\"waiting\":[]}");
    free(s);

    proto_room_t empty = {"r", true, false, NULL, 0, true};
    s = proto_build_joined(NULL, "p-1", "observer", "Ö \"quoted\"", &empty);
    j = load(s);
    assert_null(json_object_get(j, "id"));
    assert_string_equal(json_string_value(json_object_get(j, "name")), "Ö \"quoted\"");
    json_t *room = json_object_get(j, "room");
    assert_true(json_is_true(json_object_get(room, "locked")));
    assert_true(json_is_true(json_object_get(room, "e2ee")));
    assert_int_equal(json_array_size(json_object_get(room, "participants")), 0);
    assert_true(json_is_array(json_object_get(room, "participants")));
    json_decref(j);
    free(s);

    /* Server messages are not client messages: a reply fed back is an unknown type. */
    proto_id_t id = {.kind = PROTO_ID_INT, .num = 5};
    s = proto_build_ok(&id);
    proto_msg_t m;
    proto_error_t err;
    assert_int_equal(proto_parse(s, strlen(s), &m, &err), LG_EMALFORMED);
    assert_int_equal(err.code, PROTO_ERR_UNKNOWN_TYPE);
    assert_int_equal(err.id.kind, PROTO_ID_INT);
    assert_int_equal(err.id.num, 5);
    free(s);
}

static void test_builder_refusals(void **state)
{
    proto_track_t bad_kind = {"t", (proto_kind_t)7, "0"};
    proto_participant_t no_tracks = {"p", "n", "participant", false, false, NULL, 3};
    proto_room_t bad_room = {"r", false, false, NULL, 2, false};
    proto_id_t bad_id = {.kind = (proto_id_kind_t)9};
    proto_id_t neg_id = {.kind = PROTO_ID_INT, .num = -1};
    proto_id_t long_id = {.kind = PROTO_ID_STRING, .len = 65};
    memset(long_id.str, 'a', 65);
    proto_id_t bad_utf8_id = {.kind = PROTO_ID_STRING, .len = 1, .str = "\xff"};
    char *r[] = {
        proto_build_participant_left(NULL, "left"),
        proto_build_participant_left("p", "\xff\xfe"),
        proto_build_kicked(NULL),
        proto_build_track_added("p", NULL),
        proto_build_track_added("p", &bad_kind),
        proto_build_track_removed("p", NULL),
        proto_build_mute_changed("p", PROTO_KIND_COUNT, true, NULL),
        proto_build_mute_changed("p", PROTO_KIND_AUDIO, true, "\xc3"),
        proto_build_participant_joined(NULL),
        proto_build_participant_joined(&no_tracks),
        proto_build_joined(NULL, "p", "moderator", "n", &bad_room),
        proto_build_joined(NULL, "p", "moderator", "n", NULL),
        proto_build_joined(NULL, NULL, "moderator", "n", &(proto_room_t){"r", 0, 0, NULL, 0, 0}),
        proto_build_lobby_update(NULL, 1),
        proto_build_subscribe_offer("v=0\r\n", -1),
        proto_build_subscribe_offer("v=0\r\n", 9007199254740993LL),
        proto_build_publish_answer(NULL, NULL),
        proto_build_ok(&bad_id),
        proto_build_ok(&neg_id),
        proto_build_pong(&long_id),
        proto_build_ok(&bad_utf8_id),
        proto_build_error(NULL, PROTO_ERR_NONE, NULL),
        proto_build_error(NULL, PROTO_CODE_COUNT, NULL),
        proto_build_error_from(NULL),
    };
    for (size_t i = 0; i < sizeof r / sizeof *r; i++)
        if (r[i] != NULL)
            fail_msg("case %zu: expected NULL, built %s", i, r[i]);
}

static void test_build_error_text(void **state)
{
    char *s = proto_build_error(NULL, PROTO_ERR_ROOM_LOCKED, NULL);
    assert_string_equal(
        s, "{\"type\":\"error\",\"code\":\"room_locked\",\"message\":\"the room is locked\"}");
    free(s);

    /* Bytes from anywhere become safe text. */
    s = proto_build_error(NULL, PROTO_ERR_BAD_SDP, "line %d: %s", 14,
                          "\x01"
                          "bad\xff"
                          "byte\x7f\xc2\x9b");
    json_t *j = load(s);
    assert_string_equal(json_string_value(json_object_get(j, "message")), "line 14: ?bad?byte???");
    json_decref(j);
    free(s);

    /* A long message is cut to PROTO_MESSAGE_LEN - 1 bytes without splitting a character. */
    char longtext[1024] = "";
    for (int i = 0; i < 300; i++)
        strcat(longtext, "\xc3\xa9");
    s = proto_build_error(NULL, PROTO_ERR_INTERNAL, "%s", longtext);
    j = load(s);
    const char *msg = json_string_value(json_object_get(j, "message"));
    assert_int_equal(strlen(msg), 254); /* 127 two-byte characters; the half at byte 255 goes */
    assert_string_equal(msg + 252, "\xc3\xa9");
    json_decref(j);
    free(s);

    /* A three-byte character cut after its second byte is dropped whole. */
    char cut[300];
    memset(cut, 'a', 253);
    strcpy(cut + 253, "\xe2\x82\xac"); /* euro sign at bytes 253..255 */
    s = proto_build_error(NULL, PROTO_ERR_INTERNAL, "%s", cut);
    j = load(s);
    assert_int_equal(json_string_length(json_object_get(j, "message")), 253);
    json_decref(j);
    free(s);

    /* Every wire code builds. */
    for (int c = PROTO_ERR_NONE + 1; c < PROTO_CODE_COUNT; c++) {
        s = proto_build_error(&ID_R1, (proto_code_t)c, NULL);
        j = load(s);
        assert_string_equal(json_string_value(json_object_get(j, "code")),
                            proto_code_name((proto_code_t)c));
        assert_true(json_string_length(json_object_get(j, "message")) > 0);
        json_decref(j);
        free(s);
    }
}

/* --- names ------------------------------------------------------------------------------------ */

static void test_names(void **state)
{
    static const char *types[] = {"join",        "publish",        "subscribe_answer",
                                  "mute",        "kick",           "mute_participant",
                                  "lock",        "admit",          "deny",
                                  "end_meeting", "set_preference", "ping",
                                  "leave",       "set_lobby"};
    assert_int_equal(PROTO_TYPE_COUNT, sizeof types / sizeof *types);
    for (int t = 0; t < PROTO_TYPE_COUNT; t++) {
        assert_string_equal(proto_type_name((proto_type_t)t), types[t]);
        proto_type_t back;
        assert_int_equal(proto_type_from_name(types[t], &back), 0);
        assert_int_equal(back, t);
    }
    assert_string_equal(proto_type_name(PROTO_TYPE_COUNT), "?");
    assert_string_equal(proto_type_name((proto_type_t)-1), "?");
    proto_type_t t;
    assert_int_equal(proto_type_from_name("hello", &t), LG_ENOTFOUND);
    assert_int_equal(proto_type_from_name(NULL, &t), LG_ENOTFOUND);

    static const char *codes[] = {
        "bad_json",       "too_large",      "unknown_type", "bad_request",   "unsupported_protocol",
        "not_joined",     "already_joined", "bad_token",    "token_expired", "token_not_yet_valid",
        "wrong_audience", "wrong_room",     "forbidden",    "room_locked",   "room_full",
        "kicked",         "denied",         "not_found",    "bad_sdp",       "e2ee_room",
        "e2ee_mismatch",  "rate_limited",   "internal"};
    assert_int_equal(PROTO_CODE_COUNT - 1, sizeof codes / sizeof *codes);
    for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
        proto_code_t c;
        assert_int_equal(proto_code_from_name(codes[i], &c), 0);
        assert_string_equal(proto_code_name(c), codes[i]);
        assert_true(strlen(proto_code_message(c)) > 0);
    }
    proto_code_t c;
    assert_int_equal(proto_code_from_name("none", &c), LG_ENOTFOUND);
    assert_string_equal(proto_code_name(PROTO_ERR_NONE), "none");
    assert_string_equal(proto_code_name(PROTO_CODE_COUNT), "?");

    proto_kind_t k;
    assert_int_equal(proto_kind_from_name("screen", &k), 0);
    assert_int_equal(k, PROTO_KIND_SCREEN);
    assert_string_equal(proto_kind_name(PROTO_KIND_AUDIO), "audio");
    assert_string_equal(proto_kind_name(PROTO_KIND_COUNT), "?");
    assert_int_equal(proto_kind_from_name("data", &k), LG_ENOTFOUND);
}

/* --- the document shows exactly the fixtures -------------------------------------------------- */

typedef struct {
    char *text[128];
    char name[128][300];
    int used[128];
    int n;
} fixture_set_t;

static void collect(fixture_set_t *set, const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, FIXTURES "/%s", dir);
    DIR *d = opendir(path);
    assert_non_null(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        assert_true(set->n < 128);
        set->text[set->n] = fixture(dir, e->d_name);
        snprintf(set->name[set->n], sizeof set->name[0], "%s/%s", dir, e->d_name);
        set->used[set->n] = 0;
        set->n++;
    }
    closedir(d);
}

static void test_doc_in_sync(void **state)
{
    static fixture_set_t set;
    set.n = 0;
    collect(&set, "client");
    collect(&set, "server");
    collect(&set, "errors");
    char *doc = read_text(DOC);
    int blocks = 0;
    for (char *p = strstr(doc, "```json\n"); p; p = strstr(p, "```json\n")) {
        p += 8;
        char *end = strstr(p, "\n```");
        assert_non_null(end);
        size_t len = (size_t)(end - p);
        int found = -1;
        for (int i = 0; i < set.n && found < 0; i++)
            if (strlen(set.text[i]) == len && memcmp(set.text[i], p, len) == 0)
                found = i;
        if (found < 0)
            fail_msg("docs/PROTOCOL.md shows a json block that is no fixture:\n%.*s", (int)len, p);
        set.used[found]++;
        blocks++;
        p = end + 4;
    }
    for (int i = 0; i < set.n; i++) {
        if (!set.used[i])
            fail_msg("fixture %s is not shown in docs/PROTOCOL.md", set.name[i]);
        free(set.text[i]);
    }
    assert_true(blocks >= set.n);
    free(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_join_minimal),
        cmocka_unit_test(test_publish),
        cmocka_unit_test(test_subscribe_answer),
        cmocka_unit_test(test_mute),
        cmocka_unit_test(test_kick),
        cmocka_unit_test(test_mute_participant),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_set_lobby),
        cmocka_unit_test(test_admit_deny),
        cmocka_unit_test(test_no_field_types),
        cmocka_unit_test(test_set_preference),
        cmocka_unit_test(test_every_client_fixture),
        cmocka_unit_test(test_id_echo),
        cmocka_unit_test(test_id_limits),
        cmocka_unit_test(test_error_echoes_id),
        cmocka_unit_test(test_error_fixtures),
        cmocka_unit_test(test_return_codes),
        cmocka_unit_test(test_bad_json),
        cmocka_unit_test(test_not_an_object),
        cmocka_unit_test(test_type_field),
        cmocka_unit_test(test_field_errors),
        cmocka_unit_test(test_length_limits),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_unknown_members_ignored),
        cmocka_unit_test(test_builders_match_fixtures),
        cmocka_unit_test(test_builders_parse_back),
        cmocka_unit_test(test_builder_refusals),
        cmocka_unit_test(test_build_error_text),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_doc_in_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
