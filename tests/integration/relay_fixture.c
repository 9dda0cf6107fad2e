/* The in-process relay of the integration tests (see relay_fixture.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "relay_fixture.h"
#include "signaling/secret.h"

lg_config_t rf_cfg;
lg_relay_t rf_relay;
static uv_thread_t g_thread;
static char g_dir[64];
static uint8_t g_secret[SECRET_MAX];
static size_t g_secret_len;

static void relay_thread(void *arg)
{
    lg_relay_run(&rf_relay);
}

int relay_fixture_start(void (*tune)(lg_config_t *cfg))
{
    snprintf(g_dir, sizeof g_dir, "/tmp/lg-fixture-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    char err[512] = "";
    for (int attempt = 0; attempt < 20; attempt++) {
        lg_config_defaults(&rf_cfg);
        snprintf(rf_cfg.state_dir, sizeof rf_cfg.state_dir, "%s/state", g_dir);
        rf_cfg.listen_port = (uint16_t)(20000 + rand() % 20000);
        rf_cfg.media_port = (uint16_t)(40001 + rand() % 20000);
        rf_cfg.workers = 1;
        rf_cfg.stats_interval_ms = 100;
        rf_cfg.log_level = LG_LOG_WARN;
        if (tune)
            tune(&rf_cfg);
        lg_log_set_level(rf_cfg.log_level);
        if (lg_relay_init(&rf_relay, &rf_cfg, err, sizeof err) != 0)
            continue;
        char path[LG_CONFIG_PATH_MAX + 16];
        snprintf(path, sizeof path, "%s/secret", rf_cfg.state_dir);
        assert_int_equal(secret_load(path, 0, g_secret, &g_secret_len, err, sizeof err), 0);
        assert_int_equal(uv_thread_create(&g_thread, relay_thread, NULL), 0);
        return 0;
    }
    fail_msg("relay did not start: %s", err);
    return -1;
}

void relay_fixture_stop(void)
{
    kill(getpid(), SIGTERM); /* the relay's own signal handler shuts it down */
    uv_thread_join(&g_thread);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

const char *relay_fixture_token(const char *room, const char *sub, auth_role_t role, int64_t ttl)
{
    return relay_fixture_token_at(room, sub, role, (int64_t)time(NULL), ttl, NULL);
}

static const char *mint(const char *room, const char *sub, auth_role_t role, int64_t issued,
                        int64_t ttl, const char *aud, int e2ee);

const char *relay_fixture_token_at(const char *room, const char *sub, auth_role_t role,
                                   int64_t issued, int64_t ttl, const char *aud)
{
    return mint(room, sub, role, issued, ttl, aud, 0);
}

const char *relay_fixture_token_e2ee(const char *room, const char *sub, auth_role_t role,
                                     int64_t ttl)
{
    return mint(room, sub, role, (int64_t)time(NULL), ttl, NULL, 1);
}

static const char *mint(const char *room, const char *sub, auth_role_t role, int64_t issued,
                        int64_t ttl, const char *aud, int e2ee)
{
    static _Thread_local char buf[8][AUTH_TOKEN_MAX];
    static _Thread_local int next;
    char *out = buf[next++ % 8];
    auth_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.room, sizeof c.room, "%s", room);
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    snprintf(c.name, sizeof c.name, "%s", sub);
    snprintf(c.aud, sizeof c.aud, "%s", aud ? aud : rf_cfg.audience);
    c.role = role;
    c.e2ee = e2ee;
    assert_int_equal(auth_mint_hs256(g_secret, g_secret_len, &c, ttl, issued, out, AUTH_TOKEN_MAX),
                     0);
    return out;
}
