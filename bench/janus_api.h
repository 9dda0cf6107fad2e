/* A client of Janus's HTTP/JSON API (the REST transport) for the bench: one Janus session with
 * its plugin handles, synchronous requests, and a long-poll thread that queues the session's
 * events for whoever waits on them. */
#ifndef LG_BENCH_JANUS_API_H
#define LG_BENCH_JANUS_API_H

/*
 * Contract
 * --------
 * janus_client_open() creates a session (POST /janus {"janus":"create"}) and starts a thread
 * that long-polls GET /janus/<session>?maxev=N: every event it returns (plugin `event`s,
 * `webrtcup`, `media`, `hangup`, ...) is queued on the client; the long poll also keeps the
 * session alive (Janus counts it as a keepalive). Requests (attach, message, trickle) are
 * blocking POSTs on the caller's thread; Janus answers asynchronous plugin requests (join,
 * publish, start) with an `ack` and delivers the result as a queued event, which
 * janus_take_event() waits for.
 *
 * Threading: a client may be used by several threads at once (requests are independent HTTP
 * exchanges; the event queue is locked). janus_client_close() must not race with other calls.
 *
 * Ownership: JSON values passed in are borrowed; values returned (replies, events) belong to the
 * caller (json_decref). The event queue keeps at most JANUS_MAX_QUEUED events; older ones are
 * dropped and counted.
 *
 * Errors: 0 or a negative LG_E* code with err naming the cause: LG_EIO / LG_EEXPIRED (HTTP, see
 * bench/http_client.h), LG_EMALFORMED (not the JSON Janus sends), LG_EPERM (Janus answered
 * `error`, or the plugin put an error in plugindata.data: the message carries its code and
 * text, and *plugin_error the code: 427 room exists, 436 id exists, 428 no such feed...).
 */

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JANUS_MAX_QUEUED  4096
#define JANUS_LONG_POLL_S 30 /* Janus answers an idle long poll after this many seconds */

typedef struct janus_client janus_client_t;

/* GET /janus/info until it answers 200 or timeout_ms passes. Returns 0 or LG_EEXPIRED. */
int janus_wait_ready(const char *host, uint16_t port, int timeout_ms, char *err, size_t errlen);

/* Creates a session on host:port (base path /janus) and starts its long poll. */
int janus_client_open(const char *host, uint16_t port, int timeout_ms, janus_client_t **out,
                      char *err, size_t errlen);

/* Destroys the session (bounded by timeout_ms), stops the long poll and frees. Safe with NULL. */
void janus_client_close(janus_client_t *c, int timeout_ms);

uint64_t janus_client_session(const janus_client_t *c);

/* Attaches a plugin ("janus.plugin.videoroom"): *handle receives the handle id. */
int janus_attach(janus_client_t *c, const char *plugin, uint64_t *handle, int timeout_ms, char *err,
                 size_t errlen);

/* Sends {"janus":"message","body":body[,"jsep":jsep]} to a handle. A synchronous plugin request
 * is answered `success` with plugindata (its data in *reply if reply is not NULL); an
 * asynchronous one with `ack` (*reply then NULL). plugin_error (may be NULL) gets the plugin's
 * error_code, 0 if none. */
int janus_message(janus_client_t *c, uint64_t handle, json_t *body, json_t *jsep, int timeout_ms,
                  json_t **reply, int *plugin_error, char *err, size_t errlen);

/* Trickles one candidate object ({"candidate":...,"sdpMid":...,"sdpMLineIndex":...} or
 * {"completed":true}) on a handle. */
int janus_trickle(janus_client_t *c, uint64_t handle, json_t *candidate, int timeout_ms, char *err,
                  size_t errlen);

/* Sends {"janus":"hangup"} or {"janus":"detach"} for a handle (best effort, bounded). */
int janus_handle_request(janus_client_t *c, uint64_t handle, const char *what, int timeout_ms);

/* Decides whether a queued event is the one wanted. */
typedef bool (*janus_match_fn)(json_t *ev, void *arg);

/* Removes and returns the oldest queued event of `handle` (0: any handle) that match accepts
 * (NULL: any), waiting up to timeout_ms (0: do not wait). NULL when none came, or the long poll
 * failed (janus_client_error() then says why). */
json_t *janus_take_event(janus_client_t *c, uint64_t handle, janus_match_fn match, void *arg,
                         int timeout_ms);

/* The long poll's fatal error ("" while it runs), and events dropped from a full queue. */
const char *janus_client_error(janus_client_t *c);
uint64_t janus_client_dropped(janus_client_t *c);

/* --- reading events --------------------------------------------------------------------------- */

/* plugindata.data of an event or reply, or NULL. */
json_t *janus_event_data(json_t *ev);
/* plugindata.data.videoroom ("joined", "event", "attached", "updated"...), or "". */
const char *janus_event_videoroom(json_t *ev);
/* The event's "janus" field ("event", "webrtcup", "hangup", ...), or "". */
const char *janus_event_kind(json_t *ev);
/* jsep.sdp when jsep.type is `type` ("offer", "answer"), else NULL. */
const char *janus_event_sdp(json_t *ev, const char *type);

#endif
