/* The legation command: runs the relay, or one of its tools (cert, audit verify). */
#include "certs/certs.h"
#include "sfu/config.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"
#include "sfu/relay.h"

#include <stdio.h>
#include <string.h>

#define EXIT_USAGE 2

typedef int (*command_fn)(lg_config_t *cfg, int argc, char **argv);

static void usage(FILE *out)
{
    fprintf(out, "usage: legation [run] [--key VALUE ...]   run the relay (default)\n"
                 "       legation cert [--key VALUE ...]    print the DTLS certificate "
                 "fingerprint\n"
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
    const char *h = cfg->listen_host;
    int v6 = strchr(h, ':') != NULL;
    printf("Legation is running: open https://%s%s%s:%u/\n", v6 ? "[" : "",
           strcmp(h, "127.0.0.1") == 0 ? "localhost" : h, v6 ? "]" : "", cfg->listen_port);
    fflush(stdout);
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

static const struct {
    const char *name;
    command_fn fn;
} COMMANDS[] = {
    {"run", cmd_run},
    {"cert", cmd_cert},
};

int main(int argc, char **argv)
{
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
