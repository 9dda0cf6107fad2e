/* The relay's settings: defaults, a `key = value` config file, and command-line flags that mirror
 * every key. docs/OPERATIONS.md lists the keys; `legation --help` prints the same table. */
#ifndef LG_CONFIG_H
#define LG_CONFIG_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "sfu/log.h"

#define LG_CONFIG_MAX_ADDRS 4
#define LG_CONFIG_PATH_MAX  512
#define LG_CONFIG_MAX_KEYS  8

typedef struct {
    char state_dir[LG_CONFIG_PATH_MAX];
    char listen_host[64]; /* HTTPS/WebSocket address, IPv4 or IPv6 literal */
    uint16_t listen_port;
    uint16_t media_port; /* worker k binds media_port + k */
    int media_addr_count;
    char media_addrs[LG_CONFIG_MAX_ADDRS][64]; /* addresses the workers bind for media */
    int announce_count;
    char announce[LG_CONFIG_MAX_ADDRS][64]; /* written in candidates instead of media_addrs[i] */
    int workers;                            /* media worker threads */
    lg_log_level_t log_level;
    char tls_cert[LG_CONFIG_PATH_MAX]; /* empty: generated in state_dir */
    char tls_key[LG_CONFIG_PATH_MAX];
    char dtls_cert[LG_CONFIG_PATH_MAX];
    char dtls_key[LG_CONFIG_PATH_MAX];
    char web_root[LG_CONFIG_PATH_MAX]; /* browser client files; empty: built-in default */
    int stats_interval_ms;             /* how often the control thread refreshes worker counters */
    int consent_timeout_s; /* RFC 7675: a path without a valid check this long is closed */
    int mix_below_kbps;    /* a subscriber estimated below this gets mixed audio; 0: never */
    int mix_bitrate;       /* Opus bits/s of mixed audio */
    int mix_ptime_ms;      /* 20, 40 or 60 */
    /* signaling */
    char secret_file[LG_CONFIG_PATH_MAX]; /* HS256 secret; empty: state_dir/secret (generated) */
    char audience[64];                    /* expected `aud` of join tokens */
    int public_key_count;
    char public_keys[LG_CONFIG_MAX_KEYS][LG_CONFIG_PATH_MAX]; /* PEM files, "path" or "kid=path" */
    int token_skew_s;
    char public_url[256]; /* base of join links; empty: https://localhost:PORT/ */
    int max_participants; /* per room, lobby included */
    int subscribe_mlines; /* m-lines of one subscribe connection (received tracks at once) */
    int empty_room_grace_s;
    int lobby;                          /* new rooms hold non-moderators in a lobby */
    char audit_log[LG_CONFIG_PATH_MAX]; /* empty: state_dir/audit.log */
} lg_config_t;

/* Fills defaults: state dir /var/lib/legation (root) or ~/.local/state/legation, listen
 * 127.0.0.1:8443, media port 40000 on 127.0.0.1, one worker per core, log level info. */
void lg_config_defaults(lg_config_t *cfg);

/* Sets one key from text. `origin` names where the value came from ("--workers",
 * "legation.conf line 3") and prefixes the message written to err on failure.
 * Returns 0, LG_ENOTFOUND (unknown key) or LG_EINVAL (bad value). */
int lg_config_set(lg_config_t *cfg, const char *key, const char *value, const char *origin,
                  char *err, size_t errlen);

/* Reads a config file: `key = value` per line, `#` comments, blank lines; values may be quoted.
 * The first bad line stops the read: err names the file, the line and the key. */
int lg_config_load_file(lg_config_t *cfg, const char *path, char *err, size_t errlen);

/* Parses argv[first..argc): `--key value` or `--key=value` for every config key, and `--config
 * FILE` (applied where it appears, so later flags override the file). Returns 0 or an LG_E* code
 * with err set. */
int lg_config_parse_args(lg_config_t *cfg, int argc, char **argv, int first, char *err,
                         size_t errlen);

/* Checks cross-key constraints (ports fit in 16 bits with the workers added). */
int lg_config_validate(const lg_config_t *cfg, char *err, size_t errlen);

/* The base of join links ("https://host:port/"): public-url, or derived from listen. */
void lg_config_join_url(const lg_config_t *cfg, char *out, size_t cap);

/* Writes the table of keys, their defaults and meaning (for --help). */
void lg_config_print_help(FILE *out);

#endif
