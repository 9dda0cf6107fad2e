/* Unit tests for sfu/dtls: in-memory client <-> server handshakes, SRTP profile choice, fingerprint
 * binding, bad input, retransmission, fragmented flights and ClientHello reassembly. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "certs/certs.h"
#include "sfu/dtls.h"
#include "sfu/lg_error.h"
#include "sfu/srtp_session.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define OUTBOX_MAX 64
#define DGRAM_MAX  2048

/* One side of the conversation: what its session sent and what its callbacks saw. */
typedef struct {
    dtls_session_t s;
    uint8_t out[OUTBOX_MAX][DGRAM_MAX]; /* datagrams sent, not yet delivered */
    size_t out_len[OUTBOX_MAX];
    int out_n;
    int drop;        /* datagrams sent while set are lost */
    int sends;       /* every datagram sent, dropped or not */
    size_t max_sent; /* largest datagram sent */
    int connected;   /* `connected` calls */
    dtls_srtp_keys_t keys;
    dtls_state_t last_state;
    dtls_reason_t last_reason;
    int first_feed_error; /* first non-zero dtls_feed() result while pumping */
} side_t;

typedef struct {
    X509 *cert[3]; /* server, client, a stranger */
    EVP_PKEY *key[3];
    char fp[3][LG_CERTS_FINGERPRINT_MAX];
    dtls_ctx_t *server_ctx;
    dtls_ctx_t *client_ctx;
    side_t server;
    side_t client;
} fx_t;

static void on_send(void *ctx, const uint8_t *p, size_t len)
{
    side_t *side = ctx;
    side->sends++;
    if (len > side->max_sent)
        side->max_sent = len;
    if (side->drop)
        return;
    assert_true(side->out_n < OUTBOX_MAX);
    assert_true(len <= DGRAM_MAX);
    memcpy(side->out[side->out_n], p, len);
    side->out_len[side->out_n++] = len;
}

static void on_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    side_t *side = ctx;
    assert_int_equal(dtls_session_state(&side->s), DTLS_STATE_CONNECTED);
    side->connected++;
    side->keys = *keys;
}

static void on_state(void *ctx, dtls_state_t state, dtls_reason_t reason)
{
    side_t *side = ctx;
    side->last_state = state;
    side->last_reason = reason;
}

/* A fresh ECDSA P-256 self-signed certificate, as browsers and certs/ make them. */
static void make_cert(X509 **cert, EVP_PKEY **key, const char *cn)
{
    *key = EVP_EC_gen("P-256");
    assert_non_null(*key);
    X509 *x = X509_new();
    assert_non_null(x);
    assert_int_equal(X509_set_version(x, 2), 1);
    ASN1_INTEGER_set(X509_get_serialNumber(x), (long)(rand() & 0x7fffffff));
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 30L * 86400);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    assert_int_equal(X509_set_issuer_name(x, name), 1);
    assert_int_equal(X509_set_pubkey(x, *key), 1);
    assert_true(X509_sign(x, *key, EVP_sha256()) > 0);
    *cert = x;
}

static int setup(void **state)
{
    fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    static const char *const cn[3] = {"server", "client", "stranger"};
    for (int i = 0; i < 3; i++) {
        make_cert(&fx->cert[i], &fx->key[i], cn[i]);
        assert_int_equal(lg_certs_fingerprint(fx->cert[i], "sha-256", fx->fp[i], sizeof fx->fp[0]),
                         0);
    }
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fx_t *fx = *state;
    dtls_session_free(&fx->server.s);
    dtls_session_free(&fx->client.s);
    dtls_ctx_free(fx->server_ctx);
    dtls_ctx_free(fx->client_ctx);
    for (int i = 0; i < 3; i++) {
        X509_free(fx->cert[i]);
        EVP_PKEY_free(fx->key[i]);
    }
    free(fx);
    return 0;
}

static void init_side(fx_t *fx, side_t *side, dtls_ctx_t *ctx, const char *expect_fp)
{
    dtls_callbacks_t cb = {on_send, on_connected, on_state, side};
    assert_int_equal(dtls_session_init(&side->s, ctx, &cb), 0);
    assert_int_equal(dtls_session_state(&side->s), DTLS_STATE_NEW);
    if (expect_fp)
        assert_int_equal(dtls_set_remote_fingerprint(&side->s, expect_fp), 0);
}

/* Builds both contexts and sessions; each side expects the other's real fingerprint unless told
 * otherwise (NULL: use the real one). */
static void make_pair(fx_t *fx, const dtls_ctx_opts_t *sopts, const dtls_ctx_opts_t *copts,
                      const char *server_expects, const char *client_expects)
{
    assert_int_equal(dtls_ctx_new(fx->cert[0], fx->key[0], 1, sopts, &fx->server_ctx), 0);
    assert_int_equal(dtls_ctx_new(fx->cert[1], fx->key[1], 0, copts, &fx->client_ctx), 0);
    init_side(fx, &fx->server, fx->server_ctx, server_expects ? server_expects : fx->fp[1]);
    init_side(fx, &fx->client, fx->client_ctx, client_expects ? client_expects : fx->fp[0]);
}

/* Delivers everything `from` sent to `to`, in order. Returns how many datagrams moved. */
static int deliver(side_t *from, side_t *to)
{
    int n = from->out_n;
    for (int i = 0; i < n; i++) {
        int rc = dtls_feed(&to->s, from->out[i], from->out_len[i]);
        if (rc != 0 && to->first_feed_error == 0)
            to->first_feed_error = rc;
    }
    /* feeding never makes `from` send (callbacks do not re-enter), so the outbox is done */
    from->out_n = 0;
    return n;
}

static void pump(fx_t *fx)
{
    for (int round = 0; round < 20; round++) {
        int moved = deliver(&fx->client, &fx->server);
        moved += deliver(&fx->server, &fx->client);
        if (moved == 0)
            return;
    }
    fail_msg("handshake did not settle in 20 rounds");
}

static void assert_keys_mirror(const side_t *a, const side_t *b)
{
    assert_int_equal(a->keys.profile, b->keys.profile);
    assert_int_equal(a->keys.key_len, b->keys.key_len);
    assert_int_equal(a->keys.salt_len, b->keys.salt_len);
    size_t n = a->keys.key_len + a->keys.salt_len;
    assert_memory_equal(a->keys.local, b->keys.remote, n);
    assert_memory_equal(a->keys.remote, b->keys.local, n);
    assert_memory_not_equal(a->keys.local, a->keys.remote, n);
}

static void assert_connected(fx_t *fx, dtls_srtp_profile_t profile)
{
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CONNECTED);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CONNECTED);
    assert_int_equal(fx->server.connected, 1);
    assert_int_equal(fx->client.connected, 1);
    assert_int_equal(fx->server.last_state, DTLS_STATE_CONNECTED);
    assert_int_equal(fx->server.keys.profile, profile);
    assert_int_equal(fx->server.keys.key_len, 16);
    assert_int_equal(fx->server.keys.salt_len, profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14);
    assert_keys_mirror(&fx->server, &fx->client);
    assert_int_equal(fx->server.first_feed_error, 0);
    assert_int_equal(fx->client.first_feed_error, 0);
    assert_int_equal(dtls_next_timeout_ms(&fx->server.s), -1);
    assert_int_equal(dtls_next_timeout_ms(&fx->client.s), -1);
}

static void handshake(fx_t *fx)
{
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CONNECTING);
    assert_true(fx->client.out_n > 0); /* the ClientHello */
    pump(fx);
}

static void sleep_ms(int64_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- tests ----------------------------------------------------------------------------------- */

static void test_handshake_prefers_gcm(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_true(fx->server.max_sent <= DTLS_DEFAULT_MTU);
    assert_true(fx->client.max_sent <= DTLS_DEFAULT_MTU);
    assert_string_equal(dtls_session_detail(&fx->server.s), "");
}

/* Chromium's order: AES-CM first, then both GCMs. The server's order decides. */
static void test_browser_profile_order_gets_gcm(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t copts = {
        .srtp_profiles = "SRTP_AES128_CM_SHA1_80:SRTP_AEAD_AES_256_GCM:SRTP_AEAD_AES_128_GCM"};
    make_pair(fx, NULL, &copts, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_aes_cm_only_client(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t copts = {.srtp_profiles = "SRTP_AES128_CM_SHA1_80"};
    make_pair(fx, NULL, &copts, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AES128_CM_SHA1_80);
}

static void test_no_common_profile(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t sopts = {.srtp_profiles = "SRTP_AES128_CM_SHA1_80"};
    dtls_ctx_opts_t copts = {.srtp_profiles = "SRTP_AEAD_AES_128_GCM"};
    make_pair(fx, &sopts, &copts, NULL, NULL);
    handshake(fx);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_NO_SRTP);
    assert_int_equal(fx->server.first_feed_error, LG_EUNSUPPORTED);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->client.s), DTLS_REASON_NO_SRTP);
    assert_int_equal(fx->server.connected + fx->client.connected, 0);
    assert_string_equal(dtls_reason_str(dtls_session_reason(&fx->server.s)), "no_srtp_profile");
}

static void test_server_fingerprint_mismatch(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, fx->fp[2], NULL); /* the server expects a stranger */
    handshake(fx);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_FINGERPRINT);
    assert_int_equal(fx->server.last_state, DTLS_STATE_FAILED);
    assert_int_equal(fx->server.last_reason, DTLS_REASON_FINGERPRINT);
    assert_int_equal(fx->server.first_feed_error, LG_EFINGERPRINT);
    assert_int_equal(fx->server.connected, 0);
    /* the server withheld its Finished: the client never completes either */
    assert_int_equal(fx->client.connected, 0);
    assert_int_not_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CONNECTED);
    assert_string_equal(dtls_reason_str(DTLS_REASON_FINGERPRINT), "fingerprint_mismatch");
    assert_string_equal(dtls_session_detail(&fx->server.s),
                        "peer certificate does not match the SDP fingerprint");
    /* a failed session ignores further input */
    uint8_t rec[DTLS_RECORD_HEADER_SIZE] = {23, 0xFE, 0xFD};
    assert_int_equal(dtls_feed(&fx->server.s, rec, sizeof rec), LG_ESTATE);
}

/* DTLS 1.2: the server finishes first, so a client that rejects it closes a live session. */
static void test_client_fingerprint_mismatch(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, NULL, fx->fp[2]);
    handshake(fx);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->client.s), DTLS_REASON_FINGERPRINT);
    assert_int_equal(fx->client.connected, 0);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CLOSED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_PEER_CLOSED);
}

static void test_no_fingerprint_set(void **state)
{
    fx_t *fx = *state;
    assert_int_equal(dtls_ctx_new(fx->cert[0], fx->key[0], 1, NULL, &fx->server_ctx), 0);
    assert_int_equal(dtls_ctx_new(fx->cert[1], fx->key[1], 0, NULL, &fx->client_ctx), 0);
    init_side(fx, &fx->server, fx->server_ctx, NULL);
    init_side(fx, &fx->client, fx->client_ctx, fx->fp[0]);
    handshake(fx);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_FINGERPRINT);
    assert_string_equal(dtls_session_detail(&fx->server.s), "no remote fingerprint set");
    assert_int_equal(fx->server.connected + fx->client.connected, 0);
}

/* An SDP fingerprint with a hash nobody should use fails the same way, with its own detail. */
static void test_fingerprint_bad_hash(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, "md5 AB:CD", NULL);
    handshake(fx);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_FINGERPRINT);
    assert_string_equal(dtls_session_detail(&fx->server.s),
                        "SDP fingerprint names an unsupported hash");
    assert_int_equal(fx->server.connected, 0);
}

/* Fingerprints are compared ignoring case, with the hash the SDP names. */
static void test_fingerprint_case_and_hash(void **state)
{
    fx_t *fx = *state;
    char lower[LG_CERTS_FINGERPRINT_MAX], sha384[LG_CERTS_FINGERPRINT_MAX];
    strcpy(lower, fx->fp[1]);
    for (char *p = lower; *p; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    assert_int_equal(lg_certs_fingerprint(fx->cert[0], "sha-384", sha384, sizeof sha384), 0);
    make_pair(fx, NULL, NULL, lower, sha384);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_garbage_input(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, NULL, NULL);
    uint8_t junk[300];
    for (size_t i = 0; i < sizeof junk; i++)
        junk[i] = (uint8_t)(i * 37 + 11);
    junk[0] = 22; /* looks like a handshake record to the demux */
    assert_int_equal(dtls_feed(&fx->server.s, junk, sizeof junk), LG_EMALFORMED);
    assert_int_equal(dtls_feed(&fx->server.s, junk, 5), LG_ETRUNC);
    assert_int_equal(dtls_feed(&fx->server.s, junk, 0), LG_ETRUNC);
    assert_int_equal(dtls_feed(NULL, junk, 1), LG_EINVAL);
    assert_int_equal(dtls_feed(&fx->server.s, NULL, 1), LG_EINVAL);
    /* a record whose length runs past the datagram */
    uint8_t rec[40] = {22, 0xFE, 0xFD, 0, 0, 0, 0, 0, 0, 0, 0, 0, 200};
    assert_int_equal(dtls_feed(&fx->server.s, rec, sizeof rec), LG_ETRUNC);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_NEW);
    assert_int_equal(fx->server.sends, 0);

    /* a well-framed handshake record of nonsense: OpenSSL answers with a fatal alert */
    uint8_t hs[13 + 27] = {22, 0xFE, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0, 0, 27};
    memset(hs + 13, 0xA5, 27);
    assert_int_equal(dtls_feed(&fx->server.s, hs, sizeof hs), LG_ECRYPTO);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_HANDSHAKE);
    assert_int_equal(fx->server.out_n, 1);
    assert_int_equal(fx->server.out[0][0], 21); /* the alert */
    assert_memory_equal(dtls_session_detail(&fx->server.s), "OpenSSL: ", 9);
    /* that alert, received by a client waiting for its ServerHello, fails it too */
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    fx->client.out_n = 0;
    assert_int_equal(deliver(&fx->server, &fx->client), 1);
    assert_int_equal(fx->client.first_feed_error, LG_ECRYPTO);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->client.s), DTLS_REASON_HANDSHAKE);
    assert_memory_equal(dtls_session_detail(&fx->client.s), "peer sent fatal alert: ", 23);

    /* once connected, unauthenticated records are dropped and the session carries on */
    dtls_session_free(&fx->server.s);
    dtls_session_free(&fx->client.s);
    memset(&fx->server, 0, sizeof fx->server);
    memset(&fx->client, 0, sizeof fx->client);
    init_side(fx, &fx->server, fx->server_ctx, fx->fp[1]);
    init_side(fx, &fx->client, fx->client_ctx, fx->fp[0]);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
    uint8_t app[13 + 40] = {23, 0xFE, 0xFD, 0, 1, 0, 0, 0, 0, 0, 9, 0, 40};
    memset(app + 13, 0x5A, 40);
    assert_int_equal(dtls_feed(&fx->server.s, app, sizeof app), 0);
    assert_int_equal(dtls_feed(&fx->client.s, app, sizeof app), 0);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CONNECTED);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CONNECTED);
}

/* The server's first flight is lost; its retransmission timer brings it back. */
static void test_retransmission(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t sopts = {.initial_timeout_ms = DTLS_MIN_TIMEOUT_MS};
    make_pair(fx, &sopts, NULL, NULL, NULL);
    assert_int_equal(dtls_next_timeout_ms(&fx->server.s), -1);
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    fx->server.drop = 1;
    deliver(&fx->client, &fx->server);
    fx->server.drop = 0;
    int lost = fx->server.sends;
    assert_true(lost > 0);
    assert_int_equal(fx->server.out_n, 0);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CONNECTING);

    int64_t ms = dtls_next_timeout_ms(&fx->server.s);
    assert_true(ms >= 0 && ms <= DTLS_MIN_TIMEOUT_MS);
    assert_int_equal(dtls_on_timeout(&fx->server.s), 0); /* early: nothing to do yet (or due) */
    sleep_ms(dtls_next_timeout_ms(&fx->server.s) + 1);
    assert_true(dtls_next_timeout_ms(&fx->server.s) == 0 || fx->server.sends > lost);
    assert_int_equal(dtls_on_timeout(&fx->server.s), 0);
    assert_true(fx->server.sends > lost);
    assert_true(fx->server.out_n > 0);
    pump(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

/* The server's last flight (CCS + Finished) is lost after it connected: the client retransmits
 * its own flight, and the connected server answers it with its last flight again. */
static void test_final_flight_lost(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t copts = {.initial_timeout_ms = DTLS_MIN_TIMEOUT_MS};
    make_pair(fx, NULL, &copts, NULL, NULL);
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    deliver(&fx->client, &fx->server); /* ClientHello */
    deliver(&fx->server, &fx->client); /* ServerHello .. ServerHelloDone */
    fx->server.drop = 1;
    deliver(&fx->client, &fx->server); /* Certificate .. Finished */
    fx->server.drop = 0;
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CONNECTED);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CONNECTING);
    int64_t ms = dtls_next_timeout_ms(&fx->client.s);
    assert_true(ms >= 0);
    sleep_ms(ms + 1);
    assert_int_equal(dtls_on_timeout(&fx->client.s), 0);
    assert_true(fx->client.out_n > 0);
    pump(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

/* The peer never answers: OpenSSL gives up after its retransmissions. */
static void test_handshake_timeout(void **state)
{
    fx_t *fx = *state;
    /* below the minimum: raised to DTLS_MIN_TIMEOUT_MS, so 13 timeouts take about 0.7 s */
    dtls_ctx_opts_t copts = {.initial_timeout_ms = 1, .max_timeout_ms = 2};
    make_pair(fx, NULL, &copts, NULL, NULL);
    fx->client.drop = 1;
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    int rc = 0;
    for (int i = 0; i < 200 && rc == 0; i++) {
        int64_t ms = dtls_next_timeout_ms(&fx->client.s);
        assert_true(ms >= 0);
        sleep_ms(ms);
        rc = dtls_on_timeout(&fx->client.s);
    }
    assert_int_equal(rc, LG_EEXPIRED);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_FAILED);
    assert_int_equal(dtls_session_reason(&fx->client.s), DTLS_REASON_TIMEOUT);
    assert_int_equal(dtls_next_timeout_ms(&fx->client.s), -1);
    assert_true(fx->client.sends >= 12); /* the ClientHello and its retransmissions */
    assert_string_equal(dtls_reason_str(DTLS_REASON_TIMEOUT), "timeout");
}

/* A small MTU on either side: flights are fragmented into many datagrams, none over the MTU, and
 * the peer reassembles them. */
static void test_small_mtu(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t small = {.mtu = 300};
    make_pair(fx, &small, &small, NULL, NULL);
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    assert_int_equal(fx->client.out_n, 1); /* OpenSSL's ClientHello fits in 300 bytes */
    pump(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_true(fx->client.max_sent <= 300);
    assert_true(fx->server.max_sent <= 300);
    assert_true(fx->server.sends >= 3); /* certificate alone is over 300 bytes */
    assert_true(fx->client.sends >= 3);
}

/* ---- the ClientHello split into two handshake fragments, as Chromium sends it ---------------- */

static uint64_t get48(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 6; i++)
        v = v << 8 | p[i];
    return v;
}

static void put48(uint8_t *p, uint64_t v)
{
    for (int i = 5; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

static void put24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

/* Writes record `seq` holding bytes [off, off+n) of the handshake message in `ch` (one record:
 * 13-byte record header, 12-byte handshake header, body). Returns the record's length. */
static size_t fragment(uint8_t *out, const uint8_t *ch, uint64_t seq, size_t off, size_t n)
{
    memcpy(out, ch, 3); /* type, version */
    out[3] = out[4] = 0;
    put48(out + 5, seq);
    out[11] = (uint8_t)((12 + n) >> 8);
    out[12] = (uint8_t)(12 + n);
    uint8_t *hs = out + 13;
    memcpy(hs, ch + 13, 6); /* msg_type, length, message_seq */
    put24(hs + 6, (uint32_t)off);
    put24(hs + 9, (uint32_t)n);
    memcpy(hs + 12, ch + 13 + 12 + off, n);
    return 13 + 12 + n;
}

/* Our split took one more epoch-0 record number than the client used: shift its later
 * unencrypted records so the server's replay window does not drop them as duplicates. */
static void shift_epoch0(side_t *side)
{
    for (int i = 0; i < side->out_n; i++) {
        uint8_t *p = side->out[i];
        size_t left = side->out_len[i];
        while (left >= 13) {
            size_t n = 13 + ((size_t)p[11] << 8 | p[12]);
            if (p[3] == 0 && p[4] == 0)
                put48(p + 5, get48(p + 5) + 1);
            p += n;
            left -= n;
        }
    }
}

static void fragmented_client_hello(fx_t *fx, int reverse)
{
    make_pair(fx, NULL, NULL, NULL, NULL);
    assert_int_equal(dtls_session_start(&fx->client.s), 0);
    assert_int_equal(fx->client.out_n, 1);
    const uint8_t *ch = fx->client.out[0];
    size_t ch_len = fx->client.out_len[0];
    assert_int_equal(ch[0], 22);
    assert_int_equal(ch[13], 1);                                   /* ClientHello */
    assert_int_equal(get48(ch + 5), 0);                            /* record 0 */
    assert_int_equal(13 + ((size_t)ch[11] << 8 | ch[12]), ch_len); /* one whole record */
    size_t body = ch_len - 25, first = body / 2;
    assert_true(body > 100);

    uint8_t a[DGRAM_MAX], b[DGRAM_MAX];
    size_t a_len = fragment(a, ch, 0, 0, first);
    size_t b_len = fragment(b, ch, 1, first, body - first);
    fx->client.out_n = 0;
    if (reverse) {
        assert_int_equal(dtls_feed(&fx->server.s, b, b_len), 0);
        assert_int_equal(fx->server.sends, 0);
        assert_int_equal(dtls_feed(&fx->server.s, a, a_len), 0);
    } else {
        assert_int_equal(dtls_feed(&fx->server.s, a, a_len), 0);
        assert_int_equal(fx->server.sends, 0); /* half a ClientHello: the server waits */
        assert_int_equal(dtls_feed(&fx->server.s, b, b_len), 0);
    }
    assert_true(fx->server.sends > 0); /* reassembled: ServerHello ... ServerHelloDone */
    for (int round = 0; round < 20; round++) {
        int moved = deliver(&fx->server, &fx->client);
        shift_epoch0(&fx->client);
        moved += deliver(&fx->client, &fx->server);
        if (moved == 0)
            break;
    }
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_fragmented_client_hello(void **state)
{
    fragmented_client_hello(*state, 0);
}

static void test_fragmented_client_hello_reversed(void **state)
{
    fragmented_client_hello(*state, 1);
}

/* ---- after the handshake -------------------------------------------------------------------- */

static void test_close_notify(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(dtls_session_close(&fx->client.s), 0);
    assert_int_equal(dtls_session_state(&fx->client.s), DTLS_STATE_CLOSED);
    assert_int_equal(dtls_session_reason(&fx->client.s), DTLS_REASON_NONE);
    assert_true(fx->client.out_n > 0);
    deliver(&fx->client, &fx->server);
    assert_int_equal(dtls_session_state(&fx->server.s), DTLS_STATE_CLOSED);
    assert_int_equal(dtls_session_reason(&fx->server.s), DTLS_REASON_PEER_CLOSED);
    assert_int_equal(fx->server.last_state, DTLS_STATE_CLOSED);
    assert_int_equal(fx->server.first_feed_error, 0);
    assert_int_equal(dtls_session_close(&fx->client.s), 0); /* idempotent */
    assert_string_equal(dtls_state_str(DTLS_STATE_CLOSED), "closed");
    assert_string_equal(dtls_reason_str(DTLS_REASON_PEER_CLOSED), "peer_closed");
}

/* The exported keys work with libsrtp in both directions: what one side protects, the other
 * unprotects. */
static void srtp_both_ways(fx_t *fx, dtls_srtp_profile_t profile)
{
    srtp_session_t srv, cli;
    assert_int_equal(srtp_session_init(&srv, &fx->server.keys), 0);
    assert_int_equal(srtp_session_init(&cli, &fx->client.keys), 0);
    for (int dir = 0; dir < 2; dir++) {
        srtp_session_t *tx = dir ? &srv : &cli, *rx = dir ? &cli : &srv;
        uint8_t pkt[200 + SRTP_SESSION_MAX_OVERHEAD], ref[200];
        for (size_t i = 0; i < sizeof ref; i++)
            ref[i] = (uint8_t)(i ^ 0x3c);
        ref[0] = 0x80, ref[1] = 111, ref[2] = 0, ref[3] = 7;
        memcpy(pkt, ref, sizeof ref);
        size_t len = sizeof ref;
        assert_int_equal(srtp_session_protect_rtp(tx, pkt, &len, sizeof pkt), 0);
        assert_int_equal(len, sizeof ref + (profile == DTLS_SRTP_AEAD_AES_128_GCM ? 16 : 10));
        assert_int_equal(srtp_session_unprotect_rtp(rx, pkt, &len), 0);
        assert_int_equal(len, sizeof ref);
        assert_memory_equal(pkt, ref, sizeof ref);
    }
    srtp_session_free(&srv);
    srtp_session_free(&cli);
}

static void test_keys_drive_srtp_gcm(void **state)
{
    fx_t *fx = *state;
    make_pair(fx, NULL, NULL, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AEAD_AES_128_GCM);
    srtp_both_ways(fx, DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_keys_drive_srtp_aes_cm(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_opts_t sopts = {.srtp_profiles = "SRTP_AES128_CM_SHA1_80"};
    make_pair(fx, &sopts, NULL, NULL, NULL);
    handshake(fx);
    assert_connected(fx, DTLS_SRTP_AES128_CM_SHA1_80);
    srtp_both_ways(fx, DTLS_SRTP_AES128_CM_SHA1_80);
}

/* ---- argument checks and pure helpers ------------------------------------------------------- */

static void test_api_checks(void **state)
{
    fx_t *fx = *state;
    dtls_ctx_t *ctx = NULL;
    dtls_ctx_opts_t bad_mtu = {.mtu = 100};
    dtls_ctx_opts_t bad_profile = {.srtp_profiles = "SRTP_NOT_A_PROFILE"};
    assert_int_equal(dtls_ctx_new(NULL, fx->key[0], 1, NULL, &ctx), LG_EINVAL);
    assert_int_equal(dtls_ctx_new(fx->cert[0], fx->key[0], 1, &bad_mtu, &ctx), LG_EINVAL);
    assert_int_equal(dtls_ctx_new(fx->cert[0], fx->key[0], 1, &bad_profile, &ctx), LG_EUNSUPPORTED);
    assert_int_equal(dtls_ctx_new(fx->cert[0], fx->key[1], 1, NULL, &ctx), LG_ECRYPTO);
    assert_null(ctx);

    make_pair(fx, NULL, NULL, NULL, NULL);
    dtls_callbacks_t no_send = {NULL, on_connected, NULL, NULL};
    dtls_session_t s;
    assert_int_equal(dtls_session_init(&s, fx->server_ctx, &no_send), LG_EINVAL);
    dtls_session_free(&s);
    dtls_session_free(&s); /* twice is fine */
    assert_int_equal(dtls_set_remote_fingerprint(&fx->server.s, "AB:CD"), LG_EINVAL);
    assert_int_equal(dtls_set_remote_fingerprint(&fx->server.s, "sha-256 "), LG_EINVAL);
    char longfp[LG_CERTS_FINGERPRINT_MAX + 10];
    memset(longfp, 'A', sizeof longfp - 1);
    longfp[7] = ' ';
    longfp[sizeof longfp - 1] = '\0';
    assert_int_equal(dtls_set_remote_fingerprint(&fx->server.s, longfp), LG_ENOSPC);
    assert_int_equal(dtls_session_start(&fx->server.s), 0);
    assert_int_equal(dtls_session_start(&fx->server.s), LG_ESTATE);
    assert_int_equal(fx->server.sends, 0); /* a server waits for the ClientHello */
    assert_int_equal(dtls_on_timeout(&fx->server.s), 0);
}

static void test_datagram_check(void **state)
{
    uint8_t two[13 + 2 + 13] = {20, 0xFE, 0xFD, 0,    0, 0, 0, 0, 0, 0, 1, 0, 2, 1,
                                1,  21,   0xFE, 0xFF, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0};
    assert_int_equal(dtls_datagram_check(two, sizeof two), 0);
    assert_int_equal(dtls_datagram_check(two, sizeof two - 1), LG_ETRUNC);
    assert_int_equal(dtls_datagram_check(two, 15), 0);
    assert_int_equal(dtls_datagram_check(two, 14), LG_ETRUNC);
    assert_int_equal(dtls_datagram_check(NULL, 3), LG_EINVAL);
    two[0] = 24; /* heartbeat: not accepted */
    assert_int_equal(dtls_datagram_check(two, sizeof two), LG_EMALFORMED);
    two[0] = 20;
    two[2] = 0xFC; /* DTLS 1.3 version number in a 1.2 header */
    assert_int_equal(dtls_datagram_check(two, sizeof two), LG_EMALFORMED);
    two[2] = 0xFD;
    two[1] = 0x03; /* TLS, not DTLS */
    assert_int_equal(dtls_datagram_check(two, sizeof two), LG_EMALFORMED);

    assert_string_equal(dtls_state_str(DTLS_STATE_NEW), "new");
    assert_string_equal(dtls_state_str((dtls_state_t)99), "unknown");
    assert_string_equal(dtls_reason_str(DTLS_REASON_HANDSHAKE), "handshake_error");
    assert_string_equal(dtls_reason_str((dtls_reason_t)99), "unknown");
    assert_string_equal(dtls_srtp_profile_str(DTLS_SRTP_AEAD_AES_128_GCM), "SRTP_AEAD_AES_128_GCM");
    assert_string_equal(dtls_srtp_profile_str(DTLS_SRTP_AES128_CM_SHA1_80),
                        "SRTP_AES128_CM_SHA1_80");
    assert_string_equal(dtls_srtp_profile_str(DTLS_SRTP_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_prefers_gcm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_browser_profile_order_gets_gcm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_aes_cm_only_client, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_common_profile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_server_fingerprint_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_client_fingerprint_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_fingerprint_set, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_bad_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fingerprint_case_and_hash, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_input, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmission, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_flight_lost, setup, teardown),
        cmocka_unit_test_setup_teardown(test_handshake_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_small_mtu, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragmented_client_hello, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fragmented_client_hello_reversed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_notify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_drive_srtp_gcm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_drive_srtp_aes_cm, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_checks, setup, teardown),
        cmocka_unit_test(test_datagram_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
