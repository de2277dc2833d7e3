/*
 * test_reconnect.c - agora_client_set_reconnect(): a worker that keeps
 * taking jobs across a restart of agorad (SIGTERM, then a new agorad on the
 * same address), a call whose answer was lost reported as AGORA_ELOST and
 * not made again, an idle client's next call made on the new server, and
 * proxies that cannot be found again (anonymous objects) saying so.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"

/* What the reconnect callback saw, per process. */
static int reconnects, restarts;

static void on_reconnect(agora_client *c, bool restarted, void *arg)
{
	(void)c;
	(void)arg;
	reconnects++;
	if (restarted)
		restarts++;
}

/* The worker: takes int jobs until -1, answering each with job * 10 on
 * "results", then puts -(restarts seen) and exits 0. Any other outcome
 * exits non-zero with the reason on stderr. */
static int worker(agora_client *c, int idx, void *arg)
{
	agora_queue *jobs, *results;
	int64_t n;
	int rc;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_client_set_reconnect(c, 60, on_reconnect, NULL));
	AGH_WCALL(c, agora_queue_open(c, "jobs", 0, &jobs));
	AGH_WCALL(c, agora_queue_open(c, "results", 0, &results));
	while ((rc = agora_queue_get_int(jobs, AGORA_FOREVER, &n)) == 0 &&
	       n >= 0)
		AGH_WCALL(c, agora_queue_put(results, agora_int(n * 10), 60.0));
	AGH_WCHECK(rc == 0);
	AGH_WCALL(c, agora_queue_put(results, agora_int(-restarts), 60.0));
	agora_queue_close(results);
	agora_queue_close(jobs);
	return 0;
}

/* The next result, within the worker timeout. */
static int64_t result(agora_client *c, agora_queue *results)
{
	int64_t n = 0;

	AGH_OK(c, agora_queue_get_int(results, AGH_WORKER_TIMEOUT, &n));
	return n;
}

START_TEST(worker_keeps_taking_jobs_across_an_agorad_restart)
{
	agora_client *c = agh_cli;
	agora_queue *jobs, *results;
	const char *run0;
	char run[80];

	AGH_OK(c, agora_queue_open(c, "jobs", 0, &jobs));
	AGH_OK(c, agora_queue_open(c, "results", 0, &results));
	pid_t w = agh_spawn(worker, 0, NULL);
	for (int64_t i = 1; i <= 3; i++)
		AGH_OK(c, agora_queue_put(jobs, agora_int(i), 0));
	for (int64_t i = 1; i <= 3; i++)
		ck_assert_int_eq(result(c, results), i * 10);
	/* The worker waits in get when the server stops. */
	agh_wait_waiters(c, agora_queue_handle(jobs), 1);
	run0 = agora_server_run_id(c);
	snprintf(run, sizeof(run), "%s", run0);
	agora_queue_close(results);
	agora_queue_close(jobs);
	agora_client_free(c);
	agh_cli = NULL;

	agh_server_restart(&agh_srv, SIGTERM);

	/* The new server: a new run, and the worker's queues made anew by
	 * its reconnect (or by this open, whichever comes first). */
	agh_cli = c = agh_connect(&agh_srv);
	ck_assert_str_ne(agora_server_run_id(c), run);
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &jobs));
	AGH_OK(c, agora_queue_open(c, "results", 0, &results));
	for (int64_t i = 4; i <= 6; i++)
		AGH_OK(c, agora_queue_put(jobs, agora_int(i), 0));
	for (int64_t i = 4; i <= 6; i++)
		ck_assert_int_eq(result(c, results), i * 10);
	AGH_OK(c, agora_queue_put(jobs, agora_int(-1), 0));
	/* It was told once that the server restarted. */
	ck_assert_int_eq(result(c, results), -1);
	agh_wait_ok(w);
	agora_queue_close(results);
	agora_queue_close(jobs);
}
END_TEST

/* A child whose parked acquire is cut by a crash of the server: the
 * answer is lost, so AGORA_ELOST, and the acquire is not made again (the
 * lock on the new server is free, and this client does not hold it). */
static int acquirer(agora_client *c, int idx, void *arg)
{
	agora_lock *l;
	bool got = false, locked = true;
	const char *run0;
	char run[80];

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_client_set_reconnect(c, 60, on_reconnect, NULL));
	AGH_WCALL(c, agora_lock_open(c, "l", &l));
	run0 = agora_server_run_id(c);
	snprintf(run, sizeof(run), "%s", run0);
	int rc = agora_lock_acquire(l, AGORA_FOREVER, &got);
	if (rc != AGORA_ELOST) {
		fprintf(stderr, "acquirer: acquire returned %s (%s)\n",
			agora_errname(rc), agora_errmsg(c));
		return 1;
	}
	AGH_WCHECK(strstr(agora_errmsg(c), "may or may not") != NULL);
	AGH_WCHECK(reconnects == 1 && restarts == 1);
	AGH_WCHECK(strcmp(agora_server_run_id(c), run) != 0);
	/* The proxy works on the new server, where nobody holds the lock. */
	AGH_WCALL(c, agora_lock_locked(l, &locked));
	AGH_WCHECK(!locked);
	AGH_WCALL(c, agora_lock_close(l));
	return 0;
}

START_TEST(a_call_whose_answer_was_lost_is_reported_not_made_again)
{
	agora_client *c = agh_cli;
	agora_lock *l;
	bool got;

	AGH_OK(c, agora_lock_open(c, "l", &l));
	AGH_OK(c, agora_lock_acquire(l, 0, &got));
	ck_assert(got);
	pid_t a = agh_spawn(acquirer, 0, NULL);
	agh_wait_waiters(c, agora_lock_handle(l), 1);
	agora_lock_close(l);
	agora_client_free(c);
	agh_cli = NULL;

	agh_server_restart(&agh_srv, SIGKILL);
	agh_cli = agh_connect(&agh_srv);
	agh_wait_ok(a);
}
END_TEST

/* An idle client: its next call finds the connection closed before it
 * sends, reconnects, and is made on the new server, once. Its anonymous
 * list could not be found again: NO_OBJECT, saying so; closing it is
 * fine. Without reconnect the same client gets EIO. */
START_TEST(idle_client_call_is_made_on_the_new_server)
{
	agora_client *c = agh_cli;
	agora_client *plain = agh_connect(&agh_srv);
	agora_queue *q;
	agora_list *anon;
	size_t n = 0;

	AGH_OK(c, agora_client_set_reconnect(c, 60, on_reconnect, NULL));
	/* In sticky mode too: the loss and the reconnect are not the
	 * call's failure, and latch nothing. */
	AGH_OK(c, agora_client_set_sticky(c, true));
	AGH_OK(c, agora_queue_open(c, "q", 0, &q));
	AGH_OK(c, agora_list_open(c, NULL, &anon));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	reconnects = restarts = 0;

	agh_server_restart(&agh_srv, SIGTERM);

	AGH_OK(c, agora_queue_put(q, agora_int(2), 0));
	ck_assert_int_eq(agora_client_error(c), 0);
	ck_assert_int_eq(reconnects, 1);
	ck_assert_int_eq(restarts, 1);
	/* The new server's q holds the one item put there, once. */
	AGH_OK(c, agora_queue_qsize(q, &n));
	ck_assert_uint_eq(n, 1);
	int64_t x = 0;
	AGH_OK(c, agora_queue_get_int(q, 0, &x));
	ck_assert_int_eq(x, 2);

	ck_assert_int_eq(agora_list_append(anon, agora_int(1)),
			 AGORA_ENO_OBJECT);
	ck_assert_msg(strstr(agora_errmsg(c), "no name"), "message: %s",
		      agora_errmsg(c));
	ck_assert_int_eq(agora_client_clear_error(c), AGORA_ENO_OBJECT);
	AGH_OK(c, agora_list_close(anon));
	AGH_OK(c, agora_queue_close(q));

	ck_assert_int_eq(agora_ping(plain), AGORA_EIO);
	agora_client_free(plain);

	/* Bad settings are refused, naming the value. */
	ck_assert_int_eq(agora_client_set_reconnect(c, 1e9, NULL, NULL),
			 AGORA_EINVAL);
	ck_assert_msg(strstr(agora_errmsg(c), "1e+09"), "message: %s",
		      agora_errmsg(c));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("reconnect");

	AGH_ADD(s, worker_keeps_taking_jobs_across_an_agorad_restart);
	AGH_ADD(s, a_call_whose_answer_was_lost_is_reported_not_made_again);
	AGH_ADD(s, idle_client_call_is_made_on_the_new_server);
	return agh_run_suite(s);
}
