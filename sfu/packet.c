/* Demux by first byte, then STUN validation in the order RFC 8489 section 6.3 gives, then the
 * 5-tuple lookup for everything that needs an established path. */
#include "sfu/packet.h"
#include "sfu/demux.h"
#include "sfu/stun.h"
#include "sfu/transport_table.h"
#include "sfu/worker.h"

static void stun_in(lg_worker_t *w, const lg_path_t *path, const uint8_t *data, size_t len)
{
    stun_msg_t m;
    if (stun_parse(&m, data, len) != 0) {
        lg_count_drop(&w->counters, LG_DROP_STUN_MALFORMED);
        return;
    }
    /* ICE (RFC 8445 section 7.3) requires FINGERPRINT on every check. */
    if (!(m.present & STUN_HAS_FINGERPRINT) || stun_check_fingerprint(&m) != 0) {
        lg_count_drop(&w->counters, LG_DROP_STUN_BAD_FINGERPRINT);
        return;
    }
    if (m.method == STUN_METHOD_BINDING && m.cls == STUN_CLASS_REQUEST)
        transport_on_binding_request(w, path, &m);
    else
        lg_count_drop(&w->counters, LG_DROP_STUN_UNEXPECTED);
}

void lg_packet_in(lg_worker_t *w, const lg_path_t *path, uint8_t *data, size_t len)
{
    lg_pkt_class_t cls = lg_demux_classify(data, len);
    if (cls == LG_PKT_STUN) {
        stun_in(w, path, data, len);
        return;
    }
    if (cls != LG_PKT_DTLS && cls != LG_PKT_RTP_RTCP) {
        lg_count_drop(&w->counters, LG_DROP_UNKNOWN_PROTOCOL);
        return;
    }
    int pair;
    transport_t *t = tt_find_path(&w->transports, path, &pair);
    if (!t) {
        lg_count_drop(&w->counters, LG_DROP_UNKNOWN_SOURCE);
        return;
    }
    if (cls == LG_PKT_DTLS)
        transport_on_dtls(t, data, len);
    else
        transport_on_srtp(t, pair, data, len);
}
