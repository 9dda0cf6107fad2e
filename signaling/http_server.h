/* HTTPS (and, for signaling, WebSocket) server on the control thread's uv loop, built on
 * libwebsockets: static files of the web client, /healthz, /metrics, and routes the caller adds. */
#ifndef LG_HTTP_SERVER_H
#define LG_HTTP_SERVER_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct http_server http_server_t;

/* A dynamic route: writes a response body into buf (capacity cap) and returns its length, or -1
 * for 500. *content_type is a static string. Runs on the control thread. */
typedef long (*http_route_fn)(void *ctx, char *buf, size_t cap, const char **content_type);

typedef struct {
    const char *path; /* exact match, e.g. "/metrics" */
    http_route_fn handler;
    void *ctx;
} http_route_t;

/* One WebSocket connection on /ws. Owned by the server; valid from on_open until on_close
 * returns. Control thread only. */
typedef struct ws_conn ws_conn_t;

/* WebSocket events. on_open returns the caller's session pointer for this connection (NULL
 * refuses it). on_message receives one complete text message (fragments joined, at most
 * ws_max_message bytes; larger ones close the connection with 1009). on_close is called exactly
 * once per opened connection, after which conn is gone. */
typedef struct {
    void *(*on_open)(void *ctx, ws_conn_t *conn, const char *remote);
    void (*on_message)(void *ctx, void *session, const char *text, size_t len);
    void (*on_close)(void *ctx, void *session);
    void *ctx;
} http_ws_handlers_t;

typedef struct {
    const char *host; /* IP literal to bind */
    uint16_t port;
    const char *cert_path; /* PEM certificate chain: the server speaks TLS only */
    const char *key_path;
    const char *web_root; /* directory served for every other GET path; index.html for "/" */
    const http_route_t *routes;
    int nroutes;
    const http_ws_handlers_t *ws; /* NULL: no WebSocket endpoint */
    size_t ws_max_message;        /* bytes; 0 means 64 KiB */
} http_server_opts_t;

/* Queues a text message (copied) for the connection. Returns 0, LG_ESTATE once closing,
 * LG_EFULL when over 1 MiB is queued (a peer that does not read), LG_ENOMEM. */
int ws_conn_send(ws_conn_t *c, const char *text, size_t len);

/* Sends what is queued, then a close frame with code (e.g. 1000, 1008) and reason; the
 * connection's on_close follows. */
void ws_conn_close(ws_conn_t *c, int code, const char *reason);

/* Creates the lws context on `loop` and binds. Returns 0, or a negative LG_E* code with err
 * naming the cause (port in use, bad certificate). opts and its strings must outlive the server. */
int http_server_start(http_server_t **out, uv_loop_t *loop, const http_server_opts_t *opts,
                      char *err, size_t errlen);

/* First half of shutdown (call from a handler on the loop): stops accepting and closes lws's uv
 * handles so uv_run can return. */
void http_server_stop(http_server_t *s);

/* Second half, after uv_run returned: frees the context. Run the loop once more afterwards to
 * drain close callbacks. Safe with NULL. */
void http_server_free(http_server_t *s);

#endif
