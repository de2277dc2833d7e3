/*
 * presence.c - a name that goes with its process, and a name with a time
 * to live (docs/guide.md, "Presence and expiry").
 *
 * A worker says it is alive with the ephemeral name "worker-7": the
 * server drops the name when the worker's connection ends, however it
 * ends. The parent sees it in ls with its owner, kills the worker with
 * SIGKILL, and waits for the name to go (bounded: 30 s). Then a dict with
 * a time to live: set at its creation, moved with expire, read with ttl,
 * cleared. Exits 0 when all of it went as said.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

/* Worker @id: its ephemeral name, then "ready", then wait to be killed. */
static void worker(int id)
{
	agora_client *c = agora_client_new();
	agora_event *ready;
	int rc;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
	agora_client_connect_env(c);

	char name[32];
	agora_event *alive;

	snprintf(name, sizeof(name), "worker-%d", id);
	/* "worker-7 is alive" for as long as this connection lasts. With
	 * EXCLUSIVE a second worker-7 gets AGORA_EEXISTS while this one
	 * lives. */
	rc = agora_open_ex(c, "event", name, NULL, 0,
			   AGORA_OPEN_EPHEMERAL | AGORA_OPEN_EXCLUSIVE, &alive);

	if (rc < 0 || agora_event_open(c, "ready", &ready) < 0 ||
	    agora_event_set(ready) < 0) {
		fprintf(stderr, "worker: %s\n", agora_errmsg(c));
		exit(1);
	}
	for (;;)
		pause(); /* until SIGKILL */
}

/* The ls entry of @name, or NULL; @ls is ls's answer. */
static const agora_value *entry(agora_value ls, const char *name)
{
	for (size_t i = 0; i < ls.via.array.len; i++) {
		agora_value e = ls.via.array.items[i];
		for (size_t j = 0; j < e.via.map.len; j++)
			if (agora_value_equal(e.via.map.items[j].key,
					      agora_str("name")) &&
			    agora_value_equal(e.via.map.items[j].val,
					      agora_str(name)))
				return &ls.via.array.items[i];
	}
	return NULL;
}

/* Whether the ls entry @e has the field @key. */
static bool has(const agora_value *e, const char *key)
{
	for (size_t j = 0; j < e->via.map.len; j++)
		if (agora_value_equal(e->via.map.items[j].key, agora_str(key)))
			return true;
	return false;
}

/* Whether "worker-7" is listed now, and with its owner. */
static bool listed(agora_client *c, bool *with_owner)
{
	agora_value ls;
	const agora_value *e;
	bool found;

	if (agora_ls_match(c, "worker-*", &ls) < 0)
		return false;
	e = entry(ls, "worker-7");
	found = e != NULL;
	if (found && with_owner != NULL)
		*with_owner = has(e, "ephemeral_owner");
	agora_value_free(&ls);
	return found;
}

static int presence(agora_client *c)
{
	agora_event *ready;
	bool owner = false, gone = false;
	int status;

	agora_event_open(c, "ready", &ready);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0)
		worker(7);
	agora_event_wait(ready, 60.0, NULL);
	agora_event_close(ready);
	if (!listed(c, &owner) || !owner) {
		fprintf(stderr, "worker-7 is not listed with its owner\n");
		return 1;
	}
	printf("worker-7 is alive\n");

	kill(pid, SIGKILL); /* no goodbye */
	waitpid(pid, &status, 0);
	for (int i = 0; i < 3000 && !gone; i++) {
		gone = !listed(c, NULL);
		if (!gone)
			nanosleep(&(struct timespec){ 0, 10000000 }, NULL);
	}
	if (!gone) {
		fprintf(stderr, "worker-7 is still listed after 30 s\n");
		return 1;
	}
	printf("worker-7 is gone with its process\n");
	return 0;
}

static int expiry(agora_client *c)
{
	int rc;

	agora_pair ttl = { agora_str("ttl"), agora_float(3600) };
	agora_dict *report;
	double left;

	/* Dropped an hour from now. */
	rc = agora_open_ex(c, "dict", "report.today", &ttl, 1, 0, &report);
	rc = agora_expire(c, "report.today", 7200); /* two hours from now */
	rc = agora_ttl(c, "report.today", &left);   /* 7200, a little less */
	rc = agora_expire(c, "report.today", 0);    /* never */

	/* Sticky: rc is the first failure of the four, if any. */
	if (rc < 0 || left <= 7100 || left > 7200) {
		fprintf(stderr, "report.today: %s (ttl %.3f)\n",
			agora_errmsg(c), left);
		return 1;
	}
	printf("report.today had %.0f s to live, and now has no deadline\n",
	       left);
	if (agora_ttl(c, "report.today", &left) < 0 || left != -1) {
		fprintf(stderr, "report.today still has a deadline\n");
		return 1;
	}
	agora_dict_close(report);
	return 0;
}

int main(void)
{
	agora_manager *m;
	agora_client *c;
	char err[256];
	int bad;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	/* The first error is kept: a call after it fails with it too. */
	agora_client_set_sticky(c, true);
	bad = presence(c) || expiry(c);
	if (agora_client_error(c) < 0) {
		fprintf(stderr, "presence: %s\n", agora_errmsg(c));
		bad = 1;
	}
	return agora_manager_shutdown(m) < 0 || bad;
}
