/*
 * obj_queue.c - the "queue" family: Python's queue.Queue, owned by the
 * server loop.
 *
 * State (struct queue): the items, a ring buffer of owned ag_val (push at the
 * tail and pop at the head in O(1); the ring doubles when full and halves
 * when a quarter used), the bound (maxsize, 0 = unbounded), and two wait
 * lists in arrival order: getters parked on an empty queue, and putters
 * parked on a full one, each putter carrying its value in w->val.
 *
 * Invariant, true whenever a method returns: getters are parked only while
 * the queue is empty, putters only while it is full. So the two lists are
 * never both non-empty (a full queue holds at least one item), and a request
 * never overtakes a parked one: an item that arrives goes to the first getter
 * (queue_offer), and a slot freed at the head goes to the first putter
 * (queue_admit_putters). Waiters whose connection closed were already taken
 * out of the lists by the server core (ag_wait_done), so an item is only ever
 * handed to a live request.
 *
 * The helpers below the ring (queue_state_new, queue_offer, queue_take,
 * queue_do_put, queue_do_get) take the object and are meant to be shared: the
 * joinable_queue family (base = &ag_family_queue, same o->data layout)
 * lives at the end of this file and reuses them. For it, struct queue already
 * counts unfinished tasks (every item that enters the queue or is handed
 * straight to a getter counts one) and keeps a list for join() waiters, unused
 * by a plain queue.
 *
 * Memory accounted with ag_object_mem(): the state, the ring's slots and the
 * heap bytes of the items in it (none for items that fit inline in their
 * ag_val). A value carried by a parked putter is not
 * counted until it enters the ring (the core may free it on withdrawal).
 *
 * Persistence (AG_PERSIST_CALLS): the dispatcher journals the calls that
 * answer at once; a parked get or put is journaled here when it is served
 * (journal_served_get/put), as the call that would then have been answered
 * at once. A snapshot saves the items as puts, and a joinable_queue's
 * unfinished count as its state.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define RING_MIN 8u     /* first allocation, in slots */
#define RING_SHRINK 64u /* never halve a ring at or below this size */

struct queue {
	ag_val *ring;        /* cap slots; items at head .. head+count-1 */
	size_t cap;          /* 0 or a power of two */
	size_t head;         /* index of the oldest item */
	size_t count;        /* items held */
	uint64_t maxsize;    /* 0: unbounded */
	uint64_t unfinished; /* joinable_queue: items put, not yet task_done */
	struct ag_waitq getters; /* parked get: waiting for an item */
	struct ag_waitq putters; /* parked put: waiting for a slot, w->val */
	struct ag_waitq joiners; /* joinable_queue: parked join() */
};

/* ---- the ring ------------------------------------------------------------ */

/*
 * Move the items into a new array of @ncap slots (a power of two >= count),
 * oldest first at index 0. Returns 0, or AGORA_ENOMEM with the ring as it
 * was.
 */
static int ring_resize(ag_object *o, struct queue *q, size_t ncap)
{
	ag_val *nring;
	size_t i;

	if (ncap > SIZE_MAX / sizeof(ag_val))
		return AGORA_ENOMEM;
	nring = calloc(ncap, sizeof(ag_val));
	if (nring == NULL)
		return AGORA_ENOMEM;
	for (i = 0; i < q->count; i++)
		nring[i] = q->ring[(q->head + i) & (q->cap - 1)];
	free(q->ring);
	ag_object_mem(o, ((ssize_t)ncap - (ssize_t)q->cap) *
			     (ssize_t)sizeof(ag_val));
	q->ring = nring;
	q->cap = ncap;
	q->head = 0;
	return 0;
}

/* Make room for one more item. Returns 0 or AGORA_ENOMEM. */
static int ring_reserve(ag_object *o, struct queue *q)
{
	if (q->count < q->cap)
		return 0;
	if (q->cap > SIZE_MAX / 2)
		return AGORA_ENOMEM;
	return ring_resize(o, q, q->cap ? q->cap * 2 : RING_MIN);
}

/* Append @v at the tail (room reserved) and take its bytes: @v is left
 * empty. */
static void ring_push(ag_object *o, struct queue *q, ag_val *v)
{
	q->ring[(q->head + q->count) & (q->cap - 1)] = *v;
	q->count++;
	ag_object_mem(o, (ssize_t)ag_val_heap(v));
	memset(v, 0, sizeof(*v));
}

/*
 * Remove the oldest item (the queue is not empty) into *ret, which the caller
 * then owns. Halves a sparse ring; a failure to do so is harmless. After
 * this, count < cap, so a push needs no allocation.
 */
static void ring_pop(ag_object *o, struct queue *q, ag_val *ret)
{
	ag_val *slot = &q->ring[q->head];

	*ret = *slot;
	memset(slot, 0, sizeof(*slot));
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	ag_object_mem(o, -(ssize_t)ag_val_heap(ret));
	if (q->cap > RING_SHRINK && q->count <= q->cap / 4)
		(void)ring_resize(o, q, q->cap / 2);
}

/* ---- waiter helpers ------------------------------------------------------ */

/* The timeout a waiter was parked with, kept in w->n (its bits), for the
 * message it gets when the time is up. */
static void waiter_set_timeout(ag_waiter *w, double timeout)
{
	_Static_assert(sizeof(double) == sizeof(w->n), "double fits in n");
	memcpy(&w->n, &timeout, sizeof(timeout));
}

static double waiter_timeout(const ag_waiter *w)
{
	double timeout;

	memcpy(&timeout, &w->n, sizeof(timeout));
	return timeout;
}

/* on_timeout of a parked get: answer EMPTY; wait.c then frees @w. */
static void get_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EEMPTY, "queue empty after %g s",
		       waiter_timeout(w));
}

/* on_timeout of a parked put: answer FULL; wait.c then frees @w and the
 * value it carried. */
static void put_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EFULL, "queue full after %g s",
		       waiter_timeout(w));
}

/* ---- the journal of served waiters --------------------------------------- */

/*
 * A parked call is recorded when it is served, not when it parks (the
 * dispatcher takes back the record of a call that parks), as the call that
 * would have been answered at once then, not blocking: replayed right after
 * the call that served it (recorded before it by the dispatcher), it finds
 * the item or the slot that call left.
 */

/* A parked get served an item: "queue.get" [id, false]. */
static void journal_served_get(ag_object *o)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.get", 1);

	if (pk == NULL)
		return;
	msgpack_pack_false(pk);
	ag_journal_end(o->srv);
}

/* A parked put got a slot for @v: "queue.put" [id, v, false]. */
static void journal_served_put(ag_object *o, const ag_val *v)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.put", 2);

	if (pk == NULL)
		return;
	ag_pack_val(pk, v);
	msgpack_pack_false(pk);
	ag_journal_end(o->srv);
}

/* ---- shared queue operations (queue and joinable_queue) ----------------- */

static bool queue_is_full(const struct queue *q)
{
	return q->maxsize != 0 && q->count >= q->maxsize;
}

/*
 * An item arrives: hand it to the first parked getter (answered and freed
 * here), or append it at the tail. Takes @v's bytes on success (@v is left
 * empty); counts one unfinished task. The caller checked that the queue has
 * room or a getter. Returns 0, or AGORA_ENOMEM with @v untouched and nothing
 * changed.
 */
static int queue_offer(ag_object *o, struct queue *q, ag_val *v)
{
	ag_waiter *w = TAILQ_FIRST(&q->getters);
	int rc;

	if (w != NULL) {
		journal_served_get(o);
		ag_reply_val(&w->to, v);
		ag_val_give(w->to.conn, v); /* its references go with it */
		ag_wait_done(w);
		memset(v, 0, sizeof(*v));
	} else {
		rc = ring_reserve(o, q);
		if (rc < 0)
			return rc;
		ring_push(o, q, v);
	}
	q->unfinished++;
	return 0;
}

/*
 * Slots are free: move the values of the first parked putters into the
 * queue, in arrival order, and answer each of them nil.
 */
static void queue_admit_putters(ag_object *o, struct queue *q)
{
	ag_waiter *w;

	while (!queue_is_full(q) && (w = TAILQ_FIRST(&q->putters)) != NULL) {
		/* Before the offer, which takes the value: it cannot fail
		 * here (see below), and a getter it would serve (none: the
		 * queue was full) must come after this put in the journal. */
		journal_served_put(o, &w->val);
		if (queue_offer(o, q, &w->val) < 0) {
			/* Cannot happen after ring_pop (count < cap); answer
			 * rather than leave the putter parked behind a free
			 * slot. */
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory storing the item");
		} else {
			ag_reply_nil(&w->to);
		}
		ag_wait_done(w);
	}
}

/*
 * Take the oldest item (the queue is not empty) into *ret, owned by the
 * caller, and let the first parked putter into the freed slot.
 */
static void queue_take(ag_object *o, struct queue *q, ag_val *ret)
{
	ring_pop(o, q, ret);
	queue_admit_putters(o, q);
}

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
	if (!TAILQ_EMPTY(&q->getters) || !queue_is_full(q)) {
		rc = queue_offer(o, q, &v);
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
	w = ag_wait_park(r, &q->putters, timeout, put_timed_out);
	if (w == NULL) {
		ag_val_free(r->srv, &v);
		return AGORA_ELIMIT;
	}
	w->val = v;
	waiter_set_timeout(w, timeout);
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
		queue_take(o, q, &item);
		ag_reply_val(&r->to, &item);
		ag_val_give(r->to.conn, &item);
		return 0;
	}
	if (!block)
		return ag_reply_error(&r->to, AGORA_EEMPTY, "queue empty");
	if (timeout == 0)
		return ag_reply_error(&r->to, AGORA_EEMPTY,
				      "queue empty after 0 s");
	w = ag_wait_park(r, &q->getters, timeout, get_timed_out);
	if (w == NULL)
		return AGORA_ELIMIT;
	waiter_set_timeout(w, timeout);
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
 * Set up o->data as an empty queue from @opts (may be NULL), which may name
 * only the options in @allowed. Returns 0, or the code answered (ARGS, VALUE,
 * LIMIT) with o->data untouched.
 */
static int queue_state_new(ag_object *o, ag_req *r, const msgpack_object *opts,
			   const char *const *allowed)
{
	struct queue *q;
	uint64_t maxsize = 0;
	int rc;

	rc = ag_opts_check(r, opts, allowed);
	if (rc < 0)
		return rc;
	rc = queue_opt_maxsize(r, opts, &maxsize);
	if (rc < 0)
		return rc;
	q = calloc(1, sizeof(*q));
	if (q == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a queue");
	q->maxsize = maxsize;
	TAILQ_INIT(&q->getters);
	TAILQ_INIT(&q->putters);
	TAILQ_INIT(&q->joiners);
	o->data = q;
	ag_object_mem(o, (ssize_t)sizeof(*q));
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

	ag_reply_bool(&r->to, queue_is_full(q));
	return 0;
}

/* ---- family -------------------------------------------------------------- */

static const char *const queue_options[] = { "maxsize", NULL };

static int queue_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	return queue_state_new(o, r, opts, queue_options);
}

/* Free the items and the state; no waiter is left (each holds a ref). */
static void queue_destroy(ag_object *o)
{
	struct queue *q = o->data;
	size_t i, mem;

	if (q == NULL)
		return;
	/* Give back exactly what this file accounted, nothing of the core's. */
	mem = sizeof(*q) + q->cap * sizeof(ag_val);
	for (i = 0; i < q->count; i++) {
		ag_val *v = &q->ring[(q->head + i) & (q->cap - 1)];
		mem += ag_val_heap(v);
		ag_val_free(o->srv, v);
	}
	free(q->ring);
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
	return 1;
}

static void queue_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	ag_pack_str(pk, "maxsize");
	msgpack_pack_uint64(pk, q->maxsize);
}

/* ---- persistence --------------------------------------------------------- */

/* {"maxsize": n} when bounded, else nil. */
static void queue_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	if (q->maxsize == 0) {
		msgpack_pack_nil(pk);
		return;
	}
	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "maxsize");
	msgpack_pack_uint64(pk, q->maxsize);
}

/* The items, oldest first: one "queue.put" [id, item, false] each (put
 * takes one item; never more than maxsize of them, so none blocks). */
static int queue_save(ag_object *o, ag_save *sv)
{
	struct queue *q = o->data;
	msgpack_packer *pk;
	int rc;

	for (size_t i = 0; i < q->count; i++) {
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

static const ag_method queue_methods[] = {
	{ "put", queue_put, 2, 4, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "get", queue_get, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "put_nowait", queue_put_nowait, 2, 2, AG_STORES_BYTES,
	  AG_RIGHT_WRITE },
	{ "get_nowait", queue_get_nowait, 1, 1, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "qsize", queue_qsize, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "peek", queue_peek, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "empty", queue_empty, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "full", queue_full, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
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
	.conn_gone = NULL,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
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
 * q->unfinished is counted by queue_offer(): every item that enters the
 * queue or goes straight to a parked getter. A putter parked on a full queue
 * counts only once its item is admitted. Joiners are parked only while
 * unfinished > 0.
 */

static int joinable_queue_task_done(ag_req *r)
{
	struct queue *q = r->obj->data;
	ag_waiter *w;

	if (q->unfinished == 0)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "task_done() called more times than "
				      "items were put");
	q->unfinished--;
	if (q->unfinished == 0) {
		/* The request's handle holds the object meanwhile. */
		while ((w = TAILQ_FIRST(&q->joiners)) != NULL) {
			ag_reply_bool(&w->to, true);
			ag_wait_done(w);
		}
	}
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
	return 2;
}

static void jq_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	queue_info_pack(o, pk);
	ag_pack_str(pk, "unfinished");
	msgpack_pack_uint64(pk, q->unfinished);
}

/*
 * The unfinished count: the calls rebuild it in the journal (put counts,
 * task_done uncounts), but a snapshot's puts count only the items still
 * queued, not the tasks taken and not yet done; "@state" comes after them
 * and sets it: {"unfinished": n}.
 */
static void jq_pack_state(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;

	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "unfinished");
	msgpack_pack_uint64(pk, q->unfinished);
}

static int jq_load_state(ag_object *o, const msgpack_object *st, char *err,
			 size_t errlen)
{
	struct queue *q = o->data;
	const msgpack_object *u = ag_opt(st, "unfinished");
	char desc[64];

	if (u == NULL || u->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		ag_obj_describe(u != NULL ? u : st, desc, sizeof(desc));
		snprintf(err, errlen,
			 "joinable_queue state: unfinished must be an int >= "
			 "0, not %s%s",
			 u != NULL ? "" : "missing in ", desc);
		return AGORA_EVALUE;
	}
	if (u->via.u64 < q->count) {
		snprintf(err, errlen,
			 "joinable_queue state: %llu unfinished tasks, fewer "
			 "than the %zu items queued",
			 (unsigned long long)u->via.u64, q->count);
		return AGORA_EVALUE;
	}
	q->unfinished = u->via.u64;
	return 0;
}

static const ag_method jq_methods[] = {
	{ "put", queue_put, 2, 4, AG_STORES_BYTES, AG_RIGHT_WRITE },
	{ "get", queue_get, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "put_nowait", queue_put_nowait, 2, 2, AG_STORES_BYTES,
	  AG_RIGHT_WRITE },
	{ "get_nowait", queue_get_nowait, 1, 1, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "qsize", queue_qsize, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "peek", queue_peek, 1, 2, AG_STORES_NONE, AG_RIGHT_READ },
	{ "empty", queue_empty, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ "full", queue_full, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
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
	.conn_gone = NULL,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
	.pack_state = jq_pack_state,
	.load_state = jq_load_state,
};
