/* Unit tests for the retransmission buffer: wrap, overwrite, age-out, misses, resend pacing, and
 * a byte ring that follows the stream's rate. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "media/rtx_buffer.h"
#include "sfu/lg_error.h"

/* A fake packet whose bytes encode its seq, so a wrong slot shows. */
static size_t make_pkt(uint16_t seq, uint8_t *buf)
{
    size_t len = 20 + seq % 100;
    memset(buf, 0, len);
    buf[0] = 0x80;
    buf[2] = (uint8_t)(seq >> 8);
    buf[3] = (uint8_t)seq;
    buf[len - 1] = (uint8_t)(seq * 7);
    return len;
}

static void put(rtxbuf_t *b, uint16_t seq, uint64_t now)
{
    uint8_t buf[RTXBUF_MTU];
    size_t len = make_pkt(seq, buf);
    int rc = rtxbuf_put(b, seq, buf, len, now);
    if (rc != 0)
        fail_msg("put %u: %s", seq, lg_errname(rc));
}

static void expect_hit(rtxbuf_t *b, uint16_t seq, uint64_t now)
{
    uint8_t want[RTXBUF_MTU];
    size_t want_len = make_pkt(seq, want);
    const uint8_t *p;
    size_t len;
    int rc = rtxbuf_get(b, seq, now, &p, &len);
    if (rc != 0)
        fail_msg("get %u: %s", seq, lg_errname(rc));
    assert_int_equal(len, want_len);
    assert_memory_equal(p, want, len);
}

static void expect_miss(rtxbuf_t *b, uint16_t seq, uint64_t now)
{
    const uint8_t *p;
    size_t len;
    int rc = rtxbuf_get(b, seq, now, &p, &len);
    if (rc != LG_ENOTFOUND)
        fail_msg("get %u: %s, expected ENOTFOUND", seq, rc ? lg_errname(rc) : "found");
}

static void test_init_args(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 0, 1000), LG_EINVAL);
    assert_int_equal(rtxbuf_init(&b, 500, 1000), LG_EINVAL);
    assert_int_equal(rtxbuf_init(&b, 65536, 1000), LG_EINVAL);
    assert_int_equal(rtxbuf_init(NULL, 512, 1000), LG_EINVAL);
    assert_int_equal(rtxbuf_init(&b, 16, 1000), 0);
    uint8_t big[RTXBUF_MTU + 1] = {0};
    assert_int_equal(rtxbuf_put(&b, 1, big, sizeof big, 0), LG_ENOSPC);
    assert_int_equal(rtxbuf_put(&b, 1, big, 0, 0), LG_EINVAL);
    assert_int_equal(rtxbuf_put(&b, 1, big, RTXBUF_MTU, 0), 0);
    expect_miss(&b, 2, 0);
    rtxbuf_free(&b);
    rtxbuf_free(&b); /* twice is harmless */
    expect_miss(&b, 1, 0);
}

static void test_store_and_miss(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, RTXBUF_DEFAULT_CAP, RTXBUF_DEFAULT_AGE_MS), 0);
    for (uint16_t s = 1000; s < 1100; s++)
        if (s != 1050)
            put(&b, s, 10);
    expect_hit(&b, 1000, 20);
    expect_hit(&b, 1099, 20);
    expect_miss(&b, 1050, 20); /* never stored */
    expect_miss(&b, 1100, 20); /* not yet sent */
    expect_miss(&b, 999, 20);
    put(&b, 1050, 25); /* late arrival (publisher's own retransmission) fills in */
    expect_hit(&b, 1050, 30);
    assert_int_equal(b.count, 100);
    rtxbuf_free(&b);
}

static void test_wrap(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 64, 1000), 0);
    for (uint32_t i = 0; i < 40; i++)
        put(&b, (uint16_t)(65520 + i), 100);
    for (uint32_t i = 0; i < 40; i++)
        expect_hit(&b, (uint16_t)(65520 + i), 100);
    expect_miss(&b, 24, 100);
    expect_miss(&b, 65519, 100);
    /* Late arrival before the wrap point while the newest is past it. */
    rtxbuf_clear(&b);
    put(&b, 3, 0);
    put(&b, 65534, 0);
    expect_hit(&b, 65534, 0);
    expect_hit(&b, 3, 0);
    rtxbuf_free(&b);
}

static void test_overwrite(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 16, 1000), 0);
    for (uint16_t s = 0; s < 40; s++)
        put(&b, s, 0);
    for (uint16_t s = 0; s < 24; s++)
        expect_miss(&b, s, 0); /* evicted by seq + 16 */
    for (uint16_t s = 24; s < 40; s++)
        expect_hit(&b, s, 0);
    assert_int_equal(b.count, 16);
    /* Older than the window is refused while the buffer is live. */
    uint8_t buf[RTXBUF_MTU];
    size_t len = make_pkt(20, buf);
    assert_int_equal(rtxbuf_put(&b, 20, buf, len, 0), LG_EREPLAY);
    /* A jump ahead forgets the slots it skips (40..44 held 24..28) and evicts 29. */
    put(&b, 45, 0);
    for (uint16_t s = 24; s < 30; s++)
        expect_miss(&b, s, 0);
    for (uint16_t s = 30; s < 40; s++)
        expect_hit(&b, s, 0);
    for (uint16_t s = 40; s < 45; s++)
        expect_miss(&b, s, 0);
    expect_hit(&b, 45, 0);
    assert_int_equal(b.count, 11);
    /* A jump of more than the capacity forgets everything. */
    put(&b, 1000, 0);
    expect_miss(&b, 45, 0);
    assert_int_equal(b.count, 1);
    /* A duplicate replaces the stored copy. */
    uint8_t other[30];
    memset(other, 0xab, sizeof other);
    assert_int_equal(rtxbuf_put(&b, 1000, other, sizeof other, 0), 0);
    const uint8_t *p;
    assert_int_equal(rtxbuf_get(&b, 1000, 0, &p, &len), 0);
    assert_int_equal(len, sizeof other);
    assert_memory_equal(p, other, len);
    assert_int_equal(b.count, 1);
    rtxbuf_free(&b);
}

static void test_age_out(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 32, 1000), 0);
    put(&b, 500, 1000);
    put(&b, 501, 1600);
    expect_hit(&b, 500, 2000);  /* exactly max age: still there */
    expect_miss(&b, 500, 2001); /* older than max age */
    expect_hit(&b, 501, 2001);
    expect_miss(&b, 501, 2601);
    /* Everything aged out: an old seq is a restarted stream, not a stale packet. */
    put(&b, 100, 5000);
    expect_hit(&b, 100, 5000);
    expect_miss(&b, 501, 5000);
    rtxbuf_free(&b);
}

static void test_resend_pacing(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 32, 1000), 0);
    put(&b, 7, 0);
    const uint8_t *p;
    size_t len;
    assert_int_equal(rtxbuf_resend(&b, 7, 10, 100, &p, &len), 0);
    assert_int_equal(rtxbuf_resend(&b, 7, 50, 100, &p, &len), LG_EREPLAY);
    assert_int_equal(rtxbuf_resend(&b, 7, 110, 100, &p, &len), 0);
    assert_int_equal(rtxbuf_resend(&b, 8, 110, 100, &p, &len), LG_ENOTFOUND);
    assert_int_equal(b.slots[7].resends, 2);
    put(&b, 7, 120); /* a new copy starts unsent */
    assert_int_equal(b.slots[7].resends, 0);
    assert_int_equal(rtxbuf_resend(&b, 7, 130, 100, &p, &len), 0);
    rtxbuf_free(&b);
}

/* A packet of `len` bytes whose every byte depends on seq. */
static void put_sized(rtxbuf_t *b, uint16_t seq, size_t len, uint64_t now)
{
    uint8_t buf[RTXBUF_MTU];
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 31 + i);
    int rc = rtxbuf_put(b, seq, buf, len, now);
    if (rc != 0)
        fail_msg("put %u: %s", seq, lg_errname(rc));
}

static void expect_sized(rtxbuf_t *b, uint16_t seq, size_t want_len, uint64_t now)
{
    const uint8_t *p;
    size_t len;
    int rc = rtxbuf_get(b, seq, now, &p, &len);
    if (rc != 0)
        fail_msg("get %u at %llu ms: %s", seq, (unsigned long long)now, lg_errname(rc));
    assert_int_equal(len, want_len);
    for (size_t i = 0; i < len; i++)
        if (p[i] != (uint8_t)(seq * 31 + i))
            fail_msg("seq %u byte %zu differs", seq, i);
}

/* Streams `seconds` of `pps` packets per second of `len` bytes from seq *seq on, from *now on;
 * checks on the way that every packet of the last 900 ms is there, intact. */
static void stream(rtxbuf_t *b, uint16_t *seq, uint64_t *now, int pps, size_t len, int seconds)
{
    for (int i = 0; i < pps * seconds; i++) {
        put_sized(b, *seq, len, *now);
        int back = pps * 9 / 10;
        if (i % 17 == 0)
            for (int k = 0; k < back && k <= i; k++)
                expect_sized(b, (uint16_t)(*seq - k), len, *now);
        (*seq)++;
        *now += (uint64_t)(1000 / pps);
    }
}

/* 1.2 Mbit/s of 1000-byte packets: the ring settles near 1.25 s of it (~190 KB), not the
 * 256 x 1500 bytes a slot per packet would take, and every NACKable packet is still there. */
static void test_ring_follows_rate(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 256, 1000), 0);
    assert_int_equal(b.size, RTXBUF_MIN_BYTES);
    uint16_t seq = 65000; /* across the wrap */
    uint64_t now = 5000;
    stream(&b, &seq, &now, 150, 1000, 4);
    assert_true(b.size >= 150 * 1000);
    assert_true(b.size <= 150 * 1000 * 3 / 2);
    assert_true(b.size < 256 * RTXBUF_MTU);
    /* the rate drops to 100 kbit/s: after a few seconds the ring has shrunk, packets still there */
    stream(&b, &seq, &now, 25, 500, 12);
    assert_true(b.size < 64 * 1024);
    rtxbuf_free(&b);
}

/* A slow stream stays at the smallest ring; a burst (a key frame, all in one millisecond) grows
 * it at once and loses nothing of the window, up to capacity x MTU. */
static void test_ring_small_then_burst(void **state)
{
    (void)state;
    rtxbuf_t b;
    assert_int_equal(rtxbuf_init(&b, 256, 1000), 0);
    uint16_t seq = 1;
    uint64_t now = 100;
    stream(&b, &seq, &now, 20, 300, 3);
    assert_int_equal(b.size, RTXBUF_MIN_BYTES);
    for (int i = 0; i < 256; i++)
        put_sized(&b, (uint16_t)(seq + i), RTXBUF_MTU, now);
    for (int i = 0; i < 256; i++)
        expect_sized(&b, (uint16_t)(seq + i), RTXBUF_MTU, now);
    assert_int_equal(b.size, 256 * RTXBUF_MTU);
    assert_int_equal(b.count, 256);
    /* back to the slow stream: the ring gives the memory back, and keeps what is wanted */
    seq = (uint16_t)(seq + 256);
    stream(&b, &seq, &now, 20, 300, 8);
    assert_true(b.size <= 160 * 1024); /* less than half; the rest at the next wrap */
    rtxbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_args),
        cmocka_unit_test(test_store_and_miss),
        cmocka_unit_test(test_wrap),
        cmocka_unit_test(test_overwrite),
        cmocka_unit_test(test_age_out),
        cmocka_unit_test(test_resend_pacing),
        cmocka_unit_test(test_ring_follows_rate),
        cmocka_unit_test(test_ring_small_then_burst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
