/* Helpers shared by media/rtcp.c, media/rtcp_fb.c and media/rtcp_twcc.c; not a public API. */
#ifndef LG_MEDIA_RTCP_INTERNAL_H
#define LG_MEDIA_RTCP_INTERNAL_H

#include "media/rtcp.h"

/* Space for a packet of size bytes at the writer's end, or NULL when it does not fit (or size is
 * not a whole number of 32-bit words, or exceeds what the length field can say). */
uint8_t *rtcp__reserve(rtcp_writer_t *w, size_t size);

/* Writes the 4-byte common header for a packet of total bytes (a multiple of 4). */
void rtcp__put_header(uint8_t *p, bool padding, uint8_t count, uint8_t pt, size_t total);

#endif
