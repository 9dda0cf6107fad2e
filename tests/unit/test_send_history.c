/* Unit tests for the per-consumer send history: identical resends pass, anything else does not. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "media/send_history.h"
#include "media/wire.h"

static const sendhist_key_t KEY = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

#define HDR 20 /* 12-byte header + one-byte-form extension block with transport-cc */

/* A VP8 packet as a relay sends it: seq, transport-cc number, picture id (15 bit), payload. */
static size_t make_packet(uint8_t *p, uint16_t seq, uint16_t twcc, uint16_t picture_id)
{
    memset(p, 0, 200);
    p[0] = 0x90; /* V=2, X */
    p[1] = 96;
    wire_put_u16(p + 2, seq);
    wire_put_u32(p + 4, 90000);
    wire_put_u32(p + 8, 0x1234);
    wire_put_u16(p + 12, 0xbede);
    wire_put_u16(p + 14, 1);
    p[16] = 0x31; /* id 3, 2 bytes */
    wire_put_u16(p + 17, twcc);
    p[HDR] = 0x90;     /* VP8: X, S */
    p[HDR + 1] = 0x80; /* I */
    wire_put_u16(p + HDR + 2, (uint16_t)(0x8000 | picture_id));
    for (int i = 4; i < 180; i++)
        p[HDR + i] = (uint8_t)(i * 7);
    return HDR + 180;
}

/* The record of a packet built that way, hashed as the router hashes it. */
static sendhist_rec_t rec_of(uint16_t seq, uint16_t twcc, uint16_t picture_id)
{
    uint8_t p[256];
    size_t n = make_packet(p, seq, twcc, picture_id);
    sendhist_rec_t r = {.hash = sendhist_hash(&KEY, 0, p, n), .twcc = twcc, .has_twcc = true};
    return r;
}

static void test_identical_resend_allowed(void **state)
{
    (void)state;
    sendhist_t h;
    sendhist_init(&h);
    for (uint16_t s = 100; s < 110; s++) {
        sendhist_rec_t none;
        assert_int_equal(sendhist_lookup(&h, s, &none), SENDHIST_NEW);
        sendhist_rec_t r = rec_of(s, (uint16_t)(s + 5000), s);
        sendhist_record(&h, s, &r);
    }
    sendhist_rec_t first;
    assert_int_equal(sendhist_lookup(&h, 104, &first), SENDHIST_SENT);
    assert_int_equal(first.twcc, 5104); /* the resend stamps the first send's number again */
    sendhist_rec_t again = rec_of(104, first.twcc, 104);
    assert_true(sendhist_resend_ok(&h, 104, &again));
}

/* A new transport-cc number, a remapped picture id, other payload: other data, refused. */
static void test_changed_resend_refused(void **state)
{
    (void)state;
    sendhist_t h;
    sendhist_init(&h);
    sendhist_rec_t r = rec_of(7, 40, 300);
    sendhist_record(&h, 7, &r);
    sendhist_rec_t new_twcc = rec_of(7, 41, 300);
    assert_false(sendhist_resend_ok(&h, 7, &new_twcc));
    sendhist_rec_t new_pic = rec_of(7, 40, 301); /* the picture id mapping moved */
    new_pic.twcc = 40;
    assert_false(sendhist_resend_ok(&h, 7, &new_pic));
    uint8_t p[256];
    size_t n = make_packet(p, 7, 40, 300);
    p[n - 1] ^= 1; /* a different source packet under the same number */
    sendhist_rec_t other = {.hash = sendhist_hash(&KEY, 0, p, n), .twcc = 40, .has_twcc = true};
    assert_false(sendhist_resend_ok(&h, 7, &other));
    sendhist_rec_t no_twcc = r;
    no_twcc.has_twcc = false;
    assert_false(sendhist_resend_ok(&h, 7, &no_twcc));
    assert_true(sendhist_resend_ok(&h, 7, &r));
}

/* Never sent, or too old to know: no resend; a first send only when never sent. */
static void test_unknown_numbers(void **state)
{
    (void)state;
    sendhist_t h;
    sendhist_init(&h);
    sendhist_rec_t r = rec_of(1, 1, 1), out;
    assert_false(sendhist_resend_ok(&h, 1, &r)); /* empty */
    for (uint16_t s = 1000; s < 1000 + 3 * SENDHIST_SIZE; s++)
        if (s != 1600)
            sendhist_record(&h, s, &r);
    uint16_t newest = 1000 + 3 * SENDHIST_SIZE - 1;
    assert_int_equal(sendhist_lookup(&h, 1600, &out), SENDHIST_NEW); /* a gap: never sent */
    assert_false(sendhist_resend_ok(&h, 1600, &r));
    assert_int_equal(sendhist_lookup(&h, 1601, &out), SENDHIST_SENT);
    assert_int_equal(sendhist_lookup(&h, (uint16_t)(newest + 1), &out), SENDHIST_NEW);
    assert_int_equal(sendhist_lookup(&h, (uint16_t)(newest - SENDHIST_SIZE + 1), &out),
                     SENDHIST_SENT);
    assert_int_equal(sendhist_lookup(&h, (uint16_t)(newest - SENDHIST_SIZE), &out),
                     SENDHIST_UNKNOWN);
    assert_false(sendhist_resend_ok(&h, (uint16_t)(newest - SENDHIST_SIZE), &r));
    /* recording a number that old is ignored: it cannot be told apart from one sent */
    sendhist_record(&h, (uint16_t)(newest - SENDHIST_SIZE), &r);
    assert_int_equal(sendhist_lookup(&h, (uint16_t)(newest - SENDHIST_SIZE), &out),
                     SENDHIST_UNKNOWN);
    /* the slot of a number sent one ring ago does not make it look sent */
    sendhist_record(&h, (uint16_t)(newest + SENDHIST_SIZE), &r);
    assert_int_equal(sendhist_lookup(&h, (uint16_t)(newest + 1), &out), SENDHIST_NEW);
}

/* Across the 16-bit wrap, and a number from one cycle ago is not this cycle's. */
static void test_wrap(void **state)
{
    (void)state;
    sendhist_t h;
    sendhist_init(&h);
    sendhist_rec_t out;
    for (uint32_t i = 0; i < 200; i++) {
        uint16_t s = (uint16_t)(65500 + i);
        sendhist_rec_t r = rec_of(s, (uint16_t)i, s);
        sendhist_record(&h, s, &r);
    }
    sendhist_rec_t r = rec_of(65530, 30, 65530);
    assert_true(sendhist_resend_ok(&h, 65530, &r));
    r = rec_of(20, 56, 20);
    assert_true(sendhist_resend_ok(&h, 20, &r));
    for (uint32_t s = 100; s < 65536 + 65400; s++) /* a full cycle later: 65500 is new again */
        sendhist_record(&h, (uint16_t)s, &r);
    assert_int_equal(sendhist_lookup(&h, 65399, &out), SENDHIST_SENT);
    assert_int_equal(sendhist_lookup(&h, 65500, &out), SENDHIST_NEW);
}

static void test_hash(void **state)
{
    (void)state;
    uint8_t a[64] = {0}, b[64] = {0};
    assert_true(sendhist_hash(&KEY, 0, a, 64) == sendhist_hash(&KEY, 0, b, 64));
    for (int i = 0; i < 64; i++) { /* any single bit anywhere, including the tail */
        b[i] ^= 0x10;
        assert_true(sendhist_hash(&KEY, 0, a, 64) != sendhist_hash(&KEY, 0, b, 64));
        b[i] ^= 0x10;
    }
    assert_true(sendhist_hash(&KEY, 0, a, 63) != sendhist_hash(&KEY, 0, a, 64)); /* length counts */
    assert_true(sendhist_hash(&KEY, 1, a, 64) !=
                sendhist_hash(&KEY, 0, a, 64)); /* so does the seed */
    assert_true(sendhist_hash(&KEY, 0, a, 0) != sendhist_hash(&KEY, 0, a, 1));
    sendhist_key_t other = KEY;
    other.k1 ^= 1; /* the key counts: without it no hash can be predicted */
    assert_true(sendhist_hash(&other, 0, a, 64) != sendhist_hash(&KEY, 0, a, 64));
}

/* SipHash-2-4 reference vectors (Aumasson and Bernstein, vectors.h: key 00..0f, message
 * 00..n-1). */
static void test_siphash_vectors(void **state)
{
    (void)state;
    uint8_t m[64];
    for (int i = 0; i < 64; i++)
        m[i] = (uint8_t)i;
    assert_true(sendhist_hash(&KEY, 0, m, 0) == 0x726fdb47dd0e0e31ull);
    assert_true(sendhist_hash(&KEY, 0, m, 1) == 0x74f839c593dc67fdull);
    assert_true(sendhist_hash(&KEY, 0, m, 8) == 0x93f5f5799a932462ull);
    assert_true(sendhist_hash(&KEY, 0, m, 15) == 0xa129ca6149be45e5ull);
    assert_true(sendhist_hash(&KEY, 0, m, 63) == 0x958a324ceb064572ull);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_resend_allowed),
        cmocka_unit_test(test_changed_resend_refused),
        cmocka_unit_test(test_unknown_numbers),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_hash),
        cmocka_unit_test(test_siphash_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
