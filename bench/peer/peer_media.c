/* The C peer's media: synthetic Opus-like audio and VP8-like video sent as RTP with the payload
 * trailer, sender reports, and the receive side (per-SSRC counts, gaps, latency, feedback). */
#include "bench/peer/peer_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/rtcp.h"
#include "media/rtp.h"
#include "media/vp8.h"
#include "sfu/lg_error.h"

#define AUDIO_PERIOD_NS  (20 * NS_PER_MS)
#define SR_PERIOD_NS     NS_PER_S
#define PLI_PERIOD_NS    (500 * NS_PER_MS)
#define CATCH_UP_NS      (200 * NS_PER_MS) /* later than this: skip ahead rather than burst */
#define OPUS_TOC_CELT_FB 0xFC              /* config 31 (CELT FB 20 ms), stereo, one frame */
#define VP8_DESC_LEN     4                 /* X, I with a 15-bit picture id */
#define VP8_DESC_TL_LEN  6                 /* ... and TL0PICIDX, TID/Y (L, T) */
#define VP8_KEY_HDR_LEN  10                /* frame tag, start code, width, height */
#define MAX_FRAME_PKTS   64

/* --- payload trailer -------------------------------------------------------------------------- */

static void put32(uint8_t *b, uint32_t v)
{
    b[0] = (uint8_t)(v >> 24);
    b[1] = (uint8_t)(v >> 16);
    b[2] = (uint8_t)(v >> 8);
    b[3] = (uint8_t)v;
}

static uint32_t get32(const uint8_t *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

int peer_trailer_write(uint8_t *payload, size_t len, const peer_trailer_t *t)
{
    if (!payload || !t || len < PEER_TRAILER_SIZE)
        return LG_EINVAL;
    uint8_t *b = payload + len - PEER_TRAILER_SIZE;
    put32(b, PEER_TRAILER_MAGIC);
    put32(b + 4, t->sender_id);
    b[8] = t->stream;
    b[9] = b[10] = b[11] = 0;
    put32(b + 12, t->seq);
    put32(b + 16, (uint32_t)(t->send_ns >> 32));
    put32(b + 20, (uint32_t)t->send_ns);
    return 0;
}

int peer_trailer_read(const uint8_t *payload, size_t len, peer_trailer_t *t)
{
    if (!payload || !t || len < PEER_TRAILER_SIZE)
        return LG_ETRUNC;
    const uint8_t *b = payload + len - PEER_TRAILER_SIZE;
    if (get32(b) != PEER_TRAILER_MAGIC)
        return LG_ENOTFOUND;
    t->sender_id = get32(b + 4);
    t->stream = b[8];
    t->seq = get32(b + 12);
    t->send_ns = (uint64_t)get32(b + 16) << 32 | get32(b + 20);
    return 0;
}

/* --- setup ------------------------------------------------------------------------------------ */

static void init_tx(peer_t *p, peer_tx_t *tx, int enabled, uint8_t pt, uint8_t stream,
                    uint32_t clock_rate, int64_t period_ns, const char *mid)
{
    memset(tx, 0, sizeof *tx);
    tx->enabled = enabled;
    tx->pt = pt;
    tx->stream = stream;
    tx->ssrc = (uint32_t)peer_rand64(p) | 1;
    tx->seq = (uint16_t)peer_rand64(p);
    tx->start_ts = (uint32_t)peer_rand64(p);
    tx->clock_rate = clock_rate;
    tx->period_ns = period_ns;
    snprintf(tx->mid, sizeof tx->mid, "%s", mid);
}

/* The streams video is sent on: one, or a simulcast layer each, a quarter of the rate apart. */
static void init_video_layers(peer_t *p)
{
    static const char *const rids[2][PEER_MAX_LAYERS] = {{"l", "h"}, {"l", "m", "h"}};
    unsigned n = p->o.simulcast_layers;
    p->nvl = n >= 2 ? (int)n : 1;
    for (int i = 0; i < p->nvl; i++) {
        peer_vlayer_t *vl = &p->vl[i];
        memset(vl, 0, sizeof *vl);
        vl->tx = p->video;
        if (p->nvl > 1) {
            init_tx(p, &vl->tx, p->video.enabled, PEER_PT_VP8, (uint8_t)(1 + i), 90000,
                    p->video.period_ns, p->video.mid);
            snprintf(vl->tx.rid, sizeof vl->tx.rid, "%s", rids[p->nvl - 2][i]);
        }
        vl->kbps = p->o.video_kbps >> (2 * (p->nvl - 1 - i));
        if (vl->kbps == 0)
            vl->kbps = 1;
        vl->picture_id = (uint16_t)(peer_rand64(p) & 0x7fff);
        vl->force_keyframe = 1;
    }
}

int media_init(peer_t *p)
{
    while (p->o.sender_id == 0)
        p->o.sender_id = (uint32_t)peer_rand64(p);
    p->sess_id = peer_rand64(p) >> 2;
    peer_rand_token(p->cname, 16);
    peer_rand_token(p->stream_id, 36);
    peer_rand_token(p->audio_track, 36);
    peer_rand_token(p->video_track, 36);
    int audio = !p->o.no_audio, video = !p->o.no_video;
    init_tx(p, &p->audio, audio, PEER_PT_OPUS, 0, 48000, AUDIO_PERIOD_NS, "0");
    init_tx(p, &p->video, video, PEER_PT_VP8, 1, 90000, NS_PER_S / p->o.video_fps,
            audio ? "1" : "0");
    p->rtx_ssrc = (uint32_t)peer_rand64(p) | 1;
    init_video_layers(p);
    return audio ? audio_tx_init(p) : 0;
}

/* --- building RTP ----------------------------------------------------------------------------- */

/* RFC 8285 one-byte header extension block. */
typedef struct {
    uint8_t b[32];
    size_t n;
} ext_t;

static void ext_add(ext_t *e, uint8_t id, const uint8_t *v, size_t len)
{
    e->b[e->n++] = (uint8_t)(id << 4 | (len - 1));
    memcpy(e->b + e->n, v, len);
    e->n += len;
}

static void ext_common(peer_t *p, peer_leg_t *leg, ext_t *e, const peer_tx_t *tx)
{
    uint16_t seq = leg->twcc_seq++;
    uint8_t tw[2] = {(uint8_t)(seq >> 8), (uint8_t)seq};
    ext_add(e, PEER_EXT_TWCC, tw, 2);
    ext_add(e, PEER_EXT_MID, (const uint8_t *)tx->mid, strlen(tx->mid));
    if (tx->rid[0]) /* in every packet: browsers stop after a while, relays must cope either way */
        ext_add(e, PEER_EXT_RID, (const uint8_t *)tx->rid, strlen(tx->rid));
    while (e->n % 4)
        e->b[e->n++] = 0;
}

/* Fixed header and extension; returns the header length. */
static size_t put_header(uint8_t *b, peer_tx_t *tx, int marker, uint32_t ts, const ext_t *e)
{
    b[0] = 0x80 | 0x10; /* V=2, X=1 */
    b[1] = (uint8_t)((marker ? 0x80 : 0) | tx->pt);
    b[2] = (uint8_t)(tx->seq >> 8);
    b[3] = (uint8_t)tx->seq;
    tx->seq++;
    put32(b + 4, ts);
    put32(b + 8, tx->ssrc);
    b[12] = 0xBE;
    b[13] = 0xDE;
    b[14] = (uint8_t)((e->n / 4) >> 8);
    b[15] = (uint8_t)(e->n / 4);
    memcpy(b + 16, e->b, e->n);
    return 16 + e->n;
}

static void fill(peer_t *p, uint8_t *b, size_t n)
{
    while (n >= 8) {
        uint64_t r = peer_rand64(p);
        memcpy(b, &r, 8);
        b += 8;
        n -= 8;
    }
    while (n--)
        *b++ = (uint8_t)peer_rand64(p);
}

/* Finishes a payload with its trailer, then protects and sends the packet. */
static void send_rtp(peer_t *p, peer_tx_t *tx, size_t hdr, size_t payload, int64_t now)
{
    peer_trailer_t t = {p->o.sender_id, tx->stream, tx->trailer_seq++, (uint64_t)now};
    uint8_t *b = p->txbuf;
    peer_trailer_write(b + hdr, payload, &t);
    size_t len = hdr + payload;
    tx->packets++;
    tx->octets += payload;
    p->st.bytes_sent += len;
    if (tx->stream == 0)
        p->st.audio_packets_sent++;
    else
        p->st.video_packets_sent++;
    leg_send_srtp(&p->legs[LEG_PUBLISH], b, len, PEER_TX_MAX + SRTP_SESSION_MAX_OVERHEAD, 0);
}

static uint32_t rtp_ts(const peer_tx_t *tx)
{
    int64_t dt = tx->next_ns - tx->start_ns;
    return tx->start_ts + (uint32_t)((dt / 1000) * (int64_t)tx->clock_rate / 1000000);
}

static void send_audio(peer_t *p, int64_t now)
{
    peer_tx_t *tx = &p->audio;
    peer_leg_t *leg = &p->legs[LEG_PUBLISH];
    ext_t e = {.n = 0};
    uint8_t level = (uint8_t)(0x80 | p->o.audio_level); /* V=1: voice activity */
    ext_add(&e, PEER_EXT_LEVEL, &level, 1);
    ext_common(p, leg, &e, tx);
    size_t hdr = put_header(p->txbuf, tx, 0, rtp_ts(tx), &e);
    uint8_t *pl = p->txbuf + hdr;
    if (p->audio_tx) {
        int n = audio_tx_encode(p, pl, PEER_TX_MAX - hdr);
        if (n < 0) {
            peer_fail(p, n, "audio: Opus encoding failed: %s", lg_strerror(n));
            return;
        }
        send_rtp(p, tx, hdr, (size_t)n, now);
        return;
    }
    pl[0] = OPUS_TOC_CELT_FB;
    fill(p, pl + 1, p->o.audio_payload - 1 - PEER_TRAILER_SIZE);
    send_rtp(p, tx, hdr, p->o.audio_payload, now);
}

/* The VP8 payload header (RFC 7741 4.3) and, for a key frame, the RFC 6386 9.1 header. */
static size_t put_vp8_start(uint8_t *b, int key)
{
    uint32_t first_part = 100;
    b[0] = (uint8_t)((first_part & 7) << 5 | 0x10 | (key ? 0 : 1)); /* show_frame, P */
    b[1] = (uint8_t)(first_part >> 3);
    b[2] = (uint8_t)(first_part >> 11);
    if (!key)
        return 3;
    static const uint8_t rest[7] = {0x9d, 0x01, 0x2a, 0x80, 0x02, 0xe0, 0x01}; /* 640 x 480 */
    memcpy(b + 3, rest, sizeof rest);
    return VP8_KEY_HDR_LEN;
}

/* Where frame idx (since the last key frame) sits in libwebrtc's temporal patterns: its TID, and
 * whether it depends only on TL0 (the sync bit, every other cycle as Chromium sets it). */
static void temporal_position(unsigned layers, unsigned idx, uint8_t *tid, int *sync)
{
    static const uint8_t l1t3[4] = {0, 2, 1, 2};
    *tid = layers == 3 ? l1t3[idx % 4] : layers == 2 ? (uint8_t)(idx % 2) : 0;
    unsigned cycle = layers == 3 ? idx / 4 : idx / 2;
    *sync = idx == 0 || (*tid > 0 && cycle % 2 == 0 && (layers != 3 || idx % 4 != 3));
}

/* A frame's share of the average size, in tenths: libwebrtc's 40/20/40 and 60/40 rate splits. */
static unsigned temporal_size_tenths(unsigned layers, uint8_t tid)
{
    if (layers == 3)
        return tid == 0 ? 16 : 8;
    if (layers == 2)
        return tid == 0 ? 12 : 8;
    return 10;
}

typedef struct {
    int first, last, key;
    uint8_t tid;
    int sync;
} vp8_pkt_t;

/* The VP8 payload descriptor (RFC 7741 4.2): X, I (15-bit picture id), with temporal layers also
 * L (TL0PICIDX) and T (TID, Y). Returns its length. */
static size_t put_vp8_desc(uint8_t *pl, const peer_vlayer_t *vl, int temporal, const vp8_pkt_t *f)
{
    pl[0] = (uint8_t)(0x80 | (f->first ? 0x10 : 0)); /* X, S, PID 0 */
    pl[1] = (uint8_t)(0x80 | (temporal ? 0x60 : 0)); /* I (, L, T) */
    pl[2] = (uint8_t)(0x80 | (vl->picture_id >> 8));
    pl[3] = (uint8_t)vl->picture_id;
    if (!temporal)
        return VP8_DESC_LEN;
    pl[4] = vl->tl0picidx;
    pl[5] = (uint8_t)(f->tid << 6 | (f->sync ? 0x20 : 0));
    return VP8_DESC_TL_LEN;
}

static void send_video_packet(peer_t *p, peer_vlayer_t *vl, const vp8_pkt_t *f, size_t payload,
                              int64_t now)
{
    peer_tx_t *tx = &vl->tx;
    peer_leg_t *leg = &p->legs[LEG_PUBLISH];
    ext_t e = {.n = 0};
    uint32_t abs = (uint32_t)((((uint64_t)now << 18) / NS_PER_S) & 0xffffff);
    uint8_t ab[3] = {(uint8_t)(abs >> 16), (uint8_t)(abs >> 8), (uint8_t)abs};
    ext_add(&e, PEER_EXT_ABSSEND, ab, 3);
    ext_common(p, leg, &e, tx);
    size_t hdr = put_header(p->txbuf, tx, f->last, rtp_ts(tx), &e);
    uint8_t *pl = p->txbuf + hdr;
    size_t used = put_vp8_desc(pl, vl, p->o.temporal_layers >= 2, f);
    if (f->first)
        used += put_vp8_start(pl + used, f->key);
    fill(p, pl + used, payload - used - PEER_TRAILER_SIZE);
    send_rtp(p, tx, hdr, payload, now);
}

/* One frame of one layer: a key frame when asked for or due, else the temporal pattern's next. */
static void send_layer_frame(peer_t *p, peer_vlayer_t *vl, int layer, int64_t now)
{
    unsigned tl = p->o.temporal_layers;
    vp8_pkt_t f = {.key = vl->force_keyframe || p->frame_no % p->o.keyframe_interval == 0};
    if (f.key)
        vl->tl_idx = 0;
    temporal_position(tl, vl->tl_idx, &f.tid, &f.sync);
    if (f.tid == 0)
        vl->tl0picidx++;
    size_t bytes = (size_t)vl->kbps * 1000 / 8 / p->o.video_fps * temporal_size_tenths(tl, f.tid) /
                   10 * (f.key ? 3 : 1);
    size_t min =
        (tl >= 2 ? VP8_DESC_TL_LEN : VP8_DESC_LEN) + VP8_KEY_HDR_LEN + PEER_TRAILER_SIZE + 1;
    size_t npkt = (bytes + PEER_VIDEO_PAYLOAD - 1) / PEER_VIDEO_PAYLOAD;
    if (npkt == 0)
        npkt = 1;
    if (npkt > MAX_FRAME_PKTS)
        npkt = MAX_FRAME_PKTS;
    size_t each = bytes / npkt;
    if (each < min)
        each = min;
    if (each > PEER_VIDEO_PAYLOAD)
        each = PEER_VIDEO_PAYLOAD;
    vl->tx.next_ns = p->video.next_ns; /* one capture clock, each layer its own timestamp base */
    vl->tx.start_ns = p->video.start_ns;
    for (size_t i = 0; i < npkt; i++) {
        f.first = i == 0;
        f.last = i + 1 == npkt;
        send_video_packet(p, vl, &f, each, now);
    }
    vl->picture_id = (vl->picture_id + 1) & 0x7fff;
    vl->tl_idx++;
    vl->force_keyframe = 0;
    if (f.key) {
        p->st.keyframes_sent++;
        p->st.keyframes_by_layer[layer]++;
    }
}

static void send_frame(peer_t *p, int64_t now)
{
    for (int i = 0; i < p->nvl && !p->fatal; i++)
        send_layer_frame(p, &p->vl[i], i, now);
    p->frame_no++;
    p->st.frames_sent++;
}

/* --- RTCP out --------------------------------------------------------------------------------- */

static uint64_t ntp_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t sec = (uint64_t)ts.tv_sec + 2208988800ULL;
    return sec << 32 | (((uint64_t)ts.tv_nsec << 32) / (uint64_t)NS_PER_S);
}

static void send_rtcp(peer_t *p, peer_leg_t *leg, rtcp_writer_t *w)
{
    p->st.rtcp_sent++;
    leg_send_srtp(leg, p->txbuf, w->len, PEER_TX_MAX + SRTP_SESSION_MAX_OVERHEAD, 1);
}

static void send_sr(peer_t *p, peer_tx_t *tx, int64_t now)
{
    if (!tx->enabled || tx->packets == 0)
        return;
    rtcp_writer_t w;
    rtcp_writer_init(&w, p->txbuf, PEER_TX_MAX);
    rtcp_sr_t sr;
    memset(&sr, 0, sizeof sr);
    sr.ssrc = tx->ssrc;
    sr.ntp = ntp_now();
    int64_t dt = now - tx->start_ns;
    sr.rtp_ts = tx->start_ts + (uint32_t)((dt / 1000) * (int64_t)tx->clock_rate / 1000000);
    sr.packet_count = (uint32_t)tx->packets;
    sr.octet_count = (uint32_t)tx->octets;
    rtcp_sdes_t sdes;
    memset(&sdes, 0, sizeof sdes);
    sdes.chunk_count = 1;
    sdes.chunks[0].ssrc = tx->ssrc;
    sdes.chunks[0].cname = p->cname;
    sdes.chunks[0].cname_len = (uint8_t)strlen(p->cname);
    if (rtcp_write_sr(&w, &sr) == 0 && rtcp_write_sdes(&w, &sdes) == 0)
        send_rtcp(p, &p->legs[LEG_PUBLISH], &w);
}

static void send_pli(peer_t *p, peer_leg_t *leg, uint32_t media_ssrc)
{
    rtcp_writer_t w;
    rtcp_writer_init(&w, p->txbuf, PEER_TX_MAX);
    if (rtcp_write_pli(&w, leg->rtcp_ssrc, media_ssrc) != 0)
        return;
    p->st.plis_sent++;
    send_rtcp(p, leg, &w);
}

/* --- scheduling ------------------------------------------------------------------------------- */

static void tick_tx(peer_t *p, peer_tx_t *tx, int64_t now, void (*send)(peer_t *, int64_t))
{
    if (!tx->enabled)
        return;
    if (tx->next_ns == 0) {
        tx->start_ns = tx->next_ns = now;
    } else if (now - tx->next_ns > CATCH_UP_NS) {
        tx->next_ns = now; /* the loop was held up: skip, do not burst */
    }
    while (now >= tx->next_ns && !p->fatal) {
        send(p, now);
        tx->next_ns += tx->period_ns;
    }
}

void media_tick(peer_t *p, int64_t now)
{
    if (!p->legs[LEG_PUBLISH].srtp_ready || !p->sending)
        return;
    tick_tx(p, &p->audio, now, send_audio);
    tick_tx(p, &p->video, now, send_frame);
    if (now >= p->next_sr) {
        if (p->next_sr != 0) {
            send_sr(p, &p->audio, now);
            for (int i = 0; i < p->nvl; i++)
                send_sr(p, &p->vl[i].tx, now);
        }
        p->next_sr = now + SR_PERIOD_NS;
    }
}

int64_t media_next_wake(const peer_t *p)
{
    if (!p->legs[LEG_PUBLISH].srtp_ready || !p->sending)
        return INT64_MAX;
    int64_t t = p->next_sr;
    if (p->audio.enabled && p->audio.next_ns < t)
        t = p->audio.next_ns;
    if (p->video.enabled && p->video.next_ns < t)
        t = p->video.next_ns;
    return t;
}

/* --- receiving -------------------------------------------------------------------------------- */

static peer_rx_t *find_stream(peer_t *p, uint32_t ssrc, const peer_leg_t *leg, uint8_t pt)
{
    for (int i = 0; i < p->nrx; i++)
        if (p->rx[i].s.ssrc == ssrc)
            return &p->rx[i];
    if (p->nrx == PEER_MAX_STREAMS)
        return NULL;
    peer_rx_t *rx = &p->rx[p->nrx++];
    memset(rx, 0, sizeof *rx);
    rx->s.ssrc = ssrc;
    rx->s.payload_type = pt;
    rx->s.subscribe_leg = leg->kind == LEG_SUBSCRIBE;
    rx->s.kind = leg->vp8_pt[pt & 127] || leg->rtx_pt[pt & 127] ? PEER_STREAM_VIDEO
                 : pt == PEER_PT_OPUS                           ? PEER_STREAM_AUDIO
                                                                : PEER_STREAM_UNKNOWN;
    return rx;
}

static void latency_sample(peer_t *p, uint64_t send_ns, int64_t now)
{
    if ((int64_t)send_ns > now || send_ns == 0)
        return; /* another machine's clock */
    uint64_t us64 = ((uint64_t)now - send_ns) / 1000;
    uint32_t us = us64 > UINT32_MAX ? UINT32_MAX : (uint32_t)us64;
    uint64_t seen = p->st.latency_samples++;
    if (us > p->lat_max)
        p->lat_max = us;
    if (p->lat_n < PEER_LATENCY_SAMPLES) {
        p->lat[p->lat_n++] = us;
        return;
    }
    uint64_t j = peer_rand64(p) % (seen + 1); /* reservoir: every packet equally likely kept */
    if (j < PEER_LATENCY_SAMPLES)
        p->lat[j] = us;
}

static void count_sequence(peer_t *p, peer_rx_t *rx, const peer_trailer_t *t)
{
    if (!rx->have_seq || rx->s.sender_id != t->sender_id) {
        rx->have_seq = 1;
        rx->s.sender_id = t->sender_id;
        rx->s.kind = t->stream >= 1 ? PEER_STREAM_VIDEO : PEER_STREAM_AUDIO;
        rx->s.stream = t->stream;
        rx->s.highest_seq = t->seq;
        return;
    }
    uint32_t expected = rx->s.highest_seq + 1;
    if (t->seq == expected) {
        rx->s.highest_seq = t->seq;
    } else if ((int32_t)(t->seq - expected) > 0) {
        uint32_t missing = t->seq - expected;
        rx->s.gaps += missing;
        p->st.gaps += missing;
        rx->s.highest_seq = t->seq;
    } else {
        rx->s.late++;
        p->st.late++;
    }
}

/* RTP order on one SSRC: 1 for a packet newer than every one before (the numbers it skips are
 * counted), 0 for a late one (filling a hole, or a duplicate). */
static int track_rtp(peer_rx_t *rx, const rtp_packet_t *pkt)
{
    if (rx->have_rtp) {
        int16_t d = (int16_t)(pkt->seq - rx->max_rtp);
        if (d <= 0) {
            uint64_t bit = -d < 64 ? 1ULL << -d : 0;
            if (bit && (rx->rtp_seen & bit))
                rx->s.rtp_duplicates++;
            else if (bit)
                rx->s.rtp_repaired++;
            rx->rtp_seen |= bit;
            return 0;
        }
        rx->s.rtp_gaps += (uint64_t)(d - 1);
        rx->rtp_seen = d < 64 ? rx->rtp_seen << d : 0;
    }
    rx->rtp_seen |= 1;
    rx->have_rtp = 1;
    rx->max_rtp = pkt->seq;
    rx->last_ts = pkt->timestamp;
    return 1;
}

/* The trailer: loss and order per sender stream, and changes of stream on one SSRC (a relay
 * switching simulcast layers), which restart the trailer numbering. A straggler of the stream
 * before a change is only late. Timestamps of in-order packets must not go back, and at a
 * change must move forward. */
static int track_trailer(peer_t *p, peer_rx_t *rx, const peer_trailer_t *t, int in_order,
                         int32_t dts, int keyframe)
{
    int changed = rx->have_seq && t->sender_id == rx->s.sender_id && t->stream != rx->s.stream;
    if (changed && !in_order) {
        rx->s.late++;
        p->st.late++;
        return 0;
    }
    if (in_order && (changed ? dts <= 0 : dts < 0))
        rx->s.ts_regressions++;
    if (changed) {
        rx->s.stream_changes++;
        rx->s.changes_at_keyframe += keyframe != 0;
        rx->have_seq = 0;
    }
    count_sequence(p, rx, t);
    return changed;
}

/* VP8 picture ids of in-order frame starts move forward (gaps are fine: dropped temporal layers),
 * and continue at + 1 where the stream changed. */
static void track_picture_id(peer_rx_t *rx, const vp8_desc_t *d, int changed)
{
    if (!d->start || d->pid != 0 || !d->has_picture_id)
        return;
    uint16_t mask = d->picture_id_15 ? 0x7fff : 0x7f;
    uint16_t step = (uint16_t)((d->picture_id - rx->last_pic) & mask);
    if (rx->have_pic && (changed ? step != 1 : step == 0 || step > mask / 2))
        rx->s.picture_id_breaks++;
    rx->have_pic = 1;
    rx->last_pic = d->picture_id;
}

static void check_keyframe(peer_t *p, peer_leg_t *leg, peer_rx_t *rx, const rtp_packet_t *pkt,
                           int keyframe, int64_t now)
{
    if (!leg->vp8_pt[pkt->payload_type & 127])
        return;
    if (keyframe) {
        rx->s.keyframes++;
        p->st.keyframes_received++;
    }
    /* a receiver that cannot decode asks for a key frame, as a browser does */
    if (leg->kind == LEG_SUBSCRIBE && rx->s.keyframes == 0 &&
        now - rx->last_pli_ns >= PLI_PERIOD_NS) {
        rx->last_pli_ns = now;
        send_pli(p, leg, pkt->ssrc);
    }
}

int media_drop_inbound(peer_t *p, const peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    /* the RTP header (payload type included) is not encrypted by SRTP */
    if (leg->kind == LEG_SUBSCRIBE && p->o.rx_audio_drop_every && len >= 2 &&
        (buf[1] & 127) == PEER_PT_OPUS && ++p->rx_audio_seen % p->o.rx_audio_drop_every == 0) {
        p->st.rx_dropped++;
        return 1;
    }
    if (leg->kind != LEG_SUBSCRIBE || !p->o.rx_loss_pct || len < 2 || !leg->vp8_pt[buf[1] & 127])
        return 0;
    if ((unsigned)(rand() % 100) >= p->o.rx_loss_pct)
        return 0;
    p->st.rx_dropped++;
    return 1;
}

/* send_nacks: records the packet and NACKs whatever is due (retries included). */
static void nack_losses(peer_t *p, peer_leg_t *leg, peer_rx_t *rx, const rtp_packet_t *pkt,
                        int64_t now)
{
    uint64_t now_ms = (uint64_t)(now / 1000000);
    if (!rx->nack && (rx->nack = malloc(sizeof *rx->nack)) != NULL)
        nackgen_init(rx->nack, NULL);
    if (!rx->nack)
        return;
    nackgen_on_packet(rx->nack, pkt->seq, false, now_ms);
    uint16_t seqs[32];
    bool keyframe;
    size_t n = nackgen_collect(rx->nack, now_ms, seqs, 32, &keyframe);
    rtcp_writer_t w;
    rtcp_writer_init(&w, p->txbuf, PEER_TX_MAX);
    if (n && rtcp_write_nack(&w, leg->rtcp_ssrc, pkt->ssrc, seqs, n) == 0) {
        p->st.nacks_sent += n;
        send_rtcp(p, leg, &w);
    }
}

/* An RTX packet (RFC 4588) on the subscribe leg: the original restored from the OSN, on the SSRC
 * the offer's FID group pairs it with, or 0 (unknown RTX SSRC, padding only). */
static size_t restore_rtx(const peer_leg_t *leg, const rtp_packet_t *pkt, uint8_t *out, size_t cap)
{
    for (int i = 0; i < leg->nfid; i++) {
        size_t n;
        if (leg->fid[i][1] == pkt->ssrc)
            return rtx_restore(pkt, leg->rtx_apt[pkt->payload_type & 127], leg->fid[i][0], out, cap,
                               &n) == 0
                       ? n
                       : 0;
    }
    return 0;
}

void media_on_rtp(peer_t *p, peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    rtp_packet_t pkt;
    if (rtp_parse(buf, len, &pkt) != 0) {
        p->st.foreign_packets++;
        return;
    }
    if (leg->kind == LEG_SUBSCRIBE && leg->rtx_pt[pkt.payload_type & 127] &&
        leg->rtx_apt[pkt.payload_type & 127]) {
        uint8_t orig[PEER_TX_MAX];
        size_t n = restore_rtx(leg, &pkt, orig, sizeof orig);
        if (n == 0) {
            p->st.foreign_packets++;
            return;
        }
        p->st.rtx_received++;
        media_on_rtp(p, leg, orig, n); /* a late packet of its stream, as a resend in place */
        return;
    }
    int64_t now = peer_now_ns();
    bool video = leg->vp8_pt[pkt.payload_type & 127];
    p->st.packets_received++;
    p->st.bytes_received += len;
    peer_rx_t *rx = find_stream(p, pkt.ssrc, leg, pkt.payload_type);
    peer_trailer_t t;
    int has = peer_trailer_read(pkt.payload, pkt.payload_len, &t) == 0;
    if (!has)
        p->st.foreign_packets++;
    else
        latency_sample(p, t.send_ns, now);
    if (!rx)
        return;
    rx->s.packets++;
    rx->s.bytes += len;
    vp8_desc_t d;
    int vp8 = video && vp8_parse(pkt.payload, pkt.payload_len, &d) == 0;
    int keyframe = vp8 && d.keyframe;
    if (vp8 && d.has_tid && d.tid < PEER_MAX_TIDS)
        rx->s.tid_packets[d.tid]++;
    int had_rtp = rx->have_rtp;
    uint32_t prev_ts = rx->last_ts;
    int in_order = track_rtp(rx, &pkt);
    int32_t dts = had_rtp ? (int32_t)(pkt.timestamp - prev_ts) : 1;
    int changed = 0;
    if (has)
        changed = track_trailer(p, rx, &t, in_order, dts, keyframe);
    else
        rx->s.foreign++;
    if (vp8 && in_order)
        track_picture_id(rx, &d, changed);
    if (!has && rx->s.kind == PEER_STREAM_AUDIO)
        audio_rx_packet(p, leg, rx, pkt.payload, pkt.payload_len, pkt.seq, leg->rx_srtp_len, now);
    check_keyframe(p, leg, rx, &pkt, keyframe, now);
    if (leg->kind == LEG_SUBSCRIBE && video && p->o.send_nacks)
        nack_losses(p, leg, rx, &pkt, now);
    if (leg->kind == LEG_SUBSCRIBE && video && p->o.pli_flood)
        send_pli(p, leg, pkt.ssrc);
    if (leg->kind == LEG_SUBSCRIBE && video && p->o.remb_bps &&
        now - p->last_remb_ns >= 250 * NS_PER_MS) {
        p->last_remb_ns = now;
        rtcp_remb_t remb = {.bitrate = p->o.remb_bps, .ssrc_count = 1, .ssrcs = {pkt.ssrc}};
        rtcp_writer_t w;
        rtcp_writer_init(&w, p->txbuf, PEER_TX_MAX);
        if (rtcp_write_remb(&w, leg->rtcp_ssrc, &remb) == 0)
            send_rtcp(p, leg, &w);
    }
}

/* A PLI (media SSRC) or FIR (the SSRC in its FCI): a key frame on the layer it names, or on
 * every layer when it names none of ours. */
static void request_keyframe(peer_t *p, const rtcp_fb_t *fb)
{
    uint32_t ssrc = fb->media_ssrc;
    if (fb->fmt == RTCP_PSFB_FIR && fb->fci_len >= 4)
        ssrc = get32(fb->fci);
    for (int i = 0; i < p->nvl; i++)
        if (p->vl[i].tx.ssrc == ssrc) {
            p->vl[i].force_keyframe = 1;
            p->st.plis_by_layer[i]++;
            return;
        }
    for (int i = 0; i < p->nvl; i++)
        p->vl[i].force_keyframe = 1;
}

static void on_feedback(peer_t *p, const rtcp_packet_t *pkt)
{
    rtcp_fb_t fb;
    if (rtcp_parse_fb(pkt, &fb) != 0)
        return;
    if (fb.pt == RTCP_PSFB && (fb.fmt == RTCP_PSFB_PLI || fb.fmt == RTCP_PSFB_FIR)) {
        if (fb.fmt == RTCP_PSFB_PLI)
            p->st.plis_received++;
        else
            p->st.firs_received++;
        request_keyframe(p, &fb);
    } else if (fb.pt == RTCP_PSFB && fb.fmt == RTCP_PSFB_AFB) {
        rtcp_remb_t remb;
        if (rtcp_remb_parse(&fb, &remb) == 0)
            p->st.rembs_received++;
    } else if (fb.pt == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_NACK) {
        p->st.nacks_received++;
    } else if (fb.pt == RTCP_RTPFB && fb.fmt == RTCP_RTPFB_TWCC) {
        p->st.twccs_received++;
    }
}

void media_on_rtcp(peer_t *p, peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    p->st.rtcp_received++;
    rtcp_iter_t it;
    rtcp_packet_t pkt;
    rtcp_iter_init(&it, buf, len);
    for (int n = 0; n < 64 && rtcp_iter_next(&it, &pkt) == 1; n++)
        if (pkt.pt == RTCP_PSFB || pkt.pt == RTCP_RTPFB)
            on_feedback(p, &pkt);
}

/* --- latency summary -------------------------------------------------------------------------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t percentile(const uint32_t *sorted, uint32_t n, unsigned pct)
{
    uint64_t rank = ((uint64_t)n * pct + 99) / 100; /* nearest rank */
    return sorted[rank == 0 ? 0 : rank - 1];
}

void media_latency_summary(const peer_t *p, peer_stats_t *out)
{
    out->latency_p50_us = out->latency_p95_us = out->latency_p99_us = 0;
    out->latency_max_us = p->lat_max;
    if (p->lat_n == 0)
        return;
    uint32_t *s = malloc(p->lat_n * sizeof *s);
    if (!s)
        return;
    memcpy(s, p->lat, p->lat_n * sizeof *s);
    qsort(s, p->lat_n, sizeof *s, cmp_u32);
    out->latency_p50_us = percentile(s, p->lat_n, 50);
    out->latency_p95_us = percentile(s, p->lat_n, 95);
    out->latency_p99_us = percentile(s, p->lat_n, 99);
    free(s);
}

size_t peer_latency_samples(const peer_t *p, uint32_t *out, size_t cap, uint64_t *measured)
{
    size_t n = p->lat_n < cap ? p->lat_n : cap;
    if (n)
        memcpy(out, p->lat, n * sizeof *out);
    if (measured)
        *measured = p->st.latency_samples;
    return n;
}

void peer_reset_latency(peer_t *p)
{
    p->lat_n = 0;
    p->lat_max = 0;
    p->st.latency_samples = 0;
}
