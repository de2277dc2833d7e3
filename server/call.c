/*
 * call.c - calling a method of an object: from a request "TYPE.METHOD"
 * [h, ...] to the family's function, with every check made before it
 * runs.
 *
 * The prefix names a family, the family's table names the method, the
 * first param is a handle of this connection, and the handle's object must
 * be of that family or extend it (a joinable_queue answers to
 * "queue.put"). Rights (users.c) are checked from the right the method's
 * table entry names: a user without it is answered DENIED, and so is a
 * call on a named object the user's names= do not reach. A write call is
 * admitted and journaled (persist.c), and bracketed for the change feed
 * (watch.c). Errors name what was wrong.
 *
 * The dispatcher (dispatch.c) sends every object method here, and so does
 * a transaction (txn.c) for each of its calls; server methods are the
 * dispatcher's alone.
 */
#include <string.h>

#include "internal.h"

const ag_method *ag_method_find(const ag_method *t, const char *name,
				size_t len)
{
	for (; t->name; t++)
		if (strlen(t->name) == len && memcmp(t->name, name, len) == 0)
			return t;
	return NULL;
}

/*
 * --max-memory for every method that stores (its table entry says so):
 * refused before it runs when what it was sent, plus an entry's size per
 * item for one that stores items, would take the server past the limit.
 */
static bool check_memory(ag_req *r, const ag_method *m, unsigned skip)
{
	size_t cost = 0;

	if (r->srv->max_memory == 0 || m->stores == AG_STORES_NONE)
		return true;
	for (uint32_t i = skip; i < r->argc; i++) {
		cost += r->raw[i].len;
		if (m->stores == AG_STORES_ITEMS) {
			ag_mp_head h;
			if (ag_mp_read_head(r->raw[i].p, r->raw[i].len, &h))
				cost += (size_t)h.n * sizeof(ag_entry);
		}
	}
	return ag_memory_check(r, cost) == 0;
}

bool ag_check_argc(ag_req *r, const ag_method *m, unsigned skip)
{
	if (r->argc >= m->min_args && r->argc <= m->max_args)
		return check_memory(r, m, skip);
	if (m->min_args == m->max_args)
		ag_reply_error(&r->to, AGORA_EARGS,
			       "%.*s takes %u params%s, got %u",
			       (int)r->methodlen, r->method, m->min_args - skip,
			       skip ? " after the handle" : "", r->argc - skip);
	else
		ag_reply_error(&r->to, AGORA_EARGS,
			       "%.*s takes %u to %u params%s, got %u",
			       (int)r->methodlen, r->method, m->min_args - skip,
			       m->max_args - skip,
			       skip ? " after the handle" : "", r->argc - skip);
	return false;
}

/* The slot of the server's method cache for @name; NULL when too long. */
static ag_method_slot *slot_of(ag_server *s, const char *name, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	if (len > AG_METHOD_NAME_MAX)
		return NULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)name[i]) * 16777619u;
	return &s->methods[h % AG_METHOD_CACHE];
}

const ag_method *ag_method_cached(ag_server *s, const char *name, size_t len,
				  const ag_family **ret_fam)
{
	ag_method_slot *slot = slot_of(s, name, len);

	if (slot != NULL && slot->m != NULL && slot->len == len &&
	    memcmp(slot->name, name, len) == 0) {
		*ret_fam = slot->fam;
		return slot->m;
	}
	return NULL;
}

void ag_method_remember(ag_server *s, const char *name, size_t len,
			const ag_family *fam, const ag_method *m)
{
	ag_method_slot *slot = slot_of(s, name, len);

	if (slot == NULL)
		return;
	slot->fam = fam;
	slot->m = m;
	slot->len = (uint8_t)len;
	memcpy(slot->name, name, len);
}

/* "TYPE.METHOD" to its family and table entry; NULL when there is none. */
static const ag_method *resolve(ag_server *s, const char *name, size_t len,
				const ag_family **ret_fam)
{
	const char *dot = memchr(name, '.', len);
	const ag_family *fam;
	const ag_method *m = ag_method_cached(s, name, len, ret_fam);

	if (m != NULL)
		return m;
	if (dot == NULL)
		return NULL;
	fam = ag_family_by_name(name, (size_t)(dot - name));
	m = fam ? ag_method_find(fam->methods, dot + 1,
				 len - (size_t)(dot - name) - 1)
		: NULL;
	if (m != NULL)
		ag_method_remember(s, name, len, fam, m);
	*ret_fam = fam;
	return m;
}

ag_req ag_call_begin(ag_conn *c, const ag_request *rq)
{
	ag_server *s = ag_conn_server(c);
	ag_req r = {
		.to = { c, rq->msgid },
		.srv = s,
		.method = rq->method,
		.methodlen = rq->methodlen,
		.argv = rq->argv,
		.raw = rq->raw,
		.argc = rq->argc,
	};

	if (s->txn == NULL)
		s->requests++;
	msgpack_zone_clear(&s->zone);
	s->scratch.len = 0;
	s->scratch.oom = false;
	return r;
}

/*
 * A write method with a data directory (persist.c): let in only what the
 * journal can take, and record a family's call before it runs (what it
 * makes others record, a served waiter, comes after it), taking the record
 * back when the call fails or parks: a parked call is recorded by its
 * family when it is served. A family that records its state instead
 * (AG_PERSIST_STATE) touches it; a family marked AG_JOURNAL_SELF records
 * its calls itself.
 */
static void journaled(ag_req *r, const ag_method *m)
{
	ag_server *s = r->srv;
	size_t mark;

	if (s->txn == NULL && !ag_persist_admit(r))
		return; /* (a transaction's writes are admitted together) */
	if (r->obj->fam->persist != AG_PERSIST_CALLS || !ag_persist_on(s) ||
	    r->obj->fam->journal == AG_JOURNAL_SELF) {
		m->fn(r);
		return;
	}
	mark = ag_journal_request(r);
	m->fn(r);
	if (s->chg_failed || s->chg_parked) /* ag_dispatch() set them */
		ag_journal_retract(s, mark);
}

void ag_call_object(ag_conn *c, const ag_request *rq)
{
	ag_req r = ag_call_begin(c, rq);
	ag_server *s = r.srv;
	const ag_family *fam = NULL;
	const ag_method *m = resolve(s, r.method, r.methodlen, &fam);

	if (m == NULL || fam == NULL) {
		ag_reply_error(&r.to, AGORA_ENO_METHOD,
			       "unknown method \"%.*s\"", (int)r.methodlen,
			       r.method);
		return;
	}
	if (r.argc < 1 || (r.argv[0].type != MSGPACK_OBJECT_POSITIVE_INTEGER)) {
		char desc[96] = "nothing";
		if (r.argc >= 1)
			ag_obj_describe(&r.argv[0], desc, sizeof(desc));
		ag_reply_error(&r.to, AGORA_EARGS,
			       "%.*s: the first param must be a handle, got %s",
			       (int)r.methodlen, r.method, desc);
		return;
	}
	r.obj = ag_conn_handle_get(c, r.argv[0].via.u64);
	if (r.obj == NULL) {
		ag_reply_error(&r.to, AGORA_ENO_OBJECT,
			       "%.*s: no handle %llu on this connection",
			       (int)r.methodlen, r.method,
			       (unsigned long long)r.argv[0].via.u64);
		return;
	}
	if (r.obj->fam != fam && r.obj->fam->base != fam) {
		ag_reply_error(&r.to, AGORA_ETYPE,
			       "%.*s: handle %llu is a %s, not a %s",
			       (int)r.methodlen, r.method,
			       (unsigned long long)r.argv[0].via.u64,
			       r.obj->fam->name, fam->name);
		return;
	}
	if (!ag_user_may_obj(&r, m->right, r.obj) || !ag_check_argc(&r, m, 1))
		return;
	if (s->txn != NULL && ag_txn_check(&r, m) < 0)
		return;
	if (m->right != AG_RIGHT_WRITE) {
		m->fn(&r);
		return;
	}
	/* A write call: a change when answered without error, not parked
	 * (watch.c), and journaled when it did (journaled()); s->chg tells
	 * (ag_reply_verror, ag_wait_park). */
	ag_object_ref(r.obj);
	ag_change_begin(s);
	s->chg = r.to;
	s->chg_obj = r.obj;
	s->chg_failed = s->chg_parked = false;
	if (s->persist == NULL)
		m->fn(&r);
	else
		journaled(&r, m);
	s->chg.conn = NULL;
	s->chg_obj = NULL;
	ag_change_end(&r, m, !s->chg_failed && !s->chg_parked);
	ag_object_unref(r.obj);
}
