/* Lookups over a parsed sdp_session_t and helpers that build one for a relay offer or answer. */
#include <string.h>
#include <strings.h>

#include "sfu/lg_error.h"
#include "signaling/sdp.h"
#include "signaling/sdp_internal.h"

/* --- enums ---------------------------------------------------------------------------------- */

const char *const sdp__dir_names[5] = {"", "sendrecv", "sendonly", "recvonly", "inactive"};
const char *const sdp__kind_names[3] = {"audio", "video", "application"};
const char *const sdp__setup_names[5] = {"", "actpass", "active", "passive", "holdconn"};
const char *const sdp__cand_type_names[4] = {"host", "srflx", "prflx", "relay"};
const char *const sdp__tcptype_names[4] = {"", "active", "passive", "so"};

const char *sdp_direction_str(sdp_direction_t d)
{
    return (unsigned)d < 5 ? sdp__dir_names[d] : "";
}

const char *sdp_kind_str(sdp_kind_t k)
{
    return (unsigned)k < 3 ? sdp__kind_names[k] : "";
}

const char *sdp_setup_str(sdp_setup_t s)
{
    return (unsigned)s < 5 ? sdp__setup_names[s] : "";
}

const char *sdp_cand_type_str(sdp_cand_type_t t)
{
    return (unsigned)t < 4 ? sdp__cand_type_names[t] : "";
}

const char *sdp_tcptype_str(sdp_tcptype_t t)
{
    return (unsigned)t < 4 ? sdp__tcptype_names[t] : "";
}

/* --- lookups -------------------------------------------------------------------------------- */

const sdp_codec_t *sdp_media_find_codec(const sdp_media_t *m, const char *name)
{
    for (int i = 0; i < m->codec_count; i++)
        if (strcasecmp(m->codecs[i].name, name) == 0)
            return &m->codecs[i];
    return NULL;
}

const sdp_codec_t *sdp_media_find_codec_pt(const sdp_media_t *m, int pt)
{
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].pt == pt)
            return &m->codecs[i];
    return NULL;
}

int sdp_media_find_rtx_pt(const sdp_media_t *m, int apt)
{
    for (int i = 0; i < m->codec_count; i++)
        if (m->codecs[i].apt == apt && strcasecmp(m->codecs[i].name, "rtx") == 0)
            return m->codecs[i].pt;
    return LG_ENOTFOUND;
}

int sdp_media_find_extmap(const sdp_media_t *m, const char *uri)
{
    for (int i = 0; i < m->extmap_count; i++)
        if (strcmp(m->extmaps[i].uri, uri) == 0)
            return m->extmaps[i].id;
    return LG_ENOTFOUND;
}

const sdp_media_t *sdp_find_media_by_mid(const sdp_session_t *s, const char *mid)
{
    for (int i = 0; i < s->media_count; i++)
        if (strcmp(s->media[i].mid, mid) == 0)
            return &s->media[i];
    return NULL;
}

bool sdp_codec_has_fb(const sdp_codec_t *c, const char *fb)
{
    for (int i = 0; i < c->rtcp_fb_count; i++)
        if (strcmp(c->rtcp_fb[i], fb) == 0)
            return true;
    return false;
}

/* --- codec parameters ----------------------------------------------------------------------- */

/* Decimal value of s[0..n) if it is all digits and <= max, else -1. */
static int small_uint(const char *s, size_t n, int max)
{
    if (n == 0 || n > 3)
        return -1;
    int x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        x = x * 10 + (s[i] - '0');
    }
    return x <= max ? x : -1;
}

static bool key_is(const char *key, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(key, name, n) == 0;
}

/* Reads the "key=value" pairs of c->fmtp that the relay needs. */
static void derive_fmtp(sdp_codec_t *c)
{
    const char *p = c->fmtp;
    while (*p) {
        while (*p == ' ' || *p == ';')
            p++;
        size_t len = strcspn(p, ";");
        const char *eq = memchr(p, '=', len);
        if (eq) {
            size_t klen = (size_t)(eq - p), vlen = len - klen - 1;
            const char *val = eq + 1;
            int x;
            if (key_is(p, klen, "apt") && (x = small_uint(val, vlen, 127)) >= 0)
                c->apt = x;
            else if (key_is(p, klen, "packetization-mode") && (x = small_uint(val, vlen, 2)) >= 0)
                c->packetization_mode = x;
            else if (key_is(p, klen, "profile-level-id") && vlen == 6)
                memcpy(c->profile_level_id, val, 6);
        }
        p += len;
    }
}

int sdp_codec_set_fmtp(sdp_codec_t *c, const char *fmtp)
{
    size_t n = fmtp ? strlen(fmtp) : 0;
    if (n >= sizeof c->fmtp)
        return LG_EFULL;
    memset(c->fmtp, 0, sizeof c->fmtp);
    if (n > 0)
        memcpy(c->fmtp, fmtp, n);
    c->apt = -1;
    c->packetization_mode = -1;
    memset(c->profile_level_id, 0, sizeof c->profile_level_id);
    derive_fmtp(c);
    return 0;
}

int sdp_codec_add_fb(sdp_codec_t *c, const char *fb)
{
    size_t n = strlen(fb);
    if (c->rtcp_fb_count == SDP_MAX_RTCP_FB || n == 0 || n >= sizeof c->rtcp_fb[0])
        return LG_EFULL;
    memcpy(c->rtcp_fb[c->rtcp_fb_count++], fb, n + 1);
    return 0;
}

/* --- building ------------------------------------------------------------------------------- */

/* Copies src into dst[size] with a zeroed tail; false (dst untouched) when it does not fit. */
static bool copy_str(char *dst, size_t size, const char *src)
{
    size_t n = strlen(src);
    if (n >= size)
        return false;
    memset(dst, 0, size);
    memcpy(dst, src, n);
    return true;
}

void sdp_session_init(sdp_session_t *s)
{
    memset(s, 0, sizeof *s);
    s->origin_username[0] = '-';
    s->name[0] = '-';
    copy_str(s->origin_addr, sizeof s->origin_addr, "127.0.0.1");
}

sdp_media_t *sdp_session_add_media(sdp_session_t *s, sdp_kind_t kind, const char *mid)
{
    if (s->media_count == SDP_MAX_MEDIA || (unsigned)kind > SDP_KIND_APPLICATION)
        return NULL;
    sdp_media_t *m = &s->media[s->media_count];
    memset(m, 0, sizeof *m);
    if (!copy_str(m->mid, sizeof m->mid, mid))
        return NULL;
    m->kind = kind;
    m->port = 9;
    m->direction = SDP_DIR_SENDRECV;
    if (kind == SDP_KIND_APPLICATION) {
        copy_str(m->proto, sizeof m->proto, "UDP/DTLS/SCTP");
        copy_str(m->fmt, sizeof m->fmt, "webrtc-datachannel");
    } else {
        copy_str(m->proto, sizeof m->proto, "UDP/TLS/RTP/SAVPF");
    }
    s->media_count++;
    return m;
}

sdp_codec_t *sdp_media_add_codec(sdp_media_t *m, int pt, const char *name, uint32_t clock_rate,
                                 uint8_t channels, const char *fmtp)
{
    if (m->codec_count == SDP_MAX_CODECS || pt < 0 || pt > 127 || sdp_media_find_codec_pt(m, pt))
        return NULL;
    sdp_codec_t *c = &m->codecs[m->codec_count];
    memset(c, 0, sizeof *c);
    if (!copy_str(c->name, sizeof c->name, name) || sdp_codec_set_fmtp(c, fmtp) != 0)
        return NULL;
    c->pt = (uint8_t)pt;
    c->clock_rate = clock_rate;
    c->channels = channels;
    m->codec_count++;
    return c;
}

int sdp_media_add_extmap(sdp_media_t *m, int id, const char *uri, sdp_direction_t dir)
{
    if (!((id >= 1 && id <= 255) || (id >= 4096 && id <= 4351)) || (unsigned)dir > 4)
        return LG_EINVAL;
    for (int i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == id)
            return LG_EEXIST;
    if (m->extmap_count == SDP_MAX_EXTMAPS)
        return LG_EFULL;
    sdp_extmap_t *e = &m->extmaps[m->extmap_count];
    memset(e, 0, sizeof *e);
    if (!copy_str(e->uri, sizeof e->uri, uri))
        return LG_EFULL;
    e->id = (uint16_t)id;
    e->direction = dir;
    m->extmap_count++;
    return 0;
}

int sdp_media_add_candidate(sdp_media_t *m, const sdp_candidate_t *c)
{
    if (m->candidate_count == SDP_MAX_CANDIDATES)
        return LG_EFULL;
    memcpy(&m->candidates[m->candidate_count++], c, sizeof *c);
    return 0;
}
