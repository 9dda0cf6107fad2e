/* A mixed-audio listener on a poor link: the relay announces the impairment proxy's address
 * (bench/impair.h), speakers reach the relay directly, and the listener's media goes through
 * 32 kbit/s, 10 % loss and 150 ms one-way delay each way (UDP), or through ICE-TCP at 32 kbit/s
 * and 150 ms. It keeps receiving the mix, its connection survives consent checks through the loss,
 * the proxy's counters show what the link did, and the decoders (the listener's, and the relay's
 * mixer for a speaker behind the link) count what FEC and concealment repaired. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bench/impair.h"
#include "bench/peer/peer.h"
#include "relay_fixture.h"

#define PROXY_IP   "127.0.0.2"
#define NSPEAKERS  2
#define RUN_MS     9000
#define LINK_BPS   32000
#define LINK_DELAY 150
#define LINK_LOSS  100000 /* ppm: 10 % */
#define MIX_PTIME  60     /* the relay's default mix-ptime */
/* Extra mix packets the listener may count beyond the relay's count for the run: on the link at
 * the start (150 ms + the 300 ms queue: 8), the relay's count up to 100 ms old (2), the mixer
 * playing out after the speakers stopped (2). */
#define EDGE     12
#define DRAIN_MS 800 /* the listener runs on to receive what is on the link at the end */

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

/* The relay writes the proxy's address in its candidates; it binds 127.0.0.1 only. */
static void tune(lg_config_t *cfg)
{
    cfg->announce_count = 1;
    snprintf(cfg->announce[0], sizeof cfg->announce[0], PROXY_IP);
}

/* A proxy on PROXY_IP at the relay's media port, forwarding to the relay, with the same link
 * both ways; loss_ppm 0 for none. */
static impair_proxy_t *start_proxy_at(uint64_t rate_bps, uint32_t loss_ppm)
{
    char listen[64], upstream[64], err[256];
    snprintf(listen, sizeof listen, PROXY_IP ":%u", rf_cfg.media_port);
    snprintf(upstream, sizeof upstream, "127.0.0.1:%u", rf_cfg.media_port);
    impair_params_t link = {.rate_bps = rate_bps, .loss_ppm = loss_ppm, .delay_ms = LINK_DELAY};
    impair_opts_t o = {.listen = listen, .upstream = upstream, .up = link, .down = link};
    o.up.seed = 11;
    o.down.seed = 12;
    impair_proxy_t *p = impair_start(&o, err, sizeof err);
    if (!p)
        fail_msg("%s", err);
    return p;
}

static impair_proxy_t *start_proxy(uint32_t loss_ppm)
{
    return start_proxy_at(LINK_BPS, loss_ppm);
}

/* A speaker: a real Opus tone, audio only, straight to the relay's real address (or, with
 * impaired, through the candidate: the proxy). */
static peer_t *make_speaker_via(const char *room, const char *name, unsigned level,
                                unsigned tone_hz, unsigned kbps, bool impaired)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, name, AUTH_ROLE_PARTICIPANT, 600);
    o.no_video = true;
    o.audio_level = level;
    o.opus_tone_hz = tone_hz;
    o.opus_kbps = kbps;
    o.media_addr = impaired ? NULL : "127.0.0.1";
    o.ice_timeout_ms = 10000;
    o.dtls_timeout_ms = 30000;
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0 || peer_publish(p, 10000) != 0)
        fail_msg("speaker %s: %s", name, peer_last_error(p));
    return p;
}

static peer_t *make_speaker(const char *room, const char *name, unsigned level, unsigned tone_hz)
{
    return make_speaker_via(room, name, level, tone_hz, 0, false);
}

/* The listener: mixed audio, receive-only, through the candidate the relay announced (the proxy).
 * ICE and DTLS get time for retransmissions through the loss. */
static peer_t *make_listener_via(const char *room, peer_transport_t transport, bool impaired)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, "embassy", AUTH_ROLE_PARTICIPANT, 600);
    o.mixed_audio = true;
    o.transport = transport;
    o.media_addr = impaired ? NULL : "127.0.0.1";
    o.ice_timeout_ms = 10000;
    o.dtls_timeout_ms = 30000;
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("listener join: %s", peer_last_error(p));
    if (peer_wait_subscribed(p, 30000) != 0)
        fail_msg("listener subscribe leg: %s", peer_last_error(p));
    return p;
}

static peer_t *make_listener(const char *room, peer_transport_t transport)
{
    return make_listener_via(room, transport, true);
}

/* The mixed stream the listener receives (audio without a sender trailer). */
static bool find_mix(peer_t *p, peer_stream_stats_t *out)
{
    for (int i = 0; i < peer_stream_count(p); i++)
        if (peer_get_stream(p, i, out) == 0 && out->kind == PEER_STREAM_AUDIO &&
            out->sender_id == 0 && out->subscribe_leg)
            return true;
    return false;
}

/* The listener's decoder counters of the mixed stream (zero before it arrived). */
static peer_mixed_audio_stats_t decoded_mix(peer_t *p)
{
    peer_mixed_audio_stats_t m;
    memset(&m, 0, sizeof m);
    assert_true(peer_mixed_audio_count(p) <= 1);
    if (peer_mixed_audio_count(p) == 1)
        assert_int_equal(peer_get_mixed_audio(p, 0, &m), 0);
    return m;
}

static void print_decoded(const peer_mixed_audio_stats_t *m)
{
    print_message("listener decoded %llu frames, concealed %llu, FEC-recovered %llu, reset %llu, "
                  "errors %llu, late %llu\n",
                  (unsigned long long)m->frames, (unsigned long long)m->plc,
                  (unsigned long long)m->fec_recovered, (unsigned long long)m->lost_reset,
                  (unsigned long long)m->decode_errors, (unsigned long long)m->late);
}

/* Mixed packets the relay has sent: its counters as /metrics reads them (at most 100 ms old). One
 * mixer with one listener in each test, so they are all the listener's. */
static uint64_t relay_mix_packets(void)
{
    return rf_relay.worker_stats[0].mix_packets_out;
}

/* Runs the speakers for RUN_MS and the listener DRAIN_MS longer, so that it receives what was on
 * the link when they stopped. Returns the mix packets the relay sent while the speakers ran. */
static uint64_t run_together(peer_t **speakers, peer_t *listener)
{
    run_arg_t args[NSPEAKERS + 1];
    uv_thread_t th[NSPEAKERS + 1];
    uint64_t r0 = relay_mix_packets();
    for (int i = 0; i <= NSPEAKERS; i++) {
        bool speaker = i < NSPEAKERS;
        args[i] =
            (run_arg_t){speaker ? speakers[i] : listener, RUN_MS + (speaker ? 0 : DRAIN_MS), 0};
        assert_int_equal(uv_thread_create(&th[i], run_thread, &args[i]), 0);
    }
    uint64_t sent = 0;
    for (int i = 0; i <= NSPEAKERS; i++) {
        uv_thread_join(&th[i]);
        if (i == NSPEAKERS - 1)
            sent = relay_mix_packets() - r0;
        if (args[i].rc != 0)
            fail_msg("peer %d stopped: %s", i, peer_last_error(args[i].peer));
    }
    return sent;
}

static void print_dir(const char *name, const impair_counters_t *c)
{
    print_message("proxy %-8s forwarded %llu (%llu B), lost %llu, queue drops %llu, other %llu, "
                  "retransmitted %llu\n",
                  name, (unsigned long long)c->forwarded, (unsigned long long)c->bytes,
                  (unsigned long long)c->dropped_loss, (unsigned long long)c->dropped_queue,
                  (unsigned long long)c->dropped_other, (unsigned long long)c->retransmitted);
}

/* The listener is still connected on its subscribe leg, by its own view and the relay's. */
static void assert_connected(peer_t *listener)
{
    peer_stats_t st;
    peer_get_stats(listener, &st);
    assert_int_equal(st.subscribe.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.subscribe.dtls, DTLS_STATE_CONNECTED);
    assert_int_not_equal(st.subscribe.profile, DTLS_SRTP_NONE);
    assert_string_equal(st.last_error, "");
    assert_int_equal(st.srtp_failures, 0);
    assert_string_not_equal(st.subscribe.relay_state, "closed");
}

/* UDP: 32 kbit/s, 10 % loss, 150 ms each way. */
static void test_mixed_listener_udp(void **state)
{
    impair_proxy_t *proxy = start_proxy(LINK_LOSS);
    peer_t *speakers[NSPEAKERS] = {make_speaker("poor-udp", "speaker0", 20, 440),
                                   make_speaker("poor-udp", "speaker1", 40, 660)};
    peer_t *listener = make_listener("poor-udp", PEER_TRANSPORT_UDP);
    peer_stats_t l0, l1;
    peer_stream_stats_t m0 = {0}, m1;
    impair_stats_t p0, p1;
    peer_get_stats(listener, &l0);
    find_mix(listener, &m0); /* the mix may not have started yet: zero */
    peer_mixed_audio_stats_t d0 = decoded_mix(listener);
    impair_get_stats(proxy, &p0);

    uint64_t sent = run_together(speakers, listener);

    peer_get_stats(listener, &l1);
    peer_mixed_audio_stats_t d1 = decoded_mix(listener);
    impair_get_stats(proxy, &p1);
    assert_true(find_mix(listener, &m1));
    uint64_t got = m1.packets - m0.packets;
    uint64_t down_fwd = p1.udp_down.forwarded - p0.udp_down.forwarded;
    uint64_t down_lost = p1.udp_down.dropped_loss - p0.udp_down.dropped_loss;
    uint64_t down_queue = p1.udp_down.dropped_queue - p0.udp_down.dropped_queue;
    uint64_t decoded = d1.frames - d0.frames;
    uint64_t fec = d1.fec_recovered - d0.fec_recovered;
    uint64_t repaired = (d1.plc - d0.plc) + fec;
    print_message("relay sent %llu mix packets in %d ms (%d periods; its encoder's DTX skips "
                  "some), the listener got %llu; consent checks %llu, answered %llu\n",
                  (unsigned long long)sent, RUN_MS, RUN_MS / MIX_PTIME, (unsigned long long)got,
                  (unsigned long long)(l1.subscribe.consent_sent - l0.subscribe.consent_sent),
                  (unsigned long long)(l1.subscribe.checks_ok - l0.subscribe.checks_ok));
    print_decoded(&d1);
    print_dir("udp up", &p1.udp_up);
    print_dir("udp down", &p1.udp_down);

    /* The mix kept coming: what the relay sent, less about 10 % lost (the listener also got up to
     * EDGE packets that were on the link when the count started). */
    assert_true(sent >= (uint64_t)RUN_MS / MIX_PTIME / 2);
    assert_true(got <= sent + EDGE);
    assert_true(got * 4 >= sent * 3);
    assert_true(got + down_lost + down_queue + 2 >= sent);
    /* The link lost about 10 % of what the relay sent the listener, and passed the rest. */
    assert_true(down_lost * 100 >= (down_fwd + down_lost) * 4);
    assert_true(down_lost * 100 <= (down_fwd + down_lost) * 18);
    assert_true(l1.packets_received - l0.packets_received <= down_fwd);
    /* The mix (31.5 kbit/s on the wire) fits the 32 kbit/s link: the queue seldom overflows. */
    assert_true(down_queue * 10 <= down_fwd);
    /* Consent checks went through the loss and were answered: the leg stays up, and it is the
     * announced address (the proxy) the listener talks to. */
    assert_true(l1.subscribe.checks_ok > l0.subscribe.checks_ok);
    assert_connected(listener);
    assert_non_null(strstr(l1.subscribe.remote, PROXY_IP ":"));
    /* The listener decoded every packet and made up for the lost ones: concealment, and in-band
     * FEC once its receiver reports told the relay's encoder about the loss. Nothing is repaired
     * that the link did not drop (a mix packet, or an RTCP or STUN packet). */
    assert_true(decoded <= got && decoded + 2 >= got);
    assert_int_equal(d1.decode_errors, 0);
    assert_true(fec > 0);
    assert_true(repaired * 2 >= down_lost);
    assert_true(repaired <= down_lost + down_queue + 2);

    peer_free(listener);
    for (int i = 0; i < NSPEAKERS; i++)
        peer_free(speakers[i]);
    impair_stop(proxy);
}

/* ICE-TCP through the proxy at 32 kbit/s and 150 ms each way: nothing is lost on a byte stream,
 * the mix keeps coming. */
static void test_mixed_listener_tcp(void **state)
{
    impair_proxy_t *proxy = start_proxy(0);
    peer_t *speakers[NSPEAKERS] = {make_speaker("poor-tcp", "speaker0", 20, 440),
                                   make_speaker("poor-tcp", "speaker1", 40, 660)};
    peer_t *listener = make_listener("poor-tcp", PEER_TRANSPORT_TCP);
    peer_stats_t l1;
    peer_stream_stats_t m0 = {0}, m1;
    impair_stats_t p0, p1;
    find_mix(listener, &m0);
    peer_mixed_audio_stats_t d0 = decoded_mix(listener);
    impair_get_stats(proxy, &p0);

    uint64_t sent = run_together(speakers, listener);

    peer_get_stats(listener, &l1);
    peer_mixed_audio_stats_t d1 = decoded_mix(listener);
    impair_get_stats(proxy, &p1);
    assert_true(find_mix(listener, &m1));
    uint64_t got = m1.packets - m0.packets;
    print_message("relay sent %llu mix packets in %d ms, the listener got %llu over ICE-TCP (%s)\n",
                  (unsigned long long)sent, RUN_MS, (unsigned long long)got, l1.subscribe.remote);
    print_decoded(&d1);
    print_dir("tcp up", &p1.tcp_up);
    print_dir("tcp down", &p1.tcp_down);

    assert_non_null(strstr(l1.subscribe.remote, PROXY_IP ":"));
    assert_non_null(strstr(l1.subscribe.remote, "/tcp"));
    assert_int_equal(p1.tcp_accepted, 1);
    assert_int_equal(p1.udp_down.forwarded, 0); /* everything went over TCP */
    /* The mix kept coming, every packet of it (the relay's count may be 100 ms old: 2 packets). */
    assert_true(sent >= (uint64_t)RUN_MS / MIX_PTIME / 2);
    assert_true(got <= sent + EDGE);
    assert_true(got + 2 >= sent);
    assert_true(p1.tcp_down.bytes - p0.tcp_down.bytes >= got * 100);
    assert_int_equal(p1.tcp_down.dropped_loss + p1.tcp_down.dropped_queue, 0);
    /* a byte stream loses nothing: every packet decoded, nothing to conceal */
    assert_int_equal(d1.frames - d0.frames, got);
    assert_int_equal(d1.plc + d1.fec_recovered + d1.lost_reset + d1.decode_errors, 0);
    assert_connected(listener);

    peer_free(listener);
    for (int i = 0; i < NSPEAKERS; i++)
        peer_free(speakers[i]);
    impair_stop(proxy);
}

/* A speaker behind the poor link (10 % loss, 150 ms; 64 kbit/s, as 20 ms packets of 24 kbit/s Opus
 * with the test trailer need about 56 on the wire): the relay's mixer makes up for its lost packets
 * with the FEC its encoder adds and with concealment, and /metrics counts both. */
static void test_impaired_speaker(void **state)
{
    impair_proxy_t *proxy = start_proxy_at(2 * LINK_BPS, LINK_LOSS);
    peer_t *speakers[NSPEAKERS] = {make_speaker_via("poor-speaker", "remote", 20, 440, 24, true),
                                   make_speaker_via("poor-speaker", "local", 40, 660, 24, false)};
    peer_t *listener = make_listener_via("poor-speaker", PEER_TRANSPORT_UDP, false);
    lg_counters_t c0 = rf_relay.worker_stats[0];
    impair_stats_t p0, p1;
    impair_get_stats(proxy, &p0);

    run_together(speakers, listener);

    usleep(300000); /* the relay's counters as /metrics reads them: refreshed every 100 ms */
    lg_counters_t c1 = rf_relay.worker_stats[0];
    impair_get_stats(proxy, &p1);
    uint64_t lost = p1.udp_up.dropped_loss - p0.udp_up.dropped_loss;
    uint64_t queued = p1.udp_up.dropped_queue - p0.udp_up.dropped_queue;
    uint64_t fec = c1.mix_fec_recovered - c0.mix_fec_recovered;
    uint64_t concealed = c1.mix_concealed - c0.mix_concealed;
    uint64_t decodes = c1.mix_decodes - c0.mix_decodes;
    print_message("relay mixer: %llu decodes, %llu FEC-recovered, %llu concealed\n",
                  (unsigned long long)decodes, (unsigned long long)fec,
                  (unsigned long long)concealed);
    print_dir("udp up", &p1.udp_up);
    print_dir("udp down", &p1.udp_down);
    peer_stats_t rs;
    peer_get_stats(speakers[0], &rs);
    assert_non_null(strstr(rs.publish.remote, PROXY_IP ":"));

    /* the link lost about 10 % of the speaker's packets (50 a second) */
    uint64_t up = p1.udp_up.forwarded - p0.udp_up.forwarded + lost;
    assert_true(up >= (uint64_t)RUN_MS / 20 * 8 / 10);
    assert_true(lost * 100 >= up * 4 && lost * 100 <= up * 18);
    assert_true(queued * 10 <= up);
    /* the mixer decoded both speakers and repaired the lost packets: FEC first, concealment for
     * the rest (and for late ones); never more than the link took, besides what the mixer's
     * jitter buffer conceals on its own when a packet is late (a few) */
    assert_true(decodes >= (uint64_t)RUN_MS / 20 * 3 / 2);
    assert_true(fec > 0);
    assert_true((fec + concealed) * 2 >= lost);
    print_message("relay repaired %llu of %llu lost\n", (unsigned long long)(fec + concealed),
                  (unsigned long long)(lost + queued));

    peer_free(listener);
    for (int i = 0; i < NSPEAKERS; i++)
        peer_free(speakers[i]);
    impair_stop(proxy);
}

static int setup(void **state)
{
    return relay_fixture_start(tune);
}

static int teardown(void **state)
{
    relay_fixture_stop();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed_listener_udp),
        cmocka_unit_test(test_mixed_listener_tcp),
        cmocka_unit_test(test_impaired_speaker),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
