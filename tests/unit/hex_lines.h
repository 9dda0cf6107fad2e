/* Test helper: loads a fixture of one lowercase hex packet per line ('#' lines are comments) into
 * exact-size heap buffers, so AddressSanitizer sees any read past a packet's end. */
#ifndef LG_TESTS_HEX_LINES_H
#define LG_TESTS_HEX_LINES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HEX_LINES_MAX 128

typedef struct hex_lines {
    size_t n;
    uint8_t *pkt[HEX_LINES_MAX];
    size_t len[HEX_LINES_MAX];
} hex_lines_t;

static int hex_nibble(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes one line (without newline) into a new buffer; returns its length or -1. */
static long hex_decode_line(const char *s, size_t n, uint8_t **out)
{
    if (n % 2)
        return -1;
    uint8_t *b = malloc(n / 2 ? n / 2 : 1);
    if (!b)
        return -1;
    for (size_t i = 0; i < n / 2; i++) {
        int hi = hex_nibble(s[2 * i]), lo = hex_nibble(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            free(b);
            return -1;
        }
        b[i] = (uint8_t)(hi << 4 | lo);
    }
    *out = b;
    return (long)(n / 2);
}

/* Loads path; returns the number of packets, or -1 (missing file, bad hex, too many lines). */
static int hex_lines_load(const char *path, hex_lines_t *h)
{
    memset(h, 0, sizeof *h);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    static char line[1 << 16];
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        size_t n = strcspn(line, "\r\n");
        if (n == 0 || line[0] == '#')
            continue;
        long len = h->n < HEX_LINES_MAX ? hex_decode_line(line, n, &h->pkt[h->n]) : -1;
        if (len < 0) {
            rc = -1;
            break;
        }
        h->len[h->n++] = (size_t)len;
    }
    fclose(f);
    return rc < 0 ? -1 : (int)h->n;
}

static void hex_lines_free(hex_lines_t *h)
{
    for (size_t i = 0; i < h->n; i++)
        free(h->pkt[i]);
    h->n = 0;
}

#endif
