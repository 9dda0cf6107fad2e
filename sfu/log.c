/* Leveled, thread-named log lines on stderr, and a token-bucket rate limiter. */
#include "sfu/log.h"
#include "sfu/lg_error.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static atomic_int g_level = LG_LOG_INFO;
static _Thread_local char t_name[16] = "main";

void lg_log_set_level(lg_log_level_t level)
{
    atomic_store(&g_level, (int)level);
}

lg_log_level_t lg_log_get_level(void)
{
    return (lg_log_level_t)atomic_load(&g_level);
}

int lg_log_parse_level(const char *name, lg_log_level_t *out)
{
    static const char *names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(name, names[i]) == 0) {
            *out = (lg_log_level_t)i;
            return 0;
        }
    }
    return LG_EINVAL;
}

void lg_log_set_thread_name(const char *name)
{
    snprintf(t_name, sizeof t_name, "%s", name);
}

void lg_log(lg_log_level_t level, const char *fmt, ...)
{
    static const char *tags[] = {"ERROR", "WARN ", "INFO ", "DEBUG"};
    if ((int)level > atomic_load(&g_level))
        return;
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%02d:%02d:%02d.%03ld %s [%s] ", tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, tags[level], t_name);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void lg_ratelimit_init(lg_ratelimit_t *rl, uint32_t burst, uint32_t interval_ms)
{
    memset(rl, 0, sizeof *rl);
    rl->burst = burst;
    rl->tokens = burst;
    rl->interval_ms = interval_ms ? interval_ms : 1;
}

int lg_ratelimit_allow(lg_ratelimit_t *rl, uint64_t now_ms)
{
    if (now_ms > rl->last_ms) {
        uint64_t refill = (now_ms - rl->last_ms) / rl->interval_ms;
        if (refill > 0) {
            uint64_t t = rl->tokens + refill;
            rl->tokens = t > rl->burst ? rl->burst : (uint32_t)t;
            rl->last_ms += refill * rl->interval_ms;
            if (rl->tokens == rl->burst)
                rl->last_ms = now_ms;
        }
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return 0;
    }
    rl->tokens--;
    return 1;
}
