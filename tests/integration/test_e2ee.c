/* End-to-end encrypted rooms over the real relay (WSS signaling, DTLS-SRTP media on loopback): the
 * token decides, a disagreeing token is refused, mixed audio is refused on join and later, the
 * relay does not switch a thin subscriber to mixed audio, and a plain room still mixes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "bench/peer/ws_client.h"
#include "relay_fixture.h"
#include "sfu/lg_error.h"
#include "signaling/audit.h"

#define WAIT_MS 5000

/* --- a raw protocol client (as in test_signaling.c) --------------------------------------------
 */

static json_t *recv_json(wsc_t *c)
{
    char *text;
    size_t len;
    if (wsc_recv(c, &text, &len, WAIT_MS) != 0)
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

/* Receives until a message of `type` arrives; fails on an unexpected error reply. */
static json_t *expect(wsc_t *c, const char *type)
{
    for (int i = 0; i < 20; i++) {
        json_t *j = recv_json(c);
        if (!j)
            fail_msg("no '%s' message (close code %d)", type, wsc_close_code(c));
        if (strcmp(jstr(j, "type"), type) == 0)
            return j;
        if (strcmp(jstr(j, "type"), "error") == 0)
            fail_msg("expected '%s', got error %s: %s", type, jstr(j, "code"), jstr(j, "message"));
        json_decref(j);
    }
    fail_msg("no '%s' among 20 messages", type);
    return NULL;
}

static void expect_error(wsc_t *c, const char *id, const char *code, const char *in_message)
{
    json_t *j = expect(c, "error");
    assert_string_equal(jstr(j, "code"), code);
    assert_string_equal(jstr(j, "id"), id);
    if (!strstr(jstr(j, "message"), in_message))
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
    json_decref(expect(c, "hello"));
    return c;
}

/* Joins with `options` (a JSON object text) and returns the joined message. */
static json_t *join_ok(wsc_t *c, const char *tok, const char *options)
{
    sendf(c, "{\"type\":\"join\",\"id\":\"j\",\"token\":\"%s\",\"options\":%s}", tok, options);
    return expect(c, "joined");
}

static bool room_e2ee(json_t *joined)
{
    json_t *v = json_object_get(json_object_get(joined, "room"), "e2ee");
    assert_true(json_is_boolean(v));
    return json_is_true(v);
}

/* --- signaling ---------------------------------------------------------------------------------
 */

/* The first token decides; a later token that disagrees is refused either way, with a message
 * saying which side is encrypted; joined tells the client. */
static void test_token_decides(void **state)
{
    wsc_t *a = connect_client();
    json_t *j =
        join_ok(a, relay_fixture_token_e2ee("e-secret", "alice", AUTH_ROLE_PARTICIPANT, 600), "{}");
    assert_true(room_e2ee(j));
    json_decref(j);
    wsc_t *x = connect_client();
    sendf(x, "{\"type\":\"join\",\"id\":\"m1\",\"token\":\"%s\"}",
          relay_fixture_token("e-secret", "mallory", AUTH_ROLE_MODERATOR, 600));
    expect_error(x, "m1", "e2ee_mismatch", "room 'e-secret' is end-to-end encrypted");
    wsc_t *b = connect_client();
    j = join_ok(b, relay_fixture_token_e2ee("e-secret", "bob", AUTH_ROLE_PARTICIPANT, 600), "{}");
    assert_true(room_e2ee(j));
    /* the refused join left nothing behind: bob sees alice only */
    assert_int_equal(json_array_size(json_object_get(json_object_get(j, "room"), "participants")),
                     1);
    json_decref(j);

    wsc_t *p = connect_client();
    j = join_ok(p, relay_fixture_token("e-plain", "paul", AUTH_ROLE_PARTICIPANT, 600), "{}");
    assert_false(room_e2ee(j));
    json_decref(j);
    sendf(x, "{\"type\":\"join\",\"id\":\"m2\",\"token\":\"%s\"}",
          relay_fixture_token_e2ee("e-plain", "mallory", AUTH_ROLE_MODERATOR, 600));
    expect_error(x, "m2", "e2ee_mismatch", "already open without end-to-end encryption");
    wsc_close(x, 1000);
    wsc_close(p, 1000);
    wsc_close(b, 1000);
    wsc_close(a, 1000);
}

/* Mixed audio is refused in an E2EE room: on join (either option) and later through
 * set_preference; what does not ask for mixing still works. */
static void test_mixing_refused(void **state)
{
    const char *tok = relay_fixture_token_e2ee("e-nomix", "embassy", AUTH_ROLE_PARTICIPANT, 600);
    char kept[AUTH_TOKEN_MAX];
    snprintf(kept, sizeof kept, "%s", tok);
    wsc_t *c = connect_client();
    sendf(c,
          "{\"type\":\"join\",\"id\":\"j1\",\"token\":\"%s\",\"options\":{\"mixed_audio\":true}}",
          kept);
    expect_error(c, "j1", "e2ee_room", "end-to-end encrypted: the relay cannot decode its audio");
    sendf(c,
          "{\"type\":\"join\",\"id\":\"j2\",\"token\":\"%s\",\"options\":{\"low_bandwidth\":true}}",
          kept);
    expect_error(c, "j2", "e2ee_room", "mixed audio is not available");
    json_t *j = join_ok(c, kept, "{\"mixed_audio\":false,\"low_bandwidth\":false}");
    assert_true(room_e2ee(j));
    json_decref(j);
    sendf(c, "{\"type\":\"set_preference\",\"id\":\"s1\",\"low_bandwidth\":true}");
    expect_error(c, "s1", "e2ee_room", "mixed audio is not available");
    sendf(c, "{\"type\":\"set_preference\",\"id\":\"s2\",\"low_bandwidth\":false,"
             "\"max_height\":360}");
    j = expect(c, "ok");
    assert_string_equal(jstr(j, "id"), "s2");
    json_decref(j);
    /* no audio_mode push ever came: ping and read everything up to the pong */
    sendf(c, "{\"type\":\"ping\",\"id\":\"p\"}");
    for (;;) {
        j = recv_json(c);
        assert_non_null(j);
        assert_string_not_equal(jstr(j, "type"), "audio_mode");
        bool pong = strcmp(jstr(j, "type"), "pong") == 0;
        json_decref(j);
        if (pong)
            break;
    }
    wsc_close(c, 1000);

    /* The audit trail records that the room was created end-to-end encrypted and the refusals. */
    char path[LG_CONFIG_PATH_MAX + 16];
    snprintf(path, sizeof path, "%s/audit.log", rf_cfg.state_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[4096];
    int created = 0, refused = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strstr(line, "\"e-nomix\""))
            continue;
        created += strstr(line, "\"event\":\"room_created\"") && strstr(line, "\"e2ee\":true");
        refused += strstr(line, "\"event\":\"join_refused\"") && strstr(line, "e2ee_room");
    }
    fclose(f);
    assert_int_equal(created, 1);
    assert_int_equal(refused, 2);
}

/* A plain room still mixes: the same requests get audio_mode pushes. */
static void test_plain_room_mixes(void **state)
{
    wsc_t *c = connect_client();
    json_t *j = join_ok(c, relay_fixture_token("e-open", "embassy", AUTH_ROLE_PARTICIPANT, 600),
                        "{\"mixed_audio\":true}");
    assert_false(room_e2ee(j));
    json_decref(j);
    j = expect(c, "audio_mode");
    assert_true(json_is_true(json_object_get(j, "mixed")));
    json_decref(j);
    sendf(c, "{\"type\":\"set_preference\",\"id\":\"s1\",\"low_bandwidth\":false}");
    json_decref(expect(c, "ok"));
    j = expect(c, "audio_mode");
    assert_true(json_is_false(json_object_get(j, "mixed")));
    json_decref(j);
    sendf(c, "{\"type\":\"set_preference\",\"id\":\"s2\",\"low_bandwidth\":true}");
    json_decref(expect(c, "ok"));
    j = expect(c, "audio_mode");
    assert_true(json_is_true(json_object_get(j, "mixed")));
    json_decref(j);
    wsc_close(c, 1000);
}

/* --- media -------------------------------------------------------------------------------------
 */

typedef struct {
    peer_t *peer;
    int run_ms;
    int rc;
} run_arg_t;

static void run_thread(void *arg)
{
    run_arg_t *a = arg;
    a->rc = peer_run(a->peer, a->run_ms);
}

static peer_t *make_peer(const char *token, unsigned remb_bps, bool mixed)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = token;
    o.remb_bps = remb_bps;
    o.mixed_audio = mixed;
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    return p;
}

/* The C peer asking for mixed audio in an E2EE room is refused with the reason. */
static void test_peer_mixed_refused(void **state)
{
    peer_t *p =
        make_peer(relay_fixture_token_e2ee("e-peer", "thin", AUTH_ROLE_PARTICIPANT, 600), 0, true);
    assert_int_equal(peer_join(p, 5000), LG_EPERM);
    if (!strstr(peer_last_error(p), "e2ee_room: this room is end-to-end encrypted"))
        fail_msg("peer error: %s", peer_last_error(p));
    peer_free(p);
}

/* A subscriber whose estimate stays below mix-below-kbps keeps per-speaker audio in an E2EE room
 * (the relay saw the low estimate, counted it, and did not mix); media is forwarded as usual. */
static void test_no_automix(void **state)
{
    uint64_t skipped_before = rf_relay.signaling.stats.e2ee_automix_skipped;
    peer_t *thin =
        make_peer(relay_fixture_token_e2ee("e-thin", "embassy", AUTH_ROLE_PARTICIPANT, 600), 90000,
                  false); /* REMB below the default 150 kbit/s */
    assert_int_equal(peer_join(thin, 5000), 0);
    peer_t *pubs[2];
    for (int i = 0; i < 2; i++) {
        pubs[i] =
            make_peer(relay_fixture_token_e2ee("e-thin", i ? "b" : "a", AUTH_ROLE_PARTICIPANT, 600),
                      0, false);
        assert_int_equal(peer_join(pubs[i], 5000), 0);
        assert_int_equal(peer_publish(pubs[i], 10000), 0);
    }
    assert_int_equal(peer_wait_subscribed(thin, 10000), 0);
    run_arg_t args[3] = {{thin, 4300, 0}, {pubs[0], 4000, 0}, {pubs[1], 4000, 0}};
    uv_thread_t th[3];
    for (int i = 0; i < 3; i++)
        assert_int_equal(uv_thread_create(&th[i], run_thread, &args[i]), 0);
    for (int i = 0; i < 3; i++) {
        uv_thread_join(&th[i]);
        if (args[i].rc != 0)
            fail_msg("peer %d stopped: %s", i, peer_last_error(args[i].peer));
    }
    usleep(300000); /* two stats refreshes */
    lg_counters_t c = rf_relay.worker_stats[0];
    assert_true(c.bwe_low_legs >= 1); /* the relay did see the thin leg as low */
    assert_int_equal(c.mixed_listeners, 0);
    assert_true(rf_relay.signaling.stats.e2ee_automix_skipped > skipped_before);
    int mix = 0, speakers = 0;
    peer_stream_stats_t s;
    for (int i = 0; i < peer_stream_count(thin); i++) {
        if (peer_get_stream(thin, i, &s) != 0 || s.kind != PEER_STREAM_AUDIO || s.packets == 0)
            continue;
        if (s.sender_id == 0)
            mix++;
        else
            speakers++;
    }
    assert_int_equal(mix, 0);
    assert_int_equal(speakers, 2);
    peer_free(thin);
    for (int i = 0; i < 2; i++)
        peer_free(pubs[i]);
}

static int setup(void **state)
{
    return relay_fixture_start(NULL);
}

static int teardown(void **state)
{
    relay_fixture_stop();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_token_decides),    cmocka_unit_test(test_mixing_refused),
        cmocka_unit_test(test_plain_room_mixes), cmocka_unit_test(test_peer_mixed_refused),
        cmocka_unit_test(test_no_automix),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
