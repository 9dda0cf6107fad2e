/* One leg of the C peer: a UDP socket or ICE-TCP connection (RFC 4571 framing) to one relay
 * candidate, ICE connectivity and consent checks as the controlling agent, the DTLS client
 * handshake and the SRTP session keyed from it. Incoming packets are demultiplexed by first byte
 * (RFC 7983). */
#include "bench/peer/peer_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "sfu/demux.h"
#include "sfu/lg_error.h"
#include "sfu/rfc4571.h"

/* PRIORITY of the peer-reflexive candidate a check may create (RFC 8445 5.1.2.1: type preference
 * 110, local preference 65535, component 1). */
#define PEER_PRFLX_PRIORITY ((110u << 24) | (65535u << 8) | 255u)
#define PEER_TCP_TX_CAP     (128 * 1024)
#define PEER_RECV_BATCH     64

static const char *leg_name(const peer_leg_t *leg)
{
    return leg->kind == LEG_PUBLISH ? "publish" : "subscribe";
}

static int leg_failed(peer_leg_t *leg, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Fails the leg and with it the peer (every leg matters to a test). */
static int leg_failed(peer_leg_t *leg, int rc, const char *fmt, ...)
{
    char msg[224];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (leg->ice != PEER_ICE_CONNECTED)
        leg->ice = PEER_ICE_FAILED; /* failed before ICE succeeded: an ICE failure */
    return peer_fail(leg->peer, rc, "%s (%s connection)", msg, leg_name(leg));
}

void leg_init(peer_t *p, peer_leg_t *leg, leg_kind_t kind)
{
    memset(leg, 0, sizeof *leg);
    leg->peer = p;
    leg->kind = kind;
    leg->fd = -1;
    leg->ice = PEER_ICE_NEW;
    peer_rand_token(leg->ufrag, PEER_UFRAG_LEN);
    peer_rand_token(leg->pwd, PEER_PWD_LEN);
    leg->tie_breaker = peer_rand64(p);
    leg->rtcp_ssrc = (uint32_t)peer_rand64(p) | 1;
    if (kind == LEG_PUBLISH) { /* our own payload types, should the relay send them back */
        leg->vp8_pt[PEER_PT_VP8] = 1;
        leg->rtx_pt[PEER_PT_RTX] = 1;
    }
}

void leg_close(peer_leg_t *leg)
{
    if (leg->dtls_started && dtls_session_state(&leg->dtls) == DTLS_STATE_CONNECTED)
        dtls_session_close(&leg->dtls); /* close_notify, sent through the still-open socket */
    dtls_session_free(&leg->dtls);
    srtp_session_free(&leg->srtp);
    if (leg->fd >= 0)
        close(leg->fd);
    leg->fd = -1;
    free(leg->deframer);
    free(leg->tx);
    leg->deframer = NULL;
    leg->tx = NULL;
    leg->active = 0;
    leg->srtp_ready = 0;
    leg->dtls_started = 0;
    if (leg->ice != PEER_ICE_NEW && leg->ice != PEER_ICE_FAILED)
        leg->ice = PEER_ICE_CLOSED;
}

/* --- sending ---------------------------------------------------------------------------------- */

static void tcp_flush(peer_leg_t *leg)
{
    while (leg->tx_off < leg->tx_len) {
        ssize_t n = send(leg->fd, leg->tx + leg->tx_off, leg->tx_len - leg->tx_off,
                         MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            leg_failed(leg, LG_EIO, "ICE-TCP: sending to %s: %s", leg->remote.addr_str,
                       strerror(errno));
            return;
        }
        leg->tx_off += (size_t)n;
    }
    leg->tx_off = leg->tx_len = 0;
}

void leg_send(peer_leg_t *leg, const uint8_t *data, size_t len)
{
    if (leg->fd < 0 || leg->ice == PEER_ICE_CONNECTING)
        return;
    if (leg->transport == PEER_TRANSPORT_UDP) {
        if (send(leg->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
            leg->peer->st.send_drops++; /* full buffer, or ICMP unreachable: ICE notices */
        return;
    }
    if (len > RFC4571_MAX_FRAME)
        return;
    if (leg->tx_off > 0 && leg->tx_len + len + 2 > PEER_TCP_TX_CAP) { /* compact */
        memmove(leg->tx, leg->tx + leg->tx_off, leg->tx_len - leg->tx_off);
        leg->tx_len -= leg->tx_off;
        leg->tx_off = 0;
    }
    if (leg->tx_len + len + 2 > PEER_TCP_TX_CAP) {
        leg->peer->st.send_drops++;
        return;
    }
    int n = rfc4571_frame(leg->tx + leg->tx_len, PEER_TCP_TX_CAP - leg->tx_len, data, len);
    if (n < 0)
        return;
    leg->tx_len += (size_t)n;
    tcp_flush(leg);
}

void leg_send_srtp(peer_leg_t *leg, uint8_t *buf, size_t len, size_t cap, int rtcp)
{
    if (!leg->srtp_ready)
        return;
    int rc = rtcp ? srtp_session_protect_rtcp(&leg->srtp, buf, &len, cap)
                  : srtp_session_protect_rtp(&leg->srtp, buf, &len, cap);
    if (rc != 0) {
        leg->peer->st.srtp_protect_failures++;
        return;
    }
    leg_send(leg, buf, len);
}

/* --- ICE -------------------------------------------------------------------------------------- */

static void send_check(peer_leg_t *leg, const uint8_t *txid, int nominate)
{
    uint8_t buf[600];
    size_t len;
    stun_binding_request_t req = {
        .txid = txid,
        .username = leg->username,
        .priority = PEER_PRFLX_PRIORITY,
        .tie_breaker = leg->tie_breaker,
        .use_candidate = nominate,
        .key = (const uint8_t *)leg->remote.pwd,
        .keylen = strlen(leg->remote.pwd),
    };
    int rc = leg->controlled
                 ? ice_build_controlled_check(leg, txid, PEER_PRFLX_PRIORITY, buf, sizeof buf, &len)
                 : stun_build_binding_request(buf, sizeof buf, &req, &len);
    if (rc != 0)
        return;
    leg->st.checks_sent++;
    leg_send(leg, buf, len);
}

static void new_txid(uint8_t txid[STUN_TXID_SIZE])
{
    if (RAND_bytes(txid, STUN_TXID_SIZE) != 1)
        memset(txid, 0x33, STUN_TXID_SIZE);
}

static int64_t consent_delay(peer_t *p)
{
    int64_t base = (int64_t)p->o.consent_interval_ms * NS_PER_MS;
    int64_t spread = base / 5; /* +-20 %, RFC 7675 5.1 */
    return base - spread + (int64_t)(peer_rand64(p) % (uint64_t)(2 * spread + 1));
}

static void start_dtls(peer_leg_t *leg, int64_t now);

static void on_stun(peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    stun_msg_t m;
    if (stun_parse(&m, buf, len) != 0 || m.method != STUN_METHOD_BINDING) {
        leg->st.stun_errors++;
        return;
    }
    int is_check = memcmp(m.txid, leg->check_txid, STUN_TXID_SIZE) == 0;
    int is_consent = leg->consent_pending && memcmp(m.txid, leg->consent_txid, STUN_TXID_SIZE) == 0;
    if (m.cls == STUN_CLASS_REQUEST) {
        if (leg->peer->o.full_ice)
            ice_answer_check(leg, &m);
        else
            leg->st.stun_errors++; /* an ICE-lite relay never checks us */
        return;
    }
    if (m.cls == STUN_CLASS_INDICATION && leg->peer->o.full_ice)
        return; /* keepalives of a full agent (RFC 8445 11) */
    const uint8_t *key = (const uint8_t *)leg->remote.pwd;
    if ((!is_check && !is_consent) || stun_check_fingerprint(&m) != 0 ||
        stun_check_integrity(&m, key, strlen(leg->remote.pwd)) != 0) {
        leg->st.stun_errors++;
        return;
    }
    if (m.cls == STUN_CLASS_ERROR) {
        leg->st.stun_errors++;
        leg_failed(leg, LG_EPERM, "ICE: Binding error %u (%.*s) from %s", m.error_code,
                   (int)m.error_reason_len, (const char *)m.error_reason, leg->remote.addr_str);
        return;
    }
    if (m.cls != STUN_CLASS_SUCCESS)
        return;
    int64_t now = peer_now_ns();
    leg->st.checks_ok++;
    leg->last_ok = now;
    if (is_consent)
        leg->consent_pending = 0;
    if (leg->ice == PEER_ICE_CHECKING) {
        leg->ice = PEER_ICE_CONNECTED;
        leg->next_consent = now + consent_delay(leg->peer);
        start_dtls(leg, now);
    }
}

/* --- DTLS and SRTP ---------------------------------------------------------------------------- */

static void dtls_out(void *ctx, const uint8_t *p, size_t len)
{
    leg_send(ctx, p, len);
}

static void dtls_connected(void *ctx, const dtls_srtp_keys_t *keys)
{
    peer_leg_t *leg = ctx;
    int rc = srtp_session_init(&leg->srtp, keys);
    if (rc != 0) {
        leg->failed_srtp = rc; /* reported after dtls_feed returns */
        return;
    }
    leg->profile = keys->profile;
    leg->srtp_ready = 1;
}

static void start_dtls(peer_leg_t *leg, int64_t now)
{
    if (leg->dtls_started)
        return; /* a DTLS server leg started on the relay's first ClientHello */
    dtls_callbacks_t cb = {dtls_out, dtls_connected, NULL, leg};
    dtls_ctx_t *ctx = leg->dtls_server ? leg->peer->dtls_server_ctx : leg->peer->dtls_ctx;
    int rc = dtls_session_init(&leg->dtls, ctx, &cb);
    if (rc == 0)
        rc = dtls_set_remote_fingerprint(&leg->dtls, leg->remote.fingerprint);
    if (rc != 0) {
        leg_failed(leg, rc, "DTLS: session setup failed: %s", lg_strerror(rc));
        return;
    }
    leg->dtls_started = 1;
    leg->dtls_deadline = now + (int64_t)leg->peer->o.dtls_timeout_ms * NS_PER_MS;
    rc = dtls_session_start(&leg->dtls);
    if (rc != 0)
        leg_failed(leg, rc, "DTLS: could not start the handshake: %s", lg_strerror(rc));
}

/* After every call into the DTLS session: report a failure or a close. */
static void check_dtls(peer_leg_t *leg)
{
    if (leg->failed_srtp) {
        leg_failed(leg, LG_ECRYPTO, "SRTP: keying from DTLS failed: %s",
                   lg_strerror(leg->failed_srtp));
        return;
    }
    dtls_state_t st = dtls_session_state(&leg->dtls);
    if (st == DTLS_STATE_FAILED) {
        dtls_reason_t why = dtls_session_reason(&leg->dtls);
        if (why == DTLS_REASON_FINGERPRINT)
            leg_failed(leg, LG_EFINGERPRINT,
                       "DTLS: fingerprint mismatch: the certificate of %s does not match the "
                       "a=fingerprint of its SDP",
                       leg->remote.addr_str);
        else
            leg_failed(leg, why == DTLS_REASON_TIMEOUT ? LG_EEXPIRED : LG_ECRYPTO,
                       "DTLS: handshake with %s failed: %s%s%s", leg->remote.addr_str,
                       dtls_reason_str(why), dtls_session_detail(&leg->dtls)[0] ? ": " : "",
                       dtls_session_detail(&leg->dtls));
    } else if (st == DTLS_STATE_CLOSED && !leg->closed) {
        /* the relay ended it (consent expired, transport removed): not our failure; media stops
         * and `media_state` says why */
        leg->closed = 1;
        leg->srtp_ready = 0;
        peer_note(leg->peer, "DTLS: %s closed the %s connection (close_notify)",
                  leg->remote.addr_str, leg_name(leg));
    }
}

static void on_dtls(peer_leg_t *leg, const uint8_t *buf, size_t len)
{
    if (!leg->dtls_started && leg->dtls_server && leg->active && !leg->peer->fatal)
        start_dtls(leg, peer_now_ns()); /* the client's ICE may finish before ours */
    if (!leg->dtls_started)
        return;                      /* nothing may arrive before our ClientHello */
    dtls_feed(&leg->dtls, buf, len); /* refused datagrams change nothing; the state tells */
    check_dtls(leg);
}

/* --- receiving -------------------------------------------------------------------------------- */

static void on_packet(peer_leg_t *leg, uint8_t *buf, size_t len)
{
    peer_t *p = leg->peer;
    switch (lg_demux_classify(buf, len)) {
    case LG_PKT_STUN:
        on_stun(leg, buf, len);
        return;
    case LG_PKT_DTLS:
        on_dtls(leg, buf, len);
        return;
    case LG_PKT_RTP_RTCP:
        break;
    default:
        return;
    }
    if (!leg->srtp_ready)
        return;
    int rtcp = lg_demux_is_rtcp(buf, len);
    if (!rtcp)
        capture_srtp(p, leg, buf, len); /* what a wire tap sees, resends included */
    if (!rtcp && media_drop_inbound(p, leg, buf, len))
        return; /* simulated network loss, before decryption as on a real network */
    leg->rx_srtp_len = len;
    int rc = rtcp ? srtp_session_unprotect_rtcp(&leg->srtp, buf, &len)
                  : srtp_session_unprotect_rtp(&leg->srtp, buf, &len);
    if (rc != 0) {
        p->st.srtp_failures++;
        return;
    }
    if (rtcp)
        media_on_rtcp(p, leg, buf, len);
    else
        media_on_rtp(p, leg, buf, len);
}

static int on_frame(void *ctx, uint8_t *frame, size_t len)
{
    peer_leg_t *leg = ctx;
    on_packet(leg, frame, len);
    return leg->peer->fatal ? 1 : 0;
}

static void tcp_read(peer_leg_t *leg)
{
    uint8_t *buf = leg->peer->rxbuf;
    for (int i = 0; i < PEER_RECV_BATCH; i++) {
        ssize_t n = recv(leg->fd, buf, PEER_RX_MAX, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            return;
        if (n <= 0) {
            leg_failed(leg, LG_EIO, "ICE-TCP: %s closed the connection%s%s", leg->remote.addr_str,
                       n < 0 ? ": " : "", n < 0 ? strerror(errno) : "");
            return;
        }
        if (rfc4571_deframer_feed(leg->deframer, buf, (size_t)n, on_frame, leg) != 0)
            return;
    }
}

static void udp_read(peer_leg_t *leg)
{
    uint8_t *buf = leg->peer->rxbuf;
    for (int i = 0; i < PEER_RECV_BATCH && leg->fd >= 0; i++) {
        ssize_t n = recv(leg->fd, buf, PEER_RX_MAX, MSG_DONTWAIT);
        if (n < 0)
            return; /* EAGAIN, or ECONNREFUSED from an ICMP error: ICE times out if it lasts */
        on_packet(leg, buf, (size_t)n);
        if (leg->peer->fatal)
            return;
    }
}

static void tcp_connected(peer_leg_t *leg)
{
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(leg->fd, SOL_SOCKET, SO_ERROR, &err, &elen) != 0)
        err = errno;
    if (err != 0) {
        leg_failed(leg, LG_EIO, "ICE-TCP: connect to %s: %s", leg->remote.addr_str, strerror(err));
        return;
    }
    leg->ice = PEER_ICE_CHECKING;
    leg->next_check = 0; /* the first check goes out on the next tick */
}

void leg_on_poll(peer_leg_t *leg, short revents)
{
    if (leg->fd < 0)
        return;
    if (leg->ice == PEER_ICE_CONNECTING) {
        if (revents & (POLLOUT | POLLERR | POLLHUP))
            tcp_connected(leg);
        return;
    }
    if (leg->transport == PEER_TRANSPORT_TCP) {
        if (revents & POLLOUT)
            tcp_flush(leg);
        if (revents & (POLLIN | POLLERR | POLLHUP))
            tcp_read(leg);
    } else if (revents & (POLLIN | POLLERR)) {
        udp_read(leg);
    }
}

short leg_poll_events(const peer_leg_t *leg)
{
    if (leg->fd < 0)
        return 0;
    if (leg->ice == PEER_ICE_CONNECTING)
        return POLLOUT;
    short ev = POLLIN;
    if (leg->transport == PEER_TRANSPORT_TCP && leg->tx_len > leg->tx_off)
        ev |= POLLOUT;
    return ev;
}

/* --- timers ----------------------------------------------------------------------------------- */

static void tick_consent(peer_leg_t *leg, int64_t now)
{
    peer_t *p = leg->peer;
    if (!p->consent)
        return;
    if (now - leg->last_ok > (int64_t)p->o.consent_timeout_ms * NS_PER_MS) {
        leg->ice = PEER_ICE_FAILED;
        leg_failed(leg, LG_EEXPIRED, "ICE: consent lost: no Binding success from %s for %u s",
                   leg->remote.addr_str, p->o.consent_timeout_ms / 1000);
        return;
    }
    if (now < leg->next_consent)
        return;
    new_txid(leg->consent_txid);
    leg->consent_pending = 1;
    leg->st.consent_sent++;
    send_check(leg, leg->consent_txid, 0);
    leg->next_consent = now + consent_delay(p);
}

void leg_tick(peer_leg_t *leg, int64_t now)
{
    if (!leg->active || leg->closed || leg->peer->fatal)
        return;
    if ((leg->ice == PEER_ICE_CHECKING || leg->ice == PEER_ICE_CONNECTING) &&
        now >= leg->ice_deadline) {
        leg_failed(leg, LG_EEXPIRED, "ICE: no Binding success from %s within %d s",
                   leg->remote.addr_str, (leg->peer->o.ice_timeout_ms + 999) / 1000);
        return;
    }
    if (leg->ice == PEER_ICE_CHECKING && now >= leg->next_check) {
        send_check(leg, leg->check_txid, 1); /* aggressive nomination; same txid: retransmit */
        leg->next_check = now + PEER_CHECK_EVERY;
        return;
    }
    if (leg->ice != PEER_ICE_CONNECTED)
        return;
    if (leg->dtls_started && !leg->srtp_ready) {
        if (now >= leg->dtls_deadline) {
            leg_failed(leg, LG_EEXPIRED,
                       "DTLS: no handshake completion with %s within %d s (did it refuse our "
                       "certificate?)",
                       leg->remote.addr_str, (leg->peer->o.dtls_timeout_ms + 999) / 1000);
            return;
        }
        if (dtls_next_timeout_ms(&leg->dtls) == 0) {
            dtls_on_timeout(&leg->dtls);
            check_dtls(leg);
        }
    }
    tick_consent(leg, now);
}

int64_t leg_next_wake(peer_leg_t *leg)
{
    if (!leg->active || leg->closed)
        return INT64_MAX;
    if (leg->ice == PEER_ICE_CONNECTING)
        return leg->ice_deadline;
    if (leg->ice == PEER_ICE_CHECKING)
        return leg->next_check < leg->ice_deadline ? leg->next_check : leg->ice_deadline;
    if (leg->ice != PEER_ICE_CONNECTED)
        return INT64_MAX;
    int64_t t = leg->peer->consent ? leg->next_consent : INT64_MAX;
    if (leg->dtls_started && !leg->srtp_ready) {
        int64_t ms = dtls_next_timeout_ms(&leg->dtls);
        int64_t d = ms < 0 ? leg->dtls_deadline : peer_now_ns() + ms * NS_PER_MS;
        if (d > leg->dtls_deadline)
            d = leg->dtls_deadline;
        if (d < t)
            t = d;
    }
    return t;
}

/* --- start ------------------------------------------------------------------------------------ */

static int open_socket(peer_leg_t *leg)
{
    int tcp = leg->transport == PEER_TRANSPORT_TCP;
    int fd = socket(leg->remote.addr.ss_family,
                    (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return leg_failed(leg, LG_EIO, "peer: socket for %s: %s", leg->remote.addr_str,
                          strerror(errno));
    leg->fd = fd;
    int bufsz = (int)leg->peer->o.socket_buffer;
    if (bufsz > 0) {
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsz, sizeof bufsz);
        setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz);
    }
    if (tcp) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        leg->deframer = malloc(sizeof *leg->deframer);
        leg->tx = malloc(PEER_TCP_TX_CAP);
        if (!leg->deframer || !leg->tx)
            return leg_failed(leg, LG_ENOMEM, "peer: out of memory");
        rfc4571_deframer_init(leg->deframer);
    }
    if (connect(fd, (const struct sockaddr *)&leg->remote.addr, leg->remote.addr_len) == 0)
        return 0;
    if (tcp && errno == EINPROGRESS) {
        leg->ice = PEER_ICE_CONNECTING;
        return 0;
    }
    return leg_failed(leg, LG_EIO, "%s: connect to %s: %s", tcp ? "ICE-TCP" : "peer",
                      leg->remote.addr_str, strerror(errno));
}

int leg_start(peer_leg_t *leg, const leg_remote_t *remote)
{
    peer_t *p = leg->peer;
    leg->remote = *remote;
    leg->transport = p->o.transport;
    snprintf(leg->username, sizeof leg->username, "%s:%s", remote->ufrag, leg->ufrag);
    leg->controlled = p->o.full_ice && leg->kind == LEG_SUBSCRIBE; /* the relay offered */
    int64_t now = peer_now_ns();
    leg->ice = PEER_ICE_CHECKING;
    leg->ice_deadline = now + (int64_t)p->o.ice_timeout_ms * NS_PER_MS;
    leg->next_check = now;
    leg->last_ok = now;
    new_txid(leg->check_txid);
    leg->active = 1;
    return open_socket(leg);
}
