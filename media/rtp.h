/* RTP packets (RFC 3550), header extensions (RFC 8285) and RTX (RFC 4588): parse, rewrite, build.
 *
 * Ownership: every function works on bytes the caller owns. Parsing never copies: the views in
 * rtp_packet_t and rtp_ext_t point into the input and live as long as it does. Rewrites change the
 * caller's buffer in place; builders write into a caller buffer of a stated capacity.
 * Threading: no state at all; any thread may call anything on distinct buffers.
 * Errors: 0 on success or a negative LG_E* code (sfu/lg_error.h):
 *   LG_ETRUNC     the input ends before a length the packet itself announces,
 *   LG_EMALFORMED the bytes contradict the format (version, padding, extension layout),
 *   LG_ENOTFOUND  the asked-for element is absent,
 *   LG_ENOSPC     the output buffer is too small (nothing useful was written),
 *   LG_EINVAL     an argument is out of range. */
#ifndef LG_MEDIA_RTP_H
#define LG_MEDIA_RTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RTP_HEADER_MIN   12 /* fixed header, no CSRC */
#define RTP_MAX_CSRC     15
#define RTP_EXT_ONE_BYTE 0xBEDE /* RFC 8285 one-byte profile */
#define RTP_EXT_TWO_BYTE 0x1000 /* RFC 8285 two-byte profile, low 4 bits are appbits */

/* Which RFC 8285 form the header extension uses. */
typedef enum rtp_ext_form {
    RTP_EXT_FORM_NONE = 0, /* X bit clear */
    RTP_EXT_FORM_ONE_BYTE, /* 0xBEDE */
    RTP_EXT_FORM_TWO_BYTE, /* 0x100X */
    RTP_EXT_FORM_OTHER,    /* some other profile: present but opaque */
} rtp_ext_form_t;

/* A parsed RTP packet: plain values plus views into the input. */
typedef struct rtp_packet {
    bool padding; /* P bit */
    bool marker;  /* M bit */
    uint8_t csrc_count;
    uint8_t payload_type;
    uint16_t seq;
    uint32_t timestamp;
    uint32_t ssrc;
    const uint8_t *csrc;     /* csrc_count big-endian words; read with rtp_csrc() */
    rtp_ext_form_t ext_form; /* RTP_EXT_FORM_NONE when the X bit is clear */
    uint16_t ext_profile;    /* the 16-bit "defined by profile" field */
    const uint8_t *ext;      /* extension body after its 4-byte header */
    size_t ext_len;          /* bytes of ext (a multiple of 4) */
    size_t header_len;       /* fixed header + CSRCs + extension */
    const uint8_t *payload;  /* starts at header_len */
    size_t payload_len;      /* excludes the padding */
    uint8_t padding_len;     /* 0, or the pad count from the last byte (>= 1) */
    const uint8_t *data;     /* the whole packet */
    size_t len;
} rtp_packet_t;

/* Parses an RTP packet. Checks version 2, that CSRCs and the extension fit, and that a padding
 * count (the last byte when P is set) is at least 1 and does not reach back into the header.
 * Returns 0, LG_EINVAL (NULL arguments), LG_ETRUNC or LG_EMALFORMED. */
int rtp_parse(const uint8_t *p, size_t len, rtp_packet_t *out);

/* Returns CSRC number i (i < pkt->csrc_count). */
uint32_t rtp_csrc(const rtp_packet_t *pkt, unsigned i);

/* --- header extensions (RFC 8285) --- */

/* One extension element: a view into the packet. For the one-byte form len is 1..16. */
typedef struct rtp_ext {
    uint8_t id;
    uint8_t len;
    const uint8_t *data;
} rtp_ext_t;

/* Walks the elements of one packet's extension block. */
typedef struct rtp_ext_iter {
    const uint8_t *p;
    size_t len;
    size_t pos;
    rtp_ext_form_t form;
} rtp_ext_iter_t;

/* Starts a walk. A packet without an RFC 8285 extension yields no elements. */
void rtp_ext_iter_init(rtp_ext_iter_t *it, const rtp_packet_t *pkt);

/* Next element, skipping padding bytes (id 0). Returns 1 with *out filled, 0 at the end (also at a
 * one-byte id 15, which per RFC 8285 stops processing), LG_EMALFORMED if an element overruns. */
int rtp_ext_next(rtp_ext_iter_t *it, rtp_ext_t *out);

/* Finds the first element with this id. Returns 0, LG_ENOTFOUND or LG_EMALFORMED. */
int rtp_ext_find(const rtp_packet_t *pkt, uint8_t id, rtp_ext_t *out);

/* Value readers for the extensions an SFU uses. Each checks the element length and returns 0 or
 * LG_EMALFORMED. */
/* urn:ietf:params:rtp-hdrext:ssrc-audio-level (RFC 6464): V flag and level in -dBov (0..127). */
int rtp_ext_audio_level(const rtp_ext_t *e, bool *voice, uint8_t *level);
/* transport-wide-cc-extensions-01: 16-bit transport-wide sequence number. */
int rtp_ext_transport_seq(const rtp_ext_t *e, uint16_t *seq);
/* abs-send-time: 24-bit 6.18 fixed-point seconds. */
int rtp_ext_abs_send_time(const rtp_ext_t *e, uint32_t *t);
/* sdes:mid, rtp-stream-id, repaired-rtp-stream-id: copies the string and a NUL into buf.
 * Returns 0, LG_EMALFORMED (empty or containing NUL/control bytes) or LG_ENOSPC (cap <= len). */
int rtp_ext_string(const rtp_ext_t *e, char *buf, size_t cap);

/* --- in-place rewrites for the forwarding path --- */
/* Each needs len >= RTP_HEADER_MIN (else LG_ETRUNC); PT must be < 128 (else LG_EINVAL). */
int rtp_set_ssrc(uint8_t *p, size_t len, uint32_t ssrc);
int rtp_set_seq(uint8_t *p, size_t len, uint16_t seq);
int rtp_set_timestamp(uint8_t *p, size_t len, uint32_t ts);
int rtp_set_payload_type(uint8_t *p, size_t len, uint8_t pt);
int rtp_set_marker(uint8_t *p, size_t len, bool marker);

/* Rewrites extension ids from the publisher's extmap to a subscriber's. id_map[pub_id] is the new
 * id, or 0 to blank the element: its id/length bytes and data are overwritten with zeros, which
 * both RFC 8285 forms define as padding, so the packet keeps its length and the element vanishes.
 * Two-byte-form elements with id >= 16 have no entry and are blanked. In the one-byte form every
 * target id must be 0..14 (15 is the stop marker). The packet is validated before the first write,
 * so on error nothing changed. Returns 0 (also for packets with no or an opaque extension),
 * LG_EINVAL (bad map), LG_ETRUNC or LG_EMALFORMED. */
int rtp_ext_rewrite_ids(uint8_t *p, size_t len, const uint8_t id_map[16]);

/* rtp_ext_rewrite_ids() for p, a byte copy of the already parsed packet src (the forwarding path:
 * one parse per received packet, not one per subscriber), and in the same walk stamps `stamp` into
 * the first 2-byte element whose new id is stamp_id (0: none), e.g. a leg's transport-wide
 * sequence number. Only src is read and only p written. Returns 1 when it stamped, 0 when not,
 * or LG_EINVAL (bad map; nothing written), LG_EMALFORMED (nothing written). */
int rtp_ext_rewrite_copy(uint8_t *p, const rtp_packet_t *src, const uint8_t id_map[16],
                         uint8_t stamp_id, uint16_t stamp);

/* Overwrites the value of an existing element in place (the SFU stamps its own transport-wide
 * sequence and send time per leg). Returns 0, LG_ENOTFOUND, LG_EMALFORMED (wrong element size)
 * or a parse error. */
int rtp_ext_set_transport_seq(uint8_t *p, size_t len, uint8_t id, uint16_t seq);
int rtp_ext_set_abs_send_time(uint8_t *p, size_t len, uint8_t id, uint32_t t);

/* --- RTX (RFC 4588) --- */

/* Reads the original sequence number (OSN) of an RTX packet and views the original payload.
 * Returns 0, LG_ENOTFOUND for a padding-only probe (no payload), LG_ETRUNC for a 1-byte payload. */
int rtx_unwrap(const rtp_packet_t *rtx, uint16_t *osn, const uint8_t **payload, size_t *len);

/* Builds the RTX packet for an original: the original's header (CSRCs and extension included,
 * marker kept, P bit cleared), then PT rtx_pt, SSRC rtx_ssrc and sequence rtx_seq, then the
 * 2-byte OSN and the original payload without its padding. Writes *out_len bytes into out.
 * Returns 0, LG_EINVAL (rtx_pt >= 128) or LG_ENOSPC. */
int rtx_build(const rtp_packet_t *orig, uint8_t rtx_pt, uint32_t rtx_ssrc, uint16_t rtx_seq,
              uint8_t *out, size_t cap, size_t *out_len);

/* The inverse: rebuilds the original packet from an RTX one (header of the RTX packet with PT
 * orig_pt, SSRC orig_ssrc, sequence = OSN, P cleared; payload after the OSN). Returns 0,
 * LG_EINVAL, LG_ENOTFOUND (padding-only), LG_ETRUNC or LG_ENOSPC. */
int rtx_restore(const rtp_packet_t *rtx, uint8_t orig_pt, uint32_t orig_ssrc, uint8_t *out,
                size_t cap, size_t *out_len);

#endif
