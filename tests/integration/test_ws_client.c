/* The bench's WebSocket client against the relay's own HTTPS/WebSocket server (echo, lengths,
 * close codes, refused paths, certificate checks) and against a scripted TLS peer that sends
 * pings, fragments and protocol errors the real server never sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "bench/peer/ws_client.h"
#include "certs/certs.h"
#include "sfu/lg_error.h"
#include "signaling/http_server.h"

#include <arpa/inet.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#define LOCALHOST "127.0.0.1"
#define TIMEOUT   10000

/* --- the relay's server on its own loop thread --------------------------------------------- */

typedef struct {
    char dir[64]; /* mkdtemp state dir holding the generated certificates */
    lg_certs_t certs;
    uv_loop_t loop;
    uv_async_t stop;
    uv_thread_t thread;
    uv_sem_t ready;
    http_server_t *srv;
    http_ws_handlers_t ws;
    http_server_opts_t opts;
    int start_rc;
    int loop_close_rc;
    char err[256];
} server_t;

static void *on_open(void *ctx, ws_conn_t *conn, const char *remote)
{
    return conn; /* the session is the connection: on_message echoes through it */
}

static void on_message(void *ctx, void *session, const char *text, size_t len)
{
    ws_conn_t *conn = session;
    if (len == 8 && memcmp(text, "close-me", 8) == 0)
        ws_conn_close(conn, 1008, "policy");
    else
        ws_conn_send(conn, text, len);
}

static void on_close(void *ctx, void *session) {}

static void on_stop(uv_async_t *a)
{
    server_t *s = a->data;
    http_server_stop(s->srv);
    uv_close((uv_handle_t *)&s->stop, NULL);
}

/* Loop thread: starts the server on a free random port, reports, runs until asked to stop. */
static void server_main(void *arg)
{
    server_t *s = arg;
    s->start_rc = LG_EIO;
    for (int i = 0; i < 50 && s->start_rc != 0; i++) {
        s->opts.port = (uint16_t)(20000 + rand() % 40000);
        s->start_rc = http_server_start(&s->srv, &s->loop, &s->opts, s->err, sizeof s->err);
    }
    if (s->start_rc == 0) {
        uv_async_init(&s->loop, &s->stop, on_stop);
        s->stop.data = s;
    }
    uv_sem_post(&s->ready);
    if (s->start_rc == 0)
        uv_run(&s->loop, UV_RUN_DEFAULT);
    http_server_free(s->srv);
    uv_run(&s->loop, UV_RUN_DEFAULT);
    s->loop_close_rc = uv_loop_close(&s->loop);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(p);
}

static int group_setup(void **state)
{
    server_t *s = calloc(1, sizeof *s);
    assert_non_null(s);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(s->dir, sizeof s->dir, "/tmp/lg-itest-wsc-XXXXXX");
    assert_non_null(mkdtemp(s->dir));
    lg_certs_config_t cfg = {.state_dir = s->dir};
    if (lg_certs_load(&s->certs, &cfg, s->err, sizeof s->err) != 0)
        fail_msg("certificates: %s", s->err);
    s->ws = (http_ws_handlers_t){on_open, on_message, on_close, s};
    s->opts = (http_server_opts_t){
        .host = LOCALHOST,
        .cert_path = s->certs.tls_cert_path,
        .key_path = s->certs.tls_key_path,
        .web_root = s->dir,
        .ws = &s->ws,
        .ws_max_message = WSC_MAX_MESSAGE,
    };
    assert_int_equal(uv_loop_init(&s->loop), 0);
    assert_int_equal(uv_sem_init(&s->ready, 0), 0);
    assert_int_equal(uv_thread_create(&s->thread, server_main, s), 0);
    uv_sem_wait(&s->ready);
    if (s->start_rc != 0)
        fail_msg("server: %s", s->err);
    *state = s;
    return 0;
}

static int group_teardown(void **state)
{
    server_t *s = *state;
    uv_async_send(&s->stop);
    uv_thread_join(&s->thread);
    uv_sem_destroy(&s->ready);
    assert_int_equal(s->loop_close_rc, 0);
    lg_certs_free(&s->certs);
    nftw(s->dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
    free(s);
    return 0;
}

static wsc_t *connect_ok(const server_t *s, const char *ca_file)
{
    char err[256] = "";
    wsc_t *c = wsc_connect(LOCALHOST, s->opts.port, "/ws", ca_file, TIMEOUT, err, sizeof err);
    if (!c)
        fail_msg("connect: %s", err);
    return c;
}

static void expect_echo(wsc_t *c, const char *text, size_t n)
{
    char *got = NULL;
    size_t len = 0;
    assert_int_equal(wsc_send_text(c, text, n), 0);
    assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), 0);
    assert_int_equal(len, n);
    assert_true(memcmp(got, text, n) == 0);
    assert_int_equal(got[len], '\0');
}

/* Echoes one message of n bytes on a fresh connection. */
static void echo_size(const server_t *s, size_t n)
{
    char *text = malloc(n + 1);
    assert_non_null(text);
    for (size_t i = 0; i < n; i++)
        text[i] = (char)('a' + i % 26);
    wsc_t *c = connect_ok(s, NULL);
    assert_true(wsc_fd(c) >= 0);
    expect_echo(c, text, n);
    assert_int_equal(wsc_close_code(c), 0);
    wsc_close(c, 1000);
    free(text);
}

static void test_echo_small(void **state)
{
    echo_size(*state, 5);
}

static void test_echo_16bit_length(void **state)
{
    echo_size(*state, 200);
}

static void test_echo_64bit_length(void **state)
{
    echo_size(*state, 70000);
}

/* The length boundaries of both encodings, and the largest message the client accepts. */
static void test_echo_length_boundaries(void **state)
{
    static const size_t sizes[] = {1, 125, 126, 65535, 65536, WSC_MAX_MESSAGE};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        echo_size(*state, sizes[i]);
}

/* Many messages sent before any is read come back in order: most are read from the client's
 * buffer, not the socket. */
static void test_pipelined_messages(void **state)
{
    wsc_t *c = connect_ok(*state, NULL);
    char buf[32];
    for (int i = 0; i < 50; i++) {
        int n = snprintf(buf, sizeof buf, "message %d", i);
        assert_int_equal(wsc_send_text(c, buf, (size_t)n), 0);
    }
    for (int i = 0; i < 50; i++) {
        char *got;
        size_t len;
        snprintf(buf, sizeof buf, "message %d", i);
        assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), 0);
        assert_string_equal(got, buf);
    }
    wsc_close(c, 1000);
}

static void test_recv_timeout_keeps_connection(void **state)
{
    wsc_t *c = connect_ok(*state, NULL);
    char *got = (char *)"x";
    size_t len = 1;
    assert_int_equal(wsc_recv(c, &got, &len, 50), LG_ENOTFOUND);
    assert_null(got);
    assert_int_equal(len, 0);
    assert_int_equal(wsc_recv(c, &got, &len, 0), LG_ENOTFOUND);
    assert_int_equal(wsc_pending(c), 0);
    expect_echo(c, "still here", 10);
    wsc_close(c, 1000);
}

static void test_server_close_1008(void **state)
{
    wsc_t *c = connect_ok(*state, NULL);
    char *got;
    size_t len;
    expect_echo(c, "before", 6);
    assert_int_equal(wsc_send_text(c, "close-me", 8), 0);
    assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), LG_ESTATE);
    assert_null(got);
    assert_int_equal(wsc_close_code(c), 1008);
    assert_string_equal(wsc_close_reason(c), "policy");
    assert_int_equal(wsc_recv(c, &got, &len, 0), LG_ESTATE);
    assert_int_equal(wsc_send_text(c, "late", 4), LG_ESTATE);
    wsc_close(c, 1000);
}

static void test_wrong_path_refused(void **state)
{
    const server_t *s = *state;
    char err[256] = "";
    assert_null(wsc_connect(LOCALHOST, s->opts.port, "/other", NULL, TIMEOUT, err, sizeof err));
    if (!strstr(err, "HTTP 403 instead of 101"))
        fail_msg("error does not name the 403: %s", err);
}

static void test_verify_with_generated_cert(void **state)
{
    const server_t *s = *state;
    wsc_t *c = connect_ok(s, s->certs.tls_cert_path);
    expect_echo(c, "verified", 8);
    wsc_close(c, 1000);
}

static void test_verify_with_wrong_ca_fails(void **state)
{
    const server_t *s = *state;
    char err[256] = "";
    assert_null(wsc_connect(LOCALHOST, s->opts.port, "/ws", s->certs.dtls_cert_path, TIMEOUT, err,
                            sizeof err));
    if (!strstr(err, "certificate verification failed"))
        fail_msg("error does not name the certificate: %s", err);
    assert_null(wsc_connect(LOCALHOST, s->opts.port, "/ws", "/nonexistent/ca.pem", TIMEOUT, err,
                            sizeof err));
    assert_non_null(strstr(err, "/nonexistent/ca.pem"));
}

/* A socket bound but not listening: the kernel refuses connections to its port. */
static void test_closed_port_fails(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, LOCALHOST, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char err[256] = "";
    assert_null(wsc_connect(LOCALHOST, ntohs(a.sin_port), "/ws", NULL, TIMEOUT, err, sizeof err));
    close(fd);
    if (!strstr(err, "TCP connect to 127.0.0.1") || !strstr(err, "refused"))
        fail_msg("error does not name the refused connect: %s", err);
}

/* A listener that never answers: the TLS handshake hits the timeout. */
static void test_handshake_timeout(void **state)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, LOCALHOST, &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    char err[256] = "";
    assert_null(wsc_connect(LOCALHOST, ntohs(a.sin_port), "/ws", NULL, 200, err, sizeof err));
    close(fd);
    if (!strstr(err, "TLS handshake: timed out"))
        fail_msg("error does not name the timeout: %s", err);
}

static void test_bad_arguments(void **state)
{
    char err[256] = "";
    char *got;
    size_t len;
    assert_null(wsc_connect("localhost", 443, "/ws", NULL, TIMEOUT, err, sizeof err));
    assert_non_null(strstr(err, "not an IPv4 or IPv6 literal"));
    assert_null(wsc_connect(LOCALHOST, 443, "ws", NULL, TIMEOUT, err, sizeof err));
    assert_null(wsc_connect(LOCALHOST, 443, "/a b", NULL, TIMEOUT, NULL, 0));
    assert_int_equal(wsc_send_text(NULL, "x", 1), LG_EINVAL);
    assert_int_equal(wsc_recv(NULL, &got, &len, 0), LG_EINVAL);
    assert_int_equal(wsc_fd(NULL), -1);
    assert_int_equal(wsc_pending(NULL), 0);
    assert_string_equal(wsc_close_reason(NULL), "");
    wsc_close(NULL, 1000);
}

/* --- a scripted TLS peer ------------------------------------------------------------------- */

typedef struct {
    const server_t *srv; /* for its certificate */
    int lfd;
    uint16_t port;
    const uint8_t *script; /* frames sent right behind the 101, in the same TLS record */
    size_t script_len;
    const uint8_t *after; /* sent after the client's first frame (NULL: nothing) */
    size_t after_len;
    int nframes; /* client frames read, at most 2 */
    int opcode[2];
    char payload[2][130];
    size_t len[2];
    uv_thread_t thread;
} fake_t;

static void accept_for_key(const char *key, char out[29])
{
    char buf[128];
    uint8_t md[EVP_MAX_MD_SIZE];
    int n = snprintf(buf, sizeof buf, "%s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    EVP_Digest(buf, (size_t)n, md, NULL, EVP_sha1(), NULL);
    EVP_EncodeBlock((unsigned char *)out, md, 20);
}

static int read_n(SSL *ssl, uint8_t *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        int r = SSL_read(ssl, p + got, (int)(n - got));
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* Reads one masked client frame with a short payload into slot i. */
static int read_client_frame(fake_t *f, SSL *ssl, int i)
{
    uint8_t h[2], mask[4], p[130];
    if (read_n(ssl, h, 2) != 0 || !(h[1] & 0x80) || (h[1] & 0x7f) > 125 ||
        read_n(ssl, mask, 4) != 0 || read_n(ssl, p, h[1] & 0x7f) != 0)
        return -1;
    f->opcode[i] = h[0] & 0x0f;
    f->len[i] = h[1] & 0x7f;
    for (size_t k = 0; k < f->len[i]; k++)
        f->payload[i][k] = (char)(p[k] ^ mask[k & 3]);
    return 0;
}

static void fake_main(void *arg)
{
    fake_t *f = arg;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    SSL_CTX_use_certificate_chain_file(ctx, f->srv->certs.tls_cert_path);
    SSL_CTX_use_PrivateKey_file(ctx, f->srv->certs.tls_key_path, SSL_FILETYPE_PEM);
    int fd = accept(f->lfd, NULL, NULL);
    SSL *ssl = SSL_new(ctx);
    SSL_set_fd(ssl, fd);
    char req[4096] = "";
    size_t n = 0;
    if (SSL_accept(ssl) == 1) {
        while (n < sizeof req - 1 && !strstr(req, "\r\n\r\n")) {
            int r = SSL_read(ssl, req + n, (int)(sizeof req - 1 - n));
            if (r <= 0)
                break;
            n += (size_t)r;
            req[n] = '\0';
        }
    }
    req[n] = '\0';
    char key[64] = "", acc[29], resp[512 + 1024];
    const char *k = strstr(req, "Sec-WebSocket-Key: ");
    if (k)
        sscanf(k + 19, "%63[^\r]", key);
    accept_for_key(key, acc);
    int hl = snprintf(resp, 512,
                      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                      "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
                      acc);
    memcpy(resp + hl, f->script, f->script_len);
    SSL_write(ssl, resp, hl + (int)f->script_len);
    if (read_client_frame(f, ssl, 0) == 0) {
        f->nframes = 1;
        if (f->after)
            SSL_write(ssl, f->after, (int)f->after_len);
        if (f->after && read_client_frame(f, ssl, 1) == 0)
            f->nframes = 2;
    }
    SSL_free(ssl);
    close(fd);
    SSL_CTX_free(ctx);
}

static void fake_start(fake_t *f, const server_t *s, const uint8_t *script, size_t script_len)
{
    memset(f, 0, sizeof *f);
    f->srv = s;
    f->script = script;
    f->script_len = script_len;
    f->lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t al = sizeof a;
    inet_pton(AF_INET, LOCALHOST, &a.sin_addr);
    assert_int_equal(bind(f->lfd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(f->lfd, 4), 0);
    assert_int_equal(getsockname(f->lfd, (struct sockaddr *)&a, &al), 0);
    f->port = ntohs(a.sin_port);
    assert_int_equal(uv_thread_create(&f->thread, fake_main, f), 0);
}

static void fake_join(fake_t *f)
{
    uv_thread_join(&f->thread);
    close(f->lfd);
}

static wsc_t *fake_connect(const fake_t *f)
{
    char err[256] = "";
    wsc_t *c = wsc_connect(LOCALHOST, f->port, "/ws", NULL, TIMEOUT, err, sizeof err);
    if (!c)
        fail_msg("connect to the scripted peer: %s", err);
    return c;
}

/* A ping, a message in two fragments with a pong between them, and a second message, all in
 * the record of the 101: the ping is answered, the fragments joined, the second message is
 * buffered; then the peer closes with 1001 and the client echoes the code. */
static void test_ping_fragments_and_close(void **state)
{
    static const uint8_t script[] = {
        0x89, 2, 'p', '1',      /* ping "p1" */
        0x01, 3, 'h', 'e', 'l', /* text, FIN clear */
        0x8a, 0,                /* unsolicited pong, between fragments */
        0x80, 2, 'l', 'o',      /* continuation, FIN */
        0x81, 3, 't', 'w', 'o', /* second message */
    };
    static const uint8_t bye[] = {0x88, 5, 0x03, 0xe9, 'b', 'y', 'e'}; /* close 1001 "bye" */
    fake_t f;
    fake_start(&f, *state, script, sizeof script);
    f.after = bye;
    f.after_len = sizeof bye;
    wsc_t *c = fake_connect(&f);
    char *got;
    size_t len;
    assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), 0);
    assert_int_equal(len, 5);
    assert_string_equal(got, "hello");
    assert_int_equal(wsc_pending(c), 1);
    assert_int_equal(wsc_recv(c, &got, &len, 0), 0);
    assert_string_equal(got, "two");
    assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), LG_ESTATE);
    assert_int_equal(wsc_close_code(c), 1001);
    assert_string_equal(wsc_close_reason(c), "bye");
    wsc_close(c, 1000);
    fake_join(&f);
    assert_int_equal(f.nframes, 2);
    assert_int_equal(f.opcode[0], 0xa); /* pong with the ping's payload */
    assert_int_equal(f.len[0], 2);
    assert_memory_equal(f.payload[0], "p1", 2);
    assert_int_equal(f.opcode[1], 0x8); /* the close, same code */
    assert_int_equal(f.len[1], 2);
    assert_memory_equal(f.payload[1], "\x03\xe9", 2);
}

/* A frame the client must refuse: recv returns `err`, the client sends close `code`. */
static void expect_refused(void **state, const uint8_t *script, size_t n, int err, int code)
{
    fake_t f;
    fake_start(&f, *state, script, n);
    wsc_t *c = fake_connect(&f);
    char *got;
    size_t len;
    assert_int_equal(wsc_recv(c, &got, &len, TIMEOUT), err);
    assert_int_equal(wsc_close_code(c), code);
    assert_true(wsc_close_reason(c)[0] != '\0');
    assert_int_equal(wsc_recv(c, &got, &len, 0), LG_ESTATE);
    wsc_close(c, 1000);
    fake_join(&f);
    assert_int_equal(f.nframes, 1);
    assert_int_equal(f.opcode[0], 0x8);
    assert_true(f.len[0] >= 2);
    assert_int_equal(((uint8_t)f.payload[0][0] << 8) | (uint8_t)f.payload[0][1], code);
}

static void test_binary_refused(void **state)
{
    static const uint8_t s[] = {0x82, 1, 0};
    expect_refused(state, s, sizeof s, LG_EUNSUPPORTED, 1003);
}

static void test_masked_frame_refused(void **state)
{
    static const uint8_t s[] = {0x81, 0x81, 1, 2, 3, 4, 'x' ^ 1};
    expect_refused(state, s, sizeof s, LG_EMALFORMED, 1002);
}

static void test_too_large_refused(void **state)
{
    /* A header announcing 1 MiB + 1: refused before any payload arrives. */
    static const uint8_t s[] = {0x81, 127, 0, 0, 0, 0, 0, 0x10, 0, 1};
    expect_refused(state, s, sizeof s, LG_EFULL, 1009);
}

static void test_stray_continuation_refused(void **state)
{
    static const uint8_t s[] = {0x80, 1, 'x'};
    expect_refused(state, s, sizeof s, LG_EMALFORMED, 1002);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_echo_small),
        cmocka_unit_test(test_echo_16bit_length),
        cmocka_unit_test(test_echo_64bit_length),
        cmocka_unit_test(test_echo_length_boundaries),
        cmocka_unit_test(test_pipelined_messages),
        cmocka_unit_test(test_recv_timeout_keeps_connection),
        cmocka_unit_test(test_server_close_1008),
        cmocka_unit_test(test_wrong_path_refused),
        cmocka_unit_test(test_verify_with_generated_cert),
        cmocka_unit_test(test_verify_with_wrong_ca_fails),
        cmocka_unit_test(test_closed_port_fails),
        cmocka_unit_test(test_handshake_timeout),
        cmocka_unit_test(test_bad_arguments),
        cmocka_unit_test(test_ping_fragments_and_close),
        cmocka_unit_test(test_binary_refused),
        cmocka_unit_test(test_masked_frame_refused),
        cmocka_unit_test(test_too_large_refused),
        cmocka_unit_test(test_stray_continuation_refused),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
