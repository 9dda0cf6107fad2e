/* Internals shared by the negotiate_*.c files: local transport, remote checks, small helpers. */
#ifndef LG_NEGOTIATE_INTERNAL_H
#define LG_NEGOTIATE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "signaling/negotiate.h"
#include "signaling/sdp.h"

/* Formats "fmt" into err (may be NULL) and returns code. */
int neg__fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Copies src into dst[size] NUL-terminated with a zeroed tail; false when it does not fit. */
bool neg__copy(char *dst, size_t size, const char *src);

#define NEG_COPY(dst, src) neg__copy((dst), sizeof(dst), (src))

/* Checks *l and splits its fingerprint into *fp. 0 or LG_EINVAL with err set. */
int neg__check_local(const negotiate_local_t *l, sdp_fingerprint_t *fp, char *err, size_t errlen);

/* Writes the relay's transport into m: ICE credentials, fingerprint, setup, rtcp-mux, host
 * candidates (UDP first), end-of-candidates, and the default candidate's port and address. */
int neg__add_transport(sdp_media_t *m, const negotiate_local_t *l, const sdp_fingerprint_t *fp,
                       sdp_setup_t setup);

/* Checks that a remote m-line (index idx, 0-based) carries ICE credentials, a fingerprint and
 * rtcp-mux. side is "offer" or "answer" for the message. 0, LG_EMALFORMED or LG_EUNSUPPORTED. */
int neg__check_remote(const sdp_media_t *m, int idx, const char *side, char *err, size_t errlen);

/* Copies a remote m-line's ICE credentials and "alg value" fingerprint. */
void neg__copy_remote(const sdp_media_t *m, char ufrag[NEGOTIATE_ICE_MAX],
                      char pwd[NEGOTIATE_ICE_MAX], char fingerprint[NEGOTIATE_FINGERPRINT]);

/* NEGOTIATE_FB_* bits of the values c carries. */
uint8_t neg__fb_bits(const sdp_codec_t *c);

/* Appends the rtcp-fb values named by bits, in NEGOTIATE_FB_* order. 0 or LG_EFULL. */
int neg__add_fb(sdp_codec_t *c, uint8_t bits);

/* The ids m negotiates for the extensions the relay reads; 0 when absent. */
void neg__ext_ids(const sdp_media_t *m, negotiate_ext_ids_t *ext);

/* true when mid is in s's a=group:BUNDLE. */
bool neg__in_bundle(const sdp_session_t *s, const char *mid);

#endif
