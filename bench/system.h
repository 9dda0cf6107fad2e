/* The bench's "system under test": a server process (Legation, Janus, or the raw UDP forwarder)
 * and the participants the load generator connects to it, behind one small interface so every
 * scenario runs unchanged against each system in the same run. */
#ifndef LG_BENCH_SYSTEM_H
#define LG_BENCH_SYSTEM_H

/*
 * Contract
 * --------
 * A system is described by a const bench_system_ops_t (bench_sys_legation, bench_sys_raw,
 * bench_sys_janus). The bench owns the bench_system_t, sets .ops and .env, and calls:
 *
 *   start -> (join ...)* -> stop            once per scenario run (a fresh server each time)
 *
 * start spawns the server as a child process pinned to env->server_cpu (sched_setaffinity in the
 * child, before exec), waits until it answers (bounded), and keeps its state in sys->impl. pid
 * returns the server's pid while it runs (the bench reads /proc/PID/stat and /proc/PID/status).
 * stop terminates the process (SIGTERM, then SIGKILL after a bound), reaps it and frees
 * sys->impl; it is safe after a failed start.
 *
 * join creates one participant: signaling, then (for encrypted systems) ICE + DTLS + SRTP on every
 * leg it needs, and returns once the publish leg is keyed (or at once for a subscriber whose
 * subscribe leg comes up later, inside run). join is called from the load generator's threads,
 * several at once: it must be thread-safe with respect to the system (the server state it touches
 * is the server's, not the process's). A participant starts with sending OFF.
 *
 * A participant is driven by one thread at a time (the load generator's thread for it). Its ops:
 *   run           sends (when sending) and receives for duration_ms, answering signaling and
 *                 keeping consent; returns 0 or the negative LG_E* error that stopped it.
 *   set_sending   starts/stops media (the legs stay up). Counters keep running totals.
 *   counts        totals since join (see bench_counts_t).
 *   streams       per received (sender, stream) counts, up to cap; returns how many written.
 *   latency       copies up to cap one-way latency samples (microseconds, send timestamp from the
 *                 payload trailer, CLOCK_MONOTONIC) taken since the last reset_latency, a uniform
 *                 sample of the *measured count; returns how many written.
 *   reset_latency forgets the samples (called at the start of a measurement window).
 *   last_error    a message naming what failed ("" if none), owned by the participant.
 *   leave         leaves politely (bounded) and frees the participant and its handle.
 *
 * Payload: every RTP payload a participant sends ends with the PEER_TRAILER_SIZE-byte trailer of
 * bench/peer/peer.h (sender id, stream 0 audio / 1 video, per-stream sequence from 0, send time),
 * so loss and latency are counted identically for every system. Rates: audio 50 packets/s of
 * audio_payload bytes; video video_fps frames/s of video_kbps, split into <= 1200-byte payloads,
 * a key frame (3x) every 90 frames — what peer.h sends.
 *
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h), with err[] naming the cause.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef enum { BENCH_TRANSPORT_UDP = 0, BENCH_TRANSPORT_TCP } bench_transport_t;

/* SO_RCVBUF/SO_SNDBUF every participant's media socket asks for (peer_opts_t.socket_buffer), so
 * a briefly descheduled load generator does not drop what the server sent. */
#define BENCH_SOCKET_BUFFER (4 << 20)

/* Where and how the servers run; filled by the bench from its flags, read-only for systems. */
typedef struct {
    const char *host;       /* address servers listen on and participants use: "127.0.0.1", or the
                               namespace's veth address ("10.99.0.1") under --netns */
    uint16_t signal_port;   /* legation HTTPS / janus HTTP / raw control+data port */
    uint16_t media_port;    /* legation media-port, first of janus's rtp_port_range */
    int server_cpu;         /* CPU the server is pinned to; -1: not pinned */
    int client_cpu;         /* CPU the load generator is pinned to (informational); -1 */
    const char *netns;      /* network namespace the whole bench already runs in, or NULL */
    const char *relay_path; /* legation binary */
    const char *raw_path;   /* legation-raw-forwarder binary */
    const char *janus_path; /* janus binary (NULL: "janus" on PATH) */
    const char *work_dir;   /* this run's scratch directory (removed at exit); use a subdir */
    int workers;            /* media workers / event-loop threads the server may use; 1 */
    int verbose;            /* 0 quiet; 1 server logs kept in work_dir; 2 also echoed */
} bench_env_t;

/* What one participant does. Zero fields take the default shown. */
typedef struct {
    const char *room;       /* room name, [A-Za-z0-9_.-]{1,64}; systems map it to their ids */
    const char *name;       /* unique in the run, [A-Za-z0-9_.-]{1,64} */
    uint32_t sender_id;     /* trailer sender id, unique non-zero in the run */
    bool pub_audio;         /* publish Opus-like audio, 50 packets/s */
    bool pub_video;         /* publish VP8-like video */
    unsigned audio_payload; /* bytes per audio packet, trailer included; 60 */
    unsigned opus_tone_hz;  /* pub_audio as real Opus of a sine at this frequency (peer.h's
                               opus_tone_hz: 32 kbit/s, the trailer in the padding) instead of
                               audio_payload bytes; 0: the synthetic payload */
    unsigned video_kbps;    /* 1500 */
    unsigned video_fps;     /* 30 */
    bool subscribe;         /* receive every other participant's media in the room */
    bool mixed_audio;       /* ask for one mixed audio stream (a system without mixing refuses
                               with LG_EUNSUPPORTED) */
    bench_transport_t transport;
    int timeout_ms; /* bound for join (signaling + ICE + DTLS); 15000 */
} bench_participant_opts_t;

/* Totals since join. Packet counts are RTP (before protection / after unprotection). */
typedef struct {
    uint64_t audio_sent, video_sent;
    uint64_t bytes_sent;
    uint64_t packets_received; /* RTP, every stream */
    uint64_t bytes_received;
    uint64_t gaps, late;      /* trailer sequence gaps / packets older than the highest seen */
    uint64_t crypto_failures; /* SRTP/SRTCP unprotect failures; 0 for raw */
    uint64_t send_drops;      /* the socket was full */
    bool pub_encrypted;       /* the publish leg runs SRTP keyed by DTLS */
    bool sub_encrypted;       /* the subscribe leg runs SRTP keyed by DTLS */
    char profile[32];         /* SRTP profile ("AEAD_AES_128_GCM"), "none" for raw */
    /* received audio without trailers (a mixed stream), decoded, summed over such streams; 0 for
     * systems that do not decode (peer.h's peer_mixed_audio_stats_t) */
    uint64_t mix_packets;
    uint64_t mix_payload_bytes; /* Opus bytes */
    uint64_t mix_srtp_bytes;    /* SRTP packets as received (RTP header and auth tag included) */
    uint64_t mix_plc;           /* lost packets concealed */
    uint64_t mix_decode_errors;
} bench_counts_t;

/* The server's audio mixers, summed over its workers (Legation's /metrics counters). */
typedef struct {
    double cpu_ns; /* CPU time spent inside the mixers (legation_mixer_cpu_nanoseconds_total) */
    double decodes, encodes, concealed, fec_recovered, packets;
} bench_mixer_counts_t;

/* One received (sender, stream). */
typedef struct {
    uint32_t sender_id;
    uint8_t stream;   /* 0 audio, 1 video */
    uint64_t packets; /* received, duplicates included */
    uint64_t late;    /* older than the highest sequence seen (reorder, duplicate, RTX) */
    uint64_t gaps;    /* sequence numbers skipped */
} bench_rx_stream_t;

typedef struct bench_system bench_system_t;
typedef struct bench_participant bench_participant_t;

typedef struct {
    int (*run)(bench_participant_t *p, int duration_ms);
    void (*set_sending)(bench_participant_t *p, bool on);
    void (*counts)(const bench_participant_t *p, bench_counts_t *out);
    int (*streams)(const bench_participant_t *p, bench_rx_stream_t *out, int cap);
    size_t (*latency)(const bench_participant_t *p, uint32_t *out, size_t cap, uint64_t *measured);
    void (*reset_latency)(bench_participant_t *p);
    const char *(*last_error)(const bench_participant_t *p);
    void (*leave)(bench_participant_t *p); /* also frees p */
} bench_participant_ops_t;

/* A participant: the ops and the system's own handle (peer_t *, raw socket, Janus client). */
struct bench_participant {
    const bench_participant_ops_t *ops;
    void *impl;
    bench_system_t *sys;
    char name[65];
    uint32_t sender_id;
    int64_t join_start_ns; /* CLOCK_MONOTONIC: join called (after any token minting) */
    int64_t joined_ns;     /* signaling accepted the join */
    int64_t ready_ns;      /* the publish leg (or, for a pure subscriber, signaling) is ready */
};

typedef struct {
    const char *name; /* "legation", "janus", "raw" */
    int (*start)(bench_system_t *sys, const bench_env_t *env, char *err, size_t errlen);
    pid_t (*pid)(const bench_system_t *sys);
    int (*join)(bench_system_t *sys, const bench_participant_opts_t *o, bench_participant_t **out,
                char *err, size_t errlen);
    void (*stop)(bench_system_t *sys);
    /* The mixers' counters so far (as fresh as the server's stats refresh, 100 ms for Legation);
     * NULL for a system that does not mix. Bounded; callable from the bench's thread while
     * participants run. Returns 0 or an LG_E* code with err. */
    int (*mixer_counters)(bench_system_t *sys, bench_mixer_counts_t *out, char *err, size_t errlen);
    bool encrypted; /* every leg is DTLS-SRTP (false only for raw) */
} bench_system_ops_t;

struct bench_system {
    const bench_system_ops_t *ops;
    const bench_env_t *env;
    void *impl; /* the system's state, set by start, freed by stop */
};

extern const bench_system_ops_t bench_sys_legation;
extern const bench_system_ops_t bench_sys_raw;
extern const bench_system_ops_t bench_sys_janus; /* bench/sys_janus.c, when built */
/* The janus.jcfg event_loops the Janus system runs with, for the report: env->workers (as many
 * media threads as the relay gets), or LEGATION_BENCH_JANUS_EVENT_LOOPS (0: Janus's default, one
 * event-loop thread per handle). */
int bench_janus_event_loops(const bench_env_t *env);

/* Helpers shared by the systems (bench/system.c). */

/* Pins the calling thread (pid 0) or process to one CPU; cpu < 0 does nothing. Returns 0 or
 * LG_EIO. */
int bench_pin_cpu(pid_t pid, int cpu);

/* fork + exec argv[0] (PATH searched) pinned to cpu, in its own process group, stdout and stderr
 * appended to log_path (NULL: /dev/null). Returns the pid or a negative LG_E* code. */
pid_t bench_spawn(char *const argv[], int cpu, const char *log_path, char *err, size_t errlen);

/* SIGTERM, wait up to grace_ms, then SIGKILL; reaps. Returns the exit status (or -1). */
int bench_kill(pid_t pid, int grace_ms);

/* True while pid has not exited (reaps it if it has). */
bool bench_alive(pid_t pid);

/* CLOCK_MONOTONIC nanoseconds. */
int64_t bench_now_ns(void);

/* Fills defaults into a copy of o (audio_payload 60, video_kbps 1500, video_fps 30, timeout). */
void bench_opts_defaults(bench_participant_opts_t *o);

#endif
