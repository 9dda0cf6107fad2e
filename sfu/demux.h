/* Classifies a datagram on the shared media port by its first byte (RFC 7983 section 7). */
#ifndef LG_DEMUX_H
#define LG_DEMUX_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    LG_PKT_UNKNOWN = 0,
    LG_PKT_STUN,     /* 0..3 */
    LG_PKT_ZRTP,     /* 16..19 (never accepted) */
    LG_PKT_DTLS,     /* 20..63 */
    LG_PKT_TURN,     /* 64..79 TURN channel data (never accepted: we are not a TURN server) */
    LG_PKT_RTP_RTCP, /* 128..191 */
} lg_pkt_class_t;

/* Pure; an empty packet is UNKNOWN. */
static inline lg_pkt_class_t lg_demux_classify(const uint8_t *p, size_t len)
{
    if (len == 0)
        return LG_PKT_UNKNOWN;
    uint8_t b = p[0];
    if (b <= 3)
        return LG_PKT_STUN;
    if (b >= 16 && b <= 19)
        return LG_PKT_ZRTP;
    if (b >= 20 && b <= 63)
        return LG_PKT_DTLS;
    if (b >= 64 && b <= 79)
        return LG_PKT_TURN;
    if (b >= 128 && b <= 191)
        return LG_PKT_RTP_RTCP;
    return LG_PKT_UNKNOWN;
}

/* RTCP packet types 192..223 share the RTP range (RFC 5761 section 4): tells them apart by the
 * second byte once the packet is known to be RTP or RTCP. */
static inline int lg_demux_is_rtcp(const uint8_t *p, size_t len)
{
    return len >= 2 && p[1] >= 192 && p[1] <= 223;
}

#endif
