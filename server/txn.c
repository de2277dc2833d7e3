/*
 * txn.c - transactions: the server method txn (docs/protocol.md section 12).
 *
 * txn [conditions, then, else] runs read calls for its conditions, then
 * the calls of one branch, each through ag_dispatch() on the caller's
 * connection exactly as if it had been sent alone (method lookup, handle,
 * type, rights, params, --max-memory, the journal, the change feed), with
 * nothing else of the loop in between: it all happens inside this one
 * request. Each call's answer is taken back out of the connection's output
 * (capture()) and becomes an item of the transaction's results.
 *
 * All or nothing, by copy on first write: before a write call of the
 * transaction first reaches an object, its family's txn_save() copies what
 * its methods may change (txn_touch()); when a call fails, every object
 * saved is put back with txn_restore(), newest save first, and so are the
 * server's revision, its last fencing token, the versions of the objects,
 * the changes held back for watchers, the journal records made and the
 * reference holds passed to the connection. Nothing of a transaction
 * reaches anyone else before it commits: calls that would park are
 * refused (the families' txn_refused lists, and ag_wait_park() refuses
 * inside one as a last guard), and a family that would serve other
 * requests after a change defers that with ag_txn_defer() until the
 * commit (wake()). The watchers' notifications are held back over the
 * whole transaction (watch.c) and sent after its answer.
 *
 * Journal: the records the calls made are wrapped, at the commit, into one
 * "@txn" record whose CRC covers them all (recover.c replays each), so a
 * crash keeps all of them or none.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "persist.h"
#include "txn.h"

/* ---- parsing ---------------------------------------------------------------
 */

static int fail(struct ag_txn *t, int rc, const char *branch, uint32_t index,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static int fail(struct ag_txn *t, int rc, const char *branch, uint32_t index,
		const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(t->fail_msg, sizeof(t->fail_msg), fmt, ap);
	va_end(ap);
	t->fail_rc = rc;
	t->fail_branch = branch;
	t->fail_index = index;
	return rc;
}

/* Decode param @i of @r whole (a large one may be left raw). */
static int decode_param(struct ag_txn *t, ag_req *r, uint32_t i,
			msgpack_object *ret)
{
	size_t off = 0;

	if (i >= r->argc) {
		ret->type = MSGPACK_OBJECT_NIL;
		return 0;
	}
	if (msgpack_unpack((const char *)r->raw[i].p, r->raw[i].len, &off,
			   &t->zone, ret) != MSGPACK_UNPACK_SUCCESS)
		return AGORA_ENOMEM;
	return 0;
}

static bool is_str(const msgpack_object *o, const char *s)
{
	size_t n = strlen(s);

	return o->type == MSGPACK_OBJECT_STR && o->via.str.size == n &&
	       memcmp(o->via.str.ptr, s, n) == 0;
}

enum cond_op {
	OP_EQ,
	OP_NE,
	OP_LT,
	OP_LE,
	OP_GT,
	OP_GE,
	OP_EXISTS,
	OP_MISSING,
	OP_HELD,
	OP_FENCE,
};

static const char *const op_names[] = { "eq",   "ne",    "lt",     "le",
					"gt",   "ge",    "exists", "missing",
					"held", "fence", NULL };

static int op_of(const msgpack_object *o)
{
	for (int i = 0; op_names[i] != NULL; i++)
		if (is_str(o, op_names[i]))
			return i;
	return -1;
}

/* Is @method (TYPE.METHOD) with @params refused inside a transaction?
 * NULL, or why (static text). */
static const char *refused(const msgpack_object *method,
			   const msgpack_object *params)
{
	const char *name = method->via.str.ptr;
	size_t len = method->via.str.size;
	const char *dot = memchr(name, '.', len);
	const ag_family *fam;
	const char *mname;
	size_t mlen;

	if (dot == NULL)
		return "a server method: a transaction calls methods of "
		       "objects only";
	fam = ag_family_by_name(name, (size_t)(dot - name));
	if (fam == NULL || fam->txn_refused == NULL)
		return NULL; /* the dispatcher answers what is unknown */
	mname = dot + 1;
	mlen = len - (size_t)(mname - name);
	for (const char *const *e = fam->txn_refused; *e != NULL; e++) {
		const char *at = strchr(*e, '@');
		size_t n = at ? (size_t)(at - *e) : strlen(*e);
		if (n != mlen || memcmp(*e, mname, n) != 0)
			continue;
		if (at == NULL)
			return "it may wait, or is about the connection; a "
			       "transaction never waits";
		uint32_t k = (uint32_t)atoi(at + 1);
		if (params->via.array.size > k &&
		    params->via.array.ptr[k].type == MSGPACK_OBJECT_BOOLEAN &&
		    !params->via.array.ptr[k].via.boolean)
			return NULL;
		return "it may wait; a transaction never waits: give its "
		       "block param false";
	}
	return NULL;
}

/* A call [method, params] of @branch: false after fail(). */
static bool check_call(struct ag_txn *t, const msgpack_object *c,
		       const char *branch, uint32_t i)
{
	char desc[96];
	const char *why;

	if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size != 2 ||
	    c->via.array.ptr[0].type != MSGPACK_OBJECT_STR ||
	    c->via.array.ptr[1].type != MSGPACK_OBJECT_ARRAY) {
		ag_obj_describe(c, desc, sizeof(desc));
		fail(t, AGORA_EARGS, branch, i,
		     "txn: %s call %u must be [method, params] (a str and an "
		     "array), got %s",
		     branch, i, desc);
		return false;
	}
	why = refused(&c->via.array.ptr[0], &c->via.array.ptr[1]);
	if (why != NULL) {
		fail(t, AGORA_EARGS, branch, i,
		     "txn: %s call %u (%.*s) is refused: %s", branch, i,
		     (int)c->via.array.ptr[0].via.str.size,
		     c->via.array.ptr[0].via.str.ptr, why);
		return false;
	}
	return true;
}

/* A condition: false after fail(). */
static bool check_cond(struct ag_txn *t, const msgpack_object *c, uint32_t i)
{
	char desc[96];
	const msgpack_object *a;
	uint32_t n;
	int op;

	if (c->type != MSGPACK_OBJECT_ARRAY || c->via.array.size < 2)
		goto bad;
	a = c->via.array.ptr;
	n = c->via.array.size;
	op = op_of(&a[0]);
	if (op < 0) {
		ag_obj_describe(&a[0], desc, sizeof(desc));
		fail(t, AGORA_EARGS, "conditions", i,
		     "txn: condition %u: unknown comparison %s (eq, ne, lt, "
		     "le, gt, ge, exists, missing, held or fence)",
		     i, desc);
		return false;
	}
	if (op == OP_HELD || op == OP_FENCE) {
		if (a[1].type != MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    n != (op == OP_HELD ? 2u : 3u) ||
		    (op == OP_FENCE &&
		     a[2].type != MSGPACK_OBJECT_POSITIVE_INTEGER))
			goto bad;
		return true;
	}
	if (n != ((op == OP_EXISTS || op == OP_MISSING) ? 3u : 4u) ||
	    a[1].type != MSGPACK_OBJECT_STR ||
	    a[2].type != MSGPACK_OBJECT_ARRAY)
		goto bad;
	if (refused(&a[1], &a[2]) != NULL) {
		fail(t, AGORA_EARGS, "conditions", i,
		     "txn: condition %u (%.*s) is refused: %s", i,
		     (int)a[1].via.str.size, a[1].via.str.ptr,
		     refused(&a[1], &a[2]));
		return false;
	}
	return true;
bad:
	ag_obj_describe(c, desc, sizeof(desc));
	fail(t, AGORA_EARGS, "conditions", i,
	     "txn: condition %u must be [op, method, params, value], "
	     "[\"exists\" "
	     "or \"missing\", method, params], [\"held\", h] or [\"fence\", h, "
	     "token], got %s",
	     i, desc);
	return false;
}

/* ---- running one call ---------------------------------------------------- */

/* What a call answered. */
typedef struct answer {
	int rc; /* 0, or the error's code */
	char msg[512];
	const uint8_t *result; /* its bytes, valid until the next call */
	size_t resultlen;
} answer;

/* Take the answer the call just packed at @mark out of @c's output. false
 * when there is none to take (the connection is being cut). */
static bool capture(struct ag_txn *t, ag_conn *c, size_t mark, ag_buf *into,
		    answer *ret)
{
	const uint8_t *p = (const uint8_t *)c->out.data + mark;
	size_t n = c->out.len - mark, off = 1, k;
	msgpack_object err;

	ret->rc = 0;
	ret->msg[0] = '\0';
	ret->result = NULL;
	ret->resultlen = 0;
	if (c->closing || c->out.oom || c->out_sent > mark || n < 4)
		return false;
	for (int i = 0; i < 2; i++) { /* type, msgid */
		k = ag_mp_object_len(p + off, n - off, NULL);
		if (k == 0)
			return false;
		off += k;
	}
	if (p[off] == 0xc0) { /* nil: no error */
		off++;
		if (ag_buf_append(into, p + off, n - off) < 0)
			return false;
		ret->result =
		    (const uint8_t *)into->data + (into->len - (n - off));
		ret->resultlen = n - off;
	} else {
		size_t eoff = 0;
		k = ag_mp_object_len(p + off, n - off, NULL);
		if (k == 0 ||
		    msgpack_unpack((const char *)p + off, k, &eoff, &t->rzone,
				   &err) != MSGPACK_UNPACK_SUCCESS ||
		    err.type != MSGPACK_OBJECT_ARRAY || err.via.array.size < 3)
			return false;
		ret->rc = ag_parse_error(&err, ret->msg, sizeof(ret->msg));
	}
	c->out.len = mark;
	return true;
}

/* Where a call's method and params lie in the request. */
typedef struct call_span {
	const char *method; /* NULL: not a call ("held", "fence") */
	uint32_t methodlen;
	ag_span params;
} call_span;

/*
 * The spans of the calls of the array @raw (of conditions or calls, which
 * the decoded checks found well formed): item @mi of each element is its
 * method, item @mi + 1 its params. NULL when out of memory.
 */
static call_span *spans_of(struct ag_txn *t, ag_span raw, uint32_t mi,
			   uint32_t n)
{
	call_span *v = msgpack_zone_malloc(&t->zone, (n ? n : 1) * sizeof(*v));
	const uint8_t *p = raw.p;
	size_t off = 0, len = raw.len;
	ag_mp_head h;

	if (v == NULL)
		return NULL;
	memset(v, 0, (n ? n : 1) * sizeof(*v));
	if (n == 0 || !ag_mp_read_head(p, len, &h))
		return v;
	off = h.hlen;
	for (uint32_t i = 0; i < n; i++) {
		size_t elen = ag_mp_object_len(p + off, len - off, NULL);
		size_t eoff = off, k;
		ag_mp_head eh, mh;
		if (elen == 0 || !ag_mp_read_head(p + eoff, len - eoff, &eh))
			break;
		eoff += eh.hlen;
		for (uint32_t j = 0; j < mi; j++)
			eoff += ag_mp_object_len(p + eoff, len - eoff, NULL);
		if (ag_mp_read_head(p + eoff, len - eoff, &mh) &&
		    mh.kind == AG_MP_STR) {
			v[i].method = (const char *)p + eoff + mh.hlen;
			v[i].methodlen = (uint32_t)mh.n;
			eoff += mh.hlen + (size_t)mh.n;
			k = ag_mp_object_len(p + eoff, len - eoff, NULL);
			v[i].params.p = p + eoff;
			v[i].params.len = k;
		}
		off += elen;
	}
	return v;
}

/* Run call @sc through call.c, as the transaction's connection, with the
 * transaction's msgid: 0 and *ret (rc set when it answered an error; its
 * result appended to @into), AGORA_ENOMEM, or AGORA_ELOST when its answer
 * could not be taken back (the connection is being cut). */
static int run_call(struct ag_txn *t, const call_span *sc, ag_buf *into,
		    answer *ret)
{
	ag_conn *c = t->req->to.conn;
	ag_request rq;
	char why[128];
	size_t mark;
	int rc;

	memset(&rq, 0, offsetof(ag_request, argv));
	rq.have_msgid = true;
	rq.msgid = t->req->to.msgid;
	rq.method = sc->method;
	rq.methodlen = sc->methodlen;
	msgpack_zone_clear(&t->rzone);
	rc = ag_request_params(sc->params.p, sc->params.len, &t->rzone, &rq,
			       why, sizeof(why));
	if (rc == AGORA_ENOMEM)
		return rc;
	if (rc < 0 || rq.argc > AG_MAX_PARAMS) {
		ret->rc = AGORA_EARGS;
		snprintf(ret->msg, sizeof(ret->msg), "%.*s: %s",
			 (int)rq.methodlen, rq.method,
			 rc < 0 ? why : "too many params");
		ret->result = NULL;
		ret->resultlen = 0;
		return 0;
	}
	mark = c->out.len;
	ag_call_object(c, &rq);
	return capture(t, c, mark, into, ret) ? 0 : AGORA_ELOST;
}

/* ---- conditions ---------------------------------------------------------- */

/* Nothing there: what eq/lt/... do not hold on and missing does. */
static bool is_absent(int rc)
{
	return rc == AGORA_EKEY || rc == AGORA_EINDEX || rc == AGORA_EEMPTY;
}

/* Condition @i: 1 holds, 0 does not, <0 failed (fail() said why) or the
 * connection is going (AGORA_ECONNRESET). */
static int eval_cond(struct ag_txn *t, const msgpack_object *c,
		     const call_span *sc, uint32_t i)
{
	const msgpack_object *a = c->via.array.ptr;
	int op = op_of(&a[0]);
	ag_req *r = t->req;
	answer ans;
	int rc;

	if (op == OP_HELD || op == OP_FENCE) {
		ag_object *lk = ag_conn_handle_get(r->to.conn, a[1].via.u64);
		uint64_t token;
		bool held;
		if (lk == NULL)
			return fail(t, AGORA_ENO_OBJECT, "conditions", i,
				    "txn: condition %u (%s): no handle %llu on "
				    "this connection",
				    i, op_names[op],
				    (unsigned long long)a[1].via.u64);
		if (lk->fam != &ag_family_lock && lk->fam != &ag_family_rlock)
			return fail(t, AGORA_ETYPE, "conditions", i,
				    "txn: condition %u (%s): handle %llu is a "
				    "%s, not a lock or rlock",
				    i, op_names[op],
				    (unsigned long long)a[1].via.u64,
				    lk->fam->name);
		if (!ag_user_may_obj(r, AG_RIGHT_READ, lk))
			return AGORA_EDENIED; /* answered: not a call's */
		if (op == OP_HELD)
			return ag_lock_held_by(lk, r->to.conn);
		held = ag_lock_fence(lk, &token);
		return held && token == a[2].via.u64;
	}
	t->conditions = true;
	t->reqbuf.len = 0;
	t->reqbuf.oom = false;
	rc = run_call(t, sc, &t->reqbuf, &ans);
	t->conditions = false;
	if (rc == AGORA_ENOMEM)
		return fail(t, AGORA_ELIMIT, "conditions", i,
			    "txn: condition %u: out of memory", i);
	if (rc < 0)
		return rc;
	if (ans.rc < 0) {
		if (is_absent(ans.rc))
			return op == OP_NE || op == OP_MISSING;
		return fail(t, ans.rc, "conditions", i,
			    "txn: condition %u (%.*s) failed, nothing was "
			    "done: %s",
			    i, (int)a[1].via.str.size, a[1].via.str.ptr,
			    ans.msg);
	}
	if (op == OP_EXISTS || op == OP_MISSING)
		return op == OP_EXISTS;
	{
		msgpack_object got;
		size_t off = 0;
		int cmp;
		if (msgpack_unpack((const char *)ans.result, ans.resultlen,
				   &off, &t->rzone,
				   &got) != MSGPACK_UNPACK_SUCCESS)
			return fail(t, AGORA_ELIMIT, "conditions", i,
				    "txn: condition %u: out of memory", i);
		if (op == OP_EQ)
			return ag_obj_equal(&got, &a[3]);
		if (op == OP_NE)
			return !ag_obj_equal(&got, &a[3]);
		if (ag_obj_compare(&got, &a[3], &cmp) < 0) {
			char d1[96], d2[96];
			ag_obj_describe(&got, d1, sizeof(d1));
			ag_obj_describe(&a[3], d2, sizeof(d2));
			return fail(t, AGORA_ETYPE, "conditions", i,
				    "txn: condition %u (%s): %.*s answered "
				    "%s, which does not order with %s",
				    i, op_names[op], (int)a[1].via.str.size,
				    a[1].via.str.ptr, d1, d2);
		}
		switch (op) {
		case OP_LT:
			return cmp < 0;
		case OP_LE:
			return cmp <= 0;
		case OP_GT:
			return cmp > 0;
		default:
			return cmp >= 0;
		}
	}
}

/* ---- commit and rollback ------------------------------------------------- */

/* Wrap the records the calls made into one "@txn" record. */
static void journal_wrap(struct ag_txn *t)
{
	ag_persist *p = t->req->srv->persist;
	ag_buf *b;
	size_t n;
	uint8_t *copy;
	msgpack_packer *pk;

	if (!t->journal)
		return;
	b = &p->rb.buf;
	if (b->oom || b->len <= t->jmark)
		return;
	n = b->len - t->jmark;
	copy = malloc(n);
	if (copy == NULL) {
		b->oom = true; /* the journal reports it, as any failure */
		return;
	}
	memcpy(copy, b->data + t->jmark, n);
	b->len = t->jmark;
	pk = ag_rec_begin(&p->rb, "@txn", 4, 1);
	msgpack_pack_bin(pk, n);
	msgpack_pack_bin_body(pk, copy, n);
	ag_rec_end(&p->rb);
	p->records = t->jrecords + 1;
	free(copy);
}

static void rollback(struct ag_txn *t)
{
	ag_server *s = t->req->srv;
	ag_conn *c = t->req->to.conn;

	for (uint32_t k = t->nsaved; k-- > 0;) {
		struct ag_txn_obj *to = &t->objs[t->order[k]];
		to->obj->fam->txn_restore(to->obj, to->saved);
		to->saved = NULL;
		to->has_saved = false;
	}
	for (uint32_t i = 0; i < t->nobjs; i++)
		t->objs[i].obj->version = t->objs[i].version;
	s->revision = t->revision;
	s->last_fence = t->last_fence;
	ag_change_discard(s);
	if (t->journal) {
		ag_persist *p = s->persist;
		if (p->rb.buf.len > t->jmark)
			p->rb.buf.len = t->jmark;
		p->records = t->jrecords;
		/* Objects whose state the calls touched are as they were:
		 * no @state record for them (the list is newest first). */
		while (p->touched != NULL && p->touched != t->touched) {
			ag_object *o = p->touched;
			p->touched = o->next_touched;
			o->next_touched = NULL;
			o->touched = false;
			ag_object_unref(o);
		}
	}
	/* Holds passed to the connection by values the calls answered
	 * (list.pop of a reference): back to what it had. */
	for (uint32_t i = c->npassed; i-- > 0;) {
		ag_object *o = c->passed[i].obj;
		uint64_t had = 0, now = c->passed[i].count;
		for (uint32_t j = 0; j < t->npassed; j++)
			if (t->passed[j].obj == o)
				had = t->passed[j].count;
		if (now <= had)
			continue;
		if (had == 0) {
			ag_conn_unpass(c, o);
			continue;
		}
		c->passed[i].count = had;
		while (now-- > had)
			ag_object_unref(o);
	}
}

static void commit(struct ag_txn *t)
{
	for (uint32_t k = 0; k < t->nsaved; k++) {
		struct ag_txn_obj *to = &t->objs[t->order[k]];
		to->obj->fam->txn_drop(to->obj, to->saved);
		to->saved = NULL;
		to->has_saved = false;
	}
	/* The states its calls changed (AG_PERSIST_STATE families: a lock's
	 * owner and fence) go inside its record, not after it. */
	if (t->journal)
		ag_persist_flush_touched(t->req->srv->persist);
	journal_wrap(t);
}

static void answer_ok(struct ag_txn *t, bool succeeded)
{
	msgpack_packer *pk = ag_reply_begin(&t->req->to);

	msgpack_pack_map(pk, 2);
	ag_pack_str(pk, "succeeded");
	if (succeeded)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ag_pack_str(pk, "results");
	msgpack_pack_array(pk, t->nresults);
	if (t->results.len > 0)
		pk->callback(pk->data, t->results.data, t->results.len);
}

/* ---- the method ---------------------------------------------------------- */

static void txn_free(struct ag_txn *t)
{
	for (uint32_t i = 0; i < t->nobjs; i++)
		ag_object_unref(t->objs[i].obj);
	free(t->objs);
	free(t->order);
	free(t->wakes);
	free(t->passed);
	msgpack_zone_destroy(&t->zone);
	msgpack_zone_destroy(&t->rzone);
	ag_buf_deinit(&t->reqbuf);
	ag_buf_deinit(&t->results);
}

/* Run branch @calls: 0, or <0 after fail() / the connection going. */
static int run_branch(struct ag_txn *t, const msgpack_object *calls,
		      ag_span raw, const char *branch)
{
	call_span *spans = spans_of(t, raw, 0, calls->via.array.size);

	if (spans == NULL)
		return fail(t, AGORA_ELIMIT, branch, 0,
			    "txn: out of memory reading the %s calls", branch);
	for (uint32_t i = 0; i < calls->via.array.size; i++) {
		const msgpack_object *c = &calls->via.array.ptr[i];
		answer ans;
		int rc = run_call(t, &spans[i], &t->results, &ans);
		if (rc == AGORA_ENOMEM || (rc == AGORA_ELOST && t->results.oom))
			return fail(t, AGORA_ELIMIT, branch, i,
				    "txn: %s call %u: out of memory", branch,
				    i);
		if (rc < 0)
			return rc;
		if (ans.rc < 0)
			return fail(t, ans.rc, branch, i,
				    "txn: %s call %u (%.*s) failed, nothing "
				    "was done: %s",
				    branch, i,
				    (int)c->via.array.ptr[0].via.str.size,
				    c->via.array.ptr[0].via.str.ptr, ans.msg);
		t->nresults++;
	}
	return 0;
}

int ag_srv_txn(ag_req *r)
{
	ag_server *s = r->srv;
	ag_conn *c = r->to.conn;
	struct ag_txn t;
	msgpack_object conds, then, els;
	const msgpack_object *branch;
	const char *bname;
	call_span *cspans;
	uint64_t total;
	int rc = 0, held = 1;
	char desc[96];

	if (s->txn != NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "txn: a transaction cannot run another");
	memset(&t, 0, sizeof(t));
	t.req = r;
	msgpack_zone_init(&t.zone, 4096);
	msgpack_zone_init(&t.rzone, 4096);
	ag_buf_init(&t.reqbuf);
	ag_buf_init(&t.results);
	if (decode_param(&t, r, 0, &conds) < 0 ||
	    decode_param(&t, r, 1, &then) < 0 ||
	    decode_param(&t, r, 2, &els) < 0) {
		rc = ag_reply_error(&r->to, AGORA_ELIMIT,
				    "txn: out of memory decoding it");
		goto out;
	}
	if (els.type == MSGPACK_OBJECT_NIL)
		els.type = MSGPACK_OBJECT_ARRAY, els.via.array.size = 0,
		els.via.array.ptr = NULL;
	{
		const msgpack_object *ps[3] = { &conds, &then, &els };
		static const char *const names[3] = { "conditions", "then",
						      "else" };
		for (int i = 0; i < 3; i++)
			if (ps[i]->type != MSGPACK_OBJECT_ARRAY) {
				ag_obj_describe(ps[i], desc, sizeof(desc));
				rc = ag_reply_error(&r->to, AGORA_EARGS,
						    "txn: %s must be an array, "
						    "got %s",
						    names[i], desc);
				goto out;
			}
	}
	total = (uint64_t)conds.via.array.size + then.via.array.size +
		els.via.array.size;
	if (total > s->max_txn) {
		rc = ag_reply_error(&r->to, AGORA_EARGS,
				    "txn: %llu conditions and calls, more than "
				    "the server's --max-txn %u",
				    (unsigned long long)total, s->max_txn);
		goto out;
	}
	for (uint32_t i = 0; i < conds.via.array.size; i++)
		if (!check_cond(&t, &conds.via.array.ptr[i], i))
			goto failed_early;
	for (uint32_t i = 0; i < then.via.array.size; i++)
		if (!check_call(&t, &then.via.array.ptr[i], "then", i))
			goto failed_early;
	for (uint32_t i = 0; i < els.via.array.size; i++)
		if (!check_call(&t, &els.via.array.ptr[i], "else", i))
			goto failed_early;

	/* Begin: from here every change is the transaction's. */
	t.revision = s->revision;
	t.last_fence = s->last_fence;
	if (c->npassed > 0) {
		t.passed = malloc(c->npassed * sizeof(*t.passed));
		if (t.passed == NULL) {
			rc = ag_reply_error(&r->to, AGORA_ELIMIT,
					    "txn: out of memory");
			goto out;
		}
		memcpy(t.passed, c->passed, c->npassed * sizeof(*t.passed));
		t.npassed = c->npassed;
	}
	if (ag_persist_on(s)) {
		t.journal = true;
		t.jmark = s->persist->rb.buf.len;
		t.jrecords = s->persist->records;
		t.touched = s->persist->touched;
	}
	s->txn = &t;
	ag_change_begin(s);

	cspans = spans_of(&t, r->raw[0], 1, conds.via.array.size);
	if (cspans == NULL)
		held = fail(&t, AGORA_ELIMIT, "conditions", 0,
			    "txn: out of memory reading the conditions");
	for (uint32_t i = 0; i < conds.via.array.size && held == 1; i++)
		held = eval_cond(&t, &conds.via.array.ptr[i], &cspans[i], i);
	if (held < 0) {
		rc = held;
	} else {
		ag_span none = { NULL, 0 };
		branch = held ? &then : &els;
		bname = held ? "then" : "else";
		rc = run_branch(&t, branch,
				held          ? r->raw[1]
				: r->argc > 2 ? r->raw[2]
					      : none,
				bname);
	}
	if (rc < 0) {
		rollback(&t);
		s->txn = NULL;
		s->changing = false;
		if (rc == AGORA_ELOST || c->closing)
			goto out; /* the connection is being cut */
		if (t.fail_branch != NULL)
			ag_reply_error_where(&r->to, t.fail_rc, t.fail_msg,
					     t.fail_branch, t.fail_index);
		goto out;
	}
	commit(&t);
	s->txn = NULL;
	answer_ok(&t, held == 1);
	/* The waiters its changes can serve, now; their changes come after
	 * the transaction's own (still held back). */
	for (uint32_t i = 0; i < t.nwakes; i++) {
		ag_object *o = t.objs[t.wakes[i]].obj;
		if (o->fam->wake != NULL)
			o->fam->wake(o);
	}
	ag_change_flush(s);
	rc = 0;
	goto out;

failed_early:
	ag_reply_error_where(&r->to, t.fail_rc, t.fail_msg, t.fail_branch,
			     t.fail_index);
	rc = t.fail_rc;
out:
	txn_free(&t);
	return rc < 0 ? rc : 0;
}
