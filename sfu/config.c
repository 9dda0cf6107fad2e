/* Config keys as one table: each key has a parser, a default shown in --help and a description. */
#include "sfu/config.h"
#include "sfu/lg_error.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef int (*key_setter_fn)(lg_config_t *cfg, const char *value, char *why, size_t whylen);

typedef struct {
    const char *key;
    const char *arg; /* placeholder for --help */
    key_setter_fn set;
    const char *help;
} config_key_t;

static int parse_int(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return LG_EINVAL;
    *out = v;
    return 0;
}

static int is_ip_literal(const char *s)
{
    unsigned char buf[16];
    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int copy_str(char *dst, size_t cap, const char *v, char *why, size_t whylen)
{
    if (strlen(v) >= cap) {
        snprintf(why, whylen, "value is longer than %zu characters", cap - 1);
        return LG_EINVAL;
    }
    snprintf(dst, cap, "%s", v);
    return 0;
}

static int set_state_dir(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (!*v) {
        snprintf(why, n, "expected a directory path, got an empty value");
        return LG_EINVAL;
    }
    return copy_str(c->state_dir, sizeof c->state_dir, v, why, n);
}

/* Splits "ADDR:PORT" or "[V6ADDR]:PORT". */
static int set_listen(lg_config_t *c, const char *v, char *why, size_t n)
{
    char host[64];
    const char *colon = strrchr(v, ':');
    long port;
    size_t hl = colon ? (size_t)(colon - v) : 0;
    if (colon && v[0] == '[' && hl >= 2 && v[hl - 1] == ']') {
        v++;
        hl -= 2;
    }
    if (!colon || hl == 0 || hl >= sizeof host || parse_int(colon + 1, 1, 65535, &port) != 0)
        goto bad;
    memcpy(host, v, hl);
    host[hl] = '\0';
    if (!is_ip_literal(host) && strcmp(host, "localhost") != 0)
        goto bad;
    snprintf(c->listen_host, sizeof c->listen_host, "%s",
             strcmp(host, "localhost") == 0 ? "127.0.0.1" : host);
    c->listen_port = (uint16_t)port;
    return 0;
bad:
    snprintf(why, n, "expected ADDR:PORT such as 127.0.0.1:8443 or [::1]:8443, got '%s'", v);
    return LG_EINVAL;
}

static int set_media_port(lg_config_t *c, const char *v, char *why, size_t n)
{
    long port;
    if (parse_int(v, 1, 65535, &port) != 0) {
        snprintf(why, n, "expected a port number 1..65535, got '%s'", v);
        return LG_EINVAL;
    }
    c->media_port = (uint16_t)port;
    return 0;
}

/* A comma-separated list of IP literals into addrs; returns the count or LG_EINVAL. */
static int parse_ip_list(const char *v, char addrs[][64], char *why, size_t n)
{
    char buf[LG_CONFIG_MAX_ADDRS * 64];
    int count = 0;
    if (copy_str(buf, sizeof buf, v, why, n) != 0)
        return LG_EINVAL;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        if (count == LG_CONFIG_MAX_ADDRS || !is_ip_literal(tok)) {
            snprintf(why, n, "expected up to %d comma-separated IP addresses, got '%s'",
                     LG_CONFIG_MAX_ADDRS, v);
            return LG_EINVAL;
        }
        snprintf(addrs[count++], 64, "%s", tok);
    }
    if (count == 0) {
        snprintf(why, n, "expected at least one IP address");
        return LG_EINVAL;
    }
    return count;
}

static int set_announce(lg_config_t *c, const char *v, char *why, size_t n)
{
    int count = parse_ip_list(v, c->announce, why, n);
    if (count < 0)
        return count;
    c->announce_count = count;
    return 0;
}

/* A comma-separated list of IP literals. */
static int set_media_listen(lg_config_t *c, const char *v, char *why, size_t n)
{
    int count = parse_ip_list(v, c->media_addrs, why, n);
    if (count < 0)
        return count;
    c->media_addr_count = count;
    return 0;
}

static int set_workers(lg_config_t *c, const char *v, char *why, size_t n)
{
    long w;
    if (parse_int(v, 1, 64, &w) != 0) {
        snprintf(why, n, "expected a number of threads 1..64, got '%s'", v);
        return LG_EINVAL;
    }
    c->workers = (int)w;
    return 0;
}

static int set_log_level(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (lg_log_parse_level(v, &c->log_level) != 0) {
        snprintf(why, n, "expected error, warn, info or debug, got '%s'", v);
        return LG_EINVAL;
    }
    return 0;
}

#define PATH_SETTER(field)                                                                         \
    static int set_##field(lg_config_t *c, const char *v, char *why, size_t n)                     \
    {                                                                                              \
        return copy_str(c->field, sizeof c->field, v, why, n);                                     \
    }
PATH_SETTER(tls_cert)
PATH_SETTER(tls_key)
PATH_SETTER(dtls_cert)
PATH_SETTER(dtls_key)
PATH_SETTER(web_root)
PATH_SETTER(secret_file)
PATH_SETTER(audit_log)

static int set_audience(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (!*v) {
        snprintf(why, n, "expected a non-empty audience");
        return LG_EINVAL;
    }
    return copy_str(c->audience, sizeof c->audience, v, why, n);
}

static int set_public_url(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (strncmp(v, "https://", 8) != 0) {
        snprintf(why, n, "expected an https:// URL, got '%s'", v);
        return LG_EINVAL;
    }
    return copy_str(c->public_url, sizeof c->public_url, v, why, n);
}

/* Comma-separated PEM paths, each optionally "kid=path". */
static int set_public_keys(lg_config_t *c, const char *v, char *why, size_t n)
{
    char buf[LG_CONFIG_MAX_KEYS * LG_CONFIG_PATH_MAX];
    if (copy_str(buf, sizeof buf, v, why, n) != 0)
        return LG_EINVAL;
    int count = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*tok))
            tok++;
        if (count == LG_CONFIG_MAX_KEYS || !*tok) {
            snprintf(why, n, "expected up to %d comma-separated PEM files", LG_CONFIG_MAX_KEYS);
            return LG_EINVAL;
        }
        if (copy_str(c->public_keys[count++], LG_CONFIG_PATH_MAX, tok, why, n) != 0)
            return LG_EINVAL;
    }
    c->public_key_count = count;
    return 0;
}

#define INT_SETTER(field, lo, hi, what)                                                            \
    static int set_##field(lg_config_t *c, const char *v, char *why, size_t n)                     \
    {                                                                                              \
        long x;                                                                                    \
        if (parse_int(v, lo, hi, &x) != 0) {                                                       \
            snprintf(why, n, "expected %s %d..%d, got '%s'", what, lo, hi, v);                     \
            return LG_EINVAL;                                                                      \
        }                                                                                          \
        c->field = (int)x;                                                                         \
        return 0;                                                                                  \
    }
INT_SETTER(token_skew_s, 0, 3600, "seconds")
INT_SETTER(max_participants, 2, 10000, "a participant count")
INT_SETTER(subscribe_mlines, 2, 64, "an m-line count") /* 64: SDP_MAX_MEDIA */
INT_SETTER(empty_room_grace_s, 0, 86400, "seconds")
INT_SETTER(consent_timeout_s, 1, 300, "seconds")
INT_SETTER(mix_below_kbps, 0, 100000, "kbit/s")
INT_SETTER(mix_bitrate, 6000, 128000, "bits/s")

static int set_mix_ptime(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (strcmp(v, "20") != 0 && strcmp(v, "40") != 0 && strcmp(v, "60") != 0) {
        snprintf(why, n, "expected 20, 40 or 60 (ms), got '%s'", v);
        return LG_EINVAL;
    }
    c->mix_ptime_ms = atoi(v);
    return 0;
}

static int set_lobby(lg_config_t *c, const char *v, char *why, size_t n)
{
    if (strcmp(v, "on") == 0 || strcmp(v, "true") == 0)
        c->lobby = 1;
    else if (strcmp(v, "off") == 0 || strcmp(v, "false") == 0)
        c->lobby = 0;
    else {
        snprintf(why, n, "expected on or off, got '%s'", v);
        return LG_EINVAL;
    }
    return 0;
}

static int set_stats_interval(lg_config_t *c, const char *v, char *why, size_t n)
{
    long ms;
    if (parse_int(v, 50, 60000, &ms) != 0) {
        snprintf(why, n, "expected milliseconds 50..60000, got '%s'", v);
        return LG_EINVAL;
    }
    c->stats_interval_ms = (int)ms;
    return 0;
}

static const config_key_t KEYS[] = {
    {"state-dir", "DIR", set_state_dir,
     "certificates, dev secret and audit log (default /var/lib/legation as root)"},
    {"listen", "ADDR:PORT", set_listen, "HTTPS + WebSocket address (default 127.0.0.1:8443)"},
    {"media-port", "PORT", set_media_port,
     "UDP/TCP media port of worker 0; worker k uses PORT+k "
     "(default 40000)"},
    {"media-listen", "IP[,IP]", set_media_listen,
     "addresses the media workers bind "
     "(default 127.0.0.1)"},
    {"announce", "IP[,IP]", set_announce,
     "address written in ICE candidates for each media-listen "
     "address (1:1 NAT, cloud VMs, test proxies)"},
    {"workers", "N", set_workers, "media worker threads (default: number of cores)"},
    {"log-level", "LEVEL", set_log_level, "error, warn, info or debug (default info)"},
    {"tls-cert", "FILE", set_tls_cert, "HTTPS certificate chain (PEM); default: generated"},
    {"tls-key", "FILE", set_tls_key, "HTTPS private key (PEM); default: generated"},
    {"dtls-cert", "FILE", set_dtls_cert, "DTLS certificate (PEM); default: generated"},
    {"dtls-key", "FILE", set_dtls_key, "DTLS private key (PEM); default: generated"},
    {"web-root", "DIR", set_web_root, "browser client files (default: the installed web root)"},
    {"stats-interval", "MS", set_stats_interval, "worker counter refresh period (default 1000)"},
    {"consent-timeout", "SECONDS", set_consent_timeout_s,
     "close a media path after this long "
     "without ICE consent (default 30)"},
    {"mix-below-kbps", "KBPS", set_mix_below_kbps,
     "switch a subscriber to mixed audio while its "
     "estimate stays below this (default 150; 0 "
     "off)"},
    {"mix-bitrate", "BPS", set_mix_bitrate,
     "Opus bitrate of mixed audio (default 24000; 8000 is "
     "the <= 16 kbit/s emergency profile)"},
    {"mix-ptime", "MS", set_mix_ptime,
     "packet time of mixed audio: 20, 40 or 60 (default 60: "
     "<= 32 kbit/s on the wire at 24 kbit/s)"},
    {"secret-file", "FILE", set_secret_file,
     "HS256 token secret (default: STATE/secret, generated)"},
    {"audience", "AUD", set_audience, "required `aud` claim of join tokens (default legation)"},
    {"public-keys", "[KID=]PEM,..", set_public_keys, "ES256/EdDSA public keys that sign tokens"},
    {"token-skew", "SECONDS", set_token_skew_s, "clock skew allowed on exp/nbf/iat (default 30)"},
    {"public-url", "URL", set_public_url, "base of join links (default https://localhost:PORT/)"},
    {"max-participants", "N", set_max_participants, "per room, lobby included (default 100)"},
    {"subscribe-mlines", "N", set_subscribe_mlines,
     "m-lines of one subscribe connection: tracks one participant receives at once (default "
     "64, the most)"},
    {"empty-room-grace", "SECONDS", set_empty_room_grace_s,
     "an empty room closes after this "
     "(default 60)"},
    {"lobby", "on|off", set_lobby,
     "non-moderators wait for a moderator to admit them "
     "(default off; moderators can switch it per room)"},
    {"audit-log", "FILE", set_audit_log, "hash-chained audit log (default STATE/audit.log)"},
};
#define NKEYS (sizeof KEYS / sizeof KEYS[0])

static const config_key_t *find_key(const char *key)
{
    for (size_t i = 0; i < NKEYS; i++)
        if (strcmp(KEYS[i].key, key) == 0)
            return &KEYS[i];
    return NULL;
}

void lg_config_defaults(lg_config_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    const char *home = getenv("HOME");
    if (geteuid() == 0 || !home)
        snprintf(cfg->state_dir, sizeof cfg->state_dir, "/var/lib/legation");
    else
        snprintf(cfg->state_dir, sizeof cfg->state_dir, "%s/.local/state/legation", home);
    snprintf(cfg->listen_host, sizeof cfg->listen_host, "127.0.0.1");
    cfg->listen_port = 8443;
    cfg->media_port = 40000;
    cfg->media_addr_count = 1;
    snprintf(cfg->media_addrs[0], sizeof cfg->media_addrs[0], "127.0.0.1");
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    cfg->workers = ncpu < 1 ? 1 : (ncpu > 64 ? 64 : (int)ncpu);
    cfg->log_level = LG_LOG_INFO;
    cfg->stats_interval_ms = 1000;
    snprintf(cfg->audience, sizeof cfg->audience, "legation");
    cfg->token_skew_s = 30;
    cfg->max_participants = 100;
    cfg->subscribe_mlines = 64;
    cfg->empty_room_grace_s = 60;
    cfg->consent_timeout_s = 30;
    cfg->mix_below_kbps = 150;
    cfg->mix_bitrate = 24000;
    cfg->mix_ptime_ms = 60;
}

int lg_config_set(lg_config_t *cfg, const char *key, const char *value, const char *origin,
                  char *err, size_t errlen)
{
    const config_key_t *k = find_key(key);
    if (!k) {
        snprintf(err, errlen, "%s: unknown key '%s' (see legation --help)", origin, key);
        return LG_ENOTFOUND;
    }
    char why[256] = "";
    if (k->set(cfg, value, why, sizeof why) != 0) {
        snprintf(err, errlen, "%s: key '%s': %s", origin, key, why);
        return LG_EINVAL;
    }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

/* Removes one pair of matching quotes around a value. */
static char *unquote(char *v)
{
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        return v + 1;
    }
    return v;
}

static int config_line(lg_config_t *cfg, char *line, const char *origin, char *err, size_t errlen)
{
    char *s = trim(line);
    if (*s == '\0' || *s == '#')
        return 0;
    char *eq = strchr(s, '=');
    if (!eq) {
        snprintf(err, errlen, "%s: expected 'key = value', got '%.60s'", origin, s);
        return LG_EINVAL;
    }
    *eq = '\0';
    char *key = trim(s);
    char *value = unquote(trim(eq + 1));
    if (strcmp(key, "config") == 0) {
        snprintf(err, errlen, "%s: key 'config' cannot be nested in a config file", origin);
        return LG_EINVAL;
    }
    return lg_config_set(cfg, key, value, origin, err, errlen);
}

int lg_config_load_file(lg_config_t *cfg, const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "config %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    char line[2048];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        char origin[LG_CONFIG_PATH_MAX + 32];
        snprintf(origin, sizeof origin, "config %s line %d", path, lineno);
        if (!strchr(line, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s: line longer than %zu bytes", origin, sizeof line - 2);
            rc = LG_EINVAL;
            break;
        }
        rc = config_line(cfg, line, origin, err, errlen);
    }
    fclose(f);
    return rc;
}

int lg_config_parse_args(lg_config_t *cfg, int argc, char **argv, int first, char *err,
                         size_t errlen)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || a[2] == '\0') {
            snprintf(err, errlen, "unexpected argument '%s' (see legation --help)", a);
            return LG_EINVAL;
        }
        char key[64];
        const char *value;
        const char *eq = strchr(a + 2, '=');
        size_t kl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        snprintf(key, sizeof key, "%.*s", (int)kl, a + 2);
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "option --%s needs a value", key);
            return LG_EINVAL;
        }
        char origin[80];
        snprintf(origin, sizeof origin, "option --%s", key);
        int rc = strcmp(key, "config") == 0 ? lg_config_load_file(cfg, value, err, errlen)
                                            : lg_config_set(cfg, key, value, origin, err, errlen);
        if (rc != 0)
            return rc;
    }
    return 0;
}

int lg_config_validate(const lg_config_t *cfg, char *err, size_t errlen)
{
    if ((long)cfg->media_port + cfg->workers - 1 > 65535) {
        snprintf(err, errlen, "key 'media-port': %u + %d workers runs past port 65535",
                 cfg->media_port, cfg->workers);
        return LG_EINVAL;
    }
    if (cfg->announce_count > cfg->media_addr_count) {
        snprintf(err, errlen, "key 'announce': %d addresses for %d media-listen addresses",
                 cfg->announce_count, cfg->media_addr_count);
        return LG_EINVAL;
    }
    for (int i = 0; i < cfg->media_addr_count; i++) {
        if (strcmp(cfg->media_addrs[i], "0.0.0.0") == 0 || strcmp(cfg->media_addrs[i], "::") == 0)
            if (cfg->announce_count <= i) {
                snprintf(err, errlen,
                         "key 'media-listen': %s is a wildcard; name the address "
                         "browsers reach with 'announce'",
                         cfg->media_addrs[i]);
                return LG_EINVAL;
            }
    }
    if (!!cfg->tls_cert[0] != !!cfg->tls_key[0]) {
        snprintf(err, errlen, "keys 'tls-cert' and 'tls-key' must be given together");
        return LG_EINVAL;
    }
    if (!!cfg->dtls_cert[0] != !!cfg->dtls_key[0]) {
        snprintf(err, errlen, "keys 'dtls-cert' and 'dtls-key' must be given together");
        return LG_EINVAL;
    }
    return 0;
}

void lg_config_print_help(FILE *out)
{
    fprintf(out, "Settings (config file `key = value`, or flag `--key VALUE`):\n");
    fprintf(out, "  --%-17s %-13s %s\n", "config", "FILE", "read settings from FILE here");
    for (size_t i = 0; i < NKEYS; i++)
        fprintf(out, "  --%-17s %-13s %s\n", KEYS[i].key, KEYS[i].arg, KEYS[i].help);
}

void lg_config_join_url(const lg_config_t *cfg, char *out, size_t cap)
{
    if (cfg->public_url[0]) {
        size_t n = strlen(cfg->public_url);
        snprintf(out, cap, "%s%s", cfg->public_url, cfg->public_url[n - 1] == '/' ? "" : "/");
        return;
    }
    const char *h = cfg->listen_host;
    int v6 = strchr(h, ':') != NULL;
    snprintf(out, cap, "https://%s%s%s:%u/", v6 ? "[" : "",
             strcmp(h, "127.0.0.1") == 0 || strcmp(h, "0.0.0.0") == 0 ? "localhost" : h,
             v6 ? "]" : "", cfg->listen_port);
}
