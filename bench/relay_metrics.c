/* The bench's reader of the relay's /metrics page: one HTTPS GET, and sums over samples. */
#include "bench/relay_metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "sfu/lg_error.h"

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A TCP connection whose every send, receive and connect times out at timeout_ms. */
static int dial(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        snprintf(err, errlen, "metrics: %s is not an IPv4 address", host);
        return LG_EINVAL;
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "metrics: socket: %s", strerror(errno));
        return LG_EIO;
    }
    struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv); /* connect() honours it too */
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        snprintf(err, errlen, "metrics: connect %s:%u: %s", host, port, strerror(errno));
        close(fd);
        return LG_EIO;
    }
    return fd;
}

/* True once buf[0..n) holds the headers and as many body bytes as their Content-Length. */
static int complete(char *buf, size_t n)
{
    buf[n] = '\0';
    const char *end = strstr(buf, "\r\n\r\n");
    const char *cl = end ? strcasestr(buf, "\r\ncontent-length:") : NULL;
    if (!cl || cl > end)
        return 0; /* no length: read to the close */
    size_t body = (size_t)strtoul(cl + 17, NULL, 10);
    return n >= (size_t)(end + 4 - buf) + body;
}

/* Reads the whole response (Content-Length, or up to the close) into a malloc'd buffer. */
static int read_all(SSL *ssl, int64_t deadline, char **out, size_t *len, char *err, size_t errlen)
{
    size_t cap = 64 * 1024, n = 0;
    char *buf = malloc(cap + 1);
    if (!buf)
        return LG_ENOMEM;
    while (now_ms() < deadline) {
        if (n == cap) {
            char *bigger = cap * 2 <= RELAY_METRICS_MAX ? realloc(buf, cap * 2 + 1) : NULL;
            if (!bigger) {
                free(buf);
                snprintf(err, errlen, "metrics: page larger than %u bytes", RELAY_METRICS_MAX);
                return LG_EFULL;
            }
            buf = bigger;
            cap *= 2;
        }
        int r = SSL_read(ssl, buf + n, (int)(cap - n));
        if (r <= 0)
            break; /* close_notify, the close, or a timeout */
        n += (size_t)r;
        if (complete(buf, n))
            break;
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Strips the status line and headers; requires status 200. */
static int take_body(char *resp, size_t n, char **body, size_t *len, char *err, size_t errlen)
{
    char *end = strstr(resp, "\r\n\r\n");
    if (strncmp(resp, "HTTP/1.", 7) != 0 || n < 12 || !end) {
        snprintf(err, errlen, "metrics: not an HTTP response (%zu bytes)", n);
        return LG_EIO;
    }
    if (strncmp(resp + 9, "200", 3) != 0) {
        snprintf(err, errlen, "metrics: status %.3s", resp + 9);
        return LG_EIO;
    }
    end += 4;
    *len = n - (size_t)(end - resp);
    memmove(resp, end, *len + 1);
    *body = resp;
    return 0;
}

int relay_metrics_fetch(const char *host, uint16_t port, int timeout_ms, char **body, size_t *len,
                        char *err, size_t errlen)
{
    int64_t deadline = now_ms() + timeout_ms;
    int fd = dial(host, port, timeout_ms, err, errlen);
    if (fd < 0)
        return fd;
    static const unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = ctx ? SSL_new(ctx) : NULL;
    int rc = LG_ECRYPTO;
    if (!ssl || SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) != 0 || !SSL_set_fd(ssl, fd)) {
        snprintf(err, errlen, "metrics: OpenSSL context");
        goto out;
    }
    rc = LG_EIO;
    if (SSL_connect(ssl) != 1) {
        snprintf(err, errlen, "metrics: TLS handshake with %s:%u failed", host, port);
        goto out;
    }
    char req[160];
    int qn = snprintf(req, sizeof req, "GET /metrics HTTP/1.0\r\nHost: %s:%u\r\n\r\n", host, port);
    if (SSL_write(ssl, req, qn) != qn) {
        snprintf(err, errlen, "metrics: sending the request failed");
        goto out;
    }
    char *resp;
    size_t n;
    rc = read_all(ssl, deadline, &resp, &n, err, errlen);
    if (rc == 0 && (rc = take_body(resp, n, body, len, err, errlen)) != 0)
        free(resp);
out:
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return rc;
}

int relay_metrics_sum(const char *text, size_t len, const char *name, double *out)
{
    size_t nl = strlen(name);
    double sum = 0;
    int found = 0;
    const char *p = text, *end = text + len;
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        if (!eol)
            eol = end;
        size_t ll = (size_t)(eol - p);
        if (ll > nl && memcmp(p, name, nl) == 0 && (p[nl] == ' ' || p[nl] == '{')) {
            const char *v = memchr(p + nl, ' ', ll - nl);
            if (p[nl] == '{') { /* the value follows the closing brace */
                const char *brace = memchr(p + nl, '}', ll - nl);
                v = brace ? memchr(brace, ' ', (size_t)(eol - brace)) : NULL;
            }
            char num[64];
            size_t vl = v ? (size_t)(eol - v) : 0;
            if (v && vl < sizeof num) {
                memcpy(num, v, vl);
                num[vl] = '\0';
                char *e;
                double x = strtod(num, &e);
                if (e != num) {
                    sum += x;
                    found = 1;
                }
            }
        }
        p = eol + 1;
    }
    if (!found)
        return LG_ENOTFOUND;
    *out = sum;
    return 0;
}
