/*
 * obj_namespace.c - the "namespace" family: multiprocessing's Namespace, a
 * bag of named attributes.
 *
 * State (struct ns): an ag_table (table.c) from the canonical bytes of the
 * attribute name (a str) to an owned stored value (.val), in insertion
 * order, as Python keeps an object's __dict__.
 *
 *   get(attr)     -> the value; KEY when there is no such attribute
 *   set(attr, v)  -> nil; an existing attribute keeps its place
 *   delete(attr)  -> nil; KEY when there is no such attribute
 *   items()       -> map attr -> value, in insertion order
 *
 * @attr must be a str (ARGS otherwise). Lookups use ag_arg_key(), borrowed
 * from the server's scratch buffer, copied (ag_val_dup) before ag_arg_val()
 * may reuse that buffer. Each method validates and allocates before it
 * changes anything. No options, and no length (as in Python).
 * Memory accounted: the state, the table's arrays and the heap bytes of
 * every name and value (none for those that fit inline in their ag_val).
 * Persistence (protocol section 10): set and delete are journaled as
 * called; a snapshot rebuilds a namespace with one set per attribute.
 * Transactions (docs/protocol.md section 12): the copy kept to undo with
 * is the whole table (ag_table_copy), its values holding what their
 * references name.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct ns {
	ag_table t;
	size_t bytes;     /* heap bytes of keys and values (ag_val_heap) */
	size_t accounted; /* what ag_object_mem() has been told */
};

static void sync_mem(ag_object *o, struct ns *n)
{
	size_t now = sizeof(*n) + (size_t)n->t.cap * sizeof(ag_entry) +
		     (size_t)n->t.nslots * sizeof(uint32_t) + n->bytes;

	if (now != n->accounted) {
		ag_object_mem(o, (ssize_t)now - (ssize_t)n->accounted);
		n->accounted = now;
	}
}

/*
 * Look the attribute argv[1] up. Returns 0 with *ret_key (borrowed, valid
 * until another argument helper runs), *ret_hash and *ret (the entry or
 * NULL), or answers ARGS (not a str) and returns it.
 */
static int lookup(ag_req *r, struct ns *n, ag_val *ret_key, uint64_t *ret_hash,
		  ag_entry **ret)
{
	ag_val key;
	uint64_t h;
	int rc;

	if (r->argv[1].type != MSGPACK_OBJECT_STR) {
		char desc[96];
		ag_obj_describe(&r->argv[1], desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: the attribute name must be a "
				      "str, got %s",
				      (int)r->methodlen, r->method, desc);
	}
	/* An attribute is a name: strict UTF-8 without NUL, as open's. */
	if (!ag_utf8_valid(r->argv[1].via.str.ptr, r->argv[1].via.str.size) ||
	    memchr(r->argv[1].via.str.ptr, '\0', r->argv[1].via.str.size))
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: the attribute name is not valid "
				      "UTF-8 or contains a NUL byte",
				      (int)r->methodlen, r->method);
	rc = ag_arg_key(r, 1, &key);
	if (rc < 0)
		return rc;
	h = ag_table_hash(&n->t, &key);
	*ret = ag_table_find(&n->t, &key, h);
	*ret_key = key;
	*ret_hash = h;
	return 0;
}

static int missing(ag_req *r)
{
	return ag_reply_error(
	    &r->to, AGORA_EKEY, "namespace has no attribute \"%.*s\"",
	    (int)r->argv[1].via.str.size, r->argv[1].via.str.ptr);
}

static int oom(ag_req *r)
{
	return ag_reply_error(&r->to, AGORA_ELIMIT, "out of memory in %.*s",
			      (int)r->methodlen, r->method);
}

/* ---- methods ------------------------------------------------------------- */

static int namespace_get(ag_req *r)
{
	struct ns *n = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	rc = lookup(r, n, &key, &h, &e);
	if (rc < 0)
		return rc;
	if (e == NULL)
		return missing(r);
	ag_reply_val(&r->to, &e->val);
	return 0;
}

static int namespace_set(ag_req *r)
{
	struct ns *n = r->obj->data;
	ag_val key, owned, val;
	ag_entry *e;
	uint64_t h;
	int rc;

	rc = lookup(r, n, &key, &h, &e);
	if (rc < 0)
		return rc;
	if (e != NULL) {
		rc = ag_arg_val(r, 2, &val);
		if (rc < 0)
			return rc;
		n->bytes += ag_val_heap(&val);
		n->bytes -= ag_val_heap(&e->val);
		ag_val_free(r->srv, &e->val);
		e->val = val;
	} else {
		if ((rc = ag_items_check(r, n->t.count, 1)) < 0)
			return rc;
		/* The new name counts against --max-memory. */
		if ((rc = ag_memory_check(r, sizeof(ag_entry) +
						 ag_val_len(&key))) < 0)
			return rc;
		/* Own the name before ag_arg_val() may reuse the scratch. */
		if (ag_val_dup(&owned, &key) < 0)
			return oom(r);
		rc = ag_arg_val(r, 2, &val);
		if (rc < 0) {
			ag_val_deinit(&owned);
			return rc;
		}
		e = ag_table_add(&n->t, &owned, h);
		if (e == NULL) {
			ag_val_deinit(&owned); /* a str: it holds nothing */
			ag_val_free(r->srv, &val);
			return oom(r);
		}
		e->val = val;
		n->bytes += ag_val_heap(&owned) + ag_val_heap(&val);
	}
	sync_mem(r->obj, n);
	ag_reply_nil(&r->to);
	return 0;
}

static int namespace_delete(ag_req *r)
{
	struct ns *n = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	rc = lookup(r, n, &key, &h, &e);
	if (rc < 0)
		return rc;
	if (e == NULL)
		return missing(r);
	n->bytes -= ag_val_heap(&e->key) + ag_val_heap(&e->val);
	ag_val_free(r->srv, &e->val);
	ag_table_remove(&n->t, e);
	sync_mem(r->obj, n);
	ag_reply_nil(&r->to);
	return 0;
}

static int namespace_items(ag_req *r)
{
	struct ns *n = r->obj->data;
	msgpack_packer *pk = ag_reply_begin(&r->to);

	msgpack_pack_map(pk, n->t.count);
	ag_table_foreach (&n->t, e) {
		ag_pack_val(pk, &e->key);
		ag_pack_val(pk, &e->val);
	}
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

/*
 * The records that rebuild a namespace: one "namespace.set" [name, value]
 * per attribute, in insertion order (set adds a new name at the end), each
 * its stored bytes. 0, AGORA_EIO when no record could be begun, or the
 * error of ag_save_end().
 */
static int ns_save(ag_object *o, ag_save *sv)
{
	struct ns *n = o->data;
	msgpack_packer *pk;
	int rc;

	ag_table_foreach (&n->t, e) {
		if ((pk = ag_save_call(sv, o, "namespace.set", 2)) == NULL)
			return AGORA_EIO;
		ag_pack_val(pk, &e->key);
		ag_pack_val(pk, &e->val);
		if ((rc = ag_save_end(sv)) != 0)
			return rc;
	}
	return 0;
}

/* ---- transactions -------------------------------------------------------- */

/* What a transaction keeps to undo with (docs/protocol.md section 12): a
 * copy of the state, its table laid out as the original (same entries,
 * removed ones included, same index, same capacity), its values holding
 * what their references name; and the memory accounted. */
struct ns_saved {
	struct ns n;
	size_t mem;
};

static void ref_hold(void *ud, ag_object *ref)
{
	(void)ud;
	ag_object_ref(ref);
}

/* Free table @t and its values, releasing what they hold. */
static void ns_free_table(ag_server *s, ag_table *t)
{
	ag_table_foreach (t, e)
		ag_val_free(s, &e->val);
	ag_table_clear_vals(t);
}

static void *ns_txn_save(ag_object *o)
{
	struct ns *n = o->data;
	struct ns_saved *sv = malloc(sizeof(*sv));
	ag_table *t;

	if (sv == NULL)
		return NULL;
	t = &sv->n.t;
	if (ag_table_copy(t, &n->t) < 0) {
		free(sv);
		return NULL;
	}
	/* The copy's entries array is as long as needed: give it the
	 * original's capacity, so the table grows later as it would have. */
	if (t->cap != n->t.cap) {
		if (n->t.cap == 0) {
			free(t->entries);
			t->entries = NULL;
		} else {
			ag_entry *e = realloc(t->entries, (size_t)n->t.cap *
							      sizeof(ag_entry));
			if (e == NULL) {
				ag_table_clear_vals(t);
				free(sv);
				return NULL;
			}
			t->entries = e;
		}
		t->cap = n->t.cap;
	}
	ag_table_foreach (t, e)
		ag_val_foreach_ref(o->srv, &e->val, ref_hold, NULL);
	sv->n.bytes = n->bytes;
	sv->n.accounted = n->accounted;
	sv->mem = o->mem;
	return sv;
}

static void ns_txn_restore(ag_object *o, void *saved)
{
	struct ns *n = o->data;
	struct ns_saved *sv = saved;

	ns_free_table(o->srv, &n->t);
	*n = sv->n; /* the values' holds go with them */
	ag_object_mem(o, (ssize_t)sv->mem - (ssize_t)o->mem);
	free(sv);
}

static void ns_txn_drop(ag_object *o, void *saved)
{
	struct ns_saved *sv = saved;

	ns_free_table(o->srv, &sv->n.t);
	free(sv);
}

/* ---- family -------------------------------------------------------------- */

static const char *const ns_options[] = { NULL };

/* Set up an empty namespace. Returns 0, or the code answered: ARGS (any
 * option), LIMIT (out of memory). */
static int ns_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	struct ns *n;
	int rc;

	rc = ag_opts_check(r, opts, ns_options);
	if (rc < 0)
		return rc;
	n = calloc(1, sizeof(*n));
	if (n == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a "
				      "namespace");
	ag_table_init(&n->t, ag_server_seed(r->srv));
	o->data = n;
	sync_mem(o, n);
	return 0;
}

static void ns_destroy(ag_object *o)
{
	struct ns *n = o->data;

	if (n == NULL)
		return;
	ag_object_mem(o, -(ssize_t)n->accounted);
	ag_table_foreach (&n->t, e)
		ag_val_free(o->srv, &e->val);
	ag_table_clear_vals(&n->t);
	free(n);
	o->data = NULL;
}

/* Like Python's Namespace, it has no len(). */
static bool ns_len(ag_object *o, size_t *ret)
{
	return false;
}

static unsigned ns_info_count(ag_object *o)
{
	return 0;
}

static void ns_info_pack(ag_object *o, msgpack_packer *pk)
{
}

/* Methods whose params[1] is the one attribute they change (watch.c). */
static const char *const ns_keyed[] = { "set", "delete", NULL };

static const ag_method ns_methods[] = {
	{ "get", namespace_get, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", namespace_set, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "delete", namespace_delete, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "items", namespace_items, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_namespace = {
	.name = "namespace",
	.base = NULL,
	.methods = ns_methods,
	.keyed = ns_keyed,
	.create = ns_create,
	.destroy = ns_destroy,
	.len = ns_len,
	.info_count = ns_info_count,
	.info_pack = ns_info_pack,
	.conn_gone = NULL,
	/* set and delete replay as they ran. */
	.persist = AG_PERSIST_CALLS,
	.save_opts = NULL, /* no options */
	.save = ns_save,
	.txn_save = ns_txn_save,
	.txn_restore = ns_txn_restore,
	.txn_drop = ns_txn_drop,
	.wake = NULL, /* serves no one */
	.txn_refused = NULL,
};
