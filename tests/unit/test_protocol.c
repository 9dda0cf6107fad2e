/* Unit tests for signaling/protocol.c parsing client messages: every documented client type,
 * id echo, every refusal and the name tables. */
#include "protocol_fixtures.h"

/* The HS256 secret the join examples are signed with (docs/PROTOCOL.md says so). */
static const uint8_t DOC_SECRET[] = "0123456789abcdef0123456789abcdef-docs-example";

/* --- helpers ---------------------------------------------------------------------------------- */

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
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
