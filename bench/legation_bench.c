/* legation-bench: what one machine carries. Runs the scenarios against Legation, the peer relay
 * (Janus, when built) and the raw UDP forwarder in the same run, with the relay and the load
 * generator pinned to different cores, and writes the table, JSON, plots and a Markdown summary.
 * `--quick` is the test-suite check: correctness only, never times. */
#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench/loadgen.h"
#include "bench/report.h"
#include "bench/scenario.h"
#include "bench/system.h"
#include "sfu/lg_error.h"

#define MAX_SIZES   16
#define MAX_RESULTS 256
#define EXIT_USAGE  2
#define NETNS_ADDR  "10.99.0.1"

typedef struct {
    bool quick, netns, no_files, keep;
    const char *in_netns;
    const char *relay, *raw, *janus, *out, *plot;
    bool systems[3]; /* legation, raw, janus */
    bool scenarios[SCEN_COUNT];
    int sizes[SCEN_COUNT][MAX_SIZES];
    int nsizes[SCEN_COUNT];
    int duration_s, server_cpu, client_cpu, workers, verbose, join_gap_ms, nice;
    unsigned port, media_port, video_kbps;
} options_t;

static const int DEFAULT_SIZES[SCEN_COUNT][MAX_SIZES] = {
    {1, 10, 25, 50}, {2, 4, 8, 12, 16}, {1, 5, 10, 15, 20}, {10, 50, 100}, {5, 10}};
static const int DEFAULT_NSIZES[SCEN_COUNT] = {4, 5, 5, 3, 2};

static char g_self[PATH_MAX];
static char g_workdir[PATH_MAX];

static void usage(FILE *out)
{
    fprintf(out,
            "usage: legation-bench [options]\n"
            "  --quick               correctness check for the test suite (fan-out 3, meeting 3,\n"
            "                        Legation only): every packet, no loss, SRTP on every leg\n"
            "  --systems LIST        legation,raw,janus (default: legation,raw and janus when\n"
            "                        built and --netns is given)\n"
            "  --scenarios LIST      fanout,meeting,rooms,mixed,joinstorm (default: all)\n"
            "  --fanout N,N..        subscribers (default 1,10,25,50)\n"
            "  --meeting N,N..       participants (default 2,4,8,12,16; a subscribe\n"
            "                        connection holds 64 m-lines: 32 publishers)\n"
            "  --rooms N,N..         rooms of 4 (default 1,5,10,15,20)\n"
            "  --mixed N,N..         participants, 3 speaking (real Opus), the others on\n"
            "                        mixed audio: mixer CPU, wire kbit/s per listener\n"
            "                        (default 10,50,100; Legation only)\n"
            "  --joinstorm N,N..     joins per second for 5 s (default 5,10)\n"
            "  --duration S          measurement window per point (default 10)\n"
            "  --video-kbps K        video bitrate per publisher (default 1500)\n"
            "  --join-gap-ms MS      meeting/rooms: publishers join one at a time, MS apart\n"
            "                        (default 0: four at once)\n"
            "  --relay PATH          legation binary (default: next to this one)\n"
            "  --raw PATH            legation-raw-forwarder (default: next to this one)\n"
            "  --janus PATH          janus binary (default: janus)\n"
            "  --netns               run everything in a network namespace created for the run\n"
            "                        (needed for Janus; root)\n"
            "  --server-cpu N        pin the server here (default 0)\n"
            "  --client-cpu N        pin the load generator here (default 1; -1: no pinning)\n"
            "  --workers N           relay media workers (default 1: it has one core)\n"
            "  --nice N              run the bench, its servers and its session's autogroup at\n"
            "                        nice N (e.g. -10 on a shared machine; restored at exit)\n"
            "  --port P              first signaling port (default 23000)\n"
            "  --media-port P        first media port (default 52000)\n"
            "  --out DIR             results directory (default: the source tree's bench/results)\n"
            "  --no-files            print the table only\n"
            "  --plot FILE           no run: redraw the PNGs (next to FILE) and print the table\n"
            "                        and targets of a results JSON\n"
            "  --keep                keep the work directory (server logs)\n"
            "  --verbose             relay log at info level\n");
}

/* --- options ------------------------------------------------------------------------------------
 */

static int parse_sizes(const char *s, int *out, int *n, int min)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long v = strtol(t, &end, 10);
        if (*end || v < min || v > 500 || *n == MAX_SIZES)
            return -1;
        out[(*n)++] = (int)v;
    }
    return *n ? 0 : -1;
}

static int parse_list(const char *s, bool *systems, bool *scenarios)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", s);
    for (char *save, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        scenario_kind_t k;
        if (systems && strcmp(t, "legation") == 0)
            systems[0] = true;
        else if (systems && strcmp(t, "raw") == 0)
            systems[1] = true;
        else if (systems && strcmp(t, "janus") == 0)
            systems[2] = true;
        else if (scenarios && scenario_parse(t, &k) == 0)
            scenarios[k] = true;
        else
            return -1;
    }
    return 0;
}

static void defaults(options_t *o)
{
    memset(o, 0, sizeof *o);
    o->duration_s = 10;
    o->join_gap_ms = 0;
    o->server_cpu = 0;
    o->client_cpu = 1;
    o->workers = 1;
    o->port = 23000;
    o->media_port = 52000;
    o->video_kbps = 1500;
    memcpy(o->sizes, DEFAULT_SIZES, sizeof o->sizes);
    memcpy(o->nsizes, DEFAULT_NSIZES, sizeof o->nsizes);
}

static int parse_args(options_t *o, int argc, char **argv)
{
    bool any_sys = false, any_scen = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        scenario_kind_t k;
        if (!strcmp(a, "--quick"))
            o->quick = true;
        else if (!strcmp(a, "--netns"))
            o->netns = true;
        else if (!strcmp(a, "--no-files"))
            o->no_files = true;
        else if (!strcmp(a, "--keep"))
            o->keep = true;
        else if (!strcmp(a, "--verbose"))
            o->verbose = 1;
        else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!v) {
            fprintf(stderr, "legation-bench: unknown option or missing value: %s\n", a);
            return EXIT_USAGE;
        } else if (!strcmp(a, "--in-netns"))
            o->in_netns = argv[++i];
        else if (!strcmp(a, "--relay"))
            o->relay = argv[++i];
        else if (!strcmp(a, "--raw"))
            o->raw = argv[++i];
        else if (!strcmp(a, "--janus"))
            o->janus = argv[++i];
        else if (!strcmp(a, "--plot"))
            o->plot = argv[++i];
        else if (!strcmp(a, "--out"))
            o->out = argv[++i];
        else if (!strcmp(a, "--duration"))
            o->duration_s = atoi(argv[++i]);
        else if (!strcmp(a, "--video-kbps"))
            o->video_kbps = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--server-cpu"))
            o->server_cpu = atoi(argv[++i]);
        else if (!strcmp(a, "--client-cpu"))
            o->client_cpu = atoi(argv[++i]);
        else if (!strcmp(a, "--nice"))
            o->nice = atoi(argv[++i]);
        else if (!strcmp(a, "--join-gap-ms"))
            o->join_gap_ms = atoi(argv[++i]);
        else if (!strcmp(a, "--workers"))
            o->workers = atoi(argv[++i]);
        else if (!strcmp(a, "--port"))
            o->port = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--media-port"))
            o->media_port = (unsigned)atoi(argv[++i]);
        else if (!strcmp(a, "--systems")) {
            any_sys = true;
            if (parse_list(argv[++i], o->systems, NULL) != 0)
                goto bad;
        } else if (!strcmp(a, "--scenarios")) {
            any_scen = true;
            if (parse_list(argv[++i], NULL, o->scenarios) != 0)
                goto bad;
        } else if (!strncmp(a, "--", 2) && scenario_parse(a + 2, &k) == 0) {
            if (parse_sizes(argv[++i], o->sizes[k], &o->nsizes[k], k == SCEN_MIXED ? 4 : 1) != 0)
                goto bad;
        } else {
            fprintf(stderr, "legation-bench: unknown option %s (see --help)\n", a);
            return EXIT_USAGE;
        }
        continue;
    bad:
        fprintf(stderr, "legation-bench: bad value for %s: %s\n", a, argv[i]);
        return EXIT_USAGE;
    }
    if (o->duration_s < 1 || o->duration_s > 600 || o->video_kbps < 10 || o->video_kbps > 20000 ||
        o->port < 1024 || o->port > 60000 || o->media_port < 1024 || o->media_port > 60000) {
        fprintf(stderr, "legation-bench: --duration 1..600, --video-kbps 10..20000, ports "
                        "1024..60000\n");
        return EXIT_USAGE;
    }
    if (!any_sys) {
        o->systems[0] = o->systems[1] = true;
        o->systems[2] = o->netns || o->in_netns;
    }
    if (!any_scen)
        for (int s = 0; s < SCEN_COUNT; s++)
            o->scenarios[s] = true;
    if (o->quick) {
        memset(o->systems, 0, sizeof o->systems);
        o->systems[0] = true;
        memset(o->scenarios, 0, sizeof o->scenarios);
        o->scenarios[SCEN_FANOUT] = o->scenarios[SCEN_MEETING] = true;
        o->sizes[SCEN_FANOUT][0] = o->sizes[SCEN_MEETING][0] = 3;
        o->nsizes[SCEN_FANOUT] = o->nsizes[SCEN_MEETING] = 1;
        o->duration_s = 5;
        o->no_files = true;
    }
    return 0;
}

/* A sibling of this executable, or the source tree's release build. */
static void default_path(char *out, size_t cap, const char *name)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", g_self);
    snprintf(out, cap, "%s/%s", dirname(dir), name);
    if (access(out, X_OK) != 0)
        snprintf(out, cap, "%s/build/release/%s", LG_SOURCE_DIR, name);
}

/* --- priority ----------------------------------------------------------------------------------
 */

static int g_autogroup_nice = INT_MIN; /* the session's autogroup nice before --nice, to restore */

static int read_autogroup_nice(void)
{
    int v = INT_MIN;
    FILE *f = fopen("/proc/self/autogroup", "r");
    if (f) {
        if (fscanf(f, "/autogroup-%*d nice %d", &v) != 1)
            v = INT_MIN;
        fclose(f);
    }
    return v;
}

static void write_autogroup_nice(int v)
{
    FILE *f = fopen("/proc/self/autogroup", "w");
    if (f) {
        fprintf(f, "%d", v);
        fclose(f);
    }
}

static void restore_priority(void)
{
    if (g_autogroup_nice != INT_MIN)
        write_autogroup_nice(g_autogroup_nice);
    g_autogroup_nice = INT_MIN;
}

/* Raises (or lowers) the priority of this process, everything it starts and, with the
 * scheduler's autogroups, of its session against other sessions' work. */
static void set_priority(int nice_value)
{
    if (nice_value == 0)
        return;
    if (setpriority(PRIO_PROCESS, 0, nice_value) != 0)
        fprintf(stderr, "legation-bench: --nice %d: %s\n", nice_value, strerror(errno));
    g_autogroup_nice = read_autogroup_nice();
    if (g_autogroup_nice != INT_MIN) {
        write_autogroup_nice(nice_value);
        atexit(restore_priority);
    }
}

/* --- network namespace --------------------------------------------------------------------------
 */

/* Runs "ip -n NS ARGS" (or "ip netns add NS" when args is NULL). Returns its status. */
static int ip_ns(const char *ns, const char *args)
{
    char cmd[512];
    if (args)
        snprintf(cmd, sizeof cmd, "ip -n %s %s", ns, args);
    else
        snprintf(cmd, sizeof cmd, "ip netns add %s", ns);
    int rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "legation-bench: '%s' failed\n", cmd);
    return rc;
}

static volatile sig_atomic_t g_child;

static void forward_signal(int sig)
{
    if (g_child > 0)
        kill(g_child, sig);
}

/* Creates a namespace with JANUS.md's veth recipe, runs this program again inside it (ip netns
 * exec ... --in-netns NAME), then deletes the namespace, whatever the child did. Returns the
 * child's exit code. */
static int run_in_netns(int argc, char **argv)
{
    if (geteuid() != 0) {
        fprintf(stderr, "legation-bench: --netns needs root (ip netns add)\n");
        return 1;
    }
    char ns[32];
    snprintf(ns, sizeof ns, "lgbench%d", (int)getpid());
    int rc = ip_ns(ns, NULL) || ip_ns(ns, "link set lo up") ||
             ip_ns(ns, "link add vb0 type veth peer name vb1") ||
             ip_ns(ns, "addr add " NETNS_ADDR "/32 dev vb0") || ip_ns(ns, "link set vb0 up") ||
             ip_ns(ns, "link set vb1 up");
    int status = 1;
    char **args = calloc((size_t)argc + 8, sizeof *args);
    if (rc == 0 && args) {
        int k = 0;
        args[k++] = "ip";
        args[k++] = "netns";
        args[k++] = "exec";
        args[k++] = ns;
        args[k++] = g_self;
        for (int i = 1; i < argc; i++)
            if (strcmp(argv[i], "--netns") != 0)
                args[k++] = argv[i];
        args[k++] = "--in-netns";
        args[k++] = ns;
        args[k] = NULL;
        signal(SIGINT, forward_signal);
        signal(SIGTERM, forward_signal);
        pid_t pid = fork();
        if (pid == 0) {
            signal(SIGINT, SIG_DFL);
            signal(SIGTERM, SIG_DFL);
            execvp("ip", args);
            _exit(127);
        }
        g_child = pid;
        int st = 0;
        while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
            ;
        status = pid > 0 && WIFEXITED(st) ? WEXITSTATUS(st) : 1;
    }
    free(args);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "ip netns del %s", ns);
    if (system(cmd) != 0)
        fprintf(stderr, "legation-bench: could not delete namespace %s\n", ns);
    return status;
}

/* --- running ------------------------------------------------------------------------------------
 */

static void on_signal(int sig)
{
    if (loadgen_interrupted)
        signal(sig, SIG_DFL);
    loadgen_interrupted = 1;
}

static void cleanup_workdir(void)
{
    if (!g_workdir[0])
        return;
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_workdir);
    if (system(cmd) != 0)
        fprintf(stderr, "legation-bench: could not remove %s\n", g_workdir);
    g_workdir[0] = '\0';
}

static const bench_system_ops_t *system_ops(int i)
{
    if (i == 0)
        return &bench_sys_legation;
    if (i == 1)
        return &bench_sys_raw;
#ifdef BENCH_HAVE_JANUS
    return &bench_sys_janus;
#else
    return NULL;
#endif
}

/* The quick check's verdict on one result; prints why it fails. */
static bool quick_ok(const bench_result_t *r)
{
    bool ok = strcmp(r->status, "ok") == 0 && r->every_packet && r->lost == 0 && r->expected > 0 &&
              r->all_encrypted && r->crypto_failures == 0 && strcmp(r->profile, "none") != 0 &&
              r->joins_failed == 0 && !r->error[0];
    printf("%s %s n=%d: %s (expected %llu, received %llu, lost %llu, duplicates %llu, SRTP %s on "
           "every leg: %s, crypto failures %llu)%s%s\n",
           ok ? "PASS" : "FAIL", r->scenario, r->n,
           ok ? "every subscriber got every packet" : r->status, (unsigned long long)r->expected,
           (unsigned long long)r->forwarded, (unsigned long long)r->lost,
           (unsigned long long)r->duplicates, r->profile, r->all_encrypted ? "yes" : "no",
           (unsigned long long)r->crypto_failures, r->error[0] ? " — " : "", r->error);
    return ok;
}

static void stamp_now(char *iso, size_t isocap, char *stamp, size_t stampcap)
{
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(iso, isocap, "%Y-%m-%dT%H:%M:%SZ", &tm);
    strftime(stamp, stampcap, "%Y%m%d-%H%M%S", &tm);
}

static void join_args(char *out, size_t cap, int argc, char **argv, bool in_netns)
{
    size_t len = (size_t)snprintf(out, cap, "legation-bench");
    for (int i = 1; i < argc && len < cap; i++)
        if (strcmp(argv[i], "--in-netns") == 0)
            i++;
        else
            len += (size_t)snprintf(out + len, cap - len, " %s", argv[i]);
    if (in_netns && len < cap)
        snprintf(out + len, cap - len, " --netns");
}

static int write_outputs(const options_t *o, const report_meta_t *meta, const bench_result_t *r,
                         int n, const char *stamp)
{
    char dir[PATH_MAX], err[1400];
    snprintf(dir, sizeof dir, "%s", o->out ? o->out : LG_SOURCE_DIR "/bench/results");
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "legation-bench: mkdir %s: %s\n", dir, strerror(errno));
        return 1;
    }
    int rc = 0;
    if (report_json(dir, stamp, meta, r, n, err, sizeof err) != 0 ||
        report_markdown(dir, meta, r, n, err, sizeof err) != 0) {
        fprintf(stderr, "legation-bench: %s\n", err);
        rc = 1;
    }
    int prc = report_plots(dir, r, n, err, sizeof err);
    if (prc != 0)
        fprintf(stderr, "legation-bench: %s\n", err);
    printf("\nresults: %s/latest.json, %s/latest.md%s\n", dir, dir,
           prc == 0 ? ", throughput.png, cpu_per_mpkt.png, latency_p99.png" : "");
    return rc;
}

/* True when port is free for TCP and UDP on host (nobody else's relay or test holds it). */
static bool port_free(const char *host, unsigned port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
        return false;
    bool ok = true;
    int types[2] = {SOCK_STREAM, SOCK_DGRAM};
    for (int i = 0; i < 2 && ok; i++) {
        int fd = socket(AF_INET, types[i] | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
        if (fd >= 0)
            close(fd);
    }
    return ok;
}

/* Picks the next signaling port and media port range (workers + 1 ports) that are free. */
static void pick_ports(const options_t *o, bench_env_t *env, unsigned *cursor)
{
    for (int tries = 0; tries < 500; tries++) {
        unsigned k = (*cursor)++ % 500;
        unsigned sig = o->port + k * 2, media = o->media_port + k * 8;
        bool ok = port_free(env->host, sig);
        for (int w = 0; ok && w <= (env->workers > 0 ? env->workers : 1); w++)
            ok = port_free(env->host, media + (unsigned)w);
        if (ok) {
            env->signal_port = (uint16_t)sig;
            env->media_port = (uint16_t)media;
            return;
        }
    }
}

static int run_all(const options_t *o, bench_env_t *env, bench_result_t *res, int *nres)
{
    scenario_cfg_t cfg = {.duration_s = o->duration_s,
                          .warmup_timeout_s = 20,
                          .storm_s = 5,
                          .video_kbps = o->video_kbps,
                          .join_gap_ms = o->join_gap_ms,
                          .progress = true};
    unsigned cursor = 0;
    report_table_header(stdout);
    for (int s = 0; s < SCEN_COUNT && !loadgen_interrupted; s++) {
        if (!o->scenarios[s])
            continue;
        for (int i = 0; i < o->nsizes[s] && !loadgen_interrupted; i++)
            for (int y = 0; y < 3 && !loadgen_interrupted && *nres < MAX_RESULTS; y++) {
                if (!o->systems[y])
                    continue;
                const bench_system_ops_t *ops = system_ops(y);
                bench_result_t *r = &res[(*nres)++];
                if (!ops || (y == 2 && !env->netns)) {
                    memset(r, 0, sizeof *r);
                    snprintf(r->scenario, sizeof r->scenario, "%s", scenario_name(s));
                    snprintf(r->system, sizeof r->system, "janus");
                    r->n = o->sizes[s][i];
                    snprintf(r->status, sizeof r->status, "pending");
                    snprintf(r->error, sizeof r->error, "%s",
                             ops ? "Janus needs --netns (it never uses 127.0.0.1)"
                                 : "the Janus system is not built into this bench yet");
                    report_table_row(stdout, r);
                    continue;
                }
                /* fresh free ports per run: no TIME_WAIT, no late datagram from the last run,
                 * no other program's server */
                pick_ports(o, env, &cursor);
                scenario_run((scenario_kind_t)s, o->sizes[s][i], ops, env, &cfg, r);
                report_table_row(stdout, r);
            }
    }
    return 0;
}

/* --plot: the table, targets and PNGs of an earlier run's JSON. */
static int replot(const char *path)
{
    bench_result_t *res = calloc(MAX_RESULTS, sizeof *res);
    char err[600], dir[PATH_MAX];
    int n = 0;
    if (!res || report_load(path, res, MAX_RESULTS, &n, err, sizeof err) != 0) {
        fprintf(stderr, "legation-bench: %s\n", res ? err : "out of memory");
        free(res);
        return 1;
    }
    report_table_header(stdout);
    for (int i = 0; i < n; i++)
        report_table_row(stdout, &res[i]);
    printf("\n");
    const char *scen[] = {"fanout", "meeting", "rooms"};
    for (int i = 0; i < 3; i++) {
        report_target_t t;
        report_targets(res, n, scen[i], &t);
        report_targets_print(stdout, &t);
    }
    snprintf(dir, sizeof dir, "%s", path);
    int rc = report_plots(dirname(dir), res, n, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "legation-bench: %s\n", err);
    free(res);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    options_t o;
    defaults(&o);
    int rc = parse_args(&o, argc, argv);
    if (rc != 0)
        return rc;
    if (o.plot)
        return replot(o.plot);
    ssize_t len = readlink("/proc/self/exe", g_self, sizeof g_self - 1);
    g_self[len > 0 ? len : 0] = '\0';
    if (!o.in_netns)
        set_priority(o.nice); /* a re-executed child inherits it */
    if (o.netns && !o.in_netns)
        return run_in_netns(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 2 || o.client_cpu < 0 || o.server_cpu >= cpus || o.client_cpu >= cpus) {
        fprintf(stderr,
                "legation-bench: %ld CPU(s): the server and the load generator are not "
                "pinned apart; figures include their contention\n",
                cpus);
        o.server_cpu = o.client_cpu = -1;
    }
    bench_pin_cpu(0, o.client_cpu); /* before any thread: all of them inherit it */

    char relay[PATH_MAX], raw[PATH_MAX];
    if (o.relay)
        snprintf(relay, sizeof relay, "%s", o.relay);
    else
        default_path(relay, sizeof relay, "legation");
    if (o.raw)
        snprintf(raw, sizeof raw, "%s", o.raw);
    else
        default_path(raw, sizeof raw, "legation-raw-forwarder");
    snprintf(g_workdir, sizeof g_workdir, "/tmp/legation-bench-XXXXXX");
    if (!mkdtemp(g_workdir)) {
        fprintf(stderr, "legation-bench: mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    bench_env_t env = {.host = o.in_netns ? NETNS_ADDR : "127.0.0.1",
                       .server_cpu = o.server_cpu,
                       .client_cpu = o.client_cpu,
                       .netns = o.in_netns,
                       .relay_path = relay,
                       .raw_path = raw,
                       .janus_path = o.janus ? o.janus : "janus",
                       .work_dir = g_workdir,
                       .workers = o.workers,
                       .verbose = o.verbose};
    char iso[32], stamp[32], command[1024];
    stamp_now(iso, sizeof iso, stamp, sizeof stamp);
    join_args(command, sizeof command, argc, argv, o.in_netns != NULL);
    fprintf(stderr,
            "legation-bench: relay %s, server cpu %d, load generator cpu %d, %s, window %d s\n",
            relay, o.server_cpu, o.client_cpu, o.in_netns ? o.in_netns : "loopback", o.duration_s);

    double load0 = report_loadavg();
    bench_result_t *res = calloc(MAX_RESULTS, sizeof *res);
    int nres = 0;
    if (!res)
        return 1;
    run_all(&o, &env, res, &nres);
    int status = loadgen_interrupted ? 130 : 0;
    if (o.quick) {
        printf("\n");
        for (int i = 0; i < nres; i++)
            if (!quick_ok(&res[i]))
                status = 1;
    } else {
        printf("\n");
        const char *scen[] = {"fanout", "meeting", "rooms"};
        for (int i = 0; i < 3; i++) {
            report_target_t t;
            report_targets(res, nres, scen[i], &t);
            report_targets_print(stdout, &t);
        }
        report_meta_t meta = {.command = command,
                              .env = &env,
                              .cfg = NULL,
                              .started = iso,
                              .loadavg_start = load0,
                              .nice = o.nice};
        scenario_cfg_t cfg = {.duration_s = o.duration_s, .video_kbps = o.video_kbps};
        meta.cfg = &cfg;
        if (!o.no_files && write_outputs(&o, &meta, res, nres, stamp) != 0)
            status = 1;
    }
    if (o.keep)
        fprintf(stderr, "legation-bench: work directory kept: %s\n", g_workdir);
    else
        cleanup_workdir();
    free(res);
    return status;
}
