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

/* Joins; only peers that call peer_publish send anything. loss > 0: the peer drops that share of
 * the video it receives and NACKs what is missing. */
/* loss: % of received video dropped (then NACKed); rtx: accept RTX on the subscribe leg */
static peer_t *make_peer_rtx(const char *room, const char *name, unsigned loss, bool rtx)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.no_rtx = !rtx;
    o.rx_loss_pct = loss;
    o.send_nacks = loss > 0;
    o.capture_srtp = loss > 0;
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

static peer_t *make_peer_lossy(const char *room, const char *name, unsigned loss)
{
    return make_peer_rtx(room, name, loss, false);
}

static peer_t *make_peer(const char *room, const char *name)
{
    return make_peer_lossy(room, name, 0);
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
    for (int i = 0; i < NSUBS; i++)
        peer_free(subs[i]);
    peer_free(pub);
}

/* Counters of worker 0, as /metrics would show them (read through the control thread's cache). */
static lg_counters_t worker_counters(void)
{
    usleep(300000); /* two stats refreshes */
    return rf_relay.worker_stats[0];
}

/* Loss on one subscriber's leg is repaired from the relay's retransmission buffer: in place
 * (same SSRC and sequence number, so byte-identical to the first send) for a subscriber without
 * RTX, on the RTX SSRC (RFC 4588) for one with it. */
static void nack_repair(const char *room, bool rtx)
{
    lg_counters_t c0 = worker_counters();
    peer_t *lossy = make_peer_rtx(room, "lossy", 10, rtx);
    peer_t *clean = make_peer(room, "clean");
    peer_t *pub = make_peer(room, "pub");
    peer_set_sending(pub, false);
    assert_int_equal(peer_publish(pub, 10000), 0);
    assert_int_equal(peer_wait_subscribed(lossy, 10000), 0);
    assert_int_equal(peer_wait_subscribed(clean, 10000), 0);
    usleep(200000);
    peer_set_sending(pub, true);
    peer_t *subs[2] = {lossy, clean};
    run_all(pub, subs, 2, 3000, 4000);
    peer_stats_t ps, ls;
    peer_get_stats(pub, &ps);
    peer_get_stats(lossy, &ls);
    peer_stream_stats_t v;
    assert_true(find_stream(lossy, peer_sender_id(pub), PEER_STREAM_VIDEO, &v));
    assert_int_equal(ls.streams, 2);  /* audio and video: RTX is not a stream of its own */
    assert_true(ls.rx_dropped >= 10); /* loss really happened */
    /* every drop noticed was NACKed and resent (a resend that is dropped again is NACKed
     * again); only a loss among the very last packets stays unnoticed: no later packet shows it */
    assert_true(v.late > 0);
    assert_true(ls.nacks_sent + 1 >= ls.rx_dropped);
    assert_true(v.packets >= ps.video_packets_sent - 1);
    assert_true(find_stream(clean, peer_sender_id(pub), PEER_STREAM_VIDEO, &v));
    assert_int_equal(v.packets, ps.video_packets_sent);
    assert_int_equal(v.late, 0); /* the clean subscriber got no duplicates */
    lg_counters_t c = worker_counters();
    uint64_t resent = c.retransmitted - c0.retransmitted, as_rtx = c.rtx_sent - c0.rtx_sent;
    assert_true(resent + 1 >= ls.rx_dropped);
    assert_true(c.nacks_received - c0.nacks_received >= resent);
    /* an on-path capture of the lossy leg: a sequence number that came again came with the same
     * SRTP bytes (else the relay reused a GCM nonce for other data) */
    assert_int_equal(ls.srtp_index_reuse, 0);
    assert_int_equal(c.srtp_reuse_refused, 0);
    if (rtx) { /* every resend a new SRTP packet: nothing came twice under one index */
        assert_int_equal(as_rtx, resent);
        assert_true(ls.rtx_received + 1 >= ls.rx_dropped);
        assert_int_equal(ls.srtp_index_repeats, 0);
    } else {
        assert_int_equal(as_rtx, 0);
        assert_int_equal(ls.rtx_received, 0);
        assert_true(ls.srtp_index_repeats + 1 >= ls.rx_dropped);
    }
    peer_free(lossy);
    peer_free(clean);
    peer_free(pub);
}

static void test_nack_repair(void **state)
{
    (void)state;
    nack_repair("nack", false);
}

static void test_nack_repair_rtx(void **state)
{
    (void)state;
    nack_repair("nackrtx", true);
}

/* Mute stops forwarding that track only; unmute resumes it. */
static void test_mute(void **state)
{
    peer_t *sub = make_peer("mute", "sub");
    peer_t *pub = make_peer("mute", "pub");
    assert_int_equal(peer_publish(pub, 10000), 0);
    assert_int_equal(peer_wait_subscribed(sub, 10000), 0);
    peer_t *subs[1] = {sub};
    run_all(pub, subs, 1, 1000, 1200);
    peer_stream_stats_t a0, v0, a1, v1;
    assert_true(find_stream(sub, peer_sender_id(pub), PEER_STREAM_AUDIO, &a0));
    assert_int_equal(peer_mute(pub, "audio", true, 5000), 0);
    assert_int_equal(peer_run(sub, 300), 0); /* drain what was in flight before the mute */
    assert_true(find_stream(sub, peer_sender_id(pub), PEER_STREAM_AUDIO, &a0));
    assert_true(find_stream(sub, peer_sender_id(pub), PEER_STREAM_VIDEO, &v0));
    run_all(pub, subs, 1, 1000, 1200);
    assert_true(find_stream(sub, peer_sender_id(pub), PEER_STREAM_AUDIO, &a1));
    assert_true(find_stream(sub, peer_sender_id(pub), PEER_STREAM_VIDEO, &v1));
    assert_int_equal(a1.packets, a0.packets); /* muted: nothing forwarded */
    assert_true(v1.packets > v0.packets + 20);
    peer_free(sub);
    peer_free(pub);
}

/* The active speaker follows the audio-level extension (RFC 6464), smoothed: the loud publisher
 * wins over the quiet one and every participant is told. */
static void test_active_speaker(void **state)
{
    peer_t *sub = make_peer("speaker", "listener");
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.no_video = true;
    char err[256];
    o.token = relay_fixture_token("speaker", "quiet", AUTH_ROLE_PARTICIPANT, 600);
    o.audio_level = 100; /* -100 dBov: silence */
    peer_t *quiet = peer_new(&o, err, sizeof err);
    o.token = relay_fixture_token("speaker", "loud", AUTH_ROLE_PARTICIPANT, 600);
    o.audio_level = 20; /* -20 dBov: speech */
    peer_t *loud = peer_new(&o, err, sizeof err);
    assert_non_null(quiet);
    assert_non_null(loud);
    assert_int_equal(peer_join(quiet, 5000), 0);
    assert_int_equal(peer_join(loud, 5000), 0);
    assert_int_equal(peer_publish(quiet, 10000), 0);
    assert_int_equal(peer_publish(loud, 10000), 0);
    peer_t *others[2] = {sub, quiet};
    run_all(loud, others, 2, 2500, 2700);
    peer_stats_t ls, ss, qs;
    peer_get_stats(loud, &ls);
    peer_get_stats(sub, &ss);
    peer_get_stats(quiet, &qs);
    assert_string_equal(ss.active_speaker, ls.participant_id);
    assert_string_equal(qs.active_speaker, ls.participant_id);
    assert_int_equal(ss.active_speaker_changes, 1); /* no flapping */
    peer_free(sub);
    peer_free(quiet);
    peer_free(loud);
}

/* A low-bandwidth participant receives one mixed Opus stream instead of one per speaker, while
 * the others in the same room keep per-speaker streams; switching back restores them. */
static void test_mixed_audio(void **state)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.mixed_audio = true;
    o.token = relay_fixture_token("mix", "embassy", AUTH_ROLE_PARTICIPANT, 600);
    char err[256];
    peer_t *mixed = peer_new(&o, err, sizeof err);
    assert_non_null(mixed);
    assert_int_equal(peer_join(mixed, 5000), 0);
    peer_t *normal = make_peer("mix", "ministry");
    peer_t *pubs[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "speaker%d", i);
        pubs[i] = make_peer("mix", name);
        assert_int_equal(peer_publish(pubs[i], 10000), 0);
    }
    assert_int_equal(peer_wait_subscribed(mixed, 10000), 0);
    assert_int_equal(peer_wait_subscribed(normal, 10000), 0);
    peer_t *all[5] = {mixed, normal, pubs[1], pubs[2], NULL};
    run_all(pubs[0], all, 4, 3000, 3300);
    int mixed_audio = 0, speaker_audio = 0, normal_audio = 0, mixed_video = 0;
    peer_stream_stats_t st;
    for (int i = 0; i < peer_stream_count(mixed); i++) {
        assert_int_equal(peer_get_stream(mixed, i, &st), 0);
        if (st.kind == PEER_STREAM_AUDIO && st.sender_id == 0 && st.packets > 0)
            mixed_audio++;
        else if (st.kind == PEER_STREAM_AUDIO)
            speaker_audio++;
        else if (st.kind == PEER_STREAM_VIDEO && st.packets > 0)
            mixed_video++;
    }
    for (int i = 0; i < peer_stream_count(normal); i++)
        if (peer_get_stream(normal, i, &st) == 0 && st.kind == PEER_STREAM_AUDIO &&
            st.sender_id != 0 && st.packets > 0)
            normal_audio++;
    assert_int_equal(mixed_audio, 1);   /* one SSRC: the mix */
    assert_int_equal(speaker_audio, 0); /* and no per-speaker audio */
    assert_int_equal(mixed_video, 3);   /* video is still forwarded */
    assert_int_equal(normal_audio, 3);  /* the others keep per-speaker audio */
    assert_true(worker_counters().mix_packets_out > 10);
    peer_free(mixed);
    peer_free(normal);
    for (int i = 0; i < 3; i++)
        peer_free(pubs[i]);
}

/* A subscriber whose estimate (REMB) stays below mix-below-kbps is moved to mixed audio. */
static void test_low_bandwidth_mixes(void **state)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.remb_bps = 90000; /* below the default 150 kbit/s */
    o.token = relay_fixture_token("thin", "embassy", AUTH_ROLE_PARTICIPANT, 600);
    char err[256];
    peer_t *thin = peer_new(&o, err, sizeof err);
    assert_non_null(thin);
    assert_int_equal(peer_join(thin, 5000), 0);
    peer_t *pubs[2] = {make_peer("thin", "a"), make_peer("thin", "b")};
    for (int i = 0; i < 2; i++)
        assert_int_equal(peer_publish(pubs[i], 10000), 0);
    assert_int_equal(peer_wait_subscribed(thin, 10000), 0);
    peer_t *others[2] = {thin, pubs[1]};
    run_all(pubs[0], others, 2, 4000, 4300);
    peer_stats_t st;
    peer_get_stats(thin, &st);
    assert_true(st.subscribe_offers >= 2); /* renegotiated to the mix */
    int mix = 0;
    peer_stream_stats_t s;
    for (int i = 0; i < peer_stream_count(thin); i++)
        if (peer_get_stream(thin, i, &s) == 0 && s.kind == PEER_STREAM_AUDIO && s.sender_id == 0 &&
            s.packets > 0)
            mix++;
    assert_int_equal(mix, 1);
    assert_int_equal(worker_counters().mixed_listeners, 1);
    peer_free(thin);
    for (int i = 0; i < 2; i++)
        peer_free(pubs[i]);
}

/* Subscribers flooding keyframe requests cannot make the relay flood the publisher: PLIs reach
 * it at most once per throttle window. */
static void test_pli_throttle(void **state)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.pli_flood = true;
    char err[256];
    peer_t *subs[2];
    for (int i = 0; i < 2; i++) {
        o.token = relay_fixture_token("pli", i ? "flood1" : "flood0", AUTH_ROLE_PARTICIPANT, 600);
        subs[i] = peer_new(&o, err, sizeof err);
        assert_non_null(subs[i]);
        assert_int_equal(peer_join(subs[i], 5000), 0);
    }
    peer_t *pub = make_peer("pli", "pub");
    assert_int_equal(peer_publish(pub, 10000), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(peer_wait_subscribed(subs[i], 10000), 0);
    lg_counters_t before = worker_counters();
    run_all(pub, subs, 2, 3000, 3000);
    peer_stats_t ps, s0, s1;
    peer_get_stats(pub, &ps);
    peer_get_stats(subs[0], &s0);
    peer_get_stats(subs[1], &s1);
    assert_true(s0.plis_sent + s1.plis_sent > 100); /* the flood happened */
    /* 3 s of flooding: at most one per 500 ms window (plus the ones from joining) */
    assert_true(ps.plis_received <= 3000 / ROUTER_PLI_INTERVAL_MS + 4);
    assert_true(ps.plis_received >= 2);
    lg_counters_t after = worker_counters();
    assert_true(after.pli_throttled - before.pli_throttled > 100);
    for (int i = 0; i < 2; i++)
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
        cmocka_unit_test(test_nack_repair),
        cmocka_unit_test(test_nack_repair_rtx),
        cmocka_unit_test(test_mute),
        cmocka_unit_test(test_active_speaker),
        cmocka_unit_test(test_mixed_audio),
        cmocka_unit_test(test_low_bandwidth_mixes),
        cmocka_unit_test(test_pli_throttle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
