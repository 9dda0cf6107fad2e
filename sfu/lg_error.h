/* Process-wide error codes: every module returns 0 or a negative LG_E* value. */
#ifndef LG_ERROR_H
#define LG_ERROR_H

/* X(name, value, message). Values are stable; add new codes at the end. */
#define LG_ERRNO_MAP(X)                                                                            \
    X(EINVAL, -1, "invalid argument")                                                              \
    X(ENOMEM, -2, "out of memory")                                                                 \
    X(ETRUNC, -3, "input truncated")                                                               \
    X(EMALFORMED, -4, "malformed input")                                                           \
    X(ENOSPC, -5, "output buffer too small")                                                       \
    X(EINTEGRITY, -6, "message integrity check failed")                                            \
    X(EFINGERPRINT, -7, "fingerprint mismatch")                                                    \
    X(EUNKNOWNATTR, -8, "unknown comprehension-required attribute")                                \
    X(ENOTFOUND, -9, "not found")                                                                  \
    X(EIO, -10, "input/output error")                                                              \
    X(EEXIST, -11, "already exists")                                                               \
    X(ERANGE, -12, "value out of range")                                                           \
    X(EEXPIRED, -13, "expired")                                                                    \
    X(ENOTYET, -14, "not yet valid")                                                               \
    X(ESIGNATURE, -15, "bad signature")                                                            \
    X(EALG, -16, "algorithm not allowed")                                                          \
    X(EAUDIENCE, -17, "wrong audience")                                                            \
    X(EPERM, -18, "not permitted")                                                                 \
    X(ECRYPTO, -19, "cryptographic library error")                                                 \
    X(ECORRUPT, -20, "corrupt file")                                                               \
    X(EUNSUPPORTED, -21, "unsupported")                                                            \
    X(EFULL, -22, "capacity reached")                                                              \
    X(ESTATE, -23, "wrong state for this operation")                                               \
    X(ECLAIM, -24, "missing or invalid claim")                                                     \
    X(ECHAIN, -25, "hash chain broken")                                                            \
    X(EREPLAY, -26, "replayed or too old packet")                                                  \
    X(EREUSE, -27, "packet index already used for other data")

enum {
#define LG_ERR_ENUM(name, value, msg) LG_##name = (value),
    LG_ERRNO_MAP(LG_ERR_ENUM)
#undef LG_ERR_ENUM
};

/* Returns a static English message for an LG_E* code (or "unknown error"). Thread-safe. */
const char *lg_strerror(int err);

/* Returns the symbolic name ("EINVAL") of an LG_E* code, for logs and metrics labels. */
const char *lg_errname(int err);

#endif
