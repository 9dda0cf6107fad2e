/* The bench's output: table, JSON (jansson), gnuplot data/script/PNGs, Markdown, targets. */
#include "bench/report.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "sfu/lg_error.h"

#define LOSS_FREE_PCT 1.0

static double loadavg1(void); /* a point counts as carried when it loses less than this */

static const char *const PLOT_SCENARIOS[] = {"fanout", "meeting", "rooms"};
static const char *const PLOT_SYSTEMS[] = {"legation", "janus", "raw"};
#define NPLOT_SCEN (sizeof PLOT_SCENARIOS / sizeof PLOT_SCENARIOS[0])
#define NPLOT_SYS  (sizeof PLOT_SYSTEMS / sizeof PLOT_SYSTEMS[0])

/* --- table --------------------------------------------------------------------------------------
 */

/* v with dec decimals, or "-" when not measured (negative). */
static void num(char *b, size_t cap, double v, int dec)
{
    if (v < 0)
        snprintf(b, cap, "-");
    else
        snprintf(b, cap, "%.*f", dec, v);
}

void report_table_header(FILE *out)
{
    fprintf(out, "%-9s %-8s %4s %4s %9s %7s %7s %7s %7s %8s %9s %9s %9s %9s %13s %7s %13s  %s\n",
            "scenario", "system", "n", "part", "fwd pkt/s", "Mbit/s", "loss%", "p50 us", "p99 us",
            "max us", "cpu s/Mpk", "pkt/cpu-s", "relay/rq%", "gen/rq%", "drops srv/cli", "KB/part",
            "join ms 50/99", "status");
}

void report_table_row(FILE *out, const bench_result_t *r)
{
    char pps[16], mbit[16], loss[16], p50[16], p99[16], mx[16], cpm[16], ppc[16], rel[16], rq[16],
        gen[16], grq[16], kb[16], j50[16], j99[16];
    num(pps, sizeof pps, r->forwarded_pps, 0);
    num(mbit, sizeof mbit, r->forwarded_bps < 0 ? -1 : r->forwarded_bps / 1e6, 1);
    num(loss, sizeof loss, r->loss_pct, 3);
    num(p50, sizeof p50, (double)r->latency_p50_us, 0);
    num(p99, sizeof p99, (double)r->latency_p99_us, 0);
    num(mx, sizeof mx, (double)r->latency_max_us, 0);
    num(cpm, sizeof cpm, r->cpu_s_per_mpkt, 2);
    num(ppc, sizeof ppc, r->pkts_per_cpu_s, 0);
    num(rel, sizeof rel, r->relay_cpu_pct, 0);
    num(rq, sizeof rq, r->relay_wait_pct, 0);
    num(gen, sizeof gen, r->loadgen_cpu_pct, 0);
    num(grq, sizeof grq, r->loadgen_wait_pct, 0);
    num(kb, sizeof kb, r->rss_kb_per_participant, 0);
    bool storm = strcmp(r->scenario, "joinstorm") == 0;
    bool measured = strcmp(r->status, "ok") == 0;
    num(j50, sizeof j50, storm ? r->first_media_ms_p50 : r->join_ms_p50, 0);
    num(j99, sizeof j99, storm ? r->first_media_ms_p99 : r->join_ms_p99, 0);
    char join[48], relay[40], load[40], drops[48];
    snprintf(join, sizeof join, "%s/%s%s", j50, j99, storm ? "*" : "");
    snprintf(relay, sizeof relay, "%s/%s", rel, rq);
    snprintf(load, sizeof load, "%s/%s", gen, grq);
    if (measured)
        snprintf(drops, sizeof drops, "%llu/%llu", (unsigned long long)r->server_drops,
                 (unsigned long long)r->client_drops);
    else
        snprintf(drops, sizeof drops, "-");
    fprintf(out,
            "%-9s %-8s %4d %4d %9s %7s %7s %7s %7s %8s %9s %9s %9s %9s %13s %7s %13s  %s%s%s\n",
            r->scenario, r->system, r->n, r->participants, pps, mbit, loss, p50, p99, mx, cpm, ppc,
            relay, load, drops, kb, join, r->status, r->error[0] ? ": " : "", r->error);
    if (strcmp(r->scenario, "mixed") == 0 && measured && r->mixed_listeners > 0) {
        char cpu[16], ms[16], wire[16], opus[16], mpps[16];
        num(cpu, sizeof cpu, r->mixer_cpu_pct, 2);
        num(ms, sizeof ms, r->mixer_ms_per_s, 1);
        num(wire, sizeof wire, r->mixed_wire_kbps, 1);
        num(opus, sizeof opus, r->mixed_opus_kbps, 1);
        num(mpps, sizeof mpps, r->mixed_pps_per_listener, 1);
        fprintf(out,
                "%-9s mixer: %s %% of a core (%s ms/s) for the room; each of %d listeners: %s "
                "kbit/s on the wire (%s Opus, %s pkt/s); relay %llu decodes, %llu encodes, %llu "
                "concealed; listeners %llu concealed, %llu decode errors\n",
                "", cpu, ms, r->mixed_listeners, wire, opus, mpps,
                (unsigned long long)r->mix_decodes, (unsigned long long)r->mix_encodes,
                (unsigned long long)r->mix_concealed, (unsigned long long)r->mixed_plc,
                (unsigned long long)r->mixed_decode_errors);
    }
    fflush(out);
}

/* --- targets ------------------------------------------------------------------------------------
 */

static const bench_result_t *find(const bench_result_t *r, int n, const char *scen, const char *sys,
                                  int size)
{
    for (int i = 0; i < n; i++)
        if (strcmp(r[i].scenario, scen) == 0 && strcmp(r[i].system, sys) == 0 && r[i].n == size &&
            strcmp(r[i].status, "ok") == 0)
            return &r[i];
    return NULL;
}

static double max_carried(const bench_result_t *r, int n, const char *scen, const char *sys,
                          const bench_result_t **at)
{
    double best = -1;
    for (int i = 0; i < n; i++)
        if (strcmp(r[i].scenario, scen) == 0 && strcmp(r[i].system, sys) == 0 &&
            strcmp(r[i].status, "ok") == 0 && r[i].loss_pct >= 0 && r[i].loss_pct < LOSS_FREE_PCT &&
            r[i].forwarded_pps > best) {
            best = r[i].forwarded_pps;
            if (at)
                *at = &r[i];
        }
    return best;
}

void report_targets(const bench_result_t *r, int n, const char *scenario, report_target_t *t)
{
    memset(t, 0, sizeof *t);
    snprintf(t->scenario, sizeof t->scenario, "%s", scenario);
    t->n = -1;
    t->leg_pkts_per_cpu_s = t->janus_pkts_per_cpu_s = t->raw_pkts_per_cpu_s = -1;
    t->vs_janus = t->vs_raw_capacity = t->half_pps = t->half_p99_us = t->half_raw_p99_us = -1;
    t->rss_kb_per_participant = t->rss_kb_marginal = -1;
    t->half_n = -1;
    /* the largest n Legation measured, preferring one the peer relay also measured */
    int best = -1, best_common = -1;
    for (int i = 0; i < n; i++) {
        if (strcmp(r[i].scenario, scenario) != 0 || strcmp(r[i].system, "legation") != 0 ||
            strcmp(r[i].status, "ok") != 0)
            continue;
        if (r[i].n > best)
            best = r[i].n;
        if (find(r, n, scenario, "janus", r[i].n) && r[i].n > best_common)
            best_common = r[i].n;
    }
    if (best < 0)
        return;
    t->n = best_common >= 0 ? best_common : best;
    const bench_result_t *leg = find(r, n, scenario, "legation", t->n);
    const bench_result_t *jan = find(r, n, scenario, "janus", t->n);
    const bench_result_t *raw = find(r, n, scenario, "raw", t->n);
    t->leg_pkts_per_cpu_s = leg->pkts_per_cpu_s;
    if (jan) {
        t->janus_pkts_per_cpu_s = jan->pkts_per_cpu_s;
        if (jan->pkts_per_cpu_s > 0 && leg->pkts_per_cpu_s > 0)
            t->vs_janus = leg->pkts_per_cpu_s / jan->pkts_per_cpu_s;
    }
    if (raw) {
        t->raw_pkts_per_cpu_s = raw->pkts_per_cpu_s;
        if (raw->pkts_per_cpu_s > 0 && leg->pkts_per_cpu_s > 0)
            t->vs_raw_capacity = leg->pkts_per_cpu_s / raw->pkts_per_cpu_s;
    }
    t->leg_max_pps = max_carried(r, n, scenario, "legation", NULL);
    t->raw_max_pps = max_carried(r, n, scenario, "raw", NULL);
    /* the point nearest half of the highest loss-free load */
    double half = t->leg_max_pps / 2, dist = -1;
    for (int i = 0; t->leg_max_pps > 0 && i < n; i++) {
        const bench_result_t *x = &r[i];
        if (strcmp(x->scenario, scenario) || strcmp(x->system, "legation") ||
            strcmp(x->status, "ok") || x->latency_p99_us < 0)
            continue;
        double d = x->forwarded_pps > half ? x->forwarded_pps - half : half - x->forwarded_pps;
        if (dist < 0 || d < dist) {
            dist = d;
            t->half_n = x->n;
            t->half_pps = x->forwarded_pps;
            t->half_p99_us = (double)x->latency_p99_us;
        }
    }
    const bench_result_t *raw_half = t->half_n >= 0 ? find(r, n, scenario, "raw", t->half_n) : NULL;
    t->half_raw_p99_us = raw_half ? (double)raw_half->latency_p99_us : -1;
    const bench_result_t *largest = find(r, n, scenario, "legation", best), *smallest = NULL;
    t->rss_kb_per_participant = largest ? largest->rss_kb_per_participant : -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(r[i].scenario, scenario) && !strcmp(r[i].system, "legation") &&
            !strcmp(r[i].status, "ok") && (!smallest || r[i].n < smallest->n))
            smallest = &r[i];
    t->rss_kb_marginal = -1;
    if (largest && smallest && largest->participants > smallest->participants &&
        largest->rss_kb >= smallest->rss_kb)
        t->rss_kb_marginal = (double)(largest->rss_kb - smallest->rss_kb) /
                             (largest->participants - smallest->participants);
}

static const char *verdict(double v, double target, bool above)
{
    if (v < 0)
        return "pending";
    return (above ? v >= target : v < target) ? "met" : "NOT met";
}

void report_targets_print(FILE *out, const report_target_t *t)
{
    if (t->n < 0) {
        fprintf(out, "%s: no Legation figures\n", t->scenario);
        return;
    }
    fprintf(out, "%s (n=%d):\n", t->scenario, t->n);
    if (t->vs_janus >= 0)
        fprintf(out,
                "  packets per relay CPU-second: legation %.0f, janus %.0f -> %.2fx (target >= 3x: "
                "%s)\n",
                t->leg_pkts_per_cpu_s, t->janus_pkts_per_cpu_s, t->vs_janus,
                verdict(t->vs_janus, 3, true));
    else
        fprintf(out,
                "  packets per relay CPU-second: legation %.0f, janus pending (target >= 3x)\n",
                t->leg_pkts_per_cpu_s);
    fprintf(out,
            "  share of the raw forwarder's per-CPU capacity: %.0f%% (legation %.0f vs raw %.0f "
            "pkt/cpu-s; target >= 50%%: %s)\n",
            t->vs_raw_capacity * 100, t->leg_pkts_per_cpu_s, t->raw_pkts_per_cpu_s,
            verdict(t->vs_raw_capacity, 0.5, true));
    fprintf(out,
            "  highest loss-free forwarded rate measured: legation %.0f pkt/s, raw %.0f pkt/s\n",
            t->leg_max_pps, t->raw_max_pps);
    fprintf(out,
            "  p99 latency near half of that load (n=%d, %.0f pkt/s): %.0f us; the raw forwarder "
            "%.0f us at the same n (target < 1000 us: %s)\n",
            t->half_n, t->half_pps, t->half_p99_us, t->half_raw_p99_us,
            verdict(t->half_p99_us, 1000, false));
    fprintf(out,
            "  relay memory per participant: %.0f KB over the empty relay, %.0f KB per added "
            "participant (target < 200 KB: %s)\n",
            t->rss_kb_per_participant, t->rss_kb_marginal,
            verdict(t->rss_kb_marginal >= 0 ? t->rss_kb_marginal : t->rss_kb_per_participant, 200,
                    false));
}

/* --- JSON ---------------------------------------------------------------------------------------
 */

static json_t *jnum(double v)
{
    return v < 0 ? json_null() : json_real(v);
}

static json_t *result_json(const bench_result_t *r)
{
    json_t *o = json_object();
    json_object_set_new(o, "scenario", json_string(r->scenario));
    json_object_set_new(o, "system", json_string(r->system));
    json_object_set_new(o, "n", json_integer(r->n));
    json_object_set_new(o, "participants", json_integer(r->participants));
    json_object_set_new(o, "status", json_string(r->status));
    json_object_set_new(o, "error", r->error[0] ? json_string(r->error) : json_null());
    bool measured = strcmp(r->status, "ok") == 0;
    bool storm = strcmp(r->scenario, "joinstorm") == 0;
    bool window = measured && !storm;
    json_object_set_new(o, "duration_s", window ? json_real(r->duration_s) : json_null());
    json_object_set_new(o, "forwarded_packets",
                        window ? json_integer((json_int_t)r->forwarded) : json_null());
    json_object_set_new(o, "expected_packets",
                        window ? json_integer((json_int_t)r->expected) : json_null());
    json_object_set_new(o, "lost_packets",
                        window ? json_integer((json_int_t)r->lost) : json_null());
    json_object_set_new(o, "forwarded_pps", window ? jnum(r->forwarded_pps) : json_null());
    json_object_set_new(o, "forwarded_bps", window ? jnum(r->forwarded_bps) : json_null());
    json_object_set_new(o, "loss_pct", window ? jnum(r->loss_pct) : json_null());
    json_object_set_new(o, "latency_p50_us",
                        window ? jnum((double)r->latency_p50_us) : json_null());
    json_object_set_new(o, "latency_p99_us",
                        window ? jnum((double)r->latency_p99_us) : json_null());
    json_object_set_new(o, "latency_max_us",
                        window ? jnum((double)r->latency_max_us) : json_null());
    json_object_set_new(o, "cpu_s", measured ? jnum(r->cpu_s) : json_null());
    json_object_set_new(o, "cpu_s_per_mpkt", window ? jnum(r->cpu_s_per_mpkt) : json_null());
    json_object_set_new(o, "pkts_per_cpu_s", window ? jnum(r->pkts_per_cpu_s) : json_null());
    json_object_set_new(o, "relay_cpu_pct", measured ? jnum(r->relay_cpu_pct) : json_null());
    json_object_set_new(o, "loadgen_cpu_pct", measured ? jnum(r->loadgen_cpu_pct) : json_null());
    json_object_set_new(o, "relay_runqueue_wait_pct",
                        measured ? jnum(r->relay_wait_pct) : json_null());
    json_object_set_new(o, "loadgen_runqueue_wait_pct",
                        measured ? jnum(r->loadgen_wait_pct) : json_null());
    json_object_set_new(o, "server_socket_drops",
                        measured ? json_integer((json_int_t)r->server_drops) : json_null());
    json_object_set_new(o, "client_socket_drops",
                        measured ? json_integer((json_int_t)r->client_drops) : json_null());
    json_object_set_new(o, "rss_base_kb",
                        measured ? json_integer((json_int_t)r->rss_base_kb) : json_null());
    json_object_set_new(o, "rss_kb", measured ? json_integer((json_int_t)r->rss_kb) : json_null());
    json_object_set_new(o, "rss_kb_per_participant",
                        measured ? jnum(r->rss_kb_per_participant) : json_null());
    json_object_set_new(o, "join_ms_p50", jnum(r->join_ms_p50));
    json_object_set_new(o, "join_ms_p99", jnum(r->join_ms_p99));
    json_object_set_new(o, "join_ms_max", jnum(r->join_ms_max));
    json_object_set_new(o, "first_media_ms_p50", jnum(r->first_media_ms_p50));
    json_object_set_new(o, "first_media_ms_p99", jnum(r->first_media_ms_p99));
    json_object_set_new(o, "joins_failed", json_integer(r->joins_failed));
    json_object_set_new(o, "all_legs_encrypted",
                        measured ? json_boolean(r->all_encrypted) : json_null());
    json_object_set_new(o, "srtp_profile", r->profile[0] ? json_string(r->profile) : json_null());
    json_object_set_new(o, "crypto_failures", json_integer((json_int_t)r->crypto_failures));
    json_object_set_new(o, "every_packet", window ? json_boolean(r->every_packet) : json_null());
    if (strcmp(r->scenario, "mixed") == 0) {
        json_object_set_new(o, "mixed_listeners", json_integer(r->mixed_listeners));
        json_object_set_new(o, "mixed_packets",
                            window ? json_integer((json_int_t)r->mixed_packets) : json_null());
        json_object_set_new(o, "mixed_pps_per_listener",
                            window && r->mixed_listeners ? json_real(r->mixed_pps_per_listener)
                                                         : json_null());
        json_object_set_new(o, "mixed_wire_kbps_per_listener",
                            window ? jnum(r->mixed_wire_kbps) : json_null());
        json_object_set_new(o, "mixed_opus_kbps_per_listener",
                            window ? jnum(r->mixed_opus_kbps) : json_null());
        json_object_set_new(o, "mixed_listener_concealed",
                            window ? json_integer((json_int_t)r->mixed_plc) : json_null());
        json_object_set_new(o, "mixed_listener_decode_errors",
                            window ? json_integer((json_int_t)r->mixed_decode_errors)
                                   : json_null());
        json_object_set_new(o, "mixer_cpu_pct", window ? jnum(r->mixer_cpu_pct) : json_null());
        json_object_set_new(o, "mixer_cpu_ms_per_s",
                            window ? jnum(r->mixer_ms_per_s) : json_null());
        json_object_set_new(o, "mix_decodes",
                            window ? json_integer((json_int_t)r->mix_decodes) : json_null());
        json_object_set_new(o, "mix_encodes",
                            window ? json_integer((json_int_t)r->mix_encodes) : json_null());
        json_object_set_new(o, "mix_concealed",
                            window ? json_integer((json_int_t)r->mix_concealed) : json_null());
        json_object_set_new(o, "mix_fec_recovered",
                            window ? json_integer((json_int_t)r->mix_fec_recovered) : json_null());
    }
    return o;
}

static json_t *target_json(const report_target_t *t)
{
    json_t *o = json_object();
    json_object_set_new(o, "scenario", json_string(t->scenario));
    json_object_set_new(o, "n", t->n >= 0 ? json_integer(t->n) : json_null());
    json_object_set_new(o, "legation_pkts_per_cpu_s", jnum(t->leg_pkts_per_cpu_s));
    json_object_set_new(o, "janus_pkts_per_cpu_s", jnum(t->janus_pkts_per_cpu_s));
    json_object_set_new(o, "raw_pkts_per_cpu_s", jnum(t->raw_pkts_per_cpu_s));
    json_object_set_new(o, "vs_janus", jnum(t->vs_janus));
    json_object_set_new(o, "vs_janus_target", json_real(3));
    json_object_set_new(o, "share_of_raw_capacity", jnum(t->vs_raw_capacity));
    json_object_set_new(o, "share_of_raw_target", json_real(0.5));
    json_object_set_new(o, "legation_max_loss_free_pps", jnum(t->leg_max_pps));
    json_object_set_new(o, "raw_max_loss_free_pps", jnum(t->raw_max_pps));
    json_object_set_new(o, "half_load_n", t->half_n >= 0 ? json_integer(t->half_n) : json_null());
    json_object_set_new(o, "half_load_p99_us", jnum(t->half_p99_us));
    json_object_set_new(o, "half_load_raw_p99_us", jnum(t->half_raw_p99_us));
    json_object_set_new(o, "half_load_p99_target_us", json_real(1000));
    json_object_set_new(o, "rss_kb_per_participant", jnum(t->rss_kb_per_participant));
    json_object_set_new(o, "rss_kb_per_added_participant", jnum(t->rss_kb_marginal));
    json_object_set_new(o, "rss_target_kb", json_real(200));
    return o;
}

double report_loadavg(void)
{
    return loadavg1();
}

void report_machine(char *out, size_t cap)
{
    char model[160] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "model name", 10) == 0) {
            char *c = strchr(line, ':');
            if (c) {
                snprintf(model, sizeof model, "%s", c + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            break;
        }
    if (f)
        fclose(f);
    unsigned long long mem_kb = 0;
    f = fopen("/proc/meminfo", "r");
    if (f) {
        if (fscanf(f, "MemTotal: %llu kB", &mem_kb) != 1)
            mem_kb = 0;
        fclose(f);
    }
    struct utsname u;
    uname(&u);
    snprintf(out, cap, "%s, %ld CPUs, %.1f GiB RAM, %s %s", model, sysconf(_SC_NPROCESSORS_ONLN),
             (double)mem_kb / (1024.0 * 1024.0), u.sysname, u.release);
}

/* `git describe --always --dirty` of the source tree, or "unknown". */
static void source_version(char *out, size_t cap)
{
    snprintf(out, cap, "unknown");
    FILE *f = popen("git -C '" LG_SOURCE_DIR "' describe --always --dirty 2>/dev/null", "r");
    if (!f)
        return;
    char line[128];
    if (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0])
            snprintf(out, cap, "%s", line);
    }
    pclose(f);
}

static double loadavg1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

static json_t *meta_json(const report_meta_t *m)
{
    json_t *o = json_object();
    char machine[400];
    report_machine(machine, sizeof machine);
    json_object_set_new(o, "started", json_string(m->started));
    json_object_set_new(o, "command", json_string(m->command));
    json_object_set_new(o, "machine", json_string(machine));
    char version[128];
    source_version(version, sizeof version);
    json_object_set_new(o, "source", json_string(version));
    json_object_set_new(o, "loadavg_start", jnum(m->loadavg_start));
    json_object_set_new(o, "loadavg_end", jnum(loadavg1()));
    json_object_set_new(o, "server_cpu", json_integer(m->env->server_cpu));
    json_object_set_new(o, "loadgen_cpu", json_integer(m->env->client_cpu));
    json_object_set_new(o, "netns", m->env->netns ? json_string(m->env->netns) : json_null());
    json_object_set_new(o, "host", json_string(m->env->host));
    json_object_set_new(o, "relay_workers", json_integer(m->env->workers));
    json_object_set_new(o, "nice", json_integer(m->nice));
    json_object_set_new(o, "window_s", json_integer(m->cfg->duration_s));
    json_object_set_new(o, "video_kbps", json_integer(m->cfg->video_kbps));
#ifdef BENCH_HAVE_JANUS
    json_object_set_new(o, "janus_event_loops", json_integer(bench_janus_event_loops(m->env)));
#endif
    return o;
}

int report_json(const char *dir, const char *stamp, const report_meta_t *m, const bench_result_t *r,
                int n, char *err, size_t errlen)
{
    json_t *root = json_object();
    json_object_set_new(root, "meta", meta_json(m));
    json_t *arr = json_array();
    for (int i = 0; i < n; i++)
        json_array_append_new(arr, result_json(&r[i]));
    json_object_set_new(root, "results", arr);
    json_t *tg = json_array();
    const char *scen[] = {"fanout", "meeting", "rooms"};
    for (int i = 0; i < 3; i++) {
        report_target_t t;
        report_targets(r, n, scen[i], &t);
        json_array_append_new(tg, target_json(&t));
    }
    json_object_set_new(root, "targets", tg);
    char path[1024];
    int rc = 0;
    snprintf(path, sizeof path, "%s/latest.json", dir);
    if (json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) !=
        0)
        rc = LG_EIO;
    snprintf(path, sizeof path, "%s/results-%s.json", dir, stamp);
    if (rc == 0 &&
        json_dump_file(root, path, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6)) !=
            0)
        rc = LG_EIO;
    if (rc)
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
    json_decref(root);
    return rc;
}

/* --- reading results back ----------------------------------------------------------------------
 */

static double jget(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : -1;
}

static void jstr(json_t *o, const char *k, char *out, size_t cap)
{
    json_t *v = json_object_get(o, k);
    snprintf(out, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

static void result_from_json(json_t *o, bench_result_t *x)
{
    memset(x, 0, sizeof *x);
    jstr(o, "scenario", x->scenario, sizeof x->scenario);
    jstr(o, "system", x->system, sizeof x->system);
    jstr(o, "status", x->status, sizeof x->status);
    jstr(o, "error", x->error, sizeof x->error);
    jstr(o, "srtp_profile", x->profile, sizeof x->profile);
    x->n = (int)jget(o, "n");
    x->participants = (int)jget(o, "participants");
    x->duration_s = jget(o, "duration_s");
    x->expected = (uint64_t)(jget(o, "expected_packets") > 0 ? jget(o, "expected_packets") : 0);
    x->forwarded = (uint64_t)(jget(o, "forwarded_packets") > 0 ? jget(o, "forwarded_packets") : 0);
    x->lost = (uint64_t)(jget(o, "lost_packets") > 0 ? jget(o, "lost_packets") : 0);
    x->forwarded_pps = jget(o, "forwarded_pps");
    x->forwarded_bps = jget(o, "forwarded_bps");
    x->loss_pct = jget(o, "loss_pct");
    x->latency_p50_us = (int64_t)jget(o, "latency_p50_us");
    x->latency_p99_us = (int64_t)jget(o, "latency_p99_us");
    x->latency_max_us = (int64_t)jget(o, "latency_max_us");
    x->cpu_s = jget(o, "cpu_s");
    x->cpu_s_per_mpkt = jget(o, "cpu_s_per_mpkt");
    x->pkts_per_cpu_s = jget(o, "pkts_per_cpu_s");
    x->relay_cpu_pct = jget(o, "relay_cpu_pct");
    x->loadgen_cpu_pct = jget(o, "loadgen_cpu_pct");
    x->relay_wait_pct = jget(o, "relay_runqueue_wait_pct");
    x->loadgen_wait_pct = jget(o, "loadgen_runqueue_wait_pct");
    x->server_drops =
        (uint64_t)(jget(o, "server_socket_drops") > 0 ? jget(o, "server_socket_drops") : 0);
    x->client_drops =
        (uint64_t)(jget(o, "client_socket_drops") > 0 ? jget(o, "client_socket_drops") : 0);
    x->rss_base_kb = (uint64_t)(jget(o, "rss_base_kb") > 0 ? jget(o, "rss_base_kb") : 0);
    x->rss_kb = (uint64_t)(jget(o, "rss_kb") > 0 ? jget(o, "rss_kb") : 0);
    x->rss_kb_per_participant = jget(o, "rss_kb_per_participant");
    x->join_ms_p50 = jget(o, "join_ms_p50");
    x->join_ms_p99 = jget(o, "join_ms_p99");
    x->join_ms_max = jget(o, "join_ms_max");
    x->first_media_ms_p50 = jget(o, "first_media_ms_p50");
    x->first_media_ms_p99 = jget(o, "first_media_ms_p99");
    x->joins_failed = (int)(jget(o, "joins_failed") > 0 ? jget(o, "joins_failed") : 0);
    x->all_encrypted = json_is_true(json_object_get(o, "all_legs_encrypted"));
    x->every_packet = json_is_true(json_object_get(o, "every_packet"));
    x->crypto_failures =
        (uint64_t)(jget(o, "crypto_failures") > 0 ? jget(o, "crypto_failures") : 0);
    x->mixed_listeners = (int)(jget(o, "mixed_listeners") > 0 ? jget(o, "mixed_listeners") : 0);
    x->mixed_packets = (uint64_t)(jget(o, "mixed_packets") > 0 ? jget(o, "mixed_packets") : 0);
    x->mixed_pps_per_listener = jget(o, "mixed_pps_per_listener");
    x->mixed_wire_kbps = jget(o, "mixed_wire_kbps_per_listener");
    x->mixed_opus_kbps = jget(o, "mixed_opus_kbps_per_listener");
    x->mixer_cpu_pct = jget(o, "mixer_cpu_pct");
    x->mixer_ms_per_s = jget(o, "mixer_cpu_ms_per_s");
    x->mixed_plc =
        (uint64_t)(jget(o, "mixed_listener_concealed") > 0 ? jget(o, "mixed_listener_concealed")
                                                           : 0);
    x->mixed_decode_errors = (uint64_t)(jget(o, "mixed_listener_decode_errors") > 0
                                            ? jget(o, "mixed_listener_decode_errors")
                                            : 0);
    x->mix_decodes = (uint64_t)(jget(o, "mix_decodes") > 0 ? jget(o, "mix_decodes") : 0);
    x->mix_encodes = (uint64_t)(jget(o, "mix_encodes") > 0 ? jget(o, "mix_encodes") : 0);
    x->mix_concealed = (uint64_t)(jget(o, "mix_concealed") > 0 ? jget(o, "mix_concealed") : 0);
    x->mix_fec_recovered =
        (uint64_t)(jget(o, "mix_fec_recovered") > 0 ? jget(o, "mix_fec_recovered") : 0);
}

int report_load(const char *path, bench_result_t *r, int cap, int *n, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    json_t *arr = root ? json_object_get(root, "results") : NULL;
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "%s: %s", path, root ? "no results array" : je.text);
        json_decref(root);
        return LG_EMALFORMED;
    }
    *n = 0;
    for (size_t i = 0; i < json_array_size(arr) && *n < cap; i++)
        result_from_json(json_array_get(arr, i), &r[(*n)++]);
    json_decref(root);
    return 0;
}

/* --- plots --------------------------------------------------------------------------------------
 */

static bool write_dat(const char *path, const bench_result_t *r, int n, const char *scen,
                      const char *sys)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "# n forwarded_pps cpu_s_per_mpkt latency_p99_us loss_pct\n");
    /* results of one (scenario, system) in increasing n */
    int last = -1;
    for (;;) {
        const bench_result_t *next = NULL;
        for (int i = 0; i < n; i++)
            if (!strcmp(r[i].scenario, scen) && !strcmp(r[i].system, sys) &&
                !strcmp(r[i].status, "ok") && r[i].n > last && (!next || r[i].n < next->n))
                next = &r[i];
        if (!next)
            break;
        fprintf(f, "%d %.1f %.3f %lld %.4f\n", next->n, next->forwarded_pps, next->cpu_s_per_mpkt,
                (long long)next->latency_p99_us, next->loss_pct);
        last = next->n;
    }
    fclose(f);
    return last >= 0;
}

static void plot_panel(FILE *gp, const char *scen, const bool have[NPLOT_SYS], int col,
                       const char *ylabel)
{
    fprintf(gp, "set title '%s'\nset xlabel '%s'\nset ylabel '%s'\nplot ", scen,
            strcmp(scen, "fanout") == 0    ? "subscribers"
            : strcmp(scen, "meeting") == 0 ? "participants"
                                           : "rooms of 4",
            ylabel);
    bool first = true;
    for (size_t s = 0; s < NPLOT_SYS; s++) {
        if (!have[s])
            continue;
        fprintf(gp, "%s'plots/%s-%s.dat' using 1:%d with linespoints title '%s'", first ? "" : ", ",
                scen, PLOT_SYSTEMS[s], col, PLOT_SYSTEMS[s]);
        first = false;
    }
    fprintf(gp, "\n");
}

int report_plots(const char *dir, const bench_result_t *r, int n, char *err, size_t errlen)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/plots", dir);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    bool have[NPLOT_SCEN][NPLOT_SYS], any[NPLOT_SCEN];
    int panels = 0;
    for (size_t c = 0; c < NPLOT_SCEN; c++) {
        any[c] = false;
        for (size_t s = 0; s < NPLOT_SYS; s++) {
            snprintf(path, sizeof path, "%s/plots/%s-%s.dat", dir, PLOT_SCENARIOS[c],
                     PLOT_SYSTEMS[s]);
            have[c][s] = write_dat(path, r, n, PLOT_SCENARIOS[c], PLOT_SYSTEMS[s]);
            any[c] = any[c] || have[c][s];
        }
        panels += any[c];
    }
    if (panels == 0)
        return 0;
    snprintf(path, sizeof path, "%s/plots/plots.gp", dir);
    FILE *gp = fopen(path, "w");
    if (!gp) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    static const struct {
        const char *png;
        int col;
        const char *ylabel;
        const char *title;
    } P[] = {{"throughput.png", 2, "forwarded packets/s", "Forwarded packets per second"},
             {"cpu_per_mpkt.png", 3, "relay CPU s per million packets",
              "Relay CPU per million forwarded packets (lower is better)"},
             {"latency_p99.png", 4, "p99 one-way latency (us)", "p99 send-to-receive latency"}};
    fprintf(gp, "# Generated by legation-bench; run from the results directory: "
                "gnuplot plots/plots.gp\n");
    fprintf(gp, "set terminal pngcairo size %d,450 font ',10'\nset grid\n", 500 * panels);
    for (size_t i = 0; i < sizeof P / sizeof P[0]; i++) {
        /* latency spans microseconds to a saturated relay's seconds: log scale */
        fprintf(gp, "%s\n",
                P[i].col == 4 ? "set logscale y\nset yrange [*:*]"
                              : "unset logscale y\nset yrange [0:*]");
        fprintf(gp, "set output '%s'\nset key top %s\nset multiplot layout 1,%d title '%s'\n",
                P[i].png, P[i].col == 2 ? "left" : "right", panels, P[i].title);
        for (size_t c = 0; c < NPLOT_SCEN; c++)
            if (any[c])
                plot_panel(gp, PLOT_SCENARIOS[c], have[c], P[i].col, P[i].ylabel);
        fprintf(gp, "unset multiplot\nset output\n");
    }
    fclose(gp);
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        snprintf(err, errlen,
                 "gnuplot is not installed (apt-get install -y gnuplot-nox); data and script "
                 "are in %s/plots",
                 dir);
        return LG_ENOTFOUND;
    }
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot plots/plots.gp 2>plots/gnuplot.log", dir);
    if (system(cmd) != 0) {
        snprintf(err, errlen, "gnuplot failed; see %s/plots/gnuplot.log", dir);
        return LG_EIO;
    }
    struct stat st;
    snprintf(path, sizeof path, "%s/plots/gnuplot.log", dir);
    if (stat(path, &st) == 0 && st.st_size == 0)
        unlink(path);
    return 0;
}

/* --- Markdown -----------------------------------------------------------------------------------
 */

static void md_cell(FILE *f, double v, int dec)
{
    if (v < 0)
        fprintf(f, " – |");
    else
        fprintf(f, " %.*f |", dec, v);
}

/* The mixed-audio points: the mixer's CPU per room and what a mixed listener receives. */
static void md_mixed(FILE *f, const bench_result_t *r, int n)
{
    bool any = false;
    for (int i = 0; i < n; i++) {
        const bench_result_t *x = &r[i];
        if (strcmp(x->scenario, "mixed") != 0 || strcmp(x->status, "ok") != 0)
            continue;
        if (!any)
            fprintf(f, "\nMixed audio (3 speakers, the others on one mixed stream; per room):\n\n"
                       "| participants | mixed listeners | mixer CPU %% of a core | mixer ms/s "
                       "| wire kbit/s per listener | Opus kbit/s | pkt/s per listener "
                       "| relay decodes / encodes / concealed | listener concealed / errors |\n"
                       "|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
        any = true;
        fprintf(f, "| %d | %d |", x->n, x->mixed_listeners);
        md_cell(f, x->mixer_cpu_pct, 2);
        md_cell(f, x->mixer_ms_per_s, 1);
        md_cell(f, x->mixed_wire_kbps, 1);
        md_cell(f, x->mixed_opus_kbps, 1);
        md_cell(f, x->mixed_pps_per_listener, 1);
        fprintf(f, " %llu / %llu / %llu | %llu / %llu |\n", (unsigned long long)x->mix_decodes,
                (unsigned long long)x->mix_encodes, (unsigned long long)x->mix_concealed,
                (unsigned long long)x->mixed_plc, (unsigned long long)x->mixed_decode_errors);
    }
}

int report_markdown(const char *dir, const report_meta_t *m, const bench_result_t *r, int n,
                    char *err, size_t errlen)
{
    char path[1024], machine[400];
    snprintf(path, sizeof path, "%s/latest.md", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    report_machine(machine, sizeof machine);
    char version[128];
    source_version(version, sizeof version);
    fprintf(f,
            "Run %s on %s, source %s, load average %.1f at the start and %.1f at the end.\n"
            "Command: `%s`\n\n",
            m->started, machine, version, m->loadavg_start, loadavg1(), m->command);
#ifdef BENCH_HAVE_JANUS
    int loops = bench_janus_event_loops(m->env);
    fprintf(f, "Janus: Debian's package, VideoRoom, HTTP transport, event_loops = %d%s.\n\n", loops,
            loops ? "" : " (its default: one event-loop thread per handle)");
#endif
    fprintf(f, "| scenario | system | n | fwd pkt/s | Mbit/s | loss %% | p50 us | p99 us | max us "
               "| CPU s/Mpkt | pkt per CPU-s | relay CPU %% | relay run-queue wait %% "
               "| loadgen CPU %% | KB/participant "
               "| join ms p50 | status |\n");
    fprintf(f, "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    for (int i = 0; i < n; i++) {
        const bench_result_t *x = &r[i];
        bool storm = strcmp(x->scenario, "joinstorm") == 0;
        fprintf(f, "| %s | %s | %d |", x->scenario, x->system, x->n);
        md_cell(f, x->forwarded_pps, 0);
        md_cell(f, x->forwarded_bps < 0 ? -1 : x->forwarded_bps / 1e6, 1);
        md_cell(f, x->loss_pct, 3);
        md_cell(f, (double)x->latency_p50_us, 0);
        md_cell(f, (double)x->latency_p99_us, 0);
        md_cell(f, (double)x->latency_max_us, 0);
        md_cell(f, x->cpu_s_per_mpkt, 2);
        md_cell(f, x->pkts_per_cpu_s, 0);
        md_cell(f, x->relay_cpu_pct, 0);
        md_cell(f, x->relay_wait_pct, 0);
        md_cell(f, x->loadgen_cpu_pct, 0);
        md_cell(f, x->rss_kb_per_participant, 0);
        md_cell(f, storm ? x->first_media_ms_p50 : x->join_ms_p50, 0);
        fprintf(f, " %s%s%s |\n", x->status, x->error[0] ? ": " : "", x->error);
    }
    md_mixed(f, r, n);
    fprintf(f, "\n```\n");
    const char *scen[] = {"fanout", "meeting", "rooms"};
    for (int i = 0; i < 3; i++) {
        report_target_t t;
        report_targets(r, n, scen[i], &t);
        report_targets_print(f, &t);
    }
    fprintf(f, "```\n");
    fclose(f);
    return 0;
}
