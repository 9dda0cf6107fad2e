/* Unit tests for simulcast layer selection: estimate and preference drive the target, key frames
 * make the switch, VP8 temporal layers are filtered. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "media/layer_selector.h"
#include "media/rtp.h"
#include "media/vp8.h"
#include "sfu/lg_error.h"
#include "tests/unit/hex_lines.h"

/* Three layers as browsers send them: 320x180, 640x360, 1280x720. */
static void three_layers(layersel_t *s)
{
    assert_int_equal(layersel_init(s, 3, NULL), 0);
    assert_int_equal(layersel_set_layer(s, 0, true, 150000, 180), 0);
    assert_int_equal(layersel_set_layer(s, 1, true, 500000, 360), 0);
    assert_int_equal(layersel_set_layer(s, 2, true, 1500000, 720), 0);
}

/* Brings the selector to forward `layer` (target picked by estimate, then its key frame). */
static void settle(layersel_t *s, uint64_t estimate, int layer, uint64_t now)
{
    layersel_update(s, estimate, now);
    assert_int_equal(layersel_target(s), layer);
    assert_int_equal(layersel_on_packet(s, (uint8_t)layer, true), LAYERSEL_SWITCHED);
    assert_int_equal(layersel_current(s), layer);
}

static void test_initial_pick_waits_for_keyframe(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    assert_int_equal(layersel_current(&s), LAYERSEL_NONE);
    unsigned f = layersel_update(&s, 2000000, 0);
    assert_int_equal(f, LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 2);
    /* Nothing is forwarded until layer 2's key frame. */
    assert_int_equal(layersel_on_packet(&s, 2, false), LAYERSEL_DROP);
    assert_int_equal(layersel_on_packet(&s, 0, true), LAYERSEL_DROP);
    assert_int_equal(layersel_on_packet(&s, 2, true), LAYERSEL_SWITCHED);
    assert_int_equal(layersel_on_packet(&s, 2, false), LAYERSEL_FORWARD);
    assert_int_equal(layersel_on_packet(&s, 1, false), LAYERSEL_DROP);
    assert_int_equal(layersel_update(&s, 2000000, 10), 0);
}

static void test_falling_estimate_moves_down_at_keyframe(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    settle(&s, 2000000, 2, 0);
    /* Still enough for the current layer (no margin needed to stay). */
    assert_int_equal(layersel_update(&s, 1500000, 100), 0);
    unsigned f = layersel_update(&s, 700000, 200);
    assert_int_equal(f, LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 1);
    /* Layer 2 keeps flowing until layer 1's key frame arrives. */
    assert_int_equal(layersel_on_packet(&s, 2, false), LAYERSEL_FORWARD);
    assert_int_equal(layersel_on_packet(&s, 1, false), LAYERSEL_DROP);
    assert_int_equal(layersel_on_packet(&s, 2, true), LAYERSEL_FORWARD);
    assert_int_equal(layersel_current(&s), 2);
    /* The request is repeated while the key frame is awaited, not on every update. */
    assert_int_equal(layersel_update(&s, 700000, 500), 0);
    assert_int_equal(layersel_update(&s, 700000, 1200), LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_on_packet(&s, 1, true), LAYERSEL_SWITCHED);
    assert_int_equal(layersel_on_packet(&s, 2, false), LAYERSEL_DROP);
    assert_int_equal(layersel_on_packet(&s, 1, false), LAYERSEL_FORWARD);
    /* Below every layer: the lowest is still forwarded. */
    layersel_update(&s, 50000, 1300);
    assert_int_equal(layersel_target(&s), 0);
}

static void test_rising_estimate_moves_up_with_margin(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    settle(&s, 300000, 0, 0);
    /* 550 kbps fits 500 kbps but not with the 1.2 margin an upward move needs. */
    assert_int_equal(layersel_update(&s, 550000, 100), 0);
    assert_int_equal(layersel_target(&s), 0);
    assert_int_equal(layersel_update(&s, 600000, 200), LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 1);
    assert_int_equal(layersel_on_packet(&s, 1, true), LAYERSEL_SWITCHED);
    /* Straight to the top when the estimate allows it. */
    layersel_update(&s, 5000000, 300);
    assert_int_equal(layersel_target(&s), 2);
    /* The target falling back to the current layer before the key frame cancels the move. */
    assert_int_equal(layersel_update(&s, 550000, 400), LAYERSEL_CHANGED);
    assert_int_equal(layersel_on_packet(&s, 2, true), LAYERSEL_DROP);
    assert_int_equal(layersel_current(&s), 1);
}

static void test_preference_caps(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    layersel_set_preference(&s, 1, 0);
    layersel_update(&s, 10000000, 0);
    assert_int_equal(layersel_target(&s), 1);
    layersel_set_preference(&s, 2, 360); /* by height */
    layersel_update(&s, 10000000, 0);
    assert_int_equal(layersel_target(&s), 1);
    layersel_set_preference(&s, 0, 0);
    layersel_update(&s, 10000000, 0);
    assert_int_equal(layersel_target(&s), 0);
    layersel_set_preference(&s, 9, 0); /* clamped to the top layer */
    layersel_update(&s, 10000000, 0);
    assert_int_equal(layersel_target(&s), 2);
}

static void test_inactive_and_unknown_layers(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    settle(&s, 10000000, 2, 0);
    /* The publisher pauses the top layer (e.g. its own uplink is short). */
    layersel_set_layer(&s, 2, false, 0, 720);
    assert_int_equal(layersel_update(&s, 10000000, 10), LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 1);
    /* No bitrate measured yet for layer 1: only the fallback choice. */
    layersel_set_layer(&s, 1, true, 0, 360);
    layersel_update(&s, 10000000, 20);
    assert_int_equal(layersel_target(&s), 0);
    /* Nothing active at all. */
    layersel_set_layer(&s, 0, false, 0, 0);
    layersel_set_layer(&s, 1, false, 0, 0);
    assert_int_equal(layersel_update(&s, 10000000, 30), LAYERSEL_CHANGED);
    assert_int_equal(layersel_target(&s), LAYERSEL_NONE);
    assert_int_equal(layersel_on_packet(&s, 0, true), LAYERSEL_DROP);
    /* Arguments. */
    assert_int_equal(layersel_init(&s, 0, NULL), LG_EINVAL);
    assert_int_equal(layersel_init(&s, LAYERSEL_MAX_LAYERS + 1, NULL), LG_EINVAL);
    assert_int_equal(layersel_init(&s, 2, NULL), 0);
    assert_int_equal(layersel_set_layer(&s, 2, true, 1, 1), LG_EINVAL);
    assert_int_equal(layersel_on_packet(&s, 7, true), LAYERSEL_DROP);
}

/* The layers were ranked anew in the middle of a switch (the router's default order had them
 * upside down): state, current and target follow their layers to the new indices, so the next
 * update neither re-asks for the awaited key frame nor loses the switch. */
static void test_reorder(void **state)
{
    (void)state;
    layersel_t s;
    assert_int_equal(layersel_init(&s, 3, NULL), 0);
    assert_int_equal(layersel_set_layer(&s, 0, true, 1500000, 720), 0);
    assert_int_equal(layersel_set_layer(&s, 1, true, 500000, 360), 0);
    assert_int_equal(layersel_set_layer(&s, 2, true, 150000, 180), 0);
    settle(&s, 2000000, 2, 0); /* forwarding the 180p layer, believed to be the best */
    assert_int_equal(layersel_set_layer(&s, 2, false, 0, 180), 0);
    assert_int_equal(layersel_update(&s, 2000000, 100), LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 1); /* waiting for a 360p key frame */
    const uint8_t to[3] = {2, 1, 0};
    assert_int_equal(layersel_reorder(&s, to), 0);
    assert_int_equal(layersel_current(&s), 0);
    assert_int_equal(layersel_target(&s), 1);
    assert_int_equal(s.layers[0].height, 180);
    assert_false(s.layers[0].active);
    assert_int_equal(s.layers[1].bitrate_bps, 500000);
    assert_int_equal(s.layers[2].height, 720);
    assert_int_equal(s.layers[2].bitrate_bps, 1500000);
    /* 700 kbit/s affords 360p, the layer already awaited: no new target, no second request */
    assert_int_equal(layersel_set_layer(&s, 0, true, 150000, 180), 0);
    assert_int_equal(layersel_update(&s, 700000, 200), 0);
    assert_int_equal(layersel_on_packet(&s, 0, false), LAYERSEL_FORWARD);
    assert_int_equal(layersel_on_packet(&s, 1, true), LAYERSEL_SWITCHED);
    assert_int_equal(layersel_update(&s, 2000000, 300), LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_target(&s), 2);
    const uint8_t bad[3] = {0, 0, 1};
    assert_int_equal(layersel_reorder(&s, bad), LG_EINVAL);
    const uint8_t out[3] = {0, 1, 3};
    assert_int_equal(layersel_reorder(&s, out), LG_EINVAL);
    assert_int_equal(layersel_current(&s), 1);
    assert_int_equal(layersel_target(&s), 2);
}

static void test_temporal_filter(void **state)
{
    (void)state;
    vp8_desc_t d = {0};
    assert_true(layersel_temporal_forward(&d, 0)); /* no TID: nothing to filter */
    d.has_tid = true;
    d.tid = 0;
    assert_true(layersel_temporal_forward(&d, 0));
    d.tid = 1;
    assert_false(layersel_temporal_forward(&d, 0));
    assert_true(layersel_temporal_forward(&d, 1));
    d.tid = 2;
    assert_false(layersel_temporal_forward(&d, 1));
    assert_true(layersel_temporal_forward(&d, 2));

    /* On real simulcast packets (Chromium sends TIDs 0-2 per layer): dropping TID 2 keeps the
     * base layers and drops some, never every packet. */
    hex_lines_t h;
    int n = hex_lines_load("tests/fixtures/rtp/chromium-156-vp8-simulcast.hex", &h);
    assert_true(n > 0);
    int with_tid = 0, kept = 0;
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        vp8_desc_t v;
        if (rtp_parse(h.pkt[i], h.len[i], &pkt) != 0 ||
            vp8_parse(pkt.payload, pkt.payload_len, &v) != 0 || !v.has_tid)
            continue;
        with_tid++;
        bool fwd = layersel_temporal_forward(&v, 1);
        assert_int_equal(fwd, v.tid <= 1);
        kept += fwd;
        if (v.keyframe)
            assert_true(fwd); /* key frames are on the base temporal layer */
    }
    hex_lines_free(&h);
    assert_true(with_tid > 0);
    assert_true(kept > 0);
    assert_true(kept < with_tid);
}

/* Below the lowest layer's full rate the selector thins its temporal layers, down to TID 0, and
 * rises again only with the margin; above it every TID is forwarded. */
static void test_temporal_choice(void **state)
{
    (void)state;
    layersel_t s;
    three_layers(&s);
    const uint32_t cum[3] = {60000, 90000, 150000}; /* TL0, TL0+1, all of layer 0 */
    assert_int_equal(layersel_set_temporal(&s, 0, cum, 3), 0);
    assert_int_equal(layersel_set_temporal(&s, 3, cum, 3), LG_EINVAL);
    assert_int_equal(layersel_set_temporal(&s, 0, cum, LAYERSEL_MAX_TEMPORAL + 1), LG_EINVAL);
    settle(&s, 2000000, 2, 0);
    assert_int_equal(layersel_temporal_target(&s), LAYERSEL_TID_ALL);
    /* 100 kbps: layer 0 at full rate does not fit, TIDs 0-1 do */
    unsigned f = layersel_update(&s, 100000, 500);
    assert_int_equal(f, LAYERSEL_CHANGED | LAYERSEL_KEYFRAME | LAYERSEL_TEMPORAL);
    assert_int_equal(layersel_target(&s), 0);
    assert_int_equal(layersel_temporal_target(&s), 1);
    assert_int_equal(layersel_set_current(&s, 0), 0); /* the caller switched at a key frame */
    assert_int_equal(layersel_current(&s), 0);
    vp8_desc_t key = {.start = true, .has_tid = true, .tid = 0, .keyframe = true};
    assert_true(layersel_temporal_on_packet(&s, &key, true));
    assert_int_equal(layersel_temporal_current(&s), 1);
    /* 50 kbps: TID 0 is the floor even when it does not fit */
    assert_int_equal(layersel_update(&s, 50000, 1000), LAYERSEL_TEMPORAL);
    assert_int_equal(layersel_temporal_target(&s), 0);
    vp8_desc_t d = {.start = true, .has_tid = true, .tid = 2};
    assert_false(layersel_temporal_on_packet(&s, &d, false));
    assert_int_equal(layersel_temporal_current(&s), 0);
    /* back to 100 kbps: TIDs 0-1 (90 kbps) need 108 kbps with the margin to rise */
    assert_int_equal(layersel_update(&s, 100000, 1500), 0);
    assert_int_equal(layersel_temporal_target(&s), 0);
    assert_int_equal(layersel_update(&s, 110000, 2000), LAYERSEL_TEMPORAL);
    assert_int_equal(layersel_temporal_target(&s), 1);
    /* every TID of layer 0 (150 kbps) is a rise from TID 0 forwarded now: it needs the margin */
    assert_int_equal(layersel_update(&s, 150000, 2400), 0);
    assert_int_equal(layersel_temporal_target(&s), 1);
    assert_int_equal(layersel_update(&s, 180000, 2500), LAYERSEL_TEMPORAL);
    assert_int_equal(layersel_temporal_target(&s), LAYERSEL_TID_ALL);
    /* a layer above the lowest is never thinned; nor is a layer without measured TIDs */
    assert_int_equal(layersel_update(&s, 700000, 3000), LAYERSEL_CHANGED | LAYERSEL_KEYFRAME);
    assert_int_equal(layersel_temporal_target(&s), LAYERSEL_TID_ALL);
    assert_int_equal(layersel_set_temporal(&s, 0, NULL, 0), 0);
    assert_int_equal(layersel_update(&s, 50000, 3500), LAYERSEL_CHANGED);
    assert_int_equal(layersel_target(&s), 0);
    assert_int_equal(layersel_temporal_target(&s), LAYERSEL_TID_ALL);
}

/* The temporal choice moves only where no forwarded frame can miss a reference: down at a frame
 * start, up at a key frame or a layer sync frame; packets inside a frame follow its first. */
static void test_temporal_switch_points(void **state)
{
    (void)state;
    layersel_t s;
    assert_int_equal(layersel_init(&s, 1, NULL), 0);
    const uint32_t cum[3] = {40000, 60000, 100000};
    layersel_set_temporal(&s, 0, cum, 3);
    layersel_set_layer(&s, 0, true, 100000, 0);
    layersel_update(&s, 1000000, 0);
    layersel_set_current(&s, 0);
    vp8_desc_t first = {.start = true, .has_tid = true, .tid = 2};
    vp8_desc_t rest = {.start = false, .has_tid = true, .tid = 2};
    assert_true(layersel_temporal_on_packet(&s, &first, false));
    assert_int_equal(layersel_update(&s, 30000, 500), LAYERSEL_TEMPORAL);
    assert_int_equal(layersel_temporal_target(&s), 0);
    /* the TID 2 frame already started is finished, the next one is not */
    assert_true(layersel_temporal_on_packet(&s, &rest, false));
    assert_int_equal(layersel_temporal_current(&s), LAYERSEL_TID_ALL);
    vp8_desc_t tl1 = {.start = true, .has_tid = true, .tid = 1};
    assert_false(layersel_temporal_on_packet(&s, &tl1, false));
    assert_int_equal(layersel_temporal_current(&s), 0);
    vp8_desc_t tl0 = {.start = true, .has_tid = true, .tid = 0};
    assert_true(layersel_temporal_on_packet(&s, &tl0, false));
    /* up: a TID 1 frame without sync is still dropped, the first one with Y is forwarded */
    layersel_update(&s, 1000000, 1000);
    assert_int_equal(layersel_temporal_target(&s), LAYERSEL_TID_ALL);
    assert_false(layersel_temporal_on_packet(&s, &tl1, false));
    tl1.layer_sync = true;
    assert_true(layersel_temporal_on_packet(&s, &tl1, false));
    assert_int_equal(layersel_temporal_current(&s), 1);
    first.layer_sync = false;
    assert_false(layersel_temporal_on_packet(&s, &first, false)); /* TID 2 still waits */
    /* a key frame makes every TID whole */
    vp8_desc_t key = {.start = true, .has_tid = true, .tid = 0};
    assert_true(layersel_temporal_on_packet(&s, &key, true));
    assert_int_equal(layersel_temporal_current(&s), LAYERSEL_TID_ALL);
    assert_true(layersel_temporal_on_packet(&s, &first, false));
    /* packets without a TID are never filtered */
    layersel_update(&s, 30000, 1500);
    vp8_desc_t plain = {.start = true};
    assert_true(layersel_temporal_on_packet(&s, &plain, false));
    assert_true(layersel_temporal_on_packet(&s, NULL, false));
}

/* Chromium's own L1T3 stream (the l layer of the capture): held at TID 0, only TID 0 passes; after
 * a rise to every TID the first higher-TID frame forwarded carries the sync bit. */
static void test_temporal_on_chromium(void **state)
{
    (void)state;
    hex_lines_t h;
    assert_true(hex_lines_load("tests/fixtures/rtp/chromium-156-vp8-simulcast.hex", &h) > 0);
    layersel_t s;
    layersel_init(&s, 1, NULL);
    const uint32_t cum[3] = {40000, 60000, 100000};
    layersel_set_temporal(&s, 0, cum, 3);
    layersel_set_layer(&s, 0, true, 100000, 0);
    layersel_update(&s, 30000, 0);
    int n = 0, fwd_high = 0, first_high_sync = -1;
    for (size_t i = 0; i < h.n; i++) {
        rtp_packet_t pkt;
        vp8_desc_t v;
        if (rtp_parse(h.pkt[i], h.len[i], &pkt) != 0 || pkt.ssrc != 105105440u ||
            vp8_parse(pkt.payload, pkt.payload_len, &v) != 0 || !v.has_tid)
            continue;
        if (++n == 6) /* after the key frame and a few frames: every TID again */
            layersel_update(&s, 1000000, 500);
        bool fwd = layersel_temporal_on_packet(&s, &v, v.keyframe);
        if (n < 6)
            assert_int_equal(fwd, v.tid == 0);
        if (fwd && v.tid > 0 && fwd_high++ == 0)
            first_high_sync = v.layer_sync;
    }
    hex_lines_free(&h);
    assert_true(n >= 15);
    assert_true(fwd_high > 0);
    assert_int_equal(first_high_sync, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_initial_pick_waits_for_keyframe),
        cmocka_unit_test(test_falling_estimate_moves_down_at_keyframe),
        cmocka_unit_test(test_rising_estimate_moves_up_with_margin),
        cmocka_unit_test(test_preference_caps),
        cmocka_unit_test(test_inactive_and_unknown_layers),
        cmocka_unit_test(test_reorder),
        cmocka_unit_test(test_temporal_filter),
        cmocka_unit_test(test_temporal_choice),
        cmocka_unit_test(test_temporal_switch_points),
        cmocka_unit_test(test_temporal_on_chromium),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
