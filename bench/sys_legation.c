/* The bench's Legation system: the real `legation` binary as a child process with its own state
 * directory, join tokens from `legation token --token-only`, participants as bench/peer peers
 * (WSS signaling, ICE, DTLS, SRTP on every leg). */
#include "bench/system.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "bench/relay_metrics.h"
#include "sfu/lg_error.h"

#define START_TIMEOUT_MS   15000
#define LEAVE_TIMEOUT_MS   2000
#define METRICS_TIMEOUT_MS 2000

typedef struct {
    pid_t pid;
    char dir[512];   /* WORK/legation-K */
    char state[600]; /* its state directory */
    char log[600];
    char listen[80];
    char port[8];
} leg_sys_t;

static atomic_int g_instance;

/* True once something accepts TCP connections on host:port. */
static bool port_open(const char *host, uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, host, &a.sin_addr);
    bool ok = connect(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

static int leg_start(bench_system_t *sys, const bench_env_t *env, char *err, size_t errlen)
{
    leg_sys_t *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    sys->impl = s;
    sys->env = env;
    snprintf(s->dir, sizeof s->dir, "%s/legation-%d", env->work_dir,
             atomic_fetch_add(&g_instance, 1));
    snprintf(s->state, sizeof s->state, "%s/state", s->dir);
    snprintf(s->log, sizeof s->log, "%s/legation.log", s->dir);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", s->dir, strerror(errno));
        return LG_EIO;
    }
    snprintf(s->listen, sizeof s->listen, "%s:%u", env->host, env->signal_port);
    char mport[16], workers[16];
    snprintf(mport, sizeof mport, "%u", env->media_port);
    snprintf(workers, sizeof workers, "%d", env->workers > 0 ? env->workers : 1);
    char *argv[] = {(char *)env->relay_path,
                    "--state-dir",
                    s->state,
                    "--listen",
                    s->listen,
                    "--media-port",
                    mport,
                    "--media-listen",
                    (char *)env->host,
                    "--workers",
                    workers,
                    "--log-level",
                    env->verbose ? "info" : "warn",
                    "--max-participants",
                    "1000",
                    "--stats-interval", /* /metrics as fresh as a measurement window needs */
                    "100",
                    NULL};
    s->pid = bench_spawn(argv, env->server_cpu, s->log, err, errlen);
    if (s->pid < 0)
        return (int)s->pid;
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 20) {
        if (!bench_alive(s->pid)) {
            snprintf(err, errlen, "%s exited at start; see %s", env->relay_path, s->log);
            s->pid = 0;
            return LG_EIO;
        }
        if (port_open(env->host, env->signal_port))
            return 0;
        usleep(20000);
    }
    snprintf(err, errlen, "%s did not listen on %s within %d s; see %s", env->relay_path, s->listen,
             START_TIMEOUT_MS / 1000, s->log);
    return LG_EEXPIRED;
}

static pid_t leg_pid(const bench_system_t *sys)
{
    const leg_sys_t *s = sys->impl;
    return s ? s->pid : 0;
}

static void leg_stop(bench_system_t *sys)
{
    leg_sys_t *s = sys->impl;
    if (!s)
        return;
    if (s->pid > 0)
        bench_kill(s->pid, 3000);
    free(s);
    sys->impl = NULL;
}

/* Mints a participant token with `legation token --token-only` on the relay's state directory. */
static int mint_token(const bench_system_t *sys, const bench_participant_opts_t *o, char *out,
                      size_t cap, char *err, size_t errlen)
{
    const leg_sys_t *s = sys->impl;
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "'%s' token --room '%s' --name '%s' --role participant --ttl 2h --token-only "
             "--state-dir '%s' --listen '%s' 2>&1",
             sys->env->relay_path, o->room, o->name, s->state, s->listen);
    FILE *f = popen(cmd, "r");
    if (!f) {
        snprintf(err, errlen, "popen legation token: %s", strerror(errno));
        return LG_EIO;
    }
    size_t n = fread(out, 1, cap - 1, f);
    int status = pclose(f);
    out[n] = '\0';
    while (n && (out[n - 1] == '\n' || out[n - 1] == '\r'))
        out[--n] = '\0';
    if (status != 0 || n == 0 || strchr(out, ' ')) {
        snprintf(err, errlen, "legation token failed (status %d): %.200s", status, out);
        return LG_EIO;
    }
    return 0;
}

/* --- participants ------------------------------------------------------------------------------
 */

static peer_t *peer_of(const bench_participant_t *p)
{
    return p->impl;
}

static int lp_run(bench_participant_t *p, int duration_ms)
{
    return peer_run(peer_of(p), duration_ms);
}

static void lp_set_sending(bench_participant_t *p, bool on)
{
    peer_set_sending(peer_of(p), on);
}

static void lp_counts(const bench_participant_t *p, bench_counts_t *out)
{
    peer_stats_t st;
    peer_get_stats(peer_of(p), &st);
    memset(out, 0, sizeof *out);
    out->audio_sent = st.audio_packets_sent;
    out->video_sent = st.video_packets_sent;
    out->bytes_sent = st.bytes_sent;
    out->packets_received = st.packets_received;
    out->bytes_received = st.bytes_received;
    out->gaps = st.gaps;
    out->late = st.late;
    out->crypto_failures = st.srtp_failures + st.srtp_protect_failures;
    out->send_drops = st.send_drops;
    out->pub_encrypted = st.publish.profile != DTLS_SRTP_NONE;
    out->sub_encrypted = st.subscribe.profile != DTLS_SRTP_NONE;
    dtls_srtp_profile_t prof =
        st.subscribe.profile != DTLS_SRTP_NONE ? st.subscribe.profile : st.publish.profile;
    snprintf(out->profile, sizeof out->profile, "%s",
             prof != DTLS_SRTP_NONE ? dtls_srtp_profile_str(prof) : "none");
    const peer_t *peer = peer_of(p);
    for (int i = 0; i < peer_mixed_audio_count(peer); i++) {
        peer_mixed_audio_stats_t m;
        if (peer_get_mixed_audio(peer, i, &m) != 0)
            continue;
        out->mix_packets += m.packets;
        out->mix_payload_bytes += m.bytes;
        out->mix_srtp_bytes += m.srtp_bytes;
        out->mix_plc += m.plc;
        out->mix_decode_errors += m.decode_errors;
    }
}

static int lp_streams(const bench_participant_t *p, bench_rx_stream_t *out, int cap)
{
    const peer_t *peer = peer_of(p);
    int n = 0;
    for (int i = 0; i < peer_stream_count(peer) && n < cap; i++) {
        peer_stream_stats_t s;
        if (peer_get_stream(peer, i, &s) != 0 || s.sender_id == 0)
            continue;
        out[n].sender_id = s.sender_id;
        out[n].stream = s.kind == PEER_STREAM_VIDEO ? 1 : 0;
        out[n].packets = s.packets;
        out[n].late = s.late;
        out[n].gaps = s.gaps;
        n++;
    }
    return n;
}

static size_t lp_latency(const bench_participant_t *p, uint32_t *out, size_t cap,
                         uint64_t *measured)
{
    return peer_latency_samples(peer_of(p), out, cap, measured);
}

static void lp_reset_latency(bench_participant_t *p)
{
    peer_reset_latency(peer_of(p));
}

static const char *lp_last_error(const bench_participant_t *p)
{
    return peer_last_error(peer_of(p));
}

static void lp_leave(bench_participant_t *p)
{
    if (!p)
        return;
    peer_leave(peer_of(p), LEAVE_TIMEOUT_MS);
    peer_free(peer_of(p));
    free(p);
}

static const bench_participant_ops_t LEG_PARTICIPANT = {
    .run = lp_run,
    .set_sending = lp_set_sending,
    .counts = lp_counts,
    .streams = lp_streams,
    .latency = lp_latency,
    .reset_latency = lp_reset_latency,
    .last_error = lp_last_error,
    .leave = lp_leave,
};

static int fail_join(bench_participant_t *bp, peer_t *peer, int rc, const char *step, char *err,
                     size_t errlen)
{
    snprintf(err, errlen, "%s: %s", step, peer ? peer_last_error(peer) : "");
    peer_free(peer);
    free(bp);
    return rc < 0 ? rc : LG_EIO;
}

static int leg_join(bench_system_t *sys, const bench_participant_opts_t *oin,
                    bench_participant_t **out, char *err, size_t errlen)
{
    bench_participant_opts_t o = *oin;
    bench_opts_defaults(&o);
    char token[4096];
    int rc = mint_token(sys, &o, token, sizeof token, err, errlen);
    if (rc != 0)
        return rc;
    peer_opts_t po;
    memset(&po, 0, sizeof po);
    po.host = sys->env->host;
    po.port = sys->env->signal_port;
    po.token = token;
    po.transport = o.transport == BENCH_TRANSPORT_TCP ? PEER_TRANSPORT_TCP : PEER_TRANSPORT_UDP;
    po.sender_id = o.sender_id;
    /* a pure subscriber never calls peer_publish: its offer options do not matter */
    bool publishes = o.pub_audio || o.pub_video;
    po.no_audio = publishes && !o.pub_audio;
    po.no_video = publishes && !o.pub_video;
    po.audio_payload = o.audio_payload;
    po.opus_tone_hz = o.opus_tone_hz;
    po.video_kbps = o.video_kbps;
    po.video_fps = o.video_fps;
    po.socket_buffer = BENCH_SOCKET_BUFFER;
    po.mixed_audio = o.mixed_audio;
    po.ice_timeout_ms = o.timeout_ms;
    po.dtls_timeout_ms = o.timeout_ms;
    bench_participant_t *bp = calloc(1, sizeof *bp);
    if (!bp)
        return LG_ENOMEM;
    bp->ops = &LEG_PARTICIPANT;
    bp->sys = sys;
    snprintf(bp->name, sizeof bp->name, "%s", o.name);
    peer_t *peer = peer_new(&po, err, errlen);
    if (!peer) {
        free(bp);
        return LG_EIO;
    }
    bp->sender_id = peer_sender_id(peer);
    peer_set_sending(peer, false);
    bp->join_start_ns = bench_now_ns();
    rc = peer_join(peer, o.timeout_ms);
    if (rc != 0)
        return fail_join(bp, peer, rc, "join", err, errlen);
    bp->joined_ns = bench_now_ns();
    if (o.pub_audio || o.pub_video) {
        rc = peer_publish(peer, o.timeout_ms);
        if (rc != 0)
            return fail_join(bp, peer, rc, "publish", err, errlen);
    }
    bp->ready_ns = bench_now_ns();
    bp->impl = peer;
    *out = bp;
    return 0;
}

static int leg_mixer_counters(bench_system_t *sys, bench_mixer_counts_t *out, char *err,
                              size_t errlen)
{
    char *page;
    size_t len;
    int rc = relay_metrics_fetch(sys->env->host, sys->env->signal_port, METRICS_TIMEOUT_MS, &page,
                                 &len, err, errlen);
    if (rc != 0)
        return rc;
    static const struct {
        const char *name;
        size_t off;
    } F[] = {
        {"legation_mixer_cpu_nanoseconds_total", offsetof(bench_mixer_counts_t, cpu_ns)},
        {"legation_mix_decodes_total", offsetof(bench_mixer_counts_t, decodes)},
        {"legation_mix_encodes_total", offsetof(bench_mixer_counts_t, encodes)},
        {"legation_mix_concealed_total", offsetof(bench_mixer_counts_t, concealed)},
        {"legation_mix_fec_recovered_total", offsetof(bench_mixer_counts_t, fec_recovered)},
        {"legation_mix_packets_total", offsetof(bench_mixer_counts_t, packets)},
    };
    memset(out, 0, sizeof *out);
    for (size_t i = 0; rc == 0 && i < sizeof F / sizeof F[0]; i++)
        if ((rc = relay_metrics_sum(page, len, F[i].name, (double *)((char *)out + F[i].off))) != 0)
            snprintf(err, errlen, "metrics: no %s on the relay's page", F[i].name);
    free(page);
    return rc;
}

const bench_system_ops_t bench_sys_legation = {
    .name = "legation",
    .start = leg_start,
    .pid = leg_pid,
    .join = leg_join,
    .stop = leg_stop,
    .mixer_counters = leg_mixer_counters,
    .encrypted = true,
};
