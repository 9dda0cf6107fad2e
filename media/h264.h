/* H.264 RTP payloads (RFC 6184): classify a packet and spot IDR pictures for key frame handling.
 *
 * Ownership: reads the caller's bytes and fills a small caller struct; nothing is kept.
 * Threading: no state; any thread may call it.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h): LG_EINVAL (NULL argument), LG_ETRUNC
 * (empty or a cut FU/STAP-A), LG_EMALFORMED (STAP-A sizes that do not tile the payload, FU with
 * both S and E set), LG_EUNSUPPORTED (STAP-B, MTAP, FU-B and undefined types 0, 30, 31, which
 * WebRTC's packetization modes 0 and 1 do not use). */
#ifndef LG_MEDIA_H264_H
#define LG_MEDIA_H264_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define H264_NAL_SLICE  1
#define H264_NAL_IDR    5
#define H264_NAL_SEI    6
#define H264_NAL_SPS    7
#define H264_NAL_PPS    8
#define H264_NAL_STAP_A 24
#define H264_NAL_FU_A   28

typedef struct h264_info {
    uint8_t packet_type; /* the payload's own NAL type: 1..23 single NAL unit, 24, 28 */
    uint8_t nal_type;    /* single: same; FU-A: the fragmented unit's; STAP-A: the first unit's */
    uint8_t nal_count; /* NAL units (whole or starting) in the packet; STAP-A counts, capped 255 */
    bool idr;          /* an IDR slice starts in this packet (single, in a STAP-A, or FU-A S=1) */
    bool sps;          /* an SPS starts in this packet */
    bool pps;          /* a PPS starts in this packet */
    bool fu_start;     /* FU-A: S bit */
    bool fu_end;       /* FU-A: E bit */
} h264_info_t;

/* Classifies an RTP payload. A packet is a key frame start for forwarding purposes when idr is
 * set (an SPS/PPS alone is not). Returns 0, LG_EINVAL, LG_ETRUNC, LG_EMALFORMED or
 * LG_EUNSUPPORTED. */
int h264_parse(const uint8_t *p, size_t len, h264_info_t *out);

#endif
