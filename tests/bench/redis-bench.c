/*
 * redis-bench - the agora-bench ops on Redis, through hiredis, measured by
 * the same cell runner (bench.h), for tests/bench/compare. Not part of the
 * meson build: Redis is a bench-only dependency, so the script builds this
 * with cc against libhiredis-dev.
 *
 *   redis-bench SOCKET [--ops LIST] [--clients LIST] [--depth LIST]
 *               [--duration S] [--cpu-client N] [--pin LABEL] [--quiet]
 *   redis-bench SOCKET --memory N
 *
 * --system LABEL names the server in the JSON lines (default "redis"), so
 * one run can tell apart servers set up differently (tests/bench/persist-
 * cost: redis-aof-always, ...).
 *
 * The equivalent commands:
 *   ping            PING
 *   list.append     RPUSH bench:list i
 *   dict.set        HSET bench:hash k v   (k among 1024 keys)
 *   dict.get        HGET bench:hash k     (prefilled)
 *   value.add       INCR bench:value
 *   queue.put+get   RPUSH bench:queue i, then LPOP bench:queue
 *   lock.acq+rel    SET bench:lock:N 1 NX (retried until it takes), DEL
 *   lock.contended  the same on one key all clients share
 * Redis has no blocking lock: a client that finds the key taken retries at
 * once, which is what a Redis user without Lua or Redlock does.
 *
 * --memory N: N ints 0..N-1 RPUSHed to a list, and N int->int fields HSET
 * into a hash, 1000 per command, reported as bytes per element of the
 * growth of INFO's used_memory and of the server's RSS.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, accept4 */
#endif
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bench.h"

#define MAX_LIST 16
#define DICT_KEYS 1024
#define MEM_BATCH 1000

static const char *const all_ops[] = {
	"ping",      "list.append",   "dict.set",     "dict.get",
	"value.add", "queue.put+get", "lock.acq+rel", "lock.contended",
};
#define NOPS (sizeof(all_ops) / sizeof(all_ops[0]))

struct client {
	redisContext *r;
	int op;
	int depth;
	char lockkey[32];
};

static redisContext *connect_or_fail(const char *sock, char *err, size_t errlen)
{
	redisContext *r = redisConnectUnix(sock);

	if (r == NULL || r->err) {
		snprintf(err, errlen, "connect %s: %s", sock,
			 r ? r->errstr : "out of memory");
		redisFree(r);
		return NULL;
	}
	return r;
}

static void *client_setup(const bench_cell *cell, int index, void *ud,
			  char *err, size_t errlen)
{
	struct client *cl = calloc(1, sizeof(*cl));

	if (cl == NULL)
		return NULL;
	for (size_t i = 0; i < NOPS; i++)
		if (strcmp(all_ops[i], cell->op) == 0)
			cl->op = (int)i;
	cl->depth = cell->depth;
	if (cl->op == 6)
		snprintf(cl->lockkey, sizeof(cl->lockkey), "bench:lock:%d",
			 index);
	else
		snprintf(cl->lockkey, sizeof(cl->lockkey), "bench:lock");
	cl->r = connect_or_fail(ud, err, errlen);
	if (cl->r == NULL) {
		free(cl);
		return NULL;
	}
	return cl;
}

/* Append one op's commands; returns how many replies to read. */
static int append_op(struct client *cl, uint64_t seq)
{
	long long i = (long long)seq;

	switch (cl->op) {
	case 0:
		redisAppendCommand(cl->r, "PING");
		return 1;
	case 1:
		redisAppendCommand(cl->r, "RPUSH bench:list %lld", i);
		return 1;
	case 2:
		redisAppendCommand(cl->r, "HSET bench:hash %lld %lld",
				   i % DICT_KEYS, i);
		return 1;
	case 3:
		redisAppendCommand(cl->r, "HGET bench:hash %lld",
				   i % DICT_KEYS);
		return 1;
	case 4:
		redisAppendCommand(cl->r, "INCR bench:value");
		return 1;
	case 5:
		redisAppendCommand(cl->r, "RPUSH bench:queue %lld", i);
		redisAppendCommand(cl->r, "LPOP bench:queue");
		return 2;
	}
	return 0;
}

/* Read @n replies; -1 on a transport or command error. */
static int read_replies(struct client *cl, int n, char *err, size_t errlen)
{
	for (int k = 0; k < n; k++) {
		redisReply *rep;

		if (redisGetReply(cl->r, (void **)&rep) != REDIS_OK) {
			snprintf(err, errlen, "%s", cl->r->errstr);
			return -1;
		}
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s", rep->str);
			freeReplyObject(rep);
			return -1;
		}
		freeReplyObject(rep);
	}
	return 0;
}

static int lock_unit(struct client *cl, char *err, size_t errlen)
{
	for (;;) {
		redisReply *rep =
		    redisCommand(cl->r, "SET %s 1 NX", cl->lockkey);
		bool taken;

		if (rep == NULL) {
			snprintf(err, errlen, "%s", cl->r->errstr);
			return -1;
		}
		taken = rep->type == REDIS_REPLY_STATUS;
		freeReplyObject(rep);
		if (taken)
			break;
	}
	redisAppendCommand(cl->r, "DEL %s", cl->lockkey);
	return read_replies(cl, 1, err, errlen);
}

static int client_unit(void *state, uint64_t seq, char *err, size_t errlen)
{
	struct client *cl = state;
	int n = 0;

	if (cl->op >= 6)
		return lock_unit(cl, err, errlen) < 0 ? -1 : 1;
	if (cl->op == 5 && cl->depth == 1) {
		/* Unpipelined, put and get are two round trips, as on Agora
		 * (queue.put, then queue.get) and Python (q.put, q.get). */
		redisAppendCommand(cl->r, "RPUSH bench:queue %lld",
				   (long long)seq);
		if (read_replies(cl, 1, err, errlen) < 0)
			return -1;
		redisAppendCommand(cl->r, "LPOP bench:queue");
		return read_replies(cl, 1, err, errlen) < 0 ? -1 : 1;
	}
	for (int k = 0; k < cl->depth; k++)
		n += append_op(cl, seq * (uint64_t)cl->depth + (uint64_t)k);
	if (read_replies(cl, n, err, errlen) < 0)
		return -1;
	return cl->depth;
}

static void client_teardown(void *state)
{
	struct client *cl = state;

	redisFree(cl->r);
	free(cl);
}

/* ---- memory -------------------------------------------------------------- */

static long long info_field(redisContext *r, const char *section,
			    const char *field)
{
	redisReply *rep = redisCommand(r, "INFO %s", section);
	long long v = -1;
	const char *p;

	if (rep == NULL || rep->type != REDIS_REPLY_STRING) {
		fprintf(stderr, "redis-bench: INFO failed\n");
		exit(1);
	}
	p = strstr(rep->str, field);
	if (p != NULL)
		v = strtoll(p + strlen(field) + 1, NULL, 10);
	freeReplyObject(rep);
	return v;
}

static long long rss_of(long long pid)
{
	char path[64], line[256];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/status", pid);
	f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb * 1024;
}

static void report(const char *what, long n, long long rss0, long long rss1,
		   long long self0, long long self1)
{
	double rss = rss0 >= 0 && rss1 >= 0 ? (double)(rss1 - rss0) / n : -1;
	double self = (double)(self1 - self0) / n;

	fprintf(stderr,
		"redis   %-14s n=%ld  RSS %.1f B/elem  used_memory "
		"%.1f B/elem\n",
		what, n, rss, self);
	printf("{\"system\":\"redis\",\"mem\":\"%s\",\"n\":%ld,"
	       "\"rss_bytes_per_elem\":%.2f,\"self_bytes_per_elem\":%.2f}\n",
	       what, n, rss, self);
	fflush(stdout);
}

/* One command of @argc words from @words (numbers written into @bufs). */
static void run_argv(redisContext *r, int argc, const char **argv,
		     const size_t *lens)
{
	redisReply *rep = redisCommandArgv(r, argc, argv, lens);

	if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "redis-bench: %s failed: %s\n", argv[0],
			rep ? rep->str : r->errstr);
		exit(1);
	}
	freeReplyObject(rep);
}

static int measure_memory(const char *sock, long n)
{
	char err[256];
	redisContext *r = connect_or_fail(sock, err, sizeof(err));
	const char **argv = calloc(2 + 2 * MEM_BATCH, sizeof(*argv));
	size_t *lens = calloc(2 + 2 * MEM_BATCH, sizeof(*lens));
	char(*nums)[24] = calloc(2 * MEM_BATCH, sizeof(*nums));
	long long pid, rss0, rss1, self0, self1;

	if (r == NULL || argv == NULL || lens == NULL || nums == NULL) {
		fprintf(stderr, "redis-bench: %s\n", err);
		return 1;
	}
	freeReplyObject(redisCommand(r, "DEL bench:mem:list bench:mem:hash"));
	pid = info_field(r, "server", "process_id");
	rss0 = rss_of(pid);
	self0 = info_field(r, "memory", "used_memory");
	argv[0] = "RPUSH";
	argv[1] = "bench:mem:list";
	for (long i = 0; i < n; i += MEM_BATCH) {
		int k = n - i < MEM_BATCH ? (int)(n - i) : MEM_BATCH;

		for (int j = 0; j < k; j++) {
			int len =
			    snprintf(nums[j], sizeof(nums[j]), "%ld", i + j);
			argv[2 + j] = nums[j];
			lens[2 + j] = (size_t)len;
		}
		lens[0] = 5;
		lens[1] = strlen(argv[1]);
		run_argv(r, 2 + k, argv, lens);
	}
	rss1 = rss_of(pid);
	self1 = info_field(r, "memory", "used_memory");
	report("list.int", n, rss0, rss1, self0, self1);

	rss0 = rss1;
	self0 = self1;
	argv[0] = "HSET";
	argv[1] = "bench:mem:hash";
	for (long i = 0; i < n; i += MEM_BATCH) {
		int k = n - i < MEM_BATCH ? (int)(n - i) : MEM_BATCH;

		for (int j = 0; j < k; j++) {
			int len =
			    snprintf(nums[j], sizeof(nums[j]), "%ld", i + j);
			argv[2 + 2 * j] = nums[j];
			lens[2 + 2 * j] = (size_t)len;
			argv[3 + 2 * j] = nums[j];
			lens[3 + 2 * j] = (size_t)len;
		}
		lens[0] = 4;
		lens[1] = strlen(argv[1]);
		run_argv(r, 2 + 2 * k, argv, lens);
	}
	rss1 = rss_of(pid);
	self1 = info_field(r, "memory", "used_memory");
	report("dict.int_int", n, rss0, rss1, self0, self1);
	freeReplyObject(redisCommand(r, "DEL bench:mem:list bench:mem:hash"));
	redisFree(r);
	free(argv);
	free(lens);
	free(nums);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ops", required_argument, NULL, 'o' },
		{ "clients", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "duration", required_argument, NULL, 'D' },
		{ "cpu-client", required_argument, NULL, 'C' },
		{ "pin", required_argument, NULL, 'p' },
		{ "memory", required_argument, NULL, 'm' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "system", required_argument, NULL, 's' },
		{ NULL, 0, NULL, 0 },
	};
	const char *ops = "all", *pin = "none", *sock, *system = "redis";
	int clients[MAX_LIST] = { 1, 8, 32 }, nclients = 3;
	int depths[MAX_LIST] = { 1 }, ndepths = 1;
	int cpu_client = -1, o, failures = 0;
	double duration = 1.0;
	long memory = 0;
	bool quiet = false;
	char err[256];
	redisContext *admin;

	if (argc < 2 || argv[1][0] == '-') {
		fprintf(stderr, "usage: redis-bench SOCKET [options]\n");
		return 2;
	}
	sock = argv[1];
	optind = 2;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'o':
			ops = optarg;
			break;
		case 'c':
			nclients = bench_parse_ints(optarg, clients, MAX_LIST);
			break;
		case 'd':
			ndepths = bench_parse_ints(optarg, depths, MAX_LIST);
			break;
		case 'D':
			duration = strtod(optarg, NULL);
			break;
		case 'C':
			cpu_client = atoi(optarg);
			break;
		case 'p':
			pin = optarg;
			break;
		case 'm':
			memory = atol(optarg);
			break;
		case 'q':
			quiet = true;
			break;
		case 's':
			system = optarg;
			break;
		default:
			return 2;
		}
	}
	if (nclients < 0 || ndepths < 0 || !(duration > 0)) {
		fprintf(stderr, "redis-bench: bad --clients, --depth or "
				"--duration\n");
		return 2;
	}
	if (memory > 0)
		return measure_memory(sock, memory);

	admin = connect_or_fail(sock, err, sizeof(err));
	if (admin == NULL) {
		fprintf(stderr, "redis-bench: %s\n", err);
		return 1;
	}
	freeReplyObject(redisCommand(admin, "DEL bench:hash bench:list "
					    "bench:queue bench:value"));
	/* Only the dict ops need it (and with appendfsync always, each of
	 * these costs an fsync). */
	if (bench_list_has(ops, "dict.get") || bench_list_has(ops, "dict.set"))
		for (int k = 0; k < DICT_KEYS; k++)
			freeReplyObject(
			    redisCommand(admin, "HSET bench:hash %d %d", k, k));
	if (!quiet)
		bench_print_header(stderr);
	for (int di = 0; di < ndepths; di++) {
		for (size_t oi = 0; oi < NOPS; oi++) {
			if (!bench_list_has(ops, all_ops[oi]))
				continue;
			for (int ci = 0; ci < nclients; ci++) {
				bench_cell cell = {
					.system = system,
					.op = all_ops[oi],
					.transport = "unix",
					.pin = pin,
					.clients = clients[ci],
					.depth = depths[di],
					.duration = duration,
					.cpu_client = cpu_client,
				};
				bench_worker w = { client_setup, client_unit,
						   client_teardown,
						   (void *)sock };
				bench_result r;

				if (oi == 7 && clients[ci] < 2)
					continue;
				if (oi >= 6 && depths[di] > 1)
					continue;
				if (bench_run(&cell, &w, &r) < 0) {
					fprintf(stderr,
						"redis-bench: %s %d clients: "
						"%s\n",
						cell.op, cell.clients, r.err);
					failures++;
					continue;
				}
				if (!quiet)
					bench_print_row(stderr, &cell, &r);
				bench_print_json(stdout, &cell, &r);
				if (oi == 1)
					freeReplyObject(redisCommand(
					    admin, "DEL bench:list"));
			}
		}
	}
	redisFree(admin);
	return failures > 0 ? 1 : 0;
}
