/* libwebsockets glue: one vhost, TLS only, one protocol whose HTTP callback routes by path.
 * Facts this relies on (lws 4.1 on a foreign uv loop) are in docs/OPERATIONS.md. */
#include "signaling/http_server.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <errno.h>
#include <unistd.h>

#define HTTP_BODY_MAX (256 * 1024)

struct http_server {
    struct lws_context *ctx;
    http_server_opts_t opts;
    uv_loop_t *loop;
};

#define WS_DEFAULT_MAX (64 * 1024)
#define WS_QUEUE_MAX   (1024 * 1024)

typedef struct ws_out {
    struct ws_out *next;
    size_t len;
    uint8_t buf[]; /* LWS_PRE bytes of headroom, then the message */
} ws_out_t;

struct ws_conn {
    struct lws *wsi;
    http_server_t *srv;
    void *session;
    ws_out_t *head, *tail;
    size_t queued;
    char *rx;
    size_t rxlen;
    int closing;
    int close_sent; /* our close frame is out: wait for the client's, reading and dropping */
    int close_code;
    char close_reason[96];
};

/* lws's per-connection user data, shared by the HTTP and WebSocket roles of the protocol. */
typedef struct {
    char *body; /* HTTP response being written, owned */
    size_t len;
    ws_conn_t *ws; /* set once upgraded */
} http_session_t;

static const struct {
    const char *ext;
    const char *mime;
} MIME[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".json", "application/json"},
    {".png", "image/png"},
    {".svg", "image/svg+xml"},
    {".ico", "image/x-icon"},
};

static const char *mime_for(const char *path)
{
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof MIME / sizeof MIME[0]; i++)
        if (strcmp(dot, MIME[i].ext) == 0)
            return MIME[i].mime;
    return "application/octet-stream";
}

/* Only [A-Za-z0-9._-/] and no ".." segment: the web root cannot be escaped. */
static int safe_path(const char *uri)
{
    if (uri[0] != '/' || strstr(uri, ".."))
        return 0;
    for (const char *p = uri; *p; p++)
        if (!(*p == '/' || *p == '.' || *p == '-' || *p == '_' || (*p >= '0' && *p <= '9') ||
              (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
            return 0;
    return 1;
}

static int send_headers(struct lws *wsi, unsigned status, const char *type, size_t len)
{
    uint8_t buf[LWS_PRE + 1024];
    uint8_t *start = buf + LWS_PRE, *p = start, *end = buf + sizeof buf - 1;
    if (lws_add_http_common_headers(wsi, status, type, len, &p, end))
        return -1;
    static const char nosniff[] = "nosniff";
    if (lws_add_http_header_by_name(wsi, (const uint8_t *)"x-content-type-options:",
                                    (const uint8_t *)nosniff, sizeof nosniff - 1, &p, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    return 0;
}

/* Queues a complete in-memory response; the body goes out in HTTP_WRITEABLE. */
static int respond(struct lws *wsi, http_session_t *hs, unsigned status, const char *type,
                   char *body, size_t len)
{
    free(hs->body);
    hs->body = body;
    hs->len = len;
    if (send_headers(wsi, status, type, len))
        return -1;
    lws_callback_on_writable(wsi);
    return 0;
}

static int respond_text(struct lws *wsi, http_session_t *hs, unsigned status, const char *text)
{
    char *copy = strdup(text);
    return copy ? respond(wsi, hs, status, "text/plain; charset=utf-8", copy, strlen(copy)) : -1;
}

static int serve_route(struct lws *wsi, http_session_t *hs, const http_route_t *r)
{
    char *buf = malloc(HTTP_BODY_MAX);
    const char *type = "text/plain; charset=utf-8";
    long n = buf ? r->handler(r->ctx, buf, HTTP_BODY_MAX, &type) : -1;
    if (n < 0) {
        free(buf);
        return respond_text(wsi, hs, 500, "internal error\n");
    }
    return respond(wsi, hs, 200, type, buf, (size_t)n);
}

static int serve_file(struct lws *wsi, http_session_t *hs, const http_server_t *s, const char *uri)
{
    char path[1024];
    struct stat st;
    if (!safe_path(uri))
        return respond_text(wsi, hs, 400, "bad path\n");
    snprintf(path, sizeof path, "%s%s%s", s->opts.web_root, uri,
             uri[strlen(uri) - 1] == '/' ? "index.html" : "");
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return respond_text(wsi, hs, 404, "not found\n");
    int rc = lws_serve_http_file(wsi, path, mime_for(path), NULL, 0);
    return rc < 0 ? -1 : 0; /* lws completes the transaction itself */
}

static int on_http(struct lws *wsi, http_session_t *hs, const char *uri)
{
    struct lws_vhost *vh = lws_get_vhost(wsi);
    const http_server_t *s = lws_vhost_user(vh);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return respond_text(wsi, hs, 405, "method not allowed\n");
    for (int i = 0; i < s->opts.nroutes; i++)
        if (strcmp(uri, s->opts.routes[i].path) == 0)
            return serve_route(wsi, hs, &s->opts.routes[i]);
    return serve_file(wsi, hs, s, uri);
}

static int on_writeable(struct lws *wsi, http_session_t *hs)
{
    if (!hs->body)
        return 0;
    size_t n = hs->len;
    uint8_t *buf = malloc(LWS_PRE + n + 1);
    if (!buf)
        return -1;
    memcpy(buf + LWS_PRE, hs->body, n);
    int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_HTTP_FINAL);
    free(buf);
    free(hs->body);
    hs->body = NULL;
    if (w < (int)n)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int ws_conn_send(ws_conn_t *c, const char *text, size_t len)
{
    if (c->closing)
        return LG_ESTATE;
    if (c->queued + len > WS_QUEUE_MAX)
        return LG_EFULL;
    ws_out_t *o = malloc(sizeof *o + LWS_PRE + len);
    if (!o)
        return LG_ENOMEM;
    o->next = NULL;
    o->len = len;
    memcpy(o->buf + LWS_PRE, text, len);
    if (c->tail)
        c->tail->next = o;
    else
        c->head = o;
    c->tail = o;
    c->queued += len;
    lws_callback_on_writable(c->wsi);
    return 0;
}

void ws_conn_close(ws_conn_t *c, int code, const char *reason)
{
    if (c->closing)
        return;
    c->closing = 1;
    c->close_code = code;
    snprintf(c->close_reason, sizeof c->close_reason, "%s", reason ? reason : "");
    lws_callback_on_writable(c->wsi);
}

static int confirm_upgrade(struct lws *wsi, const char *proto)
{
    const http_server_t *s = lws_vhost_user(lws_get_vhost(wsi));
    char uri[64] = "";
    lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI);
    if (!s->opts.ws || !proto || strcmp(proto, "websocket") != 0 || strcmp(uri, "/ws") != 0) {
        lws_return_http_status(wsi, 403, NULL);
        return 1;
    }
    return 0;
}

static int ws_established(struct lws *wsi, http_session_t *hs)
{
    http_server_t *s = lws_vhost_user(lws_get_vhost(wsi));
    memset(hs, 0, sizeof *hs);
    ws_conn_t *c = calloc(1, sizeof *c);
    if (!c)
        return -1;
    c->wsi = wsi;
    c->srv = s;
    hs->ws = c;
    char remote[64] = "";
    lws_get_peer_simple(wsi, remote, sizeof remote);
    c->session = s->opts.ws->on_open(s->opts.ws->ctx, c, remote);
    return c->session ? 0 : -1;
}

static int ws_receive(struct lws *wsi, ws_conn_t *c, const void *in, size_t len)
{
    size_t max = c->srv->opts.ws_max_message ? c->srv->opts.ws_max_message : WS_DEFAULT_MAX;
    if (lws_frame_is_binary(wsi)) {
        static const char msg[] = "binary messages are not part of the protocol";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, (uint8_t *)msg, sizeof msg - 1);
        return -1;
    }
    if (c->rxlen + len > max) {
        static const char msg[] = "message too large";
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (uint8_t *)msg, sizeof msg - 1);
        return -1;
    }
    char *grown = realloc(c->rx, c->rxlen + len + 1);
    if (!grown)
        return -1;
    c->rx = grown;
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    c->rx[c->rxlen] = '\0';
    size_t n = c->rxlen;
    c->rxlen = 0;
    if (!c->closing)
        c->srv->opts.ws->on_message(c->srv->opts.ws->ctx, c->session, c->rx, n);
    return 0;
}

static int ws_writeable(struct lws *wsi, ws_conn_t *c)
{
    ws_out_t *o = c->head;
    if (o) {
        int w = lws_write(wsi, o->buf + LWS_PRE, o->len, LWS_WRITE_TEXT);
        c->head = o->next;
        if (!c->head)
            c->tail = NULL;
        c->queued -= o->len;
        free(o);
        if (w < 0)
            return -1;
        if (c->head || c->closing)
            lws_callback_on_writable(wsi);
        return 0;
    }
    if (c->closing) {
        /* lws 4.1 only sends the frame lws_close_reason() prepares when closing from RECEIVE;
         * from WRITEABLE the close frame is written explicitly: 2-byte code, then the reason. */
        uint8_t buf[LWS_PRE + 125];
        size_t n = strnlen(c->close_reason, 123);
        buf[LWS_PRE] = (uint8_t)(c->close_code >> 8);
        buf[LWS_PRE + 1] = (uint8_t)c->close_code;
        memcpy(buf + LWS_PRE + 2, c->close_reason, n);
        if (c->close_sent)
            return 0;
        lws_write(wsi, buf + LWS_PRE, n + 2, (enum lws_write_protocol)4 /* LWS_WRITE_CLOSE */);
        /* Closing the socket now would make the kernel answer whatever the client is still
         * sending with a reset, which can discard our close frame before the client reads it
         * (it then sees 1006, not our code). RFC 6455 7.1.1: wait for the client's close frame
         * (lws then closes), reading and dropping messages meanwhile, at most 2 s. */
        c->close_sent = 1;
        lws_set_timeout(wsi, PENDING_TIMEOUT_CLOSE_ACK, 2);
        return 0;
    }
    return 0;
}

static void ws_closed(http_session_t *hs)
{
    ws_conn_t *c = hs->ws;
    if (!c)
        return;
    hs->ws = NULL;
    if (c->session)
        c->srv->opts.ws->on_close(c->srv->opts.ws->ctx, c->session);
    while (c->head) {
        ws_out_t *next = c->head->next;
        free(c->head);
        c->head = next;
    }
    free(c->rx);
    free(c);
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    http_session_t *hs = user;
    switch (reason) {
    case LWS_CALLBACK_HTTP:
        return on_http(wsi, hs, (const char *)in);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return on_writeable(wsi, hs);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return lws_http_transaction_completed(wsi) ? -1 : 0;
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        return confirm_upgrade(wsi, (const char *)in);
    case LWS_CALLBACK_ESTABLISHED:
        return ws_established(wsi, hs);
    case LWS_CALLBACK_RECEIVE:
        return hs->ws ? ws_receive(wsi, hs->ws, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return hs->ws ? ws_writeable(wsi, hs->ws) : 0;
    case LWS_CALLBACK_CLOSED:
        if (hs)
            ws_closed(hs);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (hs) {
            free(hs->body);
            hs->body = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols PROTOCOLS[] = {
    /* rx_buffer_size is lws's chunk size, not a limit: ws_receive enforces the limit. */
    {"legation", callback, sizeof(http_session_t), 16384, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void lws_log_bridge(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    lg_log(level == LLL_ERR ? LG_LOG_WARN : LG_LOG_DEBUG, "lws: %.*s", (int)n, line);
}

/* lws only says "bind failed" in its log: probe the address first for a message naming it. */
static int probe_bind(const char *host, uint16_t port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t sl;
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        sl = sizeof *v4;
    } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        sl = sizeof *v6;
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IP address", host);
        return LG_EINVAL;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot create a TCP socket: %s", strerror(errno));
        return LG_EIO;
    }
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    int rc = bind(fd, (struct sockaddr *)&ss, sl);
    int e = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s", host, port, strerror(e));
        return LG_EIO;
    }
    return 0;
}

static int create_vhost(http_server_t *s, char *err, size_t errlen)
{
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.vhost_name = "legation";
    vi.port = s->opts.port;
    vi.iface = s->opts.host;
    vi.protocols = PROTOCOLS;
    vi.ssl_cert_filepath = s->opts.cert_path;
    vi.ssl_private_key_filepath = s->opts.key_path;
    /* DO_SSL_GLOBAL_INIT must be repeated on the vhost, or it silently serves plain text. */
    vi.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_LIBUV |
                 LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(s->opts.host, ':') == NULL)
        vi.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
    vi.user = s;
    if (!lws_create_vhost(s->ctx, &vi)) {
        snprintf(err, errlen, "cannot start HTTPS on %s port %u (certificate %s, key %s)",
                 s->opts.host, s->opts.port, s->opts.cert_path, s->opts.key_path);
        return LG_EIO;
    }
    return 0;
}

int http_server_start(http_server_t **out, uv_loop_t *loop, const http_server_opts_t *opts,
                      char *err, size_t errlen)
{
    *out = NULL;
    int rc = probe_bind(opts->host, opts->port, err, errlen);
    if (rc != 0)
        return rc;
    http_server_t *s = calloc(1, sizeof *s);
    if (!s)
        return LG_ENOMEM;
    s->opts = *opts;
    s->loop = loop;
    lws_set_log_level(LLL_ERR | LLL_WARN, lws_log_bridge);
    struct lws_context_creation_info ci;
    memset(&ci, 0, sizeof ci);
    void *loops[1] = {loop};
    ci.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT |
                 LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    ci.foreign_loops = loops;
    ci.pcontext = &s->ctx;
    ci.port = CONTEXT_PORT_NO_LISTEN;
    s->ctx = lws_create_context(&ci);
    if (!s->ctx) {
        snprintf(err, errlen,
                 "cannot create the libwebsockets context (is the package "
                 "libwebsockets-evlib-uv installed?)");
        free(s);
        return LG_EIO;
    }
    rc = create_vhost(s, err, errlen);
    if (rc != 0) {
        http_server_stop(s);
        uv_run(loop, UV_RUN_NOWAIT);
        http_server_free(s);
        return rc;
    }
    *out = s;
    return 0;
}

void http_server_stop(http_server_t *s)
{
    if (s && s->ctx)
        lws_context_destroy(s->ctx);
}

void http_server_free(http_server_t *s)
{
    if (!s)
        return;
    /* With a foreign loop the second destroy frees the context and NULLs s->ctx. */
    if (s->ctx)
        lws_context_destroy(s->ctx);
    if (s->ctx)
        LG_WARN("libwebsockets context was not freed");
    free(s);
}
