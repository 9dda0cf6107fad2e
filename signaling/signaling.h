/* Signaling: the WebSocket sessions of /ws, the protocol's message handlers (join, moderation,
 * publish/subscribe), the room registry and the audit trail, on the control thread. */
#ifndef LG_SIGNALING_H
#define LG_SIGNALING_H

#include <stdint.h>
#include <uv.h>

#include "sfu/config.h"
#include "sfu/worker.h"
#include "signaling/audit.h"
#include "signaling/auth.h"
#include "signaling/http_server.h"
#include "signaling/rooms.h"

typedef struct sig_session sig_session_t;

typedef struct {
    uint64_t sessions_opened;
    uint64_t joins;
    uint64_t join_refused;    /* bad tokens, locked/full rooms, kicked tokens */
    uint64_t protocol_errors; /* error replies to malformed or forbidden messages */
    uint64_t sessions_closed_for_abuse;
    uint64_t e2ee_automix_skipped; /* low-bandwidth reports not turned into mixed audio (E2EE) */
} signaling_stats_t;

typedef struct signaling {
    const lg_config_t *cfg;
    uv_loop_t *loop;
    rooms_t rooms;
    auth_verifier_t verifier;
    audit_t audit;
    uv_timer_t sweep_timer;
    sig_session_t *sessions; /* every open WebSocket */
    int nsessions;
    signaling_stats_t stats;
    http_ws_handlers_t ws; /* handed to the HTTP server */
    lg_worker_t *workers;  /* set by the relay: where transports are created */
    int nworkers;
    const char *dtls_fingerprint; /* "sha-256 AB:..", written into every SDP */
    uint64_t next_transport_id;
    int stopped;
} signaling_t;

/* Loads the token secret and public keys, opens the audit log and starts the room sweep timer.
 * Returns 0 or an LG_E* code with err naming the cause. Control thread. */
int signaling_init(signaling_t *s, uv_loop_t *loop, const lg_config_t *cfg, char *err,
                   size_t errlen);

/* A worker reported a transport connected or closed: tells its participant. Control thread. */
void signaling_on_transport(signaling_t *s, const worker_transport_msg_t *m);

/* A subscriber's estimated downlink fell below (or rose back above) the mix-below-kbps threshold:
 * switches it to mixed audio and back (unless it asked for mixed audio itself). In an E2EE room
 * it stays on per-speaker audio (counted in stats.e2ee_automix_skipped). */
void signaling_on_low_bandwidth(signaling_t *s, uint64_t transport_id, bool low,
                                uint64_t estimate_bps);

/* A worker measured a new dominant speaker in a room: tells the room. Control thread. */
void signaling_on_active_speaker(signaling_t *s, const char *room, const char *participant);

/* Closes the timer (the loop must run afterwards to finish closing). Sessions are closed by the
 * HTTP server's teardown, which calls back into signaling: call this after http_server_stop. */
void signaling_stop(signaling_t *s);

/* Frees rooms, keys and the audit handle, after the loop has drained. */
void signaling_free(signaling_t *s);

#endif
