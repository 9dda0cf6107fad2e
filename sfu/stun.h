/* STUN codec (RFC 8489/5389 with the ICE attributes of RFC 8445): parse, verify and build messages.
 */
#ifndef LG_STUN_H
#define LG_STUN_H

/*
 * Contract
 * --------
 * Pure: no I/O, no allocation by this module, no logging, no global state. Every function is
 * reentrant and may run on any thread at once, provided each call gets its own view or builder.
 * (OpenSSL's digest contexts allocate internally during integrity checks; that is all.)
 *
 * Ownership: stun_parse() fills a caller-owned stun_msg_t whose pointers point INTO the caller's
 * buffer; the view is valid only while that buffer is alive and unchanged. A builder writes into a
 * caller-owned buffer and never writes past its capacity.
 *
 * Errors: 0 on success or a negative LG_E* code (sfu/lg_error.h):
 *   LG_EINVAL      a NULL argument or an out-of-range value given by the caller
 *   LG_ETRUNC      fewer bytes than a STUN header, or than the header's length field announces
 *   LG_EMALFORMED  not STUN (top bits, magic cookie), length not a multiple of 4, trailing bytes,
 *                  an attribute overrunning the message, a known attribute with a bad length or
 *                  value, an attribute after FINGERPRINT
 *   LG_ENOTFOUND   MESSAGE-INTEGRITY / FINGERPRINT absent when asked to check it
 *   LG_EINTEGRITY  MESSAGE-INTEGRITY does not match the key
 *   LG_EFINGERPRINT  FINGERPRINT does not match the message
 *   LG_EUNKNOWNATTR  stun_check_unknown(): the message has unknown comprehension-required
 * attributes LG_ENOSPC      builder: the caller's buffer is too small (the builder is then
 * unusable) LG_ESTATE      builder: attribute added after MESSAGE-INTEGRITY/FINGERPRINT, or
 * finished twice LG_ECRYPTO     OpenSSL failed
 *
 * Server order of checks for a request (RFC 8489 6.3, 9.1.3): stun_parse(), then
 * stun_check_fingerprint(), then USERNAME lookup and stun_check_integrity() (answer 400 when
 * either is missing, 401 when they do not match), then stun_check_unknown() (answer 420).
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define STUN_HEADER_SIZE  20
#define STUN_MAGIC_COOKIE 0x2112A442u
#define STUN_TXID_SIZE    12
#define STUN_HMAC_SIZE    20
#define STUN_FP_XOR       0x5354554Eu
#define STUN_MAX_UNKNOWN  8   /* unknown attribute types remembered per message */
#define STUN_MAX_USERNAME 513 /* bytes, RFC 5389 15.3 */

/* Message classes (RFC 8489 5). */
typedef enum {
    STUN_CLASS_REQUEST = 0,
    STUN_CLASS_INDICATION = 1,
    STUN_CLASS_SUCCESS = 2,
    STUN_CLASS_ERROR = 3
} stun_class_t;

#define STUN_METHOD_BINDING 0x001

/* Attribute types. Below 0x8000: comprehension-required. */
#define STUN_ATTR_USERNAME           0x0006
#define STUN_ATTR_MESSAGE_INTEGRITY  0x0008
#define STUN_ATTR_ERROR_CODE         0x0009
#define STUN_ATTR_UNKNOWN_ATTRIBUTES 0x000A
#define STUN_ATTR_REALM              0x0014
#define STUN_ATTR_NONCE              0x0015
#define STUN_ATTR_XOR_MAPPED_ADDRESS 0x0020
#define STUN_ATTR_PRIORITY           0x0024
#define STUN_ATTR_USE_CANDIDATE      0x0025
#define STUN_ATTR_SOFTWARE           0x8022
#define STUN_ATTR_FINGERPRINT        0x8028
#define STUN_ATTR_ICE_CONTROLLED     0x8029
#define STUN_ATTR_ICE_CONTROLLING    0x802A

/* Bits of stun_msg_t.present: which attributes the view holds. */
#define STUN_HAS_USERNAME           (1u << 0)
#define STUN_HAS_MESSAGE_INTEGRITY  (1u << 1)
#define STUN_HAS_FINGERPRINT        (1u << 2)
#define STUN_HAS_XOR_MAPPED_ADDRESS (1u << 3)
#define STUN_HAS_PRIORITY           (1u << 4)
#define STUN_HAS_USE_CANDIDATE      (1u << 5)
#define STUN_HAS_ICE_CONTROLLING    (1u << 6)
#define STUN_HAS_ICE_CONTROLLED     (1u << 7)
#define STUN_HAS_ERROR_CODE         (1u << 8)
#define STUN_HAS_UNKNOWN_ATTRIBUTES (1u << 9)
#define STUN_HAS_SOFTWARE           (1u << 10)
#define STUN_HAS_REALM              (1u << 11)
#define STUN_HAS_NONCE              (1u << 12)

/* A parsed message: a view into the caller's buffer. Only the first occurrence of an attribute
 * counts; after MESSAGE-INTEGRITY only FINGERPRINT is read (RFC 8489 14.5). Fields of an absent
 * attribute are zero. */
typedef struct {
    const uint8_t *msg; /* the whole message, STUN_HEADER_SIZE + body bytes */
    size_t len;
    uint16_t method; /* 12 bits, e.g. STUN_METHOD_BINDING */
    stun_class_t cls;
    uint8_t txid[STUN_TXID_SIZE];
    uint32_t present; /* STUN_HAS_* bits */

    const uint8_t *username; /* not NUL-terminated */
    size_t username_len;
    const uint8_t *integrity; /* the 20-byte HMAC-SHA1 value */
    size_t integrity_offset;  /* offset of the MESSAGE-INTEGRITY attribute header in msg */
    uint32_t fingerprint;
    size_t fingerprint_offset;          /* offset of the FINGERPRINT attribute header in msg */
    struct sockaddr_storage xor_mapped; /* decoded: sockaddr_in or sockaddr_in6 */
    uint32_t priority;
    uint64_t ice_controlling; /* tie-breakers */
    uint64_t ice_controlled;
    uint16_t error_code; /* 300..699 */
    const uint8_t *error_reason;
    size_t error_reason_len;
    uint16_t listed_unknown[STUN_MAX_UNKNOWN]; /* the UNKNOWN-ATTRIBUTES attribute's types */
    size_t listed_unknown_count;
    const uint8_t *software;
    size_t software_len;
    const uint8_t *realm;
    size_t realm_len;
    const uint8_t *nonce;
    size_t nonce_len;

    /* Comprehension-required attribute types this codec does not know, de-duplicated, at most
     * STUN_MAX_UNKNOWN (further ones are counted in unknown_dropped): echo them in a 420. */
    uint16_t unknown[STUN_MAX_UNKNOWN];
    size_t unknown_count;
    size_t unknown_dropped;
} stun_msg_t;

/* Fast demux test (RFC 7983): at least a header, first byte 0..3, magic cookie. Returns 1 or 0.
 * It does not validate the message: call stun_parse() for that. */
int stun_is_stun(const uint8_t *p, size_t len);

/* Parses exactly one message of len bytes (trailing bytes are an error) into *m, which is
 * overwritten. On error *m is unspecified. Unknown comprehension-required attributes are not an
 * error here: they are listed in m->unknown (see stun_check_unknown()). */
int stun_parse(stun_msg_t *m, const uint8_t *p, size_t len);

/* Verifies MESSAGE-INTEGRITY (HMAC-SHA1 with the short-term password, or a long-term key) in
 * constant time. Returns 0, LG_ENOTFOUND, LG_EINTEGRITY, LG_EINVAL or LG_ECRYPTO. */
int stun_check_integrity(const stun_msg_t *m, const uint8_t *key, size_t keylen);

/* Verifies FINGERPRINT (CRC-32 XOR 0x5354554E). Returns 0, LG_ENOTFOUND or LG_EFINGERPRINT. */
int stun_check_fingerprint(const stun_msg_t *m);

/* Returns LG_EUNKNOWNATTR when the message carries unknown comprehension-required attributes. */
int stun_check_unknown(const stun_msg_t *m);

/* The 14-bit message type for a method and class, e.g. 0x0101 for a Binding success response. */
uint16_t stun_msg_type(uint16_t method, stun_class_t cls);

/* The recommended reason phrase for an error code ("Bad Request" for 400), or "Error". */
const char *stun_reason_phrase(int code);

/* --- builder --- */

/* Writes into buf[0..cap). Fields are private to stun.c except pad_byte, the value written into
 * attribute padding (0 by default; RFC 5769's vectors use 0x20). */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    int err;    /* first error, sticky */
    int sealed; /* 1 after MESSAGE-INTEGRITY, 2 after FINGERPRINT */
    uint8_t pad_byte;
} stun_builder_t;

/* Starts a message: writes the header. txid must hold STUN_TXID_SIZE bytes. */
int stun_builder_init(stun_builder_t *b, uint8_t *buf, size_t cap, uint16_t method,
                      stun_class_t cls, const uint8_t *txid);

/* Appends one attribute with any type and value (padded to 4 bytes). value may be NULL if len 0. */
int stun_add_attr(stun_builder_t *b, uint16_t type, const void *value, size_t len);

int stun_add_username(stun_builder_t *b, const char *user, size_t len); /* <= STUN_MAX_USERNAME */
int stun_add_software(stun_builder_t *b, const char *sw, size_t len);
/* sa is a sockaddr_in or sockaddr_in6 (other families: LG_EINVAL). */
int stun_add_xor_mapped_address(stun_builder_t *b, const struct sockaddr *sa);
int stun_add_priority(stun_builder_t *b, uint32_t priority);
int stun_add_use_candidate(stun_builder_t *b);
int stun_add_ice_controlling(stun_builder_t *b, uint64_t tie_breaker);
int stun_add_ice_controlled(stun_builder_t *b, uint64_t tie_breaker);
/* code 300..699; reason NULL means stun_reason_phrase(code). */
int stun_add_error_code(stun_builder_t *b, int code, const char *reason);
int stun_add_unknown_attributes(stun_builder_t *b, const uint16_t *types, size_t n);

/* Appends MESSAGE-INTEGRITY (skipped when key is NULL) and FINGERPRINT, and stores the message
 * size in *out_len. No attribute may be added afterwards. */
int stun_builder_finish(stun_builder_t *b, const uint8_t *key, size_t keylen, size_t *out_len);

/* --- whole messages --- */

/* Binding success response to a request with txid: XOR-MAPPED-ADDRESS (the request's source
 * address), MESSAGE-INTEGRITY with key (the local ICE password), FINGERPRINT. */
int stun_build_binding_success(uint8_t *buf, size_t cap, const uint8_t *txid,
                               const struct sockaddr *mapped, const uint8_t *key, size_t keylen,
                               size_t *out_len);

/* A connectivity check as a controlling ICE agent sends it (RFC 8445 7.1). */
typedef struct {
    const uint8_t *txid;  /* STUN_TXID_SIZE bytes, random */
    const char *username; /* "remote_ufrag:local_ufrag", NUL-terminated */
    uint32_t priority;
    uint64_t tie_breaker; /* ICE-CONTROLLING */
    int use_candidate;    /* non-zero: add USE-CANDIDATE */
    const uint8_t *key;   /* the remote ICE password */
    size_t keylen;
} stun_binding_request_t;

int stun_build_binding_request(uint8_t *buf, size_t cap, const stun_binding_request_t *req,
                               size_t *out_len);

/* Error response (code 300..699, typically 400, 401 or 420) to the parsed request req: same method
 * and transaction id, ERROR-CODE with the recommended phrase, for 420 the UNKNOWN-ATTRIBUTES
 * listed in req->unknown, MESSAGE-INTEGRITY when key is not NULL (never for a 401 whose request
 * failed authentication), FINGERPRINT. */
int stun_build_error_response(uint8_t *buf, size_t cap, const stun_msg_t *req, int code,
                              const uint8_t *key, size_t keylen, size_t *out_len);

#endif
