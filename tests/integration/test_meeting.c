/* Meetings of C peers through the in-process relay: a dozen participants who all publish audio
 * and video and all receive each other; people leaving and joining while one participant stays
 * (its subscribe connection recycles m-lines); and a subscribe connection at its m-line cap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench/peer/peer.h"
#include "relay_fixture.h"
#include "sfu/lg_error.h"
#include "signaling/negotiate.h"
#include "signaling/protocol.h"
#include "signaling/sdp.h"

#define MAX_HEARD    64
#define HEARD_PKTS   5     /* packets of a stream before it counts as received */
#define WAIT_MS      30000 /* bound on waiting for media that should arrive */
#define MEETING_SIZE 12

/* One participant on its own thread: joins, publishes (unless receive_only), runs its loop until
 * asked to leave, and keeps a summary of what it received for the main thread to read. */
typedef struct {
    peer_t *p;
    uint32_t sender;
    bool receive_only;
    pthread_t th;
    atomic_int leave;
    atomic_int done;
    int rc;
    char err[256];
    /* under g_lock: written by the member's thread */
    int nheard;
    uint32_t heard[MAX_HEARD]; /* senders whose audio and video both arrived */
    uint64_t offers;
    uint32_t mlines;
    peer_stats_t st; /* final, once done */
} member_t;

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Senders of which both an audio and a video stream arrived on the subscribe leg. */
static void note_heard(member_t *m)
{
    uint32_t audio[MAX_HEARD], video[MAX_HEARD], both[MAX_HEARD];
    int na = 0, nv = 0, nb = 0;
    for (int i = 0; i < peer_stream_count(m->p); i++) {
        peer_stream_stats_t ss;
        if (peer_get_stream(m->p, i, &ss) != 0 || !ss.subscribe_leg || ss.packets < HEARD_PKTS)
            continue;
        if (ss.kind == PEER_STREAM_AUDIO && na < MAX_HEARD)
            audio[na++] = ss.sender_id;
        else if (ss.kind == PEER_STREAM_VIDEO && nv < MAX_HEARD)
            video[nv++] = ss.sender_id;
    }
    for (int i = 0; i < na; i++)
        for (int k = 0; k < nv; k++)
            if (audio[i] == video[k] && nb < MAX_HEARD) {
                both[nb++] = audio[i];
                break;
            }
    peer_stats_t st;
    peer_get_stats(m->p, &st);
    pthread_mutex_lock(&g_lock);
    memcpy(m->heard, both, (size_t)nb * sizeof both[0]);
    m->nheard = nb;
    m->offers = st.subscribe_offers;
    m->mlines = st.subscribe_mlines;
    pthread_mutex_unlock(&g_lock);
}

static void *member_main(void *arg)
{
    member_t *m = arg;
    m->rc = peer_join(m->p, 10000);
    if (m->rc == 0 && !m->receive_only)
        m->rc = peer_publish(m->p, 15000);
    int64_t end = now_ms() + 120000; /* a bound, never reached when the test goes well */
    while (m->rc == 0 && !atomic_load(&m->leave) && now_ms() < end) {
        m->rc = peer_run(m->p, 100);
        note_heard(m);
    }
    snprintf(m->err, sizeof m->err, "%s", peer_last_error(m->p));
    if (m->rc == 0)
        m->rc = peer_leave(m->p, 5000);
    peer_get_stats(m->p, &m->st);
    atomic_store(&m->done, 1);
    return NULL;
}

static member_t *member_start(const char *room, const char *name, bool receive_only)
{
    member_t *m = calloc(1, sizeof *m);
    assert_non_null(m);
    char err[256];
    peer_opts_t o = {.port = rf_cfg.listen_port,
                     .consent_interval_ms = 1000,
                     .video_kbps = 100,
                     .video_fps = 15,
                     .keyframe_interval = 15};
    o.token = relay_fixture_token(room, name, AUTH_ROLE_PARTICIPANT, 600);
    m->p = peer_new(&o, err, sizeof err);
    if (!m->p)
        fail_msg("peer_new %s: %s", name, err);
    m->sender = peer_sender_id(m->p);
    m->receive_only = receive_only;
    assert_int_equal(pthread_create(&m->th, NULL, member_main, m), 0);
    return m;
}

/* Asks m to leave, waits for its thread and checks it ran cleanly; frees it. */
static void member_stop(member_t *m, const char *name)
{
    atomic_store(&m->leave, 1);
    pthread_join(m->th, NULL);
    if (m->rc != 0)
        fail_msg("%s: %s (%s)", name, lg_strerror(m->rc), m->err);
    assert_int_equal(m->st.srtp_failures, 0);
    peer_free(m->p);
    free(m);
}

static bool heard(member_t *m, uint32_t sender)
{
    pthread_mutex_lock(&g_lock);
    bool yes = false;
    for (int i = 0; i < m->nheard; i++)
        yes |= m->heard[i] == sender;
    pthread_mutex_unlock(&g_lock);
    return yes;
}

static uint64_t offers_of(member_t *m)
{
    pthread_mutex_lock(&g_lock);
    uint64_t n = m->offers;
    pthread_mutex_unlock(&g_lock);
    return n;
}

static uint32_t mlines_of(member_t *m)
{
    pthread_mutex_lock(&g_lock);
    uint32_t n = m->mlines;
    pthread_mutex_unlock(&g_lock);
    return n;
}

/* Waits (bounded) until `m` received audio and video of `sender`; fails naming who. */
static void wait_heard(member_t *m, uint32_t sender, const char *who, const char *from)
{
    int64_t end = now_ms() + WAIT_MS;
    while (!heard(m, sender)) {
        if (atomic_load(&m->done))
            fail_msg("%s stopped: %s (%s)", who, lg_strerror(m->rc), m->err);
        if (now_ms() > end)
            fail_msg("%s never received the audio and video of %s", who, from);
        usleep(50 * 1000);
    }
}

static int start_relay(void **state)
{
    return relay_fixture_start(NULL);
}

static void cap4(lg_config_t *cfg)
{
    cfg->subscribe_mlines = 4;
}

static int start_relay_cap4(void **state)
{
    return relay_fixture_start(cap4);
}

static int stop_relay(void **state)
{
    relay_fixture_stop();
    return 0;
}

/* Twelve participants publish audio and video at once; each receives the 22 streams of the
 * eleven others (past the 16 m-lines, 8 publishers, a subscribe connection once held). */
static void test_meeting_of_twelve(void **state)
{
    member_t *m[MEETING_SIZE];
    char name[MEETING_SIZE][16];
    for (int i = 0; i < MEETING_SIZE; i++) {
        snprintf(name[i], sizeof name[i], "p%02d", i);
        m[i] = member_start("meeting-12", name[i], false);
    }
    for (int i = 0; i < MEETING_SIZE; i++)
        for (int k = 0; k < MEETING_SIZE; k++)
            if (k != i)
                wait_heard(m[i], m[k]->sender, name[i], name[k]);
    for (int i = 0; i < MEETING_SIZE; i++)
        assert_int_equal(mlines_of(m[i]), 2 * (MEETING_SIZE - 1));
    print_message("12 participants: every one receives the 22 streams of the others; %llu "
                  "subscribe offers to the first, %llu to the last\n",
                  (unsigned long long)offers_of(m[0]),
                  (unsigned long long)offers_of(m[MEETING_SIZE - 1]));
    for (int i = 0; i < MEETING_SIZE; i++)
        member_stop(m[i], name[i]);
}

#define CHURN_PRESENT 3
#define CHURN_ROUNDS  8

/* One participant stays while the others leave and join, one at a time, eleven publishers in all
 * (22 tracks over time): it receives every newcomer, and its subscribe connection stays at the
 * m-lines of the most tracks at once plus the first m-line (kept for BUNDLE) plus those whose
 * rejection was still being negotiated when a newcomer came. */
static void test_churn_recycles_mlines(void **state)
{
    member_t *stay = member_start("churn", "stays", true);
    member_t *present[CHURN_PRESENT];
    char name[CHURN_PRESENT][16];
    int next = 0;
    for (int i = 0; i < CHURN_PRESENT; i++, next++) {
        snprintf(name[i], sizeof name[i], "c%02d", next);
        present[i] = member_start("churn", name[i], false);
        wait_heard(stay, present[i]->sender, "stays", name[i]);
    }
    uint32_t max_mlines = mlines_of(stay);
    for (int r = 0; r < CHURN_ROUNDS; r++, next++) {
        int k = r % CHURN_PRESENT; /* the longest present leaves */
        member_stop(present[k], name[k]);
        snprintf(name[k], sizeof name[k], "c%02d", next);
        present[k] = member_start("churn", name[k], false);
        wait_heard(stay, present[k]->sender, "stays", name[k]);
        uint32_t n = mlines_of(stay);
        max_mlines = n > max_mlines ? n : max_mlines;
    }
    print_message("churn: %d publishers (%d tracks) over time; the staying participant's "
                  "subscribe connection peaked at %u m-lines, %llu offers\n",
                  next, 2 * next, max_mlines, (unsigned long long)offers_of(stay));
    assert_true(2 * next > 16);
    assert_true(max_mlines <= 2 * CHURN_PRESENT + 1 + 2);
    for (int i = 0; i < CHURN_PRESENT; i++)
        member_stop(present[i], name[i]);
    member_stop(stay, "stays");
}

/* At the cap (4 m-lines here) a third publisher's tracks are left out without any offer (the
 * earlier bug: an offer per answer, endlessly); when the second publisher leaves, the third
 * gets its two m-lines back under new mids. */
static void test_cap_leaves_out_then_recycles(void **state)
{
    member_t *stay = member_start("cap", "stays", true);
    member_t *a = member_start("cap", "a", false);
    wait_heard(stay, a->sender, "stays", "a");
    member_t *b = member_start("cap", "b", false);
    wait_heard(stay, b->sender, "stays", "b");
    assert_int_equal(mlines_of(stay), 4);
    uint64_t offers = offers_of(stay);
    member_t *c = member_start("cap", "c", false);
    wait_heard(a, c->sender, "a", "c"); /* c publishes: the others with room receive it */
    usleep(1500 * 1000);
    assert_false(heard(stay, c->sender));
    assert_int_equal(offers_of(stay), offers); /* nothing changed for it: no offer */
    assert_int_equal(mlines_of(stay), 4);
    member_stop(b, "b");
    wait_heard(stay, c->sender, "stays", "c");
    assert_int_equal(mlines_of(stay), 4);
    /* b's removal, then c's tracks on the recycled m-lines; a few more, not a loop */
    assert_true(offers_of(stay) - offers <= 4);
    member_stop(c, "c");
    member_stop(a, "a");
    member_stop(stay, "stays");
}

/* The relay's offer for a full subscribe connection (64 m-lines), m-line 3 rejected and m-line 5
 * recycled under mid 70, into a buffer of SDP_MAX_INPUT; returns its parsed form. */
static sdp_session_t *full_offer(char *text, size_t *len)
{
    negotiate_local_t l;
    memset(&l, 0, sizeof l);
    strcpy(l.ice_ufrag, "abcdEFGH");
    strcpy(l.ice_pwd, "0123456789abcdefghijklmn");
    strcpy(l.fingerprint, "sha-256 21:73:66:35:87:4D:DF:71:21:89:C7:33:B9:E0:BB:8E:DD:49:D4:90:33:"
                          "92:6E:3A:09:56:61:39:87:7D:6B:01");
    l.session_id = 12345;
    l.candidate_count = 2;
    for (int i = 0; i < 2; i++) {
        strcpy(l.candidates[i].ip, "127.0.0.1");
        l.candidates[i].port = 9; /* discard: the peer's leg goes nowhere */
        l.candidates[i].transport = i ? SDP_TRANSPORT_TCP : SDP_TRANSPORT_UDP;
    }
    negotiate_sub_track_t *t = calloc(SDP_MAX_MEDIA, sizeof *t);
    assert_non_null(t);
    for (int i = 0; i < SDP_MAX_MEDIA; i++) {
        bool video = i % 2;
        t[i].kind = video ? SDP_KIND_VIDEO : SDP_KIND_AUDIO;
        t[i].active = i != 3;
        t[i].stopped = i == 3;
        snprintf(t[i].mid, sizeof t[i].mid, "%d", i == 5 ? 70 : i);
        snprintf(t[i].stream_id, sizeof t[i].stream_id, "p%012d", i / 2);
        snprintf(t[i].track_id, sizeof t[i].track_id, "t%d", i);
        t[i].ssrc = 1000 + (uint32_t)i;
        t[i].codec.pt = video ? 96 : 111;
        strcpy(t[i].codec.name, video ? "VP8" : "opus");
        t[i].codec.clock_rate = video ? 90000 : 48000;
        t[i].codec.channels = video ? 0 : 2;
    }
    sdp_session_t *s = malloc(sizeof *s);
    assert_non_null(s);
    char err[256] = "";
    if (negotiate_subscribe_offer(t, SDP_MAX_MEDIA, &l, 2, s, err, sizeof err) != 0)
        fail_msg("offer: %s", err);
    assert_int_equal(sdp_write(s, text, SDP_MAX_INPUT, len), 0);
    free(t);
    return s;
}

/* The C peer answers the largest subscribe offer the relay makes, rejected and recycled m-lines
 * included, within what the relay accepts from a client; the relay's check passes. */
static void test_peer_answers_64_mlines(void **state)
{
    char *offer = malloc(SDP_MAX_INPUT), *answer = malloc(SDP_MAX_INPUT);
    size_t olen, alen;
    sdp_session_t *o = full_offer(offer, &olen);
    char err[256];
    peer_opts_t opts = {.port = 1};
    peer_t *p = peer_new(&opts, err, sizeof err);
    assert_non_null(p);
    if (peer_answer_subscribe(p, offer, olen, answer, SDP_MAX_INPUT, &alen) != 0)
        fail_msg("answer: %s", peer_last_error(p));
    peer_stats_t st;
    peer_get_stats(p, &st);
    assert_int_equal(st.subscribe_mlines, SDP_MAX_MEDIA);
    assert_true(alen + 1024 < PROTO_MAX_MESSAGE); /* room for the JSON around it */
    sdp_session_t *a = malloc(sizeof *a);
    sdp_error_t se;
    assert_int_equal(sdp_parse((const uint8_t *)answer, alen, a, &se), 0);
    assert_int_equal(a->media_count, SDP_MAX_MEDIA);
    assert_int_equal(a->bundle_count, SDP_MAX_MEDIA - 1);
    assert_int_equal(a->media[3].port, 0);
    assert_string_equal(a->media[5].mid, "70");
    negotiate_sub_result_t res;
    if (negotiate_subscribe_answer(o, a, &res, err, sizeof err) != 0)
        fail_msg("the relay refuses the answer: %s", err);
    assert_false(res.media[3].accepted);
    assert_true(res.media[5].accepted);
    assert_true(res.media[SDP_MAX_MEDIA - 1].accepted);
    print_message("64 m-lines: offer %zu bytes, the C peer's answer %zu bytes\n", olen, alen);
    peer_free(p);
    free(a);
    free(o);
    free(offer);
    free(answer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peer_answers_64_mlines),
        cmocka_unit_test(test_meeting_of_twelve),
        cmocka_unit_test(test_churn_recycles_mlines),
    };
    const struct CMUnitTest capped[] = {
        cmocka_unit_test(test_cap_leaves_out_then_recycles),
    };
    int failed = cmocka_run_group_tests_name("meeting", tests, start_relay, stop_relay);
    return failed + cmocka_run_group_tests_name("capped", capped, start_relay_cap4, stop_relay);
}
