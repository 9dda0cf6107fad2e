/* Internals of the C peer shared by its files: the peer, its legs (one ICE + DTLS + SRTP
 * connection each), its send streams and receive table. Not for callers: use peer.h. */
#ifndef LG_PEER_INTERNAL_H
#define LG_PEER_INTERNAL_H

#include <stdarg.h>
#include <stdint.h>
#include <sys/socket.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bench/peer/peer.h"
#include "bench/peer/ws_client.h"
#include "certs/certs.h"
#include "media/nack_generator.h"
#include "sfu/dtls.h"
#include "sfu/rfc4571.h"
#include "sfu/srtp_session.h"
#include "sfu/stun.h"
#include "signaling/sdp.h"

#define NS_PER_MS 1000000LL
#define NS_PER_S  1000000000LL

#define PEER_UFRAG_LEN     8
#define PEER_PWD_LEN       24
#define PEER_RX_MAX        65536 /* one datagram or one RFC 4571 frame */
#define PEER_TX_MAX        1500  /* one RTP packet before SRTP */
#define PEER_TCP_TXQ       (512 * 1024)
#define PEER_CHECK_EVERY   (100 * NS_PER_MS) /* ICE check retransmission */
#define PEER_SDP_MAX       SDP_MAX_INPUT     /* an offer of SDP_MAX_MEDIA m-lines, or its answer */
#define PEER_VIDEO_PAYLOAD 1200 /* bytes of VP8 payload per packet, descriptor included */

/* RTP payload types and header extension ids the offer announces. */
#define PEER_PT_OPUS     111
#define PEER_PT_VP8      96
#define PEER_PT_RTX      97
#define PEER_EXT_LEVEL   1
#define PEER_EXT_ABSSEND 2
#define PEER_EXT_TWCC    3
#define PEER_EXT_MID     4
#define PEER_EXT_RID     10 /* simulcast only, as Chromium numbers them */
#define PEER_EXT_RRID    11

typedef enum { LEG_PUBLISH = 0, LEG_SUBSCRIBE = 1, LEG_COUNT } leg_kind_t;

/* What the remote SDP tells a leg: ICE credentials, fingerprint, the chosen candidate. */
typedef struct {
    char ufrag[257];
    char pwd[257];
    char fingerprint[216]; /* "sha-256 AB:...": sdp_fingerprint_t alg + " " + value */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char addr_str[96]; /* "127.0.0.1:40000/udp", "[::1]:40000/tcp" */
} leg_remote_t;

typedef struct peer_leg {
    struct peer *peer;
    leg_kind_t kind;
    int active; /* remote set, socket open */
    int closed; /* the relay closed DTLS (close_notify): no more media or checks */
    peer_ice_state_t ice;
    char ufrag[PEER_UFRAG_LEN + 1];
    char pwd[PEER_PWD_LEN + 1];
    leg_remote_t remote;
    char username[520]; /* "remote_ufrag:local_ufrag" */
    int controlled;     /* full_ice subscribe leg: checks carry ICE-CONTROLLED, no nomination */
    int dtls_server;    /* the remote answered a=setup:active: this leg is the DTLS server */
    peer_transport_t transport;
    int fd;
    /* ICE-TCP: RFC 4571 stream buffers (heap, only for TCP) */
    rfc4571_deframer_t *deframer;
    uint8_t *tx;
    size_t tx_off, tx_len;
    /* ICE */
    uint64_t tie_breaker;
    uint8_t check_txid[STUN_TXID_SIZE];
    uint8_t consent_txid[STUN_TXID_SIZE];
    int consent_pending;
    int64_t ice_deadline, next_check, next_consent, last_ok;
    size_t rx_srtp_len; /* the packet being handled, as received (before SRTP unprotect) */
    /* DTLS, SRTP */
    dtls_session_t dtls;
    int dtls_started;
    int64_t dtls_deadline;
    srtp_session_t srtp;
    int srtp_ready;
    int failed_srtp;             /* srtp_session_init's error inside the `connected` callback */
    dtls_srtp_profile_t profile; /* set once SRTP was keyed; kept after a close */
    /* media on this leg */
    uint16_t twcc_seq;
    uint32_t rtcp_ssrc;  /* our sender SSRC in RTCP feedback on this leg */
    uint8_t vp8_pt[128]; /* 1 where the payload type is VP8, resp. rtx */
    uint8_t rtx_pt[128];
    uint8_t rtx_apt[128]; /* rtx payload type -> the payload type it repairs (a=fmtp apt=) */
    uint32_t fid[PEER_MAX_STREAMS][2]; /* subscribe offer's a=ssrc-group:FID: media, rtx SSRC */
    int nfid;
    peer_leg_stats_t st;
} peer_leg_t;

/* One stream the peer sends. */
typedef struct {
    int enabled;
    uint8_t pt;
    uint8_t stream; /* trailer stream: 0 audio, 1 video */
    uint32_t ssrc;
    uint16_t seq;
    uint32_t ts;
    uint32_t trailer_seq;
    uint32_t clock_rate;
    int64_t period_ns; /* between packets (audio) or frames (video) */
    int64_t next_ns;
    int64_t start_ns;
    uint32_t start_ts;
    uint64_t packets, octets; /* for sender reports */
    char mid[4];
    char rid[4]; /* simulcast: sent in the rtp-stream-id extension; "" without */
} peer_tx_t;

/* One video stream the peer encodes: a simulcast layer, or the only one. */
typedef struct {
    peer_tx_t tx; /* its SSRC, numbering and trailer stream; the frame clock is peer.video's */
    unsigned kbps;
    uint16_t picture_id;
    uint8_t tl0picidx;
    unsigned tl_idx; /* frames since the temporal pattern restarted (at each key frame) */
    int force_keyframe;
} peer_vlayer_t;

/* One received SSRC: the public view plus what gap detection and PLI pacing need. */
typedef struct {
    peer_stream_stats_t s;
    int have_seq;
    int have_rtp;
    uint16_t max_rtp;  /* newest RTP sequence number */
    uint32_t last_ts;  /* and its timestamp */
    uint64_t rtp_seen; /* bit i: max_rtp - i arrived */
    int have_pic;
    uint16_t last_pic; /* VP8 picture id of the newest frame start */
    int64_t last_pli_ns;
    nackgen_t *nack;        /* send_nacks: video losses to ask for */
    struct audio_rx *audio; /* audio without trailers: its decoder (peer_opus.c) */
} peer_rx_t;

typedef struct peer_capture peer_capture_t; /* capture_srtp (peer_capture.c) */

struct peer {
    peer_opts_t o;
    char host[64];
    char *token;
    char *ca_file;
    char media_addr[64];

    X509 *cert; /* the one whose fingerprint the SDP carries */
    EVP_PKEY *key;
    X509 *alt_cert; /* wrong_certificate: what DTLS presents instead */
    EVP_PKEY *alt_key;
    char fingerprint[LG_CERTS_FINGERPRINT_MAX];
    dtls_ctx_t *dtls_ctx;
    dtls_ctx_t *dtls_server_ctx; /* full_ice only: for legs whose answer said a=setup:active */

    /* signaling */
    wsc_t *ws;
    int sig; /* SIG_* */
    int hello;
    int leaving;
    int lobby_reported; /* peer_join already returned PEER_LOBBY for this wait */
    unsigned req_seq;
    char req_id[24]; /* the blocking request waiting for its reply */
    int req_state;   /* REQ_* */
    int req_rc;
    int answer_ready; /* publish_answer taken */
    int64_t sub_seq;  /* seq of the last subscribe_offer answered, -1 none */

    /* SDP */
    char *sdp_text; /* the offer's text, PEER_SDP_MAX */
    uint64_t sess_id;
    char cname[17];
    char stream_id[37];
    char audio_track[37];
    char video_track[37];

    peer_leg_t legs[LEG_COUNT];

    /* media */
    peer_tx_t audio, video; /* video: the frame clock, mid and payload type of the video m-line */
    peer_vlayer_t vl[PEER_MAX_LAYERS]; /* what is sent: index 0 = lowest quality */
    int nvl;
    struct audio_tx *audio_tx; /* opus_tone_hz: the tone and its Opus encoder (peer_opus.c) */
    uint32_t rtx_ssrc;
    uint64_t frame_no;
    int sending;
    int consent;
    int64_t next_sr;
    int64_t last_remb_ns;
    peer_capture_t *capture; /* capture_srtp only */
    uint64_t rx_audio_seen;  /* audio packets arrived on the subscribe leg (rx_audio_drop_every) */
    uint8_t *txbuf;          /* PEER_TX_MAX + SRTP_SESSION_MAX_OVERHEAD + RTCP room */
    uint8_t *rxbuf;          /* PEER_RX_MAX */
    peer_rx_t *rx;           /* PEER_MAX_STREAMS */
    int nrx;
    uint32_t *lat; /* reservoir of PEER_LATENCY_SAMPLES, microseconds */
    uint32_t lat_n;
    uint32_t lat_max;
    uint64_t rng;

    peer_stats_t st; /* counters; derived fields are filled by peer_get_stats */
    int fatal;       /* error that stopped the peer, 0 while healthy */
    char err[256];
};

enum { SIG_NONE = 0, SIG_JOINING, SIG_LOBBY, SIG_JOINED, SIG_CLOSED };
enum { REQ_NONE = 0, REQ_WAIT, REQ_DONE, REQ_FAILED };

/* peer.c */
int64_t peer_now_ns(void);
uint64_t peer_rand64(peer_t *p);
void peer_rand_token(char *out, size_t n); /* n alphanumerics + NUL, from OpenSSL's RNG */
/* Records err as the peer's last error message and, when fatal, stops the peer. Returns rc. */
int peer_fail(peer_t *p, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void peer_note(peer_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Runs the loop until done(p, arg) is true (0), the peer failed (its error, negative), or the
 * deadline passed (PEER_LOOP_DEADLINE). done may be NULL (runs to the deadline). */
#define PEER_LOOP_DEADLINE 2
int peer_loop(peer_t *p, int64_t deadline, int (*done)(peer_t *, void *), void *arg);

/* peer_signal.c */
int sig_send_json(peer_t *p, const char *text);
void sig_on_readable(peer_t *p);
/* Sends `publish` with the offer; sig_wait_publish waits for its publish_answer (taken with
 * peer_set_answer) or error. */
int sig_send_publish(peer_t *p, const char *sdp, size_t len);
int sig_wait_publish(peer_t *p, int64_t deadline);

/* peer_sdp.c */
int sdp_build_offer(peer_t *p, sdp_session_t *s);
int sdp_build_subscribe_answer(peer_t *p, const sdp_session_t *offer, const peer_leg_t *leg,
                               sdp_session_t *ans);
/* Fills *r from a parsed relay SDP (its first bundled section): ICE, fingerprint, candidate. */
int sdp_read_remote(peer_t *p, const sdp_session_t *s, leg_remote_t *r);

/* peer_leg.c */
void leg_init(peer_t *p, peer_leg_t *leg, leg_kind_t kind);
int leg_start(peer_leg_t *leg, const leg_remote_t *remote);
void leg_close(peer_leg_t *leg);
void leg_tick(peer_leg_t *leg, int64_t now);
int64_t leg_next_wake(peer_leg_t *leg); /* INT64_MAX: nothing due */
short leg_poll_events(const peer_leg_t *leg);
void leg_on_poll(peer_leg_t *leg, short revents);
/* Sends one packet (framed for ICE-TCP). Counts a drop when the socket is full. */
void leg_send(peer_leg_t *leg, const uint8_t *data, size_t len);
/* Protects buf[0..len) (RTP, or RTCP when rtcp) in place and sends it. */
void leg_send_srtp(peer_leg_t *leg, uint8_t *buf, size_t len, size_t cap, int rtcp);

/* peer_ice.c: what a full ICE relay needs (peer_opts_t.full_ice) */
/* Answers a Binding request m (already parsed) received on the leg: checks FINGERPRINT, that
 * USERNAME is "<our ufrag>:<theirs>" and MESSAGE-INTEGRITY with our pwd, then sends a success
 * with XOR-MAPPED-ADDRESS (the leg's remote address) or a 400/401 error. */
void ice_answer_check(peer_leg_t *leg, const stun_msg_t *m);
/* Builds a check as the controlled agent: USERNAME, PRIORITY, ICE-CONTROLLED, MI, FINGERPRINT. */
int ice_build_controlled_check(const peer_leg_t *leg, const uint8_t *txid, uint32_t priority,
                               uint8_t *buf, size_t cap, size_t *len);

/* peer_media.c */
int media_init(peer_t *p);
void media_tick(peer_t *p, int64_t now);
int64_t media_next_wake(const peer_t *p);
/* rx_loss_pct: 1 if this inbound SRTP packet is to be dropped as simulated loss. */
int media_drop_inbound(peer_t *p, const peer_leg_t *leg, const uint8_t *buf, size_t len);
void media_on_rtp(peer_t *p, peer_leg_t *leg, const uint8_t *buf, size_t len);
void media_on_rtcp(peer_t *p, peer_leg_t *leg, const uint8_t *buf, size_t len);
void media_latency_summary(const peer_t *p, peer_stats_t *out);

/* peer_capture.c: capture_srtp */
/* Allocates the observer when capture_srtp is set (about 260 KB). Returns 0 or -1. */
int capture_init(peer_t *p);
void capture_free(peer_t *p);
/* An SRTP packet (not SRTCP) as received on leg, before loss simulation and unprotect. */
void capture_srtp(peer_t *p, const peer_leg_t *leg, const uint8_t *buf, size_t len);

/* peer_opus.c: real Opus audio */
/* opus_tone_hz: makes the tone's encoder (at peer_new). Returns 0, LG_ENOMEM, LG_EINVAL. */
int audio_tx_init(peer_t *p);
/* Encodes the next 20 ms of the tone into pl (cap bytes) padded by peer_opus_pad for the trailer.
 * Returns the payload length or a negative LG_E* code. */
int audio_tx_encode(peer_t *p, uint8_t *pl, size_t cap);
/* An audio packet without a trailer on rx, arrived on leg: decodes it (see
 * peer_mixed_audio_stats_t) and sends a receiver report for the stream every second. */
void audio_rx_packet(peer_t *p, peer_leg_t *leg, peer_rx_t *rx, const uint8_t *payload, size_t len,
                     uint16_t seq, size_t srtp_len, int64_t now);
/* Frees the encoder and every stream's decoder. */
void audio_free(peer_t *p);

#endif
