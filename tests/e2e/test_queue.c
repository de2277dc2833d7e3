/*
 * test_queue.c - shared queues across processes: a bounded producer/consumer
 * run, blocking gets woken from another process, timeouts, the non-blocking
 * calls, and a parked getter that dies taking nothing.
 */
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define NITEMS 10000
#define NPRODUCERS 2
#define NCONSUMERS 3
#define SENTINEL (-1)

/* Producer @idx puts its share of 0..NITEMS-1, blocking while full. */
static int produce(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	int64_t per = NITEMS / NPRODUCERS;

	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "jobs", 16, &q));
	for (int64_t i = idx * per; i < (idx + 1) * per; i++)
		AGH_WCALL(c, agora_queue_put(q, agora_int(i), AGORA_FOREVER));
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

/* A consumer takes items until a sentinel, then records all it got in the
 * shared list "got" with one extend. */
static int consume(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	agora_list *got = NULL;
	agora_value *items = calloc(NITEMS, sizeof(*items));
	size_t n = 0;
	int rc = 1;

	(void)idx;
	(void)arg;
	AGH_WCHECK(items != NULL);
	if (agora_queue_open(c, "jobs", 16, &q) != 0 ||
	    agora_list_open(c, "got", &got) != 0)
		goto out;
	for (;;) {
		int64_t x;
		int r = agora_queue_get_int(q, AGORA_FOREVER, &x);
		if (r != 0) {
			fprintf(stderr, "consumer: get: %s: %s\n",
				agora_errname(r), agora_errmsg(c));
			goto out;
		}
		if (x == SENTINEL)
			break;
		if (n == NITEMS) {
			fprintf(stderr, "consumer: more than %d items\n",
				NITEMS);
			goto out;
		}
		items[n++] = agora_int(x);
	}
	if (n > 0 && agora_list_extend(got, items, n) != 0) {
		fprintf(stderr, "consumer: extend: %s\n", agora_errmsg(c));
		goto out;
	}
	rc = 0;
out:
	agora_list_close(got);
	agora_queue_close(q);
	free(items);
	return rc;
}

START_TEST(two_producers_three_consumers_move_every_item_exactly_once)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_list *got;
	pid_t prod[NPRODUCERS], cons[NCONSUMERS];
	agora_value all;
	unsigned char *seen = calloc(NITEMS, 1);

	ck_assert_ptr_nonnull(seen);
	AGH_OK(c, agora_queue_open(c, "jobs", 16, &q));
	AGH_OK(c, agora_list_open(c, "got", &got));
	for (int i = 0; i < NCONSUMERS; i++)
		cons[i] = agh_spawn(consume, i, NULL);
	for (int i = 0; i < NPRODUCERS; i++)
		prod[i] = agh_spawn(produce, i, NULL);
	agh_wait_all_ok(prod, NPRODUCERS);
	/* Every item is in or through the queue; one sentinel per consumer
	 * comes after all of them. */
	for (int i = 0; i < NCONSUMERS; i++)
		AGH_OK(c,
		       agora_queue_put(q, agora_int(SENTINEL), AGORA_FOREVER));
	agh_wait_all_ok(cons, NCONSUMERS);

	size_t left = 99;
	AGH_OK(c, agora_queue_qsize(q, &left));
	ck_assert_uint_eq(left, 0);
	AGH_OK(c, agora_list_copy(got, &all));
	ck_assert_int_eq(all.type, AGORA_ARRAY);
	ck_assert_uint_eq(all.via.array.len, NITEMS);
	for (size_t i = 0; i < all.via.array.len; i++) {
		int64_t x = -1;
		ck_assert_int_eq(agora_value_to_int(all.via.array.items[i], &x),
				 0);
		ck_assert_msg(x >= 0 && x < NITEMS, "item %lld out of range",
			      (long long)x);
		ck_assert_msg(!seen[x], "item %lld consumed twice",
			      (long long)x);
		seen[x] = 1;
	}
	agora_value_free(&all);
	free(seen);
	agora_list_close(got);
	agora_queue_close(q);
}
END_TEST

/* Block in get until an item comes; it must be 42. */
static int get_one(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	int64_t x = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "wake", 0, &q));
	AGH_WCALL(c, agora_queue_get_int(q, AGORA_FOREVER, &x));
	AGH_WCHECK(x == 42);
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(get_blocked_in_one_process_is_woken_by_put_from_another)
{
	agora_client *c = agh_cli;
	agora_queue *q;

	AGH_OK(c, agora_queue_open(c, "wake", 0, &q));
	pid_t pid = agh_spawn(get_one, 0, NULL);
	/* The getter is parked in the server before anything is put. */
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	ck_assert_int_eq(agh_stats_int(c, "waiters"), 1);
	AGH_OK(c, agora_queue_put(q, agora_int(42), AGORA_FOREVER));
	agh_wait_ok(pid);
	agh_wait_waiters(c, agora_queue_handle(q), 0);
	bool empty = false;
	AGH_OK(c, agora_queue_empty(q, &empty));
	ck_assert(empty);
	agora_queue_close(q);
}
END_TEST

/* Put 7 on the full queue "full", waiting for room. */
static int put_seven(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "full", 1, &q));
	AGH_WCALL(c, agora_queue_put(q, agora_int(7), AGORA_FOREVER));
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(put_blocked_on_full_queue_is_woken_by_get_from_another)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	int64_t x = 0;

	AGH_OK(c, agora_queue_open(c, "full", 1, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(6), 0));
	pid_t pid = agh_spawn(put_seven, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	AGH_OK(c, agora_queue_get_int(q, AGORA_FOREVER, &x));
	ck_assert_int_eq(x, 6);
	agh_wait_ok(pid);
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 7);
	agora_queue_close(q);
}
END_TEST

START_TEST(get_on_empty_queue_times_out_with_empty)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value v = agora_int(5);

	AGH_OK(c, agora_queue_open(c, NULL, 0, &q));
	AGH_CALL_EQ(c, agora_queue_get(q, 0.2, &v), AGORA_EEMPTY);
	/* Out-parameters are written only on success. */
	ck_assert_int_eq(v.type, AGORA_INT);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "waiters"), 0);
	AGH_CALL_EQ(c, agora_queue_get(q, 0, &v), AGORA_EEMPTY);
	agora_queue_close(q);
}
END_TEST

START_TEST(put_on_full_queue_times_out_with_full)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	bool full = false;
	size_t n = 0;

	AGH_OK(c, agora_queue_open(c, NULL, 2, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(1), AGORA_FOREVER));
	AGH_OK(c, agora_queue_put(q, agora_int(2), AGORA_FOREVER));
	AGH_OK(c, agora_queue_full(q, &full));
	ck_assert(full);
	AGH_CALL_EQ(c, agora_queue_put(q, agora_int(3), 0.2), AGORA_EFULL);
	AGH_CALL_EQ(c, agora_queue_put(q, agora_int(3), 0), AGORA_EFULL);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 2);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "waiters"), 0);
	agora_queue_close(q);
}
END_TEST

START_TEST(nowait_calls_never_block_and_keep_fifo_order)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value v;
	bool b;
	size_t n;
	char *s = NULL;

	AGH_OK(c, agora_queue_open(c, NULL, 3, &q));
	AGH_OK(c, agora_queue_empty(q, &b));
	ck_assert(b);
	AGH_CALL_EQ(c, agora_queue_get_nowait(q, &v), AGORA_EEMPTY);
	AGH_OK(c, agora_queue_put_nowait(q, agora_int(1)));
	AGH_OK(c, agora_queue_put_nowait(q, agora_str("two")));
	AGH_OK(c, agora_queue_put_nowait(q, agora_float(3.5)));
	AGH_CALL_EQ(c, agora_queue_put_nowait(q, agora_int(4)), AGORA_EFULL);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 3);
	AGH_OK(c, agora_queue_full(q, &b));
	ck_assert(b);

	AGH_OK(c, agora_queue_get_nowait(q, &v));
	agh_assert_int(v, 1);
	agora_value_free(&v);
	AGH_OK(c, agora_queue_get_str(q, 0, &s));
	ck_assert_str_eq(s, "two");
	free(s);
	AGH_OK(c, agora_queue_get_nowait(q, &v));
	ck_assert_int_eq(v.type, AGORA_FLOAT);
	ck_assert(v.via.f == 3.5);
	agora_value_free(&v);
	AGH_CALL_EQ(c, agora_queue_get_nowait(q, &v), AGORA_EEMPTY);
	AGH_OK(c, agora_queue_empty(q, &b));
	ck_assert(b);
	AGH_OK(c, agora_queue_full(q, &b));
	ck_assert(!b);
	agora_queue_close(q);
}
END_TEST

/* Block in get forever; the parent kills this process. */
static int park_forever(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	agora_value v;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "orphan", 0, &q));
	int rc = agora_queue_get(q, AGORA_FOREVER, &v);
	fprintf(stderr, "parked getter returned %s\n", agora_errname(rc));
	if (rc == 0)
		agora_value_free(&v);
	agora_queue_close(q);
	return 1;
}

START_TEST(getter_that_dies_while_parked_takes_no_item)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	int64_t x = 0;
	size_t n = 0;

	AGH_OK(c, agora_queue_open(c, "orphan", 0, &q));
	pid_t pid = agh_spawn(park_forever, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	/* The server withdraws the dead connection's get. */
	agh_wait_waiters(c, agora_queue_handle(q), 0);

	AGH_OK(c, agora_queue_put(q, agora_int(99), AGORA_FOREVER));
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 1);
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 99);
	agora_queue_close(q);
}
END_TEST

/* Getter @idx waits for one item and records "idx got item" in dict "who". */
static int get_and_record(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	agora_dict *who = NULL;
	int64_t x = -1;

	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "fifo", 0, &q));
	AGH_WCALL(c, agora_dict_open(c, "who", &who));
	AGH_WCALL(c, agora_queue_get_int(q, AGORA_FOREVER, &x));
	AGH_WCALL(c, agora_dict_set(who, agora_int(idx), agora_int(x)));
	AGH_WCALL(c, agora_dict_close(who));
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(parked_getters_are_served_in_arrival_order)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_dict *who;
	pid_t pids[3];

	AGH_OK(c, agora_queue_open(c, "fifo", 0, &q));
	AGH_OK(c, agora_dict_open(c, "who", &who));
	/* Park getter 0, then 1, then 2, each after the previous is parked. */
	for (int i = 0; i < 3; i++) {
		pids[i] = agh_spawn(get_and_record, i, NULL);
		agh_wait_waiters(c, agora_queue_handle(q), i + 1);
	}
	for (int i = 0; i < 3; i++)
		AGH_OK(c,
		       agora_queue_put(q, agora_int(100 + i), AGORA_FOREVER));
	agh_wait_all_ok(pids, 3);
	for (int i = 0; i < 3; i++) {
		int64_t x = 0;
		AGH_OK(c, agora_dict_get_int(who, agora_int(i), &x));
		ck_assert_int_eq(x, 100 + i);
	}
	agora_dict_close(who);
	agora_queue_close(q);
}
END_TEST

/* Get with a timeout long enough to be woken by the parent's put. */
static int get_with_timeout(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	int64_t x = 0;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "soon", 0, &q));
	AGH_WCALL(c, agora_queue_get_int(q, 60.0, &x));
	AGH_WCHECK(x == 8);
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

START_TEST(get_with_timeout_is_woken_by_a_put_before_it_expires)
{
	agora_client *c = agh_cli;
	agora_queue *q;

	AGH_OK(c, agora_queue_open(c, "soon", 0, &q));
	pid_t pid = agh_spawn(get_with_timeout, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	AGH_OK(c, agora_queue_put(q, agora_int(8), 0));
	agh_wait_ok(pid);
	agora_queue_close(q);
}
END_TEST

/* Block putting 2 on the full queue "stuck"; the parent kills us. */
static int put_forever(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "stuck", 1, &q));
	int rc = agora_queue_put(q, agora_int(2), AGORA_FOREVER);
	fprintf(stderr, "parked put returned %s\n", agora_errname(rc));
	agora_queue_close(q);
	return 1;
}

START_TEST(putter_that_dies_while_parked_puts_nothing)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value v;
	int64_t x = 0;

	AGH_OK(c, agora_queue_open(c, "stuck", 1, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	pid_t pid = agh_spawn(put_forever, 0, NULL);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int status = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	agh_wait_waiters(c, agora_queue_handle(q), 0);

	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 1);
	AGH_CALL_EQ(c, agora_queue_get_nowait(q, &v), AGORA_EEMPTY);
	agora_queue_close(q);
}
END_TEST

/* The sentinel idiom with a type mismatch: a worker taking ints meets a
 * str. The item has left the queue (another worker would not see it) but
 * is not lost: the client hands it over, and nothing else is kept. */
START_TEST(typed_get_of_another_type_keeps_the_item_for_the_caller)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_jqueue *jq;
	agora_value v;
	int64_t x = -1;
	char *str = NULL;
	size_t n;

	AGH_OK(c, agora_queue_open(c, "typed", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_queue_put(q, agora_str("stop"), 0));
	AGH_OK(c, agora_queue_put(q, agora_float(2.5), 0));
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 1);

	ck_assert_int_eq(agora_queue_get_int(q, 0, &x), AGORA_ETYPE);
	ck_assert_msg(strstr(agora_errmsg(c), "agora_client_take_item"),
		      "message: %s", agora_errmsg(c));
	ck_assert_int_eq(x, 1); /* untouched */
	ck_assert_int_eq(agora_queue_get_str(q, 0, &str), AGORA_ETYPE);
	ck_assert_ptr_null(str);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 0);

	/* Both, oldest first, then nothing. */
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_str(v, "stop");
	agora_value_free(&v);
	AGH_OK(c, agora_client_take_item(c, &v));
	ck_assert_int_eq(v.type, AGORA_FLOAT);
	ck_assert(v.via.f == 2.5);
	ck_assert_int_eq(agora_client_take_item(c, &v), AGORA_EEMPTY);

	/* A joinable queue's typed get does the same. */
	AGH_OK(c, agora_jqueue_open(c, "typed-j", 0, &jq));
	AGH_OK(c, agora_jqueue_put(jq, agora_str("job"), 0));
	ck_assert_int_eq(agora_jqueue_get_int(jq, 0, &x), AGORA_ETYPE);
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_str(v, "job");
	agora_value_free(&v);

	/* In sticky mode the latched sentence says where the item is. */
	AGH_OK(c, agora_client_set_sticky(c, true));
	AGH_OK(c, agora_queue_put(q, agora_str("sticky"), 0));
	ck_assert_int_eq(agora_queue_get_int(q, 0, &x), AGORA_ETYPE);
	ck_assert_int_eq(agora_client_error(c), AGORA_ETYPE);
	ck_assert_msg(strstr(agora_errmsg(c), "agora_client_take_item"),
		      "latched message: %s", agora_errmsg(c));
	AGH_OK(c, agora_client_set_sticky(c, false));
	AGH_OK(c, agora_client_take_item(c, &v));
	agh_assert_str(v, "sticky");
	agora_value_free(&v);

	/* An item left untaken is freed with the client (valgrind and
	 * LeakSanitizer check): this one stays kept. */
	AGH_OK(c, agora_queue_put(q, agora_str("left"), 0));
	ck_assert_int_eq(agora_queue_get_int(q, 0, &x), AGORA_ETYPE);
	agora_jqueue_close(jq);
	agora_queue_close(q);
}
END_TEST

START_TEST(peek_reads_the_oldest_items_without_taking_them)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_jqueue *jq;
	agora_value v;
	size_t n;

	AGH_OK(c, agora_queue_open(c, "peeked", 0, &q));
	AGH_OK(c, agora_queue_peek(q, 3, &v));
	ck_assert_int_eq(v.type, AGORA_ARRAY);
	ck_assert_uint_eq(v.via.array.len, 0);
	agora_value_free(&v);
	for (int64_t i = 1; i <= 4; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	AGH_OK(c, agora_queue_peek(q, 2, &v));
	agh_assert_ints(v, (const int64_t[]){ 1, 2 }, 2);
	agora_value_free(&v);
	AGH_OK(c, agora_queue_peek(q, 10, &v));
	agh_assert_ints(v, (const int64_t[]){ 1, 2, 3, 4 }, 4);
	agora_value_free(&v);
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 4);

	AGH_OK(c, agora_jqueue_open(c, "peeked-j", 0, &jq));
	AGH_OK(c, agora_jqueue_put(jq, agora_str("head"), 0));
	AGH_OK(c, agora_jqueue_peek(jq, 1, &v));
	ck_assert_uint_eq(v.via.array.len, 1);
	agh_assert_str(v.via.array.items[0], "head");
	agora_value_free(&v);
	agora_jqueue_close(jq);
	agora_queue_close(q);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("queue");

	AGH_ADD(s, two_producers_three_consumers_move_every_item_exactly_once);
	AGH_ADD(s, get_blocked_in_one_process_is_woken_by_put_from_another);
	AGH_ADD(s, put_blocked_on_full_queue_is_woken_by_get_from_another);
	AGH_ADD(s, get_on_empty_queue_times_out_with_empty);
	AGH_ADD(s, put_on_full_queue_times_out_with_full);
	AGH_ADD(s, nowait_calls_never_block_and_keep_fifo_order);
	AGH_ADD(s, getter_that_dies_while_parked_takes_no_item);
	AGH_ADD(s, parked_getters_are_served_in_arrival_order);
	AGH_ADD(s, get_with_timeout_is_woken_by_a_put_before_it_expires);
	AGH_ADD(s, putter_that_dies_while_parked_puts_nothing);
	AGH_ADD(s, typed_get_of_another_type_keeps_the_item_for_the_caller);
	AGH_ADD(s, peek_reads_the_oldest_items_without_taking_them);
	return agh_run_suite(s);
}
