/* Shared fixtures for the signaling/negotiate unit tests: browser offers, the relay's local
 * transport, SDP text edits and transport/feedback assertions. Header-only, for tests. */
#ifndef LG_TESTS_NEGOTIATE_FIXTURES_H
#define LG_TESTS_NEGOTIATE_FIXTURES_H

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

static inline char *load(const char *path)
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

static inline sdp_session_t *new_session(void)
{
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    memset(s, 0xA5, sizeof *s); /* whoever fills it must overwrite everything */
    return s;
}

static inline sdp_session_t *parse_text(const char *text)
{
    sdp_session_t *s = new_session();
    sdp_error_t err;
    int rc = sdp_parse((const uint8_t *)text, strlen(text), s, &err);
    if (rc != 0)
        fail_msg("parse: %s", err.msg);
    return s;
}

static inline sdp_session_t *parse_file(const char *path)
{
    char *text = load(path);
    sdp_session_t *s = parse_text(text);
    free(text);
    return s;
}

/* sdp_write into a malloc'd string. */
static inline char *write_text(const sdp_session_t *s)
{
    char *out = malloc(OUT_CAP);
    assert_non_null(out);
    size_t len = 0;
    assert_int_equal(sdp_write(s, out, OUT_CAP, &len), 0);
    assert_int_equal(strlen(out), len);
    return out;
}

/* Writes s, parses it back, and checks the parse equals s byte for byte. */
static inline sdp_session_t *round_trip(const sdp_session_t *s, char **text_out)
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
static inline char *replace_all(const char *src, const char *old, const char *new_text)
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
static inline void edit(char **text, const char *old, const char *new_text)
{
    char *t = replace_all(*text, old, new_text);
    free(*text);
    *text = t;
}

/* Removes every line that starts with prefix (at least one must exist). */
static inline void drop_lines(char **text, const char *prefix)
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

static inline void make_local(negotiate_local_t *l)
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
static inline void assert_local_transport(const sdp_media_t *m, sdp_setup_t setup)
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

static inline void assert_fbs(const sdp_codec_t *c, int n, const char *const *fbs)
{
    assert_int_equal(c->rtcp_fb_count, n);
    for (int i = 0; i < n; i++)
        assert_true(sdp_codec_has_fb(c, fbs[i]));
}

static const char *const ALL_FB[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
static const char *const TWCC_FB[] = {"transport-cc"};

#endif
