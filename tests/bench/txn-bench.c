/*
 * txn-bench.c - what a transaction costs: Agora's `txn` (docs/protocol.md
 * section 12) of N calls against the same N calls pipelined, and Redis's
 * MULTI/EXEC against its own pipeline, with the same driver: built by
 * meson against libagora (txn-bench), and by tests/bench/txn-compare with
 * -DTXN_REDIS against hiredis (redis-txn-bench). Only the backend differs;
 * the cells run on the cell runner of bench.h (forked client processes,
 * released together, one unit at a time for a fixed duration).
 *
 * Usage:
 *   txn-bench ADDR [--modes LIST] [--calls LIST] [--clients LIST]
 *                  [--call add|set|lset] [--dict-size K] [--duration S]
 *                  [--cpu-client N] [--quiet]
 * ADDR: for Agora, "-" for AGORA_ADDRESS, else an address (unix:PATH,
 * tcp:HOST:PORT), the key from AGORA_AUTHKEY_FILE either way; for Redis,
 * a Unix socket's path or tcp:HOST:PORT.
 *
 * One unit is one transaction of N calls (--calls), each call on its own
 * object (--call add) or on one dict (--call set):
 *
 *   call   Agora                         Redis
 *   add    value.add h_i 1 on values     INCRBY txn:v:i 1
 *          txn.v.0 .. txn.v.(N-1)
 *   set    dict.set h i seq on dict      HSET txn:hash i seq on one hash
 *          txn.dict (K entries, --dict-  of K fields
 *          size, default 1024)
 *   lset   list.set h i seq on list      LSET txn:list i seq on one list
 *          txn.list (K items)            of K items
 *
 * and the modes (--modes, default every mode of the system):
 *
 *   Agora   txn       one request: txn [[], [N calls], []]
 *           pipe      the N calls pipelined (agora_pipeline), one batch
 *           guarded   txn with one condition, ["eq", "value.get",
 *                     [txn.guard], 0], that always holds
 *   Redis   multi     MULTI, the N commands, EXEC: pipelined, one round
 *                     trip (what a client library sends)
 *           pipe      the N commands pipelined, one batch
 *           watch     WATCH txn:guard + GET txn:guard (one round trip,
 *                     the value checked), then MULTI .. EXEC (a second):
 *                     optimistic check-and-set as Redis documents it
 *           lua       EVALSHA of a script that checks txn:guard and runs
 *                     the N commands: one round trip
 *
 * Every unit checks its answer (the transaction succeeded, N results);
 * at the end, with --call add, every counter must hold what the run's
 * units added to it (else the exit status is 1). --cpu-client N pins
 * every client process to CPU N (the script pins the server:
 * tests/bench/txn-compare).
 *
 * One JSON line per cell on stdout: transactions/s (the sum of every
 * client's rate), calls/s (N times that), the p50/p99 of one
 * transaction's round trip(s) and how many transactions the cell made
 * ("txns"); a table on stderr unless --quiet. Exits non-zero when a cell
 * failed.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

#ifdef TXN_REDIS
#include <hiredis/hiredis.h>
#define SYSTEM "redis"
static const char *const all_modes = "multi,pipe,watch,lua";
#else
#include "agora.h"
#define SYSTEM "agora"
static const char *const all_modes = "txn,pipe,guarded";
#endif

#define MAX_CALLS 64
#define MAX_LIST 16

enum call { CALL_ADD, CALL_SET, CALL_LSET };

static const char *addr;
static enum call call_kind = CALL_ADD;
static long dict_size = 1024;
static const char *const call_names[] = { "add", "set", "lset" };
/* What the run's transactions added to counter i (--call add): checked
 * against the server at the end, so a call that took effect twice or not
 * at all fails the run. */
static uint64_t added[MAX_CALLS];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "txn-bench (%s): ", SYSTEM);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* ---- backends ------------------------------------------------------------ */

#ifdef TXN_REDIS

/* The guarded script: KEYS[1] the guard; then, for add, the N counters
 * (KEYS[2..]); for set, the hash (KEYS[2]) and ARGV = value, fields. */
static const char *const lua_add =
    "if redis.call('GET', KEYS[1]) ~= '0' then return 0 end "
    "for i = 2, #KEYS do redis.call('INCRBY', KEYS[i], 1) end return 1";
static const char *const lua_set =
    "if redis.call('GET', KEYS[1]) ~= '0' then return 0 end "
    "for i = 2, #ARGV do redis.call('HSET', KEYS[2], ARGV[i], ARGV[1]) "
    "end return 1";
static const char *const lua_lset =
    "if redis.call('GET', KEYS[1]) ~= '0' then return 0 end "
    "for i = 2, #ARGV do redis.call('LSET', KEYS[2], ARGV[i], ARGV[1]) "
    "end return 1";

struct client {
	redisContext *r;
	const char *mode;
	int n;
	char sha[48];
};

static redisContext *connect_redis(void)
{
	redisContext *r;

	if (strncmp(addr, "tcp:", 4) == 0) {
		char host[128];
		const char *colon = strrchr(addr + 4, ':');
		size_t len;

		if (colon == NULL ||
		    (len = (size_t)(colon - (addr + 4))) >= sizeof(host))
			die("bad address %s: tcp:HOST:PORT", addr);
		memcpy(host, addr + 4, len);
		host[len] = '\0';
		r = redisConnect(host, atoi(colon + 1));
	} else {
		r = redisConnectUnix(addr);
	}
	if (r == NULL || r->err)
		die("cannot connect to redis at %s: %s", addr,
		    r != NULL ? r->errstr : "out of memory");
	return r;
}

static redisReply *command(redisContext *r, const char *what, redisReply *rep)
{
	if (rep == NULL || rep->type == REDIS_REPLY_ERROR)
		die("%s: %s", what, rep != NULL ? rep->str : r->errstr);
	return rep;
}

/* The objects every cell uses: the guard "0", a hash of dict_size fields,
 * counters at 0. */
static void prepare(void)
{
	redisContext *r = connect_redis();

	freeReplyObject(command(r, "FLUSHALL", redisCommand(r, "FLUSHALL")));
	freeReplyObject(command(r, "SET", redisCommand(r, "SET txn:guard 0")));
	for (long k = 0; call_kind == CALL_SET && k < dict_size; k += 1000) {
		long end = k + 1000 < dict_size ? k + 1000 : dict_size;
		for (long i = k; i < end; i++)
			redisAppendCommand(r, "HSET txn:hash %ld %ld", i, i);
		for (long i = k; i < end; i++) {
			redisReply *rep;
			if (redisGetReply(r, (void **)&rep) != REDIS_OK)
				die("HSET: %s", r->errstr);
			freeReplyObject(command(r, "HSET", rep));
		}
	}
	for (long k = 0; call_kind == CALL_LSET && k < dict_size; k += 1000) {
		long end = k + 1000 < dict_size ? k + 1000 : dict_size;
		for (long i = k; i < end; i++)
			redisAppendCommand(r, "RPUSH txn:list %ld", i);
		for (long i = k; i < end; i++) {
			redisReply *rep;
			if (redisGetReply(r, (void **)&rep) != REDIS_OK)
				die("RPUSH: %s", r->errstr);
			freeReplyObject(command(r, "RPUSH", rep));
		}
	}
	redisFree(r);
}

static void *client_setup(const bench_cell *cell, int index, void *ud,
			  char *err, size_t errlen)
{
	struct client *cl = calloc(1, sizeof(*cl));
	redisReply *rep;

	(void)index;
	(void)ud;
	(void)err;
	(void)errlen;
	cl->r = connect_redis();
	cl->mode = cell->op;
	cl->n = cell->depth;
	if (strcmp(cl->mode, "lua") == 0) {
		rep = command(cl->r, "SCRIPT LOAD",
			      redisCommand(cl->r, "SCRIPT LOAD %s",
					   call_kind == CALL_ADD   ? lua_add
					   : call_kind == CALL_SET ? lua_set
								   : lua_lset));
		snprintf(cl->sha, sizeof(cl->sha), "%s", rep->str);
		freeReplyObject(rep);
	}
	return cl;
}

static void append_calls(struct client *cl, uint64_t seq)
{
	for (int i = 0; i < cl->n; i++) {
		if (call_kind == CALL_ADD)
			redisAppendCommand(cl->r, "INCRBY txn:v:%d 1", i);
		else if (call_kind == CALL_SET)
			redisAppendCommand(cl->r, "HSET txn:hash %d %" PRIu64,
					   i, seq);
		else
			redisAppendCommand(cl->r, "LSET txn:list %d %" PRIu64,
					   i, seq);
	}
}

/* Read @n replies; the last one into *ret_last (when not NULL). */
static int read_replies(struct client *cl, int n, redisReply **ret_last,
			char *err, size_t errlen)
{
	for (int i = 0; i < n; i++) {
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
		if (i == n - 1 && ret_last != NULL)
			*ret_last = rep;
		else
			freeReplyObject(rep);
	}
	return 0;
}

static int exec_done(struct client *cl, redisReply *rep, char *err,
		     size_t errlen)
{
	bool ok =
	    rep->type == REDIS_REPLY_ARRAY && rep->elements == (size_t)cl->n;

	if (!ok)
		snprintf(err, errlen, "EXEC answered %s",
			 rep->type == REDIS_REPLY_NIL ? "nil (aborted)"
						      : "not N replies");
	freeReplyObject(rep);
	return ok ? 1 : -1;
}

static int client_unit(void *state, uint64_t seq, char *err, size_t errlen)
{
	struct client *cl = state;
	redisReply *rep = NULL;

	if (strcmp(cl->mode, "pipe") == 0) {
		append_calls(cl, seq);
		return read_replies(cl, cl->n, NULL, err, errlen) < 0 ? -1 : 1;
	}
	if (strcmp(cl->mode, "multi") == 0) {
		redisAppendCommand(cl->r, "MULTI");
		append_calls(cl, seq);
		redisAppendCommand(cl->r, "EXEC");
		if (read_replies(cl, cl->n + 2, &rep, err, errlen) < 0)
			return -1;
		return exec_done(cl, rep, err, errlen);
	}
	if (strcmp(cl->mode, "watch") == 0) {
		redisAppendCommand(cl->r, "WATCH txn:guard");
		redisAppendCommand(cl->r, "GET txn:guard");
		if (read_replies(cl, 2, &rep, err, errlen) < 0)
			return -1;
		bool holds = rep->type == REDIS_REPLY_STRING &&
			     strcmp(rep->str, "0") == 0;
		freeReplyObject(rep);
		if (!holds) {
			snprintf(err, errlen, "the guard is not 0");
			return -1;
		}
		redisAppendCommand(cl->r, "MULTI");
		append_calls(cl, seq);
		redisAppendCommand(cl->r, "EXEC");
		if (read_replies(cl, cl->n + 2, &rep, err, errlen) < 0)
			return -1;
		return exec_done(cl, rep, err, errlen);
	}
	/* lua: EVALSHA sha numkeys keys... args... */
	{
		const char *argv[MAX_CALLS + 8];
		char keys[MAX_CALLS][24], fields[MAX_CALLS][24], nk[16],
		    val[24];
		int argc = 0;

		argv[argc++] = "EVALSHA";
		argv[argc++] = cl->sha;
		if (call_kind == CALL_ADD) {
			snprintf(nk, sizeof(nk), "%d", cl->n + 1);
			argv[argc++] = nk;
			argv[argc++] = "txn:guard";
			for (int i = 0; i < cl->n; i++) {
				snprintf(keys[i], sizeof(keys[i]), "txn:v:%d",
					 i);
				argv[argc++] = keys[i];
			}
		} else {
			argv[argc++] = "2";
			argv[argc++] = "txn:guard";
			argv[argc++] =
			    call_kind == CALL_SET ? "txn:hash" : "txn:list";
			snprintf(val, sizeof(val), "%" PRIu64, seq);
			argv[argc++] = val;
			for (int i = 0; i < cl->n; i++) {
				snprintf(fields[i], sizeof(fields[i]), "%d", i);
				argv[argc++] = fields[i];
			}
		}
		redisAppendCommandArgv(cl->r, argc, argv, NULL);
		if (read_replies(cl, 1, &rep, err, errlen) < 0)
			return -1;
		bool ok = rep->type == REDIS_REPLY_INTEGER && rep->integer == 1;
		freeReplyObject(rep);
		if (!ok) {
			snprintf(err, errlen,
				 "the script did not run the "
				 "commands");
			return -1;
		}
		return 1;
	}
}

static void client_teardown(void *state)
{
	struct client *cl = state;

	redisFree(cl->r);
	free(cl);
}

/* 0 when every counter holds what the run added; else 1, said on stderr. */
static int finish(void)
{
	redisContext *r = connect_redis();
	int bad = 0;

	for (int i = 0; i < MAX_CALLS && call_kind == CALL_ADD; i++) {
		redisReply *rep =
		    command(r, "GET", redisCommand(r, "GET txn:v:%d", i));
		uint64_t got = rep->type == REDIS_REPLY_STRING
				   ? strtoull(rep->str, NULL, 10)
				   : 0;
		freeReplyObject(rep);
		if (got != added[i]) {
			fprintf(stderr,
				"txn-bench (redis): txn:v:%d holds %" PRIu64
				", the run added %" PRIu64 "\n",
				i, got, added[i]);
			bad = 1;
		}
	}
	redisFree(r);
	return bad;
}

#else

/* The values txn.v.0 .. txn.v.(MAX_CALLS-1), the dict and the guard,
 * opened by the parent and held for the whole run. */
static agora_client *parent;
static agora_var *counters[MAX_CALLS], *guard;
static agora_dict *dict;
static agora_list *list;

static agora_client *connect_agora(char *err, size_t errlen)
{
	agora_client *c = agora_client_new();
	int rc;

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	rc = agora_client_connect_env(c);
	if (rc < 0) {
		snprintf(err, errlen, "cannot connect: %s: %s",
			 agora_strerror(rc), agora_errmsg(c));
		agora_client_free(c);
		return NULL;
	}
	return c;
}

static void check(agora_client *c, int rc, const char *what)
{
	if (rc < 0)
		die("%s: %s: %s", what, agora_strerror(rc), agora_errmsg(c));
}

struct client {
	agora_client *c;
	agora_pipeline *p;
	agora_var *vars[MAX_CALLS + 1];
	agora_dict *dict;
	agora_list *list;
	const char *mode;
	int n;
	const char *method;
	/* calls[i] = [method, params[i]]; params[i] = [handle, arg, arg] */
	agora_value params[MAX_CALLS][3];
	agora_value pair[MAX_CALLS][2];
	agora_value calls[MAX_CALLS];
	agora_value cond_read[1], cond[4], conds[1], txn[3];
};

static void client_teardown(void *state)
{
	struct client *cl = state;

	agora_pipeline_free(cl->p);
	for (int i = 0; i <= MAX_CALLS; i++)
		agora_var_close(cl->vars[i]);
	agora_dict_close(cl->dict);
	agora_list_close(cl->list);
	agora_client_free(cl->c);
	free(cl);
}

static void *client_setup(const bench_cell *cell, int index, void *ud,
			  char *err, size_t errlen)
{
	struct client *cl = calloc(1, sizeof(*cl));
	char name[32];
	int rc;

	(void)index;
	(void)ud;
	if (cl == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	cl->mode = cell->op;
	cl->n = cell->depth;
	if ((cl->c = connect_agora(err, errlen)) == NULL)
		goto fail;
	if ((cl->p = agora_pipeline_new(cl->c)) == NULL)
		goto fail;
	/* Handles are the connection's own: open the objects here. */
	if (call_kind == CALL_ADD) {
		cl->method = "value.add";
		for (int i = 0; i < cl->n; i++) {
			snprintf(name, sizeof(name), "txn.v.%d", i);
			rc = agora_var_open(cl->c, name, agora_int(0),
					    &cl->vars[i]);
			if (rc < 0)
				goto fail_rc;
			cl->params[i][0] =
			    agora_uint(agora_var_handle(cl->vars[i]));
			cl->params[i][1] = agora_int(1);
			cl->calls[i] = agora_array(cl->params[i], 2);
		}
	} else {
		uint32_t h;
		if (call_kind == CALL_SET) {
			cl->method = "dict.set";
			rc = agora_dict_open(cl->c, "txn.dict", &cl->dict);
			h = rc == 0 ? agora_dict_handle(cl->dict) : 0;
		} else {
			cl->method = "list.set";
			rc = agora_list_open(cl->c, "txn.list", &cl->list);
			h = rc == 0 ? agora_list_handle(cl->list) : 0;
		}
		if (rc < 0)
			goto fail_rc;
		for (int i = 0; i < cl->n; i++) {
			cl->params[i][0] = agora_uint(h);
			cl->params[i][1] = agora_int(i);
			cl->params[i][2] = agora_int(0);
			cl->calls[i] = agora_array(cl->params[i], 3);
		}
	}
	for (int i = 0; i < cl->n; i++) {
		cl->pair[i][0] = agora_str(cl->method);
		cl->pair[i][1] = cl->calls[i];
	}
	if (strcmp(cl->mode, "guarded") == 0) {
		rc = agora_var_open(cl->c, "txn.guard", agora_int(0),
				    &cl->vars[MAX_CALLS]);
		if (rc < 0)
			goto fail_rc;
		cl->cond_read[0] =
		    agora_uint(agora_var_handle(cl->vars[MAX_CALLS]));
		cl->cond[0] = agora_str("eq");
		cl->cond[1] = agora_str("value.get");
		cl->cond[2] = agora_array(cl->cond_read, 1);
		cl->cond[3] = agora_int(0);
		cl->conds[0] = agora_array(cl->cond, 4);
	}
	return cl;
fail_rc:
	snprintf(err, errlen, "setup: %s: %s", agora_strerror(rc),
		 agora_errmsg(cl->c));
fail:
	if (err[0] == '\0')
		snprintf(err, errlen, "out of memory");
	client_teardown(cl);
	return NULL;
}

/* The value of @key in the map @m, or NULL. */
static const agora_value *map_get(const agora_value *m, const char *key)
{
	if (m->type != AGORA_MAP)
		return NULL;
	for (size_t i = 0; i < m->via.map.len; i++) {
		const agora_value *k = &m->via.map.items[i].key;
		if (k->type == AGORA_STR && k->via.str.len == strlen(key) &&
		    memcmp(k->via.str.ptr, key, k->via.str.len) == 0)
			return &m->via.map.items[i].val;
	}
	return NULL;
}

static int client_unit(void *state, uint64_t seq, char *err, size_t errlen)
{
	struct client *cl = state;
	agora_value res, pairs[MAX_CALLS];
	int rc;

	if (call_kind != CALL_ADD)
		for (int i = 0; i < cl->n; i++)
			cl->params[i][2] = agora_int((int64_t)seq);
	if (strcmp(cl->mode, "pipe") == 0) {
		for (int i = 0; i < cl->n; i++) {
			rc = agora_pipeline_call(cl->p, cl->method,
						 cl->calls[i]);
			if (rc < 0)
				goto fail;
		}
		for (int i = 0; i < cl->n; i++) {
			rc = agora_pipeline_result(cl->p, NULL);
			if (rc < 0)
				goto fail;
		}
		return 1;
	}
	/* txn [conditions, then, else] */
	for (int i = 0; i < cl->n; i++)
		pairs[i] = agora_array(cl->pair[i], 2);
	cl->txn[0] =
	    agora_array(cl->conds, strcmp(cl->mode, "guarded") == 0 ? 1 : 0);
	cl->txn[1] = agora_array(pairs, (size_t)cl->n);
	cl->txn[2] = agora_array(cl->conds, 0);
	rc = agora_call(cl->c, "txn", agora_array(cl->txn, 3), &res);
	if (rc < 0)
		goto fail;
	const agora_value *ok = map_get(&res, "succeeded");
	const agora_value *results = map_get(&res, "results");
	bool good = ok != NULL && ok->type == AGORA_BOOL && ok->via.b &&
		    results != NULL && results->type == AGORA_ARRAY &&
		    results->via.array.len == (size_t)cl->n;
	agora_value_free(&res);
	if (!good) {
		snprintf(err, errlen, "txn did not succeed with %d results",
			 cl->n);
		return -1;
	}
	return 1;
fail:
	snprintf(err, errlen, "%s: %s", agora_strerror(rc),
		 agora_errmsg(cl->c));
	return -1;
}

/* The objects every cell uses, held by the parent for the whole run: the
 * values at 0, the guard at 0, the dict of dict_size entries. */
static void prepare(void)
{
	char err[256] = "", name[32];
	agora_pair *items = calloc(1000, sizeof(*items));

	parent = connect_agora(err, sizeof(err));
	if (parent == NULL || items == NULL)
		die("%s", err[0] != '\0' ? err : "out of memory");
	for (int i = 0; i < MAX_CALLS; i++) {
		snprintf(name, sizeof(name), "txn.v.%d", i);
		check(parent,
		      agora_var_open(parent, name, agora_int(0), &counters[i]),
		      "open a value");
		check(parent, agora_var_set(counters[i], agora_int(0)),
		      "value.set");
	}
	check(parent, agora_var_open(parent, "txn.guard", agora_int(0), &guard),
	      "open txn.guard");
	check(parent, agora_var_set(guard, agora_int(0)), "value.set");
	check(parent, agora_dict_open(parent, "txn.dict", &dict),
	      "open txn.dict");
	check(parent, agora_dict_clear(dict), "dict.clear");
	for (long k = 0; call_kind == CALL_SET && k < dict_size; k += 1000) {
		size_t n = 0;
		for (long i = k; i < k + 1000 && i < dict_size; i++, n++) {
			items[n].key = agora_int(i);
			items[n].val = agora_int(i);
		}
		check(parent, agora_dict_update(dict, agora_map(items, n)),
		      "dict.update");
	}
	check(parent, agora_list_open(parent, "txn.list", &list),
	      "open txn.list");
	check(parent, agora_list_clear(list), "list.clear");
	for (long k = 0; call_kind == CALL_LSET && k < dict_size; k += 1000) {
		agora_value *vals = (agora_value *)items;
		size_t n = 0;
		for (long i = k; i < k + 1000 && i < dict_size; i++, n++)
			vals[n] = agora_int(i);
		check(parent, agora_list_extend(list, vals, n), "list.extend");
	}
	free(items);
}

/* 0 when every counter holds what the run added; else 1, said on stderr. */
static int finish(void)
{
	int bad = 0;

	for (int i = 0; i < MAX_CALLS && call_kind == CALL_ADD; i++) {
		int64_t got;
		check(parent, agora_var_get_int(counters[i], &got),
		      "value.get");
		if ((uint64_t)got != added[i]) {
			fprintf(stderr,
				"txn-bench (agora): txn.v.%d holds %" PRId64
				", the run added %" PRIu64 "\n",
				i, got, added[i]);
			bad = 1;
		}
	}
	for (int i = 0; i < MAX_CALLS; i++)
		agora_var_close(counters[i]);
	agora_var_close(guard);
	agora_dict_close(dict);
	agora_list_close(list);
	agora_client_free(parent);
	return bad;
}

#endif

/* ---- the run ------------------------------------------------------------- */

static const char *transport_of(const char *a)
{
	const char *env = getenv("AGORA_ADDRESS");

	if (strcmp(a, "-") == 0 && env != NULL)
		a = env;
	return strncmp(a, "tcp:", 4) == 0 ? "tcp" : "unix";
}

int main(int argc, char **argv)
{
	const char *modes = all_modes, *calls_list = "1,4,16",
		   *clients_list = "1";
	double duration = 1;
	int cpu_client = -1;
	bool quiet = false;
	int calls[MAX_LIST], clients[MAX_LIST], ncalls, nclients, failed = 0;
	bench_worker w = { client_setup, client_unit, client_teardown, NULL };

	if (argc < 2 || argv[1][0] == '\0')
		die("usage: txn-bench ADDR [--modes LIST] [--calls LIST] "
		    "[--clients LIST] [--call add|set|lset] [--dict-size K] "
		    "[--duration S] [--cpu-client N] [--quiet]");
	addr = argv[1];
	for (int i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (strcmp(a, "--quiet") == 0) {
			quiet = true;
			continue;
		}
		if (v == NULL)
			die("%s needs a value", a);
		i++;
		if (strcmp(a, "--modes") == 0)
			modes = v;
		else if (strcmp(a, "--calls") == 0)
			calls_list = v;
		else if (strcmp(a, "--clients") == 0)
			clients_list = v;
		else if (strcmp(a, "--duration") == 0)
			duration = atof(v);
		else if (strcmp(a, "--cpu-client") == 0)
			cpu_client = atoi(v);
		else if (strcmp(a, "--dict-size") == 0)
			dict_size = atol(v);
		else if (strcmp(a, "--call") == 0) {
			if (strcmp(v, "add") == 0)
				call_kind = CALL_ADD;
			else if (strcmp(v, "set") == 0)
				call_kind = CALL_SET;
			else if (strcmp(v, "lset") == 0)
				call_kind = CALL_LSET;
			else
				die("--call %s: add, set or lset", v);
		} else
			die("unknown option %s", a);
	}
#ifndef TXN_REDIS
	if (strcmp(addr, "-") != 0)
		setenv("AGORA_ADDRESS", addr, 1);
#endif
	ncalls = bench_parse_ints(calls_list, calls, MAX_LIST);
	if (ncalls < 0)
		die("--calls %s: a list of numbers", calls_list);
	for (int i = 0; i < ncalls; i++)
		if (calls[i] > MAX_CALLS)
			die("--calls %d: at most %d", calls[i], MAX_CALLS);
	nclients = bench_parse_ints(clients_list, clients, MAX_LIST);
	if (nclients < 0)
		die("--clients %s: a list of numbers", clients_list);
	if (!(duration > 0 && duration <= 3600))
		die("--duration: more than 0, at most 3600 seconds");
	if (dict_size < 16 || dict_size > 100000000)
		die("--dict-size %ld: 16 to 100000000", dict_size);
	/* every mode asked for must be one of this system's */
	{
		char buf[256], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", modes);
		for (char *m = strtok_r(buf, ",", &save); m != NULL;
		     m = strtok_r(NULL, ",", &save))
			if (!bench_list_has(all_modes, m))
				die("--modes: %s is not one of %s", m,
				    all_modes);
	}
	signal(SIGPIPE, SIG_IGN);
	prepare();
	if (!quiet)
		fprintf(stderr,
			"%-6s %-8s %-4s %5s %7s %-5s %12s %12s %9s %9s\n",
			"system", "mode", "call", "calls", "clients", "via",
			"txn/s", "calls/s", "p50 us", "p99 us");
	for (int ci = 0; ci < nclients; ci++) {
		for (int ni = 0; ni < ncalls; ni++) {
			char buf[256], *save = NULL;
			snprintf(buf, sizeof(buf), "%s", all_modes);
			for (char *m = strtok_r(buf, ",", &save); m != NULL;
			     m = strtok_r(NULL, ",", &save)) {
				if (!bench_list_has(modes, m))
					continue;
				bench_cell cell = {
					.system = SYSTEM,
					.op = m,
					.transport = transport_of(addr),
					.pin =
					    cpu_client < 0 ? "none" : "client",
					.clients = clients[ci],
					.depth = calls[ni],
					.duration = duration,
					.cpu_client = cpu_client,
				};
				bench_result r;
				if (bench_run(&cell, &w, &r) < 0) {
					fprintf(stderr,
						"txn-bench (%s): %s, %d "
						"calls, %d clients: %s\n",
						SYSTEM, m, calls[ni],
						clients[ci], r.err);
					failed = 1;
					continue;
				}
				printf(
				    "{\"system\":\"%s\",\"mode\":\"%s\","
				    "\"call\":\"%s\",\"calls\":%d,"
				    "\"clients\":%d,\"transport\":\"%s\","
				    "\"cpu_client\":%d,"
				    "\"dict_size\":%ld,\"txn_per_s\":%.0f,"
				    "\"calls_per_s\":%.0f,\"p50_us\":%.2f,"
				    "\"p99_us\":%.2f,\"txns\":%" PRIu64 "}\n",
				    SYSTEM, m, call_names[call_kind], calls[ni],
				    clients[ci], cell.transport, cpu_client,
				    call_kind != CALL_ADD ? dict_size : 0,
				    r.ops_per_s, r.ops_per_s * calls[ni],
				    r.p50_us, r.p99_us, r.ops);
				fflush(stdout);
				for (int i = 0; i < calls[ni]; i++)
					added[i] += r.ops;
				if (!quiet)
					fprintf(stderr,
						"%-6s %-8s %-4s %5d %7d %-5s "
						"%12.0f %12.0f %9.2f %9.2f\n",
						SYSTEM, m,
						call_names[call_kind],
						calls[ni], clients[ci],
						cell.transport, r.ops_per_s,
						r.ops_per_s * calls[ni],
						r.p50_us, r.p99_us);
			}
		}
	}
	if (finish() != 0)
		failed = 1;
	return failed;
}
