/* The relay's offer for a participant's subscribe connection (one sendonly m-line per track it
 * receives, mids stable across renegotiations) and the check of the browser's answer. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sfu/lg_error.h"
#include "signaling/negotiate.h"
#include "signaling/negotiate_internal.h"

#define VIDEO_FB                                                                                   \
    (NEGOTIATE_FB_NACK | NEGOTIATE_FB_PLI | NEGOTIATE_FB_FIR | NEGOTIATE_FB_REMB |                 \
     NEGOTIATE_FB_TWCC)
#define AUDIO_FB NEGOTIATE_FB_TWCC

/* --- checking the caller's tracks ------------------------------------------------------------ */

/* RFC 4566 token-char, as RFC 8830 asks of msid ids. */
static bool token_ok(const char *s, size_t size)
{
    size_t n = strnlen(s, size);
    if (n == 0 || n == size)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch <= 0x20 || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]", ch))
            return false;
    }
    return true;
}

/* Printable, no spaces: what an rtpmap name, fmtp (spaces allowed) or cname can hold. */
static bool text_ok(const char *s, size_t size, bool spaces)
{
    size_t n = strnlen(s, size);
    if (n == size)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || (!spaces && ch == ' '))
            return false;
    }
    return true;
}

static const char *codec_problem(const negotiate_codec_t *c)
{
    if (!c->name[0] || !text_ok(c->name, sizeof c->name, false) || strchr(c->name, '/'))
        return "codec name must be a token";
    if (c->pt > 127 || c->rtx_pt > 127 || (c->rtx_pt && c->rtx_pt == c->pt))
        return "payload types must be 0..127 and differ";
    if (c->clock_rate == 0)
        return "codec clock rate is 0";
    if (!text_ok(c->fmtp, sizeof c->fmtp, true))
        return "codec fmtp is unterminated or has control characters";
    return NULL;
}

static const char *track_problem(const negotiate_sub_track_t *t)
{
    if (t->kind != SDP_KIND_AUDIO && t->kind != SDP_KIND_VIDEO)
        return "kind must be audio or video";
    const char *p = codec_problem(&t->codec);
    if (!p && t->mid[0] && !token_ok(t->mid, sizeof t->mid))
        p = "mid must be 1..31 token characters";
    if (!p && t->active && t->stopped)
        p = "a stopped (rejected) m-line cannot be active";
    if (p || !t->active)
        return p;
    if (!token_ok(t->stream_id, sizeof t->stream_id) || !token_ok(t->track_id, sizeof t->track_id))
        return "stream_id and track_id must be 1..63 token characters";
    if (!text_ok(t->cname, sizeof t->cname, false))
        return "cname must be printable without spaces";
    if (t->ssrc == 0 || t->rtx_ssrc == t->ssrc)
        return "ssrc must be non-zero and differ from rtx_ssrc";
    if ((t->codec.rtx_pt != 0) != (t->rtx_ssrc != 0))
        return "rtx_ssrc must be set exactly when codec.rtx_pt is";
    return NULL;
}

/* --- building the offer ---------------------------------------------------------------------- */

static int add_ssrc(sdp_media_t *m, uint32_t ssrc, const negotiate_sub_track_t *t)
{
    if (m->ssrc_count == SDP_MAX_SSRCS)
        return LG_EFULL;
    sdp_ssrc_t *s = &m->ssrcs[m->ssrc_count++];
    memset(s, 0, sizeof *s);
    s->ssrc = ssrc;
    NEG_COPY(s->cname, t->cname[0] ? t->cname : t->stream_id);
    s->msid = m->msid;
    return 0;
}

/* a=msid, a=ssrc cname/msid for the primary (and RTX) SSRC, a=ssrc-group:FID. */
static int add_sender(sdp_media_t *m, const negotiate_sub_track_t *t)
{
    NEG_COPY(m->msid.stream, t->stream_id);
    NEG_COPY(m->msid.track, t->track_id);
    int rc = add_ssrc(m, t->ssrc, t);
    if (rc || !t->rtx_ssrc)
        return rc;
    rc = add_ssrc(m, t->rtx_ssrc, t);
    sdp_ssrc_group_t *g = &m->ssrc_groups[m->ssrc_group_count++];
    memset(g, 0, sizeof *g);
    memcpy(g->semantics, "FID", 4);
    g->count = 2;
    g->ssrcs[0] = t->ssrc;
    g->ssrcs[1] = t->rtx_ssrc;
    return rc;
}

static int add_codecs(sdp_media_t *m, const negotiate_sub_track_t *t)
{
    const negotiate_codec_t *nc = &t->codec;
    sdp_codec_t *c = sdp_media_add_codec(m, nc->pt, nc->name, nc->clock_rate, nc->channels,
                                         nc->fmtp[0] ? nc->fmtp : NULL);
    if (!c || neg__add_fb(c, t->kind == SDP_KIND_VIDEO ? VIDEO_FB : AUDIO_FB) != 0)
        return LG_EFULL;
    if (!nc->rtx_pt)
        return 0;
    char apt[16];
    snprintf(apt, sizeof apt, "apt=%u", nc->pt);
    return sdp_media_add_codec(m, nc->rtx_pt, "rtx", nc->clock_rate, 0, apt) ? 0 : LG_EFULL;
}

static int add_extmaps(sdp_media_t *m, sdp_kind_t kind)
{
    int rc = sdp_media_add_extmap(m, NEGOTIATE_SUB_EXT_MID, SDP_EXT_MID, SDP_DIR_NONE);
    if (rc == 0)
        rc = sdp_media_add_extmap(m, NEGOTIATE_SUB_EXT_ABS_SEND_TIME, SDP_EXT_ABS_SEND_TIME,
                                  SDP_DIR_NONE);
    if (rc == 0)
        rc = sdp_media_add_extmap(m, NEGOTIATE_SUB_EXT_TWCC, SDP_EXT_TRANSPORT_CC, SDP_DIR_NONE);
    if (rc == 0 && kind == SDP_KIND_AUDIO)
        rc = sdp_media_add_extmap(m, NEGOTIATE_SUB_EXT_AUDIO_LEVEL, SDP_EXT_AUDIO_LEVEL,
                                  SDP_DIR_NONE);
    return rc;
}

static void track_mid(const negotiate_sub_track_t *t, size_t i, char *mid, size_t cap)
{
    if (t->mid[0])
        snprintf(mid, cap, "%s", t->mid);
    else
        snprintf(mid, cap, "%zu", i);
}

static int add_track(sdp_session_t *s, size_t i, const negotiate_sub_track_t *t,
                     const negotiate_local_t *local, const sdp_fingerprint_t *fp)
{
    char mid[32];
    track_mid(t, i, mid, sizeof mid);
    sdp_media_t *m = sdp_session_add_media(s, t->kind, mid);
    if (!m)
        return LG_EFULL;
    m->direction = t->active ? SDP_DIR_SENDONLY : SDP_DIR_INACTIVE;
    m->rtcp_rsize = true;
    int rc = add_codecs(m, t);
    if (rc == 0)
        rc = add_extmaps(m, t->kind);
    if (rc == 0 && t->active)
        rc = add_sender(m, t);
    if (rc == 0)
        rc = neg__add_transport(m, local, fp, SDP_SETUP_ACTPASS);
    if (rc == 0 && t->stopped) { /* rejected (RFC 8829 5.2.2): no transport of its own */
        m->port = 0;
        m->candidate_count = 0;
        memset(m->candidates, 0, sizeof m->candidates);
        m->end_of_candidates = false;
    }
    if (rc == 0 && !t->stopped)
        NEG_COPY(s->bundle_mids[s->bundle_count++], mid);
    return rc;
}

static bool same_codec(const sdp_codec_t *a, const sdp_codec_t *b)
{
    return strcasecmp(a->name, b->name) == 0 && a->clock_rate == b->clock_rate &&
           a->channels == b->channels && strcmp(a->fmtp, b->fmtp) == 0;
}

/* One RTP session (the BUNDLE group): a pt must mean one codec configuration everywhere. */
static int check_collisions(const sdp_session_t *s, char *err, size_t errlen)
{
    for (int i = 0; i < s->media_count; i++)
        for (int j = 0; j < i; j++)
            for (int k = 0; s->media[i].port && s->media[j].port && k < s->media[i].codec_count;
                 k++) {
                const sdp_codec_t *a = &s->media[i].codecs[k];
                const sdp_codec_t *b = sdp_media_find_codec_pt(&s->media[j], a->pt);
                if (b && !same_codec(a, b))
                    return neg__fail(err, errlen, LG_EEXIST,
                                     "payload type %u is %s/%u in mid %s but %s/%u in mid %s: "
                                     "one BUNDLE group cannot carry both",
                                     a->pt, b->name, (unsigned)b->clock_rate, s->media[j].mid,
                                     a->name, (unsigned)a->clock_rate, s->media[i].mid);
            }
    return 0;
}

int negotiate_subscribe_offer(const negotiate_sub_track_t *tracks, size_t n,
                              const negotiate_local_t *local, uint64_t version,
                              sdp_session_t *offer, char *err, size_t errlen)
{
    if (!local || !offer || (n > 0 && !tracks))
        return neg__fail(err, errlen, LG_EINVAL, "NULL argument");
    sdp_session_init(offer);
    if (n > SDP_MAX_MEDIA)
        return neg__fail(err, errlen, LG_EFULL, "subscribe: %zu tracks, at most %d m-lines", n,
                         SDP_MAX_MEDIA);
    sdp_fingerprint_t fp;
    int rc = neg__check_local(local, &fp, err, errlen);
    if (rc)
        return rc;
    offer->sess_id = local->session_id;
    offer->sess_version = version;
    offer->ice_lite = true;
    memcpy(offer->msid_semantic, "WMS", 4);
    memcpy(offer->msid_semantic_ids, "*", 2);
    for (size_t i = 0; i < n; i++) {
        const char *problem = track_problem(&tracks[i]);
        if (problem)
            return neg__fail(err, errlen, LG_EINVAL, "subscribe track %zu: %s", i, problem);
        char mid[32];
        track_mid(&tracks[i], i, mid, sizeof mid);
        if (sdp_find_media_by_mid(offer, mid))
            return neg__fail(err, errlen, LG_EINVAL, "subscribe track %zu: mid %s is used twice", i,
                             mid);
        rc = add_track(offer, i, &tracks[i], local, &fp);
        if (rc)
            return neg__fail(err, errlen, rc, "subscribe track %zu: does not fit the SDP (%s)", i,
                             lg_strerror(rc));
    }
    return check_collisions(offer, err, errlen);
}

/* --- checking the browser's answer ----------------------------------------------------------- */

/* Directions an answer may give: recvonly or inactive to our sendonly, inactive to inactive. */
static bool direction_ok(const sdp_media_t *om, const sdp_media_t *am)
{
    if (am->port == 0)
        return true;
    if (om->direction == SDP_DIR_SENDONLY)
        return am->direction == SDP_DIR_RECVONLY || am->direction == SDP_DIR_INACTIVE;
    return am->direction == SDP_DIR_INACTIVE;
}

static int check_answer_transport(const sdp_session_t *answer, int i, char *err, size_t errlen)
{
    const sdp_media_t *am = &answer->media[i];
    int rc = neg__check_remote(am, i, "answer", err, errlen);
    if (rc)
        return rc;
    if (am->setup == SDP_SETUP_NONE)
        return neg__fail(err, errlen, LG_EMALFORMED, "answer m-line %d (mid %s): no a=setup", i + 1,
                         am->mid);
    if (am->setup != SDP_SETUP_ACTIVE)
        return neg__fail(err, errlen, LG_EUNSUPPORTED,
                         "answer m-line %d (mid %s): setup must be active (the relay is the DTLS "
                         "server), not %s",
                         i + 1, am->mid, sdp_setup_str(am->setup));
    if (!neg__in_bundle(answer, am->mid))
        return neg__fail(err, errlen, LG_EMALFORMED,
                         "answer m-line %d (mid %s): not in a=group:BUNDLE", i + 1, am->mid);
    return 0;
}

/* What the browser accepted on one m-line it did not reject. */
static void read_media(const sdp_media_t *om, const sdp_media_t *am, negotiate_sub_media_t *r)
{
    const sdp_codec_t *oc = &om->codecs[0];
    const sdp_codec_t *ac = sdp_media_find_codec_pt(am, oc->pt);
    int rtx = sdp_media_find_rtx_pt(om, oc->pt);
    r->accepted = om->direction == SDP_DIR_SENDONLY && am->direction == SDP_DIR_RECVONLY && ac;
    r->rtx = ac && rtx >= 0 && sdp_media_find_codec_pt(am, rtx) != NULL;
    r->fb = ac ? neg__fb_bits(ac) : 0;
    neg__ext_ids(am, &r->ext);
}

int negotiate_subscribe_answer(const sdp_session_t *offer_we_sent, const sdp_session_t *answer,
                               negotiate_sub_result_t *res, char *err, size_t errlen)
{
    if (!offer_we_sent || !answer || !res)
        return neg__fail(err, errlen, LG_EINVAL, "NULL argument");
    memset(res, 0, sizeof *res);
    const sdp_session_t *o = offer_we_sent;
    if (answer->media_count != o->media_count)
        return neg__fail(err, errlen, LG_EMALFORMED, "answer has %u m-lines, the offer %u",
                         answer->media_count, o->media_count);
    int first = -1;
    for (int i = 0; i < o->media_count; i++) {
        const sdp_media_t *om = &o->media[i], *am = &answer->media[i];
        if (strcmp(om->mid, am->mid) != 0 || om->kind != am->kind)
            return neg__fail(err, errlen, LG_EMALFORMED,
                             "answer m-line %d is %s mid %s, the offer's %s mid %s", i + 1,
                             sdp_kind_str(am->kind), am->mid, sdp_kind_str(om->kind), om->mid);
        if (!direction_ok(om, am))
            return neg__fail(err, errlen, LG_EMALFORMED,
                             "answer m-line %d (mid %s): %s does not answer %s", i + 1, am->mid,
                             sdp_direction_str(am->direction), sdp_direction_str(om->direction));
        if (om->port == 0 && am->port != 0)
            return neg__fail(err, errlen, LG_EMALFORMED,
                             "answer m-line %d (mid %s) accepts an m-line the offer rejected",
                             i + 1, am->mid);
        negotiate_sub_media_t *r = &res->media[i];
        NEG_COPY(r->mid, om->mid);
        r->kind = om->kind;
        if (am->port == 0 || om->codec_count == 0)
            continue;
        int rc = check_answer_transport(answer, i, err, errlen);
        if (rc)
            return rc;
        if (first < 0)
            first = i;
        read_media(om, am, r);
    }
    res->media_count = o->media_count;
    if (first >= 0)
        neg__copy_remote(&answer->media[first], res->ice_ufrag, res->ice_pwd, res->fingerprint);
    return 0;
}
