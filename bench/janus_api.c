/* Janus's HTTP/JSON API for the bench: a session, its handles, blocking requests and a long-poll
 * thread queueing the session's events. */
#include "bench/janus_api.h"

#include <inttypes.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/http_client.h"
#include "sfu/lg_error.h"

#define POLL_MAXEV        16
#define POLL_TIMEOUT_MS   ((JANUS_LONG_POLL_S + 10) * 1000)
#define POLL_MAX_FAILURES 20 /* consecutive failed long polls before the thread gives up */

typedef struct event {
    struct event *next;
    uint64_t sender;
    json_t *ev;
} event_t;

struct janus_client {
    char host[64];
    uint16_t port;
    uint64_t session;
    char path[64]; /* "/janus/<session>" */
    unsigned tx;   /* transaction counter (atomic use under mu) */

    pthread_t poller;
    int poller_started;
    http_cancel_t cancel;

    pthread_mutex_t mu;
    pthread_cond_t cond;
    event_t *head, *tail;
    unsigned queued;
    uint64_t dropped;
    int stop;
    char error[192];
};

/* --- helpers ---------------------------------------------------------------------------------- */

static void next_transaction(janus_client_t *c, char *out, size_t cap)
{
    pthread_mutex_lock(&c->mu);
    unsigned t = ++c->tx;
    pthread_mutex_unlock(&c->mu);
    snprintf(out, cap, "lg%u", t);
}

static uint64_t json_u64(json_t *j)
{
    return json_is_integer(j) ? (uint64_t)json_integer_value(j) : 0;
}

json_t *janus_event_data(json_t *ev)
{
    return json_object_get(json_object_get(ev, "plugindata"), "data");
}

const char *janus_event_videoroom(json_t *ev)
{
    const char *s = json_string_value(json_object_get(janus_event_data(ev), "videoroom"));
    return s ? s : "";
}

const char *janus_event_kind(json_t *ev)
{
    const char *s = json_string_value(json_object_get(ev, "janus"));
    return s ? s : "";
}

const char *janus_event_sdp(json_t *ev, const char *type)
{
    json_t *jsep = json_object_get(ev, "jsep");
    const char *t = json_string_value(json_object_get(jsep, "type"));
    if (!t || strcmp(t, type) != 0)
        return NULL;
    return json_string_value(json_object_get(jsep, "sdp"));
}

/* POSTs j (borrowed) to path and parses the JSON reply into *reply. */
static int post_json(janus_client_t *c, const char *path, json_t *j, int timeout_ms, json_t **reply,
                     char *err, size_t errlen)
{
    *reply = NULL;
    char *text = json_dumps(j, JSON_COMPACT);
    if (!text) {
        snprintf(err, errlen, "janus: out of memory");
        return LG_ENOMEM;
    }
    http_response_t r;
    int rc = http_request(c->host, c->port, "POST", path, text, "application/json", timeout_ms,
                          NULL, &r, err, errlen);
    free(text);
    if (rc != 0)
        return rc;
    if (r.status != 200) {
        snprintf(err, errlen, "janus: POST %s answered HTTP %d", path, r.status);
        http_response_free(&r);
        return LG_EIO;
    }
    json_error_t je;
    *reply = json_loadb(r.body, r.len, 0, &je);
    http_response_free(&r);
    if (!json_is_object(*reply)) {
        json_decref(*reply);
        *reply = NULL;
        snprintf(err, errlen, "janus: POST %s: reply is not a JSON object", path);
        return LG_EMALFORMED;
    }
    return 0;
}

/* Maps {"janus":"error"} to LG_EPERM with its code and reason. */
static int check_janus_error(json_t *reply, const char *what, char *err, size_t errlen)
{
    if (strcmp(janus_event_kind(reply), "error") != 0)
        return 0;
    json_t *e = json_object_get(reply, "error");
    const char *reason = json_string_value(json_object_get(e, "reason"));
    snprintf(err, errlen, "janus: %s refused: error %" PRIu64 " (%s)", what,
             json_u64(json_object_get(e, "code")), reason ? reason : "no reason");
    return LG_EPERM;
}

/* --- long poll -------------------------------------------------------------------------------- */

static void queue_event(janus_client_t *c, json_t *ev)
{
    event_t *e = malloc(sizeof *e);
    if (!e) {
        json_decref(ev);
        return;
    }
    e->next = NULL;
    e->sender = json_u64(json_object_get(ev, "sender"));
    e->ev = ev;
    pthread_mutex_lock(&c->mu);
    if (c->queued >= JANUS_MAX_QUEUED && c->head) { /* drop the oldest */
        event_t *old = c->head;
        c->head = old->next;
        if (!c->head)
            c->tail = NULL;
        json_decref(old->ev);
        free(old);
        c->queued--;
        c->dropped++;
    }
    if (c->tail)
        c->tail->next = e;
    else
        c->head = e;
    c->tail = e;
    c->queued++;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static void poll_failed(janus_client_t *c, const char *msg)
{
    pthread_mutex_lock(&c->mu);
    if (!c->error[0])
        snprintf(c->error, sizeof c->error, "janus long poll: %s", msg);
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->mu);
}

static int stopping(janus_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    int s = c->stop;
    pthread_mutex_unlock(&c->mu);
    return s;
}

/* Queues every event of one long-poll answer (an array with maxev, or one object). */
static void take_poll_answer(janus_client_t *c, json_t *j)
{
    if (json_is_object(j)) {
        if (strcmp(janus_event_kind(j), "keepalive") != 0)
            queue_event(c, json_incref(j));
        return;
    }
    size_t i;
    json_t *ev;
    json_array_foreach(j, i, ev)
    {
        if (json_is_object(ev) && strcmp(janus_event_kind(ev), "keepalive") != 0)
            queue_event(c, json_incref(ev));
    }
}

static void *poll_main(void *arg)
{
    janus_client_t *c = arg;
    char path[96], err[160];
    snprintf(path, sizeof path, "%s?maxev=%d", c->path, POLL_MAXEV);
    int failures = 0;
    /* bounded: each poll ends within POLL_TIMEOUT_MS, and failures in a row end the loop */
    while (!stopping(c) && failures < POLL_MAX_FAILURES) {
        http_response_t r;
        int rc = http_request(c->host, c->port, "GET", path, NULL, NULL, POLL_TIMEOUT_MS,
                              &c->cancel, &r, err, sizeof err);
        if (rc != 0 || r.status != 200) {
            if (rc == 0) {
                snprintf(err, sizeof err, "HTTP %d", r.status);
                http_response_free(&r);
            }
            if (stopping(c) || rc == LG_ESTATE)
                break;
            failures++;
            usleep(100 * 1000);
            continue;
        }
        failures = 0;
        json_t *j = json_loadb(r.body, r.len, 0, NULL);
        http_response_free(&r);
        if (!j)
            continue;
        if (json_is_object(j) && strcmp(janus_event_kind(j), "error") == 0) {
            check_janus_error(j, "long poll", err, sizeof err);
            json_decref(j);
            poll_failed(c, err); /* the session is gone */
            return NULL;
        }
        take_poll_answer(c, j);
        json_decref(j);
    }
    if (!stopping(c))
        poll_failed(c, err);
    return NULL;
}

/* --- session ---------------------------------------------------------------------------------- */

int janus_wait_ready(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
    struct timespec t0, t;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int tries = 0; tries < 10000; tries++) {
        http_response_t r;
        if (http_request(host, port, "GET", "/janus/info", NULL, NULL, 1000, NULL, &r, err,
                         errlen) == 0) {
            int ok = r.status == 200;
            http_response_free(&r);
            if (ok)
                return 0;
        }
        clock_gettime(CLOCK_MONOTONIC, &t);
        long ms = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;
        if (ms >= timeout_ms)
            break;
        usleep(50 * 1000);
    }
    char last[128];
    snprintf(last, sizeof last, "%s", err);
    snprintf(err, errlen, "janus: no answer on http://%s:%u/janus/info within %d ms (%s)", host,
             port, timeout_ms, last);
    return LG_EEXPIRED;
}

static janus_client_t *client_alloc(const char *host, uint16_t port)
{
    janus_client_t *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    snprintf(c->host, sizeof c->host, "%s", host);
    c->port = port;
    uint16_t seed = 0;
    RAND_bytes((unsigned char *)&seed, sizeof seed);
    c->tx = seed;
    http_cancel_init(&c->cancel);
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cond, NULL);
    return c;
}

int janus_client_open(const char *host, uint16_t port, int timeout_ms, janus_client_t **out,
                      char *err, size_t errlen)
{
    *out = NULL;
    if (!host || strlen(host) >= 64) {
        snprintf(err, errlen, "janus: bad host");
        return LG_EINVAL;
    }
    janus_client_t *c = client_alloc(host, port);
    if (!c) {
        snprintf(err, errlen, "janus: out of memory");
        return LG_ENOMEM;
    }
    char tx[24];
    next_transaction(c, tx, sizeof tx);
    json_t *req = json_pack("{s:s, s:s}", "janus", "create", "transaction", tx);
    json_t *reply = NULL;
    int rc = req ? post_json(c, "/janus", req, timeout_ms, &reply, err, errlen) : LG_ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = check_janus_error(reply, "create", err, errlen);
    if (rc == 0) {
        c->session = json_u64(json_object_get(json_object_get(reply, "data"), "id"));
        if (!c->session) {
            snprintf(err, errlen, "janus: create answered without a session id");
            rc = LG_EMALFORMED;
        }
    }
    json_decref(reply);
    if (rc == 0) {
        snprintf(c->path, sizeof c->path, "/janus/%" PRIu64, c->session);
        if (pthread_create(&c->poller, NULL, poll_main, c) != 0) {
            snprintf(err, errlen, "janus: cannot start the long-poll thread");
            rc = LG_ENOMEM;
        } else {
            c->poller_started = 1;
        }
    }
    if (rc != 0) {
        janus_client_close(c, timeout_ms);
        return rc;
    }
    *out = c;
    return 0;
}

void janus_client_close(janus_client_t *c, int timeout_ms)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu); /* the long poll first: none may arrive after the session ended */
    c->stop = 1;
    pthread_mutex_unlock(&c->mu);
    http_cancel(&c->cancel);
    if (c->poller_started)
        pthread_join(c->poller, NULL);
    c->poller_started = 0;
    if (c->session) {
        char tx[24], err[160];
        next_transaction(c, tx, sizeof tx);
        json_t *req = json_pack("{s:s, s:s}", "janus", "destroy", "transaction", tx);
        json_t *reply = NULL;
        if (req)
            post_json(c, c->path, req, timeout_ms, &reply, err, sizeof err);
        json_decref(req);
        json_decref(reply);
    }
    for (event_t *e = c->head, *n; e; e = n) {
        n = e->next;
        json_decref(e->ev);
        free(e);
    }
    http_cancel_destroy(&c->cancel);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

uint64_t janus_client_session(const janus_client_t *c)
{
    return c ? c->session : 0;
}

const char *janus_client_error(janus_client_t *c)
{
    return c->error; /* written once, under mu, before the poller ends */
}

uint64_t janus_client_dropped(janus_client_t *c)
{
    pthread_mutex_lock(&c->mu);
    uint64_t d = c->dropped;
    pthread_mutex_unlock(&c->mu);
    return d;
}

/* --- requests --------------------------------------------------------------------------------- */

int janus_attach(janus_client_t *c, const char *plugin, uint64_t *handle, int timeout_ms, char *err,
                 size_t errlen)
{
    char tx[24];
    next_transaction(c, tx, sizeof tx);
    json_t *req =
        json_pack("{s:s, s:s, s:s}", "janus", "attach", "plugin", plugin, "transaction", tx);
    json_t *reply = NULL;
    int rc = req ? post_json(c, c->path, req, timeout_ms, &reply, err, errlen) : LG_ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = check_janus_error(reply, "attach", err, errlen);
    if (rc == 0) {
        *handle = json_u64(json_object_get(json_object_get(reply, "data"), "id"));
        if (!*handle) {
            snprintf(err, errlen, "janus: attach answered without a handle id");
            rc = LG_EMALFORMED;
        }
    }
    json_decref(reply);
    return rc;
}

int janus_message(janus_client_t *c, uint64_t handle, json_t *body, json_t *jsep, int timeout_ms,
                  json_t **reply_out, int *plugin_error, char *err, size_t errlen)
{
    if (reply_out)
        *reply_out = NULL;
    if (plugin_error)
        *plugin_error = 0;
    char tx[24], path[96];
    next_transaction(c, tx, sizeof tx);
    snprintf(path, sizeof path, "%s/%" PRIu64, c->path, handle);
    json_t *req = json_pack("{s:s, s:s, s:O}", "janus", "message", "transaction", tx, "body", body);
    if (req && jsep)
        json_object_set(req, "jsep", jsep);
    json_t *reply = NULL;
    int rc = req ? post_json(c, path, req, timeout_ms, &reply, err, errlen) : LG_ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = check_janus_error(reply, "message", err, errlen);
    json_t *data = rc == 0 ? janus_event_data(reply) : NULL;
    json_t *code = json_object_get(data, "error_code");
    if (rc == 0 && code) {
        const char *text = json_string_value(json_object_get(data, "error"));
        snprintf(err, errlen, "janus: plugin error %" PRIu64 ": %s", json_u64(code),
                 text ? text : "?");
        if (plugin_error)
            *plugin_error = (int)json_u64(code);
        rc = LG_EPERM;
    }
    if (rc == 0 && reply_out && data)
        *reply_out = json_incref(data);
    json_decref(reply);
    return rc;
}

int janus_trickle(janus_client_t *c, uint64_t handle, json_t *candidate, int timeout_ms, char *err,
                  size_t errlen)
{
    char tx[24], path[96];
    next_transaction(c, tx, sizeof tx);
    snprintf(path, sizeof path, "%s/%" PRIu64, c->path, handle);
    json_t *req =
        json_pack("{s:s, s:s, s:O}", "janus", "trickle", "transaction", tx, "candidate", candidate);
    json_t *reply = NULL;
    int rc = req ? post_json(c, path, req, timeout_ms, &reply, err, errlen) : LG_ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = check_janus_error(reply, "trickle", err, errlen);
    json_decref(reply);
    return rc;
}

int janus_handle_request(janus_client_t *c, uint64_t handle, const char *what, int timeout_ms)
{
    char tx[24], path[96], err[160];
    next_transaction(c, tx, sizeof tx);
    snprintf(path, sizeof path, "%s/%" PRIu64, c->path, handle);
    json_t *req = json_pack("{s:s, s:s}", "janus", what, "transaction", tx);
    json_t *reply = NULL;
    int rc = req ? post_json(c, path, req, timeout_ms, &reply, err, sizeof err) : LG_ENOMEM;
    json_decref(req);
    if (rc == 0)
        rc = check_janus_error(reply, what, err, sizeof err);
    json_decref(reply);
    return rc;
}

/* --- events ----------------------------------------------------------------------------------- */

/* Unlinks and returns the first matching event, or NULL. Called with mu held. */
static json_t *unlink_match(janus_client_t *c, uint64_t handle, janus_match_fn match, void *arg)
{
    event_t *prev = NULL;
    for (event_t *e = c->head; e; prev = e, e = e->next) {
        if ((handle && e->sender != handle) || (match && !match(e->ev, arg)))
            continue;
        if (prev)
            prev->next = e->next;
        else
            c->head = e->next;
        if (c->tail == e)
            c->tail = prev;
        c->queued--;
        json_t *ev = e->ev;
        free(e);
        return ev;
    }
    return NULL;
}

json_t *janus_take_event(janus_client_t *c, uint64_t handle, janus_match_fn match, void *arg,
                         int timeout_ms)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += timeout_ms / 1000;
    until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    json_t *ev = NULL;
    /* bounded by the deadline: every wake-up either finds the event or re-waits until it */
    for (int wakes = 0; wakes < 100000; wakes++) {
        ev = unlink_match(c, handle, match, arg);
        if (ev || c->error[0] || timeout_ms <= 0)
            break;
        if (pthread_cond_timedwait(&c->cond, &c->mu, &until) != 0)
            break; /* timed out (one last look) */
    }
    if (!ev)
        ev = unlink_match(c, handle, match, arg);
    pthread_mutex_unlock(&c->mu);
    return ev;
}
