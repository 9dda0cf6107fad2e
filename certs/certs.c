/* Certificates: generates the DTLS and HTTPS pairs into the state directory, loads them or the
 * operator's, and computes SDP fingerprints. */
#include "certs/certs.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#define CERTS_MAX_FILE   (1024 * 1024) /* PEM files beyond this are not certificates */
#define CERTS_VALID_DAYS 365
#define CERTS_RENEW_DAYS 30 /* a generated pair this close to expiry is replaced at startup */
#define CERTS_TMP_MAX    (LG_CERTS_PATH_MAX + 16)

/* What differs between the two pairs this module manages. */
typedef struct {
    const char *what; /* for messages */
    const char *cn;
    const char *san; /* subjectAltName, NULL for none */
    const char *cert_file;
    const char *key_file;
    int chain; /* the certificate file may hold a chain after the leaf */
} pair_kind_t;

static const pair_kind_t KIND_DTLS = {
    "DTLS", "legation-dtls", NULL, LG_CERTS_DTLS_CERT_FILE, LG_CERTS_DTLS_KEY_FILE, 0};
static const pair_kind_t KIND_TLS = {"TLS",
                                     "localhost",
                                     "DNS:localhost,IP:127.0.0.1,IP:::1",
                                     LG_CERTS_TLS_CERT_FILE,
                                     LG_CERTS_TLS_KEY_FILE,
                                     1};

/* A file read into memory, NUL-terminated; wiped when freed since it may hold a key. */
typedef struct {
    char *p;
    size_t len;
} filebuf_t;

/* Hash functions allowed in fingerprints (RFC 8122 names). */
static const struct {
    const char *name;
    const EVP_MD *(*md)(void);
} HASHES[] = {{"sha-256", EVP_sha256}, {"sha-384", EVP_sha384}, {"sha-512", EVP_sha512}};

/* ---- errors ---------------------------------------------------------------------------------- */

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Writes "certs: <message>" into err (if any), clears OpenSSL's queue and returns code. */
static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    if (err && errlen > 0) {
        int n = snprintf(err, errlen, "certs: ");
        if (n > 0 && (size_t)n < errlen) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
            va_end(ap);
        }
    }
    ERR_clear_error();
    return code;
}

/* Like fail() for an OpenSSL failure: appends OpenSSL's reason for it. */
static int fail_ssl(char *err, size_t errlen, int code, const char *what)
{
    unsigned long e = ERR_peek_last_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    return fail(err, errlen, code, "%s: %s", what, reason ? reason : "OpenSSL error");
}

static int given(const char *s)
{
    return s && s[0] != '\0';
}

static int copy_path(char *dst, const char *src, char *err, size_t errlen)
{
    if (snprintf(dst, LG_CERTS_PATH_MAX, "%s", src) >= LG_CERTS_PATH_MAX)
        return fail(err, errlen, LG_EINVAL, "%.64s...: path too long", src);
    return 0;
}

static int join_path(char *dst, const char *dir, const char *file, char *err, size_t errlen)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (snprintf(dst, LG_CERTS_PATH_MAX, "%.*s/%s", (int)n, dir, file) >= LG_CERTS_PATH_MAX)
        return fail(err, errlen, LG_EINVAL, "%.64s...: path too long", dir);
    return 0;
}

/* ---- reading --------------------------------------------------------------------------------- */

static void filebuf_free(filebuf_t *f)
{
    if (f->p) {
        OPENSSL_cleanse(f->p, f->len);
        free(f->p);
    }
    f->p = NULL;
    f->len = 0;
}

static int read_all(int fd, const char *path, size_t size, filebuf_t *f, char *err, size_t errlen)
{
    f->p = malloc(size + 1);
    if (!f->p)
        return fail(err, errlen, LG_ENOMEM, "%s: out of memory reading it", path);
    while (f->len < size) {
        ssize_t r = read(fd, f->p + f->len, size - f->len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            int e = errno;
            filebuf_free(f);
            return fail(err, errlen, LG_EIO, "%s: read error: %s", path, strerror(e));
        }
        if (r == 0)
            break;
        f->len += (size_t)r;
    }
    f->p[f->len] = '\0';
    return 0;
}

/* Reads a whole regular file. Never blocks on a FIFO, never follows into a directory. */
static int read_file(const char *path, filebuf_t *f, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        int e = errno;
        return fail(err, errlen, e == ENOENT ? LG_ENOTFOUND : LG_EIO, "%s: cannot open: %s", path,
                    strerror(e));
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0)
        rc = fail(err, errlen, LG_EIO, "%s: cannot stat: %s", path, strerror(errno));
    else if (!S_ISREG(st.st_mode))
        rc = fail(err, errlen, LG_EIO, "%s: not a regular file (%s)", path,
                  S_ISDIR(st.st_mode) ? "a directory" : "a device, pipe or socket");
    else if (st.st_size == 0)
        rc = fail(err, errlen, LG_ECORRUPT, "%s: empty file (corrupt?)", path);
    else if (st.st_size > CERTS_MAX_FILE)
        rc = fail(err, errlen, LG_ECORRUPT, "%s: %lld bytes, too large for a PEM file (corrupt?)",
                  path, (long long)st.st_size);
    else
        rc = read_all(fd, path, (size_t)st.st_size, f, err, errlen);
    close(fd);
    return rc;
}

/* Refuses to prompt on the terminal for a passphrase: encrypted keys are reported instead. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return -1;
}

static int parse_key(const char *path, const filebuf_t *f, EVP_PKEY **out, char *err, size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(f->p, (int)f->len);
    if (!bio)
        return fail(err, errlen, LG_ENOMEM, "%s: out of memory", path);
    *out = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
    BIO_free(bio);
    if (*out)
        return 0;
    if (strstr(f->p, "ENCRYPTED"))
        return fail(err, errlen, LG_EUNSUPPORTED,
                    "%s: private key is encrypted; passphrases are not supported, store it "
                    "unencrypted with mode 0600",
                    path);
    return fail(err, errlen, LG_ECORRUPT, "%s: not a PEM private key (corrupt?)", path);
}

/* Checks that whatever follows the leaf certificate is a sequence of valid PEM certificates. */
static int check_chain_rest(const char *path, BIO *bio, char *err, size_t errlen)
{
    for (int n = 2;; n++) {
        ERR_clear_error();
        X509 *x = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
        if (x) {
            X509_free(x);
            continue;
        }
        unsigned long e = ERR_peek_last_error();
        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
            ERR_clear_error(); /* end of file, not an error */
            return 0;
        }
        return fail(err, errlen, LG_ECORRUPT,
                    "%s: certificate %d of the chain is not a valid PEM certificate (corrupt?)",
                    path, n);
    }
}

static int parse_cert(const char *path, const filebuf_t *f, int chain, X509 **out, char *err,
                      size_t errlen)
{
    BIO *bio = BIO_new_mem_buf(f->p, (int)f->len);
    if (!bio)
        return fail(err, errlen, LG_ENOMEM, "%s: out of memory", path);
    *out = PEM_read_bio_X509(bio, NULL, no_passphrase, NULL);
    int rc = 0;
    if (!*out)
        rc = fail(err, errlen, LG_ECORRUPT, "%s: not a PEM certificate (corrupt?)", path);
    else if (chain)
        rc = check_chain_rest(path, bio, err, errlen);
    BIO_free(bio);
    if (rc != 0) {
        X509_free(*out);
        *out = NULL;
    }
    return rc;
}

static void warn_key_mode(const char *key_path)
{
    struct stat st;
    if (stat(key_path, &st) == 0 && (st.st_mode & 077) != 0)
        LG_WARN("certs: %s is accessible by other users (mode %03o); chmod 600 advised", key_path,
                (unsigned)(st.st_mode & 0777));
}

/* Loads a certificate and its key and checks that they belong together. */
static int load_pair(const char *cert_path, const char *key_path, int chain, X509 **cert,
                     EVP_PKEY **key, char *err, size_t errlen)
{
    filebuf_t cf = {0}, kf = {0};
    int rc = read_file(cert_path, &cf, err, errlen);
    if (rc == 0)
        rc = read_file(key_path, &kf, err, errlen);
    if (rc == 0)
        rc = parse_cert(cert_path, &cf, chain, cert, err, errlen);
    if (rc == 0)
        rc = parse_key(key_path, &kf, key, err, errlen);
    if (rc == 0 && X509_check_private_key(*cert, *key) != 1)
        rc = fail(err, errlen, LG_EINVAL, "%s: private key does not match certificate %s", key_path,
                  cert_path);
    filebuf_free(&cf);
    filebuf_free(&kf);
    if (rc != 0) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return rc;
    }
    warn_key_mode(key_path);
    return 0;
}

/* ---- validity -------------------------------------------------------------------------------- */

static void format_time(const ASN1_TIME *t, char *buf, size_t len)
{
    struct tm tm;
    if (ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
        snprintf(buf, len, "(unreadable date)");
}

/* Returns 0 if the certificate is valid at `at`, LG_ENOTYET, LG_EEXPIRED, or LG_ECORRUPT. */
static int validity_at(const X509 *x, time_t at)
{
    int nb = X509_cmp_time(X509_get0_notBefore(x), &at);
    int na = X509_cmp_time(X509_get0_notAfter(x), &at);
    if (nb == 0 || na == 0)
        return LG_ECORRUPT;
    if (nb > 0)
        return LG_ENOTYET;
    return na < 0 ? LG_EEXPIRED : 0;
}

/* Explains a validity_at() failure for `path`. */
static int fail_validity(const char *path, const X509 *x, int v, char *err, size_t errlen)
{
    char when[48];
    if (v == LG_EEXPIRED) {
        format_time(X509_get0_notAfter(x), when, sizeof when);
        return fail(err, errlen, v, "%s: certificate expired on %s", path, when);
    }
    if (v == LG_ENOTYET) {
        format_time(X509_get0_notBefore(x), when, sizeof when);
        return fail(err, errlen, v, "%s: certificate not valid before %s (is the clock right?)",
                    path, when);
    }
    return fail(err, errlen, LG_ECORRUPT, "%s: unreadable validity dates (corrupt?)", path);
}

/* ---- generation ------------------------------------------------------------------------------ */

static int set_random_serial(X509 *x)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return -1;
    b[0] = (unsigned char)((b[0] & 0x7f) | 0x40); /* positive, never zero, full 127 bits */
    BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
    int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
    BN_free(bn);
    return ok ? 0 : -1;
}

static int add_ext(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (!ext)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

static int add_exts(X509 *x, const pair_kind_t *k)
{
    if (add_ext(x, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
        add_ext(x, NID_key_usage, "critical,digitalSignature") != 0 ||
        add_ext(x, NID_subject_key_identifier, "hash") != 0)
        return -1;
    if (!k->san)
        return 0;
    if (add_ext(x, NID_ext_key_usage, "serverAuth") != 0 ||
        add_ext(x, NID_subject_alt_name, k->san) != 0)
        return -1;
    return 0;
}

/* Builds a self-signed certificate for `key`, valid from an hour ago for CERTS_VALID_DAYS. */
static X509 *make_cert(EVP_PKEY *key, const pair_kind_t *k)
{
    X509 *x = X509_new();
    if (!x)
        return NULL;
    X509_NAME *name = X509_get_subject_name(x);
    int ok = X509_set_version(x, X509_VERSION_3) == 1 && set_random_serial(x) == 0 &&
             X509_gmtime_adj(X509_getm_notBefore(x), -3600) != NULL &&
             X509_gmtime_adj(X509_getm_notAfter(x), (long)CERTS_VALID_DAYS * 86400) != NULL &&
             X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)k->cn, -1,
                                        -1, 0) == 1 &&
             X509_set_issuer_name(x, name) == 1 && X509_set_pubkey(x, key) == 1 &&
             add_exts(x, k) == 0 && X509_sign(x, key, EVP_sha256()) > 0;
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return errno;
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/* Writes data into a new temporary file beside `path` (created O_EXCL, mode 0600, then `mode`),
 * synced to disk. Its name is left in tmp. */
static int write_tmp(const char *path, const char *data, size_t len, mode_t mode, char *tmp,
                     char *err, size_t errlen)
{
    if (snprintf(tmp, CERTS_TMP_MAX, "%s.tmp-XXXXXX", path) >= CERTS_TMP_MAX)
        return fail(err, errlen, LG_EINVAL, "%s: path too long", path);
    int fd = mkostemp(tmp, O_CLOEXEC); /* open(O_CREAT | O_EXCL, 0600) with a fresh name */
    if (fd < 0)
        return fail(err, errlen, LG_EIO, "%s: cannot create a temporary file: %s", path,
                    strerror(errno));
    int e = write_all(fd, data, len);
    if (e == 0 && fchmod(fd, mode) != 0)
        e = errno;
    if (e == 0 && fsync(fd) != 0)
        e = errno;
    if (close(fd) != 0 && e == 0)
        e = errno;
    if (e != 0) {
        unlink(tmp);
        return fail(err, errlen, LG_EIO, "%s: cannot write: %s", tmp, strerror(e));
    }
    return 0;
}

/* PEM-encodes a key (into wiped memory) or a certificate and writes it with write_tmp(). */
static int write_pem_tmp(const char *path, EVP_PKEY *key, X509 *cert, char *tmp, char *err,
                         size_t errlen)
{
    BIO *b = BIO_new(key ? BIO_s_secmem() : BIO_s_mem());
    if (!b)
        return fail(err, errlen, LG_ENOMEM, "%s: out of memory", path);
    int ok = key ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(b, cert);
    char *data = NULL;
    long len = BIO_get_mem_data(b, &data);
    int rc;
    if (ok != 1 || len <= 0)
        rc = fail_ssl(err, errlen, LG_ECRYPTO, path);
    else
        rc = write_tmp(path, data, (size_t)len, key ? 0600 : 0644, tmp, err, errlen);
    BIO_free(b);
    return rc;
}

/* Moves tmp to path; unless `replace`, fails with EEXIST rather than replace an existing file.
 * Returns 0 or an errno value. */
static int install(const char *tmp, const char *path, int replace)
{
    if (replace)
        return rename(tmp, path) == 0 ? 0 : errno;
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return errno;
    if (link(tmp, path) != 0) /* filesystems without RENAME_NOREPLACE: link never replaces */
        return errno;
    unlink(tmp);
    return 0;
}

static void sync_dir_of(const char *path)
{
    char dir[LG_CERTS_PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else
        slash[slash == dir ? 1 : 0] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
}

/* Writes the key then the certificate, each through a temporary file and an atomic rename. */
static int install_pair(const char *cert_path, const char *key_path, EVP_PKEY *key, X509 *cert,
                        int replace, char *err, size_t errlen)
{
    char ktmp[CERTS_TMP_MAX], ctmp[CERTS_TMP_MAX];
    int rc = write_pem_tmp(key_path, key, NULL, ktmp, err, errlen);
    if (rc != 0)
        return rc;
    rc = write_pem_tmp(cert_path, NULL, cert, ctmp, err, errlen);
    if (rc != 0) {
        unlink(ktmp);
        return rc;
    }
    const char *failed = key_path;
    int e = install(ktmp, key_path, replace);
    if (e == 0) {
        failed = cert_path;
        e = install(ctmp, cert_path, replace);
        if (e != 0 && !replace)
            unlink(key_path); /* written by us a moment ago: leave no half pair behind */
    }
    if (e != 0) {
        unlink(ktmp);
        unlink(ctmp);
        return fail(err, errlen, e == EEXIST ? LG_EEXIST : LG_EIO, "%s: cannot install: %s%s",
                    failed, strerror(e), e == EEXIST ? " (another legation starting?)" : "");
    }
    sync_dir_of(key_path);
    return 0;
}

static int generate_pair(const char *cert_path, const char *key_path, const pair_kind_t *k,
                         int replace, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
    char what[64];
    snprintf(what, sizeof what, "cannot generate the %s certificate", k->what);
    *key = EVP_EC_gen("P-256");
    *cert = *key ? make_cert(*key, k) : NULL;
    int rc = *cert ? install_pair(cert_path, key_path, *key, *cert, replace, err, errlen)
                   : fail_ssl(err, errlen, LG_ECRYPTO, what);
    if (rc != 0) {
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
        return rc;
    }
    LG_INFO("certs: generated %s certificate %s and key %s (ECDSA P-256, %d days)", k->what,
            cert_path, key_path, CERTS_VALID_DAYS);
    return 0;
}

/* ---- the two sources of a pair ----------------------------------------------------------------
 */

/* mkdir -p with mode 0700 for every directory it creates. */
static int make_dirs(const char *dir, char *err, size_t errlen)
{
    char p[LG_CERTS_PATH_MAX];
    int rc = copy_path(p, dir, err, errlen);
    for (char *s = p + 1; rc == 0; s++) {
        if (*s != '/' && *s != '\0')
            continue;
        char c = *s;
        *s = '\0';
        struct stat st;
        int e = mkdir(p, 0700) == 0 ? 0 : errno;
        if (e == 0)
            LG_INFO("certs: created directory %s", p);
        else if (e != EEXIST && (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)))
            return fail(err, errlen, LG_EIO, "%s: cannot create directory: %s", p, strerror(e));
        *s = c;
        if (c == '\0')
            break;
    }
    return rc;
}

static int ensure_state_dir(const char *dir, char *err, size_t errlen)
{
    int rc = make_dirs(dir, err, errlen);
    if (rc != 0)
        return rc;
    struct stat st;
    if (stat(dir, &st) != 0)
        return fail(err, errlen, LG_EIO, "%s: cannot stat: %s", dir, strerror(errno));
    if (!S_ISDIR(st.st_mode))
        return fail(err, errlen, LG_EINVAL, "%s: state_dir is not a directory", dir);
    if ((st.st_mode & 077) != 0)
        LG_WARN("certs: state directory %s is accessible by other users (mode %03o); 0700 advised",
                dir, (unsigned)(st.st_mode & 0777));
    return 0;
}

static int path_exists(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0 || errno != ENOENT; /* unsure counts as present: load reports */
}

/* A loaded state-directory pair that is out of date or close to it: replace it if it is one of
 * ours (self-signed), else refuse or warn. */
static int renew_if_due(const char *cert_path, const char *key_path, const pair_kind_t *k,
                        X509 **cert, EVP_PKEY **key, int *generated, char *err, size_t errlen)
{
    time_t now = time(NULL);
    int v = validity_at(*cert, now);
    int soon = v == 0 && validity_at(*cert, now + (time_t)CERTS_RENEW_DAYS * 86400) != 0;
    if (v == 0 && !soon)
        return 0;
    if (X509_self_signed(*cert, 1) != 1) {
        ERR_clear_error();
        if (v != 0)
            return fail_validity(cert_path, *cert, v, err, errlen);
        LG_WARN("certs: %s expires within %d days and was not generated here: renew it", cert_path,
                CERTS_RENEW_DAYS);
        return 0;
    }
    char when[48];
    format_time(X509_get0_notAfter(*cert), when, sizeof when);
    LG_WARN("certs: generated %s certificate %s is %s (valid until %s): replacing the pair",
            k->what, cert_path, v == 0 ? "about to expire" : "out of date", when);
    X509_free(*cert);
    EVP_PKEY_free(*key);
    *cert = NULL;
    *key = NULL;
    *generated = 1;
    return generate_pair(cert_path, key_path, k, 1, cert, key, err, errlen);
}

/* The pair in the state directory: generated if both files are absent, else loaded. */
static int state_pair(const char *dir, const pair_kind_t *k, char *cert_path, char *key_path,
                      X509 **cert, EVP_PKEY **key, int *generated, char *err, size_t errlen)
{
    int rc = join_path(cert_path, dir, k->cert_file, err, errlen);
    if (rc == 0)
        rc = join_path(key_path, dir, k->key_file, err, errlen);
    if (rc != 0)
        return rc;
    int have_cert = path_exists(cert_path), have_key = path_exists(key_path);
    if (!have_cert && !have_key) {
        *generated = 1;
        return generate_pair(cert_path, key_path, k, 0, cert, key, err, errlen);
    }
    if (!have_cert || !have_key)
        return fail(err, errlen, LG_ENOTFOUND,
                    "%s: missing while %s exists; not generating a new pair over it (restore "
                    "the file, or delete both to generate a new pair)",
                    have_cert ? key_path : cert_path, have_cert ? cert_path : key_path);
    rc = load_pair(cert_path, key_path, k->chain, cert, key, err, errlen);
    if (rc == 0)
        rc = renew_if_due(cert_path, key_path, k, cert, key, generated, err, errlen);
    return rc;
}

/* A pair named in the config: loaded and checked, never written. */
static int operator_pair(const char *cert_path, const char *key_path, int chain, X509 **cert,
                         EVP_PKEY **key, char *err, size_t errlen)
{
    int rc = load_pair(cert_path, key_path, chain, cert, key, err, errlen);
    if (rc != 0)
        return rc;
    time_t now = time(NULL);
    int v = validity_at(*cert, now);
    if (v == 0 && validity_at(*cert, now + (time_t)CERTS_RENEW_DAYS * 86400) != 0)
        LG_WARN("certs: %s expires within %d days: renew it", cert_path, CERTS_RENEW_DAYS);
    if (v != 0) {
        rc = fail_validity(cert_path, *cert, v, err, errlen);
        X509_free(*cert);
        EVP_PKEY_free(*key);
        *cert = NULL;
        *key = NULL;
    }
    return rc;
}

static int load_kind(const lg_certs_config_t *cfg, const char *cfg_cert, const char *cfg_key,
                     const pair_kind_t *k, char *cert_path, char *key_path, X509 **cert,
                     EVP_PKEY **key, int *generated, char *err, size_t errlen)
{
    if (!given(cfg_cert))
        return state_pair(cfg->state_dir, k, cert_path, key_path, cert, key, generated, err,
                          errlen);
    int rc = copy_path(cert_path, cfg_cert, err, errlen);
    if (rc == 0)
        rc = copy_path(key_path, cfg_key, err, errlen);
    if (rc == 0)
        rc = operator_pair(cert_path, key_path, k->chain, cert, key, err, errlen);
    return rc;
}

static int check_config(const lg_certs_config_t *cfg, char *err, size_t errlen)
{
    if (given(cfg->dtls_cert) != given(cfg->dtls_key))
        return fail(err, errlen, LG_EINVAL, "dtls_cert and dtls_key must be given together (%s)",
                    given(cfg->dtls_cert) ? "dtls_key missing" : "dtls_cert missing");
    if (given(cfg->tls_cert) != given(cfg->tls_key))
        return fail(err, errlen, LG_EINVAL, "tls_cert and tls_key must be given together (%s)",
                    given(cfg->tls_cert) ? "tls_key missing" : "tls_cert missing");
    int need_dir = !given(cfg->dtls_cert) || !given(cfg->tls_cert);
    if (need_dir && !given(cfg->state_dir))
        return fail(err, errlen, LG_EINVAL,
                    "no state_dir to keep generated certificates in (or give dtls_cert/dtls_key "
                    "and tls_cert/tls_key)");
    return need_dir ? ensure_state_dir(cfg->state_dir, err, errlen) : 0;
}

/* ---- public ------------------------------------------------------------------------------------
 */

int lg_certs_load(lg_certs_t *c, const lg_certs_config_t *cfg, char *err, size_t errlen)
{
    if (err && errlen > 0)
        err[0] = '\0';
    if (!c || !cfg)
        return fail(err, errlen, LG_EINVAL, "no certificate configuration");
    memset(c, 0, sizeof *c);
    X509 *tls_cert = NULL;
    EVP_PKEY *tls_key = NULL;
    int rc = check_config(cfg, err, errlen);
    if (rc == 0)
        rc = load_kind(cfg, cfg->dtls_cert, cfg->dtls_key, &KIND_DTLS, c->dtls_cert_path,
                       c->dtls_key_path, &c->dtls_cert, &c->dtls_key, &c->dtls_generated, err,
                       errlen);
    if (rc == 0)
        rc = load_kind(cfg, cfg->tls_cert, cfg->tls_key, &KIND_TLS, c->tls_cert_path,
                       c->tls_key_path, &tls_cert, &tls_key, &c->tls_generated, err, errlen);
    X509_free(tls_cert); /* libwebsockets loads the files itself */
    EVP_PKEY_free(tls_key);
    if (rc == 0 && lg_certs_fingerprint(c->dtls_cert, "sha-256", c->dtls_fingerprint,
                                        sizeof c->dtls_fingerprint) != 0)
        rc = fail_ssl(err, errlen, LG_ECRYPTO, c->dtls_cert_path);
    if (rc != 0) {
        lg_certs_free(c);
        return rc;
    }
    ERR_clear_error(); /* leave no stale entry for a later SSL_get_error() on this thread */
    LG_INFO("certs: DTLS %s (%s), TLS %s", c->dtls_cert_path, c->dtls_fingerprint,
            c->tls_cert_path);
    return 0;
}

void lg_certs_free(lg_certs_t *c)
{
    if (!c)
        return;
    X509_free(c->dtls_cert);
    EVP_PKEY_free(c->dtls_key);
    memset(c, 0, sizeof *c);
}

static int hash_index(const char *name)
{
    for (size_t i = 0; i < sizeof HASHES / sizeof HASHES[0]; i++)
        if (strcasecmp(HASHES[i].name, name) == 0)
            return (int)i;
    return -1;
}

int lg_certs_fingerprint(const X509 *cert, const char *hash, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    if (!cert || !out)
        return LG_EINVAL;
    int h = hash_index(hash ? hash : "sha-256");
    if (h < 0)
        return LG_EALG;
    unsigned char d[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (X509_digest(cert, HASHES[h].md(), d, &n) != 1 || n == 0)
        return LG_ECRYPTO;
    size_t name_len = strlen(HASHES[h].name);
    if (outlen < name_len + 1 + (size_t)n * 3) /* name, space, "XX:" per byte less one, NUL */
        return LG_ENOSPC;
    memcpy(out, HASHES[h].name, name_len);
    char *p = out + name_len;
    *p++ = ' ';
    for (unsigned int i = 0; i < n; i++) {
        if (i > 0)
            *p++ = ':';
        *p++ = hex[d[i] >> 4];
        *p++ = hex[d[i] & 0x0f];
    }
    *p = '\0';
    return 0;
}

/* ASCII lower case without a data-dependent branch. */
static unsigned char fold_case(unsigned char c)
{
    unsigned upper = (unsigned)(c - 'A') <= (unsigned)('Z' - 'A');
    return (unsigned char)(c | (upper << 5));
}

int lg_certs_fingerprint_equal(const char *a, const char *b)
{
    if (!a || !b)
        return 0;
    size_t n = strlen(a);
    if (n == 0 || n != strlen(b))
        return 0;
    unsigned diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= (unsigned)(fold_case((unsigned char)a[i]) ^ fold_case((unsigned char)b[i]));
    return diff == 0;
}

int lg_certs_check_peer(const X509 *peer, const char *sdp_fingerprint)
{
    if (!peer || !sdp_fingerprint)
        return LG_EINVAL;
    const char *sp = strchr(sdp_fingerprint, ' ');
    if (!sp || sp == sdp_fingerprint)
        return LG_EMALFORMED;
    char name[16];
    size_t name_len = (size_t)(sp - sdp_fingerprint);
    if (name_len >= sizeof name)
        return LG_EALG;
    memcpy(name, sdp_fingerprint, name_len);
    name[name_len] = '\0';
    while (*sp == ' ')
        sp++;
    char mine[LG_CERTS_FINGERPRINT_MAX];
    int rc = lg_certs_fingerprint(peer, name, mine, sizeof mine);
    if (rc != 0)
        return rc;
    return lg_certs_fingerprint_equal(strchr(mine, ' ') + 1, sp) ? 0 : LG_EFINGERPRINT;
}
