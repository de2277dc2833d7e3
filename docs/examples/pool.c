/*
 * pool.c - the worker-pool recipe: Python's
 *
 *     with Pool(4) as p:
 *         results = p.map(count_primes, [1000, 2000, ...])
 *
 * Pool pickles the function and ships it to its workers. C cannot ship a
 * function, so the function is compiled into the workers, and the pool is
 * two shared objects: a job queue of inputs and a result dict of input ->
 * result. Any process that can connect can be a worker, even on another
 * host. Each client is in sticky mode: after its first error its calls do
 * nothing, and one check at the end reports it.
 *
 * No job is lost when a worker dies: a worker takes a job with
 * agora_jqueue_take(), which leaves it pending on the worker's connection,
 * writes the result (the same however often the job is done), and only
 * then acknowledges it. A worker that dies before its ack, however it
 * dies, gives the job back: the server sees its connection end and
 * delivers the job again, to another worker. Here the first worker is
 * SIGKILLed in the middle of its first job, on purpose; another does it.
 * The queue is a joinable one, so that the parent's join returns once
 * every job was acknowledged (an ack is a task_done), the one given back
 * included.
 *
 * Exits 0 when every result matches the same function run locally and the
 * killed worker's job was done by another.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NWORKERS 4
#define NJOBS 12

/* The work: how many primes are below @n. */
static int64_t count_primes(int64_t n)
{
	int64_t count = 0;

	for (int64_t i = 2; i < n; i++) {
		bool prime = true;

		for (int64_t d = 2; d * d <= i && prime; d++)
			prime = i % d != 0;
		count += prime;
	}
	return count;
}

/* A worker. @doomed_fd >= 0: this one dies in its first job (it says so on
 * the pipe @doomed_fd, then waits for the parent's SIGKILL). */
static int worker(int doomed_fd)
{
	agora_client *c = agora_client_new();
	agora_jqueue *jobs;
	agora_dict *results;
	agora_value job;
	uint64_t id, deliveries;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_jqueue_open(c, "pool.jobs", 0, &jobs);
	agora_dict_open(c, "pool.results", &results);
	/* Take a job (it stays pending here), do it, write the result,
	 * then ack: a worker that dies before the ack gives it back. */
	while (agora_jqueue_take_ex(jobs, AGORA_FOREVER, 0, &id, &job,
				    &deliveries) == 0) {
		int64_t n = -1;

		agora_value_to_int(job, &n);
		agora_value_free(&job);
		if (n < 0) { /* the sentinel */
			agora_jqueue_ack(jobs, id);
			break;
		}
		if (doomed_fd >= 0 && write(doomed_fd, "!", 1) == 1)
			pause(); /* killed here, job in hand */
		if (deliveries > 1)
			printf("count_primes(%lld): delivered again (delivery "
			       "%llu): its first worker died\n",
			       (long long)n, (unsigned long long)deliveries);
		agora_dict_set(results, agora_int(n),
			       agora_int(count_primes(n)));
		agora_jqueue_ack(jobs, id);
	}
	agora_dict_close(results);
	agora_jqueue_close(jobs);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static pid_t start_worker(int doomed_fd)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		exit(worker(doomed_fd));
	return pid;
}

int main(void)
{
	pid_t pids[NWORKERS], doomed;
	agora_manager *m;
	agora_client *c;
	agora_jqueue *jobs;
	agora_queue *dead;
	agora_dict *results;
	agora_value info;
	char err[256], b;
	int bad = 0, status, p[2];
	bool all_done = false, counted = false;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	/* A job delivered 3 times (its workers died of it) goes to
	 * pool.dead instead of to a fourth worker. */
	agora_queue_open(c, "pool.dead", 0, &dead);
	agora_jqueue_open_dead_letter(c, "pool.jobs", 0, 3, "pool.dead", &jobs);
	agora_dict_open(c, "pool.results", &results);

	/* Submit: p.map(count_primes, inputs). */
	for (int64_t id = 0; id < NJOBS; id++)
		agora_jqueue_put(jobs, agora_int(1000 * id), AGORA_FOREVER);

	/* A worker that dies with a job in hand: SIGKILL, no goodbye. */
	if (pipe(p) < 0) {
		perror("pipe");
		return 1;
	}
	doomed = start_worker(p[1]);
	if (read(p[0], &b, 1) != 1)
		bad = 1;
	close(p[0]);
	close(p[1]);
	kill(doomed, SIGKILL);
	waitpid(doomed, &status, 0);
	printf("a worker was SIGKILLed in the middle of a job\n");

	/* The pool. join returns when every job was acknowledged, the
	 * killed worker's included; then one sentinel per worker. */
	for (int i = 0; i < NWORKERS; i++)
		pids[i] = start_worker(-1);
	agora_jqueue_join(jobs, AGORA_FOREVER, &all_done);
	for (int i = 0; i < NWORKERS; i++)
		agora_jqueue_put(jobs, agora_int(-1), AGORA_FOREVER);
	for (int i = 0; i < NWORKERS && agora_client_error(c) == 0; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	/* The results, in the order of the inputs (-1 for a missing one). */
	for (int64_t id = 0; id < NJOBS; id++) {
		int64_t r = -1;

		agora_dict_get_int(results, agora_int(1000 * id), &r);
		printf("count_primes(%lld) = %lld\n", (long long)(1000 * id),
		       (long long)r);
		if (r != count_primes(1000 * id))
			bad = 1;
	}
	/* The server counts the jobs that went back. */
	if (agora_info(c, agora_jqueue_handle(jobs), &info) == 0) {
		for (size_t i = 0; i < info.via.map.len; i++) {
			agora_pair *f = &info.via.map.items[i];
			int64_t v;

			if (f->key.type == AGORA_STR &&
			    strcmp(f->key.via.str.ptr, "redelivered") == 0 &&
			    agora_value_to_int(f->val, &v) == 0) {
				printf("jobs delivered again: %lld\n",
				       (long long)v);
				counted = v == 1;
			}
		}
		agora_value_free(&info);
	}

	agora_dict_close(results);
	agora_jqueue_close(jobs);
	agora_queue_close(dead);
	if (!counted)
		bad = 1;
	if (!all_done || agora_client_error(c) < 0) {
		fprintf(stderr, "pool: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
