/* Prometheus text format: one HELP/TYPE block per metric family, one sample per worker/label. */
#include "sfu/metrics.h"
#include "sfu/transport.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    char *buf;
    size_t cap;
    size_t len;
    int overflow;
} out_t;

static void put(out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out_t *o, const char *fmt, ...)
{
    if (o->overflow)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf + o->len, o->cap - o->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= o->cap - o->len)
        o->overflow = 1;
    else
        o->len += (size_t)n;
}

static void family(out_t *o, const char *name, const char *type, const char *help)
{
    put(o, "# HELP legation_%s %s\n# TYPE legation_%s %s\n", name, help, name, type);
}

typedef struct {
    const char *name;
    const char *help;
    size_t offset; /* of a uint64_t in lg_counters_t */
} counter_family_t;

static const counter_family_t COUNTERS[] = {
    {"packets_received_total", "UDP datagrams received by the worker",
     offsetof(lg_counters_t, packets_in)},
    {"bytes_received_total", "UDP payload bytes received by the worker",
     offsetof(lg_counters_t, bytes_in)},
    {"packets_sent_total", "UDP datagrams sent by the worker",
     offsetof(lg_counters_t, packets_out)},
    {"bytes_sent_total", "UDP payload bytes sent by the worker",
     offsetof(lg_counters_t, bytes_out)},
    {"send_errors_total", "datagrams the kernel refused to send",
     offsetof(lg_counters_t, send_errors)},
    {"srtp_packets_received_total", "SRTP packets that authenticated and decrypted",
     offsetof(lg_counters_t, rtp_in)},
    {"srtcp_packets_received_total", "SRTCP packets that authenticated and decrypted",
     offsetof(lg_counters_t, rtcp_in)},
    {"transports_created_total", "media transports created",
     offsetof(lg_counters_t, transports_created)},
    {"transports_connected_total", "media transports whose DTLS handshake completed",
     offsetof(lg_counters_t, transports_connected)},
    {"transports", "media transports alive now", offsetof(lg_counters_t, transports_live)},
    {"forwarded_packets_total", "RTP packets sent to subscribers",
     offsetof(lg_counters_t, forwarded)},
    {"forwarded_bytes_total", "SRTP bytes sent to subscribers",
     offsetof(lg_counters_t, forwarded_bytes)},
    {"keyframe_requests_total", "PLIs sent to publishers",
     offsetof(lg_counters_t, keyframe_requests)},
    {"pli_throttled_total", "keyframe requests absorbed by the throttle",
     offsetof(lg_counters_t, pli_throttled)},
    {"layer_switches_total", "subscribers moved to another simulcast layer at a key frame",
     offsetof(lg_counters_t, layer_switches)},
    {"layer_reranks_total", "simulcast layers re-ranked by their measured bitrates",
     offsetof(lg_counters_t, layer_reranks)},
    {"temporal_dropped_total", "packets held back from subscribers above their VP8 temporal layer",
     offsetof(lg_counters_t, temporal_dropped)},
    {"nacks_received_total", "sequence numbers subscribers NACKed",
     offsetof(lg_counters_t, nacks_received)},
    {"retransmitted_total", "packets resent from retransmission buffers",
     offsetof(lg_counters_t, retransmitted)},
    {"nack_unsafe_skipped_total",
     "NACKed packets not resent: unknown or no longer byte-identical to the first send",
     offsetof(lg_counters_t, nack_unsafe_skipped)},
    {"duplicate_dropped_total", "packets not forwarded: outgoing sequence number already used",
     offsetof(lg_counters_t, duplicate_dropped)},
    {"rtx_sent_total", "retransmissions sent as RTX (RFC 4588) on their own SSRC",
     offsetof(lg_counters_t, rtx_sent)},
    {"srtp_reuse_refused_total", "RTP packets SRTP refused to protect under a used index",
     offsetof(lg_counters_t, srtp_reuse_refused)},
    {"nacks_sent_total", "sequence numbers the relay NACKed to publishers",
     offsetof(lg_counters_t, nacks_sent)},
    {"rtx_recovered_total", "publisher RTX packets restored",
     offsetof(lg_counters_t, rtx_recovered)},
    {"bandwidth_estimate_legs", "subscriber legs with a bandwidth estimate",
     offsetof(lg_counters_t, bwe_legs)},
    {"bandwidth_estimate_sum_bps", "sum of subscriber estimates (divide by the legs)",
     offsetof(lg_counters_t, bwe_sum_bps)},
    {"bandwidth_estimate_min_bps", "lowest subscriber estimate",
     offsetof(lg_counters_t, bwe_min_bps)},
    {"low_bandwidth_legs", "subscriber legs below mix-below-kbps",
     offsetof(lg_counters_t, bwe_low_legs)},
    {"mixers", "rooms with an audio mixer running", offsetof(lg_counters_t, mixers)},
    {"mixed_listeners", "participants receiving mixed audio",
     offsetof(lg_counters_t, mixed_listeners)},
    {"mix_decodes_total", "Opus decodes by the mixers", offsetof(lg_counters_t, mix_decodes)},
    {"mix_encodes_total", "Opus encodes by the mixers", offsetof(lg_counters_t, mix_encodes)},
    {"mix_concealed_total", "frames concealed (PLC) by the mixers",
     offsetof(lg_counters_t, mix_concealed)},
    {"mix_fec_recovered_total", "frames recovered from in-band FEC",
     offsetof(lg_counters_t, mix_fec_recovered)},
    {"mix_packets_total", "mixed-audio packets sent", offsetof(lg_counters_t, mix_packets_out)},
    {"mixer_cpu_nanoseconds_total", "CPU time spent mixing", offsetof(lg_counters_t, mix_cpu_ns)},
};

static uint64_t field(const lg_counters_t *c, size_t off)
{
    return *(const uint64_t *)((const char *)c + off);
}

long lg_metrics_render(const lg_metrics_view_t *v, char *buf, size_t cap)
{
    out_t o = {buf, cap, 0, cap == 0};
    family(&o, "build_info", "gauge", "version of the running relay");
    put(&o, "legation_build_info{version=\"%s\"} 1\n", LG_VERSION);
    family(&o, "workers", "gauge", "media worker threads");
    put(&o, "legation_workers %d\n", v->nworkers);
    for (size_t f = 0; f < sizeof COUNTERS / sizeof COUNTERS[0]; f++) {
        family(&o, COUNTERS[f].name, strstr(COUNTERS[f].name, "_total") ? "counter" : "gauge",
               COUNTERS[f].help);
        for (int w = 0; w < v->nworkers; w++)
            put(&o, "legation_%s{worker=\"%d\"} %" PRIu64 "\n", COUNTERS[f].name, w,
                field(&v->workers[w], COUNTERS[f].offset));
    }
    family(&o, "packets_dropped_total", "counter", "received packets dropped, by reason");
    for (int w = 0; w < v->nworkers; w++)
        for (int d = 0; d < LG_DROP_COUNT; d++)
            put(&o, "legation_packets_dropped_total{worker=\"%d\",reason=\"%s\"} %" PRIu64 "\n", w,
                lg_drop_label(d), v->workers[w].drops[d]);
    family(&o, "transports_closed_total", "counter", "media transports closed, by reason");
    for (int w = 0; w < v->nworkers; w++)
        for (int r = 1; r < TRANSPORT_CLOSE_COUNT; r++)
            put(&o, "legation_transports_closed_total{worker=\"%d\",reason=\"%s\"} %" PRIu64 "\n",
                w, transport_close_label((transport_close_t)r), v->workers[w].transports_closed[r]);
    family(&o, "event_loop_lag_seconds", "gauge",
           "worst lateness of a 100 ms timer since the previous refresh");
    put(&o, "legation_event_loop_lag_seconds{thread=\"control\"} %.6f\n",
        (double)v->control_lag_us_max / 1e6);
    for (int w = 0; w < v->nworkers; w++)
        put(&o, "legation_event_loop_lag_seconds{thread=\"worker-%d\"} %.6f\n", w,
            (double)v->workers[w].loop_lag_us_max / 1e6);
    family(&o, "rooms", "gauge", "open rooms");
    put(&o, "legation_rooms %d\n", v->rooms);
    family(&o, "participants", "gauge", "participants in rooms, lobby included");
    put(&o, "legation_participants %d\n", v->participants);
    family(&o, "signaling_sessions", "gauge", "open signaling WebSockets");
    put(&o, "legation_signaling_sessions %d\n", v->sessions);
    if (v->signaling) {
        const signaling_stats_t *s = v->signaling;
        family(&o, "joins_total", "counter", "successful joins (lobby included)");
        put(&o, "legation_joins_total %" PRIu64 "\n", s->joins);
        family(&o, "joins_refused_total", "counter", "joins refused: token, lock, capacity, kick");
        put(&o, "legation_joins_refused_total %" PRIu64 "\n", s->join_refused);
        family(&o, "signaling_errors_total", "counter",
               "error replies to bad or forbidden messages");
        put(&o, "legation_signaling_errors_total %" PRIu64 "\n", s->protocol_errors);
        family(&o, "signaling_abusive_closes_total", "counter",
               "connections closed after repeated violations");
        put(&o, "legation_signaling_abusive_closes_total %" PRIu64 "\n",
            s->sessions_closed_for_abuse);
        family(&o, "e2ee_automix_skipped_total", "counter",
               "low-bandwidth reports that did not switch an E2EE room's participant to mixed "
               "audio");
        put(&o, "legation_e2ee_automix_skipped_total %" PRIu64 "\n", s->e2ee_automix_skipped);
    }
    if (o.overflow)
        return -1;
    return (long)o.len;
}
