/*
 * bench.h - what the benchmark programs share: a cell runner that forks
 * client processes, starts them together and merges what they measured,
 * a latency histogram, CPU pinning, and the two output forms (a table row
 * for people, one JSON line per result for scripts).
 *
 * agora-bench (libagora), floor (a raw socket ping-pong) and redis-bench
 * (hiredis, built by tests/bench/compare) all use it, so their figures
 * are taken the same way: N client processes, each doing one unit at a
 * time for a fixed duration, where a unit is one op (depth 1) or a batch
 * of @depth pipelined ops. Latency is sampled per unit: per op at depth 1,
 * per batch of @depth ops when pipelined.
 *
 * Library-free: only libc, so the script can build redis-bench with cc.
 */
#ifndef AGORA_BENCH_H
#define AGORA_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One cell of a benchmark: what is run, by how many processes, how deep. */
typedef struct bench_cell {
	const char *system;    /* "agora", "redis", "floor" */
	const char *op;        /* "ping", "dict.get", ... */
	const char *transport; /* "unix" or "tcp" */
	const char *pin;       /* "none", "same" or "diff": a label */
	int clients;
	int depth;
	double duration; /* seconds each client runs */
	int cpu_client;  /* pin every client to this CPU; -1: no pinning */
} bench_cell;

/*
 * What a client process does. setup() runs in the child after fork and
 * returns its state (NULL on failure, with a sentence in @err); unit()
 * does one op or one batch and returns how many ops it did (> 0), or a
 * negative number on failure (with a sentence in @err); teardown() frees
 * the state. @index is the client's number, 0..clients-1.
 */
typedef struct bench_worker {
	void *(*setup)(const bench_cell *cell, int index, void *ud, char *err,
		       size_t errlen);
	int (*unit)(void *state, uint64_t seq, char *err, size_t errlen);
	void (*teardown)(void *state);
	void *ud;
} bench_worker;

typedef struct bench_result {
	uint64_t ops;
	double ops_per_s; /* the sum of every client's rate */
	double p50_us;    /* per unit (see above) */
	double p99_us;
	char err[256]; /* why the cell failed, "" when it did not */
} bench_result;

/*
 * Run @cell with @w: fork the clients, wait until every one is set up,
 * release them at once, collect their counts and histograms. Returns 0, or
 * -1 with the first failure's sentence in ret->err. Blocks for about
 * cell->duration plus the setup time.
 */
int bench_run(const bench_cell *cell, const bench_worker *w, bench_result *ret);

/* Pin the calling process to @cpu (-1: do nothing). 0 or -1 with errno. */
int bench_pin(int cpu);

/* The JSON line: {"system":..., "op":..., "clients":..., "depth":...,
 * "transport":..., "pin":..., "ops_per_s":..., "p50_us":..., "p99_us":...}
 */
void bench_print_json(FILE *f, const bench_cell *cell, const bench_result *r);
/* The table for people: a header once, then one row per cell. */
void bench_print_header(FILE *f);
void bench_print_row(FILE *f, const bench_cell *cell, const bench_result *r);

/* Monotonic time in nanoseconds. */
uint64_t bench_now_ns(void);

/* Split the comma-separated @list into at most @max ints in @out; returns
 * how many, or -1 for a bad list. */
int bench_parse_ints(const char *list, int *out, int max);
/* Is @name one of the comma-separated words in @list ("all" matches all)? */
bool bench_list_has(const char *list, const char *name);

#endif
