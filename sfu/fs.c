/* Filesystem helpers shared by the commands and the relay. */
#include "sfu/fs.h"
#include "sfu/config.h"
#include "sfu/lg_error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

int lg_make_dirs(const char *dir, char *err, size_t errlen)
{
    char tmp[LG_CONFIG_PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", dir);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
            goto fail;
        *p = '/';
    }
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST)
        goto fail;
    return 0;
fail:
    snprintf(err, errlen, "state directory %s: cannot create %s: %s", dir, tmp, strerror(errno));
    return LG_EIO;
}
