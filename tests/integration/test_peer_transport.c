/* The C peer's transport legs against the in-test ICE-lite + DTLS server: ICE checks, consent,
 * certificates and fingerprints, SRTP echo over UDP, ICE-TCP and IPv6, and the subscribe leg. */

#include "peer_fixture.h"

/* ============================================================================================= */
/* ICE, DTLS, SRTP and media against the fake                                                   */
/* ============================================================================================= */

/* Waits (bounded) until the fake's thread has seen its side of the handshake finish. */
static void wait_fake_connected(fake_t *f)
{
    for (int i = 0; i < 200 && !atomic_load(&f->connected); i++)
        usleep(10000);
    assert_true(atomic_load(&f->connected));
}

static void check_echo(peer_t *p, fake_t *f, dtls_srtp_profile_t profile)
{
    wait_fake_connected(f);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.publish.dtls, DTLS_STATE_CONNECTED);
    assert_int_equal(st.publish.profile, profile);
    assert_int_equal(atomic_load(&f->profile), (int)profile);
    assert_true(atomic_load(&f->controlling));
    assert_true(atomic_load(&f->use_candidate) >= 1);
    assert_int_equal(atomic_load(&f->priority), (110u << 24) | (65535u << 8) | 255u);
    assert_int_equal(atomic_load(&f->bad_requests), 0);

    assert_int_equal(peer_run(p, 1200), 0);
    peer_get_stats(p, &st);
    /* 1.2 s: ~60 audio packets, ~36 frames of 500 kbit/s video (2 packets, key frames 6). The
     * schedule never sends ahead of time (upper bounds); a loaded machine may send fewer. */
    assert_in_range(st.audio_packets_sent, 10, 70);
    assert_in_range(st.frames_sent, 5, 40);
    assert_true(st.video_packets_sent >= 2 * st.frames_sent);
    assert_true(st.keyframes_sent >= 1);
    assert_true(st.rtcp_sent >= 1); /* sender reports */
    assert_int_equal(atomic_load(&f->srtp_fail), 0);
    assert_true(atomic_load(&f->rtcp_in) >= 1);
    /* everything came back: same streams, no loss on loopback, latency measured */
    uint64_t sent = st.audio_packets_sent + st.video_packets_sent;
    assert_true(st.packets_received + 20 >= sent);
    assert_true(st.packets_received >= sent * 9 / 10);
    assert_int_equal(st.srtp_failures, 0);
    assert_int_equal(st.foreign_packets, 0);
    assert_int_equal(st.gaps, 0);
    assert_int_equal(st.late, 0);
    assert_int_equal(st.streams, 2);
    assert_true(st.keyframes_received >= 1);
    assert_true(st.latency_samples >= st.packets_received);
    assert_true(st.latency_p50_us <= st.latency_p99_us);
    assert_true(st.latency_p99_us <= st.latency_max_us);
    assert_true(st.latency_max_us < 1000000);
    for (int i = 0; i < peer_stream_count(p); i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(p, i, &ss), 0);
        assert_int_equal(ss.sender_id, peer_sender_id(p));
        assert_true(ss.kind == PEER_STREAM_AUDIO || ss.kind == PEER_STREAM_VIDEO);
        assert_int_equal(ss.gaps, 0);
        assert_int_equal(ss.subscribe_leg, 0);
    }
    assert_int_equal(peer_get_stream(p, 99, &(peer_stream_stats_t){0}), LG_EINVAL);
}

static void run_echo(int tcp, int aes_cm_only, int v6)
{
    fake_t *f = fake_new6(tcp, v6);
    f->echo = 1;
    f->pli_after = 20;
    f->decoy = 1;
    peer_opts_t o = {.transport = tcp ? PEER_TRANSPORT_TCP : PEER_TRANSPORT_UDP,
                     .family = v6 ? PEER_FAMILY_IPV6 : PEER_FAMILY_IPV4,
                     .aes_cm_only = aes_cm_only,
                     .sender_id = 4242};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    int rc = peer_connect(p, 5000);
    if (rc != 0)
        fail_msg("peer_connect: %s", peer_last_error(p));
    check_echo(p, f, aes_cm_only ? DTLS_SRTP_AES128_CM_SHA1_80 : DTLS_SRTP_AEAD_AES_128_GCM);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.plis_received, 1);
    assert_true(st.keyframes_sent >= 2); /* the first frame, and the one answering the PLI */
    assert_int_equal(peer_sender_id(p), 4242);
    char remote[96];
    snprintf(remote, sizeof remote, v6 ? "[::1]:%u/%s" : "127.0.0.1:%u/%s", f->port,
             tcp ? "tcp" : "udp");
    assert_string_equal(st.publish.remote, remote);
    peer_free(p); /* sends close_notify */
    fake_free(f);
}

static void test_udp_gcm_echo(void **state)
{
    run_echo(0, 0, 0);
}

static void test_udp_aes_cm_echo(void **state)
{
    run_echo(0, 1, 0);
}

static void test_tcp_echo(void **state)
{
    run_echo(1, 0, 0);
}

static void test_udp_ipv6_echo(void **state)
{
    run_echo(0, 0, 1);
}

static void test_tcp_ipv6_echo(void **state)
{
    run_echo(1, 1, 1);
}

/* media_addr replaces the candidate's address (NAT, containers), keeping its port. */
static void test_media_addr_override(void **state)
{
    fake_t *f = fake_new(0);
    char *sdp = malloc(SDP_CAP);
    peer_opts_t o = {.media_addr = "127.0.0.1"};
    peer_t *p = new_peer(&o);
    size_t len;
    assert_int_equal(peer_build_offer(p, sdp, SDP_CAP, &len), 0);
    fake_learn_offer(f, sdp, len);
    fake_answer(f, NULL, sdp, SDP_CAP);
    char *c = strstr(sdp, "udp 2130706431 127.0.0.1");
    assert_non_null(c);
    memcpy(c + 15, "192.0.2.1", 9); /* a documentation address nobody answers on */
    assert_int_equal(peer_set_answer(p, sdp, strlen(sdp)), 0);
    fake_start(f);
    if (peer_connect(p, 5000) != 0)
        fail_msg("connect: %s", peer_last_error(p));
    free(sdp);
    peer_free(p);
    fake_free(f);
}

static void expect_connect_failure(peer_t *p, int rc_expected, const char *const *in_msg)
{
    int64_t t0 = time(NULL);
    int rc = peer_connect(p, 8000);
    assert_int_equal(rc, rc_expected);
    assert_true(time(NULL) - t0 <= 6);
    for (; *in_msg; in_msg++)
        if (!strstr(peer_last_error(p), *in_msg))
            fail_msg("error '%s' lacks '%s'", peer_last_error(p), *in_msg);
    /* the peer stays failed */
    assert_int_equal(peer_run(p, 10), rc_expected);
}

static void test_ice_no_answer(void **state)
{
    fake_t *f = fake_new(0);
    f->silent = 1;
    peer_opts_t o = {.ice_timeout_ms = 1000};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    char where[64];
    snprintf(where, sizeof where, "from 127.0.0.1:%u/udp within 1 s", f->port);
    const char *const msg[] = {"ICE: no Binding success", where, NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_FAILED);
    /* retransmitted every 100 ms for 1 s (fewer when the machine is busy, never more) */
    assert_in_range(st.publish.checks_sent, 2, 12);
    assert_in_range(atomic_load(&f->requests), 2, 12);
    peer_free(p);
    fake_free(f);
}

static void test_ice_wrong_integrity_ignored(void **state)
{
    fake_t *f = fake_new(0);
    f->wrong_key = 1;
    peer_opts_t o = {.ice_timeout_ms = 700};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"ICE: no Binding success", NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_true(st.publish.stun_errors >= 5); /* every forged answer was refused */
    assert_int_equal(st.publish.checks_ok, 0);
    peer_free(p);
    fake_free(f);
}

static void test_tcp_refused(void **state)
{
    fake_t *f = fake_new(0); /* no TCP listener on the advertised port */
    peer_opts_t o = {.transport = PEER_TRANSPORT_TCP};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"ICE-TCP: connect to 127.0.0.1", "refused", NULL};
    expect_connect_failure(p, LG_EIO, msg);
    peer_free(p);
    fake_free(f);
}

static void test_wrong_certificate(void **state)
{
    fake_t *f = fake_new(0);
    peer_opts_t o = {.wrong_certificate = true, .dtls_timeout_ms = 1500};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    const char *const msg[] = {"DTLS: no handshake completion", NULL};
    expect_connect_failure(p, LG_EEXPIRED, msg);
    /* the server refused the certificate: the offer's fingerprint is not the one presented */
    assert_int_equal(atomic_load(&f->dtls_reason), DTLS_REASON_FINGERPRINT);
    assert_int_equal(atomic_load(&f->connected), 0);
    peer_free(p);
    fake_free(f);
}

static void test_relay_fingerprint_mismatch(void **state)
{
    fake_t *f = fake_new(0);
    X509 *other;
    EVP_PKEY *other_key;
    make_cert(&other, &other_key);
    char fp[LG_CERTS_FINGERPRINT_MAX];
    assert_int_equal(lg_certs_fingerprint(other, "sha-256", fp, sizeof fp), 0);
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    wire_up(p, f, fp); /* the answer names a certificate the server does not have */
    const char *const msg[] = {"DTLS: fingerprint mismatch", NULL};
    expect_connect_failure(p, LG_EFINGERPRINT, msg);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.dtls, DTLS_STATE_FAILED);
    assert_int_equal(st.publish.profile, DTLS_SRTP_NONE);
    peer_free(p);
    fake_free(f);
    X509_free(other);
    EVP_PKEY_free(other_key);
}

static void test_consent(void **state)
{
    fake_t *f = fake_new(0);
    peer_opts_t o = {.consent_interval_ms = 100, .consent_timeout_ms = 600};
    peer_t *p = new_peer(&o);
    wire_up(p, f, NULL);
    assert_int_equal(peer_connect(p, 5000), 0);
    assert_int_equal(peer_run(p, 500), 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_in_range(st.publish.consent_sent, 1, 7);
    /* consent checks carry no USE-CANDIDATE; nomination checks do */
    assert_true(atomic_load(&f->without_use_candidate) >= 1);
    /* switched off: nothing more goes out, and nothing fails */
    peer_set_consent(p, false);
    int before = atomic_load(&f->without_use_candidate);
    assert_int_equal(peer_run(p, 900), 0);
    assert_int_equal(atomic_load(&f->without_use_candidate), before);
    /* back on, and the relay stops answering: consent is lost after 600 ms */
    peer_set_consent(p, true);
    atomic_store(&f->mute_stun, 1);
    int rc = peer_run(p, 3000);
    assert_int_equal(rc, LG_EEXPIRED);
    assert_non_null(strstr(peer_last_error(p), "ICE: consent lost"));
    peer_get_stats(p, &st);
    assert_int_equal(st.publish.ice, PEER_ICE_FAILED);
    peer_free(p);
    fake_free(f);
}

static void test_subscribe_leg(void **state)
{
    fake_t *f = fake_new(0);
    f->originate = 1;
    peer_opts_t o = {0};
    peer_t *p = new_peer(&o);
    char *offer = malloc(SDP_CAP), *answer = malloc(SDP_CAP), *pub = malloc(SDP_CAP);
    sdp_session_t *s = malloc(sizeof *s);
    subscribe_offer(f, offer, SDP_CAP);
    size_t len, plen;
    assert_int_equal(peer_answer_subscribe(p, offer, strlen(offer), answer, SDP_CAP, &len), 0);
    assert_int_equal(strlen(answer), len);
    sdp_error_t e;
    if (sdp_parse((const uint8_t *)answer, len, s, &e) != 0)
        fail_msg("answer does not parse: %s\n%s", e.msg, answer);
    assert_int_equal(s->media_count, 2);
    assert_int_equal(s->bundle_count, 2);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(s->media[i].setup, SDP_SETUP_ACTIVE);
        assert_int_equal(s->media[i].direction, SDP_DIR_RECVONLY);
        assert_true(s->media[i].rtcp_mux);
    }
    assert_string_equal(s->media[1].mid, "1");
    assert_int_equal(sdp_media_find_rtx_pt(&s->media[1], 96), 97);
    assert_true(sdp_codec_has_fb(sdp_media_find_codec(&s->media[1], "VP8"), "nack pli"));
    assert_true(s->media[1].rtcp_rsize);
    /* its own credentials, not the publish connection's; the same certificate */
    assert_int_equal(peer_build_offer(p, pub, SDP_CAP, &plen), 0);
    assert_null(strstr(pub, s->media[0].ice.ufrag));
    assert_non_null(strstr(pub, s->media[0].fingerprint.value));
    snprintf(f->peer_ufrag, sizeof f->peer_ufrag, "%s", s->media[0].ice.ufrag);
    snprintf(f->peer_fp, sizeof f->peer_fp, "sha-256 %s", s->media[0].fingerprint.value);
    fake_start(f);
    if (peer_wait_subscribed(p, 5000) != 0)
        fail_msg("subscribe leg: %s", peer_last_error(p));
    assert_int_equal(peer_run(p, 700), 0);
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe.ice, PEER_ICE_CONNECTED);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    assert_int_equal(st.publish.ice, PEER_ICE_NEW);
    assert_int_equal(st.packets_received, 58);
    assert_int_equal(st.gaps, 2);
    assert_int_equal(st.streams, 2);
    assert_int_equal(st.keyframes_received, 0);
    assert_true(st.plis_sent >= 1); /* no key frame yet: the peer asks, as a browser does */
    assert_true(atomic_load(&f->plis_in) >= 1);
    for (int i = 0; i < 2; i++) {
        peer_stream_stats_t ss;
        assert_int_equal(peer_get_stream(p, i, &ss), 0);
        assert_int_equal(ss.sender_id, 777);
        assert_int_equal(ss.subscribe_leg, 1);
        assert_int_equal(ss.gaps, 1);
        assert_int_equal(ss.kind, ss.ssrc == 0xAAAA0001u ? PEER_STREAM_VIDEO : PEER_STREAM_AUDIO);
    }
    /* a renegotiation with the same credentials keeps the leg */
    assert_int_equal(peer_answer_subscribe(p, offer, strlen(offer), answer, SDP_CAP, &len), 0);
    assert_int_equal(peer_run(p, 100), 0);
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe.profile, DTLS_SRTP_AEAD_AES_128_GCM);
    free(s);
    free(pub);
    free(offer);
    free(answer);
    peer_free(p);
    fake_free(f);
}

int main(void)
{
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest transport[] = {
        cmocka_unit_test(test_udp_gcm_echo),
        cmocka_unit_test(test_udp_aes_cm_echo),
        cmocka_unit_test(test_tcp_echo),
        cmocka_unit_test(test_udp_ipv6_echo),
        cmocka_unit_test(test_tcp_ipv6_echo),
        cmocka_unit_test(test_media_addr_override),
        cmocka_unit_test(test_ice_no_answer),
        cmocka_unit_test(test_ice_wrong_integrity_ignored),
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_wrong_certificate),
        cmocka_unit_test(test_relay_fingerprint_mismatch),
        cmocka_unit_test(test_consent),
        cmocka_unit_test(test_subscribe_leg),
    };

    return cmocka_run_group_tests_name("peer_transport", transport, NULL, NULL);
}
