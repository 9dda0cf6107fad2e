/* Audio mixing end to end with real Opus: C peers send sine tones encoded by libopus (the trailer
 * in the packets' padding), the relay decodes and mixes them, and the mixed listeners decode
 * what they receive and look for each tone; plain listeners keep one stream per speaker. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <opus.h>

#include "bench/peer/peer.h"
#include "bench/relay_metrics.h"
#include "relay_fixture.h"
#include "sfu/lg_error.h"

#define MIX_PTIME_MS 20
#define MAX_PEERS    8
#define SPEAK_MS     4000
#define CONTROL_HZ   2300.0 /* no tone there: what the decoded mix holds besides the tones */

typedef struct {
    peer_t *peer;
    int run_ms;
    int rc;
    double secs; /* how long its peer_run took */
} run_arg_t;

/* The relay's mixing counters, read from its /metrics page over HTTPS. */
typedef struct {
    double decodes, encodes, concealed, listeners;
} mix_metrics_t;

static mix_metrics_t scrape(void)
{
    char *page, err[256];
    size_t len;
    if (relay_metrics_fetch("127.0.0.1", rf_cfg.listen_port, 2000, &page, &len, err, sizeof err))
        fail_msg("%s", err);
    mix_metrics_t m;
    assert_int_equal(relay_metrics_sum(page, len, "legation_mix_decodes_total", &m.decodes), 0);
    assert_int_equal(relay_metrics_sum(page, len, "legation_mix_encodes_total", &m.encodes), 0);
    assert_int_equal(relay_metrics_sum(page, len, "legation_mix_concealed_total", &m.concealed), 0);
    assert_int_equal(relay_metrics_sum(page, len, "legation_mixed_listeners", &m.listeners), 0);
    free(page);
    return m;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_thread(void *arg)
{
    run_arg_t *a = arg;
    double t0 = now_s();
    a->rc = peer_run(a->peer, a->run_ms);
    a->secs = now_s() - t0;
}

/* Runs peers[i] for ms[i] (ms NULL: all for all_ms), concurrently. With samples, reads the relay's
 * /metrics (refreshed every 100 ms) at 1/4 and 5/8 of all_ms, while media flows. secs (may be
 * NULL) gets how long each peer ran. */
static void run_all(peer_t **peers, const int *ms, int n, int all_ms, mix_metrics_t samples[2],
                    double *secs)
{
    run_arg_t args[MAX_PEERS];
    uv_thread_t th[MAX_PEERS];
    assert_true(n <= MAX_PEERS);
    for (int i = 0; i < n; i++) {
        args[i] = (run_arg_t){peers[i], ms ? ms[i] : all_ms, 0, 0};
        assert_int_equal(uv_thread_create(&th[i], run_thread, &args[i]), 0);
    }
    if (samples) {
        usleep((useconds_t)all_ms * 250);
        samples[0] = scrape();
        usleep((useconds_t)all_ms * 375);
        samples[1] = scrape();
    }
    for (int i = 0; i < n; i++) {
        uv_thread_join(&th[i]);
        if (args[i].rc != 0)
            fail_msg("peer %d stopped: %s", i, peer_last_error(args[i].peer));
        if (secs)
            secs[i] = args[i].secs;
    }
}

/* Joins a room; tone_hz > 0 publishes that tone (audio only, sending held until told); drop_every
 * > 0 drops every so many audio packets received. */
static peer_t *make_lossy_peer(const char *room, const char *name, unsigned tone_hz, bool mixed,
                               unsigned drop_every)
{
    peer_opts_t o;
    memset(&o, 0, sizeof o);
    o.host = "127.0.0.1";
    o.port = rf_cfg.listen_port;
    o.token = relay_fixture_token(room, name, AUTH_ROLE_PARTICIPANT, 600);
    o.mixed_audio = mixed;
    o.no_video = true;
    o.opus_tone_hz = tone_hz;
    o.rx_audio_drop_every = drop_every;
    char err[256];
    peer_t *p = peer_new(&o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join %s: %s", name, peer_last_error(p));
    if (tone_hz) {
        peer_set_sending(p, false);
        if (peer_publish(p, 10000) != 0)
            fail_msg("publish %s: %s", name, peer_last_error(p));
    }
    return p;
}

static peer_t *make_peer(const char *room, const char *name, unsigned tone_hz, bool mixed)
{
    return make_lossy_peer(room, name, tone_hz, mixed, 0);
}

/* The peer's only decoded stream without trailers (the mix). */
static peer_mixed_audio_stats_t the_mix(peer_t *p)
{
    peer_mixed_audio_stats_t m;
    memset(&m, 0, sizeof m);
    if (peer_mixed_audio_count(p) == 1)
        assert_int_equal(peer_get_mixed_audio(p, 0, &m), 0);
    return m;
}

static double tone_db(peer_t *p, double hz)
{
    double db;
    int rc = peer_mixed_tone_level(p, 0, hz, &db);
    if (rc != 0)
        fail_msg("tone level at %.0f Hz: %s", hz, lg_strerror(rc));
    return db;
}

/* Audio streams with a trailer from this many distinct senders. */
static int speaker_streams(peer_t *p)
{
    int n = 0;
    peer_stream_stats_t s;
    for (int i = 0; i < peer_stream_count(p); i++)
        if (peer_get_stream(p, i, &s) == 0 && s.kind == PEER_STREAM_AUDIO && s.sender_id != 0 &&
            s.packets > 0)
            n++;
    return n;
}

static void tune(lg_config_t *cfg)
{
    cfg->mix_ptime_ms = MIX_PTIME_MS;
}

/* --- the padding that carries the trailer -------------------------------------------------- */

/* A padded packet with the trailer decodes to exactly the samples of the packet as encoded. */
static void test_opus_pad(void **state)
{
    int err;
    OpusEncoder *enc = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    OpusDecoder *plain = opus_decoder_create(48000, 1, &err);
    OpusDecoder *padded = opus_decoder_create(48000, 1, &err);
    assert_non_null(enc);
    assert_non_null(plain);
    assert_non_null(padded);
    opus_encoder_ctl(enc, OPUS_SET_BITRATE(32000));
    opus_encoder_ctl(enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(enc, OPUS_SET_PACKET_LOSS_PERC(10));
    int16_t pcm[960], a[960], b[960];
    uint8_t pkt[1500], copy[1500];
    for (int frame = 0; frame < 50; frame++) {
        for (int i = 0; i < 960; i++)
            pcm[i] = (int16_t)(8000 * sin(2 * M_PI * 440 * (frame * 960 + i) / 48000.0));
        int n = opus_encode(enc, pcm, 960, pkt, 1000);
        assert_true(n > 2);
        memcpy(copy, pkt, (size_t)n);
        int len = peer_opus_pad(pkt, (size_t)n, sizeof pkt);
        assert_true(len >= n + PEER_TRAILER_SIZE);
        assert_int_equal(pkt[0] & 3, 3); /* code 3 ... */
        assert_true(pkt[1] & 0x40);      /* ... with padding */
        peer_trailer_t t = {0xabcdef01u, 0, (uint32_t)frame, 123456789ULL}, back;
        assert_int_equal(peer_trailer_write(pkt, (size_t)len, &t), 0);
        assert_int_equal(peer_trailer_read(pkt, (size_t)len, &back), 0);
        assert_int_equal(back.seq, (uint32_t)frame);
        assert_int_equal(opus_decode(plain, copy, n, a, 960, 0), 960);
        assert_int_equal(opus_decode(padded, pkt, len, b, 960, 0), 960);
        assert_memory_equal(a, b, sizeof a);
    }
    /* no room for the padding; not an Opus packet (code 3 with zero frames) */
    uint8_t small[40] = {0x78, 1, 2, 3};
    assert_int_equal(peer_opus_pad(small, 4, 4 + PEER_TRAILER_SIZE), LG_ENOSPC);
    uint8_t bad[64] = {0x7b, 0x00};
    assert_int_equal(peer_opus_pad(bad, 2, sizeof bad), LG_EMALFORMED);
    opus_encoder_destroy(enc);
    opus_decoder_destroy(plain);
    opus_decoder_destroy(padded);
}

/* --- the relay's mix, end to end ------------------------------------------------------------ */

/* Lets every peer answer its subscribe offers with nothing sent yet, then turns the speakers'
 * sending on. */
static void settle(peer_t **all, int n, peer_t **speakers, int ns)
{
    run_all(all, NULL, n, 1000, NULL, NULL);
    for (int i = 0; i < ns; i++)
        peer_set_sending(speakers[i], true);
}

/* Three speakers at 400, 700 and 1100 Hz: the mixed listener receives one Opus stream at the
 * mix's packet rate and bitrate that holds all three tones; the plain listener receives every
 * packet of three streams; the relay decodes and encodes without concealing. */
static void test_mixed_tones(void **state)
{
    static const unsigned hz[3] = {400, 700, 1100};
    peer_t *mixed = make_peer("tones", "embassy", 0, true);
    peer_t *plain = make_peer("tones", "ministry", 0, false);
    peer_t *spk[3];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof name, "speaker%d", i);
        spk[i] = make_peer("tones", name, hz[i], false);
    }
    peer_t *all[5] = {mixed, plain, spk[0], spk[1], spk[2]};
    settle(all, 5, spk, 3);
    /* the mixed listener stops a second before the speakers: the window its decoded audio is
     * analysed over (its last second) lies inside the speaking, whatever the threads' skew */
    peer_mixed_audio_stats_t m0 = the_mix(mixed);
    const int ms[5] = {SPEAK_MS - 1000, SPEAK_MS, SPEAK_MS, SPEAK_MS, SPEAK_MS};
    mix_metrics_t c[2];
    double secs[5];
    run_all(all, ms, 5, SPEAK_MS, c, secs);
    for (int i = 0; i < 3; i++)
        peer_set_sending(spk[i], false);

    /* the mixed listener: one audio SSRC, none per speaker, decoded cleanly */
    assert_int_equal(peer_mixed_audio_count(mixed), 1);
    assert_int_equal(speaker_streams(mixed), 0);
    peer_mixed_audio_stats_t m = the_mix(mixed);
    print_message("mix: %llu packets (%llu while speaking, %.2f s), %llu payload bytes, %llu SRTP "
                  "bytes, plc %llu, fec %llu, errors %llu\n",
                  (unsigned long long)m.packets, (unsigned long long)(m.packets - m0.packets),
                  secs[0], (unsigned long long)m.bytes, (unsigned long long)m.srtp_bytes,
                  (unsigned long long)m.plc, (unsigned long long)m.fec_recovered,
                  (unsigned long long)m.decode_errors);
    for (int i = 0; i < 3; i++) {
        peer_stats_t ss;
        peer_get_stats(spk[i], &ss);
        print_message("speaker %d: %llu sent in %.2f s\n", i,
                      (unsigned long long)ss.audio_packets_sent, secs[2 + i]);
    }
    /* a generous band: on a machine loaded far beyond its cores the speakers skip ahead and the
     * relay skips ticks later than 100 ms (both seen at 0.7 of the rate under ASan at load 15) */
    double expect = secs[0] * 1000 / MIX_PTIME_MS;
    assert_true(m.packets - m0.packets >= 0.5 * expect);
    assert_true(m.packets - m0.packets <= 1.3 * expect + 10);
    assert_int_equal(m.decode_errors + m.late + m.plc + m.fec_recovered + m.lost_reset, 0);
    assert_int_equal(m.frames, m.packets);
    assert_int_equal(m.samples, m.frames * 48 * MIX_PTIME_MS); /* every packet is mix-ptime */
    double kbps = m.bytes * 8.0 / (m.packets * MIX_PTIME_MS / 1000.0) / 1000.0;
    print_message("mix: %.1f kbit/s of Opus (mix-bitrate %d)\n", kbps, rf_cfg.mix_bitrate / 1000);
    assert_true(kbps >= 0.4 * rf_cfg.mix_bitrate / 1000 && kbps <= 1.4 * rf_cfg.mix_bitrate / 1000);
    assert_true(m.srtp_bytes > m.bytes + 12 * m.packets); /* header and auth tag on top */

    /* all three tones, each far above a frequency where none is */
    double control = tone_db(mixed, CONTROL_HZ);
    for (int i = 0; i < 3; i++) {
        double db = tone_db(mixed, hz[i]);
        print_message("mix: %u Hz at %.1f dB (control %.1f dB)\n", hz[i], db, control);
        assert_true(db > -12.0);
        assert_true(db > control + 25.0);
    }

    /* the plain listener (once what is in flight arrived): every packet of every speaker, nothing
     * decoded as a mix */
    run_all(&plain, NULL, 1, 400, NULL, NULL);
    assert_int_equal(speaker_streams(plain), 3);
    assert_int_equal(peer_mixed_audio_count(plain), 0);
    for (int i = 0; i < 3; i++) {
        peer_stats_t ss;
        peer_get_stats(spk[i], &ss);
        assert_true(ss.audio_packets_sent >= 100);
        peer_stream_stats_t s;
        bool found = false;
        for (int j = 0; j < peer_stream_count(plain) && !found; j++)
            found = peer_get_stream(plain, j, &s) == 0 && s.sender_id == peer_sender_id(spk[i]);
        assert_true(found);
        assert_int_equal(s.packets, ss.audio_packets_sent);
        assert_int_equal(s.gaps + s.late, 0);
    }

    /* the relay decoded every source and encoded the mix, concealing (almost) nothing */
    double dec = c[1].decodes - c[0].decodes, enc = c[1].encodes - c[0].encodes,
           conc = c[1].concealed - c[0].concealed;
    double window = SPEAK_MS * 0.375 / 1000;
    print_message("relay: %.0f decodes, %.0f encodes, %.0f concealed in %.2f s\n", dec, enc, conc,
                  window);
    assert_true(dec >= 3 * 50 * window * 0.5);
    assert_true(enc >= 50 * window * 0.5);
    /* under 2 %, besides what the speakers did not send (a peer starved for over 200 ms skips
     * ahead rather than burst: a gap the relay rightly conceals) */
    double unsent = 0;
    for (int i = 0; i < 3; i++) {
        peer_stats_t ss;
        peer_get_stats(spk[i], &ss);
        double due = secs[2 + i] * 1000 / 20;
        unsent += due > (double)ss.audio_packets_sent ? due - (double)ss.audio_packets_sent : 0;
    }
    print_message("speakers: %.0f packets due not sent\n", unsent);
    assert_true(conc <= dec / 50 + unsent);
    assert_true(c[1].listeners == 1);

    peer_free(mixed);
    peer_free(plain);
    for (int i = 0; i < 3; i++)
        peer_free(spk[i]);
}

/* A mixed participant who speaks hears the others but not itself (mix-minus), while a mixed
 * listener who does not speak hears all three, though it loses every 7th packet: it makes up
 * exactly the packets it lost, most of them from the in-band FEC the relay adds once the
 * listener's receiver reports show the loss. */
static void test_mix_minus(void **state)
{
    peer_t *listener = make_lossy_peer("minus", "listener", 0, true, 7);
    peer_t *a = make_peer("minus", "a", 400, false);
    peer_t *b = make_peer("minus", "b", 700, false);
    peer_t *self = make_peer("minus", "self", 1700, true);
    peer_t *all[4] = {listener, a, b, self};
    peer_t *spk[3] = {a, b, self};
    settle(all, 4, spk, 3);
    /* each analysis window (a peer's last second) lies inside everyone else's speaking: self
     * stops before a and b, the listener before all three */
    const int ms[4] = {SPEAK_MS - 1000, SPEAK_MS + 1000, SPEAK_MS + 1000, SPEAK_MS};
    run_all(all, ms, 4, SPEAK_MS, NULL, NULL);

    assert_int_equal(peer_mixed_audio_count(self), 1);
    assert_int_equal(speaker_streams(self), 0);
    assert_int_equal(the_mix(self).decode_errors, 0);
    double own = tone_db(self, 1700), control = tone_db(self, CONTROL_HZ);
    double others[2] = {tone_db(self, 400), tone_db(self, 700)};
    print_message("self: 400 Hz %.1f dB, 700 Hz %.1f dB, own 1700 Hz %.1f dB, control %.1f dB\n",
                  others[0], others[1], own, control);
    for (int i = 0; i < 2; i++) {
        assert_true(others[i] > -12.0);
        assert_true(others[i] > own + 25.0);
    }
    peer_stats_t ls;
    peer_get_stats(listener, &ls);
    peer_mixed_audio_stats_t m = the_mix(listener);
    print_message("listener: %llu packets, %llu dropped, %llu concealed, %llu from FEC\n",
                  (unsigned long long)m.packets, (unsigned long long)ls.rx_dropped,
                  (unsigned long long)m.plc, (unsigned long long)m.fec_recovered);
    assert_true(ls.rx_dropped >= 10);
    assert_int_equal(m.packets, m.frames); /* nothing late, nothing undecodable */
    /* every loss made up once (the very last packet's loss shows no gap) */
    assert_true(m.plc + m.fec_recovered == ls.rx_dropped ||
                m.plc + m.fec_recovered + 1 == ls.rx_dropped);
    assert_int_equal(m.samples, (m.frames + m.plc + m.fec_recovered) * 48 * MIX_PTIME_MS);
    /* its receiver reports told the relay of the loss, so the mix carries in-band FEC, and most
     * losses after the first report are recovered from it */
    assert_true(m.fec_recovered > 0);
    /* the speaker is in the mix for the others (FEC and concealment smear the tones a little) */
    double lc = tone_db(listener, CONTROL_HZ);
    static const double hz[3] = {400, 700, 1700};
    for (int i = 0; i < 3; i++) {
        double db = tone_db(listener, hz[i]);
        print_message("listener: %.0f Hz %.1f dB (control %.1f dB)\n", hz[i], db, lc);
        assert_true(db > -18.0);
        assert_true(db > lc + 25.0);
    }

    peer_free(listener);
    peer_free(a);
    peer_free(b);
    peer_free(self);
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
        cmocka_unit_test(test_opus_pad),
        cmocka_unit_test(test_mixed_tones),
        cmocka_unit_test(test_mix_minus),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
