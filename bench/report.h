/* The bench's output: the live table on stdout, results JSON (latest and a dated copy), gnuplot
 * data and scripts with their PNGs, a Markdown summary, and the verdict against the targets. */
#ifndef LG_BENCH_REPORT_H
#define LG_BENCH_REPORT_H

#include <stddef.h>
#include <stdio.h>

#include "bench/scenario.h"

typedef struct {
    const char *command; /* the command line that produced the results */
    const bench_env_t *env;
    const scenario_cfg_t *cfg;
    const char *started;  /* ISO 8601 UTC */
    double loadavg_start; /* 1-minute load average when the run started */
    int nice;             /* --nice of the run */
} report_meta_t;

/* Target verdict for one scenario (fan-out or meeting); negative fields: not measurable. */
typedef struct {
    char scenario[16];
    int n;                     /* the largest n measured by Legation and the peer */
    double leg_pkts_per_cpu_s; /* at n */
    double janus_pkts_per_cpu_s;
    double raw_pkts_per_cpu_s;
    double vs_janus;        /* leg / janus packets per CPU-second (target >= 3) */
    double vs_raw_capacity; /* leg / raw packets per CPU-second: share of the raw ceiling */
    double leg_max_pps, raw_max_pps; /* the highest loss-free (< 1 %) forwarded rate measured */
    int half_n;                      /* Legation's point nearest half its max load */
    double half_pps;
    double half_p99_us;            /* target < 1000 */
    double half_raw_p99_us;        /* the raw forwarder's p99 at the same n: the machine's floor */
    double rss_kb_per_participant; /* at Legation's largest n (target < 200) */
    double rss_kb_marginal;        /* growth per added participant between its smallest and
                                      largest n: the relay's own baseline left out */
} report_target_t;

/* The header line and one row per result. */
void report_table_header(FILE *out);
void report_table_row(FILE *out, const bench_result_t *r);

/* Evaluates the targets for scenario name over the results. */
void report_targets(const bench_result_t *r, int n, const char *scenario, report_target_t *t);
void report_targets_print(FILE *out, const report_target_t *t);

/* Writes DIR/latest.json and DIR/results-<stamp>.json. Returns 0 or an LG_E* code (err). */
int report_json(const char *dir, const char *stamp, const report_meta_t *m, const bench_result_t *r,
                int n, char *err, size_t errlen);

/* Writes DIR/plots/<scenario>-<system>.dat, DIR/plots/plots.gp and, when gnuplot is installed,
 * DIR/throughput.png, DIR/cpu_per_mpkt.png, DIR/latency_p99.png. Returns 0, LG_ENOTFOUND (no
 * gnuplot: data and script written) or LG_EIO. */
int report_plots(const char *dir, const bench_result_t *r, int n, char *err, size_t errlen);

/* Writes DIR/latest.md: the machine, the command, the table and the verdicts in Markdown. */
int report_markdown(const char *dir, const report_meta_t *m, const bench_result_t *r, int n,
                    char *err, size_t errlen);

/* Reads the results array of a results JSON back (up to cap) into r, *n of them. Returns 0 or
 * LG_EMALFORMED (err names why). */
int report_load(const char *path, bench_result_t *r, int cap, int *n, char *err, size_t errlen);

/* The 1-minute load average (/proc/loadavg); -1 if unreadable. */
double report_loadavg(void);

/* "Intel(R) Xeon(R) ... , 2 CPUs, 3.9 GiB, Linux 6.1.0" */
void report_machine(char *out, size_t cap);

#endif
