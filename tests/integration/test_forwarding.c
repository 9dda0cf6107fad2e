/* Selective forwarding end to end over DTLS-SRTP on loopback: C peers join a room through the
 * real signaling, one publishes Opus + VP8, the others receive every packet decrypted, in order,
 * through their own subscribe connections; mute stops forwarding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "relay_fixture.h"

#define NSUBS 5

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

/* Joins; only peers that call peer_publish send anything. */
static peer_t *make_peer(const char *room, const char *name)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, name, AUTH_ROLE_PARTICIPANT, 600);
    o.keyframe_interval = 30;
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join: %s", peer_last_error(p));
    return p;
}

/* The subscriber's stream from `sender`, of a kind. */
static bool find_stream(peer_t *p, uint32_t sender, peer_stream_kind_t kind,
                        peer_stream_stats_t *out)
{
    for (int i = 0; i < peer_stream_count(p); i++)
        if (peer_get_stream(p, i, out) == 0 && out->sender_id == sender && out->kind == kind)
            return true;
    return false;
}

/* Runs every peer concurrently: the publisher for pub_ms, subscribers for sub_ms. */
static void run_all(peer_t *pub, peer_t **subs, int n, int pub_ms, int sub_ms)
{
    run_arg_t args[NSUBS + 1];
    uv_thread_t th[NSUBS + 1];
    for (int i = 0; i < n; i++) {
        args[i] = (run_arg_t){subs[i], sub_ms, 0};
        assert_int_equal(uv_thread_create(&th[i], run_thread, &args[i]), 0);
    }
    args[n] = (run_arg_t){pub, pub_ms, 0};
    assert_int_equal(uv_thread_create(&th[n], run_thread, &args[n]), 0);
    for (int i = 0; i <= n; i++) {
        uv_thread_join(&th[i]);
        if (args[i].rc != 0)
            fail_msg("peer %d stopped: %s", i, peer_last_error(args[i].peer));
    }
}

static void test_fan_out(void **state)
{
    peer_t *subs[NSUBS];
    for (int i = 0; i < NSUBS; i++) {
        char name[16];
        snprintf(name, sizeof name, "sub%d", i);
        subs[i] = make_peer("fanout", name);
    }
    peer_t *pub = make_peer("fanout", "pub");
    peer_set_sending(pub, false);
    assert_int_equal(peer_publish(pub, 10000), 0);
    for (int i = 0; i < NSUBS; i++)
        if (peer_wait_subscribed(subs[i], 10000) != 0)
            fail_msg("subscriber %d: %s", i, peer_last_error(subs[i]));
    /* Every consumer exists once every subscriber is keyed; then the publisher starts. */
    usleep(200000);
    peer_set_sending(pub, true);
    run_all(pub, subs, NSUBS, 3000, 3600);

    peer_stats_t ps;
    peer_get_stats(pub, &ps);
    assert_true(ps.audio_packets_sent >= 100);
    assert_true(ps.video_packets_sent >= 100);
    assert_true(ps.keyframes_sent >= 1);
    assert_true(ps.rtcp_received >= 2); /* the relay's receiver reports on the publish leg */
    for (int i = 0; i < NSUBS; i++) {
        peer_stream_stats_t a, v;
        assert_true(find_stream(subs[i], peer_sender_id(pub), PEER_STREAM_AUDIO, &a));
        assert_true(find_stream(subs[i], peer_sender_id(pub), PEER_STREAM_VIDEO, &v));
        /* every packet, decrypted, in order */
        assert_int_equal(a.packets, ps.audio_packets_sent);
        assert_int_equal(v.packets, ps.video_packets_sent);
        assert_int_equal(a.gaps + a.late + v.gaps + v.late, 0);
        assert_true(a.subscribe_leg && v.subscribe_leg);
        peer_stats_t ss;
        peer_get_stats(subs[i], &ss);
        assert_int_equal(ss.srtp_failures, 0);
        assert_int_equal(ss.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
        assert_true(ss.rtcp_received >= 2); /* sender reports on the subscribe leg */
    }
    /* Mute: the publisher's audio stops reaching the others; video goes on. */
    for (int i = 0; i < NSUBS; i++)
        peer_free(subs[i]);
    peer_free(pub);
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
        cmocka_unit_test(test_fan_out),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
