/* RFC 3550 receiver statistics and the periodic SR/RR compound per transport. */
#include "sfu/rtcp_reports.h"
#include "sfu/router.h"
#include "sfu/worker.h"

#include <string.h>
#include <time.h>

#define RTP_SEQ_MOD  (1u << 16)
#define MAX_DROPOUT  3000
#define MAX_MISORDER 100

void rx_stats_update(rx_stats_t *s, uint16_t seq, uint32_t rtp_ts, uint32_t clock,
                     uint64_t arrival_us)
{
    if (!s->init) {
        memset(s, 0, sizeof *s);
        s->init = true;
        s->max_seq = seq;
        s->base_seq = seq;
    } else {
        uint16_t udelta = (uint16_t)(seq - s->max_seq);
        if (udelta < MAX_DROPOUT) {
            if (seq < s->max_seq)
                s->cycles += RTP_SEQ_MOD;
            s->max_seq = seq;
        } else if (udelta <= RTP_SEQ_MOD - MAX_MISORDER) {
            /* a large jump: restart the sequence (the source restarted) */
            s->base_seq = seq;
            s->max_seq = seq;
            s->cycles = 0;
            s->received = 0;
            s->expected_prior = s->received_prior = 0;
        }
    }
    s->received++;
    int64_t arrival = (int64_t)(arrival_us * clock / 1000000);
    int64_t transit = arrival - (int64_t)rtp_ts;
    if (s->received > 1) {
        int64_t d = transit - s->last_transit;
        if (d < 0)
            d = -d;
        s->jitter += ((double)d - s->jitter) / 16.0;
    }
    s->last_transit = transit;
}

void rx_stats_on_sr(rx_stats_t *s, uint64_t ntp, uint64_t now_ms)
{
    s->lsr = (uint32_t)(ntp >> 16);
    s->lsr_ms = now_ms;
}

void rx_stats_block(rx_stats_t *s, uint32_t ssrc, uint64_t now_ms, rtcp_report_block_t *rb)
{
    memset(rb, 0, sizeof *rb);
    rb->ssrc = ssrc;
    uint64_t extended = s->cycles + s->max_seq;
    uint64_t expected = extended - s->base_seq + 1;
    int64_t lost = (int64_t)expected - (int64_t)s->received;
    rb->cumulative_lost = lost > 0x7fffff ? 0x7fffff : lost < -0x800000 ? -0x800000 : (int32_t)lost;
    uint64_t exp_int = expected - s->expected_prior;
    uint64_t rec_int = s->received - s->received_prior;
    s->expected_prior = expected;
    s->received_prior = s->received;
    int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
    rb->fraction_lost = exp_int == 0 || lost_int <= 0 ? 0 : (uint8_t)((lost_int << 8) / exp_int);
    rb->highest_seq = (uint32_t)extended;
    rb->jitter = (uint32_t)s->jitter;
    rb->lsr = s->lsr;
    rb->dlsr = s->lsr ? (uint32_t)((now_ms - s->lsr_ms) * 65536 / 1000) : 0;
}

uint64_t rtcp_ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec + 2208988800u;
    uint64_t frac = ((uint64_t)ts.tv_nsec << 32) / 1000000000u;
    return sec << 32 | frac;
}

/* SR (+ SDES) for each stream the relay forwards on t. */
static void add_sender_reports(rtcp_writer_t *wr, transport_t *t, uint64_t now_ms, uint64_t ntp)
{
    for (consumer_t *c = t->consumers; c; c = c->next_in_transport) {
        uint32_t ts_out;
        if (!seqrw_last(&c->rw, NULL, &ts_out))
            continue; /* nothing forwarded yet */
        uint32_t clock = c->prod->p.clock_rate ? c->prod->p.clock_rate : 90000;
        rtcp_sr_t sr;
        memset(&sr, 0, sizeof sr);
        sr.ssrc = c->p.ssrc;
        sr.ntp = ntp;
        sr.rtp_ts = ts_out + (uint32_t)((now_ms - c->rw.last_ms) * clock / 1000);
        sr.packet_count = (uint32_t)c->packets;
        sr.octet_count = (uint32_t)c->bytes;
        if (rtcp_write_sr(wr, &sr) != 0)
            return;
    }
}

/* One RR with a block per received SSRC of t's producers. */
static void add_receiver_report(rtcp_writer_t *wr, lg_worker_t *w, transport_t *t, uint64_t now_ms)
{
    rtcp_rr_t rr;
    memset(&rr, 0, sizeof rr);
    rr.ssrc = w->relay_ssrc;
    for (int i = 0; i < t->nproducers; i++) {
        producer_t *p = t->producers[i];
        for (int l = 0; l < p->p.nlayers && rr.rb_count < RTCP_MAX_COUNT; l++)
            if (p->ssrcs[l] && p->rx[l].init)
                rx_stats_block(&p->rx[l], p->ssrcs[l], now_ms, &rr.rb[rr.rb_count++]);
    }
    if (rr.rb_count)
        rtcp_write_rr(wr, &rr);
}

void rtcp_reports_send(struct lg_worker *w, uint64_t now_ms)
{
    uint64_t ntp = rtcp_ntp_now();
    for (transport_t *t = w->transports.all; t; t = t->next_all) {
        if (!t->srtp_ready || t->selected < 0)
            continue;
        uint8_t buf[1400];
        rtcp_writer_t wr;
        rtcp_writer_init(&wr, buf, sizeof buf - SRTP_SESSION_MAX_OVERHEAD);
        add_sender_reports(&wr, t, now_ms, ntp);
        add_receiver_report(&wr, w, t, now_ms);
        if (wr.len == 0)
            continue;
        rtcp_sdes_t sdes;
        memset(&sdes, 0, sizeof sdes);
        sdes.chunk_count = 1;
        sdes.chunks[0].ssrc = t->consumers ? t->consumers->p.ssrc : w->relay_ssrc;
        sdes.chunks[0].cname = "legation";
        sdes.chunks[0].cname_len = 8;
        rtcp_write_sdes(&wr, &sdes);
        transport_send_rtcp(t, buf, wr.len, sizeof buf);
    }
}
