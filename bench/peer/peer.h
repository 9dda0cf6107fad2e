/* A C WebRTC peer that joins the relay like a browser: WebSocket signaling, a publish connection
 * it offers (ICE as the controlling full agent, DTLS client, SRTP) with synthetic Opus-like audio
 * and VP8-like video, and the subscribe connection the relay offers. Shared by the integration
 * tests and the bench's load generator. */
#ifndef LG_PEER_H
#define LG_PEER_H

/*
 * Contract
 * --------
 * Blocking, one thread per peer: every call runs the peer's own poll() loop until it is done or
 * its timeout passes, and returns. A peer_t is used by one thread at a time; peers on different
 * threads are independent (no global state besides srtp_global_init() and OpenSSL's own). Every
 * loop is bounded by its caller's timeout.
 *
 * Lifecycle: peer_new -> peer_join -> peer_publish -> peer_run ... -> peer_leave -> peer_free.
 * A peer that only receives skips peer_publish. While any call runs, the peer also answers the
 * relay's subscribe_offer pushes (subscribe_answer with the offer's seq) and brings the subscribe
 * connection up (a second ICE + DTLS + SRTP leg), so media from other participants is counted in
 * the same statistics.
 *
 * Other servers (the bench's Janus client, bench/sys_janus.c) do their own signaling and drive
 * the lower-level steps: peer_build_offer -> peer_set_answer -> peer_connect for publishing,
 * peer_answer_subscribe for each offer of theirs, peer_local_address for the host candidate they
 * want trickled, and peer_run. Against a full ICE agent set opts.full_ice.
 *
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h); peer_last_error() names what failed, e.g.
 * "ICE: no Binding success from 127.0.0.1:40000 (udp) within 5 s", "DTLS: fingerprint mismatch:
 * ...", "signaling: publish refused: bad_sdp: ...". Codes the calls use:
 *   LG_EINVAL    bad argument or option
 *   LG_ESTATE    called in the wrong order (publish before join...)
 *   LG_EIO       a socket failed, or the relay closed the WebSocket
 *   LG_EPERM     the relay refused the request (an `error` reply; its code is in the message)
 *   LG_EEXPIRED  the timeout passed before the step finished
 *   LG_EMALFORMED the relay's SDP could not be parsed or used (no candidate of the asked kind)
 *   LG_EFINGERPRINT the relay's DTLS certificate does not match its answer's a=fingerprint
 *   LG_ECRYPTO   the DTLS handshake failed otherwise, or OpenSSL / libsrtp failed
 *   LG_ENOMEM
 *
 * Payload format: every RTP payload the peer sends ends with a PEER_TRAILER_SIZE-byte trailer
 * (magic, sender id, stream, per-stream sequence, CLOCK_MONOTONIC send time) that receivers use
 * to count loss and reordering per sender and to measure latency on one machine. The rest of the
 * payload looks like the codec's: an Opus TOC byte for audio, a VP8 payload descriptor with a
 * 15-bit picture id (and, starting a key frame, a key frame header media/vp8.h recognises) for
 * video.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfu/dtls.h"

typedef struct peer peer_t;

typedef enum { PEER_TRANSPORT_UDP = 0, PEER_TRANSPORT_TCP } peer_transport_t;
typedef enum { PEER_FAMILY_IPV4 = 0, PEER_FAMILY_IPV6 } peer_family_t;

/* Options; a zero field takes the default shown. Strings are copied by peer_new. */
typedef struct {
    const char *host;    /* relay signaling address literal; "127.0.0.1" */
    uint16_t port;       /* relay HTTPS port; required */
    const char *ca_file; /* PEM to verify the relay's TLS certificate; NULL: no verification */
    const char *token;   /* join token (JWT); required for peer_join */
    bool mixed_audio;    /* join options */
    bool low_bandwidth;

    peer_transport_t transport; /* which relay candidate to use: UDP, or ICE-TCP (RFC 4571) */
    peer_family_t family;       /* IPv4 or IPv6 candidate */
    const char *media_addr;     /* connect here instead of the candidate's address (same port) */

    uint32_t sender_id;         /* carried in every payload trailer; 0: random non-zero */
    bool no_audio;              /* offer and send no audio m-line */
    bool no_video;              /* offer and send no video m-line */
    unsigned audio_payload;     /* bytes per audio packet, trailer included; 60 (min 32) */
    unsigned video_kbps;        /* video bitrate; 500 */
    unsigned video_fps;         /* 30 */
    unsigned keyframe_interval; /* frames between key frames; 90 */
    unsigned audio_level;       /* -dBov in ssrc-audio-level, 1 (loud)..127 (silent); 30 */

    int ice_timeout_ms;           /* ICE checks give up after; 5000 */
    int dtls_timeout_ms;          /* DTLS handshake gives up after (from ICE success); 10000 */
    unsigned consent_interval_ms; /* consent checks every interval +-20 %; 3000 */
    unsigned consent_timeout_ms;  /* no consent answer for this long fails the leg; 30000 */
    bool no_consent;              /* never send consent checks (see also peer_set_consent) */

    bool wrong_certificate; /* DTLS presents another certificate than the offer's fingerprint */
    unsigned rx_loss_pct;   /* subscribe leg: drop this % of received video packets (0..50) */
    bool send_nacks;        /* subscribe leg: NACK missing video packets (RFC 4585) */
    unsigned remb_bps;      /* subscribe leg: report this estimate in REMB every 250 ms */
    bool pli_flood;         /* subscribe leg: send a PLI for every video packet (abuse test) */
    bool aes_cm_only;       /* offer only SRTP_AES128_CM_SHA1_80 in DTLS use_srtp */
    unsigned socket_buffer; /* SO_RCVBUF/SO_SNDBUF of the media sockets in bytes (the kernel caps
                               it at net.core.rmem_max/wmem_max); 0: the system default */

    /* The relay is a full ICE agent (Janus, libnice) rather than ICE-lite: the peer answers its
     * connectivity checks on every leg (Binding success with XOR-MAPPED-ADDRESS, integrity with
     * the leg's own ice-pwd), is the controlled agent on the subscribe leg the relay offers, and
     * takes an a=setup:active answer to its publish offer (it is then the DTLS server). */
    bool full_ice;
} peer_opts_t;

typedef enum {
    PEER_ICE_NEW = 0,
    PEER_ICE_CONNECTING, /* ICE-TCP: TCP connect under way */
    PEER_ICE_CHECKING,   /* Binding requests sent, no success yet */
    PEER_ICE_CONNECTED,  /* a Binding success arrived: DTLS may run */
    PEER_ICE_FAILED,     /* no success before the deadline, or consent lost */
    PEER_ICE_CLOSED
} peer_ice_state_t;

/* One connection (leg) to the relay. */
typedef struct {
    peer_ice_state_t ice;
    dtls_state_t dtls;
    dtls_srtp_profile_t profile; /* DTLS_SRTP_NONE until SRTP is keyed (kept after a close) */
    char remote[96];             /* "127.0.0.1:40000/udp": the chosen relay candidate */
    uint64_t checks_sent;        /* Binding requests (checks and consent) */
    uint64_t checks_ok;          /* verified Binding successes */
    uint64_t stun_errors;        /* error responses, bad integrity, unmatched transactions */
    uint64_t consent_sent;
    uint64_t checks_answered; /* full_ice: the relay's checks answered with a Binding success */
    char relay_state[16];  /* the relay's view from `media_state` pushes: "connected", "closed" */
    char relay_detail[64]; /* its detail: the SRTP profile, or why the relay closed it */
} peer_leg_stats_t;

/* Counters and the latency summary. Packet and byte counts are of RTP before protection (sent)
 * or after unprotection (received). */
typedef struct {
    uint64_t audio_packets_sent;
    uint64_t video_packets_sent;
    uint64_t bytes_sent;
    uint64_t frames_sent; /* video frames */
    uint64_t keyframes_sent;
    uint64_t rtcp_sent;
    uint64_t send_drops; /* the socket or the ICE-TCP queue was full */

    uint64_t packets_received; /* RTP, both legs */
    uint64_t bytes_received;
    uint64_t rtcp_received;
    uint64_t srtp_failures;         /* SRTP/SRTCP unprotect failures (auth, replay, malformed) */
    uint64_t srtp_protect_failures; /* should stay 0 */
    uint64_t foreign_packets;       /* RTP without a valid trailer (e.g. a mixed Opus stream) */
    uint64_t gaps;                  /* trailer sequence numbers skipped, summed over streams */
    uint64_t late;                  /* packets older than one already received (reorder, RTX) */
    uint64_t keyframes_received;
    uint64_t plis_received, firs_received, nacks_received, rembs_received, twccs_received;
    uint64_t plis_sent;
    uint64_t rx_dropped; /* received packets dropped on purpose (rx_loss_pct) */
    uint64_t nacks_sent; /* sequence numbers NACKed */
    uint32_t streams;    /* distinct SSRCs received */

    /* send -> receive latency of received packets with a trailer (one machine: one clock) */
    uint64_t latency_samples; /* packets measured (the percentiles use a bounded sample) */
    uint32_t latency_p50_us, latency_p95_us, latency_p99_us, latency_max_us;

    peer_leg_stats_t publish;
    peer_leg_stats_t subscribe;
    uint64_t subscribe_offers; /* subscribe_offer pushes answered */
    uint32_t subscribe_mlines; /* m-lines of the last subscribe offer answered (any server) */
    uint64_t pushes;           /* other pushes received (participant_joined, track_added...) */
    uint64_t signaling_errors; /* error replies not tied to a blocking call, unreadable messages */
    char participant_id[65];   /* from `joined` */
    char active_speaker[65];   /* participant id of the last `active_speaker` push */
    uint64_t active_speaker_changes;
    char closed_by[32]; /* "kicked", "meeting_ended", "denied", "closed" or "" */
    char last_error[256];
} peer_stats_t;

typedef enum { PEER_STREAM_UNKNOWN = 0, PEER_STREAM_AUDIO, PEER_STREAM_VIDEO } peer_stream_kind_t;

/* One received SSRC. */
typedef struct {
    uint32_t ssrc;
    uint32_t sender_id; /* from the trailer (0: none seen) */
    peer_stream_kind_t kind;
    uint8_t payload_type;
    int subscribe_leg; /* 1: arrived on the subscribe connection */
    uint64_t packets, bytes, gaps, late, keyframes, foreign;
    uint32_t highest_seq; /* highest trailer sequence seen */
} peer_stream_stats_t;

/* Maximum distinct received SSRCs tracked; further ones are counted only in the totals. */
#define PEER_MAX_STREAMS 128
/* Latency samples kept for percentiles (a uniform reservoir over the whole run). */
#define PEER_LATENCY_SAMPLES 16384

/* Returned by peer_join when the room has a lobby and the relay answered lobby_waiting. */
#define PEER_LOBBY 1

/* --- lifecycle ------------------------------------------------------------------------------- */

/* Makes a peer: copies the options, generates its ECDSA P-256 certificate (and a second one for
 * wrong_certificate), ICE credentials and SSRCs. Opens nothing yet. Returns NULL with `err`
 * naming the cause (bad option, OpenSSL failure, out of memory). */
peer_t *peer_new(const peer_opts_t *opts, char *err, size_t errlen);

/* Closes every socket (a polite DTLS close_notify and WebSocket close first) and frees the peer.
 * Safe with NULL. */
void peer_free(peer_t *p);

/* --- signaling ------------------------------------------------------------------------------- */

/* Connects to wss://host:port/ws, expects `hello`, sends `join` with the token and waits for
 * `joined`. Returns 0 when joined, PEER_LOBBY when the relay put the peer in the lobby (call
 * peer_join again to keep waiting for `joined`), LG_EPERM when refused (error, denied; the code is
 * in the message), LG_EIO, LG_EEXPIRED. */
int peer_join(peer_t *p, int timeout_ms);

/* Sends `mute` for "audio" or "video" and waits for `ok`. Returns 0 or an error. */
int peer_mute(peer_t *p, const char *kind, bool muted, int timeout_ms);

/* Sends `leave`, waits for `ok` (bounded), and closes the WebSocket. Returns 0 or an error. */
int peer_leave(peer_t *p, int timeout_ms);

/* --- publishing ------------------------------------------------------------------------------ */

/* After peer_join: sends the offer as `publish`, waits for `publish_answer`, parses it, picks the
 * relay candidate asked for in the options, then runs ICE and DTLS until SRTP is keyed. Media
 * starts flowing with peer_run. Again after the relay closed the publish transport: a new leg
 * with fresh ICE credentials. Returns 0 or an error (see Contract). */
int peer_publish(peer_t *p, int timeout_ms);

/* Sends and receives media for duration_ms (also answering signaling and keeping consent).
 * Returns 0 when the time ran out normally, or the error that stopped the peer (the relay closed
 * the WebSocket, a leg failed). */
int peer_run(peer_t *p, int duration_ms);

/* Runs the loop (like peer_run) until the subscribe connection has SRTP keys, or timeout.
 * Returns 0, LG_EEXPIRED or the error that stopped the peer. */
int peer_wait_subscribed(peer_t *p, int timeout_ms);

/* Runs the loop until the relay reports (`media_state`) that the publish or subscribe transport
 * reached `state` ("connected", "closed"), or timeout. Returns 0, LG_EEXPIRED or the error that
 * stopped the peer. A transport the relay closed may be published again with peer_publish. */
int peer_wait_relay_state(peer_t *p, bool subscribe, const char *state, int timeout_ms);

/* Starts or stops sending consent checks from now on (the consent-timeout test). */
void peer_set_consent(peer_t *p, bool enabled);

/* Starts or stops sending media (the publish leg stays up). */
void peer_set_sending(peer_t *p, bool enabled);

/* --- results --------------------------------------------------------------------------------- */

/* Fills *out (latency percentiles are computed now). */
void peer_get_stats(const peer_t *p, peer_stats_t *out);

/* Received streams: how many, and one by index (0..count-1). Returns 0 or LG_EINVAL. */
int peer_stream_count(const peer_t *p);
int peer_get_stream(const peer_t *p, int index, peer_stream_stats_t *out);

/* Copies up to cap latency samples (microseconds, the uniform reservoir the percentiles use) into
 * out and returns how many; *measured (may be NULL) gets the number of packets they sample. */
size_t peer_latency_samples(const peer_t *p, uint32_t *out, size_t cap, uint64_t *measured);

/* Forgets the latency samples and maximum (the bench calls it when a measurement window opens). */
void peer_reset_latency(peer_t *p);

/* The last error message ("" if none). Owned by the peer. */
const char *peer_last_error(const peer_t *p);

/* The trailer sender id this peer stamps on its payloads. */
uint32_t peer_sender_id(const peer_t *p);

/* --- lower level: the steps of peer_publish, for tests without a relay ----------------------- */

/* Writes the publish offer (see the Contract of the module) into out. Returns 0, LG_ENOSPC. The
 * offer stays the same for the life of the peer. */
int peer_build_offer(peer_t *p, char *out, size_t cap, size_t *len);

/* Takes the relay's answer to that offer: ICE credentials, fingerprint and the candidate matching
 * the options. Returns 0, LG_EMALFORMED (message names the line or what is missing). */
int peer_set_answer(peer_t *p, const char *sdp, size_t len);

/* Runs ICE then DTLS on the publish leg until SRTP is keyed. Returns 0 or an error. */
int peer_connect(peer_t *p, int timeout_ms);

/* Answers a subscribe offer: builds the answer (setup:active, the peer's own ICE credentials for
 * that leg and its fingerprint) into out and starts the subscribe leg's ICE toward the offer's
 * candidate (the leg then progresses inside any blocking call). A renegotiation with the same
 * ICE credentials keeps the running leg. Returns 0, LG_EMALFORMED, LG_ENOSPC. */
int peer_answer_subscribe(peer_t *p, const char *offer, size_t len, char *out, size_t cap,
                          size_t *out_len);

/* The local transport address of the publish (or subscribe) leg's socket, once the leg started
 * (peer_set_answer, peer_answer_subscribe), as "IP PORT" for a trickled host candidate. Returns
 * 0, LG_ESTATE (no socket yet) or LG_ENOSPC. */
int peer_local_address(const peer_t *p, bool subscribe, char *out, size_t cap);

/* --- payload trailer (pure) ------------------------------------------------------------------ */

#define PEER_TRAILER_SIZE  24
#define PEER_TRAILER_MAGIC 0x4C475031u /* "LGP1" */

typedef struct {
    uint32_t sender_id;
    uint8_t stream; /* 0 audio, 1 video */
    uint32_t seq;
    uint64_t send_ns; /* CLOCK_MONOTONIC */
} peer_trailer_t;

/* Writes the trailer into the last PEER_TRAILER_SIZE bytes of payload[0..len). Returns 0 or
 * LG_EINVAL (len too short). */
int peer_trailer_write(uint8_t *payload, size_t len, const peer_trailer_t *t);

/* Reads it back. Returns 0, LG_ETRUNC (too short) or LG_ENOTFOUND (no magic). */
int peer_trailer_read(const uint8_t *payload, size_t len, peer_trailer_t *t);

#endif
