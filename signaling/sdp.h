/* WebRTC Unified Plan SDP: parse browser offers into a caller-owned struct and write SDP back. */
#ifndef LG_SDP_H
#define LG_SDP_H

/*
 * Contract
 * - Pure and reentrant: no I/O, no allocation, no global state. Any thread may call any function
 *   as long as no two threads use the same sdp_session_t at once.
 * - Ownership: the caller owns every struct. sdp_parse() copies what it keeps into bounded char
 *   arrays, so the input may be freed as soon as it returns. sdp_session_t is large (about
 *   2.1 MB, 33 KB per m-section): allocate it on the heap or statically, never on a thread stack.
 * - Strings are NUL-terminated char arrays; "" means absent. A section without a=fingerprint has
 *   fingerprint.alg[0] == '\0': absence is not a parse error (the caller decides).
 * - Errors: 0 or a negative LG_E* code (sfu/lg_error.h). sdp_parse() also fills an sdp_error_t
 *   naming the line: "SDP line 14: bad a=rtpmap".
 *     LG_EINVAL     NULL argument; (sdp_write) a struct that would not make valid SDP
 *     LG_EMALFORMED a syntax error in a line the parser understands (m=, o=, a=rtpmap, ...)
 *     LG_EFULL      input over SDP_MAX_INPUT, or more items than a capacity below
 *     LG_ENOSPC     (sdp_write) output buffer too small
 * - Parsing: CRLF or LF line ends. The first line must be v=0 and o= must precede the first m=.
 *   Unknown attributes and line types are ignored (a=rtcp, a=rtcp-xr, b=, ...). A known attribute
 *   that is malformed or too long for its array fails. Kept once: the first a=group:BUNDLE and the
 *   first a=msid of a section. Candidates with an unknown transport (ssltcp) or type are
 *   skipped; those beyond SDP_MAX_CANDIDATES are counted in candidates_ignored.
 * - Inheritance: session-level a=ice-ufrag/ice-pwd/ice-options/fingerprint/setup, c= and the
 *   direction are copied into each m-section lacking its own (media level wins), so readers only
 *   look at sdp_media_t. A section without c= gets its first candidate's address, else 0.0.0.0.
 * - Round trip: sdp_parse(sdp_write(sdp_parse(x))) equals sdp_parse(x) byte for byte (memcmp;
 *   the parser zero-fills the struct and every array tail), except candidates_ignored.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SDP_MAX_INPUT       262144 /* bytes of SDP text accepted by sdp_parse() */
#define SDP_MAX_MEDIA       64     /* m-sections per session (a subscribe connection's m-lines) */
#define SDP_MAX_CODECS      40     /* payload types per m-line */
#define SDP_MAX_RTCP_FB     8      /* a=rtcp-fb values per codec */
#define SDP_MAX_EXTMAPS     24     /* a=extmap per m-section */
#define SDP_MAX_SSRCS       8      /* distinct a=ssrc per m-section */
#define SDP_MAX_SSRC_GROUPS 4      /* a=ssrc-group per m-section */
#define SDP_MAX_GROUP_SSRCS 4      /* ssrcs in one a=ssrc-group */
#define SDP_MAX_RIDS        8      /* a=rid per m-section, and simulcast streams per direction */
#define SDP_MAX_RID_ALTS    4      /* ','-separated alternatives in one simulcast stream */
#define SDP_MAX_CANDIDATES  32     /* a=candidate kept per m-section */

/* Header extension URIs the relay looks up with sdp_media_find_extmap(). */
#define SDP_EXT_AUDIO_LEVEL   "urn:ietf:params:rtp-hdrext:ssrc-audio-level"
#define SDP_EXT_ABS_SEND_TIME "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
#define SDP_EXT_TRANSPORT_CC                                                                       \
    "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"
#define SDP_EXT_MID          "urn:ietf:params:rtp-hdrext:sdes:mid"
#define SDP_EXT_RID          "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id"
#define SDP_EXT_REPAIRED_RID "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id"

typedef enum { SDP_KIND_AUDIO = 0, SDP_KIND_VIDEO, SDP_KIND_APPLICATION } sdp_kind_t;

/* SDP_DIR_NONE: not stated (only meaningful for extmap and the session level). */
typedef enum {
    SDP_DIR_NONE = 0,
    SDP_DIR_SENDRECV,
    SDP_DIR_SENDONLY,
    SDP_DIR_RECVONLY,
    SDP_DIR_INACTIVE
} sdp_direction_t;

typedef enum {
    SDP_SETUP_NONE = 0,
    SDP_SETUP_ACTPASS,
    SDP_SETUP_ACTIVE,
    SDP_SETUP_PASSIVE,
    SDP_SETUP_HOLDCONN
} sdp_setup_t;

typedef enum { SDP_TRANSPORT_UDP = 0, SDP_TRANSPORT_TCP } sdp_transport_t;
typedef enum { SDP_CAND_HOST = 0, SDP_CAND_SRFLX, SDP_CAND_PRFLX, SDP_CAND_RELAY } sdp_cand_type_t;
typedef enum {
    SDP_TCPTYPE_NONE = 0,
    SDP_TCPTYPE_ACTIVE,
    SDP_TCPTYPE_PASSIVE,
    SDP_TCPTYPE_SO
} sdp_tcptype_t;

/* "SDP line 14: bad a=rtpmap"; line is 1-based, 0 when the error is not about one line. */
typedef struct {
    int line;
    char msg[128];
} sdp_error_t;

typedef struct {
    char ufrag[257]; /* RFC 8839: up to 256 characters */
    char pwd[257];
    char options[64]; /* a=ice-options value, e.g. "trickle" */
} sdp_ice_t;

typedef struct {
    char alg[16];    /* "sha-256"; empty: no a=fingerprint */
    char value[192]; /* "01:67:08:..." as written */
} sdp_fingerprint_t;

typedef struct {
    char stream[64]; /* "-" when the track has no stream (Firefox writes "a=msid:- {id}") */
    char track[64];  /* may be empty */
} sdp_msid_t;

/* One payload type of an RTP m-line, merged from the m= format list, a=rtpmap, a=fmtp, a=rtcp-fb.
 */
typedef struct {
    uint8_t pt;
    char name[32];       /* "opus", "VP8", "rtx"; empty when there was no a=rtpmap */
    uint32_t clock_rate; /* 48000, 90000 */
    uint8_t channels;    /* 0 when not written ("PCMU/8000"), else 1 or 2 */
    char fmtp[192];      /* a=fmtp parameters as written: "minptime=10;useinbandfec=1" */
    /* Parsed from fmtp (sdp_codec_set_fmtp); -1 or "" when the parameter is absent. */
    int apt;                  /* rtx: associated payload type */
    int packetization_mode;   /* H264: 0, 1 (2 accepted) */
    char profile_level_id[8]; /* H264: "42e01f" */
    uint8_t rtcp_fb_count;
    char rtcp_fb[SDP_MAX_RTCP_FB]
                [24]; /* "nack", "nack pli", "ccm fir", "goog-remb", "transport-cc" */
} sdp_codec_t;

typedef struct {
    uint16_t id;               /* 1-255, or 4096-4351 */
    sdp_direction_t direction; /* SDP_DIR_NONE unless written as "extmap:2/recvonly" */
    char uri[128];
} sdp_extmap_t;

typedef struct {
    uint32_t ssrc;
    char cname[64];  /* may be empty */
    sdp_msid_t msid; /* from "a=ssrc:N msid:stream track"; may be empty */
} sdp_ssrc_t;

typedef struct {
    char semantics[16]; /* "FID", "SIM", "FEC-FR" */
    uint8_t count;
    uint32_t ssrcs[SDP_MAX_GROUP_SSRCS];
} sdp_ssrc_group_t;

typedef struct {
    char id[32];
    sdp_direction_t direction; /* SDP_DIR_SENDONLY ("send") or SDP_DIR_RECVONLY ("recv") */
    char params[128];          /* everything after the direction: "pt=96;max-width=1280", or "" */
} sdp_rid_t;

typedef struct {
    char rid[32];
    bool paused; /* written "~h" */
} sdp_sim_alt_t;

/* One ';'-separated simulcast stream and its ','-separated alternatives. */
typedef struct {
    uint8_t alt_count;
    sdp_sim_alt_t alts[SDP_MAX_RID_ALTS];
} sdp_sim_stream_t;

typedef struct {
    uint8_t count;
    sdp_sim_stream_t streams[SDP_MAX_RIDS];
} sdp_sim_list_t;

/* a=simulcast:send h;m;l recv x. count == 0 in both lists: no a=simulcast. */
typedef struct {
    sdp_sim_list_t send;
    sdp_sim_list_t recv;
} sdp_simulcast_t;

typedef struct {
    char foundation[33];
    uint16_t component; /* 1 RTP, 2 RTCP */
    sdp_transport_t transport;
    uint32_t priority;
    char addr[64]; /* IPv4, IPv6 or an mDNS name */
    uint16_t port; /* 9 for TCP active */
    sdp_cand_type_t type;
    char rel_addr[64]; /* raddr, or "" */
    uint16_t rel_port;
    sdp_tcptype_t tcptype;
} sdp_candidate_t;

typedef struct {
    sdp_kind_t kind;
    uint16_t port;
    char proto[32];     /* "UDP/TLS/RTP/SAVPF", "UDP/DTLS/SCTP" */
    char fmt[64];       /* non-RTP protos: the format list as written ("webrtc-datachannel") */
    char conn_addr[64]; /* c= address */
    char mid[32];
    sdp_direction_t direction; /* never SDP_DIR_NONE after parse (default sendrecv) */
    bool rtcp_mux;
    bool rtcp_rsize;
    bool bundle_only;
    bool end_of_candidates;
    bool extmap_allow_mixed;
    sdp_ice_t ice;
    sdp_fingerprint_t fingerprint;
    sdp_setup_t setup;
    sdp_msid_t msid; /* the first a=msid */
    uint16_t sctp_port;
    uint32_t max_message_size;

    uint8_t codec_count;
    sdp_codec_t codecs[SDP_MAX_CODECS]; /* in m= line order (the offerer's preference) */
    uint8_t extmap_count;
    sdp_extmap_t extmaps[SDP_MAX_EXTMAPS];
    uint8_t ssrc_count;
    sdp_ssrc_t ssrcs[SDP_MAX_SSRCS];
    uint8_t ssrc_group_count;
    sdp_ssrc_group_t ssrc_groups[SDP_MAX_SSRC_GROUPS];
    uint8_t rid_count;
    sdp_rid_t rids[SDP_MAX_RIDS];
    sdp_simulcast_t simulcast;
    uint8_t candidate_count;
    uint16_t candidates_ignored; /* candidates beyond SDP_MAX_CANDIDATES (not written back) */
    sdp_candidate_t candidates[SDP_MAX_CANDIDATES];
} sdp_media_t;

typedef struct {
    /* o=<username> <sess_id> <sess_version> IN IP4 <origin_addr> */
    char origin_username[64];
    uint64_t sess_id;
    uint64_t sess_version;
    char origin_addr[64];
    char name[64];      /* s=; "-" when absent */
    char conn_addr[64]; /* session-level c=, or "" */
    uint8_t bundle_count;
    char bundle_mids[SDP_MAX_MEDIA][32]; /* the first a=group:BUNDLE */
    bool ice_lite;
    bool extmap_allow_mixed;
    char msid_semantic[16];      /* "WMS", or "" */
    char msid_semantic_ids[256]; /* "*" or stream ids, or "" */
    sdp_direction_t direction;   /* session-level direction, or SDP_DIR_NONE */
    sdp_ice_t ice;               /* session-level values (already copied into media) */
    sdp_fingerprint_t fingerprint;
    sdp_setup_t setup;
    uint8_t media_count;
    sdp_media_t media[SDP_MAX_MEDIA];
} sdp_session_t;

/* --- parse ---------------------------------------------------------------------------------- */

/* Parses len bytes of SDP text into *out (fully overwritten, also on error). err may be NULL; on
 * failure it names the line. Returns 0, LG_EINVAL, LG_EMALFORMED or LG_EFULL. */
int sdp_parse(const uint8_t *p, size_t len, sdp_session_t *out, sdp_error_t *err);

/* --- write ---------------------------------------------------------------------------------- */

/* Writes s as SDP with CRLF line ends into out (NUL-terminated); *len receives the length without
 * the NUL. Checks s first so the text always parses back: returns LG_EINVAL for a NULL argument, a
 * count over its capacity, an unterminated string, a token with spaces or control characters, a
 * pt > 127 or repeated, an RTP section without codecs, an enum out of range; LG_ENOSPC when cap
 * is too small (out then holds a truncated prefix). Empty strings and zero values are omitted. */
int sdp_write(const sdp_session_t *s, char *out, size_t cap, size_t *len);

/* --- lookups -------------------------------------------------------------------------------- */

/* First codec whose name matches (case-insensitive), or NULL. */
const sdp_codec_t *sdp_media_find_codec(const sdp_media_t *m, const char *name);

/* Codec with payload type pt, or NULL. */
const sdp_codec_t *sdp_media_find_codec_pt(const sdp_media_t *m, int pt);

/* Payload type of the rtx codec whose apt is apt, or LG_ENOTFOUND. */
int sdp_media_find_rtx_pt(const sdp_media_t *m, int apt);

/* Extension id negotiated for uri (e.g. SDP_EXT_MID), or LG_ENOTFOUND. */
int sdp_media_find_extmap(const sdp_media_t *m, const char *uri);

/* The m-section with that mid, or NULL. */
const sdp_media_t *sdp_find_media_by_mid(const sdp_session_t *s, const char *mid);

/* true when the codec has exactly this a=rtcp-fb value ("nack pli"). */
bool sdp_codec_has_fb(const sdp_codec_t *c, const char *fb);

/* Names as written in SDP: "sendrecv", "audio", "actpass", "host", "passive"; "" for NONE or
 * out of range. */
const char *sdp_direction_str(sdp_direction_t d);
const char *sdp_kind_str(sdp_kind_t k);
const char *sdp_setup_str(sdp_setup_t s);
const char *sdp_cand_type_str(sdp_cand_type_t t);
const char *sdp_tcptype_str(sdp_tcptype_t t);

/* --- building (for relay offers and answers) ------------------------------------------------ */

/* Zeroes s and sets o=- 0 0 IN IP4 127.0.0.1, s=-. The caller then fills sess_id etc. */
void sdp_session_init(sdp_session_t *s);

/* Appends a zeroed m-section with kind, mid, direction sendrecv, proto UDP/TLS/RTP/SAVPF (or
 * UDP/DTLS/SCTP for application), port 9. Returns NULL when full or mid does not fit. */
sdp_media_t *sdp_session_add_media(sdp_session_t *s, sdp_kind_t kind, const char *mid);

/* Appends a codec; fmtp may be NULL. Returns NULL when full, pt > 127 or already used, or a
 * string does not fit. */
sdp_codec_t *sdp_media_add_codec(sdp_media_t *m, int pt, const char *name, uint32_t clock_rate,
                                 uint8_t channels, const char *fmtp);

/* Sets c->fmtp and re-derives apt, packetization_mode and profile_level_id from it.
 * Returns 0 or LG_EFULL (too long: fmtp unchanged). */
int sdp_codec_set_fmtp(sdp_codec_t *c, const char *fmtp);

/* Appends an rtcp-fb value. Returns 0, LG_EFULL (no room or too long). */
int sdp_codec_add_fb(sdp_codec_t *c, const char *fb);

/* Appends an extmap. Returns 0, LG_EINVAL (bad id), LG_EEXIST (id in use) or LG_EFULL. */
int sdp_media_add_extmap(sdp_media_t *m, int id, const char *uri, sdp_direction_t dir);

/* Appends a copy of *c. Returns 0 or LG_EFULL. */
int sdp_media_add_candidate(sdp_media_t *m, const sdp_candidate_t *c);

#endif
