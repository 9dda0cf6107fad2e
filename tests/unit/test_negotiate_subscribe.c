/* Unit tests for signaling/negotiate_subscribe.c: the relay's subscribe offers, the browser's
 * answers to them, renegotiation and m-line recycling, and the errors that name causes. */
#include "negotiate_fixtures.h"

/* --- subscribe -------------------------------------------------------------------------------- */

static void make_tracks(negotiate_sub_track_t t[3])
{
    memset(t, 0, 3 * sizeof t[0]);
    t[0].kind = SDP_KIND_AUDIO;
    t[0].active = true;
    strcpy(t[0].stream_id, "p000000000001");
    strcpy(t[0].track_id, "bd5ec888-5687-4c43-a74d-8f79658c642d");
    strcpy(t[0].cname, "alice-cname");
    t[0].codec.pt = 111;
    strcpy(t[0].codec.name, "opus");
    t[0].codec.clock_rate = 48000;
    t[0].codec.channels = 2;
    strcpy(t[0].codec.fmtp, "minptime=10;useinbandfec=1");
    t[0].ssrc = 1111;

    t[1].kind = SDP_KIND_VIDEO;
    t[1].active = true;
    strcpy(t[1].stream_id, "p000000000001");
    strcpy(t[1].track_id, "6a2774f8-aea4-4b57-8dba-2f1af9f5099e");
    t[1].codec.pt = 96;
    strcpy(t[1].codec.name, "VP8");
    t[1].codec.clock_rate = 90000;
    t[1].codec.rtx_pt = 97;
    t[1].ssrc = 2222;
    t[1].rtx_ssrc = 3333;

    t[2] = t[1]; /* another publisher's camera, same codec configuration */
    strcpy(t[2].stream_id, "p000000000002");
    strcpy(t[2].track_id, "{91e69053-1ab6-4174-8bb0-5ab4c5898618}");
    t[2].ssrc = 4444;
    t[2].rtx_ssrc = 5555;
}

static sdp_session_t *sub_offer(const negotiate_sub_track_t *t, size_t n, uint64_t version,
                                char **text)
{
    negotiate_local_t local;
    make_local(&local);
    sdp_session_t *offer = new_session();
    char err[ERR_CAP] = "";
    int rc = negotiate_subscribe_offer(t, n, &local, version, offer, err, sizeof err);
    if (rc != 0)
        fail_msg("negotiate_subscribe_offer: %d %s", rc, err);
    sdp_session_t *back = round_trip(offer, text);
    free(offer);
    return back;
}

static void test_subscribe_offer(void **state)
{
    negotiate_sub_track_t t[3];
    make_tracks(t);
    char *text;
    sdp_session_t *o = sub_offer(t, 2, 1, &text);
    assert_true(o->ice_lite);
    assert_true(o->sess_id == 4242424242ULL);
    assert_true(o->sess_version == 1);
    assert_int_equal(o->bundle_count, 2);
    assert_string_equal(o->bundle_mids[0], "0");
    assert_string_equal(o->bundle_mids[1], "1");
    assert_int_equal(o->media_count, 2);
    assert_non_null(strstr(text, "a=setup:actpass\r\n"));
    assert_non_null(strstr(text, "a=msid:p000000000001 bd5ec888-5687-4c43-a74d-8f79658c642d\r\n"));
    assert_non_null(strstr(text, "a=ssrc-group:FID 2222 3333\r\n"));

    const sdp_media_t *a = &o->media[0];
    assert_int_equal(a->kind, SDP_KIND_AUDIO);
    assert_string_equal(a->mid, "0");
    assert_int_equal(a->direction, SDP_DIR_SENDONLY);
    assert_true(a->rtcp_rsize);
    assert_local_transport(a, SDP_SETUP_ACTPASS);
    assert_int_equal(a->codec_count, 1);
    assert_int_equal(a->codecs[0].pt, 111);
    assert_string_equal(a->codecs[0].name, "opus");
    assert_int_equal(a->codecs[0].channels, 2);
    assert_string_equal(a->codecs[0].fmtp, "minptime=10;useinbandfec=1");
    assert_fbs(&a->codecs[0], 1, TWCC_FB);
    assert_int_equal(a->extmap_count, 4);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_MID), NEGOTIATE_SUB_EXT_MID);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_ABS_SEND_TIME),
                     NEGOTIATE_SUB_EXT_ABS_SEND_TIME);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_TRANSPORT_CC), NEGOTIATE_SUB_EXT_TWCC);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), NEGOTIATE_SUB_EXT_AUDIO_LEVEL);
    assert_string_equal(a->msid.stream, "p000000000001");
    assert_string_equal(a->msid.track, "bd5ec888-5687-4c43-a74d-8f79658c642d");
    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].ssrc == 1111);
    assert_string_equal(a->ssrcs[0].cname, "alice-cname");
    assert_string_equal(a->ssrcs[0].msid.stream, "p000000000001");
    assert_int_equal(a->ssrc_group_count, 0);

    const sdp_media_t *v = &o->media[1];
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    assert_string_equal(v->mid, "1");
    assert_int_equal(v->direction, SDP_DIR_SENDONLY);
    assert_local_transport(v, SDP_SETUP_ACTPASS);
    assert_int_equal(v->codec_count, 2);
    assert_int_equal(v->codecs[0].pt, 96);
    assert_string_equal(v->codecs[0].name, "VP8");
    assert_string_equal(v->codecs[0].fmtp, "");
    assert_fbs(&v->codecs[0], 5, ALL_FB);
    assert_int_equal(v->codecs[1].pt, 97);
    assert_string_equal(v->codecs[1].name, "rtx");
    assert_int_equal(v->codecs[1].clock_rate, 90000);
    assert_int_equal(v->codecs[1].apt, 96);
    assert_int_equal(v->extmap_count, 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_AUDIO_LEVEL), LG_ENOTFOUND);
    assert_int_equal(v->ssrc_count, 2);
    assert_true(v->ssrcs[0].ssrc == 2222);
    assert_true(v->ssrcs[1].ssrc == 3333);
    assert_string_equal(v->ssrcs[1].cname, "p000000000001"); /* no cname: the stream id */
    assert_string_equal(v->ssrcs[1].msid.track, "6a2774f8-aea4-4b57-8dba-2f1af9f5099e");
    assert_int_equal(v->ssrc_group_count, 1);
    assert_string_equal(v->ssrc_groups[0].semantics, "FID");
    assert_true(v->ssrc_groups[0].ssrcs[0] == 2222 && v->ssrc_groups[0].ssrcs[1] == 3333);
    free(text);
    free(o);
}

/* What a browser answers to an offer text: active, recvonly, its own ICE and fingerprint, no
 * candidates or SSRCs of ours, abs-send-time declined. */
static char *browser_answer(const char *offer_text)
{
    char *t = replace_all(offer_text, "a=setup:actpass", "a=setup:active");
    edit(&t, "a=sendonly", "a=recvonly");
    edit(&t, "a=ice-ufrag:" LOCAL_UFRAG, "a=ice-ufrag:BrWs");
    edit(&t, "a=ice-pwd:" LOCAL_PWD, "a=ice-pwd:browserpassword0123456789");
    edit(&t, LOCAL_FP_VALUE, BROWSER_FP_VALUE);
    drop_lines(&t, "a=ice-lite");
    drop_lines(&t, "a=candidate:");
    drop_lines(&t, "a=end-of-candidates");
    drop_lines(&t, "a=ssrc");
    drop_lines(&t, "a=msid:");
    drop_lines(&t, "a=extmap:2 ");
    return t;
}

static int sub_answer(const sdp_session_t *offer, const char *answer_text,
                      negotiate_sub_result_t *res, char *err)
{
    sdp_session_t *answer = parse_text(answer_text);
    memset(res, 0xA5, sizeof *res);
    int rc = negotiate_subscribe_answer(offer, answer, res, err, ERR_CAP);
    free(answer);
    return rc;
}

static void test_subscribe_answer(void **state)
{
    negotiate_sub_track_t t[3];
    make_tracks(t);
    char *text;
    sdp_session_t *o = sub_offer(t, 2, 1, &text);
    char *ans = browser_answer(text);
    negotiate_sub_result_t res;
    char err[ERR_CAP] = "";
    int rc = sub_answer(o, ans, &res, err);
    if (rc != 0)
        fail_msg("negotiate_subscribe_answer: %d %s", rc, err);
    assert_string_equal(res.ice_ufrag, "BrWs");
    assert_string_equal(res.ice_pwd, "browserpassword0123456789");
    assert_string_equal(res.fingerprint, "sha-256 " BROWSER_FP_VALUE);
    assert_int_equal(res.media_count, 2);
    assert_string_equal(res.media[0].mid, "0");
    assert_int_equal(res.media[0].kind, SDP_KIND_AUDIO);
    assert_true(res.media[0].accepted);
    assert_false(res.media[0].rtx);
    assert_int_equal(res.media[0].fb, NEGOTIATE_FB_TWCC);
    assert_int_equal(res.media[0].ext.mid, 1);
    assert_int_equal(res.media[0].ext.abs_send_time, 0);
    assert_int_equal(res.media[0].ext.twcc, 3);
    assert_int_equal(res.media[0].ext.audio_level, 4);
    assert_string_equal(res.media[1].mid, "1");
    assert_int_equal(res.media[1].kind, SDP_KIND_VIDEO);
    assert_true(res.media[1].accepted);
    assert_true(res.media[1].rtx);
    assert_int_equal(res.media[1].fb, NEGOTIATE_FB_NACK | NEGOTIATE_FB_PLI | NEGOTIATE_FB_FIR |
                                          NEGOTIATE_FB_REMB | NEGOTIATE_FB_TWCC);
    assert_int_equal(res.media[1].ext.audio_level, 0);
    assert_int_equal(res.media[1].ext.twcc, 3);

    /* The browser declines the video (inactive) and RTX on it. */
    char *declined = replace_all(ans,
                                 "a=recvonly\r\na=ice-ufrag:BrWs\r\n"
                                 "a=ice-pwd:browserpassword0123456789\r\n"
                                 "a=fingerprint:sha-256 " BROWSER_FP_VALUE "\r\n"
                                 "a=setup:active\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
                                 "a=rtpmap:96",
                                 "a=inactive\r\na=ice-ufrag:BrWs\r\n"
                                 "a=ice-pwd:browserpassword0123456789\r\n"
                                 "a=fingerprint:sha-256 " BROWSER_FP_VALUE "\r\n"
                                 "a=setup:active\r\na=rtcp-mux\r\na=rtcp-rsize\r\n"
                                 "a=rtpmap:96");
    edit(&declined, "m=video 40000 UDP/TLS/RTP/SAVPF 96 97", "m=video 40000 UDP/TLS/RTP/SAVPF 96");
    drop_lines(&declined, "a=rtpmap:97");
    drop_lines(&declined, "a=fmtp:97");
    assert_int_equal(sub_answer(o, declined, &res, err), 0);
    assert_true(res.media[0].accepted);
    assert_false(res.media[1].accepted);
    assert_false(res.media[1].rtx);
    free(declined);
    free(ans);
    free(text);
    free(o);
}

static void expect_answer_error(const sdp_session_t *o, const char *ans, int rc, const char *msg)
{
    negotiate_sub_result_t res;
    char err[ERR_CAP] = "";
    assert_int_equal(sub_answer(o, ans, &res, err), rc);
    if (!strstr(err, msg))
        fail_msg("error \"%s\" does not contain \"%s\"", err, msg);
}

static void test_subscribe_answer_errors(void **state)
{
    negotiate_sub_track_t t[3];
    make_tracks(t);
    char *text;
    sdp_session_t *o = sub_offer(t, 2, 1, &text);
    char *ans = browser_answer(text);

    char *bad = replace_all(ans, "a=setup:active", "a=setup:passive");
    expect_answer_error(o, bad, LG_EUNSUPPORTED,
                        "answer m-line 1 (mid 0): setup must be active (the relay is the DTLS "
                        "server), not passive");
    free(bad);

    bad = replace_all(ans, "a=mid:1", "a=mid:x");
    expect_answer_error(o, bad, LG_EMALFORMED, "answer m-line 2 is video mid x");
    free(bad);

    bad = replace_all(ans, "a=fingerprint:", "a=x-fingerprint:");
    expect_answer_error(o, bad, LG_EMALFORMED, "answer m-line 1 (mid 0): no a=fingerprint");
    free(bad);

    bad = replace_all(ans, "a=ice-pwd:", "a=x-ice-pwd:");
    expect_answer_error(o, bad, LG_EMALFORMED, "answer m-line 1 (mid 0): no a=ice-pwd");
    free(bad);

    bad = replace_all(ans, "a=recvonly", "a=sendrecv");
    expect_answer_error(o, bad, LG_EMALFORMED,
                        "answer m-line 1 (mid 0): sendrecv does not answer "
                        "sendonly");
    free(bad);

    bad = replace_all(ans, "a=group:BUNDLE 0 1", "a=group:BUNDLE 0");
    expect_answer_error(o, bad, LG_EMALFORMED, "answer m-line 2 (mid 1): not in a=group:BUNDLE");
    free(bad);

    bad = replace_all(ans, "a=rtcp-mux\r\n", "");
    expect_answer_error(o, bad, LG_EUNSUPPORTED, "answer has no rtcp-mux");
    free(bad);

    /* An answer with one m-line too few. */
    sdp_session_t *short_ans = parse_text(ans);
    short_ans->media_count = 1;
    negotiate_sub_result_t res;
    char err[ERR_CAP];
    assert_int_equal(negotiate_subscribe_answer(o, short_ans, &res, err, sizeof err),
                     LG_EMALFORMED);
    assert_string_equal(err, "answer has 1 m-lines, the offer 2");
    free(short_ans);
    free(ans);
    free(text);
    free(o);
}

/* A track leaves and another arrives: mids and kinds stay, the old m-line goes inactive. */
static void test_subscribe_renegotiation(void **state)
{
    negotiate_sub_track_t t[3];
    make_tracks(t);
    sdp_session_t *first = sub_offer(t, 2, 1, NULL);

    t[0].active = false;
    char *text;
    sdp_session_t *o = sub_offer(t, 3, 2, &text);
    assert_true(o->sess_id == first->sess_id);
    assert_true(o->sess_version == 2);
    assert_int_equal(o->media_count, 3);
    assert_int_equal(o->bundle_count, 3);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(o->media[i].mid, first->media[i].mid);
        assert_int_equal(o->media[i].kind, first->media[i].kind);
    }
    assert_string_equal(o->media[2].mid, "2");
    assert_string_equal(o->bundle_mids[2], "2");

    const sdp_media_t *gone = &o->media[0];
    assert_int_equal(gone->direction, SDP_DIR_INACTIVE);
    assert_int_equal(gone->port, 40000); /* still bundled, not rejected */
    assert_int_equal(gone->ssrc_count, 0);
    assert_string_equal(gone->msid.stream, "");
    assert_int_equal(gone->codecs[0].pt, 111);

    /* The staying track is written exactly as before. */
    assert_int_equal(memcmp(&o->media[1], &first->media[1], sizeof o->media[1]), 0);

    const sdp_media_t *v2 = &o->media[2];
    assert_int_equal(v2->direction, SDP_DIR_SENDONLY);
    assert_string_equal(v2->msid.stream, "p000000000002");
    assert_true(v2->ssrc_groups[0].ssrcs[0] == 4444 && v2->ssrc_groups[0].ssrcs[1] == 5555);

    /* The browser answers inactive to inactive; the new track is accepted. */
    char *ans = browser_answer(text);
    negotiate_sub_result_t res;
    char err[ERR_CAP] = "";
    int rc = sub_answer(o, ans, &res, err);
    if (rc != 0)
        fail_msg("negotiate_subscribe_answer: %d %s", rc, err);
    assert_int_equal(res.media_count, 3);
    assert_false(res.media[0].accepted);
    assert_true(res.media[1].accepted);
    assert_true(res.media[2].accepted);
    assert_string_equal(res.media[2].mid, "2");

    /* recvonly to an inactive offer is not a legal answer. */
    char *bad = replace_all(ans, "a=inactive", "a=recvonly");
    expect_answer_error(o, bad, LG_EMALFORMED,
                        "answer m-line 1 (mid 0): recvonly does not answer "
                        "inactive");
    free(bad);
    free(ans);
    free(text);
    free(o);
    free(first);
}

static int sub_offer_rc(const negotiate_sub_track_t *t, size_t n, char *err)
{
    negotiate_local_t local;
    make_local(&local);
    sdp_session_t *offer = new_session();
    int rc = negotiate_subscribe_offer(t, n, &local, 1, offer, err, ERR_CAP);
    free(offer);
    return rc;
}

/* A track left (m-line 1 rejected), then another's track took a rejected m-line back under a new
 * mid (RFC 8829 5.2.2): port 0 and out of BUNDLE while rejected, a new mid when recycled. */
static void test_subscribe_rejected_and_recycled(void **state)
{
    negotiate_sub_track_t t[3];
    make_tracks(t);
    t[2] = t[1];
    t[2].ssrc = 4444;
    t[2].rtx_ssrc = 5555;
    t[1].active = false;
    t[1].stopped = true;
    strcpy(t[1].mid, "1");
    strcpy(t[2].mid, "7");
    char *text;
    sdp_session_t *o = sub_offer(t, 3, 3, &text);
    assert_int_equal(o->media_count, 3);
    assert_int_equal(o->bundle_count, 2);
    assert_string_equal(o->bundle_mids[0], "0");
    assert_string_equal(o->bundle_mids[1], "7");
    const sdp_media_t *gone = &o->media[1];
    assert_string_equal(gone->mid, "1");
    assert_int_equal(gone->port, 0);
    assert_int_equal(gone->direction, SDP_DIR_INACTIVE);
    assert_int_equal(gone->candidate_count, 0);
    assert_int_equal(gone->ssrc_count, 0);
    assert_non_null(strstr(text, "m=video 0 UDP/TLS/RTP/SAVPF 96 97\r\n"));
    const sdp_media_t *reused = &o->media[2];
    assert_string_equal(reused->mid, "7");
    assert_int_equal(reused->port, 40000);
    assert_int_equal(reused->direction, SDP_DIR_SENDONLY);
    assert_true(reused->ssrcs[0].ssrc == 4444);

    /* the browser rejects it too; the recycled m-line is accepted under its new mid */
    char *ans = browser_answer(text);
    negotiate_sub_result_t res;
    char err[ERR_CAP] = "";
    int rc = sub_answer(o, ans, &res, err);
    if (rc != 0)
        fail_msg("negotiate_subscribe_answer: %d %s", rc, err);
    assert_false(res.media[1].accepted);
    assert_true(res.media[2].accepted);
    assert_string_equal(res.media[2].mid, "7");
    /* an answer may not bring a rejected m-line back */
    char *bad = replace_all(ans, "m=video 0 ", "m=video 9 ");
    expect_answer_error(o, bad, LG_EMALFORMED,
                        "answer m-line 2 (mid 1) accepts an m-line the offer rejected");
    free(bad);
    free(ans);
    free(text);
    free(o);

    /* a rejected m-line is out of the BUNDLE group: its old codec may not collide */
    t[1].codec.pt = 111;
    assert_int_equal(sub_offer_rc(t, 3, err), 0);
    t[1].stopped = false;
    assert_int_equal(sub_offer_rc(t, 3, err), LG_EEXIST);
    /* a mid names one m-line; a stopped m-line carries nothing */
    make_tracks(t);
    strcpy(t[1].mid, "0");
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
    assert_string_equal(err, "subscribe track 1: mid 0 is used twice");
    make_tracks(t);
    t[1].stopped = true;
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
    assert_string_equal(err, "subscribe track 1: a stopped (rejected) m-line cannot be active");
    make_tracks(t);
    strcpy(t[1].mid, "a b");
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
}

static void test_subscribe_offer_errors(void **state)
{
    negotiate_sub_track_t t[3];
    char err[ERR_CAP];

    /* Chromium refuses one pt for two codecs in a BUNDLE group. */
    make_tracks(t);
    t[0].codec.pt = 97;
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EEXIST);
    assert_string_equal(err, "payload type 97 is opus/48000 in mid 0 but rtx/90000 in mid 1: one "
                             "BUNDLE group cannot carry both");
    make_tracks(t);
    strcpy(t[2].codec.fmtp, "max-fs=12288;max-fr=60"); /* same pt, other fmtp */
    assert_int_equal(sub_offer_rc(t, 3, err), LG_EEXIST);
    make_tracks(t);
    assert_int_equal(sub_offer_rc(t, 3, err), 0); /* same pt, same configuration */

    make_tracks(t);
    t[1].ssrc = 0;
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
    assert_string_equal(err, "subscribe track 1: ssrc must be non-zero and differ from rtx_ssrc");
    make_tracks(t);
    t[1].rtx_ssrc = 0;
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
    make_tracks(t);
    strcpy(t[0].stream_id, "alice@ministry.example");
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);
    make_tracks(t);
    t[0].kind = SDP_KIND_APPLICATION;
    assert_int_equal(sub_offer_rc(t, 2, err), LG_EINVAL);

    /* An inactive slot needs no SSRC or ids. */
    make_tracks(t);
    t[1].active = false;
    t[1].ssrc = 0;
    t[1].stream_id[0] = '\0';
    assert_int_equal(sub_offer_rc(t, 2, err), 0);

    negotiate_sub_track_t many[SDP_MAX_MEDIA + 1];
    for (int i = 0; i <= SDP_MAX_MEDIA; i++)
        many[i] = t[0];
    assert_int_equal(sub_offer_rc(many, SDP_MAX_MEDIA, err), 0);
    assert_int_equal(sub_offer_rc(many, SDP_MAX_MEDIA + 1, err), LG_EFULL);
    assert_int_equal(sub_offer_rc(NULL, 0, err), 0); /* nothing to receive yet */
    assert_int_equal(sub_offer_rc(NULL, 1, err), LG_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_subscribe_offer),
        cmocka_unit_test(test_subscribe_answer),
        cmocka_unit_test(test_subscribe_answer_errors),
        cmocka_unit_test(test_subscribe_renegotiation),
        cmocka_unit_test(test_subscribe_rejected_and_recycled),
        cmocka_unit_test(test_subscribe_offer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
