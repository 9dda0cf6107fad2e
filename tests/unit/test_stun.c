/* Unit tests for the STUN codec: RFC 5769 vectors, round trips, tampering, truncation, limits. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include <openssl/evp.h>

#include "sfu/lg_error.h"
#include "sfu/stun.h"

/* --- RFC 5769 test vectors (bytes as printed in the RFC) --- */

static const char PASSWORD[] = "VOkJxbRl1RmTxUk/WvJxBt";
static const uint8_t TXID[12] = {0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34,
                                 0xd6, 0x86, 0xfa, 0x87, 0xdf, 0xae};

/* 2.1 Sample Request. */
static const uint8_t REQ[] = {
    0x00, 0x01, 0x00, 0x58, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x10, 0x53, 0x54, 0x55, 0x4e, 0x20, 0x74, 0x65, 0x73,
    0x74, 0x20, 0x63, 0x6c, 0x69, 0x65, 0x6e, 0x74, 0x00, 0x24, 0x00, 0x04, 0x6e, 0x00, 0x01, 0xff,
    0x80, 0x29, 0x00, 0x08, 0x93, 0x2f, 0xf9, 0xb1, 0x51, 0x26, 0x3b, 0x36, 0x00, 0x06, 0x00, 0x09,
    0x65, 0x76, 0x74, 0x6a, 0x3a, 0x68, 0x36, 0x76, 0x59, 0x20, 0x20, 0x20, 0x00, 0x08, 0x00, 0x14,
    0x9a, 0xea, 0xa7, 0x0c, 0xbf, 0xd8, 0xcb, 0x56, 0x78, 0x1e, 0xf2, 0xb5, 0xb2, 0xd3, 0xf2, 0x49,
    0xc1, 0xb5, 0x71, 0xa2, 0x80, 0x28, 0x00, 0x04, 0xe5, 0x7a, 0x3b, 0xcf,
};

/* 2.2 Sample IPv4 Response. */
static const uint8_t RESP4[] = {
    0x01, 0x01, 0x00, 0x3c, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x08, 0x00, 0x01, 0xa1, 0x47, 0xe1, 0x12, 0xa6, 0x43,
    0x00, 0x08, 0x00, 0x14, 0x2b, 0x91, 0xf5, 0x99, 0xfd, 0x9e, 0x90, 0xc3, 0x8c, 0x74, 0x89, 0xf9,
    0x2a, 0xf9, 0xba, 0x53, 0xf0, 0x6b, 0xe7, 0xd7, 0x80, 0x28, 0x00, 0x04, 0xc0, 0x7d, 0x4c, 0x96,
};

/* 2.3 Sample IPv6 Response. */
static const uint8_t RESP6[] = {
    0x01, 0x01, 0x00, 0x48, 0x21, 0x12, 0xa4, 0x42, 0xb7, 0xe7, 0xa7, 0x01, 0xbc, 0x34, 0xd6, 0x86,
    0xfa, 0x87, 0xdf, 0xae, 0x80, 0x22, 0x00, 0x0b, 0x74, 0x65, 0x73, 0x74, 0x20, 0x76, 0x65, 0x63,
    0x74, 0x6f, 0x72, 0x20, 0x00, 0x20, 0x00, 0x14, 0x00, 0x02, 0xa1, 0x47, 0x01, 0x13, 0xa9, 0xfa,
    0xa5, 0xd3, 0xf1, 0x79, 0xbc, 0x25, 0xf4, 0xb5, 0xbe, 0xd2, 0xb9, 0xd9, 0x00, 0x08, 0x00, 0x14,
    0xa3, 0x82, 0x95, 0x4e, 0x4b, 0xe6, 0x7b, 0xf1, 0x17, 0x84, 0xc9, 0x7c, 0x82, 0x92, 0xc2, 0x75,
    0xbf, 0xe3, 0xed, 0x41, 0x80, 0x28, 0x00, 0x04, 0xc8, 0xfb, 0x0b, 0x4c,
};

/* 2.4 Sample Request with Long-Term Authentication (no FINGERPRINT). */
static const uint8_t REQ_LT[] = {
    0x00, 0x01, 0x00, 0x60, 0x21, 0x12, 0xa4, 0x42, 0x78, 0xad, 0x34, 0x33, 0xc6, 0xad, 0x72,
    0xc0, 0x29, 0xda, 0x41, 0x2e, 0x00, 0x06, 0x00, 0x12, 0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88,
    0xe3, 0x83, 0xaa, 0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9, 0x00, 0x00, 0x00,
    0x15, 0x00, 0x1c, 0x66, 0x2f, 0x2f, 0x34, 0x39, 0x39, 0x6b, 0x39, 0x35, 0x34, 0x64, 0x36,
    0x4f, 0x4c, 0x33, 0x34, 0x6f, 0x4c, 0x39, 0x46, 0x53, 0x54, 0x76, 0x79, 0x36, 0x34, 0x73,
    0x41, 0x00, 0x14, 0x00, 0x0b, 0x65, 0x78, 0x61, 0x6d, 0x70, 0x6c, 0x65, 0x2e, 0x6f, 0x72,
    0x67, 0x00, 0x00, 0x08, 0x00, 0x14, 0xf6, 0x70, 0x24, 0x65, 0x6d, 0xd6, 0x4a, 0x3e, 0x02,
    0xb8, 0xe0, 0x71, 0x2e, 0x85, 0xc9, 0xa2, 0x8c, 0xa8, 0x96, 0x66,
};

/* "マトリックス" in UTF-8. */
static const uint8_t LT_USER[] = {0xe3, 0x83, 0x9e, 0xe3, 0x83, 0x88, 0xe3, 0x83, 0xaa,
                                  0xe3, 0x83, 0x83, 0xe3, 0x82, 0xaf, 0xe3, 0x82, 0xb9};

static const uint8_t *pw(void)
{
    return (const uint8_t *)PASSWORD;
}

static const size_t PWLEN = sizeof PASSWORD - 1;

static struct sockaddr_in v4(const char *ip, uint16_t port)
{
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET, ip, &sin.sin_addr), 1);
    return sin;
}

static struct sockaddr_in6 v6(const char *ip, uint16_t port)
{
    struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    assert_int_equal(inet_pton(AF_INET6, ip, &sin6.sin6_addr), 1);
    return sin6;
}

static void assert_view_str(const uint8_t *p, size_t len, const char *want)
{
    assert_int_equal(len, strlen(want));
    assert_memory_equal(p, want, len);
}

/* --- RFC 5769 parsing --- */

static void test_is_stun(void **state)
{
    uint8_t m[sizeof REQ];
    assert_true(stun_is_stun(REQ, sizeof REQ));
    assert_true(stun_is_stun(RESP6, sizeof RESP6));
    assert_true(stun_is_stun(REQ, STUN_HEADER_SIZE));
    assert_false(stun_is_stun(REQ, STUN_HEADER_SIZE - 1));
    assert_false(stun_is_stun(NULL, 100));
    memcpy(m, REQ, sizeof m);
    m[0] = 0x04; /* not in 0..3: e.g. a ZRTP/other packet */
    assert_false(stun_is_stun(m, sizeof m));
    m[0] = 0x80; /* RTP */
    assert_false(stun_is_stun(m, sizeof m));
    m[0] = 0x16; /* DTLS */
    assert_false(stun_is_stun(m, sizeof m));
    memcpy(m, REQ, sizeof m);
    m[7] ^= 1; /* cookie */
    assert_false(stun_is_stun(m, sizeof m));
}

static void test_rfc5769_request(void **state)
{
    stun_msg_t m;
    assert_int_equal(stun_parse(&m, REQ, sizeof REQ), 0);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_int_equal(m.cls, STUN_CLASS_REQUEST);
    assert_memory_equal(m.txid, TXID, 12);
    assert_int_equal(m.present, STUN_HAS_SOFTWARE | STUN_HAS_PRIORITY | STUN_HAS_ICE_CONTROLLED |
                                    STUN_HAS_USERNAME | STUN_HAS_MESSAGE_INTEGRITY |
                                    STUN_HAS_FINGERPRINT);
    assert_view_str(m.software, m.software_len, "STUN test client");
    assert_view_str(m.username, m.username_len, "evtj:h6vY");
    assert_int_equal(m.priority, 0x6e0001ff);
    assert_true(m.ice_controlled == 0x932ff9b151263b36ull);
    assert_int_equal(m.integrity_offset, 76);
    assert_ptr_equal(m.integrity, REQ + 80);
    assert_int_equal(m.fingerprint_offset, 100);
    assert_int_equal(m.fingerprint, 0xe57a3bcf);
    assert_int_equal(m.unknown_count, 0);
    assert_int_equal(stun_check_unknown(&m), 0);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_rfc5769_ipv4_response(void **state)
{
    stun_msg_t m;
    assert_int_equal(stun_parse(&m, RESP4, sizeof RESP4), 0);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_memory_equal(m.txid, TXID, 12);
    assert_view_str(m.software, m.software_len, "test vector");
    assert_true(m.present & STUN_HAS_XOR_MAPPED_ADDRESS);
    struct sockaddr_in got, want = v4("192.0.2.1", 32853);
    memcpy(&got, &m.xor_mapped, sizeof got);
    assert_int_equal(got.sin_family, AF_INET);
    assert_int_equal(ntohs(got.sin_port), 32853);
    assert_int_equal(got.sin_addr.s_addr, want.sin_addr.s_addr);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_rfc5769_ipv6_response(void **state)
{
    stun_msg_t m;
    assert_int_equal(stun_parse(&m, RESP6, sizeof RESP6), 0);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_view_str(m.software, m.software_len, "test vector");
    struct sockaddr_in6 got, want = v6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    memcpy(&got, &m.xor_mapped, sizeof got);
    assert_int_equal(got.sin6_family, AF_INET6);
    assert_int_equal(ntohs(got.sin6_port), 32853);
    assert_memory_equal(&got.sin6_addr, &want.sin6_addr, 16);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_rfc5769_long_term(void **state)
{
    stun_msg_t m;
    assert_int_equal(stun_parse(&m, REQ_LT, sizeof REQ_LT), 0);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_int_equal(m.cls, STUN_CLASS_REQUEST);
    assert_int_equal(m.username_len, sizeof LT_USER);
    assert_memory_equal(m.username, LT_USER, sizeof LT_USER);
    assert_view_str(m.nonce, m.nonce_len, "f//499k954d6OL34oL9FSTvy64sA");
    assert_view_str(m.realm, m.realm_len, "example.org");
    assert_true(m.present & STUN_HAS_MESSAGE_INTEGRITY);
    assert_false(m.present & STUN_HAS_FINGERPRINT);
    assert_int_equal(m.integrity_offset, 92);
    assert_int_equal(m.unknown_count, 0);
    assert_int_equal(stun_check_fingerprint(&m), LG_ENOTFOUND);
    /* Long-term key = MD5(username ":" realm ":" SASLprep(password)). */
    uint8_t in[64], key[16];
    size_t n = 0;
    memcpy(in, LT_USER, sizeof LT_USER);
    n += sizeof LT_USER;
    memcpy(in + n, ":example.org:TheMatrIX", 22);
    n += 22;
    assert_int_equal(EVP_Digest(in, n, key, NULL, EVP_md5(), NULL), 1);
    assert_int_equal(stun_check_integrity(&m, key, sizeof key), 0);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), LG_EINTEGRITY);
}

/* --- byte-exact building of the RFC 5769 vectors --- */

static void test_build_rfc5769_request(void **state)
{
    uint8_t buf[256];
    size_t len = 0;
    stun_builder_t b;
    assert_int_equal(
        stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID), 0);
    b.pad_byte = 0x20;
    assert_int_equal(stun_add_software(&b, "STUN test client", 16), 0);
    assert_int_equal(stun_add_priority(&b, 0x6e0001ff), 0);
    assert_int_equal(stun_add_ice_controlled(&b, 0x932ff9b151263b36ull), 0);
    assert_int_equal(stun_add_username(&b, "evtj:h6vY", 9), 0);
    assert_int_equal(stun_builder_finish(&b, pw(), PWLEN, &len), 0);
    assert_int_equal(len, sizeof REQ);
    assert_memory_equal(buf, REQ, sizeof REQ);
}

static void build_rfc5769_response(const struct sockaddr *sa, const uint8_t *want, size_t wlen)
{
    uint8_t buf[256];
    size_t len = 0;
    stun_builder_t b;
    assert_int_equal(
        stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, TXID), 0);
    b.pad_byte = 0x20;
    assert_int_equal(stun_add_software(&b, "test vector", 11), 0);
    assert_int_equal(stun_add_xor_mapped_address(&b, sa), 0);
    assert_int_equal(stun_builder_finish(&b, pw(), PWLEN, &len), 0);
    assert_int_equal(len, wlen);
    assert_memory_equal(buf, want, wlen);
}

static void test_build_rfc5769_responses(void **state)
{
    struct sockaddr_in a4 = v4("192.0.2.1", 32853);
    struct sockaddr_in6 a6 = v6("2001:db8:1234:5678:11:2233:4455:6677", 32853);
    build_rfc5769_response((const struct sockaddr *)&a4, RESP4, sizeof RESP4);
    build_rfc5769_response((const struct sockaddr *)&a6, RESP6, sizeof RESP6);
}

/* --- round trips --- */

static void check_request_roundtrip(int use_candidate)
{
    static const uint8_t tx[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    const uint8_t key[] = "remote-password-0123456789";
    stun_binding_request_t req = {
        .txid = tx,
        .username = "rufrag:lufrag",
        .priority = 0x7e7f00ff,
        .tie_breaker = 0x0102030405060708ull,
        .use_candidate = use_candidate,
        .key = key,
        .keylen = sizeof key - 1,
    };
    uint8_t buf[256];
    size_t len = 0;
    stun_msg_t m;
    assert_int_equal(stun_build_binding_request(buf, sizeof buf, &req, &len), 0);
    assert_int_equal(len, use_candidate ? 96 : 92);
    assert_true(stun_is_stun(buf, len));
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_int_equal(m.cls, STUN_CLASS_REQUEST);
    assert_memory_equal(m.txid, tx, 12);
    assert_view_str(m.username, m.username_len, "rufrag:lufrag");
    assert_int_equal(m.priority, 0x7e7f00ff);
    assert_true(m.ice_controlling == 0x0102030405060708ull);
    assert_false(m.present & STUN_HAS_ICE_CONTROLLED);
    assert_int_equal(!!(m.present & STUN_HAS_USE_CANDIDATE), !!use_candidate);
    assert_int_equal(stun_check_integrity(&m, key, sizeof key - 1), 0);
    assert_int_equal(stun_check_integrity(&m, key, sizeof key - 2), LG_EINTEGRITY);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_roundtrip_binding_request(void **state)
{
    check_request_roundtrip(0);
    check_request_roundtrip(1);
}

static void check_success_roundtrip(const struct sockaddr *sa, size_t salen, size_t wantlen)
{
    uint8_t buf[128];
    size_t len = 0;
    stun_msg_t m;
    assert_int_equal(stun_build_binding_success(buf, sizeof buf, TXID, sa, pw(), PWLEN, &len), 0);
    assert_int_equal(len, wantlen);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.cls, STUN_CLASS_SUCCESS);
    assert_int_equal(m.method, STUN_METHOD_BINDING);
    assert_memory_equal(m.txid, TXID, 12);
    assert_true(m.present & STUN_HAS_XOR_MAPPED_ADDRESS);
    assert_memory_equal(&m.xor_mapped, sa, salen);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_roundtrip_binding_success(void **state)
{
    struct sockaddr_in a4 = v4("203.0.113.77", 65535);
    struct sockaddr_in6 a6 = v6("fe80::1:ffff:abcd", 1);
    check_success_roundtrip((const struct sockaddr *)&a4, sizeof a4, 20 + 12 + 24 + 8);
    check_success_roundtrip((const struct sockaddr *)&a6, sizeof a6, 20 + 24 + 24 + 8);
}

static void test_roundtrip_error_responses(void **state)
{
    static const int codes[] = {400, 401, 420, 487, 500};
    stun_msg_t req, m;
    uint8_t buf[256];
    size_t len;
    assert_int_equal(stun_parse(&req, REQ, sizeof REQ), 0);
    req.unknown[0] = 0x7001;
    req.unknown[1] = 0x0042;
    req.unknown_count = 2;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        const uint8_t *key = codes[i] == 401 ? NULL : pw();
        assert_int_equal(
            stun_build_error_response(buf, sizeof buf, &req, codes[i], key, PWLEN * !!key, &len),
            0);
        assert_int_equal(stun_parse(&m, buf, len), 0);
        assert_int_equal(m.cls, STUN_CLASS_ERROR);
        assert_int_equal(m.method, STUN_METHOD_BINDING);
        assert_memory_equal(m.txid, TXID, 12);
        assert_int_equal(m.error_code, codes[i]);
        assert_view_str(m.error_reason, m.error_reason_len, stun_reason_phrase(codes[i]));
        assert_int_equal(!!(m.present & STUN_HAS_UNKNOWN_ATTRIBUTES), codes[i] == 420);
        assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), key ? 0 : LG_ENOTFOUND);
        assert_int_equal(stun_check_fingerprint(&m), 0);
    }
    /* The last 420: the listed types are the request's unknown ones. */
    assert_int_equal(stun_build_error_response(buf, sizeof buf, &req, 420, pw(), PWLEN, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.listed_unknown_count, 2);
    assert_int_equal(m.listed_unknown[0], 0x7001);
    assert_int_equal(m.listed_unknown[1], 0x0042);
    assert_string_equal(stun_reason_phrase(401), "Unauthorized");
    assert_string_equal(stun_reason_phrase(420), "Unknown Attribute");
    assert_int_equal(stun_build_error_response(buf, sizeof buf, &req, 299, NULL, 0, &len),
                     LG_EINVAL);
    assert_int_equal(stun_build_error_response(buf, sizeof buf, &req, 700, NULL, 0, &len),
                     LG_EINVAL);
}

static void test_error_code_custom_reason(void **state)
{
    uint8_t buf[64];
    size_t len;
    stun_builder_t b;
    stun_msg_t m;
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 0x003, STUN_CLASS_ERROR, TXID), 0);
    assert_int_equal(stun_add_error_code(&b, 699, "Nope"), 0);
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.method, 0x003);
    assert_int_equal(m.error_code, 699);
    assert_view_str(m.error_reason, m.error_reason_len, "Nope");
}

static void test_msg_type(void **state)
{
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_REQUEST), 0x0001);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_INDICATION), 0x0011);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_SUCCESS), 0x0101);
    assert_int_equal(stun_msg_type(STUN_METHOD_BINDING, STUN_CLASS_ERROR), 0x0111);
    assert_int_equal(stun_msg_type(0xFFF, STUN_CLASS_ERROR), 0x3FFF);
    assert_int_equal(stun_msg_type(0x003, STUN_CLASS_SUCCESS), 0x0103); /* TURN Allocate */
    /* Every 14-bit type splits into a method and class that encode back to it. */
    uint8_t hdr[STUN_HEADER_SIZE] = {0, 0, 0, 0, 0x21, 0x12, 0xa4, 0x42};
    stun_msg_t m;
    for (unsigned t = 0; t < 0x4000; t++) {
        hdr[0] = (uint8_t)(t >> 8);
        hdr[1] = (uint8_t)t;
        assert_int_equal(stun_parse(&m, hdr, sizeof hdr), 0);
        assert_int_equal(stun_msg_type(m.method, m.cls), t);
    }
}

/* --- tampering --- */

static void test_integrity_flipped_byte(void **state)
{
    uint8_t m2[sizeof REQ];
    stun_msg_t m;
    /* A byte of SOFTWARE's value: parses, but both MI and FINGERPRINT fail. */
    memcpy(m2, REQ, sizeof REQ);
    m2[30] ^= 0x01;
    assert_int_equal(stun_parse(&m, m2, sizeof m2), 0);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), LG_EINTEGRITY);
    assert_int_equal(stun_check_fingerprint(&m), LG_EFINGERPRINT);
    /* Each byte of the HMAC itself. */
    for (size_t i = 80; i < 100; i++) {
        memcpy(m2, REQ, sizeof REQ);
        m2[i] ^= 0x80;
        assert_int_equal(stun_parse(&m, m2, sizeof m2), 0);
        assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), LG_EINTEGRITY);
    }
    /* Every single-bit flip anywhere: never parse AND pass both checks. */
    for (size_t i = 0; i < sizeof REQ; i++) {
        for (int bit = 0; bit < 8; bit++) {
            memcpy(m2, REQ, sizeof REQ);
            m2[i] ^= (uint8_t)(1u << bit);
            if (stun_parse(&m, m2, sizeof m2) != 0)
                continue;
            assert_false(stun_check_integrity(&m, pw(), PWLEN) == 0 &&
                         stun_check_fingerprint(&m) == 0);
        }
    }
}

static void test_integrity_wrong_key(void **state)
{
    stun_msg_t m;
    uint8_t longkey[100];
    memset(longkey, 'k', sizeof longkey);
    assert_int_equal(stun_parse(&m, REQ, sizeof REQ), 0);
    assert_int_equal(stun_check_integrity(&m, (const uint8_t *)"VOkJxbRl1RmTxUk/WvJxBu", PWLEN),
                     LG_EINTEGRITY);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN - 1), LG_EINTEGRITY);
    assert_int_equal(stun_check_integrity(&m, pw(), 0), LG_EINTEGRITY);
    assert_int_equal(stun_check_integrity(&m, longkey, sizeof longkey), LG_EINTEGRITY);
    assert_int_equal(stun_check_integrity(&m, NULL, 3), LG_EINVAL);
    assert_int_equal(stun_check_integrity(NULL, pw(), PWLEN), LG_EINVAL);
}

static void test_long_key_roundtrip(void **state)
{
    /* Keys longer than the SHA-1 block are hashed first (RFC 2104). */
    uint8_t key[100], buf[128];
    size_t len;
    stun_msg_t m;
    struct sockaddr_in a = v4("10.0.0.1", 5000);
    for (size_t i = 0; i < sizeof key; i++)
        key[i] = (uint8_t)i;
    assert_int_equal(stun_build_binding_success(buf, sizeof buf, TXID, (struct sockaddr *)&a, key,
                                                sizeof key, &len),
                     0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(stun_check_integrity(&m, key, sizeof key), 0);
    key[99] ^= 1;
    assert_int_equal(stun_check_integrity(&m, key, sizeof key), LG_EINTEGRITY);
}

static void test_fingerprint_failure(void **state)
{
    uint8_t m2[sizeof RESP4];
    stun_msg_t m;
    memcpy(m2, RESP4, sizeof m2);
    m2[sizeof m2 - 1] ^= 0x01; /* the CRC value: MI still fine */
    assert_int_equal(stun_parse(&m, m2, sizeof m2), 0);
    assert_int_equal(stun_check_fingerprint(&m), LG_EFINGERPRINT);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    memcpy(m2, RESP4, sizeof m2);
    m2[9] ^= 0x01; /* the transaction id */
    assert_int_equal(stun_parse(&m, m2, sizeof m2), 0);
    assert_int_equal(stun_check_fingerprint(&m), LG_EFINGERPRINT);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), LG_EINTEGRITY);
}

/* --- truncation and malformed input --- */

static void check_truncations(const uint8_t *msg, size_t full)
{
    uint8_t buf[256];
    stun_msg_t m;
    for (size_t n = 0; n < full; n++) {
        memcpy(buf, msg, n); /* exact-size prefix under ASan comes from the fuzz replay */
        int rc = stun_parse(&m, buf, n);
        assert_true(rc == LG_ETRUNC || rc == LG_EMALFORMED);
        if (n < STUN_HEADER_SIZE)
            assert_int_equal(rc, LG_ETRUNC);
    }
    /* Cut at every 4-byte boundary with the length field fixed up: either malformed (cut inside an
     * attribute) or a valid shorter message which has lost its FINGERPRINT. */
    for (size_t n = STUN_HEADER_SIZE; n < full; n += 4) {
        memcpy(buf, msg, n);
        buf[2] = (uint8_t)((n - STUN_HEADER_SIZE) >> 8);
        buf[3] = (uint8_t)(n - STUN_HEADER_SIZE);
        int rc = stun_parse(&m, buf, n);
        if (rc == 0)
            assert_int_equal(stun_check_fingerprint(&m), LG_ENOTFOUND);
        else
            assert_int_equal(rc, LG_EMALFORMED);
    }
}

static void test_truncated_inputs(void **state)
{
    check_truncations(REQ, sizeof REQ);
    check_truncations(RESP4, sizeof RESP4);
    check_truncations(RESP6, sizeof RESP6);
    check_truncations(REQ_LT, sizeof REQ_LT);
}

static void test_malformed_header(void **state)
{
    uint8_t m2[sizeof REQ + 4];
    stun_msg_t m;
    memcpy(m2, REQ, sizeof REQ);
    m2[0] |= 0x40; /* top two bits */
    assert_int_equal(stun_parse(&m, m2, sizeof REQ), LG_EMALFORMED);
    memcpy(m2, REQ, sizeof REQ);
    m2[0] |= 0x80;
    assert_int_equal(stun_parse(&m, m2, sizeof REQ), LG_EMALFORMED);
    memcpy(m2, REQ, sizeof REQ);
    m2[4] = 0x00; /* magic cookie */
    assert_int_equal(stun_parse(&m, m2, sizeof REQ), LG_EMALFORMED);
    memcpy(m2, REQ, sizeof REQ);
    m2[3] = 0x57; /* length not a multiple of 4 */
    assert_int_equal(stun_parse(&m, m2, sizeof REQ), LG_EMALFORMED);
    memcpy(m2, REQ, sizeof REQ);
    m2[3] = 0x5c; /* announces more than present */
    assert_int_equal(stun_parse(&m, m2, sizeof REQ), LG_ETRUNC);
    memcpy(m2, REQ, sizeof REQ); /* trailing bytes after the message */
    memset(m2 + sizeof REQ, 0, 4);
    assert_int_equal(stun_parse(&m, m2, sizeof REQ + 4), LG_EMALFORMED);
    uint8_t lt[sizeof REQ_LT + 4] = {0}; /* no FINGERPRINT to stop the walk */
    memcpy(lt, REQ_LT, sizeof REQ_LT);
    assert_int_equal(stun_parse(&m, lt, sizeof REQ_LT), 0);
    assert_int_equal(stun_parse(&m, lt, sizeof lt), LG_EMALFORMED);
    assert_int_equal(stun_parse(&m, NULL, 20), LG_EINVAL);
    assert_int_equal(stun_parse(NULL, REQ, sizeof REQ), LG_EINVAL);
}

/* Builds header + one raw attribute (type, declared length, value bytes of vlen) and parses it. */
static int parse_one_attr(uint16_t type, uint16_t alen, const uint8_t *v, size_t vlen)
{
    uint8_t buf[600] = {0x00, 0x01, 0, 0, 0x21, 0x12, 0xa4, 0x42};
    size_t body = 4 + vlen;
    buf[2] = (uint8_t)(body >> 8);
    buf[3] = (uint8_t)body;
    buf[20] = (uint8_t)(type >> 8);
    buf[21] = (uint8_t)type;
    buf[22] = (uint8_t)(alen >> 8);
    buf[23] = (uint8_t)alen;
    memcpy(buf + 24, v, vlen);
    stun_msg_t m;
    return stun_parse(&m, buf, 20 + body);
}

static void test_malformed_attributes(void **state)
{
    uint8_t z[32] = {0};
    uint8_t fam3[8] = {0, 3, 0, 0, 1, 2, 3, 4};
    uint8_t err7[8] = {0, 0, 7, 0, 'x', 0, 0, 0};
    uint8_t err_n[4] = {0, 0, 4, 100};
    assert_int_equal(parse_one_attr(STUN_ATTR_SOFTWARE, 5, z, 4), LG_EMALFORMED); /* overrun */
    assert_int_equal(parse_one_attr(0x7fff, 0xfff0, z, 8), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_PRIORITY, 3, z, 4), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_PRIORITY, 8, z, 8), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_USE_CANDIDATE, 4, z, 4), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_ICE_CONTROLLING, 4, z, 4), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_ICE_CONTROLLED, 12, z, 12), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_MESSAGE_INTEGRITY, 16, z, 16), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_FINGERPRINT, 8, z, 8), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_XOR_MAPPED_ADDRESS, 8, fam3, 8), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_XOR_MAPPED_ADDRESS, 20, z, 20), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_XOR_MAPPED_ADDRESS, 0, z, 0), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_ERROR_CODE, 5, err7, 8), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_ERROR_CODE, 4, err_n, 4), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_ERROR_CODE, 2, z, 4), LG_EMALFORMED);
    assert_int_equal(parse_one_attr(STUN_ATTR_UNKNOWN_ATTRIBUTES, 3, z, 4), LG_EMALFORMED);
    /* Well-formed counterparts parse. */
    assert_int_equal(parse_one_attr(STUN_ATTR_PRIORITY, 4, z, 4), 0);
    assert_int_equal(parse_one_attr(STUN_ATTR_USE_CANDIDATE, 0, z, 0), 0);
    assert_int_equal(parse_one_attr(STUN_ATTR_SOFTWARE, 5, z, 8), 0);
    assert_int_equal(parse_one_attr(STUN_ATTR_UNKNOWN_ATTRIBUTES, 2, z, 4), 0);
}

static void test_username_limit(void **state)
{
    uint8_t big[STUN_MAX_USERNAME + 4] = {0};
    uint8_t buf[STUN_MAX_USERNAME + 64];
    stun_builder_t b;
    assert_int_equal(parse_one_attr(STUN_ATTR_USERNAME, STUN_MAX_USERNAME, big, 516), 0);
    assert_int_equal(parse_one_attr(STUN_ATTR_USERNAME, STUN_MAX_USERNAME + 1, big, 516),
                     LG_EMALFORMED);
    stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID);
    assert_int_equal(stun_add_username(&b, (const char *)big, STUN_MAX_USERNAME + 1), LG_EINVAL);
}

static void test_fingerprint_must_be_last(void **state)
{
    uint8_t m2[sizeof RESP4 + 8];
    stun_msg_t m;
    memcpy(m2, RESP4, sizeof RESP4);
    /* Append USE-CANDIDATE and an empty optional attribute after FINGERPRINT, fix the length. */
    static const uint8_t tail[8] = {0x00, 0x25, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00};
    memcpy(m2 + sizeof RESP4, tail, 8);
    m2[3] = (uint8_t)(sizeof m2 - 20);
    assert_int_equal(stun_parse(&m, m2, sizeof m2), LG_EMALFORMED);
}

/* --- attribute rules --- */

static void test_unknown_comprehension_required(void **state)
{
    uint8_t buf[256];
    size_t len;
    stun_builder_t b;
    stun_msg_t m;
    assert_int_equal(
        stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_add_attr(&b, 0x7777, "abc", 3), 0);
    assert_int_equal(stun_add_attr(&b, 0x8055, "opt", 3), 0); /* comprehension-optional */
    assert_int_equal(stun_add_attr(&b, 0x0001, "\0\1\0\0\0\0\0\0", 8), 0); /* MAPPED-ADDRESS */
    assert_int_equal(stun_add_attr(&b, 0x7777, NULL, 0), 0);               /* duplicate */
    assert_int_equal(stun_add_username(&b, "a:b", 3), 0);
    assert_int_equal(stun_builder_finish(&b, pw(), PWLEN, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.unknown_count, 2);
    assert_int_equal(m.unknown[0], 0x7777);
    assert_int_equal(m.unknown[1], 0x0001);
    assert_int_equal(m.unknown_dropped, 0);
    assert_int_equal(stun_check_unknown(&m), LG_EUNKNOWNATTR);
    assert_view_str(m.username, m.username_len, "a:b");
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);

    uint8_t out[128];
    size_t olen;
    stun_msg_t r;
    assert_int_equal(stun_build_error_response(out, sizeof out, &m, 420, pw(), PWLEN, &olen), 0);
    assert_int_equal(stun_parse(&r, out, olen), 0);
    assert_int_equal(r.error_code, 420);
    assert_int_equal(r.listed_unknown_count, 2);
    assert_int_equal(r.listed_unknown[0], 0x7777);
    assert_int_equal(r.listed_unknown[1], 0x0001);
    assert_int_equal(r.unknown_count, 0);
}

static void test_unknown_overflow(void **state)
{
    uint8_t buf[256];
    size_t len;
    stun_builder_t b;
    stun_msg_t m;
    stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID);
    for (uint16_t t = 0x7000; t < 0x7000 + STUN_MAX_UNKNOWN + 3; t++)
        assert_int_equal(stun_add_attr(&b, t, NULL, 0), 0);
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.unknown_count, STUN_MAX_UNKNOWN);
    assert_int_equal(m.unknown_dropped, 3);
    assert_int_equal(m.unknown[STUN_MAX_UNKNOWN - 1], 0x7000 + STUN_MAX_UNKNOWN - 1);
}

static void test_attributes_after_integrity_ignored(void **state)
{
    /* RFC 5769 2.1 up to and including MESSAGE-INTEGRITY, then USE-CANDIDATE, an unknown
     * comprehension-required attribute and a different USERNAME, then a fresh FINGERPRINT. */
    uint8_t buf[256], out[256];
    size_t mi_end = 100;
    memcpy(buf, REQ, mi_end);
    static const uint8_t tail[] = {0x00, 0x25, 0x00, 0x00, 0x00, 0x77, 0x00, 0x00,
                                   0x00, 0x06, 0x00, 0x03, 'x',  ':',  'y',  0x00};
    memcpy(buf + mi_end, tail, sizeof tail);
    size_t len = mi_end + sizeof tail;
    stun_msg_t m;
    buf[2] = 0;
    buf[3] = (uint8_t)(len - 20);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_false(m.present & STUN_HAS_USE_CANDIDATE);
    assert_int_equal(m.unknown_count, 0);
    assert_view_str(m.username, m.username_len, "evtj:h6vY");
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), LG_ENOTFOUND);
    /* White-box: let a builder append a FINGERPRINT to these bytes; MI still verifies. */
    stun_builder_t b;
    stun_builder_init(&b, out, sizeof out, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID);
    memcpy(out, buf, len);
    b.len = len;
    size_t olen;
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &olen), 0);
    assert_int_equal(stun_parse(&m, out, olen), 0);
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), 0);
    assert_int_equal(stun_check_fingerprint(&m), 0);
}

static void test_unknown_attributes_list_capped(void **state)
{
    uint8_t v[24];
    uint8_t buf[64];
    size_t len;
    stun_builder_t b;
    stun_msg_t m;
    for (size_t i = 0; i < 12; i++) {
        v[2 * i] = 0x70;
        v[2 * i + 1] = (uint8_t)i;
    }
    stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_ERROR, TXID);
    assert_int_equal(stun_add_attr(&b, STUN_ATTR_UNKNOWN_ATTRIBUTES, v, sizeof v), 0);
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.listed_unknown_count, STUN_MAX_UNKNOWN);
    assert_int_equal(m.listed_unknown[STUN_MAX_UNKNOWN - 1], 0x7000 + STUN_MAX_UNKNOWN - 1);
}

static void test_first_occurrence_wins(void **state)
{
    uint8_t buf[128];
    size_t len;
    stun_builder_t b;
    stun_msg_t m;
    stun_builder_init(&b, buf, sizeof buf, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, TXID);
    stun_add_priority(&b, 1);
    stun_add_priority(&b, 2);
    stun_add_username(&b, "first", 5);
    stun_add_username(&b, "second", 6);
    assert_int_equal(stun_builder_finish(&b, NULL, 0, &len), 0);
    assert_int_equal(stun_parse(&m, buf, len), 0);
    assert_int_equal(m.priority, 1);
    assert_view_str(m.username, m.username_len, "first");
    assert_int_equal(stun_check_integrity(&m, pw(), PWLEN), LG_ENOTFOUND);
}

/* --- builder limits --- */

static void test_builder_enospc(void **state)
{
    static const uint8_t tx[12] = {9};
    const uint8_t key[] = "pw";
    stun_binding_request_t req = {.txid = tx,
                                  .username = "abcd:efgh",
                                  .priority = 7,
                                  .tie_breaker = 9,
                                  .use_candidate = 1,
                                  .key = key,
                                  .keylen = 2};
    uint8_t buf[256];
    size_t full = 0, len;
    assert_int_equal(stun_build_binding_request(buf, sizeof buf, &req, &full), 0);
    assert_int_equal(full, 20 + 16 + 8 + 12 + 4 + 24 + 8);
    for (size_t cap = 0; cap < full; cap++) {
        memset(buf, 0xAA, sizeof buf);
        len = 12345;
        assert_int_equal(stun_build_binding_request(buf, cap, &req, &len), LG_ENOSPC);
        assert_int_equal(len, 12345);
        for (size_t i = cap; i < sizeof buf; i++)
            assert_int_equal(buf[i], 0xAA); /* nothing written past the capacity */
    }
    assert_int_equal(stun_build_binding_request(buf, full, &req, &len), 0);
    assert_int_equal(len, full);

    struct sockaddr_in6 a6 = v6("::1", 9);
    for (size_t cap = 0; cap < 76; cap++)
        assert_int_equal(
            stun_build_binding_success(buf, cap, TXID, (struct sockaddr *)&a6, key, 2, &len),
            LG_ENOSPC);
    assert_int_equal(
        stun_build_binding_success(buf, 76, TXID, (struct sockaddr *)&a6, key, 2, &len), 0);
}

static void test_builder_state_and_args(void **state)
{
    uint8_t buf[128];
    size_t len;
    stun_builder_t b;
    struct sockaddr_un un = {.sun_family = AF_UNIX};
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 0x1000, STUN_CLASS_REQUEST, TXID),
                     LG_EINVAL);
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, NULL),
                     LG_EINVAL);
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_add_xor_mapped_address(&b, (struct sockaddr *)&un), LG_EINVAL);
    assert_int_equal(stun_add_priority(&b, 1), LG_EINVAL); /* the error is sticky */

    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_add_error_code(&b, 299, NULL), LG_EINVAL);
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_add_attr(&b, 0x8000, NULL, 4), LG_EINVAL);
    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_add_unknown_attributes(&b, NULL, STUN_MAX_UNKNOWN + 1), LG_EINVAL);

    assert_int_equal(stun_builder_init(&b, buf, sizeof buf, 1, STUN_CLASS_REQUEST, TXID), 0);
    assert_int_equal(stun_builder_finish(&b, pw(), PWLEN, &len), 0);
    assert_int_equal(len, 20 + 24 + 8);
    assert_int_equal(stun_add_use_candidate(&b), LG_ESTATE);
    assert_int_equal(stun_builder_finish(&b, pw(), PWLEN, &len), LG_ESTATE);
    assert_int_equal(stun_builder_finish(NULL, NULL, 0, &len), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_stun),
        cmocka_unit_test(test_rfc5769_request),
        cmocka_unit_test(test_rfc5769_ipv4_response),
        cmocka_unit_test(test_rfc5769_ipv6_response),
        cmocka_unit_test(test_rfc5769_long_term),
        cmocka_unit_test(test_build_rfc5769_request),
        cmocka_unit_test(test_build_rfc5769_responses),
        cmocka_unit_test(test_roundtrip_binding_request),
        cmocka_unit_test(test_roundtrip_binding_success),
        cmocka_unit_test(test_roundtrip_error_responses),
        cmocka_unit_test(test_error_code_custom_reason),
        cmocka_unit_test(test_msg_type),
        cmocka_unit_test(test_integrity_flipped_byte),
        cmocka_unit_test(test_integrity_wrong_key),
        cmocka_unit_test(test_long_key_roundtrip),
        cmocka_unit_test(test_fingerprint_failure),
        cmocka_unit_test(test_truncated_inputs),
        cmocka_unit_test(test_malformed_header),
        cmocka_unit_test(test_malformed_attributes),
        cmocka_unit_test(test_username_limit),
        cmocka_unit_test(test_fingerprint_must_be_last),
        cmocka_unit_test(test_unknown_comprehension_required),
        cmocka_unit_test(test_unknown_overflow),
        cmocka_unit_test(test_attributes_after_integrity_ignored),
        cmocka_unit_test(test_unknown_attributes_list_capped),
        cmocka_unit_test(test_first_occurrence_wins),
        cmocka_unit_test(test_builder_enospc),
        cmocka_unit_test(test_builder_state_and_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
