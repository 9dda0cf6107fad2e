/* Unit tests for signaling/sdp: real Chromium 156 and Firefox 153 offers, round trips, a relay
 * answer built from scratch, and errors that name the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/sdp.h"

#define CHROME_PUB "tests/fixtures/sdp/chromium-156-offer-publish.sdp"
#define CHROME_SIM "tests/fixtures/sdp/chromium-156-offer-publish-simulcast.sdp"
#define FIREFOX    "tests/fixtures/sdp/firefox-153-offer-audio-video.sdp"

#define CHROME_FP                                                                                  \
    "01:67:08:59:C5:6A:AE:92:E0:DC:30:9E:08:34:88:81:23:B5:1F:CA:B2:1F:F9:C2:A1:CE:AF:7C:31:A2:"   \
    "27:"                                                                                          \
    "7F"
#define FIREFOX_FP                                                                                 \
    "E4:AA:E2:22:30:4E:5C:B6:F1:3E:39:15:81:80:2E:69:C6:8B:45:3D:05:12:60:CB:02:90:81:9D:13:81:"   \
    "0C:"                                                                                          \
    "9C"

#define OUT_CAP (256 * 1024)

/* --- helpers -------------------------------------------------------------------------------- */

static char *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(SDP_MAX_INPUT + 1);
    assert_non_null(buf);
    *len = fread(buf, 1, SDP_MAX_INPUT, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static sdp_session_t *new_session(void)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    memset(s, 0xA5, sizeof *s); /* the parser must overwrite everything */
    return s;
}

static sdp_session_t *parse_file(const char *path)
{
    size_t len;
    char *text = load(path, &len);
    sdp_session_t *s = new_session();
    sdp_error_t err;
    int rc = sdp_parse((const uint8_t *)text, len, s, &err);
    if (rc != 0)
        fail_msg("%s: %s", path, err.msg);
    free(text);
    return s;
}

/* Parses text (NUL-terminated) and expects failure rc at line, with msg exactly as given. */
static void expect_error(const char *text, int rc, int line, const char *msg)
{
    sdp_session_t *s = new_session();
    sdp_error_t err;
    assert_int_equal(sdp_parse((const uint8_t *)text, strlen(text), s, &err), rc);
    assert_int_equal(err.line, line);
    assert_string_equal(err.msg, msg);
    free(s);
}

/* Returns a malloc'd copy of src with the first occurrence of old replaced by new. */
static char *replace_once(const char *src, const char *old, const char *new_text)
{
    const char *at = strstr(src, old);
    assert_non_null(at);
    size_t head = (size_t)(at - src), olen = strlen(old), nlen = strlen(new_text);
    char *out = malloc(strlen(src) - olen + nlen + 1);
    assert_non_null(out);
    memcpy(out, src, head);
    memcpy(out + head, new_text, nlen);
    strcpy(out + head + nlen, at + olen);
    return out;
}

static const sdp_candidate_t *cand(const sdp_media_t *m, int i)
{
    assert_true(i < m->candidate_count);
    return &m->candidates[i];
}

/* --- Chromium 156 ---------------------------------------------------------------------------- */

static void test_chromium_session(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    assert_string_equal(s->origin_username, "-");
    assert_true(s->sess_id == 329874233054191189ULL);
    assert_true(s->sess_version == 2);
    assert_string_equal(s->origin_addr, "127.0.0.1");
    assert_string_equal(s->name, "-");
    assert_int_equal(s->bundle_count, 2);
    assert_string_equal(s->bundle_mids[0], "0");
    assert_string_equal(s->bundle_mids[1], "1");
    assert_true(s->extmap_allow_mixed);
    assert_false(s->ice_lite);
    assert_string_equal(s->msid_semantic, "WMS");
    assert_string_equal(s->msid_semantic_ids, "f9e9a520-51e3-413d-8391-ef4e7fc82acf");
    assert_int_equal(s->media_count, 2);
    assert_int_equal(s->direction, SDP_DIR_NONE);
    free(s);
}

static void test_chromium_audio(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    const sdp_media_t *a = sdp_find_media_by_mid(s, "0");
    assert_ptr_equal(a, &s->media[0]);
    assert_int_equal(a->kind, SDP_KIND_AUDIO);
    assert_int_equal(a->port, 34857);
    assert_string_equal(a->proto, "UDP/TLS/RTP/SAVPF");
    assert_string_equal(a->conn_addr, "127.0.0.1");
    assert_int_equal(a->direction, SDP_DIR_SENDONLY);
    assert_true(a->rtcp_mux);
    assert_true(a->rtcp_rsize);
    assert_false(a->bundle_only);
    assert_false(a->end_of_candidates);
    assert_string_equal(a->ice.ufrag, "EAKo");
    assert_string_equal(a->ice.pwd, "ANnm7rg79ZPqm6a1kM190aFJ");
    assert_string_equal(a->ice.options, "trickle");
    assert_string_equal(a->fingerprint.alg, "sha-256");
    assert_string_equal(a->fingerprint.value, CHROME_FP);
    assert_int_equal(a->setup, SDP_SETUP_ACTPASS);
    assert_string_equal(a->msid.stream, "f9e9a520-51e3-413d-8391-ef4e7fc82acf");
    assert_string_equal(a->msid.track, "bd5ec888-5687-4c43-a74d-8f79658c642d");

    static const int pts[] = {111, 63, 9, 0, 8, 13, 110, 126};
    assert_int_equal(a->codec_count, 8);
    for (int i = 0; i < 8; i++)
        assert_int_equal(a->codecs[i].pt, pts[i]);
    const sdp_codec_t *opus = sdp_media_find_codec(a, "OPUS");
    assert_non_null(opus);
    assert_int_equal(opus->pt, 111);
    assert_int_equal(opus->clock_rate, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(opus->rtcp_fb_count, 1);
    assert_string_equal(opus->rtcp_fb[0], "transport-cc");
    assert_int_equal(opus->apt, -1);
    const sdp_codec_t *g722 = sdp_media_find_codec_pt(a, 9);
    assert_string_equal(g722->name, "G722");
    assert_int_equal(g722->clock_rate, 8000);
    assert_int_equal(g722->channels, 0);
    assert_string_equal(sdp_media_find_codec_pt(a, 63)->fmtp, "111/111");
    assert_int_equal(sdp_media_find_codec_pt(a, 126)->clock_rate, 8000);

    assert_int_equal(a->extmap_count, 4);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_ABS_SEND_TIME), 2);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_MID), 4);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_RID), LG_ENOTFOUND);
    assert_int_equal(a->extmaps[0].direction, SDP_DIR_NONE);

    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].ssrc == 3843737176U);
    assert_string_equal(a->ssrcs[0].cname, "Vtesnz1pDVTg/Z4t");
    assert_string_equal(a->ssrcs[0].msid.track, "bd5ec888-5687-4c43-a74d-8f79658c642d");
    assert_int_equal(a->ssrc_group_count, 0);
    free(s);
}

static void test_chromium_candidates(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    const sdp_media_t *a = &s->media[0];
    assert_int_equal(a->candidate_count, 8);
    assert_int_equal(a->candidates_ignored, 0);
    const sdp_candidate_t *c = cand(a, 0);
    assert_string_equal(c->foundation, "3577989303");
    assert_int_equal(c->component, 1);
    assert_int_equal(c->transport, SDP_TRANSPORT_UDP);
    assert_true(c->priority == 2122194687U);
    assert_string_equal(c->addr, "127.0.0.1");
    assert_int_equal(c->port, 34857);
    assert_int_equal(c->type, SDP_CAND_HOST);
    assert_int_equal(c->tcptype, SDP_TCPTYPE_NONE);
    assert_string_equal(cand(a, 2)->addr, "::1");
    assert_int_equal(cand(a, 3)->port, 40391);
    c = cand(a, 4);
    assert_int_equal(c->transport, SDP_TRANSPORT_TCP);
    assert_int_equal(c->port, 9);
    assert_int_equal(c->tcptype, SDP_TCPTYPE_ACTIVE);
    assert_true(c->priority == 1518214911U);
    assert_string_equal(cand(a, 7)->addr, "fd00::2");
    assert_int_equal(s->media[1].candidate_count, 8);
    assert_int_equal(cand(&s->media[1], 0)->port, 60142);
    free(s);
}

static void test_chromium_video(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    const sdp_media_t *v = sdp_find_media_by_mid(s, "1");
    assert_non_null(v);
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    assert_int_equal(v->port, 60142);
    assert_int_equal(v->codec_count, 23);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_int_equal(v->codecs[22].pt, 120);

    const sdp_codec_t *vp8 = sdp_media_find_codec(v, "vp8");
    assert_int_equal(vp8->pt, 96);
    assert_int_equal(vp8->clock_rate, 90000);
    static const char *const fbs[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};
    assert_int_equal(vp8->rtcp_fb_count, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(vp8->rtcp_fb[i], fbs[i]);
    assert_true(sdp_codec_has_fb(vp8, "nack pli"));
    assert_false(sdp_codec_has_fb(vp8, "nack rpsi"));
    assert_int_equal(sdp_media_find_rtx_pt(v, 96), 97);
    const sdp_codec_t *rtx = sdp_media_find_codec_pt(v, 97);
    assert_string_equal(rtx->name, "rtx");
    assert_int_equal(rtx->apt, 96);
    assert_string_equal(rtx->fmtp, "apt=96");
    assert_int_equal(rtx->rtcp_fb_count, 0);

    const sdp_codec_t *h264 = sdp_media_find_codec(v, "H264");
    assert_int_equal(h264->pt, 102);
    assert_int_equal(h264->packetization_mode, 1);
    assert_string_equal(h264->profile_level_id, "42001f");
    assert_int_equal(sdp_media_find_codec_pt(v, 104)->packetization_mode, 0);
    assert_string_equal(sdp_media_find_codec_pt(v, 108)->profile_level_id, "42e01f");
    assert_string_equal(sdp_media_find_codec_pt(v, 116)->profile_level_id, "4d001f");
    assert_int_equal(sdp_media_find_rtx_pt(v, 102), 103);
    assert_int_equal(sdp_media_find_rtx_pt(v, 118), 119);
    assert_int_equal(sdp_media_find_rtx_pt(v, 120), LG_ENOTFOUND);
    assert_int_equal(vp8->packetization_mode, -1);
    assert_string_equal(sdp_media_find_codec(v, "AV1")->fmtp, "level-idx=5;profile=0;tier=0");

    assert_int_equal(v->extmap_count, 11);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 4);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(v, "urn:ietf:params:rtp-hdrext:toffset"), 14);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_AUDIO_LEVEL), LG_ENOTFOUND);

    assert_int_equal(v->ssrc_group_count, 1);
    assert_string_equal(v->ssrc_groups[0].semantics, "FID");
    assert_int_equal(v->ssrc_groups[0].count, 2);
    assert_true(v->ssrc_groups[0].ssrcs[0] == 2999594381U);
    assert_true(v->ssrc_groups[0].ssrcs[1] == 2150372220U);
    assert_int_equal(v->ssrc_count, 2);
    assert_true(v->ssrcs[1].ssrc == 2150372220U);
    assert_string_equal(v->ssrcs[1].msid.track, "6a2774f8-aea4-4b57-8dba-2f1af9f5099e");
    assert_int_equal(v->rid_count, 0);
    assert_int_equal(v->simulcast.send.count, 0);
    free(s);
}

static void test_chromium_simulcast(void **state)
{
    sdp_session_t *s = parse_file(CHROME_SIM);
    const sdp_media_t *v = &s->media[1];
    assert_string_equal(v->ice.ufrag, "nsn0");
    assert_int_equal(v->rid_count, 3);
    static const char *const rids[] = {"h", "m", "l"};
    for (int i = 0; i < 3; i++) {
        assert_string_equal(v->rids[i].id, rids[i]);
        assert_int_equal(v->rids[i].direction, SDP_DIR_SENDONLY);
        assert_string_equal(v->rids[i].params, "");
    }
    assert_int_equal(v->simulcast.send.count, 3);
    assert_int_equal(v->simulcast.recv.count, 0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v->simulcast.send.streams[i].alt_count, 1);
        assert_string_equal(v->simulcast.send.streams[i].alts[0].rid, rids[i]);
        assert_false(v->simulcast.send.streams[i].alts[0].paused);
    }
    assert_int_equal(v->extmap_count, 13);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(sdp_media_find_extmap(v, "https://aomediacodec.github.io/av1-rtp-spec/"
                                              "#dependency-descriptor-rtp-header-extension"),
                     12);
    assert_int_equal(v->ssrc_count, 0);
    assert_int_equal(v->ssrc_group_count, 0);
    free(s);
}

/* --- Firefox 153 ----------------------------------------------------------------------------- */

static void test_firefox_session(void **state)
{
    sdp_session_t *s = parse_file(FIREFOX);
    assert_string_equal(s->origin_username, "mozilla...THIS_IS_SDPARTA-99.0");
    assert_true(s->sess_id == 3127797721397832630ULL);
    assert_true(s->sess_version == 0);
    assert_string_equal(s->origin_addr, "0.0.0.0");
    assert_int_equal(s->direction, SDP_DIR_SENDRECV);
    assert_string_equal(s->fingerprint.alg, "sha-256");
    assert_string_equal(s->fingerprint.value, FIREFOX_FP);
    assert_string_equal(s->ice.options, "trickle");
    assert_string_equal(s->msid_semantic, "WMS");
    assert_string_equal(s->msid_semantic_ids, "*");
    assert_int_equal(s->bundle_count, 2);
    assert_false(s->extmap_allow_mixed); /* Firefox writes it per m-section */
    assert_int_equal(s->media_count, 2);
    for (int i = 0; i < 2; i++) { /* session-level values reach every m-section */
        assert_string_equal(s->media[i].fingerprint.value, FIREFOX_FP);
        assert_string_equal(s->media[i].ice.options, "trickle");
        assert_true(s->media[i].extmap_allow_mixed);
        assert_int_equal(s->media[i].direction, SDP_DIR_SENDRECV);
        assert_int_equal(s->media[i].setup, SDP_SETUP_ACTPASS);
        assert_string_equal(s->media[i].ice.ufrag, "091a930d");
        assert_string_equal(s->media[i].ice.pwd, "075cdd3435246688953ef28d10e7ef15");
        assert_string_equal(s->media[i].conn_addr, "192.0.2.2");
        assert_true(s->media[i].end_of_candidates);
        assert_true(s->media[i].rtcp_mux);
    }
    free(s);
}

static void test_firefox_audio(void **state)
{
    sdp_session_t *s = parse_file(FIREFOX);
    const sdp_media_t *a = &s->media[0];
    assert_string_equal(a->mid, "0");
    assert_false(a->rtcp_rsize);
    assert_string_equal(a->msid.stream, "-");
    assert_string_equal(a->msid.track, "{c46ad2b3-ae17-4d82-9f85-d9443b35df98}");
    assert_int_equal(a->codec_count, 5);
    const sdp_codec_t *opus = sdp_media_find_codec(a, "opus");
    assert_int_equal(opus->pt, 109);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "maxplaybackrate=48000;stereo=1;useinbandfec=1");
    assert_string_equal(opus->rtcp_fb[0], "transport-cc");
    assert_int_equal(sdp_media_find_codec(a, "G722")->channels, 1);
    assert_string_equal(sdp_media_find_codec_pt(a, 101)->fmtp, "0-15");

    assert_int_equal(a->extmap_count, 4);
    assert_int_equal(a->extmaps[1].id, 2);
    assert_int_equal(a->extmaps[1].direction, SDP_DIR_RECVONLY);
    assert_string_equal(a->extmaps[1].uri, "urn:ietf:params:rtp-hdrext:csrc-audio-level");
    assert_int_equal(a->extmaps[0].direction, SDP_DIR_NONE);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_MID), 3);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_TRANSPORT_CC), 7);

    assert_int_equal(a->candidate_count, 16);
    const sdp_candidate_t *c = cand(a, 6);
    assert_string_equal(c->foundation, "6");
    assert_int_equal(c->transport, SDP_TRANSPORT_TCP);
    assert_int_equal(c->port, 9);
    assert_int_equal(c->tcptype, SDP_TCPTYPE_ACTIVE);
    assert_string_equal(c->addr, "192.0.2.2");
    c = cand(a, 10);
    assert_int_equal(c->component, 2);
    assert_int_equal(c->transport, SDP_TRANSPORT_UDP);
    assert_int_equal(c->port, 59418);
    assert_true(c->priority == 2122187006U);
    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].ssrc == 2303720631U);
    assert_string_equal(a->ssrcs[0].cname, "{d5c72bae-ea6c-43e7-ac76-0af104e72e78}");
    free(s);
}

static void test_firefox_video(void **state)
{
    sdp_session_t *s = parse_file(FIREFOX);
    const sdp_media_t *v = &s->media[1];
    assert_true(v->rtcp_rsize);
    assert_int_equal(v->codec_count, 9);
    /* Firefox writes a=fmtp before a=rtpmap: the merge must not depend on order. */
    const sdp_codec_t *vp8 = sdp_media_find_codec(v, "VP8");
    assert_int_equal(vp8->pt, 120);
    assert_string_equal(vp8->fmtp, "max-fs=12288;max-fr=60");
    static const char *const fbs[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
    assert_int_equal(vp8->rtcp_fb_count, 5);
    for (int i = 0; i < 5; i++)
        assert_string_equal(vp8->rtcp_fb[i], fbs[i]);
    assert_int_equal(sdp_media_find_rtx_pt(v, 120), 124);
    assert_int_equal(sdp_media_find_rtx_pt(v, 121), 125);
    assert_int_equal(sdp_media_find_rtx_pt(v, 99), 100);
    assert_int_equal(sdp_media_find_rtx_pt(v, 122), 119);
    assert_null(sdp_media_find_codec(v, "H264"));
    assert_int_equal(v->extmaps[3].id, 6);
    assert_int_equal(v->extmaps[3].direction, SDP_DIR_RECVONLY);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_ABS_SEND_TIME), 4);
    assert_int_equal(v->ssrc_group_count, 1);
    assert_string_equal(v->ssrc_groups[0].semantics, "FID");
    assert_true(v->ssrc_groups[0].ssrcs[0] == 3152052930U);
    assert_true(v->ssrc_groups[0].ssrcs[1] == 2161103366U);
    assert_int_equal(v->ssrc_count, 2);
    assert_string_equal(v->msid.track, "{91e69053-1ab6-4174-8bb0-5ab4c5898618}");
    assert_int_equal(v->candidate_count, 16);
    free(s);
}

/* --- round trips ----------------------------------------------------------------------------- */

/* write(parse(text)) must parse back to a byte-identical struct and write the same text again. */
static void round_trip_text(const char *text, size_t len)
{
    sdp_session_t *a = new_session(), *b = new_session();
    sdp_error_t err;
    char *out1 = malloc(OUT_CAP), *out2 = malloc(OUT_CAP);
    size_t n1, n2;
    if (sdp_parse((const uint8_t *)text, len, a, &err) != 0)
        fail_msg("%s", err.msg);
    assert_int_equal(sdp_write(a, out1, OUT_CAP, &n1), 0);
    assert_int_equal(strlen(out1), n1);
    if (sdp_parse((const uint8_t *)out1, n1, b, &err) != 0)
        fail_msg("re-parse: %s", err.msg);
    assert_memory_equal(a, b, sizeof *a);
    assert_int_equal(sdp_write(b, out2, OUT_CAP, &n2), 0);
    assert_int_equal(n1, n2);
    assert_memory_equal(out1, out2, n1);
    for (size_t i = 0; i < n1; i++) /* every line ends in CRLF */
        if (out1[i] == '\n')
            assert_true(i > 0 && out1[i - 1] == '\r');
    assert_true(n1 >= 2 && out1[n1 - 1] == '\n');
    free(out1);
    free(out2);
    free(a);
    free(b);
}

static void round_trip_file(const char *path)
{
    size_t len;
    char *text = load(path, &len);
    round_trip_text(text, len);
    free(text);
}

static void test_round_trip_chromium(void **state)
{
    round_trip_file(CHROME_PUB);
}

static void test_round_trip_chromium_simulcast(void **state)
{
    round_trip_file(CHROME_SIM);
}

static void test_round_trip_firefox(void **state)
{
    round_trip_file(FIREFOX);
}

static void test_round_trip_edge_cases(void **state)
{
    static const char text[] =
        "v=0\r\no=- 1 1 IN IP6 ::1\r\nt=0 0\r\na=ice-lite\r\na=ice-ufrag:abcd\r\n"
        "a=ice-pwd:0123456789012345678901\r\na=setup:passive\r\n"
        "m=video 9 UDP/TLS/RTP/SAVPF 96 97\r\na=mid:v\r\na=inactive\r\na=bundle-only\r\n"
        "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:* nack\r\na=rtcp-fb:* nack\r\n"
        "a=rid:h recv pt=96;max-width=1280\r\na=rid:l recv\r\n"
        "a=simulcast:send h;~m,x recv l\r\n"
        "a=candidate:1 1 udp 5 198.51.100.7 5000 typ srflx raddr 10.0.0.1 rport 4000\r\n"
        "a=candidate:2 1 tcp 4 198.51.100.7 5000 typ host tcptype passive\r\n"
        "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\na=mid:d\r\n"
        "a=sctp-port:5000\r\na=max-message-size:262144\r\n";
    round_trip_text(text, sizeof text - 1);
}

static void test_edge_case_values(void **state)
{
    const char *text = "v=0\no=- 1 1 IN IP4 0.0.0.0\nc=IN IP4 203.0.113.1\nt=0 0\n"
                       "m=video 9 RTP/SAVPF 96 97\na=rtpmap:96 VP8/90000\n"
                       "a=rtcp-fb:* nack\na=rtcp-fb:* nack\na=rtcp-fb:97 ccm fir\n"
                       "a=simulcast: send h;~m,x recv l\n"
                       "a=candidate:1 1 udp 5 198.51.100.7 5000 typ srflx raddr 10.0.0.1 rport 4\n"
                       "a=candidate:9 1 ssltcp 5 198.51.100.7 443 typ host\n"
                       "a=candidate:9 1 udp 5 198.51.100.7 443 typ weird\n";
    sdp_session_t *s = new_session();
    sdp_error_t err;
    assert_int_equal(sdp_parse((const uint8_t *)text, strlen(text), s, &err), 0);
    const sdp_media_t *m = &s->media[0];
    assert_string_equal(m->conn_addr, "203.0.113.1"); /* session c= inherited */
    assert_int_equal(m->direction, SDP_DIR_SENDRECV); /* default */
    assert_int_equal(m->setup, SDP_SETUP_NONE);
    assert_string_equal(m->fingerprint.alg, "");
    assert_int_equal(m->codecs[0].rtcp_fb_count, 1); /* "*" applies once to each, no duplicate */
    assert_int_equal(m->codecs[1].rtcp_fb_count, 2);
    assert_string_equal(m->codecs[1].rtcp_fb[1], "ccm fir");
    assert_string_equal(m->codecs[1].name, ""); /* no a=rtpmap */
    const sdp_sim_list_t *send = &m->simulcast.send;
    assert_int_equal(send->count, 2);
    assert_string_equal(send->streams[0].alts[0].rid, "h");
    assert_int_equal(send->streams[1].alt_count, 2);
    assert_true(send->streams[1].alts[0].paused);
    assert_string_equal(send->streams[1].alts[0].rid, "m");
    assert_false(send->streams[1].alts[1].paused);
    assert_string_equal(send->streams[1].alts[1].rid, "x");
    assert_int_equal(m->simulcast.recv.count, 1);
    assert_string_equal(m->simulcast.recv.streams[0].alts[0].rid, "l");
    assert_int_equal(m->candidate_count, 1); /* ssltcp and unknown typ are skipped */
    assert_int_equal(m->candidates[0].type, SDP_CAND_SRFLX);
    assert_string_equal(m->candidates[0].rel_addr, "10.0.0.1");
    assert_int_equal(m->candidates[0].rel_port, 4);
    free(s);
}

static void test_lf_equals_crlf(void **state)
{
    size_t len;
    char *text = load(FIREFOX, &len);
    char *lf = malloc(len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (text[i] != '\r')
            lf[n++] = text[i];
    sdp_session_t *a = new_session(), *b = new_session();
    assert_int_equal(sdp_parse((const uint8_t *)text, len, a, NULL), 0);
    assert_int_equal(sdp_parse((const uint8_t *)lf, n, b, NULL), 0);
    assert_memory_equal(a, b, sizeof *a);
    free(text);
    free(lf);
    free(a);
    free(b);
}

/* --- relay answer built from scratch --------------------------------------------------------- */

static void build_audio(sdp_session_t *s)
{
    sdp_media_t *a = sdp_session_add_media(s, SDP_KIND_AUDIO, "0");
    assert_non_null(a);
    a->port = 40000;
    a->direction = SDP_DIR_RECVONLY;
    strcpy(a->ice.ufrag, "rlyU");
    strcpy(a->ice.pwd, "relaypassword0123456789");
    strcpy(a->fingerprint.alg, "sha-256");
    strcpy(a->fingerprint.value, CHROME_FP);
    a->setup = SDP_SETUP_PASSIVE;
    a->rtcp_mux = a->rtcp_rsize = true;
    sdp_codec_t *opus = sdp_media_add_codec(a, 111, "opus", 48000, 2, "minptime=10;useinbandfec=1");
    assert_non_null(opus);
    assert_int_equal(sdp_codec_add_fb(opus, "transport-cc"), 0);
    assert_int_equal(sdp_media_add_extmap(a, 1, SDP_EXT_AUDIO_LEVEL, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(a, 3, SDP_EXT_TRANSPORT_CC, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(a, 4, SDP_EXT_MID, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(a, 4, SDP_EXT_RID, SDP_DIR_NONE), LG_EEXIST);
    sdp_candidate_t c = {.component = 1, .priority = 2130706431U, .port = 40000};
    strcpy(c.foundation, "1");
    strcpy(c.addr, "192.0.2.10");
    assert_int_equal(sdp_media_add_candidate(a, &c), 0);
    strcpy(c.foundation, "2");
    c.transport = SDP_TRANSPORT_TCP;
    c.tcptype = SDP_TCPTYPE_PASSIVE;
    c.priority = 1518280447U;
    assert_int_equal(sdp_media_add_candidate(a, &c), 0);
    a->end_of_candidates = true;
}

static void build_video(sdp_session_t *s)
{
    sdp_media_t *v = sdp_session_add_media(s, SDP_KIND_VIDEO, "1");
    assert_non_null(v);
    *v = s->media[0]; /* same transport values */
    v->kind = SDP_KIND_VIDEO;
    strcpy(v->mid, "1");
    v->codec_count = v->extmap_count = 0;
    sdp_codec_t *vp8 = sdp_media_add_codec(v, 96, "VP8", 90000, 0, NULL);
    assert_non_null(vp8);
    static const char *const fbs[] = {"goog-remb", "transport-cc", "ccm fir", "nack", "nack pli"};
    for (int i = 0; i < 5; i++)
        assert_int_equal(sdp_codec_add_fb(vp8, fbs[i]), 0);
    sdp_codec_t *rtx = sdp_media_add_codec(v, 97, "rtx", 90000, 0, "apt=96");
    assert_int_equal(rtx->apt, 96);
    assert_null(sdp_media_add_codec(v, 97, "rtx", 90000, 0, NULL)); /* duplicate pt */
    assert_int_equal(sdp_media_add_extmap(v, 4, SDP_EXT_MID, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(v, 10, SDP_EXT_RID, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(v, 11, SDP_EXT_REPAIRED_RID, SDP_DIR_NONE), 0);
    static const char *const rids[] = {"h", "m", "l"};
    for (int i = 0; i < 3; i++) {
        strcpy(v->rids[i].id, rids[i]);
        v->rids[i].direction = SDP_DIR_RECVONLY;
        v->simulcast.recv.streams[i].alt_count = 1;
        strcpy(v->simulcast.recv.streams[i].alts[0].rid, rids[i]);
    }
    v->rid_count = 3;
    v->simulcast.recv.count = 3;
}

static void test_relay_answer(void **state)
{
    sdp_session_t *s = malloc(sizeof *s);
    sdp_session_init(s);
    s->sess_id = 4611686018427387904ULL;
    s->sess_version = 2;
    s->ice_lite = true;
    s->extmap_allow_mixed = true;
    strcpy(s->msid_semantic, "WMS");
    s->bundle_count = 2;
    strcpy(s->bundle_mids[0], "0");
    strcpy(s->bundle_mids[1], "1");
    build_audio(s);
    build_video(s);

    char *out = malloc(OUT_CAP);
    size_t n;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), 0);
    assert_non_null(strstr(out, "v=0\r\no=- 4611686018427387904 2 IN IP4 127.0.0.1\r\ns=-\r\n"
                                "t=0 0\r\na=group:BUNDLE 0 1\r\na=ice-lite\r\n"));
    assert_non_null(strstr(out, "m=audio 40000 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 192.0.2.10\r\n"));
    assert_non_null(strstr(out, "\r\na=setup:passive\r\n"));
    assert_non_null(strstr(out, "\r\na=rtpmap:111 opus/48000/2\r\n"
                                "a=fmtp:111 minptime=10;useinbandfec=1\r\n"));
    assert_non_null(strstr(out, "\r\na=candidate:2 1 tcp 1518280447 192.0.2.10 40000 typ host "
                                "tcptype passive\r\n"));
    assert_non_null(strstr(out, "\r\na=rid:h recv\r\n"));
    assert_non_null(strstr(out, "\r\na=simulcast:recv h;m;l\r\n"));
    assert_non_null(strstr(out, "\r\na=extmap:11 " SDP_EXT_REPAIRED_RID "\r\n"));

    sdp_session_t *p = new_session();
    sdp_error_t err;
    if (sdp_parse((const uint8_t *)out, n, p, &err) != 0)
        fail_msg("%s", err.msg);
    assert_true(p->ice_lite);
    assert_true(p->sess_id == 4611686018427387904ULL);
    assert_int_equal(p->media_count, 2);
    const sdp_media_t *a = &p->media[0], *v = &p->media[1];
    assert_int_equal(a->direction, SDP_DIR_RECVONLY);
    assert_int_equal(a->setup, SDP_SETUP_PASSIVE);
    assert_string_equal(a->ice.ufrag, "rlyU");
    assert_string_equal(a->fingerprint.value, CHROME_FP);
    assert_string_equal(a->conn_addr, "192.0.2.10");
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(a->candidate_count, 2);
    assert_int_equal(a->candidates[1].tcptype, SDP_TCPTYPE_PASSIVE);
    assert_int_equal(a->candidates[1].port, 40000);
    assert_true(a->end_of_candidates);
    assert_int_equal(sdp_media_find_codec(a, "opus")->pt, 111);
    assert_int_equal(sdp_media_find_rtx_pt(v, 96), 97);
    assert_true(sdp_codec_has_fb(sdp_media_find_codec(v, "VP8"), "nack pli"));
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(v->rid_count, 3);
    assert_int_equal(v->rids[2].direction, SDP_DIR_RECVONLY);
    assert_int_equal(v->simulcast.recv.count, 3);
    assert_string_equal(v->simulcast.recv.streams[1].alts[0].rid, "m");
    assert_int_equal(v->simulcast.send.count, 0);
    free(p);
    free(out);
    free(s);
}

static void test_write_errors(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    char *out = malloc(OUT_CAP);
    size_t n;
    assert_int_equal(sdp_write(s, out, 100, &n), LG_ENOSPC);
    assert_int_equal(sdp_write(NULL, out, OUT_CAP, &n), LG_EINVAL);
    strcpy(s->media[0].mid, "a b"); /* would break a=group:BUNDLE */
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), LG_EINVAL);
    strcpy(s->media[0].mid, "0");
    s->media[1].codecs[3].pt = 200;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), LG_EINVAL);
    s->media[1].codecs[3].pt = 96; /* duplicate */
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), LG_EINVAL);
    s->media[1].codecs[3].pt = 103;
    strcpy(s->media[1].ice.pwd, "x\r\na=evil");
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), LG_EINVAL);
    strcpy(s->media[1].ice.pwd, "ok");
    s->media[1].codec_count = SDP_MAX_CODECS + 1;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), LG_EINVAL);
    s->media[1].codec_count = 23;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &n), 0);
    free(out);
    free(s);
}

/* --- parse errors name the line -------------------------------------------------------------- */

#define MINI "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"

static void test_error_bad_mline(void **state)
{
    size_t len;
    char *text = load(CHROME_PUB, &len);
    char *bad = replace_once(text, "m=audio 34857 ", "m=audio port ");
    expect_error(bad, LG_EMALFORMED, 8, "SDP line 8: bad m= line");
    free(bad);
    bad = replace_once(text, "m=video 60142", "m=vidéo 60142");
    expect_error(bad, LG_EMALFORMED, 47, "SDP line 47: bad m= line");
    free(bad);
    bad = replace_once(text, "SAVPF 111 63", "SAVPF 111 163");
    expect_error(bad, LG_EMALFORMED, 8, "SDP line 8: bad m= line (payload type)");
    free(bad);
    expect_error(MINI "m=audio 9 UDP/TLS/RTP/SAVPF\r\n", LG_EMALFORMED, 5,
                 "SDP line 5: bad m= line");
    free(text);
}

static void test_error_bad_rtpmap(void **state)
{
    size_t len;
    char *text = load(CHROME_PUB, &len);
    char *bad = replace_once(text, "a=rtpmap:111 opus/48000/2", "a=rtpmap:111 opus");
    expect_error(bad, LG_EMALFORMED, 34, "SDP line 34: bad a=rtpmap");
    free(bad);
    bad = replace_once(text, "a=rtpmap:96 VP8/90000", "a=rtpmap:96 VP8/x");
    expect_error(bad, LG_EMALFORMED, 80, "SDP line 80: bad a=rtpmap");
    free(bad);
    free(text);
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000/0\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=rtpmap");
}

static void test_error_too_many_mlines(void **state)
{
    char *text = malloc(64 * (SDP_MAX_MEDIA + 1) + sizeof MINI);
    strcpy(text, MINI);
    for (int i = 0; i < SDP_MAX_MEDIA + 1; i++) {
        char line[96];
        snprintf(line, sizeof line, "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:%d\r\n", i);
        strcat(text, line);
    }
    /* 4 session lines, then 2 lines per m-section: the 65th m= is line 4 + 2*64 + 1. */
    assert_int_equal(SDP_MAX_MEDIA, 64);
    expect_error(text, LG_EFULL, 133, "SDP line 133: too many m= lines (max 64)");
    free(text);
}

static void test_missing_fingerprint_is_absent(void **state)
{
    size_t len;
    char *text = load(CHROME_PUB, &len);
    const char *fp_line = "a=fingerprint:sha-256 " CHROME_FP "\r\n";
    char *one = replace_once(text, fp_line, "");
    char *none = replace_once(one, fp_line, "");
    sdp_session_t *s = new_session();
    sdp_error_t err;
    assert_int_equal(sdp_parse((const uint8_t *)none, strlen(none), s, &err), 0);
    assert_string_equal(s->media[0].fingerprint.alg, "");
    assert_string_equal(s->media[1].fingerprint.value, "");
    assert_string_equal(s->media[1].ice.ufrag, "EAKo");
    free(s);
    free(none);
    free(one);
    free(text);
}

static void test_error_other_lines(void **state)
{
    expect_error("o=- 1 2 IN IP4 1.1.1.1\r\n", LG_EMALFORMED, 1, "SDP line 1: expected v=0");
    expect_error("", LG_EMALFORMED, 0, "SDP: expected v=0");
    expect_error("v=0\r\ns=-\r\nm=audio 9 RTP/AVP 0\r\n", LG_EMALFORMED, 3,
                 "SDP line 3: missing o= before m=");
    expect_error("v=0\r\no=- x 2 IN IP4 1.1.1.1\r\n", LG_EMALFORMED, 2, "SDP line 2: bad o= line");
    expect_error(MINI "garbage\r\n", LG_EMALFORMED, 5, "SDP line 5: expected <type>=<value>");
    expect_error(MINI "a=ice-ufrag:a\tb\r\n", LG_EMALFORMED, 5,
                 "SDP line 5: control character in line");
    expect_error(MINI "a=setup:sometimes\r\n", LG_EMALFORMED, 5, "SDP line 5: bad a=setup");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=extmap:1 urn:a\r\na=extmap:1 urn:b\r\n",
                 LG_EMALFORMED, 7, "SDP line 7: duplicate a=extmap id 1");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=extmap:0 urn:a\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=extmap");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=extmap:2/sideways urn:a\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=extmap");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=candidate:1 1 udp 1 1.2.3.4 99999 typ host\r\n",
                 LG_EMALFORMED, 6, "SDP line 6: bad a=candidate");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=simulcast:send h;;l\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=simulcast");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=rid:h both\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=rid");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=ssrc:12x cname:a\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=ssrc");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=ssrc-group:FID\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=ssrc-group");
    expect_error(MINI "m=audio 9 RTP/AVP 0\r\na=mid:a b\r\n", LG_EMALFORMED, 6,
                 "SDP line 6: bad a=mid");
}

static void test_error_limits(void **state)
{
    sdp_session_t *s = new_session();
    sdp_error_t err;
    char *big = malloc(SDP_MAX_INPUT + 1);
    memset(big, 'a', SDP_MAX_INPUT + 1);
    assert_int_equal(sdp_parse((const uint8_t *)big, SDP_MAX_INPUT + 1, s, &err), LG_EFULL);
    assert_int_equal(err.line, 0);
    assert_string_equal(err.msg, "SDP: input over 64 KiB");
    assert_int_equal(sdp_parse(NULL, 5, s, &err), LG_EINVAL);
    assert_int_equal(sdp_parse((const uint8_t *)"v=0", 3, NULL, &err), LG_EINVAL);
    free(big);
    free(s);

    char text[2048] = MINI "m=audio 9 RTP/AVP 0\r\n";
    for (int i = 0; i <= SDP_MAX_SSRCS; i++) {
        char line[64];
        snprintf(line, sizeof line, "a=ssrc:%d cname:x\r\n", i + 1);
        strcat(text, line);
    }
    expect_error(text, LG_EFULL, 14, "SDP line 14: too many a=ssrc (max 8)");
}

static void test_unknown_ignored(void **state)
{
    const char *text =
        MINI "a=x-google-flag:conference\r\nb=AS:30\r\nz=0\r\n"
             "m=audio 9 RTP/AVP 0\r\na=unknown-thing:1 2 3\r\na=rtcp:9 IN IP4 0.0.0.0\r\n"
             "a=ssrc:5 label:foo\r\na=rtpmap:77 nope/1\r\na=fmtp:77 x=y\r\n"
             "a=rtcp-fb:77 nack\r\na=group:LS 0\r\n\r\n";
    sdp_session_t *s = new_session();
    sdp_error_t err;
    assert_int_equal(sdp_parse((const uint8_t *)text, strlen(text), s, &err), 0);
    assert_int_equal(s->media_count, 1);
    assert_int_equal(s->media[0].ssrc_count, 0);
    assert_int_equal(s->media[0].codec_count, 1);
    assert_string_equal(s->media[0].codecs[0].name, "");
    assert_string_equal(s->media[0].conn_addr, "0.0.0.0");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chromium_session),
        cmocka_unit_test(test_chromium_audio),
        cmocka_unit_test(test_chromium_candidates),
        cmocka_unit_test(test_chromium_video),
        cmocka_unit_test(test_chromium_simulcast),
        cmocka_unit_test(test_firefox_session),
        cmocka_unit_test(test_firefox_audio),
        cmocka_unit_test(test_firefox_video),
        cmocka_unit_test(test_round_trip_chromium),
        cmocka_unit_test(test_round_trip_chromium_simulcast),
        cmocka_unit_test(test_round_trip_firefox),
        cmocka_unit_test(test_round_trip_edge_cases),
        cmocka_unit_test(test_edge_case_values),
        cmocka_unit_test(test_lf_equals_crlf),
        cmocka_unit_test(test_relay_answer),
        cmocka_unit_test(test_write_errors),
        cmocka_unit_test(test_error_bad_mline),
        cmocka_unit_test(test_error_bad_rtpmap),
        cmocka_unit_test(test_error_too_many_mlines),
        cmocka_unit_test(test_missing_fingerprint_is_absent),
        cmocka_unit_test(test_error_other_lines),
        cmocka_unit_test(test_error_limits),
        cmocka_unit_test(test_unknown_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
