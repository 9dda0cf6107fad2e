/* What the bench measures and how: a server's CPU time and memory from /proc, latency
 * percentiles over many participants' samples, and the receive-side counting (per-sender
 * sequences, latency reservoir) that clients without peer.h (raw, Janus) share. */
#ifndef LG_BENCH_MEASURE_H
#define LG_BENCH_MEASURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "bench/system.h"

/* --- /proc --------------------------------------------------------------------------------------
 */

/* utime + stime of every thread of pid, in seconds (/proc/PID/stat, clock ticks). Returns 0 or
 * LG_ENOTFOUND (the process is gone) / LG_EMALFORMED. */
int measure_proc_cpu(pid_t pid, double *seconds);

/* VmRSS of pid in KiB (/proc/PID/status). Returns 0 or LG_ENOTFOUND / LG_EMALFORMED. */
int measure_proc_rss_kb(pid_t pid, uint64_t *kb);

/* CPU seconds (user + system) this process used so far. */
double measure_self_cpu(void);

/* Seconds every thread of pid spent running and waiting on a run queue while runnable (the sum
 * of /proc/PID/task/TID/schedstat): waiting is CPU the process wanted and did not get. Returns 0
 * or LG_ENOTFOUND. */
int measure_proc_sched(pid_t pid, double *run_s, double *wait_s);

/* Datagrams the kernel dropped (receive buffer full) on unconnected UDP sockets bound to a port
 * in [lo, hi] (the server's) and on sockets connected to one (the participants'), IPv4 and IPv6,
 * in this network namespace. */
void measure_udp_drops(uint16_t lo, uint16_t hi, uint64_t *server, uint64_t *clients);

/* --- latency percentiles -----------------------------------------------------------------------
 */

/* A weighted histogram of microsecond latencies: 1 us buckets up to 10 ms, 100 us up to 1 s,
 * one bucket beyond. Not thread-safe; one per measurement. */
typedef struct {
    double *w; /* LAT_BUCKETS weights */
    double total;
    uint32_t max_us;
    uint64_t samples;
} lat_hist_t;

int lat_hist_init(lat_hist_t *h); /* 0 or LG_ENOMEM */
void lat_hist_free(lat_hist_t *h);

/* Adds n samples, each standing for weight packets (measured / kept of a reservoir). */
void lat_hist_add(lat_hist_t *h, const uint32_t *us, size_t n, double weight);

/* The pct-th percentile (0 < pct <= 100) in microseconds, the bucket's upper bound; 0 if empty. */
uint32_t lat_hist_percentile(const lat_hist_t *h, double pct);

/* --- receive-side counting (clients without peer.h) ---------------------------------------------
 */

typedef struct bench_rx bench_rx_t;

/* A tracker of up to 256 (sender, stream) pairs and a 16384-sample latency reservoir. NULL when
 * out of memory. */
bench_rx_t *bench_rx_new(void);
void bench_rx_free(bench_rx_t *rx);

/* Counts one received RTP payload: reads its trailer (a payload without one counts as foreign),
 * the per-stream sequence (gap / late) and the latency to now_ns (CLOCK_MONOTONIC). */
void bench_rx_payload(bench_rx_t *rx, const uint8_t *payload, size_t len, int64_t now_ns);

/* Packets and payload-with-trailer seen, and those without a trailer. */
void bench_rx_totals(const bench_rx_t *rx, uint64_t *packets, uint64_t *gaps, uint64_t *late,
                     uint64_t *foreign);

/* The bench_participant_ops_t streams / latency / reset_latency of a tracker. */
int bench_rx_streams(const bench_rx_t *rx, bench_rx_stream_t *out, int cap);
size_t bench_rx_latency(const bench_rx_t *rx, uint32_t *out, size_t cap, uint64_t *measured);
void bench_rx_reset_latency(bench_rx_t *rx);

#endif
