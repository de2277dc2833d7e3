/*
 * expiry-bench - what reclaiming a million expired dict keys does to a
 * client that is not involved (tests/bench/expiry-cost runs it).
 *
 *   expiry-bench [--n N] [--spread S] [--op ping|dict.get] [--wait S]
 *                [--poll-info]
 *
 * It connects with agora_client_connect_env() (AGORA_ADDRESS,
 * AGORA_AUTHKEY_FILE). A dict gets N int->int entries with a TTL of an
 * hour (dict.set with its ttl param, 256 in flight through a pipeline);
 * then every key gets the same absolute deadline T (dict.expire_at, the
 * same way), or deadlines spread evenly over S seconds from T with
 * --spread, T a few seconds after the last call. A bystander process with
 * its own connection does one --op at a time (ping, or dict.get of a key
 * of another dict) as fast as it can from before T until the sweep has
 * reclaimed every key (the server's memory for objects, from stats, is
 * back to what it was before the keys; the parent asks every 20 ms: not
 * info or len, whose count of the expired keys not yet reclaimed is work
 * in their number; with --poll-info it asks the dict's info, to see what
 * a client calling len meanwhile costs the bystander), keeping each round
 * trip's start and length.
 *
 * Round trips that start in [T - 1 s, T) are "idle", those from T until
 * the last key is reclaimed are "reclaim"; each set's count, p50, p99,
 * p99.9 and max are a table row on stderr and a JSON line on stdout, with
 * the time the reclaim took. Benchmarks measure, tests assert: no figure
 * is checked against a goal here.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agora.h"
#include "bench.h"

#define PIPE_DEPTH 256
#define MAX_SAMPLES (8u << 20)

struct sample {
	double start; /* wall-clock seconds */
	double rtt;   /* seconds */
};

/* Shared with the bystander (an anonymous shared map). */
struct shared {
	volatile int stop;
	volatile size_t n;
	char err[256];
	struct sample s[];
};

static pid_t bystander_pid;
static bool poll_info; /* --poll-info */

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die(const char *fmt, ...)
{
	va_list ap;

	if (bystander_pid > 0)
		kill(bystander_pid, SIGKILL);
	va_start(ap, fmt);
	fprintf(stderr, "expiry-bench: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s: %s", what, agora_strerror(rc), agora_errmsg(c));
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static agora_client *connect_env(void)
{
	agora_client *c = agora_client_new();

	if (c == NULL)
		die("out of memory");
	check(c, agora_client_connect_env(c), "connect");
	return c;
}

static void bystander(struct shared *sh, const char *op)
{
	agora_client *c = agora_client_new();
	agora_dict *d = NULL;
	agora_value v;
	int rc;

	if (c == NULL || agora_client_connect_env(c) < 0) {
		snprintf(sh->err, sizeof(sh->err), "bystander cannot connect");
		_exit(1);
	}
	if (strcmp(op, "dict.get") == 0 &&
	    agora_dict_open(c, "expiry-bench-other", &d) < 0) {
		snprintf(sh->err, sizeof(sh->err), "bystander: open: %s",
			 agora_errmsg(c));
		_exit(1);
	}
	while (!sh->stop && sh->n < MAX_SAMPLES) {
		double t0 = wall();
		if (d != NULL) {
			rc = agora_dict_get(d, agora_int(1), &v);
			if (rc == 0)
				agora_value_free(&v);
		} else {
			rc = agora_ping(c);
		}
		double t1 = wall();
		if (rc < 0) {
			snprintf(sh->err, sizeof(sh->err), "bystander: %s: %s",
				 op, agora_errmsg(c));
			_exit(1);
		}
		sh->s[sh->n].start = t0;
		sh->s[sh->n].rtt = t1 - t0;
		__atomic_store_n(&sh->n, sh->n + 1, __ATOMIC_RELEASE);
	}
	agora_client_free(c);
	_exit(0);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *set, const char *op, long n, double spread,
		   double *rtt, size_t k, double reclaim_s)
{
	if (k == 0) {
		fprintf(stderr, "%-8s %-8s no round trips\n", set, op);
		return;
	}
	qsort(rtt, k, sizeof(*rtt), cmp_double);
	double p50 = rtt[k / 2] * 1e3, p99 = rtt[k * 99 / 100] * 1e3,
	       p999 = rtt[k * 999 / 1000] * 1e3, max = rtt[k - 1] * 1e3;
	fprintf(stderr,
		"%-8s %-8s %8zu round trips  p50 %7.3f  p99 %7.3f  "
		"p99.9 %7.3f  max %7.3f ms\n",
		set, op, k, p50, p99, p999, max);
	printf("{\"bench\":\"expiry\",\"poll\":\"%s\",\"set\":\"%s\",\"op\":\"%"
	       "s\",\"n\":%ld,"
	       "\"spread_s\":%.3f,\"round_trips\":%zu,\"p50_ms\":%.4f,"
	       "\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f,"
	       "\"reclaim_s\":%.4f}\n",
	       poll_info ? "info" : "stats", set, op, n, spread, k, p50, p99,
	       p999, max, reclaim_s);
	fflush(stdout);
}

/* Send @n calls of @method [h, i, @a(i)...] through a pipeline. */
static void fill(agora_client *c, uint32_t h, long n, const char *method,
		 double deadline, double spread)
{
	agora_pipeline *p = agora_pipeline_new(c);
	long sent = 0, got = 0;

	if (p == NULL)
		die("out of memory");
	while (got < n) {
		while (sent < n && sent - got < PIPE_DEPTH) {
			agora_value a[4] = { agora_int(h), agora_int(sent),
					     agora_int(sent),
					     agora_float(3600) };
			size_t na = 4;
			if (deadline > 0) {
				a[2] = agora_float(deadline + spread *
								  (double)sent /
								  (double)n);
				na = 3;
			}
			check(
			    c,
			    agora_pipeline_call(p, method, agora_array(a, na)),
			    method);
			sent++;
		}
		check(c, agora_pipeline_result(p, NULL), method);
		got++;
	}
	agora_pipeline_free(p);
}

/* @field of the map @v (an int), or -1. */
static int64_t map_int(agora_value v, const char *field)
{
	int64_t x = -1;

	for (size_t i = 0; i < v.via.map.len; i++)
		if (v.via.map.items[i].key.type == AGORA_STR &&
		    strlen(field) == v.via.map.items[i].key.via.str.len &&
		    memcmp(v.via.map.items[i].key.via.str.ptr, field,
			   strlen(field)) == 0)
			x = v.via.map.items[i].val.via.i;
	return x;
}

static int64_t info_int(agora_client *c, uint32_t h, const char *field)
{
	agora_value v;
	int64_t x;

	check(c, agora_info(c, h, &v), "info");
	x = map_int(v, field);
	agora_value_free(&v);
	return x;
}

/* The server's memory for objects (stats), which asks no object its
 * length: info and ls would count the expired keys not yet reclaimed. */
static int64_t memory(agora_client *c)
{
	agora_value v;
	int64_t x;

	check(c, agora_stats(c, &v), "stats");
	x = map_int(v, "memory");
	agora_value_free(&v);
	return x;
}

int main(int argc, char **argv)
{
	long n = 1000000;
	double spread = 0, wait_s = 3;
	const char *op = "ping";
	static const struct option opts[] = {
		{ "n", required_argument, NULL, 'n' },
		{ "spread", required_argument, NULL, 's' },
		{ "op", required_argument, NULL, 'o' },
		{ "wait", required_argument, NULL, 'w' },
		{ "poll-info", no_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (ch) {
		case 'n':
			n = atol(optarg);
			break;
		case 's':
			spread = atof(optarg);
			break;
		case 'o':
			op = optarg;
			break;
		case 'w':
			wait_s = atof(optarg);
			break;
		case 'i':
			poll_info = true;
			break;
		default:
			fprintf(stderr,
				"usage: expiry-bench [--n N] [--spread S] "
				"[--op ping|dict.get] [--wait S] "
				"[--poll-info]\n");
			return 2;
		}
	}
	if (n <= 0 || spread < 0 || wait_s < 1.5 ||
	    (strcmp(op, "ping") != 0 && strcmp(op, "dict.get") != 0))
		die("bad arguments");

	agora_client *c = connect_env();
	agora_dict *d, *other;
	check(c, agora_dict_open(c, "expiry-bench", &d), "open");
	check(c, agora_dict_clear(d), "clear");
	check(c, agora_dict_open(c, "expiry-bench-other", &other), "open");
	check(c, agora_dict_set(other, agora_int(1), agora_int(1)), "set");
	uint32_t h = agora_dict_handle(d);
	int64_t mem0 = memory(c);

	double t0 = wall();
	fill(c, h, n, "dict.set", 0, 0);
	double t1 = wall();
	double deadline = wall() + (t1 - t0) * 3 + wait_s;
	fill(c, h, n, "dict.expire_at", deadline, spread);
	double t2 = wall();
	fprintf(stderr,
		"%ld keys set with a TTL in %.2f s, deadlines given in %.2f s; "
		"they expire %.2f s from now%s\n",
		n, t1 - t0, t2 - t1, deadline - t2,
		spread > 0 ? ", spread" : " at once");
	if (deadline - t2 < 1.2)
		die("the deadlines came too late: raise --wait");

	struct shared *sh =
	    mmap(NULL, sizeof(*sh) + MAX_SAMPLES * sizeof(struct sample),
		 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		die("mmap: %s", strerror(errno));
	fflush(NULL);
	bystander_pid = fork();
	if (bystander_pid < 0)
		die("fork: %s", strerror(errno));
	if (bystander_pid == 0)
		bystander(sh, op);

	/* Until the deadline, then until the sweep is done. */
	while (wall() < deadline)
		usleep(20000);
	double done = 0;
	while (wall() < deadline + spread + 120) {
		/* The sweep gives the dict's arrays back with its last key. */
		if (poll_info ? info_int(c, h, "ttl_keys") == 0
			      : memory(c) <= mem0 + 65536) {
			done = wall();
			break;
		}
		usleep(20000);
	}
	sh->stop = 1;
	waitpid(bystander_pid, NULL, 0);
	bystander_pid = 0;
	if (sh->err[0] != '\0')
		die("%s", sh->err);
	if (done == 0)
		die("the keys were not reclaimed within 120 s");
	size_t len;
	check(c, agora_dict_len(d, &len), "len");
	if (len != 0)
		die("len is %zu after the reclaim", len);
	int64_t expired = info_int(c, h, "expired");

	double *idle = malloc(sh->n * sizeof(double) + 1);
	double *busy = malloc(sh->n * sizeof(double) + 1);
	size_t ni = 0, nb = 0;
	if (idle == NULL || busy == NULL)
		die("out of memory");
	for (size_t i = 0; i < sh->n; i++) {
		double s = sh->s[i].start;
		if (s >= deadline - 1 && s < deadline)
			idle[ni++] = sh->s[i].rtt;
		else if (s >= deadline && s <= done)
			busy[nb++] = sh->s[i].rtt;
	}
	fprintf(stderr, "reclaimed %lld keys in %.3f s after the deadline\n",
		(long long)expired, done - deadline);
	/* Where the reclaim's slowest round trips fell. */
	for (size_t i = 0; i < sh->n; i++) {
		double s = sh->s[i].start;
		if (s >= deadline && s <= done && sh->s[i].rtt > 0.005)
			fprintf(
			    stderr, "round trip of %.3f ms at %.3f s of %.3f\n",
			    sh->s[i].rtt * 1e3, s - deadline, done - deadline);
	}
	report("idle", op, n, spread, idle, ni, done - deadline);
	report("reclaim", op, n, spread, busy, nb, done - deadline);
	free(idle);
	free(busy);
	agora_dict_close(other);
	agora_dict_close(d);
	agora_client_free(c);
	return 0;
}
