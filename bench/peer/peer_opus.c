/* The C peer's real Opus: a sine tone encoded with libopus and padded to carry the payload
 * trailer, and the decoding and tone analysis of received audio without trailers (the relay's
 * mixed stream). */
#include "bench/peer/peer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <opus.h>

#include "media/jitter_buffer.h"
#include "media/rtcp.h"
#include "sfu/lg_error.h"

#define RATE           48000
#define FRAME_SAMPLES  960    /* 20 ms */
#define MAX_SAMPLES    5760   /* 120 ms: the longest Opus packet */
#define TONE_AMPLITUDE 8192.0 /* -12 dBFS peak */
#define SYLLABLE_HZ    4.0    /* the envelope's rate ... */
#define SYLLABLE_DEPTH 0.5    /* ... and depth: Opus's VAD then sees speech, so packets carry FEC */
#define FEC_LOSS_PCT   10     /* the loss the encoder's in-band FEC is sized for */
#define WINDOW         RATE   /* tone analysis: the last second */
#define WARM_UP        (RATE / 2)
#define PAD_TRIES      4
#define SILENCE_DB     -200.0
#define RR_PERIOD_NS   NS_PER_S

struct audio_tx {
    OpusEncoder *enc;
    double phase, step; /* radians */
    uint64_t n;         /* samples made */
    int16_t pcm[FRAME_SAMPLES];
};

struct audio_rx {
    OpusDecoder *dec;
    int have_seq;
    uint16_t next_seq;
    int last_samples; /* duration of the last packet: what a lost one is assumed to last */
    /* receiver reports (RFC 3550 6.4.1, A.3) */
    uint32_t base_seq, max_seq; /* extended sequence numbers: the first, the highest */
    uint64_t received;          /* packets received, late ones included */
    uint64_t expected_prior, received_prior;
    int64_t next_rr_ns;
    uint64_t skipped; /* warm-up samples not kept */
    uint64_t kept;    /* samples written into ring */
    int16_t ring[WINDOW];
    int16_t pcm[MAX_SAMPLES];
    peer_mixed_audio_stats_t st;
};

/* --- padding (pure) --------------------------------------------------------------------------- */

/* Bytes after the last frame of a valid Opus packet (its padding), or -1. */
static int padding_of(const uint8_t *pkt, size_t len)
{
    const unsigned char *frames[48];
    opus_int16 size[48];
    unsigned char toc;
    int offset;
    int n = opus_packet_parse(pkt, (opus_int32)len, &toc, frames, size, &offset);
    if (n <= 0)
        return -1;
    const uint8_t *end = frames[n - 1] + size[n - 1];
    return (int)(pkt + len - end);
}

int peer_opus_pad(uint8_t *pkt, size_t len, size_t cap)
{
    if (!pkt || len == 0 || len > (1u << 20) || padding_of(pkt, len) < 0)
        return LG_EMALFORMED;
    /* Repacketizing as code 3 adds a frame count byte and one padding length byte per 255 bytes
     * of padding besides the padding itself; grow until the padding covers the trailer. */
    size_t want = len + PEER_TRAILER_SIZE + 2;
    for (int i = 0; i < PAD_TRIES; i++, want++) {
        if (want > cap)
            return LG_ENOSPC;
        if (opus_packet_pad(pkt, (opus_int32)len, (opus_int32)want) != OPUS_OK)
            return LG_EMALFORMED;
        int pad = padding_of(pkt, want);
        if (pad >= PEER_TRAILER_SIZE)
            return (int)want;
        if (pad < 0)
            return LG_EMALFORMED;
        len = want; /* padded, but not enough: pad the padded packet further */
    }
    return LG_EMALFORMED;
}

/* --- sending ---------------------------------------------------------------------------------- */

int audio_tx_init(peer_t *p)
{
    if (p->o.opus_tone_hz == 0)
        return 0;
    struct audio_tx *a = calloc(1, sizeof *a);
    if (!a)
        return LG_ENOMEM;
    int err;
    a->enc = opus_encoder_create(RATE, 1, OPUS_APPLICATION_VOIP, &err);
    if (!a->enc) {
        free(a);
        return err == OPUS_ALLOC_FAIL ? LG_ENOMEM : LG_EINVAL;
    }
    opus_encoder_ctl(a->enc, OPUS_SET_BITRATE((opus_int32)p->o.opus_kbps * 1000));
    opus_encoder_ctl(a->enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(a->enc, OPUS_SET_PACKET_LOSS_PERC(FEC_LOSS_PCT));
    a->step = 2.0 * M_PI * p->o.opus_tone_hz / RATE;
    p->audio_tx = a;
    return 0;
}

int audio_tx_encode(peer_t *p, uint8_t *pl, size_t cap)
{
    struct audio_tx *a = p->audio_tx;
    for (int i = 0; i < FRAME_SAMPLES; i++, a->n++) {
        double env = 1.0 - SYLLABLE_DEPTH +
                     SYLLABLE_DEPTH * sin(2.0 * M_PI * SYLLABLE_HZ * (double)(a->n % RATE) / RATE);
        a->pcm[i] = (int16_t)lrint(TONE_AMPLITUDE * env * sin(a->phase));
        a->phase += a->step;
        if (a->phase >= 2.0 * M_PI)
            a->phase -= 2.0 * M_PI;
    }
    size_t room = cap > PEER_TRAILER_SIZE + 8 ? cap - PEER_TRAILER_SIZE - 8 : 0;
    if (room > 1275)
        room = 1275;
    if (room < 2)
        return LG_ENOSPC;
    opus_int32 n = opus_encode(a->enc, a->pcm, FRAME_SAMPLES, pl, (opus_int32)room);
    if (n < 0)
        return n == OPUS_BUFFER_TOO_SMALL ? LG_ENOSPC : LG_EINVAL;
    return peer_opus_pad(pl, (size_t)n, cap);
}

/* --- receiving -------------------------------------------------------------------------------- */

static struct audio_rx *rx_open(peer_rx_t *rx)
{
    struct audio_rx *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    int err;
    a->dec = opus_decoder_create(RATE, 1, &err);
    if (!a->dec) {
        free(a);
        return NULL;
    }
    a->last_samples = FRAME_SAMPLES;
    a->st.ssrc = rx->s.ssrc;
    return a;
}

/* Keeps decoded audio for the tone analysis, after the warm-up. */
static void keep(struct audio_rx *a, const int16_t *pcm, int n)
{
    for (int i = 0; i < n; i++) {
        if (a->skipped < WARM_UP) {
            a->skipped++;
            continue;
        }
        a->ring[a->kept++ % WINDOW] = pcm[i];
    }
}

/* One lost packet: from the next packet's in-band FEC when fec is set, else concealed. */
static void make_up(struct audio_rx *a, const uint8_t *next, size_t len, int fec)
{
    int n = fec ? opus_decode(a->dec, next, (opus_int32)len, a->pcm, a->last_samples, 1)
                : opus_decode(a->dec, NULL, 0, a->pcm, a->last_samples, 0);
    if (n <= 0) {
        a->st.decode_errors++;
        return;
    }
    if (fec)
        a->st.fec_recovered++;
    else
        a->st.plc++;
    a->st.samples += (uint64_t)n;
    keep(a, a->pcm, n);
}

/* A gap of `lost` packets before this one. */
static void on_gap(struct audio_rx *a, unsigned lost, const uint8_t *payload, size_t len)
{
    if (lost > PEER_AUDIO_MAX_CONCEAL) {
        a->st.lost_reset += lost;
        opus_decoder_ctl(a->dec, OPUS_RESET_STATE);
        return;
    }
    for (unsigned i = 0; i + 1 < lost; i++)
        make_up(a, NULL, 0, 0);
    make_up(a, payload, len, jb_opus_has_lbrr(payload, len));
}

/* Counts the packet for receiver reports and sends one every RR_PERIOD_NS: the loss the relay's
 * mixer sizes its encoder's in-band FEC for. */
static void report(peer_t *p, peer_leg_t *leg, struct audio_rx *a, uint16_t seq, int64_t now)
{
    if (a->received++ == 0) {
        a->base_seq = a->max_seq = seq;
        a->next_rr_ns = now + RR_PERIOD_NS;
    } else {
        int16_t d = (int16_t)(uint16_t)(seq - (uint16_t)a->max_seq);
        if (d > 0)
            a->max_seq += (uint32_t)d;
    }
    if (now < a->next_rr_ns)
        return;
    a->next_rr_ns = now + RR_PERIOD_NS;
    uint64_t expected = (uint64_t)(a->max_seq - a->base_seq) + 1;
    uint64_t exp_int = expected - a->expected_prior, rec_int = a->received - a->received_prior;
    a->expected_prior = expected;
    a->received_prior = a->received;
    int64_t lost_int = (int64_t)exp_int - (int64_t)rec_int;
    int64_t lost = (int64_t)expected - (int64_t)a->received;
    rtcp_rr_t rr = {.ssrc = leg->rtcp_ssrc, .rb_count = 1};
    rr.rb[0].ssrc = a->st.ssrc;
    rr.rb[0].fraction_lost =
        exp_int == 0 || lost_int <= 0 ? 0 : (uint8_t)((lost_int << 8) / (int64_t)exp_int);
    rr.rb[0].cumulative_lost = (int32_t)(lost > 0x7fffff    ? 0x7fffff
                                         : lost < -0x800000 ? -0x800000
                                                            : lost);
    rr.rb[0].highest_seq = a->max_seq;
    rtcp_writer_t w;
    rtcp_writer_init(&w, p->txbuf, PEER_TX_MAX);
    if (rtcp_write_rr(&w, &rr) != 0)
        return;
    p->st.rtcp_sent++;
    leg_send_srtp(leg, p->txbuf, w.len, PEER_TX_MAX + SRTP_SESSION_MAX_OVERHEAD, 1);
}

void audio_rx_packet(peer_t *p, peer_leg_t *leg, peer_rx_t *rx, const uint8_t *payload, size_t len,
                     uint16_t seq, size_t srtp_len, int64_t now)
{
    if (!rx->audio && !(rx->audio = rx_open(rx)))
        return;
    struct audio_rx *a = rx->audio;
    a->st.packets++;
    a->st.bytes += len;
    a->st.srtp_bytes += srtp_len;
    report(p, leg, a, seq, now);
    if (a->have_seq) {
        int16_t d = (int16_t)(uint16_t)(seq - a->next_seq);
        if (d < 0) {
            a->st.late++;
            return;
        }
        if (d > 0)
            on_gap(a, (unsigned)d, payload, len);
    }
    a->have_seq = 1;
    a->next_seq = (uint16_t)(seq + 1);
    int n = opus_decode(a->dec, payload, (opus_int32)len, a->pcm, MAX_SAMPLES, 0);
    if (n <= 0) {
        a->st.decode_errors++;
        return;
    }
    a->st.frames++;
    a->st.samples += (uint64_t)n;
    a->last_samples = n;
    keep(a, a->pcm, n);
}

void audio_free(peer_t *p)
{
    if (p->audio_tx)
        opus_encoder_destroy(p->audio_tx->enc);
    free(p->audio_tx);
    p->audio_tx = NULL;
    for (int i = 0; p->rx && i < p->nrx; i++) {
        if (p->rx[i].audio)
            opus_decoder_destroy(p->rx[i].audio->dec);
        free(p->rx[i].audio);
        p->rx[i].audio = NULL;
    }
}

/* --- results ---------------------------------------------------------------------------------- */

static const struct audio_rx *nth_audio(const peer_t *p, int index)
{
    for (int i = 0, k = 0; index >= 0 && i < p->nrx; i++)
        if (p->rx[i].audio && k++ == index)
            return p->rx[i].audio;
    return NULL;
}

int peer_mixed_audio_count(const peer_t *p)
{
    int k = 0;
    for (int i = 0; i < p->nrx; i++)
        k += p->rx[i].audio != NULL;
    return k;
}

int peer_get_mixed_audio(const peer_t *p, int index, peer_mixed_audio_stats_t *out)
{
    const struct audio_rx *a = nth_audio(p, index);
    if (!a || !out)
        return LG_EINVAL;
    *out = a->st;
    return 0;
}

/* Power of the tone at hz in the windowed signal, normalised so that a sine of power P gives P;
 * and the windowed mean power, in *total. */
static double goertzel(const struct audio_rx *a, double hz, double *total)
{
    double w = 2.0 * M_PI * hz / RATE, coeff = 2.0 * cos(w);
    double s1 = 0, s2 = 0, sum_w = 0, sum_w2 = 0, energy = 0;
    uint64_t start = a->kept - WINDOW; /* the oldest sample kept */
    for (int i = 0; i < WINDOW; i++) {
        double win = 0.5 - 0.5 * cos(2.0 * M_PI * i / (WINDOW - 1)); /* Hann */
        double x = win * a->ring[(start + (uint64_t)i) % WINDOW];
        double s0 = x + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
        sum_w += win;
        sum_w2 += win * win;
        energy += x * x;
    }
    double re = s1 - s2 * cos(w), im = s2 * sin(w);
    *total = energy / sum_w2;
    /* a sine of amplitude A gives |X| = A * sum_w / 2 and power A^2 / 2 */
    return 2.0 * (re * re + im * im) / (sum_w * sum_w);
}

int peer_mixed_tone_level(const peer_t *p, int index, double hz, double *db)
{
    const struct audio_rx *a = nth_audio(p, index);
    if (!a || !db || !(hz >= 1.0 && hz < RATE / 2))
        return LG_EINVAL;
    if (a->kept < WINDOW)
        return LG_ESTATE;
    double total, tone = goertzel(a, hz, &total);
    if (total <= 0.0 || tone <= 0.0) {
        *db = SILENCE_DB;
        return 0;
    }
    *db = 10.0 * log10(tone / total);
    if (*db < SILENCE_DB)
        *db = SILENCE_DB;
    return 0;
}
