/* The C peer (bench/peer/peer.h) on its own and end to end: its options, offer, answer checks and
 * payload trailer, then publishing, subscribing, errors, lobby and kick against the real relay
 * running in-process (transport legs against the in-test server: test_peer_transport.c). */

#include "peer_fixture.h"

/* ============================================================================================= */
/* Pure pieces                                                                                   */
/* ============================================================================================= */

static void test_trailer_round_trip(void **state)
{
    uint8_t pl[64];
    memset(pl, 0xee, sizeof pl);
    peer_trailer_t t = {0xdeadbeef, 1, 4000000000u, 0x0123456789abcdefULL}, back;
    assert_int_equal(peer_trailer_write(pl, sizeof pl, &t), 0);
    assert_int_equal(pl[0], 0xee); /* only the tail is written */
    assert_int_equal(peer_trailer_read(pl, sizeof pl, &back), 0);
    assert_int_equal(back.sender_id, t.sender_id);
    assert_int_equal(back.stream, 1);
    assert_int_equal(back.seq, t.seq);
    assert_true(back.send_ns == t.send_ns);
    assert_int_equal(peer_trailer_read(pl, PEER_TRAILER_SIZE - 1, &back), LG_ETRUNC);
    assert_int_equal(peer_trailer_write(pl, PEER_TRAILER_SIZE - 1, &t), LG_EINVAL);
    pl[sizeof pl - PEER_TRAILER_SIZE] ^= 1;
    assert_int_equal(peer_trailer_read(pl, sizeof pl, &back), LG_ENOTFOUND);
}

static void test_bad_options(void **state)
{
    char err[256];
    peer_opts_t o = {0};
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "port"));
    o.port = 1;
    o.no_audio = o.no_video = true;
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "no_audio"));
    o.no_audio = o.no_video = false;
    o.simulcast_layers = 4;
    assert_null(peer_new(&o, err, sizeof err));
    assert_non_null(strstr(err, "simulcast_layers"));
}

static void check_codec_fb(const sdp_codec_t *c, const char *const *fbs, size_t n)
{
    assert_int_equal(c->rtcp_fb_count, n);
    for (size_t i = 0; i < n; i++)
        assert_true(sdp_codec_has_fb(c, fbs[i]));
}

static void test_offer(void **state)
{
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(text);
    assert_non_null(s);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    sdp_error_t e;
    if (sdp_parse((const uint8_t *)text, len, s, &e) != 0)
        fail_msg("offer does not parse: %s\n%s", e.msg, text);
    assert_int_equal(s->media_count, 2);
    assert_int_equal(s->bundle_count, 2);
    assert_string_equal(s->bundle_mids[0], "0");
    assert_string_equal(s->bundle_mids[1], "1");
    const sdp_media_t *a = &s->media[0], *v = &s->media[1];
    /* transport: the same credentials and fingerprint in both sections */
    for (int i = 0; i < 2; i++) {
        const sdp_media_t *m = &s->media[i];
        assert_int_equal(strlen(m->ice.ufrag), 8);
        assert_int_equal(strlen(m->ice.pwd), 24);
        assert_string_equal(m->ice.ufrag, a->ice.ufrag);
        assert_string_equal(m->fingerprint.alg, "sha-256");
        assert_int_equal(m->setup, SDP_SETUP_ACTPASS);
        assert_int_equal(m->direction, SDP_DIR_SENDONLY);
        assert_true(m->rtcp_mux);
    }
    /* audio */
    assert_int_equal(a->kind, SDP_KIND_AUDIO);
    const sdp_codec_t *opus = sdp_media_find_codec(a, "opus");
    assert_non_null(opus);
    assert_int_equal(opus->pt, 111);
    assert_int_equal(opus->clock_rate, 48000);
    assert_int_equal(opus->channels, 2);
    assert_string_equal(opus->fmtp, "minptime=10;useinbandfec=1");
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_AUDIO_LEVEL), 1);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(a, SDP_EXT_MID), 4);
    assert_int_equal(a->ssrc_count, 1);
    assert_true(a->ssrcs[0].cname[0]);
    assert_string_equal(a->ssrcs[0].msid.stream, a->msid.stream);
    /* video */
    assert_int_equal(v->kind, SDP_KIND_VIDEO);
    const sdp_codec_t *vp8 = sdp_media_find_codec(v, "VP8");
    assert_non_null(vp8);
    assert_int_equal(vp8->pt, 96);
    static const char *const fbs[] = {"nack", "nack pli", "ccm fir", "goog-remb", "transport-cc"};
    check_codec_fb(vp8, fbs, 5);
    assert_int_equal(sdp_media_find_rtx_pt(v, 96), 97);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_ABS_SEND_TIME), 2);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_TRANSPORT_CC), 3);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_MID), 4);
    assert_int_equal(v->ssrc_group_count, 1);
    assert_string_equal(v->ssrc_groups[0].semantics, "FID");
    assert_int_equal(v->ssrc_groups[0].count, 2);
    assert_int_equal(v->ssrc_count, 2);
    assert_int_equal(v->ssrcs[0].ssrc, v->ssrc_groups[0].ssrcs[0]);
    assert_int_equal(v->ssrcs[1].ssrc, v->ssrc_groups[0].ssrcs[1]);
    assert_string_equal(v->ssrcs[0].cname, a->ssrcs[0].cname);

    /* the relay's policy accepts it */
    negotiate_local_t local;
    memset(&local, 0, sizeof local);
    snprintf(local.ice_ufrag, sizeof local.ice_ufrag, "lg7Qd2xT");
    snprintf(local.ice_pwd, sizeof local.ice_pwd, "9fKx2LmQw8RzT4vBn6YcJ1hP");
    snprintf(local.fingerprint, sizeof local.fingerprint, "sha-256 %s", a->fingerprint.value);
    local.session_id = 1;
    local.candidate_count = 1;
    snprintf(local.candidates[0].ip, sizeof local.candidates[0].ip, "127.0.0.1");
    local.candidates[0].port = 40000;
    sdp_session_t *ans = malloc(sizeof *ans);
    negotiate_publish_t *res = malloc(sizeof *res);
    assert_non_null(ans);
    assert_non_null(res);
    char err[256];
    if (negotiate_publish(s, &local, ans, res, err, sizeof err) != 0)
        fail_msg("negotiate_publish refused the offer: %s", err);
    assert_int_equal(res->track_count, 2);
    assert_int_equal(res->tracks[0].ssrc, a->ssrcs[0].ssrc);
    assert_int_equal(res->tracks[1].rtx_ssrc, v->ssrc_groups[0].ssrcs[1]);
    assert_string_equal(res->ice_ufrag, a->ice.ufrag);
    /* and the peer takes the relay's answer */
    assert_int_equal(sdp_write(ans, text, SDP_CAP, &len), 0);
    if (peer_set_answer(p, text, len) != 0)
        fail_msg("peer_set_answer: %s", peer_last_error(p));
    free(res);
    free(ans);
    free(s);
    free(text);
    peer_free(p);
}

static void test_offer_audio_only(void **state)
{
    peer_opts_t o = {.no_video = true};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_int_equal(sdp_parse((const uint8_t *)text, len, s, NULL), 0);
    assert_int_equal(s->media_count, 1);
    assert_int_equal(s->media[0].kind, SDP_KIND_AUDIO);
    free(s);
    free(text);
    peer_free(p);
}

/* Simulcast as Chromium offers it: rids highest first, a=simulcast:send, the rid extensions, no
 * a=ssrc lines; the relay's policy takes three layers in that order. */
static void test_offer_simulcast(void **state)
{
    peer_opts_t o = {.simulcast_layers = 3, .temporal_layers = 3};
    peer_t *p = new_peer(&o);
    char *text = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    sdp_session_t *ans = malloc(sizeof *ans);
    negotiate_publish_t *res = malloc(sizeof *res);
    assert_true(text && s && ans && res);
    size_t len;
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_non_null(strstr(text, "a=rid:h send\r\na=rid:m send\r\na=rid:l send\r\n"));
    assert_non_null(strstr(text, "a=simulcast:send h;m;l\r\n"));
    assert_int_equal(sdp_parse((const uint8_t *)text, len, s, NULL), 0);
    const sdp_media_t *v = &s->media[1];
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_RID), 10);
    assert_int_equal(sdp_media_find_extmap(v, SDP_EXT_REPAIRED_RID), 11);
    assert_int_equal(v->ssrc_count, 0);
    assert_int_equal(v->ssrc_group_count, 0);
    negotiate_local_t local;
    memset(&local, 0, sizeof local);
    snprintf(local.ice_ufrag, sizeof local.ice_ufrag, "lg7Qd2xT");
    snprintf(local.ice_pwd, sizeof local.ice_pwd, "9fKx2LmQw8RzT4vBn6YcJ1hP");
    snprintf(local.fingerprint, sizeof local.fingerprint, "sha-256 %s", v->fingerprint.value);
    local.session_id = 1;
    local.candidate_count = 1;
    snprintf(local.candidates[0].ip, sizeof local.candidates[0].ip, "127.0.0.1");
    local.candidates[0].port = 40000;
    char err[256];
    if (negotiate_publish(s, &local, ans, res, err, sizeof err) != 0)
        fail_msg("negotiate_publish refused the offer: %s", err);
    assert_int_equal(res->tracks[1].layer_count, 3);
    assert_string_equal(res->tracks[1].layers[0].rid, "h");
    assert_string_equal(res->tracks[1].layers[2].rid, "l");
    peer_free(p);
    o = (peer_opts_t){.simulcast_layers = 2};
    p = new_peer(&o);
    assert_int_equal(peer_build_offer(p, text, SDP_CAP, &len), 0);
    assert_non_null(strstr(text, "a=simulcast:send h;l\r\n"));
    peer_free(p);
    free(res);
    free(ans);
    free(s);
    free(text);
}

static void test_answer_problems(void **state)
{
    fake_t *f = fake_new(0);
    char *sdp = malloc(SDP_CAP);
    /* no IPv6 candidate */
    peer_opts_t o = {.family = PEER_FAMILY_IPV6};
    peer_t *p = new_peer(&o);
    fake_answer(f, NULL, sdp, SDP_CAP);
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "no UDP IPv6 candidate"));
    assert_non_null(strstr(peer_last_error(p), "127.0.0.1"));
    peer_free(p);
    /* a DTLS server role is not something the peer can take */
    memset(&o, 0, sizeof o);
    p = new_peer(&o);
    fake_answer(f, NULL, sdp, SDP_CAP);
    char *setup = strstr(sdp, "a=setup:passive");
    memcpy(setup, "a=setup:active\r\n", 16); /* one byte shorter: passive -> active + CRLF */
    memmove(setup + 16, setup + 17, strlen(setup + 17) + 1);
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "a=setup:active"));
    peer_free(p);
    /* garbage */
    memset(&o, 0, sizeof o);
    p = new_peer(&o);
    assert_int_equal(peer_set_answer(p, "x=1\r\n", 5), LG_EMALFORMED);
    assert_non_null(strstr(peer_last_error(p), "SDP answer"));
    peer_free(p);
    free(sdp);
    fake_free(f);
}

/* ============================================================================================= */
/* End to end: the real relay in-process                                                         */
/* ============================================================================================= */

/* The in-process relay (tests/integration/relay_fixture.h), tuned for these tests. */
static void tune(lg_config_t *cfg)
{
    cfg->consent_timeout_s = 2; /* peers below check every 500 ms */
    cfg->media_addr_count = 2;  /* candidates on both families */
    snprintf(cfg->media_addrs[1], sizeof cfg->media_addrs[1], "::1");
}

static int start_relay(void **state)
{
    return relay_fixture_start(tune);
}

static int stop_relay(void **state)
{
    relay_fixture_stop();
    return 0;
}

/* GET /metrics from the relay over HTTPS (its dev certificate is not verified). */
static char *fetch_metrics(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(rf_cfg.listen_port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    SSL *ssl = SSL_new(ctx);
    assert_non_null(ssl);
    SSL_set_fd(ssl, fd);
    SSL_set_tlsext_host_name(ssl, "localhost");
    assert_int_equal(SSL_connect(ssl), 1);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
    assert_int_equal(SSL_write(ssl, req, (int)strlen(req)), (int)strlen(req));
    size_t cap = 1 << 20, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    for (int n; len + 1 < cap && (n = SSL_read(ssl, buf + len, (int)(cap - len - 1))) > 0;)
        len += (size_t)n;
    buf[len] = '\0';
    SSL_free(ssl);
    SSL_CTX_free(ctx);
    close(fd);
    return buf;
}

/* One sample of /metrics, e.g. metric("legation_srtp_packets_received_total{worker=\"0\"}"); 0
 * when absent. */
static uint64_t metric(const char *sample)
{
    char *text = fetch_metrics();
    uint64_t v = 0;
    size_t n = strlen(sample);
    for (char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, sample, n) == 0 && line[n] == ' ')
            v = strtoull(line + n + 1, NULL, 10);
    free(text);
    return v;
}

#define M_SRTP_IN   "legation_srtp_packets_received_total{worker=\"0\"}"
#define M_SRTCP_IN  "legation_srtcp_packets_received_total{worker=\"0\"}"
#define M_AUTH_FAIL "legation_packets_dropped_total{worker=\"0\",reason=\"srtp_auth_fail\"}"

/* Waits for the control thread's next counter refresh (stats_interval_ms = 100). */
static void settle_counters(void)
{
    usleep(400 * 1000);
}

static const char *mint(const char *room, const char *sub, auth_role_t role)
{
    return relay_fixture_token(room, sub, role, 600);
}

static peer_t *relay_peer(peer_opts_t *o, const char *room, const char *sub)
{
    char err[256];
    o->port = rf_cfg.listen_port;
    o->token = mint(room, sub, AUTH_ROLE_MODERATOR);
    o->consent_interval_ms = 500;
    peer_t *p = peer_new(o, err, sizeof err);
    if (!p)
        fail_msg("peer_new: %s", err);
    if (peer_join(p, 5000) != 0)
        fail_msg("join: %s", peer_last_error(p));
    return p;
}

/* Publishes through the relay; skips while the relay build has no media transports. */
static void relay_publish(peer_t *p, int expect_rc)
{
    int rc = peer_publish(p, 10000);
    if (rc == LG_EPERM && strstr(peer_last_error(p), "no media transports")) {
        peer_free(p);
        skip();
    }
    if (rc != expect_rc)
        fail_msg("publish returned %s (%d), expected %d: %s", lg_strerror(rc), rc, expect_rc,
                 peer_last_error(p));
}

static void relay_publish_case(peer_opts_t *o, const char *room, dtls_srtp_profile_t profile)
{
    peer_t *p = relay_peer(o, room, "alice");
    relay_publish(p, 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.publish.dtls, DTLS_STATE_CONNECTED);
    assert_int_equal(st.publish.profile, profile);
    assert_non_null(
        strstr(st.publish.remote, o->transport == PEER_TRANSPORT_TCP ? "/tcp" : "/udp"));
    /* the relay's side agrees */
    if (peer_wait_relay_state(p, false, "connected", 5000) != 0)
        fail_msg("relay state: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_detail, dtls_srtp_profile_str(profile));
    /* media flows; the relay authenticates and decrypts every packet with the keys it agreed */
    settle_counters();
    uint64_t rtp0 = metric(M_SRTP_IN), rtcp0 = metric(M_SRTCP_IN), bad0 = metric(M_AUTH_FAIL);
    if (peer_run(p, 1500) != 0)
        fail_msg("run: %s", peer_last_error(p));
    peer_set_sending(p, false);
    assert_int_equal(peer_run(p, 100), 0);
    settle_counters();
    peer_get_stats(p, &st);
    assert_true(st.audio_packets_sent >= 60);
    assert_true(st.video_packets_sent >= 60);
    assert_int_equal(st.srtp_failures, 0);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    uint64_t sent = st.audio_packets_sent + st.video_packets_sent;
    uint64_t got = metric(M_SRTP_IN) - rtp0;
    if (got < sent * 95 / 100 || got > sent)
        fail_msg("the relay decrypted %llu of %llu packets", (unsigned long long)got,
                 (unsigned long long)sent);
    assert_true(metric(M_SRTCP_IN) - rtcp0 >= 1); /* sender reports */
    assert_int_equal(metric(M_AUTH_FAIL) - bad0, 0);
    assert_int_equal(peer_leave(p, 3000), 0);
    peer_free(p);
}

static void test_relay_publish_gcm(void **state)
{
    peer_opts_t o = {0};
    relay_publish_case(&o, "peer-gcm", DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_relay_publish_aes_cm(void **state)
{
    peer_opts_t o = {.aes_cm_only = true};
    relay_publish_case(&o, "peer-aescm", DTLS_SRTP_AES128_CM_SHA1_80);
}

static void test_relay_publish_tcp(void **state)
{
    peer_opts_t o = {.transport = PEER_TRANSPORT_TCP};
    relay_publish_case(&o, "peer-tcp", DTLS_SRTP_AEAD_AES_128_GCM);
}

static void test_relay_publish_ipv6(void **state)
{
    peer_opts_t o = {.family = PEER_FAMILY_IPV6};
    relay_publish_case(&o, "peer-v6", DTLS_SRTP_AEAD_AES_128_GCM);
    peer_opts_t t = {.family = PEER_FAMILY_IPV6, .transport = PEER_TRANSPORT_TCP};
    relay_publish_case(&t, "peer-v6tcp", DTLS_SRTP_AEAD_AES_128_GCM);
}

/* Several peers, one thread each, in one room (as the load generator runs them). */
#define THREAD_PEERS 4

typedef struct {
    int index;
    int rc;
    char err[256];
    peer_stats_t st;
} peer_job_t;

static void *peer_job(void *arg)
{
    peer_job_t *job = arg;
    peer_opts_t o = {.transport = job->index % 2 ? PEER_TRANSPORT_TCP : PEER_TRANSPORT_UDP,
                     .port = rf_cfg.listen_port,
                     .consent_interval_ms = 500,
                     .video_kbps = 300};
    char sub[16];
    snprintf(sub, sizeof sub, "load-%d", job->index);
    o.token = mint("peer-load", sub, AUTH_ROLE_PARTICIPANT);
    peer_t *p = peer_new(&o, job->err, sizeof job->err);
    if (!p) {
        job->rc = LG_ENOMEM;
        return NULL;
    }
    job->rc = peer_join(p, 5000);
    if (job->rc == 0)
        job->rc = peer_publish(p, 10000);
    if (job->rc == 0)
        job->rc = peer_run(p, 1500);
    peer_set_sending(p, false);
    if (job->rc == 0)
        job->rc = peer_run(p, 100);
    peer_get_stats(p, &job->st);
    if (job->rc == 0)
        job->rc = peer_leave(p, 3000);
    snprintf(job->err, sizeof job->err, "%s", peer_last_error(p));
    peer_free(p);
    return NULL;
}

static void test_relay_peers_in_threads(void **state)
{
    settle_counters();
    uint64_t rtp0 = metric(M_SRTP_IN), bad0 = metric(M_AUTH_FAIL);
    pthread_t th[THREAD_PEERS];
    peer_job_t jobs[THREAD_PEERS];
    memset(jobs, 0, sizeof jobs);
    for (int i = 0; i < THREAD_PEERS; i++) {
        jobs[i].index = i;
        assert_int_equal(pthread_create(&th[i], NULL, peer_job, &jobs[i]), 0);
    }
    uint64_t sent = 0;
    for (int i = 0; i < THREAD_PEERS; i++) {
        pthread_join(th[i], NULL);
        if (jobs[i].rc != 0)
            fail_msg("peer %d: %s (%s)", i, lg_strerror(jobs[i].rc), jobs[i].err);
        assert_int_equal(jobs[i].st.publish.profile, DTLS_SRTP_AEAD_AES_128_GCM);
        assert_true(jobs[i].st.audio_packets_sent >= 60);
        sent += jobs[i].st.audio_packets_sent + jobs[i].st.video_packets_sent;
    }
    settle_counters();
    uint64_t got = metric(M_SRTP_IN) - rtp0;
    if (got < sent * 95 / 100 || got > sent)
        fail_msg("the relay decrypted %llu of %llu packets", (unsigned long long)got,
                 (unsigned long long)sent);
    assert_int_equal(metric(M_AUTH_FAIL) - bad0, 0);
}

/* A moderator speaking raw protocol over ws_client, to drive the peer's lobby and kick paths. */
static wsc_t *moderator(const char *room, char *id_out, size_t id_cap)
{
    char err[256];
    wsc_t *c = wsc_connect("127.0.0.1", rf_cfg.listen_port, "/ws", NULL, 5000, err, sizeof err);
    if (!c)
        fail_msg("moderator connect: %s", err);
    char msg[AUTH_TOKEN_MAX + 128];
    snprintf(msg, sizeof msg, "{\"type\":\"join\",\"id\":\"m\",\"token\":\"%s\"}",
             mint(room, "moderator", AUTH_ROLE_MODERATOR));
    assert_int_equal(wsc_send_text(c, msg, strlen(msg)), 0);
    for (int i = 0; i < 10; i++) {
        char *text;
        size_t len;
        assert_int_equal(wsc_recv(c, &text, &len, 5000), 0);
        json_t *j = json_loadb(text, len, 0, NULL);
        const char *type = json_string_value(json_object_get(j, "type"));
        int joined = type && strcmp(type, "joined") == 0;
        if (joined && id_out)
            snprintf(id_out, id_cap, "%s", json_string_value(json_object_get(j, "participant_id")));
        json_decref(j);
        if (joined)
            return c;
    }
    fail_msg("moderator not joined");
    return NULL;
}

static void mod_send(wsc_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void mod_send(wsc_t *c, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    assert_int_equal(wsc_send_text(c, msg, (size_t)n), 0);
}

/* Reads the moderator's messages until one of `type` arrives (bounded); returns it. */
static json_t *mod_expect(wsc_t *c, const char *type)
{
    for (int i = 0; i < 20; i++) {
        char *text;
        size_t len;
        assert_int_equal(wsc_recv(c, &text, &len, 5000), 0);
        json_t *j = json_loadb(text, len, 0, NULL);
        const char *t = json_string_value(json_object_get(j, "type"));
        if (t && strcmp(t, type) == 0)
            return j;
        json_decref(j);
    }
    fail_msg("moderator got no '%s'", type);
    return NULL;
}

static void test_relay_bad_token(void **state)
{
    char err[256];
    peer_opts_t o = {.port = rf_cfg.listen_port, .token = "not.a.jwt"};
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(peer_join(p, 5000), LG_EPERM);
    assert_non_null(strstr(peer_last_error(p), "join refused: bad_token"));
    peer_free(p);
}

static void test_relay_lobby_then_kick(void **state)
{
    wsc_t *mod = moderator("peer-lobby", NULL, 0);
    mod_send(mod, "{\"type\":\"set_lobby\",\"id\":\"l\",\"enabled\":true}");
    json_decref(mod_expect(mod, "ok"));
    char err[256];
    peer_opts_t o = {.port = rf_cfg.listen_port, .consent_interval_ms = 500};
    o.token = mint("peer-lobby", "dana", AUTH_ROLE_PARTICIPANT);
    peer_t *p = peer_new(&o, err, sizeof err);
    assert_non_null(p);
    assert_int_equal(peer_join(p, 5000), PEER_LOBBY);
    /* still waiting: a short join times out without failing the peer */
    assert_int_equal(peer_join(p, 200), LG_EEXPIRED);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_true(st.participant_id[0] == '\0');
    /* the moderator learns who waits from lobby_update and admits them */
    json_t *j = mod_expect(mod, "lobby_update");
    json_t *w = json_array_get(json_object_get(j, "waiting"), 0);
    char who[80];
    snprintf(who, sizeof who, "%s", json_string_value(json_object_get(w, "participant_id")));
    json_decref(j);
    mod_send(mod, "{\"type\":\"admit\",\"id\":\"a\",\"participant_id\":\"%s\"}", who);
    if (peer_join(p, 5000) != 0)
        fail_msg("admitted join: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.participant_id, who);
    /* kicked: the peer's loop stops with the reason */
    mod_send(mod, "{\"type\":\"kick\",\"id\":\"k\",\"participant_id\":\"%s\"}", who);
    assert_int_equal(peer_run(p, 5000), LG_EPERM);
    assert_non_null(strstr(peer_last_error(p), "kicked"));
    peer_get_stats(p, &st);
    assert_string_equal(st.closed_by, "kicked");
    peer_free(p);
    wsc_close(mod, 1000);
}

typedef struct {
    peer_t *p;
    int ms;
    int rc;
} run_job_t;

static void *run_job(void *arg)
{
    run_job_t *job = arg;
    job->rc = peer_run(job->p, job->ms);
    return NULL;
}

/* Alice publishes; Bob joins, answers the relay's subscribe offer and receives her media through
 * the relay. Skipped while the relay build sends no subscribe offers. */
static void test_relay_subscribe(void **state)
{
    peer_opts_t oa = {.keyframe_interval = 30};
    peer_t *a = relay_peer(&oa, "peer-sub", "alice");
    relay_publish(a, 0);
    run_job_t job = {a, 7000, 0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, run_job, &job), 0);
    peer_opts_t ob = {0};
    peer_t *b = relay_peer(&ob, "peer-sub", "bob");
    int rc = peer_wait_subscribed(b, 5000);
    peer_stats_t st;
    peer_get_stats(b, &st);
    if (rc == LG_EEXPIRED && st.subscribe_offers == 0) {
        pthread_join(th, NULL);
        peer_free(a);
        peer_free(b);
        skip();
    }
    if (rc != 0)
        fail_msg("subscribe: %s", peer_last_error(b));
    assert_int_equal(peer_run(b, 2000), 0);
    pthread_join(th, NULL);
    if (job.rc != 0)
        fail_msg("alice: %s", peer_last_error(a));
    peer_get_stats(b, &st);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(st.srtp_failures, 0);
    assert_true(st.packets_received >= 80); /* 2 s of 50 audio packets/s plus video */
    assert_true(st.latency_samples >= 80);
    int audio = 0, video = 0;
    for (int i = 0; i < peer_stream_count(b); i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(b, i, &ss), 0);
        assert_int_equal(ss.subscribe_leg, 1);
        if (ss.sender_id != peer_sender_id(a) || ss.packets < 20)
            continue;
        audio += ss.kind == PEER_STREAM_AUDIO;
        video += ss.kind == PEER_STREAM_VIDEO;
        assert_true(ss.gaps <= ss.packets / 20);
    }
    assert_int_equal(audio, 1);
    assert_int_equal(video, 1);
    print_message("bob: %llu packets, %llu key frames, latency p50 %u us p99 %u us\n",
                  (unsigned long long)st.packets_received,
                  (unsigned long long)st.keyframes_received, st.latency_p50_us, st.latency_p99_us);
    peer_free(b);
    peer_free(a);
}

static void test_relay_wrong_certificate(void **state)
{
    peer_opts_t o = {.wrong_certificate = true};
    peer_t *p = relay_peer(&o, "peer-wrongcert", "mallory");
    relay_publish(p, LG_EFINGERPRINT);
    assert_non_null(strstr(peer_last_error(p), "fingerprint_mismatch"));
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.profile, DTLS_SRTP_NONE);
    assert_string_equal(st.publish.relay_state, "closed");
    assert_string_equal(st.publish.relay_detail, "fingerprint_mismatch");
    peer_free(p);
}

/* The peer stops consent checks: the relay closes the transport (consent_timeout_s = 2) and says
 * why; publishing again brings a fresh transport up. */
static void test_relay_consent_timeout(void **state)
{
    peer_opts_t o = {0};
    peer_t *p = relay_peer(&o, "peer-consent", "carol");
    relay_publish(p, 0);
    assert_int_equal(peer_wait_relay_state(p, false, "connected", 5000), 0);
    assert_int_equal(peer_run(p, 2500), 0); /* consent keeps it up past the timeout */
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_state, "connected");
    peer_set_consent(p, false);
    if (peer_wait_relay_state(p, false, "closed", 8000) != 0)
        fail_msg("no close: %s", peer_last_error(p));
    peer_get_stats(p, &st);
    assert_string_equal(st.publish.relay_detail, "consent_expired");
    peer_set_consent(p, true);
    if (peer_publish(p, 10000) != 0)
        fail_msg("publish again: %s", peer_last_error(p));
    assert_int_equal(peer_wait_relay_state(p, false, "connected", 5000), 0);
    assert_int_equal(peer_leave(p, 3000), 0);
    peer_free(p);
}

int main(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest isolated[] = {
        cmocka_unit_test(test_trailer_round_trip),
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_offer),
        cmocka_unit_test(test_offer_audio_only),
        cmocka_unit_test(test_offer_simulcast),
        cmocka_unit_test(test_answer_problems),
    };
    const struct CMUnitTest relay[] = {
        cmocka_unit_test(test_relay_publish_gcm),
        cmocka_unit_test(test_relay_publish_aes_cm),
        cmocka_unit_test(test_relay_publish_tcp),
        cmocka_unit_test(test_relay_publish_ipv6),
        cmocka_unit_test(test_relay_peers_in_threads),
        cmocka_unit_test(test_relay_subscribe),
        cmocka_unit_test(test_relay_wrong_certificate),
        cmocka_unit_test(test_relay_consent_timeout),
        cmocka_unit_test(test_relay_bad_token),
        cmocka_unit_test(test_relay_lobby_then_kick),
    };
    int failed = cmocka_run_group_tests_name("peer", isolated, NULL, NULL);
    failed += cmocka_run_group_tests_name("peer_relay", relay, start_relay, stop_relay);
    return failed;
}
