/* The relay's answer to a browser's publish offer: what it accepts, per m-line, and what the
 * media worker needs to route the browser's packets. */
#include <string.h>
#include <strings.h>

#include "sfu/lg_error.h"
#include "signaling/negotiate.h"
#include "signaling/negotiate_internal.h"

#define OPUS_FMTP  "minptime=10;useinbandfec=1"
#define VIDEO_FB   (NEGOTIATE_FB_NACK | NEGOTIATE_FB_PLI | NEGOTIATE_FB_FIR | NEGOTIATE_FB_REMB)
#define ALL_FB     (VIDEO_FB | NEGOTIATE_FB_TWCC)
#define KEEP_AUDIO 0x01
#define KEEP_VIDEO 0x02

typedef struct {
    const sdp_session_t *offer;
    const negotiate_local_t *local;
    sdp_fingerprint_t fp;
    sdp_session_t *answer;
    negotiate_publish_t *res;
    char *err;
    size_t errlen;
} pub_ctx_t;

/* --- which m-lines are accepted -------------------------------------------------------------- */

static bool proto_is_srtp(const char *proto)
{
    return strstr(proto, "TLS/RTP/SAVP") != NULL;
}

/* Audio or video over DTLS-SRTP, not disabled, and in the offer's BUNDLE group. */
static bool acceptable(const sdp_session_t *offer, const sdp_media_t *m)
{
    return m->kind != SDP_KIND_APPLICATION && proto_is_srtp(m->proto) &&
           (m->port != 0 || m->bundle_only) && neg__in_bundle(offer, m->mid);
}

static int check_mids(const pub_ctx_t *c)
{
    const sdp_session_t *o = c->offer;
    if (o->bundle_count == 0)
        return neg__fail(c->err, c->errlen, LG_EMALFORMED, "offer has no a=group:BUNDLE");
    for (int i = 0; i < o->media_count; i++)
        for (int j = 0; j < i; j++)
            if (o->media[i].mid[0] && strcmp(o->media[i].mid, o->media[j].mid) == 0)
                return neg__fail(c->err, c->errlen, LG_EMALFORMED,
                                 "offer m-lines %d and %d have the same mid %s", j + 1, i + 1,
                                 o->media[i].mid);
    return 0;
}

/* The transport's m-line, and every other accepted one that is not bundle-only. */
static int check_transport(const pub_ctx_t *c, int idx, bool first)
{
    const sdp_media_t *m = &c->offer->media[idx];
    if (!first && m->bundle_only)
        return 0;
    int rc = neg__check_remote(m, idx, "offer", c->err, c->errlen);
    if (rc)
        return rc;
    if (m->setup == SDP_SETUP_NONE)
        return neg__fail(c->err, c->errlen, LG_EMALFORMED, "offer m-line %d (mid %s): no a=setup",
                         idx + 1, m->mid);
    if (m->setup != SDP_SETUP_ACTPASS && m->setup != SDP_SETUP_ACTIVE)
        return neg__fail(c->err, c->errlen, LG_EUNSUPPORTED,
                         "offer m-line %d (mid %s): setup must be actpass or active, not %s",
                         idx + 1, m->mid, sdp_setup_str(m->setup));
    return 0;
}

/* --- codecs ---------------------------------------------------------------------------------- */

/* Adds offered codec oc to the answer with the feedback in keep_fb, and its RTX if offered. */
static int add_codec(const sdp_media_t *om, sdp_media_t *am, negotiate_track_t *t,
                     const sdp_codec_t *oc, const char *fmtp, uint8_t keep_fb)
{
    uint8_t channels = oc->channels;
    if (om->kind == SDP_KIND_AUDIO && channels == 0)
        channels = 2;
    sdp_codec_t *ac = sdp_media_add_codec(am, oc->pt, oc->name, oc->clock_rate, channels, fmtp);
    if (!ac || t->codec_count == NEGOTIATE_MAX_CODECS)
        return LG_EFULL;
    uint8_t fb = neg__fb_bits(oc) & keep_fb;
    if (neg__add_fb(ac, fb) != 0)
        return LG_EFULL;
    negotiate_codec_t *nc = &t->codecs[t->codec_count++];
    nc->pt = oc->pt;
    NEG_COPY(nc->name, oc->name);
    nc->clock_rate = oc->clock_rate;
    nc->channels = channels;
    NEG_COPY(nc->fmtp, ac->fmtp);
    nc->fb = fb;
    int rtx = sdp_media_find_rtx_pt(om, oc->pt);
    if (om->kind != SDP_KIND_VIDEO || rtx < 0)
        return 0;
    const sdp_codec_t *orc = sdp_media_find_codec_pt(om, rtx);
    if (!sdp_media_add_codec(am, rtx, orc->name, orc->clock_rate, 0, orc->fmtp))
        return LG_EFULL;
    nc->rtx_pt = (uint8_t)rtx;
    return 0;
}

static const sdp_codec_t *find_codec(const sdp_media_t *m, const char *name, uint32_t clock)
{
    for (int i = 0; i < m->codec_count; i++)
        if (strcasecmp(m->codecs[i].name, name) == 0 && m->codecs[i].clock_rate == clock)
            return &m->codecs[i];
    return NULL;
}

static const sdp_codec_t *find_h264(const sdp_media_t *m, const char *profile)
{
    for (int i = 0; i < m->codec_count; i++) {
        const sdp_codec_t *c = &m->codecs[i];
        if (strcasecmp(c->name, "H264") == 0 && c->clock_rate == 90000 &&
            c->packetization_mode == 1 && strcasecmp(c->profile_level_id, profile) == 0)
            return c;
    }
    return NULL;
}

/* Accepts Opus (audio) or VP8 and H264 (video). LG_ENOTFOUND when nothing is in common. */
static int answer_codecs(const sdp_media_t *om, sdp_media_t *am, negotiate_track_t *t)
{
    if (om->kind == SDP_KIND_AUDIO) {
        const sdp_codec_t *opus = find_codec(om, "opus", 48000);
        return opus ? add_codec(om, am, t, opus, OPUS_FMTP, NEGOTIATE_FB_TWCC) : LG_ENOTFOUND;
    }
    const sdp_codec_t *pick[3] = {find_codec(om, "VP8", 90000), find_h264(om, "42e01f"),
                                  find_h264(om, "42001f")};
    for (int i = 0; i < 3; i++) {
        int rc = pick[i] ? add_codec(om, am, t, pick[i], pick[i]->fmtp, ALL_FB) : 0;
        if (rc)
            return rc;
    }
    return t->codec_count > 0 ? 0 : LG_ENOTFOUND;
}

/* --- header extensions ----------------------------------------------------------------------- */

static const struct {
    const char *uri;
    uint8_t kinds;
} KEEP_EXT[] = {
    {SDP_EXT_MID, KEEP_AUDIO | KEEP_VIDEO},
    {SDP_EXT_TRANSPORT_CC, KEEP_AUDIO | KEEP_VIDEO},
    {SDP_EXT_ABS_SEND_TIME, KEEP_AUDIO | KEEP_VIDEO},
    {SDP_EXT_AUDIO_LEVEL, KEEP_AUDIO},
    {SDP_EXT_RID, KEEP_VIDEO},
    {SDP_EXT_REPAIRED_RID, KEEP_VIDEO},
};

static bool keep_ext(const sdp_extmap_t *e, sdp_kind_t kind)
{
    uint8_t want = kind == SDP_KIND_AUDIO ? KEEP_AUDIO : KEEP_VIDEO;
    if (e->id < 1 || e->id > 255)
        return false;
    for (size_t i = 0; i < sizeof KEEP_EXT / sizeof KEEP_EXT[0]; i++)
        if (strcmp(e->uri, KEEP_EXT[i].uri) == 0)
            return (KEEP_EXT[i].kinds & want) != 0;
    return false;
}

/* Keeps the offered ids. An extension the offerer only sends becomes recvonly; one it would only
 * receive (or neither) is dropped: the relay sends nothing on a publish connection. */
static int answer_extmaps(const sdp_media_t *om, sdp_media_t *am, negotiate_track_t *t)
{
    for (int i = 0; i < om->extmap_count; i++) {
        const sdp_extmap_t *e = &om->extmaps[i];
        if (!keep_ext(e, om->kind) || e->direction == SDP_DIR_RECVONLY ||
            e->direction == SDP_DIR_INACTIVE)
            continue;
        sdp_direction_t dir = e->direction == SDP_DIR_SENDONLY ? SDP_DIR_RECVONLY : SDP_DIR_NONE;
        int rc = sdp_media_add_extmap(am, e->id, e->uri, dir);
        if (rc && rc != LG_EEXIST)
            return rc;
    }
    neg__ext_ids(am, &t->ext);
    return 0;
}

/* --- simulcast ------------------------------------------------------------------------------- */

static bool offered_send_rid(const sdp_media_t *om, const char *rid)
{
    for (int i = 0; i < om->rid_count; i++)
        if (om->rids[i].direction == SDP_DIR_SENDONLY && strcmp(om->rids[i].id, rid) == 0)
            return true;
    return false;
}

/* One "key=value" of a rid's restrictions; keys other than max-width, max-height, max-br and
 * max-fps (pt, depend, max-fs...) and values that are not a plain number are skipped. */
static void rid_limit(const char *s, size_t n, negotiate_layer_t *l)
{
    static const char *const keys[] = {"max-width", "max-height", "max-br", "max-fps"};
    uint32_t *const dst[] = {&l->max_width, &l->max_height, &l->max_br, &l->max_fps};
    const char *eq = memchr(s, '=', n);
    size_t klen = eq ? (size_t)(eq - s) : 0, vlen = eq ? n - klen - 1 : 0;
    if (!eq || vlen == 0 || vlen > 9)
        return;
    uint32_t v = 0;
    for (size_t i = 0; i < vlen; i++) {
        if (eq[1 + i] < '0' || eq[1 + i] > '9')
            return;
        v = v * 10 + (uint32_t)(eq[1 + i] - '0');
    }
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++)
        if (strlen(keys[k]) == klen && strncasecmp(s, keys[k], klen) == 0)
            *dst[k] = v;
}

/* The restrictions of the offer's "a=rid:<rid> send pt=96;max-width=1280;max-height=720". */
static void rid_limits(const sdp_media_t *om, const char *rid, negotiate_layer_t *l)
{
    for (int i = 0; i < om->rid_count; i++) {
        if (om->rids[i].direction != SDP_DIR_SENDONLY || strcmp(om->rids[i].id, rid) != 0)
            continue;
        for (const char *s = om->rids[i].params; *s;) {
            s += strspn(s, " ");
            size_t n = strcspn(s, ";");
            rid_limit(s, n, l);
            s += n + (s[n] == ';');
        }
        return;
    }
}

/* Adds "a=rid:<rid> recv" and a layer, unless the rid is already there or there is no room. */
static bool add_rid(const sdp_media_t *om, sdp_media_t *am, negotiate_track_t *t, const char *rid)
{
    for (int i = 0; i < am->rid_count; i++)
        if (strcmp(am->rids[i].id, rid) == 0)
            return false;
    if (am->rid_count == SDP_MAX_RIDS)
        return false;
    sdp_rid_t *r = &am->rids[am->rid_count++];
    memset(r, 0, sizeof *r);
    NEG_COPY(r->id, rid);
    r->direction = SDP_DIR_RECVONLY;
    negotiate_layer_t *l = &t->layers[t->layer_count++];
    NEG_COPY(l->rid, rid);
    rid_limits(om, rid, l);
    return true;
}

/* send h;m;l + a=rid:X send -> recv h;m;l + a=rid:X recv, dropping rids without an a=rid line.
 * Needs the mid and rid extensions to tell the layers apart: without them, no simulcast. */
static void answer_simulcast(const sdp_media_t *om, sdp_media_t *am, negotiate_track_t *t)
{
    if (om->kind != SDP_KIND_VIDEO || !t->ext.mid || !t->ext.rid)
        return;
    const sdp_sim_list_t *send = &om->simulcast.send;
    if (send->count == 0) { /* a=rid without a=simulcast: one restricted stream */
        for (int i = 0; i < om->rid_count; i++)
            if (om->rids[i].direction == SDP_DIR_SENDONLY)
                add_rid(om, am, t, om->rids[i].id);
        return;
    }
    sdp_sim_list_t *recv = &am->simulcast.recv;
    for (int i = 0; i < send->count && i < SDP_MAX_RIDS; i++) {
        sdp_sim_stream_t *st = &recv->streams[recv->count];
        memset(st, 0, sizeof *st);
        for (int j = 0; j < send->streams[i].alt_count && j < SDP_MAX_RID_ALTS; j++) {
            const sdp_sim_alt_t *alt = &send->streams[i].alts[j];
            if (offered_send_rid(om, alt->rid) && add_rid(om, am, t, alt->rid))
                st->alts[st->alt_count++] = *alt;
        }
        if (st->alt_count > 0)
            recv->count++;
    }
}

/* --- SSRCs and stream ids -------------------------------------------------------------------- */

static const sdp_ssrc_group_t *find_group(const sdp_media_t *m, const char *sem, uint32_t first)
{
    for (int i = 0; i < m->ssrc_group_count; i++) {
        const sdp_ssrc_group_t *g = &m->ssrc_groups[i];
        if (strcmp(g->semantics, sem) == 0 && g->count >= 2 && (!first || g->ssrcs[0] == first))
            return g;
    }
    return NULL;
}

static uint32_t fid_of(const sdp_media_t *m, uint32_t ssrc)
{
    const sdp_ssrc_group_t *g = find_group(m, "FID", ssrc);
    return g ? g->ssrcs[1] : 0;
}

/* Primary and RTX SSRCs (FID), SSRC-signaled simulcast layers (SIM), cname and msid. */
static void track_ssrcs(const sdp_media_t *om, negotiate_track_t *t)
{
    const sdp_ssrc_group_t *sim = find_group(om, "SIM", 0);
    const sdp_ssrc_group_t *fid = find_group(om, "FID", 0);
    if (sim && t->layer_count == 0) {
        for (int i = 0; i < sim->count && i < SDP_MAX_GROUP_SSRCS; i++) {
            t->layers[t->layer_count].ssrc = sim->ssrcs[i];
            t->layers[t->layer_count++].rtx_ssrc = fid_of(om, sim->ssrcs[i]);
        }
        t->ssrc = sim->ssrcs[0];
        t->rtx_ssrc = fid_of(om, t->ssrc);
    } else if (t->layer_count == 0 && fid) {
        t->ssrc = fid->ssrcs[0];
        t->rtx_ssrc = fid->ssrcs[1];
    } else if (t->layer_count == 0 && om->ssrc_count > 0) {
        t->ssrc = om->ssrcs[0].ssrc;
    }
    const sdp_ssrc_t *with_msid = NULL;
    for (int i = 0; i < om->ssrc_count; i++) {
        if (om->ssrcs[i].ssrc == t->ssrc)
            NEG_COPY(t->cname, om->ssrcs[i].cname);
        if (!with_msid && om->ssrcs[i].msid.stream[0])
            with_msid = &om->ssrcs[i];
    }
    const sdp_msid_t *msid = om->msid.stream[0] ? &om->msid : with_msid ? &with_msid->msid : NULL;
    if (msid) {
        NEG_COPY(t->stream_id, msid->stream);
        NEG_COPY(t->track_id, msid->track);
    }
}

/* --- m-lines --------------------------------------------------------------------------------- */

static int reject_media(pub_ctx_t *c, int idx)
{
    const sdp_media_t *om = &c->offer->media[idx];
    sdp_media_t *am = sdp_session_add_media(c->answer, om->kind, om->mid);
    if (!am)
        return neg__fail(c->err, c->errlen, LG_EFULL, "answer: too many m-lines");
    am->port = 0;
    am->direction = SDP_DIR_INACTIVE;
    NEG_COPY(am->conn_addr, "0.0.0.0");
    NEG_COPY(am->proto, om->proto);
    if (strstr(om->proto, "RTP/") == NULL)
        NEG_COPY(am->fmt, om->fmt);
    else if (!sdp_media_add_codec(am, om->codecs[0].pt, "", 0, 0, NULL))
        return neg__fail(c->err, c->errlen, LG_EFULL, "answer: no room for a codec");
    return 0;
}

static int accept_media(pub_ctx_t *c, int idx)
{
    const sdp_media_t *om = &c->offer->media[idx];
    int rc = check_transport(c, idx, c->res->track_count == 0);
    if (rc)
        return rc;
    sdp_session_t *a = c->answer;
    sdp_media_t *am = sdp_session_add_media(a, om->kind, om->mid);
    if (!am)
        return neg__fail(c->err, c->errlen, LG_EFULL, "answer: too many m-lines");
    NEG_COPY(am->proto, om->proto);
    bool sends = om->direction == SDP_DIR_SENDONLY || om->direction == SDP_DIR_SENDRECV;
    am->direction = sends ? SDP_DIR_RECVONLY : SDP_DIR_INACTIVE;
    am->rtcp_rsize = om->rtcp_rsize;
    am->extmap_allow_mixed = om->extmap_allow_mixed;
    negotiate_track_t *t = &c->res->tracks[c->res->track_count++];
    t->kind = om->kind;
    t->direction = am->direction;
    NEG_COPY(t->mid, om->mid);
    rc = answer_codecs(om, am, t);
    if (rc == LG_ENOTFOUND)
        return neg__fail(c->err, c->errlen, LG_EUNSUPPORTED,
                         "offer has no common codec for %s (mid %s)", sdp_kind_str(om->kind),
                         om->mid);
    if (rc == 0)
        rc = answer_extmaps(om, am, t);
    if (rc == 0) {
        answer_simulcast(om, am, t);
        track_ssrcs(om, t);
        rc = neg__add_transport(am, c->local, &c->fp, SDP_SETUP_PASSIVE);
    }
    if (rc)
        return neg__fail(c->err, c->errlen, rc, "answer m-line %d (mid %s): too many items",
                         idx + 1, om->mid);
    NEG_COPY(a->bundle_mids[a->bundle_count++], om->mid);
    return 0;
}

int negotiate_publish(const sdp_session_t *offer, const negotiate_local_t *local,
                      sdp_session_t *answer, negotiate_publish_t *result, char *err, size_t errlen)
{
    if (!offer || !local || !answer || !result)
        return neg__fail(err, errlen, LG_EINVAL, "NULL argument");
    memset(result, 0, sizeof *result);
    sdp_session_init(answer);
    pub_ctx_t c = {offer, local, {{0}, {0}}, answer, result, err, errlen};
    int rc = neg__check_local(local, &c.fp, err, errlen);
    if (rc == 0)
        rc = check_mids(&c);
    if (rc)
        return rc;
    answer->sess_id = local->session_id;
    answer->sess_version = local->session_version;
    answer->ice_lite = true;
    answer->extmap_allow_mixed = offer->extmap_allow_mixed;
    int first = -1;
    for (int i = 0; i < offer->media_count && rc == 0; i++) {
        bool ok = acceptable(offer, &offer->media[i]);
        if (ok && first < 0)
            first = i;
        rc = ok ? accept_media(&c, i) : reject_media(&c, i);
    }
    if (rc)
        return rc;
    if (first < 0)
        return neg__fail(err, errlen, LG_EUNSUPPORTED,
                         "offer has no audio or video m-line in its BUNDLE group to accept");
    neg__copy_remote(&offer->media[first], result->ice_ufrag, result->ice_pwd, result->fingerprint);
    result->rtcp_rsize = offer->media[first].rtcp_rsize;
    return 0;
}
