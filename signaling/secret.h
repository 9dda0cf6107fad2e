/* The relay's HS256 signing secret: read from a file, or generated into the state directory on
 * first run (the "dev secret" that lets `legation token` mint join tokens with no outside service).
 */
#ifndef LG_SECRET_H
#define LG_SECRET_H

#include <stddef.h>
#include <stdint.h>

#define SECRET_MAX 512

/* Loads the secret from path (surrounding whitespace trimmed; at least 32 bytes). If the file
 * does not exist and `create` is set, writes 64 random hex characters with mode 0600 first.
 * A file that exists but is unreadable, too short or too long is an error naming it and is never
 * replaced. Returns 0 or an LG_E* code with err set. Control thread, at startup. */
int secret_load(const char *path, int create, uint8_t *out, size_t *outlen, char *err,
                size_t errlen);

#endif
