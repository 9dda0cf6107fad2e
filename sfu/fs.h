/* Filesystem helpers shared by the commands and the relay. */
#ifndef LG_FS_H
#define LG_FS_H

#include <stddef.h>

/* mkdir -p: parents 0755, the last component 0700 (a state directory holds keys). Existing
 * directories are left as they are. Returns 0 or LG_EIO with err naming the path. */
int lg_make_dirs(const char *dir, char *err, size_t errlen);

#endif
