/* Sequence number and timestamp rewriting for one consumer stream: several sources (simulcast
 * layers, a republished track) in, one monotonic sequence and continuous timestamp out.
 *
 * Model (mediasoup's SeqManager and RtpStreamSend): for the current source, out_seq = in_seq +
 * offset, where the offset shrinks by one for every packet the caller drops with seqrw_drop(), so
 * the outgoing sequence has no holes the receiver would NACK; out_ts = in_ts + ts_offset. The
 * first packet whose SSRC differs from the current source starts a new source (the caller decides
 * when: the layer selector forwards a new layer from its key frame on): its out_seq is the last
 * out_seq + 1 and its out_ts the last out_ts plus the wall-clock time since the last forwarded
 * packet in the codec clock (at least one tick). The very first packet keeps its numbers. A late
 * packet of a previous source would start yet another switch, so the caller passes only packets
 * of the layer it currently forwards.
 *
 * Packets of the current source that arrive out of order are mapped to where they belong, as long
 * as they are not older than the switch point, not older than SEQRW_WINDOW behind the newest and
 * not older than a drop the bounded drop list had to forget. Mapping an old packet does not change
 * any state, so the same call also renumbers a retransmission of a packet already forwarded.
 *
 * Ownership: the caller owns seqrw_t (no allocation anywhere). Threading: one thread per
 * instance. Errors: 0 or a negative LG_E* code (sfu/lg_error.h). */
#ifndef LG_MEDIA_SEQ_REWRITER_H
#define LG_MEDIA_SEQ_REWRITER_H

#include <stdbool.h>
#include <stdint.h>

#define SEQRW_WINDOW   1024 /* how far behind the newest an out-of-order packet may be */
#define SEQRW_DROP_CAP 256  /* drops remembered within the window */

typedef struct seqrw {
    uint32_t clock_rate; /* Hz: 90000 video, 48000 audio */
    bool started;        /* a packet was forwarded */
    uint32_t ssrc;       /* the current source */
    uint16_t offset;     /* out = in + offset for seqs newer than every remembered drop */
    uint32_t ts_offset;  /* out_ts = in_ts + ts_offset */
    uint16_t max_in;     /* newest incoming seq of the current source (forwarded or dropped) */
    uint16_t floor_in;   /* incoming seqs at or before this are refused */
    uint16_t max_out;    /* newest outgoing seq */
    uint32_t max_out_ts; /* and its timestamp */
    uint64_t last_ms;    /* when the newest outgoing packet was mapped */
    uint16_t drops[SEQRW_DROP_CAP]; /* dropped incoming seqs of the current source, ascending */
    uint16_t drop_head;
    uint16_t drop_count;
} seqrw_t;

/* Prepares a rewriter for a codec clock (Hz). Returns 0 or LG_EINVAL (NULL, clock_rate 0). */
int seqrw_init(seqrw_t *rw, uint32_t clock_rate);

/* Maps one packet to be forwarded. A new SSRC switches sources (see above). *out_seq and *out_ts
 * get the outgoing numbers. Returns 0, LG_EREPLAY (refused: before the switch point, too old, or
 * a seq that was dropped) or LG_EINVAL (NULL). */
int seqrw_map(seqrw_t *rw, uint32_t ssrc, uint16_t seq, uint32_t ts, uint64_t now_ms,
              uint16_t *out_seq, uint32_t *out_ts);

/* Records that the packet (ssrc, seq) will not be forwarded, so later seqs close the gap. Only a
 * seq newer than every seq of the current source seen so far can be closed; for an older seq the
 * hole stays (its successors are already numbered). Drops of another SSRC are ignored: the next
 * source is numbered from its first forwarded packet. Returns true when the gap was closed. */
bool seqrw_drop(seqrw_t *rw, uint32_t ssrc, uint16_t seq);

/* The inverse of seqrw_map for the current source: the incoming seq that out_seq was mapped from,
 * for a receiver's NACK of a rewritten number. Changes nothing. Returns 0, LG_ENOTFOUND (out_seq
 * is newer than anything forwarded, belongs to a previous source or lies before the switch point,
 * is outside the window, or falls where the refused seqs are) or LG_EINVAL (NULL). */
int seqrw_unmap(const seqrw_t *rw, uint16_t out_seq, uint16_t *in_seq);

/* The last outgoing sequence number and timestamp; false before the first packet. */
bool seqrw_last(const seqrw_t *rw, uint16_t *out_seq, uint32_t *out_ts);

#endif
