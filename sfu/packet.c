/* Demux by first byte, then STUN validation in the order RFC 8489 section 6.3 gives. */
#include "sfu/packet.h"
#include "sfu/demux.h"
#include "sfu/stun.h"

static void stun_in(lg_counters_t *c, const uint8_t *data, size_t len)
{
    stun_msg_t m;
    if (stun_parse(&m, data, len) != 0) {
        lg_count_drop(c, LG_DROP_STUN_MALFORMED);
        return;
    }
    /* ICE (RFC 8445 section 7.3) requires FINGERPRINT on every check. */
    if (!(m.present & STUN_HAS_FINGERPRINT) || stun_check_fingerprint(&m) != 0) {
        lg_count_drop(c, LG_DROP_STUN_BAD_FINGERPRINT);
        return;
    }
    if (m.method == STUN_METHOD_BINDING && m.cls == STUN_CLASS_REQUEST)
        lg_count_drop(c, LG_DROP_STUN_UNKNOWN_USER);
    else
        lg_count_drop(c, LG_DROP_STUN_UNEXPECTED);
}

void lg_packet_in(lg_counters_t *c, uint8_t *data, size_t len, const struct sockaddr *from,
                  socklen_t fromlen)
{
    switch (lg_demux_classify(data, len)) {
    case LG_PKT_STUN:
        stun_in(c, data, len);
        return;
    case LG_PKT_DTLS:
    case LG_PKT_RTP_RTCP:
        lg_count_drop(c, LG_DROP_UNKNOWN_SOURCE);
        return;
    default:
        lg_count_drop(c, LG_DROP_UNKNOWN_PROTOCOL);
        return;
    }
}
