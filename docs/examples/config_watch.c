/*
 * config_watch.c - configuration that reaches every worker as it changes,
 * with no polling: each worker watches the "level" key of the shared dict
 * "config" and reloads when it changes; announcements go to every worker
 * at once through the topic "news". A worker that lost its connection
 * watches again from the last version it saw, and learns whether it missed
 * a change.
 *
 * Exits 0 when both workers were told of the three changes of "level" and
 * read 3 in the end, got both announcements, and a resumed watch reports
 * the changes it missed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

#define WORKERS 2

/* Worker @id: reload "level" on each change until it is 3, and print
 * each announcement; exit 0 when it saw 1, 2, 3 and two announcements. */
static int worker(int id)
{
	agora_client *c = agora_client_new();
	agora_dict *config;
	agora_topic *news;
	agora_event *ready;
	agora_watch_info w;
	agora_value key = agora_str("level");
	int64_t level = 0, was = 0;
	int changes = 0, announcements = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the parent */
	if (agora_client_connect_env(c) < 0 ||
	    agora_dict_open(c, "config", &config) < 0 ||
	    agora_topic_open(c, "news", &news) < 0 ||
	    agora_topic_subscribe(news) < 0 ||
	    agora_watch(c, agora_dict_handle(config), &key, NULL, &w) < 0 ||
	    agora_event_open(c, "ready", &ready) < 0 ||
	    agora_event_set(ready) < 0) {
		fprintf(stderr, "worker %d: %s\n", id, agora_errmsg(c));
		return 1;
	}
	while (changes < 3 || announcements < 2) {
		agora_notification *n;
		agora_change ch;
		const agora_value *msg;

		if (agora_notification_next(c, 30, &n) < 0) {
			fprintf(stderr, "worker %d: %s\n", id, agora_errmsg(c));
			return 1;
		}
		if (agora_change_of(n, &ch) == 0) {
			/* The notification says what changed, not the value:
			 * read it (by now it may have changed again). */
			agora_dict_get_int(config, key, &level);
			printf("worker %d: change %llu: level is %lld\n", id,
			       (unsigned long long)ch.version,
			       (long long)level);
			if (level < was)
				return 1;
			was = level;
			changes++;
		} else if (agora_topic_message(n, NULL, &msg) == 0) {
			printf("worker %d: news: %.*s\n", id,
			       (int)msg->via.str.len, msg->via.str.ptr);
			announcements++;
		}
		agora_notification_free(n);
	}
	agora_dict_close(config);
	agora_topic_close(news);
	agora_event_close(ready);
	agora_client_free(c);
	return level == 3 ? 0 : 1;
}

/* A watcher that went away at version @seen: does it learn it missed one? */
static int resume(agora_client *c, agora_dict *config,
		  const agora_watch_info *seen)
{
	agora_watch_info again;
	agora_value key = agora_str("level");

	if (agora_watch(c, agora_dict_handle(config), &key, seen, &again) < 0)
		return -1;
	/* again.changed: 1, read the value again; 0, nothing was missed */
	return again.changed;
}

int main(void)
{
	agora_manager *m;
	agora_client *c;
	agora_dict *config;
	agora_topic *news;
	agora_event *ready;
	agora_watch_info before;
	agora_value key = agora_str("level");
	pid_t pids[WORKERS];
	char err[256];
	int bad = 0, status;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	agora_dict_open(c, "config", &config);
	agora_topic_open(c, "news", &news);
	for (int i = 0; i < WORKERS; i++) {
		agora_event_open(c, "ready", &ready);
		agora_event_clear(ready);
		pids[i] = fork();
		if (pids[i] == 0)
			_exit(worker(i) | fflush(stdout));
		agora_event_wait(ready, 30, NULL); /* watching, subscribed */
		agora_event_close(ready);
	}
	agora_watch(c, agora_dict_handle(config), &key, NULL, &before);
	for (int64_t level = 1; level <= 3; level++)
		agora_dict_set(config, key, agora_int(level));
	agora_topic_publish(news, agora_str("deploy at noon"), NULL);
	agora_topic_publish(news, agora_str("deploy done"), NULL);
	for (int i = 0; i < WORKERS; i++) {
		waitpid(pids[i], &status, 0);
		bad |= !WIFEXITED(status) || WEXITSTATUS(status) != 0;
	}
	/* before.version is what a watcher saw before the three changes */
	if (resume(c, config, &before) != 1)
		bad = 1;
	agora_dict_close(config);
	agora_topic_close(news);
	return agora_manager_shutdown(m) < 0 || bad;
}
