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
 * Expiry (protocol section 4.3, "Per-key TTL"): a key may have a deadline,
 * microseconds of CLOCK_REALTIME. A key past its deadline is absent for
 * every method at once (checked on access: lookups, len, the walks), and
 * is reclaimed in the background by the sweep, a timer of the dict that
 * removes at most SWEEP_BATCHES * SWEEP_KEYS keys or SWEEP_US of work per
 * loop turn, so that a million keys expiring together never stop the
 * loop. The deadlines are a min-heap of ttl_node (heap[0] the earliest)
 * and a second table, ttl, from the key to its node: the node's key and
 * the ttl table's are aliases of the entry's key (key_alias()), so a key
 * with a TTL costs a node, an entry of ttl and a heap slot, not another
 * copy of its bytes; its TTL goes before its entry does (drop_entry()).
 * len subtracts the expired keys not yet reclaimed, counted from the top
 * of the heap (count_expired(): O(expired)).
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
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* The sweep's budget per loop turn: batches of SWEEP_KEYS keys (one
 * "dict.expired" record each), until SWEEP_US have passed. */
#define SWEEP_KEYS 64u
#define SWEEP_BATCHES 32u
#define SWEEP_US 250
/* The sweep looks again at least this often (a clock set back or ahead). */
#define SWEEP_MAX_WAIT_US ((int64_t)10 * 1000 * 1000)
/* While the server loads, the sweep waits this long. */
#define SWEEP_LOADING_US ((int64_t)100 * 1000)
/* The longest TTL, in seconds (about 100 years), and the latest deadline. */
#define TTL_MAX 3.2e9
#define DEADLINE_MAX 1e11

/* A key's deadline. */
typedef struct ttl_node {
	int64_t deadline; /* microseconds of CLOCK_REALTIME */
	uint32_t pos;     /* in the heap */
	ag_val key;       /* an alias of the entry's key (key_alias()) */
} ttl_node;

typedef struct dict {
	ag_server *srv; /* for releasing the references values hold */
	ag_object *obj; /* the dict's object, for the sweep */
	ag_table t;
	size_t bytes;     /* heap bytes of keys and values (ag_val_heap) */
	size_t accounted; /* what ag_object_mem() has been told */
	ag_table ttl;     /* key alias -> ttl_node * (.ptr) */
	ttl_node **heap;  /* min-heap by deadline */
	uint32_t nheap, heapcap;
	struct event *sweep_ev; /* made with the first TTL */
	uint64_t expired;       /* keys the sweep or a write reclaimed */
} dict;

static void sync_mem(ag_object *o, dict *d)
{
	size_t now = sizeof(*d) + (size_t)d->t.cap * sizeof(ag_entry) +
		     (size_t)d->t.nslots * sizeof(uint32_t) + d->bytes +
		     (size_t)d->ttl.cap * sizeof(ag_entry) +
		     (size_t)d->ttl.nslots * sizeof(uint32_t) +
		     (size_t)d->heapcap * sizeof(ttl_node *) +
		     (size_t)d->nheap * sizeof(ttl_node);

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

/* ---- deadlines ----------------------------------------------------------- */

/* Microseconds of CLOCK_REALTIME. */
static int64_t wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The time keys expire against: now, or, while the server loads its data
 * directory, before every deadline (a replay reads no clock). */
static int64_t expiry_now(const dict *d)
{
	if (d->ttl.count == 0 || ag_persist_loading(d->srv))
		return INT64_MIN;
	return wall_us();
}

/* Another view of the bytes of stored key @k that stays valid when the
 * table moves its entries: an inline key is copied, a key on the heap is
 * borrowed (its bytes never move). Nothing to free either way. */
static ag_val key_alias(const ag_val *k)
{
	if (ag_val_heap(k) == 0)
		return *k;
	return ag_val_view(ag_val_bytes(k), ag_val_len(k), ag_val_flags(k));
}

static void heap_swap(dict *d, uint32_t a, uint32_t b)
{
	ttl_node *t = d->heap[a];

	d->heap[a] = d->heap[b];
	d->heap[b] = t;
	d->heap[a]->pos = a;
	d->heap[b]->pos = b;
}

static void heap_up(dict *d, uint32_t i)
{
	while (i > 0) {
		uint32_t p = (i - 1) / 2;
		if (d->heap[p]->deadline <= d->heap[i]->deadline)
			break;
		heap_swap(d, i, p);
		i = p;
	}
}

static void heap_down(dict *d, uint32_t i)
{
	for (;;) {
		uint32_t l = 2 * i + 1, m = i;
		if (l < d->nheap && d->heap[l]->deadline < d->heap[m]->deadline)
			m = l;
		if (l + 1 < d->nheap &&
		    d->heap[l + 1]->deadline < d->heap[m]->deadline)
			m = l + 1;
		if (m == i)
			break;
		heap_swap(d, i, m);
		i = m;
	}
}

/* Room for one more node in the heap: 0 or AGORA_ENOMEM. */
static int heap_reserve(dict *d)
{
	ttl_node **nh;
	uint32_t ncap;

	if (d->nheap < d->heapcap)
		return 0;
	if (d->heapcap >= UINT32_MAX / 2)
		return AGORA_ENOMEM;
	ncap = d->heapcap ? d->heapcap * 2 : 8;
	nh = realloc(d->heap, (size_t)ncap * sizeof(*nh));
	if (nh == NULL)
		return AGORA_ENOMEM;
	d->heap = nh;
	d->heapcap = ncap;
	return 0;
}

/* The deadline node of @key (hash @h), or NULL. */
static ttl_node *ttl_find(dict *d, const ag_val *key, uint64_t h)
{
	ag_entry *te;

	if (d->ttl.count == 0)
		return NULL;
	te = ag_table_find(&d->ttl, key, h);
	return te != NULL ? te->ptr : NULL;
}

/* Is @e past its deadline at @now (expiry_now())? */
static bool entry_expired(dict *d, const ag_entry *e, uint64_t h, int64_t now)
{
	ttl_node *n;

	if (now == INT64_MIN)
		return false;
	n = ttl_find(d, &e->key, h);
	return n != NULL && n->deadline <= now;
}

static void sweep_arm(dict *d, int64_t now);

/*
 * Give entry @e (key hash @h) the deadline @deadline, replacing the one it
 * had. 0, or AGORA_ENOMEM with nothing changed. The caller checked
 * --max-memory (TTL_COST) for a key that had none.
 */
static int ttl_set(dict *d, ag_entry *e, uint64_t h, int64_t deadline)
{
	ttl_node *n = ttl_find(d, &e->key, h);
	ag_entry *te;

	if (n != NULL) {
		int64_t old = n->deadline;
		n->deadline = deadline;
		if (deadline < old)
			heap_up(d, n->pos);
		else
			heap_down(d, n->pos);
	} else {
		if (heap_reserve(d) < 0)
			return AGORA_ENOMEM;
		n = calloc(1, sizeof(*n));
		if (n == NULL)
			return AGORA_ENOMEM;
		n->deadline = deadline;
		n->key = key_alias(&e->key);
		te = ag_table_add(&d->ttl, &n->key, h);
		if (te == NULL) {
			free(n);
			return AGORA_ENOMEM;
		}
		te->ptr = n;
		n->pos = d->nheap++;
		d->heap[n->pos] = n;
		heap_up(d, n->pos);
	}
	if (n->pos == 0)
		sweep_arm(d, wall_us());
	return 0;
}

/* Take away the deadline of @key (hash @h), if it has one. */
static void ttl_clear(dict *d, const ag_val *key, uint64_t h)
{
	ag_entry *te;
	ttl_node *n;
	uint32_t i;

	if (d->ttl.count == 0 || (te = ag_table_find(&d->ttl, key, h)) == NULL)
		return;
	n = te->ptr;
	ag_table_remove(&d->ttl, te);
	i = n->pos;
	d->nheap--;
	if (i < d->nheap) {
		d->heap[i] = d->heap[d->nheap];
		d->heap[i]->pos = i;
		heap_down(d, i);
		heap_up(d, i);
	}
	free(n);
}

/* Every deadline, for clear and destroy. */
static void ttl_clear_all(dict *d)
{
	for (uint32_t i = 0; i < d->nheap; i++)
		free(d->heap[i]);
	d->nheap = 0;
	free(d->heap);
	d->heap = NULL;
	d->heapcap = 0;
	ag_table_deinit(&d->ttl);
	ag_table_init(&d->ttl, d->t.seed);
}

/* The bytes a new deadline takes, for --max-memory. */
#define TTL_COST (sizeof(ttl_node) + sizeof(ag_entry) + 2 * sizeof(void *))

/* How many keys are past their deadline at @now, at most @limit: a walk
 * of the heap's top, which visits no key that is not expired. */
static size_t count_expired(const dict *d, uint32_t i, int64_t now,
			    size_t limit)
{
	size_t n;

	if (limit == 0 || i >= d->nheap || d->heap[i]->deadline > now)
		return 0;
	n = 1;
	if ((uint64_t)2 * i + 1 < d->nheap)
		n += count_expired(d, 2 * i + 1, now, limit - n);
	if ((uint64_t)2 * i + 2 < d->nheap)
		n += count_expired(d, 2 * i + 2, now, limit - n);
	return n;
}

/* The live keys at @now. */
static size_t live_count(const dict *d, int64_t now)
{
	if (now == INT64_MIN)
		return d->t.count;
	return d->t.count - count_expired(d, 0, now, d->t.count);
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
	*ret = wall_us() + (int64_t)(s * 1e6 + 0.5);
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

/* Add @key -> @val, taking both on success (*ret, may be NULL: the new
 * entry). AGORA_ENOMEM: both untouched. */
static int add_entry(dict *d, ag_val *key, uint64_t hash, ag_val *val,
		     ag_entry **ret)
{
	ag_entry *e = ag_table_add(&d->t, key, hash);

	if (e == NULL)
		return AGORA_ENOMEM;
	e->val = *val;
	d->bytes += ag_val_heap(key) + ag_val_heap(val);
	if (ret != NULL)
		*ret = e;
	return 0;
}

/* add_entry() of a new key from own_key() and a value that holds what its
 * references name; when there is no memory both are freed, their holds
 * released, and LIMIT answered and returned. */
static int add_new(ag_req *r, dict *d, ag_val *owned, uint64_t hash,
		   ag_val *val, ag_entry **ret)
{
	if (add_entry(d, owned, hash, val, ret) == 0)
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
	/* The TTL first: its key is an alias of the entry's. */
	if (d->ttl.count > 0)
		ttl_clear(d, &e->key, ag_table_hash(&d->t, &e->key));
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

/* ---- expiry -------------------------------------------------------------- */

/* Microseconds of CLOCK_MONOTONIC, for the sweep's budget. */
static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/*
 * Entry @e is past its deadline and a write met it: reclaim it, recorded
 * as "dict.expired" [id, [key]] ahead of the write's own record, so that
 * the replay (which expires nothing) removes it at the same point.
 */
static void reclaim(ag_object *o, dict *d, ag_entry *e)
{
	msgpack_packer *pk = ag_journal_call(d->srv, o, "dict.expired", 1);

	if (pk != NULL) {
		msgpack_pack_array(pk, 1);
		ag_pack_val(pk, &e->key);
		ag_journal_end(d->srv);
	}
	drop_entry(d, e);
	d->expired++;
	sync_mem(o, d);
}

/* Record request @r as made: the methods marked AG_JOURNAL_SELF, once they
 * have succeeded. */
static void journal_self(ag_req *r)
{
	if (ag_persist_on(r->srv))
		ag_journal_request(r);
}

/* After the sweep: the arrays of tables left empty and the part of the
 * heap's array a quarter full go back, so that the memory a million
 * expired keys took is given back once they are reclaimed. */
static void give_back(dict *d)
{
	if (d->t.count == 0 && d->t.cap > 0)
		ag_table_deinit(&d->t);
	if (d->nheap == 0) {
		ttl_clear_all(d);
	} else if (d->heapcap > 64 && d->nheap < d->heapcap / 4) {
		ttl_node **nh =
		    realloc(d->heap, (size_t)(d->heapcap / 2) * sizeof(*nh));
		if (nh != NULL) {
			d->heap = nh;
			d->heapcap /= 2;
		}
	}
}

/*
 * The sweep: reclaim the keys past their deadline, in batches of at most
 * SWEEP_KEYS (one "dict.expired" record each), until none is left, or
 * SWEEP_BATCHES batches or SWEEP_US have gone by; then wait for the next
 * deadline, or for the next loop turn when expired keys are left, so that
 * the other connections are served in between.
 */
static void on_sweep(evutil_socket_t fd, short what, void *arg)
{
	dict *d = arg;
	ag_object *o = d->obj;
	int64_t now, t0;

	(void)fd;
	(void)what;
	if (o->refs == 0)
		return; /* going: destroy() frees all */
	if (ag_persist_loading(d->srv)) {
		struct timeval tv = { 0, SWEEP_LOADING_US };
		evtimer_add(d->sweep_ev, &tv);
		return;
	}
	/* A value may hold the last reference to the dict itself. */
	ag_object_ref(o);
	now = wall_us();
	t0 = mono_us();
	for (unsigned b = 0; b < SWEEP_BATCHES; b++) {
		size_t n = count_expired(d, 0, now, SWEEP_KEYS);
		msgpack_packer *pk;

		if (n == 0)
			break;
		pk = ag_journal_call(d->srv, o, "dict.expired", 1);
		if (pk != NULL)
			msgpack_pack_array(pk, (uint32_t)n);
		for (size_t k = 0; k < n; k++) {
			ttl_node *top = d->heap[0];
			uint64_t h = ag_table_hash(&d->t, &top->key);
			ag_entry *e = ag_table_find(&d->t, &top->key, h);

			if (pk != NULL)
				ag_pack_val(pk, &top->key);
			if (e != NULL)
				drop_entry(d, e); /* and its TTL */
			else
				ttl_clear(d, &top->key, h);
		}
		if (pk != NULL)
			ag_journal_end(d->srv);
		d->expired += n;
		if (mono_us() - t0 >= SWEEP_US)
			break;
	}
	give_back(d);
	sync_mem(o, d);
	sweep_arm(d, now);
	ag_object_unref(o);
}

/* Wake the sweep at the earliest deadline (at once when it has passed),
 * at most SWEEP_MAX_WAIT_US from @now. Without memory for its timer the
 * sweep does not run: expired keys stay absent all the same. */
static void sweep_arm(dict *d, int64_t now)
{
	struct timeval tv;
	int64_t wait;

	if (d->nheap == 0 || d->srv->base == NULL)
		return;
	if (d->sweep_ev == NULL &&
	    (d->sweep_ev = evtimer_new(d->srv->base, on_sweep, d)) == NULL)
		return;
	wait = d->heap[0]->deadline - now;
	if (wait < 0)
		wait = 0;
	if (wait > SWEEP_MAX_WAIT_US)
		wait = SWEEP_MAX_WAIT_US;
	tv.tv_sec = (time_t)(wait / 1000000);
	tv.tv_usec = (suseconds_t)(wait % 1000000);
	evtimer_add(d->sweep_ev, &tv);
}

/* lookup() for a method that reads: a key past its deadline is absent. */
static int lookup_live(ag_req *r, dict *d, uint32_t i, ag_val *ret_key,
		       uint64_t *ret_hash, ag_entry **ret)
{
	int rc = lookup(r, d, i, ret_key, ret_hash, ret);

	if (rc == 0 && *ret != NULL &&
	    entry_expired(d, *ret, *ret_hash, expiry_now(d)))
		*ret = NULL;
	return rc;
}

/* lookup() for a method that writes: a key past its deadline is reclaimed
 * first (reclaim()), and absent. */
static int lookup_write(ag_req *r, dict *d, uint32_t i, ag_val *ret_key,
			uint64_t *ret_hash, ag_entry **ret)
{
	int rc = lookup(r, d, i, ret_key, ret_hash, ret);

	if (rc == 0 && *ret != NULL &&
	    entry_expired(d, *ret, *ret_hash, expiry_now(d))) {
		reclaim(r->obj, d, *ret);
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
	int64_t now = expiry_now(d);
	size_t live = live_count(d, now);
	bool skip = live < d->t.count; /* some are expired */

	if (w == COPY)
		msgpack_pack_map(pk, live);
	else
		msgpack_pack_array(pk, live);
	ag_table_foreach (&d->t, e) {
		if (skip &&
		    entry_expired(d, e, ag_table_hash(&d->t, &e->key), now))
			continue;
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
	ttl_clear_all(d);
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
	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
		return rc;
	if (ttl && (e == NULL || ttl_find(d, &e->key, h) == NULL) &&
	    (rc = ag_memory_check(r, TTL_COST)) < 0)
		return rc;
	if (e != NULL) {
		if ((rc = ag_arg_val(r, 2, &val)) < 0)
			return rc;
		if (ttl && ttl_set(d, e, h, deadline) < 0) {
			ag_val_free(r->srv, &val);
			return oom(r);
		}
		replace_val(d, e, &val);
		if (!ttl)
			ttl_clear(d, &e->key, h);
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
		if (ttl && ttl_set(d, e, h, deadline) < 0) {
			drop_entry(d, e);
			sync_mem(r->obj, d);
			return oom(r);
		}
	}
	sync_mem(r->obj, d);
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
	drop_entry(d, e);
	sync_mem(r->obj, d);
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

	ag_reply_uint(&r->to, live_count(d, expiry_now(d)));
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
	int64_t now = expiry_now(d);
	ag_entry *e;
	msgpack_packer *pk;

	/* Expired entries at the end go first: reclaimed, as by the sweep. */
	while ((e = ag_table_last(&d->t)) != NULL &&
	       entry_expired(d, e, ag_table_hash(&d->t, &e->key), now))
		reclaim(r->obj, d, e);
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

	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
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
	sync_mem(r->obj, d);
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
		int64_t now = expiry_now(d);
		for (i = 0; i < n; i++) {
			ag_entry *e = ag_table_find(&d->t, &keys[i], hashes[i]);
			if (e != NULL && entry_expired(d, e, hashes[i], now))
				reclaim(r->obj, d, e);
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
		if (add_entry(d, &keys[i], hashes[i], &none, NULL) < 0)
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
		/* A plain set: a TTL the key had goes. */
		ttl_clear(d, &e->key, hashes[i]);
	}
	sync_mem(r->obj, d);
	journal_self(r);
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
	if ((rc = lookup_write(r, d, 1, &key, &h, &e)) < 0)
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
		if ((rc = add_new(r, d, &owned, h, &val, NULL)) < 0)
			return rc;
	}
	sync_mem(r->obj, d);
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
		if (ttl_find(d, &e->key, h) == NULL &&
		    (rc = ag_memory_check(r, TTL_COST)) < 0)
			return rc;
		if (ttl_set(d, e, h, deadline) < 0)
			return oom(r);
	} else {
		ttl_clear(d, &e->key, h);
	}
	sync_mem(r->obj, d);
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
		ttl_clear(d, &e->key, h);
	} else if (!ag_persist_loading(r->srv) &&
		   deadline <= (now = wall_us())) {
		reclaim(r->obj, d, e);
		ag_reply_nil(&r->to);
		return 0;
	} else {
		if (ttl_find(d, &e->key, h) == NULL &&
		    (rc = ag_memory_check(r, TTL_COST)) < 0)
			return rc;
		if (ttl_set(d, e, h, deadline) < 0)
			return oom(r);
	}
	sync_mem(r->obj, d);
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
	if ((n = ttl_find(d, &e->key, h)) == NULL) {
		ag_reply_nil(&r->to);
		return 0;
	}
	now = wall_us();
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
			drop_entry(d, e);
			removed++;
		}
	}
	d->expired += removed;
	sync_mem(r->obj, d);
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
	sync_mem(o, d);
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
	drop_all(d);
	ag_table_deinit(&d->t);
	ag_table_deinit(&d->ttl);
	ag_object_mem(o, -(ssize_t)d->accounted);
	free(d);
	o->data = NULL;
}

static bool dict_length(ag_object *o, size_t *ret)
{
	dict *d = o->data;

	*ret = live_count(d, expiry_now(d));
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

static const ag_method dict_methods[] = {
	{ "get", dict_get, 2, 3, AG_STORES_NONE, AG_RIGHT_READ },
	{ "getitem", dict_getitem, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "set", dict_set, 3, 4, AG_STORES_BYTES, AG_RIGHT_WRITE },
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
	{ "expire", dict_expire, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "expire_at", dict_expire_at, 3, 3, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "ttl", dict_ttl, 2, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "expired", dict_expired, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
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
	/* Every write method replays as it ran: none reads a clock while
	 * loading or draws anything random (expiry: the top of the file);
	 * the table's order is insertion order, whatever the hash seed of
	 * the server. */
	.persist = AG_PERSIST_CALLS,
	.journal = AG_JOURNAL_SELF, /* each method: journal_self() */
	.save_opts = NULL,          /* no options */
	.save = dict_save,
};
