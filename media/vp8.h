/* VP8 RTP payload descriptor (RFC 7741): parse, key frame detection, in-place picture id rewrite.
 *
 * Ownership: vp8_parse() is zero-copy; the payload view points into the caller's buffer. The
 * setters rewrite the caller's buffer in place and never change its length.
 * Threading: no state; any thread may call anything on distinct buffers.
 * Errors: 0 or a negative LG_E* code (sfu/lg_error.h): LG_EINVAL (NULL or out-of-range argument),
 * LG_ETRUNC (descriptor runs past the end, or nothing after it), LG_EMALFORMED (a key frame start
 * whose header is short or lacks the 0x9d012a start code), LG_ENOTFOUND (setter: field absent). */
#ifndef LG_MEDIA_VP8_H
#define LG_MEDIA_VP8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct vp8_desc {
    bool extended;      /* X */
    bool non_reference; /* N */
    bool start;         /* S: first packet of a partition */
    uint8_t pid;        /* partition index */
    bool has_picture_id;
    bool picture_id_15; /* M: the picture id is 15 bits, else 7 */
    uint16_t picture_id;
    bool has_tl0picidx;
    uint8_t tl0picidx;
    bool has_tid;
    uint8_t tid;     /* temporal layer index, when has_tid */
    bool layer_sync; /* Y, when has_tid */
    bool has_keyidx;
    uint8_t keyidx;
    size_t desc_len;        /* descriptor bytes before the VP8 payload */
    const uint8_t *payload; /* the VP8 payload after the descriptor */
    size_t payload_len;
    bool keyframe;  /* this packet starts a key frame: S=1, PID=0 and P=0 in the payload header */
    uint16_t width; /* key frames only: 14-bit width and height ... */
    uint16_t height;
    uint8_t hscale; /* ... and their 2-bit upscaling codes */
    uint8_t vscale;
} vp8_desc_t;

/* Parses the descriptor at the start of an RTP payload, and for a key frame start the frame size
 * from the key frame header (RFC 6386 section 9.1). Returns 0, LG_EINVAL, LG_ETRUNC or
 * LG_EMALFORMED. */
int vp8_parse(const uint8_t *p, size_t len, vp8_desc_t *out);

/* Rewrite the PictureID (in its existing 7- or 15-bit width, the value masked to it) or the
 * TL0PICIDX of the descriptor at p, as a forwarding consumer renumbers a stream. Returns 0,
 * LG_ENOTFOUND (field absent), LG_EINVAL or LG_ETRUNC. */
int vp8_set_picture_id(uint8_t *p, size_t len, uint16_t picture_id);
int vp8_set_tl0picidx(uint8_t *p, size_t len, uint8_t tl0picidx);

#endif
