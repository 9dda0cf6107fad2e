/* The C peer's SDP: the publish offer a browser would make, the answer to the relay's subscribe
 * offer, and what a leg needs from the relay's SDP (ICE credentials, fingerprint, candidate). */
#include "bench/peer/peer_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfu/lg_error.h"

/* --- building --------------------------------------------------------------------------------- */

/* ICE credentials, fingerprint, setup and rtcp-mux: what every section of ours carries. */
static void put_transport(const peer_t *p, sdp_media_t *m, const peer_leg_t *leg, sdp_setup_t setup)
{
    snprintf(m->conn_addr, sizeof m->conn_addr, "0.0.0.0");
    snprintf(m->ice.ufrag, sizeof m->ice.ufrag, "%s", leg->ufrag);
    snprintf(m->ice.pwd, sizeof m->ice.pwd, "%s", leg->pwd);
    const char *sp = strchr(p->fingerprint, ' ');
    size_t alg_len = sp ? (size_t)(sp - p->fingerprint) : 0;
    snprintf(m->fingerprint.alg, sizeof m->fingerprint.alg, "%.*s", (int)alg_len, p->fingerprint);
    snprintf(m->fingerprint.value, sizeof m->fingerprint.value, "%s", sp ? sp + 1 : "");
    m->setup = setup;
    m->rtcp_mux = true;
}

static int put_ssrc(const peer_t *p, sdp_media_t *m, uint32_t ssrc, const char *track)
{
    if (m->ssrc_count == SDP_MAX_SSRCS)
        return LG_EFULL;
    sdp_ssrc_t *e = &m->ssrcs[m->ssrc_count++];
    e->ssrc = ssrc;
    snprintf(e->cname, sizeof e->cname, "%s", p->cname);
    snprintf(e->msid.stream, sizeof e->msid.stream, "%s", p->stream_id);
    snprintf(e->msid.track, sizeof e->msid.track, "%s", track);
    return 0;
}

static int add_audio(const peer_t *p, sdp_session_t *s, const peer_leg_t *leg)
{
    sdp_media_t *m = sdp_session_add_media(s, SDP_KIND_AUDIO, p->audio.mid);
    if (!m)
        return LG_EFULL;
    put_transport(p, m, leg, SDP_SETUP_ACTPASS);
    m->direction = SDP_DIR_SENDONLY;
    sdp_codec_t *c =
        sdp_media_add_codec(m, PEER_PT_OPUS, "opus", 48000, 2, "minptime=10;useinbandfec=1");
    if (!c || sdp_codec_add_fb(c, "transport-cc") != 0 ||
        sdp_media_add_extmap(m, PEER_EXT_LEVEL, SDP_EXT_AUDIO_LEVEL, SDP_DIR_NONE) != 0 ||
        sdp_media_add_extmap(m, PEER_EXT_TWCC, SDP_EXT_TRANSPORT_CC, SDP_DIR_NONE) != 0 ||
        sdp_media_add_extmap(m, PEER_EXT_MID, SDP_EXT_MID, SDP_DIR_NONE) != 0)
        return LG_EFULL;
    snprintf(m->msid.stream, sizeof m->msid.stream, "%s", p->stream_id);
    snprintf(m->msid.track, sizeof m->msid.track, "%s", p->audio_track);
    return put_ssrc(p, m, p->audio.ssrc, p->audio_track);
}

/* Simulcast as Chromium offers it: a=rid:<rid> send per layer, a=simulcast:send highest first
 * (or lowest first with simulcast_low_first). */
static void put_simulcast(const peer_t *p, sdp_media_t *m)
{
    sdp_sim_list_t *send = &m->simulcast.send;
    for (int k = 0; k < p->nvl; k++) {
        int i = p->o.simulcast_low_first ? k : p->nvl - 1 - k;
        sdp_rid_t *r = &m->rids[m->rid_count++];
        memset(r, 0, sizeof *r);
        snprintf(r->id, sizeof r->id, "%s", p->vl[i].tx.rid);
        r->direction = SDP_DIR_SENDONLY;
        sdp_sim_stream_t *st = &send->streams[send->count++];
        memset(st, 0, sizeof *st);
        st->alt_count = 1;
        snprintf(st->alts[0].rid, sizeof st->alts[0].rid, "%s", p->vl[i].tx.rid);
    }
}

static int add_video(const peer_t *p, sdp_session_t *s, const peer_leg_t *leg)
{
    static const char *const fbs[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};
    sdp_media_t *m = sdp_session_add_media(s, SDP_KIND_VIDEO, p->video.mid);
    if (!m)
        return LG_EFULL;
    put_transport(p, m, leg, SDP_SETUP_ACTPASS);
    m->direction = SDP_DIR_SENDONLY;
    m->rtcp_rsize = true;
    sdp_codec_t *c = sdp_media_add_codec(m, PEER_PT_VP8, "VP8", 90000, 0, NULL);
    for (size_t i = 0; c && i < sizeof fbs / sizeof fbs[0]; i++)
        if (sdp_codec_add_fb(c, fbs[i]) != 0)
            c = NULL;
    if (!c || !sdp_media_add_codec(m, PEER_PT_RTX, "rtx", 90000, 0, "apt=96") ||
        sdp_media_add_extmap(m, PEER_EXT_ABSSEND, SDP_EXT_ABS_SEND_TIME, SDP_DIR_NONE) != 0 ||
        sdp_media_add_extmap(m, PEER_EXT_TWCC, SDP_EXT_TRANSPORT_CC, SDP_DIR_NONE) != 0 ||
        sdp_media_add_extmap(m, PEER_EXT_MID, SDP_EXT_MID, SDP_DIR_NONE) != 0)
        return LG_EFULL;
    snprintf(m->msid.stream, sizeof m->msid.stream, "%s", p->stream_id);
    snprintf(m->msid.track, sizeof m->msid.track, "%s", p->video_track);
    if (p->nvl > 1) { /* layers are told apart by rid; no a=ssrc lines, as Chromium */
        if (sdp_media_add_extmap(m, PEER_EXT_RID, SDP_EXT_RID, SDP_DIR_NONE) != 0 ||
            sdp_media_add_extmap(m, PEER_EXT_RRID, SDP_EXT_REPAIRED_RID, SDP_DIR_NONE) != 0)
            return LG_EFULL;
        put_simulcast(p, m);
        return 0;
    }
    uint32_t ssrc = p->vl[0].tx.ssrc;
    sdp_ssrc_group_t *g = &m->ssrc_groups[m->ssrc_group_count++];
    snprintf(g->semantics, sizeof g->semantics, "FID");
    g->count = 2;
    g->ssrcs[0] = ssrc;
    g->ssrcs[1] = p->rtx_ssrc;
    if (put_ssrc(p, m, ssrc, p->video_track) != 0)
        return LG_EFULL;
    return put_ssrc(p, m, p->rtx_ssrc, p->video_track);
}

static void add_bundle(sdp_session_t *s)
{
    for (int i = 0; i < s->media_count; i++)
        if (s->media[i].port != 0)
            snprintf(s->bundle_mids[s->bundle_count++], sizeof s->bundle_mids[0], "%s",
                     s->media[i].mid);
}

int sdp_build_offer(peer_t *p, sdp_session_t *s)
{
    sdp_session_init(s);
    s->sess_id = p->sess_id;
    s->sess_version = 2;
    snprintf(s->msid_semantic, sizeof s->msid_semantic, "WMS");
    snprintf(s->msid_semantic_ids, sizeof s->msid_semantic_ids, "%s", p->stream_id);
    const peer_leg_t *leg = &p->legs[LEG_PUBLISH];
    if (p->audio.enabled && add_audio(p, s, leg) != 0)
        return LG_EFULL;
    if (p->video.enabled && add_video(p, s, leg) != 0)
        return LG_EFULL;
    add_bundle(s);
    return 0;
}

static sdp_direction_t answer_direction(sdp_direction_t offered)
{
    switch (offered) {
    case SDP_DIR_SENDONLY:
    case SDP_DIR_SENDRECV:
        return SDP_DIR_RECVONLY; /* the subscribe connection only receives */
    default:
        return SDP_DIR_INACTIVE;
    }
}

/* Mirrors one offered section: every codec (rtx unless no_rtx), feedback and extension offered is
 * accepted. */
static int answer_media(peer_t *p, const sdp_media_t *om, const peer_leg_t *leg, sdp_session_t *ans)
{
    sdp_media_t *m = sdp_session_add_media(ans, om->kind, om->mid);
    if (!m)
        return LG_EFULL;
    snprintf(m->proto, sizeof m->proto, "%s", om->proto);
    snprintf(m->fmt, sizeof m->fmt, "%s", om->fmt);
    put_transport(p, m, leg, SDP_SETUP_ACTIVE);
    m->rtcp_mux = om->rtcp_mux;
    m->rtcp_rsize = om->rtcp_rsize;
    m->direction = answer_direction(om->direction);
    if (om->port == 0 || om->kind == SDP_KIND_APPLICATION) {
        m->port = 0; /* rejected (data channels are not spoken here) */
        m->direction = SDP_DIR_INACTIVE;
    }
    for (int i = 0; i < om->codec_count; i++) {
        const sdp_codec_t *oc = &om->codecs[i];
        if (p->o.no_rtx && strcasecmp(oc->name, "rtx") == 0)
            continue;
        sdp_codec_t *c = sdp_media_add_codec(m, oc->pt, oc->name, oc->clock_rate, oc->channels,
                                             oc->fmtp[0] ? oc->fmtp : NULL);
        if (!c)
            return LG_EFULL;
        for (int f = 0; f < oc->rtcp_fb_count; f++)
            if (sdp_codec_add_fb(c, oc->rtcp_fb[f]) != 0)
                return LG_EFULL;
    }
    for (int i = 0; i < om->extmap_count; i++)
        if (sdp_media_add_extmap(m, om->extmaps[i].id, om->extmaps[i].uri, SDP_DIR_NONE) != 0)
            return LG_EFULL;
    return 0;
}

int sdp_build_subscribe_answer(peer_t *p, const sdp_session_t *offer, const peer_leg_t *leg,
                               sdp_session_t *ans)
{
    sdp_session_init(ans);
    ans->sess_id = p->sess_id + 1;
    ans->sess_version = (uint64_t)p->st.subscribe_offers + 1;
    snprintf(ans->msid_semantic, sizeof ans->msid_semantic, "WMS");
    for (int i = 0; i < offer->media_count; i++) {
        int rc = answer_media(p, &offer->media[i], leg, ans);
        if (rc != 0)
            return rc;
    }
    add_bundle(ans);
    return 0;
}

/* --- reading the relay's SDP ------------------------------------------------------------------ */

static int candidate_family(const char *addr)
{
    struct in6_addr a6;
    struct in_addr a4;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return AF_INET;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return AF_INET6;
    return AF_UNSPEC; /* mDNS name or garbage: unusable here */
}

static int make_sockaddr(const char *addr, uint16_t port, struct sockaddr_storage *ss,
                         socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return LG_EINVAL;
}

static const char *proto_name(sdp_transport_t t)
{
    return t == SDP_TRANSPORT_TCP ? "tcp" : "udp";
}

/* The highest-priority RTP candidate of the asked transport and family (TCP: passive only). */
static const sdp_candidate_t *pick_candidate(const peer_t *p, const sdp_session_t *s)
{
    sdp_transport_t want =
        p->o.transport == PEER_TRANSPORT_TCP ? SDP_TRANSPORT_TCP : SDP_TRANSPORT_UDP;
    int family = p->o.family == PEER_FAMILY_IPV6 ? AF_INET6 : AF_INET;
    const sdp_candidate_t *best = NULL;
    for (int i = 0; i < s->media_count; i++) {
        const sdp_media_t *m = &s->media[i];
        for (int k = 0; k < m->candidate_count; k++) {
            const sdp_candidate_t *c = &m->candidates[k];
            if (c->component != 1 || c->transport != want || candidate_family(c->addr) != family ||
                (want == SDP_TRANSPORT_TCP && c->tcptype != SDP_TCPTYPE_PASSIVE))
                continue;
            if (!best || c->priority > best->priority)
                best = c;
        }
        if (best)
            break; /* BUNDLE: the first section with a usable candidate decides */
    }
    return best;
}

static void list_candidates(const sdp_session_t *s, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
    for (int i = 0; i < s->media_count && n < cap; i++) {
        const sdp_media_t *m = &s->media[i];
        for (int k = 0; k < m->candidate_count && n < cap; k++) {
            const sdp_candidate_t *c = &m->candidates[k];
            int w = snprintf(out + n, cap - n, "%s%s:%u/%s%s", n ? ", " : "", c->addr, c->port,
                             proto_name(c->transport),
                             c->tcptype == SDP_TCPTYPE_PASSIVE ? " passive" : "");
            if (w < 0)
                return;
            n += (size_t)w;
        }
    }
    if (n == 0)
        snprintf(out, cap, "none");
}

/* The first section that is not rejected: under BUNDLE it holds the transport. */
static const sdp_media_t *transport_section(const sdp_session_t *s)
{
    for (int i = 0; i < s->media_count; i++)
        if (s->media[i].port != 0)
            return &s->media[i];
    return NULL;
}

int sdp_read_remote(peer_t *p, const sdp_session_t *s, leg_remote_t *r)
{
    memset(r, 0, sizeof *r);
    const sdp_media_t *m = transport_section(s);
    if (!m)
        return peer_fail(p, LG_EMALFORMED, "SDP from the relay: no accepted m-section");
    if (!m->ice.ufrag[0] || !m->ice.pwd[0])
        return peer_fail(p, LG_EMALFORMED, "SDP from the relay: no a=ice-ufrag / a=ice-pwd");
    if (!m->fingerprint.alg[0])
        return peer_fail(p, LG_EMALFORMED, "SDP from the relay: no a=fingerprint");
    snprintf(r->ufrag, sizeof r->ufrag, "%s", m->ice.ufrag);
    snprintf(r->pwd, sizeof r->pwd, "%s", m->ice.pwd);
    snprintf(r->fingerprint, sizeof r->fingerprint, "%s %s", m->fingerprint.alg,
             m->fingerprint.value);
    const sdp_candidate_t *c = pick_candidate(p, s);
    if (!c) {
        char list[256];
        list_candidates(s, list, sizeof list);
        return peer_fail(p, LG_EMALFORMED,
                         "SDP from the relay: no %s IPv%c candidate%s (it lists: %s)",
                         p->o.transport == PEER_TRANSPORT_TCP ? "TCP" : "UDP",
                         p->o.family == PEER_FAMILY_IPV6 ? '6' : '4',
                         p->o.transport == PEER_TRANSPORT_TCP ? " with tcptype passive" : "", list);
    }
    const char *addr = p->media_addr[0] ? p->media_addr : c->addr;
    if (make_sockaddr(addr, c->port, &r->addr, &r->addr_len) != 0)
        return peer_fail(p, LG_EMALFORMED, "peer: media address '%s' is not an IP literal", addr);
    int v6 = r->addr.ss_family == AF_INET6;
    snprintf(r->addr_str, sizeof r->addr_str, "%s%s%s:%u/%s", v6 ? "[" : "", addr, v6 ? "]" : "",
             c->port, proto_name(c->transport));
    return 0;
}

/* --- public steps ----------------------------------------------------------------------------- */

int peer_build_offer(peer_t *p, char *out, size_t cap, size_t *len)
{
    if (!p || !out || !len)
        return LG_EINVAL;
    sdp_session_t *s = malloc(sizeof *s);
    if (!s)
        return LG_ENOMEM;
    int rc = sdp_build_offer(p, s);
    if (rc == 0)
        rc = sdp_write(s, out, cap, len);
    free(s);
    return rc;
}

static int parse_remote_sdp(peer_t *p, const char *what, const char *sdp, size_t len,
                            sdp_session_t *s)
{
    sdp_error_t e;
    int rc = sdp_parse((const uint8_t *)sdp, len, s, &e);
    if (rc != 0)
        return peer_fail(p, LG_EMALFORMED, "%s: %s", what, e.msg);
    return 0;
}

int peer_set_answer(peer_t *p, const char *sdp, size_t len)
{
    if (!p || !sdp)
        return LG_EINVAL;
    sdp_session_t *s = malloc(sizeof *s);
    if (!s)
        return peer_fail(p, LG_ENOMEM, "peer: out of memory");
    leg_remote_t r;
    int rc = parse_remote_sdp(p, "SDP answer", sdp, len, s);
    if (rc == 0) {
        const sdp_media_t *m = transport_section(s);
        int server = m && p->o.full_ice && m->setup == SDP_SETUP_ACTIVE;
        if (m && m->setup != SDP_SETUP_PASSIVE && !server)
            rc = peer_fail(p, LG_EMALFORMED,
                           "SDP answer: a=setup:%s; this peer is only a DTLS client (passive "
                           "expected%s)",
                           sdp_setup_str(m->setup), p->o.full_ice ? " or active" : "");
        p->legs[LEG_PUBLISH].dtls_server = server;
    }
    if (rc == 0)
        rc = sdp_read_remote(p, s, &r);
    free(s);
    if (rc == 0)
        rc = leg_start(&p->legs[LEG_PUBLISH], &r);
    return rc;
}

/* Which payload types of the offer are VP8 and rtx, for key frame detection on receive. */
static void note_payload_types(peer_leg_t *leg, const sdp_session_t *s)
{
    memset(leg->vp8_pt, 0, sizeof leg->vp8_pt);
    memset(leg->rtx_pt, 0, sizeof leg->rtx_pt);
    memset(leg->rtx_apt, 0, sizeof leg->rtx_apt);
    leg->nfid = 0;
    for (int i = 0; i < s->media_count; i++) {
        for (int k = 0; k < s->media[i].codec_count; k++) {
            const sdp_codec_t *c = &s->media[i].codecs[k];
            unsigned apt;
            if (strcasecmp(c->name, "VP8") == 0)
                leg->vp8_pt[c->pt & 127] = 1;
            else if (strcasecmp(c->name, "rtx") == 0) {
                leg->rtx_pt[c->pt & 127] = 1;
                if (sscanf(c->fmtp, "apt=%u", &apt) == 1 && apt < 128)
                    leg->rtx_apt[c->pt & 127] = (uint8_t)apt;
            }
        }
        for (int g = 0; g < s->media[i].ssrc_group_count; g++) {
            const sdp_ssrc_group_t *fg = &s->media[i].ssrc_groups[g];
            if (strcmp(fg->semantics, "FID") != 0 || fg->count != 2 ||
                leg->nfid == PEER_MAX_STREAMS)
                continue;
            leg->fid[leg->nfid][0] = fg->ssrcs[0];
            leg->fid[leg->nfid++][1] = fg->ssrcs[1];
        }
    }
}

int peer_answer_subscribe(peer_t *p, const char *offer, size_t len, char *out, size_t cap,
                          size_t *out_len)
{
    if (!p || !offer || !out || !out_len)
        return LG_EINVAL;
    sdp_session_t *s = malloc(2 * sizeof *s);
    if (!s)
        return peer_fail(p, LG_ENOMEM, "peer: out of memory");
    leg_remote_t r;
    peer_leg_t *leg = &p->legs[LEG_SUBSCRIBE];
    int rc = parse_remote_sdp(p, "subscribe offer", offer, len, s);
    if (rc == 0)
        rc = sdp_read_remote(p, s, &r);
    int same = rc == 0 && leg->active && strcmp(leg->remote.ufrag, r.ufrag) == 0 &&
               strcmp(leg->remote.pwd, r.pwd) == 0;
    if (rc == 0 && !same && leg->active) { /* ICE restart: a fresh leg, fresh credentials */
        leg_close(leg);
        leg_init(p, leg, LEG_SUBSCRIBE);
    }
    if (rc == 0)
        rc = sdp_build_subscribe_answer(p, s, leg, &s[1]);
    if (rc == 0) {
        rc = sdp_write(&s[1], out, cap, out_len);
        if (rc != 0)
            peer_fail(p, rc, "peer: writing the subscribe answer failed: %s", lg_strerror(rc));
    }
    if (rc == 0) {
        note_payload_types(leg, s);
        p->st.subscribe_mlines = s->media_count;
    }
    free(s);
    if (rc == 0 && !same)
        rc = leg_start(leg, &r);
    return rc;
}
