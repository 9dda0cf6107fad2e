/* RFC 6455 client on OpenSSL: TCP connect, TLS, HTTP/1.1 Upgrade, then masked frames out and
 * server frames parsed from an input buffer the client owns. */
#include "bench/peer/ws_client.h"
#include "sfu/lg_error.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#define WS_GUID          "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define READ_CHUNK       16384 /* at least one TLS record fits, so OpenSSL rarely keeps bytes */
#define HTTP_HEAD_MAX    8192
#define PATH_MAX_LEN     1024
#define FRAME_HEAD_MAX   14  /* 2 + 8 bytes of length + 4 of mask */
#define CONTROL_MAX      125 /* payload limit of control frames */
#define CLOSE_REASON_MAX 123 /* close payload: 2-byte code + at most 123 bytes of reason */
#define WSC_BIO_TYPE     ((BIO_TYPE_START + 41) | BIO_TYPE_SOURCE_SINK)

enum {
    OP_CONT = 0x0,
    OP_TEXT = 0x1,
    OP_BINARY = 0x2,
    OP_CLOSE = 0x8,
    OP_PING = 0x9,
    OP_PONG = 0xA
};

enum {
    CLOSE_NORMAL = 1000,
    CLOSE_PROTOCOL = 1002,
    CLOSE_UNSUPPORTED = 1003,
    CLOSE_NO_STATUS = 1005,
    CLOSE_ABNORMAL = 1006,
    CLOSE_TOO_BIG = 1009,
};

struct wsc {
    int fd;
    SSL_CTX *ctx;
    SSL *ssl;
    BIO_METHOD *biom;
    int open;       /* 1 from the 101 until a close frame or a failure */
    int tls_broken; /* a fatal TLS or socket error: no close_notify may follow */
    int close_code;
    char close_reason[CLOSE_REASON_MAX + 1];
    uint8_t *in; /* received bytes; in[in_pos..in_len) are not parsed yet */
    size_t in_pos, in_len, in_cap;
    char *msg; /* the message being joined, or the one returned last */
    size_t msg_len, msg_cap;
    int in_message; /* a text frame without FIN arrived: continuations follow */
    int msg_done;   /* msg was returned; the next wsc_recv starts a new one */
};

/* One decoded frame header. */
typedef struct {
    int fin, rsv, opcode, masked;
    uint64_t len; /* payload bytes */
    size_t head;  /* header bytes before the payload, mask key included */
} frame_t;

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* The last OpenSSL error as text, or a description of a plain end of stream. */
static const char *ssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        return "connection closed by the server";
    ERR_error_string_n(e, buf, len);
    return buf;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* -1 means no deadline. */
static int64_t deadline_after(int timeout_ms)
{
    return timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
}

/* Waits until fd is ready for `events` or the deadline passes (a passed deadline still checks
 * once). Returns 0, LG_ENOTFOUND on timeout, LG_EIO if poll fails. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int ms = -1;
        if (deadline >= 0) {
            int64_t left = deadline - now_ms();
            ms = left <= 0 ? 0 : left > INT_MAX ? INT_MAX : (int)left;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, ms);
        if (n > 0)
            return 0; /* POLLERR / POLLHUP too: the next read or write reports it */
        if (n == 0)
            return LG_ENOTFOUND;
        if (errno != EINTR)
            return LG_EIO;
    }
}

/* --- a socket BIO that writes with MSG_NOSIGNAL, so a dead peer never raises SIGPIPE ------- */

static int bio_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_write(b);
    return (int)n;
}

static int bio_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv((int)(intptr_t)BIO_get_data(b), buf, (size_t)len, 0);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        BIO_set_retry_read(b);
    if (n == 0)
        BIO_set_flags(b, BIO_FLAGS_IN_EOF);
    return (int)n;
}

static long bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    if (cmd == BIO_CTRL_FLUSH)
        return 1;
    if (cmd == BIO_CTRL_EOF)
        return BIO_test_flags(b, BIO_FLAGS_IN_EOF) != 0;
    return 0;
}

static int attach_bio(wsc_t *c)
{
    c->biom = BIO_meth_new(WSC_BIO_TYPE, "wsc socket");
    if (!c->biom || !BIO_meth_set_write(c->biom, bio_write) ||
        !BIO_meth_set_read(c->biom, bio_read) || !BIO_meth_set_ctrl(c->biom, bio_ctrl))
        return LG_ENOMEM;
    BIO *b = BIO_new(c->biom);
    if (!b)
        return LG_ENOMEM;
    BIO_set_data(b, (void *)(intptr_t)c->fd);
    BIO_set_init(b, 1);
    SSL_set_bio(c->ssl, b, b); /* the SSL owns the one reference */
    return 0;
}

/* --- TLS byte stream ---------------------------------------------------------------------- */

/* After an SSL_read/SSL_write/SSL_connect result r <= 0: waits for what OpenSSL wants. Returns 0
 * to retry, LG_ENOTFOUND on timeout, LG_EIO on a fatal error. */
static int ssl_wait(wsc_t *c, int r, int64_t deadline)
{
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ)
        return wait_fd(c->fd, POLLIN, deadline);
    if (e == SSL_ERROR_WANT_WRITE)
        return wait_fd(c->fd, POLLOUT, deadline);
    if (e != SSL_ERROR_ZERO_RETURN)
        c->tls_broken = 1;
    return LG_EIO;
}

/* Writes all n bytes. Returns 0, LG_ENOTFOUND (deadline passed) or LG_EIO. */
static int write_all(wsc_t *c, const uint8_t *p, size_t n, int64_t deadline)
{
    while (n > 0) {
        int chunk = n > INT_MAX ? INT_MAX : (int)n;
        ERR_clear_error();
        int w = SSL_write(c->ssl, p, chunk); /* retried with the same arguments, as required */
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        int rc = ssl_wait(c, w, deadline);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Reads at least one byte into the input buffer, compacting and growing it first. OpenSSL is
 * asked before the socket is polled, so bytes it already holds are never left waiting.
 * Returns 0, LG_ENOTFOUND (deadline passed), LG_EIO (closed or failed), LG_ENOMEM. */
static int fill(wsc_t *c, int64_t deadline)
{
    if (c->in_pos > 0) {
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    if (c->in_cap - c->in_len < READ_CHUNK) {
        size_t cap =
            c->in_cap * 2 > c->in_len + READ_CHUNK ? c->in_cap * 2 : c->in_len + READ_CHUNK;
        uint8_t *grown = realloc(c->in, cap);
        if (!grown)
            return LG_ENOMEM;
        c->in = grown;
        c->in_cap = cap;
    }
    for (;;) {
        ERR_clear_error();
        int n = SSL_read(c->ssl, c->in + c->in_len, (int)(c->in_cap - c->in_len));
        if (n > 0) {
            c->in_len += (size_t)n;
            return 0;
        }
        int rc = ssl_wait(c, n, deadline);
        if (rc != 0)
            return rc;
    }
}

/* --- frames (RFC 6455 section 5.2) --------------------------------------------------------
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-------+-+-------------+-------------------------------+
 * |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
 * |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
 * |N|V|V|V|       |S|             |   (if payload len==126/127)   |
 * | |1|2|3|       |K|             |                               |
 * +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
 * |     Extended payload length continued, if payload len == 127  |
 * + - - - - - - - - - - - - - - - +-------------------------------+
 * |                               |Masking-key, if MASK set to 1  |
 * +-------------------------------+-------------------------------+
 * | Masking-key (continued)       |          Payload Data         |
 * +-------------------------------- - - - - - - - - - - - - - - - +
 */

/* Decodes a header from p[0..n). Returns 1 when complete, 0 when more bytes are needed. */
static int frame_parse(const uint8_t *p, size_t n, frame_t *f)
{
    if (n < 2)
        return 0;
    f->fin = p[0] >> 7;
    f->rsv = (p[0] >> 4) & 0x7;
    f->opcode = p[0] & 0x0f;
    f->masked = p[1] >> 7;
    f->len = p[1] & 0x7f;
    f->head = 2;
    if (f->len == 126) {
        if (n < 4)
            return 0;
        f->len = (uint64_t)p[2] << 8 | p[3];
        f->head = 4;
    } else if (f->len == 127) {
        if (n < 10)
            return 0;
        f->len = 0;
        for (int i = 0; i < 8; i++)
            f->len = f->len << 8 | p[2 + i];
        f->head = 10;
    }
    if (f->masked)
        f->head += 4;
    return 1;
}

/* Writes a client frame header (FIN set, masked) for a payload of len bytes into out
 * (FRAME_HEAD_MAX bytes). Returns the header length. */
static size_t frame_header_write(uint8_t *out, int opcode, uint64_t len, const uint8_t mask[4])
{
    size_t h = 0;
    out[h++] = (uint8_t)(0x80 | opcode);
    if (len < 126) {
        out[h++] = (uint8_t)(0x80 | len);
    } else if (len <= 0xffff) {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(len >> 8);
        out[h++] = (uint8_t)len;
    } else {
        out[h++] = 0x80 | 127;
        for (int shift = 56; shift >= 0; shift -= 8)
            out[h++] = (uint8_t)(len >> shift);
    }
    memcpy(out + h, mask, 4);
    return h + 4;
}

/* Checks a server frame header against the client's state. Returns 0, or an LG_E* code with the
 * close code to send and a description. */
static int frame_check(const wsc_t *c, const frame_t *f, int *code, const char **why)
{
    *code = CLOSE_PROTOCOL;
    if (f->rsv)
        *why = "server frame with reserved bits set";
    else if (f->masked)
        *why = "masked frame from the server";
    else if (f->opcode >= OP_CLOSE && f->opcode <= OP_PONG && (!f->fin || f->len > CONTROL_MAX))
        *why = "fragmented or oversized control frame";
    else if ((f->opcode > OP_BINARY && f->opcode < OP_CLOSE) || f->opcode > OP_PONG)
        *why = "unknown opcode";
    else if (f->opcode == OP_CONT && !c->in_message)
        *why = "continuation frame outside a message";
    else if (f->opcode == OP_TEXT && c->in_message)
        *why = "new message inside a fragmented one";
    else if (f->opcode == OP_BINARY) {
        *code = CLOSE_UNSUPPORTED;
        *why = "binary message (only text is supported)";
        return LG_EUNSUPPORTED;
    } else if (f->opcode < OP_CLOSE && f->len > WSC_MAX_MESSAGE - c->msg_len) {
        *code = CLOSE_TOO_BIG;
        *why = "message larger than 1 MiB";
        return LG_EFULL;
    } else
        return 0;
    return LG_EMALFORMED;
}

/* Sends one masked frame, waiting until deadline. Returns 0, LG_ENOMEM, LG_ECRYPTO, LG_EIO (also
 * for a timeout: part of a frame may have gone out). Leaves the connection state alone. */
static int write_frame(wsc_t *c, int opcode, const uint8_t *p, size_t n, int64_t deadline)
{
    uint8_t mask[4];
    if (RAND_bytes(mask, sizeof mask) != 1)
        return LG_ECRYPTO;
    uint8_t *buf = malloc(FRAME_HEAD_MAX + n);
    if (!buf)
        return LG_ENOMEM;
    size_t h = frame_header_write(buf, opcode, n, mask);
    for (size_t i = 0; i < n; i++)
        buf[h + i] = p[i] ^ mask[i & 3];
    int rc = write_all(c, buf, h + n, deadline);
    free(buf);
    return rc == 0 ? 0 : LG_EIO;
}

static void send_close(wsc_t *c, int code, const char *reason)
{
    uint8_t p[2 + CLOSE_REASON_MAX];
    size_t n = reason ? strnlen(reason, CLOSE_REASON_MAX) : 0;
    p[0] = (uint8_t)(code >> 8);
    p[1] = (uint8_t)code;
    if (n)
        memcpy(p + 2, reason, n);
    write_frame(c, OP_CLOSE, p, 2 + n, deadline_after(WSC_SEND_TIMEOUT_MS));
}

/* Ends the connection after an error: tells the server (best effort, not after a dropped
 * connection), records code and reason, and returns err. */
static int fail(wsc_t *c, int err, int code, const char *why)
{
    if (c->open && code != CLOSE_ABNORMAL && !c->tls_broken)
        send_close(c, code, why);
    c->open = 0;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", why);
    return err;
}

/* --- receiving ----------------------------------------------------------------------------- */

/* Ping, pong or close. Returns 0 to go on, LG_ESTATE after a close frame, or an error. */
static int on_control(wsc_t *c, const frame_t *f, const uint8_t *p)
{
    if (f->opcode == OP_PONG)
        return 0;
    if (f->opcode == OP_PING) {
        int rc = write_frame(c, OP_PONG, p, f->len, deadline_after(WSC_SEND_TIMEOUT_MS));
        return rc == LG_EIO ? fail(c, LG_EIO, CLOSE_ABNORMAL, "cannot answer a ping") : rc;
    }
    if (f->len == 1)
        return fail(c, LG_EMALFORMED, CLOSE_PROTOCOL, "close frame with a 1-byte payload");
    /* Answer with the same code (RFC 6455 5.5.1); the server then closes the TCP connection. */
    write_frame(c, OP_CLOSE, p, f->len >= 2 ? 2 : 0, deadline_after(WSC_SEND_TIMEOUT_MS));
    c->open = 0;
    c->close_code = f->len >= 2 ? (p[0] << 8 | p[1]) : CLOSE_NO_STATUS;
    size_t n = f->len >= 2 ? (size_t)f->len - 2 : 0;
    memcpy(c->close_reason, p + 2, n); /* n <= CLOSE_REASON_MAX: frame_check bounded f->len */
    c->close_reason[n] = '\0';
    return LG_ESTATE;
}

/* Text or continuation: appends to the message. Returns 1 when it is complete, 0, LG_ENOMEM. */
static int on_data(wsc_t *c, const frame_t *f, const uint8_t *p)
{
    size_t need = c->msg_len + (size_t)f->len + 1;
    if (need > c->msg_cap) {
        size_t cap = c->msg_cap * 2 > need ? c->msg_cap * 2 : need;
        char *grown = realloc(c->msg, cap);
        if (!grown)
            return LG_ENOMEM;
        c->msg = grown;
        c->msg_cap = cap;
    }
    if (f->len)
        memcpy(c->msg + c->msg_len, p, (size_t)f->len);
    c->msg_len += (size_t)f->len;
    c->msg[c->msg_len] = '\0';
    c->in_message = !f->fin;
    return f->fin ? 1 : 0;
}

/* Consumes complete frames from the input buffer. Returns 1 when a message is complete, 0 when
 * more bytes are needed, or a negative code. */
static int next_frames(wsc_t *c)
{
    while (c->in) {
        const uint8_t *p = c->in + c->in_pos;
        size_t n = c->in_len - c->in_pos;
        frame_t f;
        if (!frame_parse(p, n, &f))
            return 0;
        int code;
        const char *why;
        int rc = frame_check(c, &f, &code, &why);
        if (rc != 0)
            return fail(c, rc, code, why);
        if (n < f.head || n - f.head < f.len)
            return 0;
        c->in_pos += f.head + (size_t)f.len;
        rc = f.opcode >= OP_CLOSE ? on_control(c, &f, p + f.head) : on_data(c, &f, p + f.head);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int wsc_recv(wsc_t *c, char **text, size_t *len, int timeout_ms)
{
    if (text)
        *text = NULL;
    if (len)
        *len = 0;
    if (!c || !text || !len)
        return LG_EINVAL;
    if (c->msg_done) {
        c->msg_len = 0;
        c->msg_done = 0;
    }
    if (!c->open)
        return LG_ESTATE;
    int64_t deadline = deadline_after(timeout_ms);
    for (;;) {
        int rc = next_frames(c);
        if (rc == 1) {
            c->msg_done = 1;
            *text = c->msg;
            *len = c->msg_len;
            return 0;
        }
        if (rc < 0)
            return rc;
        rc = fill(c, deadline);
        if (rc == LG_EIO)
            return fail(c, LG_EIO, CLOSE_ABNORMAL, "connection closed without a close frame");
        if (rc != 0)
            return rc;
    }
}

/* --- connecting ---------------------------------------------------------------------------- */

static int tcp_connect(const char *host, uint16_t port, int64_t deadline, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    socklen_t sl;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        sl = sizeof *v6;
    } else {
        set_err(err, errlen, "host '%s' is not an IPv4 or IPv6 literal", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), one = 1;
    if (fd < 0) {
        set_err(err, errlen, "cannot create a TCP socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    int e = 0;
    if (connect(fd, (struct sockaddr *)&ss, sl) != 0 && errno != EINPROGRESS)
        e = errno;
    else if (wait_fd(fd, POLLOUT, deadline) != 0)
        e = ETIMEDOUT;
    else {
        socklen_t el = sizeof e;
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
            e = errno;
    }
    if (e != 0) {
        set_err(err, errlen, "TCP connect to %s port %u: %s", host, port, strerror(e));
        close(fd);
        return -1;
    }
    return fd;
}

static int tls_setup(wsc_t *c, const char *ca_file, char *err, size_t errlen)
{
    static const unsigned char alpn[] = "\x08http/1.1";
    char why[256];
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx || !SSL_CTX_set_min_proto_version(c->ctx, TLS1_2_VERSION) ||
        SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof alpn - 1) != 0) {
        set_err(err, errlen, "TLS setup: %s", ssl_reason(why, sizeof why));
        return -1;
    }
    if (ca_file) {
        if (SSL_CTX_load_verify_locations(c->ctx, ca_file, NULL) != 1) {
            set_err(err, errlen, "cannot load CA file %s: %s", ca_file,
                    ssl_reason(why, sizeof why));
            return -1;
        }
        /* Every certificate in ca_file is an anchor, even a self-signed leaf with CA:FALSE. */
        X509_VERIFY_PARAM_set_flags(SSL_CTX_get0_param(c->ctx), X509_V_FLAG_PARTIAL_CHAIN);
    }
    SSL_CTX_set_verify(c->ctx, ca_file ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    c->ssl = SSL_new(c->ctx);
    if (!c->ssl || !SSL_set_tlsext_host_name(c->ssl, WSC_SERVER_NAME) ||
        (ca_file && !SSL_set1_host(c->ssl, WSC_SERVER_NAME)) || attach_bio(c) != 0) {
        set_err(err, errlen, "TLS setup: %s", ssl_reason(why, sizeof why));
        return -1;
    }
    return 0;
}

static int tls_handshake(wsc_t *c, int64_t deadline, char *err, size_t errlen)
{
    char why[256];
    for (;;) {
        ERR_clear_error();
        int r = SSL_connect(c->ssl);
        if (r == 1)
            break;
        int rc = ssl_wait(c, r, deadline);
        if (rc == LG_ENOTFOUND) {
            set_err(err, errlen, "TLS handshake: timed out");
            return -1;
        }
        if (rc == 0)
            continue;
        long v = SSL_get_verify_result(c->ssl);
        if (v != X509_V_OK)
            set_err(err, errlen, "TLS handshake: certificate verification failed: %s",
                    X509_verify_cert_error_string(v));
        else
            set_err(err, errlen, "TLS handshake: %s", ssl_reason(why, sizeof why));
        return -1;
    }
    const unsigned char *proto = NULL;
    unsigned plen = 0;
    SSL_get0_alpn_selected(c->ssl, &proto, &plen);
    if (plen != 0 && (plen != 8 || memcmp(proto, "http/1.1", 8) != 0)) {
        set_err(err, errlen, "TLS handshake: server chose ALPN '%.*s' instead of http/1.1",
                (int)plen, (const char *)proto);
        return -1;
    }
    return 0;
}

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + GUID)), 28 characters + NUL. */
static int accept_for_key(const char *key, char out[29])
{
    char buf[128];
    uint8_t md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    int n = snprintf(buf, sizeof buf, "%s%s", key, WS_GUID);
    if (!EVP_Digest(buf, (size_t)n, md, &mdlen, EVP_sha1(), NULL) || mdlen != 20)
        return LG_ECRYPTO;
    EVP_EncodeBlock((unsigned char *)out, md, 20);
    return 0;
}

static int valid_path(const char *path)
{
    if (path[0] != '/' || strlen(path) > PATH_MAX_LEN)
        return 0;
    for (const unsigned char *p = (const unsigned char *)path; *p; p++)
        if (*p <= 0x20 || *p == 0x7f)
            return 0;
    return 1;
}

/* Checks one response header line "Name: value". Returns 0 or -1 with err set; *seen gets bit 1
 * for Upgrade, 2 for Connection, 4 for a matching Sec-WebSocket-Accept. */
static int check_header(char *line, const char *accept, int *seen, char *err, size_t errlen)
{
    char *colon = strchr(line, ':');
    if (!colon)
        return 0;
    *colon = '\0';
    char *v = colon + 1;
    v += strspn(v, " \t");
    for (size_t n = strlen(v); n && (v[n - 1] == ' ' || v[n - 1] == '\t'); n--)
        v[n - 1] = '\0';
    if (strcasecmp(line, "Upgrade") == 0 && strcasecmp(v, "websocket") == 0)
        *seen |= 1;
    else if (strcasecmp(line, "Connection") == 0 && strcasestr(v, "upgrade"))
        *seen |= 2;
    else if (strcasecmp(line, "Sec-WebSocket-Accept") == 0) {
        if (strcmp(v, accept) != 0) {
            set_err(err, errlen, "WebSocket upgrade: wrong Sec-WebSocket-Accept '%s'", v);
            return -1;
        }
        *seen |= 4;
    } else if (strcasecmp(line, "Sec-WebSocket-Extensions") == 0 ||
               strcasecmp(line, "Sec-WebSocket-Protocol") == 0) {
        set_err(err, errlen, "WebSocket upgrade: server sent %s '%s' the client did not offer",
                line, v);
        return -1;
    }
    return 0;
}

/* Checks the response head (NUL-terminated, lines split in place). Returns 0 or -1 with err. */
static int check_response(char *head, const char *path, const char *accept, char *err,
                          size_t errlen)
{
    char *save = NULL;
    char *line = strtok_r(head, "\r\n", &save);
    int status = 0, seen = 0;
    if (!line || sscanf(line, "HTTP/1.%*1[01] %3d", &status) != 1) {
        set_err(err, errlen, "WebSocket upgrade of %s: malformed status line '%.60s'", path,
                line ? line : "");
        return -1;
    }
    if (status != 101) {
        set_err(err, errlen, "WebSocket upgrade of %s: HTTP %d instead of 101", path, status);
        return -1;
    }
    while ((line = strtok_r(NULL, "\r\n", &save)) != NULL)
        if (check_header(line, accept, &seen, err, errlen) != 0)
            return -1;
    if (seen != 7) {
        set_err(err, errlen, "WebSocket upgrade of %s: 101 without %s", path,
                !(seen & 1)   ? "Upgrade: websocket"
                : !(seen & 2) ? "Connection: Upgrade"
                              : "Sec-WebSocket-Accept");
        return -1;
    }
    return 0;
}

/* Reads the response head into the input buffer; frames after it stay there. Returns its length
 * (without the blank line), or -1 with err set. */
static long read_head(wsc_t *c, int64_t deadline, char *err, size_t errlen)
{
    for (;;) {
        uint8_t *end = c->in_len >= 4 ? memmem(c->in, c->in_len, "\r\n\r\n", 4) : NULL;
        if (end && end - c->in <= HTTP_HEAD_MAX) {
            c->in_pos = (size_t)(end - c->in) + 4;
            return (long)(end - c->in);
        }
        if (end || c->in_len > HTTP_HEAD_MAX) {
            set_err(err, errlen, "WebSocket upgrade: response head over %d bytes", HTTP_HEAD_MAX);
            return -1;
        }
        int rc = fill(c, deadline);
        if (rc != 0) {
            set_err(err, errlen, "WebSocket upgrade: %s before the HTTP response",
                    rc == LG_ENOTFOUND ? "timed out" : "connection closed");
            return -1;
        }
    }
}

static int http_upgrade(wsc_t *c, const char *path, uint16_t port, int64_t deadline, char *err,
                        size_t errlen)
{
    uint8_t nonce[16];
    char key[32], accept[29], req[PATH_MAX_LEN + 512], head[HTTP_HEAD_MAX + 1];
    if (RAND_bytes(nonce, sizeof nonce) != 1) {
        set_err(err, errlen, "no random bytes for Sec-WebSocket-Key");
        return -1;
    }
    EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
    if (accept_for_key(key, accept) != 0) {
        set_err(err, errlen, "SHA-1 is not available");
        return -1;
    }
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: %s:%u\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nUser-Agent: legation-wsc\r\n\r\n",
                     path, WSC_SERVER_NAME, port, key);
    if (write_all(c, (const uint8_t *)req, (size_t)n, deadline) != 0) {
        set_err(err, errlen, "WebSocket upgrade: cannot send the request");
        return -1;
    }
    long hl = read_head(c, deadline, err, errlen);
    if (hl < 0)
        return -1;
    memcpy(head, c->in, (size_t)hl);
    head[hl] = '\0';
    return check_response(head, path, accept, err, errlen);
}

static void wsc_free(wsc_t *c)
{
    SSL_free(c->ssl); /* frees the BIO too */
    BIO_meth_free(c->biom);
    SSL_CTX_free(c->ctx);
    if (c->fd >= 0)
        close(c->fd);
    free(c->in);
    free(c->msg);
    free(c);
}

wsc_t *wsc_connect(const char *host, uint16_t port, const char *path, const char *ca_file,
                   int timeout_ms, char *err, size_t errlen)
{
    if (!host || !path || !valid_path(path)) {
        set_err(err, errlen, "bad arguments: host and a request path starting with '/' needed");
        return NULL;
    }
    wsc_t *c = calloc(1, sizeof *c);
    if (!c) {
        set_err(err, errlen, "out of memory");
        return NULL;
    }
    int64_t deadline = deadline_after(timeout_ms);
    c->fd = tcp_connect(host, port, deadline, err, errlen);
    if (c->fd < 0 || tls_setup(c, ca_file, err, errlen) != 0 ||
        tls_handshake(c, deadline, err, errlen) != 0 ||
        http_upgrade(c, path, port, deadline, err, errlen) != 0) {
        wsc_free(c);
        return NULL;
    }
    c->open = 1;
    return c;
}

/* --- the rest of the public API ------------------------------------------------------------ */

int wsc_send_text(wsc_t *c, const char *text, size_t len)
{
    if (!c || (!text && len > 0))
        return LG_EINVAL;
    if (!c->open)
        return LG_ESTATE;
    int rc =
        write_frame(c, OP_TEXT, (const uint8_t *)text, len, deadline_after(WSC_SEND_TIMEOUT_MS));
    return rc == LG_EIO ? fail(c, LG_EIO, CLOSE_ABNORMAL, "write failed or timed out") : rc;
}

int wsc_close_code(const wsc_t *c)
{
    return c ? c->close_code : 0;
}

const char *wsc_close_reason(const wsc_t *c)
{
    return c ? c->close_reason : "";
}

int wsc_fd(const wsc_t *c)
{
    return c ? c->fd : -1;
}

int wsc_pending(const wsc_t *c)
{
    if (!c || !c->in)
        return 0;
    frame_t f;
    size_t n = c->in_len - c->in_pos;
    if (frame_parse(c->in + c->in_pos, n, &f) && n >= f.head && n - f.head >= f.len)
        return 1;
    return SSL_pending(c->ssl) > 0;
}

void wsc_close(wsc_t *c, int code)
{
    if (!c)
        return;
    if (c->open) {
        send_close(c, code < 1000 || code > 4999 ? CLOSE_NORMAL : code, NULL);
        if (!c->tls_broken)
            SSL_shutdown(c->ssl); /* close_notify, best effort: non-blocking, not awaited */
    }
    wsc_free(c);
}
