/*
 * dispatch.c - from an authenticated request to the function that serves it.
 *
 * Server methods (open, close, drop, ls, info, ping, stats: srv_methods.c)
 * are looked up by name. Object methods are "TYPE.METHOD": the prefix names a
 * family, the family's table names the method, the first param is a handle of
 * this connection, and the handle's object must be of that family or extend it
 * (a joinable_queue answers to "queue.put"). Errors name what was wrong.
 *
 * Rights (users.c) are checked here for every method, from the right its
 * table entry names: a user without it is answered DENIED, and a
 * TYPE.METHOD on a named object the user's names= do not reach too.
 */
#include <string.h>

#include "internal.h"

static const ag_method *find_method(const ag_method *t, const char *name,
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

static bool check_argc(ag_req *r, const ag_method *m, unsigned skip)
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

/* Resolve a method name to its family (NULL: a server method) and table
 * entry; NULL when there is none. Names are looked up in the tables once and
 * then found in the server's cache. */
static const ag_method *resolve(ag_server *s, const char *name, size_t len,
				const ag_family **ret_fam)
{
	ag_method_slot *slot = NULL;
	const ag_family *fam = NULL;
	const ag_method *m;

	if (len <= AG_METHOD_NAME_MAX) {
		uint32_t h = 2166136261u; /* FNV-1a */
		for (size_t i = 0; i < len; i++)
			h = (h ^ (uint8_t)name[i]) * 16777619u;
		slot = &s->methods[h % AG_METHOD_CACHE];
		if (slot->m != NULL && slot->len == len &&
		    memcmp(slot->name, name, len) == 0) {
			*ret_fam = slot->fam;
			return slot->m;
		}
	}
	const char *dot = memchr(name, '.', len);
	if (dot == NULL) {
		m = find_method(ag_server_methods(), name, len);
	} else {
		size_t tlen = (size_t)(dot - name);
		fam = ag_family_by_name(name, tlen);
		m = fam ? find_method(fam->methods, dot + 1, len - tlen - 1)
			: NULL;
	}
	if (m != NULL && slot != NULL) {
		slot->fam = fam;
		slot->m = m;
		slot->len = (uint8_t)len;
		memcpy(slot->name, name, len);
	}
	*ret_fam = fam;
	return m;
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

void ag_dispatch(ag_conn *c, const ag_request *rq)
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
	const ag_family *fam;
	const ag_method *m;

	if (s->txn == NULL)
		s->requests++;
	msgpack_zone_clear(&s->zone);
	s->scratch.len = 0;
	s->scratch.oom = false;

	m = resolve(s, r.method, r.methodlen, &fam);
	if (m == NULL) {
		ag_reply_error(&r.to, AGORA_ENO_METHOD,
			       "unknown method \"%.*s\"", (int)r.methodlen,
			       r.method);
		return;
	}
	if (fam == NULL && s->txn != NULL) {
		ag_reply_error(&r.to, AGORA_EARGS,
			       "%.*s is a server method: a transaction calls "
			       "methods of objects only",
			       (int)r.methodlen, r.method);
		return;
	}
	if (fam == NULL) {
		/* Server methods that name an object check its name too
		 * (srv_methods.c: open, open_ref, drop, info; ls filters). */
		if (ag_user_may(&r, m->right, NULL, 0) && check_argc(&r, m, 0))
			m->fn(&r);
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
	if (!ag_user_may_obj(&r, m->right, r.obj) || !check_argc(&r, m, 1))
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
