/* Parsers for the a= lines that fill an m-section's lists: msid, extmap, ssrc, ssrc-group, rid,
 * simulcast and candidate. */
#include "sfu/lg_error.h"
#include "signaling/sdp_internal.h"

/* "<stream> [<track>]" */
static bool parse_msid_value(sv_t v, sdp_msid_t *out)
{
    sv_t stream = sv_token(&v, ' ');
    sv_t track = sv_token(&v, ' ');
    return SV_COPY(out->stream, stream) && (track.n == 0 || SV_COPY(out->track, track));
}

/* a=msid:<stream> <track>; only the first one of an m-section is kept. */
int sdp__attr_msid(ctx_t *c, sv_t v, int arg)
{
    if (c->m->msid.stream[0])
        return 0;
    return parse_msid_value(v, &c->m->msid) ? 0 : LG_EMALFORMED;
}

/* --- media attributes: extmap, ssrc, rid, simulcast ----------------------------------------- */

static bool extmap_id_ok(uint64_t id)
{
    return (id >= 1 && id <= 255) || (id >= 4096 && id <= 4351);
}

/* a=extmap:<id>[/<direction>] <uri> [<attributes>] */
int sdp__attr_extmap(ctx_t *c, sv_t v, int arg)
{
    sdp_media_t *m = c->m;
    sv_t id_dir = sv_token(&v, ' ');
    sv_t uri = sv_token(&v, ' ');
    sv_t id_tok;
    sv_t dir_tok = sv_split(id_dir, '/', &id_tok);
    uint64_t id;
    int dir = 0;
    if (!sv_u64(id_tok, 4351, &id) || !extmap_id_ok(id) || uri.n == 0 ||
        uri.n >= sizeof m->extmaps[0].uri)
        return LG_EMALFORMED;
    if (id_dir.n > id_tok.n && (dir = sv_lookup(dir_tok, sdp__dir_names, 5, 1)) < 0)
        return LG_EMALFORMED;
    for (int i = 0; i < m->extmap_count; i++)
        if (m->extmaps[i].id == id)
            return sdp__fail(c, LG_EMALFORMED, "duplicate a=extmap id %u", (unsigned)id);
    if (m->extmap_count == SDP_MAX_EXTMAPS)
        return sdp__fail(c, LG_EFULL, "too many a=extmap (max %d)", SDP_MAX_EXTMAPS);
    sdp_extmap_t *e = &m->extmaps[m->extmap_count++];
    e->id = (uint16_t)id;
    e->direction = (sdp_direction_t)dir;
    SV_COPY(e->uri, uri);
    return 0;
}

static sdp_ssrc_t *ssrc_entry(ctx_t *c, uint32_t ssrc)
{
    sdp_media_t *m = c->m;
    for (int i = 0; i < m->ssrc_count; i++)
        if (m->ssrcs[i].ssrc == ssrc)
            return &m->ssrcs[i];
    if (m->ssrc_count == SDP_MAX_SSRCS)
        return NULL;
    m->ssrcs[m->ssrc_count].ssrc = ssrc;
    return &m->ssrcs[m->ssrc_count++];
}

/* a=ssrc:<ssrc> cname:<cname> | msid:<stream> <track>; other ssrc attributes are ignored. */
int sdp__attr_ssrc(ctx_t *c, sv_t v, int arg)
{
    uint64_t ssrc;
    sv_t ssrc_tok = sv_token(&v, ' ');
    sv_t name;
    sv_t val = sv_split(sv_skip_spaces(v), ':', &name);
    if (!sv_u64(ssrc_tok, UINT32_MAX, &ssrc) || name.n == 0)
        return LG_EMALFORMED;
    bool is_cname = sv_eq(name, "cname");
    if (!is_cname && !sv_eq(name, "msid"))
        return 0;
    sdp_ssrc_t *e = ssrc_entry(c, (uint32_t)ssrc);
    if (!e)
        return sdp__fail(c, LG_EFULL, "too many a=ssrc (max %d)", SDP_MAX_SSRCS);
    if (is_cname)
        return SV_COPY(e->cname, val) ? 0 : LG_EMALFORMED;
    memset(&e->msid, 0, sizeof e->msid);
    return parse_msid_value(val, &e->msid) ? 0 : LG_EMALFORMED;
}

/* a=ssrc-group:<semantics> <ssrc> ... */
int sdp__attr_ssrc_group(ctx_t *c, sv_t v, int arg)
{
    sdp_media_t *m = c->m;
    if (m->ssrc_group_count == SDP_MAX_SSRC_GROUPS)
        return sdp__fail(c, LG_EFULL, "too many a=ssrc-group (max %d)", SDP_MAX_SSRC_GROUPS);
    sdp_ssrc_group_t *g = &m->ssrc_groups[m->ssrc_group_count];
    if (!SV_COPY(g->semantics, sv_token(&v, ' ')))
        return LG_EMALFORMED;
    for (sv_t tok = sv_token(&v, ' '); tok.n > 0; tok = sv_token(&v, ' ')) {
        uint64_t ssrc;
        if (!sv_u64(tok, UINT32_MAX, &ssrc))
            return LG_EMALFORMED;
        if (g->count == SDP_MAX_GROUP_SSRCS)
            return sdp__fail(c, LG_EFULL, "too many ssrcs in a=ssrc-group");
        g->ssrcs[g->count++] = (uint32_t)ssrc;
    }
    if (g->count == 0)
        return LG_EMALFORMED;
    m->ssrc_group_count++;
    return 0;
}

/* a=rid:<id> send|recv [<params>] */
int sdp__attr_rid(ctx_t *c, sv_t v, int arg)
{
    sdp_media_t *m = c->m;
    if (m->rid_count == SDP_MAX_RIDS)
        return sdp__fail(c, LG_EFULL, "too many a=rid (max %d)", SDP_MAX_RIDS);
    sdp_rid_t *r = &m->rids[m->rid_count];
    sv_t id = sv_token(&v, ' ');
    sv_t dir = sv_token(&v, ' ');
    sv_t params = sv_skip_spaces(v);
    if (!SV_COPY(r->id, id) || (params.n > 0 && !SV_COPY(r->params, params)))
        return LG_EMALFORMED;
    if (sv_eq(dir, "send"))
        r->direction = SDP_DIR_SENDONLY;
    else if (sv_eq(dir, "recv"))
        r->direction = SDP_DIR_RECVONLY;
    else
        return LG_EMALFORMED;
    m->rid_count++;
    return 0;
}

/* Splits *rest at the first sep into the returned field; *more tells whether a sep was found.
 * Unlike sv_token, empty fields are returned (and rejected by the callers). */
static sv_t next_field(sv_t *rest, char sep, bool *more)
{
    sv_t field;
    *more = rest->n > 0 && memchr(rest->p, sep, rest->n) != NULL;
    *rest = sv_split(*rest, sep, &field);
    return field;
}

static bool parse_sim_stream(sv_t stream, sdp_sim_stream_t *st)
{
    bool more = true;
    while (more) {
        sv_t alt = next_field(&stream, ',', &more);
        if (alt.n == 0 || st->alt_count == SDP_MAX_RID_ALTS)
            return false;
        sdp_sim_alt_t *a = &st->alts[st->alt_count++];
        if (alt.p[0] == '~') {
            a->paused = true;
            alt = sv_make(alt.p + 1, alt.n - 1);
        }
        if (!SV_COPY(a->rid, alt))
            return false;
    }
    return true;
}

/* "h;m,~x;l": ';' separates streams, ',' alternatives, '~' marks a paused one. */
static bool parse_sim_list(sv_t list, sdp_sim_list_t *out)
{
    bool more = true;
    if (out->count > 0)
        return false;
    while (more) {
        sv_t stream = next_field(&list, ';', &more);
        if (out->count == SDP_MAX_RIDS || !parse_sim_stream(stream, &out->streams[out->count++]))
            return false;
    }
    return true;
}

/* a=simulcast:send h;m;l [recv ...] */
int sdp__attr_simulcast(ctx_t *c, sv_t v, int arg)
{
    sdp_simulcast_t *sim = &c->m->simulcast;
    memset(sim, 0, sizeof *sim);
    sv_t dir = sv_token(&v, ' ');
    if (dir.n == 0)
        return LG_EMALFORMED;
    for (; dir.n > 0; dir = sv_token(&v, ' ')) {
        sdp_sim_list_t *list = sv_eq(dir, "send")   ? &sim->send
                               : sv_eq(dir, "recv") ? &sim->recv
                                                    : NULL;
        if (!list || !parse_sim_list(sv_token(&v, ' '), list))
            return LG_EMALFORMED;
    }
    return 0;
}

/* --- media attributes: candidates ----------------------------------------------------------- */

/* Trailing "<name> <value>" pairs: raddr, rport, tcptype; others (generation...) ignored. */
static bool parse_cand_ext(sv_t v, sdp_candidate_t *cand)
{
    uint64_t x;
    for (sv_t key = sv_token(&v, ' '); key.n > 0; key = sv_token(&v, ' ')) {
        sv_t val = sv_token(&v, ' ');
        if (sv_eq(key, "raddr") && !SV_COPY(cand->rel_addr, val))
            return false;
        if (sv_eq(key, "rport")) {
            if (!sv_u64(val, 65535, &x))
                return false;
            cand->rel_port = (uint16_t)x;
        }
        if (sv_eq(key, "tcptype")) {
            int t = sv_lookup(val, sdp__tcptype_names, 4, 1);
            if (t < 0)
                return false;
            cand->tcptype = (sdp_tcptype_t)t;
        }
    }
    return true;
}

/* Fills *cand; returns 1 if parsed, 0 if the transport or type is unknown, -1 if malformed. */
static int parse_candidate(sv_t v, sdp_candidate_t *cand)
{
    uint64_t comp, prio, port;
    sv_t found = sv_token(&v, ' ');
    sv_t comp_tok = sv_token(&v, ' ');
    sv_t transport = sv_token(&v, ' ');
    sv_t prio_tok = sv_token(&v, ' ');
    sv_t addr = sv_token(&v, ' ');
    sv_t port_tok = sv_token(&v, ' ');
    sv_t typ = sv_token(&v, ' ');
    sv_t type = sv_token(&v, ' ');
    if (!SV_COPY(cand->foundation, found) || !sv_u64(comp_tok, 256, &comp) || comp == 0 ||
        !sv_u64(prio_tok, UINT32_MAX, &prio) || !SV_COPY(cand->addr, addr) ||
        !sv_u64(port_tok, 65535, &port) || !sv_eq(typ, "typ") || type.n == 0 ||
        !parse_cand_ext(v, cand))
        return -1;
    cand->component = (uint16_t)comp;
    cand->priority = (uint32_t)prio;
    cand->port = (uint16_t)port;
    int t = sv_lookup(type, sdp__cand_type_names, 4, 0);
    if (t < 0 || !(sv_ieq(transport, "udp") || sv_ieq(transport, "tcp")))
        return 0;
    cand->type = (sdp_cand_type_t)t;
    cand->transport = sv_ieq(transport, "tcp") ? SDP_TRANSPORT_TCP : SDP_TRANSPORT_UDP;
    return 1;
}

/* a=candidate:<foundation> <component> <transport> <priority> <addr> <port> typ <type> ... */
int sdp__attr_candidate(ctx_t *c, sv_t v, int arg)
{
    sdp_media_t *m = c->m;
    sdp_candidate_t spare;
    bool keep = m->candidate_count < SDP_MAX_CANDIDATES;
    sdp_candidate_t *cand = keep ? &m->candidates[m->candidate_count] : &spare;
    memset(cand, 0, sizeof *cand);
    int rc = parse_candidate(v, cand);
    if (rc < 0)
        return LG_EMALFORMED;
    if (rc == 0 || !keep) {
        memset(cand, 0, sizeof *cand);
        if (rc == 1 && m->candidates_ignored < UINT16_MAX)
            m->candidates_ignored++;
        return 0;
    }
    m->candidate_count++;
    return 0;
}
