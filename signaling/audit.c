/* The hash-chained JSON-lines audit log: appending records, recovering the chain head on open, and
 * verifying a whole file line by line. */
#include "signaling/audit.h"
#include "sfu/lg_error.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define EVENT_NAME_MAX 63

typedef unsigned long long ull;

/* What the four fixed members of one line say; the caller's fields are not examined. */
typedef struct {
    uint64_t seq;
    char prev[65];
} audit_rec_t;

/* Where the last complete line of a file starts, found by one pass over it. */
typedef struct {
    uint64_t size;       /* bytes in the file */
    uint64_t lines;      /* newline-terminated lines */
    uint64_t last_start; /* offset of the last newline-terminated line */
    int last_byte;       /* the file's final byte, -1 when empty */
} audit_scan_t;

enum { LINE_OK, LINE_EOF, LINE_PARTIAL, LINE_LONG, LINE_ERR };

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

static void to_hex(const unsigned char md[32], char out[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = digits[md[i] >> 4];
        out[2 * i + 1] = digits[md[i] & 0x0f];
    }
    out[64] = '\0';
}

static int sha256(const void *p, size_t n, unsigned char md[32])
{
    unsigned int mdlen = 0;
    if (EVP_Digest(p, n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        return LG_ECRYPTO;
    return 0;
}

static int is_hex64(const char *s)
{
    size_t i = 0;
    for (; s[i]; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    }
    return i == 64;
}

static int valid_event(const char *ev)
{
    size_t i = 0;
    for (; ev[i]; i++) {
        char c = ev[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_'))
            return 0;
    }
    return i > 0 && i <= EVENT_NAME_MAX;
}

static int is_reserved(const char *key)
{
    return strcmp(key, "seq") == 0 || strcmp(key, "ts") == 0 || strcmp(key, "event") == 0 ||
           strcmp(key, "prev") == 0;
}

/* RFC 3339 UTC with milliseconds: "2026-03-01T09:14:03.512Z". */
static void format_ts(char out[32])
{
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", now.tv_nsec / 1000000L);
}

/* Parses one line (without its newline) and checks the fixed members. Returns 0 or LG_ECORRUPT
 * with the reason in why. */
static int parse_record(const char *line, size_t len, audit_rec_t *rec, char *why, size_t whylen)
{
    json_error_t jerr;
    json_t *root = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(why, whylen, "not valid JSON (%s)", jerr.text);
        return LG_ECORRUPT;
    }
    json_t *seq = json_object_get(root, "seq");
    json_t *ts = json_object_get(root, "ts");
    json_t *event = json_object_get(root, "event");
    json_t *prev = json_object_get(root, "prev");
    int rc = LG_ECORRUPT;
    if (!json_is_object(root))
        snprintf(why, whylen, "not a JSON object");
    else if (!json_is_integer(seq) || json_integer_value(seq) < 1)
        snprintf(why, whylen, "missing or bad \"seq\"");
    else if (!json_is_string(ts))
        snprintf(why, whylen, "missing or bad \"ts\"");
    else if (!json_is_string(event) || !valid_event(json_string_value(event)))
        snprintf(why, whylen, "missing or bad \"event\"");
    else if (!json_is_string(prev) || !is_hex64(json_string_value(prev)))
        snprintf(why, whylen, "missing or bad \"prev\" (want 64 lowercase hex digits)");
    else
        rc = 0;
    if (rc == 0) {
        rec->seq = (uint64_t)json_integer_value(seq);
        memcpy(rec->prev, json_string_value(prev), 65);
    }
    json_decref(root);
    return rc;
}

/* --- open: find and check the last line ------------------------------------------------------ */

static int pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r == 0)
                errno = EIO; /* the file shrank under us */
            return -1;
        }
        done += (size_t)r;
    }
    return 0;
}

static int scan_file(int fd, audit_scan_t *s)
{
    char buf[32768];
    uint64_t line_start = 0;
    memset(s, 0, sizeof *s);
    s->last_byte = -1;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, (off_t)s->size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            return 0;
        const char *end = buf + n;
        for (const char *p = buf; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
            s->lines++;
            s->last_start = line_start;
            line_start = s->size + (uint64_t)(p - buf) + 1;
        }
        s->size += (uint64_t)n;
        s->last_byte = (unsigned char)buf[n - 1];
    }
}

/* Checks the last line and loads seq and head from it. Fills why; the caller adds the file name. */
static int check_last_line(audit_t *a, const audit_scan_t *s, char *why, size_t whylen)
{
    size_t len = (size_t)(s->size - 1 - s->last_start);
    if (len > AUDIT_LINE_MAX) {
        snprintf(why, whylen, "longer than %d bytes", AUDIT_LINE_MAX);
        return LG_ECORRUPT;
    }
    char *buf = malloc(len ? len : 1);
    if (!buf)
        return LG_ENOMEM;
    audit_rec_t rec = {0};
    int rc = 0;
    if (pread_full(a->fd, buf, len, s->last_start) != 0) {
        snprintf(why, whylen, "cannot read: %s", strerror(errno));
        rc = LG_EIO;
    }
    if (rc == 0)
        rc = parse_record(buf, len, &rec, why, whylen);
    if (rc == 0 && rec.seq != s->lines) {
        snprintf(why, whylen, "seq %llu, expected %llu (line removed, inserted or moved?)",
                 (ull)rec.seq, (ull)s->lines);
        rc = LG_ECHAIN;
    }
    if (rc == 0)
        rc = sha256(buf, len, a->head);
    if (rc == 0)
        a->seq = rec.seq;
    free(buf);
    return rc;
}

static int load_tail(audit_t *a, char *err, size_t errlen)
{
    struct stat st;
    audit_scan_t s;
    char why[200];
    if (fstat(a->fd, &st) != 0) {
        set_err(err, errlen, "audit log %s: cannot stat: %s", a->path, strerror(errno));
        return LG_EIO;
    }
    if (!S_ISREG(st.st_mode)) {
        set_err(err, errlen, "audit log %s: not a regular file", a->path);
        return LG_EINVAL;
    }
    if (scan_file(a->fd, &s) != 0) {
        set_err(err, errlen, "audit log %s: cannot read: %s", a->path, strerror(errno));
        return LG_EIO;
    }
    a->size = s.size;
    if (s.size == 0)
        return 0;
    int rc;
    uint64_t line = s.lines;
    if (s.last_byte != '\n') {
        line = s.lines + 1;
        snprintf(why, sizeof why, "truncated (no newline at end of file)");
        rc = LG_ECORRUPT;
    } else {
        rc = check_last_line(a, &s, why, sizeof why);
    }
    if (rc == LG_ENOMEM || rc == LG_ECRYPTO)
        set_err(err, errlen, "audit log %s: %s", a->path, lg_strerror(rc));
    else if (rc != 0)
        set_err(err, errlen,
                "audit log %s line %llu: %s; refusing to append (run `legation audit verify %s`)",
                a->path, (ull)line, why, a->path);
    return rc;
}

/* Makes a newly created file's directory entry durable. Best effort: some filesystems refuse. */
static void sync_parent_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy)
        return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

int audit_open(audit_t *a, const char *path, char *err, size_t errlen)
{
    if (!a || !path || !*path) {
        set_err(err, errlen, "audit log: no path given");
        return LG_EINVAL;
    }
    memset(a, 0, sizeof *a);
    a->fd = -1;
    a->path = strdup(path);
    if (!a->path) {
        set_err(err, errlen, "audit log %s: out of memory", path);
        return LG_ENOMEM;
    }
    int rc = 0;
    a->fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
    if (a->fd < 0) {
        set_err(err, errlen, "audit log %s: cannot open: %s", path, strerror(errno));
        rc = LG_EIO;
    } else if (flock(a->fd, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        set_err(err, errlen, "audit log %s: %s", path,
                busy ? "locked by another holder (is another legation running?)" : strerror(errno));
        rc = busy ? LG_ESTATE : LG_EIO;
    } else {
        rc = load_tail(a, err, errlen);
    }
    if (rc != 0) {
        audit_close(a);
        return rc;
    }
    if (a->size == 0)
        sync_parent_dir(path);
    return 0;
}

void audit_close(audit_t *a)
{
    if (!a || !a->path)
        return;
    if (a->fd >= 0)
        close(a->fd);
    free(a->path);
    memset(a, 0, sizeof *a);
    a->fd = -1;
}

uint64_t audit_last_seq(const audit_t *a)
{
    return a ? a->seq : 0;
}

void audit_head(const audit_t *a, char hex[65])
{
    static const unsigned char zero[32];
    to_hex(a ? a->head : zero, hex);
}

/* --- append ---------------------------------------------------------------------------------- */

/* Builds the record object in canonical member order. Returns NULL on allocation failure. */
static json_t *build_record(const audit_t *a, const char *event, json_t *fields)
{
    char ts[32], prev[65];
    const char *key;
    json_t *value;
    format_ts(ts);
    to_hex(a->head, prev);
    json_t *o = json_object();
    if (!o)
        return NULL;
    int bad = json_object_set_new(o, "seq", json_integer((json_int_t)(a->seq + 1)));
    bad |= json_object_set_new(o, "ts", json_string(ts));
    bad |= json_object_set_new(o, "event", json_string(event));
    if (fields) {
        json_object_foreach(fields, key, value)
        {
            bad |= json_object_set(o, key, value);
        }
    }
    bad |= json_object_set_new(o, "prev", json_string(prev));
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int check_append_args(const char *event, json_t *fields, char *err, size_t errlen)
{
    const char *key;
    json_t *value;
    if (!event || !valid_event(event)) {
        set_err(err, errlen, "audit: bad event name \"%s\" (want 1-%d of [a-z0-9_])",
                event ? event : "(null)", EVENT_NAME_MAX);
        return LG_EINVAL;
    }
    if (fields && !json_is_object(fields)) {
        set_err(err, errlen, "audit: fields of event %s must be a JSON object", event);
        return LG_EINVAL;
    }
    if (fields) {
        json_object_foreach(fields, key, value)
        {
            if (is_reserved(key)) {
                set_err(err, errlen, "audit: field \"%s\" of event %s is reserved", key, event);
                return LG_EINVAL;
            }
        }
    }
    return 0;
}

/* Serializes the record plus "\n" into buf[AUDIT_LINE_MAX + 1]; *len excludes the newline. */
static int serialize(const audit_t *a, const char *event, json_t *fields, char *buf, size_t *len)
{
    json_t *o = build_record(a, event, fields);
    if (!o)
        return LG_ENOMEM;
    size_t n = json_dumpb(o, buf, AUDIT_LINE_MAX, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (n == 0)
        return LG_ENOMEM;
    if (n > AUDIT_LINE_MAX)
        return LG_ERANGE;
    buf[n] = '\n';
    *len = n;
    return 0;
}

/* One write(2) of the whole line; a short write is cut back off so the file stays a chain. */
static int write_line(audit_t *a, const char *line, size_t len, char *err, size_t errlen)
{
    ssize_t n;
    do {
        n = write(a->fd, line, len + 1);
    } while (n < 0 && errno == EINTR);
    if (n == (ssize_t)(len + 1))
        return 0;
    char why[128];
    snprintf(why, sizeof why, "%s",
             n < 0 ? strerror(errno) : "short write (disk full or file size limit?)");
    if (n > 0 && ftruncate(a->fd, (off_t)a->size) != 0) {
        a->failed = 1;
        set_err(err, errlen,
                "audit log %s: record %llu partly written (%s) and could not be removed (%s); "
                "the file now ends in a truncated line",
                a->path, (ull)(a->seq + 1), why, strerror(errno));
        return LG_EIO;
    }
    set_err(err, errlen, "audit log %s: cannot write record %llu: %s", a->path, (ull)(a->seq + 1),
            why);
    return LG_EIO;
}

int audit_append(audit_t *a, const char *event, json_t *fields, char *err, size_t errlen)
{
    if (!a || !a->path || a->fd < 0) {
        set_err(err, errlen, "audit: log is not open");
        return LG_EINVAL;
    }
    if (a->failed) {
        set_err(err, errlen, "audit log %s: an earlier write failed; close and reopen it", a->path);
        return LG_EIO;
    }
    int rc = check_append_args(event, fields, err, errlen);
    if (rc != 0)
        return rc;
    char *buf = malloc(AUDIT_LINE_MAX + 1);
    if (!buf) {
        set_err(err, errlen, "audit: out of memory");
        return LG_ENOMEM;
    }
    size_t len = 0;
    unsigned char md[32];
    rc = serialize(a, event, fields, buf, &len);
    if (rc == LG_ERANGE)
        set_err(err, errlen, "audit: record for event %s is longer than %d bytes", event,
                AUDIT_LINE_MAX);
    else if (rc != 0)
        set_err(err, errlen, "audit: cannot build record for event %s: out of memory", event);
    if (rc == 0 && (rc = sha256(buf, len, md)) != 0)
        set_err(err, errlen, "audit: SHA-256 failed");
    if (rc == 0)
        rc = write_line(a, buf, len, err, errlen);
    free(buf);
    if (rc != 0)
        return rc;
    a->seq++;
    a->size += len + 1;
    memcpy(a->head, md, sizeof md);
    if (fdatasync(a->fd) != 0) {
        a->failed = 1;
        set_err(err, errlen, "audit log %s: record %llu written but fdatasync failed: %s", a->path,
                (ull)a->seq, strerror(errno));
        return LG_EIO;
    }
    return 0;
}

/* --- verify ---------------------------------------------------------------------------------- */

/* Reads one line without its newline into buf[cap]. */
static int read_line(FILE *f, char *buf, size_t cap, size_t *len)
{
    size_t n = 0;
    int c;
    while ((c = getc_unlocked(f)) != EOF) {
        if (c == '\n') {
            *len = n;
            return LINE_OK;
        }
        if (n == cap)
            return LINE_LONG;
        buf[n++] = (char)c;
    }
    *len = n;
    if (ferror(f))
        return LINE_ERR;
    return n ? LINE_PARTIAL : LINE_EOF;
}

/* Checks line number n (bytes buf[len]) against the hash of the line before it. */
static int verify_line(const char *buf, size_t len, uint64_t n, const unsigned char prev_md[32],
                       char *why, size_t whylen)
{
    audit_rec_t rec;
    char want[65];
    int rc = parse_record(buf, len, &rec, why, whylen);
    if (rc != 0)
        return rc;
    if (rec.seq != n) {
        snprintf(why, whylen, "seq %llu, expected %llu (line removed, inserted or moved?)",
                 (ull)rec.seq, (ull)n);
        return LG_ECHAIN;
    }
    to_hex(prev_md, want);
    if (strcmp(rec.prev, want) == 0)
        return 0;
    if (n == 1)
        snprintf(why, whylen, "prev is not 64 zeros (not the start of a chain)");
    else
        snprintf(why, whylen, "prev does not match line %llu (edited or reordered?)", (ull)(n - 1));
    return LG_ECHAIN;
}

static int verify_stream(FILE *f, char *buf, audit_verify_result_t *res)
{
    unsigned char md[32] = {0};
    char why[200];
    for (uint64_t n = 1;; n++) {
        size_t len = 0;
        int rc = 0;
        int st = read_line(f, buf, AUDIT_LINE_MAX, &len);
        if (st == LINE_EOF)
            break;
        if (st == LINE_ERR) {
            snprintf(res->message, sizeof res->message, "read error at line %llu: %s", (ull)n,
                     strerror(errno));
            return LG_EIO;
        }
        if (st == LINE_LONG) {
            snprintf(why, sizeof why, "longer than %d bytes", AUDIT_LINE_MAX);
            rc = LG_ECORRUPT;
        } else if (st == LINE_PARTIAL) {
            snprintf(why, sizeof why, "truncated (no newline at end of file)");
            rc = LG_ECORRUPT;
        } else {
            rc = verify_line(buf, len, n, md, why, sizeof why);
        }
        if (rc == 0 && (rc = sha256(buf, len, md)) != 0)
            snprintf(why, sizeof why, "SHA-256 failed");
        if (rc != 0) {
            res->bad_line = rc == LG_ECRYPTO ? 0 : n;
            snprintf(res->message, sizeof res->message, "line %llu: %s", (ull)n, why);
            return rc;
        }
        res->records = n;
        to_hex(md, res->head);
    }
    snprintf(res->message, sizeof res->message, "%llu records, chain intact", (ull)res->records);
    return 0;
}

int audit_verify_file(const char *path, audit_verify_result_t *res)
{
    static const unsigned char zero[32];
    if (!res)
        return LG_EINVAL;
    memset(res, 0, sizeof *res);
    to_hex(zero, res->head);
    if (!path) {
        snprintf(res->message, sizeof res->message, "no path given");
        return LG_EINVAL;
    }
    FILE *f = fopen(path, "rbe");
    if (!f) {
        snprintf(res->message, sizeof res->message, "cannot open: %s", strerror(errno));
        return LG_EIO;
    }
    char *buf = malloc(AUDIT_LINE_MAX);
    int rc = LG_ENOMEM;
    if (buf)
        rc = verify_stream(f, buf, res);
    else
        snprintf(res->message, sizeof res->message, "out of memory");
    free(buf);
    fclose(f);
    return rc;
}

int audit_verify_main(const char *path, FILE *out)
{
    audit_verify_result_t res;
    int rc = audit_verify_file(path, &res);
    const char *name = path ? path : "(no file)";
    if (!out)
        out = stdout;
    if (rc == 0) {
        fprintf(out, "%s: OK, %llu records, head %s\n", name, (ull)res.records, res.head);
        return 0;
    }
    if (rc == LG_ECHAIN || rc == LG_ECORRUPT) {
        fprintf(out, "%s: BROKEN: %s (%llu intact records before it)\n", name, res.message,
                (ull)res.records);
        return 1;
    }
    fprintf(out, "%s: UNREADABLE: %s\n", name, res.message);
    return 2;
}
