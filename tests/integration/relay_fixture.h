/* A whole relay running in-process for integration tests: loopback ports chosen at random, its
 * own state directory, stopped through its SIGTERM handler; plus join tokens signed with its dev
 * secret. One relay per test binary. */
#ifndef LG_RELAY_FIXTURE_H
#define LG_RELAY_FIXTURE_H

#include "sfu/relay.h"
#include "signaling/auth.h"

extern lg_config_t rf_cfg;
extern lg_relay_t rf_relay;

/* Starts the relay; `tune` (may be NULL) adjusts the configuration before it starts. Returns 0 or
 * fails the current cmocka test. */
int relay_fixture_start(void (*tune)(lg_config_t *cfg));

/* Stops the relay (joins its thread) and removes its state directory. */
void relay_fixture_stop(void);

/* A token for the running relay, valid ttl seconds (static buffer, 8 in rotation). */
const char *relay_fixture_token(const char *room, const char *sub, auth_role_t role, int64_t ttl);

/* The same with the issue time and audience chosen (aud NULL: the relay's): expired tokens and
 * tokens for another server. Per-thread buffers. */
const char *relay_fixture_token_at(const char *room, const char *sub, auth_role_t role,
                                   int64_t issued, int64_t ttl, const char *aud);

/* A token for an end-to-end encrypted room (claim "e2ee": true), valid ttl seconds. Per-thread
 * buffers, shared with relay_fixture_token_at(). */
const char *relay_fixture_token_e2ee(const char *room, const char *sub, auth_role_t role,
                                     int64_t ttl);

#endif
