/* Unit tests for signaling/protocol.c building server messages, and that docs/PROTOCOL.md shows
 * exactly the fixtures. */
#include "protocol_fixtures.h"

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
        cmocka_unit_test(test_builders_match_fixtures),
        cmocka_unit_test(test_builders_parse_back),
        cmocka_unit_test(test_builder_refusals),
        cmocka_unit_test(test_build_error_text),
        cmocka_unit_test(test_doc_in_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
