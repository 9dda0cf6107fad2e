/* SRTP AEAD_AES_128_GCM protection and unprotection of RTP (RFC 7714) on keyed OpenSSL contexts. */
#include "sfu/srtp_gcm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "media/wire.h"
#include "sfu/lg_error.h"

#define RTP_HEADER_MIN 12
#define SEQ_MEDIAN     0x8000
#define SEQ_MAX        0x10000

/* RFC 3711 section 4.3.1: the AES-CM PRF keyed with the master key, run over the IV
 * (master_salt XOR (label << 48)) * 2^16. The 96-bit GCM master salt is zero-padded to the 112
 * bits of the AES-CM KDF, as libsrtp does. */
static int kdf(const uint8_t *master_key, const uint8_t *master_salt, uint8_t label, uint8_t *out,
               size_t len)
{
    uint8_t iv[16] = {0}, zero[16] = {0};
    memcpy(iv, master_salt, SRTP_GCM_SALT_LEN);
    iv[7] ^= label;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    int n = 0, ok = c && EVP_EncryptInit_ex(c, EVP_aes_128_ctr(), NULL, master_key, iv) == 1 &&
                    EVP_EncryptUpdate(c, out, &n, zero, (int)len) == 1 && n == (int)len;
    EVP_CIPHER_CTX_free(c);
    return ok ? 0 : LG_ECRYPTO;
}

/* Derives the session key and salt. */
static int derive(const uint8_t *master_key, const uint8_t *master_salt,
                  uint8_t key[SRTP_GCM_KEY_LEN], uint8_t salt[SRTP_GCM_SALT_LEN])
{
    int rc = kdf(master_key, master_salt, 0x00, key, SRTP_GCM_KEY_LEN);
    return rc == 0 ? kdf(master_key, master_salt, 0x02, salt, SRTP_GCM_SALT_LEN) : rc;
}

/* The first packet's cipher context, keyed for encrypting or decrypting (once). */
static int start(const uint8_t key[SRTP_GCM_KEY_LEN], int enc, EVP_CIPHER_CTX **ctx)
{
    if (*ctx)
        return 0;
    EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
    if (!c)
        return LG_ENOMEM;
    if (EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, key, NULL, enc) != 1) {
        EVP_CIPHER_CTX_free(c);
        return LG_ECRYPTO;
    }
    *ctx = c;
    return 0;
}

int srtp_gcm_tx_init(srtp_gcm_tx_t *tx, const uint8_t *master_key, const uint8_t *master_salt,
                     uint32_t window)
{
    if (!tx)
        return LG_EINVAL;
    memset(tx, 0, sizeof *tx);
    if (!master_key || !master_salt || window == 0 || window > SRTP_GCM_MAX_WINDOW)
        return LG_EINVAL;
    int rc = derive(master_key, master_salt, tx->key, tx->salt);
    if (rc != 0) {
        srtp_gcm_tx_free(tx);
        return rc;
    }
    tx->window = window;
    tx->keyed = true;
    return 0;
}

void srtp_gcm_tx_free(srtp_gcm_tx_t *tx)
{
    if (!tx)
        return;
    EVP_CIPHER_CTX_free(tx->ctx);
    free(tx->streams);
    OPENSSL_cleanse(tx, sizeof *tx);
}

int srtp_gcm_rx_init(srtp_gcm_rx_t *rx, const uint8_t *master_key, const uint8_t *master_salt,
                     uint32_t window)
{
    if (!rx)
        return LG_EINVAL;
    memset(rx, 0, sizeof *rx);
    if (!master_key || !master_salt || window == 0 || window > SRTP_GCM_MAX_WINDOW)
        return LG_EINVAL;
    int rc = derive(master_key, master_salt, rx->key, rx->salt);
    if (rc != 0) {
        srtp_gcm_rx_free(rx);
        return rc;
    }
    rx->window = window;
    rx->keyed = true;
    return 0;
}

void srtp_gcm_rx_free(srtp_gcm_rx_t *rx)
{
    if (!rx)
        return;
    EVP_CIPHER_CTX_free(rx->ctx);
    free(rx->streams);
    OPENSSL_cleanse(rx, sizeof *rx);
}

/* The stream of ssrc, created on first sight; NULL when the table is full. */
static srtp_gcm_stream_t *stream_of(srtp_gcm_tx_t *tx, uint32_t ssrc)
{
    if (tx->nstreams > 0 && tx->streams[tx->last].ssrc == ssrc)
        return &tx->streams[tx->last];
    for (int i = 0; i < tx->nstreams; i++)
        if (tx->streams[i].ssrc == ssrc) {
            tx->last = i;
            return &tx->streams[i];
        }
    if (tx->nstreams == SRTP_GCM_MAX_STREAMS)
        return NULL;
    tx->last = tx->nstreams++;
    memset(&tx->streams[tx->last], 0, sizeof tx->streams[tx->last]);
    tx->streams[tx->last].ssrc = ssrc;
    return &tx->streams[tx->last];
}

/* RFC 3711 appendix A, as libsrtp's srtp_rdbx_estimate_index(): the index of seq given the
 * highest index so far; returns seq's distance ahead of it (negative: behind). */
static int32_t estimate_index(uint64_t highest, uint16_t seq, uint64_t *guess)
{
    if (highest <= SEQ_MEDIAN) {
        *guess = seq;
        return (int32_t)seq - (int32_t)highest;
    }
    uint32_t roc = (uint32_t)(highest >> 16);
    uint16_t local = (uint16_t)highest;
    int32_t diff = (int32_t)seq - (int32_t)local;
    if (local < SEQ_MEDIAN && diff > SEQ_MEDIAN) {
        roc--;
        diff -= SEQ_MAX;
    } else if (local >= SEQ_MEDIAN && local - SEQ_MEDIAN > seq) {
        roc++;
        diff += SEQ_MAX;
    }
    *guess = (uint64_t)roc << 16 | seq;
    return diff;
}

/* Replay and sent bitmaps are indexed by packet index mod SRTP_GCM_MAX_WINDOW: index i's bit is
 * valid while i is within the window below the highest index; moving ahead clears the bits it
 * passes. */
static bool bit_of(const uint64_t *bits, uint64_t index)
{
    uint32_t bit = (uint32_t)(index % SRTP_GCM_MAX_WINDOW);
    return (bits[bit / 64] >> (bit % 64)) & 1;
}

static void set_bit(uint64_t *bits, uint64_t index, bool on)
{
    uint32_t bit = (uint32_t)(index % SRTP_GCM_MAX_WINDOW);
    uint64_t mask = (uint64_t)1 << (bit % 64);
    bits[bit / 64] = on ? bits[bit / 64] | mask : bits[bit / 64] & ~mask;
}

/* Records index (delta ahead of *highest if delta > 0) in bits. */
static void mark_index(uint64_t *bits, uint64_t *highest, int32_t delta, uint64_t index)
{
    if (delta >= SRTP_GCM_MAX_WINDOW)
        memset(bits, 0, SRTP_GCM_MAX_WINDOW / 8);
    else
        for (int32_t i = 1; i < delta; i++)
            set_bit(bits, *highest + (uint64_t)i, false);
    if (delta > 0)
        *highest = index;
    set_bit(bits, index, true);
}

/* RTP header length with CSRCs and extension (the AAD), or 0 when it does not fit in len. */
static size_t header_len(const uint8_t *p, size_t len)
{
    size_t n = RTP_HEADER_MIN + 4 * (size_t)(p[0] & 0x0f);
    if (n > len)
        return 0;
    if (p[0] & 0x10) {
        if (len - n < 4)
            return 0;
        n += 4 + 4 * (size_t)wire_get_u16(p + n + 2);
        if (n > len)
            return 0;
    }
    return n;
}

/* RFC 7714 section 8.1: IV = (00 00 || SSRC || ROC || SEQ) XOR salt */
static void make_iv(uint8_t iv[SRTP_GCM_SALT_LEN], const uint8_t salt[SRTP_GCM_SALT_LEN],
                    uint32_t ssrc, uint64_t index)
{
    memset(iv, 0, SRTP_GCM_SALT_LEN);
    wire_put_u32(iv + 2, ssrc);
    wire_put_u32(iv + 6, (uint32_t)(index >> 16));
    wire_put_u16(iv + 10, (uint16_t)index);
    for (int i = 0; i < SRTP_GCM_SALT_LEN; i++)
        iv[i] ^= salt[i];
}

/* The index of the RTP packet in buf on its stream, checked: LG_EFULL (no room for a new SSRC),
 * LG_EREPLAY (older than the window) or LG_EREUSE (protected before, and not a verified resend). */
static int check_index(srtp_gcm_tx_t *tx, const uint8_t *buf, bool resend, srtp_gcm_stream_t **s,
                       uint64_t *index, int32_t *delta)
{
    *s = stream_of(tx, wire_get_u32(buf + 8));
    if (!*s)
        return LG_EFULL;
    *delta = estimate_index((*s)->index, wire_get_u16(buf + 2), index);
    if (*delta <= -(int32_t)tx->window)
        return LG_EREPLAY;
    if (*delta <= 0 && bit_of((*s)->sent, *index) && !resend)
        return LG_EREUSE; /* the same IV for other data would give the GHASH key away */
    return 0;
}

int srtp_gcm_tx_track_init(srtp_gcm_tx_t *tx, uint32_t window)
{
    if (!tx)
        return LG_EINVAL;
    memset(tx, 0, sizeof *tx);
    if (window == 0 || window > SRTP_GCM_MAX_WINDOW)
        return LG_EINVAL;
    tx->window = window;
    tx->tracking = true;
    return 0;
}

int srtp_gcm_tx_claim(srtp_gcm_tx_t *tx, const uint8_t *buf, size_t len, bool resend)
{
    if (!tx || !tx->tracking || !buf)
        return LG_EINVAL;
    if (len < RTP_HEADER_MIN)
        return LG_EMALFORMED;
    if (!tx->streams && (tx->streams = calloc(SRTP_GCM_MAX_STREAMS, sizeof *tx->streams)) == NULL)
        return LG_ENOMEM;
    srtp_gcm_stream_t *s;
    uint64_t index;
    int32_t delta;
    int rc = check_index(tx, buf, resend, &s, &index, &delta);
    if (rc == 0)
        mark_index(s->sent, &s->index, delta, index);
    return rc;
}

int srtp_gcm_tx_protect(srtp_gcm_tx_t *tx, uint8_t *buf, size_t *len, size_t cap, bool resend)
{
    if (!tx || !tx->keyed || !buf || !len || *len > cap)
        return LG_EINVAL;
    if (*len < RTP_HEADER_MIN)
        return LG_EMALFORMED;
    if (cap - *len < SRTP_GCM_TAG_LEN)
        return LG_ENOSPC;
    size_t hdr = header_len(buf, *len);
    if (hdr == 0)
        return LG_EMALFORMED;
    if (!tx->streams) { /* the first packet */
        int rc = start(tx->key, 1, &tx->ctx);
        if (rc != 0)
            return rc;
        if ((tx->streams = calloc(SRTP_GCM_MAX_STREAMS, sizeof *tx->streams)) == NULL)
            return LG_ENOMEM;
    }
    uint32_t ssrc = wire_get_u32(buf + 8);
    srtp_gcm_stream_t *s;
    uint64_t index;
    int32_t delta;
    int rc = check_index(tx, buf, resend, &s, &index, &delta);
    if (rc != 0)
        return rc;
    uint8_t iv[SRTP_GCM_SALT_LEN];
    make_iv(iv, tx->salt, ssrc, index);
    size_t plen = *len - hdr;
    int n = 0;
    if (EVP_EncryptInit_ex(tx->ctx, NULL, NULL, NULL, iv) != 1 ||
        EVP_EncryptUpdate(tx->ctx, NULL, &n, buf, (int)hdr) != 1 ||
        (plen > 0 && EVP_EncryptUpdate(tx->ctx, buf + hdr, &n, buf + hdr, (int)plen) != 1) ||
        EVP_EncryptFinal_ex(tx->ctx, buf + *len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(tx->ctx, EVP_CTRL_GCM_GET_TAG, SRTP_GCM_TAG_LEN, buf + *len) != 1)
        return LG_ECRYPTO;
    mark_index(s->sent, &s->index, delta, index);
    *len += SRTP_GCM_TAG_LEN;
    return 0;
}

/* ---- receiving --------------------------------------------------------------------------- */

static srtp_gcm_rx_stream_t *rx_stream(srtp_gcm_rx_t *rx, uint32_t ssrc)
{
    if (rx->nstreams > 0 && rx->streams[rx->last].ssrc == ssrc)
        return &rx->streams[rx->last];
    for (int i = 0; i < rx->nstreams; i++)
        if (rx->streams[i].ssrc == ssrc) {
            rx->last = i;
            return &rx->streams[i];
        }
    return NULL;
}

int srtp_gcm_rx_unprotect(srtp_gcm_rx_t *rx, uint8_t *buf, size_t *len)
{
    if (!rx || !rx->keyed || !buf || !len)
        return LG_EINVAL;
    if (*len < RTP_HEADER_MIN)
        return LG_EMALFORMED;
    size_t hdr = header_len(buf, *len);
    if (hdr == 0 || *len - hdr < SRTP_GCM_TAG_LEN)
        return LG_EMALFORMED;
    if (!rx->streams) { /* the first packet */
        int rc = start(rx->key, 0, &rx->ctx);
        if (rc != 0)
            return rc;
        if ((rx->streams = calloc(SRTP_GCM_MAX_RX_STREAMS, sizeof *rx->streams)) == NULL)
            return LG_ENOMEM;
    }
    uint32_t ssrc = wire_get_u32(buf + 8);
    uint16_t seq = wire_get_u16(buf + 2);
    srtp_gcm_rx_stream_t *s = rx_stream(rx, ssrc);
    if (!s && rx->nstreams == SRTP_GCM_MAX_RX_STREAMS)
        return LG_EFULL;
    srtp_gcm_rx_stream_t fresh = {.ssrc = ssrc};
    srtp_gcm_rx_stream_t *st = s ? s : &fresh;
    uint64_t index;
    int32_t delta = estimate_index(st->index, seq, &index);
    if (delta <= -(int32_t)rx->window || (delta <= 0 && bit_of(st->seen, index)))
        return LG_EREPLAY;
    uint8_t iv[SRTP_GCM_SALT_LEN];
    make_iv(iv, rx->salt, ssrc, index);
    size_t clen = *len - hdr - SRTP_GCM_TAG_LEN;
    int n = 0;
    if (EVP_DecryptInit_ex(rx->ctx, NULL, NULL, NULL, iv) != 1 ||
        EVP_DecryptUpdate(rx->ctx, NULL, &n, buf, (int)hdr) != 1 ||
        (clen > 0 && EVP_DecryptUpdate(rx->ctx, buf + hdr, &n, buf + hdr, (int)clen) != 1) ||
        EVP_CIPHER_CTX_ctrl(rx->ctx, EVP_CTRL_GCM_SET_TAG, SRTP_GCM_TAG_LEN, buf + hdr + clen) != 1)
        return LG_ECRYPTO;
    if (EVP_DecryptFinal_ex(rx->ctx, buf + hdr + clen, &n) != 1)
        return LG_EINTEGRITY;
    if (!s) { /* authenticated: now it may take a place in the table */
        s = &rx->streams[rx->nstreams];
        *s = fresh;
        rx->last = rx->nstreams++;
    }
    mark_index(s->seen, &s->index, delta, index);
    *len = hdr + clen;
    return 0;
}
