/* The bench's Janus system: Debian's `janus` with only the VideoRoom plugin and the HTTP
 * transport, started with its own config folder, and participants that speak Janus's HTTP/JSON
 * API (bench/janus_api.h) and carry media with bench/peer peers in full-ICE mode (they answer
 * Janus's connectivity checks; DTLS server or client as the SDP roles say). */
#include "bench/system.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench/janus_api.h"
#include "bench/peer/peer.h"
#include "sfu/lg_error.h"
#include "signaling/sdp.h"

#define START_TIMEOUT_MS 15000
#define LEAVE_TIMEOUT_MS 2000
#define REQ_TIMEOUT_MS   5000
#define RUN_SLICE_MS     50
#define MAX_FEEDS        64
#define JANUS_LIB_DIR    "/usr/lib/x86_64-linux-gnu/janus"
#define VIDEOROOM        "janus.plugin.videoroom"

/* Janus's event-loop setting (janus.jcfg general.event_loops, `static_event_loops` in its code).
 * Janus's default, 0, gives every handle its own event-loop thread; on the one pinned core that
 * costs it about 1.6x the CPU per packet of one shared loop (measured, fan-out 30: ~21k vs ~34k
 * packets per CPU-second; meeting 8: ~36k vs ~45-60k). So Janus gets as many loops as the relay
 * gets media workers. */
#define JANUS_EVENT_LOOPS_ENV "LEGATION_BENCH_JANUS_EVENT_LOOPS"

int bench_janus_event_loops(const bench_env_t *env)
{
    int dflt = env && env->workers > 0 ? env->workers : 1;
    const char *e = getenv(JANUS_EVENT_LOOPS_ENV);
    int v = e && *e ? atoi(e) : dflt;
    return v >= 0 && v <= 64 ? v : dflt;
}

/* --- the server ------------------------------------------------------------------------------- */

#define MAX_ROOMS 256

typedef struct {
    pid_t pid;
    char dir[512]; /* WORK/janus-K: the config folder */
    char log[600];
    pthread_mutex_t mu; /* rooms: joins run on several threads */
    uint64_t rooms[MAX_ROOMS];
    int nrooms;
} janus_sys_t;

static atomic_int g_instance;

static int write_file(const char *dir, const char *name, const char *text, char *err, size_t errlen)
{
    char path[700];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        snprintf(err, errlen, "janus: writing %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    return 0;
}

/* janus.jcfg: only the VideoRoom plugin, the HTTP transport, no logger, no event handlers. */
static int write_main_config(const janus_sys_t *s, const bench_env_t *env, char *err, size_t errlen)
{
    unsigned lo = env->media_port ? env->media_port : 20000;
    unsigned hi = lo + 9999 > 65000 ? 65000 : lo + 9999;
    char text[4096];
    snprintf(text, sizeof text,
             "general: {\n"
             "\tconfigs_folder = \"%s\"\n"
             "\tplugins_folder = \"" JANUS_LIB_DIR "/plugins\"\n"
             "\ttransports_folder = \"" JANUS_LIB_DIR "/transports\"\n"
             "\tevents_folder = \"" JANUS_LIB_DIR "/events\"\n"
             "\tloggers_folder = \"" JANUS_LIB_DIR "/loggers\"\n"
             "\tdebug_level = %d\n"
             "\tinterface = \"%s\"\n"
             "\tsession_timeout = 60\n"
             "\tevent_loops = %d\n"
             "}\n"
             "certificates: {\n}\n"
             "media: {\n\trtp_port_range = \"%u-%u\"\n}\n"
             "nat: {\n\tnice_debug = false\n\tice_enforce_list = \"%s\"\n}\n"
             "plugins: {\n\tdisable = \"libjanus_audiobridge.so,libjanus_duktape.so,"
             "libjanus_echotest.so,libjanus_lua.so,libjanus_nosip.so,libjanus_recordplay.so,"
             "libjanus_sip.so,libjanus_streaming.so,libjanus_textroom.so,libjanus_videocall.so,"
             "libjanus_voicemail.so\"\n}\n"
             "transports: {\n\tdisable = \"libjanus_mqtt.so,libjanus_nanomsg.so,"
             "libjanus_pfunix.so,libjanus_rabbitmq.so,libjanus_websockets.so\"\n}\n"
             "loggers: {\n\tdisable = \"libjanus_jsonlog.so\"\n}\n"
             "events: {\n\tbroadcast = false\n}\n",
             s->dir, env->verbose ? 4 : 3, env->host, bench_janus_event_loops(env), lo, hi,
             env->host);
    return write_file(s->dir, "janus.jcfg", text, err, errlen);
}

static int write_configs(const janus_sys_t *s, const bench_env_t *env, char *err, size_t errlen)
{
    char http[1024];
    snprintf(http, sizeof http,
             "general: {\n\tjson = \"plain\"\n\tbase_path = \"/janus\"\n\thttp = true\n"
             "\tport = %u\n\tip = \"%s\"\n\thttps = false\n}\n"
             "admin: {\n\tadmin_http = false\n\tadmin_https = false\n}\n",
             env->signal_port, env->host);
    int rc = write_main_config(s, env, err, errlen);
    if (rc == 0)
        rc = write_file(s->dir, "janus.transport.http.jcfg", http, err, errlen);
    if (rc == 0)
        rc = write_file(s->dir, "janus.plugin.videoroom.jcfg", "general: {}\n", err, errlen);
    return rc;
}

/* A syntax error does not stop Janus: it logs this and loads everything with defaults. */
static int log_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[1024];
    int found = 0;
    for (int n = 0; n < 100000 && !found && fgets(line, sizeof line, f); n++)
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

static int is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

static int js_start(bench_system_t *sys, const bench_env_t *env, char *err, size_t errlen)
{
    sys->env = env;
    if (is_loopback(env->host)) {
        snprintf(err, errlen,
                 "janus never gathers ICE candidates on loopback (%s): run the bench in its "
                 "network namespace (--netns)",
                 env->host);
        return LG_EINVAL;
    }
    janus_sys_t *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    sys->impl = s;
    pthread_mutex_init(&s->mu, NULL);
    snprintf(s->dir, sizeof s->dir, "%s/janus-%d", env->work_dir, atomic_fetch_add(&g_instance, 1));
    snprintf(s->log, sizeof s->log, "%s/janus.log", s->dir);
    if (mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "mkdir %s: %s", s->dir, strerror(errno));
        return LG_EIO;
    }
    int rc = write_configs(s, env, err, errlen);
    if (rc != 0)
        return rc;
    char *argv[] = {(char *)(env->janus_path ? env->janus_path : "janus"), "-F", s->dir, "-o",
                    NULL};
    s->pid = bench_spawn(argv, env->server_cpu, s->log, err, errlen);
    if (s->pid < 0) {
        rc = (int)s->pid;
        s->pid = 0;
        return rc;
    }
    for (int waited = 0; waited < START_TIMEOUT_MS; waited += 100) {
        if (!bench_alive(s->pid)) {
            snprintf(err, errlen, "janus exited at start; see %s", s->log);
            s->pid = 0;
            return LG_EIO;
        }
        char e2[160];
        if (janus_wait_ready(env->host, env->signal_port, 100, e2, sizeof e2) == 0) {
            if (log_has(s->log, "Error parsing config file")) {
                snprintf(err, errlen, "janus: a config file did not parse; see %s", s->log);
                return LG_EMALFORMED;
            }
            return 0;
        }
    }
    snprintf(err, errlen, "janus did not answer on http://%s:%u/janus within %d s%s; see %s",
             env->host, env->signal_port, START_TIMEOUT_MS / 1000,
             log_has(s->log, "Error parsing config file") ? " (a config file did not parse)" : "",
             s->log);
    return LG_EEXPIRED;
}

static pid_t js_pid(const bench_system_t *sys)
{
    const janus_sys_t *s = sys->impl;
    return s ? s->pid : 0;
}

static void js_stop(bench_system_t *sys)
{
    janus_sys_t *s = sys->impl;
    if (!s)
        return;
    if (s->pid > 0)
        bench_kill(s->pid, 3000);
    pthread_mutex_destroy(&s->mu);
    free(s);
    sys->impl = NULL;
}

/* --- a participant ---------------------------------------------------------------------------- */

typedef enum { SUB_IDLE = 0, SUB_WAIT_OFFER, SUB_FAILED } sub_state_t;

typedef struct {
    bench_participant_t bp; /* bp.impl points back here */
    peer_t *peer;
    janus_client_t *jc;
    uint64_t room, feed;
    uint64_t pub_handle, sub_handle;
    bool subscribe;
    sub_state_t sub;
    uint64_t subscribed[MAX_FEEDS], pending[MAX_FEEDS];
    int nsubscribed, npending;
    int sub_mlines;          /* m-lines the subscription has (audio + video per feed) */
    int64_t sub_deadline_ns; /* a subscribe/join waiting for its offer gives up then */
    char trickled[2];        /* candidates trickled per leg */
    char err[256];           /* what stopped the participant */
    char note[160];          /* a limit hit without failing (feeds left out) */
} jpart_t;

static jpart_t *jp_of(const bench_participant_t *p)
{
    return p->impl;
}

static int jp_fail(jpart_t *jp, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int jp_fail(jpart_t *jp, int rc, const char *fmt, ...)
{
    if (jp->err[0])
        return rc; /* keep the first cause */
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(jp->err, sizeof jp->err, fmt, ap);
    va_end(ap);
    return rc;
}

/* Room names map to VideoRoom's numeric ids (FNV-1a, kept below 2^53 for JSON). */
static uint64_t room_id(const char *name)
{
    uint64_t h = 1469598103934665603ull;
    for (const char *c = name; *c; c++)
        h = (h ^ (uint8_t)*c) * 1099511628211ull;
    return (h % 9000000000000ull) + 1000;
}

static int known_feed(const jpart_t *jp, uint64_t id)
{
    if (id == jp->feed)
        return 1;
    for (int i = 0; i < jp->nsubscribed; i++)
        if (jp->subscribed[i] == id)
            return 1;
    for (int i = 0; i < jp->npending; i++)
        if (jp->pending[i] == id)
            return 1;
    return 0;
}

/* Queues the feeds of a `publishers` array (joined / event) for subscription. */
static void note_publishers(jpart_t *jp, json_t *list)
{
    size_t i;
    json_t *pub;
    json_array_foreach(list, i, pub)
    {
        uint64_t id = (uint64_t)json_integer_value(json_object_get(pub, "id"));
        if (id && jp->subscribe && !known_feed(jp, id) && jp->npending < MAX_FEEDS)
            jp->pending[jp->npending++] = id;
    }
}

/* Trickles the leg's host candidate and end-of-candidates once (Janus is half-trickle). */
static void trickle_local(jpart_t *jp, uint64_t handle, bool subscribe)
{
    char addr[80], line[160], e[160];
    if (jp->trickled[subscribe] || peer_local_address(jp->peer, subscribe, addr, sizeof addr) != 0)
        return;
    jp->trickled[subscribe] = 1;
    char ip[64];
    unsigned port = 0;
    if (sscanf(addr, "%63s %u", ip, &port) != 2)
        return;
    snprintf(line, sizeof line, "candidate:1 1 udp 2130706431 %s %u typ host", ip, port);
    json_t *cand =
        json_pack("{s:s, s:s, s:i}", "candidate", line, "sdpMid", "0", "sdpMLineIndex", 0);
    json_t *done = json_pack("{s:b}", "completed", 1);
    if (cand)
        janus_trickle(jp->jc, handle, cand, REQ_TIMEOUT_MS, e, sizeof e);
    if (done)
        janus_trickle(jp->jc, handle, done, REQ_TIMEOUT_MS, e, sizeof e);
    json_decref(cand);
    json_decref(done);
}

/* --- waiting for events ----------------------------------------------------------------------- */

/* Matches the result of an asynchronous request: a `videoroom` value (or any with a jsep of
 * `sdp_type`), or a plugin error. */
typedef struct {
    const char *videoroom; /* NULL: any */
    const char *sdp_type;  /* NULL: no jsep needed */
} want_t;

static bool match_want(json_t *ev, void *arg)
{
    const want_t *w = arg;
    if (strcmp(janus_event_kind(ev), "event") != 0)
        return false;
    json_t *data = janus_event_data(ev);
    if (json_object_get(data, "error_code"))
        return true;
    if (w->videoroom && strcmp(janus_event_videoroom(ev), w->videoroom) != 0)
        return false;
    return !w->sdp_type || janus_event_sdp(ev, w->sdp_type) != NULL;
}

/* Waits for the wanted event on handle while running the peer's loop (ICE, DTLS, media keep
 * going). Returns the event (caller decrefs) or NULL with jp->err set. */
static json_t *wait_event(jpart_t *jp, uint64_t handle, const want_t *w, int64_t deadline,
                          const char *what)
{
    for (int slices = 0; slices < 100000; slices++) {
        json_t *ev = janus_take_event(jp->jc, handle, match_want, (void *)w, 0);
        if (!ev && janus_client_error(jp->jc)[0]) {
            jp_fail(jp, LG_EIO, "%s: %s", what, janus_client_error(jp->jc));
            return NULL;
        }
        if (ev) {
            json_t *data = janus_event_data(ev);
            if (json_object_get(data, "error_code")) {
                const char *t = json_string_value(json_object_get(data, "error"));
                jp_fail(jp, LG_EPERM, "%s: janus error %" PRId64 ": %s", what,
                        (int64_t)json_integer_value(json_object_get(data, "error_code")),
                        t ? t : "?");
                json_decref(ev);
                return NULL;
            }
            return ev;
        }
        int64_t left = (deadline - bench_now_ns()) / 1000000;
        if (left <= 0)
            break;
        int rc = peer_run(jp->peer, left < 20 ? (int)left : 20);
        if (rc != 0) {
            jp_fail(jp, rc, "%s: %s", what, peer_last_error(jp->peer));
            return NULL;
        }
    }
    jp_fail(jp, LG_EEXPIRED, "%s: no answer from janus in time", what);
    return NULL;
}

/* --- subscribing ------------------------------------------------------------------------------ */

/* Sends a join (first time) or subscribe (later) for the pending feeds that fit the SDP. */
static int request_feeds(jpart_t *jp)
{
    json_t *streams = json_array();
    int take = 0;
    while (take < jp->npending && jp->nsubscribed + take < MAX_FEEDS &&
           jp->sub_mlines + 2 * (take + 1) <= SDP_MAX_MEDIA) {
        json_array_append_new(streams, json_pack("{s:I}", "feed", (json_int_t)jp->pending[take]));
        take++;
    }
    if (take == 0) {
        json_decref(streams);
        if (jp->npending)
            snprintf(jp->note, sizeof jp->note,
                     "janus: %d feeds left out: one subscription holds at most %d m-lines "
                     "(SDP_MAX_MEDIA)",
                     jp->npending, SDP_MAX_MEDIA);
        jp->npending = 0;
        return 0;
    }
    char e[200];
    int rc = 0;
    if (!jp->sub_handle)
        rc = janus_attach(jp->jc, VIDEOROOM, &jp->sub_handle, REQ_TIMEOUT_MS, e, sizeof e);
    json_t *body = rc == 0 && jp->nsubscribed == 0
                       ? json_pack("{s:s, s:s, s:I, s:O}", "request", "join", "ptype", "subscriber",
                                   "room", (json_int_t)jp->room, "streams", streams)
                       : json_pack("{s:s, s:O}", "request", "subscribe", "streams", streams);
    json_decref(streams);
    if (rc == 0)
        rc = janus_message(jp->jc, jp->sub_handle, body, NULL, REQ_TIMEOUT_MS, NULL, NULL, e,
                           sizeof e);
    json_decref(body);
    if (rc != 0) {
        jp->sub = SUB_FAILED;
        return jp_fail(jp, rc, "subscribe: %s", e);
    }
    for (int i = 0; i < take; i++)
        jp->subscribed[jp->nsubscribed++] = jp->pending[i];
    memmove(jp->pending, jp->pending + take, (size_t)(jp->npending - take) * sizeof jp->pending[0]);
    jp->npending -= take;
    jp->sub_mlines += 2 * take;
    jp->sub = SUB_WAIT_OFFER;
    jp->sub_deadline_ns = bench_now_ns() + (int64_t)REQ_TIMEOUT_MS * 1000000;
    return 0;
}

/* Answers an offer Janus made on the subscriber handle (attached, updated) with `start`. */
static int answer_offer(jpart_t *jp, const char *offer)
{
    char *answer = malloc(SDP_MAX_INPUT); /* an answer to SDP_MAX_MEDIA m-lines */
    size_t len;
    if (!answer)
        return jp_fail(jp, LG_ENOMEM, "subscribe answer: out of memory");
    int rc = peer_answer_subscribe(jp->peer, offer, strlen(offer), answer, SDP_MAX_INPUT, &len);
    if (rc != 0) {
        free(answer);
        return jp_fail(jp, rc, "subscribe answer: %s", peer_last_error(jp->peer));
    }
    json_t *body = json_pack("{s:s}", "request", "start");
    json_t *jsep = json_pack("{s:s, s:s%}", "type", "answer", "sdp", answer, len);
    free(answer);
    char e[200];
    rc = body && jsep ? janus_message(jp->jc, jp->sub_handle, body, jsep, REQ_TIMEOUT_MS, NULL,
                                      NULL, e, sizeof e)
                      : LG_ENOMEM;
    json_decref(body);
    json_decref(jsep);
    if (rc != 0)
        return jp_fail(jp, rc, "start: %s", e);
    jp->sub = SUB_IDLE;
    trickle_local(jp, jp->sub_handle, true);
    return 0;
}

/* Handles one queued event during run. Returns 0 or the error that stops the participant. */
static int on_event(jpart_t *jp, json_t *ev)
{
    uint64_t sender = (uint64_t)json_integer_value(json_object_get(ev, "sender"));
    const char *kind = janus_event_kind(ev);
    json_t *data = janus_event_data(ev);
    if (strcmp(kind, "hangup") == 0) {
        const char *why = json_string_value(json_object_get(ev, "reason"));
        return jp_fail(jp, LG_EIO, "janus hung up the %s connection: %s",
                       sender == jp->pub_handle ? "publish" : "subscribe", why ? why : "?");
    }
    if (strcmp(kind, "event") != 0)
        return 0; /* webrtcup, media, slowlink, detached... */
    if (json_object_get(data, "error_code") && sender == jp->sub_handle) {
        jp->sub = SUB_FAILED;
        const char *t = json_string_value(json_object_get(data, "error"));
        return jp_fail(jp, LG_EPERM, "subscribe: janus error: %s", t ? t : "?");
    }
    if (sender == jp->pub_handle)
        note_publishers(jp, json_object_get(data, "publishers"));
    const char *offer = janus_event_sdp(ev, "offer");
    if (sender == jp->sub_handle && offer)
        return answer_offer(jp, offer);
    return 0;
}

static int pump_events(jpart_t *jp)
{
    for (int n = 0; n < 64; n++) {
        json_t *ev = janus_take_event(jp->jc, 0, NULL, NULL, 0);
        if (!ev)
            break;
        int rc = on_event(jp, ev);
        json_decref(ev);
        if (rc < 0)
            return rc;
    }
    if (jp->sub == SUB_WAIT_OFFER && bench_now_ns() > jp->sub_deadline_ns) {
        jp->sub = SUB_FAILED;
        return jp_fail(jp, LG_EEXPIRED, "subscribe: janus sent no offer within %d s",
                       REQ_TIMEOUT_MS / 1000);
    }
    if (jp->sub == SUB_IDLE && jp->npending)
        return request_feeds(jp);
    return 0;
}

/* --- participant ops -------------------------------------------------------------------------- */

static int jp_run(bench_participant_t *p, int duration_ms)
{
    jpart_t *jp = jp_of(p);
    int64_t end = bench_now_ns() + (int64_t)duration_ms * 1000000;
    for (int slices = 0; slices < 1000000; slices++) {
        int rc = pump_events(jp);
        if (rc < 0)
            return rc;
        int64_t left = (end - bench_now_ns()) / 1000000;
        if (left <= 0)
            return 0;
        rc = peer_run(jp->peer, left < RUN_SLICE_MS ? (int)left : RUN_SLICE_MS);
        if (rc != 0)
            return jp_fail(jp, rc, "%s", peer_last_error(jp->peer));
    }
    return 0;
}

static void jp_set_sending(bench_participant_t *p, bool on)
{
    peer_set_sending(jp_of(p)->peer, on);
}

static void jp_counts(const bench_participant_t *p, bench_counts_t *out)
{
    peer_stats_t st;
    peer_get_stats(jp_of(p)->peer, &st);
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
}

static int jp_streams(const bench_participant_t *p, bench_rx_stream_t *out, int cap)
{
    const peer_t *peer = jp_of(p)->peer;
    int n = 0;
    for (int i = 0; i < peer_stream_count(peer) && n < cap; i++) {
        peer_stream_stats_t s;
        if (peer_get_stream(peer, i, &s) != 0 || s.sender_id == 0)
            continue;
        out[n] = (bench_rx_stream_t){.sender_id = s.sender_id,
                                     .stream = s.kind == PEER_STREAM_VIDEO ? 1 : 0,
                                     .packets = s.packets,
                                     .late = s.late,
                                     .gaps = s.gaps};
        n++;
    }
    return n;
}

static size_t jp_latency(const bench_participant_t *p, uint32_t *out, size_t cap,
                         uint64_t *measured)
{
    return peer_latency_samples(jp_of(p)->peer, out, cap, measured);
}

static void jp_reset_latency(bench_participant_t *p)
{
    peer_reset_latency(jp_of(p)->peer);
}

static const char *jp_last_error(const bench_participant_t *p)
{
    const jpart_t *jp = jp_of(p);
    if (jp->err[0])
        return jp->err;
    const char *e = peer_last_error(jp->peer);
    return e[0] ? e : jp->note;
}

static void jp_free(jpart_t *jp)
{
    if (!jp)
        return;
    janus_client_close(jp->jc, LEAVE_TIMEOUT_MS); /* destroying the session hangs up both */
    peer_free(jp->peer);
    free(jp);
}

static void jp_leave(bench_participant_t *p)
{
    if (p)
        jp_free(jp_of(p));
}

static const bench_participant_ops_t JANUS_PARTICIPANT = {
    .run = jp_run,
    .set_sending = jp_set_sending,
    .counts = jp_counts,
    .streams = jp_streams,
    .latency = jp_latency,
    .reset_latency = jp_reset_latency,
    .last_error = jp_last_error,
    .leave = jp_leave,
};

/* --- joining ---------------------------------------------------------------------------------- */

/* Creates the room once per server (Janus logs an error for each create of an existing room). */
static int create_room(jpart_t *jp)
{
    janus_sys_t *s = jp->bp.sys->impl;
    pthread_mutex_lock(&s->mu);
    int known = 0;
    for (int i = 0; i < s->nrooms && !known; i++)
        known = s->rooms[i] == jp->room;
    pthread_mutex_unlock(&s->mu);
    if (known)
        return 0;
    json_t *body = json_pack("{s:s, s:I, s:i, s:i, s:s, s:s, s:b}", "request", "create", "room",
                             (json_int_t)jp->room, "publishers", 100, "bitrate", 0, "videocodec",
                             "vp8", "audiocodec", "opus", "permanent", 0);
    char e[200];
    int code = 0;
    int rc = body ? janus_message(jp->jc, jp->pub_handle, body, NULL, REQ_TIMEOUT_MS, NULL, &code,
                                  e, sizeof e)
                  : LG_ENOMEM;
    json_decref(body);
    if (rc != 0 && code != 427) /* 427: another participant made it first */
        return jp_fail(jp, rc, "create room: %s", e);
    pthread_mutex_lock(&s->mu);
    if (s->nrooms < MAX_ROOMS)
        s->rooms[s->nrooms++] = jp->room;
    pthread_mutex_unlock(&s->mu);
    return 0;
}

/* Joins the room as a publisher (also a pure subscriber: that is how Janus tells who publishes)
 * and waits for `joined`. */
static int join_room(jpart_t *jp, const char *name, int64_t deadline)
{
    json_t *body =
        json_pack("{s:s, s:s, s:I, s:I, s:s}", "request", "join", "ptype", "publisher", "room",
                  (json_int_t)jp->room, "id", (json_int_t)jp->feed, "display", name);
    char e[200];
    int rc = body ? janus_message(jp->jc, jp->pub_handle, body, NULL, REQ_TIMEOUT_MS, NULL, NULL, e,
                                  sizeof e)
                  : LG_ENOMEM;
    json_decref(body);
    if (rc != 0)
        return jp_fail(jp, rc, "join: %s", e);
    want_t w = {"joined", NULL};
    json_t *ev = wait_event(jp, jp->pub_handle, &w, deadline, "join");
    if (!ev)
        return LG_EPERM;
    note_publishers(jp, json_object_get(janus_event_data(ev), "publishers"));
    json_decref(ev);
    return 0;
}

/* Publishes: our offer, Janus's answer (on the long poll), then ICE + DTLS until SRTP is keyed. */
static int publish(jpart_t *jp, int64_t deadline)
{
    static _Thread_local char offer[32768];
    size_t len;
    int rc = peer_build_offer(jp->peer, offer, sizeof offer, &len);
    if (rc != 0)
        return jp_fail(jp, rc, "publish: building the offer: %s", lg_strerror(rc));
    json_t *body = json_pack("{s:s}", "request", "publish");
    json_t *jsep = json_pack("{s:s, s:s}", "type", "offer", "sdp", offer);
    char e[200];
    rc = body && jsep ? janus_message(jp->jc, jp->pub_handle, body, jsep, REQ_TIMEOUT_MS, NULL,
                                      NULL, e, sizeof e)
                      : LG_ENOMEM;
    json_decref(body);
    json_decref(jsep);
    if (rc != 0)
        return jp_fail(jp, rc, "publish: %s", e);
    want_t w = {NULL, "answer"};
    json_t *ev = wait_event(jp, jp->pub_handle, &w, deadline, "publish");
    if (!ev)
        return LG_EPERM;
    const char *answer = janus_event_sdp(ev, "answer");
    rc = peer_set_answer(jp->peer, answer, strlen(answer));
    json_decref(ev);
    if (rc != 0)
        return jp_fail(jp, rc, "publish: %s", peer_last_error(jp->peer));
    trickle_local(jp, jp->pub_handle, false);
    int64_t left = (deadline - bench_now_ns()) / 1000000;
    rc = peer_connect(jp->peer, left > 0 ? (int)left : 0);
    if (rc != 0)
        return jp_fail(jp, rc, "publish: %s", peer_last_error(jp->peer));
    return 0;
}

static jpart_t *jp_new(bench_system_t *sys, const bench_participant_opts_t *o, char *err,
                       size_t errlen)
{
    jpart_t *jp = calloc(1, sizeof *jp);
    if (!jp) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    peer_opts_t po;
    memset(&po, 0, sizeof po);
    po.host = sys->env->host;
    po.port = sys->env->signal_port;
    po.full_ice = true;
    po.sender_id = o->sender_id;
    po.no_audio = !o->pub_audio && o->pub_video;
    po.no_video = !o->pub_video;
    po.audio_payload = o->audio_payload;
    po.opus_tone_hz = o->opus_tone_hz;
    po.video_kbps = o->video_kbps;
    po.video_fps = o->video_fps;
    po.ice_timeout_ms = o->timeout_ms;
    po.dtls_timeout_ms = o->timeout_ms;
    jp->peer = peer_new(&po, err, errlen);
    if (!jp->peer) {
        free(jp);
        return NULL;
    }
    peer_set_sending(jp->peer, false);
    jp->bp.ops = &JANUS_PARTICIPANT;
    jp->bp.impl = jp;
    jp->bp.sys = sys;
    jp->bp.sender_id = peer_sender_id(jp->peer);
    snprintf(jp->bp.name, sizeof jp->bp.name, "%s", o->name);
    jp->room = room_id(o->room);
    jp->feed = jp->bp.sender_id;
    jp->subscribe = o->subscribe;
    return jp;
}

static int js_join(bench_system_t *sys, const bench_participant_opts_t *oin,
                   bench_participant_t **out, char *err, size_t errlen)
{
    bench_participant_opts_t o = *oin;
    bench_opts_defaults(&o);
    if (o.mixed_audio) {
        snprintf(err, errlen, "janus: the VideoRoom plugin does not mix audio");
        return LG_EUNSUPPORTED;
    }
    if (o.transport == BENCH_TRANSPORT_TCP) {
        snprintf(err, errlen, "janus: the bench runs Janus without ICE-TCP");
        return LG_EUNSUPPORTED;
    }
    jpart_t *jp = jp_new(sys, &o, err, errlen);
    if (!jp)
        return LG_ENOMEM;
    int64_t deadline = bench_now_ns() + (int64_t)o.timeout_ms * 1000000;
    jp->bp.join_start_ns = bench_now_ns();
    char e[200];
    int rc = janus_client_open(sys->env->host, sys->env->signal_port, REQ_TIMEOUT_MS, &jp->jc, e,
                               sizeof e);
    if (rc == 0)
        rc = janus_attach(jp->jc, VIDEOROOM, &jp->pub_handle, REQ_TIMEOUT_MS, e, sizeof e);
    if (rc != 0)
        jp_fail(jp, rc, "%s", e);
    if (rc == 0)
        rc = create_room(jp);
    if (rc == 0)
        rc = join_room(jp, o.name, deadline);
    jp->bp.joined_ns = bench_now_ns();
    if (rc == 0 && (o.pub_audio || o.pub_video))
        rc = publish(jp, deadline);
    if (rc == 0 && jp->subscribe && jp->npending)
        rc = request_feeds(jp);
    if (rc != 0) {
        snprintf(err, errlen, "%s", jp->err[0] ? jp->err : lg_strerror(rc));
        jp_free(jp);
        return rc < 0 ? rc : LG_EIO;
    }
    jp->bp.ready_ns = bench_now_ns();
    *out = &jp->bp;
    return 0;
}

const bench_system_ops_t bench_sys_janus = {
    .name = "janus",
    .start = js_start,
    .pid = js_pid,
    .join = js_join,
    .stop = js_stop,
    .encrypted = true,
};
