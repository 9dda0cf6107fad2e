/* Fuzzes the media path's entry point: RFC 4571 deframing (ICE-TCP), demux, STUN validation and
 * ICE-lite authentication, DTLS and SRTP entry, against a worker with one live transport whose
 * credentials the seed corpus knows (ufrag "fzL" / pwd "fuzzpasswordfuzzpassword", peer "fzR"). */
#include <stdlib.h>
#include <string.h>

#include "certs/certs.h"
#include "sfu/packet.h"
#include "sfu/rfc4571.h"
#include "sfu/worker.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/x509.h>

static lg_worker_t *g_w;
static udp_io_t g_udp;
static lg_config_t g_cfg;
static lg_mq_t g_control; /* transport reports land here and are dropped */

/* A throwaway self-signed P-256 certificate for the worker's DTLS context. */
static void make_cert(X509 **cert, EVP_PKEY **key)
{
    *key = EVP_EC_gen("P-256");
    *cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(*cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(*cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(*cert), 86400);
    X509_set_pubkey(*cert, *key);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(*cert), "CN", MBSTRING_ASC,
                               (const unsigned char *)"fuzz", -1, -1, 0);
    X509_set_issuer_name(*cert, X509_get_subject_name(*cert));
    X509_sign(*cert, *key, EVP_sha256());
}

static void setup(void)
{
    g_w = calloc(1, sizeof *g_w);
    lg_config_defaults(&g_cfg);
    g_w->cfg = &g_cfg;
    uv_loop_init(&g_w->loop);
    tt_init(&g_w->transports);
    X509 *cert;
    EVP_PKEY *key;
    make_cert(&cert, &key);
    lg_worker_set_certs(g_w, cert, key);
    X509_free(cert);
    EVP_PKEY_free(key);
    /* Replies queue into the tx slots; the fd is invalid so flushing only counts errors. */
    g_udp.fd = -1;
    g_udp.counters = &g_w->counters;
    g_udp.tx_buf = malloc((size_t)UDP_IO_TX_SLOTS * UDP_IO_TX_BUF);
    lg_mq_init(&g_control, &g_w->loop, NULL, 0, NULL);
    g_w->control = &g_control;
}

static void ensure_transport(void)
{
    uv_run(&g_w->loop, UV_RUN_NOWAIT); /* frees closed transports, drops reports */
    if (g_w->transports.all)
        return;
    transport_params_t p;
    memset(&p, 0, sizeof p);
    p.id = 1;
    strcpy(p.local_ufrag, "fzL");
    strcpy(p.local_pwd, "fuzzpasswordfuzzpassword");
    strcpy(p.remote_ufrag, "fzR");
    strcpy(p.remote_fingerprint, "sha-256 00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:"
                                 "22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF");
    transport_create(g_w, &p, 0);
}

static lg_path_t fuzz_path(void)
{
    lg_path_t path;
    memset(&path, 0, sizeof path);
    path.udp = &g_udp;
    struct sockaddr_in *a = (struct sockaddr_in *)&path.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(5000);
    inet_pton(AF_INET, "127.0.0.1", &a->sin_addr);
    path.addrlen = sizeof *a;
    return path;
}

static int on_frame(void *ctx, uint8_t *frame, size_t len)
{
    lg_path_t path = fuzz_path();
    lg_packet_in(g_w, &path, frame, len);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_w)
        setup();
    ensure_transport();
    if (size < 1)
        return 0;
    uint8_t *copy = malloc(size);
    memcpy(copy, data + 1, size - 1);
    if (data[0] & 1) { /* ICE-TCP: the rest is a byte stream of RFC 4571 frames */
        static rfc4571_deframer_t d;
        rfc4571_deframer_init(&d);
        rfc4571_deframer_feed(&d, copy, size - 1, on_frame, NULL);
    } else { /* UDP: the rest is a sequence of datagrams, each prefixed by one length byte */
        size_t off = 0;
        while (off < size - 1) {
            size_t n = copy[off++];
            if (n > size - 1 - off)
                n = size - 1 - off;
            on_frame(NULL, copy + off, n);
            off += n;
        }
    }
    g_udp.tx_count = 0; /* replies are not sent anywhere */
    free(copy);
    return 0;
}
