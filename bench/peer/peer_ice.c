/* The C peer's side of full ICE (peer_opts_t.full_ice): answering a full ICE relay's connectivity
 * checks and building checks as the controlled agent, for relays such as Janus (libnice) that
 * check the peer rather than only answer it. */
#include "bench/peer/peer_internal.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"

/* True when USERNAME is "<local ufrag>:<anything>" (RFC 8445 7.3: the receiver's ufrag first). */
static int username_is_ours(const peer_leg_t *leg, const stun_msg_t *m)
{
    size_t n = strlen(leg->ufrag);
    return (m->present & STUN_HAS_USERNAME) && m->username_len > n &&
           memcmp(m->username, leg->ufrag, n) == 0 && m->username[n] == ':';
}

static void send_error(peer_leg_t *leg, const stun_msg_t *m, int code)
{
    uint8_t buf[256];
    size_t len;
    const uint8_t *key = code == 401 ? NULL : (const uint8_t *)leg->pwd;
    if (stun_build_error_response(buf, sizeof buf, m, code, key, key ? strlen(leg->pwd) : 0,
                                  &len) == 0)
        leg_send(leg, buf, len);
}

void ice_answer_check(peer_leg_t *leg, const stun_msg_t *m)
{
    if (stun_check_fingerprint(m) != 0) {
        leg->st.stun_errors++; /* not an ICE check: drop silently (RFC 8445 7.3) */
        return;
    }
    if (!username_is_ours(leg, m) || !(m->present & STUN_HAS_MESSAGE_INTEGRITY)) {
        leg->st.stun_errors++;
        send_error(leg, m, 400);
        return;
    }
    if (stun_check_integrity(m, (const uint8_t *)leg->pwd, strlen(leg->pwd)) != 0) {
        leg->st.stun_errors++;
        send_error(leg, m, 401);
        return;
    }
    uint8_t buf[256];
    size_t len;
    /* The socket is connected: every request comes from the leg's remote address. */
    if (stun_build_binding_success(buf, sizeof buf, m->txid,
                                   (const struct sockaddr *)&leg->remote.addr,
                                   (const uint8_t *)leg->pwd, strlen(leg->pwd), &len) != 0)
        return;
    leg->st.checks_answered++;
    leg_send(leg, buf, len);
}

int ice_build_controlled_check(const peer_leg_t *leg, const uint8_t *txid, uint32_t priority,
                               uint8_t *buf, size_t cap, size_t *len)
{
    stun_builder_t b;
    int rc = stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, txid);
    if (rc == 0)
        rc = stun_add_username(&b, leg->username, strlen(leg->username));
    if (rc == 0)
        rc = stun_add_priority(&b, priority);
    if (rc == 0)
        rc = stun_add_ice_controlled(&b, leg->tie_breaker);
    if (rc == 0)
        rc =
            stun_builder_finish(&b, (const uint8_t *)leg->remote.pwd, strlen(leg->remote.pwd), len);
    return rc;
}

int peer_local_address(const peer_t *p, bool subscribe, char *out, size_t cap)
{
    if (!p || !out || cap == 0)
        return LG_EINVAL;
    const peer_leg_t *leg = &p->legs[subscribe ? LEG_SUBSCRIBE : LEG_PUBLISH];
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (leg->fd < 0 || getsockname(leg->fd, (struct sockaddr *)&ss, &sl) != 0)
        return LG_ESTATE;
    char ip[INET6_ADDRSTRLEN];
    unsigned port;
    if (ss.ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
        port = ntohs(a->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
        port = ntohs(a->sin6_port);
    } else {
        return LG_ESTATE;
    }
    int n = snprintf(out, cap, "%s %u", ip, port);
    return n < 0 || (size_t)n >= cap ? LG_ENOSPC : 0;
}
