/*
 * ack_support.c - what the tests of acknowledged delivery share (test_ack.c,
 * test_ack_workers.c): waiting, reading a queue's size and pending items,
 * a worker that takes and checks what it gets, killing a worker.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>

#include "ack_support.h"
#include "harness.h"

bool timing_checked(void)
{
	return !agh_under_valgrind() && !agh_under_asan() &&
	       getenv("AGORA_TEST_SLOW") == NULL;
}

void sleep_s(double s)
{
	struct timespec ts = { (time_t)s,
			       (long)((s - (double)(time_t)s) * 1e9) };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int64_t as_int(agora_value v)
{
	int64_t n = 0;

	ck_assert_msg(agora_value_to_int(v, &n) == 0, "not an int (type %d)",
		      (int)v.type);
	return n;
}

int64_t qsize(agora_queue *q, agora_client *c)
{
	size_t n = 0;

	AGH_OK(c, agora_queue_qsize(q, &n));
	return (int64_t)n;
}

/* The number of pending entries of @q (every connection's). */
size_t npending(agora_client *c, agora_queue *q)
{
	agora_value p;
	size_t n;

	AGH_OK(c, agora_queue_pending(q, &p));
	ck_assert_int_eq(p.type, AGORA_ARRAY);
	n = p.via.array.len;
	agora_value_free(&p);
	return n;
}

/* ---- workers ---- */

int taker(agora_client *c, int idx, void *arg)
{
	const struct expect *e = arg;
	agora_queue *q = NULL;

	(void)idx;
	AGH_WCALL(c, agora_queue_open(c, e->queue, 0, &q));
	for (int i = 0; i < e->n; i++) {
		agora_value item;
		uint64_t id, n;
		int64_t v = 0;

		AGH_WCALL(
		    c, agora_queue_take_ex(q, e->timeout, 0, &id, &item, &n));
		AGH_WCHECK(agora_value_to_int(item, &v) == 0);
		agora_value_free(&item);
		if (v != e->items[i] || n != e->deliveries) {
			fprintf(stderr,
				"taker: got %" PRId64 " delivered %" PRIu64
				" times, wanted %" PRId64 " and %" PRIu64 "\n",
				v, n, e->items[i], e->deliveries);
			return 1;
		}
		if (e->ack)
			AGH_WCALL(c, agora_queue_ack(q, id));
	}
	AGH_WCALL(c, agora_queue_close(q));
	return 0;
}

void kill_and_reap(pid_t pid)
{
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	int st = agh_wait_pid(pid, AGH_WORKER_TIMEOUT);
	ck_assert(WIFSIGNALED(st));
}
