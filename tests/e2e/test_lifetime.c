/*
 * test_lifetime.c - how long shared objects live (protocol sections 3, 7
 * and 8): anonymous objects abandoned by their processes, lists kept in a
 * dict by reference, references passed through a queue, cycles, and a
 * server that stops under a parked call.
 *
 * The measure is the server's own `stats`: objects and memory go back to
 * what they were before the test's objects existed. Every test ends by
 * checking that no child process and no socket file or directory is left.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NWORKERS 10
#define PER_WORKER 100
#define NTYPES 12
#define NITEMS 20

/* ---- the fixture: the standard one, then nothing left behind ---- */

static void teardown_nothing_left(void)
{
	char dir[sizeof(agh_srv.dir)];

	memcpy(dir, agh_srv.dir, sizeof(dir));
	agh_teardown();
	ck_assert_msg(!agh_path_exists(dir), "%s left behind", dir);
	agh_assert_no_children();
}

static TCase *add(Suite *s, const char *name, const TTest *fn)
{
	TCase *tc = agh_tcase_bare(s, name, fn);

	tcase_add_checked_fixture(tc, agh_setup, teardown_nothing_left);
	return tc;
}
#define ADD(suite, fn) add((suite), #fn, fn)

/* ---- abandoned anonymous objects ---- */

/*
 * What a worker abandons stays reachable from here, so that valgrind (with
 * --trace-children) sees the worker's memory as kept, not leaked: the
 * point is that the worker never closes its handles.
 */
static void *kept[PER_WORKER];
static agora_client *kept_clients[2];
static agora_event *kept_go;

/* A new anonymous object of the kind @k picks, with something in it; the
 * lock-like ones are left held. */
static int make_anonymous(agora_client *c, int k, void **ret)
{
	int rc;

#define OPEN(call, p)                   \
	do {                            \
		if ((rc = (call)) != 0) \
			return rc;      \
		*ret = (p);             \
	} while (0)
	switch (k % NTYPES) {
	case 0: {
		agora_list *l;
		OPEN(agora_list_open(c, NULL, &l), l);
		return agora_list_append(l, agora_str("abandoned"));
	}
	case 1: {
		agora_dict *d;
		OPEN(agora_dict_open(c, NULL, &d), d);
		return agora_dict_set(d, agora_str("k"), agora_int(k));
	}
	case 2: {
		agora_queue *q;
		OPEN(agora_queue_open(c, NULL, 0, &q), q);
		return agora_queue_put(q, agora_int(k), 0);
	}
	case 3: {
		agora_jqueue *q;
		OPEN(agora_jqueue_open(c, NULL, 4, &q), q);
		return agora_jqueue_put(q, agora_str("job"), 0);
	}
	case 4: {
		agora_var *v;
		OPEN(agora_var_open(c, NULL, agora_str("initial"), &v), v);
		return agora_var_set(v, agora_float(1.5));
	}
	case 5: {
		agora_lock *l;
		OPEN(agora_lock_open(c, NULL, &l), l);
		return agora_lock_acquire(l, 0, NULL);
	}
	case 6: {
		agora_rlock *r;
		OPEN(agora_rlock_open(c, NULL, &r), r);
		if ((rc = agora_rlock_acquire(r, 0, NULL)) != 0)
			return rc;
		return agora_rlock_acquire(r, 0, NULL);
	}
	case 7: {
		agora_semaphore *s;
		OPEN(agora_semaphore_open(c, NULL, 2, true, &s), s);
		return agora_semaphore_acquire(s, 0, NULL);
	}
	case 8: {
		agora_event *e;
		OPEN(agora_event_open(c, NULL, &e), e);
		return agora_event_set(e);
	}
	case 9: {
		agora_barrier *b;
		OPEN(agora_barrier_open(c, NULL, 3, &b), b);
		return 0;
	}
	case 10: {
		struct agora_array *a;
		OPEN(agora_array_open(c, NULL, 'd', 64, &a), a);
		return agora_array_set(a, 3, agora_float(2.5));
	}
	default: {
		agora_namespace *ns;
		OPEN(agora_namespace_open(c, NULL, &ns), ns);
		return agora_namespace_set(ns, "x", agora_str("abandoned"));
	}
	}
#undef OPEN
}

/*
 * Half the objects on the harness's client, half on a second client the
 * worker connects itself; wait for the test's "go"; then disconnect the
 * second client without closing anything, and either return (the harness
 * frees the first client, handles still open) or die at once.
 */
static int abandon_objects(agora_client *c, int idx, void *arg)
{
	bool set = false;

	(void)arg;
	kept_clients[0] = c;
	kept_clients[1] = agora_client_new();
	AGH_WCHECK(kept_clients[1] != NULL);
	AGH_WCALL(kept_clients[1], agora_client_connect_env(kept_clients[1]));
	for (int k = 0; k < PER_WORKER; k++) {
		agora_client *on = kept_clients[k % 2];
		AGH_WCALL(on,
			  make_anonymous(on, idx * PER_WORKER + k, &kept[k]));
	}
	AGH_WCALL(c, agora_event_open(c, "go", &kept_go));
	AGH_WCALL(c, agora_event_wait(kept_go, AGH_STATE_TIMEOUT, &set));
	AGH_WCHECK(set);
	agora_client_free(kept_clients[1]);
	if (idx % 2)
		_exit(0);
	return 0;
}

START_TEST(thousand_abandoned_anonymous_objects_are_freed_when_workers_go)
{
	agora_client *c = agh_cli;
	agora_event *go;
	pid_t pids[NWORKERS];

	AGH_OK(c, agora_event_open(c, "go", &go));
	int64_t objects = agh_stats_int(c, "objects");
	int64_t memory = agh_stats_int(c, "memory");
	int64_t connections = agh_stats_int(c, "connections");

	for (int i = 0; i < NWORKERS; i++)
		pids[i] = agh_spawn(abandon_objects, i, NULL);
	/* All made and parked on "go": every object is alive. */
	agh_wait_stats(c, "waiters", NWORKERS);
	ck_assert_int_eq(agh_stats_int(c, "objects"),
			 objects + NWORKERS * PER_WORKER);
	ck_assert_int_gt(agh_stats_int(c, "memory"), memory);
	ck_assert_int_eq(agh_stats_int(c, "connections"),
			 connections + 2 * NWORKERS);

	AGH_OK(c, agora_event_set(go));
	agh_wait_all_ok(pids, NWORKERS);
	agh_wait_stats(c, "connections", connections);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);
	ck_assert_int_eq(agh_stats_int(c, "memory"), memory);
	ck_assert_int_eq(agh_stats_int(c, "waiters"), 0);
	AGH_OK(c, agora_event_close(go));
}
END_TEST

/* ---- a dict of lists ---- */

/* Make an anonymous list [pid, idx], store its reference in the dict under
 * the pid, close the list's handle. */
static int store_own_list(agora_client *c, int idx, void *arg)
{
	const agora_ref *dict_ref = arg;
	agora_dict *d;
	agora_list *l;
	agora_ref r;

	AGH_WCALL(c, agora_dict_open_ref(c, dict_ref, &d));
	AGH_WCALL(c, agora_list_open(c, NULL, &l));
	AGH_WCALL(c, agora_list_append(l, agora_int(getpid())));
	AGH_WCALL(c, agora_list_append(l, agora_int(idx)));
	AGH_WCALL(c, agora_list_ref(l, &r));
	AGH_WCALL(c,
		  agora_dict_set(d, agora_int(getpid()), agora_ref_value(&r)));
	AGH_WCALL(c, agora_list_close(l));
	AGH_WCALL(c, agora_dict_close(d));
	return 0;
}

/* The reference stored under the pid @key of @d. */
static agora_ref ref_under(agora_client *c, agora_dict *d, int64_t key)
{
	agora_value v;
	agora_ref r;

	AGH_OK(c, agora_dict_get(d, agora_int(key), &v));
	ck_assert_int_eq(agora_ref_from_value(v, &r), 0);
	agora_value_free(&v);
	return r;
}

START_TEST(dict_of_lists_from_workers_reads_back_and_frees_on_delete)
{
	agora_client *c = agh_cli;
	agora_dict *d;
	agora_list *l;
	agora_ref dict_ref, r;
	agora_value items;
	pid_t pids[NWORKERS];
	bool seen[NWORKERS] = { false };
	uint32_t h;

	int64_t objects = agh_stats_int(c, "objects");
	int64_t memory = agh_stats_int(c, "memory");
	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_ref(d, &dict_ref));
	agh_run_workers(NWORKERS, store_own_list, &dict_ref, pids);
	/* Each list's only hold is the dict's reference. */
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1 + NWORKERS);

	AGH_OK(c, agora_dict_items(d, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	ck_assert_uint_eq(items.via.array.len, NWORKERS);
	for (size_t i = 0; i < items.via.array.len; i++) {
		agora_value kv = items.via.array.items[i], got;
		int64_t pid = 0;
		ck_assert_int_eq(kv.type, AGORA_ARRAY);
		ck_assert_int_eq(
		    agora_value_to_int(kv.via.array.items[0], &pid), 0);
		ck_assert_int_eq(
		    agora_ref_from_value(kv.via.array.items[1], &r), 0);
		AGH_OK(c, agora_list_open_ref(c, &r, &l));
		AGH_OK(c, agora_list_copy(l, &got));
		ck_assert_int_eq(got.type, AGORA_ARRAY);
		ck_assert_uint_eq(got.via.array.len, 2);
		agh_assert_int(got.via.array.items[0], pid);
		int64_t idx = -1;
		agora_value_to_int(got.via.array.items[1], &idx);
		ck_assert(idx >= 0 && idx < NWORKERS && pids[idx] == pid);
		ck_assert_msg(!seen[idx], "worker %lld stored twice",
			      (long long)idx);
		seen[idx] = true;
		agora_value_free(&got);
		AGH_OK(c, agora_list_close(l));
	}
	agora_value_free(&items);
	/* Reading opened and closed handles; the lists live on. */
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1 + NWORKERS);
	/* A list's reference is not a dict's. */
	r = ref_under(c, d, pids[0]);
	agora_dict *wrong = NULL;
	ck_assert_int_eq(agora_dict_open_ref(c, &r, &wrong), AGORA_ETYPE);

	/* Deleting the entry frees the list it held. */
	AGH_OK(c, agora_dict_delete(d, agora_int(pids[0])));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + NWORKERS);
	ck_assert_int_eq(agora_open_ref(c, &r, &h), AGORA_ENO_OBJECT);
	ck_assert_int_eq(agora_list_open_ref(c, &r, &l), AGORA_ENO_OBJECT);

	/* With a handle open, the list outlives its entry until the close. */
	r = ref_under(c, d, pids[1]);
	AGH_OK(c, agora_list_open_ref(c, &r, &l));
	AGH_OK(c, agora_dict_delete(d, agora_int(pids[1])));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + NWORKERS);
	AGH_OK(c, agora_list_append(l, agora_int(-1)));
	AGH_OK(c, agora_list_close(l));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + NWORKERS - 1);
	ck_assert_int_eq(agora_open_ref(c, &r, &h), AGORA_ENO_OBJECT);

	/* The dict is anonymous: closing it frees it and the rest. */
	AGH_OK(c, agora_dict_close(d));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);
	ck_assert_int_eq(agh_stats_int(c, "memory"), memory);
	ck_assert_int_eq(agora_open_ref(c, &dict_ref, &h), AGORA_ENO_OBJECT);
}
END_TEST

/* ---- a queue of anonymous objects ---- */

/* Put NITEMS references to new anonymous objects (lists [i] for even i,
 * dicts {"i": i} for odd), closing each handle once its reference is in
 * the queue, which then holds it alone; then a nil sentinel. */
static int produce_refs(agora_client *c, int idx, void *arg)
{
	agora_queue *q;
	agora_ref r;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "refs", 0, &q));
	for (int i = 0; i < NITEMS; i++) {
		if (i % 2 == 0) {
			agora_list *l;
			AGH_WCALL(c, agora_list_open(c, NULL, &l));
			AGH_WCALL(c, agora_list_append(l, agora_int(i)));
			AGH_WCALL(c, agora_list_ref(l, &r));
			AGH_WCALL(c,
				  agora_queue_put(q, agora_ref_value(&r), 0));
			AGH_WCALL(c, agora_list_close(l));
		} else {
			agora_dict *d;
			AGH_WCALL(c, agora_dict_open(c, NULL, &d));
			AGH_WCALL(
			    c, agora_dict_set(d, agora_str("i"), agora_int(i)));
			AGH_WCALL(c, agora_dict_ref(d, &r));
			AGH_WCALL(c,
				  agora_queue_put(q, agora_ref_value(&r), 0));
			AGH_WCALL(c, agora_dict_close(d));
		}
	}
	AGH_WCALL(c, agora_queue_put(q, agora_nil(), 0));
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

/* Get everything up to the sentinel and exit without opening any. */
static int take_and_drop(agora_client *c, int idx, void *arg)
{
	agora_queue *q;
	agora_value v;
	int n = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "refs", 0, &q));
	for (;;) {
		AGH_WCALL(c, agora_queue_get(q, AGH_STATE_TIMEOUT, &v));
		bool end = v.type == AGORA_NIL;
		agora_value_free(&v);
		if (end)
			break;
		n++;
	}
	AGH_WCHECK(n == NITEMS);
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(queue_of_anonymous_objects_frees_each_when_the_consumer_closes_it)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value v;

	/* The baseline is before the queue: its buffer may keep the room
	 * it grew to until the queue goes. */
	int64_t objects = agh_stats_int(c, "objects");
	int64_t memory = agh_stats_int(c, "memory");
	AGH_OK(c, agora_queue_open(c, "refs", 0, &q));
	objects++;

	agh_run_workers(1, produce_refs, NULL, NULL);
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + NITEMS);

	/* The consumer opens each one it got, then closes it: freed. */
	for (int i = 0;; i++) {
		agora_ref r;
		AGH_OK(c, agora_queue_get(q, 0, &v));
		if (v.type == AGORA_NIL) {
			ck_assert_int_eq(i, NITEMS);
			break;
		}
		ck_assert_int_eq(agora_ref_from_value(v, &r), 0);
		agora_value_free(&v);
		/* Taken out of the queue, the object lives on the hold
		 * passed to this connection. */
		ck_assert_int_eq(agh_stats_int(c, "objects"),
				 objects + NITEMS - i);
		if (i % 2 == 0) {
			agora_list *l;
			AGH_OK(c, agora_list_open_ref(c, &r, &l));
			AGH_OK(c, agora_list_get(l, 0, &v));
			agh_assert_int(v, i);
			AGH_OK(c, agora_list_close(l));
		} else {
			agora_dict *d;
			AGH_OK(c, agora_dict_open_ref(c, &r, &d));
			AGH_OK(c, agora_dict_get(d, agora_str("i"), &v));
			agh_assert_int(v, i);
			AGH_OK(c, agora_dict_close(d));
		}
		agora_value_free(&v);
		ck_assert_int_eq(agh_stats_int(c, "objects"),
				 objects + NITEMS - i - 1);
		uint32_t h;
		ck_assert_int_eq(agora_open_ref(c, &r, &h), AGORA_ENO_OBJECT);
	}
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);

	/* A consumer that takes them and exits without opening any: its
	 * holds go with its connection. */
	agh_run_workers(1, produce_refs, NULL, NULL);
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + NITEMS);
	agh_run_workers(1, take_and_drop, NULL, NULL);
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);

	/* Without its name and its last handle the queue goes too. */
	AGH_OK(c, agora_drop(c, "refs", NULL));
	AGH_OK(c, agora_queue_close(q));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects - 1);
	ck_assert_int_eq(agh_stats_int(c, "memory"), memory);
}
END_TEST

/* ---- cycles ---- */

/* Two anonymous lists holding each other's reference, handles closed. */
static void make_cycle(agora_client *c, agora_ref *ra, agora_ref *rb)
{
	agora_list *a, *b;

	AGH_OK(c, agora_list_open(c, NULL, &a));
	AGH_OK(c, agora_list_open(c, NULL, &b));
	AGH_OK(c, agora_list_ref(a, ra));
	AGH_OK(c, agora_list_ref(b, rb));
	AGH_OK(c, agora_list_append(a, agora_ref_value(rb)));
	AGH_OK(c, agora_list_append(b, agora_ref_value(ra)));
	AGH_OK(c, agora_list_close(a));
	AGH_OK(c, agora_list_close(b));
}

/*
 * As in Python, a cycle of anonymous objects is not collected: with both
 * handles closed the two lists still hold each other, and live until the
 * cycle is broken by hand.
 */
START_TEST(cycle_of_two_anonymous_lists_lives_until_broken_by_hand)
{
	agora_client *c = agh_cli;
	agora_ref ra, rb, got;
	agora_list *a;
	agora_value v;
	uint32_t h;

	int64_t objects = agh_stats_int(c, "objects");
	int64_t memory = agh_stats_int(c, "memory");
	make_cycle(c, &ra, &rb);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 2);

	AGH_OK(c, agora_list_open_ref(c, &ra, &a));
	AGH_OK(c, agora_list_get(a, 0, &v));
	ck_assert_int_eq(agora_ref_from_value(v, &got), 0);
	ck_assert_uint_eq(got.id, rb.id);
	agora_value_free(&v);
	/* Breaking it frees b, which held a; a lives on its handle. */
	AGH_OK(c, agora_list_clear(a));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 1);
	ck_assert_int_eq(agora_open_ref(c, &rb, &h), AGORA_ENO_OBJECT);
	AGH_OK(c, agora_list_close(a));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects);
	ck_assert_int_eq(agh_stats_int(c, "memory"), memory);
	ck_assert_int_eq(agora_open_ref(c, &ra, &h), AGORA_ENO_OBJECT);
}
END_TEST

/* Left alone, a cycle (and a dict holding itself) lives until the server
 * stops, which frees it: the teardown requires the server to exit 0,
 * which under valgrind means without a leak. */
START_TEST(cycles_left_alone_are_freed_when_the_server_stops)
{
	agora_client *c = agh_cli;
	agora_ref ra, rb, rd;
	agora_dict *d;

	int64_t objects = agh_stats_int(c, "objects");
	make_cycle(c, &ra, &rb);
	AGH_OK(c, agora_dict_open(c, NULL, &d));
	AGH_OK(c, agora_dict_ref(d, &rd));
	AGH_OK(c, agora_dict_set(d, agora_str("self"), agora_ref_value(&rd)));
	AGH_OK(c, agora_dict_close(d));
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 3);

	/* Disconnecting does not free them either: no connection holds
	 * them. */
	agora_client_free(agh_cli);
	agh_cli = c = agh_connect(&agh_srv);
	agh_wait_stats(c, "connections", 1);
	ck_assert_int_eq(agh_stats_int(c, "objects"), objects + 3);
}
END_TEST

/* ---- shutdown ---- */

/* Park on an empty queue; the server's stop answers SHUTDOWN, and every
 * later call fails at once, saying why. */
static int park_until_shutdown(agora_client *c, int idx, void *arg)
{
	agora_queue *q;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "never", 0, &q));
	int rc = agora_queue_get(q, AGORA_FOREVER, &v);
	if (rc != AGORA_ESHUTDOWN) {
		fprintf(stderr, "parked get: %s (%d): %s, expected SHUTDOWN\n",
			agora_errname(rc), rc, agora_errmsg(c));
		return 1;
	}
	for (int i = 0; i < 3; i++) {
		double t0 = agh_now();
		rc = i == 0 ? agora_ping(c)
			    : agora_queue_put(q, agora_int(i), 0);
		double took = agh_now() - t0;
		if (rc != AGORA_EIO && rc != AGORA_ESHUTDOWN) {
			fprintf(stderr, "call %d after shutdown: %s: %s\n", i,
				agora_errname(rc), agora_errmsg(c));
			return 1;
		}
		AGH_WCHECK(took < 0.5);
		AGH_WCHECK(strstr(agora_errmsg(c), "connection") ||
			   strstr(agora_errmsg(c), "shut"));
	}
	agora_queue_close(q);
	return 0;
}

START_TEST(parked_call_gets_shutdown_and_later_calls_fail_at_once)
{
	agora_client *c = agh_cli;

	pid_t pid = agh_spawn(park_until_shutdown, 0, NULL);
	agh_wait_stats(c, "waiters", 1);
	agh_server_stop(&agh_srv);
	agh_wait_ok(pid);

	/* This client's server is gone too. */
	double t0 = agh_now();
	int rc = agora_ping(c);
	ck_assert_msg(rc == AGORA_EIO, "ping after the stop: %s: %s",
		      agora_errname(rc), agora_errmsg(c));
	/* "At once": without waiting for the network; the bound is far
	 * above the microseconds it takes, for a loaded machine running the
	 * tests under valgrind. */
	ck_assert_msg(agh_now() - t0 < 5.0, "the ping did not fail at once");
	ck_assert_msg(strstr(agora_errmsg(c), "connection") != NULL,
		      "unclear message: \"%s\"", agora_errmsg(c));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("lifetime");

	ADD(s, thousand_abandoned_anonymous_objects_are_freed_when_workers_go);
	ADD(s, dict_of_lists_from_workers_reads_back_and_frees_on_delete);
	ADD(s,
	    queue_of_anonymous_objects_frees_each_when_the_consumer_closes_it);
	ADD(s, cycle_of_two_anonymous_lists_lives_until_broken_by_hand);
	ADD(s, cycles_left_alone_are_freed_when_the_server_stops);
	ADD(s, parked_call_gets_shutdown_and_later_calls_fail_at_once);
	return agh_run_suite(s);
}
