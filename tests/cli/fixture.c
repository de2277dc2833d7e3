/*
 * fixture.c - the objects tests/cli/test_cli.py looks at with the agora
 * tool, which only reads and changes objects that exist.
 *
 * Connects from the environment (AGORA_ADDRESS, AGORA_AUTHKEY_FILE),
 * creates one named object of each kind with known contents (and a few
 * more, "total", "cfg", "nums", "scratch", "jobs" and "q", for the tests
 * that change things, so that the others read what is written here), acquires
 * the lock "mutex" and keeps it, prints "ready PID" and then waits until its
 * stdin closes: while it waits, "mutex" is held by this connection, so
 * `agora info mutex` has an owner to show. Exits 0, or 1 after saying what
 * failed.
 *
 * With `--hold NAME` it only takes the lock NAME, waiting as long as it
 * takes, prints "ready PID", waits until its stdin closes and then pings
 * the server, printing "ping ok", or "ping IO" (the error's name) when its
 * connection was ended meanwhile (`agora kill`); for the tests of clients and
 * kill.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agora.h"

static agora_client *c;

static int check(int rc, const char *what)
{
	if (rc < 0) {
		fprintf(stderr, "fixture: %s: %s (%s)\n", what, agora_errmsg(c),
			agora_errname(rc));
		_exit(1);
	}
	return rc;
}

/* --hold NAME, above. */
static int hold(const char *name)
{
	agora_lock *l;
	bool got = false;
	char buf[64];

	check(agora_lock_open(c, name, &l), "open the lock");
	check(agora_lock_acquire(l, AGORA_FOREVER, &got), "acquire");
	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) != NULL)
		;
	int rc = agora_ping(c);
	printf("ping %s\n", rc == 0 ? "ok" : agora_errname(rc));
	agora_lock_close(l);
	agora_client_free(c);
	return 0;
}

int main(int argc, char **argv)
{
	agora_dict *d;
	agora_list *l;
	agora_queue *q;
	agora_var *v, *blob, *total;
	agora_namespace *ns, *cfg;
	struct agora_array *a, *nums;
	agora_event *ev, *scratch;
	agora_semaphore *sem;
	agora_lock *mutex;
	agora_rlock *rl;
	agora_barrier *bar;
	bool got = false;
	char buf[64];

	c = agora_client_new();
	if (c == NULL)
		return 1;
	check(agora_client_connect_env(c), "connect");
	if (argc == 3 && strcmp(argv[1], "--hold") == 0)
		return hold(argv[2]);

	check(agora_dict_open(c, "results", &d), "open results");
	check(agora_dict_set(d, agora_str("job:3"), agora_int(9)), "set");
	check(agora_dict_set(d, agora_int(42), agora_str("answer")), "set");
	agora_value inner[2] = { agora_int(1), agora_float(2.5) };
	agora_pair nested = { agora_str("a"), agora_array(inner, 2) };
	check(agora_dict_set(d, agora_str("nested"), agora_map(&nested, 1)),
	      "set");

	check(agora_list_open(c, "jobs", &l), "open jobs");
	check(agora_list_append(l, agora_int(1)), "append");
	check(agora_list_append(l, agora_str("two")), "append");
	check(agora_list_append(l, agora_float(3.5)), "append");

	check(agora_queue_open(c, "q", 0, &q), "open q");
	check(agora_queue_put(q, agora_int(10), 0), "put");
	check(agora_queue_put(q, agora_int(20), 0), "put");

	check(agora_var_open(c, "counter", agora_int(7), &v), "open counter");
	check(agora_var_open(c, "total", agora_int(0), &total), "open total");
	check(agora_var_open(c, "blob", agora_bin("\x00\x01\xff", 3), &blob),
	      "open blob");

	check(agora_namespace_open(c, "ns", &ns), "open ns");
	check(agora_namespace_set(ns, "mode", agora_str("fast")), "ns set");
	check(agora_namespace_open(c, "cfg", &cfg), "open cfg");

	agora_value items[3] = { agora_int(1), agora_int(2), agora_int(3) };
	check(agora_array_open_items(c, "arr", 'i', items, 3, &a), "open arr");
	check(agora_array_open_items(c, "nums", 'i', items, 3, &nums),
	      "open nums");

	check(agora_event_open(c, "ev", &ev), "open ev");
	check(agora_event_set(ev), "event set");
	check(agora_event_open(c, "scratch", &scratch), "open scratch");
	check(agora_semaphore_open(c, "sem", 3, false, &sem), "open sem");
	check(agora_rlock_open(c, "rl", &rl), "open rl");
	check(agora_barrier_open(c, "bar", 2, &bar), "open bar");

	check(agora_lock_open(c, "mutex", &mutex), "open mutex");
	check(agora_lock_acquire(mutex, 0, &got), "acquire");
	if (!got) {
		fprintf(stderr, "fixture: mutex is held by someone else\n");
		return 1;
	}

	printf("ready %ld\n", (long)getpid());
	fflush(stdout);
	while (fgets(buf, sizeof(buf), stdin) != NULL)
		;
	agora_dict_close(d);
	agora_list_close(l);
	agora_queue_close(q);
	agora_var_close(v);
	agora_var_close(blob);
	agora_var_close(total);
	agora_namespace_close(ns);
	agora_namespace_close(cfg);
	agora_array_close(a);
	agora_array_close(nums);
	agora_event_close(ev);
	agora_event_close(scratch);
	agora_semaphore_close(sem);
	agora_rlock_close(rl);
	agora_barrier_close(bar);
	agora_lock_close(mutex);
	/* The lock stays held until the connection ends, here. */
	agora_client_free(c);
	return 0;
}
