/*
 * pollloop.c - Agora inside a program's own event loop: one poll(2) loop,
 * no thread, watches a dict and listens to a topic while a child process
 * writes to the dict and publishes, and prints what it gets as it comes.
 *
 * The loop only ever waits in poll(): calls go out with agora_call_send()
 * and their answers are picked up by msgid (agora_call_result()); what
 * the server pushes (the dict's changes, the topic's messages) is taken
 * with agora_notification_next(c, 0, ...), which never blocks. The same
 * loop could wait on a listening socket, a timerfd or a pipe as well.
 *
 * Exits 0 when it saw the child's three changes of the dict, in order
 * with rising versions, and its two messages, in order; 1 otherwise.
 */
#include <inttypes.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <agora.h>
#include <agora_server.h> /* agora_manager_*: libagora-server */

/* ---- the child: another process that writes and publishes --------------- */

static int child(void)
{
	agora_client *c = agora_client_new();
	agora_value open_p[2], pub[2], got = agora_nil();
	agora_dict *config = NULL;
	int64_t topic = 0, heard = 0;
	const char *news[] = { "hello", "world" };
	int bad = 0;

	if (agora_client_connect_env(c) < 0 ||
	    agora_dict_open(c, "config", &config) < 0) {
		fprintf(stderr, "child: %s\n", agora_errmsg(c));
		return 1;
	}
	agora_dict_set(config, agora_str("color"), agora_str("red"));
	agora_dict_set(config, agora_str("size"), agora_int(3));
	agora_dict_delete(config, agora_str("color"));

	open_p[0] = agora_str("topic");
	open_p[1] = agora_str("news");
	if (agora_call(c, "open", agora_array(open_p, 2), &got) < 0 ||
	    agora_value_to_int(got, &topic) < 0) {
		fprintf(stderr, "child: open news: %s\n", agora_errmsg(c));
		return 1;
	}
	agora_value_free(&got);
	for (int i = 0; i < 2; i++) {
		pub[0] = agora_int(topic);
		pub[1] = agora_str(news[i]);
		if (agora_call(c, "topic.publish", agora_array(pub, 2), &got) <
			0 ||
		    agora_value_to_int(got, &heard) < 0) {
			fprintf(stderr, "child: publish: %s\n",
				agora_errmsg(c));
			return 1;
		}
		agora_value_free(&got);
		/* One subscriber: the parent. */
		if (heard != 1) {
			fprintf(stderr, "child: %s reached %" PRId64 "\n",
				news[i], heard);
			bad = 1;
		}
	}
	agora_dict_close(config);
	agora_client_free(c);
	return bad;
}

/* ---- the parent: one poll() loop ----------------------------------------- */

struct seen {
	char changes[3][64]; /* "OP KEY" of each watch notification */
	int64_t versions[3];
	int nchanges;
	char messages[2][64];
	int nmessages;
	bool other; /* something unexpected came */
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The str @v as a C string into @buf (cut to fit); "?" when not a str. */
static const char *text(const agora_value *v, char *buf, size_t len)
{
	if (v == NULL || v->type != AGORA_STR)
		return "?";
	snprintf(buf, len, "%.*s", (int)v->via.str.len, v->via.str.ptr);
	return buf;
}

/* Everything the server pushed that is queued now: printed and noted. */
static void take_notifications(agora_client *c, struct seen *s)
{
	agora_notification *n;

	while (agora_notification_next(c, 0, &n) == 0) {
		const agora_value *p = &n->params;
		char op[32], key[32], msg[64];
		int64_t version = 0;

		if (strcmp(n->method, "watch") == 0) {
			const agora_value *v = agora_map_get(p, "version");

			if (v == NULL || agora_value_to_int(*v, &version) < 0)
				s->other = true;
			text(agora_map_get(p, "op"), op, sizeof(op));
			text(agora_map_get(p, "key"), key, sizeof(key));
			printf("config changed: version %" PRId64 " %s %s\n",
			       version, op, key);
			if (s->nchanges < 3) {
				snprintf(s->changes[s->nchanges], 64, "%s %s",
					 op, key);
				s->versions[s->nchanges++] = version;
			} else {
				s->other = true;
			}
		} else if (strcmp(n->method, "topic") == 0) {
			text(agora_map_get(p, "message"), msg, sizeof(msg));
			printf("news: %s\n", msg);
			if (s->nmessages < 2)
				snprintf(s->messages[s->nmessages++], 64, "%s",
					 msg);
			else
				s->other = true;
		} else if (strcmp(n->method, "cut") == 0) {
			fprintf(stderr, "the server cut this connection\n");
			s->other = true;
		} /* else: a kind a later server added; ignored */
		agora_notification_free(n);
	}
}

/*
 * Wait in poll() for the client's socket (and nothing else here: a real
 * program adds its own descriptors), up to @ms, then take what came.
 * Returns 0, or the error that ended the connection.
 */
static int loop_once(agora_client *c, int ms)
{
	struct pollfd pfd = { .fd = agora_client_fd(c), .events = POLLIN };
	int rc;

	if (agora_client_want_write(c))
		pfd.events |= POLLOUT;
	if (poll(&pfd, 1, ms) < 0)
		return 0; /* EINTR: look again */
	rc = agora_client_process(c);
	return rc < 0 ? rc : 0;
}

/* The answer to the sent call @id, looping until it comes. */
static int answer(agora_client *c, uint32_t id, agora_value *ret)
{
	int rc;

	while ((rc = agora_call_result(c, id, ret)) == AGORA_EAGAIN) {
		int e = loop_once(c, 1000);

		if (e < 0)
			return e;
	}
	return rc;
}

int main(void)
{
	const char *want_changes[3] = { "dict.set color", "dict.set size",
					"dict.delete color" };
	const char *want_messages[2] = { "hello", "world" };
	agora_value p[2], res = agora_nil();
	agora_pair no_opts;
	struct seen s = { 0 };
	uint32_t watch_id, sub_id, open_id;
	agora_manager *m;
	agora_client *c;
	agora_dict *config;
	int64_t topic = 0;
	char err[256];
	int status, rc, bad = 0;
	double deadline;
	pid_t pid;

	if (agora_manager_start(&m, err, sizeof(err)) < 0) {
		fprintf(stderr, "manager: %s\n", err);
		return 1;
	}
	c = agora_manager_client(m);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (agora_dict_open(c, "config", &config) < 0) {
		fprintf(stderr, "open config: %s\n", agora_errmsg(c));
		return 1;
	}

	/* Calls in flight together; each answer is taken by its msgid. */
	p[0] = agora_uint(agora_dict_handle(config));
	p[1] = agora_map(&no_opts, 0);
	rc = agora_call_send(c, "watch", agora_array(p, 2), &watch_id);
	p[0] = agora_str("topic");
	p[1] = agora_str("news");
	if (rc == 0)
		rc = agora_call_send(c, "open", agora_array(p, 2), &open_id);
	if (rc == 0)
		rc = answer(c, open_id, &res);
	if (rc == 0)
		rc = agora_value_to_int(res, &topic);
	agora_value_free(&res);
	p[0] = agora_int(topic);
	if (rc == 0)
		rc = agora_call_send(c, "topic.subscribe", agora_array(p, 1),
				     &sub_id);
	if (rc == 0)
		rc = answer(c, watch_id, &res);
	agora_value_free(&res);
	if (rc == 0)
		rc = answer(c, sub_id, NULL);
	if (rc < 0) {
		fprintf(stderr, "watch and subscribe: %s (%s)\n",
			agora_errmsg(c), agora_errname(rc));
		return 1;
	}

	/* Watching and subscribed: now the other process may write. */
	pid = fork();
	if (pid == 0)
		_exit(child());

	deadline = now() + 60;
	while ((s.nchanges < 3 || s.nmessages < 2) && !s.other &&
	       now() < deadline) {
		rc = loop_once(c, 1000);
		take_notifications(c, &s);
		if (rc < 0) {
			fprintf(stderr, "connection: %s\n", agora_errmsg(c));
			break;
		}
	}

	waitpid(pid, &status, 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		bad = 1;
	for (int i = 0; i < 3; i++)
		if (i >= s.nchanges || strcmp(s.changes[i], want_changes[i]) ||
		    (i > 0 && s.versions[i] <= s.versions[i - 1])) {
			fprintf(stderr, "change %d: want %s\n", i,
				want_changes[i]);
			bad = 1;
		}
	for (int i = 0; i < 2; i++)
		if (i >= s.nmessages ||
		    strcmp(s.messages[i], want_messages[i])) {
			fprintf(stderr, "message %d: want %s\n", i,
				want_messages[i]);
			bad = 1;
		}
	if (s.other)
		bad = 1;
	agora_dict_close(config);
	agora_manager_shutdown(m);
	puts(bad ? "pollloop: FAILED" : "pollloop: ok");
	return bad;
}
