/*
 * pool.c - the worker-pool recipe: Python's
 *
 *     with Pool(4) as p:
 *         results = p.map(count_primes, [1000, 2000, ...])
 *
 * Pool pickles the function and ships it to its workers. C cannot ship a
 * function, so the function is compiled into the workers, and the pool is
 * two shared objects: a job queue of [id, argument] pairs and a result
 * dict of id -> result. Workers take jobs until a nil sentinel; the parent
 * reads the results in job order. Any process that can connect can be a
 * worker, even on another host.
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

#define CHECK(c, call) check((c), (call), #call)
static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "%s: %s (%s)\n", what, agora_strerror(rc),
			c ? agora_errmsg(c) : "");
		exit(1);
	}
}

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
	agora_value job;
	int64_t id, n;

	if (!c)
		return 1;
	CHECK(c, agora_client_connect_env(c));
	CHECK(c, agora_queue_open(c, "pool.jobs", 0, &jobs));
	CHECK(c, agora_dict_open(c, "pool.results", &results));
	for (;;) {
		CHECK(c, agora_queue_get(jobs, AGORA_FOREVER, &job));
		if (job.type == AGORA_NIL)
			break;
		if (job.type != AGORA_ARRAY || job.via.array.len != 2)
			return 1;
		CHECK(c, agora_value_to_int(job.via.array.items[0], &id));
		CHECK(c, agora_value_to_int(job.via.array.items[1], &n));
		agora_value_free(&job);
		CHECK(c, agora_dict_set(results, agora_int(id),
					agora_int(count_primes(n))));
	}
	CHECK(c, agora_dict_close(results));
	CHECK(c, agora_queue_close(jobs));
	agora_client_free(c);
	return 0;
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
	CHECK(c, agora_queue_open(c, "pool.jobs", 0, &jobs));
	CHECK(c, agora_dict_open(c, "pool.results", &results));

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
	for (int64_t id = 0; id < NJOBS; id++) {
		agora_value job[2] = { agora_int(id), agora_int(1000 * id) };

		CHECK(c, agora_queue_put(jobs, agora_array(job, 2),
					 AGORA_FOREVER));
	}
	/* Closing the pool: one sentinel per worker, then join. */
	for (int i = 0; i < NWORKERS; i++)
		CHECK(c, agora_queue_put(jobs, agora_nil(), AGORA_FOREVER));
	for (int i = 0; i < NWORKERS; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	/* The results, in the order of the inputs. */
	for (int64_t id = 0; id < NJOBS; id++) {
		int64_t r;

		CHECK(c, agora_dict_get_int(results, agora_int(id), &r));
		printf("count_primes(%lld) = %lld\n", (long long)(1000 * id),
		       (long long)r);
		if (r != count_primes(1000 * id))
			bad = 1;
	}

	CHECK(c, agora_dict_close(results));
	CHECK(c, agora_queue_close(jobs));
	CHECK(NULL, agora_manager_shutdown(m));
	return bad;
}
