/* Unit tests for signaling/negotiate_publish.c: answers to real Chromium 156 and Firefox 153
 * publish offers (simulcast, extensions, directions) and the errors that name causes. */
#include "negotiate_fixtures.h"

/* Runs negotiate_publish on a fixture and returns the answer as written and parsed back. */
static sdp_session_t *publish_text(const char *offer_text, negotiate_publish_t *res, char **text)
{
    sdp_session_t *offer = parse_text(offer_text);
    sdp_session_t *answer = new_session();
    negotiate_local_t local;
    make_local(&local);
    char err[ERR_CAP] = "";
    int rc = negotiate_publish(offer, &local, answer, res, err, sizeof err);
    if (rc != 0)
        fail_msg("negotiate_publish: %d %s", rc, err);
    sdp_session_t *back = round_trip(answer, text);
    free(offer);
    free(answer);
    return back;
}

static sdp_session_t *publish_file(const char *path, negotiate_publish_t *res, char **text)
{
    char *offer_text = load(path);
    sdp_session_t *back = publish_text(offer_text, res, text);
    free(offer_text);
    return back;
}

/* Expects negotiate_publish on offer_text to fail with rc and exactly msg. */
static void expect_publish_error(const char *offer_text, int rc, const char *msg)
{
    sdp_session_t *offer = parse_text(offer_text);
    sdp_session_t *answer = new_session();
    negotiate_publish_t *res = malloc(sizeof *res);
    negotiate_local_t local;
    make_local(&local);
    char err[ERR_CAP] = "";
    assert_int_equal(negotiate_publish(offer, &local, answer, res, err, sizeof err), rc);
    assert_string_equal(err, msg);
    free(offer);
    free(answer);
    free(res);
}

/* --- publish: Chromium ------------------------------------------------------------------------ */

static void test_publish_chromium_answer(void **state)
{
    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_file(CHROME_PUB, &res, &text);
    assert_non_null(strstr(text, "a=ice-lite\r\n"));
    assert_non_null(strstr(text, "a=setup:passive\r\n"));
    assert_non_null(strstr(text, "tcptype passive"));
    assert_null(strstr(text, "a=setup:actpass"));
    assert_true(a->ice_lite);
    assert_true(a->sess_id == 4242424242ULL);
    assert_true(a->sess_version == 7);
    assert_true(a->extmap_allow_mixed);
    assert_int_equal(a->bundle_count, 2);
    assert_string_equal(a->bundle_mids[0], "0");
    assert_string_equal(a->bundle_mids[1], "1");
    assert_int_equal(a->media_count, 2);

    const sdp_media_t *au = &a->media[0];
    assert_int_equal(au->kind, SDP_KIND_AUDIO);
    assert_string_equal(au->mid, "0");
    assert_int_equal(au->direction, SDP_DIR_RECVONLY);
    assert_true(au->rtcp_rsize);
    assert_local_transport(au, SDP_SETUP_PASSIVE);
    assert_int_equal(au->codec_count, 1);
    assert_int_equal(au->codecs[0].pt, 111);
    assert_string_equal(au->codecs[0].name, "opus");
    assert_int_equal(au->codecs[0].clock_rate, 48000);
    assert_int_equal(au->codecs[0].channels, 2);
    assert_string_equal(au->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    assert_fbs(&au->codecs[0], 1, TWCC_FB);
    assert_int_equal(au->extmap_count, 4);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_ABS_SEND_TIME), 2);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_MID), 4);
    assert_int_equal(au->ssrc_count, 0);
    assert_int_equal(au->rid_count, 0);

    const sdp_media_t *v = &a->media[1];
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    assert_string_equal(v->mid, "1");
    assert_int_equal(v->direction, SDP_DIR_RECVONLY);
    assert_local_transport(v, SDP_SETUP_PASSIVE);
    static const int pts[] = {96, 97, 108, 109, 102, 103};
    assert_int_equal(v->codec_count, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(v->codecs[i].pt, pts[i]);
    assert_string_equal(v->codecs[0].name, "VP8");
    assert_fbs(&v->codecs[0], 5, ALL_FB);
    assert_string_equal(v->codecs[1].name, "rtx");
    assert_int_equal(v->codecs[1].apt, 96);
    assert_int_equal(v->codecs[1].rtcp_fb_count, 0);
    assert_string_equal(v->codecs[2].name, "H264");
    assert_int_equal(v->codecs[2].packetization_mode, 1);
    assert_string_equal(v->codecs[2].profile_level_id, "42e01f");
    assert_fbs(&v->codecs[2], 5, ALL_FB);
    assert_int_equal(v->codecs[3].apt, 108);
    assert_string_equal(v->codecs[4].profile_level_id, "42001f");
    assert_int_equal(v->codecs[4].packetization_mode, 1);
    assert_int_equal(v->codecs[5].apt, 102);
    assert_null(sdp_media_find_codec(v, "AV1"));
    assert_null(sdp_media_find_codec(v, "VP9"));
    assert_null(sdp_media_find_codec(v, "ulpfec"));
    assert_int_equal(v->extmap_count, 5);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_ABS_SEND_TIME), 2);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 4);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(sdp_media_find_extmap(v, "urn:ietf:params:rtp-hdrext:toffset"), LG_ENOTFOUND);
    assert_int_equal(v->simulcast.recv.count, 0);
    assert_int_equal(v->rid_count, 0);
    free(text);
    free(a);
}

static void test_publish_chromium_result(void **state)
{
    negotiate_publish_t res;
    memset(&res, 0xA5, sizeof res);
    sdp_session_t *a = publish_file(CHROME_PUB, &res, NULL);
    assert_string_equal(res.ice_ufrag, "EAKo");
    assert_string_equal(res.ice_pwd, "ANnm7rg79ZPqm6a1kM190aFJ");
    assert_string_equal(res.fingerprint,
                        "sha-256 01:67:08:59:C5:6A:AE:92:E0:DC:30:9E:08:34:88:81:23:B5:1F:CA:B2:"
                        "1F:F9:C2:A1:CE:AF:7C:31:A2:27:7F");
    assert_true(res.rtcp_rsize);
    assert_int_equal(res.track_count, 2);

    const negotiate_track_t *t = &res.tracks[0];
    assert_int_equal(t->kind, SDP_KIND_AUDIO);
    assert_string_equal(t->mid, "0");
    assert_int_equal(t->direction, SDP_DIR_RECVONLY);
    assert_string_equal(t->stream_id, "f9e9a520-51e3-413d-8391-ef4e7fc82acf");
    assert_string_equal(t->track_id, "bd5ec888-5687-4c43-a74d-8f79658c642d");
    assert_string_equal(t->cname, "Vtesnz1pDVTg/Z4t");
    assert_true(t->ssrc == 3843737176U);
    assert_true(t->rtx_ssrc == 0);
    assert_int_equal(t->codec_count, 1);
    assert_int_equal(t->codecs[0].pt, 111);
    assert_string_equal(t->codecs[0].name, "opus");
    assert_int_equal(t->codecs[0].clock_rate, 48000);
    assert_int_equal(t->codecs[0].channels, 2);
    assert_string_equal(t->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(t->codecs[0].rtx_pt, 0);
    assert_int_equal(t->codecs[0].fb, NEGOTIATE_FB_TWCC);
    assert_int_equal(t->ext.audio_level, 1);
    assert_int_equal(t->ext.abs_send_time, 2);
    assert_int_equal(t->ext.twcc, 3);
    assert_int_equal(t->ext.mid, 4);
    assert_int_equal(t->ext.rid, 0);
    assert_int_equal(t->ext.repaired_rid, 0);
    assert_int_equal(t->layer_count, 0);

    t = &res.tracks[1];
    assert_int_equal(t->kind, SDP_KIND_VIDEO);
    assert_string_equal(t->mid, "1");
    assert_string_equal(t->track_id, "6a2774f8-aea4-4b57-8dba-2f1af9f5099e");
    assert_true(t->ssrc == 2999594381U);
    assert_true(t->rtx_ssrc == 2150372220U);
    assert_int_equal(t->codec_count, 3);
    assert_int_equal(t->codecs[0].pt, 96);
    assert_string_equal(t->codecs[0].name, "VP8");
    assert_int_equal(t->codecs[0].clock_rate, 90000);
    assert_int_equal(t->codecs[0].rtx_pt, 97);
    assert_int_equal(t->codecs[0].fb, NEGOTIATE_FB_NACK | NEGOTIATE_FB_PLI | NEGOTIATE_FB_FIR |
                                          NEGOTIATE_FB_REMB | NEGOTIATE_FB_TWCC);
    assert_int_equal(t->codecs[1].pt, 108);
    assert_int_equal(t->codecs[1].rtx_pt, 109);
    assert_string_equal(t->codecs[1].fmtp,
                        "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f");
    assert_int_equal(t->codecs[2].pt, 102);
    assert_int_equal(t->codecs[2].rtx_pt, 103);
    assert_int_equal(t->ext.mid, 4);
    assert_int_equal(t->ext.rid, 10);
    assert_int_equal(t->ext.repaired_rid, 11);
    assert_int_equal(t->ext.audio_level, 0);
    assert_int_equal(t->layer_count, 0);
    free(a);
}

static void test_publish_chromium_simulcast(void **state)
{
    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_file(CHROME_SIM, &res, &text);
    assert_non_null(strstr(text, "a=simulcast:recv h;m;l\r\n"));
    assert_non_null(strstr(text, "a=rid:h recv\r\na=rid:m recv\r\na=rid:l recv\r\n"));
    assert_null(strstr(text, " send"));
    assert_null(strstr(text, ":send"));
    const sdp_media_t *v = &a->media[1];
    assert_int_equal(v->simulcast.send.count, 0);
    assert_int_equal(v->simulcast.recv.count, 3);
    static const char *const rids[] = {"h", "m", "l"};
    for (int i = 0; i < 3; i++) {
        assert_int_equal(v->simulcast.recv.streams[i].alt_count, 1);
        assert_string_equal(v->simulcast.recv.streams[i].alts[0].rid, rids[i]);
        assert_string_equal(v->rids[i].id, rids[i]);
        assert_int_equal(v->rids[i].direction, SDP_DIR_RECVONLY);
        assert_string_equal(res.tracks[1].layers[i].rid, rids[i]);
        assert_true(res.tracks[1].layers[i].ssrc == 0);
    }
    assert_int_equal(v->rid_count, 3);
    /* BROWSER.md: without mid and rtp-stream-id Chromium rejects a simulcast answer. */
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 4);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(v->extmap_count, 5); /* no dependency descriptor, no layers allocation */
    assert_int_equal(res.tracks[1].layer_count, 3);
    assert_true(res.tracks[1].ssrc == 0);
    assert_string_equal(res.tracks[1].stream_id, "7abd955e-c333-42b4-8b0e-2da9aa60fe49");
    assert_string_equal(res.tracks[1].track_id, "095c0e3c-8abd-45da-92a5-513d48c7d68f");
    assert_int_equal(res.tracks[1].codecs[0].pt, 96);
    assert_int_equal(res.tracks[1].codecs[0].rtx_pt, 97);
    assert_int_equal(res.tracks[0].layer_count, 0);
    assert_true(res.tracks[0].ssrc == 1349825350U);
    free(text);
    free(a);
}

/* Without the rid extension the layers cannot be told apart: answer without simulcast. */
static void test_publish_simulcast_needs_rid_ext(void **state)
{
    char *offer = load(CHROME_SIM);
    drop_lines(&offer, "a=extmap:10 ");
    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_text(offer, &res, &text);
    assert_null(strstr(text, "a=simulcast"));
    assert_null(strstr(text, "a=rid"));
    assert_int_equal(a->media[1].rid_count, 0);
    assert_int_equal(res.tracks[1].layer_count, 0);
    assert_int_equal(res.tracks[1].ext.rid, 0);
    free(text);
    free(a);
    free(offer);
}

/* Lowest first ("l;m;h", as mediasoup-client and LiveKit apps order theirs) with RFC 8851
 * restrictions: the layers keep the offer's order and carry the restrictions that rank them;
 * other keys (pt, max-fs, depend) and malformed values are skipped. */
static void test_publish_simulcast_rid_restrictions(void **state)
{
    char *offer = load(CHROME_SIM);
    edit(&offer, "a=rid:h send", "a=rid:h send max-width=1280;max-height=720");
    edit(&offer, "a=rid:m send", "a=rid:m send pt=96;max-width=640;max-height=360;max-fps=30");
    edit(&offer, "a=rid:l send",
         "a=rid:l send max-height=180;max-BR=150000;max-fs=300;max-width=x1");
    edit(&offer, "a=simulcast:send h;m;l", "a=simulcast:send l;m;h");
    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_text(offer, &res, &text);
    assert_non_null(strstr(text, "a=simulcast:recv l;m;h\r\n"));
    const negotiate_track_t *t = &res.tracks[1];
    assert_int_equal(t->layer_count, 3);
    static const char *const rids[] = {"l", "m", "h"};
    static const uint32_t want[3][4] = {{0, 180, 150000, 0}, {640, 360, 0, 30}, {1280, 720, 0, 0}};
    for (int i = 0; i < 3; i++) {
        const negotiate_layer_t *l = &t->layers[i];
        assert_string_equal(l->rid, rids[i]);
        assert_int_equal(l->max_width, want[i][0]);
        assert_int_equal(l->max_height, want[i][1]);
        assert_int_equal(l->max_br, want[i][2]);
        assert_int_equal(l->max_fps, want[i][3]);
    }
    free(text);
    free(a);
    free(offer);
}

/* --- publish: Firefox ------------------------------------------------------------------------- */

static void test_publish_firefox(void **state)
{
    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_file(FIREFOX, &res, &text);
    assert_true(a->ice_lite);
    assert_false(a->extmap_allow_mixed); /* Firefox writes it per m-line */
    assert_int_equal(a->bundle_count, 2);

    const sdp_media_t *au = &a->media[0];
    assert_int_equal(au->direction, SDP_DIR_RECVONLY); /* offered sendrecv */
    assert_true(au->extmap_allow_mixed);
    assert_false(au->rtcp_rsize);
    assert_local_transport(au, SDP_SETUP_PASSIVE);
    assert_int_equal(au->codec_count, 1);
    assert_int_equal(au->codecs[0].pt, 109);
    assert_string_equal(au->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    assert_fbs(&au->codecs[0], 1, TWCC_FB);
    assert_int_equal(au->extmap_count, 3);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_MID), 3);
    assert_int_equal(sdp_media_find_extmap(au, SDP_EXT_TRANSPORT_CC), 7);
    assert_null(strstr(text, "csrc-audio-level"));

    const sdp_media_t *v = &a->media[1];
    assert_int_equal(v->direction, SDP_DIR_RECVONLY);
    assert_true(v->rtcp_rsize);
    assert_int_equal(v->codec_count, 2);
    assert_int_equal(v->codecs[0].pt, 120);
    assert_string_equal(v->codecs[0].name, "VP8");
    assert_string_equal(v->codecs[0].fmtp, "max-fs=12288;max-fr=60");
    assert_fbs(&v->codecs[0], 5, ALL_FB);
    assert_int_equal(v->codecs[1].pt, 124);
    assert_int_equal(v->codecs[1].apt, 120);
    assert_null(sdp_media_find_codec(v, "H264"));
    assert_int_equal(v->extmap_count, 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_ABS_SEND_TIME), 4);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_TRANSPORT_CC), 7);
    assert_null(strstr(text, "playout-delay"));

    assert_string_equal(res.ice_ufrag, "091a930d");
    assert_string_equal(res.ice_pwd, "075cdd3435246688953ef28d10e7ef15");
    assert_string_equal(res.fingerprint,
                        "sha-256 E4:AA:E2:22:30:4E:5C:B6:F1:3E:39:15:81:80:2E:69:C6:8B:45:3D:05:"
                        "12:60:CB:02:90:81:9D:13:81:0C:9C");
    assert_false(res.rtcp_rsize);
    assert_int_equal(res.track_count, 2);
    assert_true(res.tracks[0].ssrc == 2303720631U);
    assert_true(res.tracks[0].rtx_ssrc == 0);
    assert_string_equal(res.tracks[0].stream_id, "-");
    assert_string_equal(res.tracks[0].track_id, "{c46ad2b3-ae17-4d82-9f85-d9443b35df98}");
    assert_string_equal(res.tracks[0].cname, "{d5c72bae-ea6c-43e7-ac76-0af104e72e78}");
    assert_int_equal(res.tracks[0].codecs[0].pt, 109);
    assert_int_equal(res.tracks[0].ext.mid, 3);
    assert_int_equal(res.tracks[0].ext.twcc, 7);
    assert_true(res.tracks[1].ssrc == 3152052930U); /* a=ssrc-group:FID 3152052930 2161103366 */
    assert_true(res.tracks[1].rtx_ssrc == 2161103366U);
    assert_string_equal(res.tracks[1].track_id, "{91e69053-1ab6-4174-8bb0-5ab4c5898618}");
    assert_int_equal(res.tracks[1].codec_count, 1);
    assert_int_equal(res.tracks[1].codecs[0].pt, 120);
    assert_int_equal(res.tracks[1].codecs[0].rtx_pt, 124);
    assert_int_equal(res.tracks[1].ext.abs_send_time, 4);
    free(text);
    free(a);
}

/* --- publish: what is rejected, directions, setup active ------------------------------------- */

static void test_publish_rejects_and_directions(void **state)
{
    char *offer = load(CHROME_PUB);
    edit(&offer, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0 1 2");
    edit(&offer, "a=sendonly\r\na=msid:f9e9a520-51e3-413d-8391-ef4e7fc82acf bd5e",
         "a=recvonly\r\na=msid:f9e9a520-51e3-413d-8391-ef4e7fc82acf bd5e");
    edit(&offer, "a=setup:actpass", "a=setup:active");
    size_t n = strlen(offer);
    char *more = malloc(n + 512);
    memcpy(more, offer, n);
    strcpy(more + n, "m=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\nc=IN IP4 0.0.0.0\r\n"
                     "a=ice-ufrag:EAKo\r\na=ice-pwd:ANnm7rg79ZPqm6a1kM190aFJ\r\n"
                     "a=fingerprint:sha-256 01:67\r\na=setup:actpass\r\na=mid:2\r\n"
                     "a=sctp-port:5000\r\n"
                     "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\nc=IN IP4 0.0.0.0\r\na=mid:3\r\n");
    free(offer);

    negotiate_publish_t res;
    char *text;
    sdp_session_t *a = publish_text(more, &res, &text);
    assert_int_equal(a->media_count, 4);
    assert_int_equal(a->bundle_count, 2);
    assert_string_equal(a->bundle_mids[1], "1");
    assert_int_equal(a->media[0].direction, SDP_DIR_INACTIVE); /* offered recvonly */
    assert_int_equal(a->media[0].setup, SDP_SETUP_PASSIVE);    /* offered active */
    assert_int_equal(a->media[1].direction, SDP_DIR_RECVONLY);
    assert_int_equal(a->media[2].kind, SDP_KIND_APPLICATION);
    assert_int_equal(a->media[2].port, 0);
    assert_string_equal(a->media[2].mid, "2");
    assert_string_equal(a->media[2].fmt, "webrtc-datachannel");
    assert_int_equal(a->media[2].candidate_count, 0);
    assert_int_equal(a->media[3].port, 0);
    assert_string_equal(a->media[3].mid, "3");
    assert_non_null(strstr(text, "m=application 0 UDP/DTLS/SCTP webrtc-datachannel\r\n"));
    assert_non_null(strstr(text, "m=audio 0 UDP/TLS/RTP/SAVPF 0\r\n"));
    assert_int_equal(res.track_count, 2);
    assert_int_equal(res.tracks[0].direction, SDP_DIR_INACTIVE);
    assert_int_equal(res.tracks[1].direction, SDP_DIR_RECVONLY);
    free(text);
    free(a);
    free(more);
}

/* Extensions of the wrong kind, one-way extensions and ids outside 1..255. */
static void test_publish_extmap_rules(void **state)
{
    sdp_session_t *s = parse_file(CHROME_PUB);
    sdp_media_t *au = &s->media[0], *v = &s->media[1];
    assert_int_equal(sdp_media_add_extmap(au, 10, SDP_EXT_RID, SDP_DIR_NONE), 0);
    assert_int_equal(sdp_media_add_extmap(v, 1, SDP_EXT_AUDIO_LEVEL, SDP_DIR_NONE), 0);
    assert_string_equal(au->extmaps[1].uri, SDP_EXT_ABS_SEND_TIME);
    au->extmaps[1].direction = SDP_DIR_INACTIVE;
    for (int i = 0; i < v->extmap_count; i++) {
        if (strcmp(v->extmaps[i].uri, SDP_EXT_TRANSPORT_CC) == 0)
            v->extmaps[i].direction = SDP_DIR_SENDONLY; /* the browser only sends it */
        if (strcmp(v->extmaps[i].uri, SDP_EXT_ABS_SEND_TIME) == 0)
            v->extmaps[i].direction = SDP_DIR_RECVONLY; /* it would only receive it */
        if (strcmp(v->extmaps[i].uri, SDP_EXT_REPAIRED_RID) == 0)
            v->extmaps[i].id = 4096; /* "answerer picks": not an id for packets */
    }
    char *offer = write_text(s);
    negotiate_publish_t res;
    sdp_session_t *a = publish_text(offer, &res, NULL);
    assert_int_equal(sdp_media_find_extmap(&a->media[0], SDP_EXT_RID), LG_ENOTFOUND);
    assert_int_equal(res.tracks[0].ext.rid, 0);
    assert_int_equal(sdp_media_find_extmap(&a->media[0], SDP_EXT_ABS_SEND_TIME), LG_ENOTFOUND);
    assert_int_equal(a->media[0].extmap_count, 3);
    assert_int_equal(sdp_media_find_extmap(&a->media[1], SDP_EXT_AUDIO_LEVEL), LG_ENOTFOUND);
    assert_int_equal(res.tracks[1].ext.audio_level, 0);
    const sdp_media_t *av = &a->media[1];
    assert_int_equal(av->extmap_count, 3); /* twcc, mid, rid */
    assert_int_equal(sdp_media_find_extmap(av, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(av->extmaps[0].direction, SDP_DIR_RECVONLY);
    assert_int_equal(sdp_media_find_extmap(av, SDP_EXT_ABS_SEND_TIME), LG_ENOTFOUND);
    assert_int_equal(sdp_media_find_extmap(av, SDP_EXT_REPAIRED_RID), LG_ENOTFOUND);
    assert_int_equal(res.tracks[1].ext.twcc, 3);
    assert_int_equal(res.tracks[1].ext.abs_send_time, 0);
    assert_int_equal(res.tracks[1].ext.repaired_rid, 0);
    assert_int_equal(res.tracks[1].ext.rid, 10);
    free(a);
    free(offer);
    free(s);
}

/* --- publish: errors ------------------------------------------------------------------------- */

static void test_publish_errors(void **state)
{
    char *offer = load(CHROME_PUB);
    drop_lines(&offer, "a=fingerprint:");
    expect_publish_error(offer, LG_EMALFORMED, "offer m-line 1 (mid 0): no a=fingerprint");
    free(offer);

    offer = load(CHROME_PUB);
    drop_lines(&offer, "a=rtcp-mux");
    expect_publish_error(offer, LG_EUNSUPPORTED, "offer has no rtcp-mux (m-line 1, mid 0)");
    free(offer);

    offer = load(CHROME_PUB);
    edit(&offer, "a=setup:actpass", "a=setup:passive");
    expect_publish_error(offer, LG_EUNSUPPORTED,
                         "offer m-line 1 (mid 0): setup must be actpass or active, not passive");
    free(offer);

    offer = load(FIREFOX);
    drop_lines(&offer, "a=ice-pwd:");
    expect_publish_error(offer, LG_EMALFORMED, "offer m-line 1 (mid 0): no a=ice-pwd");
    free(offer);

    offer = load(CHROME_PUB);
    drop_lines(&offer, "a=ice-ufrag:");
    expect_publish_error(offer, LG_EMALFORMED, "offer m-line 1 (mid 0): no a=ice-ufrag");
    free(offer);

    offer = load(CHROME_PUB);
    drop_lines(&offer, "a=group:BUNDLE");
    expect_publish_error(offer, LG_EMALFORMED, "offer has no a=group:BUNDLE");
    free(offer);

    /* The second m-line's transport is checked too. */
    sdp_session_t *s = parse_file(FIREFOX);
    s->media[1].setup = SDP_SETUP_HOLDCONN;
    offer = write_text(s);
    expect_publish_error(offer, LG_EUNSUPPORTED,
                         "offer m-line 2 (mid 1): setup must be actpass or active, not holdconn");
    free(offer);
    s->media[1].setup = SDP_SETUP_ACTPASS;
    s->media[1].rtcp_mux = false;
    offer = write_text(s);
    expect_publish_error(offer, LG_EUNSUPPORTED, "offer has no rtcp-mux (m-line 2, mid 1)");
    free(offer);
    free(s);
}

/* A video m-line offering only AV1 (and its RTX): nothing in common. */
static void test_publish_error_av1_only(void **state)
{
    char *text = load(CHROME_PUB);
    sdp_session_t *offer = parse_text(text);
    sdp_media_t *v = &offer->media[1];
    sdp_codec_t keep[2];
    keep[0] = *sdp_media_find_codec_pt(v, 45);
    keep[1] = *sdp_media_find_codec_pt(v, 46);
    assert_string_equal(keep[0].name, "AV1");
    v->codec_count = 2;
    memset(v->codecs, 0, sizeof v->codecs);
    v->codecs[0] = keep[0];
    v->codecs[1] = keep[1];
    char *av1 = write_text(offer);
    expect_publish_error(av1, LG_EUNSUPPORTED, "offer has no common codec for video (mid 1)");

    /* H264 only with packetization-mode 0 is not enough either. */
    sdp_session_t *fresh = parse_text(text);
    sdp_codec_t h264 = *sdp_media_find_codec_pt(&fresh->media[1], 104);
    free(fresh);
    assert_int_equal(h264.packetization_mode, 0);
    v->codecs[0] = h264;
    v->codec_count = 1;
    free(av1);
    av1 = write_text(offer);
    expect_publish_error(av1, LG_EUNSUPPORTED, "offer has no common codec for video (mid 1)");

    /* Audio without Opus. */
    free(offer);
    offer = parse_text(text);
    offer->media[0].codecs[0].name[0] = 'x'; /* "xpus" */
    free(av1);
    av1 = write_text(offer);
    expect_publish_error(av1, LG_EUNSUPPORTED, "offer has no common codec for audio (mid 0)");
    free(av1);
    free(offer);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_publish_chromium_answer),
        cmocka_unit_test(test_publish_chromium_result),
        cmocka_unit_test(test_publish_chromium_simulcast),
        cmocka_unit_test(test_publish_simulcast_needs_rid_ext),
        cmocka_unit_test(test_publish_simulcast_rid_restrictions),
        cmocka_unit_test(test_publish_firefox),
        cmocka_unit_test(test_publish_rejects_and_directions),
        cmocka_unit_test(test_publish_extmap_rules),
        cmocka_unit_test(test_publish_errors),
        cmocka_unit_test(test_publish_error_av1_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
