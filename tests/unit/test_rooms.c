/* Room policy: pinning, lobby, lock, capacity, kicked tokens, grace-period close. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "sfu/lg_error.h"
#include "signaling/rooms.h"

static auth_claims_t claims(const char *room, const char *sub, auth_role_t role)
{
    auth_claims_t c;
    memset(&c, 0, sizeof c);
    snprintf(c.room, sizeof c.room, "%s", room);
    snprintf(c.sub, sizeof c.sub, "%s", sub);
    snprintf(c.name, sizeof c.name, "%s name", sub);
    snprintf(c.token_id, sizeof c.token_id, "tok-%s", sub);
    c.role = role;
    return c;
}

static rooms_t make(int max, int lobby, int workers)
{
    rooms_t r;
    rooms_config_t cfg = {.max_participants = max,
                          .empty_grace_ms = 1000,
                          .lobby_default = lobby,
                          .nworkers = workers};
    assert_int_equal(rooms_init(&r, &cfg), 0);
    return r;
}

static void test_join_and_pinning(void **state)
{
    rooms_t r = make(10, 0, 2);
    participant_t *a, *b, *c;
    int created;
    auth_claims_t ca = claims("alpha", "a", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &ca, "127.0.0.1", NULL, 1, &a, &created), ROOMS_OK);
    assert_true(created);
    auth_claims_t cb = claims("alpha", "b", AUTH_ROLE_OBSERVER);
    assert_int_equal(rooms_join(&r, &cb, "127.0.0.1", NULL, 2, &b, &created), ROOMS_OK);
    assert_false(created);
    assert_ptr_equal(a->room, b->room);
    assert_string_not_equal(a->id, b->id);
    auth_claims_t cc = claims("beta", "c", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &cc, "::1", NULL, 3, &c, &created), ROOMS_OK);
    /* The second room goes to the other worker. */
    assert_int_not_equal(a->room->worker, c->room->worker);
    assert_int_equal(rooms_count(&r), 2);
    assert_int_equal(rooms_participants(&r), 3);
    assert_ptr_equal(rooms_participant(a->room, b->id), b);
    assert_null(rooms_participant(a->room, c->id));
    rooms_free(&r);
}

static void test_lobby(void **state)
{
    rooms_t r = make(10, 1, 1);
    participant_t *p, *m;
    int created;
    auth_claims_t cp = claims("r", "p", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 1, &p, &created), ROOMS_LOBBY);
    assert_int_equal(p->state, PARTICIPANT_LOBBY);
    assert_int_equal(p->room->waiting, 1);
    auth_claims_t cm = claims("r", "m", AUTH_ROLE_MODERATOR);
    assert_int_equal(rooms_join(&r, &cm, "", NULL, 2, &m, &created), ROOMS_OK);
    assert_int_equal(rooms_admit(p), 0);
    assert_int_equal(p->state, PARTICIPANT_JOINED);
    assert_int_equal(rooms_admit(p), LG_ESTATE);
    assert_int_equal(p->room->joined, 2);
    assert_int_equal(p->room->waiting, 0);
    rooms_free(&r);
}

static void test_lock_full_kick(void **state)
{
    rooms_t r = make(2, 0, 1);
    participant_t *m, *p, *x;
    int created;
    auth_claims_t cm = claims("r", "m", AUTH_ROLE_MODERATOR);
    auth_claims_t cp = claims("r", "p", AUTH_ROLE_PARTICIPANT);
    auth_claims_t cx = claims("r", "x", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &cm, "", NULL, 1, &m, &created), ROOMS_OK);
    m->room->locked = 1;
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 1, &p, &created), ROOMS_ERR_LOCKED);
    assert_null(p);
    m->room->locked = 0;
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 1, &p, &created), ROOMS_OK);
    assert_int_equal(rooms_join(&r, &cx, "", NULL, 1, &x, &created), ROOMS_ERR_FULL);
    room_t *room = m->room;
    rooms_kick(&r, p, 5);
    assert_int_equal(room->joined, 1);
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 6, &p, &created), ROOMS_ERR_KICKED);
    /* The same identity with a fresh token may come back; another token is unaffected. */
    snprintf(cp.token_id, sizeof cp.token_id, "tok-p-new");
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 7, &p, &created), ROOMS_OK);
    assert_string_equal(rooms_result_code(ROOMS_ERR_KICKED), "kicked");
    assert_string_equal(rooms_result_code(ROOMS_ERR_LOCKED), "room_locked");
    rooms_free(&r);
}

/* The first token decides whether a room is E2EE; a token that disagrees is refused, moderators
 * included, and nothing of the refused join stays behind. A closed room forgets its flag. */
static void test_e2ee_flag(void **state)
{
    rooms_t r = make(10, 0, 1);
    participant_t *a, *b, *x;
    int created;
    auth_claims_t ca = claims("secret", "a", AUTH_ROLE_PARTICIPANT);
    ca.e2ee = 1;
    assert_int_equal(rooms_join(&r, &ca, "", NULL, 1, &a, &created), ROOMS_OK);
    assert_true(created);
    assert_true(a->room->e2ee);
    auth_claims_t plain = claims("secret", "m", AUTH_ROLE_MODERATOR);
    assert_int_equal(rooms_join(&r, &plain, "", NULL, 2, &x, &created), ROOMS_ERR_E2EE_MISMATCH);
    assert_null(x);
    assert_int_equal(rooms_participants(&r), 1);
    assert_string_equal(rooms_result_code(ROOMS_ERR_E2EE_MISMATCH), "e2ee_mismatch");
    auth_claims_t cb = claims("secret", "b", AUTH_ROLE_OBSERVER);
    cb.e2ee = 1;
    assert_int_equal(rooms_join(&r, &cb, "", NULL, 3, &b, &created), ROOMS_OK);
    assert_false(created);

    /* The other way round: a plain room refuses an E2EE token. */
    auth_claims_t cp = claims("open", "p", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 4, &x, &created), ROOMS_OK);
    assert_false(x->room->e2ee);
    auth_claims_t ce = claims("open", "e", AUTH_ROLE_MODERATOR);
    ce.e2ee = 1;
    assert_int_equal(rooms_join(&r, &ce, "", NULL, 5, &x, &created), ROOMS_ERR_E2EE_MISMATCH);

    /* Once the E2EE room has closed, the next first join decides again. */
    rooms_leave(&r, a, 10);
    rooms_leave(&r, b, 10);
    assert_int_equal(rooms_sweep(&r, 5000, NULL, NULL), 1); /* "open" still has p */
    assert_int_equal(rooms_join(&r, &plain, "", NULL, 6000, &x, &created), ROOMS_OK);
    assert_true(created);
    assert_false(x->room->e2ee);
    rooms_free(&r);
}

static int closed_count;
static void on_close(void *ctx, room_t *room)
{
    closed_count++;
    assert_string_equal(room->id, (const char *)ctx);
}

static void test_grace_close(void **state)
{
    rooms_t r = make(10, 0, 1);
    participant_t *p;
    int created;
    auth_claims_t cp = claims("gone", "p", AUTH_ROLE_PARTICIPANT);
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 100, &p, &created), ROOMS_OK);
    rooms_leave(&r, p, 200);
    closed_count = 0;
    assert_int_equal(rooms_sweep(&r, 1199, on_close, "gone"), 0);
    /* Rejoining within the grace period keeps the room. */
    assert_int_equal(rooms_join(&r, &cp, "", NULL, 1100, &p, &created), ROOMS_OK);
    assert_false(created);
    assert_int_equal(rooms_sweep(&r, 5000, on_close, "gone"), 0);
    rooms_leave(&r, p, 6000);
    assert_int_equal(rooms_sweep(&r, 7000, on_close, "gone"), 1);
    assert_int_equal(closed_count, 1);
    assert_int_equal(rooms_count(&r), 0);
    assert_null(rooms_find(&r, "gone"));
    rooms_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_join_and_pinning), cmocka_unit_test(test_lobby),
        cmocka_unit_test(test_lock_full_kick),   cmocka_unit_test(test_grace_close),
        cmocka_unit_test(test_e2ee_flag),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
