/*
 * txn.c - agora_txn: calls built as a pipeline's are, sent as one "txn"
 * request (docs/protocol.md section 12), run by the server as one.
 *
 * Building copies: each condition and call is kept as an owned array
 * value ([op, method, params, value], [method, params]), so the caller's
 * values may go away once the building call returns. agora_txn_run()
 * puts them in the request [conditions, then, else] and makes one round
 * trip with the pieces pipeline.c uses (ag_client_pack(), ag_client_send(),
 * ag_client_read_any()), because the answer to a failed transaction
 * carries a fourth element (which branch, which call) that
 * ag_client_call() does not hand back.
 *
 * A building call that fails marks the transaction: running it then fails
 * too, naming that call, so a program that checks only agora_txn_run()
 * never sends a transaction with a condition or call missing.
 *
 * Like a pipeline's calls, a transaction does not reconnect: its params
 * hold handles of this connection, which a reconnect renumbers.
 */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A branch of calls or the conditions: owned array values. */
struct part {
	agora_value *items;
	size_t len, cap;
};

struct agora_txn {
	agora_client *c;
	struct part conds, then, els;
	/* The first building call that failed: its code and sentence
	 * (agora_txn_run() refuses to run until a reset), else 0. */
	int bad;
	char bad_msg[200];
	/* The last run's results (owned; an item handed out is nil, and
	 * @taken says so), and the call that made it fail, if one did. */
	agora_value *results;
	bool *taken;
	size_t nresults;
	const char *failed_branch; /* "conditions", "then", "else" or NULL */
	size_t failed_index;
};

/* The ops of agora_txn_if(): those before "exists" compare a value. */
static const char *const ops[] = { "eq", "ne", "lt",     "le",
				   "gt", "ge", "exists", "missing" };
#define NOPS (sizeof(ops) / sizeof(ops[0]))
#define NCOMPARE 6

agora_txn *agora_txn_new(agora_client *c)
{
	agora_txn *t;

	if (c == NULL)
		return NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return NULL;
	t->c = c;
	return t;
}

static void part_clear(struct part *p)
{
	for (size_t i = 0; i < p->len; i++)
		agora_value_free(&p->items[i]);
	free(p->items);
	memset(p, 0, sizeof(*p));
}

static void results_clear(agora_txn *t)
{
	for (size_t i = 0; i < t->nresults; i++)
		agora_value_free(&t->results[i]);
	free(t->results);
	free(t->taken);
	t->results = NULL;
	t->taken = NULL;
	t->nresults = 0;
	t->failed_branch = NULL;
	t->failed_index = 0;
}

/*
 * A building call of @t failed with @rc: keep the first such failure for
 * agora_txn_run(), set the client's message from the format, and return
 * @rc.
 */
static int build_fail(agora_txn *t, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int build_fail(agora_txn *t, int rc, const char *fmt, ...)
{
	char msg[sizeof(t->bad_msg)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (t->bad == 0) {
		t->bad = rc;
		memcpy(t->bad_msg, msg, sizeof(msg));
	}
	return ag_client_fail(t->c, rc, "%s", msg);
}

/* Whether @params is an array value whose items can be read. */
static bool params_ok(agora_value params)
{
	return params.type == AGORA_ARRAY &&
	       (params.via.array.len == 0 || params.via.array.items != NULL);
}

/*
 * Append a copy of the array value of @items[0..n) to @p, for the building
 * call @who. Returns 0, AGORA_EINVAL for a value that cannot be copied,
 * or AGORA_ENOMEM; on failure @t is marked.
 */
static int part_add(agora_txn *t, struct part *p, const char *who,
		    agora_value *items, size_t n)
{
	agora_value copy;
	int rc;

	if (p->len == p->cap) {
		size_t cap = p->cap ? 2 * p->cap : 8;
		agora_value *a = realloc(p->items, cap * sizeof(*a));

		if (a == NULL)
			return build_fail(t, AGORA_ENOMEM, "%s: out of memory",
					  who);
		p->items = a;
		p->cap = cap;
	}
	rc = agora_value_copy(agora_array(items, n), &copy);
	if (rc == AGORA_ENOMEM)
		return build_fail(t, rc, "%s: out of memory", who);
	if (rc < 0)
		return build_fail(t, rc,
				  "%s: a value of the params cannot be sent "
				  "(a bad type, or NULL data with a length)",
				  who);
	p->items[p->len++] = copy;
	return 0;
}

/*
 * What every building call checks first: 0, or the error to return. In
 * sticky mode with an error latched nothing is added, and @t is marked as
 * by a failure, so that it cannot run without that call once the error
 * is cleared.
 */
static int build_check(agora_txn *t)
{
	int rc;

	if (t == NULL)
		return AGORA_EINVAL;
	rc = ag_client_latched(t->c);
	if (rc < 0 && t->bad == 0) {
		t->bad = rc;
		snprintf(t->bad_msg, sizeof(t->bad_msg),
			 "a condition or call was not added, as the client "
			 "had an error latched (sticky mode): %.100s",
			 agora_errmsg(t->c));
	}
	return rc;
}

int agora_txn_if(agora_txn *t, const char *op, const char *method,
		 agora_value params, agora_value value)
{
	agora_value items[4];
	size_t i;
	int rc = build_check(t);

	if (rc < 0)
		return rc;
	if (op == NULL)
		return build_fail(t, AGORA_EINVAL,
				  "agora_txn_if: the op is NULL (eq, ne, lt, "
				  "le, gt, ge, exists or missing)");
	for (i = 0; i < NOPS; i++)
		if (strcmp(op, ops[i]) == 0)
			break;
	if (i == NOPS)
		return build_fail(t, AGORA_EINVAL,
				  "agora_txn_if: unknown op \"%.40s\" (eq, ne, "
				  "lt, le, gt, ge, exists or missing; held "
				  "and fence have functions of their own)",
				  op);
	if (method == NULL)
		return build_fail(t, AGORA_EINVAL,
				  "agora_txn_if: the method of the \"%s\" "
				  "condition is NULL",
				  op);
	if (!params_ok(params))
		return build_fail(t, AGORA_EINVAL,
				  "agora_txn_if: the params of %.60s are not "
				  "an array",
				  method);
	items[0] = agora_str(op);
	items[1] = agora_str(method);
	items[2] = params;
	items[3] = value;
	/* exists and missing take no value. */
	return part_add(t, &t->conds, "agora_txn_if", items,
			i < NCOMPARE ? 4 : 3);
}

int agora_txn_if_held(agora_txn *t, uint32_t lock)
{
	agora_value items[2] = { agora_str("held"), agora_uint(lock) };
	int rc = build_check(t);

	if (rc < 0)
		return rc;
	return part_add(t, &t->conds, "agora_txn_if_held", items, 2);
}

int agora_txn_if_fence(agora_txn *t, uint32_t lock, uint64_t token)
{
	agora_value items[3] = { agora_str("fence"), agora_uint(lock),
				 agora_uint(token) };
	int rc = build_check(t);

	if (rc < 0)
		return rc;
	return part_add(t, &t->conds, "agora_txn_if_fence", items, 3);
}

/* agora_txn_then() and agora_txn_else(): a call added to @p. */
static int add_call(agora_txn *t, struct part *p, const char *who,
		    const char *method, agora_value params)
{
	agora_value items[2];
	int rc = build_check(t);

	if (rc < 0)
		return rc;
	if (method == NULL)
		return build_fail(t, AGORA_EINVAL, "%s: the method is NULL",
				  who);
	if (!params_ok(params))
		return build_fail(t, AGORA_EINVAL,
				  "%s: the params of %.60s are not an array",
				  who, method);
	items[0] = agora_str(method);
	items[1] = params;
	return part_add(t, p, who, items, 2);
}

int agora_txn_then(agora_txn *t, const char *method, agora_value params)
{
	return add_call(t, t != NULL ? &t->then : NULL, "agora_txn_then",
			method, params);
}

int agora_txn_else(agora_txn *t, const char *method, agora_value params)
{
	return add_call(t, t != NULL ? &t->els : NULL, "agora_txn_else", method,
			params);
}

/* The str @o equals @s. */
static bool obj_is(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

/* Note which call the error array @err names in its fourth element
 * ({"branch", "call"}), when it has one. */
static void note_failed_call(agora_txn *t, const msgpack_object *err)
{
	static const char *const branches[] = { "conditions", "then", "else" };
	const msgpack_object *where, *branch = NULL, *call = NULL;

	if (err->type != MSGPACK_OBJECT_ARRAY || err->via.array.size < 4)
		return;
	where = &err->via.array.ptr[3];
	if (where->type != MSGPACK_OBJECT_MAP)
		return;
	for (uint32_t i = 0; i < where->via.map.size; i++) {
		const msgpack_object_kv *kv = &where->via.map.ptr[i];

		if (obj_is(&kv->key, "branch"))
			branch = &kv->val;
		else if (obj_is(&kv->key, "call"))
			call = &kv->val;
	}
	if (branch == NULL || call == NULL ||
	    call->type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
	    call->via.u64 > SIZE_MAX)
		return;
	for (size_t i = 0; i < 3; i++)
		if (obj_is(branch, branches[i])) {
			t->failed_branch = branches[i];
			t->failed_index = (size_t)call->via.u64;
		}
}

/* Take the result map @res ({"succeeded", "results"}) into @t. */
static int take_result(agora_txn *t, const msgpack_object *res,
		       bool *ret_succeeded)
{
	const msgpack_object *ok = NULL, *results = NULL;
	uint32_t n;

	if (res->type == MSGPACK_OBJECT_MAP)
		for (uint32_t i = 0; i < res->via.map.size; i++) {
			const msgpack_object_kv *kv = &res->via.map.ptr[i];

			if (obj_is(&kv->key, "succeeded"))
				ok = &kv->val;
			else if (obj_is(&kv->key, "results"))
				results = &kv->val;
		}
	if (ok == NULL || ok->type != MSGPACK_OBJECT_BOOLEAN ||
	    results == NULL || results->type != MSGPACK_OBJECT_ARRAY)
		return ag_client_bad_result(t->c, "txn", res,
					    "a map of succeeded and results");
	n = results->via.array.size;
	if (n > 0) {
		t->results = calloc(n, sizeof(*t->results));
		t->taken = calloc(n, sizeof(*t->taken));
		if (t->results == NULL || t->taken == NULL)
			goto nomem;
	}
	for (uint32_t i = 0; i < n; i++) {
		if (ag_value_unpack(&results->via.array.ptr[i],
				    &t->results[i]) < 0)
			goto nomem;
		t->nresults = i + 1;
	}
	if (ret_succeeded != NULL)
		*ret_succeeded = ok->via.boolean;
	return 0;
nomem:
	results_clear(t);
	return ag_client_fail(t->c, AGORA_ENOMEM,
			      "out of memory decoding the answer to txn (it "
			      "was done)");
}

/* The round trip of agora_txn_run(), once its checks passed. */
static int run(agora_txn *t, bool *ret_succeeded)
{
	agora_client *c = t->c;
	const msgpack_object *err = NULL, *res = NULL;
	agora_value params[3] = {
		agora_array(t->conds.items, t->conds.len),
		agora_array(t->then.items, t->then.len),
		agora_array(t->els.items, t->els.len),
	};
	uint32_t msgid, got;
	ag_buf out;
	int rc;

	ag_buf_init(&out);
	c->errmsg[0] = '\0';
	rc = ag_client_pack(c, &out, "txn", params, 3, &msgid);
	if (rc < 0) {
		ag_buf_deinit(&out);
		return ag_client_fail(c, rc,
				      "agora_txn_run: the transaction cannot "
				      "be sent (%s)",
				      rc == AGORA_ENOMEM
					  ? "out of memory"
					  : "a value nested too deep");
	}
	/* A transaction never waits in the server: the peer timeout bounds
	 * it as any call that does not wait. */
	if (c->peer_timeout > 0)
		c->deadline_ms = ag_transport_now_ms() +
				 (int64_t)(c->peer_timeout * 1000) + 1;
	rc = ag_client_send(c, out.data, out.len);
	ag_buf_deinit(&out);
	if (rc < 0) {
		c->deadline_ms = 0;
		return rc;
	}
	rc = ag_client_read_any(c, &got, &err, &res);
	c->deadline_ms = 0;
	if (rc < 0) {
		char msg[sizeof(c->errmsg)];

		memcpy(msg, c->errmsg, sizeof(msg));
		return ag_client_fail(c, rc,
				      "the answer to txn was lost, so it may "
				      "have been done (all of it) or not (none "
				      "of it): %.300s",
				      msg);
	}
	if (got != msgid)
		return ag_client_break(c, AGORA_EPROTOCOL,
				       "the server answered request %" PRIu32
				       " while this client waited for %" PRIu32,
				       got, msgid);
	if (err != NULL) {
		note_failed_call(t, err);
		return ag_client_response_error(c, err);
	}
	return take_result(t, res, ret_succeeded);
}

int agora_txn_run(agora_txn *t, bool *ret_succeeded)
{
	int rc;

	if (t == NULL)
		return AGORA_EINVAL;
	if (ag_client_latched(t->c) < 0)
		return ag_client_latched(t->c);
	results_clear(t);
	if (t->bad < 0)
		return ag_client_note(
		    t->c, ag_client_fail(t->c, t->bad,
					 "agora_txn_run: the transaction was "
					 "not sent, as building it failed: %s",
					 t->bad_msg));
	rc = ag_client_usable(t->c);
	if (rc < 0)
		return ag_client_note(t->c, rc);
	t->c->sticky_hold++;
	rc = run(t, ret_succeeded);
	t->c->sticky_hold--;
	return ag_client_note(t->c, rc);
}

bool agora_txn_failed(const agora_txn *t, const char **ret_branch,
		      size_t *ret_index)
{
	if (t == NULL || t->failed_branch == NULL)
		return false;
	if (ret_branch != NULL)
		*ret_branch = t->failed_branch;
	if (ret_index != NULL)
		*ret_index = t->failed_index;
	return true;
}

size_t agora_txn_count(const agora_txn *t)
{
	return t != NULL ? t->nresults : 0;
}

int agora_txn_result(agora_txn *t, size_t i, agora_value *ret)
{
	if (t == NULL)
		return AGORA_EINVAL;
	if (i >= t->nresults)
		return ag_client_fail(t->c, AGORA_EINVAL,
				      "agora_txn_result: no result %zu (the "
				      "last run gave %zu)",
				      i, t->nresults);
	if (t->taken[i])
		return ag_client_fail(t->c, AGORA_EINVAL,
				      "agora_txn_result: result %zu was "
				      "handed out already",
				      i);
	if (ret != NULL)
		*ret = t->results[i];
	else
		agora_value_free(&t->results[i]);
	memset(&t->results[i], 0, sizeof(t->results[i]));
	t->taken[i] = true;
	return 0;
}

void agora_txn_reset(agora_txn *t)
{
	if (t == NULL)
		return;
	part_clear(&t->conds);
	part_clear(&t->then);
	part_clear(&t->els);
	results_clear(t);
	t->bad = 0;
	t->bad_msg[0] = '\0';
}

void agora_txn_free(agora_txn *t)
{
	agora_txn_reset(t);
	free(t);
}
