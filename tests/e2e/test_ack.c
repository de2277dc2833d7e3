/*
 * test_ack.c - acknowledged delivery on queues (docs/protocol.md 4.3.1,
 * docs/api.md "Acknowledged delivery"): take, ack, nack, pending, leases,
 * redelivery when a taker's connection ends (a reconnect included),
 * delivery counts, the dead-letter queue, a joinable queue's ack as
 * task_done, and pending items across a restart with --data-dir.
 * test_ack_workers.c has the worker pool under SIGKILL and the vanished
 * host.
 *
 * Wall-clock upper bounds are checked only outside valgrind and ASan;
 * lower bounds (a lease that must not pass early) everywhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ack_support.h"
#include "harness.h"

#define NIL agora_nil()

/* The value under the int key @key in the map @map, or NULL. */
static const agora_value *map_find_int(agora_value map, int64_t key)
{
	int64_t k;

	ck_assert_int_eq(map.type, AGORA_MAP);
	for (size_t i = 0; i < map.via.map.len; i++)
		if (agora_value_to_int(map.via.map.items[i].key, &k) == 0 &&
		    k == key)
			return &map.via.map.items[i].val;
	return NULL;
}

/* This connection's id, from `clients`. */
static int64_t my_conn_id(agora_client *c)
{
	agora_value all;
	int64_t id = -1;

	AGH_OK(c, agora_clients(c, &all));
	for (size_t i = 0; i < all.via.array.len; i++) {
		const agora_value *self =
		    agh_map_find(all.via.array.items[i], "self");
		if (self != NULL && self->type == AGORA_BOOL && self->via.b)
			id = agh_map_int(all.via.array.items[i], "id");
	}
	agora_value_free(&all);
	ck_assert_int_ge(id, 0);
	return id;
}

/* Take from @q at once, requiring the item @want delivered for the
 * @deliveries time; returns its id. */
static uint64_t take_int(agora_client *c, agora_queue *q, double lease,
			 int64_t want, uint64_t deliveries)
{
	agora_value item;
	uint64_t id = 0, n = 0;

	AGH_OK(c, agora_queue_take_ex(q, 0, lease, &id, &item, &n));
	ck_assert_int_eq(as_int(item), want);
	ck_assert_uint_eq(n, deliveries);
	agora_value_free(&item);
	return id;
}

struct qsize_is {
	agora_client *c;
	agora_queue *q;
	int64_t n;
};

static bool qsize_reached(void *ud)
{
	struct qsize_is *w = ud;

	return qsize(w->q, w->c) == w->n;
}

static void wait_qsize(agora_client *c, agora_queue *q, int64_t n)
{
	struct qsize_is w = { c, q, n };

	agh_wait_until(qsize_reached, &w, "the queue's size");
}

/* A holder takes @n items of @queue, writes their ids to @fd, and waits to
 * be killed. */
struct holder {
	const char *queue;
	int n;
	int fd;
};

static int holder(agora_client *c, int idx, void *arg)
{
	const struct holder *h = arg;
	agora_queue *q = NULL;
	uint64_t ids[8];

	(void)idx;
	AGH_WCHECK(h->n <= 8);
	AGH_WCALL(c, agora_queue_open(c, h->queue, 0, &q));
	for (int i = 0; i < h->n; i++)
		AGH_WCALL(c, agora_queue_take(q, 30, 0, &ids[i], NULL));
	AGH_WCHECK(write(h->fd, ids, sizeof(ids[0]) * (size_t)h->n) ==
		   (ssize_t)(sizeof(ids[0]) * (size_t)h->n));
	for (;;)
		pause();
}

/* Start a holder of @n items of @queue; *ids gets their ids. */
static pid_t start_holder(const char *queue, int n, uint64_t *ids)
{
	int p[2];
	struct holder h = { queue, n, -1 };
	size_t want = sizeof(ids[0]) * (size_t)n, got = 0;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	h.fd = p[1];
	pid_t pid = agh_spawn(holder, 0, &h);
	close(p[1]);
	while (got < want) {
		ssize_t r = read(p[0], (char *)ids + got, want - got);
		ck_assert_msg(r > 0, "the holder took nothing");
		got += (size_t)r;
	}
	close(p[0]);
	return pid;
}

/* ---- take, ack, nack ---- */

START_TEST(take_hands_out_an_item_that_ack_removes_for_good)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value item;
	uint64_t id, id2, n;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_str("a"), 0));
	AGH_OK(c, agora_queue_put(q, agora_str("b"), 0));

	AGH_OK(c, agora_queue_take(q, AGORA_FOREVER, 0, &id, &item));
	agh_assert_str(item, "a");
	agora_value_free(&item);
	/* Taken: out of the queue, pending here. */
	ck_assert_int_eq(qsize(q, c), 1);
	ck_assert_uint_eq(npending(c, q), 1);
	AGH_OK(c, agora_queue_ack(q, id));
	ck_assert_uint_eq(npending(c, q), 0);
	ck_assert_int_eq(qsize(q, c), 1);

	/* With details: the count of deliveries, 1 the first time; another
	 * item, another id. */
	AGH_OK(c, agora_queue_take_ex(q, 0, 0, &id2, &item, &n));
	agh_assert_str(item, "b");
	agora_value_free(&item);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_ne(id2, id);
	AGH_OK(c, agora_queue_ack(q, id2));
	ck_assert_int_eq(qsize(q, c), 0);

	/* Acknowledged items never come back, not even when this connection
	 * ends. */
	agora_queue_close(q);
	agora_client_free(c);
	agh_cli = c = agh_connect(&agh_srv);
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 0);
	agora_queue_close(q);
}
END_TEST

START_TEST(take_waits_and_times_out_as_get)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	agora_value item;
	uint64_t id, n;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_CALL_EQ(c, agora_queue_take(q, 0, 0, &id, &item), AGORA_EEMPTY);
	double t0 = agh_now();
	AGH_CALL_EQ(c, agora_queue_take(q, 0.1, 5, &id, &item), AGORA_EEMPTY);
	ck_assert_msg(agh_now() - t0 >= 0.09, "gave up after %.3f s",
		      agh_now() - t0);
	AGH_CALL_EQ(c, agora_queue_take_ex(q, 0.05, 0, &id, &item, &n),
		    AGORA_EEMPTY);

	/* A put from another process wakes a parked take. */
	struct expect e = { "jobs", { 7 }, 1, 1, 30, true };
	pid_t pid = agh_spawn(taker, 0, &e);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	AGH_OK(c, agora_queue_put(q, agora_int(7), 0));
	agh_wait_ok(pid);
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);

	/* What the library refuses before sending anything. */
	AGH_OK(c, agora_queue_put(q, agora_int(8), 0));
	AGH_CALL_EQ(c, agora_queue_take(q, 0, 0, NULL, &item), AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_queue_take(q, 0, NAN, &id, &item), AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_queue_take_ex(q, 0, 0, &id, &item, NULL),
		    AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_take(NULL, 0, 0, &id, &item),
			 AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_ack(NULL, 1), AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_nack(NULL, 1), AGORA_EINVAL);
	ck_assert_int_eq(agora_queue_pending(NULL, &item), AGORA_EINVAL);
	AGH_CALL_EQ(c, agora_queue_pending(q, NULL), AGORA_EINVAL);
	ck_assert_int_eq(qsize(q, c), 1);
	/* A NULL item: taken all the same, and pending. */
	AGH_OK(c, agora_queue_take(q, 0, AGORA_FOREVER, &id, NULL));
	ck_assert_uint_eq(npending(c, q), 1);
	AGH_OK(c, agora_queue_ack(q, id));
	agora_queue_close(q);
}
END_TEST

/* Whether the client's last message names @id. */
static bool errmsg_names(agora_client *c, uint64_t id)
{
	char s[32];

	snprintf(s, sizeof(s), "%" PRIu64, id);
	return strstr(agora_errmsg(c), s) != NULL;
}

START_TEST(ack_and_nack_refuse_an_id_not_pending_on_this_connection)
{
	agora_client *c = agh_cli, *other = agh_connect(&agh_srv);
	agora_queue *q, *oq;
	uint64_t id;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(other, agora_queue_open(other, "jobs", 0, &oq));

	/* Never taken. */
	AGH_CALL_EQ(c, agora_queue_ack(q, 123456), AGORA_EVALUE);
	ck_assert_msg(errmsg_names(c, 123456), "%s", agora_errmsg(c));
	AGH_CALL_EQ(c, agora_queue_nack(q, 123456), AGORA_EVALUE);
	ck_assert_msg(errmsg_names(c, 123456), "%s", agora_errmsg(c));

	/* Held by another connection: neither may settle it. */
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(other, agora_queue_take(oq, 0, 0, &id, NULL));
	AGH_CALL_EQ(c, agora_queue_ack(q, id), AGORA_EVALUE);
	ck_assert_msg(errmsg_names(c, id), "%s", agora_errmsg(c));
	AGH_CALL_EQ(c, agora_queue_nack(q, id), AGORA_EVALUE);
	ck_assert_uint_eq(npending(c, q), 1);
	AGH_OK(other, agora_queue_ack(oq, id));

	/* Already acknowledged. */
	AGH_CALL_EQ(other, agora_queue_ack(oq, id), AGORA_EVALUE);
	ck_assert_msg(errmsg_names(other, id), "%s", agora_errmsg(other));
	AGH_CALL_EQ(other, agora_queue_nack(oq, id), AGORA_EVALUE);
	ck_assert_int_eq(qsize(q, c), 0);

	/* Already nacked: it is back in the queue, pending nowhere. */
	AGH_OK(c, agora_queue_put(q, agora_int(2), 0));
	id = take_int(c, q, 0, 2, 1);
	AGH_OK(c, agora_queue_nack(q, id));
	AGH_CALL_EQ(c, agora_queue_nack(q, id), AGORA_EVALUE);
	AGH_CALL_EQ(c, agora_queue_ack(q, id), AGORA_EVALUE);
	ck_assert_int_eq(qsize(q, c), 1);

	agora_queue_close(oq);
	agora_client_free(other);
	agora_queue_close(q);
}
END_TEST

START_TEST(nack_puts_the_item_back_at_the_head_with_the_same_id)
{
	agora_client *c = agh_cli;
	agora_queue *q;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	for (int i = 1; i <= 3; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	uint64_t id = take_int(c, q, 0, 1, 1);
	AGH_OK(c, agora_queue_nack(q, id));
	ck_assert_int_eq(qsize(q, c), 3);
	/* Back in front of 2 and 3, the same id, delivered a second and a
	 * third time. */
	ck_assert_uint_eq(take_int(c, q, 0, 1, 2), id);
	AGH_OK(c, agora_queue_nack(q, id));
	ck_assert_uint_eq(take_int(c, q, 0, 1, 3), id);
	AGH_OK(c, agora_queue_ack(q, id));
	AGH_OK(c, agora_queue_ack(q, take_int(c, q, 0, 2, 1)));

	/* A nack goes to a parked taker first. */
	uint64_t id3 = take_int(c, q, 0, 3, 1);
	struct expect e = { "jobs", { 3 }, 1, 2, 30, true };
	pid_t pid = agh_spawn(taker, 0, &e);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	AGH_OK(c, agora_queue_nack(q, id3));
	agh_wait_ok(pid);
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);
	agora_queue_close(q);
}
END_TEST

/* ---- what goes back by itself ---- */

START_TEST(a_killed_takers_items_go_back_to_the_head_oldest_first)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	uint64_t ids[3];

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	for (int i = 1; i <= 4; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	pid_t pid = start_holder("jobs", 3, ids);
	ck_assert_int_eq(qsize(q, c), 1);
	ck_assert_uint_eq(npending(c, q), 3);

	kill_and_reap(pid);
	wait_qsize(c, q, 4);
	ck_assert_uint_eq(npending(c, q), 0);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 3);
	/* 1, 2, 3 in front of 4, each its id, each a second delivery. */
	for (int i = 0; i < 3; i++) {
		uint64_t id = take_int(c, q, 0, i + 1, 2);
		ck_assert_uint_eq(id, ids[i]);
		AGH_OK(c, agora_queue_ack(q, id));
	}
	AGH_OK(c, agora_queue_ack(q, take_int(c, q, 0, 4, 1)));
	agora_queue_close(q);
}
END_TEST

START_TEST(a_killed_takers_item_goes_to_a_parked_taker_first)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	uint64_t id;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(42), 0));
	pid_t pid = start_holder("jobs", 1, &id);

	struct expect e = { "jobs", { 42 }, 1, 2, 30, true };
	pid_t w = agh_spawn(taker, 0, &e);
	agh_wait_waiters(c, agora_queue_handle(q), 1);
	kill_and_reap(pid);
	agh_wait_ok(w);
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 1);
	agora_queue_close(q);
}
END_TEST

START_TEST(a_closed_connection_gives_back_what_it_did_not_ack)
{
	agora_client *c = agh_cli, *w = agh_connect(&agh_srv);
	agora_queue *q, *wq;
	uint64_t a, b;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(w, agora_queue_open(w, "jobs", 0, &wq));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_queue_put(q, agora_int(2), 0));
	a = take_int(w, wq, 0, 1, 1);
	b = take_int(w, wq, 0, 2, 1);
	AGH_OK(w, agora_queue_ack(wq, a));
	agora_queue_close(wq); /* closing the handle keeps what is pending */
	ck_assert_uint_eq(npending(c, q), 1);
	agora_client_free(w);

	wait_qsize(c, q, 1);
	ck_assert_uint_eq(take_int(c, q, 0, 2, 2), b);
	AGH_OK(c, agora_queue_ack(q, b));
	agora_queue_close(q);
}
END_TEST

/* A client that reconnects: what its old connection held went back, so
 * the old id is no longer its own, until it takes the item again. */
START_TEST(after_a_reconnect_an_old_id_is_no_longer_pending)
{
	agora_client *c = agh_cli, *w = agh_connect(&agh_srv);
	agora_queue *q, *wq;
	bool killed = false;

	AGH_OK(w, agora_client_set_reconnect(w, 30, NULL, NULL));
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(w, agora_queue_open(w, "jobs", 0, &wq));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	uint64_t id = take_int(w, wq, 0, 1, 1);

	AGH_OK(c, agora_kill(c, (uint64_t)my_conn_id(w), &killed));
	ck_assert(killed);
	wait_qsize(c, q, 1);
	/* The ack finds the connection gone, reconnects, and is made on the
	 * new connection, where nothing is pending. */
	AGH_CALL_EQ(w, agora_queue_ack(wq, id), AGORA_EVALUE);
	ck_assert_uint_eq(take_int(w, wq, 0, 1, 2), id);
	AGH_OK(w, agora_queue_ack(wq, id));
	ck_assert_int_eq(qsize(q, c), 0);
	agora_queue_close(wq);
	agora_client_free(w);
	agora_queue_close(q);
}
END_TEST

START_TEST(plain_get_is_gone_at_once)
{
	agora_client *c = agh_cli, *w = agh_connect(&agh_srv);
	agora_queue *q, *wq;
	agora_value item, all;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(w, agora_queue_open(w, "jobs", 0, &wq));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(w, agora_queue_get(wq, 0, &item));
	agora_value_free(&item);
	ck_assert_uint_eq(npending(c, q), 0);
	agora_queue_close(wq);
	agora_client_free(w);

	/* Once the server has seen it go (one connection left), nothing came
	 * back. */
	for (double t0 = agh_now();; sleep_s(0.01)) {
		AGH_OK(c, agora_clients(c, &all));
		size_t n = all.via.array.len;
		agora_value_free(&all);
		if (n == 1)
			break;
		ck_assert_msg(agh_now() - t0 < AGH_STATE_TIMEOUT,
			      "the connection stayed");
	}
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 0);
	agora_queue_close(q);
}
END_TEST

START_TEST(an_item_whose_lease_passes_goes_back)
{
	agora_client *c = agh_cli;
	agora_queue *q;
	const double lease = 0.3;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_queue_put(q, agora_int(2), 0));
	double t0 = agh_now();
	uint64_t id = take_int(c, q, lease, 1, 1);

	/* Not before the lease passes... */
	wait_qsize(c, q, 2);
	double took = agh_now() - t0;
	printf("a lease of %.1f s: back in the queue after %.3f s\n", lease,
	       took);
	ck_assert_msg(took >= lease - 0.01, "back after %.3f s", took);
	if (timing_checked())
		ck_assert_msg(took <= lease + 2.0, "back after %.3f s", took);
	/* ...and then no longer this connection's to settle. */
	AGH_CALL_EQ(c, agora_queue_ack(q, id), AGORA_EVALUE);
	ck_assert_uint_eq(take_int(c, q, 0, 1, 2), id);
	AGH_OK(c, agora_queue_ack(q, id));

	/* A lease that passes wakes a parked taker, with nothing else
	 * happening in the server. */
	id = take_int(c, q, lease, 2, 1);
	struct expect e = { "jobs", { 2 }, 1, 2, 30, true };
	pid_t pid = agh_spawn(taker, 0, &e);
	agh_wait_ok(pid);
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);
	AGH_CALL_EQ(c, agora_queue_ack(q, id), AGORA_EVALUE);

	/* An item acknowledged in time stays acknowledged. */
	AGH_OK(c, agora_queue_put(q, agora_int(3), 0));
	id = take_int(c, q, 60, 3, 1);
	AGH_OK(c, agora_queue_ack(q, id));
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 2);
	agora_queue_close(q);
}
END_TEST

/* ---- what the server shows ---- */

START_TEST(pending_info_and_clients_show_who_holds_what)
{
	agora_client *c = agh_cli, *w = agh_connect(&agh_srv);
	agora_queue *q, *wq;
	agora_value p, info, all;
	int64_t me = my_conn_id(c), them = my_conn_id(w);
	uint64_t mine, theirs, theirs2;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(w, agora_queue_open(w, "jobs", 0, &wq));
	for (int i = 1; i <= 3; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	mine = take_int(c, q, 30, 1, 1);
	theirs = take_int(w, wq, 0, 2, 1);
	theirs2 = take_int(w, wq, 0, 3, 1);

	AGH_OK(c, agora_queue_pending(q, &p));
	ck_assert_int_eq(p.type, AGORA_ARRAY);
	ck_assert_uint_eq(p.via.array.len, 3);
	for (size_t i = 0; i < p.via.array.len; i++) {
		agora_value e = p.via.array.items[i];
		uint64_t id = (uint64_t)agh_map_int(e, "id");
		const agora_value *lease = agh_map_find(e, "lease");

		ck_assert_int_eq(agh_map_int(e, "deliveries"), 1);
		ck_assert_ptr_nonnull(lease);
		if (id == mine) {
			ck_assert_int_eq(agh_map_int(e, "conn"), me);
			ck_assert_int_eq(lease->type, AGORA_FLOAT);
			ck_assert(lease->via.f > 0 && lease->via.f <= 30);
		} else {
			ck_assert(id == theirs || id == theirs2);
			ck_assert_int_eq(agh_map_int(e, "conn"), them);
			ck_assert_int_eq(lease->type, AGORA_NIL);
		}
	}
	agora_value_free(&p);

	/* info: each connection's pending ids, and the counts. */
	AGH_OK(c, agora_info(c, agora_queue_handle(q), &info));
	const agora_value *pend = agh_map_find(info, "pending");
	ck_assert_ptr_nonnull(pend);
	const agora_value *ours = map_find_int(*pend, me);
	const agora_value *other = map_find_int(*pend, them);
	ck_assert_ptr_nonnull(ours);
	ck_assert_ptr_nonnull(other);
	ck_assert_uint_eq(ours->via.array.len, 1);
	ck_assert_int_eq(as_int(ours->via.array.items[0]), (int64_t)mine);
	ck_assert_uint_eq(other->via.array.len, 2);
	ck_assert_int_eq(agh_map_int(info, "redelivered"), 0);
	ck_assert_int_eq(agh_map_int(info, "dead_lettered"), 0);
	agora_value_free(&info);

	/* clients: the other connection holds the queue, count 2. */
	AGH_OK(c, agora_clients(c, &all));
	bool seen = false;
	for (size_t i = 0; i < all.via.array.len; i++) {
		agora_value cl = all.via.array.items[i];
		const agora_value *holds = agh_map_find(cl, "holds");

		if (agh_map_int(cl, "id") != them)
			continue;
		ck_assert_ptr_nonnull(holds);
		for (size_t j = 0; j < holds->via.array.len; j++) {
			agora_value h = holds->via.array.items[j];
			const agora_value *type = agh_map_find(h, "type");

			if (type == NULL || type->type != AGORA_STR ||
			    strcmp(type->via.str.ptr, "queue") != 0)
				continue;
			agh_assert_str(*agh_map_find(h, "name"), "jobs");
			ck_assert_int_eq(agh_map_int(h, "count"), 2);
			seen = true;
		}
	}
	agora_value_free(&all);
	ck_assert_msg(seen, "clients shows no hold of the queue");

	AGH_OK(w, agora_queue_ack(wq, theirs));
	AGH_OK(w, agora_queue_ack(wq, theirs2));
	AGH_OK(c, agora_queue_ack(q, mine));
	ck_assert_uint_eq(npending(c, q), 0);
	agora_queue_close(wq);
	agora_client_free(w);
	agora_queue_close(q);
}
END_TEST

/* ---- the dead-letter queue ---- */

/* A worker that takes a poison job and dies of it (SIGKILL, mid-job),
 * after checking that it is the @arg'th delivery. */
static int poisoned(agora_client *c, int idx, void *arg)
{
	agora_queue *q = NULL;
	agora_value item;
	uint64_t id, n;

	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_WCALL(c, agora_queue_take_ex(q, 30, 0, &id, &item, &n));
	AGH_WCHECK(item.type == AGORA_STR &&
		   strcmp(item.via.str.ptr, "poison") == 0);
	AGH_WCHECK(n == (uint64_t)idx);
	agora_value_free(&item);
	kill(getpid(), SIGKILL);
	return 1;
}

START_TEST(a_poison_job_reaches_the_dead_letter_queue_after_max_deliveries)
{
	agora_client *c = agh_cli;
	agora_queue *q, *dead;
	agora_value item;

	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_queue_open_dead_letter(c, "jobs", 0, 3, "dead", &q));
	AGH_OK(c, agora_queue_put(q, agora_str("poison"), 0));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));

	/* Three workers take it, each dies of it. */
	for (int i = 1; i <= 3; i++) {
		pid_t pid = agh_spawn(poisoned, i, NULL);
		int st = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
		ck_assert_msg(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			      "worker %d: status %d", i, st);
	}
	/* A fourth delivery would be one too many: it is in "dead", and the
	 * next job is the good one. */
	AGH_OK(c, agora_queue_get(dead, 30, &item));
	agh_assert_str(item, "poison");
	agora_value_free(&item);
	uint64_t id = take_int(c, q, 0, 1, 1);
	AGH_OK(c, agora_queue_ack(q, id));
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_int_eq(qsize(dead, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);
	ck_assert_int_eq(
	    agh_info_int(c, agora_queue_handle(q), "dead_lettered"), 1);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 2);

	/* nack counts as a delivery too: with max_deliveries 2, the second
	 * nack sends it to "dead", to a getter parked there first. */
	agora_queue *q2;
	AGH_OK(c, agora_queue_open_dead_letter(c, "jobs2", 0, 2, "dead", &q2));
	AGH_OK(c, agora_queue_put(q2, agora_int(9), 0));
	id = take_int(c, q2, 0, 9, 1);
	AGH_OK(c, agora_queue_nack(q2, id));
	id = take_int(c, q2, 0, 9, 2);
	struct expect e = { "dead", { 9 }, 1, 1, 30, true };
	pid_t pid = agh_spawn(taker, 0, &e);
	agh_wait_waiters(c, agora_queue_handle(dead), 1);
	AGH_OK(c, agora_queue_nack(q2, id));
	agh_wait_ok(pid);
	ck_assert_int_eq(qsize(q2, c), 0);
	ck_assert_int_eq(qsize(dead, c), 0);
	ck_assert_int_eq(
	    agh_info_int(c, agora_queue_handle(q2), "dead_lettered"), 1);
	agora_queue_close(q2);
	agora_queue_close(q);
	agora_queue_close(dead);
}
END_TEST

START_TEST(the_dead_letter_options_are_checked)
{
	agora_client *c = agh_cli;
	agora_queue *q = NULL, *dead;
	agora_dict *d;
	agora_pair o[2] = { { agora_str("max_deliveries"), agora_int(3) },
			    { agora_str("dead_letter"), agora_str("dead") } };

	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_dict_open(c, "adict", &d));
	AGH_CALL_EQ(c, agora_queue_open_dead_letter(c, "j", 0, 0, "dead", &q),
		    AGORA_EVALUE);
	ck_assert_msg(strstr(agora_errmsg(c), "max_deliveries") != NULL, "%s",
		      agora_errmsg(c));
	AGH_CALL_EQ(c, agora_queue_open_dead_letter(c, "j", 0, 3, "nosuch", &q),
		    AGORA_EVALUE);
	ck_assert_msg(strstr(agora_errmsg(c), "nosuch") != NULL, "%s",
		      agora_errmsg(c));
	AGH_CALL_EQ(c, agora_queue_open_dead_letter(c, "j", 0, 3, "adict", &q),
		    AGORA_EVALUE);
	ck_assert_msg(strstr(agora_errmsg(c), "adict") != NULL, "%s",
		      agora_errmsg(c));
	AGH_CALL_EQ(c, agora_queue_open_dead_letter(c, "j", 0, 3, NULL, &q),
		    AGORA_EINVAL);
	/* Both or neither. */
	AGH_CALL_EQ(c, agora_open_ex(c, "queue", "j", &o[0], 1, 0, &q),
		    AGORA_EARGS);
	AGH_CALL_EQ(c, agora_open_ex(c, "queue", "j", &o[1], 1, 0, &q),
		    AGORA_EARGS);
	agora_jqueue *jq = NULL;
	AGH_CALL_EQ(c,
		    agora_open_ex(c, "joinable_queue", "j", &o[0], 1, 0, &jq),
		    AGORA_EARGS);
	ck_assert_ptr_null(q);
	ck_assert_ptr_null(jq);
	/* Nothing was made by the refused opens. */
	AGH_CALL_EQ(
	    c,
	    agora_open_ex(c, "queue", "j", NULL, 0, AGORA_OPEN_NO_CREATE, &q),
	    AGORA_ENO_OBJECT);
	/* The dead-letter queue may be a joinable one. */
	agora_jqueue *jd;
	AGH_OK(c, agora_jqueue_open(c, "jdead", 0, &jd));
	AGH_OK(c, agora_jqueue_open_dead_letter(c, "jj", 0, 1, "jdead", &jq));
	agora_jqueue_close(jq);
	agora_jqueue_close(jd);
	agora_dict_close(d);
	agora_queue_close(dead);
}
END_TEST

/* ---- joinable_queue: ack is task_done ---- */

static int64_t unfinished(agora_client *c, agora_jqueue *q)
{
	return agh_info_int(c, agora_jqueue_handle(q), "unfinished");
}

/* A joinable holder: takes one item of "work" and waits to be killed. */
static int jholder(agora_client *c, int idx, void *arg)
{
	agora_jqueue *q = NULL;
	uint64_t id;
	int fd = *(int *)arg;

	(void)idx;
	AGH_WCALL(c, agora_jqueue_open(c, "work", 0, &q));
	AGH_WCALL(c, agora_jqueue_take(q, 30, 0, &id, NULL));
	AGH_WCHECK(write(fd, "!", 1) == 1);
	for (;;)
		pause();
}

START_TEST(a_joinable_queues_ack_is_its_task_done)
{
	agora_client *c = agh_cli;
	agora_jqueue *q;
	agora_value item;
	uint64_t a, b, n;
	bool done = true;

	AGH_OK(c, agora_jqueue_open(c, "work", 0, &q));
	AGH_OK(c, agora_jqueue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_jqueue_put(q, agora_int(2), 0));
	ck_assert_int_eq(unfinished(c, q), 2);

	AGH_OK(c, agora_jqueue_take(q, 0, 0, &a, &item));
	agora_value_free(&item);
	ck_assert_int_eq(unfinished(c, q), 2); /* taken is not done */
	AGH_OK(c, agora_jqueue_ack(q, a));
	ck_assert_int_eq(unfinished(c, q), 1);

	/* A nack leaves it unfinished: join waits. */
	AGH_OK(c, agora_jqueue_take(q, 0, 0, &b, &item));
	agora_value_free(&item);
	AGH_OK(c, agora_jqueue_nack(q, b));
	ck_assert_int_eq(unfinished(c, q), 1);
	AGH_OK(c, agora_jqueue_join(q, 0.05, &done));
	ck_assert(!done);
	AGH_OK(c, agora_jqueue_take_ex(q, 0, 0, &b, &item, &n));
	ck_assert_int_eq(as_int(item), 2);
	ck_assert_uint_eq(n, 2);
	agora_value_free(&item);
	AGH_OK(c, agora_jqueue_ack(q, b));
	ck_assert_int_eq(unfinished(c, q), 0);
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);
	/* The ack was the task_done: one more is one too many. */
	AGH_CALL_EQ(c, agora_jqueue_task_done(q), AGORA_EVALUE);

	/* A taker killed mid-job: unfinished until another acks it. */
	int p[2];
	char ch;
	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	AGH_OK(c, agora_jqueue_put(q, agora_int(3), 0));
	pid_t pid = agh_spawn(jholder, 0, &p[1]);
	close(p[1]);
	ck_assert_int_eq(read(p[0], &ch, 1), 1);
	close(p[0]);
	kill_and_reap(pid);
	AGH_OK(c, agora_jqueue_take_ex(q, 30, 0, &a, &item, &n));
	ck_assert_int_eq(as_int(item), 3);
	ck_assert_uint_eq(n, 2);
	agora_value_free(&item);
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(!done);
	AGH_OK(c, agora_jqueue_ack(q, a));
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);

	/* Plain get and task_done keep their meaning beside take. */
	AGH_OK(c, agora_jqueue_put(q, agora_int(4), 0));
	AGH_OK(c, agora_jqueue_get(q, 0, &item));
	agora_value_free(&item);
	ck_assert_int_eq(unfinished(c, q), 1);
	AGH_OK(c, agora_jqueue_task_done(q));
	ck_assert_int_eq(unfinished(c, q), 0);
	agora_jqueue_close(q);
}
END_TEST

/* A dead-letter queue whose name is gone when an item would move there:
 * the item goes back instead, and is not lost. */
START_TEST(an_item_whose_dead_letter_queue_is_gone_goes_back)
{
	agora_client *c = agh_cli;
	agora_queue *q, *dead;
	bool existed = false;

	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_queue_open_dead_letter(c, "jobs", 0, 1, "dead", &q));
	AGH_OK(c, agora_queue_close(dead));
	AGH_OK(c, agora_drop(c, "dead", &existed));
	ck_assert(existed);
	AGH_OK(c, agora_queue_put(q, agora_int(5), 0));
	uint64_t id = take_int(c, q, 0, 5, 1);
	AGH_OK(c, agora_queue_nack(q, id));
	ck_assert_int_eq(qsize(q, c), 1);
	ck_assert_int_eq(
	    agh_info_int(c, agora_queue_handle(q), "dead_lettered"), 0);
	ck_assert_uint_eq(take_int(c, q, 0, 5, 2), id);

	/* Made again under the name, it takes the next dead letter. */
	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_queue_nack(q, id));
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_int_eq(qsize(dead, c), 1);
	agora_queue_close(dead);
	agora_queue_close(q);
}
END_TEST

START_TEST(a_dead_lettered_item_counts_as_done_in_its_joinable_queue)
{
	agora_client *c = agh_cli;
	agora_queue *dead;
	agora_jqueue *q;
	agora_value item;
	uint64_t id;
	bool done = false;

	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_jqueue_open_dead_letter(c, "work", 0, 1, "dead", &q));
	AGH_OK(c, agora_jqueue_put(q, agora_str("poison"), 0));
	AGH_OK(c, agora_jqueue_take(q, 0, 0, &id, NULL));
	AGH_OK(c, agora_jqueue_nack(q, id));
	AGH_OK(c, agora_jqueue_join(q, 0, &done));
	ck_assert(done);
	ck_assert_int_eq(unfinished(c, q), 0);
	AGH_OK(c, agora_queue_get(dead, 0, &item));
	agh_assert_str(item, "poison");
	agora_value_free(&item);
	AGH_CALL_EQ(c, agora_jqueue_ack(q, id), AGORA_EVALUE);
	agora_jqueue_close(q);
	agora_queue_close(dead);
}
END_TEST

/* ---- persistence ---- */

static agora_client *restart(agh_server *s, agora_client *c, int sig)
{
	agora_client_free(c);
	agh_server_restart(s, sig);
	return agh_connect(s);
}

/* Put 1..4 in "jobs", ack 1, leave 2 and 3 pending on @c, 4 queued.
 * Returns the ids of 2 and 3. */
static void fill_jobs(agora_client *c, uint64_t ids[2])
{
	agora_queue *q;

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	for (int i = 1; i <= 4; i++)
		AGH_OK(c, agora_queue_put(q, agora_int(i), 0));
	AGH_OK(c, agora_queue_ack(q, take_int(c, q, 0, 1, 1)));
	ids[0] = take_int(c, q, 0, 2, 1);
	ids[1] = take_int(c, q, 30, 3, 1);
	agora_queue_close(q);
}

/* After a restart: 2 and 3 are back in front of 4, not pending. */
static void check_jobs(agora_client *c, const char *when)
{
	agora_queue *q;
	agora_value all;
	int64_t want[3] = { 2, 3, 4 };

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	ck_assert_uint_eq(npending(c, q), 0);
	AGH_OK(c, agora_queue_peek(q, 10, &all));
	printf("%s: the queue holds %zu items\n", when, all.via.array.len);
	agh_assert_ints(all, want, 3);
	agora_value_free(&all);
	agora_queue_close(q);
}

START_TEST(pending_items_go_back_to_the_queue_after_a_restart)
{
	agh_server s;
	uint64_t ids[2];

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	fill_jobs(c, ids);

	/* A crash: the journal alone. */
	c = restart(&s, c, SIGKILL);
	check_jobs(c, "after a crash");
	agora_queue *q;
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	/* The ids were the items': still theirs, delivered again. */
	uint64_t id = take_int(c, q, 0, 2, 2);
	ck_assert_uint_eq(id, ids[0]);
	AGH_OK(c, agora_queue_ack(q, id));
	id = take_int(c, q, 0, 3, 2);
	ck_assert_uint_eq(id, ids[1]);
	AGH_OK(c, agora_queue_ack(q, id));
	AGH_OK(c, agora_queue_ack(q, take_int(c, q, 0, 4, 1)));
	agora_queue_close(q);

	/* Acknowledged stays acknowledged; then the same from a snapshot and
	 * an orderly stop. */
	agora_value saved;
	c = restart(&s, c, SIGKILL);
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	ck_assert_int_eq(qsize(q, c), 0);
	agora_queue_close(q);
	fill_jobs(c, ids);
	AGH_OK(c, agora_save(c, &saved));
	agora_value_free(&saved);
	c = restart(&s, c, SIGTERM);
	check_jobs(c, "from a snapshot");

	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

START_TEST(the_limit_of_deliveries_holds_across_restarts)
{
	agh_server s;
	agora_queue *q, *dead;
	agora_value item;

	agh_server_start_args(&s, agh_datadir_args);
	agora_client *c = agh_connect(&s);
	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	AGH_OK(c, agora_queue_open_dead_letter(c, "jobs", 0, 2, "dead", &q));
	AGH_OK(c, agora_queue_put(q, agora_str("poison"), 0));
	AGH_OK(c, agora_queue_take(q, 0, 0, &(uint64_t){ 0 }, NULL));
	agora_queue_close(q);
	agora_queue_close(dead);

	/* A crash with it pending: back, delivered a second time. */
	c = restart(&s, c, SIGKILL);
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	uint64_t id, n;
	AGH_OK(c, agora_queue_take_ex(q, 0, 0, &id, &item, &n));
	agh_assert_str(item, "poison");
	agora_value_free(&item);
	ck_assert_uint_eq(n, 2);
	agora_queue_close(q);

	/* Another crash: a third delivery would pass the limit. */
	c = restart(&s, c, SIGKILL);
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_open(c, "dead", 0, &dead));
	ck_assert_int_eq(qsize(q, c), 0);
	AGH_OK(c, agora_queue_get(dead, 0, &item));
	agh_assert_str(item, "poison");
	agora_value_free(&item);
	agora_queue_close(dead);
	agora_queue_close(q);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ack");
	TCase *tc;

	AGH_ADD(s, take_hands_out_an_item_that_ack_removes_for_good);
	AGH_ADD(s, take_waits_and_times_out_as_get);
	AGH_ADD(s, ack_and_nack_refuse_an_id_not_pending_on_this_connection);
	AGH_ADD(s, nack_puts_the_item_back_at_the_head_with_the_same_id);
	AGH_ADD(s, a_killed_takers_items_go_back_to_the_head_oldest_first);
	AGH_ADD(s, a_killed_takers_item_goes_to_a_parked_taker_first);
	AGH_ADD(s, a_closed_connection_gives_back_what_it_did_not_ack);
	AGH_ADD(s, after_a_reconnect_an_old_id_is_no_longer_pending);
	AGH_ADD(s, plain_get_is_gone_at_once);
	AGH_ADD(s, an_item_whose_lease_passes_goes_back);
	AGH_ADD(s, pending_info_and_clients_show_who_holds_what);
	AGH_ADD(
	    s, a_poison_job_reaches_the_dead_letter_queue_after_max_deliveries);
	AGH_ADD(s, the_dead_letter_options_are_checked);
	AGH_ADD(s, a_joinable_queues_ack_is_its_task_done);
	AGH_ADD(s, an_item_whose_dead_letter_queue_is_gone_goes_back);
	AGH_ADD(s, a_dead_lettered_item_counts_as_done_in_its_joinable_queue);
	tc =
	    AGH_ADD_BARE(s, pending_items_go_back_to_the_queue_after_a_restart);
	tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove);
	tc = AGH_ADD_BARE(s, the_limit_of_deliveries_holds_across_restarts);
	tcase_add_unchecked_fixture(tc, agh_datadir_make, agh_datadir_remove);
	return agh_run_suite(s);
}
