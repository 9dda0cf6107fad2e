/* The bench's measurements: /proc readers, a weighted latency histogram, receive-side counting. */
#include "bench/measure.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "sfu/lg_error.h"

/* --- /proc --------------------------------------------------------------------------------------
 */

static int read_file(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return LG_ENOTFOUND;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return n ? 0 : LG_EMALFORMED;
}

int measure_proc_cpu(pid_t pid, double *seconds)
{
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    int rc = read_file(path, buf, sizeof buf);
    if (rc != 0)
        return rc;
    /* the command name may hold spaces and parentheses: fields resume after the last ')' */
    char *p = strrchr(buf, ')');
    if (!p)
        return LG_EMALFORMED;
    unsigned long long utime = 0, stime = 0;
    /* after ')': state(3) ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime(14) stime(15) */
    if (sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &utime, &stime) !=
        2)
        return LG_EMALFORMED;
    *seconds = (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
    return 0;
}

int measure_proc_rss_kb(pid_t pid, uint64_t *kb)
{
    char path[64], buf[8192];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int rc = read_file(path, buf, sizeof buf);
    if (rc != 0)
        return rc;
    const char *p = strstr(buf, "\nVmRSS:");
    unsigned long long v;
    if (!p || sscanf(p + 7, " %llu", &v) != 1)
        return LG_EMALFORMED;
    *kb = v;
    return 0;
}

double measure_self_cpu(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

int measure_proc_sched(pid_t pid, double *run_s, double *wait_s)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return LG_ENOTFOUND;
    unsigned long long run = 0, wait = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char file[128], buf[128];
        snprintf(file, sizeof file, "/proc/%d/task/%.16s/schedstat", (int)pid, e->d_name);
        unsigned long long r, w;
        if (read_file(file, buf, sizeof buf) == 0 && sscanf(buf, "%llu %llu", &r, &w) == 2) {
            run += r;
            wait += w;
        }
    }
    closedir(d);
    *run_s = (double)run / 1e9;
    *wait_s = (double)wait / 1e9;
    return 0;
}

static void udp_drops_file(const char *path, uint16_t lo, uint16_t hi, uint64_t *server,
                           uint64_t *clients)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    if (!fgets(line, sizeof line, f)) { /* header */
        fclose(f);
        return;
    }
    while (fgets(line, sizeof line, f)) {
        /* sl local:port rem:port st tx:rx tr:when retr uid timeout inode ref pointer drops */
        char local[64], rem[64];
        unsigned long long drops;
        if (sscanf(line, " %*s %63s %63s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu", local, rem,
                   &drops) != 3)
            continue;
        const char *lp = strrchr(local, ':'), *rp = strrchr(rem, ':');
        if (!lp || !rp)
            continue;
        unsigned long l = strtoul(lp + 1, NULL, 16), r = strtoul(rp + 1, NULL, 16);
        if (l >= lo && l <= hi && r == 0)
            *server += drops;
        else if (r >= lo && r <= hi)
            *clients += drops;
    }
    fclose(f);
}

void measure_udp_drops(uint16_t lo, uint16_t hi, uint64_t *server, uint64_t *clients)
{
    *server = *clients = 0;
    udp_drops_file("/proc/net/udp", lo, hi, server, clients);
    udp_drops_file("/proc/net/udp6", lo, hi, server, clients);
}

/* --- latency histogram --------------------------------------------------------------------------
 */

#define LAT_FINE      10000 /* 1 us buckets: 0..9999 us */
#define LAT_COARSE    9900  /* 100 us buckets: 10 ms .. 1 s */
#define LAT_BUCKETS   (LAT_FINE + LAT_COARSE + 1)
#define LAT_COARSE_US 100

static size_t lat_bucket(uint32_t us)
{
    if (us < LAT_FINE)
        return us;
    size_t c = (us - LAT_FINE) / LAT_COARSE_US;
    return c < LAT_COARSE ? LAT_FINE + c : LAT_BUCKETS - 1;
}

static uint32_t lat_bucket_upper(size_t b)
{
    if (b < LAT_FINE)
        return (uint32_t)b;
    if (b < LAT_FINE + LAT_COARSE)
        return (uint32_t)(LAT_FINE + (b - LAT_FINE + 1) * LAT_COARSE_US - 1);
    return UINT32_MAX;
}

int lat_hist_init(lat_hist_t *h)
{
    memset(h, 0, sizeof *h);
    h->w = calloc(LAT_BUCKETS, sizeof *h->w);
    return h->w ? 0 : LG_ENOMEM;
}

void lat_hist_free(lat_hist_t *h)
{
    free(h->w);
    memset(h, 0, sizeof *h);
}

void lat_hist_add(lat_hist_t *h, const uint32_t *us, size_t n, double weight)
{
    for (size_t i = 0; i < n; i++) {
        h->w[lat_bucket(us[i])] += weight;
        if (us[i] > h->max_us)
            h->max_us = us[i];
    }
    h->total += weight * (double)n;
    h->samples += n;
}

uint32_t lat_hist_percentile(const lat_hist_t *h, double pct)
{
    if (h->total <= 0)
        return 0;
    double target = h->total * pct / 100.0, acc = 0;
    for (size_t b = 0; b < LAT_BUCKETS; b++) {
        acc += h->w[b];
        if (acc >= target && h->w[b] > 0) {
            uint32_t up = lat_bucket_upper(b);
            return up > h->max_us ? h->max_us : up;
        }
    }
    return h->max_us;
}

/* --- receive-side counting ----------------------------------------------------------------------
 */

#define RX_STREAMS 256
#define RX_SAMPLES 16384

struct bench_rx {
    bench_rx_stream_t s[RX_STREAMS];
    uint32_t highest[RX_STREAMS];
    int n;
    uint64_t packets, gaps, late, foreign;
    uint32_t lat[RX_SAMPLES];
    uint32_t lat_n;
    uint64_t measured;
    uint64_t rng;
};

bench_rx_t *bench_rx_new(void)
{
    bench_rx_t *rx = calloc(1, sizeof *rx);
    if (rx)
        rx->rng = 0x9E3779B97F4A7C15ull ^ (uint64_t)(uintptr_t)rx;
    return rx;
}

void bench_rx_free(bench_rx_t *rx)
{
    free(rx);
}

static uint64_t rx_rand(bench_rx_t *rx)
{
    rx->rng ^= rx->rng << 13;
    rx->rng ^= rx->rng >> 7;
    rx->rng ^= rx->rng << 17;
    return rx->rng;
}

static void rx_latency(bench_rx_t *rx, uint64_t send_ns, int64_t now_ns)
{
    if (send_ns == 0 || (int64_t)send_ns > now_ns)
        return;
    uint64_t us64 = ((uint64_t)now_ns - send_ns) / 1000;
    uint32_t us = us64 > UINT32_MAX ? UINT32_MAX : (uint32_t)us64;
    uint64_t seen = rx->measured++;
    if (rx->lat_n < RX_SAMPLES) {
        rx->lat[rx->lat_n++] = us;
        return;
    }
    uint64_t j = rx_rand(rx) % (seen + 1);
    if (j < RX_SAMPLES)
        rx->lat[j] = us;
}

static int rx_find(bench_rx_t *rx, uint32_t sender, uint8_t stream, uint32_t seq)
{
    for (int i = 0; i < rx->n; i++)
        if (rx->s[i].sender_id == sender && rx->s[i].stream == stream)
            return i;
    if (rx->n == RX_STREAMS)
        return -1;
    int i = rx->n++;
    memset(&rx->s[i], 0, sizeof rx->s[i]);
    rx->s[i].sender_id = sender;
    rx->s[i].stream = stream;
    rx->highest[i] = seq - 1;
    return i;
}

void bench_rx_payload(bench_rx_t *rx, const uint8_t *payload, size_t len, int64_t now_ns)
{
    peer_trailer_t t;
    if (peer_trailer_read(payload, len, &t) != 0) {
        rx->foreign++;
        return;
    }
    rx->packets++;
    rx_latency(rx, t.send_ns, now_ns);
    int i = rx_find(rx, t.sender_id, t.stream, t.seq);
    if (i < 0)
        return;
    bench_rx_stream_t *s = &rx->s[i];
    s->packets++;
    uint32_t expected = rx->highest[i] + 1;
    if (t.seq == expected) {
        rx->highest[i] = t.seq;
    } else if ((int32_t)(t.seq - expected) > 0) {
        s->gaps += t.seq - expected;
        rx->gaps += t.seq - expected;
        rx->highest[i] = t.seq;
    } else {
        s->late++;
        rx->late++;
    }
}

void bench_rx_totals(const bench_rx_t *rx, uint64_t *packets, uint64_t *gaps, uint64_t *late,
                     uint64_t *foreign)
{
    *packets = rx->packets;
    *gaps = rx->gaps;
    *late = rx->late;
    *foreign = rx->foreign;
}

int bench_rx_streams(const bench_rx_t *rx, bench_rx_stream_t *out, int cap)
{
    int n = rx->n < cap ? rx->n : cap;
    memcpy(out, rx->s, (size_t)n * sizeof *out);
    return n;
}

size_t bench_rx_latency(const bench_rx_t *rx, uint32_t *out, size_t cap, uint64_t *measured)
{
    size_t n = rx->lat_n < cap ? rx->lat_n : cap;
    memcpy(out, rx->lat, n * sizeof *out);
    if (measured)
        *measured = rx->measured;
    return n;
}

void bench_rx_reset_latency(bench_rx_t *rx)
{
    rx->lat_n = 0;
    rx->measured = 0;
}
