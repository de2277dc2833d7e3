/*
 * test_sync.c - locks, rlocks, semaphores and conditions across processes:
 * the seeds' ticket race and Semaphore(3) room, ownership (NOT_OWNER, an
 * rlock's count, a bounded semaphore's bound), what a SIGKILLed holder
 * leaves behind, producer/consumer on a condition, and drop of a lock with
 * a parked waiter.
 *
 *     def grab(d, lock):              # the seeds' ticket race
 *         with lock:
 *             if d["tickets"] > 0:
 *                 d["tickets"] -= 1   # one winner, whatever the schedule
 */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NGRABBERS 10
#define NROOM 12
#define ROOM_SIZE 3
#define NITEMS 50
/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0

/* ---- the ticket race ---------------------------------------------------- */

struct ticket {
	agora_dict *d;
};

/* The body of "with lock:": take the ticket if one is left. */
static int take_ticket(void *ud)
{
	struct ticket *t = ud;
	int64_t left = 0;
	int rc;

	rc = agora_dict_get_int(t->d, agora_str("tickets"), &left);
	if (rc != 0)
		return rc;
	if (left <= 0)
		return 0;
	rc = agora_dict_set(t->d, agora_str("tickets"), agora_int(left - 1));
	if (rc != 0)
		return rc;
	return agora_dict_incr_int(t->d, agora_str("winners"), 1, NULL);
}

/* Wait for the start signal, then grab a ticket, under the lock "tickets"
 * when @arg is not NULL. */
static int grab_ticket(agora_client *c, int idx, void *arg)
{
	struct ticket t = { NULL };
	agora_event *go = NULL;
	agora_lock *l = NULL;
	bool set = false;

	(void)idx;
	AGH_WCALL(c, agora_dict_open(c, "box-office", &t.d));
	AGH_WCALL(c, agora_event_open(c, "go", &go));
	if (arg != NULL)
		AGH_WCALL(c, agora_lock_open(c, "tickets", &l));
	AGH_WCALL(c, agora_event_wait(go, GENEROUS, &set));
	AGH_WCHECK(set);
	if (l != NULL)
		AGH_WCALL(c, agora_lock_with(l, take_ticket, &t));
	else
		AGH_WCALL(c, take_ticket(&t));
	AGH_WCALL(c, agora_lock_close(l));
	AGH_WCALL(c, agora_event_close(go));
	AGH_WCALL(c, agora_dict_close(t.d));
	return 0;
}

/* Run the race with or without the lock; *winners and *left get the end
 * state. All workers are parked on the event "go" before it is set, so
 * they start together. */
static void run_ticket_race(bool locked, int64_t *winners, int64_t *left)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_event *go;
	pid_t pids[NGRABBERS];
	static int use_lock;

	AGH_OK(c, agora_dict_open(c, "box-office", &d));
	AGH_OK(c, agora_event_open(c, "go", &go));
	AGH_OK(c, agora_dict_set(d, agora_str("tickets"), agora_int(1)));
	AGH_OK(c, agora_dict_set(d, agora_str("winners"), agora_int(0)));
	for (int i = 0; i < NGRABBERS; i++)
		pids[i] = agh_spawn(grab_ticket, i, locked ? &use_lock : NULL);
	agh_wait_waiters(c, agora_event_handle(go), NGRABBERS);
	AGH_OK(c, agora_event_set(go));
	agh_wait_all_ok(pids, NGRABBERS);
	AGH_OK(c, agora_dict_get_int(d, agora_str("winners"), winners));
	AGH_OK(c, agora_dict_get_int(d, agora_str("tickets"), left));
	agora_event_close(go);
	agora_dict_close(d);
}

START_TEST(ten_workers_race_for_one_ticket_under_a_lock_and_one_wins)
{
	int64_t winners = -1, left = -1;

	run_ticket_race(true, &winners, &left);
	ck_assert_int_eq(winners, 1);
	ck_assert_int_eq(left, 0);
}
END_TEST

START_TEST(without_the_lock_the_ticket_race_may_have_several_winners)
{
	int64_t winners = -1, left = -1;

	/* A demonstration, not an assertion: the schedule decides. */
	run_ticket_race(false, &winners, &left);
	printf("ticket race without a lock: %lld winner(s) for 1 ticket, "
	       "%lld left\n",
	       (long long)winners, (long long)left);
	fflush(stdout);
}
END_TEST

static int fail_with_key(void *ud)
{
	(void)ud;
	return AGORA_EKEY;
}

START_TEST(lock_with_releases_the_lock_even_when_the_body_fails)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	bool locked = true;

	AGH_OK(c, agora_lock_open(c, NULL, &l));
	AGH_CALL_EQ(c, agora_lock_with(l, fail_with_key, NULL), AGORA_EKEY);
	AGH_OK(c, agora_lock_locked(l, &locked));
	ck_assert(!locked);
	AGH_CALL_EQ(c, agora_lock_release(l), AGORA_ENOT_OWNER);
	agora_lock_close(l);
}
END_TEST

/* ---- Semaphore(3) with twelve workers ----------------------------------- */

/* Raise "max" to @now unless it is already higher. */
static int record_max(agora_client *c, agora_var *max, int64_t now)
{
	for (;;) {
		int64_t seen = 0;
		bool swapped = false;

		AGH_WCALL(c, agora_var_get_int(max, &seen));
		if (seen >= now)
			return 0;
		AGH_WCALL(c, agora_var_cas(max, agora_int(seen), agora_int(now),
					   &swapped));
		if (swapped)
			return 0;
	}
}

static int enter_room(agora_client *c, int idx, void *arg)
{
	agora_semaphore *s = NULL;
	agora_var *inside = NULL, *max = NULL, *entered = NULL;
	agora_event *go = NULL;
	bool ok = false;
	int64_t now = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_semaphore_open(c, "room", ROOM_SIZE, false, &s));
	AGH_WCALL(c, agora_var_open(c, "inside", agora_int(0), &inside));
	AGH_WCALL(c, agora_var_open(c, "max", agora_int(0), &max));
	AGH_WCALL(c, agora_var_open(c, "entered", agora_int(0), &entered));
	AGH_WCALL(c, agora_event_open(c, "go", &go));
	AGH_WCALL(c, agora_event_wait(go, GENEROUS, &ok));
	AGH_WCHECK(ok);

	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &ok));
	AGH_WCHECK(ok);
	AGH_WCALL(c, agora_var_add_int(inside, 1, &now));
	if (record_max(c, max, now) != 0)
		return 1;
	AGH_WCALL(c, agora_var_add_int(entered, 1, NULL));
	/* The "work": a few round trips while inside. */
	for (int i = 0; i < 5; i++)
		AGH_WCALL(c, agora_ping(c));
	AGH_WCALL(c, agora_var_add_int(inside, -1, NULL));
	AGH_WCALL(c, agora_semaphore_release(s, 1));

	AGH_WCALL(c, agora_event_close(go));
	AGH_WCALL(c, agora_var_close(entered));
	AGH_WCALL(c, agora_var_close(max));
	AGH_WCALL(c, agora_var_close(inside));
	AGH_WCALL(c, agora_semaphore_close(s));
	return 0;
}

START_TEST(semaphore_of_three_lets_twelve_workers_in_at_most_three_at_a_time)
{
	agora_client *c = agh_cli;
	agora_semaphore *s;
	agora_var *inside, *max, *entered;
	agora_event *go;
	pid_t pids[NROOM];
	int64_t x = -1;

	AGH_OK(c, agora_semaphore_open(c, "room", ROOM_SIZE, false, &s));
	AGH_OK(c, agora_var_open(c, "inside", agora_int(0), &inside));
	AGH_OK(c, agora_var_open(c, "max", agora_int(0), &max));
	AGH_OK(c, agora_var_open(c, "entered", agora_int(0), &entered));
	AGH_OK(c, agora_event_open(c, "go", &go));
	for (int i = 0; i < NROOM; i++)
		pids[i] = agh_spawn(enter_room, i, NULL);
	agh_wait_waiters(c, agora_event_handle(go), NROOM);
	AGH_OK(c, agora_event_set(go));
	agh_wait_all_ok(pids, NROOM);

	AGH_OK(c, agora_var_get_int(max, &x));
	printf("semaphore(3): at most %lld of %d inside at once\n",
	       (long long)x, NROOM);
	fflush(stdout);
	ck_assert_int_ge(x, 1);
	ck_assert_int_le(x, ROOM_SIZE);
	AGH_OK(c, agora_var_get_int(entered, &x));
	ck_assert_int_eq(x, NROOM);
	AGH_OK(c, agora_var_get_int(inside, &x));
	ck_assert_int_eq(x, 0);
	AGH_OK(c, agora_semaphore_value(s, &x));
	ck_assert_int_eq(x, ROOM_SIZE);
	agora_event_close(go);
	agora_var_close(entered);
	agora_var_close(max);
	agora_var_close(inside);
	agora_semaphore_close(s);
}
END_TEST

/* ---- a holder killed with SIGKILL --------------------------------------- */

/* Block until the parent kills this process. */
static int hold_until_killed(void)
{
	for (;;)
		pause();
	return 1;
}

/* Take the lock "crash" (@arg NULL) or the rlock "crash" three times, then
 * wait to be killed. */
static int hold_lock(agora_client *c, int idx, void *arg)
{
	bool ok = false;

	(void)idx;
	if (arg == NULL) {
		agora_lock *l = NULL;
		AGH_WCALL(c, agora_lock_open(c, "crash", &l));
		AGH_WCALL(c, agora_lock_acquire(l, AGORA_FOREVER, &ok));
		AGH_WCHECK(ok);
	} else {
		agora_rlock *r = NULL;
		AGH_WCALL(c, agora_rlock_open(c, "crash", &r));
		for (int i = 0; i < 3; i++) {
			AGH_WCALL(c, agora_rlock_acquire(r, 0, &ok));
			AGH_WCHECK(ok);
		}
	}
	return hold_until_killed();
}

/* Store in "latency" the seconds from "killed_at" to now. */
static int record_latency(agora_client *c)
{
	agora_var *at = NULL, *lat = NULL;
	agora_value v;

	double now = agh_now();
	AGH_WCALL(c, agora_var_open(c, "killed_at", agora_float(0), &at));
	AGH_WCALL(c, agora_var_open(c, "latency", agora_float(-1), &lat));
	AGH_WCALL(c, agora_var_get(at, &v));
	AGH_WCHECK(v.type == AGORA_FLOAT);
	AGH_WCALL(c, agora_var_set(lat, agora_float(now - v.via.f)));
	agora_value_free(&v);
	AGH_WCALL(c, agora_var_close(lat));
	AGH_WCALL(c, agora_var_close(at));
	return 0;
}

/* Park on the lock or rlock "crash" until the dead holder's hold goes. */
static int wait_for_lock(agora_client *c, int idx, void *arg)
{
	bool ok = false;
	agora_value info;

	(void)idx;
	if (arg == NULL) {
		agora_lock *l = NULL;
		AGH_WCALL(c, agora_lock_open(c, "crash", &l));
		AGH_WCALL(c, agora_lock_acquire(l, GENEROUS, &ok));
		AGH_WCHECK(ok);
		if (record_latency(c) != 0)
			return 1;
		AGH_WCALL(c, agora_lock_release(l));
		AGH_WCALL(c, agora_lock_close(l));
	} else {
		agora_rlock *r = NULL;
		int64_t count = -1;
		AGH_WCALL(c, agora_rlock_open(c, "crash", &r));
		AGH_WCALL(c, agora_rlock_acquire(r, GENEROUS, &ok));
		AGH_WCHECK(ok);
		if (record_latency(c) != 0)
			return 1;
		/* The dead holder's three levels are gone, not inherited. */
		AGH_WCALL(c, agora_info(c, agora_rlock_handle(r), &info));
		const agora_value *n = agh_map_find(info, "count");
		AGH_WCHECK(n != NULL && agora_value_to_int(*n, &count) == 0);
		agora_value_free(&info);
		AGH_WCHECK(count == 1);
		AGH_WCALL(c, agora_rlock_release(r));
		AGH_WCALL(c, agora_rlock_close(r));
	}
	return 0;
}

static bool lock_is_locked(void *ud)
{
	bool locked = false;

	AGH_OK(agh_cli, agora_lock_locked(ud, &locked));
	return locked;
}

/* Kill @holder, require that it died of SIGKILL and that @waiter then
 * exits 0; report the latency the waiter measured. */
static void kill_holder_and_check_waiter(pid_t holder, pid_t waiter,
					 agora_var *killed_at,
					 agora_var *latency, const char *what)
{
	agora_client *c = agh_cli;
	agora_value v;

	AGH_OK(c, agora_var_set(killed_at, agora_float(agh_now())));
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	int status = agh_wait_pid(holder, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	agh_wait_ok(waiter);
	AGH_OK(c, agora_var_get(latency, &v));
	ck_assert_int_eq(v.type, AGORA_FLOAT);
	printf("%s: the next waiter got it %.1f ms after the SIGKILL\n", what,
	       v.via.f * 1000);
	fflush(stdout);
	/* Promptly: the server hands it over as soon as the connection
	 * drops, far below the waiter's timeout even under valgrind. */
	ck_assert_msg(v.via.f >= 0 && v.via.f < 1.0,
		      "%s handed over %.3f s after the kill", what, v.via.f);
	agora_value_free(&v);
}

START_TEST(lock_of_a_killed_holder_goes_to_the_parked_waiter)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	agora_var *at, *lat;
	bool locked = true;

	AGH_OK(c, agora_lock_open(c, "crash", &l));
	AGH_OK(c, agora_var_open(c, "killed_at", agora_float(0), &at));
	AGH_OK(c, agora_var_open(c, "latency", agora_float(-1), &lat));
	pid_t holder = agh_spawn(hold_lock, 0, NULL);
	agh_wait_until(lock_is_locked, l, "the holder to take the lock");
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "abandoned"), 0);
	pid_t waiter = agh_spawn(wait_for_lock, 1, NULL);
	agh_wait_waiters(c, agora_lock_handle(l), 1);

	kill_holder_and_check_waiter(holder, waiter, at, lat, "lock");
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "abandoned"), 1);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "waiters"), 0);
	AGH_OK(c, agora_lock_locked(l, &locked));
	ck_assert(!locked);
	agora_var_close(lat);
	agora_var_close(at);
	agora_lock_close(l);
}
END_TEST

START_TEST(rlock_held_three_deep_by_a_killed_holder_goes_to_the_waiter)
{
	agora_client *c = agh_cli;
	agora_rlock *r;
	agora_var *at, *lat;
	static int rlock;
	bool locked = true;

	AGH_OK(c, agora_rlock_open(c, "crash", &r));
	AGH_OK(c, agora_var_open(c, "killed_at", agora_float(0), &at));
	AGH_OK(c, agora_var_open(c, "latency", agora_float(-1), &lat));
	pid_t holder = agh_spawn(hold_lock, 0, &rlock);
	agh_wait_info(c, agora_rlock_handle(r), "count", 3);
	AGH_OK(c, agora_rlock_locked(r, &locked));
	ck_assert(locked);
	pid_t waiter = agh_spawn(wait_for_lock, 1, &rlock);
	agh_wait_waiters(c, agora_rlock_handle(r), 1);

	kill_holder_and_check_waiter(holder, waiter, at, lat, "rlock");
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "abandoned"),
			 1);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "count"), 0);
	AGH_OK(c, agora_rlock_locked(r, &locked));
	ck_assert(!locked);
	agora_var_close(lat);
	agora_var_close(at);
	agora_rlock_close(r);
}
END_TEST

/* Take two permits of the semaphore @arg names, then wait to be killed. */
static int hold_two_permits(agora_client *c, int idx, void *arg)
{
	agora_semaphore *s = NULL;
	bool ok = false;

	(void)idx;
	AGH_WCALL(c, agora_semaphore_open(c, arg, 2, false, &s));
	for (int i = 0; i < 2; i++) {
		AGH_WCALL(c, agora_semaphore_acquire(s, 0, &ok));
		AGH_WCHECK(ok);
	}
	return hold_until_killed();
}

/* Park on the owned semaphore "owned" until a permit comes back. */
static int wait_for_permit(agora_client *c, int idx, void *arg)
{
	agora_semaphore *s = NULL;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_semaphore_open(c, "owned", 2, true, &s));
	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &ok));
	AGH_WCHECK(ok);
	if (record_latency(c) != 0)
		return 1;
	AGH_WCALL(c, agora_semaphore_release(s, 1));
	AGH_WCALL(c, agora_semaphore_close(s));
	return 0;
}

START_TEST(owned_semaphore_gets_back_the_permits_of_a_killed_holder)
{
	agora_client *c = agh_cli;
	agora_semaphore *s;
	agora_var *at, *lat;
	int64_t value = -1;

	AGH_OK(c, agora_semaphore_open(c, "owned", 2, true, &s));
	AGH_OK(c, agora_var_open(c, "killed_at", agora_float(0), &at));
	AGH_OK(c, agora_var_open(c, "latency", agora_float(-1), &lat));
	pid_t holder = agh_spawn(hold_two_permits, 0, "owned");
	agh_wait_info(c, agora_semaphore_handle(s), "value", 0);
	pid_t waiter = agh_spawn(wait_for_permit, 1, NULL);
	agh_wait_waiters(c, agora_semaphore_handle(s), 1);

	kill_holder_and_check_waiter(holder, waiter, at, lat,
				     "owned semaphore");
	/* One permit went to the waiter, which gave it back. */
	AGH_OK(c, agora_semaphore_value(s, &value));
	ck_assert_int_eq(value, 2);
	agora_var_close(lat);
	agora_var_close(at);
	agora_semaphore_close(s);
}
END_TEST

START_TEST(plain_semaphore_keeps_the_permits_of_a_killed_holder_taken)
{
	agora_client *c = agh_cli;
	agora_semaphore *s;
	int64_t value = -1;
	bool ok = true;

	AGH_OK(c, agora_semaphore_open(c, "plain", 3, false, &s));
	pid_t holder = agh_spawn(hold_two_permits, 0, "plain");
	agh_wait_info(c, agora_semaphore_handle(s), "value", 1);
	ck_assert_int_eq(kill(holder, SIGKILL), 0);
	int status = agh_wait_pid(holder, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The server has seen the connection go. */
	agh_wait_stats(c, "connections", 1);
	AGH_OK(c, agora_semaphore_value(s, &value));
	ck_assert_int_eq(value, 1);
	AGH_OK(c, agora_semaphore_acquire(s, 0, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_semaphore_acquire(s, 0, &ok));
	ck_assert(!ok);
	agora_semaphore_close(s);
}
END_TEST

/* ---- ownership ---------------------------------------------------------- */

START_TEST(releasing_a_lock_this_client_does_not_hold_is_not_owner)
{
	agora_client *c = agh_cli;
	agora_client *other = agh_connect(&agh_srv);
	agora_lock *mine, *theirs;
	bool ok = false, locked = false;

	AGH_OK(c, agora_lock_open(c, "m", &mine));
	AGH_OK(other, agora_lock_open(other, "m", &theirs));
	/* Held by nobody. */
	AGH_CALL_EQ(c, agora_lock_release(mine), AGORA_ENOT_OWNER);
	/* Held by another client: refused, and it stays held. */
	AGH_OK(other, agora_lock_acquire(theirs, 0, &ok));
	ck_assert(ok);
	AGH_CALL_EQ(c, agora_lock_release(mine), AGORA_ENOT_OWNER);
	AGH_OK(c, agora_lock_locked(mine, &locked));
	ck_assert(locked);
	AGH_OK(c, agora_lock_acquire(mine, 0, &ok));
	ck_assert(!ok);
	AGH_OK(other, agora_lock_release(theirs));
	AGH_CALL_EQ(other, agora_lock_release(theirs), AGORA_ENOT_OWNER);
	AGH_OK(c, agora_lock_locked(mine, &locked));
	ck_assert(!locked);
	agora_lock_close(theirs);
	agora_client_free(other);
	agora_lock_close(mine);
}
END_TEST

START_TEST(rlock_count_comes_back_to_zero_and_one_release_more_is_not_owner)
{
	agora_client *c = agh_cli;
	agora_client *other = agh_connect(&agh_srv);
	agora_rlock *r, *r2;
	bool ok = false, locked = false;
	uint32_t h;

	AGH_OK(c, agora_rlock_open(c, "r", &r));
	AGH_OK(other, agora_rlock_open(other, "r", &r2));
	h = agora_rlock_handle(r);
	AGH_OK(c, agora_rlock_acquire(r, 0, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_rlock_acquire(r, 0, &ok));
	ck_assert(ok);
	ck_assert_int_eq(agh_info_int(c, h, "count"), 2);
	AGH_OK(other, agora_rlock_acquire(r2, 0, &ok));
	ck_assert(!ok);
	AGH_CALL_EQ(other, agora_rlock_release(r2), AGORA_ENOT_OWNER);

	AGH_OK(c, agora_rlock_release(r));
	ck_assert_int_eq(agh_info_int(c, h, "count"), 1);
	AGH_OK(c, agora_rlock_locked(r, &locked));
	ck_assert(locked);
	AGH_OK(c, agora_rlock_release(r));
	ck_assert_int_eq(agh_info_int(c, h, "count"), 0);
	AGH_OK(c, agora_rlock_locked(r, &locked));
	ck_assert(!locked);
	AGH_CALL_EQ(c, agora_rlock_release(r), AGORA_ENOT_OWNER);

	/* Free for anyone now. */
	AGH_OK(other, agora_rlock_acquire(r2, 0, &ok));
	ck_assert(ok);
	AGH_OK(other, agora_rlock_release(r2));
	agora_rlock_close(r2);
	agora_client_free(other);
	agora_rlock_close(r);
}
END_TEST

START_TEST(bounded_semaphore_released_above_its_bound_is_value)
{
	agora_client *c = agh_cli;
	agora_semaphore *b, *s;
	int64_t value = -1;
	bool ok = false;

	AGH_OK(c, agora_bounded_semaphore_open(c, "bounded", 2, false, &b));
	AGH_CALL_EQ(c, agora_semaphore_release(b, 1), AGORA_EVALUE);
	AGH_OK(c, agora_semaphore_value(b, &value));
	ck_assert_int_eq(value, 2);
	AGH_OK(c, agora_semaphore_acquire(b, 0, &ok));
	ck_assert(ok);
	AGH_CALL_EQ(c, agora_semaphore_release(b, 2), AGORA_EVALUE);
	AGH_OK(c, agora_semaphore_value(b, &value));
	ck_assert_int_eq(value, 1);
	AGH_OK(c, agora_semaphore_release(b, 1));
	AGH_CALL_EQ(c, agora_semaphore_release(b, 1), AGORA_EVALUE);
	AGH_OK(c, agora_semaphore_value(b, &value));
	ck_assert_int_eq(value, 2);

	/* A plain semaphore, as Python's, may go above its start. */
	AGH_OK(c, agora_semaphore_open(c, "unbounded", 1, false, &s));
	AGH_OK(c, agora_semaphore_release(s, 2));
	AGH_OK(c, agora_semaphore_value(s, &value));
	ck_assert_int_eq(value, 3);
	/* The two kinds do not mix under one name. */
	agora_semaphore *x = NULL;
	AGH_CALL_EQ(c, agora_semaphore_open(c, "bounded", 2, false, &x),
		    AGORA_ETYPE);
	agora_semaphore_close(s);
	agora_semaphore_close(b);
}
END_TEST

/* ---- condition ---------------------------------------------------------- */

/* Take NITEMS items from the list "buf", waiting on the condition "cv"
 * whenever it is empty; then store them in the list "out". */
static int cond_consumer(agora_client *c, int idx, void *arg)
{
	agora_condition *cv = NULL;
	agora_list *buf = NULL, *out = NULL;
	agora_value got[NITEMS];
	size_t n = 0, len = 0;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_condition_open(c, "cv", 0, &cv));
	AGH_WCALL(c, agora_list_open(c, "buf", &buf));
	AGH_WCALL(c, agora_list_open(c, "out", &out));
	AGH_WCALL(c, agora_condition_acquire(cv, AGORA_FOREVER, &ok));
	AGH_WCHECK(ok);
	while (n < NITEMS) {
		AGH_WCALL(c, agora_list_len(buf, &len));
		if (len == 0) {
			AGH_WCALL(c, agora_condition_wait(cv, GENEROUS, &ok));
			AGH_WCHECK(ok);
			continue;
		}
		int64_t x = -1;
		agora_value v;
		AGH_WCALL(c, agora_list_pop(buf, 0, &v));
		int rc = agora_value_to_int(v, &x);
		agora_value_free(&v);
		AGH_WCHECK(rc == 0);
		got[n++] = agora_int(x);
	}
	AGH_WCALL(c, agora_condition_release(cv));
	AGH_WCALL(c, agora_list_extend(out, got, n));
	AGH_WCALL(c, agora_list_close(out));
	AGH_WCALL(c, agora_list_close(buf));
	AGH_WCALL(c, agora_condition_close(cv));
	return 0;
}

/* Append 0..NITEMS-1 to "buf", each under the condition, notifying. */
static int cond_producer(agora_client *c, int idx, void *arg)
{
	agora_condition *cv = NULL;
	agora_list *buf = NULL;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_condition_open(c, "cv", 0, &cv));
	AGH_WCALL(c, agora_list_open(c, "buf", &buf));
	for (int i = 0; i < NITEMS; i++) {
		AGH_WCALL(c, agora_condition_acquire(cv, GENEROUS, &ok));
		AGH_WCHECK(ok);
		AGH_WCALL(c, agora_list_append(buf, agora_int(i)));
		AGH_WCALL(c, agora_condition_notify(cv, 1));
		AGH_WCALL(c, agora_condition_release(cv));
	}
	AGH_WCALL(c, agora_list_close(buf));
	AGH_WCALL(c, agora_condition_close(cv));
	return 0;
}

START_TEST(consumer_waits_on_a_condition_until_the_producer_notifies)
{
	agora_client *c = agh_cli;
	agora_condition *cv;
	agora_list *buf, *out;
	agora_value all;
	int64_t want[NITEMS];

	AGH_OK(c, agora_condition_open(c, "cv", 0, &cv));
	AGH_OK(c, agora_list_open(c, "buf", &buf));
	AGH_OK(c, agora_list_open(c, "out", &out));
	pid_t consumer = agh_spawn(cond_consumer, 0, NULL);
	/* The consumer found the list empty and waits. */
	agh_wait_waiters(c, agora_condition_handle(cv), 1);
	pid_t producer = agh_spawn(cond_producer, 1, NULL);
	agh_wait_ok(producer);
	agh_wait_ok(consumer);

	for (int i = 0; i < NITEMS; i++)
		want[i] = i;
	AGH_OK(c, agora_list_copy(out, &all));
	agh_assert_ints(all, want, NITEMS);
	agora_value_free(&all);
	size_t len = 99;
	AGH_OK(c, agora_list_len(buf, &len));
	ck_assert_uint_eq(len, 0);
	agora_list_close(out);
	agora_list_close(buf);
	agora_condition_close(cv);
}
END_TEST

START_TEST(condition_wait_times_out_false_and_holds_the_lock_again)
{
	agora_client *c = agh_cli;
	agora_condition *cv;
	bool ok = false, notified = true;

	AGH_OK(c, agora_condition_open(c, NULL, 0, &cv));
	AGH_OK(c, agora_condition_acquire(cv, AGORA_FOREVER, &ok));
	ck_assert(ok);
	double t0 = agh_now();
	AGH_OK(c, agora_condition_wait(cv, 0.05, &notified));
	ck_assert(!notified);
	ck_assert_msg(agh_now() - t0 >= 0.04, "wait(0.05) took %.3f s",
		      agh_now() - t0);
	/* Held again: released once, and only once. */
	AGH_OK(c, agora_condition_release(cv));
	AGH_CALL_EQ(c, agora_condition_release(cv), AGORA_ENOT_OWNER);
	agora_condition_close(cv);
}
END_TEST

START_TEST(condition_wait_and_notify_without_the_lock_are_not_owner)
{
	agora_client *c = agh_cli;
	agora_client *other = agh_connect(&agh_srv);
	agora_condition *cv, *cv2;
	bool ok = false;

	AGH_OK(c, agora_condition_open(c, "cvx", 0, &cv));
	AGH_OK(other, agora_condition_open(other, "cvx", 0, &cv2));
	AGH_CALL_EQ(c, agora_condition_notify(cv, 1), AGORA_ENOT_OWNER);
	AGH_CALL_EQ(c, agora_condition_notify_all(cv), AGORA_ENOT_OWNER);
	AGH_CALL_EQ(c, agora_condition_wait(cv, 0, &ok), AGORA_ENOT_OWNER);
	/* Held by another client is no better. */
	AGH_OK(other, agora_condition_acquire(cv2, 0, &ok));
	ck_assert(ok);
	AGH_CALL_EQ(c, agora_condition_notify(cv, 1), AGORA_ENOT_OWNER);
	AGH_CALL_EQ(c, agora_condition_wait(cv, 0.01, &ok), AGORA_ENOT_OWNER);
	AGH_OK(other, agora_condition_notify(cv2, 1));
	AGH_OK(other, agora_condition_notify_all(cv2));
	AGH_OK(other, agora_condition_release(cv2));
	agora_condition_close(cv2);
	agora_client_free(other);
	agora_condition_close(cv);
}
END_TEST

/* Wait on the condition "cvm" (made by the parent over the lock "m"). */
static int wait_on_cvm(agora_client *c, int idx, void *arg)
{
	agora_condition *cv = NULL;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_condition_open(c, "cvm", 0, &cv));
	AGH_WCALL(c, agora_condition_acquire(cv, GENEROUS, &ok));
	AGH_WCHECK(ok);
	AGH_WCALL(c, agora_condition_wait(cv, GENEROUS, &ok));
	AGH_WCHECK(ok);
	AGH_WCALL(c, agora_condition_release(cv));
	AGH_WCALL(c, agora_condition_close(cv));
	return 0;
}

START_TEST(condition_over_a_lock_frees_it_while_waiting_and_wakes_with_it)
{
	agora_client *c = agh_cli;
	agora_lock *m;
	agora_condition *cv;
	bool ok = false, locked = true;
	int status = 0;

	AGH_OK(c, agora_lock_open(c, "m", &m));
	AGH_OK(c, agora_condition_open(c, "cvm", agora_lock_handle(m), &cv));
	pid_t pid = agh_spawn(wait_on_cvm, 0, NULL);
	agh_wait_waiters(c, agora_condition_handle(cv), 1);
	/* The waiter let go of the lock while it waits. */
	AGH_OK(c, agora_lock_locked(m, &locked));
	ck_assert(!locked);
	AGH_OK(c, agora_lock_acquire(m, 0, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_condition_notify(cv, 1));
	/* Woken, it needs the lock back before it answers. */
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	AGH_OK(c, agora_lock_release(m));
	agh_wait_ok(pid);
	AGH_OK(c, agora_lock_locked(m, &locked));
	ck_assert(!locked);
	agora_condition_close(cv);
	agora_lock_close(m);
}
END_TEST

/* ---- drop --------------------------------------------------------------- */

/* Park on the lock "gate"; when it comes, store the lock's id in the value
 * "got-id". */
static int wait_at_gate(agora_client *c, int idx, void *arg)
{
	agora_lock *l = NULL;
	agora_var *got = NULL;
	agora_value info;
	int64_t id = -1;
	bool ok = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_lock_open(c, "gate", &l));
	AGH_WCALL(c, agora_var_open(c, "got-id", agora_int(-1), &got));
	AGH_WCALL(c, agora_lock_acquire(l, GENEROUS, &ok));
	AGH_WCHECK(ok);
	AGH_WCALL(c, agora_info(c, agora_lock_handle(l), &info));
	const agora_value *v = agh_map_find(info, "id");
	AGH_WCHECK(v != NULL && agora_value_to_int(*v, &id) == 0);
	agora_value_free(&info);
	AGH_WCALL(c, agora_var_set(got, agora_int(id)));
	AGH_WCALL(c, agora_lock_release(l));
	AGH_WCALL(c, agora_var_close(got));
	AGH_WCALL(c, agora_lock_close(l));
	return 0;
}

START_TEST(dropping_a_locks_name_keeps_its_parked_waiter_waiting)
{
	agora_client *c = agh_cli;
	agora_lock *old, *fresh;
	agora_var *got;
	agora_value info;
	bool ok = false, existed = false, locked = true;
	int status = 0;
	int64_t x = 0;

	AGH_OK(c, agora_lock_open(c, "gate", &old));
	AGH_OK(c, agora_var_open(c, "got-id", agora_int(-1), &got));
	AGH_OK(c, agora_lock_acquire(old, 0, &ok));
	ck_assert(ok);
	int64_t old_id = agh_info_int(c, agora_lock_handle(old), "id");
	pid_t pid = agh_spawn(wait_at_gate, 0, NULL);
	agh_wait_waiters(c, agora_lock_handle(old), 1);

	AGH_OK(c, agora_drop(c, "gate", &existed));
	ck_assert(existed);
	/* The object lives on, anonymous, with its waiter. */
	AGH_OK(c, agora_info(c, agora_lock_handle(old), &info));
	const agora_value *name = agh_map_find(info, "name");
	ck_assert_ptr_nonnull(name);
	ck_assert_int_eq(name->type, AGORA_NIL);
	ck_assert_int_eq(agh_map_int(info, "waiters"), 1);
	agora_value_free(&info);

	/* The name now makes a new, free lock. */
	AGH_OK(c, agora_lock_open(c, "gate", &fresh));
	ck_assert_int_ne(agh_info_int(c, agora_lock_handle(fresh), "id"),
			 old_id);
	AGH_OK(c, agora_lock_locked(fresh, &locked));
	ck_assert(!locked);
	AGH_OK(c, agora_lock_acquire(fresh, 0, &ok));
	ck_assert(ok);
	AGH_OK(c, agora_lock_release(fresh));

	/* Still parked on the old lock until its holder releases it. */
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(old), "waiters"), 1);
	ck_assert_int_eq(waitpid(pid, &status, WNOHANG), 0);
	AGH_OK(c, agora_lock_release(old));
	agh_wait_ok(pid);
	AGH_OK(c, agora_var_get_int(got, &x));
	ck_assert_int_eq(x, old_id);
	agora_lock_close(fresh);
	agora_var_close(got);
	agora_lock_close(old);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("sync");

	AGH_ADD(s, ten_workers_race_for_one_ticket_under_a_lock_and_one_wins);
	AGH_ADD(s, without_the_lock_the_ticket_race_may_have_several_winners);
	AGH_ADD(s, lock_with_releases_the_lock_even_when_the_body_fails);
	AGH_ADD(
	    s,
	    semaphore_of_three_lets_twelve_workers_in_at_most_three_at_a_time);
	AGH_ADD(s, lock_of_a_killed_holder_goes_to_the_parked_waiter);
	AGH_ADD(s, rlock_held_three_deep_by_a_killed_holder_goes_to_the_waiter);
	AGH_ADD(s, owned_semaphore_gets_back_the_permits_of_a_killed_holder);
	AGH_ADD(s, plain_semaphore_keeps_the_permits_of_a_killed_holder_taken);
	AGH_ADD(s, releasing_a_lock_this_client_does_not_hold_is_not_owner);
	AGH_ADD(
	    s,
	    rlock_count_comes_back_to_zero_and_one_release_more_is_not_owner);
	AGH_ADD(s, bounded_semaphore_released_above_its_bound_is_value);
	AGH_ADD(s, consumer_waits_on_a_condition_until_the_producer_notifies);
	AGH_ADD(s, condition_wait_times_out_false_and_holds_the_lock_again);
	AGH_ADD(s, condition_wait_and_notify_without_the_lock_are_not_owner);
	AGH_ADD(s,
		condition_over_a_lock_frees_it_while_waiting_and_wakes_with_it);
	AGH_ADD(s, dropping_a_locks_name_keeps_its_parked_waiter_waiting);
	return agh_run_suite(s);
}
