/*
 * test_ack_workers.c - no work lost when a worker dies, with acknowledged
 * delivery (docs/guide.md "A worker pool"; test_ack.c has the behaviour
 * of each call):
 *   - the worker pool: 8 worker processes take jobs with acknowledgement
 *     and write each result idempotently (a dict keyed by job), while this
 *     process SIGKILLs one of them every 0.3 s, one holding a job when
 *     there is one, and starts a replacement. At the end every job's
 *     result is there and right, no job was acknowledged twice, nothing
 *     is pending or left in the queue, and the redeliveries are printed.
 *     3 s here (AGORA_ACK_SECONDS sets it: the 'durability' suite runs
 *     30 s);
 *   - the vanished host: a worker over TCP in a network namespace of the
 *     test's own holds two jobs when every packet of the namespace's
 *     loopback is dropped and it is SIGKILLed (its RST never arrives): a
 *     worker parked in take over the Unix socket gets both jobs once the
 *     server's peer timeout (3 s) ends the dead connection. Skipped,
 *     saying so, without root, `ip` or network namespaces.
 *
 * The wall-clock bound of the vanished host is checked only outside
 * valgrind and ASan.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ack_support.h"
#include "harness.h"

/* ---- the worker pool ---- */

#define NWORKERS 8
#define KILL_EVERY 0.3
#define JOB_SECONDS 0.01
/* The parent keeps this many jobs waiting: more than the workers do
 * between two kills, so that they are never idle. */
#define QUEUED 400
#define SENTINEL (-1)

static int64_t job_result(int64_t n)
{
	return n * n + 7;
}

/* Take jobs with acknowledgement until the sentinel: do the job, write its
 * result (the same however often it is done), ack, then note the ack in
 * "pool.acked" (a worker killed between the two leaves it out: the list
 * holds each job at most once). */
static int pool_worker(agora_client *c, int idx, void *arg)
{
	agora_queue *jobs = NULL;
	agora_dict *results = NULL;
	agora_list *acked = NULL;

	(void)idx;
	(void)arg;
	AGH_WCALL(c, agora_queue_open(c, "pool.jobs", 0, &jobs));
	AGH_WCALL(c, agora_dict_open(c, "pool.results", &results));
	AGH_WCALL(c, agora_list_open(c, "pool.acked", &acked));
	for (;;) {
		agora_value item;
		uint64_t id;
		int64_t n = 0;

		AGH_WCALL(c, agora_queue_take(jobs, 60, 0, &id, &item));
		AGH_WCHECK(agora_value_to_int(item, &n) == 0);
		agora_value_free(&item);
		if (n == SENTINEL) {
			AGH_WCALL(c, agora_queue_ack(jobs, id));
			break;
		}
		sleep_s(JOB_SECONDS); /* the work */
		AGH_WCALL(c, agora_dict_set(results, agora_int(n),
					    agora_int(job_result(n))));
		AGH_WCALL(c, agora_queue_ack(jobs, id));
		AGH_WCALL(c, agora_list_append(acked, agora_int(n)));
	}
	AGH_WCALL(c, agora_list_close(acked));
	AGH_WCALL(c, agora_dict_close(results));
	AGH_WCALL(c, agora_queue_close(jobs));
	return 0;
}

/* The pid of a worker holding a job now, from pending and clients, or 0. */
static pid_t holder_of_a_job(agora_client *c, agora_queue *q)
{
	agora_value p, all;
	pid_t pid = 0;

	AGH_OK(c, agora_queue_pending(q, &p));
	AGH_OK(c, agora_clients(c, &all));
	for (size_t i = 0; i < p.via.array.len && pid == 0; i++) {
		int64_t conn = agh_map_int(p.via.array.items[i], "conn");

		for (size_t j = 0; j < all.via.array.len; j++) {
			agora_value cl = all.via.array.items[j];
			const agora_value *v = agh_map_find(cl, "pid");

			if (agh_map_int(cl, "id") == conn && v != NULL &&
			    v->type == AGORA_INT)
				pid = (pid_t)v->via.i;
		}
	}
	agora_value_free(&all);
	agora_value_free(&p);
	return pid;
}

/* Under ASan (whose setup runs the 'durability' suite too) at most 10 s:
 * the same paths, checked for memory errors; the 30 s run is the full
 * setup's. */
static double pool_seconds(void)
{
	const char *s = getenv("AGORA_ACK_SECONDS");
	double d = s != NULL ? atof(s) : 3.0;

	if (!(d > 0 && d <= 600))
		d = 3.0;
	return agh_under_asan() && d > 10 ? 10 : d;
}

START_TEST(a_pool_whose_workers_are_killed_loses_no_job)
{
	agora_client *c = agh_cli;
	agora_queue *jobs;
	agora_dict *results;
	agora_list *acked;
	pid_t pids[NWORKERS];
	int64_t next = 0, kills = 0, midjob = 0;
	const double seconds = pool_seconds();

	AGH_OK(c, agora_queue_open(c, "pool.jobs", 0, &jobs));
	AGH_OK(c, agora_dict_open(c, "pool.results", &results));
	AGH_OK(c, agora_list_open(c, "pool.acked", &acked));
	for (int i = 0; i < NWORKERS; i++)
		pids[i] = agh_spawn(pool_worker, i, NULL);

	srand(7);
	double t_end = agh_now() + seconds;
	while (agh_now() < t_end) {
		for (int64_t have = qsize(jobs, c); have < QUEUED; have++)
			AGH_OK(c, agora_queue_put(jobs, agora_int(next++), 0));
		sleep_s(KILL_EVERY);
		/* A worker with a job in hand, when there is one. */
		pid_t victim = holder_of_a_job(c, jobs);
		int slot = -1;
		for (int i = 0; i < NWORKERS; i++)
			if (pids[i] == victim)
				slot = i;
		midjob += slot >= 0;
		if (slot < 0)
			slot = rand() % NWORKERS;
		kill_and_reap(pids[slot]);
		kills++;
		pids[slot] = agh_spawn(pool_worker, slot, NULL);
	}

	/* Closing the pool: one sentinel per worker, behind every job (and
	 * behind any job that goes back: it goes to the head). */
	for (int i = 0; i < NWORKERS; i++)
		AGH_OK(c, agora_queue_put(jobs, agora_int(SENTINEL), 0));
	agh_wait_all_ok(pids, NWORKERS);

	/* Every job's result, right; none acknowledged twice; nothing left. */
	size_t len = 0;
	for (int64_t n = 0; n < next; n++) {
		int64_t r = -1;
		int rc = agora_dict_get_int(results, agora_int(n), &r);
		ck_assert_msg(rc == 0, "job %" PRId64 " has no result: %s", n,
			      agora_errname(rc));
		ck_assert_int_eq(r, job_result(n));
	}
	AGH_OK(c, agora_dict_len(results, &len));
	ck_assert_int_eq((int64_t)len, next);
	agora_value all;
	AGH_OK(c, agora_list_copy(acked, &all));
	char *seen = calloc((size_t)next, 1);
	ck_assert_ptr_nonnull(seen);
	for (size_t i = 0; i < all.via.array.len; i++) {
		int64_t n = as_int(all.via.array.items[i]);
		ck_assert(n >= 0 && n < next);
		ck_assert_msg(!seen[n], "job %" PRId64 " acknowledged twice",
			      n);
		seen[n] = 1;
	}
	free(seen);
	ck_assert_int_eq(qsize(jobs, c), 0);
	ck_assert_uint_eq(npending(c, jobs), 0);
	int64_t redelivered =
	    agh_info_int(c, agora_queue_handle(jobs), "redelivered");
	printf("worker pool, %.0f s: %" PRId64 " jobs done by %d workers, "
	       "%" PRId64 " SIGKILLed (%" PRId64 " with a job in hand), "
	       "%" PRId64 " jobs redelivered, %zu acks recorded, none "
	       "lost\n",
	       seconds, next, NWORKERS, kills, midjob, redelivered,
	       all.via.array.len);
	agora_value_free(&all);
	/* Every kill of a worker with a job in hand sent one back (unless it
	 * acked in the instant between the look and the kill). */
	ck_assert(kills > 0);
	if (midjob > 0)
		ck_assert_int_ge(redelivered, 1);

	agora_list_close(acked);
	agora_dict_close(results);
	agora_queue_close(jobs);
}
END_TEST

/* ---- the vanished host ---- */

#define NS_PORT "7413"
#define NS_TCP "tcp:127.0.0.1:" NS_PORT
#define PEER_TIMEOUT 3.0

/* Over TCP: take two jobs, say so on @arg's fd, and wait to be killed. */
static int tcp_holder(agora_client *unused, int idx, void *arg)
{
	agora_client *c = agora_client_new();
	agora_queue *q = NULL;
	uint64_t id;
	int fd = *(int *)arg;
	unsigned char key[AGH_KEYLEN];
	FILE *f = fopen(getenv("AGORA_AUTHKEY_FILE"), "rb");

	(void)unused;
	(void)idx;
	AGH_WCHECK(c != NULL && f != NULL);
	AGH_WCHECK(fread(key, 1, sizeof(key), f) == sizeof(key));
	fclose(f);
	AGH_WCALL(c, agora_client_connect(c, NS_TCP, key, sizeof(key)));
	AGH_WCALL(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_WCALL(c, agora_queue_take(q, 30, 0, &id, NULL));
	AGH_WCALL(c, agora_queue_take(q, 30, 0, &id, NULL));
	AGH_WCHECK(write(fd, "!", 1) == 1);
	for (;;)
		pause();
}

START_TEST(the_jobs_of_a_worker_whose_host_vanishes_are_redelivered)
{
	static const char *const args[] = { "--listen", NS_TCP,
					    "--peer-timeout", "3", NULL };
	agh_server s;
	agora_queue *q;
	int p[2];
	char ch;

	if (!agh_netns_enter("test_ack_workers: the vanished host"))
		return;
	agh_server_start_args(&s, args);
	agora_client *c = agh_connect(&s); /* over the Unix socket */
	AGH_OK(c, agora_queue_open(c, "jobs", 0, &q));
	AGH_OK(c, agora_queue_put(q, agora_int(1), 0));
	AGH_OK(c, agora_queue_put(q, agora_int(2), 0));

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	pid_t pid = agh_spawn(tcp_holder, 0, &p[1]);
	close(p[1]);
	ck_assert_msg(read(p[0], &ch, 1) == 1, "the TCP worker took nothing");
	close(p[0]);
	ck_assert_uint_eq(npending(c, q), 2);

	/* Another worker, over the Unix socket, waits for work. */
	struct expect e = { "jobs", { 1, 2 }, 2, 2, 60, true };
	pid_t w = agh_spawn(taker, 0, &e);
	agh_wait_waiters(c, agora_queue_handle(q), 1);

	/* The host vanishes: no packet, no FIN, no RST ever again. */
	agh_netns_drop_all();
	double t0 = agh_now();
	kill_and_reap(pid);
	agh_wait_ok(w);
	double took = agh_now() - t0;
	printf("a worker's host vanished holding 2 jobs: both done by "
	       "another worker after %.2f s (peer timeout %.0f s)\n",
	       took, PEER_TIMEOUT);
	if (timing_checked())
		ck_assert_msg(took <= PEER_TIMEOUT + 2.0, "took %.2f s", took);
	ck_assert_int_eq(qsize(q, c), 0);
	ck_assert_uint_eq(npending(c, q), 0);
	ck_assert_int_eq(agh_info_int(c, agora_queue_handle(q), "redelivered"),
			 2);
	agora_queue_close(q);
	agora_client_free(c);
	agh_server_stop(&s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ack_workers");
	TCase *tc;

	agh_netns_init("ack");
	tc = AGH_ADD(s, a_pool_whose_workers_are_killed_loses_no_job);
	tcase_set_timeout(tc, 100 + 2 * pool_seconds());
	tc = AGH_ADD_BARE(
	    s, the_jobs_of_a_worker_whose_host_vanishes_are_redelivered);
	tcase_add_unchecked_fixture(tc, NULL, agh_netns_delete);
	return agh_run_suite(s);
}
