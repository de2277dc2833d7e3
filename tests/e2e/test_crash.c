/*
 * test_crash.c - durability under crashes (docs/reliability.md): writer
 * processes change shared objects and note what the server acknowledged,
 * while agorad, started with --data-dir, is killed with SIGKILL at random
 * moments and started again on the same directory. After each restart
 * everything acknowledged must be there, with --fsync always and with
 * everysec (a crash of agorad alone: the kernel holds what was written
 * before each answer went).
 *
 * The writers (forked processes, WRITERS of them) each connect anew at the
 * start of a round and cycle through six changes: a dict set of a key of
 * their own, a list append of a value of their own, a queue put of a value
 * of their own, a queue get, an add of 1 to a value, and a fenced update:
 * acquire_fenced on a lock, read the dict entry "fence", store the token
 * there only when it is larger (a token not larger than what is stored
 * means tokens went back: a failure). Writer 0 also asks for a snapshot
 * now and then (`save`), so restarts load snapshots and the journals
 * after them, and some kills come while a snapshot is written. Each
 * change is a numbered entry of the writer's log, in memory shared with
 * the test: the entry's number is in the value it writes (WRITER_BASE *
 * (writer + 1) + number), so whatever is read back says which change made
 * it. A change is acknowledged (0
 * returned), indeterminate (the call failed because the server died:
 * AGORA_EIO, AGORA_ELOST or AGORA_ETIMEDOUT; the writer then stops for the
 * round), or "nothing" (a get of an empty queue, an acquire that timed
 * out). Any other failure is a failure of the test.
 *
 * A round: the test tells the writers to go (a byte on each one's pipe),
 * waits 50 to 300 ms (random: the crash moment), kills agorad, starts it
 * again, waits until every writer has noticed and stopped (a byte back
 * each), and checks with a client of its own, the writers stopped:
 *   - dict and list: every acknowledged set or append is there, exactly
 *     once; an indeterminate one at most once, and once seen (or not) it
 *     stays so in later rounds; nothing that was never written;
 *   - queue: no item comes back whose get was acknowledged; every item
 *     acknowledged put and not taken is there, but for as many as there
 *     were indeterminate gets; no item twice; each writer's items in the
 *     order it put them;
 *   - value: it grew by the acknowledged adds of the round, plus at most
 *     the indeterminate ones;
 *   - lock: free after the restart; the test's acquire gets a token larger
 *     than every token acknowledged before; the stored fence is at least
 *     every acknowledged store, and was stored by somebody.
 *
 * Rounds: AGORA_CRASH_ROUNDS (default 3) for each policy; the 'durability'
 * suite runs 20. AGORA_CRASH_SEED fixes the random moments (the seed is
 * printed). The figures (rounds, acknowledged changes, restart times) are
 * printed for docs/reliability.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define WRITERS 4
#define LOG_CAP ((size_t)1 << 18) /* entries per writer, over all rounds */
#define WRITER_BASE 1000000000LL
#define DEFAULT_ROUNDS 3
/* A writer's round ends when the server dies; this bounds it otherwise. */
#define ROUND_LIMIT 60.0
#define SAVE_EVERY 150

enum op_kind { OP_SET, OP_APPEND, OP_PUT, OP_GET, OP_ADD, OP_FENCE, OP_KINDS };
/* Writer 0 also asks for a snapshot (`save`, OP_SAVE) every SAVE_EVERY
 * turns, so that restarts load snapshots and journals after them, and
 * some kills come while a snapshot is written.
 * OP_FENCE is done as two entries: OP_TOKEN (the acquire) and OP_STORE
 * (the store of the token), or OP_TOKEN alone when the token is not larger
 * than the fence read. */
enum { OP_TOKEN = OP_KINDS, OP_STORE, OP_SAVE, OP_ALL };

enum op_state {
	ST_PENDING, /* never answered: the writer was cut off */
	ST_ACK,
	ST_INDET,
	ST_NOTHING, /* an empty get, an acquire that timed out */
	ST_WRONG,   /* a failure the writer reported */
};

typedef struct op {
	uint8_t kind, state;
	int64_t value; /* written; for a get, the item got; a token */
	int64_t aux;   /* OP_STORE: the fence it read */
} op;

typedef struct wlog {
	size_t n; /* entries used */
	unsigned wrong;
	op ops[LOG_CAP];
} wlog;

static const char *const kind_names[] = { "set",     "append", "put",
					  "get",     "add",    "fence",
					  "acquire", "store",  "save" };

/* ---- the writers ----------------------------------------------------------
 */

static bool indeterminate(int rc)
{
	return rc == AGORA_EIO || rc == AGORA_ELOST || rc == AGORA_ETIMEDOUT;
}

static op *next_op(wlog *lg, int kind, int w)
{
	op *o = &lg->ops[lg->n];

	o->kind = (uint8_t)kind;
	o->state = ST_PENDING;
	o->value = WRITER_BASE * (w + 1) + (int64_t)lg->n;
	o->aux = 0;
	lg->n++;
	return o;
}

/* Note the outcome @rc of @o; false when the round is over for the
 * writer. */
static bool settle(agora_client *c, wlog *lg, op *o, int rc, const char *what)
{
	if (rc == 0) {
		o->state = ST_ACK;
		return true;
	}
	if (indeterminate(rc)) {
		o->state = ST_INDET;
		return false;
	}
	o->state = ST_WRONG;
	lg->wrong++;
	fprintf(stderr, "crash writer %d: %s: %s: %s\n", (int)getpid(), what,
		agora_errname(rc), agora_errmsg(c));
	return false;
}

static bool fenced_update(agora_client *c, wlog *lg, int w, agora_lock *lk,
			  agora_dict *fd, int64_t *last_token)
{
	op *t = next_op(lg, OP_TOKEN, w);
	bool got = false;
	uint64_t token = 0;
	agora_value f = agora_nil();
	int64_t fence = 0;
	int rc = agora_lock_acquire_fenced(lk, 10.0, &got, &token);

	if (rc == 0 && !got) {
		t->state = ST_NOTHING;
		return true;
	}
	t->value = (int64_t)token;
	if (!settle(c, lg, t, rc, "acquire_fenced"))
		return false;
	if ((int64_t)token <= *last_token) {
		t->state = ST_WRONG;
		lg->wrong++;
		fprintf(stderr,
			"crash writer %d: token %llu after token %lld: tokens "
			"went back\n",
			(int)getpid(), (unsigned long long)token,
			(long long)*last_token);
		return false;
	}
	*last_token = (int64_t)token;
	rc = agora_dict_get_default(fd, agora_str("fence"), agora_int(0), &f);
	if (rc != 0) {
		if (!indeterminate(rc))
			settle(c, lg, t, rc, "get fence");
		return false;
	}
	rc = agora_value_to_int(f, &fence);
	agora_value_free(&f);
	if (rc != 0 || fence >= (int64_t)token) {
		t->state = ST_WRONG;
		lg->wrong++;
		fprintf(stderr,
			"crash writer %d: holding token %llu, the stored fence "
			"is %lld: tokens went back\n",
			(int)getpid(), (unsigned long long)token,
			(long long)fence);
		return false;
	}
	op *s = next_op(lg, OP_STORE, w);
	s->value = (int64_t)token;
	s->aux = fence;
	rc = agora_dict_set(fd, agora_str("fence"), agora_int((int64_t)token));
	if (!settle(c, lg, s, rc, "set fence"))
		return false;
	rc = agora_lock_release(lk);
	if (rc != 0) {
		if (!indeterminate(rc))
			settle(c, lg, s, rc, "release");
		return false;
	}
	return true;
}

/* One round: connect, change things until the server dies. */
static void writer_round(int w, wlog *lg, unsigned *turn, int64_t *last_token)
{
	agora_client *c = agora_client_new();
	agora_dict *d = NULL, *fd = NULL;
	agora_list *l = NULL;
	agora_queue *q = NULL;
	agora_var *v = NULL;
	agora_lock *lk = NULL;
	double deadline = agh_now() + ROUND_LIMIT;

	if (c == NULL || agora_client_connect_env(c) != 0)
		goto out;
	if (agora_dict_open(c, "crash.d", &d) != 0 ||
	    agora_list_open(c, "crash.l", &l) != 0 ||
	    agora_queue_open(c, "crash.q", 0, &q) != 0 ||
	    agora_var_open(c, "crash.v", agora_int(0), &v) != 0 ||
	    agora_lock_open(c, "crash.lock", &lk) != 0 ||
	    agora_dict_open(c, "crash.fence", &fd) != 0)
		goto out;
	while (agh_now() < deadline && lg->n + 2 < LOG_CAP) {
		int kind = (int)((*turn)++ % OP_KINDS);
		bool more;
		if (w == 0 && *turn % SAVE_EVERY == 0) {
			op *o = next_op(lg, OP_SAVE, w);
			if (!settle(c, lg, o, agora_save(c, NULL), "save"))
				break;
		}
		if (kind == OP_FENCE) {
			more = fenced_update(c, lg, w, lk, fd, last_token);
		} else {
			op *o = next_op(lg, kind, w);
			agora_value x = agora_int(o->value), got = agora_nil();
			int rc = 0;
			switch (kind) {
			case OP_SET:
				rc = agora_dict_set(d, x, x);
				break;
			case OP_APPEND:
				rc = agora_list_append(l, x);
				break;
			case OP_PUT:
				rc = agora_queue_put(q, x, 10.0);
				break;
			case OP_GET:
				rc = agora_queue_get_nowait(q, &got);
				if (rc == AGORA_EEMPTY) {
					o->state = ST_NOTHING;
					continue;
				}
				if (rc == 0 &&
				    agora_value_to_int(got, &o->value) != 0)
					o->value = -1; /* not ours: fails */
				agora_value_free(&got);
				break;
			case OP_ADD:
				rc = agora_var_add_int(v, 1, NULL);
				break;
			}
			more = settle(c, lg, o, rc, kind_names[kind]);
		}
		if (!more)
			break;
	}
out:
	/* The proxies of a dead connection are freed without a word. */
	agora_dict_close(d);
	agora_list_close(l);
	agora_queue_close(q);
	agora_var_close(v);
	agora_lock_close(lk);
	agora_dict_close(fd);
	agora_client_free(c);
}

/* A writer process: a round for each byte 'g' on @go, a byte back on
 * @done after each; exits at 'q' or end of file. */
static void writer_main(int w, int go, int done, wlog *lg)
{
	unsigned turn = (unsigned)w * 2;
	int64_t last_token = 0;
	char cmd;

	for (;;) {
		ssize_t n = read(go, &cmd, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n != 1 || cmd != 'g')
			break;
		writer_round(w, lg, &turn, &last_token);
		char b = (char)w;
		if (write(done, &b, 1) != 1)
			break;
	}
	_exit(lg->wrong == 0 ? 0 : 1);
}

/* ---- the test's side ------------------------------------------------------
 */

/* What the test knows, over all rounds of one policy. */
typedef struct model {
	wlog *logs;           /* WRITERS of them, shared */
	size_t done[WRITERS]; /* entries accounted for */
	/* Per entry: for set/append, MUST (be there) or NEVER (come back);
	 * for put, INQ (in the queue), GOT (taken by an acknowledged get),
	 * GONE (taken by an indeterminate get); SEEN: read back this check. */
	uint8_t *flags[WRITERS];
	int64_t counter;   /* the value at the last check */
	int64_t max_token; /* every token acknowledged or the test's */
	int64_t max_store; /* the largest acknowledged store of a token */
	int64_t *tokens;   /* acknowledged, to find one given twice */
	size_t ntokens;
	/* Figures. */
	uint64_t acked[OP_ALL], indet[OP_ALL];
	uint64_t indet_present, indet_absent;
	double restart_ms[64];
	size_t nrestarts;
	double restart_sum, restart_max;
} model;

enum {
	F_MUST = 1,
	F_NEVER = 2,
	F_INQ = 4,
	F_GOT = 8,
	F_GONE = 16,
	F_SEEN = 32,
};

/* The writer and entry a value names; false when it names none. */
static bool decode(const model *m, int64_t v, int *ret_w, size_t *ret_i)
{
	int64_t w = v / WRITER_BASE - 1, i = v % WRITER_BASE;

	if (v <= 0 || w < 0 || w >= WRITERS || (size_t)i >= m->logs[w].n)
		return false;
	*ret_w = (int)w;
	*ret_i = (size_t)i;
	return true;
}

static int64_t int_of(agora_value v)
{
	int64_t i = -1;

	ck_assert_msg(agora_value_to_int(v, &i) == 0, "an item is not an int");
	return i;
}

/* Mark what an array of written values (list items, dict keys or queue
 * items) holds as SEEN: each once, each written by an entry of @kind, in
 * each writer's order (a dict keeps the order its keys came in). */
static void see_items(model *m, const agora_value *items, size_t n, int kind,
		      const char *what)
{
	int64_t last[WRITERS];

	for (int w = 0; w < WRITERS; w++)
		last[w] = -1;
	for (size_t k = 0; k < n; k++) {
		int64_t v = int_of(items[k]);
		int w;
		size_t i;
		ck_assert_msg(decode(m, v, &w, &i) &&
				  m->logs[w].ops[i].kind == kind,
			      "%s holds %lld, which no %s wrote", what,
			      (long long)v, kind_names[kind]);
		const op *o = &m->logs[w].ops[i];
		ck_assert_msg(o->state == ST_ACK || o->state == ST_INDET,
			      "%s holds %lld, whose %s was not made (state %d)",
			      what, (long long)v, kind_names[kind], o->state);
		ck_assert_msg(!(m->flags[w][i] & F_SEEN), "%s holds %lld twice",
			      what, (long long)v);
		ck_assert_msg((int64_t)i > last[w],
			      "%s holds writer %d's %lld after its %lld", what,
			      w, (long long)v,
			      (long long)(WRITER_BASE * (w + 1) + last[w]));
		last[w] = (int64_t)i;
		m->flags[w][i] |= F_SEEN;
	}
}

/* Set and append entries: what is seen must be, what must be is seen;
 * then the indeterminate ones are settled, SEEN cleared. */
static void settle_seen(model *m, int kind, const char *what)
{
	for (int w = 0; w < WRITERS; w++)
		for (size_t i = 0; i < m->logs[w].n; i++) {
			const op *o = &m->logs[w].ops[i];
			uint8_t *f = &m->flags[w][i];
			bool seen = *f & F_SEEN;
			if (o->kind != kind)
				continue;
			*f &= (uint8_t)~F_SEEN;
			int64_t v = WRITER_BASE * (w + 1) + (int64_t)i;
			ck_assert_msg(!(*f & F_MUST) || seen,
				      "%s lost %lld, an acknowledged %s", what,
				      (long long)v, kind_names[kind]);
			ck_assert_msg(!(*f & F_NEVER) || !seen,
				      "%s holds %lld, an indeterminate %s not "
				      "there after an earlier restart",
				      what, (long long)v, kind_names[kind]);
			if (o->state == ST_ACK)
				*f |= F_MUST;
			else if (o->state == ST_INDET &&
				 !(*f & (F_MUST | F_NEVER))) {
				*f |= seen ? F_MUST : F_NEVER;
				if (seen)
					m->indet_present++;
				else
					m->indet_absent++;
			}
		}
}

/* Open @type @name without creating it: it must have survived. */
static void *must_open(agora_client *c, const char *type, const char *name)
{
	void *p = NULL;

	AGH_OK(c,
	       agora_open_ex(c, type, name, NULL, 0, AGORA_OPEN_NO_CREATE, &p));
	return p;
}

static void check_dict(model *m, agora_client *c)
{
	agora_dict *d = must_open(c, "dict", "crash.d");
	agora_value items;

	AGH_OK(c, agora_dict_items(d, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	agora_value *keys = calloc(items.via.array.len + 1, sizeof(*keys));
	ck_assert_ptr_nonnull(keys);
	for (size_t k = 0; k < items.via.array.len; k++) {
		agora_value kv = items.via.array.items[k];
		ck_assert(kv.type == AGORA_ARRAY && kv.via.array.len == 2);
		keys[k] = kv.via.array.items[0];
		ck_assert_msg(int_of(kv.via.array.items[0]) ==
				  int_of(kv.via.array.items[1]),
			      "dict key %lld holds %lld",
			      (long long)int_of(kv.via.array.items[0]),
			      (long long)int_of(kv.via.array.items[1]));
	}
	see_items(m, keys, items.via.array.len, OP_SET, "the dict");
	free(keys);
	agora_value_free(&items);
	settle_seen(m, OP_SET, "the dict");
	AGH_OK(c, agora_dict_close(d));
}

static void check_list(model *m, agora_client *c)
{
	agora_list *l = must_open(c, "list", "crash.l");
	agora_value items;

	AGH_OK(c, agora_list_copy(l, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	see_items(m, items.via.array.items, items.via.array.len, OP_APPEND,
		  "the list");
	agora_value_free(&items);
	settle_seen(m, OP_APPEND, "the list");
	AGH_OK(c, agora_list_close(l));
}

/* The queue, with @indet_gets gets of this round indeterminate. */
static void check_queue(model *m, agora_client *c, uint64_t indet_gets)
{
	agora_queue *q = must_open(c, "queue", "crash.q");
	agora_value items;
	size_t n = 0;
	uint64_t missing = 0;

	AGH_OK(c, agora_queue_qsize(q, &n));
	AGH_OK(c, agora_queue_peek(q, n, &items));
	ck_assert_int_eq(items.type, AGORA_ARRAY);
	ck_assert_uint_eq(items.via.array.len, n);
	see_items(m, items.via.array.items, n, OP_PUT, "the queue");
	agora_value_free(&items);
	for (int w = 0; w < WRITERS; w++)
		for (size_t i = 0; i < m->logs[w].n; i++) {
			uint8_t *f = &m->flags[w][i];
			int64_t v = WRITER_BASE * (w + 1) + (int64_t)i;
			if (m->logs[w].ops[i].kind != OP_PUT)
				continue;
			bool seen = *f & F_SEEN;
			ck_assert_msg(!seen || !(*f & F_GOT),
				      "the queue holds %lld again, after an "
				      "acknowledged get took it",
				      (long long)v);
			ck_assert_msg(!seen || !(*f & F_GONE),
				      "the queue holds %lld again, missing "
				      "after an earlier restart",
				      (long long)v);
			if ((*f & F_INQ) && !seen) {
				missing++;
				*f |= F_GONE;
			}
			*f = (uint8_t)((*f & ~(F_SEEN | F_INQ)) |
				       (seen ? F_INQ : 0));
		}
	ck_assert_msg(missing <= indet_gets,
		      "%llu acknowledged items are missing from the queue, "
		      "and only %llu gets were cut off",
		      (unsigned long long)missing,
		      (unsigned long long)indet_gets);
	AGH_OK(c, agora_queue_close(q));
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Account for the entries the writers made since the last check, then
 * check every object. */
static void check_round(model *m, agora_client *c, int round)
{
	uint64_t acked[OP_ALL] = { 0 }, indet[OP_ALL] = { 0 };

	for (int w = 0; w < WRITERS; w++) {
		wlog *lg = &m->logs[w];
		ck_assert_msg(lg->wrong == 0,
			      "writer %d failed (its message is above)", w);
		for (size_t i = m->done[w]; i < lg->n; i++) {
			const op *o = &lg->ops[i];
			if (o->state == ST_ACK)
				acked[o->kind]++;
			else if (o->state == ST_INDET || o->state == ST_PENDING)
				indet[o->kind]++;
			if (o->state != ST_ACK)
				continue;
			if (o->kind == OP_PUT && !(m->flags[w][i] & F_GOT))
				m->flags[w][i] |= F_INQ;
			if (o->kind == OP_GET) {
				int pw;
				size_t pi;
				ck_assert_msg(decode(m, o->value, &pw, &pi) &&
						  m->logs[pw].ops[pi].kind ==
						      OP_PUT,
					      "a get took %lld, which nobody "
					      "put",
					      (long long)o->value);
				ck_assert_msg(!(m->flags[pw][pi] & F_GOT),
					      "two gets took %lld",
					      (long long)o->value);
				ck_assert_msg(!(m->flags[pw][pi] & F_GONE),
					      "a get took %lld, missing after "
					      "an earlier restart",
					      (long long)o->value);
				m->flags[pw][pi] =
				    (uint8_t)((m->flags[pw][pi] & ~F_INQ) |
					      F_GOT);
			}
			if (o->kind == OP_TOKEN) {
				m->tokens[m->ntokens++] = o->value;
				if (o->value > m->max_token)
					m->max_token = o->value;
			}
			if (o->kind == OP_STORE && o->value > m->max_store)
				m->max_store = o->value;
		}
		m->done[w] = lg->n;
	}
	for (int k = 0; k < OP_ALL; k++) {
		m->acked[k] += acked[k];
		m->indet[k] += indet[k];
	}

	check_dict(m, c);
	check_list(m, c);
	check_queue(m, c, indet[OP_GET]);

	/* The value: what was added, and no more than what was tried. */
	agora_var *v = must_open(c, "value", "crash.v");
	int64_t now = 0;
	AGH_OK(c, agora_var_get_int(v, &now));
	ck_assert_msg(now >= m->counter + (int64_t)acked[OP_ADD] &&
			  now <= m->counter +
				     (int64_t)(acked[OP_ADD] + indet[OP_ADD]),
		      "round %d: the value went from %lld to %lld, with %llu "
		      "adds acknowledged and %llu cut off",
		      round, (long long)m->counter, (long long)now,
		      (unsigned long long)acked[OP_ADD],
		      (unsigned long long)indet[OP_ADD]);
	m->counter = now;
	AGH_OK(c, agora_var_close(v));

	/* Tokens: never one twice; the lock free, its next token larger
	 * than all; the fence at least every acknowledged store. */
	qsort(m->tokens, m->ntokens, sizeof(int64_t), cmp_i64);
	for (size_t k = 1; k < m->ntokens; k++)
		ck_assert_msg(m->tokens[k] != m->tokens[k - 1],
			      "token %lld was given twice",
			      (long long)m->tokens[k]);
	agora_lock *lk = must_open(c, "lock", "crash.lock");
	bool got = false;
	uint64_t token = 0;
	AGH_OK(c, agora_lock_acquire_fenced(lk, 0, &got, &token));
	ck_assert_msg(got, "round %d: the lock is held after a restart", round);
	ck_assert_msg((int64_t)token > m->max_token,
		      "round %d: token %llu after a restart; %lld was given "
		      "before",
		      round, (unsigned long long)token,
		      (long long)m->max_token);
	m->max_token = (int64_t)token;
	m->tokens[m->ntokens++] = (int64_t)token;
	agora_dict *fd = must_open(c, "dict", "crash.fence");
	agora_value f;
	AGH_OK(c, agora_dict_get_default(fd, agora_str("fence"), agora_int(0),
					 &f));
	int64_t fence = int_of(f);
	agora_value_free(&f);
	ck_assert_msg(fence >= m->max_store,
		      "round %d: the fence is %lld, %lld was stored", round,
		      (long long)fence, (long long)m->max_store);
	ck_assert_msg(fence < (int64_t)token,
		      "round %d: the fence %lld is not below the new token "
		      "%llu",
		      round, (long long)fence, (unsigned long long)token);
	AGH_OK(c, agora_lock_release(lk));
	AGH_OK(c, agora_lock_close(lk));
	AGH_OK(c, agora_dict_close(fd));

	uint64_t a = 0, in = 0;
	for (int k = 0; k < OP_ALL; k++)
		if (k != OP_TOKEN && k != OP_SAVE) {
			a += acked[k];
			in += indet[k];
		}
	printf("  round %d: %llu changes acknowledged, %llu cut off; restart "
	       "%.1f ms\n",
	       round + 1, (unsigned long long)a, (unsigned long long)in,
	       m->restart_ms[m->nrestarts - 1]);
}

/* ---- running it -----------------------------------------------------------
 */

static pid_t writer_pids[WRITERS];
static agh_server crash_srv;
/* The data directories are made in @crash_base, which main() removes at
 * the end (a failed check ends a test's process without cleaning up). */
static char crash_base[40];
static char crash_dir[64];

/* The time bound: kill the server and the writers, say so, leave. */
static void on_alarm(int sig)
{
	static const char msg[] = "test_crash: out of time; killing agorad and "
				  "the writers\n";
	(void)sig;
	if (crash_srv.pid > 0)
		kill(crash_srv.pid, SIGKILL);
	for (int w = 0; w < WRITERS; w++)
		if (writer_pids[w] > 0)
			kill(writer_pids[w], SIGKILL);
	if (write(2, msg, sizeof(msg) - 1) < 0) {
	}
	_exit(3);
}

static int env_int(const char *name, int dflt)
{
	const char *s = getenv(name);

	return s != NULL && *s != '\0' ? atoi(s) : dflt;
}

static double time_factor(void)
{
	return agh_under_valgrind() ? 10.0 : agh_under_asan() ? 4.0 : 1.0;
}

/* Wait for one byte from every writer (the end of their round). */
static void await_writers(int done_fd)
{
	double deadline = agh_now() + 60.0 * time_factor();
	int got = 0;

	while (got < WRITERS) {
		double left = deadline - agh_now();
		ck_assert_msg(left > 0, "the writers did not stop after the "
					"kill");
		struct pollfd p = { done_fd, POLLIN, 0 };
		int r = poll(&p, 1, (int)(left * 1000) + 1);
		if (r < 0 && errno == EINTR)
			continue;
		char b[WRITERS];
		ssize_t n = read(done_fd, b, (size_t)(WRITERS - got));
		if (n < 0 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "a writer died");
		got += (int)n;
	}
}

static void pause_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static void crash_rounds(const char *policy)
{
	int rounds = env_int("AGORA_CRASH_ROUNDS", DEFAULT_ROUNDS);
	unsigned seed =
	    (unsigned)env_int("AGORA_CRASH_SEED", (int)(time(NULL) ^ getpid()));
	char data[96];
	int go[WRITERS], done[2];
	model m = { 0 };

	ck_assert_msg(rounds >= 1 && rounds <= 64,
		      "AGORA_CRASH_ROUNDS=%d: want 1 to 64", rounds);
	srandom(seed);
	signal(SIGALRM, on_alarm);
	alarm((unsigned)((60 + 15 * rounds) * time_factor()));

	snprintf(crash_dir, sizeof(crash_dir), "%s/%s", crash_base, policy);
	ck_assert_int_eq(mkdir(crash_dir, 0700), 0);
	snprintf(data, sizeof(data), "%s/data", crash_dir);
	const char *const args[] = { "--data-dir", data, "--fsync", policy,
				     NULL };

	m.logs = mmap(NULL, WRITERS * sizeof(wlog), PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert(m.logs != MAP_FAILED);
	for (int w = 0; w < WRITERS; w++) {
		m.flags[w] = calloc(LOG_CAP, 1);
		ck_assert_ptr_nonnull(m.flags[w]);
	}
	m.tokens = calloc(WRITERS * LOG_CAP + 64, sizeof(int64_t));
	ck_assert_ptr_nonnull(m.tokens);

	agh_server_start_args(&crash_srv, args);
	/* The objects exist before the first kill. */
	agora_client *c = agh_connect(&crash_srv);
	agora_var *v = NULL;
	agora_dict *d = NULL, *fd = NULL;
	agora_list *l = NULL;
	agora_queue *q = NULL;
	agora_lock *lk = NULL;
	AGH_OK(c, agora_var_open(c, "crash.v", agora_int(0), &v));
	AGH_OK(c, agora_dict_open(c, "crash.d", &d));
	AGH_OK(c, agora_list_open(c, "crash.l", &l));
	AGH_OK(c, agora_queue_open(c, "crash.q", 0, &q));
	AGH_OK(c, agora_lock_open(c, "crash.lock", &lk));
	AGH_OK(c, agora_dict_open(c, "crash.fence", &fd));
	AGH_OK(c, agora_var_close(v));
	AGH_OK(c, agora_dict_close(d));
	AGH_OK(c, agora_list_close(l));
	AGH_OK(c, agora_queue_close(q));
	AGH_OK(c, agora_lock_close(lk));
	AGH_OK(c, agora_dict_close(fd));
	agora_client_free(c);

	ck_assert_int_eq(pipe2(done, O_CLOEXEC), 0);
	fflush(NULL);
	for (int w = 0; w < WRITERS; w++) {
		int p[2];
		pid_t parent = getpid();
		ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
		pid_t pid = fork();
		ck_assert(pid >= 0);
		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			if (getppid() != parent)
				_exit(125);
			close(p[1]);
			close(done[0]);
			for (int k = 0; k < w; k++)
				close(go[k]);
			writer_main(w, p[0], done[1], &m.logs[w]);
		}
		close(p[0]);
		go[w] = p[1];
		writer_pids[w] = pid;
	}
	close(done[1]);

	printf("crash test, --fsync %s: %d rounds, %d writers, seed %u\n",
	       policy, rounds, WRITERS, seed);
	for (int round = 0; round < rounds; round++) {
		for (int w = 0; w < WRITERS; w++)
			ck_assert_int_eq(write(go[w], "g", 1), 1);
		/* Under valgrind everything is some ten times slower: the
		 * writers get as far as elsewhere in the time. */
		pause_ms((50 + random() % 251) *
			 (agh_under_valgrind() ? 10 : 1));
		double t0 = agh_now();
		agh_server_restart(&crash_srv, SIGKILL);
		double ms = (agh_now() - t0) * 1000;
		m.restart_ms[m.nrestarts++] = ms;
		m.restart_sum += ms;
		if (ms > m.restart_max)
			m.restart_max = ms;
		await_writers(done[0]);
		c = agh_connect(&crash_srv);
		check_round(&m, c, round);
		agora_client_free(c);
	}
	for (int w = 0; w < WRITERS; w++) {
		ck_assert_int_eq(write(go[w], "q", 1), 1);
		close(go[w]);
	}
	for (int w = 0; w < WRITERS; w++) {
		agh_wait_ok(writer_pids[w]);
		writer_pids[w] = 0;
	}
	close(done[0]);

	c = agh_connect(&crash_srv);
	agora_value st;
	AGH_OK(c, agora_stats(c, &st));
	const agora_value *pers = agh_map_find(st, "persistence");
	ck_assert_ptr_nonnull(pers);
	int64_t jbytes = agh_map_int(*pers, "journal_bytes");
	agora_value_free(&st);
	agora_client_free(c);
	agh_server_stop(&crash_srv);
	alarm(0);

	uint64_t total = 0, indet = 0;
	for (int k = 0; k < OP_ALL; k++)
		if (k != OP_TOKEN && k != OP_SAVE) {
			total += m.acked[k];
			indet += m.indet[k];
		}
	printf("crash test, --fsync %s: %d kills, %llu changes acknowledged "
	       "and found (set %llu, append %llu, put %llu, get %llu, add "
	       "%llu, fenced store %llu; %llu fencing tokens; %llu saves, "
	       "%llu cut off), %llu cut off by a kill (of the sets and "
	       "appends: %llu found done, %llu not); restart after SIGKILL "
	       "(kill to listening) mean %.1f ms, max %.1f ms; journal %lld "
	       "bytes\n",
	       policy, rounds, (unsigned long long)total,
	       (unsigned long long)m.acked[OP_SET],
	       (unsigned long long)m.acked[OP_APPEND],
	       (unsigned long long)m.acked[OP_PUT],
	       (unsigned long long)m.acked[OP_GET],
	       (unsigned long long)m.acked[OP_ADD],
	       (unsigned long long)m.acked[OP_STORE],
	       (unsigned long long)m.acked[OP_TOKEN],
	       (unsigned long long)m.acked[OP_SAVE],
	       (unsigned long long)m.indet[OP_SAVE], (unsigned long long)indet,
	       (unsigned long long)m.indet_present,
	       (unsigned long long)m.indet_absent,
	       m.restart_sum / (double)m.nrestarts, m.restart_max,
	       (long long)jbytes);
	ck_assert_msg(total > 0, "no change was acknowledged at all");

	for (int w = 0; w < WRITERS; w++)
		free(m.flags[w]);
	free(m.tokens);
	munmap(m.logs, WRITERS * sizeof(wlog));
	agh_remove_tree(crash_dir, false);
	crash_dir[0] = '\0';
}

START_TEST(kills_with_fsync_always_lose_no_acknowledged_change)
{
	crash_rounds("always");
}
END_TEST

START_TEST(kills_of_agorad_with_fsync_everysec_lose_nothing_either)
{
	crash_rounds("everysec");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("crash");
	int rounds = env_int("AGORA_CRASH_ROUNDS", DEFAULT_ROUNDS);
	TCase *tc;
	int rc;

	snprintf(crash_base, sizeof(crash_base), "/tmp/agora-crash-XXXXXX");
	if (mkdtemp(crash_base) == NULL) {
		perror("mkdtemp");
		return 1;
	}

	tc = AGH_ADD_BARE(s,
			  kills_with_fsync_always_lose_no_acknowledged_change);
	tcase_set_timeout(tc, 60 + 15 * rounds);
	tc = AGH_ADD_BARE(
	    s, kills_of_agorad_with_fsync_everysec_lose_nothing_either);
	tcase_set_timeout(tc, 60 + 15 * rounds);
	rc = agh_run_suite(s);
	agh_remove_tree(crash_base, false);
	return rc;
}
