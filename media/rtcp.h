/* RTCP compound packets (RFC 3550), feedback (RFC 4585, RFC 5104, REMB, transport-cc): parse and
 * build.
 *
 * Ownership: parsing is zero-copy; rtcp_packet_t, rtcp_fb_t and the string views in the structs
 * below point into the caller's input and live as long as it does. Expanded lists (NACK sequence
 * numbers, FIR entries, transport-cc statuses) go into caller arrays: capacity in, count out.
 * Building appends to a caller buffer through rtcp_writer_t; appending several packets to one
 * writer is how a compound packet is made.
 * Threading: no state; any thread may call anything on distinct buffers.
 * Errors: 0 on success or a negative LG_E* code (sfu/lg_error.h):
 *   LG_ETRUNC     a length field runs past the input,
 *   LG_EMALFORMED the bytes contradict the format (version, padding, a count that does not fit),
 *   LG_EINVAL     wrong packet type for the parser called, NULL or out-of-range arguments,
 *   LG_EFULL      a caller array filled up: the first `cap` items were still written,
 *   LG_ENOSPC     the writer's buffer is too small: the writer's length is unchanged. */
#ifndef LG_MEDIA_RTCP_H
#define LG_MEDIA_RTCP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Packet types. */
#define RTCP_SR    200
#define RTCP_RR    201
#define RTCP_SDES  202
#define RTCP_BYE   203
#define RTCP_APP   204
#define RTCP_RTPFB 205
#define RTCP_PSFB  206
#define RTCP_XR    207

/* Feedback message types (the FMT field). */
#define RTCP_RTPFB_NACK 1  /* RFC 4585 generic NACK */
#define RTCP_RTPFB_TWCC 15 /* transport-wide congestion control */
#define RTCP_PSFB_PLI   1  /* RFC 4585 picture loss indication */
#define RTCP_PSFB_FIR   4  /* RFC 5104 full intra request */
#define RTCP_PSFB_AFB   15 /* application layer feedback, used by REMB */

#define RTCP_HEADER_LEN 4
#define RTCP_MAX_COUNT  31  /* the 5-bit RC/SC field */
#define RTCP_MAX_REMB   255 /* the 8-bit REMB SSRC count */
#define RTCP_SDES_CNAME 1
#define RTCP_MAX_PACKET (4 * 65536) /* the 16-bit length field in words, plus one */

/* --- compound iteration --- */

/* One packet of a compound, with its header fields and a view of its body. */
typedef struct rtcp_packet {
    uint8_t pt;
    uint8_t count;       /* RC, SC or FMT: the 5 low bits of the first byte */
    bool padding;        /* P bit */
    uint8_t padding_len; /* pad count (>= 1) when padding is set */
    const uint8_t *data; /* the whole packet, header included */
    size_t len;          /* (length field + 1) * 4 */
    const uint8_t *body; /* after the 4-byte header */
    size_t body_len;     /* without the padding */
} rtcp_packet_t;

typedef struct rtcp_iter {
    const uint8_t *p;
    size_t len;
    size_t pos;
} rtcp_iter_t;

void rtcp_iter_init(rtcp_iter_t *it, const uint8_t *p, size_t len);

/* Next packet of the compound. Returns 1 with *out filled, 0 at the end, or LG_ETRUNC (length
 * field past the end, a tail shorter than a header) / LG_EMALFORMED (version not 2, padding count
 * 0 or larger than the body). After an error it keeps returning that error. */
int rtcp_iter_next(rtcp_iter_t *it, rtcp_packet_t *out);

/* Walks a whole compound; *count (optional) gets the number of packets. Returns 0 or an error of
 * rtcp_iter_next, or LG_EMALFORMED for an empty input. */
int rtcp_check_compound(const uint8_t *p, size_t len, size_t *count);

/* --- SR, RR, SDES, BYE (RFC 3550) --- */

typedef struct rtcp_report_block {
    uint32_t ssrc;
    uint8_t fraction_lost;
    int32_t cumulative_lost; /* 24-bit signed */
    uint32_t highest_seq;    /* extended highest sequence number received */
    uint32_t jitter;
    uint32_t lsr;  /* last SR: middle 32 bits of its NTP timestamp */
    uint32_t dlsr; /* delay since last SR, 1/65536 s */
} rtcp_report_block_t;

typedef struct rtcp_sr {
    uint32_t ssrc;
    uint64_t ntp; /* NTP timestamp, 32.32 fixed point */
    uint32_t rtp_ts;
    uint32_t packet_count;
    uint32_t octet_count;
    uint8_t rb_count;
    rtcp_report_block_t rb[RTCP_MAX_COUNT];
} rtcp_sr_t;

typedef struct rtcp_rr {
    uint32_t ssrc;
    uint8_t rb_count;
    rtcp_report_block_t rb[RTCP_MAX_COUNT];
} rtcp_rr_t;

/* One SDES chunk; only the CNAME item is kept (other items are checked and skipped). */
typedef struct rtcp_sdes_chunk {
    uint32_t ssrc;
    const char *cname; /* not NUL-terminated; NULL when the chunk has no CNAME */
    uint8_t cname_len;
} rtcp_sdes_chunk_t;

typedef struct rtcp_sdes {
    uint8_t chunk_count;
    rtcp_sdes_chunk_t chunks[RTCP_MAX_COUNT];
} rtcp_sdes_t;

typedef struct rtcp_bye {
    uint8_t ssrc_count;
    uint32_t ssrcs[RTCP_MAX_COUNT];
    const char *reason; /* not NUL-terminated; NULL when absent */
    uint8_t reason_len;
} rtcp_bye_t;

/* Each parser checks the packet type (LG_EINVAL if wrong) and that the count field fits the body
 * (LG_EMALFORMED if not). Bytes after the report blocks (profile extensions) are ignored. */
int rtcp_parse_sr(const rtcp_packet_t *pkt, rtcp_sr_t *out);
int rtcp_parse_rr(const rtcp_packet_t *pkt, rtcp_rr_t *out);
int rtcp_parse_sdes(const rtcp_packet_t *pkt, rtcp_sdes_t *out);
int rtcp_parse_bye(const rtcp_packet_t *pkt, rtcp_bye_t *out);

/* --- feedback (RFC 4585 section 6.1 common header) --- */

typedef struct rtcp_fb {
    uint8_t pt;  /* RTCP_RTPFB or RTCP_PSFB */
    uint8_t fmt; /* RTCP_RTPFB_* or RTCP_PSFB_* */
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    const uint8_t *fci; /* feedback control information */
    size_t fci_len;
} rtcp_fb_t;

/* Parses the common feedback header of an RTPFB or PSFB packet. A PLI is a PSFB with FMT
 * RTCP_PSFB_PLI and nothing more to parse. Returns 0, LG_EINVAL or LG_EMALFORMED. */
int rtcp_parse_fb(const rtcp_packet_t *pkt, rtcp_fb_t *out);

/* Generic NACK: expands every PID+BLP pair, in wire order, into seqs[0..*n). Stops at cap and
 * returns LG_EFULL (a NACK storm is cut, not an error to act on). Returns 0, LG_EINVAL (not a
 * NACK) or LG_EMALFORMED (FCI not a whole number of pairs, or empty). */
int rtcp_nack_parse(const rtcp_fb_t *fb, uint16_t *seqs, size_t cap, size_t *n);

typedef struct rtcp_fir_entry {
    uint32_t ssrc;
    uint8_t seq_nr;
} rtcp_fir_entry_t;

/* FIR entries into e[0..*n). Returns 0, LG_EFULL, LG_EINVAL or LG_EMALFORMED. */
int rtcp_fir_parse(const rtcp_fb_t *fb, rtcp_fir_entry_t *e, size_t cap, size_t *n);

typedef struct rtcp_remb {
    uint64_t bitrate; /* bits per second: mantissa << exp */
    uint8_t ssrc_count;
    uint32_t ssrcs[RTCP_MAX_REMB];
} rtcp_remb_t;

/* REMB (draft-alvestrand-rmcat-remb): a PSFB AFB whose FCI starts with "REMB". Returns 0,
 * LG_EINVAL (not an AFB), LG_ENOTFOUND (an AFB that is not REMB) or LG_EMALFORMED. */
int rtcp_remb_parse(const rtcp_fb_t *fb, rtcp_remb_t *out);

/* --- transport-cc (draft-holmer-rmcat-transport-wide-cc-extensions-01) --- */

enum {
    RTCP_TWCC_NOT_RECEIVED = 0,
    RTCP_TWCC_SMALL_DELTA = 1, /* received, delta 0..255 ticks, one byte */
    RTCP_TWCC_LARGE_DELTA = 2, /* received, signed 16-bit delta */
};

#define RTCP_TWCC_TICK_US     250 /* receive delta unit */
#define RTCP_TWCC_REF_TICK_MS 64  /* reference time unit */

typedef struct rtcp_twcc {
    uint32_t sender_ssrc;
    uint32_t media_ssrc;
    uint16_t base_seq;
    uint16_t status_count;
    int32_t ref_time; /* 24-bit signed, in 64 ms units */
    uint8_t fb_count; /* feedback packet count */
} rtcp_twcc_t;

/* The status of transport-wide sequence base_seq + i. */
typedef struct rtcp_twcc_status {
    uint16_t seq;
    uint8_t symbol; /* RTCP_TWCC_* */
    int16_t delta;  /* receive delta in 250 us ticks; 0 when not received */
} rtcp_twcc_status_t;

/* Decodes header, packet status chunks (run length, 1-bit and 2-bit vectors) and receive deltas.
 * The chunks must cover status_count symbols (extra symbols in the last chunk are ignored) and the
 * deltas must fit. Writes min(status_count, cap) statuses; *n gets that number. Returns 0,
 * LG_EFULL (status_count > cap, header and first cap statuses valid), LG_EINVAL (not transport-cc)
 * or LG_EMALFORMED (reserved symbol, chunks or deltas past the end). */
int rtcp_twcc_parse(const rtcp_fb_t *fb, rtcp_twcc_t *out, rtcp_twcc_status_t *st, size_t cap,
                    size_t *n);

/* The canonical symbol for a received packet's delta in ticks: SMALL for 0..255, else LARGE. */
uint8_t rtcp_twcc_symbol(int32_t delta);

/* --- building --- */

typedef struct rtcp_writer {
    uint8_t *buf;
    size_t cap;
    size_t len; /* bytes appended so far */
} rtcp_writer_t;

void rtcp_writer_init(rtcp_writer_t *w, uint8_t *buf, size_t cap);

/* Each appends one packet. On LG_ENOSPC or LG_EINVAL w->len is unchanged (bytes beyond it may
 * have been overwritten). Counts above RTCP_MAX_COUNT are LG_EINVAL. */
int rtcp_write_sr(rtcp_writer_t *w, const rtcp_sr_t *sr);
int rtcp_write_rr(rtcp_writer_t *w, const rtcp_rr_t *rr);
/* CNAME-only chunks: each chunk is SSRC, one CNAME item, a NUL END and zero padding to 32 bits. */
int rtcp_write_sdes(rtcp_writer_t *w, const rtcp_sdes_t *sdes);
int rtcp_write_bye(rtcp_writer_t *w, const rtcp_bye_t *bye);

/* NACK for seqs[0..n), which must be in increasing (wrapping) order: each run of seqs within 16
 * after a PID becomes one PID+BLP pair, as libwebrtc packs them. n must be >= 1. */
int rtcp_write_nack(rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc,
                    const uint16_t *seqs, size_t n);
int rtcp_write_pli(rtcp_writer_t *w, uint32_t sender_ssrc, uint32_t media_ssrc);
/* FIR with media SSRC 0 and n >= 1 entries. */
int rtcp_write_fir(rtcp_writer_t *w, uint32_t sender_ssrc, const rtcp_fir_entry_t *e, size_t n);
/* REMB with media SSRC 0; the bitrate is encoded with the smallest exponent whose 18-bit mantissa
 * holds it (low bits shifted out are lost, as in libwebrtc). */
int rtcp_write_remb(rtcp_writer_t *w, uint32_t sender_ssrc, const rtcp_remb_t *remb);

/* transport-cc for st[0..n) (n = 1..65535; st[i] is base_seq + i, its seq field is not read).
 * The header's status_count is ignored and n written instead. Chunks are chosen as libwebrtc does
 * (run length when a run allows it, else 2-bit vectors of 7 or 1-bit vectors of 14), and the
 * packet is padded to 32 bits with the P bit. A received status's delta must fit its symbol
 * (LG_EINVAL). */
int rtcp_write_twcc(rtcp_writer_t *w, const rtcp_twcc_t *hdr, const rtcp_twcc_status_t *st,
                    size_t n);

#endif
