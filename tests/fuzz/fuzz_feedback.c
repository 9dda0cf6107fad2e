/* Fuzz target for the feedback consumers: a compound RTCP packet from outside is parsed with
 * media/rtcp.h and fed to the bandwidth estimator (transport-cc, REMB, RTT from report blocks),
 * the NACK generator (NACKed seqs as arrivals) and the retransmission buffer (NACKed seqs as
 * lookups), checking their invariants after every step. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/bwe.h"
#include "media/nack_generator.h"
#include "media/rtcp.h"
#include "media/rtx_buffer.h"

static bwe_t bwe;
static nackgen_t nack;
static rtcp_twcc_status_t st[65536];
static uint16_t seqs[65536];
static uint64_t now_ms;

static void check_bwe(void)
{
    uint64_t e = bwe_estimate(&bwe);
    if (e < bwe.cfg.min_bps || e > bwe.cfg.max_bps)
        abort();
}

static void twcc(const rtcp_fb_t *fb)
{
    rtcp_twcc_t hdr;
    size_t n;
    if (rtcp_twcc_parse(fb, &hdr, st, 65536, &n) != 0)
        return;
    /* Pretend most of the reported packets were sent, 1 ms apart, shortly before. */
    for (size_t i = 0; i < n && i < BWE_HISTORY; i++)
        if ((i * 7 + hdr.fb_count) % 5 != 0)
            bwe_on_send(&bwe, (uint16_t)(hdr.base_seq + i), (now_ms - 200 + i) * 1000,
                        200 + i % 1000);
    if (bwe_on_twcc(&bwe, &hdr, st, n, now_ms * 1000) != 0)
        abort();
    check_bwe();
}

/* Every NACKed seq arrives; the generator's output must be a valid, ordered NACK list. */
static void nacks(const rtcp_fb_t *fb, rtxbuf_t *rtx)
{
    size_t n;
    if (rtcp_nack_parse(fb, seqs, 65536, &n) != 0)
        return;
    for (size_t i = 0; i < n; i++) {
        (void)nackgen_on_packet(&nack, seqs[i], (seqs[i] & 0x3f) == 0, now_ms + i / 16);
        uint8_t pkt[16] = {0x80, 96, (uint8_t)(seqs[i] >> 8), (uint8_t)seqs[i]};
        (void)rtxbuf_put(rtx, seqs[i], pkt, sizeof pkt, now_ms);
        const uint8_t *p;
        size_t len;
        if (rtxbuf_get(rtx, seqs[i], now_ms, &p, &len) == 0 &&
            (len != sizeof pkt || p[2] != pkt[2] || p[3] != pkt[3]))
            abort();
    }
    if (nackgen_missing(&nack) > nack.cfg.max_missing)
        abort();
    static uint16_t out[512];
    bool kf = false;
    size_t m = nackgen_collect(&nack, now_ms, out, 512, &kf);
    if (m > 512)
        abort();
    for (size_t i = 1; i < m; i++)
        if ((uint16_t)(out[i] - out[i - 1]) == 0 || (uint16_t)(out[i] - out[i - 1]) >= 0x8000)
            abort();
    if (m > 0) {
        static uint8_t buf[8192];
        rtcp_writer_t w;
        rtcp_writer_init(&w, buf, sizeof buf);
        if (rtcp_write_nack(&w, 1, 2, out, m) != 0)
            abort();
    }
}

static void feedback(const rtcp_packet_t *pkt, rtxbuf_t *rtx)
{
    rtcp_fb_t fb;
    if (rtcp_parse_fb(pkt, &fb) != 0)
        return;
    static rtcp_remb_t remb;
    if (rtcp_remb_parse(&fb, &remb) == 0) {
        bwe_on_remb(&bwe, remb.bitrate, now_ms * 1000);
        check_bwe();
    }
    twcc(&fb);
    nacks(&fb, rtx);
}

static void reports(const rtcp_packet_t *pkt)
{
    static rtcp_rr_t rr;
    if (rtcp_parse_rr(pkt, &rr) == 0 && rr.rb_count > 0) {
        uint32_t rtt = rr.rb[0].dlsr / 65; /* any value: only its effect on pacing matters */
        bwe_set_rtt(&bwe, rtt);
        nackgen_set_rtt(&nack, rtt);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtxbuf_t rtx;
    if (bwe_init(&bwe, NULL) != 0 || nackgen_init(&nack, NULL) != 0 ||
        rtxbuf_init(&rtx, 64, 1000) != 0)
        abort();
    now_ms = 1000;
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_iter_init(&it, data, size);
    while (rtcp_iter_next(&it, &pkt) == 1) {
        now_ms += 20 + pkt.len % 200;
        reports(&pkt);
        feedback(&pkt, &rtx);
    }
    rtxbuf_free(&rtx);
    return 0;
}
