/*
 * joinable_queue.c - JoinableQueue: consumers call task_done for each item
 * they finish, and the producer's join returns once every item put was
 * done. Python's
 *
 *     def consumer(q):
 *         while True:
 *             item = q.get(); eat(item); q.task_done()
 *     q = JoinableQueue()
 *     for i in range(9): q.put(i)
 *     q.join()          # every item eaten
 *
 * Python makes the consumers daemons so that they die with the parent; in
 * C the parent ends them with one nil sentinel each after join. Exits 0
 * when join returned only after all nine items were done.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NCONSUMERS 2
#define NITEMS 9

static int consumer(int i)
{
	agora_client *c = agora_client_new();
	agora_jqueue *q;
	agora_var *done;
	agora_value item;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_jqueue_open(c, "dishes", 0, &q);
	agora_var_open(c, "eaten", agora_int(0), &done);
	while (agora_jqueue_get(q, AGORA_FOREVER, &item) == 0 &&
	       item.type != AGORA_NIL) {
		printf("eater %d ate dish %lld\n", i, (long long)item.via.i);
		agora_value_free(&item);
		/* Eat first, then say so: join must not return before. */
		agora_var_add_int(done, 1, NULL);
		agora_jqueue_task_done(q);
	}
	agora_jqueue_task_done(q); /* the nil that sent us home */
	agora_var_close(done);
	agora_jqueue_close(q);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "eater %d: %s\n", i, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

int main(void)
{
	pid_t pids[NCONSUMERS];
	agora_manager *m;
	agora_client *c;
	agora_jqueue *q;
	agora_var *done;
	char err[256];
	int64_t eaten = 0;
	bool all_done = false;
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_jqueue_open(c, "dishes", 0, &q);
	agora_var_open(c, "eaten", agora_int(0), &done);

	fflush(stdout);
	for (int i = 0; i < NCONSUMERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(consumer(i));
	}
	for (int n = 0; n < NITEMS; n++)
		agora_jqueue_put(q, agora_int(n), AGORA_FOREVER);

	/* q.join(): blocks in the server until task_done was called once
	 * for every item put. */
	agora_jqueue_join(q, AGORA_FOREVER, &all_done);
	agora_var_get_int(done, &eaten);
	printf("join returned: %lld of %d dishes eaten\n", (long long)eaten,
	       NITEMS);
	if (!all_done || eaten != NITEMS)
		bad = 1;

	/* The consumers would wait forever: send them home (after an error,
	 * the manager's shutdown does). */
	for (int i = 0; i < NCONSUMERS; i++)
		agora_jqueue_put(q, agora_nil(), AGORA_FOREVER);
	for (int i = 0; i < NCONSUMERS && agora_client_error(c) == 0; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	agora_var_close(done);
	agora_jqueue_close(q);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "joinable_queue: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
