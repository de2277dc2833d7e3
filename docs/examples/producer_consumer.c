/*
 * producer_consumer.c - producers and consumers through a queue, with a
 * nil sentinel telling each consumer to stop: Python's
 *
 *     def producer(food, q):
 *         for i in range(3): q.put(f"{food}{i}")
 *     def consumer(q, eaten):
 *         while (item := q.get()) is not None: eaten.append(item)
 *
 * Three producers, two consumers. The parent waits for the producers, puts
 * one nil per consumer, and waits for the consumers. Exits 0 when every
 * item was eaten exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NPRODUCERS 3
#define NCONSUMERS 2
#define NITEMS 3

static const char *foods[NPRODUCERS] = { "bun", "soup", "pork" };

/* A worker process connects its own client from the environment that
 * agora_manager_start() set. Its client is in sticky mode: after the first
 * error its calls do nothing, and one check at the end reports it. */
static int producer(int i)
{
	agora_client *c = agora_client_new();
	agora_queue *q;
	char item[32];
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_queue_open(c, "kitchen", 0, &q);
	for (int n = 0; n < NITEMS; n++) {
		snprintf(item, sizeof(item), "%s%d", foods[i], n);
		agora_queue_put(q, agora_str(item), AGORA_FOREVER);
		printf("cook %d made %s\n", i, item);
	}
	agora_queue_close(q);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "cook %d: %s\n", i, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static int consumer(int i)
{
	agora_client *c = agora_client_new();
	agora_queue *q;
	agora_list *eaten;
	agora_value item;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_queue_open(c, "kitchen", 0, &q);
	agora_list_open(c, "eaten", &eaten);
	/* Until the sentinel nil: no more food. */
	while (agora_queue_get(q, AGORA_FOREVER, &item) == 0 &&
	       item.type != AGORA_NIL) {
		printf("eater %d ate %s\n", i, item.via.str.ptr);
		agora_list_append(eaten, item);
		agora_value_free(&item);
	}
	agora_list_close(eaten);
	agora_queue_close(q);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "eater %d: %s\n", i, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static pid_t spawn(int (*fn)(int), int i)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		exit(fn(i));
	return pid;
}

/* Wait for @n processes; returns how many failed. */
static int wait_all(const pid_t *pids, int n)
{
	int failed = 0, status;

	for (int i = 0; i < n; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			failed++;
	return failed;
}

int main(void)
{
	pid_t producers[NPRODUCERS], consumers[NCONSUMERS];
	agora_manager *m;
	agora_client *c;
	agora_queue *q;
	agora_list *eaten;
	char err[256], item[32];
	int bad = 0;
	size_t len = 0;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_queue_open(c, "kitchen", 0, &q);
	agora_list_open(c, "eaten", &eaten);

	for (int i = 0; i < NPRODUCERS; i++)
		producers[i] = spawn(producer, i);
	for (int i = 0; i < NCONSUMERS; i++)
		consumers[i] = spawn(consumer, i);
	bad += wait_all(producers, NPRODUCERS);
	/* Everything is cooked: one sentinel per consumer (after an error,
	 * the manager's shutdown sends them home). */
	for (int i = 0; i < NCONSUMERS; i++)
		agora_queue_put(q, agora_nil(), AGORA_FOREVER);
	if (agora_client_error(c) == 0)
		bad += wait_all(consumers, NCONSUMERS);

	/* Each item eaten exactly once. */
	agora_list_len(eaten, &len);
	if (len != NPRODUCERS * NITEMS)
		bad++;
	for (int i = 0; i < NPRODUCERS; i++)
		for (int n = 0; n < NITEMS; n++) {
			int64_t count = 0;

			snprintf(item, sizeof(item), "%s%d", foods[i], n);
			agora_list_count(eaten, agora_str(item), &count);
			if (count != 1)
				bad++;
		}
	printf("%zu items eaten%s\n", len, bad ? ": WRONG" : "");

	agora_list_close(eaten);
	agora_queue_close(q);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "producer_consumer: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
