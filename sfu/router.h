/* Selective forwarding on a media worker: producers (tracks a publish transport receives) and
 * consumers (one per subscriber per track). Each RTP packet is copied once per consumer into a
 * send slot, rewritten (SSRC, sequence, timestamp, payload type, header-extension ids), protected
 * with the subscriber's SRTP session and queued for sendmmsg. Nothing decodes video. Worker
 * thread only; producers and consumers are created and removed by control messages.
 *
 * Video consumers get one simulcast layer at a time, chosen every 500 ms from the layers'
 * measured bitrates and the subscriber leg's estimate (router_update_layers), switched at a key
 * frame the relay asks the publisher for. A producer's layers are indexed as the offer lists its
 * rids (encoding identity); their quality order comes from a=rid restrictions or the measured
 * rates (media/layer_rank.h), never from that position. When even the lowest layer does not fit,
 * its VP8 temporal layers above what fits are held back (media/layer_selector.h); the consumer's
 * sequence rewrite (media/seq_rewriter.h) closes the holes they leave and maps the subscriber's
 * NACKs back to source numbers. VP8 picture ids and TL0PICIDX are rewritten to continue across
 * switches (a receiver drops frames whose picture id looks older than one it decoded).
 *
 * A NACKed packet is resent in its original stream, i.e. under the SRTP index of its first send,
 * so it must be byte-identical to it (media/send_history.h): it is rebuilt with the first send's
 * transport-cc number and sent only if the plaintext hashes the same; an outgoing number is never
 * sent twice otherwise (a publisher's retransmission of a packet already forwarded is dropped). */
#ifndef LG_ROUTER_H
#define LG_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "media/active_speaker.h"
#include "media/bwe.h"
#include "media/layer_rank.h"
#include "media/layer_selector.h"
#include "media/nack_generator.h"
#include "media/rtx_buffer.h"
#include "media/send_history.h"
#include "media/seq_rewriter.h"
#include "sfu/rtcp_reports.h"
#include "sfu/transport.h"

#define ROUTER_MAX_LAYERS       4 /* at most LAYER_RANK_MAX and LAYERSEL_MAX_LAYERS */
#define ROUTER_MAX_TIDS         LAYERSEL_MAX_TEMPORAL /* VP8 temporal layers measured per layer */
#define ROUTER_RID_MAX          16
#define ROUTER_MID_MAX          32
#define ROUTER_PLI_INTERVAL_MS  500 /* keyframe requests to one publisher track, at most */
#define ROUTER_RTX_CAPACITY     256 /* video packets indexed per layer for NACK replies (~1 s) */
#define ROUTER_RTX_MAX_AGE_MS   1000
#define ROUTER_NACK_INTERVAL_MS 20   /* how often uplink losses are NACKed */
#define ROUTER_TWCC_MAX         1024 /* statuses decoded from one transport-cc feedback */

typedef enum { ROUTER_AUDIO = 0, ROUTER_VIDEO } router_kind_t;

/* What the control thread negotiated for one published track. */
typedef struct {
    uint64_t id;           /* control-assigned producer id */
    uint64_t transport_id; /* the publish transport */
    router_kind_t kind;
    uint8_t pt, rtx_pt;
    uint32_t clock_rate;
    bool h264; /* key frames by IDR (RFC 6184) instead of the VP8 payload descriptor */
    char mid[ROUTER_MID_MAX];
    int nlayers; /* 1 without simulcast */
    char rids[ROUTER_MAX_LAYERS][ROUTER_RID_MAX];
    layer_rank_hint_t hints[ROUTER_MAX_LAYERS]; /* a=rid restrictions, for the quality order */
    uint32_t ssrcs[ROUTER_MAX_LAYERS];          /* 0: learnt from the mid/rid extensions */
    uint32_t rtx_ssrcs[ROUTER_MAX_LAYERS];
    uint8_t ext_mid, ext_rid, ext_rrid, ext_audio_level, ext_abs_send_time, ext_twcc;
} producer_params_t;

/* What the control thread negotiated for one subscriber of one track. */
typedef struct {
    uint64_t id;
    uint64_t transport_id; /* the subscribe transport */
    uint64_t producer_id;
    uint32_t ssrc; /* the relay's outbound SSRC in the subscriber's SDP */
    uint8_t pt;
    /* RTX (RFC 4588) the subscriber accepted: NACKed packets go on rtx_ssrc with their own
     * sequence numbers, the original one first in the payload; 0: resent in place */
    uint8_t rtx_pt;
    uint32_t rtx_ssrc;
    /* the subscriber's extension ids (0: not negotiated, the element is blanked) */
    uint8_t ext_abs_send_time, ext_audio_level, ext_twcc;
    int preferred_layer; /* by quality: 0 = the highest; -1 = let the relay choose */
} consumer_params_t;

typedef struct consumer consumer_t;

/* Audio levels of one room's publishers, for the active speaker (RFC 6464). */
typedef struct room_audio {
    char room[72];
    speaker_room_t speakers;
    int producers; /* audio producers using it; freed at 0 */
    struct room_audio *next;
} room_audio_t;

typedef struct producer {
    producer_params_t p;
    transport_t *t;
    uint32_t ssrcs[ROUTER_MAX_LAYERS];  /* signaled or learnt */
    rx_stats_t rx[ROUTER_MAX_LAYERS];   /* reception statistics for the RR to the publisher */
    rtxbuf_t *rtx[ROUTER_MAX_LAYERS];   /* video: sent packets, for subscribers' NACKs */
    nackgen_t *nack[ROUTER_MAX_LAYERS]; /* video: uplink losses the relay NACKs */
    uint32_t rtx_ssrcs[ROUTER_MAX_LAYERS];
    room_audio_t *audio_room;                /* audio producers with the audio-level extension */
    struct room_mix *mix;                    /* its room's mixer, while someone there is mixed */
    uint64_t layer_bytes[ROUTER_MAX_LAYERS]; /* since rate_since_ms */
    uint32_t layer_bps[ROUTER_MAX_LAYERS];   /* measured over the last window */
    uint64_t tid_bytes[ROUTER_MAX_LAYERS][ROUTER_MAX_TIDS]; /* VP8 bytes by TID, same window */
    uint32_t tid_bps[ROUTER_MAX_LAYERS][ROUTER_MAX_TIDS];   /* cumulative: TIDs 0..t */
    uint8_t tids[ROUTER_MAX_LAYERS]; /* TIDs seen in the last window (highest + 1), 0: none */
    uint64_t rate_since_ms;
    layer_rank_t rank; /* the layers' quality order; re-ranked from the measured rates */
    int speaker_slot;
    bool muted;
    uint64_t last_pli_ms;
    uint64_t packets, bytes;
    consumer_t *consumers;
    struct producer *next; /* in the worker's list */
} producer_t;

struct consumer {
    consumer_params_t p;
    producer_t *prod;
    transport_t *t;
    uint8_t id_map[16]; /* publisher extension id -> subscriber id, 0 blanks it */
    int layer;          /* forwarded layer (encoding index, as prod->p.rids), -1 until a keyframe */
    layersel_t sel;     /* video: the spatial and VP8 temporal layers its estimate affords (selector
                           index = prod->rank.rank[layer], 0 = lowest quality) */
    int target_layer;   /* encoding index, like `layer` */
    seqrw_t rw;         /* one continuous seq/ts out of layer switches and temporal-layer drops */
    sendhist_t sent;    /* per outgoing seq: first send's transport-cc number and plaintext hash */
    /* VP8: picture id and TL0PICIDX continue across layer switches (out = in + delta) */
    bool vp8_started;
    uint32_t vp8_src; /* the source SSRC the deltas are for */
    uint16_t pic_delta, pic_last;
    uint8_t tl0_delta, tl0_last;
    uint16_t rtx_seq; /* the RTX stream's next sequence number */
    uint64_t packets, bytes;
    consumer_t *next_in_producer;
    consumer_t *next_in_transport;
    consumer_t *next; /* in the worker's list */
};

struct lg_worker;

int router_add_producer(struct lg_worker *w, const producer_params_t *p);
int router_add_consumer(struct lg_worker *w, const consumer_params_t *p);
void router_remove_consumer(struct lg_worker *w, uint64_t id);
/* A track was renegotiated away: its producer and consumers go. */
void router_remove_producer(struct lg_worker *w, uint64_t id);
void router_set_muted(struct lg_worker *w, uint64_t producer_id, bool muted);

/* Forgets every producer and consumer on transport t (it is closing). */
void router_transport_closed(struct lg_worker *w, transport_t *t);

/* An RTP packet that decrypted on a publish transport (plaintext in `data`). */
void router_on_rtp(struct lg_worker *w, transport_t *t, uint8_t *data, size_t len);

/* An RTCP compound that decrypted on any transport. */
void router_on_rtcp(struct lg_worker *w, transport_t *t, const uint8_t *data, size_t len);

/* Updates every room's dominant speaker and reports changes to the control thread. */
void router_update_speakers(struct lg_worker *w, uint64_t now_ms);

/* Re-measures simulcast layer bitrates and re-picks each subscriber's layer from its bandwidth
 * estimate; reports subscribers crossing the low-bandwidth threshold (every 500 ms). */
void router_update_layers(struct lg_worker *w, uint64_t now_ms);

/* Sends NACKs for losses on publishers' uplinks (every ROUTER_NACK_INTERVAL_MS). */
void router_send_nacks(struct lg_worker *w, uint64_t now_ms);

/* Frees everything (worker shutdown). */
void router_free(struct lg_worker *w);

#endif
