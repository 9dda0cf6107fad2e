/* The bench's Janus client (bench/janus_api.h) and its HTTP client (bench/http_client.h) against
 * an in-test fake of Janus's HTTP transport on loopback: bodies by Content-Length, chunked and
 * close, deadlines and cancellation, then a session, a handle, a plugin error, an `ack` whose
 * result arrives on the long poll, events of other handles left queued, and the close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bench/http_client.h"
#include "bench/janus_api.h"
#include "sfu/lg_error.h"

#define SESSION 111
#define HANDLE  222
#define OTHER   333

/* --- the fake server -------------------------------------------------------------------------- */

typedef struct {
    int lfd;
    uint16_t port;
    pthread_t th;
    atomic_int stop;
    pthread_mutex_t mu;
    json_t *events;      /* queued for the long poll */
    atomic_int polls;    /* long polls served */
    atomic_int destroys; /* destroy requests */
} fake_t;

static fake_t F;

static int64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void reply(int fd, const char *body)
{
    char head[256];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                     "%zu\r\nConnection: close\r\n\r\n",
                     strlen(body));
    send(fd, head, (size_t)n, MSG_NOSIGNAL);
    send(fd, body, strlen(body), MSG_NOSIGNAL);
}

static void reply_json(int fd, json_t *j)
{
    char *t = json_dumps(j, JSON_COMPACT);
    reply(fd, t);
    free(t);
    json_decref(j);
}

static void queue_event(json_t *ev)
{
    pthread_mutex_lock(&F.mu);
    json_array_append_new(F.events, ev);
    pthread_mutex_unlock(&F.mu);
}

/* GET /janus/111?maxev=N: the queued events, or a keepalive after up to 1 s. */
static void serve_poll(int fd)
{
    atomic_fetch_add(&F.polls, 1);
    for (int i = 0; i < 100 && !atomic_load(&F.stop); i++) {
        pthread_mutex_lock(&F.mu);
        json_t *evs = json_array_size(F.events) ? F.events : NULL;
        if (evs)
            F.events = json_array();
        pthread_mutex_unlock(&F.mu);
        if (evs) {
            reply_json(fd, evs);
            return;
        }
        usleep(10000);
    }
    reply(fd, "[{\"janus\":\"keepalive\"}]");
}

static json_t *plugin_reply(const char *tx, json_t *data)
{
    return json_pack("{s:s, s:s, s:I, s:{s:s, s:o}}", "janus", "success", "transaction", tx,
                     "sender", (json_int_t)HANDLE, "plugindata", "plugin", "janus.plugin.videoroom",
                     "data", data);
}

/* POST /janus/111/222 {"janus":"message"}: create -> 427, join -> ack + `joined` event. */
static void serve_message(int fd, json_t *req, const char *tx)
{
    const char *what = json_string_value(json_object_get(json_object_get(req, "body"), "request"));
    if (what && strcmp(what, "create") == 0) {
        reply_json(fd, plugin_reply(tx, json_pack("{s:s, s:i, s:s}", "videoroom", "event",
                                                  "error_code", 427, "error", "Room exists")));
        return;
    }
    if (what && strcmp(what, "list") == 0) {
        reply_json(fd, plugin_reply(tx, json_pack("{s:s, s:[]}", "videoroom", "success", "list")));
        return;
    }
    reply_json(fd, json_pack("{s:s, s:s}", "janus", "ack", "transaction", tx));
    /* an event for another handle first: it must stay queued for its owner */
    queue_event(json_pack("{s:s, s:I, s:{s:{s:s}}}", "janus", "event", "sender", (json_int_t)OTHER,
                          "plugindata", "data", "videoroom", "event"));
    queue_event(json_pack("{s:s, s:I, s:{s:{s:s, s:i, s:[]}}}", "janus", "event", "sender",
                          (json_int_t)HANDLE, "plugindata", "data", "videoroom", "joined", "id", 5,
                          "publishers"));
}

static void serve_post(int fd, const char *path, const char *body)
{
    json_t *req = json_loads(body, 0, NULL);
    const char *kind = json_string_value(json_object_get(req, "janus"));
    const char *tx = json_string_value(json_object_get(req, "transaction"));
    if (!kind || !tx) {
        reply(fd, "{\"janus\":\"error\",\"error\":{\"code\":454,\"reason\":\"bad request\"}}");
    } else if (strcmp(path, "/janus") == 0 && strcmp(kind, "create") == 0) {
        reply_json(fd, json_pack("{s:s, s:s, s:{s:I}}", "janus", "success", "transaction", tx,
                                 "data", "id", (json_int_t)SESSION));
    } else if (strcmp(path, "/janus/111") == 0 && strcmp(kind, "attach") == 0) {
        reply_json(fd, json_pack("{s:s, s:s, s:{s:I}}", "janus", "success", "transaction", tx,
                                 "data", "id", (json_int_t)HANDLE));
    } else if (strcmp(path, "/janus/111") == 0 && strcmp(kind, "destroy") == 0) {
        atomic_fetch_add(&F.destroys, 1);
        reply_json(fd, json_pack("{s:s, s:s}", "janus", "success", "transaction", tx));
    } else if (strcmp(path, "/janus/111/222") == 0 && strcmp(kind, "message") == 0) {
        serve_message(fd, req, tx);
    } else {
        reply(fd, "{\"janus\":\"error\",\"error\":{\"code\":458,\"reason\":\"No such session\"}}");
    }
    json_decref(req);
}

static void serve_get(int fd, const char *path)
{
    if (strcmp(path, "/janus/info") == 0) {
        reply(fd, "{\"janus\":\"server_info\"}");
    } else if (strncmp(path, "/janus/111?maxev=", 17) == 0) {
        serve_poll(fd);
    } else if (strcmp(path, "/chunked") == 0) {
        const char *r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
        send(fd, r, strlen(r), MSG_NOSIGNAL);
    } else if (strcmp(path, "/close") == 0) {
        const char *r = "HTTP/1.0 404 Not Found\r\n\r\nno length";
        send(fd, r, strlen(r), MSG_NOSIGNAL);
    } else if (strcmp(path, "/slow") == 0) {
        for (int i = 0; i < 300 && !atomic_load(&F.stop); i++)
            usleep(10000); /* never answers (3 s at most) */
    }
}

/* Reads one request (headers + Content-Length body) and answers it. */
static void serve_conn(int fd)
{
    char buf[65536];
    size_t len = 0;
    char *hdr_end = NULL;
    for (int i = 0; i < 200 && len < sizeof buf - 1; i++) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        ssize_t n = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        hdr_end = strstr(buf, "\r\n\r\n");
        if (!hdr_end)
            continue;
        const char *cl = strstr(buf, "Content-Length: ");
        size_t want = cl ? (size_t)atol(cl + 16) : 0;
        if (len >= (size_t)(hdr_end + 4 - buf) + want)
            break;
    }
    if (!hdr_end)
        return;
    char method[8], path[256];
    if (sscanf(buf, "%7s %255s", method, path) != 2)
        return;
    if (strcmp(method, "POST") == 0)
        serve_post(fd, path, hdr_end + 4);
    else
        serve_get(fd, path);
}

static void *conn_main(void *arg)
{
    int fd = (int)(intptr_t)arg;
    serve_conn(fd);
    close(fd);
    return NULL;
}

static void *fake_main(void *arg)
{
    while (!atomic_load(&F.stop)) {
        struct pollfd p = {.fd = F.lfd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int fd = accept(F.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        pthread_t t; /* one thread per connection: the long poll blocks */
        if (pthread_create(&t, NULL, conn_main, (void *)(intptr_t)fd) == 0)
            pthread_detach(t);
        else
            close(fd);
    }
    return NULL;
}

static int fake_setup(void **state)
{
    memset(&F, 0, sizeof F);
    pthread_mutex_init(&F.mu, NULL);
    F.events = json_array();
    F.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (bind(F.lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(F.lfd, 64) != 0 ||
        getsockname(F.lfd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    F.port = ntohs(a.sin_port);
    return pthread_create(&F.th, NULL, fake_main, NULL);
}

static int fake_teardown(void **state)
{
    atomic_store(&F.stop, 1);
    pthread_join(F.th, NULL);
    close(F.lfd);
    usleep(150000); /* detached connection threads see stop and end */
    json_decref(F.events);
    return 0;
}

/* --- HTTP ------------------------------------------------------------------------------------- */

static void test_http_bodies(void **state)
{
    http_response_t r;
    char err[160];
    assert_int_equal(http_request("127.0.0.1", F.port, "GET", "/janus/info", NULL, NULL, 2000, NULL,
                                  &r, err, sizeof err),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"janus\":\"server_info\"}");
    http_response_free(&r);
    assert_int_equal(http_request("127.0.0.1", F.port, "GET", "/chunked", NULL, NULL, 2000, NULL,
                                  &r, err, sizeof err),
                     0);
    assert_string_equal(r.body, "hello, world");
    assert_int_equal(r.len, 12);
    http_response_free(&r);
    assert_int_equal(http_request("127.0.0.1", F.port, "GET", "/close", NULL, NULL, 2000, NULL, &r,
                                  err, sizeof err),
                     0);
    assert_int_equal(r.status, 404);
    assert_string_equal(r.body, "no length");
    http_response_free(&r);
}

static void test_http_errors(void **state)
{
    http_response_t r;
    char err[160];
    assert_int_equal(
        http_request("localhost", F.port, "GET", "/", NULL, NULL, 100, NULL, &r, err, sizeof err),
        LG_EINVAL);
    int64_t t0 = ms_now();
    assert_int_equal(http_request("127.0.0.1", F.port, "GET", "/slow", NULL, NULL, 200, NULL, &r,
                                  err, sizeof err),
                     LG_EEXPIRED);
    assert_true(ms_now() - t0 < 1000);
    assert_non_null(strstr(err, "timed out"));
    /* nothing listens on port 1 of loopback: refused at once */
    assert_int_equal(
        http_request("127.0.0.1", 1, "GET", "/", NULL, NULL, 1000, NULL, &r, err, sizeof err),
        LG_EIO);
}

typedef struct {
    http_cancel_t cancel;
    int rc;
} cancel_arg_t;

static void *slow_request(void *arg)
{
    cancel_arg_t *c = arg;
    http_response_t r;
    char err[160];
    c->rc = http_request("127.0.0.1", F.port, "GET", "/slow", NULL, NULL, 5000, &c->cancel, &r, err,
                         sizeof err);
    return NULL;
}

static void test_http_cancel(void **state)
{
    cancel_arg_t c;
    http_cancel_init(&c.cancel);
    pthread_t t;
    int64_t t0 = ms_now();
    assert_int_equal(pthread_create(&t, NULL, slow_request, &c), 0);
    usleep(100000);
    http_cancel(&c.cancel);
    pthread_join(t, NULL);
    assert_int_equal(c.rc, LG_ESTATE);
    assert_true(ms_now() - t0 < 2000);
    /* cancelled for good */
    http_response_t r;
    char err[160];
    assert_int_equal(http_request("127.0.0.1", F.port, "GET", "/janus/info", NULL, NULL, 1000,
                                  &c.cancel, &r, err, sizeof err),
                     LG_ESTATE);
    http_cancel_destroy(&c.cancel);
}

/* --- Janus API -------------------------------------------------------------------------------- */

static bool is_joined(json_t *ev, void *arg)
{
    return strcmp(janus_event_videoroom(ev), "joined") == 0;
}

static void test_janus_session(void **state)
{
    char err[200];
    assert_int_equal(janus_wait_ready("127.0.0.1", F.port, 2000, err, sizeof err), 0);
    janus_client_t *c = NULL;
    assert_int_equal(janus_client_open("127.0.0.1", F.port, 2000, &c, err, sizeof err), 0);
    assert_int_equal(janus_client_session(c), SESSION);
    uint64_t h = 0;
    assert_int_equal(janus_attach(c, "janus.plugin.videoroom", &h, 2000, err, sizeof err), 0);
    assert_int_equal(h, HANDLE);

    /* a synchronous plugin request: success, or the plugin's error inside the success */
    json_t *body = json_pack("{s:s}", "request", "list");
    json_t *data = NULL;
    int code = -1;
    assert_int_equal(janus_message(c, h, body, NULL, 2000, &data, &code, err, sizeof err), 0);
    assert_int_equal(code, 0);
    assert_string_equal(json_string_value(json_object_get(data, "videoroom")), "success");
    json_decref(data);
    json_decref(body);
    body = json_pack("{s:s, s:i}", "request", "create", "room", 7);
    assert_int_equal(janus_message(c, h, body, NULL, 2000, NULL, &code, err, sizeof err), LG_EPERM);
    assert_int_equal(code, 427);
    assert_non_null(strstr(err, "Room exists"));
    json_decref(body);

    /* an asynchronous one: ack, then the result on the long poll */
    body = json_pack("{s:s}", "request", "join");
    assert_int_equal(janus_message(c, h, body, NULL, 2000, &data, NULL, err, sizeof err), 0);
    assert_null(data);
    json_decref(body);
    json_t *ev = janus_take_event(c, h, is_joined, NULL, 3000);
    assert_non_null(ev);
    assert_string_equal(janus_event_kind(ev), "event");
    assert_int_equal(json_integer_value(json_object_get(janus_event_data(ev), "id")), 5);
    json_decref(ev);
    /* the other handle's event is still queued; nothing more for ours */
    assert_null(janus_take_event(c, h, NULL, NULL, 0));
    ev = janus_take_event(c, OTHER, NULL, NULL, 1000);
    assert_non_null(ev);
    json_decref(ev);
    assert_string_equal(janus_client_error(c), "");
    assert_true(atomic_load(&F.polls) >= 1);

    int64_t t0 = ms_now();
    janus_client_close(c, 2000); /* cancels the long poll under way, then destroys */
    assert_true(ms_now() - t0 < 1500);
    assert_int_equal(atomic_load(&F.destroys), 1);
}

static void test_janus_refused(void **state)
{
    char err[200];
    janus_client_t *c = NULL;
    assert_int_equal(janus_client_open("127.0.0.1", 1, 500, &c, err, sizeof err), LG_EIO);
    assert_null(c);
    assert_int_equal(janus_wait_ready("127.0.0.1", 1, 200, err, sizeof err), LG_EEXPIRED);
    assert_non_null(strstr(err, "janus/info"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_http_bodies),   cmocka_unit_test(test_http_errors),
        cmocka_unit_test(test_http_cancel),   cmocka_unit_test(test_janus_session),
        cmocka_unit_test(test_janus_refused),
    };
    return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
