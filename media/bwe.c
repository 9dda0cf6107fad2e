/* Delay- and loss-based bandwidth estimation from transport-cc feedback and REMB (GCC-style). */
#include "media/bwe.h"

#include <math.h>
#include <string.h>

#include "sfu/lg_error.h"

enum { REC_FREE = 0, REC_SENT, REC_LOST, REC_RECEIVED };

#define GROUP_US         5000   /* packets sent within 5 ms form one group */
#define BURST_MAX_US     100000 /* a burst never spans more than this */
#define SMOOTHING        0.9    /* trendline: weight of the previous smoothed delay */
#define THRESHOLD_GAIN   4.0    /* trendline slope scale */
#define MIN_NUM_DELTAS   60
#define OVERUSE_TIME_MS  10.0
#define THRESHOLD_INIT   12.5
#define THRESHOLD_MIN    6.0
#define THRESHOLD_MAX    600.0
#define K_UP             0.0087
#define K_DOWN           0.039
#define MAX_ADAPT_OFFSET 15.0
#define BETA             0.85 /* multiplicative decrease */
#define INCREASE_PER_S   1.08 /* multiplicative increase */
#define ACK_WINDOW_US    250000
#define ACK_FIRST_US     500000
#define LOSS_HIGH        0.10
#define LOSS_LOW         0.02
#define LOSS_DECREASE_US 300000
#define PACKET_BITS      (1200.0 * 8)
#define REF_UNIT_US      (RTCP_TWCC_REF_TICK_MS * 1000)

void bwe_default_config(bwe_config_t *cfg)
{
    cfg->start_bps = 300000;
    cfg->min_bps = 30000;
    cfg->max_bps = 20000000;
    cfg->low_enter_bps = 150000;
    cfg->low_exit_bps = 250000;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* Recomputes the estimate from its parts and updates the low flag. */
static void finish(bwe_t *b)
{
    double est = b->have_twcc ? b->delay_bps : (double)b->cfg.start_bps;
    if (b->have_twcc && b->loss_bps > 0 && b->loss_bps < est)
        est = b->loss_bps;
    if (b->remb_bps > 0 && (!b->have_twcc || (double)b->remb_bps < est))
        est = (double)b->remb_bps;
    est = clampd(est, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
    b->estimate_bps = (uint64_t)est;
    if (!b->low && b->estimate_bps < b->cfg.low_enter_bps)
        b->low = true;
    else if (b->low && b->estimate_bps > b->cfg.low_exit_bps)
        b->low = false;
}

int bwe_init(bwe_t *b, const bwe_config_t *cfg)
{
    if (!b)
        return LG_EINVAL;
    memset(b, 0, sizeof *b);
    bwe_default_config(&b->cfg);
    if (cfg) {
        if (cfg->start_bps)
            b->cfg.start_bps = cfg->start_bps;
        if (cfg->min_bps)
            b->cfg.min_bps = cfg->min_bps;
        if (cfg->max_bps)
            b->cfg.max_bps = cfg->max_bps;
        if (cfg->low_enter_bps)
            b->cfg.low_enter_bps = cfg->low_enter_bps;
        if (cfg->low_exit_bps)
            b->cfg.low_exit_bps = cfg->low_exit_bps;
    }
    if (b->cfg.min_bps > b->cfg.max_bps)
        return LG_EINVAL;
    if (b->cfg.low_exit_bps < b->cfg.low_enter_bps)
        b->cfg.low_exit_bps = b->cfg.low_enter_bps;
    b->rtt_ms = 100;
    b->threshold_ms = THRESHOLD_INIT;
    b->time_over_ms = -1;
    b->delay_bps = (double)b->cfg.start_bps;
    finish(b);
    return 0;
}

void bwe_on_send(bwe_t *b, uint16_t twcc_seq, uint64_t send_us, size_t size)
{
    if (!b)
        return;
    bwe_send_rec_t *r = &b->hist[twcc_seq & (BWE_HISTORY - 1)];
    r->seq = twcc_seq;
    r->size = size > UINT16_MAX ? UINT16_MAX : (uint16_t)size;
    r->state = REC_SENT;
    r->send_us = send_us;
}

void bwe_set_rtt(bwe_t *b, uint32_t rtt_ms)
{
    if (b)
        b->rtt_ms = rtt_ms;
}

uint64_t bwe_estimate(const bwe_t *b)
{
    return b ? b->estimate_bps : 0;
}

bool bwe_low(const bwe_t *b)
{
    return b && b->low;
}

bwe_usage_t bwe_usage(const bwe_t *b)
{
    return b ? b->usage : BWE_NORMAL;
}

void bwe_on_remb(bwe_t *b, uint64_t bps, uint64_t now_us)
{
    if (!b)
        return;
    b->remb_bps = bps;
    finish(b);
}

/* --- the over-use detector (libwebrtc TrendlineEstimator::Detect/UpdateThreshold) --- */

static void update_threshold(bwe_t *b, double modified_trend, int64_t now_us)
{
    if (!b->have_threshold_time) {
        b->have_threshold_time = true;
        b->threshold_time_us = now_us;
    }
    double abs_trend = fabs(modified_trend);
    if (abs_trend > b->threshold_ms + MAX_ADAPT_OFFSET) { /* a spike: do not adapt to it */
        b->threshold_time_us = now_us;
        return;
    }
    double k = abs_trend < b->threshold_ms ? K_DOWN : K_UP;
    double dt_ms = clampd((double)(now_us - b->threshold_time_us) / 1000.0, 0, 100);
    b->threshold_ms += k * (abs_trend - b->threshold_ms) * dt_ms;
    b->threshold_ms = clampd(b->threshold_ms, THRESHOLD_MIN, THRESHOLD_MAX);
    b->threshold_time_us = now_us;
}

static bwe_usage_t detect(bwe_t *b, double trend, double send_delta_ms, int64_t arrival_us)
{
    if (b->num_deltas < 2)
        return BWE_NORMAL;
    double n = b->num_deltas < MIN_NUM_DELTAS ? b->num_deltas : MIN_NUM_DELTAS;
    double modified = n * trend * THRESHOLD_GAIN;
    bwe_usage_t usage = b->usage;
    if (modified > b->threshold_ms) {
        if (b->time_over_ms < 0)
            b->time_over_ms = send_delta_ms / 2;
        else
            b->time_over_ms += send_delta_ms;
        b->overuse_count++;
        if (b->time_over_ms > OVERUSE_TIME_MS && b->overuse_count > 1 && trend >= b->prev_trend) {
            b->time_over_ms = 0;
            b->overuse_count = 0;
            usage = BWE_OVERUSE;
        }
    } else if (modified < -b->threshold_ms) {
        b->time_over_ms = -1;
        b->overuse_count = 0;
        usage = BWE_UNDERUSE;
    } else {
        b->time_over_ms = -1;
        b->overuse_count = 0;
        usage = BWE_NORMAL;
    }
    update_threshold(b, modified, arrival_us);
    return usage;
}

/* Least-squares slope of the smoothed delay over arrival time. */
static double trend_slope(const bwe_t *b, double fallback)
{
    double sx = 0, sy = 0;
    for (uint32_t i = 0; i < b->trend_n; i++) {
        sx += b->trend_x[i];
        sy += b->trend_y[i];
    }
    double mx = sx / b->trend_n, my = sy / b->trend_n, num = 0, den = 0;
    for (uint32_t i = 0; i < b->trend_n; i++) {
        num += (b->trend_x[i] - mx) * (b->trend_y[i] - my);
        den += (b->trend_x[i] - mx) * (b->trend_x[i] - mx);
    }
    return den == 0 ? fallback : num / den;
}

/* One delay variation between consecutive groups into the trendline and the detector. */
static bwe_usage_t trendline(bwe_t *b, double delta_ms, double send_delta_ms, int64_t arrival_us)
{
    if (b->num_deltas < 1000)
        b->num_deltas++;
    b->acc_delay_ms += delta_ms;
    b->smoothed_ms = SMOOTHING * b->smoothed_ms + (1 - SMOOTHING) * b->acc_delay_ms;
    if (!b->have_first_arrival) {
        b->have_first_arrival = true;
        b->first_arrival_us = arrival_us;
    }
    uint32_t slot = (b->trend_head + b->trend_n) % BWE_TREND_WINDOW;
    if (b->trend_n == BWE_TREND_WINDOW) {
        slot = b->trend_head;
        b->trend_head = (b->trend_head + 1) % BWE_TREND_WINDOW;
    } else {
        b->trend_n++;
    }
    b->trend_x[slot] = (double)(arrival_us - b->first_arrival_us) / 1000.0;
    b->trend_y[slot] = b->smoothed_ms;
    double trend = b->prev_trend;
    if (b->trend_n == BWE_TREND_WINDOW)
        trend = trend_slope(b, trend);
    bwe_usage_t usage = detect(b, trend, send_delta_ms, arrival_us);
    b->prev_trend = trend;
    b->usage = usage;
    return usage;
}

/* --- packet groups (libwebrtc InterArrival) --- */

static bool in_burst(const bwe_group_t *g, uint64_t send_us, int64_t recv_us)
{
    int64_t recv_delta = recv_us - g->last_recv_us;
    int64_t send_delta = (int64_t)(send_us - g->last_send_us);
    if (send_delta == 0)
        return true;
    return recv_delta - send_delta < 0 && recv_delta <= GROUP_US &&
           recv_us - g->first_recv_us < BURST_MAX_US;
}

static void group_start(bwe_group_t *g, uint64_t send_us, int64_t recv_us)
{
    g->valid = true;
    g->first_send_us = g->last_send_us = send_us;
    g->first_recv_us = g->last_recv_us = recv_us;
}

/* One received packet; returns the detector's verdict when it completed a group. */
static bwe_usage_t on_arrival(bwe_t *b, uint64_t send_us, int64_t recv_us)
{
    bwe_group_t *cur = &b->cur;
    bwe_usage_t usage = b->usage;
    if (!cur->valid) {
        group_start(cur, send_us, recv_us);
        return usage;
    }
    if (send_us < cur->first_send_us) /* sent before this group: out of order, skip */
        return usage;
    if (send_us - cur->first_send_us <= GROUP_US || in_burst(cur, send_us, recv_us)) {
        if (send_us > cur->last_send_us)
            cur->last_send_us = send_us;
        if (recv_us > cur->last_recv_us)
            cur->last_recv_us = recv_us;
        return usage;
    }
    if (b->prev.valid) {
        int64_t recv_delta = cur->last_recv_us - b->prev.last_recv_us;
        double send_delta_ms = (double)(cur->last_send_us - b->prev.last_send_us) / 1000.0;
        if (recv_delta >= 0) /* a reordered group gives no usable delta */
            usage = trendline(b, (double)recv_delta / 1000.0 - send_delta_ms, send_delta_ms,
                              cur->last_recv_us);
    }
    b->prev = *cur;
    group_start(cur, send_us, recv_us);
    return usage;
}

/* --- throughput, rate control, loss --- */

static void on_acked(bwe_t *b, int64_t recv_us, uint16_t size)
{
    if (!b->ack_started) {
        b->ack_started = true;
        b->ack_start_us = recv_us;
        b->ack_bytes = 0;
    }
    b->ack_bytes += size;
    int64_t span = recv_us - b->ack_start_us;
    if (span < (b->acked_bps > 0 ? ACK_WINDOW_US : ACK_FIRST_US))
        return;
    double rate = (double)b->ack_bytes * 8e6 / (double)span;
    b->acked_bps = b->acked_bps > 0 ? 0.6 * b->acked_bps + 0.4 * rate : rate;
    b->ack_start_us = recv_us;
    b->ack_bytes = 0;
}

static void decrease(bwe_t *b, uint64_t now_us)
{
    double interval = clampd(b->rtt_ms, 10, 200) * 1000.0;
    if (b->last_decrease_us && (double)(now_us - b->last_decrease_us) < interval)
        return;
    double base = b->acked_bps > 0 ? b->acked_bps : b->delay_bps;
    double rate = BETA * base;
    if (rate < b->delay_bps)
        b->delay_bps = rate;
    if (b->acked_bps > 0)
        b->capacity_bps =
            b->capacity_bps > 0 ? 0.95 * b->capacity_bps + 0.05 * b->acked_bps : b->acked_bps;
    b->last_decrease_us = now_us;
}

static void increase(bwe_t *b, double dt_s)
{
    if (b->capacity_bps > 0 && b->acked_bps > 1.3 * b->capacity_bps)
        b->capacity_bps = 0; /* the path got faster: search multiplicatively again */
    double rate = b->delay_bps;
    if (b->capacity_bps > 0) {
        double response_s = (b->rtt_ms + 100) / 1000.0;
        double per_s = PACKET_BITS / response_s;
        rate += (per_s > 4000 ? per_s : 4000) * dt_s;
    } else {
        double grown = rate * pow(INCREASE_PER_S, dt_s);
        rate = grown > rate + 1000 * dt_s ? grown : rate + 1000 * dt_s;
    }
    if (b->acked_bps > 0) {
        double limit = 1.5 * b->acked_bps + 10000;
        if (rate > limit)
            rate = b->delay_bps > limit ? b->delay_bps : limit;
    }
    b->delay_bps = rate;
}

static void rate_control(bwe_t *b, bwe_usage_t usage, uint64_t now_us)
{
    double dt_s = b->last_update_us ? (double)(now_us - b->last_update_us) / 1e6 : 0;
    dt_s = clampd(dt_s, 0, 1);
    if (usage == BWE_OVERUSE)
        decrease(b, now_us);
    else if (usage == BWE_NORMAL)
        increase(b, dt_s);
    b->delay_bps = clampd(b->delay_bps, (double)b->cfg.min_bps, (double)b->cfg.max_bps);
    b->last_update_us = now_us;
}

static void loss_control(bwe_t *b, uint32_t lost, uint32_t total, uint64_t now_us)
{
    b->loss_lost += lost;
    b->loss_total += total;
    if (b->loss_total < BWE_LOSS_PACKETS)
        return;
    double p = (double)b->loss_lost / b->loss_total;
    double dt_s = b->last_loss_us ? clampd((double)(now_us - b->last_loss_us) / 1e6, 0, 1) : 0;
    uint64_t gap = LOSS_DECREASE_US + (uint64_t)b->rtt_ms * 1000;
    if (p > LOSS_HIGH) {
        if (!b->last_loss_decrease_us || now_us - b->last_loss_decrease_us >= gap) {
            b->loss_bps = (double)b->estimate_bps * (1 - 0.5 * p);
            b->last_loss_decrease_us = now_us;
        }
    } else if (p < LOSS_LOW && b->loss_bps > 0) {
        b->loss_bps = b->loss_bps * pow(INCREASE_PER_S, dt_s) + 1000 * dt_s;
        if (b->loss_bps >= b->delay_bps)
            b->loss_bps = 0; /* no longer binding */
    }
    b->loss_lost = b->loss_total = 0;
    b->last_loss_us = now_us;
}

/* --- feedback --- */

/* The feedback's reference time in microseconds, unwrapped from its 24-bit field. */
static int64_t feedback_base_us(bwe_t *b, int32_t ref_time)
{
    uint32_t raw = (uint32_t)ref_time & 0xffffff;
    if (!b->have_ref) {
        b->have_ref = true;
        b->ref_units = raw;
    } else {
        int32_t d = (int32_t)((raw - b->last_ref) & 0xffffff);
        if (d >= 0x800000)
            d -= 0x1000000;
        b->ref_units += d;
    }
    b->last_ref = raw;
    return b->ref_units * REF_UNIT_US;
}

int bwe_on_twcc(bwe_t *b, const rtcp_twcc_t *hdr, const rtcp_twcc_status_t *st, size_t n,
                uint64_t now_us)
{
    if (!b || !hdr || (!st && n))
        return LG_EINVAL;
    int64_t recv_us = feedback_base_us(b, hdr->ref_time);
    uint32_t lost = 0, total = 0;
    bool overuse = false;
    for (size_t i = 0; i < n; i++) {
        uint16_t seq = (uint16_t)(hdr->base_seq + i);
        bwe_send_rec_t *r = &b->hist[seq & (BWE_HISTORY - 1)];
        bool known = r->state != REC_FREE && r->seq == seq;
        if (st[i].symbol == RTCP_TWCC_NOT_RECEIVED) {
            if (known && r->state == REC_SENT) {
                r->state = REC_LOST;
                lost++;
                total++;
            }
            continue;
        }
        recv_us += (int64_t)st[i].delta * RTCP_TWCC_TICK_US;
        if (!known || r->state == REC_RECEIVED)
            continue;
        if (r->state == REC_SENT)
            total++;
        r->state = REC_RECEIVED;
        on_acked(b, recv_us, r->size);
        if (on_arrival(b, r->send_us, recv_us) == BWE_OVERUSE)
            overuse = true;
    }
    if (total == 0)
        return 0;
    b->have_twcc = true;
    loss_control(b, lost, total, now_us);
    rate_control(b, overuse ? BWE_OVERUSE : b->usage, now_us);
    finish(b);
    return 0;
}
