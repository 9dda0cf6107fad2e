/* Unit tests for signaling/audit: chain building, reopening, and tamper detection by line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sfu/lg_error.h"
#include "signaling/audit.h"

#include <openssl/evp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_LINES 32

typedef struct {
    char dir[64];
    char path[128];
} fixture_t;

static int setup(void **state)
{
    fixture_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/lg_audit_XXXXXX");
    assert_non_null(mkdtemp(fx->dir));
    snprintf(fx->path, sizeof fx->path, "%s/audit.log", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *fx = *state;
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Independent SHA-256 hex of a string, to check prev without trusting audit.c. */
static void hex_sha256(const char *s, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(s, strlen(s), md, &n, EVP_sha256(), NULL), 1);
    for (int i = 0; i < 32; i++)
        sprintf(out + 2 * i, "%02x", md[i]);
}

/* Reads the file's lines (without newlines) into lines[]; returns the count. */
static int read_lines(const char *path, char *lines[MAX_LINES])
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    int n = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        assert_true(n < MAX_LINES);
        if (line[len - 1] == '\n')
            line[len - 1] = '\0';
        lines[n++] = strdup(line);
    }
    free(line);
    fclose(f);
    return n;
}

static void write_lines(const char *path, char *lines[], int n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < n; i++)
        fprintf(f, "%s\n", lines[i]);
    fclose(f);
}

static void free_lines(char *lines[], int n)
{
    for (int i = 0; i < n; i++)
        free(lines[i]);
}

static void append_joins(audit_t *a, int first, int count)
{
    char err[256] = "";
    for (int i = first; i < first + count; i++) {
        json_t *f =
            json_pack("{s:s, s:s+, s:s+, s:s, s:s+}", "room", "budget-2026", "identity", "user-",
                      i % 2 ? "odd" : "even", "name", "Zoë ", i % 2 ? "Odd" : "Even", "role",
                      "participant", "remote", "192.0.2.7:", i % 2 ? "5001" : "5002");
        assert_non_null(f);
        json_object_set_new(f, "n", json_integer(i));
        int rc = audit_append(a, AUDIT_EV_JOIN, f, err, sizeof err);
        json_decref(f);
        assert_int_equal(rc, 0);
    }
}

/* Creates a log of n join records and closes it. */
static void make_log(const char *path, int n)
{
    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, path, err, sizeof err), 0);
    append_joins(&a, 1, n);
    assert_int_equal(audit_last_seq(&a), (uint64_t)n);
    audit_close(&a);
}

static void replace_once(char **line, const char *from, const char *to)
{
    char *p = strstr(*line, from);
    assert_non_null(p);
    size_t len = strlen(*line) - strlen(from) + strlen(to);
    char *out = malloc(len + 1);
    assert_non_null(out);
    snprintf(out, len + 1, "%.*s%s%s", (int)(p - *line), *line, to, p + strlen(from));
    free(*line);
    *line = out;
}

static int verify_main_says(const char *path, const char *needle)
{
    char out[512] = "";
    FILE *f = tmpfile();
    assert_non_null(f);
    int code = audit_verify_main(path, f);
    rewind(f);
    size_t n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    assert_non_null(strstr(out, needle));
    assert_non_null(strchr(out, '\n'));
    assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1); /* exactly one line */
    return code;
}

static void test_append_then_verify_ok(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 5);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), 0);
    assert_int_equal(res.records, 5);
    assert_int_equal(res.bad_line, 0);
    assert_non_null(strstr(res.message, "5 records"));
    char *lines[MAX_LINES], want[65];
    int n = read_lines(fx->path, lines);
    assert_int_equal(n, 5);
    hex_sha256(lines[4], want);
    assert_string_equal(res.head, want);
    free_lines(lines, n);
    assert_int_equal(verify_main_says(fx->path, "OK, 5 records"), 0);
}

static void check_ts(const char *ts)
{
    /* 2026-03-01T09:14:03.512Z */
    assert_int_equal(strlen(ts), 24);
    for (int i = 0; i < 24; i++) {
        char c = ts[i];
        switch (i) {
        case 4:
        case 7:
            assert_int_equal(c, '-');
            break;
        case 10:
            assert_int_equal(c, 'T');
            break;
        case 13:
        case 16:
            assert_int_equal(c, ':');
            break;
        case 19:
            assert_int_equal(c, '.');
            break;
        case 23:
            assert_int_equal(c, 'Z');
            break;
        default:
            assert_true(c >= '0' && c <= '9');
        }
    }
}

static void test_lines_are_canonical_json(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 3);
    char *lines[MAX_LINES], prev[65] = "";
    memset(prev, '0', 64);
    int n = read_lines(fx->path, lines);
    assert_int_equal(n, 3);
    for (int i = 0; i < n; i++) {
        json_error_t je;
        json_t *o = json_loads(lines[i], JSON_REJECT_DUPLICATES, &je);
        assert_non_null(o);
        /* Member order: seq, ts, event, caller fields in order, prev last. */
        static const char *keys[] = {"seq",  "ts",   "event",  "room", "identity",
                                     "name", "role", "remote", "n",    "prev"};
        void *it = json_object_iter(o);
        for (int k = 0; k < 10; k++, it = json_object_iter_next(o, it)) {
            assert_non_null(it);
            assert_string_equal(json_object_iter_key(it), keys[k]);
        }
        assert_null(it);
        assert_int_equal(json_integer_value(json_object_get(o, "seq")), i + 1);
        check_ts(json_string_value(json_object_get(o, "ts")));
        assert_string_equal(json_string_value(json_object_get(o, "event")), "join");
        assert_string_equal(json_string_value(json_object_get(o, "room")), "budget-2026");
        assert_int_equal(json_integer_value(json_object_get(o, "n")), i + 1);
        assert_string_equal(json_string_value(json_object_get(o, "prev")), prev);
        /* The stored bytes are exactly jansson's compact, ordered form. */
        char *again = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
        assert_string_equal(again, lines[i]);
        free(again);
        json_decref(o);
        hex_sha256(lines[i], prev);
    }
    assert_non_null(strstr(lines[0], "\"name\":\"Zoë Odd\""));
    free_lines(lines, n);
}

static void test_reopen_continues_chain(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 3);
    audit_t a;
    char err[256] = "", head[65], want[65], *lines[MAX_LINES];
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), 0);
    assert_int_equal(audit_last_seq(&a), 3);
    int n = read_lines(fx->path, lines);
    hex_sha256(lines[2], want);
    free_lines(lines, n);
    audit_head(&a, head);
    assert_string_equal(head, want);
    json_t *f = json_pack("{s:s, s:s}", "room", "budget-2026", "by", "mod-1");
    assert_int_equal(audit_append(&a, AUDIT_EV_LOCK, f, err, sizeof err), 0);
    json_decref(f);
    append_joins(&a, 5, 1);
    audit_close(&a);

    n = read_lines(fx->path, lines);
    assert_int_equal(n, 5);
    json_t *o = json_loads(lines[3], 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(o, "seq")), 4);
    assert_string_equal(json_string_value(json_object_get(o, "event")), "lock");
    assert_string_equal(json_string_value(json_object_get(o, "prev")), want);
    json_decref(o);
    free_lines(lines, n);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), 0);
    assert_int_equal(res.records, 5);
}

static void test_edited_byte_breaks_next_line(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 6);
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    replace_once(&lines[2], "Zoë Odd", "Zoë Ode"); /* line 3 is still valid JSON */
    write_lines(fx->path, lines, n);
    free_lines(lines, n);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECHAIN);
    assert_int_equal(res.bad_line, 4);
    assert_int_equal(res.records, 3);
    assert_string_equal(res.message, "line 4: prev does not match line 3 (edited or reordered?)");
    assert_int_equal(verify_main_says(fx->path, "BROKEN: line 4: prev does not match"), 1);
}

static void test_edit_that_breaks_json_names_that_line(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 6);
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    replace_once(&lines[2], "\"room\":", "\"room\"="); /* line 3 */
    write_lines(fx->path, lines, n);
    free_lines(lines, n);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECORRUPT);
    assert_int_equal(res.bad_line, 3);
    assert_non_null(strstr(res.message, "line 3: not valid JSON"));
}

static void test_edited_seq_names_that_line(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 6);
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    replace_once(&lines[2], "{\"seq\":3,", "{\"seq\":9,");
    write_lines(fx->path, lines, n);
    free_lines(lines, n);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECHAIN);
    assert_int_equal(res.bad_line, 3);
    assert_non_null(strstr(res.message, "line 3: seq 9, expected 3"));
}

static void test_removed_line_is_named(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 6);
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    free(lines[3]);
    memmove(&lines[3], &lines[4], 2 * sizeof lines[0]); /* drop line 4 */
    write_lines(fx->path, lines, n - 1);
    free_lines(lines, n - 1);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECHAIN);
    assert_int_equal(res.bad_line, 4);
    assert_non_null(strstr(res.message, "line 4: seq 5, expected 4"));
    /* Open sees the last line's seq disagree with its position and refuses too. */
    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), LG_ECHAIN);
    assert_non_null(strstr(err, "line 5: seq 6, expected 5"));
}

static void test_swapped_lines_are_named(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 5);
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    char *t = lines[1];
    lines[1] = lines[2];
    lines[2] = t;
    write_lines(fx->path, lines, n);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECHAIN);
    assert_int_equal(res.bad_line, 2);
    assert_non_null(strstr(res.message, "line 2: seq 3, expected 2"));

    /* Renumbering the swapped lines does not help: prev still names the wrong predecessor. */
    replace_once(&lines[1], "{\"seq\":3,", "{\"seq\":2,");
    replace_once(&lines[2], "{\"seq\":2,", "{\"seq\":3,");
    write_lines(fx->path, lines, n);
    free_lines(lines, n);
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECHAIN);
    assert_int_equal(res.bad_line, 2);
    assert_string_equal(res.message, "line 2: prev does not match line 1 (edited or reordered?)");
}

static void test_truncated_tail_refused(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 4);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(truncate(fx->path, st.st_size - 5), 0);

    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), LG_ECORRUPT);
    assert_non_null(strstr(err, fx->path));
    assert_non_null(strstr(err, "line 4: truncated"));
    off_t cut = st.st_size - 5;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_size, cut); /* nothing was appended */
    char *lines[MAX_LINES];
    int n = read_lines(fx->path, lines);
    assert_int_equal(n, 4);
    free_lines(lines, n);

    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_ECORRUPT);
    assert_int_equal(res.bad_line, 4);
    assert_int_equal(res.records, 3);
    assert_non_null(strstr(res.message, "line 4: truncated"));
    assert_int_equal(verify_main_says(fx->path, "BROKEN: line 4: truncated"), 1);
}

static void test_garbage_last_line_refused(void **state)
{
    fixture_t *fx = *state;
    make_log(fx->path, 3);
    FILE *f = fopen(fx->path, "ab");
    assert_non_null(f);
    fputs("{\"seq\":4,\"ts\":\n", f);
    fclose(f);
    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), LG_ECORRUPT);
    assert_non_null(strstr(err, "line 4: not valid JSON"));
}

static void test_file_mode_0600(void **state)
{
    fixture_t *fx = *state;
    mode_t old = umask(0); /* so the mode comes from audit_open alone */
    audit_t a;
    char err[256] = "";
    int rc = audit_open(&a, fx->path, err, sizeof err);
    umask(old);
    assert_int_equal(rc, 0);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_true(S_ISREG(st.st_mode));
    audit_close(&a);
}

static void test_empty_and_missing_files(void **state)
{
    fixture_t *fx = *state;
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), LG_EIO);
    assert_int_equal(verify_main_says(fx->path, "UNREADABLE"), 2);

    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), 0);
    assert_int_equal(audit_last_seq(&a), 0);
    audit_close(&a);
    audit_close(&a); /* twice is harmless */
    assert_int_equal(audit_verify_file(fx->path, &res), 0);
    assert_int_equal(res.records, 0);
    assert_int_equal(verify_main_says(fx->path, "OK, 0 records"), 0);
}

static void test_bad_arguments_write_nothing(void **state)
{
    fixture_t *fx = *state;
    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), 0);
    json_t *f = json_pack("{s:s, s:i}", "room", "r", "seq", 99);
    assert_int_equal(audit_append(&a, AUDIT_EV_JOIN, f, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "\"seq\""));
    json_decref(f);
    json_t *arr = json_array();
    assert_int_equal(audit_append(&a, AUDIT_EV_JOIN, arr, err, sizeof err), LG_EINVAL);
    json_decref(arr);
    assert_int_equal(audit_append(&a, "Join\n", NULL, err, sizeof err), LG_EINVAL);
    assert_int_equal(audit_append(&a, "", NULL, err, sizeof err), LG_EINVAL);
    json_t *big = json_pack("{s:s}", "reason", "");
    char *text = malloc(AUDIT_LINE_MAX + 1);
    memset(text, 'x', AUDIT_LINE_MAX);
    text[AUDIT_LINE_MAX] = '\0';
    json_object_set_new(big, "reason", json_string(text));
    free(text);
    assert_int_equal(audit_append(&a, AUDIT_EV_KICK, big, err, sizeof err), LG_ERANGE);
    json_decref(big);
    assert_int_equal(audit_last_seq(&a), 0);
    assert_int_equal(audit_append(&a, "custom_event_2", NULL, err, sizeof err), 0);
    audit_close(&a);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), 0);
    assert_int_equal(res.records, 1);
}

static void test_second_open_is_refused(void **state)
{
    fixture_t *fx = *state;
    audit_t a, b;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), 0);
    assert_int_equal(audit_open(&b, fx->path, err, sizeof err), LG_ESTATE);
    assert_non_null(strstr(err, "locked"));
    audit_close(&a);
    assert_int_equal(audit_open(&b, fx->path, err, sizeof err), 0);
    audit_close(&b);
}

/* A write cut short (here by RLIMIT_FSIZE) is removed again, so the chain stays valid. */
static void test_short_write_rolled_back(void **state)
{
    fixture_t *fx = *state;
    audit_t a;
    char err[256] = "";
    assert_int_equal(audit_open(&a, fx->path, err, sizeof err), 0);
    append_joins(&a, 1, 2);
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)st.st_size + 10;
    void (*prev_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    int rc = audit_append(&a, AUDIT_EV_LEAVE, NULL, err, sizeof err);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, prev_handler);
    assert_int_equal(rc, LG_EIO);
    assert_non_null(strstr(err, "record 3"));
    struct stat after;
    assert_int_equal(stat(fx->path, &after), 0);
    assert_int_equal(after.st_size, st.st_size);
    assert_int_equal(audit_last_seq(&a), 2);
    assert_int_equal(audit_append(&a, AUDIT_EV_LEAVE, NULL, err, sizeof err), 0);
    audit_close(&a);
    audit_verify_result_t res;
    assert_int_equal(audit_verify_file(fx->path, &res), 0);
    assert_int_equal(res.records, 3);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_append_then_verify_ok),
        T(test_lines_are_canonical_json),
        T(test_reopen_continues_chain),
        T(test_edited_byte_breaks_next_line),
        T(test_edit_that_breaks_json_names_that_line),
        T(test_edited_seq_names_that_line),
        T(test_removed_line_is_named),
        T(test_swapped_lines_are_named),
        T(test_truncated_tail_refused),
        T(test_garbage_last_line_refused),
        T(test_file_mode_0600),
        T(test_empty_and_missing_files),
        T(test_bad_arguments_write_nothing),
        T(test_second_open_is_refused),
        T(test_short_write_rolled_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
