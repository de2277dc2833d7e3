/*
 * priority.c - one worker serving two queues, urgent work first: a wait on
 * several queues at once (agora_queue_get_any(), the server method
 * get_any, Redis's BLMPOP), which Python's Manager has no call for (a
 * worker would poll each queue in turn).
 *
 * The parent puts three normal jobs, then two urgent ones, then a nil
 * sentinel on the normal queue; the worker takes with get_any over
 * [urgent, normal] until the sentinel and records what it did. A second
 * worker waits on both while they are empty and gets the job put later
 * to one of them. Exits 0 when the urgent jobs were done first and every
 * job exactly once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

static int worker(void)
{
	agora_client *c = agora_client_new();
	agora_queue *qs[2];
	agora_list *done;
	agora_value job;
	size_t from = 0;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_queue_open(c, "urgent", 0, &qs[0]);
	agora_queue_open(c, "normal", 0, &qs[1]);
	agora_list_open(c, "done", &done);
	/* The first queue of the list that holds an item serves: urgent
	 * work first. When both are empty it waits for the first item put
	 * to either. */
	while (agora_queue_get_any(qs, 2, 30, &from, &job) == 0 &&
	       job.type != AGORA_NIL) {
		printf("did %s (from the %s queue)\n", job.via.str.ptr,
		       from == 0 ? "urgent" : "normal");
		agora_list_append(done, job);
		agora_value_free(&job);
	}
	agora_list_close(done);
	agora_queue_close(qs[1]);
	agora_queue_close(qs[0]);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

static pid_t spawn(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(1);
	}
	if (pid == 0)
		exit(worker());
	return pid;
}

static bool exited_ok(pid_t pid)
{
	int status;

	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0;
}

int main(void)
{
	static const char *const want[] = {
		"u0", "u1", "n0", "n1", "n2", "late"
	};
	agora_manager *m;
	agora_client *c;
	agora_queue *urgent, *normal;
	agora_list *done;
	agora_value all = { 0 };
	char err[256];
	int bad = 0;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_queue_open(c, "urgent", 0, &urgent);
	agora_queue_open(c, "normal", 0, &normal);
	agora_list_open(c, "done", &done);

	agora_queue_put(normal, agora_str("n0"), 0);
	agora_queue_put(normal, agora_str("n1"), 0);
	agora_queue_put(normal, agora_str("n2"), 0);
	agora_queue_put(urgent, agora_str("u0"), 0);
	agora_queue_put(urgent, agora_str("u1"), 0);
	agora_queue_put(normal, agora_nil(), 0);
	if (!exited_ok(spawn()))
		bad++;

	/* A worker that waits on both, empty: the first item put to either
	 * reaches it (if it starts after the put, it finds it there); then
	 * the sentinel, behind it. */
	pid_t late = spawn();
	agora_queue_put(normal, agora_str("late"), 0);
	agora_queue_put(normal, agora_nil(), 0);
	if (!exited_ok(late))
		bad++;

	agora_list_copy(done, &all);
	if (all.type != AGORA_ARRAY || all.via.array.len != 6)
		bad++;
	for (size_t i = 0;
	     all.type == AGORA_ARRAY && i < all.via.array.len && i < 6; i++)
		if (strcmp(all.via.array.items[i].via.str.ptr, want[i]) != 0)
			bad++;
	fputs("done in this order:", stdout);
	for (size_t i = 0; all.type == AGORA_ARRAY && i < all.via.array.len;
	     i++)
		printf(" %s", all.via.array.items[i].via.str.ptr);
	printf("%s\n", bad ? ": WRONG" : "");
	agora_value_free(&all);

	agora_list_close(done);
	agora_queue_close(normal);
	agora_queue_close(urgent);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "priority: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
