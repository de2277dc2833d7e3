/*
 * semaphore.c - Semaphore(3): twelve workers, at most three inside at a
 * time. Python's
 *
 *     def user(sem, i):
 *         with sem:
 *             print(f"user{i} takes a seat"); time.sleep(0.05)
 *     sem = Semaphore(3)
 *
 * Each worker counts itself in and out of a shared value with an atomic
 * add, so it can check how many are inside with it. Exits 0 when nobody
 * ever saw more than three inside and all three permits came back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NUSERS 12
#define NSEATS 3

static int user(int i)
{
	agora_client *c = agora_client_new();
	agora_semaphore *sem;
	agora_var *inside;
	int64_t now = 0;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_semaphore_open(c, "seats", NSEATS, false, &sem);
	agora_var_open(c, "inside", agora_int(0), &inside);

	agora_semaphore_acquire(sem, AGORA_FOREVER, NULL);
	agora_var_add_int(inside, 1, &now);
	printf("user%d takes a seat (%lld inside)\n", i, (long long)now);
	usleep(50000);
	agora_var_add_int(inside, -1, NULL);
	agora_semaphore_release(sem, 1);

	agora_var_close(inside);
	agora_semaphore_close(sem);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "user%d: %s\n", i, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0 || now > NSEATS;
}

int main(void)
{
	pid_t pids[NUSERS];
	agora_manager *m;
	agora_client *c;
	agora_semaphore *sem;
	char err[256];
	int64_t free_seats = 0;
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_semaphore_open(c, "seats", NSEATS, false, &sem);

	fflush(stdout);
	for (int i = 0; i < NUSERS; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(user(i));
	}
	for (int i = 0; i < NUSERS; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	agora_semaphore_value(sem, &free_seats);
	printf("all done, %lld seats free\n", (long long)free_seats);
	if (free_seats != NSEATS)
		bad = 1;

	agora_semaphore_close(sem);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "semaphore: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
