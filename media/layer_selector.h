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
 * Temporal layers (VP8): layersel_temporal_forward() drops packets above a chosen temporal layer;
 * with media/seq_rewriter.h's seqrw_drop() the dropped packets leave no gap in the sequence.
 *
 * Ownership: the caller owns layersel_t; no allocation. Threading: one thread per instance.
 * Errors: 0 or LG_EINVAL (sfu/lg_error.h). */
#ifndef LG_MEDIA_LAYER_SELECTOR_H
#define LG_MEDIA_LAYER_SELECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include "media/vp8.h"

#define LAYERSEL_MAX_LAYERS 4
#define LAYERSEL_NONE       (-1)

/* Flags returned by layersel_update(). */
#define LAYERSEL_CHANGED  1u /* the target layer changed */
#define LAYERSEL_KEYFRAME 2u /* request a key frame of the target layer now */

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
    uint32_t bitrate_bps; /* measured; 0 unknown */
    uint16_t height;      /* 0 unknown */
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
} layersel_t;

/* Fills cfg with the defaults above. */
void layersel_default_config(layersel_config_t *cfg);

/* Prepares a selector for nlayers (1..LAYERSEL_MAX_LAYERS) layers, all inactive, no preference
 * limit. cfg NULL means defaults. Returns 0 or LG_EINVAL. */
int layersel_init(layersel_t *s, uint8_t nlayers, const layersel_config_t *cfg);

/* Updates one layer's state. Returns 0 or LG_EINVAL (index out of range). */
int layersel_set_layer(layersel_t *s, uint8_t layer, bool active, uint32_t bitrate_bps,
                       uint16_t height);

/* Sets the subscriber's preference: the highest layer index and the highest height (0: any). */
void layersel_set_preference(layersel_t *s, uint8_t max_layer, uint16_t max_height);

/* Re-picks the target from the estimate (bits per second). Returns LAYERSEL_* flags. */
unsigned layersel_update(layersel_t *s, uint64_t estimate_bps, uint64_t now_ms);

/* Decides one packet of spatial layer `layer`; keyframe: it starts a key frame. */
layersel_verdict_t layersel_on_packet(layersel_t *s, uint8_t layer, bool keyframe);

/* The layer being forwarded, and the one wanted (LAYERSEL_NONE for none). */
int layersel_current(const layersel_t *s);
int layersel_target(const layersel_t *s);

/* Temporal layer filter: true to forward a VP8 packet, i.e. it has no TID or TID <= max_tid. */
bool layersel_temporal_forward(const vp8_desc_t *d, uint8_t max_tid);

#endif
