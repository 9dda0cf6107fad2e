/* A small blocking WebSocket-over-TLS client (RFC 6455 on OpenSSL and POSIX sockets) with which the
 * integration tests and the bench's load generator join the relay's signaling like a browser. */
#ifndef LG_WS_CLIENT_H
#define LG_WS_CLIENT_H

#include <stddef.h>
#include <stdint.h>

/* Contract
 * - Blocking: every call waits on the socket (bounded by its timeout) and returns when done.
 * - Threading: one thread per client. A wsc_t is used by one thread at a time; different clients
 *   may run on different threads. No global state besides OpenSSL's own.
 * - Errors: functions return 0 or a negative LG_E* code (sfu/lg_error.h); wsc_connect returns NULL
 *   and writes one line naming what failed into `err`.
 * - Text only: the client sends text messages and accepts text messages (a binary message from the
 *   server fails the connection with 1003). Incoming text is not checked for valid UTF-8.
 * - SIGPIPE is never raised: the socket is written with send(MSG_NOSIGNAL). */
typedef struct wsc wsc_t;

/* Largest message wsc_recv accepts (joined fragments); larger ones fail the connection (1009). */
#define WSC_MAX_MESSAGE (1024 * 1024)

/* Name sent as TLS SNI and in the Host header, and checked against the certificate when verifying.
 */
#define WSC_SERVER_NAME "localhost"

/* How long one send (or the close frame of wsc_close) may wait for the socket to take the data. */
#define WSC_SEND_TIMEOUT_MS 10000

/* Connects to wss://host:port/path: TCP (host is an IPv4 or IPv6 literal), TLS with SNI
 * WSC_SERVER_NAME and ALPN "http/1.1" only, then the HTTP/1.1 Upgrade with a random
 * Sec-WebSocket-Key; the answer must be 101 with the matching Sec-WebSocket-Accept and no
 * extension or subprotocol the client did not ask for.
 * ca_file: PEM file of trusted certificates; any certificate in it is a trust anchor (so a
 * self-signed server certificate can be pinned by passing that certificate), and the server
 * certificate must also name WSC_SERVER_NAME. NULL: no verification (dev self-signed certificate).
 * timeout_ms bounds the whole connect (TCP + TLS + HTTP); < 0 waits forever.
 * Returns the client, or NULL with `err` (may be NULL) naming the step and cause, e.g.
 * "WebSocket upgrade of /x: HTTP 403 instead of 101", "TCP connect to 127.0.0.1 port 9: Connection
 * refused", "TLS handshake: certificate verification failed: self-signed certificate". */
wsc_t *wsc_connect(const char *host, uint16_t port, const char *path, const char *ca_file,
                   int timeout_ms, char *err, size_t errlen);

/* Sends text[0..len) as one masked text frame (fresh random mask key per frame). Waits up to
 * WSC_SEND_TIMEOUT_MS for the socket. Returns 0, LG_EINVAL (NULL client, or NULL text with len >
 * 0), LG_ESTATE (connection closed or failed), LG_ENOMEM, LG_ECRYPTO (no random bytes), or LG_EIO
 * (the write failed or timed out; the connection is then failed, close code 1006). */
int wsc_send_text(wsc_t *c, const char *text, size_t len);

/* Waits up to timeout_ms (< 0: forever, 0: only what is already buffered) for one complete text
 * message, joining continuation frames, answering pings with pongs and skipping pongs.
 * On success *text points to the message, NUL-terminated for convenience, and *len is its length
 * (without the NUL). The buffer is owned by the client and valid until the next wsc_recv or
 * wsc_close on it.
 * Returns 0, or:
 * - LG_ENOTFOUND: no complete message before the timeout. The connection stays usable and a
 *   message that was partly received is completed by a later call.
 * - LG_ESTATE: the server sent a close frame (its code and reason are in wsc_close_code/
 *   wsc_close_reason; the client has answered it), or the connection was already closed or failed.
 * - LG_EIO: the connection dropped without a close frame (close code 1006).
 * - LG_EMALFORMED (protocol violation, 1002), LG_EUNSUPPORTED (binary message, 1003), LG_EFULL
 *   (message over WSC_MAX_MESSAGE, 1009): the client sent that close code and the connection is
 *   failed; wsc_close_reason says what was wrong.
 * - LG_EINVAL (NULL argument), LG_ENOMEM.
 * On any error *text is NULL and *len 0. Data already buffered (in the client or inside OpenSSL) is
 * used before the socket is polled. */
int wsc_recv(wsc_t *c, char **text, size_t *len, int timeout_ms);

/* 0 while open. After the server's close frame: its code (1005 if it sent none). After a dropped
 * connection: 1006. After a protocol error the client detected: the code the client sent. */
int wsc_close_code(const wsc_t *c);

/* The close reason matching wsc_close_code: the server's (possibly ""), or the client's own
 * description of a failure. Never NULL; owned by the client. */
const char *wsc_close_reason(const wsc_t *c);

/* The socket, for callers that poll several clients. Readable does not imply a complete message,
 * and a message may already be buffered without the socket being readable: check wsc_pending
 * before polling, and call wsc_recv with timeout 0 when the socket is readable. */
int wsc_fd(const wsc_t *c);

/* 1 if bytes are buffered in the client or inside OpenSSL (wsc_recv may make progress without the
 * socket becoming readable), else 0. */
int wsc_pending(const wsc_t *c);

/* If still open, sends a close frame with `code` (outside 1000..4999 means 1000) best effort, then
 * closes the socket and frees the client and its buffers. Does not wait for the server's answer.
 * Safe with NULL. */
void wsc_close(wsc_t *c, int code);

#endif
