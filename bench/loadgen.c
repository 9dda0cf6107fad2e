/* The load generator: a thread per participant, commands published under a mutex with a
 * generation number, acknowledged by each thread after it applied them between run slices. */
#include "bench/loadgen.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sfu/lg_error.h"

#define SLICE_MS        50 /* run slice between command checks */
#define WATCH_SLICE_MS  5  /* while waiting for the first media packet */
#define LIVE_REFRESH_NS (250 * 1000000LL)
#define LATENCY_CAP     16384

volatile int loadgen_interrupted;

typedef struct {
    bool sending, snapshot, latency, reset;
} command_t;

typedef struct {
    struct loadgen *g;
    int index;
    member_plan_t plan;
    member_result_t res;
    pthread_t th;
    bool started;
    atomic_uint ack;
    atomic_int state;
    atomic_uint_fast64_t live_rx;
} member_t;

struct loadgen {
    bench_system_t *sys;
    member_t *m;
    int n, max;
    int settle_ms;
    pthread_mutex_t mu;
    command_t cmd;
    atomic_uint gen;
    atomic_int stop;
    sem_t joining;
};

static bool stopping(const loadgen_t *g)
{
    return atomic_load(&g->stop) || loadgen_interrupted;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Takes one join slot; false if the generator stops first. */
static bool join_slot(loadgen_t *g)
{
    while (!stopping(g)) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        if (sem_timedwait(&g->joining, &ts) == 0)
            return true;
    }
    return false;
}

static void apply(member_t *m, bench_participant_t *p, const command_t *c)
{
    if (!p)
        return;
    p->ops->set_sending(p, c->sending);
    member_snapshot_t *s = &m->res.snap;
    if (c->snapshot) {
        snprintf(s->last_error, sizeof s->last_error, "%s", p->ops->last_error(p));
        p->ops->counts(p, &s->counts);
        s->nstreams = p->ops->streams(p, s->streams, LOADGEN_STREAMS);
    }
    if (c->latency) {
        if (!s->lat)
            s->lat = malloc(LATENCY_CAP * sizeof *s->lat);
        s->nlat = s->lat ? p->ops->latency(p, s->lat, LATENCY_CAP, &s->lat_measured) : 0;
    }
    if (c->reset)
        p->ops->reset_latency(p);
}

static void check_command(member_t *m, bench_participant_t *p, unsigned *seen)
{
    loadgen_t *g = m->g;
    if (atomic_load(&g->gen) == *seen)
        return;
    pthread_mutex_lock(&g->mu);
    command_t c = g->cmd;
    unsigned gen = atomic_load(&g->gen);
    pthread_mutex_unlock(&g->mu);
    apply(m, p, &c);
    *seen = gen;
    atomic_store(&m->ack, gen);
}

static void refresh_live(member_t *m, bench_participant_t *p)
{
    bench_rx_stream_t s[LOADGEN_STREAMS];
    int n = p->ops->streams(p, s, LOADGEN_STREAMS);
    uint64_t total = 0;
    for (int i = 0; i < n; i++)
        total += s[i].packets;
    atomic_store(&m->live_rx, total);
    if (m->plan.watch_first_media && m->res.first_media_ns == 0 && total > 0)
        m->res.first_media_ns = bench_now_ns();
}

static bench_participant_t *member_join(member_t *m)
{
    loadgen_t *g = m->g;
    while (!stopping(g) && bench_now_ns() < m->plan.start_at_ns)
        sleep_ms(2);
    if (!join_slot(g))
        return NULL;
    atomic_store(&m->state, MEMBER_JOINING);
    bench_participant_t *p = NULL;
    m->res.join_start_ns = bench_now_ns();
    int rc = g->sys->ops->join(g->sys, &m->plan.opts, &p, m->res.err, sizeof m->res.err);
    int settle = m->plan.settle_ms > 0 ? m->plan.settle_ms : g->settle_ms;
    if (rc == 0 && settle > 0)
        rc = p->ops->run(p, settle);
    sem_post(&g->joining);
    if (rc != 0) {
        m->res.rc = rc;
        if (p) {
            snprintf(m->res.err, sizeof m->res.err, "%s", p->ops->last_error(p));
            p->ops->leave(p);
        }
        atomic_store(&m->state, MEMBER_FAILED);
        return NULL;
    }
    m->res.sender_id = p->sender_id;
    m->res.join_start_ns = p->join_start_ns;
    m->res.joined_ns = p->joined_ns;
    m->res.ready_ns = p->ready_ns;
    atomic_store(&m->state, MEMBER_READY);
    return p;
}

static void *member_thread(void *arg)
{
    member_t *m = arg;
    loadgen_t *g = m->g;
    unsigned seen = 0;
    bench_participant_t *p = member_join(m);
    int64_t next_live = 0;
    while (!stopping(g)) {
        check_command(m, p, &seen);
        if (!p || atomic_load(&m->state) != MEMBER_READY) {
            sleep_ms(SLICE_MS);
            continue;
        }
        bool watching = m->plan.watch_first_media && m->res.first_media_ns == 0;
        int rc = p->ops->run(p, watching ? WATCH_SLICE_MS : SLICE_MS);
        if (rc != 0) {
            m->res.rc = rc;
            snprintf(m->res.err, sizeof m->res.err, "%s", p->ops->last_error(p));
            atomic_store(&m->state, MEMBER_FAILED);
        }
        int64_t now = bench_now_ns();
        if (watching || now >= next_live) {
            refresh_live(m, p);
            next_live = now + LIVE_REFRESH_NS;
        }
    }
    check_command(m, p, &seen);
    if (p)
        p->ops->leave(p);
    atomic_store(&m->state, MEMBER_DONE);
    return NULL;
}

loadgen_t *loadgen_new(bench_system_t *sys, int max, int max_joining, int settle_ms)
{
    loadgen_t *g = calloc(1, sizeof *g);
    if (!g)
        return NULL;
    g->m = calloc((size_t)max, sizeof *g->m);
    if (!g->m) {
        free(g);
        return NULL;
    }
    g->sys = sys;
    g->max = max;
    g->settle_ms = settle_ms;
    pthread_mutex_init(&g->mu, NULL);
    sem_init(&g->joining, 0, (unsigned)(max_joining > 0 ? max_joining : 1));
    return g;
}

int loadgen_add(loadgen_t *g, const member_plan_t *plan)
{
    if (g->n == g->max)
        return LG_EFULL;
    member_t *m = &g->m[g->n];
    m->g = g;
    m->index = g->n;
    m->plan = *plan;
    m->plan.opts.room = m->plan.room;
    m->plan.opts.name = m->plan.name;
    atomic_store(&m->state, MEMBER_WAITING);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 2u << 20);
    int rc = pthread_create(&m->th, &attr, member_thread, m);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        return LG_EIO;
    m->started = true;
    return g->n++;
}

int loadgen_wait_joined(loadgen_t *g, int timeout_ms)
{
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int pending = 0, not_ready = 0;
        for (int i = 0; i < g->n; i++) {
            int st = atomic_load(&g->m[i].state);
            pending += st == MEMBER_WAITING || st == MEMBER_JOINING;
            not_ready += st != MEMBER_READY;
        }
        if (pending == 0 || bench_now_ns() >= deadline || loadgen_interrupted)
            return not_ready;
        sleep_ms(20);
    }
}

int loadgen_command(loadgen_t *g, bool sending, bool snapshot, bool latency, bool reset_latency,
                    int timeout_ms)
{
    pthread_mutex_lock(&g->mu);
    g->cmd = (command_t){sending, snapshot, latency, reset_latency};
    unsigned gen = atomic_fetch_add(&g->gen, 1) + 1;
    pthread_mutex_unlock(&g->mu);
    int64_t deadline = bench_now_ns() + (int64_t)timeout_ms * 1000000;
    for (;;) {
        int missing = 0;
        for (int i = 0; i < g->n; i++) {
            member_t *m = &g->m[i];
            int st = atomic_load(&m->state);
            if (st != MEMBER_DONE && st != MEMBER_WAITING && st != MEMBER_JOINING &&
                atomic_load(&m->ack) != gen)
                missing++;
        }
        if (missing == 0)
            return 0;
        if (bench_now_ns() >= deadline || loadgen_interrupted)
            return LG_EEXPIRED;
        sleep_ms(1);
    }
}

uint64_t loadgen_live_received(const loadgen_t *g)
{
    uint64_t total = 0;
    for (int i = 0; i < g->n; i++)
        total += atomic_load(&((loadgen_t *)g)->m[i].live_rx);
    return total;
}

int loadgen_count(const loadgen_t *g)
{
    return g->n;
}

const member_result_t *loadgen_result(const loadgen_t *g, int i)
{
    member_t *m = &g->m[i];
    m->res.state = (member_state_t)atomic_load(&m->state);
    return &m->res;
}

const member_plan_t *loadgen_plan(const loadgen_t *g, int i)
{
    return &g->m[i].plan;
}

void loadgen_free(loadgen_t *g)
{
    if (!g)
        return;
    atomic_store(&g->stop, 1);
    for (int i = 0; i < g->n; i++)
        if (g->m[i].started)
            pthread_join(g->m[i].th, NULL);
    for (int i = 0; i < g->n; i++)
        free(g->m[i].res.snap.lat);
    sem_destroy(&g->joining);
    pthread_mutex_destroy(&g->mu);
    free(g->m);
    free(g);
}
