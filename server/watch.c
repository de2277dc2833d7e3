/*
 * watch.c - object versions, watches and the change feed.
 *
 * Every change of an object passes ag_changed(): a write method answered
 * without error (the dispatcher, dispatch.c), a parked call served later
 * (the families: a queue's get, a lock's acquire), and what changes with
 * no call (a pending item going back, a dict key expiring, a holder's end
 * releasing its lock, a name dropped). Each change takes the next number
 * of the server's revision, which becomes the object's version; versions
 * are therefore unique and rise in the order changes happen, across all
 * objects, within one run of the server (docs/protocol.md section 11.1).
 *
 * A watch is a connection's standing request to hear of an object's
 * changes, optionally of one key's only (dict, namespace). It holds a
 * reference to the object, as a handle does, until unwatch or the
 * connection's end. Each change is sent to every watch of its object as
 * one notification, packed straight into the watcher's output
 * (ag_notify_begin(): a watcher that stops reading is cut there).
 *
 * Order: during a dispatched write call the changes its family reports
 * (the parked get a put serves) are held back and sent after the call's
 * own change, so watchers see the put before the get it served.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ag_watch {
	uint64_t id;
	ag_conn *conn;
	ag_object *obj; /* holds a reference */
	ag_val key;     /* of a key watch */
	bool keyed;
	LIST_ENTRY(ag_watch) olink; /* in obj->watches */
	LIST_ENTRY(ag_watch) clink; /* in conn->watches */
};

/* A change held back while a write call runs (see above). */
struct ag_held_change {
	ag_object *obj; /* holds a reference */
	const char *op;
	ag_val key; /* empty: none */
	bool has_key;
};

static void emit(ag_object *o, const char *op, size_t oplen, const ag_val *key)
{
	ag_server *s = o->srv;
	struct ag_watch *w;
	size_t tlen = strlen(o->fam->name);

	o->version = ++s->revision;
	LIST_FOREACH(w, &o->watches, olink)
	{
		if (w->keyed && key != NULL && !ag_val_equal(key, &w->key))
			continue;
		msgpack_packer *pk = ag_notify_begin(w->conn, "watch");
		if (pk == NULL)
			continue; /* cut: it ends, and its watches with it */
		msgpack_pack_array(pk, 1);
		msgpack_pack_map(pk, key != NULL ? 4 : 3);
		ag_pack_str(pk, "watch");
		msgpack_pack_uint64(pk, w->id);
		ag_pack_str(pk, "version");
		msgpack_pack_uint64(pk, o->version);
		ag_pack_str(pk, "op");
		msgpack_pack_str(pk, tlen + 1 + oplen);
		msgpack_pack_str_body(pk, o->fam->name, tlen);
		msgpack_pack_str_body(pk, ".", 1);
		msgpack_pack_str_body(pk, op, oplen);
		if (key != NULL) {
			ag_pack_str(pk, "key");
			ag_pack_val(pk, key);
		}
	}
}

/* Hold a change back until the running write call's own is sent; false
 * when it cannot be held (out of memory): it is sent now. */
static bool hold_back(ag_object *o, const char *op, const ag_val *key)
{
	ag_server *s = o->srv;
	struct ag_held_change *h;

	if (s->nheld == s->capheld) {
		uint32_t cap = s->capheld ? s->capheld * 2 : 8;
		void *p = realloc(s->held, cap * sizeof(*s->held));
		if (p == NULL)
			return false;
		s->held = p;
		s->capheld = cap;
	}
	h = &s->held[s->nheld];
	memset(h, 0, sizeof(*h));
	if (key != NULL && ag_val_dup(&h->key, key) < 0)
		return false;
	h->has_key = key != NULL;
	h->obj = o;
	h->op = op;
	ag_object_ref(o);
	s->nheld++;
	return true;
}

void ag_changed(ag_object *o, const char *op, const ag_val *key)
{
	ag_server *s = o->srv;

	if (LIST_EMPTY(&o->watches)) {
		o->version = ++s->revision;
		return;
	}
	if (s->changing && hold_back(o, op, key))
		return;
	emit(o, op, strlen(op), key);
}

void ag_changed_by(ag_object *o, const ag_conn *by, const char *op)
{
	ag_server *s = o->srv;

	if (s->changing && s->chg_obj == o && s->chg.conn == by)
		return;
	ag_changed(o, op, NULL);
}

void ag_changed_first(ag_object *o, const char *op, const ag_val *key)
{
	if (o->srv->txn != NULL) { /* held to its commit, in order */
		ag_changed(o, op, key);
		return;
	}
	if (LIST_EMPTY(&o->watches))
		o->version = ++o->srv->revision;
	else
		emit(o, op, strlen(op), key);
}

void ag_change_begin(ag_server *s)
{
	s->changing = true;
	s->held_call = s->nheld;
}

/* Whether @m's params[1] is the one key it changes. */
static bool keyed(const ag_family *fam, const ag_method *m)
{
	for (const char *const *k = fam->keyed; k != NULL && *k != NULL; k++)
		if (strcmp(*k, m->name) == 0)
			return true;
	return false;
}

/* Send every held change, in order, and forget it. */
static void send_held(ag_server *s)
{
	/* Sending cannot add to the list (it runs no call). */
	for (uint32_t i = 0; i < s->nheld; i++) {
		struct ag_held_change *h = &s->held[i];
		emit(h->obj, h->op, strlen(h->op), h->has_key ? &h->key : NULL);
		ag_val_deinit(&h->key);
		ag_object_unref(h->obj);
	}
	s->nheld = 0;
}

void ag_change_end(ag_req *r, const ag_method *m, bool changed)
{
	ag_server *s = r->srv;
	ag_object *o = r->obj;
	ag_val key, *k = NULL;

	if (s->txn != NULL) {
		/* Inside a transaction: the call's own change is held too,
		 * before those it made happen, and all wait for the commit
		 * (ag_change_flush). */
		if (!changed)
			return;
		if (LIST_EMPTY(&o->watches)) {
			o->version = ++s->revision;
			return;
		}
		if (keyed(o->fam, m) && r->argc >= 2 &&
		    ag_val_from_obj(&key, &r->argv[1]) == 0)
			k = &key;
		if (hold_back(o, m->name, k)) {
			struct ag_held_change own = s->held[s->nheld - 1];
			memmove(
			    &s->held[s->held_call + 1], &s->held[s->held_call],
			    (s->nheld - 1 - s->held_call) * sizeof(*s->held));
			s->held[s->held_call] = own;
		} else {
			emit(o, m->name, strlen(m->name), k);
		}
		if (k != NULL)
			ag_val_deinit(k);
		return;
	}
	s->changing = false;
	if (changed) {
		if (LIST_EMPTY(&o->watches)) {
			o->version = ++s->revision;
		} else {
			if (keyed(o->fam, m) && r->argc >= 2 &&
			    ag_val_from_obj(&key, &r->argv[1]) == 0)
				k = &key;
			emit(o, m->name, strlen(m->name), k);
			if (k != NULL)
				ag_val_deinit(k);
		}
	}
	/* The changes the call made others make, in order. */
	send_held(s);
}

void ag_change_flush(ag_server *s)
{
	s->changing = false;
	send_held(s);
}

void ag_change_discard(ag_server *s)
{
	for (uint32_t i = 0; i < s->nheld; i++) {
		ag_val_deinit(&s->held[i].key);
		ag_object_unref(s->held[i].obj);
	}
	s->nheld = 0;
}

/* ---- watch and unwatch ----------------------------------------------------
 */

/* What @w holds, counted in its connection's memory (reply.c). */
static size_t watch_bytes(const struct ag_watch *w)
{
	return sizeof(*w) + ag_val_heap(&w->key);
}

static void watch_free(struct ag_watch *w)
{
	w->conn->watch_bytes -= watch_bytes(w);
	LIST_REMOVE(w, olink);
	LIST_REMOVE(w, clink);
	ag_val_deinit(&w->key);
	ag_object_unref(w->obj);
	free(w);
}

void ag_watch_conn_gone(ag_conn *c)
{
	struct ag_watch *w;

	while ((w = LIST_FIRST(&c->watches)) != NULL)
		watch_free(w);
}

void ag_watch_server_free(ag_server *s)
{
	for (uint32_t i = 0; i < s->nheld; i++)
		ag_val_deinit(&s->held[i].key);
	free(s->held);
	s->held = NULL;
	s->nheld = s->capheld = 0;
}

/* Watches a connection may hold at once. */
#define WATCHES_MAX 4096

/*
 * watch [h, options={}] -> {"watch": W, "version": V, "run": R[,
 * "changed": bool]}. Options: "key" (a dict key or namespace attribute:
 * only its changes, and the changes that touch every key), "since" (a
 * version this watcher saw) with "run" (the run it saw it in): "changed"
 * tells whether the object changed after it, or may have (another run).
 */
int ag_srv_watch(ag_req *r)
{
	static const char *const allowed[] = { "key", "since", "run", NULL };
	ag_conn *c = r->to.conn;
	const msgpack_object *opts = NULL, *key, *since, *run;
	struct ag_watch *w;
	ag_object *o;
	int64_t h;
	unsigned n = 0;

	if (ag_arg_int(r, 0, &h) < 0)
		return AGORA_EARGS;
	o = h > 0 ? ag_conn_handle_get(c, (uint64_t)h) : NULL;
	if (o == NULL)
		return ag_reply_error(
		    &r->to, AGORA_ENO_OBJECT,
		    "watch: no handle %lld on this connection", (long long)h);
	if (!ag_user_may_obj(r, AG_RIGHT_READ, o))
		return AGORA_EDENIED;
	if (ag_arg_given(r, 1)) {
		opts = &r->argv[1];
		if (opts->type != MSGPACK_OBJECT_MAP) {
			char desc[96];
			ag_obj_describe(opts, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "watch: options must be a map, "
					      "got %s",
					      desc);
		}
		r->obj = o;
		if (ag_opts_check(r, opts, allowed) < 0)
			return AGORA_EARGS;
	}
	key = ag_opt(opts, "key");
	since = ag_opt(opts, "since");
	run = ag_opt(opts, "run");
	if (key != NULL && o->fam->keyed == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "watch: option key: a %s has no keys "
				      "(only a dict or a namespace)",
				      o->fam->name);
	if (since != NULL && since->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		char desc[96];
		ag_obj_describe(since, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "watch: option since must be a version "
				      "(an int of 0 or more), got %s",
				      desc);
	}
	if (run != NULL && run->type != MSGPACK_OBJECT_STR) {
		char desc[96];
		ag_obj_describe(run, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "watch: option run must be a str (the "
				      "run an earlier watch answered), got %s",
				      desc);
	}
	if (run != NULL && since == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "watch: option run needs since");
	LIST_FOREACH(w, &c->watches, clink)
	n++;
	if (n >= WATCHES_MAX)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "watch: a connection holds at most %d "
				      "watches",
				      WATCHES_MAX);
	w = calloc(1, sizeof(*w));
	if (w == NULL || (key != NULL && ag_val_from_obj(&w->key, key) < 0)) {
		free(w);
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "watch: out of memory");
	}
	w->keyed = key != NULL;
	w->id = ++c->last_watch;
	w->conn = c;
	w->obj = o;
	ag_object_ref(o);
	LIST_INSERT_HEAD(&o->watches, w, olink);
	LIST_INSERT_HEAD(&c->watches, w, clink);
	c->watch_bytes += watch_bytes(w);
	ag_conn_sync_mem(c);

	msgpack_packer *pk = ag_reply_begin(&r->to);
	msgpack_pack_map(pk, since != NULL ? 4 : 3);
	ag_pack_str(pk, "watch");
	msgpack_pack_uint64(pk, w->id);
	ag_pack_str(pk, "version");
	msgpack_pack_uint64(pk, o->version);
	ag_pack_str(pk, "run");
	ag_pack_str(pk, r->srv->run_id);
	if (since != NULL) {
		bool same_run = run == NULL ||
				(run->via.str.size == strlen(r->srv->run_id) &&
				 memcmp(run->via.str.ptr, r->srv->run_id,
					run->via.str.size) == 0);
		ag_pack_str(pk, "changed");
		if (!same_run || o->version > since->via.u64)
			msgpack_pack_true(pk);
		else
			msgpack_pack_false(pk);
	}
	return 0;
}

/* unwatch [W] -> bool: whether this connection had watch W. */
int ag_srv_unwatch(ag_req *r)
{
	struct ag_watch *w;
	int64_t id;

	if (ag_arg_int(r, 0, &id) < 0)
		return AGORA_EARGS;
	LIST_FOREACH(w, &r->to.conn->watches, clink)
	if ((int64_t)w->id == id)
		break;
	if (w != NULL) {
		watch_free(w);
		ag_conn_sync_mem(r->to.conn);
	}
	ag_reply_bool(&r->to, w != NULL);
	return 0;
}
