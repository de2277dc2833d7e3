/*
 * test_get_any.c - waiting on several queues at once (get_any, take_any:
 * docs/protocol.md 3.1, docs/api.md agora_queue_get_any()) and cancelling
 * a parked call (cancel, answered CANCELLED).
 *
 * Waiting workers are real processes; the test waits for the server to
 * report them parked (stats "waiters") before it puts, so the order of
 * arrival is the order the test chose. With --data-dir, a restart after
 * get_any served items (at once and parked, a crash and a snapshot) keeps
 * every queue exactly as it was.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

#define NQ 3

static const char *const NAMES[NQ] = { "any.a", "any.b", "any.c" };

/* Open the NQ queues on @c. */
static void open_queues(agora_client *c, agora_queue **qs)
{
	for (int i = 0; i < NQ; i++)
		AGH_OK(c, agora_queue_open(c, NAMES[i], 0, &qs[i]));
}

static void close_queues(agora_queue **qs)
{
	for (int i = 0; i < NQ; i++)
		agora_queue_close(qs[i]);
}

static int64_t as_int(agora_value v)
{
	int64_t i;

	ck_assert_int_eq(agora_value_to_int(v, &i), 0);
	return i;
}

static int64_t qsize(agora_client *c, agora_queue *q)
{
	size_t n;

	AGH_OK(c, agora_queue_qsize(q, &n));
	return (int64_t)n;
}

/* What a worker expects of its get_any: the item @item from queue
 * @index (or from any queue when @index is -1). */
struct want {
	int index;
	int64_t item;
	bool take;
};

/* A worker: one get_any (or take_any, then ack) on the NQ queues,
 * waiting up to 60 s; exits 0 when it got what @arg says. */
static int any_worker(agora_client *c, int idx, void *arg)
{
	const struct want *w = (const struct want *)arg + idx;
	agora_queue *qs[NQ];
	agora_value item;
	size_t at = NQ;
	uint64_t id = 0;

	for (int i = 0; i < NQ; i++)
		AGH_WCALL(c, agora_queue_open(c, NAMES[i], 0, &qs[i]));
	if (w->take) {
		AGH_WCALL(c,
			  agora_queue_take_any(qs, NQ, 60, 0, &at, &id, &item));
		AGH_WCALL(c, agora_queue_ack(qs[at], id));
	} else {
		AGH_WCALL(c, agora_queue_get_any(qs, NQ, 60, &at, &item));
	}
	AGH_WCHECK(item.type == AGORA_INT || item.type == AGORA_UINT);
	AGH_WCHECK(w->index < 0 || at == (size_t)w->index);
	AGH_WCHECK(item.via.i == w->item);
	agora_value_free(&item);
	close_queues(qs);
	return 0;
}

/* A worker: a plain get on queue 1 expecting @arg's item. */
static int get_worker(agora_client *c, int idx, void *arg)
{
	const struct want *w = (const struct want *)arg + idx;
	agora_queue *q;
	agora_value item;

	AGH_WCALL(c, agora_queue_open(c, NAMES[1], 0, &q));
	AGH_WCALL(c, agora_queue_get(q, 60, &item));
	AGH_WCHECK(item.via.i == w->item);
	agora_queue_close(q);
	return 0;
}

START_TEST(an_item_there_comes_from_the_first_queue_holding_one)
{
	agora_client *c = agh_cli;
	agora_queue *qs[NQ], *again, *many[65];
	agora_value item;
	size_t at = 9;

	open_queues(c, qs);
	AGH_CALL_EQ(c, agora_queue_get_any(qs, NQ, 0, &at, &item),
		    AGORA_EEMPTY);
	double t0 = agh_now();
	AGH_CALL_EQ(c, agora_queue_get_any(qs, NQ, 0.1, &at, &item),
		    AGORA_EEMPTY);
	ck_assert_msg(agh_now() - t0 >= 0.09, "gave up after %.3f s",
		      agh_now() - t0);
	ck_assert_uint_eq(at, 9); /* written on success only */
	AGH_OK(c, agora_queue_put(qs[2], agora_int(20), 0));
	AGH_OK(c, agora_queue_put(qs[1], agora_int(10), 0));
	AGH_OK(c, agora_queue_put(qs[1], agora_int(11), 0));
	AGH_OK(c, agora_queue_get_any(qs, NQ, 0, &at, &item));
	ck_assert_uint_eq(at, 1);
	ck_assert_int_eq(as_int(item), 10);
	AGH_OK(c, agora_queue_get_any(qs + 2, 1, 0, &at, &item));
	ck_assert_uint_eq(at, 0);
	ck_assert_int_eq(as_int(item), 20);
	AGH_OK(c, agora_queue_get_any(qs, NQ, 0, NULL, NULL));
	ck_assert_int_eq(qsize(c, qs[1]), 0);

	/* What is refused. */
	AGH_OK(c, agora_queue_open(c, NAMES[0], 0, &again));
	agora_queue *dup[2] = { qs[0], again };
	AGH_CALL_EQ(c, agora_queue_get_any(dup, 2, 0, &at, &item),
		    AGORA_EVALUE);
	ck_assert_int_eq(agora_queue_get_any(qs, 0, 0, &at, &item),
			 AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_get_any(NULL, 1, 0, &at, &item),
			 AGORA_EINVAL);
	agora_queue *hole[2] = { qs[0], NULL };
	AGH_CALL_EQ(c, agora_queue_get_any(hole, 2, 0, &at, &item),
		    AGORA_EINVAL);
	for (int i = 0; i < 65; i++)
		many[i] = qs[0];
	AGH_CALL_EQ(c, agora_queue_get_any(many, 65, 0, &at, &item),
		    AGORA_EINVAL);
	agora_client *other = agh_connect(&agh_srv);
	agora_queue *oq;
	AGH_OK(other, agora_queue_open(other, NAMES[1], 0, &oq));
	agora_queue *mixed[2] = { qs[0], oq };
	AGH_CALL_EQ(c, agora_queue_get_any(mixed, 2, 0, &at, &item),
		    AGORA_EINVAL);
	agora_queue_close(oq);
	agora_client_free(other);
	agora_queue_close(again);
	close_queues(qs);
}
END_TEST

START_TEST(waiting_on_three_queues_answers_the_first_item_put_to_any)
{
	agora_client *c = agh_cli;
	agora_queue *qs[NQ];
	struct want w[1] = { { 2, 42, false } };

	open_queues(c, qs);
	pid_t pid = agh_spawn(any_worker, 0, w);
	agh_wait_stats(c, "waiters", 1);
	for (int i = 0; i < NQ; i++)
		ck_assert_int_eq(
		    agh_info_int(c, agora_queue_handle(qs[i]), "waiters"), 1);
	AGH_OK(c, agora_queue_put(qs[2], agora_int(42), 0));
	agh_wait_ok(pid);
	agh_wait_stats(c, "waiters", 0);
	/* It was withdrawn from the other two at once: later items stay. */
	for (int i = 0; i < NQ; i++) {
		ck_assert_int_eq(
		    agh_info_int(c, agora_queue_handle(qs[i]), "waiters"), 0);
		AGH_OK(c, agora_queue_put(qs[i], agora_int(i), 0));
		ck_assert_int_eq(qsize(c, qs[i]), 1);
		AGH_OK(c, agora_queue_get(qs[i], 0, NULL));
	}
	close_queues(qs);
}
END_TEST

/* Four waiters in this order: get_any, a plain get on queue 1, get_any,
 * take_any. Each queue serves them in that order: the first item of
 * queue 1 goes to waiter 0 (first there), the second to the plain get;
 * queue 0's first to waiter 2 (waiter 0 left it when served), queue 2's
 * to waiter 3. */
START_TEST(the_waiters_of_each_queue_are_served_in_arrival_order)
{
	agora_client *c = agh_cli;
	agora_queue *qs[NQ];
	struct want w[4] = { { 1, 100, false },
			     { 1, 101, false },
			     { 0, 102, false },
			     { 2, 103, true } };
	pid_t pids[4];

	open_queues(c, qs);
	for (int i = 0; i < 4; i++) {
		pids[i] = agh_spawn(i == 1 ? get_worker : any_worker, i, w);
		agh_wait_stats(c, "waiters", i + 1);
	}
	AGH_OK(c, agora_queue_put(qs[1], agora_int(100), 0));
	AGH_OK(c, agora_queue_put(qs[1], agora_int(101), 0));
	AGH_OK(c, agora_queue_put(qs[0], agora_int(102), 0));
	AGH_OK(c, agora_queue_put(qs[2], agora_int(103), 0));
	agh_wait_all_ok(pids, 4);
	agh_wait_stats(c, "waiters", 0);
	for (int i = 0; i < NQ; i++)
		ck_assert_int_eq(qsize(c, qs[i]), 0);
	close_queues(qs);
}
END_TEST

/* A worker that take_any's and dies before its ack. */
static int take_and_die(agora_client *c, int idx, void *arg)
{
	agora_queue *qs[NQ];
	agora_value item;
	size_t at;
	uint64_t id;

	(void)idx;
	(void)arg;
	for (int i = 0; i < NQ; i++)
		AGH_WCALL(c, agora_queue_open(c, NAMES[i], 0, &qs[i]));
	AGH_WCALL(c, agora_queue_take_any(qs, NQ, 60, 0, &at, &id, &item));
	kill(getpid(), SIGKILL);
	return 1;
}

START_TEST(take_any_leaves_the_item_pending_until_ack)
{
	agora_client *c = agh_cli;
	agora_queue *qs[NQ];
	agora_value item, pend;
	size_t at;
	uint64_t id;

	open_queues(c, qs);
	AGH_CALL_EQ(c, agora_queue_take_any(qs, NQ, 0, 0, &at, NULL, &item),
		    AGORA_EINVAL);
	AGH_OK(c, agora_queue_put(qs[1], agora_str("job"), 0));
	AGH_OK(c, agora_queue_take_any(qs, NQ, 0, 30, &at, &id, &item));
	ck_assert_uint_eq(at, 1);
	agh_assert_str(item, "job");
	agora_value_free(&item);
	AGH_OK(c, agora_queue_pending(qs[1], &pend));
	ck_assert_uint_eq(pend.via.array.len, 1);
	ck_assert_int_eq(agh_map_int(pend.via.array.items[0], "id"),
			 (int64_t)id);
	agora_value_free(&pend);
	AGH_OK(c, agora_queue_ack(qs[1], id));

	/* A parked take_any whose taker dies: the item goes back. */
	pid_t pid = agh_spawn(take_and_die, 0, NULL);
	agh_wait_stats(c, "waiters", 1);
	AGH_OK(c, agora_queue_put(qs[0], agora_str("again"), 0));
	ck_assert_int_ne(agh_wait_pid(pid, AGH_WORKER_TIMEOUT), 0);
	agh_wait_info(c, agora_queue_handle(qs[0]), "redelivered", 1);
	AGH_OK(c, agora_queue_get_any(qs, NQ, 0, &at, &item));
	ck_assert_uint_eq(at, 0);
	agh_assert_str(item, "again");
	agora_value_free(&item);
	close_queues(qs);
}
END_TEST

/* A worker that sets the event "any.ev.1". */
static int set_event(agora_client *c, int idx, void *arg)
{
	agora_event *e;

	(void)arg;
	AGH_WCALL(c, agora_event_open(c, "any.ev.1", &e));
	AGH_WCALL(c, agora_event_set(e));
	agora_event_close(e);
	return idx;
}

START_TEST(wait_any_and_acquire_any_answer_which_one)
{
	agora_client *c = agh_cli;
	agora_event *ev[2];
	agora_lock *lk[2];
	size_t at = 9;
	bool ok = true;

	AGH_OK(c, agora_event_open(c, "any.ev.0", &ev[0]));
	AGH_OK(c, agora_event_open(c, "any.ev.1", &ev[1]));
	AGH_OK(c, agora_event_wait_any(ev, 2, 0.05, &at, &ok));
	ck_assert(!ok);
	ck_assert_uint_eq(at, 9);
	pid_t pid = agh_spawn(set_event, 0, NULL);
	AGH_OK(c, agora_event_wait_any(ev, 2, 60, &at, &ok));
	ck_assert(ok);
	ck_assert_uint_eq(at, 1);
	agh_wait_ok(pid);
	agora_event *dup[2] = { ev[0], ev[0] };
	AGH_CALL_EQ(c, agora_event_wait_any(dup, 2, 0, &at, &ok), AGORA_EVALUE);

	AGH_OK(c, agora_lock_open(c, "any.lk.0", &lk[0]));
	AGH_OK(c, agora_lock_open(c, "any.lk.1", &lk[1]));
	AGH_OK(c, agora_lock_acquire_any(lk, 2, 0, &at, &ok));
	ck_assert(ok);
	ck_assert_uint_eq(at, 0);
	AGH_OK(c, agora_lock_acquire_any(lk, 2, 0, &at, &ok));
	ck_assert(ok);
	ck_assert_uint_eq(at, 1);
	agora_client *other = agh_connect(&agh_srv);
	agora_lock *ol[2];
	AGH_OK(other, agora_lock_open(other, "any.lk.0", &ol[0]));
	AGH_OK(other, agora_lock_open(other, "any.lk.1", &ol[1]));
	at = 9;
	AGH_OK(other, agora_lock_acquire_any(ol, 2, 0.05, &at, &ok));
	ck_assert(!ok);
	ck_assert_uint_eq(at, 9);
	agora_lock_close(ol[0]);
	agora_lock_close(ol[1]);
	agora_client_free(other);
	AGH_OK(c, agora_lock_release(lk[0]));
	AGH_OK(c, agora_lock_release(lk[1]));
	for (int i = 0; i < 2; i++) {
		agora_lock_close(lk[i]);
		agora_event_close(ev[i]);
	}
}
END_TEST

/* ---- cancel, by hand on the wire ---- */

/* Send [0, @msgid, @method, params]: @nparams uints from @params. */
static void raw_call(agh_raw *r, uint32_t msgid, const char *method,
		     uint32_t nparams, const uint64_t *params)
{
	msgpack_sbuffer sb;
	msgpack_packer pk;

	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, msgid, method, nparams);
	for (uint32_t i = 0; i < nparams; i++)
		msgpack_pack_uint64(&pk, params[i]);
	agh_raw_send_sbuf(r, &sb);
}

/* The next answer must be the result of @msgid: returns it as a uint
 * (true is 1, false 0). */
static uint64_t raw_result(agh_raw *r, uint32_t msgid)
{
	msgpack_unpacked m;
	uint64_t v;

	msgpack_unpacked_init(&m);
	ck_assert_int_eq(agh_raw_read(r, &m, AGH_RAW_TIMEOUT), 1);
	msgpack_object o = agh_ok_result(m.data, msgid);
	if (o.type == MSGPACK_OBJECT_BOOLEAN)
		v = o.via.boolean;
	else
		v = o.via.u64;
	msgpack_unpacked_destroy(&m);
	return v;
}

START_TEST(a_cancelled_parked_call_is_answered_cancelled_and_takes_no_item)
{
	agora_client *c = agh_cli;
	agora_queue *qs[NQ];
	agh_raw *r = agh_raw_connect(&agh_srv);
	msgpack_sbuffer sb;
	msgpack_packer pk;
	uint64_t h, p[1];

	open_queues(c, qs);
	agh_raw_handshake(r, &agh_srv);
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 10, "open", 3);
	msgpack_pack_str_with_body(&pk, "queue", 5);
	msgpack_pack_str_with_body(&pk, NAMES[0], strlen(NAMES[0]));
	msgpack_pack_map(&pk, 0);
	agh_raw_send_sbuf(r, &sb);
	h = raw_result(r, 10);

	/* A parked get, cancelled: CANCELLED, then cancel's true. */
	raw_call(r, 11, "queue.get", 1, &h);
	agh_wait_stats(c, "waiters", 1);
	p[0] = 11;
	raw_call(r, 12, "cancel", 1, p);
	agh_raw_expect_error(r, 11, "CANCELLED");
	ck_assert_uint_eq(raw_result(r, 12), 1);
	agh_wait_stats(c, "waiters", 0);
	AGH_OK(c, agora_queue_put(qs[0], agora_int(1), 0));
	ck_assert_int_eq(qsize(c, qs[0]), 1);
	/* Already answered: false. */
	raw_call(r, 13, "cancel", 1, p);
	ck_assert_uint_eq(raw_result(r, 13), 0);

	/* A parked get_any on the three, cancelled: it leaves every
	 * queue. */
	AGH_OK(c, agora_queue_get(qs[0], 0, NULL));
	msgpack_sbuffer_init(&sb);
	msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
	agh_pack_head(&pk, 14, "get_any", 1);
	msgpack_pack_array(&pk, 1);
	msgpack_pack_uint64(&pk, h);
	agh_raw_send_sbuf(r, &sb);
	agh_wait_stats(c, "waiters", 1);
	p[0] = 14;
	raw_call(r, 15, "cancel", 1, p);
	agh_raw_expect_error(r, 14, "CANCELLED");
	ck_assert_uint_eq(raw_result(r, 15), 1);
	AGH_OK(c, agora_queue_put(qs[0], agora_int(2), 0));
	ck_assert_int_eq(qsize(c, qs[0]), 1);
	agh_wait_stats(c, "waiters", 0);
	agh_raw_free(r);
	close_queues(qs);
}
END_TEST

/* ---- persistence ---- */

/* Every queue holds exactly @want[i] (@n[i] ints). */
static void check_queues(agora_client *c, const int64_t want[NQ][4],
			 const size_t n[NQ])
{
	agora_queue *qs[NQ];
	agora_value all;

	open_queues(c, qs);
	for (int i = 0; i < NQ; i++) {
		AGH_OK(c, agora_queue_peek(qs[i], 10, &all));
		agh_assert_ints(all, want[i], n[i]);
		agora_value_free(&all);
	}
	close_queues(qs);
}

START_TEST(a_restart_after_get_any_keeps_every_queue_exact)
{
	agh_server s;
	agora_queue *qs[NQ];
	agora_value saved;
	size_t at;
	struct want w[1] = { { 1, 7, false } };

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	open_queues(c, qs);
	/* a: 1 2, b: 3, c: 4 5 6; get_any takes 1, then 2, then 3. */
	for (int i = 1; i <= 6; i++)
		AGH_OK(c, agora_queue_put(qs[i <= 2   ? 0
					     : i == 3 ? 1
						      : 2],
					  agora_int(i), 0));
	for (int i = 0; i < 3; i++)
		AGH_OK(c, agora_queue_get_any(qs, NQ, 0, &at, NULL));
	AGH_OK(c, agora_queue_get_any(qs + 1, 2, 0, &at, NULL)); /* 4 */
	AGH_OK(c, agora_queue_get(qs[2], 0, NULL));              /* 5 */
	AGH_OK(c, agora_queue_get(qs[2], 0, NULL));              /* 6 */
	/* A parked one, served by a put (7 to b), then 8 stays in b. */
	pid_t pid = agh_spawn(any_worker, 0, w);
	agh_wait_stats(c, "waiters", 1);
	AGH_OK(c, agora_queue_put(qs[1], agora_int(7), 0));
	agh_wait_ok(pid);
	AGH_OK(c, agora_queue_put(qs[1], agora_int(8), 0));
	/* One taken and left pending: it goes back at the restart. */
	AGH_OK(c, agora_queue_put(qs[2], agora_int(9), 0));
	AGH_OK(c,
	       agora_queue_take_any(qs, NQ, 0, 0, &at, &(uint64_t){ 0 }, NULL));
	ck_assert_uint_eq(at, 1);
	close_queues(qs);

	const int64_t want1[NQ][4] = { { 0 }, { 8 }, { 9 } };
	const size_t n1[NQ] = { 0, 1, 1 };
	agora_client_free(c);
	agh_server_restart(&s, SIGKILL);
	c = agh_connect(&s);
	check_queues(c, want1, n1);

	/* From a snapshot and the journal after it. */
	AGH_OK(c, agora_save(c, &saved));
	agora_value_free(&saved);
	open_queues(c, qs);
	AGH_OK(c, agora_queue_put(qs[0], agora_int(10), 0));
	AGH_OK(c, agora_queue_get_any(qs, NQ, 0, &at, NULL)); /* 10 */
	AGH_OK(c, agora_queue_get_any(qs, NQ, 0, &at, NULL)); /* 8 */
	close_queues(qs);
	const int64_t want2[NQ][4] = { { 0 }, { 0 }, { 9 } };
	const size_t n2[NQ] = { 0, 0, 1 };
	agora_client_free(c);
	agh_server_restart(&s, SIGKILL);
	c = agh_connect(&s);
	check_queues(c, want2, n2);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("get_any");
	TCase *tc;

	AGH_ADD(s, an_item_there_comes_from_the_first_queue_holding_one);
	AGH_ADD(s, waiting_on_three_queues_answers_the_first_item_put_to_any);
	AGH_ADD(s, the_waiters_of_each_queue_are_served_in_arrival_order);
	AGH_ADD(s, take_any_leaves_the_item_pending_until_ack);
	AGH_ADD(s, wait_any_and_acquire_any_answer_which_one);
	AGH_ADD(
	    s, a_cancelled_parked_call_is_answered_cancelled_and_takes_no_item);
	tc = AGH_ADD_BARE(s, a_restart_after_get_any_keeps_every_queue_exact);
	tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove);
	return agh_run_suite(s);
}
