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

static agora_client *connect_env(void)
{
	agora_client *c = agora_client_new();

	if (!c) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	agora_client_connect_env(c);
	return c;
}

static int user(int i)
{
	agora_client *c = connect_env();
	agora_semaphore *sem;
	agora_var *inside;
	int64_t now;

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
	agora_client_free(c);
	return now <= NSEATS ? 0 : 1;
}

int main(void)
{
	pid_t pids[NUSERS];
	agora_manager *m;
	agora_client *c;
	agora_semaphore *sem;
	char err[256];
	int64_t free_seats;
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
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
	agora_manager_shutdown(m);
	return bad;
}
