/* The load generator: one thread per participant, each joining a system and running its
 * participant in short slices, steered by the bench's commands (start/stop sending, snapshot the
 * counters) so a measurement window opens and closes at the same moment for everyone. */
#ifndef LG_BENCH_LOADGEN_H
#define LG_BENCH_LOADGEN_H

#include <stdbool.h>
#include <stdint.h>

#include "bench/system.h"

#define LOADGEN_STREAMS 256

typedef enum {
    MEMBER_WAITING = 0, /* not yet joining (join storm schedule) */
    MEMBER_JOINING,
    MEMBER_READY,
    MEMBER_FAILED, /* join failed, or run stopped with an error */
    MEMBER_DONE
} member_state_t;

/* What a participant's thread recorded at the last snapshot command. */
typedef struct {
    char last_error[256]; /* the participant's last error message at the snapshot */
    bench_counts_t counts;
    bench_rx_stream_t streams[LOADGEN_STREAMS];
    int nstreams;
    uint32_t *lat; /* latency samples (owned by the load generator), nlat of them */
    size_t nlat;
    uint64_t lat_measured;
} member_snapshot_t;

typedef struct {
    bench_participant_opts_t opts;
    char room[65], name[65];
    int64_t start_at_ns; /* join no earlier than this (0: at once) */
    int settle_ms;       /* run this long after joining, holding the join slot (0: the
                            generator's default) */
    bool watch_first_media;
} member_plan_t;

/* Per-participant outcome, read after loadgen_command or loadgen_wait_joined. */
typedef struct {
    member_state_t state;
    int rc;
    char err[256];
    uint32_t sender_id;
    int64_t join_start_ns, joined_ns, ready_ns, first_media_ns;
    member_snapshot_t snap;
} member_result_t;

typedef struct loadgen loadgen_t;

/* A generator for up to max participants of sys; joins run at most max_joining at once, and a
 * participant keeps its join slot for settle_ms after joining (running, so it answers the
 * renegotiations its arrival caused) before the next may start. */
loadgen_t *loadgen_new(bench_system_t *sys, int max, int max_joining, int settle_ms);

/* Starts one participant's thread (it joins at plan->start_at_ns). Returns its index or an error
 * (LG_EFULL, LG_EIO). */
int loadgen_add(loadgen_t *g, const member_plan_t *plan);

/* Waits until every added participant is READY or FAILED, or timeout. Returns how many are not
 * READY. */
int loadgen_wait_joined(loadgen_t *g, int timeout_ms);

/* Sends a command to every live participant thread and waits (bounded) until each applied it:
 * sending on/off, then (snapshot) records counts and streams, (latency) copies latency samples,
 * (reset_latency) forgets them. Returns 0, or LG_EEXPIRED if some thread did not answer. */
int loadgen_command(loadgen_t *g, bool sending, bool snapshot, bool latency, bool reset_latency,
                    int timeout_ms);

/* Packets received so far by every participant (refreshed by the threads every ~250 ms). */
uint64_t loadgen_live_received(const loadgen_t *g);

int loadgen_count(const loadgen_t *g);
const member_result_t *loadgen_result(const loadgen_t *g, int i);
const member_plan_t *loadgen_plan(const loadgen_t *g, int i);

/* Stops every thread (each participant leaves, bounded), joins them and frees everything. */
void loadgen_free(loadgen_t *g);

/* Set by the bench's SIGINT/SIGTERM handler: every wait returns early. */
extern volatile int loadgen_interrupted;

#endif
