/* Shared fixtures for the signaling/protocol unit tests: the fixture files of docs/PROTOCOL.md
 * and the compact-JSON comparison of built messages. Header-only, for tests. */
#ifndef LG_TESTS_PROTOCOL_FIXTURES_H
#define LG_TESTS_PROTOCOL_FIXTURES_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/auth.h"
#include "signaling/protocol.h"

#define FIXTURES "tests/fixtures/protocol"
#define DOC      "docs/PROTOCOL.md"

/* The whole file, NUL-terminated, with one trailing newline removed (the wire text has none). */
static inline char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s (tests run from the source root)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    buf[n] = '\0';
    return buf;
}

static inline char *fixture(const char *dir, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, FIXTURES "/%s/%s", dir, name);
    return read_text(path);
}

static inline json_t *load(const char *text)
{
    json_error_t e;
    json_t *j = json_loads(text, 0, &e);
    if (!j)
        fail_msg("not JSON (%s): %s", e.text, text);
    return j;
}

/* built must be exactly the fixture's text in compact form (same members, same order). */
static inline void assert_built(char *built, const char *fixture_text)
{
    assert_non_null(built);
    json_t *want = load(fixture_text);
    char *compact = json_dumps(want, JSON_COMPACT);
    if (strcmp(built, compact) != 0)
        fail_msg("built    %s\nexpected %s", built, compact);
    free(compact);
    json_decref(want);
    free(built);
}

#endif
