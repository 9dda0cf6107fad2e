/* Bandwidth estimation for one subscriber leg from the receiver's feedback, in the spirit of
 * Google Congestion Control (draft-ietf-rmcat-gcc-02, libwebrtc's goog_cc).
 *
 * Inputs: every packet the relay sends on the leg with its transport-wide sequence number
 * (bwe_on_send), the transport-cc feedback the subscriber returns, decoded by rtcp_twcc_parse()
 * (bwe_on_twcc), and REMB (bwe_on_remb) where the browser sends that instead.
 *
 * Delay-based: received packets are grouped by send time (5 ms bursts); the change in one-way
 * delay between consecutive groups feeds a trendline filter (smoothed accumulated delay, least-
 * squares slope over the last BWE_TREND_WINDOW groups). An over-use detector compares the scaled
 * slope with an adaptive threshold; an AIMD controller then raises the rate (8%/s while far from
 * the last congestion point, about one packet per response time near it, never above 1.5x the
 * throughput the feedback acknowledges plus 10 kbps) or cuts it to 0.85x that throughput.
 * Loss-based: over every BWE_LOSS_PACKETS reported packets, loss above 10% caps the rate at
 * estimate * (1 - loss/2) (at most once per 300 ms + RTT), loss below 2% lets the cap grow
 * 8%/s until it no longer binds. The estimate is the minimum of the delay-based rate, the loss
 * cap and the last REMB, within [min_bps, max_bps]. Without any transport-cc feedback the REMB
 * value is the estimate.
 *
 * The "low bandwidth" flag has hysteresis: set when the estimate falls below low_enter_bps,
 * cleared when it rises above low_exit_bps.
 *
 * Raising the rate past 1.5x what is actually sent needs probing (padding or RTX sent and
 * reported through bwe_on_send like any packet); this module only estimates.
 *
 * Times: send_us and now_us are the relay's monotonic clock in microseconds; receive times come
 * from the feedback (the subscriber's clock) and are only ever differenced with each other.
 * Ownership: the caller owns bwe_t (about 33 KB, mostly the send history); no allocation.
 * Threading: one thread per instance. Errors: 0 or LG_EINVAL (sfu/lg_error.h). */
#ifndef LG_MEDIA_BWE_H
#define LG_MEDIA_BWE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/rtcp.h"

#define BWE_HISTORY      2048 /* send records kept, by transport-wide seq (a power of two) */
#define BWE_TREND_WINDOW 20   /* packet groups in the trendline regression */
#define BWE_LOSS_PACKETS 20   /* reported packets per loss evaluation */

typedef struct bwe_config {
    uint64_t start_bps;     /* default 300 kbps */
    uint64_t min_bps;       /* default 30 kbps */
    uint64_t max_bps;       /* default 20 Mbps */
    uint64_t low_enter_bps; /* default 150 kbps */
    uint64_t low_exit_bps;  /* default 250 kbps; raised to low_enter_bps if below it */
} bwe_config_t;

typedef enum bwe_usage {
    BWE_NORMAL = 0,
    BWE_OVERUSE,  /* queues are building: delay grows */
    BWE_UNDERUSE, /* queues are draining */
} bwe_usage_t;

typedef struct bwe_send_rec {
    uint16_t seq;
    uint16_t size;
    uint8_t state; /* internal: free, sent, reported lost, reported received */
    uint64_t send_us;
} bwe_send_rec_t;

/* A group of packets sent within 5 ms of each other. */
typedef struct bwe_group {
    bool valid;
    uint64_t first_send_us, last_send_us;
    int64_t first_recv_us, last_recv_us;
} bwe_group_t;

typedef struct bwe {
    bwe_config_t cfg;
    uint32_t rtt_ms;
    /* feedback clock: reference time unwrapped from its 24-bit field */
    bool have_ref;
    uint32_t last_ref;
    int64_t ref_units;
    /* packet groups */
    bwe_group_t cur, prev;
    /* trendline */
    uint32_t num_deltas;
    double acc_delay_ms, smoothed_ms, prev_trend;
    bool have_first_arrival;
    int64_t first_arrival_us;
    double trend_x[BWE_TREND_WINDOW], trend_y[BWE_TREND_WINDOW];
    uint32_t trend_n, trend_head;
    /* over-use detector */
    double threshold_ms, time_over_ms;
    uint32_t overuse_count;
    bool have_threshold_time;
    int64_t threshold_time_us;
    bwe_usage_t usage;
    /* AIMD rate control */
    double delay_bps, capacity_bps; /* capacity 0: unknown */
    uint64_t last_update_us, last_decrease_us;
    /* throughput acknowledged by feedback */
    bool ack_started;
    int64_t ack_start_us;
    uint64_t ack_bytes;
    double acked_bps; /* 0: not measured yet */
    /* loss */
    uint32_t loss_lost, loss_total;
    double loss_bps; /* 0: no loss cap */
    uint64_t last_loss_us, last_loss_decrease_us;
    /* REMB and the result */
    uint64_t remb_bps; /* 0: none */
    bool have_twcc;
    uint64_t estimate_bps;
    bool low;
    bwe_send_rec_t hist[BWE_HISTORY]; /* indexed by seq mod BWE_HISTORY */
} bwe_t;

/* Fills cfg with the defaults above. */
void bwe_default_config(bwe_config_t *cfg);

/* Prepares b; cfg NULL means defaults (zero fields of cfg also take the default). Returns 0 or
 * LG_EINVAL (NULL b, min > max). */
int bwe_init(bwe_t *b, const bwe_config_t *cfg);

/* Records a packet sent on the leg: its transport-wide seq, send time and size on the wire. */
void bwe_on_send(bwe_t *b, uint16_t twcc_seq, uint64_t send_us, size_t size);

/* Processes one transport-cc feedback: hdr and st[0..n) as rtcp_twcc_parse() wrote them (st[i] is
 * base_seq + i). Statuses of seqs the history no longer holds are ignored. Returns 0 or
 * LG_EINVAL. */
int bwe_on_twcc(bwe_t *b, const rtcp_twcc_t *hdr, const rtcp_twcc_status_t *st, size_t n,
                uint64_t now_us);

/* Processes a REMB value (bits per second; 0 clears it). */
void bwe_on_remb(bwe_t *b, uint64_t bps, uint64_t now_us);

/* Sets the leg's round-trip time (from RTCP), which paces decreases and additive increase. */
void bwe_set_rtt(bwe_t *b, uint32_t rtt_ms);

/* The current estimate in bits per second. */
uint64_t bwe_estimate(const bwe_t *b);

/* The low-bandwidth flag. */
bool bwe_low(const bwe_t *b);

/* The over-use detector's latest verdict. */
bwe_usage_t bwe_usage(const bwe_t *b);

#endif
