/* A small blocking HTTP/1.1 client for the bench's JSON control APIs: one request per connection,
 * bounded by a deadline, cancellable from another thread. */
#include "bench/http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sfu/lg_error.h"

#define HTTP_MAX_HEADER 16384

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- cancellation ----------------------------------------------------------------------------- */

void http_cancel_init(http_cancel_t *c)
{
    pthread_mutex_init(&c->mu, NULL);
    c->fd = -1;
    c->cancelled = 0;
}

void http_cancel_destroy(http_cancel_t *c)
{
    pthread_mutex_destroy(&c->mu);
}

void http_cancel(http_cancel_t *c)
{
    pthread_mutex_lock(&c->mu);
    c->cancelled = 1;
    if (c->fd >= 0)
        shutdown(c->fd, SHUT_RDWR); /* wakes the poll() of the thread that owns the socket */
    pthread_mutex_unlock(&c->mu);
}

/* Publishes fd as the request under way; fails when already cancelled. */
static int cancel_attach(http_cancel_t *c, int fd)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    int cancelled = c->cancelled;
    if (!cancelled)
        c->fd = fd;
    pthread_mutex_unlock(&c->mu);
    return cancelled ? LG_ESTATE : 0;
}

static void cancel_detach(http_cancel_t *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->fd = -1;
    pthread_mutex_unlock(&c->mu);
}

static int was_cancelled(http_cancel_t *c)
{
    if (!c)
        return 0;
    pthread_mutex_lock(&c->mu);
    int v = c->cancelled;
    pthread_mutex_unlock(&c->mu);
    return v;
}

/* --- one exchange ----------------------------------------------------------------------------- */

typedef struct {
    int fd;
    int64_t deadline;
    http_cancel_t *cancel;
    char *err;
    size_t errlen;
} conn_t;

static int conn_fail(conn_t *c, int rc, const char *what)
{
    if (was_cancelled(c->cancel)) {
        snprintf(c->err, c->errlen, "http: request cancelled");
        return LG_ESTATE;
    }
    snprintf(c->err, c->errlen, "http: %s", what);
    return rc;
}

/* Waits for events on the socket until the deadline. Returns 0, LG_EEXPIRED or LG_EIO. */
static int conn_wait(conn_t *c, short events)
{
    for (int spins = 0; spins < 1000; spins++) {
        int64_t left = c->deadline - now_ms();
        if (left <= 0)
            return conn_fail(c, LG_EEXPIRED, "timed out");
        struct pollfd pfd = {.fd = c->fd, .events = events};
        int rc = poll(&pfd, 1, (int)left);
        if (rc > 0)
            return 0;
        if (rc < 0 && errno != EINTR)
            return conn_fail(c, LG_EIO, strerror(errno));
    }
    return conn_fail(c, LG_EIO, "poll interrupted too often");
}

static int make_addr(const char *host, uint16_t port, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return LG_EINVAL;
}

static int conn_open(conn_t *c, const char *host, uint16_t port)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    if (make_addr(host, port, &ss, &sl) != 0) {
        snprintf(c->err, c->errlen, "http: '%s' is not an IP address literal", host);
        return LG_EINVAL;
    }
    c->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return conn_fail(c, LG_EIO, strerror(errno));
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (cancel_attach(c->cancel, c->fd) != 0)
        return conn_fail(c, LG_ESTATE, "cancelled");
    if (connect(c->fd, (struct sockaddr *)&ss, sl) == 0)
        return 0;
    if (errno != EINPROGRESS)
        return conn_fail(c, LG_EIO, strerror(errno));
    int rc = conn_wait(c, POLLOUT);
    if (rc != 0)
        return rc;
    int soerr = 0;
    socklen_t el = sizeof soerr;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &soerr, &el);
    if (soerr != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "connect to %s:%u: %s", host, port, strerror(soerr));
        return conn_fail(c, LG_EIO, msg);
    }
    return 0;
}

static int conn_send(conn_t *c, const char *buf, size_t len)
{
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return conn_fail(c, LG_EIO, strerror(errno));
        int rc = conn_wait(c, POLLOUT);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* A growing receive buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} buf_t;

static int buf_reserve(buf_t *b, size_t more)
{
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 8192;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p)
        return LG_ENOMEM;
    b->p = p;
    b->cap = cap;
    return 0;
}

/* Reads more bytes into b. Returns the count (0 at EOF) or a negative code. */
static int conn_read(conn_t *c, buf_t *b)
{
    if (b->len >= HTTP_MAX_BODY + HTTP_MAX_HEADER) {
        snprintf(c->err, c->errlen, "http: response over %u bytes", HTTP_MAX_BODY);
        return LG_EFULL;
    }
    if (buf_reserve(b, 16384) != 0) {
        snprintf(c->err, c->errlen, "http: out of memory");
        return LG_ENOMEM;
    }
    for (int spins = 0; spins < 1000; spins++) {
        ssize_t n = recv(c->fd, b->p + b->len, b->cap - b->len - 1, 0);
        if (n >= 0) {
            if (n == 0 && was_cancelled(c->cancel))
                return conn_fail(c, LG_ESTATE, "cancelled");
            b->len += (size_t)n;
            b->p[b->len] = '\0';
            return (int)n;
        }
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return conn_fail(c, LG_EIO, strerror(errno));
        int rc = conn_wait(c, POLLIN);
        if (rc != 0)
            return rc;
    }
    return conn_fail(c, LG_EIO, "recv interrupted too often");
}

/* --- response parsing
 * ----------------------------------------------------------------------------- */

/* The value of header `name` in the header block [h, end), or NULL; *vlen gets its length. */
static const char *find_header(const char *h, const char *end, const char *name, size_t *vlen)
{
    size_t nl = strlen(name);
    for (const char *line = h; line < end;) {
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        if (!eol)
            eol = end;
        if ((size_t)(eol - line) > nl && strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (v < eol && (*v == ' ' || *v == '\t'))
                v++;
            const char *ve = eol;
            while (ve > v && (ve[-1] == '\r' || ve[-1] == ' '))
                ve--;
            *vlen = (size_t)(ve - v);
            return v;
        }
        line = eol + 1;
    }
    return NULL;
}

/* Decodes a chunked body in place. Returns 1 when complete (len set), 0 when more is needed, or
 * LG_EMALFORMED. */
static int dechunk(char *body, size_t avail, size_t *len)
{
    size_t in = 0, out = 0;
    for (int chunks = 0; chunks < 100000; chunks++) {
        const char *eol = memchr(body + in, '\n', avail - in);
        if (!eol)
            return 0;
        char *endp;
        unsigned long n = strtoul(body + in, &endp, 16);
        if (endp == body + in)
            return LG_EMALFORMED;
        size_t data = (size_t)(eol - body) + 1;
        if (n == 0) {
            *len = out;
            return 1; /* trailers are ignored */
        }
        if (n > HTTP_MAX_BODY || data + n + 2 > avail)
            return n > HTTP_MAX_BODY ? LG_EMALFORMED : 0;
        memmove(body + out, body + data, n);
        out += n;
        in = data + n + 2;
        /* keep the decoded prefix in place: re-run from scratch on more data */
        if (in > avail)
            return 0;
    }
    return LG_EMALFORMED;
}

typedef struct {
    int status;
    size_t header_len;
    long content_length; /* -1: none */
    int chunked;
} head_t;

static int parse_head(const char *p, size_t header_len, head_t *h)
{
    int major, minor, status;
    if (sscanf(p, "HTTP/%d.%d %d", &major, &minor, &status) != 3 || major != 1)
        return LG_EMALFORMED;
    h->status = status;
    h->header_len = header_len;
    h->content_length = -1;
    h->chunked = 0;
    size_t vl;
    const char *v = find_header(p, p + header_len, "Content-Length", &vl);
    if (v)
        h->content_length = strtol(v, NULL, 10);
    v = find_header(p, p + header_len, "Transfer-Encoding", &vl);
    if (v && vl >= 7 && strncasecmp(v, "chunked", 7) == 0)
        h->chunked = 1;
    if (h->content_length > (long)HTTP_MAX_BODY)
        return LG_EFULL;
    return 0;
}

/* Reads the whole response into *out. */
static int read_response(conn_t *c, http_response_t *out)
{
    buf_t b = {0};
    head_t h = {0};
    int have_head = 0, rc = 0;
    for (int reads = 0; reads < 100000; reads++) {
        int n = conn_read(c, &b);
        if (n < 0) {
            rc = n;
            break;
        }
        if (!have_head) {
            char *e = b.len ? strstr(b.p, "\r\n\r\n") : NULL;
            if (!e && b.len > HTTP_MAX_HEADER) {
                rc = conn_fail(c, LG_EMALFORMED, "response header too long");
                break;
            }
            if (e) {
                if ((rc = parse_head(b.p, (size_t)(e - b.p) + 4, &h)) != 0) {
                    conn_fail(c, rc, "not an HTTP/1.x response");
                    break;
                }
                have_head = 1;
            }
        }
        if (have_head) {
            size_t avail = b.len - h.header_len;
            char *body = b.p + h.header_len;
            size_t blen = 0;
            int done = 0;
            if (h.chunked) {
                /* decode a copy so that a partial body is retried from the raw bytes */
                char *tmp = malloc(avail + 1);
                if (!tmp) {
                    rc = LG_ENOMEM;
                    break;
                }
                memcpy(tmp, body, avail);
                int d = dechunk(tmp, avail, &blen);
                if (d < 0) {
                    free(tmp);
                    rc = conn_fail(c, LG_EMALFORMED, "bad chunked encoding");
                    break;
                }
                if (d == 1) {
                    memcpy(body, tmp, blen);
                    done = 1;
                }
                free(tmp);
            } else if (h.content_length >= 0 && avail >= (size_t)h.content_length) {
                blen = (size_t)h.content_length;
                done = 1;
            } else if (h.content_length < 0 && n == 0) {
                blen = avail;
                done = 1;
            }
            if (done) {
                memmove(b.p, body, blen);
                b.p[blen] = '\0';
                out->status = h.status;
                out->body = b.p;
                out->len = blen;
                return 0;
            }
        }
        if (n == 0) {
            rc = conn_fail(c, LG_EIO, "server closed the connection before a whole response");
            break;
        }
    }
    free(b.p);
    return rc ? rc : conn_fail(c, LG_EIO, "response never completed");
}

int http_request(const char *host, uint16_t port, const char *method, const char *path,
                 const char *body, const char *content_type, int timeout_ms, http_cancel_t *cancel,
                 http_response_t *out, char *err, size_t errlen)
{
    char dummy[8];
    if (!err) {
        err = dummy;
        errlen = sizeof dummy;
    }
    if (!host || !method || !path || !out) {
        snprintf(err, errlen, "http: NULL argument");
        return LG_EINVAL;
    }
    memset(out, 0, sizeof *out);
    conn_t c = {.fd = -1,
                .deadline = now_ms() + timeout_ms,
                .cancel = cancel,
                .err = err,
                .errlen = errlen};
    size_t blen = body ? strlen(body) : 0;
    char head[1024];
    int hl = snprintf(head, sizeof head,
                      "%s %s HTTP/1.1\r\nHost: %s:%u\r\nConnection: close\r\nAccept: "
                      "application/json\r\n",
                      method, path, host, port);
    if (body && hl > 0 && (size_t)hl < sizeof head)
        hl += snprintf(head + hl, sizeof head - (size_t)hl,
                       "Content-Type: %s\r\nContent-Length: %zu\r\n",
                       content_type ? content_type : "application/json", blen);
    if (hl > 0 && (size_t)hl < sizeof head)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
    if (hl < 0 || (size_t)hl >= sizeof head) {
        snprintf(err, errlen, "http: request line too long");
        return LG_EINVAL;
    }
    int rc = conn_open(&c, host, port);
    if (rc == 0)
        rc = conn_send(&c, head, (size_t)hl);
    if (rc == 0 && blen)
        rc = conn_send(&c, body, blen);
    if (rc == 0)
        rc = read_response(&c, out);
    cancel_detach(cancel);
    if (c.fd >= 0)
        close(c.fd);
    return rc;
}

void http_response_free(http_response_t *r)
{
    if (!r)
        return;
    free(r->body);
    r->body = NULL;
    r->len = 0;
}
