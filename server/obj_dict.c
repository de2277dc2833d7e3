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
 * Expiry (protocol section 4.2, "Per-key TTL"): a key may have a deadline;
 * a key past it is absent for every method at once, and reclaimed in the
 * background by the sweep (dict_keys.c, which keeps the entries and their
 * deadlines; struct dict in dict.h). len subtracts the expired keys not
 * yet reclaimed (ag_dict_live(): O(expired)).
 *
 * Persistence (protocol section 10): the journal records the write methods
 * as called, but never a relative time and never a clock's reading: the
 * methods that can meet an expired key or set a TTL record themselves
 * (AG_JOURNAL_SELF), after a "dict.expired" record of the expired keys
 * they remove, and a TTL as "dict.expire_at" with its absolute deadline;
 * the sweep records what it removes as "dict.expired". While the server
 * loads, no key expires (the clock is not read): every removal the
 * running server made is in the journal, so the replay makes the same
 * dict, and the keys whose deadline passed meanwhile expire once it is
 * done. A snapshot rebuilds a dict with "dict.update" calls of its
 * entries in order, then a "dict.expire_at" call for each key with a TTL,
 * expired ones included (the child that writes it does not read the
 * clock either: the journal after it may still name them).
 *
 * Transactions (docs/protocol.md section 12): what is kept to undo with is
 * at first a log of the values set, incr and setdefault replace and the
 * keys they add (dict_keys.c), while the dict has no deadline and an add
 * needs no room; before any other change, a whole copy of the dict
 * (ag_dict_copy(): its entries with the table's layout, the deadlines in
 * the heap's order, the counters and the memory figures, its keys and
 * values holding what their references name; the other write methods
 * make it first, see the method table). A rollback undoes the log, or
 * puts the copy back and arms the sweep for its deadlines. A write that
 * meets an expired key within one reclaims it as anywhere (journaled as
 * "dict.expired" inside the transaction's record). A dict has no waiters:
 * nothing to defer, nothing refused.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dict.h"

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
 * A TTL param: a number of seconds > 0 (and at most TTL_MAX), as the
 * deadline it makes from now. 0 with *ret, or VALUE answered and returned.
 */
static int arg_ttl(ag_req *r, uint32_t i, const char *what, int64_t *ret)
{
	const msgpack_object *o = &r->argv[i];
	char desc[96];
	double s;

	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		s = (double)o->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		s = (double)o->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		s = o->via.f64;
		break;
	default:
		s = NAN;
	}
	if (!(s > 0 && s <= TTL_MAX))
		return ag_reply_error(
		    &r->to, AGORA_EVALUE,
		    "%.*s: %s must be a number of seconds > 0 (at most %g), "
		    "not %s",
		    (int)r->methodlen, r->method, what, TTL_MAX,
		    describe(o, desc, sizeof(desc)));
	*ret = ag_wall_us() + (int64_t)(s * 1e6 + 0.5);
	return 0;
}

/* A deadline param: Unix seconds >= 0 (at most DEADLINE_MAX). */
static int arg_deadline(ag_req *r, uint32_t i, int64_t *ret)
{
	const msgpack_object *o = &r->argv[i];
	char desc[96];
	double s;

	switch (o->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		s = (double)o->via.u64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		s = o->via.f64;
		break;
	default:
		s = NAN;
	}
	if (!(s >= 0 && s <= DEADLINE_MAX))
		return ag_reply_error(
		    &r->to, AGORA_EVALUE,
		    "%.*s: the deadline must be Unix seconds >= 0 (at most "
		    "%g), not %s",
		    (int)r->methodlen, r->method, DEADLINE_MAX,
		    describe(o, desc, sizeof(desc)));
	*ret = (int64_t)(s * 1e6 + 0.5);
	return 0;
}

/* Pack a deadline as Unix seconds. */
static void pack_deadline(msgpack_packer *pk, int64_t deadline)
{
	msgpack_pack_double(pk, (double)deadline / 1e6);
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

/* ag_dict_add() of a new key from own_key() and a value that holds what its
 * references name; when there is no memory both are freed, their holds
 * released, and LIMIT answered and returned. */
static int add_new(ag_req *r, dict *d, ag_val *owned, uint64_t hash,
		   ag_val *val, ag_entry **ret)
{
	if (ag_dict_add(d, owned, hash, val, ret) == 0)
		return 0;
	ag_val_free(r->srv, owned);
	ag_val_free(r->srv, val);
	return oom(r);
}

/* Take @e out once its key and value are in the answer: the value's holds
 * pass to the asking connection, the key's are released. */
static void give_entry(ag_req *r, dict *d, ag_entry *e)
{
	d->bytes -= ag_val_heap(&e->val);
	ag_val_give(r->to.conn, &e->val);
	ag_dict_drop(d, e);
	ag_dict_sync_mem(r->obj, d);
}

/* Record request @r as made: the methods marked AG_JOURNAL_SELF, once they
 * have succeeded. */
static void journal_self(ag_req *r)
{
	if (ag_persist_on(r->srv))
		ag_journal_request(r);
}

/*
 * Inside a transaction (dict.h): before set, incr or setdefault changes
 * anything, the log of what it keeps gets room, or becomes the whole copy
 * when the call may do more than replace a value or add a key that needs
 * no room (@full: a deadline involved). Answers LIMIT and returns it when
 * out of memory, nothing changed.
 */
static int txn_prepare(ag_req *r, dict *d, bool full)
{
	if (full || d->ttl.count > 0 ? ag_dict_txn_full(r->obj) < 0
				     : ag_dict_txn_prepare(r->obj) < 0)
		return oom(r);
	return 0;
}

/* lookup() for a method that reads: a key past its deadline is absent. */
static int lookup_live(ag_req *r, dict *d, uint32_t i, ag_val *ret_key,
		       uint64_t *ret_hash, ag_entry **ret)
{
	int rc = lookup(r, d, i, ret_key, ret_hash, ret);

	if (rc == 0 && *ret != NULL &&
	    ag_dict_expired(d, *ret, *ret_hash, ag_dict_now(d)))
		*ret = NULL;
	return rc;
}

/* lookup() for a method that writes: a key past its deadline is reclaimed
 * first (ag_dict_reclaim()), and absent. */
static int lookup_write(ag_req *r, dict *d, uint32_t i, ag_val *ret_key,
			uint64_t *ret_hash, ag_entry **ret)
{
	int rc = lookup(r, d, i, ret_key, ret_hash, ret);

	if (rc == 0 && *ret != NULL &&
	    ag_dict_expired(d, *ret, *ret_hash, ag_dict_now(d))) {
		ag_dict_reclaim(r->obj, d, *ret);
		*ret = NULL;
	}
	return rc;
}

/* What pack_entries() answers with. */
enum walk { KEYS, VALUES, ITEMS, COPY };

/* Every live entry in insertion order, as an array of keys, of values or
 * of [key, value] pairs, or as a map (copy). */
static void pack_entries(ag_req *r, dict *d, enum walk w)
{
	msgpack_packer *pk = ag_reply_begin(&r->to);
	int64_t now = ag_dict_now(d);
	size_t live = ag_dict_live(d, now);
	bool skip = live < d->t.count; /* some are expired */

	if (w == COPY)
		msgpack_pack_map(pk, live);
	else
		msgpack_pack_array(pk, live);
	ag_table_foreach (&d->t, e) {
		if (skip &&
		    ag_dict_expired(d, e, ag_table_hash(&d->t, &e->key), now))
			continue;
		if (w == ITEMS)
			msgpack_pack_array(pk, 2);
		if (w != VALUES)
			ag_pack_val(pk, &e->key);
		if (w != KEYS)
			ag_pack_val(pk, &e->val);
	}
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

	if ((rc = lookup_live(r, d, 1, &key, &h, &e)) < 0)
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

	if ((rc = lookup_live(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	ag_reply_val(&r->to, &e->val);
	return 0;
}

/* "dict.set" [id, key, value] then "dict.expire_at" [id, key, deadline]:
 * a set with a TTL, its deadline absolute. */
static void journal_set_ttl(ag_req *r, int64_t deadline)
{
	msgpack_packer *pk = ag_journal_call(r->srv, r->obj, "dict.set", 2);

	if (pk == NULL)
		return;
	for (uint32_t i = 1; i <= 2; i++)
		pk->callback(pk->data, (const char *)r->raw[i].p,
			     r->raw[i].len);
	ag_journal_end(r->srv);
	pk = ag_journal_call(r->srv, r->obj, "dict.expire_at", 2);
	pk->callback(pk->data, (const char *)r->raw[1].p, r->raw[1].len);
	pack_deadline(pk, deadline);
	ag_journal_end(r->srv);
}

/*
 * set(k, v, ttl=nil): a ttl (seconds > 0) gives the key a deadline; a set
 * without one takes away the one it had, as Redis's HSET does.
 */
static int dict_set(ag_req *r)
{
	dict *d = r->obj->data;
	ag_val key, owned, val;
	int64_t deadline = 0;
	bool ttl = ag_arg_given(r, 3);
	ag_entry *e;
	uint64_t h;
	int rc;

	if (ttl && (rc = arg_ttl(r, 3, "ttl", &deadline)) < 0)
		return rc;
	if ((rc = txn_prepare(r, d, ttl)) < 0 ||
	    (rc = lookup_write(r, d, 1, &key, &h, &e)) < 0 ||
	    (e == NULL && !ag_table_add_fits(&d->t) &&
	     (rc = txn_prepare(r, d, true)) < 0))
		return rc;
	if (ttl && (e == NULL || ag_dict_ttl_find(d, &e->key, h) == NULL) &&
	    (rc = ag_memory_check(r, TTL_COST)) < 0)
		return rc;
	if (e != NULL) {
		if ((rc = ag_arg_val(r, 2, &val)) < 0)
			return rc;
		if (ttl && ag_dict_ttl_set(d, e, h, deadline) < 0) {
			ag_val_free(r->srv, &val);
			return oom(r);
		}
		ag_dict_replace(d, e, &val);
		if (!ttl)
			ag_dict_ttl_clear(d, &e->key, h);
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
		if ((rc = add_new(r, d, &owned, h, &val, &e)) < 0)
			return rc;
		if (ttl && ag_dict_ttl_set(d, e, h, deadline) < 0) {
			ag_dict_drop(d, e);
			ag_dict_sync_mem(r->obj, d);
			return oom(r);
		}
	}
	ag_dict_sync_mem(r->obj, d);
	if (ttl)
		journal_set_ttl(r, deadline);
	else
		journal_self(r);
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

	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	ag_dict_drop(d, e);
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
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

	if ((rc = lookup_live(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	ag_reply_bool(&r->to, e != NULL);
	return 0;
}

static int dict_len(ag_req *r)
{
	dict *d = r->obj->data;

	ag_reply_uint(&r->to, ag_dict_live(d, ag_dict_now(d)));
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

	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL) {
		if (r->argc <= 2)
			return missing_key(r, 1);
		journal_self(r);
		reply_default(r, 2);
		return 0;
	}
	ag_reply_val(&r->to, &e->val);
	give_entry(r, d, e);
	journal_self(r);
	return 0;
}

static int dict_popitem(ag_req *r)
{
	dict *d = r->obj->data;
	int64_t now = ag_dict_now(d);
	ag_entry *e;
	msgpack_packer *pk;

	/* Expired entries at the end go first: reclaimed, as by the sweep. */
	while ((e = ag_table_last(&d->t)) != NULL &&
	       ag_dict_expired(d, e, ag_table_hash(&d->t, &e->key), now))
		ag_dict_reclaim(r->obj, d, e);
	if (e == NULL)
		return ag_reply_error(&r->to, AGORA_EKEY,
				      "popitem(): dictionary is empty");
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, 2);
	ag_pack_val(pk, &e->key);
	ag_pack_val(pk, &e->val);
	give_entry(r, d, e);
	journal_self(r);
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

	if ((rc = txn_prepare(r, d, false)) < 0 ||
	    (rc = lookup_write(r, d, 1, &key, &h, &e)) < 0 ||
	    (e == NULL && !ag_table_add_fits(&d->t) &&
	     (rc = txn_prepare(r, d, true)) < 0))
		return rc;
	if (e != NULL) {
		journal_self(r);
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
	if ((rc = add_new(r, d, &owned, h, &val, NULL)) < 0)
		return rc;
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
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
		journal_self(r);
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
	/* Keys past their deadline are reclaimed first: new keys below. */
	if (d->ttl.count > 0) {
		int64_t now = ag_dict_now(d);
		for (i = 0; i < n; i++) {
			ag_entry *e = ag_table_find(&d->t, &keys[i], hashes[i]);
			if (e != NULL && ag_dict_expired(d, e, hashes[i], now))
				ag_dict_reclaim(r->obj, d, e);
		}
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
		if (ag_dict_add(d, &keys[i], hashes[i], &none, NULL) < 0)
			break;
		/* The table owns the key now; keys[i] is still a copy of
		 * it (or points at its heap bytes) for the lookups below. */
		owned[i] = false;
		nadded++;
	}
	if (i < n) {
		size_t had = d->t.count - nadded;
		while (nadded-- > 0)
			ag_dict_drop(d, ag_table_last(&d->t));
		ag_dict_sync_mem(r->obj, d);
		rc = over ? ag_items_check(r, had, n) : oom(r);
		goto out;
	}
	for (i = 0; i < n; i++) {
		ag_entry *e = ag_table_find(&d->t, &keys[i], hashes[i]);

		ag_dict_replace(d, e, &vals[i]);
		memset(&vals[i], 0, sizeof(vals[i])); /* moved: now empty */
		/* A plain set: a TTL the key had goes. */
		ag_dict_ttl_clear(d, &e->key, hashes[i]);
	}
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
	ag_reply_nil(&r->to);
	rc = 0;
out:
	for (i = 0; vals != NULL && i < n; i++)
		ag_dict_val_free(d, &vals[i]);
	for (i = 0; keys != NULL && owned != NULL && i < n; i++)
		if (owned[i])
			ag_dict_val_free(d, &keys[i]);
	free(keys);
	free(vals);
	free(hashes);
	free(owned);
	return rc;
}

static int dict_clear(ag_req *r)
{
	dict *d = r->obj->data;

	ag_dict_drop_all(d);
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
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
	if ((rc = txn_prepare(r, d, false)) < 0 ||
	    (rc = lookup_write(r, d, 1, &key, &h, &e)) < 0 ||
	    (e == NULL && !ag_table_add_fits(&d->t) &&
	     (rc = txn_prepare(r, d, true)) < 0))
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
		ag_dict_replace(d, e, &val);
	} else {
		if ((rc = ag_items_check(r, d->t.count, 1)) < 0 ||
		    (rc = own_key(r, &key, &owned)) < 0) {
			ag_val_deinit(&val);
			return rc;
		}
		/* A number holds no references: add_new() may free it. */
		if ((rc = add_new(r, d, &owned, h, &val, NULL)) < 0)
			return rc;
	}
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
	ag_reply_val(&r->to, &val);
	return 0;
}

/*
 * expire(k, seconds): give key @k a deadline @seconds from now, or take
 * its deadline away (nil). Recorded as "dict.expire_at" with the deadline.
 */
static int dict_expire(ag_req *r)
{
	dict *d = r->obj->data;
	bool set = ag_arg_given(r, 2);
	int64_t deadline = 0;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if (set && (rc = arg_ttl(r, 2, "seconds", &deadline)) < 0)
		return rc;
	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	if (set) {
		if (ag_dict_ttl_find(d, &e->key, h) == NULL &&
		    (rc = ag_memory_check(r, TTL_COST)) < 0)
			return rc;
		if (ag_dict_ttl_set(d, e, h, deadline) < 0)
			return oom(r);
	} else {
		ag_dict_ttl_clear(d, &e->key, h);
	}
	ag_dict_sync_mem(r->obj, d);
	msgpack_packer *pk =
	    ag_journal_call(r->srv, r->obj, "dict.expire_at", 2);
	if (pk != NULL) {
		pk->callback(pk->data, (const char *)r->raw[1].p,
			     r->raw[1].len);
		if (set)
			pack_deadline(pk, deadline);
		else
			msgpack_pack_nil(pk);
		ag_journal_end(r->srv);
	}
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * expire_at(k, unix_seconds): the absolute form, which the journal and
 * snapshots record; nil takes the deadline away. A deadline already past
 * removes the key (recorded as "dict.expired"), except while the server
 * loads, when no key expires.
 */
static int dict_expire_at(ag_req *r)
{
	dict *d = r->obj->data;
	bool set = ag_arg_given(r, 2);
	int64_t deadline = 0, now;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if (set && (rc = arg_deadline(r, 2, &deadline)) < 0)
		return rc;
	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	if (!set) {
		ag_dict_ttl_clear(d, &e->key, h);
	} else if (!ag_persist_loading(r->srv) &&
		   deadline <= (now = ag_wall_us())) {
		ag_dict_reclaim(r->obj, d, e);
		ag_reply_nil(&r->to);
		return 0;
	} else {
		if (ag_dict_ttl_find(d, &e->key, h) == NULL &&
		    (rc = ag_memory_check(r, TTL_COST)) < 0)
			return rc;
		if (ag_dict_ttl_set(d, e, h, deadline) < 0)
			return oom(r);
	}
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
	ag_reply_nil(&r->to);
	return 0;
}

/* ttl(k): the seconds left before @k expires, or nil when it has no
 * deadline; KEY when it is absent (or expired). */
static int dict_ttl(ag_req *r)
{
	dict *d = r->obj->data;
	int64_t now;
	ttl_node *n;
	ag_entry *e;
	ag_val key;
	uint64_t h;
	int rc;

	if ((rc = lookup_live(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (e == NULL)
		return missing_key(r, 1);
	if ((n = ag_dict_ttl_find(d, &e->key, h)) == NULL) {
		ag_reply_nil(&r->to);
		return 0;
	}
	now = ag_wall_us();
	ag_reply_double(&r->to, n->deadline > now
				    ? (double)(n->deadline - now) / 1e6
				    : 0.0);
	return 0;
}

/*
 * expired([k, ...]): the keys that expiry reclaimed (the journal's record
 * of the sweep and of the writes that met an expired key): each one
 * present is removed, whatever its deadline; the others are ignored.
 * Answers how many were removed. Reads no clock.
 */
static int dict_expired(ag_req *r)
{
	dict *d = r->obj->data;
	ag_items it;
	ag_item k;
	uint64_t removed = 0;
	uint32_t i = 0;
	int rc;

	if ((rc = ag_arg_items(r, 1, &it)) < 0)
		return rc;
	/* Every key is checked before one goes. */
	ag_items all = it;
	while (ag_items_next(&all, &k)) {
		ag_val key;
		if ((rc = ag_span_key(r, &k.raw, "key", i++, &key)) < 0)
			return rc;
	}
	i = 0;
	while (ag_items_next(&it, &k)) {
		ag_val key;
		ag_entry *e;
		uint64_t h;

		if (ag_span_key(r, &k.raw, "key", i++, &key) < 0)
			break; /* (answered) cannot happen: checked above */
		h = ag_table_hash(&d->t, &key);
		if ((e = ag_table_find(&d->t, &key, h)) != NULL) {
			ag_dict_drop(d, e);
			removed++;
		}
	}
	d->expired += removed;
	ag_dict_sync_mem(r->obj, d);
	journal_self(r);
	ag_reply_uint(&r->to, removed);
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
	/* The deadlines, absolute, past ones too (see the top of the file). */
	for (uint32_t i = 0; i < d->nheap; i++) {
		if ((pk = ag_save_call(sv, o, "dict.expire_at", 2)) == NULL)
			return AGORA_EIO;
		ag_pack_val(pk, &d->heap[i]->key);
		pack_deadline(pk, d->heap[i]->deadline);
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
	/* The same seed: a key hashes alike in both tables. */
	ag_table_init(&d->ttl, ag_server_seed(r->srv));
	d->srv = r->srv;
	d->obj = o;
	o->data = d;
	ag_dict_sync_mem(o, d);
	return 0;
}

/* Frees every key and value and gives back all the memory it accounted. */
static void dict_destroy(ag_object *o)
{
	dict *d = o->data;

	if (d == NULL)
		return;
	if (d->sweep_ev != NULL)
		event_free(d->sweep_ev);
	ag_dict_drop_all(d);
	ag_table_deinit(&d->t);
	ag_table_deinit(&d->ttl);
	ag_object_mem(o, -(ssize_t)d->accounted);
	free(d);
	o->data = NULL;
}

static bool dict_length(ag_object *o, size_t *ret)
{
	dict *d = o->data;

	*ret = ag_dict_live(d, ag_dict_now(d));
	return true;
}

/* info: "ttl_keys", the keys with a deadline (expired ones not yet
 * reclaimed included), and "expired", the keys reclaimed by expiry. */
static unsigned dict_info_count(ag_object *o)
{
	return 2;
}

static void dict_info_pack(ag_object *o, msgpack_packer *pk)
{
	dict *d = o->data;

	ag_pack_str(pk, "ttl_keys");
	msgpack_pack_uint32(pk, d->nheap);
	ag_pack_str(pk, "expired");
	msgpack_pack_uint64(pk, d->expired);
}

static void dict_conn_gone(ag_object *o, ag_conn *c)
{
}

/* The write methods but set, incr and setdefault make the whole copy
 * first (dict.h; the method table names these). */
#define TXN_FULL_FIRST(fn)                                            \
	static int fn##_txn(ag_req *r)                                \
	{                                                             \
		return ag_dict_txn_full(r->obj) < 0 ? oom(r) : fn(r); \
	}
TXN_FULL_FIRST(dict_delete)
TXN_FULL_FIRST(dict_pop)
TXN_FULL_FIRST(dict_popitem)
TXN_FULL_FIRST(dict_update)
TXN_FULL_FIRST(dict_clear)
TXN_FULL_FIRST(dict_expire)
TXN_FULL_FIRST(dict_expire_at)
TXN_FULL_FIRST(dict_expired)

/* Methods whose params[1] is the one key they change (watch.c). */
static const char *const dict_keyed[] = { "set",        "delete", "pop",
					  "setdefault", "incr",   "expire",
					  "expire_at",  NULL };

static const ag_method dict_methods[] = {
	{ "get", dict_get, 2, 3, AG_STORES_NONE, AG_RIGHT_READ },
	{ "getitem", dict_getitem, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", dict_set, 3, 4, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "delete", dict_delete_txn, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "contains", dict_contains, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "len", dict_len, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "keys", dict_keys, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "values", dict_values, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "items", dict_items, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "pop", dict_pop_txn, 2, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "popitem", dict_popitem_txn, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "setdefault", dict_setdefault, 2, 3, AG_STORES_BYTES,
	  AG_RIGHT_WRITE },
	{ "update", dict_update_txn, 2, 2, AG_STORES_ITEMS, AG_RIGHT_WRITE },
	{ "clear", dict_clear_txn, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "copy", dict_copy, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "incr", dict_incr, 2, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "expire", dict_expire_txn, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "expire_at", dict_expire_at_txn, 3, 3, AG_STORES_BYTES,
	  AG_RIGHT_WRITE },
	{ "ttl", dict_ttl, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "expired", dict_expired_txn, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_dict = {
	.name = "dict",
	.base = NULL,
	.methods = dict_methods,
	.keyed = dict_keyed,
	.create = dict_create,
	.destroy = dict_destroy,
	.len = dict_length,
	.info_count = dict_info_count,
	.info_pack = dict_info_pack,
	.conn_gone = dict_conn_gone,
	/* Every write method replays as it ran: none reads a clock while
	 * loading or draws anything random (expiry: the top of the file);
	 * the table's order is insertion order, whatever the hash seed of
	 * the server. */
	.persist = AG_PERSIST_CALLS,
	.journal = AG_JOURNAL_SELF, /* each method: journal_self() */
	.save_opts = NULL,          /* no options */
	.save = dict_save,
	.txn_save = ag_dict_txn_save,
	.txn_restore = ag_dict_txn_restore,
	.txn_drop = ag_dict_txn_drop,
};
