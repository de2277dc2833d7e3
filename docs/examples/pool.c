/*
 * pool.c - the worker-pool recipe: Python's
 *
 *     with Pool(4) as p:
 *         results = p.map(count_primes, [1000, 2000, ...])
 *
 * Pool pickles the function and ships it to its workers. C cannot ship a
 * function, so the function is compiled into the workers, and the pool is
 * two shared objects: a job queue of inputs and a result dict of input ->
 * result. Workers take inputs until a -1 sentinel; the parent reads the
 * results in the order of the inputs. Any process that can connect can be a
 * worker, even on another host. Each client is in sticky mode: after its
 * first error its calls do nothing, and one check at the end reports it.
 *
 * Exits 0 when every result matches the same function run locally.
 */
#include <stdio.h>
#include <stdlib.h>
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

static int worker(void)
{
	agora_client *c = agora_client_new();
	agora_queue *jobs;
	agora_dict *results;
	int64_t n;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_queue_open(c, "pool.jobs", 0, &jobs);
	agora_dict_open(c, "pool.results", &results);
	/* Take inputs until the sentinel -1 (or the first error). */
	while (agora_queue_get_int(jobs, AGORA_FOREVER, &n) == 0 && n >= 0)
		agora_dict_set(results, agora_int(n),
			       agora_int(count_primes(n)));
	agora_dict_close(results);
	agora_queue_close(jobs);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

int main(void)
{
	pid_t pids[NWORKERS];
	agora_manager *m;
	agora_client *c;
	agora_queue *jobs;
	agora_dict *results;
	char err[256];
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_queue_open(c, "pool.jobs", 0, &jobs);
	agora_dict_open(c, "pool.results", &results);

	/* Start the pool, then submit: p.map(count_primes, inputs). */
	for (int i = 0; i < NWORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(worker());
	}
	for (int64_t id = 0; id < NJOBS; id++)
		agora_queue_put(jobs, agora_int(1000 * id), AGORA_FOREVER);
	/* Closing the pool: one sentinel per worker, then join (unless an
	 * error kept the sentinels from going: shutting down ends them). */
	for (int i = 0; i < NWORKERS; i++)
		agora_queue_put(jobs, agora_int(-1), AGORA_FOREVER);
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

	agora_dict_close(results);
	agora_queue_close(jobs);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "pool: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
