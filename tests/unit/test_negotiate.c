/* Unit tests for signaling/negotiate: answers to real Chromium 156 and Firefox 153 publish offers,
 * the relay's subscribe offers, the browser's answers to them, and the errors that name causes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/negotiate.h"
#include "signaling/sdp.h"

#define CHROME_PUB "tests/fixtures/sdp/chromium-156-offer-publish.sdp"
#define CHROME_SIM "tests/fixtures/sdp/chromium-156-offer-publish-simulcast.sdp"
#define FIREFOX    "tests/fixtures/sdp/firefox-153-offer-audio-video.sdp"

#define LOCAL_FP_VALUE                                                                             \
    "3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:18:29:3A:4B:5C:6D:7E:8F:90:A1:B2:C3:D4:E5:F6:07:"   \
    "18:29"
#define BROWSER_FP_VALUE                                                                           \
    "11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:"   \
    "FF:00"
#define LOCAL_UFRAG "LgUf"
#define LOCAL_PWD   "Lg0123456789abcdefghij+/"

/* Host candidate priorities (RFC 8445): type pref << 24 | local pref << 8 | 255. The local list
 * is TCP v4 (index 0), UDP v4 (1), UDP v6 (2): written UDP first. */
#define PRIO_UDP4 2130706175u /* 126 << 24 | 65534 << 8 | 255 */
#define PRIO_UDP6 2130705919u /* 126 << 24 | 65533 << 8 | 255 */
#define PRIO_TCP4 1526726655u /* 90 << 24 | 65535 << 8 | 255 */

#define OUT_CAP (256 * 1024)
#define ERR_CAP 256

/* --- helpers -------------------------------------------------------------------------------- */

static char *load(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = malloc(SDP_MAX_INPUT + 1);
    assert_non_null(buf);
    size_t n = fread(buf, 1, SDP_MAX_INPUT, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static sdp_session_t *new_session(void)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    memset(s, 0xA5, sizeof *s); /* whoever fills it must overwrite everything */
    return s;
}

static sdp_session_t *parse_text(const char *text)
{
    sdp_session_t *s = new_session();
    sdp_error_t err;
    int rc = sdp_parse((const uint8_t *)text, strlen(text), s, &err);
    if (rc != 0)
        fail_msg("parse: %s", err.msg);
    return s;
}

static sdp_session_t *parse_file(const char *path)
{
    char *text = load(path);
    sdp_session_t *s = parse_text(text);
    free(text);
    return s;
}

/* sdp_write into a malloc'd string. */
static char *write_text(const sdp_session_t *s)
{
    char *out = malloc(OUT_CAP);
    assert_non_null(out);
    size_t len = 0;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

/* Writes s, parses it back, and checks the parse equals s byte for byte. */
static sdp_session_t *round_trip(const sdp_session_t *s, char **text_out)
{
    char *text = write_text(s);
    sdp_session_t *back = parse_text(text);
    assert_int_equal(memcmp(back, s, sizeof *s), 0);
    if (text_out)
        *text_out = text;
    else
        free(text);
    return back;
}

/* Returns a malloc'd copy of src with every occurrence of old replaced by new_text. */
static char *replace_all(const char *src, const char *old, const char *new_text)
{
    size_t olen = strlen(old), nlen = strlen(new_text), count = 0;
    for (const char *p = strstr(src, old); p; p = strstr(p + olen, old))
        count++;
    assert_true(count > 0);
    char *out = malloc(strlen(src) + count * nlen + 1);
    assert_non_null(out);
    char *w = out;
    const char *p = src;
    for (const char *at = strstr(p, old); at; at = strstr(p, old)) {
        memcpy(w, p, (size_t)(at - p));
        w += at - p;
        memcpy(w, new_text, nlen);
        w += nlen;
        p = at + olen;
    }
    strcpy(w, p);
    return out;
}

/* Replaces text in place (frees the old buffer). */
static void edit(char **text, const char *old, const char *new_text)
{
    char *t = replace_all(*text, old, new_text);
    free(*text);
    *text = t;
}

/* Removes every line that starts with prefix (at least one must exist). */
static void drop_lines(char **text, const char *prefix)
{
    char *out = malloc(strlen(*text) + 1);
    assert_non_null(out);
    char *w = out;
    int dropped = 0;
    size_t plen = strlen(prefix);
    for (const char *p = *text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
        if (strncmp(p, prefix, plen) == 0) {
            dropped++;
        } else {
            memcpy(w, p, n);
            w += n;
        }
        p += n;
    }
    *w = '\0';
    assert_true(dropped > 0);
    free(*text);
    *text = out;
}

static void make_local(negotiate_local_t *l)
{
    memset(l, 0, sizeof *l);
    strcpy(l->ice_ufrag, LOCAL_UFRAG);
    strcpy(l->ice_pwd, LOCAL_PWD);
    strcpy(l->fingerprint, "sha-256 " LOCAL_FP_VALUE);
    l->session_id = 4242424242ULL;
    l->session_version = 7;
    l->candidate_count = 3;
    strcpy(l->candidates[0].ip, "192.0.2.10");
    l->candidates[0].port = 40001;
    l->candidates[0].transport = SDP_TRANSPORT_TCP;
    strcpy(l->candidates[1].ip, "192.0.2.10");
    l->candidates[1].port = 40000;
    l->candidates[1].transport = SDP_TRANSPORT_UDP;
    strcpy(l->candidates[2].ip, "2001:db8::10");
    l->candidates[2].port = 40000;
    l->candidates[2].transport = SDP_TRANSPORT_UDP;
}

/* The relay's transport as written in an m-line of its answer or offer. */
static void assert_local_transport(const sdp_media_t *m, sdp_setup_t setup)
{
    assert_string_equal(m->ice.ufrag, LOCAL_UFRAG);
    assert_string_equal(m->ice.pwd, LOCAL_PWD);
    assert_string_equal(m->fingerprint.alg, "sha-256");
    assert_string_equal(m->fingerprint.value, LOCAL_FP_VALUE);
    assert_int_equal(m->setup, setup);
    assert_true(m->rtcp_mux);
    assert_true(m->end_of_candidates);
    assert_int_equal(m->port, 40000);
    assert_string_equal(m->conn_addr, "192.0.2.10");
    assert_int_equal(m->candidate_count, 3);
    static const char *const addrs[] = {"192.0.2.10", "2001:db8::10", "192.0.2.10"};
    static const uint16_t ports[] = {40000, 40000, 40001};
    static const uint32_t prios[] = {PRIO_UDP4, PRIO_UDP6, PRIO_TCP4};
    for (int i = 0; i < 3; i++) {
        const sdp_candidate_t *c = &m->candidates[i];
        assert_string_equal(c->addr, addrs[i]);
        assert_int_equal(c->port, ports[i]);
        assert_true(c->priority == prios[i]);
        assert_int_equal(c->component, 1);
        assert_int_equal(c->type, SDP_CAND_HOST);
        assert_int_equal(c->transport, i < 2 ? SDP_TRANSPORT_UDP : SDP_TRANSPORT_TCP);
        assert_int_equal(c->tcptype, i < 2 ? SDP_TCPTYPE_NONE : SDP_TCPTYPE_PASSIVE);
    }
    /* One foundation per base address and transport. */
    assert_string_not_equal(m->candidates[0].foundation, m->candidates[1].foundation);
    assert_string_not_equal(m->candidates[0].foundation, m->candidates[2].foundation);
}

static void assert_fbs(const sdp_codec_t *c, int n, const char *const *fbs)
{
    assert_int_equal(c->rtcp_fb_count, n);
    for (int i = 0; i < n; i++)
        assert_true(sdp_codec_has_fb(c, fbs[i]));
}

static const char *const ALL_FB[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
static const char *const TWCC_FB[] = {"transport-cc"};

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

static void test_publish_bad_local(void **state)
{
    sdp_session_t *offer = parse_file(CHROME_PUB);
    sdp_session_t *answer = new_session();
    negotiate_publish_t *res = malloc(sizeof *res);
    negotiate_local_t l;
    char err[ERR_CAP];

    make_local(&l);
    strcpy(l.fingerprint, LOCAL_FP_VALUE); /* no hash name */
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "local fingerprint"));

    make_local(&l);
    strcpy(l.ice_pwd, "short");
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_string_equal(err, "local ice-pwd must be 22..256 ice-chars");

    make_local(&l);
    strcpy(l.candidates[2].ip, "relay.example");
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_non_null(strstr(err, "local candidate 2"));

    make_local(&l);
    l.candidate_count = 0;
    assert_int_equal(negotiate_publish(offer, &l, answer, res, err, sizeof err), LG_EINVAL);

    make_local(&l);
    assert_int_equal(negotiate_publish(NULL, &l, answer, res, err, sizeof err), LG_EINVAL);
    assert_int_equal(negotiate_publish(offer, &l, answer, res, NULL, 0), 0);
    free(offer);
    free(answer);
    free(res);
}

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
        cmocka_unit_test(test_publish_bad_local),
        cmocka_unit_test(test_subscribe_offer),
        cmocka_unit_test(test_subscribe_answer),
        cmocka_unit_test(test_subscribe_answer_errors),
        cmocka_unit_test(test_subscribe_renegotiation),
        cmocka_unit_test(test_subscribe_rejected_and_recycled),
        cmocka_unit_test(test_subscribe_offer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
