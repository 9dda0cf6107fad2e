/* Unit tests for the Opus mixer: sine sources encoded with real libopus are mixed, the listeners'
 * packets decoded with a real decoder and analysed with Goertzel filters. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "media/opus_mixer.h"
#include "sfu/lg_error.h"
#include "tests/unit/opus_tone.h"

#define MAX_SRC     6
#define MAX_LIS     5
#define CAP_SAMPLES (48000 * 12)

/* What one listener received, decoded. */
typedef struct capture {
    uint32_t id;
    OpusDecoder *dec;
    int16_t *pcm;
    size_t n; /* decoded samples */
    size_t packets, bytes, mix_minus, lbrr, dtx_gaps;
    bool have_last;
    uint16_t first_seq, last_seq;
    uint32_t first_ts, last_ts;
    bool first_marker;
    unsigned seq_breaks, ts_breaks, bad_sizes, marker_missing;
} capture_t;

typedef struct sim {
    mixer_t *m;
    unsigned ptime_ms;
    uint64_t now;
    unsigned nsrc, ncap;
    tone_src_t src[MAX_SRC];
    uint32_t src_id[MAX_SRC];
    unsigned rate[MAX_SRC];    /* packets per tick (1; 10 for a runaway source) */
    unsigned corrupt[MAX_SRC]; /* packets k, k+1 unparseable for every k multiple of n */
    unsigned drop[MAX_SRC];    /* every n-th packet lost */
    int level[MAX_SRC];        /* RFC 6464 level passed each tick, or -1 */
    unsigned sent[MAX_SRC];
    capture_t cap[MAX_LIS];
} sim_t;

static void sim_init(sim_t *s, const mixer_config_t *cfg)
{
    memset(s, 0, sizeof *s);
    assert_int_equal(mixer_create(cfg, &s->m), 0);
    s->ptime_ms = cfg ? cfg->ptime_ms : 60;
    s->now = 1000;
}

static void sim_source(sim_t *s, uint32_t id, double freq, double amp)
{
    unsigned i = s->nsrc++;
    assert_int_equal(
        tone_src_init(&s->src[i], freq, amp, true, 32000, (uint16_t)(id * 1000), id * 100000u), 0);
    s->src_id[i] = id;
    s->src[i].am = 0.3; /* a syllable-like envelope: Opus VAD hears speech, not steady noise */
    s->rate[i] = 1;
    s->level[i] = -1;
    assert_int_equal(mixer_source_add(s->m, id), 0);
}

static capture_t *sim_listener(sim_t *s, uint32_t id, uint16_t seq0, uint32_t ts0)
{
    capture_t *c = &s->cap[s->ncap++];
    int err;
    c->id = id;
    c->dec = opus_decoder_create(48000, 1, &err);
    c->pcm = calloc(CAP_SAMPLES, sizeof *c->pcm);
    assert_int_equal(mixer_listener_add(s->m, id, seq0, ts0), 0);
    return c;
}

static void capture_feed(sim_t *s, capture_t *c, const mixer_output_t *o)
{
    unsigned step = s->ptime_ms * 48;
    if (!c->have_last) {
        c->first_seq = o->seq;
        c->first_ts = o->ts;
        c->first_marker = o->marker;
    } else {
        /* RTP continuity with DTX: the next sequence number, and a timestamp a whole number of
         * packet times on; after a gap the marker bit, and concealment as a receiver would */
        uint32_t delta = o->ts - c->last_ts;
        c->seq_breaks += o->seq != (uint16_t)(c->last_seq + 1);
        if (delta == 0 || delta % step != 0 || delta / step > 100) {
            c->ts_breaks++;
        } else if (delta > step) {
            c->dtx_gaps++;
            c->marker_missing += !o->marker;
            for (uint32_t k = 1; k < delta / step && c->n + 2 * 5760 <= CAP_SAMPLES; k++) {
                int n = opus_decode(c->dec, NULL, 0, c->pcm + c->n, (int)step, 0);
                assert_int_equal(n, (int)step);
                c->n += (size_t)n;
            }
        }
    }
    c->have_last = true;
    c->last_seq = o->seq;
    c->last_ts = o->ts;
    c->packets++;
    c->bytes += o->len;
    c->mix_minus += o->mix_minus;
    c->lbrr += jb_opus_has_lbrr(o->payload, o->len);
    c->bad_sizes += opus_packet_get_nb_samples(o->payload, (opus_int32)o->len, 48000) != (int)step;
    if (c->n + 5760 <= CAP_SAMPLES) {
        int n = opus_decode(c->dec, o->payload, (opus_int32)o->len, c->pcm + c->n, 5760, 0);
        assert_true(n > 0);
        c->n += (size_t)n;
    }
}

/* Packet times from the listener's first packet to its last, sent or skipped for DTX. */
static size_t periods(const sim_t *s, const capture_t *c)
{
    return (size_t)((c->last_ts - c->first_ts) / (s->ptime_ms * 48)) + 1;
}

static void push_tick(sim_t *s)
{
    for (unsigned i = 0; i < s->nsrc; i++) {
        if (s->level[i] >= 0)
            mixer_source_set_level(s->m, s->src_id[i], (uint8_t)s->level[i], s->now);
        for (unsigned r = 0; r < s->rate[i]; r++) {
            uint8_t pkt[1500];
            uint16_t seq;
            uint32_t ts;
            int len = tone_src_next(&s->src[i], pkt, sizeof pkt, &seq, &ts);
            assert_true(len > 0);
            unsigned k = ++s->sent[i];
            if (s->drop[i] && k % s->drop[i] == 0)
                continue;
            if (s->corrupt[i] && k % s->corrupt[i] <= 1) {
                pkt[0] = 0x0b; /* code 3 ... */
                pkt[1] = 0x00; /* ... with zero frames */
            }
            mixer_source_push(s->m, s->src_id[i], seq, ts, pkt, (size_t)len, s->now);
        }
    }
}

static unsigned sim_run(sim_t *s, unsigned ticks)
{
    unsigned ran = 0;
    for (unsigned t = 0; t < ticks; t++) {
        push_tick(s);
        while (mixer_tick(s->m, s->now) == 1) {
            ran++;
            size_t n;
            const mixer_output_t *o = mixer_outputs(s->m, &n);
            for (size_t i = 0; i < n; i++)
                for (unsigned c = 0; c < s->ncap; c++)
                    if (s->cap[c].id == o[i].listener)
                        capture_feed(s, &s->cap[c], &o[i]);
        }
        s->now += MIXER_TICK_MS;
    }
    return ran;
}

static void sim_free(sim_t *s)
{
    for (unsigned i = 0; i < s->nsrc; i++)
        tone_src_free(&s->src[i]);
    for (unsigned i = 0; i < s->ncap; i++) {
        opus_decoder_destroy(s->cap[i].dec);
        free(s->cap[i].pcm);
    }
    mixer_destroy(s->m);
}

/* Tone power in dB over decoded samples [from, to) of a capture. */
static double tone(const capture_t *c, double freq, size_t from, size_t to)
{
    assert_true(to <= c->n && from < to);
    return to_db(goertzel(c->pcm + from, to - from, freq));
}

/* The strongest of a few frequencies no source uses: the noise and distortion floor. */
static double floor_db(const capture_t *c, size_t from, size_t to)
{
    static const double off[] = {300, 550, 800, 1150, 1500, 2500};
    double worst = -100;
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        double p = tone(c, off[i], from, to);
        worst = p > worst ? p : worst;
    }
    return worst;
}

/* The last second a capture decoded. */
#define LAST_SECOND(c) (c)->n - 48000, (c)->n

static void assert_close(double a, double b, double tol, const char *what)
{
    if (fabs(a - b) > tol)
        fail_msg("%s: %.1f dB vs %.1f dB (tolerance %.1f)", what, a, b, tol);
}

static void three_sources(sim_t *s, double amp)
{
    sim_source(s, 1, 440, amp);
    sim_source(s, 2, 660, amp);
    sim_source(s, 3, 990, amp);
}

/* A listener who is not speaking hears all three tones at their level, above the noise. */
static void test_three_tones_mixed(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, NULL);
    three_sources(&s, 0.2);
    capture_t *c = sim_listener(&s, 100, 1, 1000);
    sim_run(&s, 150);
    double p440 = tone(c, 440, LAST_SECOND(c)), p660 = tone(c, 660, LAST_SECOND(c));
    double p990 = tone(c, 990, LAST_SECOND(c)), fl = floor_db(c, LAST_SECOND(c));
    double expect = to_db(0.14 * 32767 * 0.14 * 32767); /* the carrier: 0.2 * (1 - 0.3) */
    print_message("shared mix: 440 %.1f dB, 660 %.1f dB, 990 %.1f dB, floor %.1f dB (sine at "
                  "0.2 FS: %.1f dB)\n",
                  p440, p660, p990, fl, expect);
    assert_close(p440, p660, 3, "440 vs 660");
    assert_close(p660, p990, 3, "660 vs 990");
    assert_close(p440, expect, 3, "440 vs its input level");
    assert_true(p440 > fl + 25 && p660 > fl + 25 && p990 > fl + 25);
    uint32_t ids[8];
    assert_int_equal(mixer_speakers(s.m, ids, 8), 3);
    assert_int_equal(c->seq_breaks + c->ts_breaks + c->bad_sizes + c->marker_missing, 0);
    assert_true(c->first_marker);
    assert_int_equal(periods(&s, c), 50);
    assert_int_equal(c->first_seq, 1);
    assert_int_equal(c->first_ts, 1000);
    sim_free(&s);
}

/* A speaker hears the others but not itself; everyone else shares one encode. */
static void test_mix_minus(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, NULL);
    three_sources(&s, 0.2);
    capture_t *self = sim_listener(&s, 1, 0, 0);
    capture_t *other = sim_listener(&s, 100, 0, 0);
    sim_listener(&s, 101, 0, 0);
    sim_listener(&s, 102, 0, 0);
    unsigned ticks = sim_run(&s, 150);
    double s440 = tone(self, 440, LAST_SECOND(self)), s660 = tone(self, 660, LAST_SECOND(self));
    double s990 = tone(self, 990, LAST_SECOND(self));
    double o440 = tone(other, 440, LAST_SECOND(other));
    print_message("mix-minus of source 1: 440 %.1f dB, 660 %.1f dB, 990 %.1f dB; others hear "
                  "440 at %.1f dB\n",
                  s440, s660, s990, o440);
    assert_true(s440 < s660 - 40 && s440 < s990 - 40);
    assert_close(s660, s990, 3, "660 vs 990 in the mix-minus");
    assert_close(o440, s660, 3, "shared 440 vs mix-minus 660");
    assert_int_equal(self->mix_minus, self->packets);
    assert_int_equal(other->mix_minus, 0);
    /* one shared encode and one for the speaker per packet time, for four listeners */
    const mixer_counters_t *mc = mixer_counters(s.m);
    print_message("cpu: %.0f us per tick on average, %.0f us at most\n",
                  (double)mc->cpu_ns_total / (double)mc->ticks / 1000.0, mc->cpu_ns_max / 1000.0);
    assert_true(mc->cpu_ns_total > 0);
    assert_int_equal(mc->encodes, 2 * (ticks / 3));
    assert_int_equal(periods(&s, other), ticks / 3);
    assert_int_equal(mc->packets_out + mc->dtx_skipped, 4 * (ticks / 3));
    mixer_listener_info_t info;
    assert_int_equal(mixer_listener_info(s.m, 1, &info), 0);
    assert_true(info.live && info.mix_minus);
    assert_int_equal(info.next_seq, (uint16_t)self->packets);
    assert_int_equal(info.next_ts, (uint32_t)(ticks / 3 * 2880));
    sim_free(&s);
}

/* K=2: listener 2 is silent, then the loudest speaker, then silent again. Both listeners' streams
 * stay continuous across the speaker changes and the shared -> mix-minus -> shared switches. */
static void test_continuity_across_switches(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    cfg.top_k = 2;
    cfg.ptime_ms = 20;
    sim_t s;
    sim_init(&s, &cfg);
    sim_source(&s, 1, 440, 0.25);
    sim_source(&s, 2, 660, 0.0);
    sim_source(&s, 3, 990, 0.1);
    capture_t *two = sim_listener(&s, 2, 500, 77);
    capture_t *lis = sim_listener(&s, 100, 65530, 0xfffff000u);
    sim_run(&s, 50);
    size_t p1 = two->n;
    s.src[1].amp = 0.3;
    sim_run(&s, 100);
    size_t p2 = two->n;
    size_t minus_in_phase2 = two->mix_minus;
    s.src[1].amp = 0.0;
    sim_run(&s, 100);
    print_message("switches: listener 2 got %zu packets, %zu from its own encoder; speaker "
                  "changes %lu\n",
                  two->packets, two->mix_minus,
                  (unsigned long)mixer_counters(s.m)->speaker_changes);
    for (unsigned i = 0; i < 2; i++) {
        const capture_t *c = &s.cap[i];
        assert_int_equal(periods(&s, c), 250);
        assert_int_equal(c->seq_breaks + c->ts_breaks + c->marker_missing, 0);
    }
    assert_int_equal(lis->first_seq, 65530);
    assert_int_equal(lis->first_ts, 0xfffff000u);
    assert_int_equal(lis->last_seq, (uint16_t)(65530 + lis->packets - 1));
    assert_int_equal(lis->last_ts, 0xfffff000u + 249 * 960);
    assert_true(minus_in_phase2 >= 90 && minus_in_phase2 <= 100);
    assert_true(two->mix_minus - minus_in_phase2 <= 3); /* back on the shared stream after */
    assert_true(mixer_counters(s.m)->speaker_changes >= 2);
    /* no click where listener 2 changes encoder (around packets 50 and 150): the decoded audio
     * stays below the sources' sum (0.35 of full scale) with a margin for the codec */
    for (size_t sw = 50; sw <= 150; sw += 100) {
        int peak = 0;
        for (size_t i = (sw - 3) * 960; i < (sw + 6) * 960; i++)
            peak = abs(two->pcm[i]) > peak ? abs(two->pcm[i]) : peak;
        print_message("switch at packet %zu: decoded peak %.2f of full scale\n", sw,
                      peak / 32768.0);
        assert_true(peak < 0.42 * 32768);
    }
    /* phase 1: 2 hears 440 and 990; phase 2: only 440 (itself and 990 are out); phase 3: both */
    size_t a = p1 + 20 * 960, b = p2 - 5 * 960;
    assert_true(tone(two, 990, 10 * 960, p1) > tone(two, 660, 10 * 960, p1) + 30);
    assert_true(tone(two, 440, a, b) > tone(two, 660, a, b) + 40);
    assert_true(tone(two, 440, a, b) > tone(two, 990, a, b) + 30);
    assert_true(tone(lis, 660, a, b) > tone(lis, 990, a, b) + 30);
    assert_true(tone(two, 990, LAST_SECOND(two)) > tone(two, 660, LAST_SECOND(two)) + 30);
    sim_free(&s);
}

/* Five sources, K=3: the three loudest are mixed, the two quiet ones are not; a source whose own
 * audio level says silence is not mixed however loud it measures. */
static void test_top_k_of_five(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, NULL);
    static const double freq[5] = {440, 660, 990, 1320, 1760};
    static const double amp[5] = {0.25, 0.2, 0.15, 0.03, 0.01};
    for (unsigned i = 0; i < 5; i++)
        sim_source(&s, i + 1, freq[i], amp[i]);
    capture_t *c = sim_listener(&s, 100, 0, 0);
    sim_run(&s, 100);
    uint32_t ids[8];
    assert_int_equal(mixer_speakers(s.m, ids, 8), 3);
    assert_int_equal(ids[0] + ids[1] + ids[2], 1 + 2 + 3);
    double quietest_mixed = tone(c, 990, LAST_SECOND(c));
    print_message("top 3 of 5: 990 %.1f dB, 1320 %.1f dB, 1760 %.1f dB\n", quietest_mixed,
                  tone(c, 1320, LAST_SECOND(c)), tone(c, 1760, LAST_SECOND(c)));
    assert_true(tone(c, 1320, LAST_SECOND(c)) < quietest_mixed - 30);
    assert_true(tone(c, 1760, LAST_SECOND(c)) < quietest_mixed - 30);
    s.level[0] = 127; /* source 1 says it is silent */
    sim_run(&s, 100);
    assert_int_equal(mixer_speakers(s.m, ids, 8), 3);
    assert_int_equal(ids[0] + ids[1] + ids[2], 2 + 3 + 4);
    assert_true(tone(c, 1320, LAST_SECOND(c)) > tone(c, 440, LAST_SECOND(c)) + 30);
    sim_free(&s);
}

/* Three full-scale sources: the limiter scales the sum, it never wraps around. */
static void test_clipping_safe(void **state)
{
    (void)state;
    /* the arithmetic: full-scale DC of both signs, and three full-scale sines */
    static int16_t pos[960], neg[960], out[960];
    for (int i = 0; i < 960; i++) {
        pos[i] = 32767;
        neg[i] = -32768;
    }
    const int16_t *three_pos[3] = {pos, pos, pos}, *three_neg[3] = {neg, neg, neg};
    mixer_limiter_t lim = {1.0f};
    mixer_mix_pcm(three_pos, 3, 960, &lim, out);
    for (int i = 0; i < 960; i++)
        assert_true(out[i] >= 31000);
    mixer_mix_pcm(three_neg, 3, 960, &lim, out);
    for (int i = 0; i < 960; i++)
        assert_true(out[i] <= -31000);

    sim_t s;
    sim_init(&s, NULL);
    three_sources(&s, 1.0);
    for (unsigned i = 0; i < 3; i++)
        s.src[i].am = 0; /* steady full scale */
    capture_t *c = sim_listener(&s, 100, 0, 0);
    sim_run(&s, 150);
    double p440 = tone(c, 440, LAST_SECOND(c)), p660 = tone(c, 660, LAST_SECOND(c));
    double p990 = tone(c, 990, LAST_SECOND(c));
    double tones = pow(10, p440 / 10) + pow(10, p660 / 10) + pow(10, p990 / 10);
    double total = total_power(c->pcm + c->n - 48000, 48000);
    print_message("full scale x3: 440 %.1f dB, 660 %.1f dB, 990 %.1f dB, tones carry %.1f %% of "
                  "the energy\n",
                  p440, p660, p990, 100 * tones / total);
    assert_close(p440, p660, 3, "440 vs 660");
    assert_close(p660, p990, 3, "660 vs 990");
    assert_true(tones / total > 0.8);
    sim_free(&s);
}

/* 20, 40 and 60 ms packets: one per 1, 2 or 3 ticks, each that long, timestamps that far apart. */
static void test_packet_times(void **state)
{
    (void)state;
    static const unsigned ptimes[3] = {20, 40, 60};
    for (unsigned i = 0; i < 3; i++) {
        mixer_config_t cfg;
        mixer_config_default(&cfg);
        cfg.ptime_ms = ptimes[i];
        sim_t s;
        sim_init(&s, &cfg);
        sim_source(&s, 1, 440, 0.2);
        capture_t *c = sim_listener(&s, 100, 0, 0);
        sim_run(&s, 60);
        assert_int_equal(periods(&s, c), 60 / (ptimes[i] / 20));
        assert_true(c->packets >= periods(&s, c) - 2);
        assert_int_equal(c->bad_sizes + c->seq_breaks + c->ts_breaks, 0);
        sim_free(&s);
    }
}

static double wire_kbps(const mixer_config_t *cfg, bool speaker)
{
    sim_t s;
    sim_init(&s, cfg);
    three_sources(&s, 0.2);
    capture_t *c = sim_listener(&s, speaker ? 1 : 100, 0, 0);
    sim_run(&s, 250); /* 5 s */
    double kbps = (double)(c->bytes + c->packets * MIXER_WIRE_OVERHEAD) * 8 / 5.0 / 1000;
    print_message("wire: %u kbit/s Opus in %u ms packets -> %.1f kbit/s (%zu packets)\n",
                  cfg->bitrate_bps / 1000, cfg->ptime_ms, kbps, c->packets);
    sim_free(&s);
    return kbps;
}

static void test_wire_bitrate(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    assert_int_equal(mixer_wire_bitrate(cfg.bitrate_bps, cfg.ptime_ms), 31466);
    assert_true(wire_kbps(&cfg, false) <= 32.0);
    assert_true(wire_kbps(&cfg, true) <= 32.0);
    mixer_config_emergency(&cfg);
    assert_true(mixer_wire_bitrate(cfg.bitrate_bps, cfg.ptime_ms) <= 16000);
    assert_true(wire_kbps(&cfg, false) <= 16.0);
}

/* Two of every five packets of source 1 are unparseable (the first of each pair is concealed, the
 * second recovered from the next packet's FEC), source 2 loses every tenth (FEC recovers): all
 * counted, and the mix keeps its cadence. */
static void test_bad_input_concealed(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    cfg.ptime_ms = 20;
    sim_t s;
    sim_init(&s, &cfg);
    three_sources(&s, 0.2);
    s.corrupt[0] = 5;
    s.drop[1] = 10;
    s.src[0].am = s.src[1].am = 0.45; /* speech-like, so the sources' packets carry LBRR */
    capture_t *c = sim_listener(&s, 100, 0, 0);
    sim_run(&s, 200);
    const mixer_counters_t *mc = mixer_counters(s.m);
    jb_counters_t j1;
    assert_int_equal(mixer_source_counters(s.m, 1, &j1), 0);
    for (uint32_t id = 1; id <= 3; id++) {
        jb_counters_t j;
        mixer_source_counters(s.m, id, &j);
        print_message("source %u: played %lu fec %lu concealed %lu underruns %lu late %lu shrunk "
                      "%lu target %u depth %u\n",
                      id, (unsigned long)j.played, (unsigned long)j.fec, (unsigned long)j.concealed,
                      (unsigned long)j.underruns, (unsigned long)j.late, (unsigned long)j.shrunk,
                      j.target_ms, j.depth_ms);
    }
    print_message("bad input: dropped %lu, concealed %lu, FEC %lu, decode errors %lu\n",
                  (unsigned long)mc->dropped, (unsigned long)mc->concealed,
                  (unsigned long)mc->fec_recovered, (unsigned long)mc->decode_errors);
    assert_int_equal(periods(&s, c), 200);
    assert_int_equal(c->seq_breaks + c->ts_breaks, 0);
    assert_true(j1.malformed >= 75);
    assert_true(mc->dropped >= 75);
    assert_true(mc->concealed >= 35);
    assert_true(mc->fec_recovered >= 30);
    assert_true(tone(c, 440, LAST_SECOND(c)) > floor_db(c, LAST_SECOND(c)) + 15);
    sim_free(&s);
}

/* Source 1 sends ten packets per 20 ms: its buffer stays bounded, the excess is dropped and
 * counted, decode work per tick stays bounded and the mix keeps its cadence. */
static void test_runaway_source_bounded(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    cfg.ptime_ms = 20;
    sim_t s;
    sim_init(&s, &cfg);
    three_sources(&s, 0.2);
    s.rate[0] = 10;
    capture_t *c = sim_listener(&s, 100, 0, 0);
    unsigned ticks = sim_run(&s, 200);
    jb_counters_t j1;
    assert_int_equal(mixer_source_counters(s.m, 1, &j1), 0);
    const mixer_counters_t *mc = mixer_counters(s.m);
    print_message("runaway: overflow %lu resyncs %lu buffered %u decodes %lu in %u ticks\n",
                  (unsigned long)j1.overflow, (unsigned long)j1.resyncs, j1.count,
                  (unsigned long)mc->decodes, ticks);
    assert_true(j1.overflow >= 1000);
    assert_true(j1.count <= JB_CAPACITY);
    assert_true(mc->decodes <= (uint64_t)ticks * 3 * 2);
    assert_int_equal(periods(&s, c), 200);
    assert_int_equal(c->seq_breaks + c->ts_breaks, 0);
    sim_free(&s);
}

/* No listener: no decode or encode work, packets ignored, no deadline. */
static void test_lazy_without_listeners(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, NULL);
    three_sources(&s, 0.2);
    assert_false(mixer_active(s.m));
    assert_int_equal(mixer_next_deadline_ms(s.m), UINT64_MAX);
    assert_int_equal(sim_run(&s, 50), 0);
    const mixer_counters_t *mc = mixer_counters(s.m);
    assert_int_equal(mc->decodes + mc->encodes + mc->pushed + mc->ticks, 0);
    capture_t *c = sim_listener(&s, 100, 0, 0);
    assert_true(mixer_active(s.m));
    assert_int_equal(mixer_next_deadline_ms(s.m), 0);
    sim_run(&s, 30);
    assert_true(mc->decodes >= 3 * 30 - 3 && mc->encodes == 10 && periods(&s, c) == 10);
    assert_int_equal(mixer_listener_remove(s.m, 100), 0);
    uint64_t decodes = mc->decodes;
    assert_int_equal(sim_run(&s, 30), 0);
    assert_int_equal(mc->decodes, decodes);
    jb_counters_t j;
    assert_int_equal(mixer_source_counters(s.m, 2, &j), 0);
    assert_int_equal(j.count, 0);
    sim_free(&s);
}

/* Ticks stay on the 20 ms grid however late the timer fires; 20..99 ms late the missed ticks run
 * back to back, later they are skipped and the listener's timestamps jump by the gap. */
static void test_tick_grid(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_config_default(&cfg);
    cfg.ptime_ms = 20;
    sim_t s;
    sim_init(&s, &cfg);
    sim_source(&s, 1, 440, 0.2);
    capture_t *c = sim_listener(&s, 100, 0, 0);
    uint64_t t = 5003, ticks = 0;
    srand(3);
    assert_int_equal(mixer_tick(s.m, t), 1); /* anchors the grid at 5003 */
    ticks++;
    while (t < 5003 + 10000) {
        t = mixer_next_deadline_ms(s.m) + (uint64_t)(rand() % 16);
        while (mixer_tick(s.m, t) == 1)
            ticks++;
        assert_int_equal(mixer_next_deadline_ms(s.m) % 20, 5003 % 20);
    }
    const mixer_counters_t *mc = mixer_counters(s.m);
    assert_int_equal(ticks, (t - 5003) / 20 + 1);
    assert_int_equal(mc->ticks_late + mc->ticks_skipped, 0);
    /* 50 ms late: three ticks back to back */
    uint64_t d = mixer_next_deadline_ms(s.m);
    unsigned n = 0;
    while (mixer_tick(s.m, d + 50) == 1)
        n++;
    assert_int_equal(n, 3);
    assert_int_equal(mc->ticks_late, 2); /* 50 and 30 ms late */
    /* 500 ms late: 25 ticks skipped, one runs, the stream jumps 26 ticks */
    s.now = mixer_next_deadline_ms(s.m);
    sim_run(&s, 10);
    size_t packets = c->packets;
    uint32_t before = c->last_ts;
    s.now = mixer_next_deadline_ms(s.m) + 500;
    assert_int_equal(sim_run(&s, 1), 1);
    assert_int_equal(mc->ticks_skipped, 25);
    assert_int_equal(mixer_next_deadline_ms(s.m) % 20, 5003 % 20);
    assert_int_equal(c->packets, packets + 1);
    assert_int_equal(c->last_ts - before, 26 * 960);
    sim_free(&s);
}

/* The listener's receiver-reported loss drives its encoder's FEC: the speaker at 20 % gets LBRR
 * (in the packets after active frames), the shared stream at 0 % none, until a shared listener
 * reports 25 %. */
static void test_listener_loss_drives_fec(void **state)
{
    (void)state;
    sim_t s;
    sim_init(&s, NULL);
    three_sources(&s, 0.2);
    for (unsigned i = 0; i < 3; i++)
        s.src[i].am = 0.45; /* clearly speech to the encoder's VAD: LBRR follows active frames */
    capture_t *speaker = sim_listener(&s, 1, 0, 0);
    capture_t *shared = sim_listener(&s, 100, 0, 0);
    assert_int_equal(mixer_listener_set_loss(s.m, 1, 20), 0);
    assert_int_equal(mixer_listener_set_loss(s.m, 1, 101), LG_EINVAL);
    assert_int_equal(mixer_listener_set_loss(s.m, 7, 1), LG_ENOTFOUND);
    sim_run(&s, 90);
    print_message("LBRR: speaker at 20 %% %zu/%zu packets, shared at 0 %% %zu/%zu\n", speaker->lbrr,
                  speaker->packets, shared->lbrr, shared->packets);
    assert_true(speaker->lbrr >= speaker->packets / 3);
    assert_int_equal(shared->lbrr, 0);
    assert_int_equal(mixer_listener_set_loss(s.m, 100, 25), 0);
    size_t before = shared->packets;
    sim_run(&s, 90);
    assert_true(shared->lbrr >= (shared->packets - before) / 3);
    sim_free(&s);
}

/* The encoder switch relies on libopus states being position independent: a memcpy'd encoder
 * continues bit-exactly, and the original is untouched. */
static void test_encoder_state_copy(void **state)
{
    (void)state;
    int err, size = opus_encoder_get_size(1);
    OpusEncoder *a = opus_encoder_create(48000, 1, OPUS_APPLICATION_VOIP, &err);
    OpusEncoder *b = malloc((size_t)size);
    opus_encoder_ctl(a, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(a, OPUS_SET_PACKET_LOSS_PERC(10));
    tone_src_t t = {.freq = 523, .amp = 0.3};
    int16_t pcm[960];
    uint8_t pa[400], pb[400];
    for (int i = 0; i < 10; i++) {
        tone_pcm(&t, pcm);
        assert_true(opus_encode(a, pcm, 960, pa, sizeof pa) > 0);
    }
    memcpy(b, a, (size_t)size);
    for (int i = 0; i < 5; i++) {
        tone_pcm(&t, pcm);
        int la = opus_encode(a, pcm, 960, pa, sizeof pa);
        int lb = opus_encode(b, pcm, 960, pb, sizeof pb);
        assert_int_equal(la, lb);
        assert_memory_equal(pa, pb, (size_t)la);
    }
    opus_encoder_destroy(a);
    free(b);
}

static void test_api_errors_and_rtp(void **state)
{
    (void)state;
    mixer_config_t cfg;
    mixer_t *m;
    mixer_config_default(&cfg);
    cfg.ptime_ms = 30;
    assert_int_equal(mixer_create(&cfg, &m), LG_EINVAL);
    mixer_config_default(&cfg);
    cfg.top_k = MIXER_MAX_K + 1;
    assert_int_equal(mixer_create(&cfg, &m), LG_EINVAL);
    mixer_config_default(&cfg);
    cfg.max_sources = 1;
    cfg.max_listeners = 1;
    assert_int_equal(mixer_create(&cfg, &m), 0);
    assert_int_equal(mixer_source_add(m, 1), 0);
    assert_int_equal(mixer_source_add(m, 1), LG_EEXIST);
    assert_int_equal(mixer_source_add(m, 2), LG_EFULL);
    assert_int_equal(mixer_source_push(m, 9, 0, 0, (const uint8_t *)"x", 1, 0), LG_ENOTFOUND);
    assert_int_equal(mixer_source_set_level(m, 1, 128, 0), LG_EINVAL);
    assert_int_equal(mixer_listener_add(m, 5, 0, 0), 0);
    assert_int_equal(mixer_listener_add(m, 6, 0, 0), LG_EFULL);
    assert_int_equal(mixer_listener_remove(m, 6), LG_ENOTFOUND);
    assert_int_equal(mixer_source_remove(m, 1), 0);
    assert_int_equal(mixer_source_remove(m, 1), LG_ENOTFOUND);
    mixer_destroy(m);

    const uint8_t payload[3] = {0xaa, 0xbb, 0xcc};
    mixer_output_t o = {
        .seq = 0x1234, .ts = 0xdeadbeef, .marker = true, .payload = payload, .len = 3};
    uint8_t buf[16];
    size_t len;
    assert_int_equal(mixer_output_rtp(&o, 111, 0x01020304, buf, sizeof buf, &len), 0);
    const uint8_t want[15] = {0x80, 0x80 | 111, 0x12, 0x34, 0xde, 0xad, 0xbe, 0xef,
                              0x01, 0x02,       0x03, 0x04, 0xaa, 0xbb, 0xcc};
    assert_int_equal(len, 15);
    assert_memory_equal(buf, want, 15);
    assert_int_equal(mixer_output_rtp(&o, 111, 1, buf, 14, &len), LG_ENOSPC);
    assert_int_equal(mixer_output_rtp(&o, 128, 1, buf, 16, &len), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_three_tones_mixed),
        cmocka_unit_test(test_mix_minus),
        cmocka_unit_test(test_continuity_across_switches),
        cmocka_unit_test(test_top_k_of_five),
        cmocka_unit_test(test_clipping_safe),
        cmocka_unit_test(test_packet_times),
        cmocka_unit_test(test_wire_bitrate),
        cmocka_unit_test(test_bad_input_concealed),
        cmocka_unit_test(test_runaway_source_bounded),
        cmocka_unit_test(test_lazy_without_listeners),
        cmocka_unit_test(test_tick_grid),
        cmocka_unit_test(test_listener_loss_drives_fec),
        cmocka_unit_test(test_encoder_state_copy),
        cmocka_unit_test(test_api_errors_and_rtp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
