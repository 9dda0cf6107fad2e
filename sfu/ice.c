/* ICE-lite connectivity checks (RFC 8445 section 7.3, RFC 7675): authenticate, answer, remember
 * the validated path, follow the controlling agent's nomination. */
#include "sfu/lg_error.h"
#include "sfu/tcp_io.h"
#include "sfu/transport.h"
#include "sfu/transport_table.h"
#include "sfu/worker.h"

#include <string.h>

#define STUN_REPLY_MAX 512

/* Splits USERNAME "local:remote" and finds the transport. Counts the drop when it fails. */
static transport_t *ice_lookup(lg_worker_t *w, const stun_msg_t *m)
{
    const char *u = (const char *)m->username;
    const char *colon = memchr(u, ':', m->username_len);
    if (!colon) {
        lg_count_drop(&w->counters, LG_DROP_STUN_UNKNOWN_USER);
        return NULL;
    }
    transport_t *t = tt_find_ufrag(&w->transports, u, (size_t)(colon - u));
    if (!t) {
        lg_count_drop(&w->counters, LG_DROP_STUN_UNKNOWN_USER);
        return NULL;
    }
    size_t rlen = m->username_len - (size_t)(colon - u) - 1;
    if (rlen != strlen(t->p.remote_ufrag) || memcmp(colon + 1, t->p.remote_ufrag, rlen) != 0) {
        lg_count_drop(&w->counters, LG_DROP_STUN_WRONG_UFRAG);
        return NULL;
    }
    return t;
}

static void reply(transport_t *t, const lg_path_t *path, const stun_msg_t *m, int code)
{
    uint8_t buf[STUN_REPLY_MAX];
    size_t len;
    const uint8_t *key = (const uint8_t *)t->p.local_pwd;
    size_t keylen = strlen(t->p.local_pwd);
    int rc =
        code ? stun_build_error_response(buf, sizeof buf, m, code, key, keylen, &len)
             : stun_build_binding_success(buf, sizeof buf, m->txid,
                                          (const struct sockaddr *)&path->addr, key, keylen, &len);
    if (rc == 0 && path->tcp)
        tcp_conn_send(path->tcp, buf, len);
    else if (rc == 0) {
        uint8_t *slot = udp_io_tx_slot(path->udp);
        memcpy(slot, buf, len);
        udp_io_tx_commit(path->udp, len, (const struct sockaddr *)&path->addr, path->addrlen);
    }
}

/* Returns the index of path among t's validated pairs, adding it (replacing the oldest one that
 * is not selected when full). -1 when the index cannot grow. */
static int remember_pair(lg_worker_t *w, transport_t *t, const lg_path_t *path)
{
    for (int i = 0; i < t->npairs; i++)
        if (lg_path_equal(&t->pairs[i], path))
            return i;
    int slot = t->npairs;
    if (slot == TRANSPORT_MAX_PAIRS) {
        slot = t->selected == 0 ? 1 : 0;
        tt_remove_path(&w->transports, t, slot);
    } else {
        t->npairs++;
    }
    t->pairs[slot] = *path;
    if (tt_add_path(&w->transports, t, slot) != 0) {
        if (slot == t->npairs - 1)
            t->npairs--;
        return -1;
    }
    return slot;
}

void transport_on_binding_request(lg_worker_t *w, const lg_path_t *path, const stun_msg_t *m)
{
    if (!(m->present & STUN_HAS_USERNAME) || !(m->present & STUN_HAS_MESSAGE_INTEGRITY)) {
        lg_count_drop(&w->counters, LG_DROP_STUN_MALFORMED);
        return;
    }
    transport_t *t = ice_lookup(w, m);
    if (!t)
        return;
    if (stun_check_integrity(m, (const uint8_t *)t->p.local_pwd, strlen(t->p.local_pwd)) != 0) {
        lg_count_drop(&w->counters, LG_DROP_STUN_BAD_INTEGRITY);
        return;
    }
    if (stun_check_unknown(m) != 0) {
        reply(t, path, m, 420);
        return;
    }
    /* A lite agent is always controlled: a peer that also claims the controlled role must
     * switch (RFC 8445 7.3.1.1). */
    if (m->present & STUN_HAS_ICE_CONTROLLED) {
        reply(t, path, m, 487);
        return;
    }
    int pair = remember_pair(w, t, path);
    if (pair < 0)
        return;
    reply(t, path, m, 0);
    if ((m->present & STUN_HAS_USE_CANDIDATE) || t->selected < 0) {
        t->selected = pair; /* a later nomination replaces the path (a laptop changed network) */
        if (t->state == TRANSPORT_NEW)
            t->state = TRANSPORT_CHECKING;
    }
    if (pair == t->selected)
        t->last_consent_ms = lg_worker_now_ms(w);
}
