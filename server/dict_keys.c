/*
 * dict_keys.c - the entries of a dict (dict.h) and their deadlines: adding,
 * replacing and dropping entries with their memory, the deadlines' heap and
 * index, and the sweep that reclaims the keys past their deadline. The
 * family (obj_dict.c) reads params and answers; this file never calls it.
 *
 * Expiry (protocol section 4.2, "Per-key TTL"): a key may have a deadline,
 * microseconds of CLOCK_REALTIME. A key past its deadline is absent for
 * every method at once (checked on access: lookups, len, the walks), and
 * is reclaimed in the background by the sweep, a timer of the dict that
 * removes at most SWEEP_BATCHES * SWEEP_KEYS keys or SWEEP_US of work per
 * loop turn, so that a million keys expiring together never stop the
 * loop. The deadlines are a min-heap of ttl_node (heap[0] the earliest)
 * and a second table, ttl, from the key to its node: the node's key and
 * the ttl table's are aliases of the entry's key (ag_dict_key_alias()), so a
 * key with a TTL costs a node, an entry of ttl and a heap slot, not another
 * copy of its bytes; its TTL goes before its entry does (ag_dict_drop()).
 * len subtracts the expired keys not yet reclaimed, counted from the top
 * of the heap (ag_dict_count_expired(): O(expired)).
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dict.h"

static void log_add(dict *d, ag_entry *e);
static bool log_replace(dict *d, ag_entry *e);
static void log_other(dict *d);

/* The sweep's budget per loop turn: batches of SWEEP_KEYS keys (one
 * "dict.expired" record each), until SWEEP_US have passed. */
#define SWEEP_KEYS 64u
#define SWEEP_BATCHES 32u
#define SWEEP_US 250
/* The sweep looks again at least this often (a clock set back or ahead). */
#define SWEEP_MAX_WAIT_US ((int64_t)10 * 1000 * 1000)
/* While the server loads, the sweep waits this long. */
#define SWEEP_LOADING_US ((int64_t)100 * 1000)

void ag_dict_sync_mem(ag_object *o, dict *d)
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
void ag_dict_val_free(dict *d, ag_val *v)
{
	if (!ag_val_is_empty(v))
		ag_val_free(d->srv, v);
}

/* ---- deadlines ----------------------------------------------------------- */

/* Microseconds of CLOCK_REALTIME. */
int64_t ag_wall_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The time keys expire against: now, or, while the server loads its data
 * directory, before every deadline (a replay reads no clock). */
int64_t ag_dict_now(const dict *d)
{
	if (d->ttl.count == 0 || ag_persist_loading(d->srv))
		return INT64_MIN;
	return ag_wall_us();
}

/* Another view of the bytes of stored key @k that stays valid when the
 * table moves its entries: an inline key is copied, a key on the heap is
 * borrowed (its bytes never move). Nothing to free either way. */
ag_val ag_dict_key_alias(const ag_val *k)
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
ttl_node *ag_dict_ttl_find(dict *d, const ag_val *key, uint64_t h)
{
	ag_entry *te;

	if (d->ttl.count == 0)
		return NULL;
	te = ag_table_find(&d->ttl, key, h);
	return te != NULL ? te->ptr : NULL;
}

/* Is @e past its deadline at @now (ag_dict_now())? */
bool ag_dict_expired(dict *d, const ag_entry *e, uint64_t h, int64_t now)
{
	ttl_node *n;

	if (now == INT64_MIN)
		return false;
	n = ag_dict_ttl_find(d, &e->key, h);
	return n != NULL && n->deadline <= now;
}

static void sweep_arm(dict *d, int64_t now);

/*
 * Give entry @e (key hash @h) the deadline @deadline, replacing the one it
 * had. 0, or AGORA_ENOMEM with nothing changed. The caller checked
 * --max-memory (TTL_COST) for a key that had none.
 */
int ag_dict_ttl_set(dict *d, ag_entry *e, uint64_t h, int64_t deadline)
{
	ttl_node *n;
	ag_entry *te;

	log_other(d);
	n = ag_dict_ttl_find(d, &e->key, h);

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
		n->key = ag_dict_key_alias(&e->key);
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
		sweep_arm(d, ag_wall_us());
	return 0;
}

/* Take away the deadline of @key (hash @h), if it has one. */
void ag_dict_ttl_clear(dict *d, const ag_val *key, uint64_t h)
{
	ag_entry *te;
	ttl_node *n;
	uint32_t i;

	if (d->ttl.count == 0 || (te = ag_table_find(&d->ttl, key, h)) == NULL)
		return;
	log_other(d);
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

/* How many keys are past their deadline at @now, at most @limit: a walk
 * of the heap's top, which visits no key that is not expired. */
size_t ag_dict_count_expired(const dict *d, uint32_t i, int64_t now,
			     size_t limit)
{
	size_t n;

	if (limit == 0 || i >= d->nheap || d->heap[i]->deadline > now)
		return 0;
	n = 1;
	if ((uint64_t)2 * i + 1 < d->nheap)
		n += ag_dict_count_expired(d, 2 * i + 1, now, limit - n);
	if ((uint64_t)2 * i + 2 < d->nheap)
		n += ag_dict_count_expired(d, 2 * i + 2, now, limit - n);
	return n;
}

/* The live keys at @now. */
size_t ag_dict_live(const dict *d, int64_t now)
{
	if (now == INT64_MIN)
		return d->t.count;
	return d->t.count - ag_dict_count_expired(d, 0, now, d->t.count);
}

/* Add @key -> @val, taking both on success (*ret, may be NULL: the new
 * entry). AGORA_ENOMEM: both untouched. */
int ag_dict_add(dict *d, ag_val *key, uint64_t hash, ag_val *val,
		ag_entry **ret)
{
	ag_entry *e = ag_table_add(&d->t, key, hash);

	if (e == NULL)
		return AGORA_ENOMEM;
	e->val = *val;
	d->bytes += ag_val_heap(key) + ag_val_heap(val);
	log_add(d, e);
	if (ret != NULL)
		*ret = e;
	return 0;
}

/* Replace the value of @e with @val (taken). */
void ag_dict_replace(dict *d, ag_entry *e, ag_val *val)
{
	d->bytes -= ag_val_heap(&e->val);
	if (!log_replace(d, e)) /* a transaction keeps it to put back */
		ag_dict_val_free(d, &e->val);
	e->val = *val;
	d->bytes += ag_val_heap(val);
}

/* Free @e's key and value and take it out. A value given away before is
 * empty (its bytes were already discounted). */
void ag_dict_drop(dict *d, ag_entry *e)
{
	log_other(d);
	/* The TTL first: its key is an alias of the entry's. */
	if (d->ttl.count > 0)
		ag_dict_ttl_clear(d, &e->key, ag_table_hash(&d->t, &e->key));
	d->bytes -= ag_val_heap(&e->key) + ag_val_heap(&e->val);
	ag_dict_val_free(d, &e->val);
	ag_val_release(d->srv, &e->key);
	ag_table_remove(&d->t, e);
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
 * Entry @e is past its deadline and a write met it: ag_dict_reclaim it,
 * recorded as "dict.expired" [id, [key]] ahead of the write's own record, so
 * that the replay (which expires nothing) removes it at the same point.
 */
void ag_dict_reclaim(ag_object *o, dict *d, ag_entry *e)
{
	msgpack_packer *pk = ag_journal_call(d->srv, o, "dict.expired", 1);

	if (pk != NULL) {
		msgpack_pack_array(pk, 1);
		ag_pack_val(pk, &e->key);
		ag_journal_end(d->srv);
	}
	ag_changed_first(o, "expired", &e->key); /* before the write's own */
	ag_dict_drop(d, e);
	d->expired++;
	ag_dict_sync_mem(o, d);
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
 * The sweep: ag_dict_reclaim the keys past their deadline, in batches of at
 * most SWEEP_KEYS (one "dict.expired" record each), until none is left, or
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
	now = ag_wall_us();
	t0 = mono_us();
	for (unsigned b = 0; b < SWEEP_BATCHES; b++) {
		size_t n = ag_dict_count_expired(d, 0, now, SWEEP_KEYS);
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
				ag_changed(o, "expired", &e->key);
			if (e != NULL)
				ag_dict_drop(d, e); /* and its TTL */
			else
				ag_dict_ttl_clear(d, &top->key, h);
		}
		if (pk != NULL)
			ag_journal_end(d->srv);
		d->expired += n;
		if (mono_us() - t0 >= SWEEP_US)
			break;
	}
	give_back(d);
	ag_dict_sync_mem(o, d);
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

/* Every entry, for clear and destroy. */
void ag_dict_drop_all(dict *d)
{
	log_other(d);
	ttl_clear_all(d);
	ag_table_foreach (&d->t, e) {
		ag_dict_val_free(d, &e->val);
		ag_val_release(d->srv, &e->key);
	}
	ag_table_clear_vals(&d->t);
	d->bytes = 0;
}
/* ---- transactions -------------------------------------------------------- */

static void ref_one(void *ud, ag_object *r)
{
	(void)ud;
	ag_object_ref(r);
}

/* A copy of @src into @dst as ag_table_copy() makes it, with as many
 * entries allocated as @src has (the memory a dict accounts counts
 * them). 0, or AGORA_ENOMEM with @dst empty. */
static int table_copy_exact(ag_table *dst, const ag_table *src)
{
	ag_entry *ne;

	if (ag_table_copy(dst, src) < 0)
		return AGORA_ENOMEM;
	if (dst->cap == src->cap)
		return 0;
	if (src->cap == 0) {
		free(dst->entries);
		dst->entries = NULL;
		dst->cap = 0;
		return 0;
	}
	ne = realloc(dst->entries, (size_t)src->cap * sizeof(ag_entry));
	if (ne == NULL) {
		ag_table_clear_vals(dst);
		return AGORA_ENOMEM;
	}
	if (src->cap > dst->cap)
		memset(ne + dst->cap, 0,
		       (size_t)(src->cap - dst->cap) * sizeof(ag_entry));
	dst->entries = ne;
	dst->cap = src->cap;
	return 0;
}

/* The deadlines of @src in @c, whose entries are a copy of @src's: the
 * same heap (same order: a snapshot packs it in that order) and the same
 * index, their keys aliases of @c's entries' keys. 0 or AGORA_ENOMEM
 * (what was made is freed by ag_dict_copy_free()). */
static int ttl_copy(dict *c, const dict *src)
{
	const ag_table *st = &src->ttl;
	ag_table *ct = &c->ttl;

	if (src->heapcap > 0) {
		c->heap = calloc(src->heapcap, sizeof(*c->heap));
		if (c->heap == NULL)
			return AGORA_ENOMEM;
		c->heapcap = src->heapcap;
	}
	for (uint32_t i = 0; i < src->nheap; i++) {
		ttl_node *n = malloc(sizeof(*n));
		if (n == NULL)
			return AGORA_ENOMEM;
		*n = *src->heap[i];
		n->key = (ag_val){ 0 };
		c->heap[i] = n;
		c->nheap = i + 1;
	}
	if (st->cap > 0 &&
	    (ct->entries = calloc(st->cap, sizeof(ag_entry))) == NULL)
		return AGORA_ENOMEM;
	ct->cap = st->cap;
	if (st->nslots > 0) {
		ct->slots = malloc((size_t)st->nslots * sizeof(uint32_t));
		if (ct->slots == NULL)
			return AGORA_ENOMEM;
		memcpy(ct->slots, st->slots,
		       (size_t)st->nslots * sizeof(uint32_t));
		ct->nslots = st->nslots;
	}
	for (uint32_t i = 0; i < st->used; i++) {
		const ag_entry *te = &st->entries[i];
		const ttl_node *sn = te->ptr;
		ag_entry *me;
		ttl_node *n;

		if (ag_val_is_empty(&te->key))
			continue;
		me = ag_table_find(&c->t, &te->key,
				   ag_table_hash(&c->t, &te->key));
		if (me == NULL) /* a deadline's key is always an entry's */
			return AGORA_ENOMEM;
		n = c->heap[sn->pos];
		n->key = ag_dict_key_alias(&me->key);
		ct->entries[i].key = n->key;
		ct->entries[i].ptr = n;
	}
	ct->used = st->used;
	ct->count = st->count;
	return 0;
}

dict *ag_dict_copy(const dict *d)
{
	dict *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	*c = *d;
	c->sweep_ev = NULL;
	c->heap = NULL;
	c->nheap = c->heapcap = 0;
	ag_table_init(&c->ttl, d->ttl.seed);
	if (table_copy_exact(&c->t, &d->t) < 0) {
		ag_table_init(&c->t, d->t.seed);
		ag_dict_copy_free(c);
		return NULL;
	}
	/* Its keys and values hold what their references name, as the
	 * dict's do: the objects stay while either may come back. */
	ag_table_foreach (&c->t, e) {
		ag_val_foreach_ref(c->srv, &e->key, ref_one, NULL);
		ag_val_foreach_ref(c->srv, &e->val, ref_one, NULL);
	}
	if (ttl_copy(c, d) < 0) {
		ag_dict_copy_free(c);
		return NULL;
	}
	return c;
}

/* Free a copy of ag_dict_copy(), releasing what its values hold. */
void ag_dict_copy_free(dict *c)
{
	if (c == NULL)
		return;
	for (uint32_t i = 0; i < c->nheap; i++)
		free(c->heap[i]);
	free(c->heap);
	ag_table_deinit(&c->ttl);
	ag_table_foreach (&c->t, e) {
		ag_val_free(c->srv, &e->val);
		ag_val_free(c->srv, &e->key);
	}
	ag_table_clear_vals(&c->t);
	free(c);
}

void ag_dict_restore(ag_object *o, dict *d, dict *c)
{
	struct event *ev = d->sweep_ev;
	size_t accounted = d->accounted;

	/* What it holds now is released; the copy holds its own. */
	if (d->sweep_ev != NULL)
		evtimer_del(d->sweep_ev);
	ag_dict_drop_all(d);
	ag_table_deinit(&d->t);
	ag_table_deinit(&d->ttl);
	*d = *c;
	free(c);
	d->sweep_ev = ev;
	d->accounted = accounted;
	ag_dict_sync_mem(o, d);
	sweep_arm(d, ag_wall_us());
}

/*
 * The log (what a transaction keeps at first, dict.h): each value a call
 * replaced (kept, holding what it held) and each entry it added, in
 * order. Undone last first, each puts back exactly what it changed: an
 * added entry was the last of the table, in a cell that was the end of
 * its probe run, so removing it leaves the index and `used` as they were
 * (table.c); a value goes back into its entry, which never moved (the
 * table neither grew nor compacted: ag_table_add_fits()).
 */
struct dict_undo {
	uint32_t idx; /* of the entry in d->t */
	bool add;     /* added; else old is the value it had */
	ag_val old;
};

typedef struct dict_save {
	dict *copy;   /* the whole copy, or NULL while logging */
	size_t bytes; /* d->bytes when saved */
	struct dict_undo *log;
	size_t nlog, caplog;
} dict_save;

static dict_save *txn_log(const dict *d)
{
	dict_save *sv = ag_txn_saved(d->obj);

	return sv != NULL && sv->copy == NULL ? sv : NULL;
}

/* Undo @sv's log on @t (a dict's table, or its copy's), last first,
 * releasing what the changes hold; the old values go back (the log is
 * left empty). */
static void log_undo(dict *d, dict_save *sv)
{
	for (size_t i = sv->nlog; i-- > 0;) {
		struct dict_undo *u = &sv->log[i];
		ag_entry *e = &d->t.entries[u->idx];

		ag_dict_val_free(d, &e->val);
		if (u->add) {
			ag_val_release(d->srv, &e->key);
			ag_table_remove(&d->t, e);
		} else {
			e->val = u->old;
		}
	}
	d->bytes = sv->bytes;
	free(sv->log);
	sv->log = NULL;
	sv->nlog = sv->caplog = 0;
}

void *ag_dict_txn_save(ag_object *o)
{
	dict *d = o->data;
	dict_save *sv = calloc(1, sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->bytes = d->bytes;
	return sv;
}

int ag_dict_txn_full(ag_object *o)
{
	dict *d = o->data;
	dict_save *sv = txn_log(d);
	dict *c;

	if (sv == NULL)
		return 0;
	if ((c = ag_dict_copy(d)) == NULL)
		return AGORA_ENOMEM;
	log_undo(c, sv);
	sv->copy = c;
	return 0;
}

int ag_dict_txn_prepare(ag_object *o)
{
	dict_save *sv = txn_log(o->data);
	struct dict_undo *nl;
	size_t ncap;

	if (sv == NULL || sv->nlog < sv->caplog)
		return 0;
	ncap = sv->caplog ? sv->caplog * 2 : 8;
	nl = realloc(sv->log, ncap * sizeof(*nl));
	if (nl == NULL)
		return AGORA_ENOMEM;
	sv->log = nl;
	sv->caplog = ncap;
	return 0;
}

/* An entry added (room made by ag_dict_txn_prepare()). */
static void log_add(dict *d, ag_entry *e)
{
	dict_save *sv = txn_log(d);

	if (sv == NULL)
		return;
	if (sv->nlog == sv->caplog) { /* unprepared: cannot happen */
		log_other(d);
		return;
	}
	sv->log[sv->nlog].idx = (uint32_t)(e - d->t.entries);
	sv->log[sv->nlog].add = true;
	sv->log[sv->nlog].old = (ag_val){ 0 };
	sv->nlog++;
}

/* The value of @e is replaced: true when the log keeps it (the caller
 * then must not free it). */
static bool log_replace(dict *d, ag_entry *e)
{
	dict_save *sv = txn_log(d);

	if (sv == NULL)
		return false;
	if (sv->nlog == sv->caplog) { /* unprepared: cannot happen */
		log_other(d);
		return false;
	}
	sv->log[sv->nlog].idx = (uint32_t)(e - d->t.entries);
	sv->log[sv->nlog].add = false;
	sv->log[sv->nlog].old = e->val;
	sv->nlog++;
	return true;
}

/* A change the log cannot undo is about to be made: the whole copy
 * (the methods make it first, ag_dict_txn_full(); this is a guard). */
static void log_other(dict *d)
{
	if (txn_log(d) != NULL)
		(void)ag_dict_txn_full(d->obj);
}

void ag_dict_txn_restore(ag_object *o, void *saved)
{
	dict *d = o->data;
	dict_save *sv = saved;

	if (sv->copy != NULL) {
		ag_dict_restore(o, d, sv->copy);
	} else {
		log_undo(d, sv);
		ag_dict_sync_mem(o, d);
	}
	free(sv);
}

void ag_dict_txn_drop(ag_object *o, void *saved)
{
	dict *d = o->data;
	dict_save *sv = saved;

	if (sv->copy != NULL)
		ag_dict_copy_free(sv->copy);
	for (size_t i = 0; i < sv->nlog; i++)
		ag_dict_val_free(d, &sv->log[i].old);
	free(sv->log);
	free(sv);
}
