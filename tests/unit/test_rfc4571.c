/* Unit tests for RFC 4571 framing: streams cut at every byte boundary, several frames per chunk,
 * zero-length and maximum-length frames, zero copy, early stop, and framer round trips. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "sfu/rfc4571.h"

#define MAX_SEEN 8

/* What the callback saw: lengths, a copy of each frame, and whether it pointed into the chunk. */
typedef struct {
    int count;
    size_t len[MAX_SEEN];
    uint8_t *copy[MAX_SEEN];
    int in_chunk[MAX_SEEN];
    const uint8_t *chunk; /* the chunk being fed */
    size_t chunk_len;
    int stop_after; /* return 1 once this many frames were seen (0: never) */
} seen_t;

static int on_frame(void *ctx, uint8_t *frame, size_t len)
{
    seen_t *s = ctx;
    assert_true(s->count < MAX_SEEN);
    assert_true(len > 0);
    s->len[s->count] = len;
    s->copy[s->count] = malloc(len);
    memcpy(s->copy[s->count], frame, len);
    s->in_chunk[s->count] = frame >= s->chunk && frame + len <= s->chunk + s->chunk_len;
    s->count++;
    return s->stop_after && s->count >= s->stop_after;
}

static void seen_reset(seen_t *s)
{
    for (int i = 0; i < s->count; i++)
        free(s->copy[i]);
    memset(s, 0, sizeof *s);
}

static int feed(rfc4571_deframer_t *d, seen_t *s, uint8_t *p, size_t len)
{
    s->chunk = p;
    s->chunk_len = len;
    return rfc4571_deframer_feed(d, p, len, on_frame, s);
}

static void fill_pattern(uint8_t *p, size_t len, unsigned seed)
{
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 31 + i * 7);
}

/* Three payloads of 1, 300 and 5 bytes framed back to back. */
static const size_t LENS[3] = {1, 300, 5};
static uint8_t payloads[3][300];

static size_t build_stream(uint8_t *out, size_t cap)
{
    size_t off = 0;
    for (int i = 0; i < 3; i++) {
        fill_pattern(payloads[i], LENS[i], (unsigned)i + 1);
        int n = rfc4571_frame(out + off, cap - off, payloads[i], LENS[i]);
        assert_true(n > 0);
        off += (size_t)n;
    }
    return off;
}

static void assert_three(const seen_t *s)
{
    assert_int_equal(s->count, 3);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s->len[i], LENS[i]);
        assert_memory_equal(s->copy[i], payloads[i], LENS[i]);
    }
}

static void test_split_at_every_boundary(void **state)
{
    uint8_t stream[400];
    size_t total = build_stream(stream, sizeof stream);
    assert_int_equal(total, 312);
    rfc4571_deframer_t *d = malloc(sizeof *d);
    seen_t s = {0};
    /* Two cuts (i <= j) cover every single split and every pair of splits. */
    for (size_t i = 0; i <= total; i++) {
        for (size_t j = i; j <= total; j++) {
            uint8_t copy[400];
            memcpy(copy, stream, total);
            rfc4571_deframer_init(d);
            assert_int_equal(feed(d, &s, copy, i), 0);
            assert_int_equal(feed(d, &s, copy + i, j - i), 0);
            assert_int_equal(feed(d, &s, copy + j, total - j), 0);
            assert_three(&s);
            assert_int_equal(d->have, 0);
            seen_reset(&s);
        }
    }
    /* One byte at a time. */
    rfc4571_deframer_init(d);
    for (size_t i = 0; i < total; i++)
        assert_int_equal(feed(d, &s, stream + i, 1), 0);
    assert_three(&s);
    seen_reset(&s);
    free(d);
}

static void test_several_frames_one_chunk_zero_copy(void **state)
{
    uint8_t stream[400];
    size_t total = build_stream(stream, sizeof stream);
    rfc4571_deframer_t *d = malloc(sizeof *d);
    rfc4571_deframer_init(d);
    seen_t s = {0};
    assert_int_equal(feed(d, &s, stream, total), 0);
    assert_three(&s);
    for (int i = 0; i < 3; i++)
        assert_true(s.in_chunk[i]); /* whole frames are not copied */
    seen_reset(&s);
    /* A chunk that ends inside the second frame: the first is zero copy, the second gathered. */
    rfc4571_deframer_init(d);
    assert_int_equal(feed(d, &s, stream, 10), 0);
    assert_int_equal(s.count, 1);
    assert_true(s.in_chunk[0]);
    assert_int_equal(feed(d, &s, stream + 10, total - 10), 0);
    assert_three(&s);
    assert_false(s.in_chunk[1]);
    assert_true(s.in_chunk[2]);
    seen_reset(&s);
    free(d);
}

static void test_zero_length_frame_skipped(void **state)
{
    uint8_t stream[16] = {0x00, 0x01, 'a', 0x00, 0x00, 0x00, 0x02, 'b', 'c', 0x00, 0x00};
    size_t total = 11;
    rfc4571_deframer_t *d = malloc(sizeof *d);
    seen_t s = {0};
    for (size_t cut = 0; cut <= total; cut++) {
        rfc4571_deframer_init(d);
        assert_int_equal(feed(d, &s, stream, cut), 0);
        assert_int_equal(feed(d, &s, stream + cut, total - cut), 0);
        assert_int_equal(s.count, 2);
        assert_int_equal(s.len[0], 1);
        assert_memory_equal(s.copy[0], "a", 1);
        assert_int_equal(s.len[1], 2);
        assert_memory_equal(s.copy[1], "bc", 2);
        assert_int_equal(d->empty_frames, 2);
        assert_int_equal(d->have, 0);
        seen_reset(&s);
    }
    free(d);
}

static void test_max_length_frame(void **state)
{
    size_t total = RFC4571_PREFIX + RFC4571_MAX_FRAME + 3;
    uint8_t *stream = malloc(total);
    uint8_t *payload = malloc(RFC4571_MAX_FRAME);
    fill_pattern(payload, RFC4571_MAX_FRAME, 9);
    assert_int_equal(rfc4571_frame(stream, total, payload, RFC4571_MAX_FRAME),
                     RFC4571_PREFIX + RFC4571_MAX_FRAME);
    assert_int_equal(stream[0], 0xff);
    assert_int_equal(stream[1], 0xff);
    assert_int_equal(rfc4571_frame(stream + total - 3, 3, (const uint8_t *)"z", 1), 3);
    rfc4571_deframer_t *d = malloc(sizeof *d);
    seen_t s = {0};
    const size_t steps[] = {total, 1, 2, 1000, 4096, 65536, 65537};
    for (size_t k = 0; k < sizeof steps / sizeof steps[0]; k++) {
        rfc4571_deframer_init(d);
        for (size_t off = 0; off < total; off += steps[k]) {
            size_t n = total - off < steps[k] ? total - off : steps[k];
            assert_int_equal(feed(d, &s, stream + off, n), 0);
        }
        assert_int_equal(s.count, 2);
        assert_int_equal(s.len[0], RFC4571_MAX_FRAME);
        assert_memory_equal(s.copy[0], payload, RFC4571_MAX_FRAME);
        assert_int_equal(s.len[1], 1);
        assert_memory_equal(s.copy[1], "z", 1);
        seen_reset(&s);
    }
    free(d);
    free(payload);
    free(stream);
}

static void test_callback_stops_feed(void **state)
{
    uint8_t stream[400];
    size_t total = build_stream(stream, sizeof stream);
    rfc4571_deframer_t *d = malloc(sizeof *d);
    rfc4571_deframer_init(d);
    seen_t s = {.stop_after = 2};
    assert_int_equal(feed(d, &s, stream, total), 1);
    assert_int_equal(s.count, 2);
    assert_int_equal(d->have, 0); /* at a frame boundary */
    seen_reset(&s);
    /* Stopped on a frame completed from the partial buffer. */
    rfc4571_deframer_init(d);
    s.stop_after = 2;
    assert_int_equal(feed(d, &s, stream, 5), 0);
    assert_int_equal(feed(d, &s, stream + 5, total - 5), 1);
    assert_int_equal(s.count, 2);
    assert_int_equal(d->have, 0);
    seen_reset(&s);
    free(d);
}

static void test_framer_round_trip_and_errors(void **state)
{
    uint8_t out[64], payload[40];
    fill_pattern(payload, sizeof payload, 3);
    assert_int_equal(rfc4571_frame(out, sizeof out, payload, 40), 42);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 40);
    rfc4571_deframer_t *d = malloc(sizeof *d);
    rfc4571_deframer_init(d);
    seen_t s = {0};
    assert_int_equal(feed(d, &s, out, 42), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.len[0], 40);
    assert_memory_equal(s.copy[0], payload, 40);
    seen_reset(&s);
    free(d);

    assert_int_equal(rfc4571_frame(out, 41, payload, 40), LG_ENOSPC);
    assert_int_equal(rfc4571_frame(out, sizeof out, payload, RFC4571_MAX_FRAME + 1), LG_EINVAL);
    assert_int_equal(rfc4571_frame(out, 2, NULL, 0), 2);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 0);
    uint8_t prefix[RFC4571_PREFIX];
    assert_int_equal(rfc4571_put_length(prefix, 0x1234), 0);
    assert_int_equal(prefix[0], 0x12);
    assert_int_equal(prefix[1], 0x34);
    assert_int_equal(rfc4571_put_length(prefix, 65536), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_at_every_boundary),
        cmocka_unit_test(test_several_frames_one_chunk_zero_copy),
        cmocka_unit_test(test_zero_length_frame_skipped),
        cmocka_unit_test(test_max_length_frame),
        cmocka_unit_test(test_callback_stops_feed),
        cmocka_unit_test(test_framer_round_trip_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
