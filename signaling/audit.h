/* Append-only, hash-chained audit log: one JSON object per line, each naming the SHA-256 of the
 * line before it, so an edited, removed or reordered record breaks the chain at a known line. */
#ifndef LG_AUDIT_H
#define LG_AUDIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * File format (the canonical form)
 * --------------------------------
 * UTF-8 text, one record per line, every line ending in "\n" (a file whose last byte is not "\n"
 * has a truncated tail). Each line is a JSON object as written by jansson with
 * JSON_COMPACT | JSON_PRESERVE_ORDER (no spaces, keys in this order):
 *
 *   {"seq":7,"ts":"2026-03-01T09:14:03.512Z","event":"join",<caller fields...>,"prev":"<hex>"}
 *
 *   seq    integer, 1 for the first line of the file, +1 per line; line N holds seq N.
 *   ts     wall-clock time of the append, RFC 3339 UTC with milliseconds.
 *   event  what happened: one of the AUDIT_EV_* names below or another [a-z0-9_] name.
 *   ...    the caller's fields, in the caller's insertion order (room, identity, name, role,
 *          remote, reason, by, ...). Their names must not be seq, ts, event or prev.
 *   prev   lowercase hex SHA-256 of the previous line's exact bytes without its "\n";
 *          64 zeros on line 1.
 *
 * Verification hashes the bytes as stored and never re-serializes, so the chain does not depend on
 * how a JSON library would print a record. A line is at most AUDIT_LINE_MAX bytes.
 *
 * What the chain proves: any change to a line, a removed or inserted line, or a reorder is detected
 * at the first line after the change. It cannot detect the LAST lines being cut off at a line
 * boundary or the whole file being rewritten; for that, keep the head hash that
 * audit_verify_file() reports (or audit_head()) somewhere the relay cannot write.
 */

#define AUDIT_LINE_MAX 16384

/* Event names the relay uses; callers may pass others made of [a-z0-9_] (at most 63 bytes). */
#define AUDIT_EV_ROOM_CREATED  "room_created"
#define AUDIT_EV_ROOM_CLOSED   "room_closed"
#define AUDIT_EV_JOIN          "join"
#define AUDIT_EV_LEAVE         "leave"
#define AUDIT_EV_LOBBY_WAIT    "lobby_wait"
#define AUDIT_EV_LOBBY_ADMIT   "lobby_admit"
#define AUDIT_EV_LOBBY_DENY    "lobby_deny"
#define AUDIT_EV_KICK          "kick"
#define AUDIT_EV_MUTE          "mute"
#define AUDIT_EV_LOCK          "lock"
#define AUDIT_EV_UNLOCK        "unlock"
#define AUDIT_EV_MEETING_ENDED "meeting_ended"

/* An open audit log. Caller-owned storage; the fields are private to audit.c. */
typedef struct {
    int fd;
    int failed;             /* an I/O error left the file's state unknown: appends refused */
    uint64_t seq;           /* seq of the last line in the file, 0 when empty */
    uint64_t size;          /* bytes in the file */
    unsigned char head[32]; /* SHA-256 of the last line, zeros when empty */
    char *path;             /* malloc'd copy, for messages */
} audit_t;

/*
 * Threading: an audit_t belongs to the control thread; every call on it comes from that thread.
 * The open file is held under an exclusive flock(2), so a second process (or a second audit_open
 * of the same file) is refused instead of interleaving records.
 *
 * Durability: audit_append() writes the whole line with one write(2) on an O_APPEND descriptor and
 * then fdatasync(2)s it before returning, so a record the caller was told about survives a crash.
 * That costs a disk flush per record, which is fine at the control thread's rate (joins, leaves,
 * moderation), but do not call it per packet.
 *
 * Errors: functions return 0 or a negative LG_E* code (sfu/lg_error.h) and, when err is not NULL,
 * write a one-line English message naming the file and cause into err[errlen].
 */

/* Opens (creating, mode 0600) the log at path for appending. On an existing file it reads the last
 * line to recover seq and the chain head; it does not re-verify the whole chain (that is
 * audit_verify_file()). It refuses, touching nothing, when the tail is truncated (no final
 * newline), the last line is not a well-formed record, or its seq is not its line number.
 * Returns 0; LG_EINVAL (NULL argument); LG_ENOMEM; LG_EIO (open/read/lock failed);
 * LG_ESTATE (another holder has the file locked); LG_ECORRUPT (bad tail, named by line). On error
 * *a holds nothing to close. */
int audit_open(audit_t *a, const char *path, char *err, size_t errlen);

/* Appends one record: seq, ts and event, then every member of fields (borrowed, may be NULL, must
 * be an object otherwise), then prev. Returns 0 once the line is written and flushed to disk;
 * LG_EINVAL (bad event name, fields not an object or using a reserved name); LG_ERANGE (line
 * longer than AUDIT_LINE_MAX); LG_ENOMEM; LG_ECRYPTO; LG_EIO (write or flush failed). A failed
 * write is rolled back so the file stays a valid chain; if that or the flush fails, the handle
 * refuses all further appends with LG_EIO and the caller should close and reopen it. */
int audit_append(audit_t *a, const char *event, json_t *fields, char *err, size_t errlen);

/* The seq of the last record (0 for an empty log) and the hex SHA-256 of the last line (64 zeros
 * when empty) into hex[65]. */
uint64_t audit_last_seq(const audit_t *a);
void audit_head(const audit_t *a, char hex[65]);

/* Closes the file and frees what audit_open() allocated. Safe on a zeroed audit_t. */
void audit_close(audit_t *a);

typedef struct {
    uint64_t records;  /* intact records read before the first break (all of them when intact) */
    uint64_t bad_line; /* 1-based line of the first break, 0 when intact or unreadable */
    char head[65];     /* hex SHA-256 of the last intact line, 64 zeros for an empty file */
    char message[320]; /* "line 7: prev does not match line 6 (edited or reordered?)",
                          "12 records, chain intact", or why the file could not be read */
} audit_verify_result_t;

/* Reads the whole file at path and checks that every line is a complete JSON record, that seq
 * counts 1, 2, 3, ... and that each prev is the SHA-256 of the line before. Stops at the first
 * break. Returns 0 when intact; LG_ECORRUPT (a line is not a complete, well-formed record);
 * LG_ECHAIN (seq or prev breaks the chain); LG_EIO (cannot open or read); LG_EINVAL; LG_ENOMEM.
 * res is always filled. Reentrant: safe from any thread, does not lock the file. */
int audit_verify_file(const char *path, audit_verify_result_t *res);

/* Backs `legation audit verify FILE`: verifies path and prints one line to out, e.g.
 * "audit.log: OK, 12 records, head 3f2a..." or "audit.log: BROKEN: line 7: ...". Returns the
 * process exit code: 0 intact, 1 broken, 2 unreadable. */
int audit_verify_main(const char *path, FILE *out);

#endif
