/* A C WebRTC peer that joins the relay like a browser: WebSocket signaling, a publish connection
 * it offers (ICE as the controlling full agent, DTLS client, SRTP) with synthetic Opus-like audio
 * (or real Opus: opus_tone_hz) and VP8-like video, and the subscribe connection the relay offers.
 * Shared by the integration tests and the bench's load generator. */
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
 * payload looks like the codec's: an Opus TOC byte for audio (or real Opus with opus_tone_hz,
 * the trailer in its padding), a VP8 payload descriptor with a 15-bit picture id (and, starting a
 * key frame, a key frame header media/vp8.h recognises) for video.
 *
 * Simulcast (opts.simulcast_layers 2 or 3): the offer carries a=rid:<rid> send per layer and
 * a=simulcast:send with the highest quality first ("h;m;l", "h;l"; lowest first, "l;m;h", with
 * opts.simulcast_low_first, as mediasoup-client and LiveKit apps order theirs) and no a=ssrc
 * lines, as Chromium's does, plus the mid, rtp-stream-id and repaired-rtp-stream-id extensions.
 * Each layer is its own SSRC (random, like its sequence and timestamp bases) carrying its rid in
 * every packet, each a quarter of the rate of the one above (1/16, 1/4, 1/1 of video_kbps for three
 * layers, 1/4 and 1/1 for two), with its own picture ids,
 * TL0PICIDX and key frames; frames are captured once and sent on every layer. A PLI or FIR naming
 * a layer's SSRC makes that layer (only) send a key frame; one naming no known SSRC makes every
 * layer send one. Layers are indexed from 0 = lowest quality in this API; the trailer's stream
 * byte is 1 + layer index (1 for single-stream video).
 *
 * Temporal layers (opts.temporal_layers 2 or 3): the VP8 descriptor also carries TL0PICIDX and
 * TID/Y (the L and T bits), in libwebrtc's patterns restarted at each key frame: L1T3 TIDs
 * 0,2,1,2 and L1T2 0,1. The layer sync bit Y is set on key frames and, every other pattern cycle,
 * on the TID 1 frame and the TID 2 frame right after TL0 (which then depend only on TL0), as in
 * Chromium's stream. Frame sizes follow libwebrtc's rate split (TL0 40 %, TL1 20 %, TL2 40 % of a
 * layer's rate for three; 60/40 for two); key frames are three times the average frame.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfu/dtls.h"

typedef struct peer peer_t;

/* Simulcast layers a peer sends at most, and VP8 temporal layer ids counted on receive. */
#define PEER_MAX_LAYERS 3
#define PEER_MAX_TIDS   4

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
    unsigned simulcast_layers;  /* 0 or 1: one video stream; 2 or 3: simulcast (see Contract) */
    bool simulcast_low_first;   /* simulcast: list the rids lowest quality first in the offer */
    unsigned temporal_layers;   /* VP8 temporal layers per stream, 0 or 1 (no TID), 2 or 3 */

    /* Real Opus (bench/peer/peer_opus.c). With opus_tone_hz set, the audio is a sine of that
     * frequency (-12 dBFS peak) under a 4 Hz syllable-like envelope of 50 % depth, encoded by
     * libopus as a browser would: 48 kHz mono, 20 ms frames, OPUS_APPLICATION_VOIP, VBR at
     * opus_kbps, in-band FEC sized for 10 % loss. The envelope makes Opus's voice activity
     * detection see speech, so most packets carry FEC (a steady tone gets it in about one packet
     * in eight); the carrier holds 2/3 of the power, the rest lies 4 Hz to either side. The
     * encoder is made by peer_new. Every packet is padded (RFC 6716 3.2.5) so that the payload
     * trailer lies in its padding, which decoders skip: receivers still count loss and latency, and
     * the relay decodes and mixes the audio. audio_payload is then unused. */
    unsigned opus_tone_hz; /* 0: the synthetic payload of audio_payload bytes; 50..12000 Hz */
    unsigned opus_kbps;    /* encoder bitrate with opus_tone_hz, 6..128; 32 */

    int ice_timeout_ms;           /* ICE checks give up after; 5000 */
    int dtls_timeout_ms;          /* DTLS handshake gives up after (from ICE success); 10000 */
    unsigned consent_interval_ms; /* consent checks every interval +-20 %; 3000 */
    unsigned consent_timeout_ms;  /* no consent answer for this long fails the leg; 30000 */
    bool no_consent;              /* never send consent checks (see also peer_set_consent) */

    bool wrong_certificate; /* DTLS presents another certificate than the offer's fingerprint */
    unsigned rx_loss_pct;   /* subscribe leg: drop this % of received video packets (0..50) */
    unsigned rx_audio_drop_every; /* subscribe leg: drop every Nth received audio packet (Opus
                                     payload type; counted in rx_dropped); 0: none */
    bool send_nacks;              /* subscribe leg: NACK missing video packets (RFC 4585) */
    bool no_rtx;       /* subscribe leg: refuse RTX in the answer (resends come in place) */
    bool capture_srtp; /* subscribe leg: compare the SRTP bytes of every sequence number received
                          more than once (srtp_index_reuse, srtp_index_repeats) */
    unsigned remb_bps; /* subscribe leg: report this estimate in REMB every 250 ms (see
                          peer_set_remb) */
    bool pli_flood;    /* subscribe leg: send a PLI for every video packet (abuse test) */
    bool aes_cm_only;  /* offer only SRTP_AES128_CM_SHA1_80 in DTLS use_srtp */
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
    uint64_t frames_sent;    /* video frames captured (each is sent on every simulcast layer) */
    uint64_t keyframes_sent; /* key frames sent, all layers */
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
    /* simulcast, by layer index (0 = lowest; single-stream video is layer 0) */
    uint64_t keyframes_by_layer[PEER_MAX_LAYERS];
    uint64_t plis_by_layer[PEER_MAX_LAYERS]; /* PLIs and FIRs naming that layer's SSRC */
    uint64_t rx_dropped; /* dropped on purpose (rx_loss_pct, rx_audio_drop_every) */
    uint64_t nacks_sent; /* sequence numbers NACKed */
    /* capture_srtp: an SSRC and sequence number (one SRTP index) received again, before simulated
     * loss and unprotect, with the same SRTP bytes (a safe resend) or other bytes (the sender
     * reused the index for other data: GCM nonce reuse; must stay 0) */
    uint64_t srtp_index_repeats, srtp_index_reuse;
    uint64_t rtx_received; /* subscribe leg: RTX packets (RFC 4588) restored to their stream */
    uint32_t streams;      /* distinct SSRCs received */

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
    /* What a forwarding relay's rewrite shows: the trailer stream (1 + simulcast layer index for
     * video) of the newest packet, how often it changed on this SSRC and how many of those
     * changes started with a packet starting a VP8 key frame; RTP sequence numbers skipped when a
     * newer one arrived (losses, or holes the sender left), how many of those arrived later
     * (repaired, e.g. by a NACK) and numbers that arrived twice (the last two within 64 of the
     * newest); in-order packets whose RTP timestamp went back, or at a stream change did not move
     * forward. */
    uint8_t stream;
    uint64_t stream_changes, changes_at_keyframe;
    uint64_t rtp_gaps, rtp_repaired, rtp_duplicates, ts_regressions;
    uint64_t tid_packets[PEER_MAX_TIDS]; /* VP8 packets by temporal layer id (those with a TID) */
    /* in-order VP8 frame starts whose picture id is not after the previous frame's (a decoder
     * drops those as old), or at a stream change is not exactly the previous one's + 1 */
    uint64_t picture_id_breaks;
} peer_stream_stats_t;

/* One received audio SSRC whose packets carry no trailer (the relay's mixed stream, or any sender
 * that is not a C peer). The peer decodes it in arrival order with a libopus decoder of its own:
 * a sequence gap of n packets is made up by n - 1 packets of loss concealment and, for the last
 * lost packet, the next packet's in-band FEC when it carries some (else concealment too); a gap
 * longer than PEER_AUDIO_MAX_CONCEAL packets restarts the decoder instead. Units are packets.
 * The peer sends a receiver report (RFC 3550) for each such stream every second, so the relay
 * learns its loss (and sizes the mix's in-band FEC for it). */
typedef struct {
    uint32_t ssrc;
    uint64_t packets;       /* RTP packets received */
    uint64_t bytes;         /* their RTP payload bytes (the Opus packets) */
    uint64_t srtp_bytes;    /* the SRTP packets as received: RTP header, payload, auth tag */
    uint64_t frames;        /* packets decoded */
    uint64_t samples;       /* 48 kHz samples produced: decoded, FEC-recovered and concealed */
    uint64_t plc;           /* lost packets made up by packet loss concealment */
    uint64_t fec_recovered; /* lost packets decoded from the next packet's in-band FEC */
    uint64_t lost_reset;    /* lost packets of gaps too long to conceal (decoder restarted) */
    uint64_t decode_errors; /* packets the decoder rejected */
    uint64_t late;          /* older than one already decoded: counted, not decoded */
} peer_mixed_audio_stats_t;

#define PEER_AUDIO_MAX_CONCEAL 50 /* packets; one second of 20 ms packets */

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

/* Changes the estimate the subscribe leg reports in REMB (0 stops reporting); the new value goes
 * out with the next video packet received, then every 250 ms. */
void peer_set_remb(peer_t *p, unsigned bps);

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

/* Received audio streams without trailers (peer_mixed_audio_stats_t), in order of their first
 * packet: how many, and one by index (0..count-1). Returns 0 or LG_EINVAL. */
int peer_mixed_audio_count(const peer_t *p);
int peer_get_mixed_audio(const peer_t *p, int index, peer_mixed_audio_stats_t *out);

/* The level of a tone of frequency hz in the last second of that stream's decoded audio (what a
 * listener would have heard, concealment included; the first half second of the stream is left
 * out as warm-up), in dB relative to the audio's total power: 0 when all the power is in that
 * tone, about -4.8 for each of three equal steady tones, far below (-40 or less) for an absent one;
 * -200 for silence. A Goertzel filter over a Hann window: the resolution is about 2 Hz. Returns 0,
 * LG_EINVAL (bad index, hz outside 1..23999), LG_ESTATE (less than the warm-up plus one second
 * decoded yet). */
int peer_mixed_tone_level(const peer_t *p, int index, double hz, double *db);

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
    uint8_t stream; /* 0 audio, 1 video (1 + layer index with simulcast) */
    uint32_t seq;
    uint64_t send_ns; /* CLOCK_MONOTONIC */
} peer_trailer_t;

/* Writes the trailer into the last PEER_TRAILER_SIZE bytes of payload[0..len). Returns 0 or
 * LG_EINVAL (len too short). */
int peer_trailer_write(uint8_t *payload, size_t len, const peer_trailer_t *t);

/* Reads it back. Returns 0, LG_ETRUNC (too short) or LG_ENOTFOUND (no magic). */
int peer_trailer_read(const uint8_t *payload, size_t len, peer_trailer_t *t);

/* Pads the Opus packet pkt[0..len) in place (the buffer holds cap bytes) into a code-3 packet
 * whose last PEER_TRAILER_SIZE bytes or more are padding (RFC 6716 3.2.5), to be overwritten by
 * peer_trailer_write: a decoder skips padding, so the packet decodes exactly as before. Returns
 * the new length, LG_EMALFORMED (not a valid Opus packet) or LG_ENOSPC. */
int peer_opus_pad(uint8_t *pkt, size_t len, size_t cap);

#endif
