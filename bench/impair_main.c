/* legation-impair: the impairment proxy (bench/impair.h) from the command line, to try a poor link
 * by hand. Runs until SIGINT or SIGTERM, then prints its counters. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/impair.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: legation-impair --listen IP:PORT --upstream IP:PORT [options]\n"
            "Forwards UDP and TCP from --listen to --upstream through a poor link.\n"
            "  --rate R        rate limit both ways, bit/s on IP bytes (32k, 2M; 0: none)\n"
            "  --loss P        random loss both ways, percent (10%%; TCP: a retransmission delay)\n"
            "  --delay MS      one-way delay both ways\n"
            "  --jitter MS     +- uniform on the delay (never reorders)\n"
            "  --queue MS      longest wait for the rate limit before a drop (default %d)\n"
            "  --up-rate, --up-loss, --up-delay, --down-rate, --down-loss, --down-delay\n"
            "                  the same for one direction (up: towards --upstream)\n"
            "  --seed N        PRNG seed of the loss pattern (default 1)\n"
            "  --idle MS       UDP flows without traffic expire after (default %d)\n"
            "  --stats S       also print the counters every S seconds\n"
            "  --no-udp, --no-tcp\n",
            IMPAIR_DEFAULT_QUEUE_MS, IMPAIR_DEFAULT_IDLE_MS);
}

static void print_dir(const char *name, const impair_counters_t *c)
{
    printf("  %-9s forwarded %llu (%llu bytes), lost %llu, queue drops %llu, other drops %llu, "
           "retransmitted %llu\n",
           name, (unsigned long long)c->forwarded, (unsigned long long)c->bytes,
           (unsigned long long)c->dropped_loss, (unsigned long long)c->dropped_queue,
           (unsigned long long)c->dropped_other, (unsigned long long)c->retransmitted);
}

static void print_stats(impair_proxy_t *p)
{
    impair_stats_t s;
    impair_get_stats(p, &s);
    printf("legation-impair: %u UDP flows open (%llu created, %llu expired), %u TCP open "
           "(%llu accepted, %llu refused)\n",
           s.flows_open, (unsigned long long)s.flows_created, (unsigned long long)s.flows_expired,
           s.tcp_open, (unsigned long long)s.tcp_accepted, (unsigned long long)s.tcp_refused);
    print_dir("udp up", &s.udp_up);
    print_dir("udp down", &s.udp_down);
    print_dir("tcp up", &s.tcp_up);
    print_dir("tcp down", &s.tcp_down);
    fflush(stdout);
}

static int parse_ms(const char *v, uint32_t *out)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || *end != '\0' || n < 0 || n > 600000)
        return -1;
    *out = (uint32_t)n;
    return 0;
}

enum {
    O_RATE = 256,
    O_LOSS,
    O_DELAY,
    O_UP_RATE,
    O_UP_LOSS,
    O_UP_DELAY,
    O_DOWN_RATE,
    O_DOWN_LOSS,
    O_DOWN_DELAY,
    O_JITTER,
    O_QUEUE,
    O_SEED,
    O_IDLE,
    O_STATS,
    O_NO_UDP,
    O_NO_TCP
};

/* Applies one option to o (both directions or one). Returns 0 or -1. */
static int apply(impair_opts_t *o, int opt, const char *v, unsigned *stats_s)
{
    impair_params_t *both[2] = {&o->up, &o->down};
    int from = opt == O_DOWN_RATE || opt == O_DOWN_LOSS || opt == O_DOWN_DELAY ? 1 : 0;
    int to = opt == O_UP_RATE || opt == O_UP_LOSS || opt == O_UP_DELAY ? 1 : 2;
    for (int i = from; i < to; i++) {
        impair_params_t *d = both[i];
        int rc = 0;
        switch (opt) {
        case O_RATE:
        case O_UP_RATE:
        case O_DOWN_RATE:
            rc = impair_parse_rate(v, &d->rate_bps);
            break;
        case O_LOSS:
        case O_UP_LOSS:
        case O_DOWN_LOSS:
            rc = impair_parse_loss(v, &d->loss_ppm);
            break;
        case O_DELAY:
        case O_UP_DELAY:
        case O_DOWN_DELAY:
            rc = parse_ms(v, &d->delay_ms);
            break;
        case O_JITTER:
            rc = parse_ms(v, &d->jitter_ms);
            break;
        case O_QUEUE:
            rc = parse_ms(v, &d->queue_ms);
            break;
        case O_SEED: {
            char *end;
            d->seed = strtoull(v, &end, 0) + (uint64_t)i; /* the two directions differ */
            rc = end == v || *end != '\0' ? -1 : 0;
            break;
        }
        default:
            break;
        }
        if (rc != 0)
            return -1;
    }
    if (opt == O_IDLE)
        return parse_ms(v, &o->idle_ms);
    if (opt == O_STATS)
        *stats_s = (unsigned)strtoul(v, NULL, 10);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"listen", required_argument, NULL, 'l'},
                                             {"upstream", required_argument, NULL, 'u'},
                                             {"rate", required_argument, NULL, O_RATE},
                                             {"loss", required_argument, NULL, O_LOSS},
                                             {"delay", required_argument, NULL, O_DELAY},
                                             {"up-rate", required_argument, NULL, O_UP_RATE},
                                             {"up-loss", required_argument, NULL, O_UP_LOSS},
                                             {"up-delay", required_argument, NULL, O_UP_DELAY},
                                             {"down-rate", required_argument, NULL, O_DOWN_RATE},
                                             {"down-loss", required_argument, NULL, O_DOWN_LOSS},
                                             {"down-delay", required_argument, NULL, O_DOWN_DELAY},
                                             {"jitter", required_argument, NULL, O_JITTER},
                                             {"queue", required_argument, NULL, O_QUEUE},
                                             {"seed", required_argument, NULL, O_SEED},
                                             {"idle", required_argument, NULL, O_IDLE},
                                             {"stats", required_argument, NULL, O_STATS},
                                             {"no-udp", no_argument, NULL, O_NO_UDP},
                                             {"no-tcp", no_argument, NULL, O_NO_TCP},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    impair_opts_t o;
    memset(&o, 0, sizeof o);
    o.up.seed = 1;
    o.down.seed = 2;
    unsigned stats_s = 0;
    int opt;
    while ((opt = getopt_long(argc, argv, "l:u:h", longopts, NULL)) != -1) {
        if (opt == 'l')
            o.listen = optarg;
        else if (opt == 'u')
            o.upstream = optarg;
        else if (opt == O_NO_UDP)
            o.no_udp = true;
        else if (opt == O_NO_TCP)
            o.no_tcp = true;
        else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else if (opt == '?' || apply(&o, opt, optarg, &stats_s) != 0) {
            if (opt != '?')
                fprintf(stderr, "legation-impair: bad value '%s' for --%s\n", optarg,
                        longopts[opt - O_RATE + 2].name);
            usage(stderr);
            return 2;
        }
    }
    if (!o.listen || !o.upstream || optind != argc) {
        usage(stderr);
        return 2;
    }
    char err[256];
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    impair_proxy_t *p = impair_start(&o, err, sizeof err);
    if (!p) {
        fprintf(stderr, "legation-impair: %s\n", err);
        return 1;
    }
    printf("legation-impair: %s -> %s\n", o.listen, o.upstream);
    fflush(stdout);
    unsigned ticks = 0;
    while (!g_stop) {
        usleep(100000);
        if (stats_s && ++ticks % (stats_s * 10) == 0)
            print_stats(p);
    }
    print_stats(p);
    impair_stop(p);
    return 0;
}
