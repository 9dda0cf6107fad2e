/* Secret file handling: O_EXCL creation with mode 0600, strict size checks on load. */
#include "signaling/secret.h"
#include "sfu/lg_error.h"
#include "sfu/log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int secret_create(const char *path, char *err, size_t errlen)
{
    uint8_t raw[32];
    char hex[65];
    if (RAND_bytes(raw, sizeof raw) != 1) {
        snprintf(err, errlen, "secret %s: no randomness available", path);
        return LG_ECRYPTO;
    }
    for (size_t i = 0; i < sizeof raw; i++)
        snprintf(hex + 2 * i, 3, "%02x", raw[i]);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "secret %s: cannot create: %s", path, strerror(errno));
        return LG_EIO;
    }
    hex[64] = '\n';
    ssize_t w = write(fd, hex, 65);
    int rc = (w == 65 && fsync(fd) == 0) ? 0 : LG_EIO;
    close(fd);
    if (rc != 0) {
        unlink(path);
        snprintf(err, errlen, "secret %s: write failed", path);
        return rc;
    }
    LG_INFO("generated the dev token secret %s", path);
    return 0;
}

int secret_load(const char *path, int create, uint8_t *out, size_t *outlen, char *err,
                size_t errlen)
{
    if (create && access(path, F_OK) != 0 && errno == ENOENT) {
        int rc = secret_create(path, err, errlen);
        if (rc != 0)
            return rc;
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "secret %s: %s", path, strerror(errno));
        return LG_EIO;
    }
    char buf[SECRET_MAX + 64];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t start = 0;
    while (start < n && isspace((unsigned char)buf[start]))
        start++;
    while (n > start && isspace((unsigned char)buf[n - 1]))
        n--;
    size_t len = n - start;
    if (len < 32 || len > SECRET_MAX) {
        snprintf(err, errlen, "secret %s: must hold 32..%d bytes, has %zu", path, SECRET_MAX, len);
        return LG_ECORRUPT;
    }
    memcpy(out, buf + start, len);
    *outlen = len;
    return 0;
}
