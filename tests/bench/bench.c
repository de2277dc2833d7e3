/*
 * bench.c - the cell runner of bench.h.
 *
 * The parent maps one shared slot per client (MAP_SHARED | MAP_ANONYMOUS),
 * forks the clients, and waits for one byte from each on the ready pipe.
 * Closing the go pipe releases them all at the same moment (each is
 * blocked reading it). Each client runs units until its own deadline, then
 * writes its op count, its elapsed time and its latency histogram into its
 * slot and exits; the parent reaps them and merges the slots.
 *
 * The histogram is log-linear: exact below 64 ns, then 32 buckets per
 * power of two (about 3% wide), up to 2^40 ns.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_setaffinity, accept4 */
#endif
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

#define SUB_BITS 5
#define SUB (1 << SUB_BITS)
#define MAX_EXP 40
#define NBUCKETS (64 + (MAX_EXP - 6 + 1) * SUB)
/* How long a client may take to connect and set up. */
#define SETUP_TIMEOUT_MS 60000

struct slot {
	int failed;
	uint64_t ops;
	uint64_t elapsed_ns;
	char err[256];
	uint32_t hist[NBUCKETS];
};

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int bucket_of(uint64_t ns)
{
	int e;

	if (ns < 64)
		return (int)ns;
	e = 63 - __builtin_clzll(ns);
	if (e > MAX_EXP)
		return NBUCKETS - 1;
	return 64 + (e - 6) * SUB + (int)((ns >> (e - SUB_BITS)) & (SUB - 1));
}

/* The middle of bucket @b, in ns. */
static double bucket_mid(int b)
{
	int e, sub;
	double lo, width;

	if (b < 64)
		return b;
	e = (b - 64) / SUB + 6;
	sub = (b - 64) % SUB;
	width = (double)(1ull << (e - SUB_BITS));
	lo = (double)(1ull << e) + sub * width;
	return lo + width / 2;
}

int bench_pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return 0;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set);
}

static void client_main(const bench_cell *cell, const bench_worker *w,
			int index, struct slot *slot, int ready_fd, int go_fd)
{
	char err[256] = "", c;
	void *st;
	uint64_t start, now, end, seq = 0, ops = 0;

	if (bench_pin(cell->cpu_client) < 0) {
		snprintf(slot->err, sizeof(slot->err),
			 "cannot pin to CPU %d: %s", cell->cpu_client,
			 strerror(errno));
		slot->failed = 1;
		(void)!write(ready_fd, "E", 1);
		_exit(1);
	}
	st = w->setup(cell, index, w->ud, err, sizeof(err));
	if (st == NULL) {
		snprintf(slot->err, sizeof(slot->err), "client %d: %s", index,
			 err);
		slot->failed = 1;
		(void)!write(ready_fd, "E", 1);
		_exit(1);
	}
	(void)!write(ready_fd, "R", 1);
	while (read(go_fd, &c, 1) < 0 && errno == EINTR)
		;
	start = bench_now_ns();
	end = start + (uint64_t)(cell->duration * 1e9);
	now = start;
	do {
		uint64_t t0 = now;
		int n = w->unit(st, seq++, err, sizeof(err));

		now = bench_now_ns();
		if (n < 0) {
			snprintf(slot->err, sizeof(slot->err), "client %d: %s",
				 index, err);
			slot->failed = 1;
			break;
		}
		ops += (uint64_t)n;
		slot->hist[bucket_of(now - t0)]++;
	} while (now < end);
	slot->ops = ops;
	slot->elapsed_ns = now - start;
	w->teardown(st);
	_exit(slot->failed ? 1 : 0);
}

/* The @q quantile (0..1) of the merged histogram @h holding @n samples. */
static double quantile_us(const uint64_t *h, uint64_t n, double q)
{
	uint64_t want = (uint64_t)(q * (double)n), seen = 0;

	for (int b = 0; b < NBUCKETS; b++) {
		seen += h[b];
		if (seen > want)
			return bucket_mid(b) / 1000.0;
	}
	return 0;
}

int bench_run(const bench_cell *cell, const bench_worker *w, bench_result *ret)
{
	int n = cell->clients, ready[2], go[2], got = 0, rc = 0;
	size_t size = sizeof(struct slot) * (size_t)n;
	struct slot *slots;
	pid_t *pids;
	uint64_t *hist, samples = 0;

	memset(ret, 0, sizeof(*ret));
	slots = mmap(NULL, size, PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	pids = calloc((size_t)n, sizeof(*pids));
	hist = calloc(NBUCKETS, sizeof(*hist));
	if (slots == MAP_FAILED || pids == NULL || hist == NULL ||
	    pipe(ready) < 0 || pipe(go) < 0) {
		snprintf(ret->err, sizeof(ret->err), "out of resources: %s",
			 strerror(errno));
		exit(1);
	}
	fflush(NULL);
	for (int i = 0; i < n; i++) {
		pids[i] = fork();
		if (pids[i] < 0) {
			snprintf(ret->err, sizeof(ret->err), "fork: %s",
				 strerror(errno));
			n = i;
			rc = -1;
			break;
		}
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			free(
			    hist); /* the parent's; this client never returns */
			free(pids);
			client_main(cell, w, i, &slots[i], ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	while (got < n) {
		struct pollfd p = { ready[0], POLLIN, 0 };
		char buf[64];
		ssize_t k;

		if (poll(&p, 1, SETUP_TIMEOUT_MS) <= 0) {
			snprintf(ret->err, sizeof(ret->err),
				 "the clients did not get ready in time");
			rc = -1;
			break;
		}
		k = read(ready[0], buf, sizeof(buf));
		if (k <= 0)
			break;
		if (memchr(buf, 'E', (size_t)k) != NULL)
			rc = -1;
		got += (int)k;
	}
	if (rc < 0)
		for (int i = 0; i < n; i++)
			kill(pids[i], SIGTERM);
	close(go[1]); /* the start signal */
	for (int i = 0; i < n; i++) {
		int status;

		while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR)
			;
	}
	close(ready[0]);
	for (int i = 0; i < n; i++) {
		if (slots[i].failed) {
			if (ret->err[0] == '\0')
				memcpy(ret->err, slots[i].err,
				       sizeof(ret->err));
			rc = -1;
			continue;
		}
		if (slots[i].elapsed_ns > 0)
			ret->ops_per_s += (double)slots[i].ops * 1e9 /
					  (double)slots[i].elapsed_ns;
		ret->ops += slots[i].ops;
		for (int b = 0; b < NBUCKETS; b++) {
			hist[b] += slots[i].hist[b];
			samples += slots[i].hist[b];
		}
	}
	if (rc == 0 && samples == 0) {
		snprintf(ret->err, sizeof(ret->err), "no sample");
		rc = -1;
	}
	if (rc == 0) {
		ret->p50_us = quantile_us(hist, samples, 0.50);
		ret->p99_us = quantile_us(hist, samples, 0.99);
	} else if (ret->err[0] == '\0') {
		snprintf(ret->err, sizeof(ret->err), "a client failed");
	}
	munmap(slots, size);
	free(pids);
	free(hist);
	return rc;
}

void bench_print_json(FILE *f, const bench_cell *cell, const bench_result *r)
{
	fprintf(f,
		"{\"system\":\"%s\",\"op\":\"%s\",\"clients\":%d,"
		"\"depth\":%d,\"transport\":\"%s\",\"pin\":\"%s\","
		"\"ops_per_s\":%.0f,\"p50_us\":%.2f,\"p99_us\":%.2f}\n",
		cell->system, cell->op, cell->clients, cell->depth,
		cell->transport, cell->pin, r->ops_per_s, r->p50_us, r->p99_us);
	fflush(f);
}

void bench_print_header(FILE *f)
{
	fprintf(f, "%-7s %-16s %7s %5s %-9s %-4s %12s %9s %9s\n", "system",
		"op", "clients", "depth", "transport", "pin", "ops/s", "p50 us",
		"p99 us");
	fflush(f);
}

void bench_print_row(FILE *f, const bench_cell *cell, const bench_result *r)
{
	fprintf(f, "%-7s %-16s %7d %5d %-9s %-4s %12.0f %9.2f %9.2f\n",
		cell->system, cell->op, cell->clients, cell->depth,
		cell->transport, cell->pin, r->ops_per_s, r->p50_us, r->p99_us);
	fflush(f);
}

int bench_parse_ints(const char *list, int *out, int max)
{
	int n = 0;
	const char *p = list;

	while (*p != '\0') {
		char *end;
		long v = strtol(p, &end, 10);

		if (end == p || v < 1 || v > 100000 || n == max)
			return -1;
		out[n++] = (int)v;
		p = end;
		if (*p == ',')
			p++;
		else if (*p != '\0')
			return -1;
	}
	return n > 0 ? n : -1;
}

bool bench_list_has(const char *list, const char *name)
{
	size_t len = strlen(name);
	const char *p = list;

	if (strcmp(list, "all") == 0)
		return true;
	while ((p = strstr(p, name)) != NULL) {
		bool start = p == list || p[-1] == ',';
		bool stop = p[len] == '\0' || p[len] == ',';

		if (start && stop)
			return true;
		p += len;
	}
	return false;
}
