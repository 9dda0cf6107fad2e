/* STUN codec: bounds-checked zero-copy parsing, integrity/fingerprint checks and a message builder.
 */
#include "sfu/stun.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "sfu/lg_error.h"

#define ATTR_HEADER_SIZE 4
#define MAX_ATTR_LEN     0xFFFFu
#define MAX_REASON_LEN   763 /* bytes: 127 characters of up to 6 bytes, RFC 8489 14.8 */

/* --- wire helpers --- */

static inline uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t rd32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint64_t rd64(const uint8_t *p)
{
    return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

static inline void wr16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wr32(uint8_t *p, uint32_t v)
{
    wr16(p, (uint16_t)(v >> 16));
    wr16(p + 2, (uint16_t)v);
}

static inline void wr64(uint8_t *p, uint64_t v)
{
    wr32(p, (uint32_t)(v >> 32));
    wr32(p + 4, (uint32_t)v);
}

static inline size_t pad4(size_t n)
{
    return (n + 3) & ~(size_t)3;
}

/* --- CRC-32 (ISO-HDLC, as zlib) with a nibble table --- */

static uint32_t crc32_calc(const uint8_t *p, size_t n)
{
    static const uint32_t t[16] = {
        0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
        0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
        0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
    };
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        c = (c >> 4) ^ t[c & 15];
        c = (c >> 4) ^ t[c & 15];
    }
    return ~c;
}

/* --- HMAC-SHA1 over a message prefix whose length field is rewritten (RFC 8489 14.5) --- */

typedef struct {
    const uint8_t *p;
    size_t n;
} chunk_t;

static int sha1_padded(EVP_MD_CTX *c, const uint8_t k[64], uint8_t padv, const chunk_t *ch,
                       size_t nch, uint8_t out[STUN_HMAC_SIZE])
{
    uint8_t pad[64];
    for (size_t i = 0; i < sizeof pad; i++)
        pad[i] = k[i] ^ padv;
    int ok = EVP_DigestInit_ex(c, EVP_sha1(), NULL) && EVP_DigestUpdate(c, pad, sizeof pad);
    for (size_t i = 0; ok && i < nch; i++)
        ok = EVP_DigestUpdate(c, ch[i].p, ch[i].n);
    ok = ok && EVP_DigestFinal_ex(c, out, NULL);
    OPENSSL_cleanse(pad, sizeof pad);
    return ok;
}

/* HMAC-SHA1(key, msg[0..mi_off)) with the header's length field set as if MESSAGE-INTEGRITY were
 * the last attribute. */
static int hmac_msg(const uint8_t *key, size_t keylen, const uint8_t *msg, size_t mi_off,
                    uint8_t out[STUN_HMAC_SIZE])
{
    uint8_t k[64] = {0}, len2[2], inner[STUN_HMAC_SIZE];
    wr16(len2, (uint16_t)(mi_off + ATTR_HEADER_SIZE + STUN_HMAC_SIZE - STUN_HEADER_SIZE));
    if (keylen > sizeof k) {
        if (!EVP_Digest(key, keylen, k, NULL, EVP_sha1(), NULL))
            return LG_ECRYPTO;
    } else if (keylen > 0) {
        memcpy(k, key, keylen);
    }
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    const chunk_t in[3] = {{msg, 2}, {len2, 2}, {msg + 4, mi_off - 4}};
    const chunk_t outer[1] = {{inner, sizeof inner}};
    int ok = c && sha1_padded(c, k, 0x36, in, 3, inner) && sha1_padded(c, k, 0x5c, outer, 1, out);
    EVP_MD_CTX_free(c);
    OPENSSL_cleanse(k, sizeof k);
    OPENSSL_cleanse(inner, sizeof inner);
    return ok ? 0 : LG_ECRYPTO;
}

/* --- message type --- */

/*  0                 1
 *  2  3  4 5 6 7 8 9 0 1 2 3 4 5
 * +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 * |M |M |M|M|M|C|M|M|M|C|M|M|M|M|
 * |11|10|9|8|7|1|6|5|4|0|3|2|1|0|
 * +--+--+-+-+-+-+-+-+-+-+-+-+-+-+
 */
uint16_t stun_msg_type(uint16_t method, stun_class_t cls)
{
    unsigned m = method & 0xFFFu, c = (unsigned)cls & 3u;
    return (uint16_t)((m & 0x00Fu) | ((m & 0x070u) << 1) | ((m & 0xF80u) << 2) | ((c & 1u) << 4) |
                      ((c & 2u) << 7));
}

static void split_type(uint16_t t, uint16_t *method, stun_class_t *cls)
{
    *method = (uint16_t)((t & 0x000Fu) | ((t & 0x00E0u) >> 1) | ((t & 0x3E00u) >> 2));
    *cls = (stun_class_t)(((t >> 4) & 1u) | ((t >> 7) & 2u));
}

const char *stun_reason_phrase(int code)
{
    static const struct {
        int code;
        const char *phrase;
    } phrases[] = {
        {300, "Try Alternate"}, {400, "Bad Request"},       {401, "Unauthorized"},
        {403, "Forbidden"},     {420, "Unknown Attribute"}, {438, "Stale Nonce"},
        {487, "Role Conflict"}, {500, "Server Error"},
    };
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        if (phrases[i].code == code)
            return phrases[i].phrase;
    return "Error";
}

/* --- parsing --- */

int stun_is_stun(const uint8_t *p, size_t len)
{
    return p != NULL && len >= STUN_HEADER_SIZE && p[0] <= 3 && rd32(p + 4) == STUN_MAGIC_COOKIE;
}

/*  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |0 0|     STUN Message Type     |         Message Length        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Magic Cookie                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                     Transaction ID (96 bits)                  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static int parse_header(stun_msg_t *m, const uint8_t *p, size_t len)
{
    if (len < STUN_HEADER_SIZE)
        return LG_ETRUNC;
    if ((p[0] & 0xC0) != 0 || rd32(p + 4) != STUN_MAGIC_COOKIE)
        return LG_EMALFORMED;
    size_t body = rd16(p + 2);
    if (body % 4 != 0)
        return LG_EMALFORMED;
    if (len < STUN_HEADER_SIZE + body)
        return LG_ETRUNC;
    if (len > STUN_HEADER_SIZE + body)
        return LG_EMALFORMED;
    memset(m, 0, sizeof *m);
    m->msg = p;
    m->len = len;
    split_type(rd16(p), &m->method, &m->cls);
    memcpy(m->txid, p + 8, STUN_TXID_SIZE);
    return 0;
}

/* An attribute decoder: v/len is the value (without padding), off the attribute header's offset. */
typedef int (*attr_fn)(stun_msg_t *m, const uint8_t *v, size_t len, size_t off);

static int attr_username(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len > STUN_MAX_USERNAME)
        return LG_EMALFORMED;
    m->username = v;
    m->username_len = len;
    return 0;
}

static int attr_integrity(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != STUN_HMAC_SIZE)
        return LG_EMALFORMED;
    m->integrity = v;
    m->integrity_offset = off;
    return 0;
}

static int attr_fingerprint(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != 4)
        return LG_EMALFORMED;
    m->fingerprint = rd32(v);
    m->fingerprint_offset = off;
    return 0;
}

/* The address is XORed with the magic cookie (and, for IPv6, the transaction id); so is the port
 * with the cookie's top 16 bits. Family 0x01: 4-byte address, 0x02: 16 bytes. */
static int attr_xor_mapped(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != 8 && len != 20)
        return LG_EMALFORMED;
    uint16_t port = (uint16_t)(rd16(v + 2) ^ (STUN_MAGIC_COOKIE >> 16));
    if (len == 8 && v[1] == 0x01) {
        struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
        sin.sin_addr.s_addr = htonl(rd32(v + 4) ^ STUN_MAGIC_COOKIE);
        memcpy(&m->xor_mapped, &sin, sizeof sin);
        return 0;
    }
    if (len == 20 && v[1] == 0x02) {
        struct sockaddr_in6 sin6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
        uint8_t *a = sin6.sin6_addr.s6_addr;
        for (size_t i = 0; i < 16; i++)
            a[i] = v[4 + i] ^ m->msg[4 + i]; /* cookie then transaction id, as on the wire */
        memcpy(&m->xor_mapped, &sin6, sizeof sin6);
        return 0;
    }
    return LG_EMALFORMED;
}

static int attr_priority(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != 4)
        return LG_EMALFORMED;
    m->priority = rd32(v);
    return 0;
}

static int attr_use_candidate(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    return len == 0 ? 0 : LG_EMALFORMED;
}

static int attr_controlling(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != 8)
        return LG_EMALFORMED;
    m->ice_controlling = rd64(v);
    return 0;
}

static int attr_controlled(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len != 8)
        return LG_EMALFORMED;
    m->ice_controlled = rd64(v);
    return 0;
}

/* ERROR-CODE: 21 reserved bits, Class (3 bits, 3..6), Number (8 bits, 0..99), reason phrase. */
static int attr_error_code(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len < 4)
        return LG_EMALFORMED;
    unsigned cls = v[2] & 7u, num = v[3];
    if (cls < 3 || cls > 6 || num > 99)
        return LG_EMALFORMED;
    m->error_code = (uint16_t)(cls * 100 + num);
    m->error_reason = v + 4;
    m->error_reason_len = len - 4;
    return 0;
}

static int attr_unknown_list(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    if (len % 2 != 0)
        return LG_EMALFORMED;
    size_t n = len / 2;
    if (n > STUN_MAX_UNKNOWN)
        n = STUN_MAX_UNKNOWN;
    for (size_t i = 0; i < n; i++)
        m->listed_unknown[i] = rd16(v + 2 * i);
    m->listed_unknown_count = n;
    return 0;
}

static int attr_software(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    m->software = v;
    m->software_len = len;
    return 0;
}

static int attr_realm(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    m->realm = v;
    m->realm_len = len;
    return 0;
}

static int attr_nonce(stun_msg_t *m, const uint8_t *v, size_t len, size_t off)
{
    m->nonce = v;
    m->nonce_len = len;
    return 0;
}

static const struct {
    uint16_t type;
    uint32_t bit;
    attr_fn fn;
} attr_table[] = {
    {STUN_ATTR_USERNAME, STUN_HAS_USERNAME, attr_username},
    {STUN_ATTR_MESSAGE_INTEGRITY, STUN_HAS_MESSAGE_INTEGRITY, attr_integrity},
    {STUN_ATTR_FINGERPRINT, STUN_HAS_FINGERPRINT, attr_fingerprint},
    {STUN_ATTR_XOR_MAPPED_ADDRESS, STUN_HAS_XOR_MAPPED_ADDRESS, attr_xor_mapped},
    {STUN_ATTR_PRIORITY, STUN_HAS_PRIORITY, attr_priority},
    {STUN_ATTR_USE_CANDIDATE, STUN_HAS_USE_CANDIDATE, attr_use_candidate},
    {STUN_ATTR_ICE_CONTROLLING, STUN_HAS_ICE_CONTROLLING, attr_controlling},
    {STUN_ATTR_ICE_CONTROLLED, STUN_HAS_ICE_CONTROLLED, attr_controlled},
    {STUN_ATTR_ERROR_CODE, STUN_HAS_ERROR_CODE, attr_error_code},
    {STUN_ATTR_UNKNOWN_ATTRIBUTES, STUN_HAS_UNKNOWN_ATTRIBUTES, attr_unknown_list},
    {STUN_ATTR_SOFTWARE, STUN_HAS_SOFTWARE, attr_software},
    {STUN_ATTR_REALM, STUN_HAS_REALM, attr_realm},
    {STUN_ATTR_NONCE, STUN_HAS_NONCE, attr_nonce},
};

static void note_unknown(stun_msg_t *m, uint16_t type)
{
    for (size_t i = 0; i < m->unknown_count; i++)
        if (m->unknown[i] == type)
            return;
    if (m->unknown_count < STUN_MAX_UNKNOWN)
        m->unknown[m->unknown_count++] = type;
    else
        m->unknown_dropped++;
}

/* Decodes one attribute. Only the first occurrence counts; after MESSAGE-INTEGRITY everything but
 * FINGERPRINT is ignored. */
static int parse_attr(stun_msg_t *m, uint16_t type, const uint8_t *v, size_t len, size_t off)
{
    if ((m->present & STUN_HAS_MESSAGE_INTEGRITY) && type != STUN_ATTR_FINGERPRINT)
        return 0;
    for (size_t i = 0; i < sizeof attr_table / sizeof attr_table[0]; i++) {
        if (attr_table[i].type != type)
            continue;
        if (m->present & attr_table[i].bit)
            return 0;
        int rc = attr_table[i].fn(m, v, len, off);
        if (rc == 0)
            m->present |= attr_table[i].bit;
        return rc;
    }
    if (type < 0x8000)
        note_unknown(m, type);
    return 0;
}

/*  0                   1                   2                   3
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Type                  |            Length             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                         Value (variable)                ....
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 */
static int parse_attrs(stun_msg_t *m)
{
    const uint8_t *p = m->msg;
    size_t off = STUN_HEADER_SIZE, end = m->len;
    while (off < end) {
        if (end - off < ATTR_HEADER_SIZE)
            return LG_EMALFORMED;
        uint16_t type = rd16(p + off);
        size_t alen = rd16(p + off + 2);
        if (pad4(alen) > end - off - ATTR_HEADER_SIZE)
            return LG_EMALFORMED;
        size_t next = off + ATTR_HEADER_SIZE + pad4(alen);
        if (type == STUN_ATTR_FINGERPRINT && next != end)
            return LG_EMALFORMED;
        int rc = parse_attr(m, type, p + off + ATTR_HEADER_SIZE, alen, off);
        if (rc < 0)
            return rc;
        off = next;
    }
    return 0;
}

int stun_parse(stun_msg_t *m, const uint8_t *p, size_t len)
{
    if (m == NULL || p == NULL)
        return LG_EINVAL;
    int rc = parse_header(m, p, len);
    return rc < 0 ? rc : parse_attrs(m);
}

/* --- checks --- */

int stun_check_integrity(const stun_msg_t *m, const uint8_t *key, size_t keylen)
{
    if (m == NULL || (key == NULL && keylen > 0))
        return LG_EINVAL;
    if (!(m->present & STUN_HAS_MESSAGE_INTEGRITY))
        return LG_ENOTFOUND;
    uint8_t mac[STUN_HMAC_SIZE];
    int rc = hmac_msg(key, keylen, m->msg, m->integrity_offset, mac);
    if (rc < 0)
        return rc;
    return CRYPTO_memcmp(mac, m->integrity, STUN_HMAC_SIZE) == 0 ? 0 : LG_EINTEGRITY;
}

int stun_check_fingerprint(const stun_msg_t *m)
{
    if (m == NULL)
        return LG_EINVAL;
    if (!(m->present & STUN_HAS_FINGERPRINT))
        return LG_ENOTFOUND;
    uint32_t fp = crc32_calc(m->msg, m->fingerprint_offset) ^ STUN_FP_XOR;
    return fp == m->fingerprint ? 0 : LG_EFINGERPRINT;
}

int stun_check_unknown(const stun_msg_t *m)
{
    if (m == NULL)
        return LG_EINVAL;
    return m->unknown_count > 0 ? LG_EUNKNOWNATTR : 0;
}

/* --- builder --- */

static int fail(stun_builder_t *b, int err)
{
    if (b->err == 0)
        b->err = err;
    return b->err;
}

int stun_builder_init(stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method,
                      stun_class_t cls, const uint8_t *txid)
{
    if (b == NULL)
        return LG_EINVAL;
    memset(b, 0, sizeof *b);
    b->buf = buf;
    b->cap = cap;
    if (buf == NULL || txid == NULL || method > 0xFFF || (unsigned)cls > 3)
        return fail(b, LG_EINVAL);
    if (cap < STUN_HEADER_SIZE)
        return fail(b, LG_ENOSPC);
    wr16(buf, stun_msg_type(method, cls));
    wr16(buf + 2, 0);
    wr32(buf + 4, STUN_MAGIC_COOKIE);
    memcpy(buf + 8, txid, STUN_TXID_SIZE);
    b->len = STUN_HEADER_SIZE;
    return 0;
}

/* Appends an attribute and updates the header's length field; no state checks. */
static int put_attr(stun_builder_t *b, uint16_t type, const void *value, size_t len)
{
    if (b->err)
        return b->err;
    if (len > MAX_ATTR_LEN || (value == NULL && len > 0))
        return fail(b, LG_EINVAL);
    size_t total = ATTR_HEADER_SIZE + pad4(len);
    if (total > b->cap - b->len || b->len - STUN_HEADER_SIZE + total > MAX_ATTR_LEN)
        return fail(b, LG_ENOSPC);
    uint8_t *a = b->buf + b->len;
    wr16(a, type);
    wr16(a + 2, (uint16_t)len);
    if (len > 0)
        memcpy(a + ATTR_HEADER_SIZE, value, len);
    memset(a + ATTR_HEADER_SIZE + len, b->pad_byte, pad4(len) - len);
    b->len += total;
    wr16(b->buf + 2, (uint16_t)(b->len - STUN_HEADER_SIZE));
    return 0;
}

int stun_add_attr(stun_builder_t *b, uint16_t type, const void *value, size_t len)
{
    if (b == NULL)
        return LG_EINVAL;
    if (b->err == 0 && b->sealed)
        return fail(b, LG_ESTATE);
    return put_attr(b, type, value, len);
}

int stun_add_username(stun_builder_t *b, const char *user, size_t len)
{
    if (b != NULL && len > STUN_MAX_USERNAME)
        return fail(b, LG_EINVAL);
    return stun_add_attr(b, STUN_ATTR_USERNAME, user, len);
}

int stun_add_software(stun_builder_t *b, const char *sw, size_t len)
{
    return stun_add_attr(b, STUN_ATTR_SOFTWARE, sw, len);
}

int stun_add_xor_mapped_address(stun_builder_t *b, const struct sockaddr *sa)
{
    uint8_t v[20] = {0};
    if (b == NULL)
        return LG_EINVAL;
    if (sa == NULL || b->buf == NULL || b->len < STUN_HEADER_SIZE)
        return fail(b, LG_EINVAL);
    if (sa->sa_family == AF_INET) {
        struct sockaddr_in sin;
        memcpy(&sin, sa, sizeof sin);
        v[1] = 0x01;
        wr16(v + 2, (uint16_t)(ntohs(sin.sin_port) ^ (STUN_MAGIC_COOKIE >> 16)));
        wr32(v + 4, ntohl(sin.sin_addr.s_addr) ^ STUN_MAGIC_COOKIE);
        return stun_add_attr(b, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 8);
    }
    if (sa->sa_family == AF_INET6) {
        struct sockaddr_in6 sin6;
        memcpy(&sin6, sa, sizeof sin6);
        v[1] = 0x02;
        wr16(v + 2, (uint16_t)(ntohs(sin6.sin6_port) ^ (STUN_MAGIC_COOKIE >> 16)));
        for (size_t i = 0; i < 16; i++)
            v[4 + i] = sin6.sin6_addr.s6_addr[i] ^ b->buf[4 + i];
        return stun_add_attr(b, STUN_ATTR_XOR_MAPPED_ADDRESS, v, 20);
    }
    return fail(b, LG_EINVAL);
}

int stun_add_priority(stun_builder_t *b, uint32_t priority)
{
    uint8_t v[4];
    wr32(v, priority);
    return stun_add_attr(b, STUN_ATTR_PRIORITY, v, sizeof v);
}

int stun_add_use_candidate(stun_builder_t *b)
{
    return stun_add_attr(b, STUN_ATTR_USE_CANDIDATE, NULL, 0);
}

int stun_add_ice_controlling(stun_builder_t *b, uint64_t tie_breaker)
{
    uint8_t v[8];
    wr64(v, tie_breaker);
    return stun_add_attr(b, STUN_ATTR_ICE_CONTROLLING, v, sizeof v);
}

int stun_add_ice_controlled(stun_builder_t *b, uint64_t tie_breaker)
{
    uint8_t v[8];
    wr64(v, tie_breaker);
    return stun_add_attr(b, STUN_ATTR_ICE_CONTROLLED, v, sizeof v);
}

int stun_add_error_code(stun_builder_t *b, int code, const char *reason)
{
    uint8_t v[4 + MAX_REASON_LEN] = {0};
    if (b == NULL)
        return LG_EINVAL;
    if (reason == NULL)
        reason = stun_reason_phrase(code);
    size_t rlen = strlen(reason);
    if (code < 300 || code > 699 || rlen > MAX_REASON_LEN)
        return fail(b, LG_EINVAL);
    v[2] = (uint8_t)(code / 100);
    v[3] = (uint8_t)(code % 100);
    memcpy(v + 4, reason, rlen);
    return stun_add_attr(b, STUN_ATTR_ERROR_CODE, v, 4 + rlen);
}

int stun_add_unknown_attributes(stun_builder_t *b, const uint16_t *types, size_t n)
{
    uint8_t v[2 * STUN_MAX_UNKNOWN];
    if (b == NULL)
        return LG_EINVAL;
    if ((types == NULL && n > 0) || n > STUN_MAX_UNKNOWN)
        return fail(b, LG_EINVAL);
    for (size_t i = 0; i < n; i++)
        wr16(v + 2 * i, types[i]);
    return stun_add_attr(b, STUN_ATTR_UNKNOWN_ATTRIBUTES, v, 2 * n);
}

static int add_integrity(stun_builder_t *b, const uint8_t *key, size_t keylen)
{
    static const uint8_t zero[STUN_HMAC_SIZE];
    size_t off = b->len;
    int rc = put_attr(b, STUN_ATTR_MESSAGE_INTEGRITY, zero, sizeof zero);
    if (rc < 0)
        return rc;
    rc = hmac_msg(key, keylen, b->buf, off, b->buf + off + ATTR_HEADER_SIZE);
    return rc < 0 ? fail(b, rc) : 0;
}

static int add_fingerprint(stun_builder_t *b)
{
    static const uint8_t zero[4];
    size_t off = b->len;
    int rc = put_attr(b, STUN_ATTR_FINGERPRINT, zero, sizeof zero);
    if (rc < 0)
        return rc;
    wr32(b->buf + off + ATTR_HEADER_SIZE, crc32_calc(b->buf, off) ^ STUN_FP_XOR);
    return 0;
}

int stun_builder_finish(stun_builder_t *b, const uint8_t *key, size_t keylen, size_t *out_len)
{
    if (b == NULL || out_len == NULL)
        return LG_EINVAL;
    if (b->err)
        return b->err;
    if (b->sealed)
        return fail(b, LG_ESTATE);
    if (key == NULL && keylen > 0)
        return fail(b, LG_EINVAL);
    b->sealed = 1;
    int rc = key != NULL ? add_integrity(b, key, keylen) : 0;
    if (rc == 0)
        rc = add_fingerprint(b);
    if (rc < 0)
        return rc;
    b->sealed = 2;
    *out_len = b->len;
    return 0;
}

/* --- whole messages --- */

int stun_build_binding_success(uint8_t *buf, size_t cap, const uint8_t *txid,
                               const struct sockaddr *mapped, const uint8_t *key, size_t keylen,
                               size_t *out_len)
{
    stun_builder_t b;
    int rc = stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_SUCCESS, txid);
    if (rc == 0)
        rc = stun_add_xor_mapped_address(&b, mapped);
    if (rc == 0)
        rc = stun_builder_finish(&b, key, keylen, out_len);
    return rc;
}

int stun_build_binding_request(uint8_t *buf, size_t cap, const stun_binding_request_t *req,
                               size_t *out_len)
{
    if (req == NULL || req->username == NULL || req->key == NULL)
        return LG_EINVAL;
    stun_builder_t b;
    int rc = stun_builder_init(&b, buf, cap, STUN_METHOD_BINDING, STUN_CLASS_REQUEST, req->txid);
    if (rc == 0)
        rc = stun_add_username(&b, req->username, strlen(req->username));
    if (rc == 0)
        rc = stun_add_priority(&b, req->priority);
    if (rc == 0)
        rc = stun_add_ice_controlling(&b, req->tie_breaker);
    if (rc == 0 && req->use_candidate)
        rc = stun_add_use_candidate(&b);
    if (rc == 0)
        rc = stun_builder_finish(&b, req->key, req->keylen, out_len);
    return rc;
}

int stun_build_error_response(uint8_t *buf, size_t cap, const stun_msg_t *req, int code,
                              const uint8_t *key, size_t keylen, size_t *out_len)
{
    if (req == NULL || code < 300 || code > 699)
        return LG_EINVAL;
    stun_builder_t b;
    int rc = stun_builder_init(&b, buf, cap, req->method, STUN_CLASS_ERROR, req->txid);
    if (rc == 0)
        rc = stun_add_error_code(&b, code, NULL);
    if (rc == 0 && code == 420)
        rc = stun_add_unknown_attributes(&b, req->unknown, req->unknown_count);
    if (rc == 0)
        rc = stun_builder_finish(&b, key, keylen, out_len);
    return rc;
}
