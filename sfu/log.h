/* Process-wide logging to stderr with levels and a rate limiter for warnings about outside input.
 */
#ifndef LG_LOG_H
#define LG_LOG_H

#include <stdint.h>

typedef enum { LG_LOG_ERROR = 0, LG_LOG_WARN, LG_LOG_INFO, LG_LOG_DEBUG } lg_log_level_t;

/* Sets the threshold; messages above it are discarded. Call before threads start. */
void lg_log_set_level(lg_log_level_t level);
lg_log_level_t lg_log_get_level(void);

/* Parses "error", "warn", "info", "debug". Returns 0 or LG_EINVAL. */
int lg_log_parse_level(const char *name, lg_log_level_t *out);

/* Writes one line "LEVEL [thread] message" to stderr. Thread-safe (one write(2) per line).
 * Never call it per packet: use lg_ratelimit_t for warnings caused by outside input. */
void lg_log(lg_log_level_t level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Names the calling thread in log lines ("control", "worker-0"). At most 15 characters. */
void lg_log_set_thread_name(const char *name);

#define LG_ERROR(...) lg_log(LG_LOG_ERROR, __VA_ARGS__)
#define LG_WARN(...)  lg_log(LG_LOG_WARN, __VA_ARGS__)
#define LG_INFO(...)  lg_log(LG_LOG_INFO, __VA_ARGS__)
#define LG_DEBUG(...) lg_log(LG_LOG_DEBUG, __VA_ARGS__)

/* Token bucket: at most `burst` events, refilled at one per `interval_ms`. Owned by one thread. */
typedef struct {
    uint64_t last_ms;
    uint32_t tokens;
    uint32_t burst;
    uint32_t interval_ms;
    uint64_t suppressed; /* events refused since the last allowed one */
} lg_ratelimit_t;

void lg_ratelimit_init(lg_ratelimit_t *rl, uint32_t burst, uint32_t interval_ms);

/* Returns 1 if an event at now_ms may be logged, 0 if it must be suppressed (and counts it). */
int lg_ratelimit_allow(lg_ratelimit_t *rl, uint64_t now_ms);

#endif
