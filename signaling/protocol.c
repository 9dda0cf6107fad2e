/* The signaling protocol codec: client JSON messages in, server JSON messages out (version 1). */
#include "signaling/protocol.h"
#include "sfu/lg_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LG_VERSION
#define LG_VERSION "0.0.0"
#endif

#define QUOTE_MAX 40 /* bytes of input text quoted in an error message */

/* --- names ------------------------------------------------------------------------------------ */

static const char *const TYPE_NAMES[PROTO_TYPE_COUNT] = {
#define TYPE_NAME(name, wire) [PROTO_##name] = wire,
    PROTO_TYPE_MAP(TYPE_NAME)
#undef TYPE_NAME
};

static const struct {
    const char *name;
    const char *message;
} CODES[PROTO_CODE_COUNT] = {[PROTO_ERR_NONE] = {"none", ""},
#define CODE_ENTRY(name, wire, msg) [PROTO_ERR_##name] = {wire, msg},
                             PROTO_CODE_MAP(CODE_ENTRY)
#undef CODE_ENTRY
};

static const char *const KIND_NAMES[PROTO_KIND_COUNT] = {"audio", "video", "screen"};

const char *proto_type_name(proto_type_t type)
{
    return (unsigned)type < PROTO_TYPE_COUNT ? TYPE_NAMES[type] : "?";
}

int proto_type_from_name(const char *name, proto_type_t *out)
{
    for (int i = 0; name && i < PROTO_TYPE_COUNT; i++) {
        if (strcmp(name, TYPE_NAMES[i]) == 0) {
            *out = (proto_type_t)i;
            return 0;
        }
    }
    return LG_ENOTFOUND;
}

const char *proto_code_name(proto_code_t code)
{
    return (unsigned)code < PROTO_CODE_COUNT ? CODES[code].name : "?";
}

const char *proto_code_message(proto_code_t code)
{
    return (unsigned)code < PROTO_CODE_COUNT ? CODES[code].message : "?";
}

int proto_code_from_name(const char *name, proto_code_t *out)
{
    for (int i = PROTO_ERR_NONE + 1; name && i < PROTO_CODE_COUNT; i++) {
        if (strcmp(name, CODES[i].name) == 0) {
            *out = (proto_code_t)i;
            return 0;
        }
    }
    return LG_ENOTFOUND;
}

const char *proto_kind_name(proto_kind_t kind)
{
    return (unsigned)kind < PROTO_KIND_COUNT ? KIND_NAMES[kind] : "?";
}

int proto_kind_from_name(const char *name, proto_kind_t *out)
{
    for (int i = 0; name && i < PROTO_KIND_COUNT; i++) {
        if (strcmp(name, KIND_NAMES[i]) == 0) {
            *out = (proto_kind_t)i;
            return 0;
        }
    }
    return LG_ENOTFOUND;
}

/* --- text safety ------------------------------------------------------------------------------ */

/* Length of the well-formed UTF-8 sequence (RFC 3629: no overlongs, surrogates or values past
 * U+10FFFF) at p, which has n bytes left; 0 when there is none. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0], lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    size_t len;
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        lo = c == 0xE0 ? 0xA0 : 0x80; /* no overlong forms */
        hi = c == 0xED ? 0x9F : 0xBF; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF; /* nothing past U+10FFFF */
    } else {
        return 0;
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if ((p[i] & 0xC0) != 0x80)
            return 0;
    return len;
}

/* Makes s safe to log and to put in JSON, in place: drops a character cut in half at the end
 * (snprintf truncation), then turns bytes that are not UTF-8 and C0/C1 control characters into
 * '?'. The length never grows. */
static void clean_text(char *s)
{
    unsigned char *p = (unsigned char *)s;
    size_t n = strlen(s);
    size_t lead = n;
    while (lead > 0 && n - lead < 4 && (p[lead - 1] & 0xC0) == 0x80)
        lead--;
    if (lead > 0 && p[lead - 1] >= 0xC2 && utf8_seq(p + lead - 1, n - lead + 1) == 0) {
        unsigned c = p[lead - 1];
        size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
        if (n - lead + 1 < want) /* a prefix of a longer character: cut it */
            p[n = lead - 1] = '\0';
    }
    for (size_t i = 0; i < n;) {
        size_t len = utf8_seq(p + i, n - i);
        bool c1 = len == 2 && p[i] == 0xC2 && p[i + 1] < 0xA0;
        if (len == 0 || (len == 1 && (p[i] < 0x20 || p[i] == 0x7F)) || c1) {
            size_t bad = len ? len : 1;
            memset(p + i, '?', bad);
            i += bad;
        } else {
            i += len;
        }
    }
}

/* Copies at most QUOTE_MAX bytes of s (valid UTF-8) into buf, cut at a character boundary, with
 * "..." when shortened. */
static const char *quote(const char *s, size_t len, char buf[QUOTE_MAX + 4])
{
    size_t n = len;
    if (n > QUOTE_MAX) {
        n = QUOTE_MAX;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(buf, s, n);
    strcpy(buf + n, n < len ? "..." : "");
    clean_text(buf);
    return buf;
}

/* --- parse errors ----------------------------------------------------------------------------- */

static int fail(proto_error_t *err, proto_code_t code, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Records a refusal in err and returns rc. */
static int fail(proto_error_t *err, proto_code_t code, int rc, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (vsnprintf(err->message, sizeof err->message, fmt, ap) < 0)
        err->message[0] = '\0';
    va_end(ap);
    clean_text(err->message);
    err->code = code;
    return rc;
}

static int bad_field(proto_error_t *err, const char *label, const char *desc, bool missing)
{
    if (missing)
        return fail(err, PROTO_ERR_BAD_REQUEST, LG_EMALFORMED, "missing field '%s' (must be %s)",
                    label, desc);
    return fail(err, PROTO_ERR_BAD_REQUEST, LG_EMALFORMED, "field '%s' must be %s", label, desc);
}

/* --- field readers: 0, or LG_EMALFORMED with err naming the field ------------------------------
 * label is the name shown in messages ("options.mixed_audio"); NULL means key. *present (may be
 * NULL) tells whether an optional field was there. */

enum { OPTIONAL = 0, REQUIRED = 1 };

/* o[key] into *v (NULL when absent); fails when a required field is absent. */
static int lookup(const json_t *o, const char *key, const char *label, const char *desc,
                  int required, json_t **v, proto_error_t *err)
{
    *v = json_object_get(o, key);
    if (!*v && required)
        return bad_field(err, label ? label : key, desc, true);
    return 0;
}

static int get_string(const json_t *o, const char *key, const char *label, int required, size_t min,
                      size_t max, const char **out, size_t *outlen, proto_error_t *err)
{
    char desc[64];
    if (max == SIZE_MAX)
        snprintf(desc, sizeof desc, "a %sstring", min > 0 ? "non-empty " : "");
    else if (min > 0)
        snprintf(desc, sizeof desc, "a string of %zu to %zu bytes", min, max);
    else
        snprintf(desc, sizeof desc, "a string of at most %zu bytes", max);
    json_t *v;
    if (lookup(o, key, label, desc, required, &v, err) != 0)
        return LG_EMALFORMED;
    if (!v)
        return 0;
    size_t len = json_string_length(v);
    if (!json_is_string(v) || len < min || len > max)
        return bad_field(err, label ? label : key, desc, false);
    if (out)
        *out = json_string_value(v);
    if (outlen)
        *outlen = len;
    return 0;
}

static int get_bool(const json_t *o, const char *key, const char *label, int required, bool *out,
                    bool *present, proto_error_t *err)
{
    json_t *v;
    if (lookup(o, key, label, "a boolean", required, &v, err) != 0)
        return LG_EMALFORMED;
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return bad_field(err, label ? label : key, "a boolean", false);
    *out = json_is_true(v);
    return 0;
}

static int get_int(const json_t *o, const char *key, int required, int64_t min, int64_t max,
                   int64_t *out, bool *present, proto_error_t *err)
{
    char desc[64];
    snprintf(desc, sizeof desc, "an integer from %lld to %lld", (long long)min, (long long)max);
    json_t *v;
    if (lookup(o, key, NULL, desc, required, &v, err) != 0)
        return LG_EMALFORMED;
    if (present)
        *present = v != NULL;
    if (!v)
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
        return bad_field(err, key, desc, false);
    *out = json_integer_value(v);
    return 0;
}

static int get_kind(const json_t *o, proto_kind_t *out, proto_error_t *err)
{
    const char *desc = "one of 'audio', 'video', 'screen'";
    json_t *v;
    if (lookup(o, "kind", NULL, desc, REQUIRED, &v, err) != 0)
        return LG_EMALFORMED;
    if (proto_kind_from_name(json_string_value(v), out) != 0)
        return bad_field(err, "kind", desc, false);
    return 0;
}

static int get_participant_id(const json_t *o, const char **out, proto_error_t *err)
{
    return get_string(o, "participant_id", NULL, REQUIRED, 1, PROTO_PARTICIPANT_ID_MAX, out, NULL,
                      err);
}

/* --- one parser per client message type ------------------------------------------------------ */

typedef int (*parse_fn)(const json_t *o, proto_msg_t *m, proto_error_t *err);

/* join's "protocol": absent means 1; another integer is refused as unsupported. */
static int check_protocol(const json_t *o, proto_error_t *err)
{
    json_t *v = json_object_get(o, "protocol");
    if (!v)
        return 0;
    if (!json_is_integer(v))
        return bad_field(err, "protocol", "an integer", false);
    if (json_integer_value(v) != PROTO_VERSION)
        return fail(err, PROTO_ERR_UNSUPPORTED_PROTOCOL, LG_EUNSUPPORTED,
                    "protocol %lld is not supported: this server speaks protocol %d",
                    (long long)json_integer_value(v), PROTO_VERSION);
    return 0;
}

static int parse_join(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    proto_join_t *j = &m->join;
    int rc = check_protocol(o, err);
    if (rc == 0)
        rc = get_string(o, "token", NULL, REQUIRED, 1, SIZE_MAX, &j->token, &j->token_len, err);
    if (rc == 0) /* ignored: the name comes from the token; only its type is checked */
        rc = get_string(o, "display_name", NULL, OPTIONAL, 0, SIZE_MAX, NULL, NULL, err);
    json_t *opts = json_object_get(o, "options");
    if (rc != 0 || !opts)
        return rc;
    if (!json_is_object(opts))
        return bad_field(err, "options", "an object", false);
    rc = get_bool(opts, "mixed_audio", "options.mixed_audio", OPTIONAL, &j->mixed_audio, NULL, err);
    if (rc == 0)
        rc = get_bool(opts, "low_bandwidth", "options.low_bandwidth", OPTIONAL, &j->low_bandwidth,
                      NULL, err);
    return rc;
}

static int parse_publish(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    return get_string(o, "sdp", NULL, REQUIRED, 1, SIZE_MAX, &m->sdp.sdp, &m->sdp.sdp_len, err);
}

static int parse_subscribe_answer(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    int rc = parse_publish(o, m, err);
    return rc ? rc : get_int(o, "seq", REQUIRED, 0, PROTO_SEQ_MAX, &m->sdp.seq, NULL, err);
}

static int parse_mute(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    int rc = get_kind(o, &m->mute.kind, err);
    return rc ? rc : get_bool(o, "muted", NULL, REQUIRED, &m->mute.muted, NULL, err);
}

static int parse_kick(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    int rc = get_participant_id(o, &m->target.participant_id, err);
    return rc ? rc
              : get_string(o, "reason", NULL, OPTIONAL, 0, PROTO_REASON_MAX, &m->target.reason,
                           NULL, err);
}

static int parse_mute_participant(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    int rc = get_participant_id(o, &m->target.participant_id, err);
    return rc ? rc : get_kind(o, &m->target.kind, err);
}

static int parse_lock(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    return get_bool(o, "locked", NULL, REQUIRED, &m->locked, NULL, err);
}

static int parse_set_lobby(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    return get_bool(o, "enabled", NULL, REQUIRED, &m->lobby_enabled, NULL, err);
}

static int parse_target(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    return get_participant_id(o, &m->target.participant_id, err);
}

static int parse_preference(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    proto_preference_t *p = &m->preference;
    int64_t h = 0;
    int rc = get_int(o, "max_height", OPTIONAL, 0, PROTO_MAX_HEIGHT, &h, &p->has_max_height, err);
    p->max_height = (int)h;
    return rc ? rc
              : get_bool(o, "low_bandwidth", NULL, OPTIONAL, &p->low_bandwidth,
                         &p->has_low_bandwidth, err);
}

static int parse_empty(const json_t *o, proto_msg_t *m, proto_error_t *err)
{
    return 0;
}

static const parse_fn PARSERS[PROTO_TYPE_COUNT] = {
    [PROTO_JOIN] = parse_join,
    [PROTO_PUBLISH] = parse_publish,
    [PROTO_SUBSCRIBE_ANSWER] = parse_subscribe_answer,
    [PROTO_MUTE] = parse_mute,
    [PROTO_KICK] = parse_kick,
    [PROTO_MUTE_PARTICIPANT] = parse_mute_participant,
    [PROTO_LOCK] = parse_lock,
    [PROTO_SET_LOBBY] = parse_set_lobby,
    [PROTO_ADMIT] = parse_target,
    [PROTO_DENY] = parse_target,
    [PROTO_END_MEETING] = parse_empty,
    [PROTO_SET_PREFERENCE] = parse_preference,
    [PROTO_PING] = parse_empty,
    [PROTO_LEAVE] = parse_empty,
};

/* --- the envelope ----------------------------------------------------------------------------- */

static size_t utf8_chars(const char *s, size_t len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        n += ((unsigned char)s[i] & 0xC0) != 0x80;
    return n;
}

/* "id": absent, a string of at most PROTO_ID_STR_MAX characters, or an integer 0..2^53. */
static int read_id(const json_t *v, proto_id_t *id, proto_error_t *err)
{
    if (!v)
        return 0;
    if (json_is_string(v) &&
        utf8_chars(json_string_value(v), json_string_length(v)) <= PROTO_ID_STR_MAX) {
        id->kind = PROTO_ID_STRING;
        id->len = json_string_length(v);
        memcpy(id->str, json_string_value(v), id->len + 1);
        return 0;
    }
    if (json_is_integer(v) && json_integer_value(v) >= 0 &&
        json_integer_value(v) <= PROTO_ID_INT_MAX) {
        id->kind = PROTO_ID_INT;
        id->num = json_integer_value(v);
        return 0;
    }
    return bad_field(err, "id", "a string of at most 64 characters or an integer from 0 to 2^53",
                     false);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_NULL:
        return "null";
    default:
        return "a boolean";
    }
}

static int parse_root(const json_t *root, proto_msg_t *m, proto_error_t *err)
{
    if (!json_is_object(root))
        return fail(err, PROTO_ERR_BAD_REQUEST, LG_EMALFORMED,
                    "a message must be a JSON object, not %s", json_kind(root));
    if (read_id(json_object_get(root, "id"), &m->id, err) != 0)
        return LG_EMALFORMED;
    err->id = m->id;
    const char *type;
    if (get_string(root, "type", NULL, REQUIRED, 0, SIZE_MAX, &type, NULL, err) != 0)
        return LG_EMALFORMED;
    if (proto_type_from_name(type, &m->type) != 0) {
        char q[QUOTE_MAX + 4];
        return fail(err, PROTO_ERR_UNKNOWN_TYPE, LG_EMALFORMED, "unknown message type '%s'",
                    quote(type, strlen(type), q));
    }
    return PARSERS[m->type](root, m, err);
}

int proto_parse(const char *text, size_t len, proto_msg_t *out, proto_error_t *err)
{
    proto_error_t scratch;
    if (!err)
        err = &scratch;
    memset(err, 0, sizeof *err);
    if (out)
        memset(out, 0, sizeof *out);
    if (!text || !out)
        return fail(err, PROTO_ERR_INTERNAL, LG_EINVAL, "proto_parse: NULL argument");
    if (len > PROTO_MAX_MESSAGE)
        return fail(err, PROTO_ERR_TOO_LARGE, LG_ERANGE,
                    "the message is %zu bytes; the limit is %d", len, PROTO_MAX_MESSAGE);
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (!root) {
        if (json_error_code(&je) == json_error_out_of_memory)
            return fail(err, PROTO_ERR_INTERNAL, LG_ENOMEM, "out of memory");
        return fail(err, PROTO_ERR_BAD_JSON, LG_EMALFORMED,
                    "invalid JSON at line %d, column %d: %s", je.line, je.column, je.text);
    }
    int rc = parse_root(root, out, err);
    if (rc != 0) {
        json_decref(root);
        memset(out, 0, sizeof *out);
        return rc;
    }
    out->root = root;
    return 0;
}

void proto_msg_free(proto_msg_t *msg)
{
    if (!msg)
        return;
    json_decref(msg->root);
    memset(msg, 0, sizeof *msg);
}

/* --- builders ----------------------------------------------------------------------------------
 * An object under construction remembers whether any member failed (NULL or non-UTF-8 string,
 * out of memory), so each builder is a flat list of put() calls and one finish(). */

typedef struct {
    json_t *o;
    bool failed;
} obj_t;

/* Adds key: v (a new reference, stolen; NULL marks the object failed). */
static void put(obj_t *b, const char *key, json_t *v)
{
    if (json_object_set_new(b->o, key, v) != 0)
        b->failed = true;
}

static json_t *jstr(const char *s)
{
    return s ? json_string(s) : NULL;
}

static json_t *jkind(proto_kind_t kind)
{
    return (unsigned)kind < PROTO_KIND_COUNT ? json_string(KIND_NAMES[kind]) : NULL;
}

/* The id as JSON; NULL for none, or for an invalid id or no memory (then *bad is set). */
static json_t *jid(const proto_id_t *id, bool *bad)
{
    json_t *v = NULL;
    if (!id || id->kind == PROTO_ID_NONE)
        return NULL;
    if (id->kind == PROTO_ID_STRING && id->len <= PROTO_ID_STR_BYTES &&
        utf8_chars(id->str, id->len) <= PROTO_ID_STR_MAX)
        v = json_stringn(id->str, id->len); /* NULL when not UTF-8 */
    else if (id->kind == PROTO_ID_INT && id->num >= 0 && id->num <= PROTO_ID_INT_MAX)
        v = json_integer(id->num);
    *bad = v == NULL;
    return v;
}

/* A new object {"type": type} followed by "id" when id has one. */
static obj_t start(const char *type, const proto_id_t *id)
{
    obj_t b = {json_object(), false};
    put(&b, "type", json_string(type));
    bool bad = false;
    json_t *v = jid(id, &bad);
    if (v)
        put(&b, "id", v);
    b.failed |= bad;
    return b;
}

/* The object as JSON (or NULL on failure). */
static json_t *end(obj_t *b)
{
    if (b->failed) {
        json_decref(b->o);
        return NULL;
    }
    return b->o;
}

/* The object as compact text (or NULL), releasing it. */
static char *finish(obj_t *b)
{
    json_t *o = end(b);
    char *s = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    return s;
}

static json_t *track_json(const proto_track_t *t)
{
    obj_t b = {json_object(), false};
    put(&b, "track_id", jstr(t->track_id));
    put(&b, "kind", jkind(t->kind));
    put(&b, "mid", jstr(t->mid));
    return end(&b);
}

static json_t *participant_json(const proto_participant_t *p)
{
    obj_t b = {json_object(), false};
    put(&b, "participant_id", jstr(p->participant_id));
    put(&b, "name", jstr(p->name));
    put(&b, "role", jstr(p->role));
    put(&b, "muted", json_pack("{s:b,s:b}", "audio", p->audio_muted, "video", p->video_muted));
    json_t *tracks = json_array();
    if (p->ntracks > 0 && !p->tracks)
        b.failed = true;
    for (size_t i = 0; tracks && !b.failed && i < p->ntracks; i++)
        if (json_array_append_new(tracks, track_json(&p->tracks[i])) != 0)
            b.failed = true;
    put(&b, "tracks", tracks);
    return end(&b);
}

/* An array of n items made by fn, or NULL when any fails or items is NULL with n > 0. */
static json_t *array_of(const void *items, size_t n, size_t size, json_t *(*fn)(const void *))
{
    json_t *a = json_array();
    if (n > 0 && !items) {
        json_decref(a);
        return NULL;
    }
    for (size_t i = 0; a && i < n; i++) {
        if (json_array_append_new(a, fn((const char *)items + i * size)) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

static json_t *participant_item(const void *p)
{
    return participant_json(p);
}

static json_t *waiting_item(const void *item)
{
    const proto_waiting_t *w = item;
    obj_t b = {json_object(), false};
    put(&b, "participant_id", jstr(w->participant_id));
    put(&b, "name", jstr(w->name));
    return end(&b);
}

char *proto_build_hello(void)
{
    obj_t b = start("hello", NULL);
    put(&b, "protocol", json_integer(PROTO_VERSION));
    put(&b, "server", json_string("legation " LG_VERSION));
    return finish(&b);
}

char *proto_build_joined(const proto_id_t *id, const char *participant_id, const char *role,
                         const char *name, const proto_room_t *room)
{
    if (!room)
        return NULL;
    obj_t b = start("joined", id);
    put(&b, "participant_id", jstr(participant_id));
    put(&b, "role", jstr(role));
    put(&b, "name", jstr(name));
    obj_t r = {json_object(), false};
    put(&r, "id", jstr(room->id));
    put(&r, "locked", json_boolean(room->locked));
    put(&r, "lobby_enabled", json_boolean(room->lobby_enabled));
    put(&r, "e2ee", json_boolean(room->e2ee));
    put(&r, "participants",
        array_of(room->participants, room->nparticipants, sizeof *room->participants,
                 participant_item));
    put(&b, "room", end(&r));
    return finish(&b);
}

char *proto_build_lobby_waiting(const proto_id_t *id, const char *message)
{
    obj_t b = start("lobby_waiting", id);
    put(&b, "message", jstr(message ? message : "waiting for a moderator to admit you"));
    return finish(&b);
}

char *proto_build_lobby_update(const proto_waiting_t *waiting, size_t n)
{
    obj_t b = start("lobby_update", NULL);
    put(&b, "waiting", array_of(waiting, n, sizeof *waiting, waiting_item));
    return finish(&b);
}

char *proto_build_participant_joined(const proto_participant_t *p)
{
    obj_t b = start("participant_joined", NULL);
    put(&b, "participant", p ? participant_json(p) : NULL);
    return finish(&b);
}

char *proto_build_participant_left(const char *participant_id, const char *reason)
{
    obj_t b = start("participant_left", NULL);
    put(&b, "participant_id", jstr(participant_id));
    put(&b, "reason", jstr(reason));
    return finish(&b);
}

char *proto_build_track_added(const char *participant_id, const proto_track_t *track)
{
    obj_t b = start("track_added", NULL);
    put(&b, "participant_id", jstr(participant_id));
    put(&b, "track", track ? track_json(track) : NULL);
    return finish(&b);
}

char *proto_build_track_removed(const char *participant_id, const char *track_id)
{
    obj_t b = start("track_removed", NULL);
    put(&b, "participant_id", jstr(participant_id));
    put(&b, "track_id", jstr(track_id));
    return finish(&b);
}

char *proto_build_mute_changed(const char *participant_id, proto_kind_t kind, bool muted,
                               const char *by)
{
    obj_t b = start("mute_changed", NULL);
    put(&b, "participant_id", jstr(participant_id));
    put(&b, "kind", jkind(kind));
    put(&b, "muted", json_boolean(muted));
    if (by)
        put(&b, "by", jstr(by));
    return finish(&b);
}

char *proto_build_room_locked(bool locked, const char *by)
{
    obj_t b = start("room_locked", NULL);
    put(&b, "locked", json_boolean(locked));
    put(&b, "by", jstr(by));
    return finish(&b);
}

char *proto_build_room_lobby(bool enabled, const char *by)
{
    obj_t b = start("room_lobby", NULL);
    put(&b, "enabled", json_boolean(enabled));
    put(&b, "by", jstr(by));
    return finish(&b);
}

char *proto_build_audio_mode(bool mixed)
{
    obj_t b = start("audio_mode", NULL);
    put(&b, "mixed", json_boolean(mixed));
    return finish(&b);
}

char *proto_build_media_state(const char *transport, const char *state, const char *detail)
{
    obj_t b = start("media_state", NULL);
    put(&b, "transport", jstr(transport));
    put(&b, "state", jstr(state));
    put(&b, "detail", jstr(detail));
    return finish(&b);
}

char *proto_build_kicked(const char *reason)
{
    obj_t b = start("kicked", NULL);
    put(&b, "reason", jstr(reason));
    return finish(&b);
}

char *proto_build_denied(void)
{
    obj_t b = start("denied", NULL);
    return finish(&b);
}

char *proto_build_meeting_ended(const char *by)
{
    obj_t b = start("meeting_ended", NULL);
    put(&b, "by", jstr(by));
    return finish(&b);
}

char *proto_build_publish_answer(const proto_id_t *id, const char *sdp)
{
    obj_t b = start("publish_answer", id);
    put(&b, "sdp", jstr(sdp));
    return finish(&b);
}

char *proto_build_subscribe_offer(const char *sdp, int64_t seq)
{
    obj_t b = start("subscribe_offer", NULL);
    put(&b, "sdp", jstr(sdp));
    put(&b, "seq", seq >= 0 && seq <= PROTO_SEQ_MAX ? json_integer(seq) : NULL);
    return finish(&b);
}

char *proto_build_active_speaker(const char *participant_id)
{
    obj_t b = start("active_speaker", NULL);
    put(&b, "participant_id", jstr(participant_id));
    return finish(&b);
}

char *proto_build_pong(const proto_id_t *id)
{
    obj_t b = start("pong", id);
    return finish(&b);
}

char *proto_build_ok(const proto_id_t *id)
{
    obj_t b = start("ok", id);
    return finish(&b);
}

/* message must already be clean UTF-8. */
static char *build_error(const proto_id_t *id, proto_code_t code, const char *message)
{
    if (code <= PROTO_ERR_NONE || code >= PROTO_CODE_COUNT)
        return NULL;
    obj_t b = start("error", id);
    put(&b, "code", json_string(CODES[code].name));
    put(&b, "message", json_string(message));
    return finish(&b);
}

char *proto_build_error(const proto_id_t *id, proto_code_t code, const char *fmt, ...)
{
    char msg[PROTO_MESSAGE_LEN];
    if (fmt) {
        va_list ap;
        va_start(ap, fmt);
        if (vsnprintf(msg, sizeof msg, fmt, ap) < 0)
            msg[0] = '\0';
        va_end(ap);
    } else {
        snprintf(msg, sizeof msg, "%s", proto_code_message(code));
    }
    clean_text(msg);
    return build_error(id, code, msg);
}

char *proto_build_error_from(const proto_error_t *err)
{
    if (!err)
        return NULL;
    char msg[PROTO_MESSAGE_LEN];
    snprintf(msg, sizeof msg, "%s", err->message);
    clean_text(msg);
    return build_error(&err->id, err->code, msg);
}
