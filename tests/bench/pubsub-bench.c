/*
 * pubsub-bench.c - publish and subscribe, Agora's topics against Redis's
 * PUBLISH/SUBSCRIBE, with the same driver: built by meson against
 * libagora (pubsub-bench), and by tests/bench/pubsub-compare with
 * -DPUBSUB_REDIS against hiredis (redis-pubsub-bench). Only the backend
 * (connect, subscribe, publish a batch, next message, ping) differs.
 *
 * Usage:
 *   pubsub-bench throughput ADDR --subs S --messages N [--size B]
 *   pubsub-bench bystander ADDR --seconds D [--stalled] [--rate R]
 *                                                      [--size B]
 * ADDR: for Agora, ignored (AGORA_ADDRESS and AGORA_AUTHKEY_FILE); for
 * Redis, the Unix socket's path.
 *
 * throughput: S subscriber processes subscribe to one topic; then one
 *   publisher sends N messages of B bytes (default 16) as fast as it can,
 *   pipelined 64 deep, each carrying its sequence number; every subscriber
 *   reads all N, checking their order. Prints the messages delivered per
 *   second (S * N over the time from the first publish to the last
 *   message read by the last subscriber) and the publishes per second.
 * bystander: for D seconds a publisher sends R messages/s (default
 *   20,000) of B bytes (default 1024) in batches of 10 to a topic with one
 *   subscriber that reads them, and (--stalled) one that subscribes and
 *   never reads: its backlog grows until the server cuts it (Agora's
 *   --max-output, Redis's client-output-buffer-limit pubsub); meanwhile a
 *   bystander connection makes ping round trips, one at a time. Prints
 *   the bystander's p50, p99 and worst round trip, and how many messages
 *   the reading subscriber got.
 *
 * One JSON line per result on stdout. Everything it forks ends with it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifdef PUBSUB_REDIS
#include <hiredis/hiredis.h>
#define SYSTEM "redis"
#else
#include "agora.h"
#define SYSTEM "agora"
#endif

#define TOPIC "bench.topic"
#define DEPTH 64
/* The sequence number of the bystander run's last message. */
#define END_SEQ 999999999999ull

static const char *addr;
static size_t msg_size = 16;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "pubsub-bench (%s): %s\n", SYSTEM, what);
	exit(1);
}

/* ---- backends ------------------------------------------------------------ */

#ifdef PUBSUB_REDIS

typedef struct conn {
	redisContext *c;
} conn;

static conn *b_connect(void)
{
	conn *k = calloc(1, sizeof(*k));

	k->c = redisConnectUnix(addr);
	if (k->c == NULL || k->c->err)
		die("cannot connect to redis");
	return k;
}

static void b_close(conn *k)
{
	redisFree(k->c);
	free(k);
}

static void b_subscribe(conn *k)
{
	redisReply *r = redisCommand(k->c, "SUBSCRIBE %s", TOPIC);

	if (r == NULL)
		die("SUBSCRIBE failed");
	freeReplyObject(r);
}

/* Publish @n messages of @buf (its first 12 bytes the sequence numbers
 * from @seq), pipelined; returns how many subscribers the last reached. */
static long long b_publish(conn *k, char *buf, uint64_t seq, int n)
{
	long long last = -1;

	for (int i = 0; i < n; i++) {
		char head[16];
		snprintf(head, sizeof(head), "%012" PRIu64, seq + i);
		memcpy(buf, head, 12);
		redisAppendCommand(k->c, "PUBLISH %s %b", TOPIC, buf, msg_size);
	}
	for (int i = 0; i < n; i++) {
		redisReply *r;
		if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
			die("PUBLISH failed");
		last = r->integer;
		freeReplyObject(r);
	}
	return last;
}

/* The sequence number of the next message. */
static uint64_t b_next(conn *k)
{
	redisReply *r;
	uint64_t seq;

	if (redisGetReply(k->c, (void **)&r) != REDIS_OK)
		die("reading a message failed");
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    r->element[2]->len < 12)
		die("not a message");
	seq = strtoull(r->element[2]->str, NULL, 10);
	freeReplyObject(r);
	return seq;
}

static void b_ping(conn *k)
{
	redisReply *r = redisCommand(k->c, "PING");

	if (r == NULL)
		die("PING failed");
	freeReplyObject(r);
}

#else

typedef struct conn {
	agora_client *c;
	agora_topic *t;
	agora_pipeline *p;
} conn;

static conn *b_connect(void)
{
	conn *k = calloc(1, sizeof(*k));

	(void)addr;
	k->c = agora_client_new();
	if (k->c == NULL || agora_client_connect_env(k->c) != 0)
		die("cannot connect to agorad");
	if (agora_topic_open(k->c, TOPIC, &k->t) != 0)
		die("cannot open the topic");
	return k;
}

static void b_close(conn *k)
{
	agora_pipeline_free(k->p);
	agora_topic_close(k->t);
	agora_client_free(k->c);
	free(k);
}

static void b_subscribe(conn *k)
{
	if (agora_topic_subscribe(k->t) != 0)
		die("subscribe failed");
}

static long long b_publish(conn *k, char *buf, uint64_t seq, int n)
{
	agora_value params[2], res;
	long long last = -1;

	if (k->p == NULL && (k->p = agora_pipeline_new(k->c)) == NULL)
		die("no pipeline");
	params[0] = agora_uint(agora_topic_handle(k->t));
	for (int i = 0; i < n; i++) {
		char head[16];
		snprintf(head, sizeof(head), "%012" PRIu64, seq + i);
		memcpy(buf, head, 12);
		params[1] = agora_strn(buf, msg_size);
		if (agora_pipeline_call(k->p, "topic.publish",
					agora_array(params, 2)) != 0)
			die("publish failed");
	}
	for (int i = 0; i < n; i++) {
		if (agora_pipeline_result(k->p, &res) != 0)
			die("publish failed");
		last = res.type == AGORA_INT ? res.via.i : -1;
		agora_value_free(&res);
	}
	return last;
}

static uint64_t b_next(conn *k)
{
	agora_notification *n;
	const agora_value *m;
	uint64_t seq;

	if (agora_notification_next(k->c, AGORA_FOREVER, &n) != 0)
		die("reading a message failed");
	if (agora_topic_message(n, NULL, &m) != 0 || m->type != AGORA_STR ||
	    m->via.str.len < 12)
		die("not a message");
	seq = strtoull(m->via.str.ptr, NULL, 10);
	agora_notification_free(n);
	return seq;
}

static void b_ping(conn *k)
{
	if (agora_ping(k->c) != 0)
		die("ping failed");
}

#endif

/* ---- processes ----------------------------------------------------------- */

/* Fork a child running @fn(@arg, @wfd) that reports on the pipe @wfd and
 * dies with its parent. */
static pid_t spawn(void (*fn)(long, int), long arg, int *ret_rfd)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) < 0)
		die("pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(fds[0]);
		alarm(120); /* bounded, whatever happens */
		fn(arg, fds[1]);
		_exit(0);
	}
	close(fds[1]);
	*ret_rfd = fds[0];
	return pid;
}

static void read_all(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("a child ended early");
		p += n;
		len -= (size_t)n;
	}
}

struct sub_report {
	uint64_t got, disorder, last_ns;
};

static uint64_t nmessages;

/* A subscriber: subscribe, say so, read nmessages in order, report. */
static void subscriber(long idx, int wfd)
{
	conn *k = b_connect();
	struct sub_report rep = { 0, 0, 0 };
	char ready = 'r';

	(void)idx;
	b_subscribe(k);
	if (write(wfd, &ready, 1) != 1)
		_exit(1);
	for (uint64_t i = 0; i < nmessages; i++) {
		if (b_next(k) != i)
			rep.disorder++;
		rep.got++;
	}
	rep.last_ns = now_ns();
	if (write(wfd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(1);
}

static int run_throughput(int nsubs)
{
	pid_t pids[256];
	int fds[256];
	char *buf = malloc(msg_size);
	conn *k;
	uint64_t t0, tpub, tlast = 0, got = 0, disorder = 0;
	long long reached = -1;

	if (nsubs < 1 || nsubs > 256)
		die("--subs: 1 to 256");
	memset(buf, 'm', msg_size);
	for (int i = 0; i < nsubs; i++)
		pids[i] = spawn(subscriber, i, &fds[i]);
	for (int i = 0; i < nsubs; i++) {
		char ready;
		read_all(fds[i], &ready, 1);
	}
	k = b_connect();
	t0 = now_ns();
	for (uint64_t s = 0; s < nmessages; s += DEPTH) {
		int n = nmessages - s < DEPTH ? (int)(nmessages - s) : DEPTH;
		reached = b_publish(k, buf, s, n);
	}
	tpub = now_ns();
	for (int i = 0; i < nsubs; i++) {
		struct sub_report rep;
		read_all(fds[i], &rep, sizeof(rep));
		got += rep.got;
		disorder += rep.disorder;
		if (rep.last_ns > tlast)
			tlast = rep.last_ns;
		waitpid(pids[i], NULL, 0);
	}
	printf("{\"system\": \"%s\", \"test\": \"throughput\", "
	       "\"subscribers\": %d, \"messages\": %" PRIu64 ", \"size\": %zu, "
	       "\"delivered\": %" PRIu64 ", \"out_of_order\": %" PRIu64 ", "
	       "\"last_reached\": %lld, "
	       "\"delivered_per_s\": %.0f, \"published_per_s\": %.0f}\n",
	       SYSTEM, nsubs, nmessages, msg_size, got, disorder, reached,
	       (double)got / ((double)(tlast - t0) / 1e9),
	       (double)nmessages / ((double)(tpub - t0) / 1e9));
	free(buf);
	b_close(k);
	return got == (uint64_t)nsubs * nmessages && disorder == 0 ? 0 : 1;
}

/* ---- bystander ----------------------------------------------------------- */

static double seconds = 3;
static double rate = 20000;

/* A subscriber that never reads. */
static void stalled(long idx, int wfd)
{
	conn *k = b_connect();
	char ready = 'r';

	(void)idx;
	b_subscribe(k);
	if (write(wfd, &ready, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

/* A subscriber that reads until no message came for a second: reports how
 * many it got. Ended by SIGTERM from the parent after the run. */
static volatile sig_atomic_t reader_stop;
static void on_term(int sig)
{
	(void)sig;
	reader_stop = 1;
}

static void reader(long idx, int wfd)
{
	conn *k = b_connect();
	char ready = 'r';
	uint64_t got = 0;

	(void)idx;
	b_subscribe(k);
	if (write(wfd, &ready, 1) != 1)
		_exit(1);
	/* The publisher sends its count last: a message "done". */
	for (;;) {
		uint64_t seq = b_next(k);
		if (seq == END_SEQ)
			break;
		got++;
	}
	if (write(wfd, &got, sizeof(got)) != (ssize_t)sizeof(got))
		_exit(1);
}

/* The paced publisher: batches of 10 at @rate for @seconds, then the end
 * marker; reports how many it sent. */
static void publisher(long idx, int wfd)
{
	conn *k = b_connect();
	char *buf = malloc(msg_size);
	uint64_t start = now_ns(), sent = 0;
	double per_batch_ns = 10 / rate * 1e9;
	char ready = 'r';

	(void)idx;
	memset(buf, 'm', msg_size);
	if (write(wfd, &ready, 1) != 1)
		_exit(1);
	while (now_ns() - start < (uint64_t)(seconds * 1e9)) {
		b_publish(k, buf, sent, 10);
		sent += 10;
		uint64_t due =
		    start + (uint64_t)((double)(sent / 10) * per_batch_ns);
		uint64_t t = now_ns();
		if (due > t) {
			struct timespec ts = { 0, (long)(due - t) };
			nanosleep(&ts, NULL);
		}
	}
	b_publish(k, buf, END_SEQ, 1);
	if (write(wfd, &sent, sizeof(sent)) != (ssize_t)sizeof(sent))
		_exit(1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int run_bystander(bool with_stalled)
{
	pid_t pp, rp, sp = 0;
	int pfd, rfd, sfd = -1;
	char ready;
	conn *k = b_connect();
	size_t cap = 1 << 20, n = 0;
	uint64_t *lat = malloc(cap * sizeof(*lat)), sent = 0, got = 0;

	(void)on_term;
	(void)reader_stop;
	rp = spawn(reader, 0, &rfd);
	read_all(rfd, &ready, 1);
	if (with_stalled) {
		sp = spawn(stalled, 0, &sfd);
		read_all(sfd, &ready, 1);
	}
	pp = spawn(publisher, 0, &pfd);
	read_all(pfd, &ready, 1);
	uint64_t start = now_ns();
	while (now_ns() - start < (uint64_t)(seconds * 1e9) && n < cap) {
		uint64_t t = now_ns();
		b_ping(k);
		lat[n++] = now_ns() - t;
	}
	read_all(pfd, &sent, sizeof(sent));
	read_all(rfd, &got, sizeof(got));
	waitpid(pp, NULL, 0);
	waitpid(rp, NULL, 0);
	if (sp > 0) {
		kill(sp, SIGKILL);
		waitpid(sp, NULL, 0);
	}
	qsort(lat, n, sizeof(*lat), cmp_u64);
	printf("{\"system\": \"%s\", \"test\": \"bystander\", "
	       "\"stalled\": %s, \"seconds\": %.1f, \"rate\": %.0f, "
	       "\"size\": %zu, \"sent\": %" PRIu64 ", \"reader_got\": %" PRIu64
	       ", \"pings\": %zu, \"p50_us\": %.1f, \"p99_us\": %.1f, "
	       "\"max_us\": %.1f}\n",
	       SYSTEM, with_stalled ? "true" : "false", seconds, rate, msg_size,
	       sent, got, n, (double)lat[n / 2] / 1e3,
	       (double)lat[n * 99 / 100] / 1e3, (double)lat[n - 1] / 1e3);
	free(lat);
	b_close(k);
	return got == sent ? 0 : 1;
}

int main(int argc, char **argv)
{
	int nsubs = 1;
	bool with_stalled = false, size_set = false;

	if (argc < 3)
		die("usage: pubsub-bench throughput|bystander ADDR [options]");
	addr = argv[2];
	nmessages = 100000;
	for (int i = 3; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--stalled") == 0) {
			with_stalled = true;
			continue;
		}
		if (v == NULL)
			die("an option needs a value");
		i++;
		if (strcmp(a, "--subs") == 0)
			nsubs = atoi(v);
		else if (strcmp(a, "--messages") == 0)
			nmessages = strtoull(v, NULL, 10);
		else if (strcmp(a, "--size") == 0)
			msg_size = strtoul(v, NULL, 10), size_set = true;
		else if (strcmp(a, "--seconds") == 0)
			seconds = atof(v);
		else if (strcmp(a, "--rate") == 0)
			rate = atof(v);
		else
			die("unknown option");
	}
	signal(SIGPIPE, SIG_IGN);
	if (strcmp(argv[1], "throughput") == 0) {
		if (msg_size < 12)
			die("--size: at least 12");
		return run_throughput(nsubs);
	}
	if (strcmp(argv[1], "bystander") == 0) {
		if (!size_set)
			msg_size = 1024;
		if (msg_size < 12)
			die("--size: at least 12");
		return run_bystander(with_stalled);
	}
	die("throughput or bystander");
	return 2;
}
