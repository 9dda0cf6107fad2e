/* The bench's scenarios (fan-out, meeting, rooms, mixed audio, join storm): who joins which room
 * publishing and subscribing what, the measurement window every scenario shares, and the figures
 * one run of a scenario against one system yields. */
#ifndef LG_BENCH_SCENARIO_H
#define LG_BENCH_SCENARIO_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "bench/system.h"

typedef enum {
    SCEN_FANOUT = 0, /* 1 publisher (Opus 50 pkt/s + VP8 ~1.5 Mbit/s) -> n subscribers */
    SCEN_MEETING,    /* n participants, each publishing audio + video and receiving all others */
    SCEN_ROOMS,      /* n rooms of 4 such participants */
    SCEN_MIXED,      /* n participants: 3 speaking (real Opus tones), the others listening to
                        one mixed stream */
    SCEN_JOINSTORM,  /* n joins per second into a room with a publisher: time to first media */
    SCEN_COUNT
} scenario_kind_t;

typedef struct {
    int duration_s;       /* measurement window; 10 */
    int warmup_timeout_s; /* bound for every subscriber to see every stream; 20 */
    int storm_s;          /* seconds of joins in the join storm; 5 */
    unsigned video_kbps;  /* 1500 */
    int join_gap_ms;      /* meeting, rooms, mixed: publishers join one at a time, each running
                             this long before the next joins; 0: four joins at once */
    bool progress;        /* print a live progress line on stderr */
} scenario_cfg_t;

/* Figures of one (scenario, system, n). Times in microseconds or milliseconds as named; a
 * negative value means "not measured" (written as null). */
typedef struct {
    char scenario[16];
    char system[16];
    int n;            /* subscribers, participants, rooms or joins/s, per scenario */
    int participants; /* connected participants */
    char status[16];  /* "ok", "failed", "not_available" */
    char error[600];

    double duration_s;      /* sending window */
    uint64_t expected;      /* packets that should have reached subscribers */
    uint64_t forwarded;     /* packets that did (unique) */
    uint64_t lost;          /* expected - forwarded, per stream, never negative */
    uint64_t duplicates;    /* late / duplicate packets seen */
    double forwarded_pps;   /* forwarded / duration */
    double forwarded_bps;   /* RTP bits received by subscribers / duration */
    double loss_pct;        /* lost / expected * 100 */
    int64_t latency_p50_us; /* send -> receive, subscribers' samples, weighted */
    int64_t latency_p99_us;
    int64_t latency_max_us;
    double cpu_s;            /* relay utime + stime over the window (and its drain) */
    double cpu_s_per_mpkt;   /* cpu_s per million forwarded packets */
    double pkts_per_cpu_s;   /* forwarded packets per relay CPU-second */
    double relay_cpu_pct;    /* relay CPU over wall time, % of one core */
    double loadgen_cpu_pct;  /* the load generator's CPU over wall time, % of one core */
    double relay_wait_pct;   /* time the server's threads were runnable but not running (run
                                queue wait, /proc/PID/task/N/schedstat) over wall time, % */
    double loadgen_wait_pct; /* the same for the load generator */
    uint64_t server_drops;   /* datagrams the kernel dropped at the server's full socket */
    uint64_t client_drops;   /* ... at the participants' sockets */
    uint64_t rss_base_kb;    /* relay VmRSS before anyone joined */
    uint64_t rss_kb;         /* after the window */
    double rss_kb_per_participant;
    double join_ms_p50, join_ms_p99, join_ms_max;  /* join call -> publish leg / join ready */
    double first_media_ms_p50, first_media_ms_p99; /* join call -> first packet (join storm) */
    int joins_failed;
    bool all_encrypted; /* every leg DTLS-SRTP keyed (encrypted systems) */
    char profile[32];
    uint64_t crypto_failures;
    bool every_packet; /* every subscriber got every packet of every stream, nothing lost */
    /* mixed: the listeners' side, over the sending window (counted when sending stopped) */
    int mixed_listeners;           /* participants on one mixed Opus stream */
    uint64_t mixed_packets;        /* mixed packets they received */
    double mixed_pps_per_listener; /* mixed_packets / mixed_listeners / duration_s */
    double mixed_wire_kbps;        /* per listener: SRTP packets + 28 bytes IPv4/UDP each, kbit/s */
    double mixed_opus_kbps;        /* per listener: the Opus payload alone */
    uint64_t mixed_plc;            /* packets the listeners' decoders concealed (sequence gaps) */
    uint64_t mixed_decode_errors;
    /* mixed: the relay's mixer (its /metrics) from the window's start to when sending stopped;
     * the scenario has one room, so these are per room */
    double mixer_cpu_pct;  /* mixer CPU time over wall time, % of one core */
    double mixer_ms_per_s; /* the same in ms of CPU per second */
    uint64_t mix_decodes, mix_encodes, mix_concealed, mix_fec_recovered;
} bench_result_t;

const char *scenario_name(scenario_kind_t k);

/* "fanout", "meeting", "rooms", "mixed", "joinstorm" -> kind. Returns 0 or LG_EINVAL. */
int scenario_parse(const char *name, scenario_kind_t *k);

/* What n means for a scenario ("subscribers", "participants", "rooms", ...). */
const char *scenario_n_label(scenario_kind_t k);

/* Runs scenario k with size n against a fresh server of system ops: starts it, joins everyone,
 * warms up until every subscriber receives every stream, measures one window, stops everything.
 * Fills *out (status "failed" with error on failure). Bounded in time. Returns 0 if measured. */
int scenario_run(scenario_kind_t k, int n, const bench_system_ops_t *ops, const bench_env_t *env,
                 const scenario_cfg_t *cfg, bench_result_t *out);

#endif
