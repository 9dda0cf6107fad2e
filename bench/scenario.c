/* The bench's scenarios: plans of who joins where, the shared warm-up and measurement window,
 * and the arithmetic that turns participants' counters into a bench_result_t. */
#include "bench/scenario.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/loadgen.h"
#include "bench/measure.h"
#include "sfu/lg_error.h"

#define ROOM_SIZE       4
#define MAX_JOINING     4 /* concurrent joins while setting a scenario up */
#define DRAIN_MS        1000
#define CMD_TIMEOUT_MS  5000
#define SENDER_ID_BASE  0x1000
#define WARMUP_CHECK_MS 500
#define MIXED_SPEAKERS  3
#define MIXED_MAX       500 /* participants of the mixed-audio room at most */
#define IPV4_UDP_BYTES  28  /* per packet on the wire besides the SRTP packet */

static const char *const NAMES[SCEN_COUNT] = {"fanout", "meeting", "rooms", "mixed", "joinstorm"};
static const char *const N_LABELS[SCEN_COUNT] = {"subscribers", "participants", "rooms",
                                                 "participants", "joins/s"};
/* The speakers' tones in the mixed scenario: real Opus the relay decodes and mixes. */
static const unsigned MIXED_TONES_HZ[MIXED_SPEAKERS] = {400, 700, 1100};

const char *scenario_name(scenario_kind_t k)
{
    return k < SCEN_COUNT ? NAMES[k] : "?";
}

const char *scenario_n_label(scenario_kind_t k)
{
    return k < SCEN_COUNT ? N_LABELS[k] : "?";
}

int scenario_parse(const char *name, scenario_kind_t *k)
{
    for (int i = 0; i < SCEN_COUNT; i++)
        if (strcmp(name, NAMES[i]) == 0) {
            *k = (scenario_kind_t)i;
            return 0;
        }
    return LG_EINVAL;
}

/* --- plans --------------------------------------------------------------------------------------
 */

static member_plan_t plan_member(const scenario_cfg_t *cfg, const char *room, const char *name,
                                 int index, bool publish, bool subscribe)
{
    member_plan_t p;
    memset(&p, 0, sizeof p);
    snprintf(p.room, sizeof p.room, "%s", room);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.opts.sender_id = SENDER_ID_BASE + (uint32_t)index;
    p.opts.pub_audio = p.opts.pub_video = publish;
    p.opts.subscribe = subscribe;
    p.opts.video_kbps = cfg->video_kbps;
    return p;
}

/* The members of a fan-out, meeting or rooms scenario; returns how many (<= cap). */
static int plan_scenario(scenario_kind_t k, int n, const scenario_cfg_t *cfg, member_plan_t *out,
                         int cap)
{
    int c = 0;
    char name[32], room[32];
    if (k == SCEN_FANOUT) {
        out[c] = plan_member(cfg, "fanout", "pub", c, true, false), c++;
        for (int i = 0; i < n && c < cap; i++) {
            snprintf(name, sizeof name, "sub%d", i);
            out[c] = plan_member(cfg, "fanout", name, c, false, true), c++;
        }
    } else if (k == SCEN_MEETING) {
        for (int i = 0; i < n && c < cap; i++) {
            snprintf(name, sizeof name, "p%d", i);
            out[c] = plan_member(cfg, "meeting", name, c, true, true), c++;
        }
    } else if (k == SCEN_ROOMS) {
        for (int r = 0; r < n; r++)
            for (int i = 0; i < ROOM_SIZE && c < cap; i++) {
                snprintf(room, sizeof room, "room%03d", r);
                snprintf(name, sizeof name, "r%03dp%d", r, i);
                out[c] = plan_member(cfg, room, name, c, true, true), c++;
            }
    } else if (k == SCEN_MIXED) {
        /* n participants: speakers publish real Opus tones only and join one at a time (each
         * settling, so the offers they cause are answered); the others publish nothing and
         * listen to one mixed stream */
        for (int i = 0; i < MIXED_SPEAKERS && c < cap; i++) {
            snprintf(name, sizeof name, "speaker%d", i);
            out[c] = plan_member(cfg, "mixed", name, c, true, true);
            out[c].opts.pub_video = false;
            out[c].opts.opus_tone_hz = MIXED_TONES_HZ[i];
            out[c++].settle_ms = cfg->join_gap_ms;
        }
        for (int i = 0; i < n - MIXED_SPEAKERS && c < cap; i++) {
            snprintf(name, sizeof name, "mixed%d", i);
            out[c] = plan_member(cfg, "mixed", name, c, false, true);
            out[c++].opts.mixed_audio = true;
        }
    }
    return c;
}

/* RTP packets without a trailer a participant received (the relay's own mixed stream). */
static uint64_t foreign_rx(const member_snapshot_t *s)
{
    uint64_t trailer = 0;
    for (int i = 0; i < s->nstreams; i++)
        trailer += s->streams[i].packets;
    return s->counts.packets_received > trailer ? s->counts.packets_received - trailer : 0;
}

/* --- counting -----------------------------------------------------------------------------------
 */

static const bench_rx_stream_t *find_stream(const member_snapshot_t *s, uint32_t sender,
                                            uint8_t stream)
{
    for (int i = 0; i < s->nstreams; i++)
        if (s->streams[i].sender_id == sender && s->streams[i].stream == stream)
            return &s->streams[i];
    return NULL;
}

static uint64_t unique_rx(const bench_rx_stream_t *s)
{
    return s ? s->packets - (s->late < s->packets ? s->late : s->packets) : 0;
}

/* True when every subscriber has at least one packet of every stream it should receive; else
 * names the first one missing in why. */
static bool coverage_complete(loadgen_t *g, char *why, size_t cap)
{
    int n = loadgen_count(g);
    for (int i = 0; i < n; i++) {
        const member_plan_t *pi = loadgen_plan(g, i);
        if (!pi->opts.subscribe)
            continue;
        const member_result_t *ri = loadgen_result(g, i);
        bool mixed = pi->opts.mixed_audio;
        if (mixed && foreign_rx(&ri->snap) == 0) {
            snprintf(why, cap,
                     "%s received no mixed audio (%llu RTP packets, %d streams, subscribe leg %s%s"
                     "%.120s)",
                     pi->name, (unsigned long long)ri->snap.counts.packets_received,
                     ri->snap.nstreams, ri->snap.counts.sub_encrypted ? "keyed" : "not keyed",
                     ri->snap.last_error[0] ? "; last error: " : "", ri->snap.last_error);
            return false;
        }
        for (int j = 0; j < n; j++) {
            const member_plan_t *pj = loadgen_plan(g, j);
            if (j == i || strcmp(pi->room, pj->room) != 0)
                continue;
            uint32_t sid = loadgen_result(g, j)->sender_id;
            int missing = !mixed && pj->opts.pub_audio && !find_stream(&ri->snap, sid, 0) ? 0
                          : pj->opts.pub_video && !find_stream(&ri->snap, sid, 1)         ? 1
                                                                                          : -1;
            if (missing >= 0) {
                snprintf(why, cap,
                         "%s received no %s from %s (%d streams, subscribe leg %s%s%.120s)",
                         pi->name, missing ? "video" : "audio", pj->name, ri->snap.nstreams,
                         ri->snap.counts.sub_encrypted ? "keyed" : "not keyed",
                         ri->snap.last_error[0] ? "; last error: " : "", ri->snap.last_error);
                return false;
            }
        }
    }
    return true;
}

/* Subscriber-side totals between two snapshots (a: before the window, taken into *before). */
typedef struct {
    uint64_t audio_sent, video_sent, bytes_rx;
    bench_rx_stream_t streams[LOADGEN_STREAMS];
    int nstreams;
    bench_counts_t mix0, mix1; /* counts at the window's start and when sending stopped (before
                                  the drain): the mixed stream's figures */
} before_t;

static void take_before(loadgen_t *g, before_t *b)
{
    for (int i = 0; i < loadgen_count(g); i++) {
        const member_snapshot_t *s = &loadgen_result(g, i)->snap;
        b[i].audio_sent = s->counts.audio_sent;
        b[i].video_sent = s->counts.video_sent;
        b[i].bytes_rx = s->counts.bytes_received;
        b[i].nstreams = s->nstreams;
        memcpy(b[i].streams, s->streams, (size_t)s->nstreams * sizeof s->streams[0]);
        b[i].mix0 = s->counts;
    }
}

/* The counts when sending stopped, for the mixed stream (which keeps flowing a while). */
static void take_stop(loadgen_t *g, before_t *b)
{
    for (int i = 0; i < loadgen_count(g); i++)
        b[i].mix1 = loadgen_result(g, i)->snap.counts;
}

/* Per mixed listener over the sending window: what the mixed stream brought. */
static void count_mixed(loadgen_t *g, const before_t *b, bench_result_t *r)
{
    uint64_t pkts = 0, payload = 0, srtp = 0;
    for (int i = 0; i < loadgen_count(g); i++) {
        if (!loadgen_plan(g, i)->opts.mixed_audio)
            continue;
        const bench_counts_t *c0 = &b[i].mix0, *c1 = &b[i].mix1;
        r->mixed_listeners++;
        pkts += c1->mix_packets - c0->mix_packets;
        payload += c1->mix_payload_bytes - c0->mix_payload_bytes;
        srtp += c1->mix_srtp_bytes - c0->mix_srtp_bytes;
        r->mixed_plc += c1->mix_plc - c0->mix_plc;
        r->mixed_decode_errors += c1->mix_decode_errors - c0->mix_decode_errors;
    }
    r->mixed_packets = pkts;
    if (r->mixed_listeners == 0 || r->duration_s <= 0)
        return;
    double per = r->mixed_listeners * r->duration_s;
    r->mixed_pps_per_listener = (double)pkts / per;
    r->mixed_opus_kbps = (double)payload * 8 / per / 1000;
    r->mixed_wire_kbps = (double)(srtp + IPV4_UDP_BYTES * pkts) * 8 / per / 1000;
}

static uint64_t before_unique(const before_t *b, uint32_t sender, uint8_t stream)
{
    for (int i = 0; i < b->nstreams; i++)
        if (b->streams[i].sender_id == sender && b->streams[i].stream == stream)
            return unique_rx(&b->streams[i]);
    return 0;
}

static void count_pair(bench_result_t *r, const member_snapshot_t *sub, const before_t *sub0,
                       uint32_t sid, uint8_t stream, uint64_t sent)
{
    const bench_rx_stream_t *s = find_stream(sub, sid, stream);
    uint64_t got = unique_rx(s) - before_unique(sub0, sid, stream);
    r->expected += sent;
    r->forwarded += got;
    r->lost += got < sent ? sent - got : 0;
}

static void count_window(loadgen_t *g, const before_t *b, bench_result_t *r, bool encrypted)
{
    int n = loadgen_count(g);
    r->all_encrypted = true;
    uint64_t bytes = 0;
    for (int i = 0; i < n; i++) {
        const member_plan_t *pi = loadgen_plan(g, i);
        const member_result_t *ri = loadgen_result(g, i);
        const bench_counts_t *c = &ri->snap.counts;
        bool pub = pi->opts.pub_audio || pi->opts.pub_video;
        if ((pub && !c->pub_encrypted) || (pi->opts.subscribe && !c->sub_encrypted))
            r->all_encrypted = false;
        if (!r->profile[0] || strcmp(c->profile, "none") == 0)
            snprintf(r->profile, sizeof r->profile, "%s", c->profile);
        r->crypto_failures += c->crypto_failures;
        if (!pi->opts.subscribe)
            continue;
        bytes += c->bytes_received - b[i].bytes_rx;
        bool mixed = pi->opts.mixed_audio;
        for (int k = 0; k < ri->snap.nstreams; k++)
            r->duplicates += ri->snap.streams[k].late;
        for (int j = 0; j < n; j++) {
            const member_plan_t *pj = loadgen_plan(g, j);
            if (j == i || strcmp(pi->room, pj->room) != 0)
                continue;
            const member_result_t *rj = loadgen_result(g, j);
            const bench_counts_t *cj = &rj->snap.counts;
            if (pj->opts.pub_audio && !mixed)
                count_pair(r, &ri->snap, &b[i], rj->sender_id, 0, cj->audio_sent - b[j].audio_sent);
            if (pj->opts.pub_video)
                count_pair(r, &ri->snap, &b[i], rj->sender_id, 1, cj->video_sent - b[j].video_sent);
        }
    }
    if (!encrypted)
        r->all_encrypted = false;
    r->forwarded_bps = r->duration_s > 0 ? (double)bytes * 8 / r->duration_s : 0;
    count_mixed(g, b, r);
    r->forwarded += r->mixed_packets; /* the relay sent those too: they count in its cost */
    r->forwarded_pps = r->duration_s > 0 ? (double)r->forwarded / r->duration_s : 0;
    r->loss_pct = r->expected ? 100.0 * (double)r->lost / (double)r->expected : 0;
    r->every_packet = r->expected > 0 && r->lost == 0;
}

static void count_latency(loadgen_t *g, bench_result_t *r)
{
    lat_hist_t h;
    if (lat_hist_init(&h) != 0)
        return;
    for (int i = 0; i < loadgen_count(g); i++) {
        const member_snapshot_t *s = &loadgen_result(g, i)->snap;
        if (s->nlat)
            lat_hist_add(&h, s->lat, s->nlat, (double)s->lat_measured / (double)s->nlat);
    }
    if (h.samples) {
        r->latency_p50_us = lat_hist_percentile(&h, 50);
        r->latency_p99_us = lat_hist_percentile(&h, 99);
        r->latency_max_us = h.max_us;
    }
    lat_hist_free(&h);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double pct_of(double *v, int n, double pct)
{
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    int rank = (int)ceil(pct / 100.0 * n);
    return v[rank < 1 ? 0 : rank - 1];
}

/* Join times (join call -> ready) and, when watched, first media. */
static void count_joins(loadgen_t *g, bench_result_t *r)
{
    int n = loadgen_count(g);
    double *join = calloc((size_t)n + 1, sizeof *join),
           *first = calloc((size_t)n + 1, sizeof *first);
    if (!join || !first) {
        free(join);
        free(first);
        return;
    }
    int nj = 0, nf = 0;
    for (int i = 0; i < n; i++) {
        const member_result_t *m = loadgen_result(g, i);
        if (m->state == MEMBER_FAILED || m->ready_ns == 0) {
            r->joins_failed += m->state == MEMBER_FAILED || m->state == MEMBER_JOINING;
            continue;
        }
        join[nj++] = (double)(m->ready_ns - m->join_start_ns) / 1e6;
        if (loadgen_plan(g, i)->watch_first_media && m->first_media_ns)
            first[nf++] = (double)(m->first_media_ns - m->join_start_ns) / 1e6;
    }
    r->join_ms_p50 = pct_of(join, nj, 50);
    r->join_ms_p99 = pct_of(join, nj, 99);
    r->join_ms_max = nj ? join[nj - 1] : -1;
    r->first_media_ms_p50 = pct_of(first, nf, 50);
    r->first_media_ms_p99 = pct_of(first, nf, 99);
    free(join);
    free(first);
}

/* --- running ------------------------------------------------------------------------------------
 */

typedef struct {
    bench_system_t sys;
    pid_t pid;
    const scenario_cfg_t *cfg;
    bench_result_t *r;
    double cpu0, gen0, wait0, genwait0;
    uint64_t sdrop0, cdrop0;
    int64_t t_cpu0;
    bool mixing;               /* the mixed scenario on a system that reports its mixers */
    bench_mixer_counts_t mix0; /* at the window's start */
    int64_t t_mix0;
} run_t;

/* The server's media ports: where its sockets' and the participants' kernel drops are read. */
static void media_ports(const run_t *x, uint16_t *lo, uint16_t *hi)
{
    const bench_env_t *env = x->sys.env;
    const char *name = x->sys.ops->name;
    if (strcmp(name, "raw") == 0) {
        *lo = *hi = env->signal_port;
    } else if (strcmp(name, "legation") == 0) {
        *lo = env->media_port;
        *hi = (uint16_t)(env->media_port + (env->workers > 1 ? env->workers - 1 : 0));
    } else { /* janus: its rtp_port_range */
        *lo = env->media_port;
        *hi = (uint16_t)(env->media_port + 9999 > 65000 ? 65000 : env->media_port + 9999);
    }
}

/* Opens the counters of a window: CPU, run-queue waits, kernel drops. */
static void window_open(run_t *x)
{
    double run;
    uint16_t lo, hi;
    measure_proc_cpu(x->pid, &x->cpu0);
    x->wait0 = x->genwait0 = 0;
    measure_proc_sched(x->pid, &run, &x->wait0);
    measure_proc_sched(getpid(), &run, &x->genwait0);
    media_ports(x, &lo, &hi);
    measure_udp_drops(lo, hi, &x->sdrop0, &x->cdrop0);
    x->gen0 = measure_self_cpu();
    x->t_cpu0 = bench_now_ns();
}

/* Closes them into the result. Returns 0 or LG_EIO when the server is gone. */
static int window_close(run_t *x)
{
    bench_result_t *r = x->r;
    double cpu1 = 0, run, wait1 = 0, genwait1 = 0;
    double wall = (double)(bench_now_ns() - x->t_cpu0) / 1e9;
    if (measure_proc_cpu(x->pid, &cpu1) != 0)
        return LG_EIO;
    measure_proc_sched(x->pid, &run, &wait1);
    measure_proc_sched(getpid(), &run, &genwait1);
    r->cpu_s = cpu1 - x->cpu0;
    r->relay_cpu_pct = 100.0 * r->cpu_s / wall;
    r->loadgen_cpu_pct = 100.0 * (measure_self_cpu() - x->gen0) / wall;
    r->relay_wait_pct = 100.0 * (wait1 - x->wait0) / wall;
    r->loadgen_wait_pct = 100.0 * (genwait1 - x->genwait0) / wall;
    uint16_t lo, hi;
    uint64_t s1, c1;
    media_ports(x, &lo, &hi);
    measure_udp_drops(lo, hi, &s1, &c1);
    r->server_drops = s1 >= x->sdrop0 ? s1 - x->sdrop0 : 0;
    r->client_drops = c1 >= x->cdrop0 ? c1 - x->cdrop0 : 0;
    measure_proc_rss_kb(x->pid, &r->rss_kb);
    return 0;
}

static void result_init(bench_result_t *r, scenario_kind_t k, int n, const char *system)
{
    memset(r, 0, sizeof *r);
    snprintf(r->scenario, sizeof r->scenario, "%s", scenario_name(k));
    snprintf(r->system, sizeof r->system, "%s", system);
    r->n = n;
    snprintf(r->status, sizeof r->status, "failed");
    r->latency_p50_us = r->latency_p99_us = r->latency_max_us = -1;
    r->cpu_s = r->cpu_s_per_mpkt = r->pkts_per_cpu_s = r->relay_cpu_pct = r->loadgen_cpu_pct = -1;
    r->relay_wait_pct = r->loadgen_wait_pct = -1;
    r->forwarded_pps = r->forwarded_bps = r->loss_pct = r->rss_kb_per_participant = -1;
    r->join_ms_p50 = r->join_ms_p99 = r->join_ms_max = -1;
    r->first_media_ms_p50 = r->first_media_ms_p99 = -1;
    r->mixer_cpu_pct = r->mixer_ms_per_s = r->mixed_wire_kbps = r->mixed_opus_kbps = -1;
    r->mixed_pps_per_listener = -1;
}

static int fail(bench_result_t *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records the error of a failed run; returns rc (LG_EIO when 0). */
static int fail(bench_result_t *r, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->error, sizeof r->error, fmt, ap);
    va_end(ap);
    return rc ? rc : LG_EIO;
}

static void progress(const run_t *x, const char *phase, int64_t t0, int total_s, uint64_t rx0,
                     double cpu0, loadgen_t *g)
{
    if (!x->cfg->progress)
        return;
    /* a terminal gets a live line; a log gets one line every 5 s */
    static int64_t last_line;
    bool tty = isatty(STDERR_FILENO);
    if (!tty && bench_now_ns() - last_line < 5000000000LL)
        return;
    last_line = bench_now_ns();
    double el = (double)(bench_now_ns() - t0) / 1e9;
    double cpu = 0;
    measure_proc_cpu(x->pid, &cpu);
    uint64_t rss = 0;
    measure_proc_rss_kb(x->pid, &rss);
    double pps = el > 0 ? (double)(loadgen_live_received(g) - rx0) / el : 0;
    double util = el > 0 ? 100.0 * (cpu - cpu0) / el : 0;
    fprintf(stderr,
            "%s  [%-8s %-9s n=%-3d] %-9s %4.1f/%d s  rx %8.0f pkt/s  relay cpu %5.1f%%  rss "
            "%6.1f MB  %s",
            tty ? "\r" : "", x->r->system, x->r->scenario, x->r->n, phase, el, total_s, pps, util,
            rss / 1024.0, tty ? "" : "\n");
    fflush(stderr);
}

static void sleep_with_progress(const run_t *x, const char *phase, int ms, loadgen_t *g)
{
    int64_t t0 = bench_now_ns(), end = t0 + (int64_t)ms * 1000000;
    uint64_t rx0 = loadgen_live_received(g);
    double cpu0 = 0;
    measure_proc_cpu(x->pid, &cpu0);
    while (!loadgen_interrupted && bench_now_ns() < end) {
        usleep(250000 < (end - bench_now_ns()) / 1000
                   ? 250000
                   : (useconds_t)((end - bench_now_ns()) / 1000 + 1));
        progress(x, phase, t0, (ms + 999) / 1000, rx0, cpu0, g);
    }
}

/* Every subscriber sees every stream (bounded); then sending stops and the pipes drain. */
static int warm_up(run_t *x, loadgen_t *g)
{
    loadgen_command(g, true, false, false, true, CMD_TIMEOUT_MS);
    int64_t end = bench_now_ns() + (int64_t)x->cfg->warmup_timeout_s * 1000000000;
    bool complete = false;
    char why[512] = "interrupted";
    while (!loadgen_interrupted && bench_now_ns() < end) {
        usleep(WARMUP_CHECK_MS * 1000);
        /* reset the latency reservoirs too: keeps the snapshot's counters cheap */
        loadgen_command(g, true, true, false, true, CMD_TIMEOUT_MS);
        if ((complete = coverage_complete(g, why, sizeof why)))
            break;
    }
    loadgen_command(g, false, false, false, false, CMD_TIMEOUT_MS);
    if (!complete)
        return fail(x->r, LG_EEXPIRED, "warm-up: after %d s %s", x->cfg->warmup_timeout_s, why);
    usleep(DRAIN_MS * 1000);
    return 0;
}

/* The mixers' counters at the window's start. */
static int mixer_open(run_t *x)
{
    char err[300];
    if (!x->mixing)
        return 0;
    if (x->sys.ops->mixer_counters(&x->sys, &x->mix0, err, sizeof err) != 0)
        return fail(x->r, LG_EIO, "mixer counters: %s", err);
    x->t_mix0 = bench_now_ns();
    return 0;
}

/* ... and when sending stopped: the mixer's own CPU over the window (one room: per room). */
static int mixer_close(run_t *x)
{
    bench_mixer_counts_t m;
    char err[300];
    if (!x->mixing)
        return 0;
    if (x->sys.ops->mixer_counters(&x->sys, &m, err, sizeof err) != 0)
        return fail(x->r, LG_EIO, "mixer counters: %s", err);
    double wall = (double)(bench_now_ns() - x->t_mix0) / 1e9;
    bench_result_t *r = x->r;
    r->mixer_cpu_pct = wall > 0 ? 100.0 * (m.cpu_ns - x->mix0.cpu_ns) / 1e9 / wall : -1;
    r->mixer_ms_per_s = r->mixer_cpu_pct < 0 ? -1 : r->mixer_cpu_pct * 10;
    r->mix_decodes = (uint64_t)(m.decodes - x->mix0.decodes);
    r->mix_encodes = (uint64_t)(m.encodes - x->mix0.encodes);
    r->mix_concealed = (uint64_t)(m.concealed - x->mix0.concealed);
    r->mix_fec_recovered = (uint64_t)(m.fec_recovered - x->mix0.fec_recovered);
    return 0;
}

static int measure_window(run_t *x, loadgen_t *g, before_t *b)
{
    bench_result_t *r = x->r;
    if (loadgen_command(g, false, true, false, true, CMD_TIMEOUT_MS) != 0)
        return fail(r, LG_EEXPIRED, "%s", "a participant thread did not answer");
    take_before(g, b);
    window_open(x);
    int rc = mixer_open(x);
    if (rc != 0)
        return rc;
    int64_t t0 = bench_now_ns();
    loadgen_command(g, true, false, false, false, CMD_TIMEOUT_MS);
    sleep_with_progress(x, "measuring", x->cfg->duration_s * 1000, g);
    loadgen_command(g, false, x->mixing, false, false, CMD_TIMEOUT_MS);
    r->duration_s = (double)(bench_now_ns() - t0) / 1e9;
    if ((rc = mixer_close(x)) != 0)
        return rc;
    take_stop(g, b);
    usleep(DRAIN_MS * 1000);
    if (loadgen_command(g, false, true, true, false, CMD_TIMEOUT_MS) != 0)
        return fail(r, LG_EEXPIRED, "%s", "a participant thread did not answer");
    if (window_close(x) != 0)
        return fail(r, LG_EIO, "%s", "the server process is gone");
    return 0;
}

static void finish_window(run_t *x, loadgen_t *g, const before_t *b)
{
    bench_result_t *r = x->r;
    count_window(g, b, r, x->sys.ops->encrypted);
    count_latency(g, r);
    if (r->forwarded > 0) {
        r->cpu_s_per_mpkt = r->cpu_s / ((double)r->forwarded / 1e6);
        r->pkts_per_cpu_s = r->cpu_s > 0 ? (double)r->forwarded / r->cpu_s : -1;
    }
    if (r->participants > 0 && r->rss_kb >= r->rss_base_kb)
        r->rss_kb_per_participant = (double)(r->rss_kb - r->rss_base_kb) / r->participants;
    snprintf(r->status, sizeof r->status, "ok");
}

/* The first failed participant's error, for the result. */
static void first_failure(loadgen_t *g, bench_result_t *r, int not_ready)
{
    for (int i = 0; i < loadgen_count(g); i++) {
        const member_result_t *m = loadgen_result(g, i);
        if (m->state != MEMBER_READY) {
            fail(r, LG_EIO, "%d of %d did not join; %s: %.200s", not_ready, loadgen_count(g),
                 loadgen_plan(g, i)->name, m->err[0] ? m->err : "join timed out");
            return;
        }
    }
}

static int run_layout(run_t *x, scenario_kind_t k, int n)
{
    bench_result_t *r = x->r;
    member_plan_t *plans = calloc(1024, sizeof *plans);
    if (!plans)
        return fail(r, LG_ENOMEM, "%s", "out of memory");
    int count = plan_scenario(k, n, x->cfg, plans, 1024);
    /* fan-out subscribers join four at once; participants who publish into a room of
     * subscribers join one at a time, join_gap_ms apart, unless the gap is 0 */
    bool paced = k != SCEN_FANOUT && x->cfg->join_gap_ms > 0;
    loadgen_t *g = loadgen_new(&x->sys, count, paced ? 1 : MAX_JOINING,
                               paced && k != SCEN_MIXED ? x->cfg->join_gap_ms : 0);
    before_t *b = calloc((size_t)count, sizeof *b);
    int rc = !g || !b ? fail(r, LG_ENOMEM, "%s", "out of memory") : 0;
    for (int i = 0; rc == 0 && i < count; i++)
        if (loadgen_add(g, &plans[i]) < 0)
            rc = fail(r, LG_EIO, "%s", "cannot start a participant thread");
    r->participants = count;
    if (rc == 0) {
        int not_ready = loadgen_wait_joined(g, 30000 + 500 * count);
        if (not_ready) {
            first_failure(g, r, not_ready);
            rc = LG_EIO;
        }
    }
    if (rc == 0 && (rc = warm_up(x, g)) == 0 && (rc = measure_window(x, g, b)) == 0)
        finish_window(x, g, b);
    if (g) {
        count_joins(g, r);
        for (int i = 0; rc == 0 && i < count; i++) {
            const member_result_t *m = loadgen_result(g, i);
            if (m->state == MEMBER_FAILED) {
                snprintf(r->error, sizeof r->error, "%s stopped: %.200s", plans[i].name, m->err);
                break;
            }
        }
    }
    loadgen_free(g);
    free(b);
    free(plans);
    return rc;
}

/* The join storm: a publisher streams; n subscribers join per second for storm_s seconds. */
static int run_storm(run_t *x, int n)
{
    bench_result_t *r = x->r;
    int joiners = n * x->cfg->storm_s;
    loadgen_t *g = loadgen_new(&x->sys, joiners + 1, joiners + 1, 0);
    if (!g)
        return fail(r, LG_ENOMEM, "%s", "out of memory");
    member_plan_t pub = plan_member(x->cfg, "storm", "pub", 0, true, false);
    int rc = loadgen_add(g, &pub) < 0 ? LG_EIO : 0;
    if (rc == 0 && loadgen_wait_joined(g, 20000) != 0) {
        first_failure(g, r, 1);
        rc = LG_EIO;
    }
    if (rc == 0) {
        loadgen_command(g, true, false, false, false, CMD_TIMEOUT_MS);
        usleep(500000);
        window_open(x);
        int64_t t0 = bench_now_ns() + 100000000;
        for (int i = 0; i < joiners && rc == 0; i++) {
            char name[32];
            snprintf(name, sizeof name, "j%d", i);
            member_plan_t p = plan_member(x->cfg, "storm", name, i + 1, false, true);
            p.start_at_ns = t0 + (int64_t)i * 1000000000 / n;
            p.watch_first_media = true;
            if (loadgen_add(g, &p) < 0)
                rc = fail(r, LG_EIO, "%s", "cannot start a participant thread");
        }
        r->participants = joiners + 1;
        sleep_with_progress(x, "storm", x->cfg->storm_s * 1000 + 500, g);
        loadgen_wait_joined(g, 30000);
        /* give late joiners their first packet (bounded) */
        for (int t = 0; t < 100 && !loadgen_interrupted; t++) {
            int waiting = 0;
            for (int i = 1; i < loadgen_count(g); i++) {
                const member_result_t *m = loadgen_result(g, i);
                waiting += m->state == MEMBER_READY && m->first_media_ns == 0;
            }
            if (!waiting)
                break;
            usleep(100000);
        }
        window_close(x);
        if (r->participants > 0 && r->rss_kb >= r->rss_base_kb)
            r->rss_kb_per_participant = (double)(r->rss_kb - r->rss_base_kb) / r->participants;
        count_joins(g, r);
        int no_media = 0;
        for (int i = 1; i < loadgen_count(g); i++)
            no_media += loadgen_result(g, i)->first_media_ns == 0;
        if (r->joins_failed || no_media) {
            fail(r, 0, "%d joins failed, %d joiners got no media", r->joins_failed, no_media);
        }
        snprintf(r->status, sizeof r->status, "ok");
    }
    loadgen_free(g);
    return rc;
}

int scenario_run(scenario_kind_t k, int n, const bench_system_ops_t *ops, const bench_env_t *env,
                 const scenario_cfg_t *cfg, bench_result_t *out)
{
    result_init(out, k, n, ops->name);
    if (k == SCEN_MIXED && strcmp(ops->name, "legation") != 0) {
        snprintf(out->status, sizeof out->status, "not_available");
        snprintf(out->error, sizeof out->error, "%s",
                 strcmp(ops->name, "raw") == 0
                     ? "the raw forwarder does not mix audio"
                     : "the bench drives Janus's VideoRoom only (no AudioBridge): no figures");
        return 0;
    }
    if (k == SCEN_MIXED && (n <= MIXED_SPEAKERS || n > MIXED_MAX)) {
        snprintf(out->error, sizeof out->error, "mixed: n must be %d..%d participants",
                 MIXED_SPEAKERS + 1, MIXED_MAX);
        return LG_EINVAL;
    }
    run_t x;
    memset(&x, 0, sizeof x);
    x.cfg = cfg;
    x.r = out;
    x.sys.ops = ops;
    x.sys.env = env;
    x.mixing = k == SCEN_MIXED && ops->mixer_counters != NULL;
    char err[300] = "";
    int rc = ops->start(&x.sys, env, err, sizeof err);
    if (rc != 0) {
        fail(out, rc, "start: %s", err);
        ops->stop(&x.sys);
        return rc;
    }
    x.pid = ops->pid(&x.sys);
    usleep(300000);
    measure_proc_rss_kb(x.pid, &out->rss_base_kb);
    rc = k == SCEN_JOINSTORM ? run_storm(&x, n) : run_layout(&x, k, n);
    ops->stop(&x.sys);
    if (cfg->progress && isatty(STDERR_FILENO))
        fprintf(stderr, "\r%120s\r", "");
    return rc;
}
