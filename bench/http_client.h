/* A small blocking HTTP/1.1 client over TCP for the bench's JSON control APIs (Janus's HTTP
 * transport): one request per connection, a deadline for the whole exchange, and a way for
 * another thread to cancel a request that blocks (a long poll). */
#ifndef LG_BENCH_HTTP_CLIENT_H
#define LG_BENCH_HTTP_CLIENT_H

/*
 * Contract
 * --------
 * Plain HTTP only, to an IPv4 or IPv6 address literal (the bench never resolves names). Each
 * http_request() opens a connection, sends the request with `Connection: close`, reads the whole
 * response (Content-Length, chunked, or up to the close) and closes. Every step is bounded by
 * timeout_ms, counted from the call; responses over HTTP_MAX_BODY bytes are refused.
 *
 * Threading: no global state; any thread may call at once. An http_cancel_t lets one other thread
 * stop a request under way (http_cancel() shuts its socket down); once cancelled, every later
 * request through it fails at once with LG_ESTATE.
 *
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h), with err naming the cause:
 *   LG_EINVAL  bad argument (host not an address literal)
 *   LG_EIO     connect/send/recv failed, or the server closed before a whole response
 *   LG_EEXPIRED the deadline passed
 *   LG_EMALFORMED the response is not HTTP/1.x
 *   LG_EFULL   the body exceeds HTTP_MAX_BODY
 *   LG_ENOMEM
 *   LG_ESTATE  cancelled
 * Any status code is a success of the exchange: the caller reads out->status.
 */

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_BODY (4u << 20)

typedef struct {
    pthread_mutex_t mu;
    int fd;        /* the socket of the request under way, or -1 */
    int cancelled; /* set by http_cancel() */
} http_cancel_t;

void http_cancel_init(http_cancel_t *c);
void http_cancel_destroy(http_cancel_t *c);
/* Stops the request under way (if any) and every later one. Thread-safe. */
void http_cancel(http_cancel_t *c);

typedef struct {
    int status; /* 200, 404, ... */
    char *body; /* NUL-terminated, malloc'd (free with http_response_free) */
    size_t len; /* body bytes without the NUL */
} http_response_t;

/* method "GET" or "POST"; body may be NULL (no body). content_type is sent when body is given.
 * cancel may be NULL. On success *out holds the response. */
int http_request(const char *host, uint16_t port, const char *method, const char *path,
                 const char *body, const char *content_type, int timeout_ms, http_cancel_t *cancel,
                 http_response_t *out, char *err, size_t errlen);

void http_response_free(http_response_t *r);

#endif
