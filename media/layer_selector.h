/* Simulcast layer choice for one subscriber's video consumer: which spatial layer to forward
 * given the layers the publisher sends, the subscriber's bandwidth estimate and preference, and
 * the switch itself, which waits for a key frame of the new layer.
 *
 * Layers are indexed from 0 (lowest quality). The caller reports each layer's state (active,
 * measured bitrate, height from its key frames) and the subscriber's preference (highest layer
 * index and highest height wanted); layersel_update() picks the target: the highest allowed
 * active layer whose bitrate fits the estimate (a layer above the current one must fit with
 * up_margin to spare, so the choice does not oscillate), else the lowest allowed active layer.
 * A layer whose bitrate is still unknown (0) is only chosen as that fallback.
 *
 * Switching: the caller passes every packet of the producer to layersel_on_packet(), which says
 * whether to forward it. Packets of the current layer are forwarded; when the target differs, the
 * first key frame start of the target layer becomes the switch point and from then on that layer
 * is current. The caller asks the publisher for a key frame of the target layer whenever
 * layersel_update() returns LAYERSEL_KEYFRAME (on a target change, then every keyframe_retry_ms
 * while it is still awaited).
 *
 * A caller that runs its own switch (forwarding from a key frame of the target) reports the layer
 * it now forwards with layersel_set_current(), so the hysteresis and key frame requests see it.
 *
 * Temporal layers (VP8): when the layer chosen is the lowest allowed one and even it does not fit
 * the estimate, layersel_update() also picks the highest temporal layer whose cumulative bitrate
 * (TIDs 0..t, reported with layersel_set_temporal()) fits, with the same up_margin for a rise;
 * TID 0 is the floor. Otherwise every temporal layer is forwarded (LAYERSEL_TID_ALL).
 * layersel_temporal_on_packet() applies that choice to the packets of the forwarded layer and
 * moves only at safe points, so no forwarded frame references a dropped one: down at the start of
 * any frame, up at a key frame or at the start of a frame with the layer sync bit (Y: it depends
 * only on TL0) whose TID lies above the current choice and within the target. Without sync frames
 * a rise waits for the next key frame. layersel_temporal_forward() is the stateless filter. With
 * media/seq_rewriter.h's seqrw_drop() the dropped packets leave no gap in the sequence.
 *
 * Ownership: the caller owns layersel_t; no allocation. Threading: one thread per instance.
 * Errors: 0 or LG_EINVAL (sfu/lg_error.h). */
#ifndef LG_MEDIA_LAYER_SELECTOR_H
#define LG_MEDIA_LAYER_SELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "media/vp8.h"

#define LAYERSEL_MAX_LAYERS   4
#define LAYERSEL_NONE         (-1)
#define LAYERSEL_MAX_TEMPORAL 4    /* VP8 TIDs 0..3 */
#define LAYERSEL_TID_ALL      0xff /* no temporal filtering */

/* Flags returned by layersel_update(). */
#define LAYERSEL_CHANGED  1u /* the target layer changed */
#define LAYERSEL_KEYFRAME 2u /* request a key frame of the target layer now */
#define LAYERSEL_TEMPORAL 4u /* the temporal target changed */

typedef enum layersel_verdict {
    LAYERSEL_DROP = 0,
    LAYERSEL_FORWARD,  /* a packet of the current layer */
    LAYERSEL_SWITCHED, /* forward: the key frame that made this layer current */
} layersel_verdict_t;

typedef struct layersel_config {
    double up_margin;           /* a higher layer needs estimate >= bitrate * up_margin (1.2) */
    uint32_t keyframe_retry_ms; /* re-request an awaited key frame this often (1000) */
} layersel_config_t;

typedef struct layersel_layer {
    bool active;
    uint32_t bitrate_bps;                    /* measured; 0 unknown */
    uint16_t height;                         /* 0 unknown */
    uint8_t tids;                            /* temporal layers measured (0 or 1: none to filter) */
    uint32_t tid_bps[LAYERSEL_MAX_TEMPORAL]; /* cumulative: [t] = TIDs 0..t together */
} layersel_layer_t;

typedef struct layersel {
    layersel_config_t cfg;
    uint8_t nlayers;
    layersel_layer_t layers[LAYERSEL_MAX_LAYERS];
    int8_t pref_max_layer;    /* highest index wanted */
    uint16_t pref_max_height; /* 0: no limit */
    int8_t current;           /* LAYERSEL_NONE until the first switch */
    int8_t target;            /* LAYERSEL_NONE when no layer is usable */
    uint64_t keyframe_asked_ms;
    bool keyframe_asked;
    uint8_t tid_target;  /* highest TID wanted, LAYERSEL_TID_ALL for every one */
    uint8_t tid_current; /* highest TID forwarded now, LAYERSEL_TID_ALL for every one */
} layersel_t;

/* Fills cfg with the defaults above. */
void layersel_default_config(layersel_config_t *cfg);

/* Prepares a selector for nlayers (1..LAYERSEL_MAX_LAYERS) layers, all inactive, no preference
 * limit. cfg NULL means defaults. Returns 0 or LG_EINVAL. */
int layersel_init(layersel_t *s, uint8_t nlayers, const layersel_config_t *cfg);

/* Updates one layer's state. Returns 0 or LG_EINVAL (index out of range). */
int layersel_set_layer(layersel_t *s, uint8_t layer, bool active, uint32_t bitrate_bps,
                       uint16_t height);

/* Updates one layer's temporal bitrates: cum_bps[t] is the rate of TIDs 0..t together, n how many
 * TIDs were measured (0..LAYERSEL_MAX_TEMPORAL; 0 or 1: nothing to filter). Returns 0 or
 * LG_EINVAL. */
int layersel_set_temporal(layersel_t *s, uint8_t layer, const uint32_t *cum_bps, uint8_t n);

/* Sets the subscriber's preference: the highest layer index and the highest height (0: any). */
void layersel_set_preference(layersel_t *s, uint8_t max_layer, uint16_t max_height);

/* Re-picks the target from the estimate (bits per second). Returns LAYERSEL_* flags. */
unsigned layersel_update(layersel_t *s, uint64_t estimate_bps, uint64_t now_ms);

/* Decides one packet of spatial layer `layer`; keyframe: it starts a key frame. */
layersel_verdict_t layersel_on_packet(layersel_t *s, uint8_t layer, bool keyframe);

/* The caller forwards `layer` from now on (it switched at a key frame itself). Returns 0 or
 * LG_EINVAL. */
int layersel_set_current(layersel_t *s, uint8_t layer);

/* The layers were ranked anew (their quality order changed): the layer at index i moves to index
 * to[i] (a permutation of 0..nlayers-1), with its state and the current and target choices; the
 * preference keeps its index (it names a quality, not a layer). Returns 0 or LG_EINVAL. */
int layersel_reorder(layersel_t *s, const uint8_t *to);

/* The layer being forwarded, and the one wanted (LAYERSEL_NONE for none). */
int layersel_current(const layersel_t *s);
int layersel_target(const layersel_t *s);

/* The highest temporal layer wanted and the one forwarded now (LAYERSEL_TID_ALL: every one). */
int layersel_temporal_target(const layersel_t *s);
int layersel_temporal_current(const layersel_t *s);

/* Decides one packet of the forwarded spatial layer by its VP8 descriptor (NULL or no TID: forward)
 * and moves the temporal choice at safe points (see above); keyframe: it starts a key frame.
 * Returns true to forward it. */
bool layersel_temporal_on_packet(layersel_t *s, const vp8_desc_t *d, bool keyframe);

/* Temporal layer filter: true to forward a VP8 packet, i.e. it has no TID or TID <= max_tid. */
bool layersel_temporal_forward(const vp8_desc_t *d, uint8_t max_tid);

#endif
