/* Simulcast and VP8 temporal layers end to end: a C peer publishes three layers (rids h, m, l at
 * 1/1, 1/4, 1/16 of its rate), a subscriber's REMB estimate moves the relay between them at key
 * frames it asks the publisher for, and below the lowest layer's rate the relay thins its temporal
 * layers; the subscriber always sees one SSRC with continuous sequence numbers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "relay_fixture.h"

#define VIDEO_KBPS  1600 /* layers: l 100, m 400, h 1600 kbit/s */
#define HIGH_REMB   5000000
#define PHASE_MS    30000 /* a phase's bounded wait; normally a few seconds */
#define STREAM_LOW  1     /* trailer stream = 1 + layer index (0 = lowest) */
#define STREAM_MID  2
#define STREAM_HIGH 3
#define LAYER_LOW   0
#define LAYER_MID   1
#define LAYER_HIGH  2

/* The publisher runs on its own thread in short slices until told to stop. */
typedef struct {
    peer_t *peer;
    atomic_int stop;
    int rc;
    uv_thread_t th;
} runner_t;

/* What a failed test leaves behind (cmocka jumps out of it): its teardown stops and frees it. */
static runner_t *g_runner;
static peer_t *g_peers[2];

static void runner_main(void *arg)
{
    runner_t *r = arg;
    while (!atomic_load(&r->stop))
        if ((r->rc = peer_run(r->peer, 50)) != 0)
            return;
}

static void runner_start(runner_t *r, peer_t *p)
{
    r->peer = p;
    r->rc = 0;
    atomic_store(&r->stop, 0);
    assert_int_equal(uv_thread_create(&r->th, runner_main, r), 0);
    g_runner = r;
}

static void runner_stop(runner_t *r)
{
    atomic_store(&r->stop, 1);
    uv_thread_join(&r->th);
    g_runner = NULL;
    if (r->rc != 0)
        fail_msg("publisher stopped: %s", peer_last_error(r->peer));
}

/* loss: % of received video dropped (then NACKed), repaired by RTX or, with no_rtx, in place */
static peer_t *make_subscriber(const char *room, unsigned remb, unsigned loss, bool no_rtx)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.no_rtx = no_rtx;
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, "sub", AUTH_ROLE_PARTICIPANT, 600);
    o.remb_bps = remb;
    o.rx_loss_pct = loss;
    o.send_nacks = loss > 0;
    o.capture_srtp = loss > 0;
    o.socket_buffer = 1 << 20;
    char err[256];
    peer_t *p = g_peers[1] = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join: %s", peer_last_error(p));
    return p;
}

/* Key frames only when asked for (the interval is ~1 hour): every switch needs a PLI. low_first:
 * the offer lists the rids lowest quality first ("l;m;h"). */
static peer_t *make_publisher(const char *room, unsigned temporal, bool low_first)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, "pub", AUTH_ROLE_PARTICIPANT, 600);
    o.simulcast_layers = 3;
    o.simulcast_low_first = low_first;
    o.temporal_layers = temporal;
    o.video_kbps = VIDEO_KBPS;
    o.keyframe_interval = 100000;
    o.socket_buffer = 1 << 20;
    char err[256];
    peer_t *p = g_peers[0] = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join: %s", peer_last_error(p));
    return p;
}

/* The subscriber's video from the publisher; fails when there is more than one such SSRC. */
static bool video_of(peer_t *sub, uint32_t sender, peer_stream_stats_t *out)
{
    int found = 0;
    for (int i = 0; i < peer_stream_count(sub); i++) {
        peer_stream_stats_t s;
        if (peer_get_stream(sub, i, &s) == 0 && s.sender_id == sender &&
            s.kind == PEER_STREAM_VIDEO) {
            *out = s;
            found++;
        }
    }
    if (found > 1)
        fail_msg("the subscriber sees %d video SSRCs from one track", found);
    return found == 1;
}

typedef bool (*cond_fn)(const peer_stream_stats_t *v, const void *arg);

/* Drives the subscriber (the publisher runs on its thread) until cond holds, within PHASE_MS. */
static peer_stream_stats_t wait_video(peer_t *sub, uint32_t sender, cond_fn cond, const void *arg,
                                      const char *what)
{
    peer_stream_stats_t v;
    memset(&v, 0, sizeof v);
    for (int waited = 0; waited < PHASE_MS; waited += 100) {
        if (peer_run(sub, 100) != 0)
            fail_msg("subscriber stopped: %s", peer_last_error(sub));
        if (video_of(sub, sender, &v) && cond(&v, arg))
            return v;
    }
    fail_msg("subscriber: no %s within %d ms (stream %u, %llu packets, %llu changes)", what,
             PHASE_MS, v.stream, (unsigned long long)v.packets,
             (unsigned long long)v.stream_changes);
    return v;
}

static bool on_stream(const peer_stream_stats_t *v, const void *arg)
{
    return v->stream == *(const uint8_t *)arg && v->packets > 0;
}

/* On layer `stream`, and TID `tid` grew past the count in *before. */
typedef struct {
    uint8_t stream;
    int tid;
    uint64_t before;
} tid_grew_t;

static bool tid_grew(const peer_stream_stats_t *v, const void *arg)
{
    const tid_grew_t *t = arg;
    return v->stream == t->stream && v->tid_packets[t->tid] > t->before;
}

/* What every switch must look like to the subscriber: one SSRC (video_of), each change of layer
 * starting at a key frame, sequence numbers without a hole, timestamps moving forward, VP8 picture
 * ids continuing. */
static void expect_clean(const peer_stream_stats_t *v)
{
    assert_int_equal(v->changes_at_keyframe, v->stream_changes);
    assert_int_equal(v->rtp_gaps, 0);
    assert_int_equal(v->ts_regressions, 0);
    assert_int_equal(v->late, 0);
    assert_int_equal(v->picture_id_breaks, 0);
}

static peer_stats_t publisher_stats(runner_t *r, peer_t *pub)
{
    runner_stop(r);
    peer_stats_t s;
    peer_get_stats(pub, &s);
    runner_start(r, pub);
    return s;
}

/* Moves the estimate and waits for the layer; the publisher must have been asked for a key frame
 * of that layer on its SSRC since the estimate changed. Returns the subscriber's view. */
static peer_stream_stats_t switch_to(runner_t *r, peer_t *pub, peer_t *sub, unsigned remb,
                                     uint8_t stream)
{
    peer_stats_t before = publisher_stats(r, pub);
    peer_set_remb(sub, remb);
    char what[64];
    snprintf(what, sizeof what, "switch to stream %u at REMB %u", stream, remb);
    peer_stream_stats_t v = wait_video(sub, peer_sender_id(pub), on_stream, &stream, what);
    peer_stats_t after = publisher_stats(r, pub);
    int layer = stream - 1;
    assert_true(after.plis_by_layer[layer] > before.plis_by_layer[layer]);
    assert_true(after.keyframes_by_layer[layer] > before.keyframes_by_layer[layer]);
    expect_clean(&v);
    return v;
}

static void connect_pair(peer_t *pub, peer_t *sub)
{
    if (peer_publish(pub, 10000) != 0)
        fail_msg("publish: %s", peer_last_error(pub));
    if (peer_wait_subscribed(sub, 10000) != 0)
        fail_msg("subscribe: %s", peer_last_error(sub));
}

static lg_counters_t worker_counters(void)
{
    usleep(300000); /* two stats refreshes */
    return rf_relay.worker_stats[0];
}

/* High estimate: the top layer; lower: the middle, then the lowest; high again: back to the top.
 * Every move waits for a key frame the relay asked the publisher for on that layer's SSRC. */
static void test_layer_switches(void **state)
{
    (void)state;
    lg_counters_t c0 = worker_counters();
    peer_t *sub = make_subscriber("simulcast", HIGH_REMB, 0, false);
    peer_t *pub = make_publisher("simulcast", 1, false);
    connect_pair(pub, sub);
    runner_t r;
    runner_start(&r, pub);
    uint32_t sender = peer_sender_id(pub);
    uint8_t high = STREAM_HIGH;
    peer_stream_stats_t v = wait_video(sub, sender, on_stream, &high, "top layer");
    expect_clean(&v);
    assert_int_equal(peer_run(sub, 1000), 0); /* it stays there */
    assert_true(video_of(sub, sender, &v));
    assert_int_equal(v.stream, STREAM_HIGH);
    uint64_t changes = v.stream_changes;

    v = switch_to(&r, pub, sub, 700000, STREAM_MID); /* m (~0.45 Mbit/s) fits, h does not */
    assert_true(v.stream_changes > changes);
    changes = v.stream_changes;
    v = switch_to(&r, pub, sub, 200000, STREAM_LOW); /* only l (~0.11 Mbit/s) fits */
    assert_true(v.stream_changes > changes);
    changes = v.stream_changes;
    v = switch_to(&r, pub, sub, HIGH_REMB, STREAM_HIGH);
    assert_true(v.stream_changes > changes);
    assert_int_equal(peer_run(sub, 500), 0);
    runner_stop(&r);
    assert_true(video_of(sub, sender, &v));
    expect_clean(&v);
    assert_int_equal(v.gaps, 0); /* within each layer's stream nothing was lost */
    assert_int_equal(v.tid_packets[1] + v.tid_packets[2], 0); /* no temporal layers sent */
    lg_counters_t c1 = worker_counters();
    assert_true(c1.layer_switches - c0.layer_switches >= 3);
    assert_int_equal(c1.temporal_dropped, c0.temporal_dropped);
    assert_int_equal(c1.layer_reranks, c0.layer_reranks); /* the rates confirmed the default */
}

/* Drives the subscriber until the worker has re-ranked a producer's layers since `before`, within
 * PHASE_MS; returns whether it did. */
static bool wait_reranked(peer_t *sub, uint64_t before)
{
    for (int waited = 0; waited < PHASE_MS; waited += 500) {
        if (peer_run(sub, 200) != 0)
            fail_msg("subscriber stopped: %s", peer_last_error(sub));
        if (worker_counters().layer_reranks > before)
            return true;
    }
    return false;
}

/* An offer listing its rids lowest first ("l;m;h", as mediasoup-client and LiveKit apps order
 * theirs) and without a=rid restrictions: the relay ranks the layers by their measured rates, so
 * a high estimate still ends on the top layer (stream 3, the 1.6 Mbit/s one), and a falling one
 * moves it down. Under the old "first rid is the highest" rule it stayed on the lowest. */
static void test_lowest_first_offer(void **state)
{
    (void)state;
    lg_counters_t c0 = worker_counters();
    peer_t *sub = make_subscriber("lowfirst", HIGH_REMB, 0, false);
    peer_t *pub = make_publisher("lowfirst", 1, true);
    connect_pair(pub, sub);
    runner_t r;
    runner_start(&r, pub);
    uint32_t sender = peer_sender_id(pub);
    bool reranked = wait_reranked(sub, c0.layer_reranks); /* asserted below, after the layer */
    uint8_t high = STREAM_HIGH;
    peer_stream_stats_t v = wait_video(sub, sender, on_stream, &high, "top layer");
    assert_int_equal(peer_run(sub, 1500), 0); /* it stays there */
    assert_true(video_of(sub, sender, &v));
    assert_int_equal(v.stream, STREAM_HIGH);
    expect_clean(&v);
    assert_true(reranked);
    uint64_t changes = v.stream_changes;

    v = switch_to(&r, pub, sub, 700000, STREAM_MID);
    assert_true(v.stream_changes > changes);
    changes = v.stream_changes;
    v = switch_to(&r, pub, sub, 200000, STREAM_LOW);
    assert_true(v.stream_changes > changes);
    assert_int_equal(peer_run(sub, 500), 0);
    runner_stop(&r);
    assert_true(video_of(sub, sender, &v));
    assert_int_equal(v.stream, STREAM_LOW);
    expect_clean(&v);
    lg_counters_t c1 = worker_counters();
    assert_int_equal(c1.layer_reranks - c0.layer_reranks, 1); /* once, then it held */
}

/* Below the lowest layer's full rate only its base temporal layer arrives, then TIDs 0-1, then
 * everything again; the dropped packets leave no hole in the subscriber's sequence numbers. */
static void test_temporal_dropping(void **state)
{
    (void)state;
    lg_counters_t c0 = worker_counters();
    peer_t *sub = make_subscriber("temporal", HIGH_REMB, 0, false);
    peer_t *pub = make_publisher("temporal", 3, false);
    connect_pair(pub, sub);
    runner_t r;
    runner_start(&r, pub);
    uint32_t sender = peer_sender_id(pub);
    tid_grew_t all = {STREAM_HIGH, 2, 0};
    peer_stream_stats_t v = wait_video(sub, sender, tid_grew, &all, "top layer with TID 2");

    /* 40 kbit/s: l is ~107 kbit/s, TIDs 0-1 ~63, TID 0 ~42: TID 0 is the floor */
    v = switch_to(&r, pub, sub, 40000, STREAM_LOW);
    assert_int_equal(peer_run(sub, 500), 0);
    assert_true(video_of(sub, sender, &v));
    peer_stream_stats_t base = v;
    assert_int_equal(peer_run(sub, 2000), 0);
    assert_true(video_of(sub, sender, &v));
    assert_int_equal(v.stream, STREAM_LOW);
    assert_true(v.tid_packets[0] >= base.tid_packets[0] + 10);
    assert_int_equal(v.tid_packets[1], base.tid_packets[1]);
    assert_int_equal(v.tid_packets[2], base.tid_packets[2]);
    expect_clean(&v);

    /* 100 kbit/s: TIDs 0-1 fit with the margin, all of l does not */
    peer_set_remb(sub, 100000);
    tid_grew_t one = {STREAM_LOW, 1, v.tid_packets[1]};
    v = wait_video(sub, sender, tid_grew, &one, "TID 1 again");
    base = v;
    assert_int_equal(peer_run(sub, 2000), 0);
    assert_true(video_of(sub, sender, &v));
    assert_true(v.tid_packets[1] >= base.tid_packets[1] + 5);
    assert_int_equal(v.tid_packets[2], base.tid_packets[2]);
    expect_clean(&v);

    v = switch_to(&r, pub, sub, HIGH_REMB, STREAM_HIGH);
    all.before = v.tid_packets[2];
    v = wait_video(sub, sender, tid_grew, &all, "TID 2 on the top layer");
    runner_stop(&r);
    expect_clean(&v);
    lg_counters_t c1 = worker_counters();
    assert_true(c1.temporal_dropped - c0.temporal_dropped >= 20);
}

/* Losses on a subscriber whose stream is thinned: it NACKs rewritten numbers, the relay maps them
 * back through the drops and resends (as RTX, the rewritten number as OSN) exactly the missing
 * packets (a wrong mapping would resend
 * one the subscriber has, or nothing), and never has to resend a dropped one. */
static void test_nack_through_drops(void **state)
{
    (void)state;
    lg_counters_t c0 = worker_counters();
    peer_t *sub = make_subscriber("thinned", 40000, 20, false);
    peer_t *pub = make_publisher("thinned", 3, false);
    connect_pair(pub, sub);
    runner_t r;
    runner_start(&r, pub);
    uint32_t sender = peer_sender_id(pub);
    uint8_t low = STREAM_LOW;
    peer_stream_stats_t v = wait_video(sub, sender, on_stream, &low, "lowest layer");
    assert_int_equal(peer_run(sub, 1000), 0); /* the estimate has certainly been applied */
    assert_true(video_of(sub, sender, &v));
    peer_stream_stats_t base = v;
    tid_grew_t zero = {STREAM_LOW, 0, v.tid_packets[0] + 60};
    v = wait_video(sub, sender, tid_grew, &zero, "60 more TID 0 packets");
    assert_int_equal(peer_run(sub, 500), 0); /* the last NACKs are answered */
    runner_stop(&r);
    assert_int_equal(peer_run(sub, 300), 0);
    assert_true(video_of(sub, sender, &v));
    peer_stats_t ss;
    peer_get_stats(sub, &ss);
    assert_true(ss.rx_dropped >= 5);
    assert_true(ss.nacks_sent >= 5);
    assert_true(v.rtp_gaps >= 5);
    assert_int_equal(v.stream_changes, 0); /* never moved off the lowest layer, not even at first */
    /* every hole was filled, but possibly the last few (no later packet revealed them) and any
     * the publisher's uplink lost (the relay NACKs it; this peer sends no RTX) */
    lg_counters_t c1 = worker_counters();
    uint64_t uplink = c1.nacks_sent - c0.nacks_sent;
    if (v.rtp_repaired + 3 + uplink < v.rtp_gaps)
        fail_msg("holes %llu, repaired %llu, duplicates %llu, uplink losses %llu, NACKed %llu, "
                 "resent %llu",
                 (unsigned long long)v.rtp_gaps, (unsigned long long)v.rtp_repaired,
                 (unsigned long long)v.rtp_duplicates, (unsigned long long)uplink,
                 (unsigned long long)(c1.nacks_received - c0.nacks_received),
                 (unsigned long long)(c1.retransmitted - c0.retransmitted));
    /* what was resent was what the subscriber missed, not what the relay chose to drop */
    assert_int_equal(v.tid_packets[1], base.tid_packets[1]);
    assert_int_equal(v.tid_packets[2], base.tid_packets[2]);
    assert_true(c1.temporal_dropped - c0.temporal_dropped >= 20);
    assert_true(c1.retransmitted - c0.retransmitted >= v.rtp_repaired);
    /* the resends came as RTX (RFC 4588): new SRTP packets, none under a used index */
    assert_true(ss.rtx_received >= v.rtp_repaired);
    assert_int_equal(c1.rtx_sent - c0.rtx_sent, c1.retransmitted - c0.retransmitted);
    assert_int_equal(ss.srtp_index_repeats, 0);
    assert_int_equal(ss.srtp_index_reuse, 0);
}

/* Loss and NACK repair across layer switches (VP8 picture ids remapped, transport-cc numbers
 * stamped per leg) for a subscriber without RTX: every resend goes in the original stream, i.e.
 * under the SRTP index of its first send, so an on-path capture must see the same SRTP bytes each
 * time a sequence number comes again. Different bytes would be AES-GCM nonce reuse (the leg's GHASH
 * key given away). */
static void test_resends_identical(void **state)
{
    (void)state;
    lg_counters_t c0 = worker_counters();
    peer_t *sub = make_subscriber("resend", HIGH_REMB, 10, true);
    peer_t *pub = make_publisher("resend", 3, false);
    connect_pair(pub, sub);
    runner_t r;
    runner_start(&r, pub);
    uint32_t sender = peer_sender_id(pub);
    static const struct {
        unsigned remb;
        uint8_t stream;
    } plan[] = {{HIGH_REMB, STREAM_HIGH}, {200000, STREAM_LOW}, {HIGH_REMB, STREAM_HIGH}};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        peer_set_remb(sub, plan[i].remb);
        (void)wait_video(sub, sender, on_stream, &plan[i].stream, "layer");
        assert_int_equal(peer_run(sub, 800), 0); /* losses and NACKs on this layer */
    }
    runner_stop(&r);
    assert_int_equal(peer_run(sub, 300), 0); /* the last NACKs are answered */
    peer_stats_t ss;
    peer_get_stats(sub, &ss);
    peer_stream_stats_t v;
    assert_true(video_of(sub, sender, &v));
    lg_counters_t c1 = worker_counters();
    print_message("dropped %llu, NACKed %llu, repaired %llu, same index again: %llu identical, "
                  "%llu different; relay: resent %llu, unsafe skipped %llu, duplicates %llu, "
                  "switches %llu\n",
                  (unsigned long long)ss.rx_dropped, (unsigned long long)ss.nacks_sent,
                  (unsigned long long)v.rtp_repaired, (unsigned long long)ss.srtp_index_repeats,
                  (unsigned long long)ss.srtp_index_reuse,
                  (unsigned long long)(c1.retransmitted - c0.retransmitted),
                  (unsigned long long)(c1.nack_unsafe_skipped - c0.nack_unsafe_skipped),
                  (unsigned long long)(c1.duplicate_dropped - c0.duplicate_dropped),
                  (unsigned long long)(c1.layer_switches - c0.layer_switches));
    assert_true(ss.rx_dropped >= 10);
    assert_true(c1.layer_switches - c0.layer_switches >= 2);
    assert_true(v.rtp_repaired >= 5);         /* NACK repair worked */
    assert_true(ss.srtp_index_repeats >= 5);  /* resends came under their first send's index */
    assert_int_equal(ss.srtp_index_reuse, 0); /* and were byte-identical to it */
    assert_int_equal(c1.srtp_reuse_refused, c0.srtp_reuse_refused); /* the router did its part */
}

static void tune(lg_config_t *cfg)
{
    cfg->mix_below_kbps = 0; /* low estimates here are about video, not mixed audio */
}

static int setup(void **state)
{
    (void)state;
    return relay_fixture_start(tune);
}

static int teardown(void **state)
{
    (void)state;
    relay_fixture_stop();
    return 0;
}

static int test_teardown(void **state)
{
    (void)state;
    if (g_runner) {
        atomic_store(&g_runner->stop, 1);
        uv_thread_join(&g_runner->th);
        g_runner = NULL;
    }
    for (int i = 0; i < 2; i++) {
        peer_free(g_peers[i]);
        g_peers[i] = NULL;
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_layer_switches, test_teardown),
        cmocka_unit_test_teardown(test_lowest_first_offer, test_teardown),
        cmocka_unit_test_teardown(test_temporal_dropping, test_teardown),
        cmocka_unit_test_teardown(test_nack_through_drops, test_teardown),
        cmocka_unit_test_teardown(test_resends_identical, test_teardown),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
