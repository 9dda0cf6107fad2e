/* Parses WebRTC Unified Plan SDP text (as Chromium and Firefox write it) into sdp_session_t. */
#include "signaling/sdp.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "sfu/lg_error.h"
#include "signaling/sdp_internal.h"

int sdp__fail(ctx_t *c, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof c->msg, fmt, ap);
    va_end(ap);
    return code;
}

/* --- session lines -------------------------------------------------------------------------- */

/* "IN IP4 <addr>" or "IN IP6 <addr>" into dst[64]. */
static bool parse_net_addr(sv_t *rest, char *dst, size_t size)
{
    sv_t net = sv_token(rest, ' ');
    sv_t type = sv_token(rest, ' ');
    sv_t addr = sv_token(rest, ' ');
    return sv_eq(net, "IN") && (sv_eq(type, "IP4") || sv_eq(type, "IP6")) &&
           sv_copy(dst, size, addr);
}

/* o=<username> <sess-id> <sess-version> IN IP4 <address> */
static int parse_origin(ctx_t *c, sv_t v)
{
    sdp_session_t *s = c->s;
    sv_t user = sv_token(&v, ' ');
    sv_t id = sv_token(&v, ' ');
    sv_t ver = sv_token(&v, ' ');
    if (c->m || !SV_COPY(s->origin_username, user) || !sv_u64(id, UINT64_MAX, &s->sess_id) ||
        !sv_u64(ver, UINT64_MAX, &s->sess_version) ||
        !parse_net_addr(&v, s->origin_addr, sizeof s->origin_addr))
        return sdp__fail(c, LG_EMALFORMED, "bad o= line");
    c->seen_o = true;
    return 0;
}

static int parse_conn(ctx_t *c, sv_t v)
{
    char *dst = c->m ? c->m->conn_addr : c->s->conn_addr;
    if (!parse_net_addr(&v, dst, sizeof c->s->conn_addr))
        return sdp__fail(c, LG_EMALFORMED, "bad c= line");
    return 0;
}

static int parse_name(ctx_t *c, sv_t v)
{
    if (!c->m && v.n > 0 && !SV_COPY(c->s->name, v))
        return sdp__fail(c, LG_EMALFORMED, "s= line too long");
    return 0;
}

static bool proto_is_rtp(const char *proto)
{
    return strstr(proto, "RTP/") != NULL;
}

static int parse_payload_types(ctx_t *c, sdp_media_t *m, sv_t rest)
{
    for (sv_t tok = sv_token(&rest, ' '); tok.n > 0; tok = sv_token(&rest, ' ')) {
        uint64_t pt;
        if (!sv_u64(tok, 127, &pt) || sdp_media_find_codec_pt(m, (int)pt))
            return sdp__fail(c, LG_EMALFORMED, "bad m= line (payload type)");
        if (m->codec_count == SDP_MAX_CODECS)
            return sdp__fail(c, LG_EFULL, "too many payload types (max %d)", SDP_MAX_CODECS);
        sdp_codec_t *codec = &m->codecs[m->codec_count++];
        codec->pt = (uint8_t)pt;
        codec->apt = -1;
        codec->packetization_mode = -1;
    }
    return 0;
}

/* m=<media> <port> <proto> <fmt> ... */
static int parse_mline(ctx_t *c, sv_t v)
{
    sdp_session_t *s = c->s;
    if (!c->seen_o)
        return sdp__fail(c, LG_EMALFORMED, "missing o= before m=");
    if (s->media_count == SDP_MAX_MEDIA)
        return sdp__fail(c, LG_EFULL, "too many m= lines (max %d)", SDP_MAX_MEDIA);
    sdp_media_t *m = &s->media[s->media_count];
    sv_t kind = sv_token(&v, ' ');
    sv_t port = sv_token(&v, ' ');
    sv_t proto = sv_token(&v, ' ');
    sv_t fmts = sv_skip_spaces(v);
    int k = sv_lookup(kind, sdp__kind_names, 3, 0);
    uint64_t port_num;
    if (k < 0 || !sv_u64(port, 65535, &port_num) || !SV_COPY(m->proto, proto) || fmts.n == 0)
        return sdp__fail(c, LG_EMALFORMED, "bad m= line");
    m->kind = (sdp_kind_t)k;
    m->port = (uint16_t)port_num;
    if (proto_is_rtp(m->proto)) {
        int rc = parse_payload_types(c, m, fmts);
        if (rc)
            return rc;
    } else if (!SV_COPY(m->fmt, fmts)) {
        return sdp__fail(c, LG_EMALFORMED, "bad m= line (format list)");
    }
    s->media_count++;
    c->m = m;
    return 0;
}

/* --- attributes valid at both levels -------------------------------------------------------- */

static sdp_ice_t *cur_ice(ctx_t *c)
{
    return c->m ? &c->m->ice : &c->s->ice;
}

static int attr_ice_ufrag(ctx_t *c, sv_t v, int arg)
{
    sdp_ice_t *ice = cur_ice(c);
    return copy_single(ice->ufrag, sizeof ice->ufrag, v) ? 0 : LG_EMALFORMED;
}

static int attr_ice_pwd(ctx_t *c, sv_t v, int arg)
{
    sdp_ice_t *ice = cur_ice(c);
    return copy_single(ice->pwd, sizeof ice->pwd, v) ? 0 : LG_EMALFORMED;
}

static int attr_ice_options(ctx_t *c, sv_t v, int arg)
{
    return SV_COPY(cur_ice(c)->options, sv_skip_spaces(v)) ? 0 : LG_EMALFORMED;
}

/* a=fingerprint:sha-256 01:67:...:7F */
static int attr_fingerprint(ctx_t *c, sv_t v, int arg)
{
    sdp_fingerprint_t *fp = c->m ? &c->m->fingerprint : &c->s->fingerprint;
    sv_t alg = sv_token(&v, ' ');
    sv_t value = sv_token(&v, ' ');
    return SV_COPY(fp->alg, alg) && SV_COPY(fp->value, value) ? 0 : LG_EMALFORMED;
}

static int attr_setup(ctx_t *c, sv_t v, int arg)
{
    sv_t tok = sv_token(&v, ' ');
    int i = sv_lookup(tok, sdp__setup_names, 5, 1);
    if (i < 0)
        return LG_EMALFORMED;
    *(c->m ? &c->m->setup : &c->s->setup) = (sdp_setup_t)i;
    return 0;
}

static int attr_direction(ctx_t *c, sv_t v, int arg)
{
    *(c->m ? &c->m->direction : &c->s->direction) = (sdp_direction_t)arg;
    return 0;
}

static int attr_extmap_allow_mixed(ctx_t *c, sv_t v, int arg)
{
    *(c->m ? &c->m->extmap_allow_mixed : &c->s->extmap_allow_mixed) = true;
    return 0;
}

/* --- session-only attributes ---------------------------------------------------------------- */

/* a=group:BUNDLE 0 1 (only the first BUNDLE group is kept; other semantics are ignored) */
static int attr_group(ctx_t *c, sv_t v, int arg)
{
    sdp_session_t *s = c->s;
    if (!sv_eq(sv_token(&v, ' '), "BUNDLE") || c->seen_bundle)
        return 0;
    c->seen_bundle = true;
    for (sv_t mid = sv_token(&v, ' '); mid.n > 0; mid = sv_token(&v, ' ')) {
        if (s->bundle_count == SDP_MAX_MEDIA)
            return sdp__fail(c, LG_EFULL, "too many mids in a=group:BUNDLE");
        if (!SV_COPY(s->bundle_mids[s->bundle_count], mid))
            return LG_EMALFORMED;
        s->bundle_count++;
    }
    return 0;
}

static int attr_ice_lite(ctx_t *c, sv_t v, int arg)
{
    c->s->ice_lite = true;
    return 0;
}

/* a=msid-semantic: WMS <ids>  (Chromium puts a space after the colon, Firefox does not) */
static int attr_msid_semantic(ctx_t *c, sv_t v, int arg)
{
    sdp_session_t *s = c->s;
    sv_t sem = sv_token(&v, ' ');
    sv_t ids = sv_skip_spaces(v);
    if (!SV_COPY(s->msid_semantic, sem))
        return LG_EMALFORMED;
    memset(s->msid_semantic_ids, 0, sizeof s->msid_semantic_ids);
    return ids.n == 0 || SV_COPY(s->msid_semantic_ids, ids) ? 0 : LG_EMALFORMED;
}

/* --- media attributes: identity and flags --------------------------------------------------- */

static int attr_mid(ctx_t *c, sv_t v, int arg)
{
    return copy_single(c->m->mid, sizeof c->m->mid, v) ? 0 : LG_EMALFORMED;
}

/* a=rtcp-mux, a=rtcp-rsize, a=bundle-only, a=end-of-candidates: arg is the bool's offset. */
static int attr_media_flag(ctx_t *c, sv_t v, int arg)
{
    *(bool *)((char *)c->m + arg) = true;
    return 0;
}

static int attr_sctp_port(ctx_t *c, sv_t v, int arg)
{
    uint64_t x;
    if (!sv_u64(sv_token(&v, ' '), 65535, &x))
        return LG_EMALFORMED;
    c->m->sctp_port = (uint16_t)x;
    return 0;
}

static int attr_max_message_size(ctx_t *c, sv_t v, int arg)
{
    uint64_t x;
    if (!sv_u64(sv_token(&v, ' '), UINT32_MAX, &x))
        return LG_EMALFORMED;
    c->m->max_message_size = (uint32_t)x;
    return 0;
}

/* --- media attributes: codecs --------------------------------------------------------------- */

static bool parse_pt(sv_t tok, int *pt)
{
    uint64_t x;
    if (!sv_u64(tok, 127, &x))
        return false;
    *pt = (int)x;
    return true;
}

/* a=rtpmap:<pt> <name>/<clock>[/<channels>]; a pt missing from the m= line is ignored. */
static int attr_rtpmap(ctx_t *c, sv_t v, int arg)
{
    int pt;
    uint64_t clock, channels = 0;
    sv_t pt_tok = sv_token(&v, ' ');
    sv_t enc = sv_token(&v, ' ');
    sv_t name = sv_token(&enc, '/');
    sv_t clock_tok = sv_token(&enc, '/');
    sv_t ch_tok = sv_token(&enc, '/');
    if (!parse_pt(pt_tok, &pt) || name.n == 0 || name.n >= sizeof c->m->codecs[0].name ||
        !sv_u64(clock_tok, UINT32_MAX, &clock) || clock == 0 || enc.n != 0 ||
        (ch_tok.n > 0 && (!sv_u64(ch_tok, 255, &channels) || channels == 0)))
        return LG_EMALFORMED;
    sdp_codec_t *codec = (sdp_codec_t *)sdp_media_find_codec_pt(c->m, pt);
    if (!codec)
        return 0;
    SV_COPY(codec->name, name);
    codec->clock_rate = (uint32_t)clock;
    codec->channels = (uint8_t)channels;
    return 0;
}

/* a=fmtp:<pt> <parameters> */
static int attr_fmtp(ctx_t *c, sv_t v, int arg)
{
    int pt;
    sv_t pt_tok = sv_token(&v, ' ');
    sv_t params = sv_skip_spaces(v);
    char buf[sizeof c->m->codecs[0].fmtp];
    if (!parse_pt(pt_tok, &pt) || params.n == 0)
        return LG_EMALFORMED;
    if (!SV_COPY(buf, params))
        return sdp__fail(c, LG_EFULL, "a=fmtp too long (max %zu)", sizeof buf - 1);
    sdp_codec_t *codec = (sdp_codec_t *)sdp_media_find_codec_pt(c->m, pt);
    if (codec)
        sdp_codec_set_fmtp(codec, buf);
    return 0;
}

static int add_fb_unique(ctx_t *c, sdp_codec_t *codec, sv_t fb)
{
    char buf[sizeof codec->rtcp_fb[0]];
    if (!SV_COPY(buf, fb))
        return LG_EMALFORMED;
    if (sdp_codec_has_fb(codec, buf))
        return 0;
    if (sdp_codec_add_fb(codec, buf) != 0)
        return sdp__fail(c, LG_EFULL, "too many a=rtcp-fb for payload type %u", codec->pt);
    return 0;
}

/* a=rtcp-fb:<pt|*> <type> [<param>] */
static int attr_rtcp_fb(ctx_t *c, sv_t v, int arg)
{
    int pt = -1;
    sv_t pt_tok = sv_token(&v, ' ');
    sv_t fb = sv_skip_spaces(v);
    if ((!sv_eq(pt_tok, "*") && !parse_pt(pt_tok, &pt)) || fb.n == 0)
        return LG_EMALFORMED;
    for (int i = 0; i < c->m->codec_count; i++) {
        sdp_codec_t *codec = &c->m->codecs[i];
        if (pt >= 0 && codec->pt != pt)
            continue;
        int rc = add_fb_unique(c, codec, fb);
        if (rc)
            return rc;
    }
    return 0;
}

/* --- dispatch ------------------------------------------------------------------------------- */

enum { AT_SESSION = 1, AT_MEDIA = 2, AT_BOTH = 3 };

/* One entry per understood attribute; arg is passed to fn (a direction, a field offset). */
typedef struct {
    const char *name;
    int where;
    int (*fn)(ctx_t *c, sv_t value, int arg);
    int arg;
} attr_def_t;

#define MEDIA_FLAG(name, field)                                                                    \
    {                                                                                              \
        name, AT_MEDIA, attr_media_flag, (int)offsetof(sdp_media_t, field)                         \
    }

static const attr_def_t ATTRS[] = {
    {"group", AT_SESSION, attr_group, 0},
    {"ice-lite", AT_SESSION, attr_ice_lite, 0},
    {"msid-semantic", AT_SESSION, attr_msid_semantic, 0},
    {"ice-ufrag", AT_BOTH, attr_ice_ufrag, 0},
    {"ice-pwd", AT_BOTH, attr_ice_pwd, 0},
    {"ice-options", AT_BOTH, attr_ice_options, 0},
    {"fingerprint", AT_BOTH, attr_fingerprint, 0},
    {"setup", AT_BOTH, attr_setup, 0},
    {"sendrecv", AT_BOTH, attr_direction, SDP_DIR_SENDRECV},
    {"sendonly", AT_BOTH, attr_direction, SDP_DIR_SENDONLY},
    {"recvonly", AT_BOTH, attr_direction, SDP_DIR_RECVONLY},
    {"inactive", AT_BOTH, attr_direction, SDP_DIR_INACTIVE},
    {"extmap-allow-mixed", AT_BOTH, attr_extmap_allow_mixed, 0},
    {"mid", AT_MEDIA, attr_mid, 0},
    MEDIA_FLAG("rtcp-mux", rtcp_mux),
    MEDIA_FLAG("rtcp-rsize", rtcp_rsize),
    MEDIA_FLAG("bundle-only", bundle_only),
    MEDIA_FLAG("end-of-candidates", end_of_candidates),
    {"msid", AT_MEDIA, sdp__attr_msid, 0},
    {"rtpmap", AT_MEDIA, attr_rtpmap, 0},
    {"fmtp", AT_MEDIA, attr_fmtp, 0},
    {"rtcp-fb", AT_MEDIA, attr_rtcp_fb, 0},
    {"extmap", AT_MEDIA, sdp__attr_extmap, 0},
    {"ssrc", AT_MEDIA, sdp__attr_ssrc, 0},
    {"ssrc-group", AT_MEDIA, sdp__attr_ssrc_group, 0},
    {"rid", AT_MEDIA, sdp__attr_rid, 0},
    {"simulcast", AT_MEDIA, sdp__attr_simulcast, 0},
    {"candidate", AT_MEDIA, sdp__attr_candidate, 0},
    {"sctp-port", AT_MEDIA, attr_sctp_port, 0},
    {"max-message-size", AT_MEDIA, attr_max_message_size, 0},
};

static int parse_attr(ctx_t *c, sv_t v)
{
    sv_t name;
    sv_t value = sv_split(v, ':', &name);
    int level = c->m ? AT_MEDIA : AT_SESSION;
    for (size_t i = 0; i < sizeof ATTRS / sizeof ATTRS[0]; i++) {
        const attr_def_t *d = &ATTRS[i];
        if (!sv_eq(name, d->name))
            continue;
        if (!(d->where & level))
            return 0;
        int rc = d->fn(c, value, d->arg);
        if (rc && !c->msg[0])
            sdp__fail(c, rc, "bad a=%s", d->name);
        return rc;
    }
    return 0; /* unknown attribute */
}

static int parse_line(ctx_t *c, sv_t l)
{
    if (l.n == 0)
        return 0;
    for (size_t i = 0; i < l.n; i++)
        if ((unsigned char)l.p[i] < 0x20 || l.p[i] == 0x7f)
            return sdp__fail(c, LG_EMALFORMED, "control character in line");
    if (l.n < 2 || l.p[1] != '=' || l.p[0] < 'a' || l.p[0] > 'z')
        return sdp__fail(c, LG_EMALFORMED, "expected <type>=<value>");
    sv_t v = sv_make(l.p + 2, l.n - 2);
    if (!c->seen_v) {
        if (l.p[0] != 'v' || !sv_eq(v, "0"))
            return sdp__fail(c, LG_EMALFORMED, "expected v=0");
        c->seen_v = true;
        return 0;
    }
    switch (l.p[0]) {
    case 'v':
        return sdp__fail(c, LG_EMALFORMED, "duplicate v=");
    case 'o':
        return parse_origin(c, v);
    case 's':
        return parse_name(c, v);
    case 'c':
        return parse_conn(c, v);
    case 'm':
        return parse_mline(c, v);
    case 'a':
        return parse_attr(c, v);
    default:
        return 0; /* t=, b=, i=, ... carry nothing the relay needs */
    }
}

/* --- inheritance and entry point ------------------------------------------------------------ */

static void inherit_str(char *dst, const char *src, size_t size)
{
    if (!dst[0])
        memcpy(dst, src, size);
}

#define INHERIT(dst, src) inherit_str((dst), (src), sizeof(dst))

static void finish_media(const sdp_session_t *s, sdp_media_t *m)
{
    INHERIT(m->ice.ufrag, s->ice.ufrag);
    INHERIT(m->ice.pwd, s->ice.pwd);
    INHERIT(m->ice.options, s->ice.options);
    if (!m->fingerprint.alg[0])
        m->fingerprint = s->fingerprint;
    if (m->setup == SDP_SETUP_NONE)
        m->setup = s->setup;
    if (m->direction == SDP_DIR_NONE)
        m->direction = s->direction != SDP_DIR_NONE ? s->direction : SDP_DIR_SENDRECV;
    INHERIT(m->conn_addr, s->conn_addr);
    if (m->candidate_count > 0)
        INHERIT(m->conn_addr, m->candidates[0].addr);
    if (!m->conn_addr[0])
        memcpy(m->conn_addr, "0.0.0.0", sizeof "0.0.0.0");
}

static int finish(ctx_t *c)
{
    sdp_session_t *s = c->s;
    if (!c->seen_v)
        return sdp__fail(c, LG_EMALFORMED, "expected v=0");
    if (!c->seen_o)
        return sdp__fail(c, LG_EMALFORMED, "missing o=");
    if (!s->name[0])
        s->name[0] = '-';
    for (int i = 0; i < s->media_count; i++)
        finish_media(s, &s->media[i]);
    return 0;
}

static int parse_fail(sdp_error_t *err, int line, int code, const char *msg)
{
    err->line = line;
    if (line > 0)
        snprintf(err->msg, sizeof err->msg, "SDP line %d: %s", line, msg);
    else
        snprintf(err->msg, sizeof err->msg, "SDP: %s", msg);
    return code;
}

int sdp_parse(const uint8_t *p, size_t len, sdp_session_t *out, sdp_error_t *err)
{
    sdp_error_t spare;
    if (!err)
        err = &spare;
    memset(err, 0, sizeof *err);
    if (!out || (!p && len > 0))
        return parse_fail(err, 0, LG_EINVAL, "NULL argument");
    memset(out, 0, sizeof *out);
    if (len > SDP_MAX_INPUT)
        return parse_fail(err, 0, LG_EFULL, "input over 64 KiB");
    ctx_t c = {.s = out};
    const char *text = (const char *)p;
    size_t pos = 0;
    while (pos < len) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
        sv_t line = sv_make(text + pos, n);
        pos += n + (nl ? 1 : 0);
        if (line.n > 0 && line.p[line.n - 1] == '\r')
            line.n--;
        c.line++;
        int rc = parse_line(&c, line);
        if (rc)
            return parse_fail(err, c.line, rc, c.msg);
    }
    int rc = finish(&c);
    return rc ? parse_fail(err, c.line, rc, c.msg) : 0;
}
