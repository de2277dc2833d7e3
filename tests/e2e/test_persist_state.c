/*
 * test_persist_state.c - what a server with a data directory (agorad
 * --data-dir) gives back after a restart of the queues, locks, conditions,
 * semaphores and barriers (docs/protocol.md section 10): a queue's items
 * and bound, a joinable queue's unfinished count, a lock's fence and
 * abandoned count (a lock held at the restart is free and counts one more
 * abandonment), a semaphore's value with its owned permits given back, a
 * barrier's broken flag, an empty cycle.
 *
 * Each test fills its objects, then restarts the server on the same data
 * directory in every way, each from an empty directory:
 *   JOURNAL   SIGKILL, with the journal only;
 *   SNAPSHOT  `save`, then SIGKILL: the snapshot only;
 *   MIDDLE    `save` halfway through the filling, then SIGKILL: the
 *             snapshot and the journal written after it;
 *   STOPPED   SIGTERM: the server stops as for an operator.
 * Then a new client checks the objects, opened by name without creating.
 * The clients that filled them are still connected when the server goes,
 * so what they hold (a lock, owned permits) is held at the restart.
 */
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* Long enough never to expire in a passing run, valgrind included. */
#define GENEROUS 60.0

enum mode { JOURNAL, SNAPSHOT, MIDDLE, STOPPED, NMODES };

static const char *const mode_names[] = { "journal", "snapshot", "middle",
					  "stopped" };

/* The mode of the round running: fill functions call halfway() */
static enum mode cur_mode;
/* The clients that fill, kept where a forked worker still reaches them
 * (it exits without freeing what it inherited). */
static agora_client *fill_c, *fill_c2;

/*
 * The data directory: made and removed around each test by an unchecked
 * fixture, which runs in the test's parent whether the test passes or
 * fails; emptied before each mode.
 */
/* A server on the data directory, which is emptied first. */
struct pserver {
	agh_server s;
	const char *args[3];
};

static void pserver_start(struct pserver *p)
{
	ck_assert_int_eq(agh_remove_tree(agh_datadir, true), 0);
	p->args[0] = "--data-dir";
	p->args[1] = agh_datadir;
	p->args[2] = NULL;
	agh_server_start_args(&p->s, p->args);
}

static void pserver_stop(struct pserver *p)
{
	agh_server_stop(&p->s);
}

/* `save`: a snapshot, on disk when it answers. */
static void save(agora_client *c)
{
	agora_value ret;

	AGH_OK(c, agora_call(c, "save", agora_array(NULL, 0), &ret));
	ck_assert_int_ge(agh_map_int(ret, "generation"), 1);
	agora_value_free(&ret);
}

/* Halfway through a filling: the snapshot of MIDDLE. */
static void halfway(agora_client *c)
{
	if (cur_mode == MIDDLE)
		save(c);
}

/* End the server as @m says and start it again on its data directory. */
static void restart(struct pserver *p, agora_client *c, enum mode m)
{
	if (m == SNAPSHOT)
		save(c);
	agh_server_restart(&p->s, m == STOPPED ? SIGTERM : SIGKILL);
}

/*
 * Run @fill with a client and a second one (which @fill may free, setting
 * it NULL) in every mode, restart, and run @check with a new client. @fill
 * may leave in @late the pids of workers (at most 4) whose call the
 * restart ends, to be reaped after it.
 */
typedef void (*fill_fn)(agora_client *c, agora_client **c2, pid_t *late);
typedef void (*check_fn)(agora_client *c);

static void run_modes(fill_fn fill, check_fn check)
{
	for (int m = 0; m < NMODES; m++) {
		struct pserver p;
		pid_t late[4] = { 0, 0, 0, 0 };

		cur_mode = (enum mode)m;
		fprintf(stderr, "mode %s\n", mode_names[m]);
		pserver_start(&p);
		fill_c = agh_connect(&p.s);
		fill_c2 = agh_connect(&p.s);
		fill(fill_c, &fill_c2, late);
		restart(&p, fill_c, (enum mode)m);
		agora_client_free(fill_c2);
		agora_client_free(fill_c);
		fill_c = fill_c2 = NULL;
		for (int i = 0; i < 4; i++)
			if (late[i] > 0)
				agh_wait_pid(late[i], AGH_WORKER_TIMEOUT);
		agora_client *n = agh_connect(&p.s);
		check(n);
		agora_client_free(n);
		pserver_stop(&p);
	}
}

/* A bool field of `info` on @handle. */
static bool info_bool(agora_client *c, uint32_t handle, const char *field)
{
	agora_value info;
	bool b;

	AGH_OK(c, agora_info(c, handle, &info));
	const agora_value *v = agh_map_find(info, field);
	ck_assert_msg(v != NULL && v->type == AGORA_BOOL,
		      "info has no bool \"%s\"", field);
	b = v->via.b;
	agora_value_free(&info);
	return b;
}

/* ---- queue -------------------------------------------------------------- */

/* A getter parked on the empty queue "q-served-get": it gets 7. */
static int get_seven(agora_client *c, int idx, void *arg)
{
	agora_queue *q;
	int64_t x = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_open_ex(c, "queue", "q-served-get", NULL, 0,
				   AGORA_OPEN_NO_CREATE, &q));
	AGH_WCALL(c, agora_queue_get_int(q, GENEROUS, &x));
	AGH_WCHECK(x == 7);
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

/* A putter parked on the full queue "q-served-put": its 11 gets in. */
static int put_eleven(agora_client *c, int idx, void *arg)
{
	agora_queue *q;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_open_ex(c, "queue", "q-served-put", NULL, 0,
				   AGORA_OPEN_NO_CREATE, &q));
	AGH_WCALL(c, agora_queue_put(q, agora_int(11), GENEROUS));
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

static void fill_queues(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_queue *q, *sg, *sp, *to;
	int64_t x = 0;
	pid_t pid;

	(void)c2;
	(void)late;
	AGH_OK(c, agora_queue_open(c, "q", 5, &q));
	for (int i = 1; i <= 3; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 1);

	/* A get parked, then served by a put: it took the item. */
	AGH_OK(c, agora_queue_open(c, "q-served-get", 0, &sg));
	pid = agh_spawn(get_seven, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(sg), 1);
	AGH_OK(c, agora_queue_put(sg, agora_int(7), 0));
	agh_wait_ok(pid);

	halfway(c);

	/* A put parked on a full queue, then served by a get. */
	AGH_OK(c, agora_queue_open(c, "q-served-put", 1, &sp));
	AGH_OK(c, agora_queue_put(sp, agora_int(10), 0));
	pid = agh_spawn(put_eleven, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(sp), 1);
	AGH_OK(c, agora_queue_get_int(sp, 0, &x));
	ck_assert_int_eq(x, 10);
	agh_wait_ok(pid);

	/* A put that timed out: it never got in. */
	AGH_OK(c, agora_queue_open(c, "q-timed-out", 1, &to));
	AGH_OK(c, agora_queue_put(to, agora_int(20), 0));
	AGH_CALL_EQ(c, agora_queue_put(to, agora_int(21), 0.05), AGORA_EFULL);

	/* After the snapshot of MIDDLE: the journal on top of it. */
	AGH_OK(c, agora_queue_put(q, agora_str("four"), 0));
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 2);
	AGH_OK(c, agora_queue_put(q, agora_int(5), 0));
	agora_queue_close(to);
	agora_queue_close(sp);
	agora_queue_close(sg);
	agora_queue_close(q);
}

static void check_queues(agora_client *c)
{
	agora_queue *q, *sg, *sp, *to;
	agora_value items;
	size_t n = 9;
	bool full = false;

	AGH_OK(c, agora_open_ex(c, "queue", "q", NULL, 0, AGORA_OPEN_NO_CREATE,
				&q));
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "maxsize"), 5);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 3);
	AGH_OK(c, agora_queue_peek(q, 3, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	ck_assert_uint_eq(items.via.array.len, 3);
	agh_assert_int(items.via.array.items[0], 3);
	agh_assert_str(items.via.array.items[1], "four");
	agh_assert_int(items.via.array.items[2], 5);
	agora_value_free(&items);

	AGH_OK(c, agora_open_ex(c, "queue", "q-served-get", NULL, 0,
				AGORA_OPEN_NO_CREATE, &sg));
	AGH_OK(c, agora_queue_qsize(sg, &n));
	ck_assert_msg(n == 0, "the item a parked get took came back");

	AGH_OK(c, agora_open_ex(c, "queue", "q-served-put", NULL, 0,
				AGORA_OPEN_NO_CREATE, &sp));
	AGH_OK(c, agora_queue_peek(sp, 5, &items));
	const int64_t eleven[] = { 11 };
	agh_assert_ints(items, eleven, 1);
	agora_value_free(&items);
	AGH_OK(c, agora_queue_full(sp, &full));
	ck_assert(full);
	AGH_CALL_EQ(c, agora_queue_put_nowait(sp, agora_int(12)), AGORA_EFULL);

	AGH_OK(c, agora_open_ex(c, "queue", "q-timed-out", NULL, 0,
				AGORA_OPEN_NO_CREATE, &to));
	AGH_OK(c, agora_queue_peek(to, 5, &items));
	const int64_t twenty[] = { 20 };
	agh_assert_ints(items, twenty, 1);
	agora_value_free(&items);

	agora_queue_close(to);
	agora_queue_close(sp);
	agora_queue_close(sg);
	agora_queue_close(q);
}

START_TEST(queue_items_and_bound_come_back_served_waiters_counted_once)
{
	run_modes(fill_queues, check_queues);
}
END_TEST

/* ---- joinable_queue ----------------------------------------------------- */

/* A getter parked on the empty joinable queue "jq-served": it gets 9 and
 * never calls task_done. */
static int jget_nine(agora_client *c, int idx, void *arg)
{
	agora_jqueue *q;
	int64_t x = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_open_ex(c, "joinable_queue", "jq-served", NULL, 0,
				   AGORA_OPEN_NO_CREATE, &q));
	AGH_WCALL(c, agora_jqueue_get_int(q, GENEROUS, &x));
	AGH_WCHECK(x == 9);
	AGH_WCALL(c, agora_jqueue_close(q));
	return 0;
}

static void fill_jqueues(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_jqueue *q, *s;
	int64_t x = 0;
	pid_t pid;

	(void)c2;
	(void)late;
	AGH_OK(c, agora_jqueue_open(c, "jq", 0, &q));
	for (int i = 1; i <= 4; i++)
		AGH_OK(c, agora_jqueue_put(q, agora_int(i), 0));
	AGH_OK(c, agora_jqueue_get_int(q, 0, &x));
	AGH_OK(c, agora_jqueue_get_int(q, 0, &x));
	AGH_OK(c, agora_jqueue_task_done(q));
	/* Items 3 and 4, and 2 taken not done: 3 unfinished. */
	ck_assert_int_eq(agh_info_int(c, agora_jqueue_handle(q), "unfinished"),
			 3);

	halfway(c);

	AGH_OK(c, agora_jqueue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 3);
	AGH_OK(c, agora_jqueue_put(q, agora_int(5), 0));
	AGH_OK(c, agora_jqueue_task_done(q));
	/* Items 4 and 5, and one taken not done. */
	ck_assert_int_eq(agh_info_int(c, agora_jqueue_handle(q), "unfinished"),
			 3);

	AGH_OK(c, agora_jqueue_open(c, "jq-served", 0, &s));
	pid = agh_spawn(jget_nine, 0, NULL);
	agh_wait_waiters(c, agora_jqueue_handle(s), 1);
	AGH_OK(c, agora_jqueue_put(s, agora_int(9), 0));
	agh_wait_ok(pid);
	agora_jqueue_close(s);
	agora_jqueue_close(q);
}

static void check_jqueues(agora_client *c)
{
	agora_jqueue *q, *s;
	agora_value items;
	size_t n = 9;
	bool done = true;

	AGH_OK(c, agora_open_ex(c, "joinable_queue", "jq", NULL, 0,
				AGORA_OPEN_NO_CREATE, &q));
	AGH_OK(c, agora_jqueue_peek(q, 5, &items));
	const int64_t want[] = { 4, 5 };
	agh_assert_ints(items, want, 2);
	agora_value_free(&items);
	ck_assert_int_eq(agh_info_int(c, agora_jqueue_handle(q), "unfinished"),
			 3);
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(!done);
	for (int i = 0; i < 3; i++)
		AGH_OK(c, agora_jqueue_task_done(q));
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);
	AGH_CALL_EQ(c, agora_jqueue_task_done(q), AGORA_EVALUE);

	AGH_OK(c, agora_open_ex(c, "joinable_queue", "jq-served", NULL, 0,
				AGORA_OPEN_NO_CREATE, &s));
	AGH_OK(c, agora_jqueue_qsize(s, &n));
	ck_assert_msg(n == 0, "the item a parked get took came back");
	ck_assert_int_eq(agh_info_int(c, agora_jqueue_handle(s), "unfinished"),
			 1);
	agora_jqueue_close(s);
	agora_jqueue_close(q);
}

START_TEST(joinable_queue_keeps_its_items_and_unfinished_count)
{
	run_modes(fill_jqueues, check_jqueues);
}
END_TEST

/* ---- lock and rlock ----------------------------------------------------- */

/* The tokens the filling saw, for the check. */
static uint64_t tok_free, tok_held, tok_rlock, tok_max;

static void fill_locks(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_lock *l, *held, *gone;
	agora_rlock *r;
	bool got = false;
	uint64_t t = 0;

	(void)late;
	AGH_OK(c, agora_lock_open(c, "L", &l));
	AGH_OK(c, agora_lock_acquire_fenced(l, 0, &got, &t));
	ck_assert(got);
	AGH_OK(c, agora_lock_release(l));

	/* Held by c when the server goes. */
	AGH_OK(c, agora_lock_open(c, "L-held", &held));
	AGH_OK(c, agora_lock_acquire_fenced(held, 0, &got, &tok_held));
	ck_assert(got);

	/* Abandoned once before the restart: c2 held it and went away. */
	AGH_OK(*c2, agora_lock_open(*c2, "L-gone", &gone));
	AGH_OK(*c2, agora_lock_acquire(gone, 0, &got));
	ck_assert(got);
	agora_lock_close(gone);
	agora_client_free(*c2);
	*c2 = NULL;
	AGH_OK(c, agora_lock_open(c, "L-gone", &gone));
	agh_wait_info(c, agora_lock_handle(gone), "abandoned", 1);

	halfway(c);

	/* An rlock held two deep by c when the server goes. */
	AGH_OK(c, agora_rlock_open(c, "R", &r));
	AGH_OK(c, agora_rlock_acquire_fenced(r, 0, &got, &tok_rlock));
	AGH_OK(c, agora_rlock_acquire(r, 0, &got));
	ck_assert(got);

	AGH_OK(c, agora_lock_acquire_fenced(l, 0, &got, &tok_free));
	AGH_OK(c, agora_lock_release(l));
	tok_max = tok_free;
	/* Closing a handle keeps what it holds: held until c goes. */
	agora_rlock_close(r);
	agora_lock_close(gone);
	agora_lock_close(held);
	agora_lock_close(l);
}

static void check_locks(agora_client *c)
{
	agora_lock *l, *held, *gone;
	agora_rlock *r;
	bool locked = true, got = false;
	uint64_t t = 0;

	AGH_OK(c, agora_open_ex(c, "lock", "L", NULL, 0, AGORA_OPEN_NO_CREATE,
				&l));
	AGH_OK(c, agora_lock_locked(l, &locked));
	ck_assert(!locked);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "fence"),
			 (int64_t)tok_free);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(l), "abandoned"), 0);

	AGH_OK(c, agora_open_ex(c, "lock", "L-held", NULL, 0,
				AGORA_OPEN_NO_CREATE, &held));
	AGH_OK(c, agora_lock_locked(held, &locked));
	ck_assert_msg(!locked, "a lock held at the restart is still held");
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(held), "fence"),
			 (int64_t)tok_held);
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(held), "abandoned"),
			 1);

	AGH_OK(c, agora_open_ex(c, "lock", "L-gone", NULL, 0,
				AGORA_OPEN_NO_CREATE, &gone));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(gone), "abandoned"),
			 1);

	AGH_OK(c, agora_open_ex(c, "rlock", "R", NULL, 0, AGORA_OPEN_NO_CREATE,
				&r));
	AGH_OK(c, agora_rlock_locked(r, &locked));
	ck_assert(!locked);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "count"), 0);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "abandoned"),
			 1);
	ck_assert_int_eq(agh_info_int(c, agora_rlock_handle(r), "fence"),
			 (int64_t)tok_rlock);

	/* Tokens go on from the largest given before the restart, on any
	 * lock. */
	AGH_OK(c, agora_lock_acquire_fenced(held, 0, &got, &t));
	ck_assert(got);
	ck_assert_msg(t > tok_max,
		      "token %llu after the restart, not above "
		      "%llu given before",
		      (unsigned long long)t, (unsigned long long)tok_max);
	AGH_OK(c, agora_lock_release(held));

	agora_rlock_close(r);
	agora_lock_close(gone);
	agora_lock_close(held);
	agora_lock_close(l);
}

START_TEST(locks_keep_fence_and_abandoned_and_come_back_free)
{
	run_modes(fill_locks, check_locks);
}
END_TEST

/* ---- condition ---------------------------------------------------------- */

static int64_t cv_lock_id;

static void fill_conditions(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_condition *cv, *cv2;
	agora_lock *cl;
	bool got = false, notified = true;

	(void)c2;
	(void)late;
	/* Over an rlock of its own, held by c when the server goes. */
	AGH_OK(c, agora_condition_open(c, "cv", 0, &cv));
	cv_lock_id = agh_info_int(c, agora_condition_handle(cv), "lock");
	AGH_OK(c, agora_condition_acquire(cv, 0, &got));
	ck_assert(got);

	halfway(c);

	/* A wait that times out gives the lock up and takes it back. */
	AGH_OK(c, agora_condition_wait(cv, 0.01, &notified));
	ck_assert(!notified);

	/* Over a named lock, free at the restart. */
	AGH_OK(c, agora_lock_open(c, "CL", &cl));
	AGH_OK(c, agora_condition_open(c, "cv2", agora_lock_handle(cl), &cv2));
	AGH_OK(c, agora_condition_acquire(cv2, 0, &got));
	ck_assert(got);
	AGH_OK(c, agora_condition_release(cv2));
	agora_condition_close(cv2);
	agora_lock_close(cl);
	agora_condition_close(cv);
}

static void check_conditions(agora_client *c)
{
	agora_condition *cv, *cv2;
	agora_lock *cl;
	bool got = false, locked = false;

	AGH_OK(c, agora_open_ex(c, "condition", "cv", NULL, 0,
				AGORA_OPEN_NO_CREATE, &cv));
	uint32_t h = agora_condition_handle(cv);
	ck_assert_int_eq(agh_info_int(c, h, "lock"), cv_lock_id);
	ck_assert_int_eq(agh_info_int(c, h, "abandoned"), 1);
	ck_assert_int_eq(agh_info_int(c, h, "count"), 0);
	AGH_OK(c, agora_condition_acquire(cv, 0, &got));
	ck_assert(got);
	AGH_OK(c, agora_condition_notify_all(cv));
	AGH_OK(c, agora_condition_release(cv));

	AGH_OK(c, agora_open_ex(c, "lock", "CL", NULL, 0, AGORA_OPEN_NO_CREATE,
				&cl));
	AGH_OK(c, agora_open_ex(c, "condition", "cv2", NULL, 0,
				AGORA_OPEN_NO_CREATE, &cv2));
	ck_assert_int_eq(agh_info_int(c, agora_condition_handle(cv2), "lock"),
			 agh_info_int(c, agora_lock_handle(cl), "id"));
	ck_assert_int_eq(agh_info_int(c, agora_lock_handle(cl), "abandoned"),
			 0);
	/* Still one lock: the condition's acquire takes the named lock. */
	AGH_OK(c, agora_condition_acquire(cv2, 0, &got));
	ck_assert(got);
	AGH_OK(c, agora_lock_locked(cl, &locked));
	ck_assert(locked);
	AGH_OK(c, agora_condition_release(cv2));

	agora_condition_close(cv2);
	agora_lock_close(cl);
	agora_condition_close(cv);
}

START_TEST(condition_keeps_its_lock_its_own_rlock_or_a_named_one)
{
	run_modes(fill_conditions, check_conditions);
}
END_TEST

/* ---- semaphore and bounded_semaphore ------------------------------------ */

/* An acquire parked on the semaphore "S-served", served by a release. */
static int acquire_one(agora_client *c, int idx, void *arg)
{
	agora_semaphore *s;
	bool got = false;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_open_ex(c, "semaphore", "S-served", NULL, 0,
				   AGORA_OPEN_NO_CREATE, &s));
	AGH_WCALL(c, agora_semaphore_acquire(s, GENEROUS, &got));
	AGH_WCHECK(got);
	AGH_WCALL(c, agora_semaphore_close(s));
	return 0;
}

static void fill_semaphores(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_semaphore *s, *so, *so2, *bs, *sv;
	bool got = false;
	pid_t pid;

	(void)late;
	AGH_OK(c, agora_semaphore_open(c, "S", 3, false, &s));
	AGH_OK(c, agora_semaphore_acquire(s, 0, &got));
	AGH_OK(c, agora_semaphore_acquire(s, 0, &got));
	ck_assert(got);

	/* Owned: c holds 2 when the server goes; c2 took 1 and went. */
	AGH_OK(c, agora_semaphore_open(c, "S-owned", 3, true, &so));
	AGH_OK(c, agora_semaphore_acquire(so, 0, &got));
	AGH_OK(c, agora_semaphore_acquire(so, 0, &got));
	AGH_OK(*c2, agora_semaphore_open(*c2, "S-owned", 3, true, &so2));
	AGH_OK(*c2, agora_semaphore_acquire(so2, 0, &got));
	ck_assert(got);
	agora_semaphore_close(so2);
	agora_client_free(*c2);
	*c2 = NULL;
	agh_wait_info(c, agora_semaphore_handle(so), "value", 1);

	AGH_OK(c, agora_bounded_semaphore_open(c, "BS", 2, false, &bs));
	AGH_OK(c, agora_semaphore_acquire(bs, 0, &got));
	ck_assert(got);

	halfway(c);

	AGH_OK(c, agora_semaphore_release(s, 1));

	AGH_OK(c, agora_semaphore_open(c, "S-served", 0, false, &sv));
	pid = agh_spawn(acquire_one, 0, NULL);
	agh_wait_waiters(c, agora_semaphore_handle(sv), 1);
	AGH_OK(c, agora_semaphore_release(sv, 1));
	agh_wait_ok(pid);

	agora_semaphore_close(sv);
	agora_semaphore_close(bs);
	agora_semaphore_close(so);
	agora_semaphore_close(s);
}

static void check_semaphores(agora_client *c)
{
	agora_semaphore *s, *so, *bs, *sv;
	int64_t v = -1;

	AGH_OK(c, agora_open_ex(c, "semaphore", "S", NULL, 0,
				AGORA_OPEN_NO_CREATE, &s));
	AGH_OK(c, agora_semaphore_value(s, &v));
	ck_assert_int_eq(v, 2);
	ck_assert_int_eq(agh_info_int(c, agora_semaphore_handle(s), "initial"),
			 3);
	ck_assert(!info_bool(c, agora_semaphore_handle(s), "owned"));

	AGH_OK(c, agora_open_ex(c, "semaphore", "S-owned", NULL, 0,
				AGORA_OPEN_NO_CREATE, &so));
	AGH_OK(c, agora_semaphore_value(so, &v));
	ck_assert_msg(v == 3,
		      "owned semaphore: value %lld, not 3: the "
		      "permits held at the restart are not back",
		      (long long)v);
	ck_assert(info_bool(c, agora_semaphore_handle(so), "owned"));
	/* Owned still: c holds none of it. */
	AGH_CALL_EQ(c, agora_semaphore_release(so, 1), AGORA_ENOT_OWNER);

	AGH_OK(c, agora_open_ex(c, "bounded_semaphore", "BS", NULL, 0,
				AGORA_OPEN_NO_CREATE, &bs));
	AGH_OK(c, agora_semaphore_value(bs, &v));
	ck_assert_int_eq(v, 1);
	AGH_OK(c, agora_semaphore_release(bs, 1));
	AGH_CALL_EQ(c, agora_semaphore_release(bs, 1), AGORA_EVALUE);

	AGH_OK(c, agora_open_ex(c, "semaphore", "S-served", NULL, 0,
				AGORA_OPEN_NO_CREATE, &sv));
	AGH_OK(c, agora_semaphore_value(sv, &v));
	ck_assert_int_eq(v, 0);

	agora_semaphore_close(sv);
	agora_semaphore_close(bs);
	agora_semaphore_close(so);
	agora_semaphore_close(s);
}

START_TEST(semaphores_keep_their_value_and_owned_permits_come_back)
{
	run_modes(fill_semaphores, check_semaphores);
}
END_TEST

/* ---- barrier ------------------------------------------------------------ */

/* A party waiting on "B-waiting" when the server goes: its call fails
 * (the connection ends), whatever the error. */
static int wait_until_the_end(agora_client *c, int idx, void *arg)
{
	agora_barrier *b;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_open_ex(c, "barrier", "B-waiting", NULL, 0,
				   AGORA_OPEN_NO_CREATE, &b));
	AGH_WCHECK(agora_barrier_wait(b, GENEROUS, NULL) != 0);
	agora_barrier_close(b); /* fails: the server is gone; frees b */
	return 0;
}

static void fill_barriers(agora_client *c, agora_client **c2, pid_t *late)
{
	agora_barrier *ab, *rb, *wb, *tb;

	(void)c2;
	AGH_OK(c, agora_barrier_open(c, "B-aborted", 3, &ab));
	AGH_OK(c, agora_barrier_abort(ab));
	AGH_OK(c, agora_barrier_open(c, "B-reset", 2, &rb));
	AGH_OK(c, agora_barrier_abort(rb));

	halfway(c);

	AGH_OK(c, agora_barrier_reset(rb));
	AGH_OK(c, agora_barrier_open(c, "B-timeout", 2, &tb));
	AGH_CALL_EQ(c, agora_barrier_wait(tb, 0, NULL), AGORA_EBROKEN);

	/* One party of two waiting when the server goes (stopped or
	 * killed): the cycle is lost, the barrier not broken. */
	AGH_OK(c, agora_barrier_open(c, "B-waiting", 2, &wb));
	late[0] = agh_spawn(wait_until_the_end, 0, NULL);
	agh_wait_waiters(c, agora_barrier_handle(wb), 1);

	agora_barrier_close(wb);
	agora_barrier_close(tb);
	agora_barrier_close(rb);
	agora_barrier_close(ab);
}

static void check_barriers(agora_client *c)
{
	agora_barrier *ab, *rb, *wb, *tb;
	bool broken = false;
	int64_t n = -1;

	AGH_OK(c, agora_open_ex(c, "barrier", "B-aborted", NULL, 0,
				AGORA_OPEN_NO_CREATE, &ab));
	AGH_OK(c, agora_barrier_broken(ab, &broken));
	ck_assert(broken);
	AGH_OK(c, agora_barrier_parties(ab, &n));
	ck_assert_int_eq(n, 3);
	AGH_CALL_EQ(c, agora_barrier_wait(ab, GENEROUS, NULL), AGORA_EBROKEN);
	ck_assert_msg(strstr(agora_errmsg(c), "abort()") != NULL,
		      "BROKEN does not say why: %s", agora_errmsg(c));
	AGH_OK(c, agora_barrier_reset(ab));
	AGH_OK(c, agora_barrier_broken(ab, &broken));
	ck_assert(!broken);

	AGH_OK(c, agora_open_ex(c, "barrier", "B-reset", NULL, 0,
				AGORA_OPEN_NO_CREATE, &rb));
	AGH_OK(c, agora_barrier_broken(rb, &broken));
	ck_assert(!broken);

	AGH_OK(c, agora_open_ex(c, "barrier", "B-timeout", NULL, 0,
				AGORA_OPEN_NO_CREATE, &tb));
	AGH_OK(c, agora_barrier_broken(tb, &broken));
	ck_assert(broken);

	AGH_OK(c, agora_open_ex(c, "barrier", "B-waiting", NULL, 0,
				AGORA_OPEN_NO_CREATE, &wb));
	AGH_OK(c, agora_barrier_broken(wb, &broken));
	ck_assert_msg(!broken, "a barrier with a party waiting at the "
			       "restart came back broken");
	AGH_OK(c, agora_barrier_n_waiting(wb, &n));
	ck_assert_int_eq(n, 0);
	AGH_OK(c, agora_barrier_parties(wb, &n));
	ck_assert_int_eq(n, 2);

	agora_barrier_close(wb);
	agora_barrier_close(tb);
	agora_barrier_close(rb);
	agora_barrier_close(ab);
}

START_TEST(barrier_keeps_parties_and_broken_and_starts_an_empty_cycle)
{
	run_modes(fill_barriers, check_barriers);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("persist_state");
	TCase *tc[] = {
		AGH_ADD_BARE(
		    s,
		    queue_items_and_bound_come_back_served_waiters_counted_once),
		AGH_ADD_BARE(
		    s, joinable_queue_keeps_its_items_and_unfinished_count),
		AGH_ADD_BARE(s,
			     locks_keep_fence_and_abandoned_and_come_back_free),
		AGH_ADD_BARE(
		    s, condition_keeps_its_lock_its_own_rlock_or_a_named_one),
		AGH_ADD_BARE(
		    s, semaphores_keep_their_value_and_owned_permits_come_back),
		AGH_ADD_BARE(
		    s,
		    barrier_keeps_parties_and_broken_and_starts_an_empty_cycle),
	};

	for (size_t i = 0; i < sizeof(tc) / sizeof(tc[0]); i++)
		tcase_add_unchecked_fixture(tc[i], agh_datadir_make,
					    agh_datadir_remove);
	return agh_run_suite(s);
}
