/* Offer/answer policy of the relay: answers a browser's publish offer, offers a participant's
 * subscribe connection, and checks the browser's answer to it. */
#ifndef LG_NEGOTIATE_H
#define LG_NEGOTIATE_H

/*
 * Contract
 * - Pure and reentrant: no I/O, no allocation, no global state. Any thread may call any function
 *   as long as no two threads use the same structs at once (in practice: the control thread).
 * - Ownership: the caller owns every struct. Inputs are const and only read during the call;
 *   outputs (sdp_session_t, result structs) are fully overwritten, also on error, and hold fixed
 *   arrays: nothing needs freeing. sdp_session_t is ~2.1 MB: heap-allocate it.
 * - The relay's transport policy, on both connections: ICE-lite (a=ice-lite, host candidates from
 *   negotiate_local_t, end-of-candidates), DTLS server (answers a=setup:passive, offers actpass
 *   and accepts only an active answer), one BUNDLE transport, rtcp-mux required.
 * - Errors: 0 or a negative LG_E* code (sfu/lg_error.h), plus a sentence naming the problem in
 *   err (NUL-terminated, truncated to errlen; err may be NULL): "offer m-line 1 (mid 0): no
 *   a=fingerprint". m-lines are counted from 1.
 *     LG_EINVAL      NULL argument, or a bad negotiate_local_t / negotiate_sub_track_t
 *     LG_EMALFORMED  the remote SDP lacks something required (ICE credentials, fingerprint,
 *                    a=setup, a=mid, a=group:BUNDLE) or does not match our offer
 *     LG_EUNSUPPORTED valid but not something the relay does (no rtcp-mux, setup passive in an
 *                    offer, no common codec, nothing to publish)
 *     LG_EEXIST      (subscribe offer) one payload type would mean two codecs in the BUNDLE
 *     LG_EFULL       more tracks than SDP_MAX_MEDIA or more candidates than the SDP can hold
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/sdp.h"

#define NEGOTIATE_MAX_CANDIDATES 16  /* local candidates (negotiate_local_t) */
#define NEGOTIATE_MAX_CODECS     4   /* accepted primary codecs per m-line (VP8, 2x H264) */
#define NEGOTIATE_FINGERPRINT    212 /* "sha-512 " + value + NUL, as sdp_fingerprint_t holds */
#define NEGOTIATE_ICE_MAX        257 /* ICE ufrag/pwd: 256 characters + NUL (RFC 8839) */

/* rtcp-fb values, as bits of negotiate_codec_t.fb. */
#define NEGOTIATE_FB_NACK 0x01 /* "nack" */
#define NEGOTIATE_FB_PLI  0x02 /* "nack pli" */
#define NEGOTIATE_FB_FIR  0x04 /* "ccm fir" */
#define NEGOTIATE_FB_REMB 0x08 /* "goog-remb" */
#define NEGOTIATE_FB_TWCC 0x10 /* "transport-cc" */

/* Header extension ids the relay writes on subscribe connections (same in every m-line, as
 * BUNDLE requires). The browser's answer may change them: use negotiate_sub_media_t.ext. */
#define NEGOTIATE_SUB_EXT_MID           1
#define NEGOTIATE_SUB_EXT_ABS_SEND_TIME 2
#define NEGOTIATE_SUB_EXT_TWCC          3
#define NEGOTIATE_SUB_EXT_AUDIO_LEVEL   4 /* audio m-lines only */

/* --- the relay's side of a connection --------------------------------------------------------- */

typedef struct {
    char ip[64];               /* IPv4 or IPv6 literal ("192.0.2.1", "2001:db8::1") */
    uint16_t port;             /* the worker's UDP port, or its ICE-TCP listener (passive) */
    sdp_transport_t transport; /* SDP_TRANSPORT_UDP or SDP_TRANSPORT_TCP */
} negotiate_candidate_t;

/* Written as host candidates: UDP ones first (type preference 126, like Chromium), then TCP
 * ones with tcptype passive (type preference 90); within a transport in the order given. */
typedef struct {
    char ice_ufrag[NEGOTIATE_ICE_MAX];       /* 4..256 ice-chars (ALPHA DIGIT + /) */
    char ice_pwd[NEGOTIATE_ICE_MAX];         /* 22..256 ice-chars */
    char fingerprint[NEGOTIATE_FINGERPRINT]; /* "sha-256 AB:CD:..." as certs/ writes it */
    uint64_t session_id;                     /* o= line */
    uint64_t session_version;                /* o= line of a publish answer */
    uint8_t candidate_count;                 /* 1..NEGOTIATE_MAX_CANDIDATES */
    negotiate_candidate_t candidates[NEGOTIATE_MAX_CANDIDATES];
} negotiate_local_t;

/* --- what was negotiated --------------------------------------------------------------------- */

/* RTP header extension ids; 0 when not negotiated. */
typedef struct {
    uint16_t mid;
    uint16_t rid;
    uint16_t repaired_rid;
    uint16_t audio_level;
    uint16_t twcc;
    uint16_t abs_send_time;
} negotiate_ext_ids_t;

typedef struct {
    uint8_t pt;
    char name[32];       /* "opus", "VP8", "H264" as the offer spelled it */
    uint32_t clock_rate; /* 48000, 90000 */
    uint8_t channels;    /* 2 for opus; 0 for video */
    char fmtp[192];      /* as answered: "minptime=10;useinbandfec=1", the offer's for video */
    uint8_t rtx_pt;      /* its RTX payload type, 0 when none (never a static pt) */
    uint8_t fb;          /* NEGOTIATE_FB_* bits answered */
} negotiate_codec_t;

/* One simulcast layer of a publish track, in the offer's a=simulcast order (not by quality). */
typedef struct {
    char rid[32];      /* "" for SSRC-signaled simulcast (a=ssrc-group:SIM) */
    uint32_t ssrc;     /* 0: learn it from packets carrying this rid */
    uint32_t rtx_ssrc; /* 0: learn it from packets carrying it as repaired-rid */
    /* the offer's a=rid restrictions (RFC 8851), 0 when not given: they rank the layers by quality
     * (media/layer_rank.h); the offer's order says nothing about it */
    uint32_t max_width, max_height, max_br, max_fps;
} negotiate_layer_t;

/* One accepted m-line of a publish connection: what the media worker routes by. */
typedef struct {
    sdp_kind_t kind;           /* SDP_KIND_AUDIO or SDP_KIND_VIDEO */
    char mid[32];              /* the offer's mid */
    sdp_direction_t direction; /* as answered: SDP_DIR_RECVONLY, or SDP_DIR_INACTIVE */
    char stream_id[64];        /* a=msid (or a=ssrc msid); "-" as Firefox writes it; may be "" */
    char track_id[64];         /* may be "" */
    char cname[64];            /* of the primary SSRC; may be "" */
    uint8_t codec_count;       /* accepted codecs in answer order; codecs[0] is the primary */
    negotiate_codec_t codecs[NEGOTIATE_MAX_CODECS];
    uint32_t ssrc;       /* primary SSRC (first layer's when simulcast); 0 when not signaled */
    uint32_t rtx_ssrc;   /* from a=ssrc-group:FID; 0 when not signaled */
    uint8_t layer_count; /* 0: no simulcast */
    negotiate_layer_t layers[SDP_MAX_RIDS];
    negotiate_ext_ids_t ext;
} negotiate_track_t;

typedef struct {
    char ice_ufrag[NEGOTIATE_ICE_MAX]; /* the browser's, from the BUNDLE transport's m-line */
    char ice_pwd[NEGOTIATE_ICE_MAX];
    char fingerprint[NEGOTIATE_FINGERPRINT]; /* "sha-256 AB:..", for lg_certs_check_peer() */
    bool rtcp_rsize;                         /* reduced-size RTCP was answered */
    uint8_t track_count;
    negotiate_track_t tracks[SDP_MAX_MEDIA]; /* accepted m-lines, offer order */
} negotiate_publish_t;

/* --- publish: the browser offers, the relay answers ------------------------------------------ */

/*
 * Answers a browser's publish offer. Per m-line, in the offer's order and with its mids:
 * - audio: Opus only (the offer's pt), fmtp "minptime=10;useinbandfec=1", rtcp-fb transport-cc
 *   if offered. Video: VP8, then H264 packetization-mode=1 with profile-level-id 42e01f, then
 *   42001f (the offer's fmtp), each with its RTX; rtcp-fb kept among nack, nack pli, ccm fir,
 *   goog-remb, transport-cc. No common codec is an error.
 * - direction: sendonly/sendrecv -> recvonly; recvonly/inactive -> inactive.
 * - extmaps kept with the offer's ids: mid, transport-wide-cc, abs-send-time; ssrc-audio-level
 *   (audio); rid and repaired-rid (video). extmap-allow-mixed and rtcp-rsize echoed.
 * - simulcast: "a=simulcast:send h;m;l" with a=rid send lines -> "a=simulcast:recv h;m;l" and
 *   a=rid recv lines (only when the mid and rid extensions were offered, else no simulcast).
 * - rejected (port 0, left out of BUNDLE): application and non-DTLS-SRTP m-lines, m-lines the
 *   offer disabled (port 0) or left out of its BUNDLE group.
 * The BUNDLE transport's m-line (the first accepted) must carry ice-ufrag/pwd, a fingerprint,
 * setup actpass or active and rtcp-mux; so must every other accepted m-line not bundle-only.
 * answer and result are fully overwritten; on error their content is unspecified.
 */
int negotiate_publish(const sdp_session_t *offer, const negotiate_local_t *local,
                      sdp_session_t *answer, negotiate_publish_t *result, char *err, size_t errlen);

/* --- subscribe: the relay offers, the browser answers ---------------------------------------- */

/* One slot of a subscribe connection. Slot i is m-line i for the connection's whole life: keep
 * slots in place across renegotiations and append new tracks at the end. A removed track's m-line
 * is either left inactive (active = false: a=inactive, still in BUNDLE) or rejected (stopped:
 * port 0, out of BUNDLE); once an answer rejected it too, the slot may be recycled for a new track
 * with a new mid (RFC 8829 5.2.2): never give a mid to another m-line. */
typedef struct {
    sdp_kind_t kind;         /* SDP_KIND_AUDIO or SDP_KIND_VIDEO */
    bool active;             /* false: the m-line stays, a=inactive, no msid or SSRCs */
    bool stopped;            /* rejected: port 0, out of BUNDLE (implies !active) */
    char mid[32];            /* token characters; "" writes the slot index ("0", "1", ...) */
    char stream_id[64];      /* publisher participant id: a=msid stream (token chars) */
    char track_id[64];       /* the publisher's track id: a=msid track (token chars) */
    char cname[64];          /* "" writes stream_id */
    negotiate_codec_t codec; /* the publisher's primary codec: same pt, fmtp; rtx_pt or 0 */
    uint32_t ssrc;           /* the relay's outbound SSRC, non-zero */
    uint32_t rtx_ssrc;       /* outbound RTX SSRC: non-zero exactly when codec.rtx_pt is */
} negotiate_sub_track_t;

/*
 * Builds the relay's subscribe offer: one m-line per slot (at most SDP_MAX_MEDIA), sendonly or
 * inactive in BUNDLE, or rejected (stopped: port 0, a=inactive, left out of BUNDLE),
 * a=setup:actpass, ICE-lite and the local candidates; the track's codec with its pt and fmtp, its
 * RTX (apt), rtcp-fb nack, nack pli, ccm fir, goog-remb, transport-cc (audio: transport-cc),
 * extmaps NEGOTIATE_SUB_EXT_*, a=msid, a=ssrc cname/msid and FID group. version goes in the o= line
 * (increase it on every renegotiation). n may be 0. Fails with LG_EEXIST when one pt would name two
 * different codecs (Chromium refuses that in a BUNDLE group; rejected m-lines do not count): the
 * caller must then remap payload types for one publisher; with LG_EINVAL when two slots have the
 * same mid.
 */
int negotiate_subscribe_offer(const negotiate_sub_track_t *tracks, size_t n,
                              const negotiate_local_t *local, uint64_t version,
                              sdp_session_t *offer, char *err, size_t errlen);

/* One m-line of a subscribe connection, as the browser answered it. */
typedef struct {
    char mid[32];
    sdp_kind_t kind;
    bool accepted;           /* port != 0, answered recvonly, our pt kept: send media on it */
    bool rtx;                /* the answer kept our RTX pt */
    uint8_t fb;              /* NEGOTIATE_FB_* the answer kept on our pt */
    negotiate_ext_ids_t ext; /* the answer's ids (mid, twcc, abs_send_time, audio_level) */
} negotiate_sub_media_t;

typedef struct {
    char ice_ufrag[NEGOTIATE_ICE_MAX]; /* the browser's; "" when no m-line was accepted */
    char ice_pwd[NEGOTIATE_ICE_MAX];
    char fingerprint[NEGOTIATE_FINGERPRINT]; /* "sha-256 AB:.." */
    uint8_t media_count;                     /* = the offer's m-lines */
    negotiate_sub_media_t media[SDP_MAX_MEDIA];
} negotiate_sub_result_t;

/*
 * Checks the browser's answer to offer_we_sent: same m-lines with the same mids in order; an
 * m-line the offer rejected rejected in the answer too (port 0); directions legal for an answer
 * (recvonly or inactive to sendonly; inactive to inactive); on the transport's m-line (the first
 * not rejected) and every other accepted one: ice-ufrag/pwd, a fingerprint, setup active, rtcp-mux,
 * membership in the answer's BUNDLE group. Fills res.
 */
int negotiate_subscribe_answer(const sdp_session_t *offer_we_sent, const sdp_session_t *answer,
                               negotiate_sub_result_t *res, char *err, size_t errlen);

#endif
