/* Per-source adaptive jitter buffer for RTP Opus (see jitter_buffer.h for the playout rules). */
#include "media/jitter_buffer.h"

#include <opus.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"

enum { JB_IDLE = 0, JB_BUFFERING, JB_PLAYING, JB_STOPPED };

#define JB_HALF         (JB_FRAME / 2) /* a packet this close to the play point is due */
#define JB_WINDOW_POPS  50             /* pops per shrink decision (1 s of 20 ms steps) */
#define JB_MAX_SAMPLES  5760           /* 120 ms: the longest Opus packet */
#define JB_ATTACK       0.25           /* jitter estimator gain when jitter rises ... */
#define JB_DECAY        (1.0 / 64)     /* ... and when it falls */
#define JB_EMPTY_WINDOW INT64_MAX

void jb_config_default(jb_config_t *cfg)
{
    cfg->min_delay_ms = 20;
    cfg->max_delay_ms = 200;
    cfg->max_conceal = 10;
    cfg->resync_ms = 1000;
}

/* --- the sorted store --- */

static void flush(jb_t *jb)
{
    jb->count = 0;
    jb->nfree = JB_CAPACITY;
    for (unsigned i = 0; i < JB_CAPACITY; i++)
        jb->free_slot[i] = (uint8_t)(JB_CAPACITY - 1 - i);
}

static const jb_entry_t *head(const jb_t *jb)
{
    return jb->count ? &jb->ent[jb->order[0]] : NULL;
}

static const uint8_t *slot_data(const jb_t *jb, unsigned slot)
{
    return jb->store + (size_t)slot * JB_MAX_PAYLOAD;
}

/* Removes the head; its bytes stay in place until the slot is reused by the next insert. */
static unsigned remove_head(jb_t *jb)
{
    unsigned slot = jb->order[0];
    memmove(jb->order, jb->order + 1, (jb->count - 1) * sizeof jb->order[0]);
    jb->count--;
    jb->free_slot[jb->nfree++] = (uint8_t)slot;
    jb->last_out_eseq = jb->ent[slot].eseq;
    return slot;
}

static bool stored(const jb_t *jb, uint64_t eseq)
{
    for (unsigned i = 0; i < jb->count; i++)
        if (jb->ent[jb->order[i]].eseq == eseq)
            return true;
    return false;
}

static void store(jb_t *jb, const jb_entry_t *e, const uint8_t *payload)
{
    unsigned slot = jb->free_slot[--jb->nfree];
    jb->ent[slot] = *e;
    memcpy(jb->store + (size_t)slot * JB_MAX_PAYLOAD, payload, e->len);
    unsigned pos = jb->count;
    while (pos > 0 && jb->ent[jb->order[pos - 1]].eseq > e->eseq)
        pos--;
    memmove(jb->order + pos + 1, jb->order + pos, (jb->count - pos) * sizeof jb->order[0]);
    jb->order[pos] = (uint8_t)slot;
    jb->count++;
}

/* --- timing --- */

static int32_t ts_diff(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b);
}

static int64_t ms_to_samples(unsigned ms)
{
    return (int64_t)ms * JB_RATE_KHZ;
}

static unsigned target_ms(const jb_t *jb)
{
    double want = JB_FRAME / JB_RATE_KHZ + 2.0 * jb->jitter / JB_RATE_KHZ;
    unsigned t = ((unsigned)want + 19) / 20 * 20;
    if (t < jb->cfg.min_delay_ms)
        t = jb->cfg.min_delay_ms;
    if (t > jb->cfg.max_delay_ms)
        t = jb->cfg.max_delay_ms;
    return t;
}

/* Audio buffered ahead of the play point, in samples (the newest packet's end). */
static int64_t depth(const jb_t *jb)
{
    if (!jb->count)
        return 0;
    const jb_entry_t *last = &jb->ent[jb->order[jb->count - 1]];
    return (int64_t)ts_diff(last->ts, jb->play_ts) + last->samples;
}

/* RFC 3550 section 6.4.1 interarrival jitter, with a faster attack than decay. */
static void update_jitter(jb_t *jb, uint32_t ts, uint64_t now_ms)
{
    int64_t transit = (int64_t)(now_ms * JB_RATE_KHZ) - (int64_t)ts;
    if (jb->have_transit) {
        int64_t d = transit - jb->last_transit;
        /* The 32-bit timestamp wraps: bring the difference back into range. */
        d = (int64_t)(int32_t)(uint32_t)d;
        double ad = (double)(d < 0 ? -d : d);
        if (ad > ms_to_samples(jb->cfg.resync_ms))
            ad = (double)ms_to_samples(jb->cfg.resync_ms);
        jb->jitter += (ad - jb->jitter) * (ad > jb->jitter ? JB_ATTACK : JB_DECAY);
    }
    jb->last_transit = transit;
    jb->have_transit = true;
}

static void restart(jb_t *jb, uint16_t seq, uint32_t ts, uint64_t now_ms)
{
    flush(jb);
    jb->state = JB_BUFFERING;
    jb->play_ts = ts;
    jb->highest_eseq = ((uint64_t)1 << 32) | seq;
    jb->last_out_eseq = 0;
    jb->first_arrival_ms = now_ms;
    jb->have_transit = false;
    jb->conceal_run = 0;
    jb->window_pops = 0;
    jb->window_min = JB_EMPTY_WINDOW;
    jb->shrink = false;
}

static uint64_t extend_seq(const jb_t *jb, uint16_t seq)
{
    int16_t delta = (int16_t)(uint16_t)(seq - (uint16_t)jb->highest_eseq);
    return (uint64_t)((int64_t)jb->highest_eseq + delta);
}

/* --- Opus packet inspection --- */

/* Validates the framing (RFC 6716 section 3) and reads the duration. */
static int opus_info(const uint8_t *p, size_t len, unsigned *samples, unsigned *spf)
{
    if (len == 0 || len > JB_MAX_PAYLOAD)
        return LG_EMALFORMED;
    const unsigned char *frames[48];
    opus_int16 size[48];
    unsigned char toc;
    int payload_offset;
    int n = opus_packet_parse(p, (opus_int32)len, &toc, frames, size, &payload_offset);
    if (n <= 0)
        return LG_EMALFORMED;
    int per = opus_packet_get_samples_per_frame(p, 48000);
    if (per <= 0 || per * n > JB_MAX_SAMPLES)
        return LG_EMALFORMED;
    *samples = (unsigned)(per * n);
    *spf = (unsigned)per;
    return 0;
}

bool jb_opus_has_lbrr(const uint8_t *p, size_t len)
{
    if (!p || len < 2 || (p[0] >> 3) >= 16) /* configs 16..31 are CELT-only */
        return false;
    const unsigned char *frames[48];
    opus_int16 size[48];
    unsigned char toc;
    int payload_offset;
    int n = opus_packet_parse(p, (opus_int32)len, &toc, frames, size, &payload_offset);
    if (n <= 0 || size[0] == 0)
        return false;
    /* The SILK frame opens with one VAD flag per 20 ms frame, then the LBRR flag, each a
     * 50/50 range-coded bit and so a plain bit of the first byte (RFC 6716 section 4.2.3). */
    int per = opus_packet_get_samples_per_frame(p, 48000);
    int nb = per > 960 ? per / 960 : 1;
    int lbrr = (frames[0][0] >> (7 - nb)) & 1;
    if (p[0] & 0x4) /* stereo: the side channel's flags follow */
        lbrr |= (frames[0][0] >> (6 - 2 * nb)) & 1;
    return lbrr != 0;
}

/* --- public API --- */

int jb_init(jb_t *jb, const jb_config_t *cfg)
{
    if (!jb)
        return LG_EINVAL;
    memset(jb, 0, sizeof *jb);
    if (cfg)
        jb->cfg = *cfg;
    else
        jb_config_default(&jb->cfg);
    if (jb->cfg.min_delay_ms > jb->cfg.max_delay_ms || jb->cfg.max_delay_ms > 1000 ||
        jb->cfg.max_conceal == 0 || jb->cfg.resync_ms <= jb->cfg.max_delay_ms)
        return LG_EINVAL;
    jb->store = malloc((size_t)JB_CAPACITY * JB_MAX_PAYLOAD);
    if (!jb->store)
        return LG_ENOMEM;
    jb_reset(jb);
    return 0;
}

void jb_free(jb_t *jb)
{
    if (!jb)
        return;
    free(jb->store);
    jb->store = NULL;
}

void jb_reset(jb_t *jb)
{
    flush(jb);
    jb->state = JB_IDLE;
    jb->have_transit = false;
    jb->conceal_run = 0;
    jb->shrink = false;
}

/* Checks a packet against the play point; 0 means store it. */
static int admit(jb_t *jb, uint64_t eseq, uint32_t ts, unsigned samples)
{
    int32_t d = ts_diff(ts, jb->play_ts);
    if (d < -ms_to_samples(jb->cfg.resync_ms) || d > ms_to_samples(jb->cfg.resync_ms)) {
        jb->c.malformed++; /* an old sequence number with a wild timestamp */
        return LG_EMALFORMED;
    }
    if (stored(jb, eseq)) {
        jb->c.duplicates++;
        return LG_EREPLAY;
    }
    if (jb->state == JB_BUFFERING && d < 0 && d >= -ms_to_samples(jb->cfg.max_delay_ms) &&
        eseq < jb->highest_eseq) {
        jb->play_ts = ts; /* reordered before the first packet: start earlier */
        d = 0;
    }
    if ((jb->last_out_eseq && eseq <= jb->last_out_eseq) || d < -JB_HALF) {
        jb->c.late++;
        return LG_EREPLAY;
    }
    if (d + (int64_t)samples > ms_to_samples(jb->cfg.max_delay_ms + 20) ||
        jb->count == JB_CAPACITY) {
        jb->c.overflow++;
        return LG_EFULL;
    }
    return 0;
}

int jb_insert(jb_t *jb, uint16_t seq, uint32_t ts, const uint8_t *payload, size_t len,
              uint64_t now_ms)
{
    if (!jb || !jb->store || (!payload && len))
        return LG_EINVAL;
    unsigned samples, spf;
    if (opus_info(payload, len, &samples, &spf) != 0) {
        jb->c.malformed++;
        return LG_EMALFORMED;
    }
    if (jb->state == JB_IDLE || jb->state == JB_STOPPED)
        restart(jb, seq, ts, now_ms);
    uint64_t eseq = extend_seq(jb, seq);
    int32_t d = ts_diff(ts, jb->play_ts);
    if (eseq > jb->highest_eseq &&
        (d > ms_to_samples(jb->cfg.resync_ms) || d < -ms_to_samples(jb->cfg.resync_ms))) {
        jb->c.resyncs++;
        restart(jb, seq, ts, now_ms);
        eseq = jb->highest_eseq;
    }
    int rc = admit(jb, eseq, ts, samples);
    if (rc != 0)
        return rc;
    jb_entry_t e = {.eseq = eseq,
                    .ts = ts,
                    .len = (uint16_t)len,
                    .samples = (uint16_t)samples,
                    .spf = (uint16_t)spf,
                    .lbrr = jb_opus_has_lbrr(payload, len)};
    store(jb, &e, payload);
    if (eseq >= jb->highest_eseq) {
        update_jitter(jb, ts, now_ms);
        jb->highest_eseq = eseq;
    }
    jb->c.inserted++;
    return 0;
}

static void frame_of(const jb_t *jb, unsigned slot, jb_frame_t *out)
{
    const jb_entry_t *e = &jb->ent[slot];
    out->payload = slot_data(jb, slot);
    out->len = e->len;
    out->seq = (uint16_t)e->eseq;
}

/* Once per window, decides whether a whole window of pops kept more than the target plus one
 * frame in hand; if so the next due packet is skipped. */
static void track_window(jb_t *jb)
{
    int64_t dep = depth(jb);
    if (dep < jb->window_min)
        jb->window_min = dep;
    if (++jb->window_pops < JB_WINDOW_POPS)
        return;
    jb->shrink = jb->window_min >= ms_to_samples(target_ms(jb)) + JB_FRAME;
    jb->window_pops = 0;
    jb->window_min = JB_EMPTY_WINDOW;
}

static jb_result_t play_packet(jb_t *jb, jb_frame_t *out)
{
    if (jb->shrink && jb->count >= 2) {
        const jb_entry_t *h = head(jb), *next = &jb->ent[jb->order[1]];
        if (ts_diff(next->ts, h->ts) == (int32_t)h->samples) {
            remove_head(jb);
            jb->c.shrunk++;
            jb->shrink = false;
        }
    }
    const jb_entry_t *h = head(jb);
    out->ts = h->ts;
    out->samples = h->samples;
    jb->play_ts = h->ts + h->samples;
    frame_of(jb, remove_head(jb), out);
    jb->conceal_run = 0;
    jb->c.played++;
    return JB_PACKET;
}

/* Conceals one frame. The play point moves on, unless this is a hold (the buffer ran dry, or
 * waits for a missing packet while below the target), which grows the delay by one frame. After
 * max_conceal in a row with nothing buffered, the source has stopped. */
static jb_result_t conceal(jb_t *jb, bool advance, jb_frame_t *out)
{
    if (jb->conceal_run >= jb->cfg.max_conceal && jb->count == 0) {
        jb->c.stops++;
        jb->state = JB_STOPPED;
        flush(jb);
        return JB_SILENT;
    }
    jb->conceal_run++;
    jb->c.concealed++;
    out->ts = jb->play_ts;
    out->samples = JB_FRAME;
    if (advance)
        jb->play_ts += JB_FRAME;
    else
        jb->c.underruns++;
    return JB_CONCEAL;
}

static jb_result_t play(jb_t *jb, uint64_t now_ms, jb_frame_t *out)
{
    while (jb->count && ts_diff(head(jb)->ts, jb->play_ts) < -JB_HALF) {
        remove_head(jb); /* passed by a concealment step: too late now */
        jb->c.late++;
    }
    track_window(jb);
    if (!jb->count)
        return conceal(jb, false, out);
    const jb_entry_t *h = head(jb);
    int32_t d = ts_diff(h->ts, jb->play_ts);
    if (d <= JB_HALF)
        return play_packet(jb, out);
    if (jb->last_out_eseq && h->eseq == jb->last_out_eseq + 1) {
        /* Nothing is missing: the sender paused (DTX) and its timestamps jumped. Start the new
         * talkspurt like a new stream, prebuffering to the target. */
        jb->state = JB_BUFFERING;
        jb->play_ts = h->ts;
        jb->first_arrival_ms = now_ms;
        jb->conceal_run = 0;
        return JB_SILENT;
    }
    if (depth(jb) < ms_to_samples(target_ms(jb)))
        return conceal(jb, false, out); /* wait for it: the delay grows toward the target */
    if (d == (int32_t)h->spf && h->lbrr) {
        out->ts = jb->play_ts;
        out->samples = h->spf;
        frame_of(jb, jb->order[0], out);
        jb->play_ts = h->ts;
        jb->conceal_run = 0;
        jb->c.fec++;
        return JB_FEC;
    }
    return conceal(jb, true, out);
}

jb_result_t jb_pop(jb_t *jb, uint64_t now_ms, jb_frame_t *out)
{
    memset(out, 0, sizeof *out);
    if (!jb || !jb->store)
        return JB_SILENT;
    if (jb->state == JB_BUFFERING) {
        unsigned t = target_ms(jb);
        if (depth(jb) < ms_to_samples(t) && now_ms < jb->first_arrival_ms + t)
            return JB_SILENT;
        jb->state = JB_PLAYING;
    }
    if (jb->state != JB_PLAYING)
        return JB_SILENT;
    return play(jb, now_ms, out);
}

void jb_get_counters(const jb_t *jb, jb_counters_t *out)
{
    *out = jb->c;
    int64_t dep = depth(jb);
    out->target_ms = target_ms(jb);
    out->depth_ms = dep > 0 ? (unsigned)(dep / JB_RATE_KHZ) : 0;
    out->jitter_ms = (unsigned)(jb->jitter / JB_RATE_KHZ);
    out->count = jb->count;
}
