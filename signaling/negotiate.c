/* Shared parts of the relay's offer/answer policy: the local transport (ICE-lite credentials,
 * fingerprint, host candidates) and the checks every remote description must pass. */
#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/negotiate.h"
#include "signaling/negotiate_internal.h"

/* Candidate type preferences (RFC 8445 5.1.2.1), as Chromium writes host UDP and TCP ones. */
#define TYPE_PREF_UDP 126u
#define TYPE_PREF_TCP 90u

int neg__fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return code;
}

bool neg__copy(char *dst, size_t size, const char *src)
{
    size_t n = strnlen(src, size);
    if (n == size)
        return false;
    memset(dst, 0, size);
    memcpy(dst, src, n);
    return true;
}

/* --- local parameters ------------------------------------------------------------------------ */

/* RFC 8839 ice-char: ALPHA / DIGIT / "+" / "/"; length within [min, NEGOTIATE_ICE_MAX). */
static bool ice_str_ok(const char *s, size_t min)
{
    size_t n = strnlen(s, NEGOTIATE_ICE_MAX);
    if (n < min || n == NEGOTIATE_ICE_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        bool alnum =
            (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (!alnum && ch != '+' && ch != '/')
            return false;
    }
    return true;
}

/* "sha-256 AB:CD:.." -> alg "sha-256", value "AB:CD:..". */
static bool split_fingerprint(const char *s, sdp_fingerprint_t *fp)
{
    memset(fp, 0, sizeof *fp);
    size_t n = strnlen(s, NEGOTIATE_FINGERPRINT);
    const char *sp = memchr(s, ' ', n);
    if (n == NEGOTIATE_FINGERPRINT || !sp)
        return false;
    size_t alen = (size_t)(sp - s), vlen = n - alen - 1;
    if (alen == 0 || alen >= sizeof fp->alg || vlen == 0 || vlen >= sizeof fp->value)
        return false;
    if (strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") != alen ||
        strspn(sp + 1, "0123456789abcdefABCDEF:") != vlen)
        return false;
    memcpy(fp->alg, s, alen);
    memcpy(fp->value, sp + 1, vlen);
    return true;
}

static bool candidate_ok(const negotiate_candidate_t *c)
{
    unsigned char buf[16];
    size_t n = strnlen(c->ip, sizeof c->ip);
    if (n == 0 || n == sizeof c->ip || c->port == 0 ||
        (c->transport != SDP_TRANSPORT_UDP && c->transport != SDP_TRANSPORT_TCP))
        return false;
    return inet_pton(AF_INET, c->ip, buf) == 1 || inet_pton(AF_INET6, c->ip, buf) == 1;
}

int neg__check_local(const negotiate_local_t *l, sdp_fingerprint_t *fp, char *err, size_t errlen)
{
    if (!ice_str_ok(l->ice_ufrag, 4))
        return neg__fail(err, errlen, LG_EINVAL, "local ice-ufrag must be 4..256 ice-chars");
    if (!ice_str_ok(l->ice_pwd, 22))
        return neg__fail(err, errlen, LG_EINVAL, "local ice-pwd must be 22..256 ice-chars");
    if (!split_fingerprint(l->fingerprint, fp))
        return neg__fail(err, errlen, LG_EINVAL,
                         "local fingerprint must read \"<hash> <hex pairs>\" (\"sha-256 AB:..\")");
    if (l->candidate_count == 0 || l->candidate_count > NEGOTIATE_MAX_CANDIDATES)
        return neg__fail(err, errlen, LG_EINVAL, "local candidates: %u (need 1..%d)",
                         l->candidate_count, NEGOTIATE_MAX_CANDIDATES);
    for (int i = 0; i < l->candidate_count; i++)
        if (!candidate_ok(&l->candidates[i]))
            return neg__fail(err, errlen, LG_EINVAL,
                             "local candidate %d: need an IP literal, a port and UDP or TCP", i);
    return 0;
}

/* --- local transport in an m-line ------------------------------------------------------------ */

/* FNV-1a of the transport and address: the same foundation for the same base every time. */
static uint32_t foundation_hash(const negotiate_candidate_t *c)
{
    uint32_t h = 2166136261u;
    h = (h ^ (uint32_t)c->transport) * 16777619u;
    for (const char *p = c->ip; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h;
}

/* order: the candidate's place in the caller's list, so priorities stay distinct. */
static void make_candidate(const negotiate_candidate_t *c, int order, sdp_candidate_t *out)
{
    bool tcp = c->transport == SDP_TRANSPORT_TCP;
    uint32_t type_pref = tcp ? TYPE_PREF_TCP : TYPE_PREF_UDP;
    uint32_t local_pref = 65535u - (uint32_t)order;
    memset(out, 0, sizeof *out);
    snprintf(out->foundation, sizeof out->foundation, "%u", (unsigned)foundation_hash(c));
    out->component = 1;
    out->transport = c->transport;
    out->priority = (type_pref << 24) | (local_pref << 8) | (256u - 1u);
    memcpy(out->addr, c->ip, strnlen(c->ip, sizeof c->ip));
    out->port = c->port;
    out->type = SDP_CAND_HOST;
    out->tcptype = tcp ? SDP_TCPTYPE_PASSIVE : SDP_TCPTYPE_NONE;
}

int neg__add_transport(sdp_media_t *m, const negotiate_local_t *l, const sdp_fingerprint_t *fp,
                       sdp_setup_t setup)
{
    if (!NEG_COPY(m->ice.ufrag, l->ice_ufrag) || !NEG_COPY(m->ice.pwd, l->ice_pwd))
        return LG_EINVAL;
    m->fingerprint = *fp;
    m->setup = setup;
    m->rtcp_mux = true;
    for (int pass = 0; pass < 2; pass++) {
        sdp_transport_t want = pass == 0 ? SDP_TRANSPORT_UDP : SDP_TRANSPORT_TCP;
        for (int i = 0; i < l->candidate_count; i++) {
            if (l->candidates[i].transport != want)
                continue;
            sdp_candidate_t c;
            make_candidate(&l->candidates[i], i, &c);
            if (sdp_media_add_candidate(m, &c) != 0)
                return LG_EFULL;
        }
    }
    m->end_of_candidates = true;
    m->port = m->candidates[0].port;
    NEG_COPY(m->conn_addr, m->candidates[0].addr);
    return 0;
}

/* --- remote descriptions --------------------------------------------------------------------- */

int neg__check_remote(const sdp_media_t *m, int idx, const char *side, char *err, size_t errlen)
{
    const char *missing = !m->ice.ufrag[0]         ? "a=ice-ufrag"
                          : !m->ice.pwd[0]         ? "a=ice-pwd"
                          : !m->fingerprint.alg[0] ? "a=fingerprint"
                                                   : NULL;
    if (missing)
        return neg__fail(err, errlen, LG_EMALFORMED, "%s m-line %d (mid %s): no %s", side, idx + 1,
                         m->mid, missing);
    if (!m->rtcp_mux)
        return neg__fail(err, errlen, LG_EUNSUPPORTED, "%s has no rtcp-mux (m-line %d, mid %s)",
                         side, idx + 1, m->mid);
    return 0;
}

void neg__copy_remote(const sdp_media_t *m, char ufrag[NEGOTIATE_ICE_MAX],
                      char pwd[NEGOTIATE_ICE_MAX], char fingerprint[NEGOTIATE_FINGERPRINT])
{
    neg__copy(ufrag, NEGOTIATE_ICE_MAX, m->ice.ufrag);
    neg__copy(pwd, NEGOTIATE_ICE_MAX, m->ice.pwd);
    memset(fingerprint, 0, NEGOTIATE_FINGERPRINT);
    snprintf(fingerprint, NEGOTIATE_FINGERPRINT, "%s %s", m->fingerprint.alg, m->fingerprint.value);
}

/* --- codecs, extensions, BUNDLE -------------------------------------------------------------- */

static const char *const FB_NAMES[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
#define FB_COUNT (sizeof FB_NAMES / sizeof FB_NAMES[0])

uint8_t neg__fb_bits(const sdp_codec_t *c)
{
    uint8_t bits = 0;
    for (size_t i = 0; i < FB_COUNT; i++)
        if (sdp_codec_has_fb(c, FB_NAMES[i]))
            bits |= (uint8_t)(1u << i);
    return bits;
}

int neg__add_fb(sdp_codec_t *c, uint8_t bits)
{
    for (size_t i = 0; i < FB_COUNT; i++)
        if ((bits & (1u << i)) && sdp_codec_add_fb(c, FB_NAMES[i]) != 0)
            return LG_EFULL;
    return 0;
}

static uint16_t ext_id(const sdp_media_t *m, const char *uri)
{
    int id = sdp_media_find_extmap(m, uri);
    return id > 0 ? (uint16_t)id : 0;
}

void neg__ext_ids(const sdp_media_t *m, negotiate_ext_ids_t *ext)
{
    ext->mid = ext_id(m, SDP_EXT_MID);
    ext->rid = ext_id(m, SDP_EXT_RID);
    ext->repaired_rid = ext_id(m, SDP_EXT_REPAIRED_RID);
    ext->audio_level = ext_id(m, SDP_EXT_AUDIO_LEVEL);
    ext->twcc = ext_id(m, SDP_EXT_TRANSPORT_CC);
    ext->abs_send_time = ext_id(m, SDP_EXT_ABS_SEND_TIME);
}

bool neg__in_bundle(const sdp_session_t *s, const char *mid)
{
    if (!mid[0])
        return false;
    for (int i = 0; i < s->bundle_count && i < SDP_MAX_MEDIA; i++)
        if (strcmp(s->bundle_mids[i], mid) == 0)
            return true;
    return false;
}
