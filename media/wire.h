/* Big-endian field access for the media codecs: shifts and masks over caller bytes, no casts. */
#ifndef LG_MEDIA_WIRE_H
#define LG_MEDIA_WIRE_H

#include <stdint.h>

/* Every helper assumes the caller already checked that the bytes are in bounds. */

static inline uint16_t wire_get_u16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static inline uint32_t wire_get_u24(const uint8_t *p)
{
    return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}

static inline uint32_t wire_get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Sign-extends a 24-bit two's complement field. */
static inline int32_t wire_get_s24(const uint8_t *p)
{
    uint32_t v = wire_get_u24(p);
    return (v & 0x800000u) ? (int32_t)(v | 0xff000000u) : (int32_t)v;
}

static inline void wire_put_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void wire_put_u24(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 16);
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)v;
}

static inline void wire_put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

#endif
