/*
 * tickets.c - the ticket rush: ten people see one ticket left and all try
 * to buy it. Checking the count and writing it back must happen as one
 * step, or several people buy the same last ticket. Python's
 *
 *     def buy(i, db, lock):
 *         with lock:
 *             if db["count"] > 0:
 *                 db["count"] -= 1; print(f"{i} got the ticket")
 *
 * In C, agora_lock_with() is the `with lock:` block: it runs a function
 * with the lock held and releases it even when the function fails. Exits
 * 0 when exactly one person got the ticket.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define NPEOPLE 10

struct buyer {
	int who;
	agora_dict *db;
	agora_list *winners;
};

/* The body of `with lock:`. Returns 0 or a negative AGORA_E* code. */
static int buy(void *ud)
{
	struct buyer *b = ud;
	int64_t count;
	int rc;

	rc = agora_dict_get_int(b->db, agora_str("count"), &count);
	if (rc < 0)
		return rc;
	if (count == 0) {
		printf("person %d: sold out\n", b->who);
		return 0;
	}
	usleep(10000); /* paying takes a while: others would read 1 too */
	rc = agora_dict_set(b->db, agora_str("count"), agora_int(count - 1));
	if (rc < 0)
		return rc;
	printf("person %d got the ticket\n", b->who);
	return agora_list_append(b->winners, agora_int(b->who));
}

static int person(int i)
{
	agora_client *c = agora_client_new();
	struct buyer b = { .who = i };
	agora_lock *lock;
	int64_t count = 0;
	int rc;

	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_dict_open(c, "db", &b.db);
	agora_list_open(c, "winners", &b.winners);
	agora_lock_open(c, "db.lock", &lock);

	/* Looking needs no lock. */
	agora_dict_get_int(b.db, agora_str("count"), &count);
	printf("person %d sees %lld ticket(s) left\n", i, (long long)count);
	agora_lock_with(lock, buy, &b);

	agora_lock_close(lock);
	agora_list_close(b.winners);
	agora_dict_close(b.db);
	rc = agora_client_error(c);
	if (rc < 0)
		fprintf(stderr, "person %d: %s\n", i, agora_errmsg(c));
	agora_client_free(c);
	return rc < 0;
}

int main(void)
{
	pid_t pids[NPEOPLE];
	agora_manager *m;
	agora_client *c;
	agora_dict *db;
	agora_list *winners;
	char err[256];
	int64_t count = -1;
	size_t nwinners = 0;
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_dict_open(c, "db", &db);
	agora_list_open(c, "winners", &winners);
	agora_dict_set(db, agora_str("count"), agora_int(1));

	fflush(stdout);
	for (int i = 0; i < NPEOPLE; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			perror("fork");
			return 1;
		}
		if (pids[i] == 0)
			exit(person(i));
	}
	for (int i = 0; i < NPEOPLE; i++)
		if (waitpid(pids[i], &status, 0) < 0 || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != 0)
			bad = 1;

	agora_dict_get_int(db, agora_str("count"), &count);
	agora_list_len(winners, &nwinners);
	printf("%zu winner(s), %lld ticket(s) left\n", nwinners,
	       (long long)count);
	if (nwinners != 1 || count != 0)
		bad = 1;

	agora_list_close(winners);
	agora_dict_close(db);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "tickets: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
