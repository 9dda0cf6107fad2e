/* Opus audio mixer for one room: top-K mix, mix-minus for speakers, shared encode (see
 * opus_mixer.h for the rules). */
#include "media/opus_mixer_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "media/wire.h"
#include "sfu/lg_error.h"

#define CATCHUP_MS      100   /* later than this, missed ticks are skipped */
#define INCUMBENT_BONUS 3.0f  /* dB in favour of a source already mixed */
#define AUDIBLE_SCORE   37.0f /* loudness score to be mixed at all: -90 dBov */
#define LIMIT_CEIL      32000 /* the limiter's peak target */
#define LIMIT_RELEASE   0.02f /* gain recovered per frame at most (~1 s from 0.5) */

/* --- configuration --- */

void mixer_config_default(mixer_config_t *cfg)
{
    cfg->max_sources = 32;
    cfg->max_listeners = 64;
    cfg->top_k = 3;
    cfg->ptime_ms = 60;
    cfg->bitrate_bps = 24000;
    cfg->complexity = 5;
    jb_config_default(&cfg->jitter);
}

void mixer_config_emergency(mixer_config_t *cfg)
{
    mixer_config_default(cfg);
    cfg->bitrate_bps = 8000;
}

unsigned mixer_wire_bitrate(int bitrate_bps, unsigned ptime_ms)
{
    if (bitrate_bps <= 0 || ptime_ms == 0)
        return 0;
    return (unsigned)bitrate_bps + MIXER_WIRE_OVERHEAD * 8 * 1000 / ptime_ms;
}

static bool config_valid(const mixer_config_t *c)
{
    if (c->max_sources < 1 || c->max_sources > 256 || c->max_listeners < 1 ||
        c->max_listeners > 1024 || c->top_k < 1 || c->top_k > MIXER_MAX_K)
        return false;
    if (c->ptime_ms != 20 && c->ptime_ms != 40 && c->ptime_ms != 60)
        return false;
    if (c->bitrate_bps < 6000 || c->bitrate_bps > 128000 || c->complexity < 0 || c->complexity > 10)
        return false;
    jb_t probe;
    int rc = jb_init(&probe, &c->jitter);
    jb_free(&probe);
    return rc == 0;
}

/* --- encoders --- */

static int stream_init(mixer_t *m, mix_stream_t *st)
{
    st->enc = malloc(m->enc_size);
    if (!st->enc)
        return LG_ENOMEM;
    if (opus_encoder_init(st->enc, 48000, 1, OPUS_APPLICATION_VOIP) != OPUS_OK)
        return LG_EINVAL;
    opus_encoder_ctl(st->enc, OPUS_SET_BITRATE(m->cfg.bitrate_bps));
    opus_encoder_ctl(st->enc, OPUS_SET_VBR(1));
    opus_encoder_ctl(st->enc, OPUS_SET_VBR_CONSTRAINT(1));
    opus_encoder_ctl(st->enc, OPUS_SET_INBAND_FEC(1));
    opus_encoder_ctl(st->enc, OPUS_SET_DTX(1));
    opus_encoder_ctl(st->enc, OPUS_SET_COMPLEXITY(m->cfg.complexity));
    opus_encoder_ctl(st->enc, OPUS_SET_SIGNAL(OPUS_SIGNAL_VOICE));
    opus_encoder_ctl(st->enc, OPUS_SET_PACKET_LOSS_PERC(0));
    st->lim.gain = 1.0f;
    return 0;
}

static void stream_reset(mix_stream_t *st)
{
    opus_encoder_ctl(st->enc, OPUS_RESET_STATE); /* keeps the settings */
    st->lim.gain = 1.0f;
}

/* Continues dst from src's exact state: libopus encoder states are position independent. */
static void stream_copy(const mixer_t *m, mix_stream_t *dst, const mix_stream_t *src)
{
    memcpy(dst->enc, src->enc, m->enc_size);
    dst->lim = src->lim;
    dst->loss = src->loss;
}

static void stream_set_loss(mix_stream_t *st, unsigned pct)
{
    if (st->loss != (int)pct) {
        opus_encoder_ctl(st->enc, OPUS_SET_PACKET_LOSS_PERC((int)pct));
        st->loss = (int)pct;
    }
}

/* --- create / destroy --- */

int mixer_create(const mixer_config_t *cfg, mixer_t **out)
{
    if (!out)
        return LG_EINVAL;
    *out = NULL;
    mixer_config_t c;
    if (cfg)
        c = *cfg;
    else
        mixer_config_default(&c);
    if (!config_valid(&c))
        return LG_EINVAL;
    mixer_t *m = calloc(1, sizeof *m);
    if (!m)
        return LG_ENOMEM;
    m->cfg = c;
    m->enc_size = (size_t)opus_encoder_get_size(1);
    m->period_ticks = c.ptime_ms / MIXER_TICK_MS;
    m->src = calloc(c.max_sources, sizeof *m->src);
    m->lis = calloc(c.max_listeners, sizeof *m->lis);
    m->outs = calloc(c.max_listeners, sizeof *m->outs);
    int rc = (m->src && m->lis && m->outs) ? stream_init(m, &m->shared) : LG_ENOMEM;
    for (unsigned i = 0; rc == 0 && i < c.top_k; i++)
        rc = stream_init(m, &m->pool[i]);
    if (rc != 0) {
        mixer_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

void mixer_destroy(mixer_t *m)
{
    if (!m)
        return;
    for (unsigned i = 0; m->src && i < m->cfg.max_sources; i++)
        if (m->src[i])
            mixer__source_free(m->src[i]);
    free(m->shared.enc);
    for (unsigned i = 0; i < MIXER_MAX_K; i++)
        free(m->pool[i].enc);
    free(m->src);
    free(m->lis);
    free(m->outs);
    free(m);
}

/* --- lookup --- */

static mix_listener_t *find_listener(const mixer_t *m, uint32_t id)
{
    for (unsigned i = 0; i < m->cfg.max_listeners; i++)
        if (m->lis[i].used && m->lis[i].id == id)
            return &m->lis[i];
    return NULL;
}

/* Whether a participant is mixed this packet time. */
static bool speaking(const mixer_t *m, uint32_t id)
{
    const mix_source_t *s = mixer__find_source(m, id);
    return s && s->selected;
}

/* --- activity --- */

/* The first listener arrived: everything starts afresh, the tick grid at the next tick. */
static void activate(mixer_t *m)
{
    for (unsigned i = 0; i < m->cfg.max_sources; i++)
        if (m->src[i])
            mixer__source_restart(m->src[i]);
    stream_reset(&m->shared);
    for (unsigned i = 0; i < m->cfg.top_k; i++)
        m->pool[i].busy = false;
    m->acc_ticks = 0;
    m->shared_ran = m->predict_off = m->anchored = false;
    m->nouts = 0;
}

/* The last listener left: drop buffered audio so nothing waits in memory. */
static void deactivate(mixer_t *m)
{
    for (unsigned i = 0; i < m->cfg.max_sources; i++)
        if (m->src[i])
            mixer__source_restart(m->src[i]);
    m->nouts = 0;
}

bool mixer_active(const mixer_t *m)
{
    return m && m->nlisteners > 0;
}

uint64_t mixer_next_deadline_ms(const mixer_t *m)
{
    if (!mixer_active(m))
        return UINT64_MAX;
    return m->anchored ? m->deadline : 0;
}

/* --- listeners --- */

int mixer_listener_add(mixer_t *m, uint32_t id, uint16_t seq0, uint32_t ts0)
{
    if (!m)
        return LG_EINVAL;
    if (find_listener(m, id))
        return LG_EEXIST;
    unsigned i = 0;
    while (i < m->cfg.max_listeners && m->lis[i].used)
        i++;
    if (i == m->cfg.max_listeners)
        return LG_EFULL;
    if (m->nlisteners++ == 0)
        activate(m);
    m->lis[i] = (mix_listener_t){.used = true, .id = id, .seq = seq0, .ts0 = ts0, .stream = -1};
    return 0;
}

int mixer_listener_remove(mixer_t *m, uint32_t id)
{
    mix_listener_t *l = m ? find_listener(m, id) : NULL;
    if (!l)
        return LG_ENOTFOUND;
    if (l->stream >= 0)
        m->pool[l->stream].busy = false;
    else if (l->live && m->shared_users > 0)
        m->shared_users--; /* the shared encode may be spared at the end of this packet time */
    memset(l, 0, sizeof *l);
    if (--m->nlisteners == 0)
        deactivate(m);
    return 0;
}

int mixer_listener_set_loss(mixer_t *m, uint32_t id, unsigned pct)
{
    if (!m || pct > 100)
        return LG_EINVAL;
    mix_listener_t *l = find_listener(m, id);
    if (!l)
        return LG_ENOTFOUND;
    l->loss = pct;
    if (l->stream >= 0)
        stream_set_loss(&m->pool[l->stream], pct);
    return 0;
}

int mixer_listener_info(const mixer_t *m, uint32_t id, mixer_listener_info_t *out)
{
    const mix_listener_t *l = m && out ? find_listener(m, id) : NULL;
    if (!l)
        return LG_ENOTFOUND;
    uint64_t next = m->acc_ticks ? m->period_tick + m->period_ticks : m->tick_no;
    *out = (mixer_listener_info_t){
        .live = l->live,
        .mix_minus = l->stream >= 0,
        .next_seq = l->seq,
        .next_ts = l->live ? l->ts0 + (uint32_t)((next - l->start_tick) * MIX_FRAME) : l->ts0,
        .loss_pct = l->loss,
        .packets = l->packets,
    };
    return 0;
}

/* --- the mixing arithmetic --- */

/* Brings one frame of int32 sums to int16 (see mixer_mix_pcm). */
static void limit_frame(mixer_limiter_t *lim, const int32_t *in, int16_t *out, size_t n)
{
    int32_t peak = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t a = in[i] < 0 ? -in[i] : in[i];
        if (a > peak)
            peak = a;
    }
    float target = peak > LIMIT_CEIL ? (float)LIMIT_CEIL / (float)peak : 1.0f;
    float g0 = (lim->gain > 0.0f && lim->gain <= 1.0f) ? lim->gain : 1.0f;
    float g1 = target;
    if (target <= g0)
        g0 = target; /* instant attack: this frame never exceeds the ceiling */
    else if (target > g0 + LIMIT_RELEASE)
        g1 = g0 + LIMIT_RELEASE;
    float step = n ? (g1 - g0) / (float)n : 0.0f;
    for (size_t i = 0; i < n; i++) {
        long v = lrintf((float)in[i] * (g0 + step * (float)(i + 1)));
        out[i] = (int16_t)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
    }
    lim->gain = g1;
}

void mixer_mix_pcm(const int16_t *const *in, size_t n_in, size_t samples, mixer_limiter_t *lim,
                   int16_t *out)
{
    mixer_limiter_t local = {1.0f};
    if (!lim)
        lim = &local;
    int32_t sum[MIX_FRAME];
    for (size_t off = 0; off < samples; off += MIX_FRAME) {
        size_t n = samples - off < MIX_FRAME ? samples - off : MIX_FRAME;
        memset(sum, 0, sizeof sum);
        for (size_t k = 0; k < n_in; k++)
            for (size_t i = 0; i < n; i++)
                sum[i] += in[k][off + i];
        limit_frame(lim, sum, out + off, n);
    }
}

/* --- per packet time: who is mixed, who encodes what --- */

static void select_speakers(mixer_t *m)
{
    mix_source_t *best[MIXER_MAX_K];
    float score[MIXER_MAX_K];
    unsigned nb = 0, k = m->cfg.top_k;
    for (unsigned i = 0; i < m->cfg.max_sources; i++) {
        mix_source_t *s = m->src[i];
        if (!s || !s->audible || s->loud <= AUDIBLE_SCORE)
            continue;
        float sc = s->loud + (s->selected ? INCUMBENT_BONUS : 0.0f);
        unsigned pos = nb < k ? nb : k;
        while (pos > 0 && score[pos - 1] < sc)
            pos--;
        if (pos >= k)
            continue;
        unsigned last = nb < k ? nb : k - 1;
        memmove(best + pos + 1, best + pos, (last - pos) * sizeof best[0]);
        memmove(score + pos + 1, score + pos, (last - pos) * sizeof score[0]);
        best[pos] = s;
        score[pos] = sc;
        if (nb < k)
            nb++;
    }
    bool changed = false;
    for (unsigned i = 0; i < m->cfg.max_sources; i++) {
        mix_source_t *s = m->src[i];
        if (!s)
            continue;
        bool sel = false;
        for (unsigned j = 0; j < nb; j++)
            sel = sel || best[j] == s;
        changed = changed || sel != s->selected;
        s->selected = sel;
    }
    if (changed)
        m->c.speaker_changes++;
}

/* Speakers leaving the top K give their pool encoder back; if nobody used the shared encoder, it
 * continues from the first leaver's state, else it codes its next packet without prediction. */
static bool release_leavers(mixer_t *m)
{
    bool seeded = false;
    for (unsigned i = 0; i < m->cfg.max_listeners; i++) {
        mix_listener_t *l = &m->lis[i];
        if (!l->used || !l->live || l->stream < 0 || speaking(m, l->id))
            continue;
        mix_stream_t *st = &m->pool[l->stream];
        if (!m->shared_ran && !seeded) {
            stream_copy(m, &m->shared, st);
            seeded = true;
        } else {
            m->predict_off = true;
        }
        st->busy = false;
        l->stream = -1;
    }
    return seeded;
}

/* New speakers take a pool encoder, continuing from the shared encoder's state when that is what
 * their decoder last heard. */
static void claim_for_speakers(mixer_t *m)
{
    for (unsigned i = 0; i < m->cfg.max_listeners; i++) {
        mix_listener_t *l = &m->lis[i];
        if (!l->used || !l->live || l->stream >= 0 || !speaking(m, l->id))
            continue;
        unsigned slot = 0;
        while (slot < m->cfg.top_k && m->pool[slot].busy)
            slot++;
        if (slot == m->cfg.top_k)
            continue; /* cannot happen: at most K speakers */
        mix_stream_t *st = &m->pool[slot];
        if (l->prev == ON_SHARED && m->shared_ran)
            stream_copy(m, st, &m->shared);
        else
            stream_reset(st);
        stream_set_loss(st, l->loss);
        st->busy = true;
        st->owner = i;
        l->stream = (int)slot;
    }
}

static void assign_streams(mixer_t *m)
{
    bool seeded = release_leavers(m);
    claim_for_speakers(m);
    unsigned users = 0, worst = 0;
    bool joiner = false;
    for (unsigned i = 0; i < m->cfg.max_listeners; i++) {
        const mix_listener_t *l = &m->lis[i];
        if (!l->used || !l->live || l->stream >= 0)
            continue;
        users++;
        worst = l->loss > worst ? l->loss : worst;
        joiner = joiner || l->prev == ON_NONE;
    }
    if (users && !m->shared_ran && !seeded)
        stream_reset(&m->shared); /* idle since its last listener: start clean */
    else if (joiner)
        m->predict_off = true;
    if (users)
        stream_set_loss(&m->shared, worst);
    m->shared_users = users;
}

static void period_begin(mixer_t *m)
{
    m->period_tick = m->tick_no;
    for (unsigned i = 0; i < m->cfg.max_listeners; i++) {
        mix_listener_t *l = &m->lis[i];
        if (l->used && !l->live) {
            l->live = l->marker = true;
            l->start_tick = m->tick_no;
            l->prev = ON_NONE;
            l->stream = -1;
        }
    }
    select_speakers(m);
    assign_streams(m);
}

/* --- per tick: mix --- */

static void mix_tick(mixer_t *m)
{
    memset(m->sum, 0, sizeof m->sum);
    for (unsigned i = 0; i < m->cfg.max_sources; i++) {
        const mix_source_t *s = m->src[i];
        if (s && s->selected && s->audible)
            for (unsigned j = 0; j < MIX_FRAME; j++)
                m->sum[j] += s->frame[j];
    }
    size_t off = (size_t)m->acc_ticks * MIX_FRAME;
    if (m->shared_users)
        limit_frame(&m->shared.lim, m->sum, m->shared.acc + off, MIX_FRAME);
    for (unsigned p = 0; p < m->cfg.top_k; p++) {
        mix_stream_t *st = &m->pool[p];
        if (!st->busy)
            continue;
        const mix_source_t *own = mixer__find_source(m, m->lis[st->owner].id);
        bool minus = own && own->selected && own->audible;
        for (unsigned j = 0; j < MIX_FRAME; j++)
            m->tmp[j] = m->sum[j] - (minus ? own->frame[j] : 0);
        limit_frame(&st->lim, m->tmp, st->acc + off, MIX_FRAME);
    }
}

/* --- per packet time: encode and address --- */

static void encode(mixer_t *m, mix_stream_t *st, bool independent)
{
    int samples = (int)(m->period_ticks * MIX_FRAME);
    if (independent)
        opus_encoder_ctl(st->enc, OPUS_SET_PREDICTION_DISABLED(1));
    /* A packet never exceeds the bitrate's share: the wire rate stays within the budget. */
    opus_int32 cap = (opus_int32)((int64_t)m->cfg.bitrate_bps * m->cfg.ptime_ms / 8000);
    st->len = opus_encode(st->enc, st->acc, samples, st->out,
                          cap < MIXER_MAX_PAYLOAD ? cap : MIXER_MAX_PAYLOAD);
    if (independent)
        opus_encoder_ctl(st->enc, OPUS_SET_PREDICTION_DISABLED(0));
    m->c.encodes++;
    if (st->len < 0)
        m->c.encode_errors++;
}

static void emit(mixer_t *m, mix_listener_t *l, const mix_stream_t *st)
{
    if (st->len <= 2) { /* DTX (or an encoder error): send nothing, time still runs */
        if (st->len > 0)
            m->c.dtx_skipped++;
        l->marker = true;
        return;
    }
    mixer_output_t *o = &m->outs[m->nouts++];
    o->listener = l->id;
    o->seq = l->seq++;
    o->ts = l->ts0 + (uint32_t)((m->period_tick - l->start_tick) * MIX_FRAME);
    o->marker = l->marker;
    o->mix_minus = l->stream >= 0;
    o->payload = st->out;
    o->len = (size_t)st->len;
    l->marker = false;
    l->packets++;
    m->c.packets_out++;
    m->c.bytes_out += o->len;
}

static void period_end(mixer_t *m)
{
    if (m->shared_users)
        encode(m, &m->shared, m->predict_off);
    m->predict_off = false;
    m->shared_ran = m->shared_users > 0;
    for (unsigned p = 0; p < m->cfg.top_k; p++)
        if (m->pool[p].busy)
            encode(m, &m->pool[p], false);
    for (unsigned i = 0; i < m->cfg.max_listeners; i++) {
        mix_listener_t *l = &m->lis[i];
        if (!l->used || !l->live)
            continue;
        emit(m, l, l->stream >= 0 ? &m->pool[l->stream] : &m->shared);
        l->prev = l->stream >= 0 ? ON_OWN : ON_SHARED;
    }
}

static void run_tick(mixer_t *m, uint64_t now_ms)
{
    m->nouts = 0;
    for (unsigned i = 0; i < m->cfg.max_sources; i++)
        if (m->src[i])
            mixer__source_step(m, m->src[i], now_ms);
    if (m->acc_ticks == 0)
        period_begin(m);
    mix_tick(m);
    m->tick_no++;
    if (++m->acc_ticks == m->period_ticks) {
        period_end(m);
        m->acc_ticks = 0;
    }
}

/* The worker stalled: buffered audio is stale and a partial packet is lost; time jumps. */
static void skip_ticks(mixer_t *m, uint64_t n)
{
    m->deadline += n * MIXER_TICK_MS;
    m->tick_no += n;
    m->c.ticks_skipped += n;
    m->acc_ticks = 0;
    for (unsigned i = 0; i < m->cfg.max_sources; i++) {
        if (m->src[i]) {
            jb_reset(&m->src[i]->jb);
            m->src[i]->fill = 0;
        }
    }
    for (unsigned i = 0; i < m->cfg.max_listeners; i++)
        m->lis[i].marker = true;
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) != 0)
        return 0;
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int mixer_tick(mixer_t *m, uint64_t now_ms)
{
    if (!m)
        return LG_EINVAL;
    if (!m->nlisteners)
        return 0;
    if (!m->anchored) {
        m->deadline = now_ms;
        m->anchored = true;
    }
    if (now_ms < m->deadline)
        return 0;
    uint64_t t0 = thread_cpu_ns();
    uint64_t late = now_ms - m->deadline;
    if (late >= CATCHUP_MS)
        skip_ticks(m, late / MIXER_TICK_MS);
    else if (late >= MIXER_TICK_MS)
        m->c.ticks_late++;
    run_tick(m, now_ms);
    m->deadline += MIXER_TICK_MS;
    m->c.ticks++;
    uint64_t cpu = thread_cpu_ns() - t0;
    m->c.cpu_ns_last = cpu;
    m->c.cpu_ns_total += cpu;
    if (cpu > m->c.cpu_ns_max)
        m->c.cpu_ns_max = cpu;
    return 1;
}

/* --- results --- */

const mixer_output_t *mixer_outputs(const mixer_t *m, size_t *n)
{
    *n = m ? m->nouts : 0;
    return m ? m->outs : NULL;
}

/* RFC 3550 fixed header: V=2, no padding, extension or CSRC. */
int mixer_output_rtp(const mixer_output_t *o, uint8_t pt, uint32_t ssrc, uint8_t *buf, size_t cap,
                     size_t *out_len)
{
    if (!o || !buf || !out_len || pt >= 128 || (!o->payload && o->len))
        return LG_EINVAL;
    if (cap < 12 || cap - 12 < o->len)
        return LG_ENOSPC;
    buf[0] = 0x80;
    buf[1] = (uint8_t)((o->marker ? 0x80 : 0) | pt);
    wire_put_u16(buf + 2, o->seq);
    wire_put_u32(buf + 4, o->ts);
    wire_put_u32(buf + 8, ssrc);
    if (o->len)
        memcpy(buf + 12, o->payload, o->len);
    *out_len = 12 + o->len;
    return 0;
}

size_t mixer_speakers(const mixer_t *m, uint32_t *ids, size_t cap)
{
    size_t n = 0;
    for (unsigned i = 0; m && i < m->cfg.max_sources; i++)
        if (m->src[i] && m->src[i]->selected && n < cap)
            ids[n++] = m->src[i]->id;
    return n;
}

const mixer_counters_t *mixer_counters(const mixer_t *m)
{
    return m ? &m->c : NULL;
}
