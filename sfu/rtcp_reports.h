/* The relay's own RTCP on every leg (RTCP is terminated per leg, never forwarded): receiver
 * statistics per published stream (RFC 3550 A.1, A.3, A.8) reported to publishers in RR blocks,
 * and a sender report per forwarded stream to subscribers. Worker thread only. */
#ifndef LG_RTCP_REPORTS_H
#define LG_RTCP_REPORTS_H

#include <stdbool.h>
#include <stdint.h>

#include "media/rtcp.h"

#define RTCP_REPORT_INTERVAL_MS 1000

/* Reception statistics of one incoming SSRC. */
typedef struct {
    bool init;
    uint16_t max_seq;
    uint32_t cycles; /* sequence wraps << 16 */
    uint32_t base_seq;
    uint64_t received;
    uint64_t expected_prior, received_prior;
    int64_t last_transit; /* arrival - timestamp, in clock units */
    double jitter;        /* clock units, RFC 3550 A.8 */
    uint32_t lsr;         /* middle 32 bits of the last SR's NTP time */
    uint64_t lsr_ms;      /* when it arrived (loop time) */
} rx_stats_t;

/* Counts one packet: seq/timestamp from the RTP header, arrival in microseconds, clock in Hz. */
void rx_stats_update(rx_stats_t *s, uint16_t seq, uint32_t rtp_ts, uint32_t clock,
                     uint64_t arrival_us);

/* Remembers a sender report's NTP time (for LSR/DLSR). */
void rx_stats_on_sr(rx_stats_t *s, uint64_t ntp, uint64_t now_ms);

/* Fills a report block for the interval since the previous call. */
void rx_stats_block(rx_stats_t *s, uint32_t ssrc, uint64_t now_ms, rtcp_report_block_t *rb);

/* The current time as a 32.32 NTP timestamp. */
uint64_t rtcp_ntp_now(void);

struct lg_worker;

/* Sends one compound per connected transport: SR + SDES for what the relay sends on it, RR for
 * what it receives. Called every RTCP_REPORT_INTERVAL_MS. */
void rtcp_reports_send(struct lg_worker *w, uint64_t now_ms);

#endif
