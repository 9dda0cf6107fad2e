/* Fuzz target for the RTCP codec: walk a compound, run every parser on every packet, and check
 * that whatever parses also rebuilds and parses back to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"

static uint8_t out[RTCP_MAX_PACKET];

/* Builds with one writer call and returns the first packet of the result. */
static rtcp_packet_t reparse(const rtcp_writer_t *w)
{
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_iter_init(&it, w->buf, w->len);
    if (rtcp_iter_next(&it, &pkt) != 1)
        abort();
    return pkt;
}

static int same_blocks(const rtcp_report_block_t *a, const rtcp_report_block_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        if (a[i].ssrc != b[i].ssrc || a[i].fraction_lost != b[i].fraction_lost ||
            a[i].cumulative_lost != b[i].cumulative_lost || a[i].highest_seq != b[i].highest_seq ||
            a[i].jitter != b[i].jitter || a[i].lsr != b[i].lsr || a[i].dlsr != b[i].dlsr)
            return 0;
    return 1;
}

static void reports(const rtcp_packet_t *pkt, rtcp_writer_t *w)
{
    static rtcp_sr_t sr, sr2;
    static rtcp_rr_t rr, rr2;
    if (rtcp_parse_sr(pkt, &sr) == 0) {
        if (rtcp_write_sr(w, &sr) != 0)
            abort();
        rtcp_packet_t back = reparse(w);
        if (rtcp_parse_sr(&back, &sr2) != 0 || sr2.ntp != sr.ntp || sr2.rb_count != sr.rb_count ||
            !same_blocks(sr2.rb, sr.rb, sr.rb_count))
            abort();
    }
    if (rtcp_parse_rr(pkt, &rr) == 0) {
        if (rtcp_write_rr(w, &rr) != 0)
            abort();
        rtcp_packet_t back = reparse(w);
        if (rtcp_parse_rr(&back, &rr2) != 0 || rr2.rb_count != rr.rb_count ||
            !same_blocks(rr2.rb, rr.rb, rr.rb_count))
            abort();
    }
}

static void sdes_bye(const rtcp_packet_t *pkt, rtcp_writer_t *w)
{
    static rtcp_sdes_t sdes, sdes2;
    static rtcp_bye_t bye, bye2;
    if (rtcp_parse_sdes(pkt, &sdes) == 0) {
        if (rtcp_write_sdes(w, &sdes) != 0)
            abort();
        rtcp_packet_t back = reparse(w);
        if (rtcp_parse_sdes(&back, &sdes2) != 0 || sdes2.chunk_count != sdes.chunk_count)
            abort();
        for (unsigned i = 0; i < sdes.chunk_count; i++)
            if (sdes2.chunks[i].cname_len != sdes.chunks[i].cname_len)
                abort();
    }
    w->len = 0;
    if (rtcp_parse_bye(pkt, &bye) == 0) {
        if (rtcp_write_bye(w, &bye) != 0)
            abort();
        rtcp_packet_t back = reparse(w);
        if (rtcp_parse_bye(&back, &bye2) != 0 || bye2.ssrc_count != bye.ssrc_count)
            abort();
    }
}

static void twcc(const rtcp_fb_t *fb, rtcp_writer_t *w)
{
    static rtcp_twcc_status_t st[65536], st2[65536];
    rtcp_twcc_t t, t2;
    rtcp_fb_t fb2;
    size_t n, n2;
    if (rtcp_twcc_parse(fb, &t, st, 65536, &n) != 0 || n == 0)
        return;
    if (rtcp_write_twcc(w, &t, st, n) != 0)
        abort();
    rtcp_packet_t back = reparse(w);
    if (rtcp_parse_fb(&back, &fb2) != 0 || rtcp_twcc_parse(&fb2, &t2, st2, 65536, &n2) != 0)
        abort();
    if (n2 != n || t2.ref_time != t.ref_time || t2.base_seq != t.base_seq)
        abort();
    for (size_t i = 0; i < n; i++)
        if (st2[i].seq != st[i].seq || st2[i].symbol != st[i].symbol || st2[i].delta != st[i].delta)
            abort();
}

static void feedback(const rtcp_packet_t *pkt, rtcp_writer_t *w)
{
    static uint16_t seqs[1 << 16];
    static rtcp_fir_entry_t fir[1 << 13];
    static rtcp_remb_t remb, remb2;
    rtcp_fb_t fb, fb2;
    size_t n;
    if (rtcp_parse_fb(pkt, &fb) != 0)
        return;
    if (rtcp_nack_parse(&fb, seqs, 1 << 16, &n) == 0 && rtcp_write_nack(w, 1, 2, seqs, n) != 0)
        abort();
    (void)rtcp_nack_parse(&fb, seqs, 7, &n);
    w->len = 0;
    if (rtcp_fir_parse(&fb, fir, 1 << 13, &n) == 0 && rtcp_write_fir(w, 1, fir, n) != 0)
        abort();
    w->len = 0;
    if (rtcp_remb_parse(&fb, &remb) == 0) {
        if (rtcp_write_remb(w, 1, &remb) != 0)
            abort();
        rtcp_packet_t back = reparse(w);
        if (rtcp_parse_fb(&back, &fb2) != 0 || rtcp_remb_parse(&fb2, &remb2) != 0 ||
            remb2.bitrate != remb.bitrate || remb2.ssrc_count != remb.ssrc_count)
            abort();
    }
    w->len = 0;
    twcc(&fb, w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_writer_t w;
    size_t count;
    (void)rtcp_check_compound(data, size, &count);
    rtcp_iter_init(&it, data, size);
    while (rtcp_iter_next(&it, &pkt) == 1) {
        rtcp_writer_init(&w, out, sizeof out);
        reports(&pkt, &w);
        w.len = 0;
        sdes_bye(&pkt, &w);
        w.len = 0;
        feedback(&pkt, &w);
    }
    return 0;
}
