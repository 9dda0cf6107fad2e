/* Writes an sdp_session_t as SDP text with CRLF line ends (relay offers and answers). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/sdp.h"

/* --- validation: what the parser could read back -------------------------------------------- */

/* NUL-terminated within size, no control characters; a token also has no spaces. */
static bool str_ok(const char *s, size_t size, bool token, bool may_be_empty)
{
    size_t n = strnlen(s, size);
    if (n == size)
        return false;
    if (n == 0)
        return may_be_empty;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7f || (token && ch == ' '))
            return false;
    }
    return true;
}

#define TOKEN(f)          str_ok((f), sizeof(f), true, false)
#define TOKEN_OR_EMPTY(f) str_ok((f), sizeof(f), true, true)
#define TEXT(f)           str_ok((f), sizeof(f), false, false)
#define TEXT_OR_EMPTY(f)  str_ok((f), sizeof(f), false, true)

static bool ice_ok(const sdp_ice_t *ice, const sdp_fingerprint_t *fp, sdp_setup_t setup)
{
    return TOKEN_OR_EMPTY(ice->ufrag) && TOKEN_OR_EMPTY(ice->pwd) && TEXT_OR_EMPTY(ice->options) &&
           TOKEN_OR_EMPTY(fp->alg) && (fp->alg[0] ? TOKEN(fp->value) : true) &&
           (unsigned)setup <= SDP_SETUP_HOLDCONN;
}

static bool msid_ok(const sdp_msid_t *msid)
{
    return TOKEN_OR_EMPTY(msid->stream) && TOKEN_OR_EMPTY(msid->track);
}

static bool codec_ok(const sdp_media_t *m, int idx)
{
    const sdp_codec_t *c = &m->codecs[idx];
    if (c->pt > 127 || !TOKEN_OR_EMPTY(c->name) || strchr(c->name, '/') ||
        (c->name[0] && c->clock_rate == 0) || !TEXT_OR_EMPTY(c->fmtp) ||
        c->rtcp_fb_count > SDP_MAX_RTCP_FB)
        return false;
    for (int i = 0; i < idx; i++)
        if (m->codecs[i].pt == c->pt)
            return false;
    for (int i = 0; i < c->rtcp_fb_count; i++)
        if (!TEXT(c->rtcp_fb[i]))
            return false;
    return true;
}

static bool sim_list_ok(const sdp_sim_list_t *l)
{
    if (l->count > SDP_MAX_RIDS)
        return false;
    for (int i = 0; i < l->count; i++) {
        const sdp_sim_stream_t *st = &l->streams[i];
        if (st->alt_count == 0 || st->alt_count > SDP_MAX_RID_ALTS)
            return false;
        for (int j = 0; j < st->alt_count; j++)
            if (!TOKEN(st->alts[j].rid) || strpbrk(st->alts[j].rid, ";,"))
                return false;
    }
    return true;
}

static bool candidate_ok(const sdp_candidate_t *c)
{
    return TOKEN(c->foundation) && c->component >= 1 && c->component <= 256 && TOKEN(c->addr) &&
           TOKEN_OR_EMPTY(c->rel_addr) && (unsigned)c->transport <= SDP_TRANSPORT_TCP &&
           (unsigned)c->type <= SDP_CAND_RELAY && (unsigned)c->tcptype <= SDP_TCPTYPE_SO;
}

static bool counts_ok(const sdp_media_t *m)
{
    return m->codec_count <= SDP_MAX_CODECS && m->extmap_count <= SDP_MAX_EXTMAPS &&
           m->ssrc_count <= SDP_MAX_SSRCS && m->ssrc_group_count <= SDP_MAX_SSRC_GROUPS &&
           m->rid_count <= SDP_MAX_RIDS && m->candidate_count <= SDP_MAX_CANDIDATES;
}

/* The m= line, addresses and per-section scalars. */
static bool media_head_ok(const sdp_media_t *m)
{
    bool rtp = strstr(m->proto, "RTP/") != NULL;
    return counts_ok(m) && (unsigned)m->kind <= SDP_KIND_APPLICATION && TOKEN(m->proto) &&
           (rtp ? m->codec_count > 0 : TEXT(m->fmt)) && TOKEN_OR_EMPTY(m->conn_addr) &&
           TOKEN_OR_EMPTY(m->mid) && (unsigned)m->direction <= SDP_DIR_INACTIVE &&
           ice_ok(&m->ice, &m->fingerprint, m->setup) && msid_ok(&m->msid);
}

/* Everything after the head: codecs, extmaps, ssrcs, rids, simulcast, candidates. */
static bool media_lists_ok(const sdp_media_t *m)
{
    for (int i = 0; i < m->codec_count; i++)
        if (!codec_ok(m, i))
            return false;
    for (int i = 0; i < m->extmap_count; i++) {
        const sdp_extmap_t *e = &m->extmaps[i];
        if (!((e->id >= 1 && e->id <= 255) || (e->id >= 4096 && e->id <= 4351)) ||
            (unsigned)e->direction > SDP_DIR_INACTIVE || !TOKEN(e->uri))
            return false;
    }
    for (int i = 0; i < m->ssrc_count; i++)
        if (!TEXT_OR_EMPTY(m->ssrcs[i].cname) || !msid_ok(&m->ssrcs[i].msid))
            return false;
    for (int i = 0; i < m->ssrc_group_count; i++) {
        const sdp_ssrc_group_t *g = &m->ssrc_groups[i];
        if (!TOKEN(g->semantics) || g->count == 0 || g->count > SDP_MAX_GROUP_SSRCS)
            return false;
    }
    for (int i = 0; i < m->rid_count; i++) {
        const sdp_rid_t *r = &m->rids[i];
        if (!TOKEN(r->id) || !TEXT_OR_EMPTY(r->params) ||
            (r->direction != SDP_DIR_SENDONLY && r->direction != SDP_DIR_RECVONLY))
            return false;
    }
    for (int i = 0; i < m->candidate_count; i++)
        if (!candidate_ok(&m->candidates[i]))
            return false;
    return sim_list_ok(&m->simulcast.send) && sim_list_ok(&m->simulcast.recv);
}

static bool session_ok(const sdp_session_t *s)
{
    if (s->media_count > SDP_MAX_MEDIA || s->bundle_count > SDP_MAX_MEDIA ||
        !TOKEN_OR_EMPTY(s->origin_username) || !TOKEN_OR_EMPTY(s->origin_addr) ||
        !TEXT_OR_EMPTY(s->name) || !TOKEN_OR_EMPTY(s->conn_addr) ||
        !TOKEN_OR_EMPTY(s->msid_semantic) || !TEXT_OR_EMPTY(s->msid_semantic_ids) ||
        (unsigned)s->direction > SDP_DIR_INACTIVE || !ice_ok(&s->ice, &s->fingerprint, s->setup))
        return false;
    for (int i = 0; i < s->bundle_count; i++)
        if (!TOKEN(s->bundle_mids[i]))
            return false;
    for (int i = 0; i < s->media_count; i++)
        if (!media_head_ok(&s->media[i]) || !media_lists_ok(&s->media[i]))
            return false;
    return true;
}

/* --- output buffer -------------------------------------------------------------------------- */

typedef struct {
    char *out;
    size_t cap;
    size_t len;
    bool full;
} wbuf_t;

static void put(wbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(wbuf_t *b, const char *fmt, ...)
{
    if (b->full)
        return;
    size_t room = b->cap - b->len;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->out + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= room) {
        b->full = true;
        return;
    }
    b->len += (size_t)n;
}

static const char *addr_type(const char *addr)
{
    return strchr(addr, ':') ? "IP6" : "IP4";
}

/* --- lines shared by both levels ------------------------------------------------------------ */

static void put_ice(wbuf_t *b, const sdp_ice_t *ice, const sdp_fingerprint_t *fp, sdp_setup_t setup)
{
    if (ice->ufrag[0])
        put(b, "a=ice-ufrag:%s\r\n", ice->ufrag);
    if (ice->pwd[0])
        put(b, "a=ice-pwd:%s\r\n", ice->pwd);
    if (ice->options[0])
        put(b, "a=ice-options:%s\r\n", ice->options);
    if (fp->alg[0])
        put(b, "a=fingerprint:%s %s\r\n", fp->alg, fp->value);
    if (setup != SDP_SETUP_NONE)
        put(b, "a=setup:%s\r\n", sdp_setup_str(setup));
}

static void put_msid(wbuf_t *b, const char *prefix, const sdp_msid_t *msid)
{
    if (!msid->stream[0])
        return;
    put(b, "%s%s%s%s\r\n", prefix, msid->stream, msid->track[0] ? " " : "", msid->track);
}

/* --- session -------------------------------------------------------------------------------- */

static void put_session(wbuf_t *b, const sdp_session_t *s)
{
    const char *user = s->origin_username[0] ? s->origin_username : "-";
    const char *addr = s->origin_addr[0] ? s->origin_addr : "0.0.0.0";
    put(b, "v=0\r\no=%s %" PRIu64 " %" PRIu64 " IN %s %s\r\ns=%s\r\n", user, s->sess_id,
        s->sess_version, addr_type(addr), addr, s->name[0] ? s->name : "-");
    if (s->conn_addr[0])
        put(b, "c=IN %s %s\r\n", addr_type(s->conn_addr), s->conn_addr);
    put(b, "t=0 0\r\n");
    if (s->bundle_count > 0) {
        put(b, "a=group:BUNDLE");
        for (int i = 0; i < s->bundle_count; i++)
            put(b, " %s", s->bundle_mids[i]);
        put(b, "\r\n");
    }
    if (s->ice_lite)
        put(b, "a=ice-lite\r\n");
    if (s->extmap_allow_mixed)
        put(b, "a=extmap-allow-mixed\r\n");
    if (s->msid_semantic[0])
        put(b, "a=msid-semantic:%s%s%s\r\n", s->msid_semantic, s->msid_semantic_ids[0] ? " " : "",
            s->msid_semantic_ids);
    if (s->direction != SDP_DIR_NONE)
        put(b, "a=%s\r\n", sdp_direction_str(s->direction));
    put_ice(b, &s->ice, &s->fingerprint, s->setup);
}

/* --- media ---------------------------------------------------------------------------------- */

static void put_media_head(wbuf_t *b, const sdp_media_t *m)
{
    put(b, "m=%s %u %s", sdp_kind_str(m->kind), m->port, m->proto);
    if (strstr(m->proto, "RTP/")) {
        for (int i = 0; i < m->codec_count; i++)
            put(b, " %u", m->codecs[i].pt);
    } else {
        put(b, " %s", m->fmt);
    }
    const char *addr = m->conn_addr[0]          ? m->conn_addr
                       : m->candidate_count > 0 ? m->candidates[0].addr
                                                : "0.0.0.0";
    put(b, "\r\nc=IN %s %s\r\n", addr_type(addr), addr);
    if (m->bundle_only)
        put(b, "a=bundle-only\r\n");
    if (m->mid[0])
        put(b, "a=mid:%s\r\n", m->mid);
    if (m->direction != SDP_DIR_NONE)
        put(b, "a=%s\r\n", sdp_direction_str(m->direction));
    put_ice(b, &m->ice, &m->fingerprint, m->setup);
    if (m->rtcp_mux)
        put(b, "a=rtcp-mux\r\n");
    if (m->rtcp_rsize)
        put(b, "a=rtcp-rsize\r\n");
    if (m->extmap_allow_mixed)
        put(b, "a=extmap-allow-mixed\r\n");
}

static void put_codecs(wbuf_t *b, const sdp_media_t *m)
{
    for (int i = 0; i < m->codec_count; i++) {
        const sdp_codec_t *c = &m->codecs[i];
        if (c->name[0] && c->channels)
            put(b, "a=rtpmap:%u %s/%" PRIu32 "/%u\r\n", c->pt, c->name, c->clock_rate, c->channels);
        else if (c->name[0])
            put(b, "a=rtpmap:%u %s/%" PRIu32 "\r\n", c->pt, c->name, c->clock_rate);
        if (c->fmtp[0])
            put(b, "a=fmtp:%u %s\r\n", c->pt, c->fmtp);
        for (int j = 0; j < c->rtcp_fb_count; j++)
            put(b, "a=rtcp-fb:%u %s\r\n", c->pt, c->rtcp_fb[j]);
    }
    for (int i = 0; i < m->extmap_count; i++) {
        const sdp_extmap_t *e = &m->extmaps[i];
        put(b, "a=extmap:%u%s%s %s\r\n", e->id, e->direction ? "/" : "",
            sdp_direction_str(e->direction), e->uri);
    }
}

static void put_ssrcs(wbuf_t *b, const sdp_media_t *m)
{
    put_msid(b, "a=msid:", &m->msid);
    for (int i = 0; i < m->ssrc_group_count; i++) {
        const sdp_ssrc_group_t *g = &m->ssrc_groups[i];
        put(b, "a=ssrc-group:%s", g->semantics);
        for (int j = 0; j < g->count; j++)
            put(b, " %" PRIu32, g->ssrcs[j]);
        put(b, "\r\n");
    }
    for (int i = 0; i < m->ssrc_count; i++) {
        const sdp_ssrc_t *e = &m->ssrcs[i];
        char prefix[32];
        snprintf(prefix, sizeof prefix, "a=ssrc:%" PRIu32 " msid:", e->ssrc);
        if (e->cname[0])
            put(b, "a=ssrc:%" PRIu32 " cname:%s\r\n", e->ssrc, e->cname);
        put_msid(b, prefix, &e->msid);
    }
}

static void put_sim_list(wbuf_t *b, const char *dir, const sdp_sim_list_t *l)
{
    put(b, "%s", dir);
    for (int i = 0; i < l->count; i++) {
        const sdp_sim_stream_t *st = &l->streams[i];
        for (int j = 0; j < st->alt_count; j++)
            put(b, "%s%s%s", j ? "," : (i ? ";" : ""), st->alts[j].paused ? "~" : "",
                st->alts[j].rid);
    }
}

static void put_rids(wbuf_t *b, const sdp_media_t *m)
{
    for (int i = 0; i < m->rid_count; i++) {
        const sdp_rid_t *r = &m->rids[i];
        put(b, "a=rid:%s %s%s%s\r\n", r->id, r->direction == SDP_DIR_SENDONLY ? "send" : "recv",
            r->params[0] ? " " : "", r->params);
    }
    const sdp_simulcast_t *sim = &m->simulcast;
    if (sim->send.count == 0 && sim->recv.count == 0)
        return;
    put(b, "a=simulcast:");
    if (sim->send.count > 0)
        put_sim_list(b, "send ", &sim->send);
    if (sim->recv.count > 0)
        put_sim_list(b, sim->send.count > 0 ? " recv " : "recv ", &sim->recv);
    put(b, "\r\n");
}

static void put_candidates(wbuf_t *b, const sdp_media_t *m)
{
    if (m->sctp_port)
        put(b, "a=sctp-port:%u\r\n", m->sctp_port);
    if (m->max_message_size)
        put(b, "a=max-message-size:%" PRIu32 "\r\n", m->max_message_size);
    for (int i = 0; i < m->candidate_count; i++) {
        const sdp_candidate_t *c = &m->candidates[i];
        put(b, "a=candidate:%s %u %s %" PRIu32 " %s %u typ %s", c->foundation, c->component,
            c->transport == SDP_TRANSPORT_TCP ? "tcp" : "udp", c->priority, c->addr, c->port,
            sdp_cand_type_str(c->type));
        if (c->rel_addr[0])
            put(b, " raddr %s", c->rel_addr);
        if (c->rel_addr[0] || c->rel_port)
            put(b, " rport %u", c->rel_port);
        if (c->tcptype != SDP_TCPTYPE_NONE)
            put(b, " tcptype %s", sdp_tcptype_str(c->tcptype));
        put(b, "\r\n");
    }
    if (m->end_of_candidates)
        put(b, "a=end-of-candidates\r\n");
}

int sdp_write(const sdp_session_t *s, char *out, size_t cap, size_t *len)
{
    if (!s || !out || !len || cap == 0 || !session_ok(s))
        return LG_EINVAL;
    wbuf_t b = {out, cap, 0, false};
    out[0] = '\0';
    put_session(&b, s);
    for (int i = 0; i < s->media_count; i++) {
        const sdp_media_t *m = &s->media[i];
        put_media_head(&b, m);
        put_codecs(&b, m);
        put_ssrcs(&b, m);
        put_rids(&b, m);
        put_candidates(&b, m);
    }
    if (b.full)
        return LG_ENOSPC;
    *len = b.len;
    return 0;
}
