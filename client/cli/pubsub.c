/*
 * pubsub.c - the commands of agora(1) for topics (cli.h): subscribe, which
 * prints each message as it comes, and publish.
 *
 * A topic is opened by name without creating it (agora new topic NAME
 * makes one): a name that is no topic is said so, as every command says of
 * a missing object.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "agora.h"
#include "cli.h"

/* Set by SIGINT or SIGTERM during subscribe: stop after the current line. */
static volatile sig_atomic_t stop_subscribe;

static void on_stop(int sig)
{
	(void)sig;
	stop_subscribe = 1;
}

/* Open the existing topic @name into *@ret. 0, or the exit code after
 * saying why. */
static int open_topic(struct cli *k, const char *name, agora_topic **ret)
{
	int rc = agora_open_ex(k->c, "topic", name, NULL, 0,
			       AGORA_OPEN_NO_CREATE, ret);

	if (rc == AGORA_ENO_OBJECT) {
		say("no topic named \"%s\" (agora new topic %s makes one)",
		    name, name);
		return EXIT_SERVER;
	}
	if (rc == AGORA_ETYPE) {
		say("\"%s\" is not a topic (agora ls shows its type)", name);
		return EXIT_SERVER;
	}
	return rc < 0 ? call_failed(k, rc) : 0;
}

/* A cut notification: say what the server said, and end. */
static int say_cut(const agora_notification *n)
{
	const agora_value *unsent = agora_map_get(&n->params, "unsent");
	int64_t bytes = -1;

	if (unsent != NULL)
		agora_value_to_int(*unsent, &bytes);
	say("subscribe: cut off by the server: messages were not read fast "
	    "enough (%lld bytes unsent past its --max-output)",
	    (long long)bytes);
	return EXIT_CONNECT;
}

int cmd_subscribe(struct cli *k, char **args, int nargs)
{
	struct sigaction sa, old_int, old_term;
	agora_topic *t = NULL;
	int ret;

	(void)nargs;
	ret = open_topic(k, args[0], &t);
	if (ret != 0)
		return ret;
	ret = agora_topic_subscribe(t);
	if (ret < 0) {
		ret = call_failed(k, ret);
		agora_topic_close(t);
		return ret;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop;
	sigemptyset(&sa.sa_mask);
	stop_subscribe = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	ret = EXIT_OK;
	/* Short waits, so that a signal ends it within a quarter second
	 * even when the library's wait goes on after it. */
	while (!stop_subscribe) {
		agora_notification *n = NULL;
		const agora_value *msg;
		int rc = agora_notification_next(k->c, 0.25, &n);

		if (rc == AGORA_ETIMEDOUT)
			continue;
		if (rc < 0) {
			ret = call_failed(k, rc);
			break;
		}
		if (agora_topic_message(n, NULL, &msg) == 0) {
			print_value_json(msg);
			fflush(stdout);
		} else if (strcmp(n->method, "cut") == 0) {
			ret = say_cut(n);
			agora_notification_free(n);
			break;
		}
		/* Any other notification is not this command's. */
		agora_notification_free(n);
	}
	/* A session goes on after subscribe: Ctrl-C is its own again. */
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (ret == EXIT_OK) {
		int rc = agora_topic_close(t);
		if (rc < 0)
			ret = call_failed(k, rc);
	} else {
		agora_topic_close(t);
	}
	return ret;
}

int cmd_publish(struct cli *k, char **args, int nargs)
{
	agora_topic *t = NULL;
	agora_value msg;
	uint64_t count = 0;
	int ret;

	(void)nargs;
	ret = parse_value(k, "MSG", args[1], &msg);
	if (ret != 0)
		return ret;
	ret = open_topic(k, args[0], &t);
	if (ret != 0)
		return ret;
	ret = agora_topic_publish(t, msg, &count);
	if (ret < 0) {
		ret = call_failed(k, ret);
		agora_topic_close(t);
		return ret;
	}
	/* How many subscriptions received it, in text and JSON alike. */
	printf("%llu\n", (unsigned long long)count);
	ret = agora_topic_close(t);
	return ret < 0 ? call_failed(k, ret) : EXIT_OK;
}
