/*
 * obj_queue.c - the "queue" family: Python's queue.Queue, owned by the
 * server loop, with acknowledged delivery (take, ack, nack, pending); and
 * the "joinable_queue" family, Python's JoinableQueue, at the end. This
 * file reads params, checks options and answers; the items (the ring, the
 * waiters they go to, pending items, going back, the dead-letter queue)
 * are queue_items.c's, the state struct queue.h's.
 *
 * State (struct queue): the items, the bound (maxsize, 0 = unbounded), and
 * two wait lists in arrival order: getters (get and take) parked on an
 * empty queue, and putters parked on a full one, each putter carrying its
 * value in w->val.
 *
 * Invariant, true whenever a method returns (outside a transaction: within
 * one it holds again at the commit, see below): getters are parked only
 * while the queue is empty, putters only while it is full. So the two lists are
 * never both non-empty (a full queue holds at least one item), and a request
 * never overtakes a parked one: an item that arrives goes to the first getter
 * (ag_queue_offer), and a slot freed at the head goes to the first putter
 * (ag_queue_admit_putters). Waiters whose connection closed were already taken
 * out of the lists by the server core (ag_wait_done), so an item is only ever
 * handed to a live request.
 *
 * Memory accounted with ag_object_mem(): the state, the ring's slots and the
 * heap bytes of the items in it or pending (none for items that fit inline
 * in their ag_val). A value carried by a parked putter is not counted until
 * it enters the ring (the core may free it on withdrawal).
 *
 * Persistence (AG_PERSIST_CALLS): the dispatcher journals the calls that
 * answer at once; a parked get, take or put is journaled by queue_items.c
 * when it is served, as the call that would then have been answered at
 * once, and so is an item going back without a call (as a nack). A
 * snapshot saves the items never taken as puts, and the rest as the
 * state (ag_queue_pack_state).
 *
 * Transactions (docs/protocol.md section 12; queue_items.c keeps what is
 * needed to undo with: a log of the ring's ends, or a whole copy): get,
 * put and take with block true, and join, are refused there (they may
 * park). Parked requests keep their place: an item that would go to a
 * parked getter or taker is promised to it (and journaled) within the
 * transaction, a slot freed for a parked putter takes a copy of its item,
 * and the joiners are answered when no task is left at the commit; the
 * answers go at the commit (ag_queue_wake), and a rollback forgets them.
 * A nack that moves an item to the dead-letter queue saves that queue
 * first (ag_txn_touch).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

/*
 * put(v, block, timeout) on r->obj, with the value at argv[@vi]; @block and
 * @timeout (<0: forever) already validated. Answers nil at once, FULL, or
 * parks the request until a slot frees or the time is up. Returns 0 or the
 * negative code it answered with.
 */
static int queue_do_put(ag_req *r, uint32_t vi, bool block, double timeout)
{
	ag_object *o = r->obj;
	struct queue *q = o->data;
	ag_waiter *w;
	ag_val v;
	int rc;

	/* An item that goes straight to a parked getter is never held. */
	if (TAILQ_EMPTY(&q->getters) &&
	    (rc = ag_items_check(r, q->count, 1)) < 0)
		return rc;
	rc = ag_arg_val(r, vi, &v);
	if (rc < 0)
		return rc;
	if (!TAILQ_EMPTY(&q->getters) || !ag_queue_is_full(q)) {
		rc = ag_queue_offer(o, q, &v);
		if (rc < 0) {
			ag_val_free(r->srv, &v);
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "out of memory storing the item");
		}
		ag_reply_nil(&r->to);
		return 0;
	}
	/* Python's put(block=True, timeout=0) on a full queue fails at once. */
	if (!block || timeout == 0) {
		ag_val_free(r->srv, &v);
		if (!block)
			return ag_reply_error(&r->to, AGORA_EFULL,
					      "queue full (maxsize %llu)",
					      (unsigned long long)q->maxsize);
		return ag_reply_error(&r->to, AGORA_EFULL,
				      "queue full after 0 s");
	}
	w = ag_wait_park(r, &q->putters, timeout, ag_queue_put_timed_out);
	if (w == NULL) {
		ag_val_free(r->srv, &v);
		return AGORA_ELIMIT;
	}
	w->val = v;
	ag_queue_set_timeout(w, timeout);
	return 0;
}

/*
 * get(block, timeout) on r->obj; @block and @timeout (<0: forever) already
 * validated. Answers the oldest item at once, EMPTY, or parks the request
 * until an item arrives or the time is up. Returns 0 or the negative code it
 * answered with.
 */
static int queue_do_get(ag_req *r, bool block, double timeout)
{
	ag_object *o = r->obj;
	struct queue *q = o->data;
	ag_waiter *w;
	ag_val item;

	if (q->count > 0) {
		if (ag_queue_txn_pop_prepare(o, q) < 0)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "out of memory taking the item");
		ag_queue_pop_item(o, q, &item, NULL);
		ag_reply_val(&r->to, &item);
		ag_val_give(r->to.conn, &item);
		return 0;
	}
	if (!block)
		return ag_reply_error(&r->to, AGORA_EEMPTY, "queue empty");
	if (timeout == 0)
		return ag_reply_error(&r->to, AGORA_EEMPTY,
				      "queue empty after 0 s");
	w = ag_wait_park(r, &q->getters, timeout, ag_queue_get_timed_out);
	if (w == NULL)
		return AGORA_ELIMIT;
	ag_queue_set_timeout(w, timeout);
	return 0;
}

/*
 * Read the maxsize option (absent: 0). A negative int is VALUE, anything but
 * an int ARGS. Returns 0 or the code answered.
 */
static int queue_opt_maxsize(ag_req *r, const msgpack_object *opts,
			     uint64_t *ret)
{
	const msgpack_object *m = opts ? ag_opt(opts, "maxsize") : NULL;
	char desc[64];

	if (m == NULL) {
		*ret = 0;
		return 0;
	}
	if (m->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*ret = m->via.u64;
		return 0;
	}
	ag_obj_describe(m, desc, sizeof(desc));
	if (m->type == MSGPACK_OBJECT_NEGATIVE_INTEGER)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "open: maxsize must be >= 0, not %s",
				      desc);
	return ag_reply_error(&r->to, AGORA_EARGS,
			      "open: maxsize must be an int, not %s", desc);
}

/*
 * The dead-letter options: max_deliveries (an int >= 1) and dead_letter
 * (the name of a queue or joinable_queue that exists, which the user may
 * write), both or neither. While loading, the queue named may come later:
 * it is looked up when an item goes there. Returns 0 or the code answered.
 */
static int queue_opt_dead_letter(ag_req *r, const msgpack_object *opts,
				 uint64_t *ret_max, char **ret_name)
{
	const msgpack_object *m = opts ? ag_opt(opts, "max_deliveries") : NULL;
	const msgpack_object *d = opts ? ag_opt(opts, "dead_letter") : NULL;
	ag_server *s = r->srv;
	char desc[64];

	*ret_max = 0;
	*ret_name = NULL;
	if (m == NULL && d == NULL)
		return 0;
	if (m == NULL || d == NULL)
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: max_deliveries and dead_letter "
				      "go together (%s is missing)",
				      m == NULL ? "max_deliveries"
						: "dead_letter");
	if (m->type != MSGPACK_OBJECT_POSITIVE_INTEGER || m->via.u64 == 0) {
		ag_obj_describe(m, desc, sizeof(desc));
		return ag_reply_error(
		    &r->to,
		    m->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
			    m->type == MSGPACK_OBJECT_NEGATIVE_INTEGER
			? AGORA_EVALUE
			: AGORA_EARGS,
		    "open: max_deliveries must be an int >= 1, not %s", desc);
	}
	if (d->type != MSGPACK_OBJECT_STR || d->via.str.size == 0 ||
	    memchr(d->via.str.ptr, '\0', d->via.str.size) != NULL) {
		ag_obj_describe(d, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "open: dead_letter must be the name of "
				      "a queue, not %s",
				      desc);
	}
	if (!ag_persist_loading(s)) {
		ag_val key = ag_val_view(d->via.str.ptr, d->via.str.size, 0);
		ag_entry *e = ag_table_find(&s->names, &key,
					    ag_table_hash(&s->names, &key));
		ag_object *dq = e != NULL ? e->ptr : NULL;
		if (dq == NULL || (dq->fam != &ag_family_queue &&
				   dq->fam != &ag_family_joinable_queue))
			return ag_reply_error(
			    &r->to, AGORA_EVALUE,
			    "open: dead_letter \"%.*s\" is not a queue (%s%s)",
			    (int)d->via.str.size, d->via.str.ptr,
			    dq == NULL ? "no object has that name" : "it is a ",
			    dq == NULL ? "" : dq->fam->name);
		if (!ag_user_may(r, AG_RIGHT_WRITE, d->via.str.ptr,
				 d->via.str.size))
			return AGORA_EDENIED;
	}
	*ret_name = strndup(d->via.str.ptr, d->via.str.size);
	if (*ret_name == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a queue");
	*ret_max = m->via.u64;
	return 0;
}

/*
 * Set up o->data as an empty queue from @opts (may be NULL), which may name
 * only the options in @allowed. Returns 0, or the code answered (ARGS, VALUE,
 * LIMIT) with o->data untouched.
 */
static int queue_state_new(ag_object *o, ag_req *r, const msgpack_object *opts,
			   const char *const *allowed)
{
	struct queue *q;
	uint64_t maxsize = 0, max_deliveries = 0;
	char *dead_letter = NULL;
	int rc;

	rc = ag_opts_check(r, opts, allowed);
	if (rc < 0)
		return rc;
	rc = queue_opt_maxsize(r, opts, &maxsize);
	if (rc < 0)
		return rc;
	rc = queue_opt_dead_letter(r, opts, &max_deliveries, &dead_letter);
	if (rc < 0)
		return rc;
	q = calloc(1, sizeof(*q));
	if (q == NULL) {
		free(dead_letter);
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a queue");
	}
	q->maxsize = maxsize;
	q->max_deliveries = max_deliveries;
	q->dead_letter = dead_letter;
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	TAILQ_INIT(&q->pending);
	TAILQ_INIT(&q->returned);
	ag_table_init(&q->index, ag_server_seed(o->srv));
	o->data = q;
	ag_object_mem(
	    o, (ssize_t)(sizeof(*q) +
			 (dead_letter != NULL ? strlen(dead_letter) + 1 : 0)));
	return 0;
}

/* ---- methods ------------------------------------------------------------- */

static int queue_put(ag_req *r)
{
	bool block;
	double timeout;
	int rc;

	rc = ag_arg_block(r, 2, &block, &timeout);
	if (rc < 0)
		return rc;
	return queue_do_put(r, 1, block, timeout);
}

static int queue_get(ag_req *r)
{
	bool block;
	double timeout;
	int rc;

	rc = ag_arg_block(r, 1, &block, &timeout);
	if (rc < 0)
		return rc;
	return queue_do_get(r, block, timeout);
}

static int queue_put_nowait(ag_req *r)
{
	return queue_do_put(r, 1, false, 0);
}

static int queue_get_nowait(ag_req *r)
{
	return queue_do_get(r, false, 0);
}

static int queue_qsize(ag_req *r)
{
	struct queue *q = r->obj->data;

	ag_reply_uint(&r->to, q->count);
	return 0;
}

/*
 * peek(n=1): up to @n of the oldest items, oldest first, as an array
 * (empty when the queue is). Takes nothing, never waits, and passes no
 * hold of the references in the items (section 8: reading is not taking).
 */
static int queue_peek(ag_req *r)
{
	struct queue *q = r->obj->data;
	msgpack_packer *pk;
	int64_t n;
	int rc;

	if ((rc = ag_arg_opt_int(r, 1, 1, &n)) < 0)
		return rc;
	if (n < 0)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "peek: n must be 0 or more, got %lld",
				      (long long)n);
	if ((uint64_t)n > q->count)
		n = (int64_t)q->count;
	pk = ag_reply_begin(&r->to);
	msgpack_pack_array(pk, (size_t)n);
	for (int64_t i = 0; i < n; i++)
		ag_pack_val(pk, &q->ring[(q->head + (size_t)i) & (q->cap - 1)]);
	return 0;
}

static int queue_empty(ag_req *r)
{
	struct queue *q = r->obj->data;

	ag_reply_bool(&r->to, q->count == 0);
	return 0;
}

static int queue_full(ag_req *r)
{
	struct queue *q = r->obj->data;

	ag_reply_bool(&r->to, ag_queue_is_full(q));
	return 0;
}

/* ---- acknowledged delivery ----------------------------------------------- */

/* Leases: at most about 31 years (the timer's seconds fit easily). */
#define LEASE_MAX 1e9

int ag_queue_arg_lease(ag_req *r, uint32_t i, double *ret)
{
	const msgpack_object *a;
	char desc[64];
	double v;

	*ret = 0;
	if (!ag_arg_given(r, i))
		return 0;
	a = &r->argv[i];
	switch (a->type) {
	case MSGPACK_OBJECT_POSITIVE_INTEGER:
		v = (double)a->via.u64;
		break;
	case MSGPACK_OBJECT_NEGATIVE_INTEGER:
		v = (double)a->via.i64;
		break;
	case MSGPACK_OBJECT_FLOAT32:
	case MSGPACK_OBJECT_FLOAT64:
		v = a->via.f64;
		break;
	default:
		ag_obj_describe(a, desc, sizeof(desc));
		return ag_reply_error(&r->to, AGORA_EARGS,
				      "%.*s: lease must be a number of "
				      "seconds or nil, not %s",
				      (int)r->methodlen, r->method, desc);
	}
	if (!(v > 0) || v > LEASE_MAX || v * 1e6 < 1)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "%.*s: lease must be more than 0 and at "
				      "most %g seconds, not %g",
				      (int)r->methodlen, r->method, LEASE_MAX,
				      v);
	*ret = v;
	return 0;
}

/*
 * take(block=true, timeout=nil, lease=nil, details=false) -> [id, item]
 * ([id, item, deliveries] with details): as get, but the item stays the
 * queue's, pending on this connection, until ack; it goes back when nack
 * is called, its lease runs out or the connection ends.
 */
static int queue_take(ag_req *r)
{
	ag_object *o = r->obj;
	struct queue *q = o->data;
	struct pend *p;
	ag_waiter *w;
	double timeout, lease;
	bool block, details;
	int rc;

	if ((rc = ag_arg_block(r, 1, &block, &timeout)) < 0 ||
	    (rc = ag_queue_arg_lease(r, 3, &lease)) < 0 ||
	    (rc = ag_arg_bool(r, 4, false, &details)) < 0)
		return rc;
	if (q->count > 0) {
		p = ag_queue_take_item(o, q, r->to.conn, lease);
		if (p == NULL)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "take: out of memory");
		ag_pend_reply(&r->to, p, details);
		ag_queue_admit_putters(o, q);
		return 0;
	}
	if (!block)
		return ag_reply_error(&r->to, AGORA_EEMPTY, "queue empty");
	if (timeout == 0)
		return ag_reply_error(&r->to, AGORA_EEMPTY,
				      "queue empty after 0 s");
	w = ag_wait_park(r, &q->getters, timeout, ag_queue_get_timed_out);
	if (w == NULL)
		return AGORA_ELIMIT;
	ag_queue_set_timeout(w, timeout);
	w->aux = ag_queue_take_aux(lease, details);
	return 0;
}

/* The item whose id is argv[1], pending on the caller's connection, or
 * NULL after answering VALUE (ARGS for an id that is not an int). */
static struct pend *arg_pending(ag_req *r, const char *what)
{
	struct queue *q = r->obj->data;
	struct pend *p;
	int64_t id;

	if (ag_arg_int(r, 1, &id) < 0)
		return NULL;
	p = id > 0 ? ag_pend_find(q, (uint64_t)id) : NULL;
	if (p != NULL && p->conn == r->to.conn)
		return p;
	if (p != NULL)
		ag_reply_error(&r->to, AGORA_EVALUE,
			       "%s: item %lld is pending on connection %llu, "
			       "not this one",
			       what, (long long)id,
			       (unsigned long long)p->conn->id);
	else
		ag_reply_error(&r->to, AGORA_EVALUE,
			       "%s: no item %lld is pending (never taken, "
			       "already acknowledged, or it went back when "
			       "its lease ran out)",
			       what, (long long)id);
	return NULL;
}

/* ack(id) -> nil: the item is done. A joinable_queue counts its task
 * done. Its references pass to the caller, as get's do. */
static int queue_ack(ag_req *r)
{
	ag_object *o = r->obj;
	struct queue *q = o->data;
	struct pend *p = arg_pending(r, "ack");

	if (p == NULL)
		return AGORA_EVALUE;
	if (ag_queue_txn_full(o) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "ack: out of memory");
	ag_pend_release(o, q, p);
	ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
	ag_val_give(r->to.conn, &p->item);
	memset(&p->item, 0, sizeof(p->item));
	ag_pend_free(o, p);
	if (ag_queue_joinable(o))
		ag_queue_tasks_done(o, q);
	ag_reply_nil(&r->to);
	return 0;
}

/* nack(id) -> nil: the item goes back now (or to the dead-letter queue). */
static int queue_nack(ag_req *r)
{
	ag_object *o = r->obj;
	struct queue *q = o->data;
	struct pend *p = arg_pending(r, "nack");

	if (p == NULL)
		return AGORA_EVALUE;
	if (ag_queue_txn_full(o) < 0 || ag_pend_requeue_prepare(o, q, p) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "nack: out of memory");
	ag_pend_release(o, q, p);
	ag_pend_requeue(o, q, p);
	ag_reply_nil(&r->to);
	return 0;
}

/* One pending item: {"id", "conn", "deliveries", "lease": seconds left or
 * nil}. */
static void pack_pend(msgpack_packer *pk, const struct pend *p, int64_t now)
{
	msgpack_pack_map(pk, 4);
	ag_pack_str(pk, "id");
	msgpack_pack_uint64(pk, p->id);
	ag_pack_str(pk, "conn");
	msgpack_pack_uint64(pk, p->conn->id);
	ag_pack_str(pk, "deliveries");
	msgpack_pack_uint64(pk, p->deliveries);
	ag_pack_str(pk, "lease");
	if (p->lease_s > 0 && p->lease != NULL)
		msgpack_pack_double(pk, p->lease_ms > now
					    ? (double)(p->lease_ms - now) / 1000
					    : 0.0);
	else
		msgpack_pack_nil(pk);
}

/* pending() -> the items pending, in take order. */
static int queue_pending(ag_req *r)
{
	struct queue *q = r->obj->data;
	msgpack_packer *pk = ag_reply_begin(&r->to);
	int64_t now = ag_mono_ms();
	struct pend *p;

	msgpack_pack_array(pk, q->npending);
	TAILQ_FOREACH (p, &q->pending, link)
		pack_pend(pk, p, now);
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const char *const queue_options[] = { "maxsize", "max_deliveries",
					     "dead_letter", NULL };

static int queue_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	return queue_state_new(o, r, opts, queue_options);
}

/* Free the items and the state; no waiter is left (each holds a ref), and
 * no item is pending (each pending item's connection holds one) unless
 * the server is stopping. */
static void queue_destroy(ag_object *o)
{
	struct queue *q = o->data;
	struct pend *p;
	size_t i, mem;

	if (q == NULL)
		return;
	while ((p = TAILQ_FIRST(&q->pending)) != NULL) {
		TAILQ_REMOVE(&q->pending, p, link);
		ag_pend_free(o, p);
	}
	while ((p = TAILQ_FIRST(&q->returned)) != NULL) {
		TAILQ_REMOVE(&q->returned, p, link);
		ag_pend_free(o, p);
	}
	ag_table_foreach (&q->index, e)
		ag_val_deinit(&e->key);
	ag_table_deinit(&q->index);
	/* Give back exactly what this file accounted, nothing of the core's. */
	mem = sizeof(*q) + q->cap * sizeof(ag_val) +
	      (q->dead_letter != NULL ? strlen(q->dead_letter) + 1 : 0);
	for (i = 0; i < q->count; i++) {
		ag_val *v = &q->ring[(q->head + i) & (q->cap - 1)];
		mem += ag_val_heap(v);
		ag_val_free(o->srv, v);
	}
	free(q->dead_letter);
	free(q->ring);
	free(q->given); /* empty outside a transaction */
	free(q);
	o->data = NULL;
	ag_object_mem(o, -(ssize_t)mem);
}

static bool queue_len(ag_object *o, size_t *ret)
{
	struct queue *q = o->data;

	*ret = q->count;
	return true;
}

static unsigned queue_info_count(ag_object *o)
{
	return 6;
}

static int by_conn(const void *a, const void *b)
{
	const struct pend *x = *(const struct pend *const *)a;
	const struct pend *y = *(const struct pend *const *)b;

	if (x->conn->id != y->conn->id)
		return x->conn->id < y->conn->id ? -1 : 1;
	return x->id < y->id ? -1 : x->id > y->id;
}

/* "pending": {connection id: [item ids]}, connections in id order. */
static void pack_pending_by_conn(struct queue *q, msgpack_packer *pk)
{
	struct pend **v = q->npending ? calloc(q->npending, sizeof(*v)) : NULL;
	struct pend *p;
	size_t n = 0, nconns = 0, i, j;

	if (v == NULL) {
		msgpack_pack_map(pk, 0);
		return;
	}
	TAILQ_FOREACH (p, &q->pending, link)
		v[n++] = p;
	qsort(v, n, sizeof(*v), by_conn);
	for (i = 0; i < n; i++)
		nconns += i == 0 || v[i]->conn != v[i - 1]->conn;
	msgpack_pack_map(pk, nconns);
	for (i = 0; i < n; i = j) {
		for (j = i; j < n && v[j]->conn == v[i]->conn; j++)
			;
		msgpack_pack_uint64(pk, v[i]->conn->id);
		msgpack_pack_array(pk, j - i);
		for (size_t k = i; k < j; k++)
			msgpack_pack_uint64(pk, v[k]->id);
	}
	free(v);
}

static void queue_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	ag_pack_str(pk, "maxsize");
	msgpack_pack_uint64(pk, q->maxsize);
	ag_pack_str(pk, "pending");
	pack_pending_by_conn(q, pk);
	ag_pack_str(pk, "redelivered");
	msgpack_pack_uint64(pk, q->redelivered);
	ag_pack_str(pk, "dead_lettered");
	msgpack_pack_uint64(pk, q->dead_lettered);
	ag_pack_str(pk, "max_deliveries");
	if (q->max_deliveries != 0)
		msgpack_pack_uint64(pk, q->max_deliveries);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "dead_letter");
	if (q->dead_letter != NULL)
		ag_pack_str(pk, q->dead_letter);
	else
		msgpack_pack_nil(pk);
}

/* ---- persistence --------------------------------------------------------- */

/* {"maxsize": n, "max_deliveries": n, "dead_letter": name}, each only when
 * set; nil when none is. */
static void queue_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;
	unsigned n = (q->maxsize != 0) + (q->dead_letter != NULL ? 2 : 0);

	if (n == 0) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_map(pk, n);
	if (q->maxsize != 0) {
		ag_pack_str(pk, "maxsize");
		msgpack_pack_uint64(pk, q->maxsize);
	}
	if (q->dead_letter != NULL) {
		ag_pack_str(pk, "max_deliveries");
		msgpack_pack_uint64(pk, q->max_deliveries);
		ag_pack_str(pk, "dead_letter");
		ag_pack_str(pk, q->dead_letter);
	}
}

/* The items that never went back, oldest first: one "queue.put" [id, item,
 * false] each (put takes one item; never more than maxsize of them, so
 * none blocks). The ones that went back are in the state. */
static int queue_save(ag_object *o, ag_save *sv)
{
	struct queue *q = o->data;
	msgpack_packer *pk;
	int rc;

	for (size_t i = q->nreturned; i < q->count; i++) {
		pk = ag_save_call(sv, o, "queue.put", 2);
		if (pk == NULL)
			return AGORA_EIO;
		ag_pack_val(pk, &q->ring[(q->head + i) & (q->cap - 1)]);
		msgpack_pack_false(pk);
		rc = ag_save_end(sv);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* ---- transactions ------------------------------------------------------- */

/* The hooks of protocol section 12 are queue_items.c's (what a
 * transaction keeps to undo with, and serving the waiters after the
 * commit). */
/* The calls that may park: get [h, block, timeout], put [h, item, block,
 * timeout] and take [h, block, timeout, lease, details] unless block is
 * false; join always. */
static const char *const queue_refused[] = { "get@1", "put@2", "take@1", NULL };
static const char *const jq_refused[] = { "get@1", "put@2", "take@1", "join",
					  NULL };

#define QUEUE_METHODS                                                         \
	{ "put", queue_put, 2, 4, AG_STORES_BYTES, AG_RIGHT_WRITE },          \
	    { "get", queue_get, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },       \
	    { "put_nowait",    queue_put_nowait, 2, 2,                        \
	      AG_STORES_BYTES, AG_RIGHT_WRITE },                              \
	    { "get_nowait",   queue_get_nowait, 1, 1,                         \
	      AG_STORES_NONE, AG_RIGHT_WRITE },                               \
	    { "qsize", queue_qsize, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },    \
	    { "peek", queue_peek, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },      \
	    { "empty", queue_empty, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },    \
	    { "full", queue_full, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },      \
	    { "take", queue_take, 1, 5, AG_STORES_NONE, AG_RIGHT_WRITE },     \
	    { "ack", queue_ack, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },       \
	    { "nack", queue_nack, 2, 2, AG_STORES_NONE, AG_RIGHT_WRITE },     \
	{                                                                     \
		"pending", queue_pending, 1, 1, AG_STORES_NONE, AG_RIGHT_READ \
	}

static const ag_method queue_methods[] = {
	QUEUE_METHODS,
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_queue = {
	.name = "queue",
	.base = NULL,
	.methods = queue_methods,
	.create = queue_create,
	.destroy = queue_destroy,
	.len = queue_len,
	.info_count = queue_info_count,
	.info_pack = queue_info_pack,
	.conn_gone = ag_queue_conn_gone,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
	.pack_state = ag_queue_pack_state,
	.load_state = ag_queue_load_state,
	.txn_save = ag_queue_txn_save,
	.txn_restore = ag_queue_txn_restore,
	.txn_drop = ag_queue_txn_drop,
	.wake = ag_queue_wake,
	.txn_refused = queue_refused,
};

/* ---- joinable_queue ------------------------------------------------------ */

/*
 * The "joinable_queue" family: Python's JoinableQueue. Same state and same
 * methods as a queue (its table repeats them, so "joinable_queue.put" works;
 * "queue.put" works through the dispatcher's base rule), plus:
 *
 *   task_done()       -> nil; VALUE when no task is unfinished. When the
 *                        count reaches 0, every parked join() is answered
 *                        true, in arrival order.
 *   join(timeout=nil) -> bool: true at once when no task is unfinished;
 *                        otherwise parked until then (true) or the timeout
 *                        (false, not an error).
 *
 * q->unfinished is counted by ag_queue_offer(): every item that enters the
 * queue or goes straight to a parked getter. A putter parked on a full queue
 * counts only once its item is admitted. Joiners are parked only while
 * unfinished > 0. An item taken with take is done when it is acknowledged
 * (ack counts its task_done: a worker that called task_done and died before
 * its ack would leave the count one short for an item done again), or
 * when it goes to the dead-letter queue; going back leaves it unfinished.
 */

static int joinable_queue_task_done(ag_req *r)
{
	struct queue *q = r->obj->data;

	if (q->unfinished == 0)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "task_done() called more times than "
				      "items were put");
	/* The request's handle holds the object meanwhile. */
	ag_queue_tasks_done(r->obj, q);
	ag_reply_nil(&r->to);
	return 0;
}

static int joinable_queue_join(ag_req *r)
{
	struct queue *q = r->obj->data;
	double timeout;
	int rc;

	rc = ag_arg_timeout(r, 1, &timeout);
	if (rc < 0)
		return rc;
	if (q->unfinished == 0 || timeout == 0) {
		ag_reply_bool(&r->to, q->unfinished == 0);
		return 0;
	}
	/* On timeout false, not an error: Python's join has no timeout;
	 * Agora's answers as Event.wait does. */
	if (ag_wait_park(r, &q->joiners, timeout, ag_wait_answer_false) == NULL)
		return AGORA_ELIMIT;
	return 0;
}

static int jq_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	return queue_state_new(o, r, opts, queue_options);
}

static unsigned jq_info_count(ag_object *o)
{
	return queue_info_count(o) + 1;
}

static void jq_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	queue_info_pack(o, pk);
	ag_pack_str(pk, "unfinished");
	msgpack_pack_uint64(pk, q->unfinished);
}

static const ag_method jq_methods[] = {
	QUEUE_METHODS,
	{ "task_done", joinable_queue_task_done, 1, 1, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "join", joinable_queue_join, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_joinable_queue = {
	.name = "joinable_queue",
	.base = &ag_family_queue,
	.methods = jq_methods,
	.create = jq_create,
	.destroy = queue_destroy,
	.len = queue_len,
	.info_count = jq_info_count,
	.info_pack = jq_info_pack,
	.conn_gone = ag_queue_conn_gone,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
	.pack_state = ag_queue_pack_state,
	.load_state = ag_queue_load_state,
	.txn_save = ag_queue_txn_save,
	.txn_restore = ag_queue_txn_restore,
	.txn_drop = ag_queue_txn_drop,
	.wake = ag_queue_wake,
	.txn_refused = jq_refused,
};
