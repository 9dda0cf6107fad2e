/* The relay's Prometheus page as the bench reads it: one HTTPS GET of /metrics, and the sum of a
 * metric over its samples (workers). */
#ifndef LG_BENCH_RELAY_METRICS_H
#define LG_BENCH_RELAY_METRICS_H

/*
 * Contract
 * --------
 * relay_metrics_fetch is blocking and bounded: every socket call times out at timeout_ms and the
 * whole exchange gives up after it. It speaks HTTP/1.0 over TLS to an IPv4 address literal and
 * does not verify the certificate (the bench's own relay, on loopback or in its namespace, with a
 * certificate it generated). No global state; any thread may call it.
 * relay_metrics_sum is pure.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h); err names the cause:
 *   LG_EINVAL  host is not an IPv4 literal
 *   LG_EIO     connect, TLS or the exchange failed, or the status was not 200
 *   LG_ECRYPTO OpenSSL could not make a context
 *   LG_EFULL   the page exceeds RELAY_METRICS_MAX bytes
 *   LG_ENOMEM
 */

#include <stddef.h>
#include <stdint.h>

#define RELAY_METRICS_MAX (1u << 20)

/* GETs https://host:port/metrics. On success *body is the NUL-terminated page (headers removed),
 * malloc'd: the caller frees it. */
int relay_metrics_fetch(const char *host, uint16_t port, int timeout_ms, char **body, size_t *len,
                        char *err, size_t errlen);

/* Sums the values of every sample of metric `name` in a Prometheus text page: lines
 * "name value" and "name{labels} value" (comments and other metrics ignored). Returns 0 with the
 * sum in *out, or LG_ENOTFOUND when no sample of that name is on the page. */
int relay_metrics_sum(const char *text, size_t len, const char *name, double *out);

#endif
