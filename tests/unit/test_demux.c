/* RFC 7983 demultiplexing by first byte, and the 5-tuple/ufrag indexes behind transport lookup. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/demux.h"
#include "sfu/lg_error.h"
#include "sfu/transport_table.h"

static void test_classify_every_byte(void **state)
{
    for (int b = 0; b < 256; b++) {
        uint8_t p[2] = {(uint8_t)b, 0};
        lg_pkt_class_t want = b <= 3                 ? LG_PKT_STUN
                              : b >= 16 && b <= 19   ? LG_PKT_ZRTP
                              : b >= 20 && b <= 63   ? LG_PKT_DTLS
                              : b >= 64 && b <= 79   ? LG_PKT_TURN
                              : b >= 128 && b <= 191 ? LG_PKT_RTP_RTCP
                                                     : LG_PKT_UNKNOWN;
        assert_int_equal(lg_demux_classify(p, 1), want);
    }
    assert_int_equal(lg_demux_classify(NULL, 0), LG_PKT_UNKNOWN);
}

static void test_rtcp_vs_rtp(void **state)
{
    /* RFC 5761 section 4: RTCP packet types 192..223 in the second byte. */
    uint8_t sr[] = {0x80, 200}, rr[] = {0x81, 201}, pli[] = {0x81, 206};
    uint8_t opus[] = {0x80, 111}, opus_marker[] = {0x80, 111 | 0x80}, vp8[] = {0x90, 96};
    assert_true(lg_demux_is_rtcp(sr, 2));
    assert_true(lg_demux_is_rtcp(rr, 2));
    assert_true(lg_demux_is_rtcp(pli, 2));
    assert_false(lg_demux_is_rtcp(opus, 2));
    assert_false(lg_demux_is_rtcp(opus_marker, 2)); /* 239: marker + PT 111 */
    assert_false(lg_demux_is_rtcp(vp8, 2));
    assert_false(lg_demux_is_rtcp(sr, 1));
}

static lg_path_t path_v4(void *sock, const char *ip, uint16_t port)
{
    lg_path_t p;
    memset(&p, 0, sizeof p);
    p.udp = sock;
    struct sockaddr_in *a = (struct sockaddr_in *)&p.addr;
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip, &a->sin_addr);
    p.addrlen = sizeof *a;
    return p;
}

static void test_table(void **state)
{
    transport_table_t tt;
    assert_int_equal(tt_init(&tt), 0);
    enum { N = 600 }; /* forces the 5-tuple table to grow twice */
    transport_t *ts = calloc(N, sizeof *ts);
    char sock;
    for (int i = 0; i < N; i++) {
        snprintf(ts[i].p.local_ufrag, sizeof ts[i].p.local_ufrag, "uf%d", i);
        assert_int_equal(tt_add(&tt, &ts[i]), 0);
        ts[i].pairs[0] = path_v4(&sock, "127.0.0.1", (uint16_t)(10000 + i));
        ts[i].npairs = 1;
        assert_int_equal(tt_add_path(&tt, &ts[i], 0), 0);
    }
    assert_int_equal(tt_add(&tt, &ts[3]), LG_EEXIST);
    assert_int_equal(tt.count, N);
    int pair = -1;
    lg_path_t q = path_v4(&sock, "127.0.0.1", 10000 + 77);
    assert_ptr_equal(tt_find_path(&tt, &q, &pair), &ts[77]);
    assert_int_equal(pair, 0);
    lg_path_t other_sock = path_v4(&pair, "127.0.0.1", 10000 + 77);
    assert_null(tt_find_path(&tt, &other_sock, &pair));
    assert_ptr_equal(tt_find_ufrag(&tt, "uf599", 5), &ts[599]);
    assert_null(tt_find_ufrag(&tt, "uf6000", 6));
    assert_ptr_equal(tt_find_ufrag(&tt, "uf59", 3), &ts[5]); /* length, not NUL, decides */
    /* Removing every other transport keeps every survivor findable (backward-shift delete). */
    for (int i = 0; i < N; i += 2)
        tt_remove(&tt, &ts[i]);
    for (int i = 0; i < N; i++) {
        lg_path_t p = path_v4(&sock, "127.0.0.1", (uint16_t)(10000 + i));
        transport_t *t = tt_find_path(&tt, &p, &pair);
        if (i % 2)
            assert_ptr_equal(t, &ts[i]);
        else
            assert_null(t);
    }
    assert_int_equal(tt.count, N / 2);
    assert_int_equal(tt.used, N / 2);
    tt_free(&tt);
    free(ts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_classify_every_byte),
        cmocka_unit_test(test_rtcp_vs_rtp),
        cmocka_unit_test(test_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
