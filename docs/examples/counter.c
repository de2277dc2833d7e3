/*
 * counter.c - a shared counter incremented by ten workers, 200 times each.
 *
 * The wrong way reads the value and writes it back plus one: two round
 * trips, and another worker's write can land between them and be lost,
 * exactly as `v.value += 1` on a Manager Value in Python. The right way is
 * one atomic add done in the server, agora_var_add_int(); no lock needed.
 *
 * Exits 0 when the atomic counter is exactly 2000; the racy one is only
 * printed, with how many updates it lost (it varies from run to run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NWORKERS 10
#define NTIMES 200

static int worker(void)
{
	agora_client *c = agora_client_new();
	agora_var *racy, *counter;
	int64_t v;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_var_open(c, "racy", agora_int(0), &racy);
	agora_var_open(c, "counter", agora_int(0), &counter);
	for (int i = 0; i < NTIMES; i++) {
		/* Wrong: get, then set. Updates in between are lost. */
		agora_var_get_int(racy, &v);
		agora_var_set(racy, agora_int(v + 1));

		/* Right: the server adds, atomically. */
		agora_var_add_int(counter, 1, NULL);
	}
	agora_var_close(counter);
	agora_var_close(racy);
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
	agora_var *racy, *counter;
	int64_t r = 0, n = 0;
	char err[256];
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_var_open(c, "racy", agora_int(0), &racy);
	agora_var_open(c, "counter", agora_int(0), &counter);

	for (int i = 0; i < NWORKERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(worker());
	}
	for (int i = 0; i < NWORKERS; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	agora_var_get_int(racy, &r);
	agora_var_get_int(counter, &n);
	printf("get + set: %lld (%lld updates lost)\n", (long long)r,
	       (long long)(NWORKERS * NTIMES - r));
	printf("add_int:   %lld\n", (long long)n);
	if (n != NWORKERS * NTIMES || r > n)
		bad = 1;

	agora_var_close(counter);
	agora_var_close(racy);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "counter: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
