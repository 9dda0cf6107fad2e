/* The legation command: runs the relay, or one of its tools (cert, audit verify). */
#include "certs/certs.h"
#include "sfu/config.h"
#include "sfu/fs.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/relay.h"
#include "signaling/audit.h"
#include "signaling/auth.h"
#include "signaling/secret.h"

#include <ctype.h>
#include <malloc.h>
#include <stdlib.h>
#include <time.h>

#include <stdio.h>
#include <string.h>

#define EXIT_USAGE 2

typedef int (*command_fn)(lg_config_t *cfg, int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out,
            "usage: legation [run] [--key VALUE ...]   run the relay (default)\n"
            "       legation cert [--key VALUE ...]    print the DTLS certificate "
            "fingerprint\n"
            "       legation token --room R --name N --role moderator|participant|observer\n"
            "                      [--sub ID] [--ttl 1h] [--token-only] [--key VALUE ...]\n"
            "                      [--e2ee]            mint a dev HS256 join token and link\n"
            "                                          (--e2ee: an end-to-end encrypted room)\n"
            "       legation audit verify FILE         check an audit log's hash chain\n"
            "       legation --help | --version\n\n");
    lg_config_print_help(out);
}

/* Applies flags from argv[first..] and checks the result; prints the error and returns 2. */
static int configure(lg_config_t *cfg, int argc, char **argv, int first)
{
    char err[512];
    if (lg_config_parse_args(cfg, argc, argv, first, err, sizeof err) != 0 ||
        lg_config_validate(cfg, err, sizeof err) != 0) {
        fprintf(stderr, "legation: %s\n", err);
        return EXIT_USAGE;
    }
    lg_log_set_level(cfg->log_level);
    return 0;
}

/* The URL to open and a ready moderator link for the room "demo" (a dev token, 12 hours). */
static void print_welcome(const lg_relay_t *r)
{
    char base[300], token[AUTH_TOKEN_MAX];
    lg_config_join_url(r->cfg, base, sizeof base);
    printf("Legation is running: open %s\n", base);
    auth_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.room, sizeof c.room, "demo");
    snprintf(c.sub, sizeof c.sub, "moderator");
    snprintf(c.name, sizeof c.name, "Moderator");
    snprintf(c.aud, sizeof c.aud, "%s", r->cfg->audience);
    c.role = AUTH_ROLE_MODERATOR;
    const auth_verifier_t *v = &r->signaling.verifier;
    if (auth_mint_hs256(v->secret, v->secret_len, &c, 12 * 3600, (int64_t)time(NULL), token,
                        sizeof token) == 0)
        printf("Moderator join link for room \"demo\" (valid 12 h): %s#token=%s\n"
               "More links: legation token --room demo --name NAME --role participant\n",
               base, token);
    fflush(stdout);
}

static int cmd_run(lg_config_t *cfg, int argc, char **argv)
{
    int rc = configure(cfg, argc, argv, 2);
    if (rc != 0)
        return rc;
    lg_log_set_thread_name("control");
    static lg_relay_t relay;
    char err[1024];
    if (lg_relay_init(&relay, cfg, err, sizeof err) != 0) {
        LG_ERROR("%s", err);
        return 1;
    }
    LG_INFO("legation %s: %d media worker(s) on UDP %s port %u..%u", LG_VERSION, cfg->workers,
            cfg->media_addrs[0], cfg->media_port, cfg->media_port + cfg->workers - 1);
    LG_INFO("DTLS fingerprint %s", relay.certs.dtls_fingerprint);
    print_welcome(&relay);
    return lg_relay_run(&relay);
}

static int cmd_cert(lg_config_t *cfg, int argc, char **argv)
{
    int rc = configure(cfg, argc, argv, 2);
    if (rc != 0)
        return rc;
    lg_certs_t certs;
    memset(&certs, 0, sizeof certs);
    lg_certs_config_t cc = {cfg->state_dir, cfg->dtls_cert, cfg->dtls_key, cfg->tls_cert,
                            cfg->tls_key};
    char err[1024];
    if (lg_certs_load(&certs, &cc, err, sizeof err) != 0) {
        fprintf(stderr, "legation: %s\n", err);
        return 1;
    }
    printf("%s\n", certs.dtls_fingerprint);
    lg_certs_free(&certs);
    return 0;
}

/* "90", "90s", "30m", "1h", "2d" -> seconds; -1 if malformed. */
static long parse_ttl(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);
    long mult = 1;
    if (end == s || v <= 0)
        return -1;
    if (*end == 'm')
        mult = 60;
    else if (*end == 'h')
        mult = 3600;
    else if (*end == 'd')
        mult = 86400;
    else if (*end != 's' && *end != '\0')
        return -1;
    if (*end && end[1] != '\0')
        return -1;
    return v > 366L * 86400 / mult ? -1 : v * mult;
}

typedef struct {
    auth_claims_t claims;
    long ttl;
    int token_only;
} token_args_t;

/* Takes the token's own flags out of argv (compacting it) and leaves config flags in place. */
static int token_args(token_args_t *t, int *argc, char **argv)
{
    int out = 2;
    for (int i = 2; i < *argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < *argc ? argv[i + 1] : NULL;
        char *dst = NULL;
        size_t cap = 0;
        if (strcmp(a, "--token-only") == 0) {
            t->token_only = 1;
            continue;
        }
        if (strcmp(a, "--e2ee") == 0) {
            t->claims.e2ee = 1;
            continue;
        }
        if (strcmp(a, "--room") == 0) {
            dst = t->claims.room;
            cap = sizeof t->claims.room;
        } else if (strcmp(a, "--name") == 0) {
            dst = t->claims.name;
            cap = sizeof t->claims.name;
        } else if (strcmp(a, "--sub") == 0) {
            dst = t->claims.sub;
            cap = sizeof t->claims.sub;
        } else if (strcmp(a, "--role") != 0 && strcmp(a, "--ttl") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (!v) {
            fprintf(stderr, "legation token: option %s needs a value\n", a);
            return EXIT_USAGE;
        }
        i++;
        if (dst) {
            snprintf(dst, cap, "%s", v);
        } else if (strcmp(a, "--role") == 0 && auth_role_parse(v, &t->claims.role) != 0) {
            fprintf(stderr, "legation token: --role must be moderator, participant or observer\n");
            return EXIT_USAGE;
        } else if (strcmp(a, "--ttl") == 0 && (t->ttl = parse_ttl(v)) < 0) {
            fprintf(stderr, "legation token: --ttl '%s' is not a duration like 90s, 30m, 1h, 2d\n",
                    v);
            return EXIT_USAGE;
        }
    }
    *argc = out;
    if (!t->claims.room[0] || !t->claims.name[0] || !t->claims.role) {
        fprintf(stderr, "legation token: --room, --name and --role are required\n");
        return EXIT_USAGE;
    }
    if (!t->claims.sub[0])
        snprintf(t->claims.sub, sizeof t->claims.sub, "%s", t->claims.name);
    return 0;
}

static int cmd_token(lg_config_t *cfg, int argc, char **argv)
{
    token_args_t t;
    memset(&t, 0, sizeof t);
    t.ttl = 3600;
    int rc = token_args(&t, &argc, argv);
    if (rc == 0)
        rc = configure(cfg, argc, argv, 2);
    if (rc != 0)
        return rc;
    char err[512], path[LG_CONFIG_PATH_MAX + 16], token[AUTH_TOKEN_MAX], base[300];
    uint8_t secret[SECRET_MAX];
    size_t slen;
    int create = cfg->secret_file[0] == '\0';
    if (create)
        snprintf(path, sizeof path, "%s/secret", cfg->state_dir);
    else
        snprintf(path, sizeof path, "%s", cfg->secret_file);
    if ((create && lg_make_dirs(cfg->state_dir, err, sizeof err) != 0) ||
        secret_load(path, create, secret, &slen, err, sizeof err) != 0) {
        fprintf(stderr, "legation: %s\n", err);
        return 1;
    }
    snprintf(t.claims.aud, sizeof t.claims.aud, "%s", cfg->audience);
    rc = auth_mint_hs256(secret, slen, &t.claims, t.ttl, (int64_t)time(NULL), token, sizeof token);
    if (rc != 0) {
        fprintf(stderr,
                "legation token: cannot mint: %s (room must be 1..64 of A-Z a-z 0-9 _ . -)\n",
                lg_strerror(rc));
        return rc == LG_EINVAL ? EXIT_USAGE : 1;
    }
    lg_config_join_url(cfg, base, sizeof base);
    if (t.token_only)
        printf("%s\n", token);
    else
        printf("%s#token=%s\n", base, token);
    if (t.claims.e2ee && !t.token_only)
        fprintf(stderr,
                "legation token: room '%s' is end-to-end encrypted: agree on a meeting key "
                "with the others and share it apart from this link (append &key=KEY to "
                "the link, or type it in the page); the relay never sees it\n",
                t.claims.room);
    return 0;
}

static int cmd_audit(lg_config_t *cfg, int argc, char **argv)
{
    if (argc != 4 || strcmp(argv[2], "verify") != 0) {
        fprintf(stderr, "usage: legation audit verify FILE\n");
        return EXIT_USAGE;
    }
    return audit_verify_main(argv[3], stdout);
}

static const struct {
    const char *name;
    command_fn fn;
} COMMANDS[] = {
    {"run", cmd_run},
    {"cert", cmd_cert},
    {"token", cmd_token},
    {"audit", cmd_audit},
};

int main(int argc, char **argv)
{
    /* Signaling parses and builds SDP in multi-megabyte work areas (a 64 m-line session) that
     * live for one message. glibc's dynamic mmap threshold would move such blocks onto the heap
     * after the first free, where they fragment it and stay resident; a fixed threshold keeps
     * every block over 256 KB in its own mapping, returned to the system when freed. */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    static lg_config_t cfg;
    lg_config_defaults(&cfg);
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
        printf("legation %s\n", LG_VERSION);
        return 0;
    }
    if (argc < 2 || strncmp(argv[1], "--", 2) == 0) {
        /* No command: run, with every argument a flag (cmd_run reads flags from argv[2]). */
        char *args[argc + 2];
        args[0] = argv[0];
        args[1] = "run";
        for (int i = 1; i <= argc; i++)
            args[i + 1] = argv[i];
        return cmd_run(&cfg, argc + 1, args);
    }
    for (size_t i = 0; i < sizeof COMMANDS / sizeof COMMANDS[0]; i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0)
            return COMMANDS[i].fn(&cfg, argc, argv);
    fprintf(stderr, "legation: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return EXIT_USAGE;
}
