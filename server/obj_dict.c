/*
 * obj_dict.c - the "dict" family: Python's dict, shared.
 *
 * A dict is an ag_table (table.c) whose entries own a canonical key and a
 * stored value (.val). Insertion order is the table's: keys/values/items/
 * copy walk it, popitem takes its last entry, and setting an existing key
 * keeps its place. Lookups use ag_arg_key(), a canonical key borrowed from
 * the server's scratch buffer; it is copied (ag_val_dup) only when a new
 * entry is made, and no other argument helper runs between the lookup and
 * that copy, since one might reuse the scratch buffer.
 *
 * Every method checks its params and allocates what it needs before it
 * changes the dict, so a failed call leaves it as it was. Memory is
 * accounted with ag_object_mem(): the struct, the table's arrays and the
 * heap bytes of every key and value (none for those that fit inline in
 * their ag_val: ints, floats, short strings); destroy gives it all back.
 *
 * Persistence (protocol section 10): the journal records the write methods
 * as called, and a snapshot rebuilds a dict with "dict.update" calls of its
 * entries in order (dict_save()).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

typedef struct dict {
	ag_server *srv; /* for releasing the references values hold */
	ag_table t;
	size_t bytes;     /* heap bytes of keys and values (ag_val_heap) */
	size_t accounted; /* what ag_object_mem() has been told */
} dict;

static void sync_mem(ag_object *o, dict *d)
{
	size_t now = sizeof(*d) + (size_t)d->t.cap * sizeof(ag_entry) +
		     (size_t)d->t.nslots * sizeof(uint32_t) + d->bytes;

	if (now != d->accounted) {
		ag_object_mem(o, (ssize_t)now - (ssize_t)d->accounted);
		d->accounted = now;
	}
}

/* Free a stored value, releasing what its references hold. Values moved
 * out (update()'s staging arrays, a value given away) are empty. */
static void val_free(dict *d, ag_val *v)
{
	if (!ag_val_is_empty(v))
		ag_val_free(d->srv, v);
}

static int oom(ag_req *r)
{
	return ag_reply_error(&r->to, AGORA_ELIMIT, "out of memory in %.*s",
			      (int)r->methodlen, r->method);
}

/* An owned copy of the borrowed @key for a new entry, holding what its
 * references name. Answers and returns the error. */
static int own_key(ag_req *r, const ag_val *key, ag_val *ret)
{
	size_t len = ag_val_len(key);
	int rc;

	/* The new entry and the key's bytes count against --max-memory. */
	if ((rc = ag_memory_check(r, sizeof(ag_entry) +
					 (len > AG_VAL_INLINE_MAX ? len : 0))) <
	    0)
		return rc;
	if (ag_val_dup(ret, key) < 0)
		return oom(r);
	if ((rc = ag_val_hold(r, ret)) < 0)
		ag_val_deinit(ret);
	return rc;
}

static const char *describe(const msgpack_object *o, char *buf, size_t len)
{
	ag_obj_describe(o, buf, len);
	return buf;
}

/*
 * Look argv[@i] up as a key. On success returns 0 with *ret_key (borrowed,
 * valid until another argument helper runs), *ret_hash and *ret (the entry,
 * or NULL when absent). Answers TYPE for an unhashable key and returns it.
 */
static int lookup(ag_req *r, dict *d, uint32_t i, ag_val *ret_key,
		  uint64_t *ret_hash, ag_entry **ret)
{
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = ag_arg_key(r, i, &key)) < 0)
		return rc;
	h = ag_table_hash(&d->t, &key);
	*ret = ag_table_find(&d->t, &key, h);
	*ret_key = key;
	*ret_hash = h;
	return 0;
}

static int missing_key(ag_req *r, uint32_t i)
{
	char desc[96];

	return ag_reply_error(&r->to, AGORA_EKEY, "key %s not found",
			      describe(&r->argv[i], desc, sizeof(desc)));
}

/* Add @key -> @val, taking both on success. AGORA_ENOMEM: both untouched. */
static int add_entry(dict *d, ag_val *key, uint64_t hash, ag_val *val)
{
	ag_entry *e = ag_table_add(&d->t, key, hash);

	if (e == NULL)
		return AGORA_ENOMEM;
	e->val = *val;
	d->bytes += ag_val_heap(key) + ag_val_heap(val);
	return 0;
}

/* add_entry() of a new key from own_key() and a value that holds what its
 * references name; when there is no memory both are freed, their holds
 * released, and LIMIT answered and returned. */
static int add_new(ag_req *r, dict *d, ag_val *owned, uint64_t hash,
		   ag_val *val)
{
	if (add_entry(d, owned, hash, val) == 0)
		return 0;
	ag_val_free(r->srv, owned);
	ag_val_free(r->srv, val);
	return oom(r);
}

/* Replace the value of @e with @val (taken). */
static void replace_val(dict *d, ag_entry *e, ag_val *val)
{
	d->bytes -= ag_val_heap(&e->val);
	val_free(d, &e->val);
	e->val = *val;
	d->bytes += ag_val_heap(val);
}

/* Free @e's key and value and take it out. A value given away before is
 * empty (its bytes were already discounted). */
static void drop_entry(dict *d, ag_entry *e)
{
	d->bytes -= ag_val_heap(&e->key) + ag_val_heap(&e->val);
	val_free(d, &e->val);
	ag_val_release(d->srv, &e->key);
	ag_table_remove(&d->t, e);
}

/* Take @e out once its key and value are in the answer: the value's holds
 * pass to the asking connection, the key's are released. */
static void give_entry(ag_req *r, dict *d, ag_entry *e)
{
	d->bytes -= ag_val_heap(&e->val);
	ag_val_give(r->to.conn, &e->val);
	drop_entry(d, e);
	sync_mem(r->obj, d);
}

/* What pack_entries() answers with. */
enum walk { KEYS, VALUES, ITEMS, COPY };

/* Every entry in insertion order, as an array of keys, of values or of
 * [key, value] pairs, or as a map (copy). */
static void pack_entries(ag_req *r, dict *d, enum walk w)
{
	msgpack_packer *pk = ag_reply_begin(&r->to);

	if (w == COPY)
		msgpack_pack_map(pk, d->t.count);
	else
		msgpack_pack_array(pk, d->t.count);
	ag_table_foreach (&d->t, e) {
		if (w == ITEMS)
			msgpack_pack_array(pk, 2);
		if (w != VALUES)
			ag_pack_val(pk, &e->key);
		if (w != KEYS)
			ag_pack_val(pk, &e->val);
	}
}

/* Every entry, for clear and destroy. */
static void drop_all(dict *d)
{
	ag_table_foreach (&d->t, e) {
		val_free(d, &e->val);
		ag_val_release(d->srv, &e->key);
	}
	ag_table_clear_vals(&d->t);
	d->bytes = 0;
}

/* The default of get/pop/setdefault: argv[@i] as sent, or nil. */
static void reply_default(ag_req *r, uint32_t i)
{
	if (r->argc > i)
		ag_pack_arg(ag_reply_begin(&r->to), r, i);
	else
		ag_reply_nil(&r->to);
}

/* ---- methods ------------------------------------------------------------- */

static int dict_get(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e != NULL)
		ag_reply_val(&r->to, &e->val);
	else
		reply_default(r, 2);
	return 0;
}

static int dict_getitem(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	ag_reply_val(&r->to, &e->val);
	return 0;
}

static int dict_set(ag_req *r)
{
	dict *d = r->obj->data;
	ag_val key, owned, val;
	ag_entry *e;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e != NULL) {
		if ((rc = ag_arg_val(r, 2, &val)) < 0)
			return rc;
		replace_val(d, e, &val);
	} else {
		if ((rc = ag_items_check(r, d->t.count, 1)) < 0)
			return rc;
		/* Own the key before ag_arg_val() may reuse the scratch. */
		if ((rc = own_key(r, &key, &owned)) < 0)
			return rc;
		if ((rc = ag_arg_val(r, 2, &val)) < 0) {
			ag_val_free(r->srv, &owned);
			return rc;
		}
		if ((rc = add_new(r, d, &owned, h, &val)) < 0)
			return rc;
	}
	sync_mem(r->obj, d);
	ag_reply_nil(&r->to);
	return 0;
}

static int dict_delete(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	drop_entry(d, e);
	sync_mem(r->obj, d);
	ag_reply_nil(&r->to);
	return 0;
}

static int dict_contains(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	ag_reply_bool(&r->to, e != NULL);
	return 0;
}

static int dict_len(ag_req *r)
{
	dict *d = r->obj->data;

	ag_reply_uint(&r->to, d->t.count);
	return 0;
}

static int dict_keys(ag_req *r)
{
	pack_entries(r, r->obj->data, KEYS);
	return 0;
}

static int dict_values(ag_req *r)
{
	pack_entries(r, r->obj->data, VALUES);
	return 0;
}

static int dict_items(ag_req *r)
{
	pack_entries(r, r->obj->data, ITEMS);
	return 0;
}

/* pop(k[, default]): a default given, even nil, means no KEY error. */
static int dict_pop(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL) {
		if (r->argc <= 2)
			return missing_key(r, 1);
		reply_default(r, 2);
		return 0;
	}
	ag_reply_val(&r->to, &e->val);
	give_entry(r, d, e);
	return 0;
}

static int dict_popitem(ag_req *r)
{
	dict *d = r->obj->data;
	ag_entry *e = ag_table_last(&d->t);
	msgpack_packer *pk;

	if (e == NULL)
		return ag_reply_error(&r->to, AGORA_EKEY,
				      "popitem(): dictionary is empty");
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, 2);
	ag_pack_val(pk, &e->key);
	ag_pack_val(pk, &e->val);
	give_entry(r, d, e);
	return 0;
}

/* Canonical nil, for setdefault without a default. */
static int nil_val(ag_val *ret)
{
	msgpack_object nil;

	memset(&nil, 0, sizeof(nil));
	nil.type = MSGPACK_OBJECT_NIL;
	return ag_val_from_obj(ret, &nil);
}

static int dict_setdefault(ag_req *r)
{
	dict *d = r->obj->data;
	ag_val key, owned, val;
	ag_entry *e;
	uint64_t h;
	int rc;

	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e != NULL) {
		ag_reply_val(&r->to, &e->val);
		return 0;
	}
	if ((rc = ag_items_check(r, d->t.count, 1)) < 0)
		return rc;
	if ((rc = own_key(r, &key, &owned)) < 0)
		return rc;
	if (r->argc > 2)
		rc = ag_arg_val(r, 2, &val);
	else if ((rc = nil_val(&val)) < 0)
		rc = oom(r);
	if (rc < 0) {
		ag_val_free(r->srv, &owned);
		return rc;
	}
	if ((rc = add_new(r, d, &owned, h, &val)) < 0)
		return rc;
	sync_mem(r->obj, d);
	ag_reply_val(&r->to, &val);
	return 0;
}

/*
 * update(map). All keys and values are encoded first (an unhashable key is
 * TYPE, a malformed reference VALUE); then the new keys are added with
 * empty values, undone from the end of the table if one add runs out of
 * memory; only then are the values stored, in the map's order, so a key
 * that appears twice ends with its last value, as in Python.
 */
static int dict_update(ag_req *r)
{
	dict *d = r->obj->data;
	ag_items m;
	ag_item k, v;
	ag_val *keys = NULL, *vals = NULL;
	uint64_t *hashes = NULL;
	bool *owned = NULL;
	uint32_t i, n, nadded = 0;
	bool over = false; /* max_items reached while adding new keys */
	int rc;

	if ((rc = ag_arg_pairs(r, 1, &m)) < 0)
		return rc;
	if (m.count == 0) {
		ag_reply_nil(&r->to);
		return 0;
	}
	/* Each pair costs an entry at least, and this call 41 bytes of
	 * bookkeeping while it runs: refused before any of it past
	 * --max-memory. */
	if (m.count > UINT32_MAX)
		return ag_items_check(r, d->t.count, UINT32_MAX);
	n = (uint32_t)m.count;
	if ((rc = ag_memory_check(r, (size_t)n * sizeof(ag_entry) +
					 r->raw[1].len)) < 0)
		return rc;
	keys = calloc(n, sizeof(*keys));
	vals = calloc(n, sizeof(*vals));
	hashes = calloc(n, sizeof(*hashes));
	owned = calloc(n, sizeof(*owned));
	if (keys == NULL || vals == NULL || hashes == NULL || owned == NULL) {
		rc = oom(r);
		goto out;
	}
	for (i = 0; i < n && ag_items_next(&m, &k) && ag_items_next(&m, &v);
	     i++) {
		if ((rc = ag_span_key(r, &k.raw, "the key of entry", i,
				      &keys[i])) < 0)
			goto out;
		/* Own the key before the next key may reuse the scratch. */
		ag_val view = keys[i];
		if ((rc = ag_val_dup(&keys[i], &view)) < 0) {
			memset(&keys[i], 0, sizeof(keys[i]));
			rc = oom(r);
			goto out;
		}
		if ((rc = ag_val_hold(r, &keys[i])) < 0) {
			ag_val_deinit(&keys[i]);
			goto out;
		}
		owned[i] = true;
		if ((rc = ag_span_val(r, &v.raw, "the value of entry", i,
				      &vals[i])) < 0)
			goto out;
		hashes[i] = ag_table_hash(&d->t, &keys[i]);
	}
	for (i = 0; i < n; i++) {
		ag_val none = { 0 };

		if (ag_table_find(&d->t, &keys[i], hashes[i]) != NULL)
			continue;
		if (d->t.count >= AG_ITEMS_MAX ||
		    (d->srv->max_items && d->t.count >= d->srv->max_items)) {
			over = true;
			break;
		}
		if (add_entry(d, &keys[i], hashes[i], &none) < 0)
			break;
		/* The table owns the key now; keys[i] is still a copy of
		 * it (or points at its heap bytes) for the lookups below. */
		owned[i] = false;
		nadded++;
	}
	if (i < n) {
		size_t had = d->t.count - nadded;
		while (nadded-- > 0)
			drop_entry(d, ag_table_last(&d->t));
		sync_mem(r->obj, d);
		rc = over ? ag_items_check(r, had, n) : oom(r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ag_entry *e = ag_table_find(&d->t, &keys[i], hashes[i]);

		replace_val(d, e, &vals[i]);
		memset(&vals[i], 0, sizeof(vals[i])); /* moved: now empty */
	}
	sync_mem(r->obj, d);
	ag_reply_nil(&r->to);
	rc = 0;
out:
	for (i = 0; vals != NULL && i < n; i++)
		val_free(d, &vals[i]);
	for (i = 0; keys != NULL && owned != NULL && i < n; i++)
		if (owned[i])
			val_free(d, &keys[i]);
	free(keys);
	free(vals);
	free(hashes);
	free(owned);
	return rc;
}

static int dict_clear(ag_req *r)
{
	dict *d = r->obj->data;

	drop_all(d);
	sync_mem(r->obj, d);
	ag_reply_nil(&r->to);
	return 0;
}

static int dict_copy(ag_req *r)
{
	pack_entries(r, r->obj->data, COPY);
	return 0;
}

static bool is_number(const msgpack_object *o)
{
	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		return true;
	default:
		return false;
	}
}

/*
 * incr(k, delta=1) -> the new value. A missing key counts as 0 (so an int
 * 0 plus a float delta gives a float, as d.get(k, 0) + delta does). A nil
 * delta is the default. The stored value changes only once the sum is
 * known to fit.
 */
static int dict_incr(ag_req *r)
{
	dict *d = r->obj->data;
	msgpack_object delta, cur, sum;
	ag_val key, owned, val;
	char da[96], db[96];
	ag_entry *e;
	uint64_t h;
	int rc, which;

	/* Params in order, as Python hashes d[k] before it adds. */
	if ((rc = lookup(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	memset(&delta, 0, sizeof(delta));
	delta.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	delta.via.u64 = 1;
	if (ag_arg_given(r, 2)) {
		if (!is_number(&r->argv[2]))
			return ag_reply_error(
			    &r->to, AGORA_ETYPE,
			    "dict.incr: delta must be a number, not %s",
			    describe(&r->argv[2], da, sizeof(da)));
		delta = r->argv[2];
	}
	memset(&cur, 0, sizeof(cur));
	cur.type = MSGPACK_OBJECT_POSITIVE_INTEGER;
	cur.via.u64 = 0;
	if (e != NULL &&
	    ag_val_unpack(&e->val, ag_server_zone(r->srv), &cur) < 0)
		return oom(r);
	rc = ag_num_add(&cur, &delta, &sum, &which);
	if (rc == AGORA_ETYPE)
		return ag_reply_error(
		    &r->to, AGORA_ETYPE,
		    "dict.incr: the value of key %s is %s, not a number",
		    describe(&r->argv[1], da, sizeof(da)),
		    describe(which == 0 ? &cur : &delta, db, sizeof(db)));
	if (rc == AGORA_EVALUE)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE,
		    "dict.incr: %s + %s is out of the integer range",
		    describe(&cur, da, sizeof(da)),
		    describe(&delta, db, sizeof(db)));
	if (rc < 0 || ag_val_from_obj(&val, &sum) < 0)
		return oom(r);
	if (e != NULL) {
		replace_val(d, e, &val);
	} else {
		if ((rc = ag_items_check(r, d->t.count, 1)) < 0 ||
		    (rc = own_key(r, &key, &owned)) < 0) {
			ag_val_deinit(&val);
			return rc;
		}
		/* A number holds no references: add_new() may free it. */
		if ((rc = add_new(r, d, &owned, h, &val)) < 0)
			return rc;
	}
	sync_mem(r->obj, d);
	ag_reply_val(&r->to, &val);
	return 0;
}

/* ---- persistence --------------------------------------------------------- */

/* Bytes of keys and values a snapshot record holds at most, past its first
 * entry: a dict of large values makes records of about this size. */
#define SAVE_BYTES ((size_t)1 << 20)

/*
 * The records that rebuild a dict: "dict.update" calls of its entries in
 * insertion order, at most AG_SAVE_CHUNK entries each and, past the first
 * entry, at most SAVE_BYTES bytes, keys and values their stored bytes.
 * update() adds the new keys of a map in its order, so an empty dict
 * updated with them has the same entries in the same order. 0, AGORA_EIO
 * when no record could be begun, or the error of ag_save_end().
 */
static int dict_save(ag_object *o, ag_save *sv)
{
	dict *d = o->data;
	ag_entry *e = d->t.entries, *end;
	msgpack_packer *pk;
	int rc;

	if (e == NULL)
		return 0;
	end = e + d->t.used;
	while (e < end) {
		ag_entry *stop;
		uint32_t k = 0;
		size_t bytes = 0;

		for (stop = e; stop < end && k < AG_SAVE_CHUNK; stop++) {
			size_t sz;

			if (ag_val_is_empty(&stop->key))
				continue;
			sz = ag_val_len(&stop->key) + ag_val_len(&stop->val);
			if (k > 0 && bytes + sz > SAVE_BYTES)
				break;
			bytes += sz;
			k++;
		}
		if (k == 0)
			break; /* only deleted entries were left */
		if ((pk = ag_save_call(sv, o, "dict.update", 1)) == NULL)
			return AGORA_EIO;
		msgpack_pack_map(pk, k);
		for (; e < stop; e++) {
			if (ag_val_is_empty(&e->key))
				continue;
			ag_pack_val(pk, &e->key);
			ag_pack_val(pk, &e->val);
		}
		if ((rc = ag_save_end(sv)) != 0)
			return rc;
	}
	return 0;
}

/* ---- family -------------------------------------------------------------- */

/* A dict takes no open options. */
static int dict_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	static const char *const allowed[] = { NULL };
	dict *d;
	int rc;

	if ((rc = ag_opts_check(r, opts, allowed)) < 0)
		return rc;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "out of memory creating a dict");
	ag_table_init(&d->t, ag_server_seed(r->srv));
	d->srv = r->srv;
	o->data = d;
	sync_mem(o, d);
	return 0;
}

/* Frees every key and value and gives back all the memory it accounted. */
static void dict_destroy(ag_object *o)
{
	dict *d = o->data;

	if (d == NULL)
		return;
	drop_all(d);
	ag_object_mem(o, -(ssize_t)d->accounted);
	free(d);
	o->data = NULL;
}

static bool dict_length(ag_object *o, size_t *ret)
{
	dict *d = o->data;

	*ret = d->t.count;
	return true;
}

static unsigned dict_info_count(ag_object *o)
{
	return 0;
}

static void dict_info_pack(ag_object *o, msgpack_packer *pk)
{
}

static void dict_conn_gone(ag_object *o, ag_conn *c)
{
}

static const ag_method dict_methods[] = {
	{ "get", dict_get, 2, 3, AG_STORES_NONE, AG_RIGHT_READ },
	{ "getitem", dict_getitem, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", dict_set, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "delete", dict_delete, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "contains", dict_contains, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "len", dict_len, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "keys", dict_keys, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "values", dict_values, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "items", dict_items, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "pop", dict_pop, 2, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "popitem", dict_popitem, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "setdefault", dict_setdefault, 2, 3, AG_STORES_BYTES,
	  AG_RIGHT_WRITE },
	{ "update", dict_update, 2, 2, AG_STORES_ITEMS, AG_RIGHT_WRITE },
	{ "clear", dict_clear, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "copy", dict_copy, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "incr", dict_incr, 2, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_dict = {
	.name = "dict",
	.base = NULL,
	.methods = dict_methods,
	.create = dict_create,
	.destroy = dict_destroy,
	.len = dict_length,
	.info_count = dict_info_count,
	.info_pack = dict_info_pack,
	.conn_gone = dict_conn_gone,
	/* Every write method replays as it ran: none reads a clock or draws
	 * anything random; the table's order is insertion order, whatever
	 * the hash seed of the server. */
	.persist = AG_PERSIST_CALLS,
	.save_opts = NULL, /* no options */
	.save = dict_save,
};
