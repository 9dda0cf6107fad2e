/* Fuzz target for SRTP/SRTCP (sfu/srtp_session + sfu/srtp_gcm): whatever arrives is unprotected
 * without a crash, and RTP that parses survives a protect -> unprotect round trip byte for byte
 * through a pair of sessions keyed like the two ends of one DTLS-SRTP association, in whatever
 * order of sequence numbers the fuzzer chooses (rollover estimate, replay window).
 *
 * Input: byte 0 picks the profile (bit 0: AES-CM instead of GCM); then records of a 2-byte
 * big-endian length and that many bytes. Each record is (1) unprotected as SRTP and as SRTCP by
 * the receiving end, then (2) if it parses as RTP, protected by the sending end and unprotected
 * by the receiving end, which must give back the record or refuse it as a replay. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtp.h"
#include "sfu/lg_error.h"
#include "sfu/srtp_session.h"

#define MAX_RECORD 1500

static void keys_for(dtls_srtp_keys_t *k, dtls_srtp_profile_t profile, int swap)
{
    memset(k, 0, sizeof *k);
    k->profile = profile;
    k->key_len = 16;
    k->salt_len = profile == DTLS_SRTP_AEAD_AES_128_GCM ? 12 : 14;
    for (size_t i = 0; i < k->key_len + k->salt_len; i++) {
        uint8_t a = (uint8_t)(0x11 + 7 * i), b = (uint8_t)(0xA0 ^ (13 * i));
        k->local[i] = swap ? b : a;
        k->remote[i] = swap ? a : b;
    }
}

static void round_trip(srtp_session_t *tx, srtp_session_t *rx, const uint8_t *rec, size_t n)
{
    static uint8_t buf[MAX_RECORD + SRTP_SESSION_MAX_OVERHEAD + 64];
    rtp_packet_t pkt;
    if (rtp_parse(rec, n, &pkt) != 0)
        return;
    memcpy(buf, rec, n);
    size_t len = n;
    if (srtp_session_protect_rtp(tx, buf, &len, sizeof buf) != 0)
        return; /* the sender may refuse (e.g. a repeated index); it must not crash */
    if (len <= n)
        abort(); /* protected without a tag */
    int rc = srtp_session_unprotect_rtp(rx, buf, &len);
    if (rc == LG_EREPLAY)
        return;
    if (rc != 0 || len != n || memcmp(buf, rec, n) != 0)
        abort(); /* our own packet did not come back */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t buf[MAX_RECORD + SRTP_SESSION_MAX_OVERHEAD + 64];
    if (size < 1 || srtp_global_init() != 0)
        return 0;
    dtls_srtp_profile_t profile =
        (data[0] & 1) ? DTLS_SRTP_AES128_CM_SHA1_80 : DTLS_SRTP_AEAD_AES_128_GCM;
    dtls_srtp_keys_t ka, kb;
    keys_for(&ka, profile, 0);
    keys_for(&kb, profile, 1);
    srtp_session_t a, b; /* a sends, b receives (b's remote key is a's local key) */
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    if (srtp_session_init(&a, &ka) != 0 || srtp_session_init(&b, &kb) != 0)
        abort();
    size_t off = 1;
    while (off + 2 <= size) {
        size_t n = (size_t)data[off] << 8 | data[off + 1];
        off += 2;
        if (n > size - off)
            n = size - off;
        const uint8_t *rec = data + off;
        off += n;
        if (n > MAX_RECORD)
            continue;
        size_t len = n;
        memcpy(buf, rec, n);
        (void)srtp_session_unprotect_rtp(&b, buf, &len);
        len = n;
        memcpy(buf, rec, n);
        (void)srtp_session_unprotect_rtcp(&b, buf, &len);
        round_trip(&a, &b, rec, n);
    }
    srtp_session_free(&a);
    srtp_session_free(&b);
    return 0;
}
