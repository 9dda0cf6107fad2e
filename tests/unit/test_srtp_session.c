/* Unit tests for sfu/srtp_session: known-answer vectors for both profiles, round trips, tampering,
 * replay, buffer checks and the counter reasons. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "sfu/lg_error.h"
#include "sfu/srtp_session.h"

#include <string.h>

/* Known-answer vectors from libsrtp's own test driver (test/srtp_driver.c, srtp_validate() and
 * srtp_validate_gcm()): SSRC 0xcafebabe, seq 0x1234, payload 16 x 0xab; SR 24 bytes. */
static const uint8_t KAT_CM_KEY[30] = {0xe1, 0xf9, 0x7a, 0x0d, 0x3e, 0x01, 0x8b, 0xe0, 0xd6, 0x4f,
                                       0xa3, 0x2c, 0x06, 0xde, 0x41, 0x39, 0x0e, 0xc6, 0x75, 0xad,
                                       0x49, 0x8a, 0xfe, 0xeb, 0xb6, 0x96, 0x0b, 0x3a, 0xab, 0xe6};
static const uint8_t KAT_GCM_KEY[28] = {0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
                                        0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0xa0, 0xa1, 0xa2, 0xa3,
                                        0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9, 0xaa, 0xab};
static const uint8_t KAT_RTP[28] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                    0xba, 0xbe, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                    0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t KAT_RTCP[24] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe,
                                     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab,
                                     0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab, 0xab};
static const uint8_t KAT_CM_SRTP[38] = {0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe,
                                        0xba, 0xbe, 0x4e, 0x55, 0xdc, 0x4c, 0xe7, 0x99, 0x78, 0xd8,
                                        0x8c, 0xa4, 0xd2, 0x15, 0x94, 0x9d, 0x24, 0x02, 0xb7, 0x8d,
                                        0x6a, 0xcc, 0x99, 0xea, 0x17, 0x9b, 0x8d, 0xbb};
static const uint8_t KAT_CM_SRTCP[38] = {0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0x71, 0x28,
                                         0x03, 0x5b, 0xe4, 0x87, 0xb9, 0xbd, 0xbe, 0xf8, 0x90, 0x41,
                                         0xf9, 0x77, 0xa5, 0xa8, 0x80, 0x00, 0x00, 0x01, 0x99, 0x3e,
                                         0x08, 0xcd, 0x54, 0xd6, 0xc1, 0x23, 0x07, 0x98};
static const uint8_t KAT_GCM_SRTP[44] = {
    0x80, 0x0f, 0x12, 0x34, 0xde, 0xca, 0xfb, 0xad, 0xca, 0xfe, 0xba, 0xbe, 0xc5, 0x00, 0x2e,
    0xde, 0x04, 0xcf, 0xdd, 0x2e, 0xb9, 0x11, 0x59, 0xe0, 0x88, 0x0a, 0xa0, 0x6e, 0xd2, 0x97,
    0x68, 0x26, 0xf7, 0x96, 0xb2, 0x01, 0xdf, 0x31, 0x31, 0xa1, 0x27, 0xe8, 0xa3, 0x92};
static const uint8_t KAT_GCM_SRTCP[44] = {
    0x81, 0xc8, 0x00, 0x0b, 0xca, 0xfe, 0xba, 0xbe, 0xc9, 0x8b, 0x8b, 0x5d, 0xf0, 0x39, 0x2a,
    0x55, 0x85, 0x2b, 0x6c, 0x21, 0xac, 0x8e, 0x70, 0x25, 0xc5, 0x2c, 0x6f, 0xbe, 0xa2, 0xb3,
    0xb4, 0x46, 0xea, 0x31, 0x12, 0x3b, 0xa8, 0x8c, 0xe6, 0x1e, 0x80, 0x00, 0x00, 0x01};

#define BUF (1500 + SRTP_SESSION_MAX_OVERHEAD)

static dtls_srtp_keys_t keys_for(dtls_srtp_profile_t profile, const uint8_t *local,
                                 const uint8_t *remote)
{
    dtls_srtp_keys_t k = {.profile = profile, .key_len = 16};
    k.salt_len = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
    memcpy(k.local, local, k.key_len + k.salt_len);
    memcpy(k.remote, remote, k.key_len + k.salt_len);
    return k;
}

/* Two ends of one call: a's local key is b's remote key and vice versa. */
static void make_pair(dtls_srtp_profile_t profile, srtp_session_t *a, srtp_session_t *b)
{
    uint8_t k1[DTLS_SRTP_MAX_MASTER_LEN], k2[DTLS_SRTP_MAX_MASTER_LEN];
    for (size_t i = 0; i < sizeof k1; i++) {
        k1[i] = (uint8_t)(i * 7 + 1);
        k2[i] = (uint8_t)(i * 13 + 5);
    }
    dtls_srtp_keys_t ka = keys_for(profile, k1, k2), kb = keys_for(profile, k2, k1);
    assert_int_equal(srtp_session_init(a, &ka), 0);
    assert_int_equal(srtp_session_init(b, &kb), 0);
}

/* An RTP packet with a CSRC and a one-byte header extension, `payload` bytes of payload. */
static size_t make_rtp(uint8_t *p, uint16_t seq, uint32_t ssrc, size_t payload)
{
    size_t n = 0;
    p[n++] = 0x80 | 0x10 | 0x01; /* V=2, X, CC=1 */
    p[n++] = 96;
    p[n++] = (uint8_t)(seq >> 8);
    p[n++] = (uint8_t)seq;
    for (int i = 0; i < 4; i++)
        p[n++] = (uint8_t)(0x1000 * seq >> (24 - 8 * i));
    for (int i = 0; i < 4; i++)
        p[n++] = (uint8_t)(ssrc >> (24 - 8 * i));
    memcpy(p + n, "\x11\x22\x33\x44", 4); /* CSRC */
    n += 4;
    memcpy(p + n, "\xBE\xDE\x00\x01\x10\x7f\x00\x00", 8); /* audio level, padded */
    n += 8;
    for (size_t i = 0; i < payload; i++)
        p[n++] = (uint8_t)(i + seq);
    return n;
}

/* A receiver report with one block. */
static size_t make_rtcp(uint8_t *p, uint32_t ssrc)
{
    static const uint8_t rr[32] = {0x81, 201,  0x00, 0x07, 0, 0, 0, 0, 0xde, 0xad,
                                   0xbe, 0xef, 0,    0,    0, 3, 0, 0, 0x12, 0x34};
    memcpy(p, rr, sizeof rr);
    for (int i = 0; i < 4; i++)
        p[4 + i] = (uint8_t)(ssrc >> (24 - 8 * i));
    return sizeof rr;
}

static void kat(dtls_srtp_profile_t profile, const uint8_t *key, const uint8_t *srtp,
                size_t srtp_len, const uint8_t *srtcp, size_t srtcp_len)
{
    dtls_srtp_keys_t k = keys_for(profile, key, key);
    srtp_session_t s;
    assert_int_equal(srtp_session_init(&s, &k), 0);
    uint8_t buf[BUF];
    size_t len = sizeof KAT_RTP;
    memcpy(buf, KAT_RTP, len);
    assert_int_equal(srtp_session_protect_rtp(&s, buf, &len, sizeof buf), 0);
    assert_int_equal(len, srtp_len);
    assert_memory_equal(buf, srtp, srtp_len);
    len = sizeof KAT_RTCP;
    memcpy(buf, KAT_RTCP, len);
    assert_int_equal(srtp_session_protect_rtcp(&s, buf, &len, sizeof buf), 0);
    assert_int_equal(len, srtcp_len);
    assert_memory_equal(buf, srtcp, srtcp_len);

    /* and back, on the receiving side (same key as remote) */
    memcpy(buf, srtp, srtp_len);
    len = srtp_len;
    assert_int_equal(srtp_session_unprotect_rtp(&s, buf, &len), 0);
    assert_int_equal(len, sizeof KAT_RTP);
    assert_memory_equal(buf, KAT_RTP, len);
    memcpy(buf, srtcp, srtcp_len);
    len = srtcp_len;
    assert_int_equal(srtp_session_unprotect_rtcp(&s, buf, &len), 0);
    assert_int_equal(len, sizeof KAT_RTCP);
    assert_memory_equal(buf, KAT_RTCP, len);
    srtp_session_free(&s);
}

static void test_kat_aes_cm(void **state)
{
    kat(DTLS_SRTP_AES128_CM_SHA1_80, KAT_CM_KEY, KAT_CM_SRTP, sizeof KAT_CM_SRTP, KAT_CM_SRTCP,
        sizeof KAT_CM_SRTCP);
}

static void test_kat_gcm(void **state)
{
    kat(DTLS_SRTP_AEAD_AES_128_GCM, KAT_GCM_KEY, KAT_GCM_SRTP, sizeof KAT_GCM_SRTP, KAT_GCM_SRTCP,
        sizeof KAT_GCM_SRTCP);
}

static void round_trip(dtls_srtp_profile_t profile)
{
    srtp_session_t a, b;
    make_pair(profile, &a, &b);
    size_t tag = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 16 : 10;
    uint8_t buf[BUF], ref[BUF];
    for (uint16_t seq = 65530; seq != 10; seq++) { /* across the rollover */
        for (int dir = 0; dir < 2; dir++) {
            srtp_session_t *tx = dir ? &b : &a, *rx = dir ? &a : &b;
            size_t n = make_rtp(ref, seq, dir ? 0x01020304 : 0x0a0b0c0d, 1100);
            memcpy(buf, ref, n);
            size_t len = n;
            assert_int_equal(srtp_session_protect_rtp(tx, buf, &len, sizeof buf), 0);
            assert_int_equal(len, n + tag);
            assert_memory_not_equal(buf + 28, ref + 28, n - 28); /* payload encrypted */
            assert_int_equal(srtp_session_unprotect_rtp(rx, buf, &len), 0);
            assert_int_equal(len, n);
            assert_memory_equal(buf, ref, n);

            n = make_rtcp(ref, dir ? 0x01020304 : 0x0a0b0c0d);
            memcpy(buf, ref, n);
            len = n;
            assert_int_equal(srtp_session_protect_rtcp(tx, buf, &len, sizeof buf), 0);
            assert_int_equal(len, n + 4 + tag);
            /* E (encrypted) | SRTCP index: before the tag (RFC 3711), after it (RFC 7714) */
            size_t e_at = profile == DTLS_SRTP_AEAD_AES_128_GCM ? len - 4 : len - tag - 4;
            assert_int_equal(buf[e_at] & 0x80, 0x80);
            assert_int_equal(srtp_session_unprotect_rtcp(rx, buf, &len), 0);
            assert_int_equal(len, n);
            assert_memory_equal(buf, ref, n);
        }
    }
    srtp_session_free(&a);
    srtp_session_free(&b);
}

static void test_round_trip_gcm(void **state)
{
    round_trip(DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_round_trip_aes_cm(void **state)
{
    round_trip(DTLS_SRTP_AES128_CM_SHA1_80);
}

/* Tampering, replay, and an index older than the window, for one profile. */
static void attacks(dtls_srtp_profile_t profile)
{
    srtp_session_t a, b;
    make_pair(profile, &a, &b);
    uint8_t pkt[BUF], copy[BUF];
    size_t len = make_rtp(pkt, 100, 42, 200);
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), 0);
    size_t plen = len;
    memcpy(copy, pkt, len);

    /* a flipped payload bit, a flipped tag bit, a changed header: auth_fail */
    static const size_t flips[] = {40, 0, 2};
    for (size_t i = 0; i < 3; i++) {
        memcpy(pkt, copy, plen);
        size_t at = i == 1 ? plen - 1 : flips[i] + (i == 2 ? 1 : 0);
        pkt[at] ^= 0x01;
        len = plen;
        int rc = srtp_session_unprotect_rtp(&b, pkt, &len);
        assert_int_equal(rc, LG_EINTEGRITY);
        assert_int_equal(srtp_session_reason(rc), SRTP_SESSION_AUTH_FAIL);
        assert_int_equal(len, plen);
    }
    /* the genuine packet still passes (failed ones did not enter the replay window) ... */
    memcpy(pkt, copy, plen);
    len = plen;
    assert_int_equal(srtp_session_unprotect_rtp(&b, pkt, &len), 0);
    /* ... once */
    memcpy(pkt, copy, plen);
    len = plen;
    int rc = srtp_session_unprotect_rtp(&b, pkt, &len);
    assert_int_equal(rc, LG_EREPLAY);
    assert_int_equal(srtp_session_reason(rc), SRTP_SESSION_REPLAY_FAIL);

    /* older than the 1024-packet window */
    uint8_t old[BUF];
    size_t old_len = make_rtp(old, 101, 42, 50);
    assert_int_equal(srtp_session_protect_rtp(&a, old, &old_len, sizeof old), 0);
    len = make_rtp(pkt, 100 + 2000, 42, 50);
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), 0);
    assert_int_equal(srtp_session_unprotect_rtp(&b, pkt, &len), 0);
    assert_int_equal(srtp_session_unprotect_rtp(&b, old, &old_len), LG_EREPLAY);
    /* but within the window, late is fine */
    len = make_rtp(pkt, 100 + 1500, 42, 50);
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), 0);
    assert_int_equal(srtp_session_unprotect_rtp(&b, pkt, &len), 0);

    /* RTCP: tamper and replay */
    len = make_rtcp(pkt, 42);
    assert_int_equal(srtp_session_protect_rtcp(&a, pkt, &len, sizeof pkt), 0);
    plen = len;
    memcpy(copy, pkt, len);
    pkt[10] ^= 0x80;
    rc = srtp_session_unprotect_rtcp(&b, pkt, &len);
    assert_int_equal(rc, LG_EINTEGRITY);
    memcpy(pkt, copy, plen);
    len = plen;
    assert_int_equal(srtp_session_unprotect_rtcp(&b, pkt, &len), 0);
    memcpy(pkt, copy, plen);
    len = plen;
    rc = srtp_session_unprotect_rtcp(&b, pkt, &len);
    assert_int_equal(rc, LG_EREPLAY);
    assert_string_equal(srtp_session_reason_str(srtp_session_reason(rc)), "replay_fail");

    /* the wrong direction's key: what a sends, a cannot read */
    len = make_rtp(pkt, 7, 43, 20);
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), 0);
    assert_int_equal(srtp_session_unprotect_rtp(&a, pkt, &len), LG_EINTEGRITY);
    srtp_session_free(&a);
    srtp_session_free(&b);
}

static void test_attacks_gcm(void **state)
{
    attacks(DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_attacks_aes_cm(void **state)
{
    attacks(DTLS_SRTP_AES128_CM_SHA1_80);
}

/* The sender protects an index again only as a verified identical resend: the same packet gives
 * the same SRTP; other data under a used GCM index (nonce reuse) is refused. */
static void test_repeat_tx(void **state)
{
    srtp_session_t a, b;
    make_pair(DTLS_SRTP_AEAD_AES_128_GCM, &a, &b);
    uint8_t p1[BUF], p2[BUF], p3[BUF];
    size_t l1 = make_rtp(p1, 500, 9, 100), l2 = make_rtp(p2, 500, 9, 100);
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), 0);
    /* not marked as a resend: refused, even though it happens to be identical */
    size_t l3 = make_rtp(p3, 500, 9, 100);
    int rc = srtp_session_protect_rtp(&a, p3, &l3, sizeof p3);
    assert_int_equal(rc, LG_EREUSE);
    assert_int_equal(srtp_session_reason(rc), SRTP_SESSION_REPLAY_FAIL);
    assert_int_equal(l3, make_rtp(p2, 500, 9, 100)); /* length unchanged */
    assert_int_equal(srtp_session_protect_rtp_resend(&a, p2, &l2, sizeof p2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1); /* same packet, same keystream: nothing new revealed */
    /* a different header (a new transport-cc number) under the same index */
    l3 = make_rtp(p3, 500, 9, 100);
    p3[12] ^= 1;
    assert_int_equal(srtp_session_protect_rtp(&a, p3, &l3, sizeof p3), LG_EREUSE);
    /* a late first send (behind the highest index, never protected) is fine, once */
    l1 = make_rtp(p1, 510, 9, 100);
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), 0);
    l1 = make_rtp(p1, 505, 9, 100);
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), 0);
    assert_int_equal(srtp_session_unprotect_rtp(&b, p1, &l1), 0);
    l1 = make_rtp(p1, 505, 9, 60);
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), LG_EREUSE);
    /* the same sequence number on another SSRC is another index */
    l1 = make_rtp(p1, 505, 10, 60);
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), 0);
    srtp_session_free(&a);
    srtp_session_free(&b);
}

/* AES-CM: a used index is refused as well (the same keystream over other data reveals the XOR of
 * the plaintexts); a verified resend gives the same bytes, and libsrtp's receiver takes it. */
static void test_repeat_tx_aes_cm(void **state)
{
    srtp_session_t a, b;
    make_pair(DTLS_SRTP_AES128_CM_SHA1_80, &a, &b);
    uint8_t p1[BUF], p2[BUF], p3[BUF];
    size_t l1 = make_rtp(p1, 700, 9, 100), l2 = make_rtp(p2, 700, 9, 100);
    size_t l3 = make_rtp(p3, 700, 9, 100);
    p3[12] ^= 1;
    assert_int_equal(srtp_session_protect_rtp(&a, p1, &l1, sizeof p1), 0);
    assert_int_equal(srtp_session_protect_rtp(&a, p3, &l3, sizeof p3), LG_EREUSE);
    assert_int_equal(srtp_session_protect_rtp_resend(&a, p2, &l2, sizeof p2), 0);
    assert_int_equal(l1, l2);
    assert_memory_equal(p1, p2, l1);
    assert_int_equal(srtp_session_unprotect_rtp(&b, p2, &l2), 0);
    l3 = make_rtp(p3, 690, 9, 100); /* late, never sent: fine */
    assert_int_equal(srtp_session_protect_rtp(&a, p3, &l3, sizeof p3), 0);
    srtp_session_free(&a);
    srtp_session_free(&b);
}

/* srtp_gcm's sent bitmap across the 16-bit wrap and a jump of more than the window: an index is
 * used once per ROC, and what the window forgot is refused as too old, never re-protected. */
static void test_gcm_reuse_window(void **state)
{
    srtp_gcm_tx_t tx;
    uint8_t key[16] = {1}, salt[12] = {2}, p[BUF];
    assert_int_equal(srtp_gcm_tx_init(&tx, key, salt, 1024), 0);
    size_t n;
    for (uint32_t i = 65000; i < 65536 + 100; i++) {
        n = make_rtp(p, (uint16_t)i, 5, 40);
        assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), 0);
    }
    n = make_rtp(p, 65535, 5, 41); /* before the wrap, other data */
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), LG_EREUSE);
    n = make_rtp(p, 99, 5, 41);
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), LG_EREUSE);
    n = make_rtp(p, 99, 5, 40);
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, true), 0);
    n = make_rtp(p, 64000, 5, 40); /* ROC 0 yet more than the window behind: too old */
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), LG_EREPLAY);
    n = make_rtp(p, 5000, 5, 40); /* far ahead: the bitmap starts over */
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), 0);
    n = make_rtp(p, 4999, 5, 40); /* its bit was cleared by the jump, never set: a first send */
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), 0);
    n = make_rtp(p, 4999, 5, 40);
    assert_int_equal(srtp_gcm_tx_protect(&tx, p, &n, sizeof p, false), LG_EREUSE);
    srtp_gcm_tx_free(&tx);
    assert_int_equal(srtp_gcm_tx_init(&tx, key, salt, SRTP_GCM_MAX_WINDOW + 1), LG_EINVAL);
}

static void test_bad_params(void **state)
{
    srtp_session_t a, b, zero;
    memset(&zero, 0, sizeof zero);
    make_pair(DTLS_SRTP_AES128_CM_SHA1_80, &a, &b);
    uint8_t pkt[BUF];
    size_t len = make_rtp(pkt, 1, 1, 100);
    size_t n = len;
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, n + SRTP_SESSION_MAX_OVERHEAD - 1),
                     LG_ENOSPC);
    assert_int_equal(len, n);
    assert_int_equal(srtp_session_reason(LG_ENOSPC), SRTP_SESSION_BAD_PARAM);
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, n - 1), LG_EINVAL);
    assert_int_equal(srtp_session_protect_rtp(NULL, pkt, &len, sizeof pkt), LG_EINVAL);
    assert_int_equal(srtp_session_protect_rtp(&zero, pkt, &len, sizeof pkt), LG_EINVAL);
    assert_int_equal(srtp_session_unprotect_rtp(&zero, pkt, &len), LG_EINVAL);
    assert_int_equal(srtp_session_protect_rtcp(&a, pkt, NULL, sizeof pkt), LG_EINVAL);
    len = 11;
    assert_int_equal(srtp_session_unprotect_rtp(&b, pkt, &len), LG_EMALFORMED);
    len = 7;
    assert_int_equal(srtp_session_unprotect_rtcp(&b, pkt, &len), LG_EMALFORMED);
    /* an SRTP packet too short for its tag, a header whose CSRC count overruns it */
    len = 14;
    int rc = srtp_session_unprotect_rtp(&b, pkt, &len);
    assert_int_equal(srtp_session_reason(rc), SRTP_SESSION_BAD_PARAM);
    pkt[0] = 0x8f; /* 15 CSRCs */
    len = 40;
    rc = srtp_session_unprotect_rtp(&b, pkt, &len);
    assert_true(rc == LG_EMALFORMED || rc == LG_EINTEGRITY);
    len = 12;
    rc = srtp_session_unprotect_rtcp(&b, pkt, &len);
    assert_true(rc < 0);

    dtls_srtp_keys_t k = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, KAT_GCM_KEY, KAT_GCM_KEY);
    k.salt_len = 14;
    assert_int_equal(srtp_session_init(&zero, &k), LG_EINVAL);
    k.profile = DTLS_SRTP_NONE;
    assert_int_equal(srtp_session_init(&zero, &k), LG_EUNSUPPORTED);
    assert_int_equal(srtp_session_init(&zero, NULL), LG_EINVAL);
    srtp_session_free(&zero);
    srtp_session_free(&zero);

    assert_int_equal(srtp_session_reason(0), SRTP_SESSION_OK);
    assert_int_equal(srtp_session_reason(LG_ECRYPTO), SRTP_SESSION_OTHER);
    assert_string_equal(srtp_session_reason_str(SRTP_SESSION_OK), "ok");
    assert_string_equal(srtp_session_reason_str(SRTP_SESSION_AUTH_FAIL), "auth_fail");
    assert_string_equal(srtp_session_reason_str(SRTP_SESSION_BAD_PARAM), "bad_param");
    assert_string_equal(srtp_session_reason_str(SRTP_SESSION_OTHER), "other");
    assert_string_equal(srtp_session_reason_str((srtp_session_reason_t)42), "other");
    assert_int_equal(srtp_global_init(), 0);
    assert_int_equal(srtp_global_init(), 0);
    srtp_session_free(&a);
    srtp_session_free(&b);
}

/* A raw libsrtp outbound context with the session's policy, for comparing its bytes with ours. */
static srtp_t libsrtp_sender(const dtls_srtp_keys_t *k)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    uint8_t key[DTLS_SRTP_MAX_MASTER_LEN];
    memcpy(key, k->local, k->key_len + k->salt_len);
    p.ssrc.type = ssrc_any_outbound;
    p.key = key;
    p.window_size = SRTP_SESSION_REPLAY_WINDOW;
    p.allow_repeat_tx = 1;
    srtp_t ctx = NULL;
    assert_int_equal(srtp_create(&ctx, &p), srtp_err_status_ok);
    return ctx;
}

/* Under GCM the relay protects its RTP with sfu/srtp_gcm, not libsrtp: every packet must come out
 * byte for byte as libsrtp would have made it, across a sequence wrap (the ROC), resends of older
 * packets, jumps, several SSRCs, and refuse what libsrtp refuses. */
static void test_gcm_matches_libsrtp(void **state)
{
    uint8_t k1[DTLS_SRTP_MAX_MASTER_LEN];
    for (size_t i = 0; i < sizeof k1; i++)
        k1[i] = (uint8_t)(i * 29 + 3);
    dtls_srtp_keys_t k = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, k1, k1);
    srtp_session_t s;
    assert_int_equal(srtp_session_init(&s, &k), 0);
    srtp_t ref = libsrtp_sender(&k);
    /* (ssrc index, seq) in sending order */
    static const struct {
        int ssrc;
        uint16_t seq;
    } plan[] = {{0, 65500}, {0, 65501}, {1, 7},     {0, 65535}, {0, 0},     {0, 1},
                {0, 65534}, {0, 2},     {0, 65300}, {1, 8},     {1, 8},     {0, 30000},
                {0, 30001}, {0, 33000}, {0, 100},   {0, 40000}, {0, 39000}, {0, 38000},
                {0, 20000}, {0, 65535}, {0, 0},     {2, 0},     {2, 65535}, {2, 1}};
    static const uint32_t ssrcs[] = {0x11223344, 0xcafebabe, 0x01020304};
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        uint8_t a[BUF], b[BUF];
        size_t la = make_rtp(a, plan[i].seq, ssrcs[plan[i].ssrc], 20 + i * 37);
        memcpy(b, a, la);
        int lb = (int)la;
        int rc = srtp_session_protect_rtp(&s, a, &la, sizeof a);
        bool again = false; /* the plan repeats (ssrc, seq): a resend, under the same index */
        for (size_t j = 0; j < i; j++)
            again |= plan[j].ssrc == plan[i].ssrc && plan[j].seq == plan[i].seq;
        if (again && rc == LG_EREUSE) { /* never as a first send; as a resend, like libsrtp */
            la = make_rtp(a, plan[i].seq, ssrcs[plan[i].ssrc], 20 + i * 37);
            rc = srtp_session_protect_rtp_resend(&s, a, &la, sizeof a);
        }
        srtp_err_status_t st = srtp_protect(ref, b, &lb);
        if (st != srtp_err_status_ok) {
            print_message("packet %zu: libsrtp refused (%d)\n", i, (int)st);
            assert_int_equal(rc, LG_EREPLAY);
            continue;
        }
        assert_int_equal(rc, 0);
        assert_int_equal(la, (size_t)lb);
        assert_memory_equal(a, b, la);
    }
    /* 2000 packets later, the first one is out of both windows (seq 1 was sent already) */
    for (uint16_t q = 2; q <= 2000; q++) {
        uint8_t a[BUF], b[BUF];
        size_t la = make_rtp(a, q, ssrcs[2], 10);
        memcpy(b, a, la);
        int lb = (int)la;
        assert_int_equal(srtp_session_protect_rtp(&s, a, &la, sizeof a), 0);
        assert_int_equal(srtp_protect(ref, b, &lb), srtp_err_status_ok);
        assert_memory_equal(a, b, la);
    }
    uint8_t a[BUF], b[BUF];
    size_t la = make_rtp(a, 900, ssrcs[2], 10);
    memcpy(b, a, la);
    int lb = (int)la;
    assert_int_not_equal(srtp_protect(ref, b, &lb), srtp_err_status_ok);
    assert_int_equal(srtp_session_protect_rtp(&s, a, &la, sizeof a), LG_EREPLAY);
    srtp_dealloc(ref);
    srtp_session_free(&s);
}

/* More SSRCs than srtp_gcm tracks: the rest go through libsrtp, and every one still decrypts. */
static void test_gcm_many_ssrcs(void **state)
{
    srtp_session_t a, b;
    make_pair(DTLS_SRTP_AEAD_AES_128_GCM, &a, &b);
    /* a direction allocates its cipher context with its first packet, not before */
    assert_null(a.gcm_tx.ctx);
    assert_null(b.gcm_rx.ctx);
    for (int round = 0; round < 3; round++)
        for (uint32_t i = 0; i < SRTP_GCM_MAX_STREAMS + 8; i++) {
            uint8_t pkt[BUF], orig[BUF];
            size_t n = make_rtp(pkt, (uint16_t)(65534 + round), 0x1000 + i, 50), len = n;
            memcpy(orig, pkt, n);
            assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), 0);
            assert_int_equal(srtp_session_unprotect_rtp(&b, pkt, &len), 0);
            assert_int_equal(len, n);
            assert_memory_equal(pkt, orig, n);
        }
    assert_non_null(a.gcm_tx.ctx);
    assert_non_null(b.gcm_rx.ctx);
    assert_null(a.gcm_rx.ctx); /* a only sent */
    assert_null(b.gcm_tx.ctx);
    /* a header that claims more than the packet holds */
    uint8_t pkt[BUF];
    size_t len = make_rtp(pkt, 1, 0x1000, 0);
    len = 20; /* cuts into the extension */
    assert_int_equal(srtp_session_protect_rtp(&a, pkt, &len, sizeof pkt), LG_EMALFORMED);
    srtp_session_free(&a);
    srtp_session_free(&b);
}

/* A raw libsrtp inbound context for the peer's key (k->remote). */
static srtp_t libsrtp_receiver(const dtls_srtp_keys_t *k)
{
    srtp_policy_t p;
    memset(&p, 0, sizeof p);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtp);
    srtp_crypto_policy_set_aes_gcm_128_16_auth(&p.rtcp);
    uint8_t key[DTLS_SRTP_MAX_MASTER_LEN];
    memcpy(key, k->remote, k->key_len + k->salt_len);
    p.ssrc.type = ssrc_any_inbound;
    p.key = key;
    p.window_size = SRTP_SESSION_REPLAY_WINDOW;
    srtp_t ctx = NULL;
    assert_int_equal(srtp_create(&ctx, &p), srtp_err_status_ok);
    return ctx;
}

/* Incoming RTP under GCM goes through sfu/srtp_gcm too: over a sequence wrap, reordering,
 * duplicates, packets older than the window, forged and tampered packets, it must accept exactly
 * what libsrtp accepts and give the same plaintext. */
static void test_gcm_unprotect_matches_libsrtp(void **state)
{
    uint8_t k1[DTLS_SRTP_MAX_MASTER_LEN], k2[DTLS_SRTP_MAX_MASTER_LEN];
    for (size_t i = 0; i < sizeof k1; i++) {
        k1[i] = (uint8_t)(i * 11 + 2);
        k2[i] = (uint8_t)(i * 17 + 9);
    }
    dtls_srtp_keys_t ks = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, k1, k2); /* the peer's sender */
    dtls_srtp_keys_t kr = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, k2, k1); /* our receiving end */
    srtp_t sender = libsrtp_sender(&ks), ref = libsrtp_receiver(&kr);
    srtp_session_t s;
    assert_int_equal(srtp_session_init(&s, &kr), 0);
    static const struct {
        int ssrc;
        uint16_t seq;
        int tamper; /* 0 none, 1 flip a payload byte, 2 replay the previous packet as is */
    } plan[] = {{0, 65530, 0}, {0, 65533, 0}, {0, 65531, 0}, {0, 65531, 0}, {0, 65535, 0},
                {0, 2, 0},     {0, 0, 0},     {0, 1, 1},     {0, 1, 0},     {0, 1, 0},
                {1, 0, 0},     {1, 0, 0},     {1, 5, 1},     {1, 5, 0},     {0, 3, 2},
                {0, 64000, 0}, {0, 3000, 0},  {0, 1500, 0},  {0, 1976, 0},  {0, 1977, 0},
                {0, 1977, 0},  {0, 40000, 0}, {0, 3001, 0},  {2, 700, 0},   {2, 699, 0}};
    static const uint32_t ssrcs[] = {0xa1a2a3a4, 0xb1b2b3b4, 0xc1c2c3c4};
    uint8_t prev[BUF];
    int prev_len = 0;
    for (size_t i = 0; i < sizeof plan / sizeof plan[0]; i++) {
        uint8_t clear[BUF], a[BUF], b[BUF];
        size_t n = make_rtp(clear, plan[i].seq, ssrcs[plan[i].ssrc], 30 + i * 11);
        int len = (int)n;
        memcpy(a, clear, n);
        if (plan[i].tamper == 2) {
            memcpy(a, prev, (size_t)prev_len);
            len = prev_len;
        } else if (srtp_protect(sender, a, &len) != srtp_err_status_ok) {
            continue; /* too old for the sender itself */
        }
        if (plan[i].tamper == 1)
            a[len - 20] ^= 0x40;
        memcpy(prev, a, (size_t)len);
        prev_len = len;
        memcpy(b, a, (size_t)len);
        size_t la = (size_t)len;
        int lb = len;
        int rc = srtp_session_unprotect_rtp(&s, a, &la);
        srtp_err_status_t st = srtp_unprotect(ref, b, &lb);
        print_message("packet %zu: libsrtp %d, ours %s\n", i, (int)st, rc ? lg_errname(rc) : "ok");
        if (st == srtp_err_status_ok) {
            assert_int_equal(rc, 0);
            assert_int_equal(la, (size_t)lb);
            assert_memory_equal(a, b, la);
        } else if (st == srtp_err_status_auth_fail) {
            assert_int_equal(rc, LG_EINTEGRITY);
        } else {
            assert_int_equal(rc, LG_EREPLAY);
        }
    }
    /* sent in order, received newest first: 1023 behind is the edge of the window, 1100 beyond */
    static const uint16_t late[] = {6100, 5077, 5000};
    uint8_t pk[3][BUF];
    int pl[3];
    for (int i = 2; i >= 0; i--) {
        pl[i] = (int)make_rtp(pk[i], late[i], ssrcs[0], 40);
        assert_int_equal(srtp_protect(sender, pk[i], &pl[i]), srtp_err_status_ok);
    }
    for (int i = 0; i < 3; i++) {
        uint8_t a[BUF], b[BUF];
        memcpy(a, pk[i], (size_t)pl[i]);
        memcpy(b, pk[i], (size_t)pl[i]);
        size_t la = (size_t)pl[i];
        int lb = pl[i];
        int rc = srtp_session_unprotect_rtp(&s, a, &la);
        srtp_err_status_t st = srtp_unprotect(ref, b, &lb);
        assert_int_equal(st, i < 2 ? srtp_err_status_ok : srtp_err_status_replay_old);
        assert_int_equal(rc, i < 2 ? 0 : LG_EREPLAY);
    }
    srtp_dealloc(sender);
    srtp_dealloc(ref);
    srtp_session_free(&s);
}

/* Thousands of packets across a sequence wrap, delivered reordered (up to ~1500 late), duplicated
 * and dropped: srtp_gcm's replay window accepts exactly what libsrtp's accepts. */
static void test_gcm_replay_window_random(void **state)
{
    enum { N = 6000 };
    uint8_t k1[DTLS_SRTP_MAX_MASTER_LEN], k2[DTLS_SRTP_MAX_MASTER_LEN];
    for (size_t i = 0; i < sizeof k1; i++) {
        k1[i] = (uint8_t)(i * 5 + 1);
        k2[i] = (uint8_t)(i * 3 + 7);
    }
    dtls_srtp_keys_t ks = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, k1, k2);
    dtls_srtp_keys_t kr = keys_for(DTLS_SRTP_AEAD_AES_128_GCM, k2, k1);
    srtp_t sender = libsrtp_sender(&ks), ref = libsrtp_receiver(&kr);
    srtp_session_t s;
    assert_int_equal(srtp_session_init(&s, &kr), 0);
    static uint8_t pkts[N][64];
    static int lens[N];
    for (int i = 0; i < N; i++) {
        lens[i] = (int)make_rtp(pkts[i], (uint16_t)(62000 + i), 0x5eed, 8);
        assert_int_equal(srtp_protect(sender, pkts[i], &lens[i]), srtp_err_status_ok);
    }
    uint32_t x = 99;
    int accepted = 0, refused = 0, late = 0;
    for (int step = 0; step < 2 * N; step++) {
        x = x * 1103515245 + 12345;
        int base = step / 2, roll = (int)((x >> 8) % 100), back = (int)((x >> 12) % 1500);
        if (step % 2 == 0 && roll < 15)
            continue; /* dropped for now: may come late, within the window or beyond it */
        if (step % 2 == 1 && roll < 50)
            back = 0; /* a duplicate */
        int i = step % 2 == 0 || base - back < 0 ? base : base - back;
        uint8_t a[64], b[64];
        memcpy(a, pkts[i], (size_t)lens[i]);
        memcpy(b, pkts[i], (size_t)lens[i]);
        size_t la = (size_t)lens[i];
        int lb = lens[i];
        int rc = srtp_session_unprotect_rtp(&s, a, &la);
        srtp_err_status_t st = srtp_unprotect(ref, b, &lb);
        if (st == srtp_err_status_ok) {
            accepted++;
            late += i < base;
            assert_int_equal(rc, 0);
            assert_memory_equal(a, b, la);
        } else {
            refused++;
            if (rc != LG_EREPLAY)
                fail_msg("step %d packet %d: libsrtp %d, ours %s", step, i, (int)st,
                         lg_errname(rc));
        }
    }
    print_message("accepted %d (%d late), refused %d\n", accepted, late, refused);
    assert_true(accepted > N / 2 && refused > N / 4 && late > 50);
    srtp_dealloc(sender);
    srtp_dealloc(ref);
    srtp_session_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kat_aes_cm),
        cmocka_unit_test(test_kat_gcm),
        cmocka_unit_test(test_round_trip_gcm),
        cmocka_unit_test(test_round_trip_aes_cm),
        cmocka_unit_test(test_attacks_gcm),
        cmocka_unit_test(test_attacks_aes_cm),
        cmocka_unit_test(test_repeat_tx),
        cmocka_unit_test(test_gcm_reuse_window),
        cmocka_unit_test(test_repeat_tx_aes_cm),
        cmocka_unit_test(test_bad_params),
        cmocka_unit_test(test_gcm_matches_libsrtp),
        cmocka_unit_test(test_gcm_many_ssrcs),
        cmocka_unit_test(test_gcm_unprotect_matches_libsrtp),
        cmocka_unit_test(test_gcm_replay_window_random),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
