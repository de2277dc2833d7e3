/*
 * abandoned_lock.c - a lock whose holder dies is released by the server.
 *
 * In Python, a Manager Lock held by a process that crashes stays locked:
 * every other process waiting for it waits forever. In Agora the lock
 * belongs to the holder's connection; when the connection ends, by exit
 * or by a crash, the server releases the lock, hands it to the next
 * waiter and counts it in the lock's "abandoned" field.
 *
 * A child takes the lock "printer" and waits. The parent checks who holds
 * it, then kills the child with SIGKILL while it holds the lock, and waits
 * for the lock itself. Exits 0 when the parent got the lock and info says
 * it was abandoned once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

/* The integer field @key of the map @info, or -1. */
static int64_t field(agora_value info, const char *key)
{
	int64_t n;

	for (size_t i = 0; i < info.via.map.len; i++)
		if (agora_value_equal(info.via.map.items[i].key,
				      agora_str(key)) &&
		    agora_value_to_int(info.via.map.items[i].val, &n) == 0)
			return n;
	return -1;
}

/* Take the lock, say so, and keep it until killed. */
static void holder(void)
{
	agora_client *c = agora_client_new();
	agora_lock *lock;
	agora_event *holding;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
	agora_client_set_sticky(c, true);
	agora_client_connect_env(c);
	agora_lock_open(c, "printer", &lock);
	agora_event_open(c, "holding", &holding);
	agora_lock_acquire(lock, AGORA_FOREVER, NULL);
	agora_event_set(holding);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "holder: %s\n", agora_errmsg(c));
		exit(1);
	}
	for (;;)
		pause(); /* until SIGKILL: no release, no goodbye */
}

int main(void)
{
	agora_manager *m;
	agora_client *c;
	agora_lock *lock;
	agora_event *holding;
	agora_value info = { 0 }; /* nil, should a call fail */
	char err[256], text[512];
	bool got = false, ok;
	int status;
	pid_t pid;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_client_set_sticky(c, true);
	agora_lock_open(c, "printer", &lock);
	agora_event_open(c, "holding", &holding);

	pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		holder();

	/* Who holds it: the child, by pid (it came over a Unix socket). */
	agora_event_wait(holding, AGORA_FOREVER, NULL);
	agora_info(c, agora_lock_handle(lock), &info);
	agora_value_format(info, text, sizeof(text));
	printf("held:     %s\n", text);
	ok = field(info, "owner_pid") == pid;
	agora_value_free(&info);

	/* A crash while holding it; the lock comes once the holder is dead. */
	kill(pid, SIGKILL);
	agora_lock_acquire(lock, 60.0, &got);
	if (waitpid(pid, &status, 0) < 0 || !WIFSIGNALED(status))
		ok = false;
	agora_info(c, agora_lock_handle(lock), &info);
	agora_value_format(info, text, sizeof(text));
	printf("taken:    %s\n", text);
	ok = ok && got && field(info, "abandoned") == 1 &&
	     field(info, "owner_pid") == getpid();
	agora_value_free(&info);

	agora_lock_release(lock);
	agora_event_close(holding);
	agora_lock_close(lock);
	if (agora_client_error(c) < 0)
		fprintf(stderr, "abandoned_lock: %s\n", agora_errmsg(c));
	else if (!ok)
		fprintf(stderr, "expected the child, then us, abandoned 1\n");
	else
		printf("the dead holder's lock was released and taken over\n");
	ok = ok && agora_client_error(c) == 0;
	return agora_manager_shutdown(m) < 0 || !ok;
}
