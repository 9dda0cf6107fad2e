/* Per-worker traffic counters: plain integers written only by their worker thread and copied to the
 * control thread through the message queue (never read across threads in place). */
#ifndef LG_COUNTERS_H
#define LG_COUNTERS_H

#include <stdint.h>

/* X(ENUM, "metric label"): why a received packet was dropped. Add reasons at the end. */
#define LG_DROP_MAP(X)                                                                             \
    X(UNKNOWN_PROTOCOL, "unknown_protocol")                                                        \
    X(UNKNOWN_SOURCE, "unknown_source")                                                            \
    X(STUN_MALFORMED, "stun_malformed")                                                            \
    X(STUN_BAD_FINGERPRINT, "stun_bad_fingerprint")                                                \
    X(STUN_UNKNOWN_USER, "stun_unknown_user")                                                      \
    X(STUN_BAD_INTEGRITY, "stun_bad_integrity")                                                    \
    X(STUN_UNEXPECTED, "stun_unexpected")                                                          \
    X(TRUNCATED, "truncated")                                                                      \
    X(STUN_WRONG_UFRAG, "stun_wrong_ufrag")                                                        \
    X(DTLS_REJECTED, "dtls_rejected")                                                              \
    X(MEDIA_BEFORE_KEYS, "media_before_keys")                                                      \
    X(SRTP_AUTH, "srtp_auth_fail")                                                                 \
    X(SRTP_REPLAY, "srtp_replay")                                                                  \
    X(SRTP_OTHER, "srtp_error")                                                                    \
    X(NO_PATH, "no_path")                                                                          \
    X(TCP_BAD_FRAME, "tcp_bad_frame")                                                              \
    X(TCP_OVERFLOW, "tcp_overflow")                                                                \
    X(TCP_LIMIT, "tcp_limit")                                                                      \
    X(TCP_IDLE, "tcp_idle")                                                                        \
    X(RTP_MALFORMED, "rtp_malformed")                                                              \
    X(UNKNOWN_SSRC, "unknown_ssrc")                                                                \
    X(RTCP_MALFORMED, "rtcp_malformed")

typedef enum {
#define LG_DROP_ENUM(e, label) LG_DROP_##e,
    LG_DROP_MAP(LG_DROP_ENUM)
#undef LG_DROP_ENUM
        LG_DROP_COUNT
} lg_drop_reason_t;

typedef struct {
    uint64_t packets_in;
    uint64_t bytes_in;
    uint64_t packets_out;
    uint64_t bytes_out;
    uint64_t send_errors;
    uint64_t drops[LG_DROP_COUNT];
    uint64_t rtp_in;    /* SRTP packets that authenticated */
    uint64_t rtcp_in;   /* SRTCP packets that authenticated */
    uint64_t forwarded; /* RTP packets sent to subscribers */
    uint64_t forwarded_bytes;
    uint64_t keyframe_requests;   /* PLIs the relay sent to publishers */
    uint64_t nacks_received;      /* sequence numbers subscribers asked for */
    uint64_t retransmitted;       /* packets resent from the retransmission buffers */
    uint64_t nack_unsafe_skipped; /* NACKed packets not resent: no record of the first send, or
                                     the rebuilt packet differs from it (SRTP index reuse) */
    uint64_t duplicate_dropped;   /* packets not forwarded: their outgoing number was sent already
                                     (a publisher's late retransmission) or is too old to tell */
    uint64_t rtx_sent; /* of retransmitted: sent as RTX (subscribers that negotiated it) */
    uint64_t srtp_reuse_refused; /* RTP refused by SRTP: index already protected (should be 0) */
    uint64_t nacks_sent;         /* sequence numbers the relay asked publishers for */
    uint64_t rtx_recovered;      /* publisher retransmissions (RTX) that arrived */
    uint64_t mix_packets_out;    /* mixed-audio packets produced (all mixers of the worker) */
    uint64_t mixers;             /* gauge: rooms with a mixer */
    uint64_t bwe_legs;           /* gauge: subscriber legs with an estimate */
    uint64_t bwe_sum_bps;        /* gauge: sum of their estimates (average = sum / legs) */
    uint64_t bwe_min_bps;        /* gauge: the lowest estimate */
    uint64_t bwe_low_legs;       /* gauge: legs below mix-below-kbps */
    uint64_t mixed_listeners;    /* gauge */
    uint64_t mix_decodes, mix_encodes, mix_concealed, mix_fec_recovered, mix_cpu_ns;
    uint64_t pli_throttled;    /* subscriber PLI/FIR absorbed by the throttle */
    uint64_t layer_switches;   /* subscribers moved to another simulcast layer (at a key frame) */
    uint64_t layer_reranks;    /* simulcast layers put in a new quality order by measured rates */
    uint64_t temporal_dropped; /* packets held back from a subscriber: VP8 TIDs above its choice */
    uint64_t transports_created;
    uint64_t transports_connected;
    uint64_t transports_closed[16]; /* by transport_close_t */
    uint64_t transports_live;       /* gauge */
    uint64_t loop_lag_us_max;       /* worst event-loop lag since the previous snapshot */
    uint64_t loop_lag_us_last;
} lg_counters_t;

/* Metric label for a drop reason ("stun_malformed"). */
static inline const char *lg_drop_label(int reason)
{
    static const char *labels[] = {
#define LG_DROP_LABEL(e, label) label,
        LG_DROP_MAP(LG_DROP_LABEL)
#undef LG_DROP_LABEL
    };
    return reason >= 0 && reason < LG_DROP_COUNT ? labels[reason] : "unknown";
}

static inline void lg_count_drop(lg_counters_t *c, lg_drop_reason_t reason)
{
    c->drops[reason]++;
}

#endif
