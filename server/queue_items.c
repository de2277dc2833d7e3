/*
 * queue_items.c - the items of a queue or joinable_queue (queue.h): the
 * ring, handing items to parked getters and takers, the pending items of
 * take and their going back, the dead-letter queue, and what the journal
 * and a snapshot record of them. The family (obj_queue.c) reads params and
 * answers; this file never calls it.
 *
 * The ring is a ring buffer of owned ag_val (push at the tail and pop at
 * the head in O(1); it doubles when full and halves when a quarter used).
 *
 * Acknowledged delivery: an item taken with take stays the queue's, as a
 * struct pend on the taking connection (which holds the object through
 * ag_conn_hold(), once per item), until ack frees it. When it is not
 * acknowledged (nack, its lease ran out, its connection ended) it goes
 * back to the head of the queue, to a parked getter first, keeping its id
 * and counting its deliveries; past max_deliveries it goes to the
 * dead-letter queue instead. Items that came back sit at the head of the
 * ring: their ids and counts are q->returned, one struct pend per item of
 * the ring's first nreturned slots, in the same order (an item comes back
 * only at the head and leaves only from the head, so they stay a prefix).
 * The ring always has room for every pending item (cap >= count +
 * npending), so an item coming back never needs memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "queue.h"

#define RING_MIN 8u     /* first allocation, in slots */
#define RING_SHRINK 64u /* never halve a ring at or below this size */

static int txn_full(ag_object *o, struct queue *q);
static void txn_log_push(ag_object *o);
static void txn_log_pop(ag_object *o, struct queue *q);

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

	/* A transaction's log of the ring's ends holds no more. */
	if (ncap > SIZE_MAX / sizeof(ag_val) || txn_full(o, q) < 0)
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

/* Make room for one more item (the ring keeps room for every pending
 * item too). Returns 0 or AGORA_ENOMEM. */
static int ring_reserve(ag_object *o, struct queue *q)
{
	if (q->count + q->npending < q->cap)
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
	txn_log_push(o);
}

/*
 * Remove the oldest item (the queue is not empty) into *ret, which the caller
 * then owns. Halves a sparse ring; a failure to do so is harmless. After
 * this, count < cap, so a push needs no allocation.
 */
void ag_queue_ring_pop(ag_object *o, struct queue *q, ag_val *ret)
{
	ag_val *slot = &q->ring[q->head];

	txn_log_pop(o, q);
	*ret = *slot;
	memset(slot, 0, sizeof(*slot));
	q->head = (q->head + 1) & (q->cap - 1);
	q->count--;
	ag_object_mem(o, -(ssize_t)ag_val_heap(ret));
	if (q->cap > RING_SHRINK && q->count + q->npending <= q->cap / 4)
		(void)ring_resize(o, q, q->cap / 2);
}

/* Put @v back at the head (room kept: see ring_reserve) and take its
 * bytes. */
static void ring_push_front(ag_object *o, struct queue *q, ag_val *v)
{
	q->head = (q->head - 1) & (q->cap - 1);
	q->ring[q->head] = *v;
	q->count++;
	ag_object_mem(o, (ssize_t)ag_val_heap(v));
	memset(v, 0, sizeof(*v));
}

/* ---- waiter helpers ------------------------------------------------------ */

/* The timeout a waiter was parked with, kept in w->n (its bits), for the
 * message it gets when the time is up. */
void ag_queue_set_timeout(ag_waiter *w, double timeout)
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
void ag_queue_get_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EEMPTY, "queue empty after %g s",
		       waiter_timeout(w));
}

/* on_timeout of a parked put: answer FULL; wait.c then frees @w and the
 * value it carried. */
void ag_queue_put_timed_out(ag_waiter *w)
{
	ag_reply_error(&w->to, AGORA_EFULL, "queue full after %g s",
		       waiter_timeout(w));
}

/* One task of a joinable_queue is done: when none is left, every parked
 * join() is answered true, in arrival order. */
static void answer_joiners(struct queue *q)
{
	ag_waiter *w;

	while ((w = TAILQ_FIRST(&q->joiners)) != NULL) {
		ag_reply_bool(&w->to, true);
		ag_wait_done(w);
	}
}

void ag_queue_tasks_done(ag_object *o, struct queue *q)
{
	if (q->unfinished == 0)
		return;
	if (--q->unfinished > 0)
		return;
	/* Inside a transaction, the joiners are answered once it commits
	 * (ag_queue_wake()). */
	if (!TAILQ_EMPTY(&q->joiners) && ag_txn_defer(o))
		return;
	answer_joiners(q);
}

static bool waiter_takes(const ag_waiter *w)
{
	return (w->aux & 1) != 0;
}

static bool aux_details(int64_t aux)
{
	return (aux & 2) != 0;
}

static double aux_lease(int64_t aux)
{
	return (double)(aux >> 2) / 1e6;
}

static void ref_one(void *ud, ag_object *r)
{
	(void)ud;
	ag_object_ref(r);
}

/* ---- pending items ------------------------------------------------------- */

static void id_key(uint64_t id, uint8_t buf[8], ag_val *ret)
{
	for (int i = 7; i >= 0; i--, id >>= 8)
		buf[i] = (uint8_t)id;
	*ret = ag_val_view(buf, 8, 0);
}

/* The item @id pending on the queue (on any connection), or NULL. */
struct pend *ag_pend_find(struct queue *q, uint64_t id)
{
	uint8_t buf[8];
	ag_val key;
	ag_entry *e;

	id_key(id, buf, &key);
	e = ag_table_find(&q->index, &key, ag_table_hash(&q->index, &key));
	return e != NULL ? e->ptr : NULL;
}

/*
 * The bookkeeping of a pending item (a struct pend, its index entry, its
 * timer) is not counted against --max-memory, only its item is (moved from
 * the ring, so a take adds nothing): a server at its limit can still hand
 * out and finish the work it holds.
 */
struct pend *ag_pend_new(ag_object *o)
{
	struct pend *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->obj = o;
	return p;
}

/* Free @p (out of every list) and the item it still has. */
void ag_pend_free(ag_object *o, struct pend *p)
{
	if (p->lease != NULL)
		event_free(p->lease);
	ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
	ag_val_free(o->srv, &p->item);
	free(p);
}

static void lease_ran_out(evutil_socket_t fd, short what, void *arg);

/*
 * Make @p (its id and deliveries set, its item not yet given) pending on
 * @c: the connection's hold, the index, the lease's timer (none while
 * loading: the loading connection's items all go back when it ends).
 * Everything that can fail is done here, before the item moves: 0, or
 * AGORA_ENOMEM with nothing changed.
 */
int ag_pend_claim(ag_object *o, struct queue *q, struct pend *p, ag_conn *c,
		  double lease)
{
	uint8_t buf[8];
	ag_val key, owned;
	ag_entry *e;

	p->lease = NULL;
	if (lease > 0 && !ag_persist_loading(o->srv)) {
		double whole = (double)(int64_t)lease;
		struct timeval tv = { (time_t)whole,
				      (suseconds_t)((lease - whole) * 1e6) };
		p->lease = evtimer_new(o->srv->base, lease_ran_out, p);
		if (p->lease == NULL || evtimer_add(p->lease, &tv) < 0)
			goto fail;
	}
	id_key(p->id, buf, &key);
	if (ag_val_dup(&owned, &key) < 0)
		goto fail;
	e = ag_table_add(&q->index, &owned, ag_table_hash(&q->index, &key));
	if (e == NULL) {
		ag_val_deinit(&owned);
		goto fail;
	}
	if (ag_conn_hold(c, o) < 0) {
		ag_table_remove(&q->index, e);
		goto fail;
	}
	e->ptr = p;
	p->conn = c;
	p->lease_s = lease;
	p->lease_ms = ag_mono_ms() + (int64_t)(lease * 1000);
	TAILQ_INSERT_TAIL(&q->pending, p, link);
	q->npending++;
	return 0;
fail:
	if (p->lease != NULL)
		event_free(p->lease);
	p->lease = NULL;
	return AGORA_ENOMEM;
}

/* Take @p (pending) off its connection: the index, the hold (a connection
 * that is going ignores that), the lease. */
void ag_pend_release(ag_object *o, struct queue *q, struct pend *p)
{
	uint8_t buf[8];
	ag_val key;
	ag_entry *e;

	id_key(p->id, buf, &key);
	e = ag_table_find(&q->index, &key, ag_table_hash(&q->index, &key));
	if (e != NULL)
		ag_table_remove(&q->index, e);
	TAILQ_REMOVE(&q->pending, p, link);
	q->npending--;
	ag_conn_unhold(p->conn, o);
	p->conn = NULL;
	if (p->lease != NULL) {
		event_free(p->lease);
		p->lease = NULL;
	}
}

/* [id, item] or [id, item, deliveries] */
void ag_pend_reply(const ag_target *to, const struct pend *p, bool details)
{
	ag_pend_reply_tagged(to, NULL, p, details);
}

/* The same after *tag when @tag is not NULL: [tag, id, item, ...]. */
void ag_pend_reply_tagged(const ag_target *to, const uint64_t *tag,
			  const struct pend *p, bool details)
{
	msgpack_packer *pk = ag_reply_begin(to);

	msgpack_pack_array(pk, (details ? 3 : 2) + (tag != NULL));
	if (tag != NULL)
		msgpack_pack_uint64(pk, *tag);
	msgpack_pack_uint64(pk, p->id);
	ag_pack_val(pk, &p->item);
	if (details)
		msgpack_pack_uint64(pk, p->deliveries);
}

/* The item @v as the answer to @to: the item, or [*tag, item] when @tag
 * is not NULL (get_any). */
void ag_queue_reply_item(const ag_target *to, const uint64_t *tag,
			 const ag_val *v)
{
	msgpack_packer *pk;

	if (tag == NULL) {
		ag_reply_val(to, v);
		return;
	}
	pk = ag_reply_begin(to);
	msgpack_pack_array(pk, 2);
	msgpack_pack_uint64(pk, *tag);
	ag_pack_val(pk, v);
}

struct pend *ag_queue_take_item(ag_object *o, struct queue *q, ag_conn *c,
				double lease)
{
	bool fresh = q->nreturned == 0;
	struct pend *p;
	ag_val item;

	if (txn_full(o, q) < 0)
		return NULL;
	p = fresh ? ag_pend_new(o) : TAILQ_FIRST(&q->returned);
	if (p == NULL)
		return NULL;
	if (fresh) {
		p->id = q->next_id + 1;
	} else {
		TAILQ_REMOVE(&q->returned, p, link);
		q->nreturned--;
	}
	if (ag_pend_claim(o, q, p, c, lease) < 0) {
		if (fresh) {
			ag_pend_free(o, p);
		} else {
			TAILQ_INSERT_HEAD(&q->returned, p, link);
			q->nreturned++;
		}
		return NULL;
	}
	if (fresh)
		q->next_id++;
	/* The slot stays kept for it: npending counts it already. */
	ag_queue_ring_pop(o, q, &item);
	p->item = item;
	ag_object_mem(o, (ssize_t)ag_val_heap(&item));
	p->deliveries++;
	return p;
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
void ag_queue_journal_get(ag_object *o)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.get", 1);

	ag_changed(o, "get", NULL);
	if (pk == NULL)
		return;
	msgpack_pack_false(pk);
	ag_journal_end(o->srv);
}

/* A parked take served an item: "queue.take" [id, false, nil, lease,
 * details]. */
void ag_queue_journal_take(ag_object *o, double lease, bool details)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.take", 4);

	ag_changed(o, "take", NULL);
	if (pk == NULL)
		return;
	msgpack_pack_false(pk);
	msgpack_pack_nil(pk);
	if (lease > 0)
		msgpack_pack_double(pk, lease);
	else
		msgpack_pack_nil(pk);
	if (details)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
	ag_journal_end(o->srv);
}

/* A parked put got a slot for @v: "queue.put" [id, v, false]. */
static void journal_served_put(ag_object *o, const ag_val *v)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.put", 2);

	ag_changed(o, "put", NULL);
	if (pk == NULL)
		return;
	ag_pack_val(pk, v);
	msgpack_pack_false(pk);
	ag_journal_end(o->srv);
}

/* An item that was pending went back (its connection ended, its lease ran
 * out): "queue.nack" [id, item id], replayed on the loading connection,
 * which has every item pending at start. */
static void journal_went_back(ag_object *o, uint64_t id)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.nack", 1);

	ag_changed(o, "nack", NULL);
	if (pk == NULL)
		return;
	msgpack_pack_uint64(pk, id);
	ag_journal_end(o->srv);
}

/* ---- delivering ---------------------------------------------------------- */

/*
 * Hand the item @v to the parked getter or taker @w (answered and freed
 * here). @meta: the id and deliveries of an item that came back, or NULL
 * for a new one; it is used or freed. Takes @v's bytes (left empty) and
 * returns true; false (ENOMEM on a take: nothing changed, @w still parked).
 */
static bool serve_waiter(ag_object *o, struct queue *q, ag_waiter *w, ag_val *v,
			 struct pend *meta, bool journaled)
{
	struct pend *p;

	if (!waiter_takes(w)) {
		if (!journaled)
			ag_queue_journal_get(o);
		ag_queue_reply_item(&w->to, w->group ? &w->tag : NULL, v);
		ag_val_give(w->to.conn, v); /* its references go with it */
		ag_wait_done(w);
		memset(v, 0, sizeof(*v));
		if (meta != NULL)
			ag_pend_free(o, meta);
		return true;
	}
	/* The ring keeps a slot for it (ring_reserve). */
	if (q->count + q->npending >= q->cap &&
	    ring_resize(o, q, q->cap ? q->cap * 2 : RING_MIN) < 0)
		return false;
	p = meta != NULL ? meta : ag_pend_new(o);
	if (p == NULL)
		return false;
	if (meta == NULL)
		p->id = q->next_id + 1;
	if (ag_pend_claim(o, q, p, w->to.conn, aux_lease(w->aux)) < 0) {
		if (meta == NULL)
			ag_pend_free(o, p);
		return false;
	}
	if (meta == NULL)
		q->next_id++;
	p->deliveries++;
	p->item = *v;
	ag_object_mem(o, (ssize_t)ag_val_heap(v));
	memset(v, 0, sizeof(*v));
	if (!journaled)
		ag_queue_journal_take(o, aux_lease(w->aux),
				      aux_details(w->aux));
	ag_pend_reply_tagged(&w->to, w->group ? &w->tag : NULL, p,
			     aux_details(w->aux));
	ag_wait_done(w);
	return true;
}

/*
 * Promises. Inside a transaction no waiter is served, but parked requests
 * keep their place (protocol section 12): an item that would go to a
 * parked getter or taker now is promised to it instead (q->given, kept out
 * of the ring, as if it were already in the getter's hands: the rest of
 * the transaction does not see it), a taker's id drawn now as it would be;
 * and a slot that frees while putters are parked takes a copy of the
 * first putter's item now (journaled as its put), the putter keeping its
 * value until the commit. ag_queue_wake() then serves the promises in
 * order and answers the putters; a rollback forgets them
 * (promises_forget()).
 */

/* The @n-th waiter of @wq (0: the first), or NULL. */
static ag_waiter *waiter_at(struct ag_waitq *wq, size_t n)
{
	ag_waiter *w;

	TAILQ_FOREACH (w, wq, qlink)
		if (n-- == 0)
			return w;
	return NULL;
}

static bool promised(const struct queue *q, const ag_waiter *w)
{
	for (size_t i = 0; i < q->ngiven; i++)
		if (q->given[i].w == w)
			return true;
	return false;
}

/* Whether parked getter @w could be served now: it has no promise, nor
 * has its group (get_any, take_any) on another queue, which would have
 * taken it out of every queue. */
static bool promisable(const struct queue *q, const ag_waiter *w)
{
	if (promised(q, w))
		return false;
	if (w->group == NULL)
		return true;
	for (uint32_t i = 0; i < w->group->n; i++) {
		const ag_waiter *m = w->group->members[i];
		if (m != w && m->obj->data != NULL && promised(m->obj->data, m))
			return false;
	}
	return true;
}

int ag_queue_promise_reserve(struct queue *q)
{
	struct queue_given *g;
	size_t ncap;

	if (q->ngiven < q->capgiven)
		return 0;
	ncap = q->capgiven ? q->capgiven * 2 : 4;
	g = realloc(q->given, ncap * sizeof(*g));
	if (g == NULL)
		return AGORA_ENOMEM;
	q->given = g;
	q->capgiven = ncap;
	return 0;
}

/*
 * Inside a transaction, promise the item @v (taken: left empty) to the
 * first parked getter or taker without a promise; @meta as serve_waiter()
 * takes it. 1: promised; 0: not in a transaction, or every parked getter
 * has one (@v untouched); AGORA_ENOMEM (nothing changed).
 */
static int promise(ag_object *o, struct queue *q, ag_val *v, struct pend *meta)
{
	ag_waiter *w;

	if (!ag_txn_active(o->srv))
		return 0;
	TAILQ_FOREACH (w, &q->getters, qlink)
		if (promisable(q, w))
			break;
	if (w == NULL)
		return 0;
	if (ag_queue_promise_reserve(q) < 0)
		return AGORA_ENOMEM;
	if (meta == NULL && waiter_takes(w)) {
		if ((meta = ag_pend_new(o)) == NULL)
			return AGORA_ENOMEM;
		meta->id = ++q->next_id;
	}
	(void)ag_txn_defer(o);
	/* Journaled now, where it would be (ag_queue_wake() does not). */
	if (waiter_takes(w))
		ag_queue_journal_take(o, aux_lease(w->aux),
				      aux_details(w->aux));
	else
		ag_queue_journal_get(o);
	q->given[q->ngiven].w = w;
	q->given[q->ngiven].item = *v;
	q->given[q->ngiven].meta = meta;
	q->ngiven++;
	memset(v, 0, sizeof(*v));
	return 1;
}

/* A rollback: the promises and the putters' copies are forgotten (the
 * state they were made in is gone). */
static void promises_forget(ag_object *o, struct queue *q)
{
	for (size_t i = 0; i < q->ngiven; i++) {
		ag_val_free(o->srv, &q->given[i].item);
		free(q->given[i].meta); /* on no list, no timer, no item */
	}
	free(q->given);
	q->given = NULL;
	q->ngiven = q->capgiven = q->nadmitted = 0;
}

/*
 * Inside a transaction: slots are free while putters are parked. A copy of
 * each first putter's item goes in, journaled as its put; the putter is
 * answered at the commit, when its own value goes. Out of memory: the
 * rest are let in at the commit.
 */
static void admit_copies(ag_object *o, struct queue *q)
{
	ag_waiter *w;

	while (!ag_queue_is_full(q) &&
	       (w = waiter_at(&q->putters, q->nadmitted)) != NULL) {
		ag_val copy;

		if (ag_val_dup(&copy, &w->val) < 0)
			break;
		ag_val_foreach_ref(o->srv, &copy, ref_one, NULL);
		/* No getter is parked (the queue was full). */
		if (ag_queue_offer(o, q, &copy) < 0) {
			ag_val_free(o->srv, &copy);
			break;
		}
		journal_served_put(o, &w->val);
		q->nadmitted++;
		(void)ag_txn_defer(o);
	}
}

/*
 * An item arrives: hand it to the first parked getter (answered and freed
 * here), or append it at the tail. Takes @v's bytes on success (@v is left
 * empty); counts one unfinished task. The caller checked that the queue has
 * room or a getter. Returns 0, or AGORA_ENOMEM with @v untouched and nothing
 * changed.
 */
int ag_queue_offer(ag_object *o, struct queue *q, ag_val *v)
{
	ag_waiter *w = TAILQ_FIRST(&q->getters);
	int rc;

	/* Inside a transaction the item is promised to the getter (or goes
	 * to the ring when every parked getter has one). */
	if (w != NULL && ag_txn_active(o->srv)) {
		if ((rc = promise(o, q, v, NULL)) < 0)
			return rc;
		if (rc > 0) {
			q->unfinished++;
			return 0;
		}
		w = NULL;
	}
	if (w == NULL || !serve_waiter(o, q, w, v, NULL, false)) {
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
void ag_queue_admit_putters(ag_object *o, struct queue *q)
{
	ag_waiter *w;

	/* Inside a transaction, copies now, answers at the commit. */
	if (!ag_queue_is_full(q) && !TAILQ_EMPTY(&q->putters) &&
	    ag_txn_active(o->srv)) {
		admit_copies(o, q);
		return;
	}
	while (!ag_queue_is_full(q) && (w = TAILQ_FIRST(&q->putters)) != NULL) {
		/* Before the offer, which takes the value: it cannot fail
		 * here (see below), and a getter it would serve (none: the
		 * queue was full) must come after this put in the journal. */
		journal_served_put(o, &w->val);
		if (ag_queue_offer(o, q, &w->val) < 0) {
			/* Cannot happen after ag_queue_ring_pop (count < cap);
			 * answer rather than leave the putter parked behind a
			 * free slot. */
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
 * caller, and let the first parked putter into the freed slot. *ret_meta:
 * the id and deliveries of an item that came back (the caller's), or NULL;
 * when @ret_meta is NULL they are freed.
 */
void ag_queue_pop_item(ag_object *o, struct queue *q, ag_val *ret,
		       struct pend **ret_meta)
{
	struct pend *meta = NULL;

	if (q->nreturned > 0) {
		meta = TAILQ_FIRST(&q->returned);
		TAILQ_REMOVE(&q->returned, meta, link);
		q->nreturned--;
	}
	ag_queue_ring_pop(o, q, ret);
	if (ret_meta != NULL)
		*ret_meta = meta;
	else if (meta != NULL)
		ag_pend_free(o, meta);
	ag_queue_admit_putters(o, q);
}

/* The queue named dead_letter if it is one now, else NULL. */
static ag_object *dead_letter_queue(ag_object *o, struct queue *q)
{
	ag_server *s = o->srv;
	ag_val key = ag_val_view(q->dead_letter, strlen(q->dead_letter), 0);
	ag_entry *e =
	    ag_table_find(&s->names, &key, ag_table_hash(&s->names, &key));
	ag_object *d = e != NULL ? e->ptr : NULL;

	if (d == NULL || d == o || d->fam->pack_state != ag_queue_pack_state)
		return NULL;
	return d;
}

/*
 * Move the item of @p (delivered max_deliveries times) to the dead-letter
 * queue, at its tail whatever its maxsize (an item is never dropped), and
 * free @p. False when there is no such queue now (or no memory): the
 * caller keeps the item.
 */
static bool dead_letter(ag_object *o, struct queue *q, struct pend *p)
{
	ag_object *d = dead_letter_queue(o, q);
	char label[400];
	uint64_t id = p->id, n = p->deliveries;
	size_t heap = ag_val_heap(&p->item);

	/* Another object: a transaction saves it first (ag_txn_touch()). */
	if (d == NULL || ag_txn_touch(d) < 0 ||
	    ag_queue_offer(d, d->data, &p->item) < 0) {
		if (ag_server_logs(o->srv, AGORA_LOG_WARNING))
			ag_server_logf(o->srv, AGORA_LOG_WARNING,
				       "%s: item %llu was delivered %llu "
				       "times but cannot go to the "
				       "dead-letter queue \"%s\" (%s): it "
				       "stays in the queue",
				       ag_object_label(o, label, sizeof(label)),
				       (unsigned long long)id,
				       (unsigned long long)n, q->dead_letter,
				       d == NULL ? "no queue has that name"
						 : "out of memory");
		return false;
	}
	ag_object_mem(o, -(ssize_t)heap); /* the offer took the item */
	ag_pend_free(o, p);
	q->dead_lettered++;
	if (ag_queue_joinable(o))
		ag_queue_tasks_done(o, q);
	if (ag_server_logs(o->srv, AGORA_LOG_INFO))
		ag_server_logf(o->srv, AGORA_LOG_INFO,
			       "%s: item %llu delivered %llu times, moved to "
			       "the dead-letter queue \"%s\"",
			       ag_object_label(o, label, sizeof(label)),
			       (unsigned long long)id, (unsigned long long)n,
			       q->dead_letter);
	return true;
}

/*
 * The item of @p (released: on no connection) was not acknowledged: past
 * max_deliveries it goes to the dead-letter queue; else back to the head,
 * to the first parked getter or taker if there is one (the queue is then
 * empty), keeping its id and counting its deliveries.
 */
void ag_pend_requeue(ag_object *o, struct queue *q, struct pend *p)
{
	ag_waiter *w;
	bool txn = false;

	if (q->max_deliveries != 0 && p->deliveries >= q->max_deliveries &&
	    dead_letter(o, q, p))
		return;
	q->redelivered++;
	/* Inside a transaction the item is promised to a parked getter
	 * (ag_pend_requeue_prepare() made room), or goes to the head. */
	if (!TAILQ_EMPTY(&q->getters) && ag_txn_active(o->srv)) {
		ag_val v = p->item;

		txn = true;
		ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
		memset(&p->item, 0, sizeof(p->item));
		if (promise(o, q, &v, p) > 0)
			return;
		p->item = v;
		ag_object_mem(o, (ssize_t)ag_val_heap(&v));
	}
	/* A server that stops hands nothing out: its answers would not go. */
	while (!txn && !o->srv->stopping &&
	       (w = TAILQ_FIRST(&q->getters)) != NULL) {
		ag_val v = p->item;

		ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
		memset(&p->item, 0, sizeof(p->item));
		if (serve_waiter(o, q, w, &v, p, false))
			return;
		/* Out of memory for that taker: it gets LIMIT, the item
		 * stays for the next. */
		p->item = v;
		ag_object_mem(o, (ssize_t)ag_val_heap(&v));
		ag_reply_error(&w->to, AGORA_ELIMIT,
			       "out of memory taking the item");
		ag_wait_done(w);
	}
	/* Room is kept for it (cap >= count + npending before release). */
	ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
	ring_push_front(o, q, &p->item);
	TAILQ_INSERT_HEAD(&q->returned, p, link);
	q->nreturned++;
}

int ag_pend_requeue_prepare(ag_object *o, struct queue *q, const struct pend *p)
{
	ag_object *d;

	if (ag_txn_active(o->srv) && !TAILQ_EMPTY(&q->getters) &&
	    ag_queue_promise_reserve(q) < 0)
		return AGORA_ENOMEM;
	if (q->max_deliveries == 0 || p->deliveries < q->max_deliveries ||
	    (d = dead_letter_queue(o, q)) == NULL)
		return 0;
	return ag_txn_touch(d);
}

/* A lease ran out: the item goes back. */
static void lease_ran_out(evutil_socket_t fd, short what, void *arg)
{
	struct pend *p = arg;
	ag_object *o = p->obj;
	struct queue *q = o->data;
	char label[400];
	uint64_t conn_id = p->conn->id;

	(void)fd;
	(void)what;
	if (ag_server_logs(o->srv, AGORA_LOG_INFO))
		ag_server_logf(o->srv, AGORA_LOG_INFO,
			       "%s: the lease of item %llu on connection %llu "
			       "ran out (%g s): it goes back",
			       ag_object_label(o, label, sizeof(label)),
			       (unsigned long long)p->id,
			       (unsigned long long)conn_id, p->lease_s);
	journal_went_back(o, p->id);
	ag_pend_release(o, q, p);
	ag_pend_requeue(o, q, p);
}

/*
 * Connection @c ends: every item pending on it goes back, in take order to
 * the parked getters, the rest to the head in the order they were taken.
 * Each is journaled as a nack just before it goes (what it serves comes
 * after it), the loading connection's too, which ends once the new
 * journal is open.
 */
void ag_queue_conn_gone(ag_object *o, ag_conn *c)
{
	struct queue *q = o->data;
	struct pendq mine = TAILQ_HEAD_INITIALIZER(mine);
	struct pend *p, *next;
	size_t n = 0;
	char label[400];

	for (p = TAILQ_FIRST(&q->pending); p != NULL; p = next) {
		next = TAILQ_NEXT(p, link);
		if (p->conn != c)
			continue;
		ag_pend_release(o, q, p);
		TAILQ_INSERT_TAIL(&mine, p, link);
		n++;
	}
	while (!o->srv->stopping && !TAILQ_EMPTY(&q->getters) &&
	       (p = TAILQ_FIRST(&mine)) != NULL) {
		TAILQ_REMOVE(&mine, p, link);
		journal_went_back(o, p->id);
		ag_pend_requeue(o, q, p);
	}
	while ((p = TAILQ_LAST(&mine, pendq)) != NULL) {
		TAILQ_REMOVE(&mine, p, link);
		journal_went_back(o, p->id);
		ag_pend_requeue(o, q, p);
	}
	if (n > 0 && c->fd >= 0 && !o->srv->stopping &&
	    ag_server_logs(o->srv, AGORA_LOG_WARNING))
		ag_server_logf(o->srv, AGORA_LOG_WARNING,
			       "%s: %zu item%s pending on connection %llu "
			       "(%s) went back: it ended: %s",
			       ag_object_label(o, label, sizeof(label)), n,
			       n == 1 ? "" : "s", (unsigned long long)c->id,
			       c->peer, ag_conn_why(c));
}

/*
 * The state the puts do not rebuild: {"next_id": n, "redelivered": n,
 * "dead_lettered": n, "returned": [[id, deliveries, item], ...] (the items
 * that went back, head first), "pending": [[id, deliveries, item], ...]
 * (take order)}, and a joinable_queue's "unfinished": n. At start the
 * pending items are pending on the loading connection, whose end sends
 * them back (journaled), after the journal's acks of them.
 */
void ag_queue_pack_state(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;
	struct pend *p;
	size_t i = 0;

	msgpack_pack_map(pk, ag_queue_joinable(o) ? 6 : 5);
	ag_pack_str(pk, "next_id");
	msgpack_pack_uint64(pk, q->next_id);
	ag_pack_str(pk, "redelivered");
	msgpack_pack_uint64(pk, q->redelivered);
	ag_pack_str(pk, "dead_lettered");
	msgpack_pack_uint64(pk, q->dead_lettered);
	ag_pack_str(pk, "returned");
	msgpack_pack_array(pk, q->nreturned);
	TAILQ_FOREACH (p, &q->returned, link) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_uint64(pk, p->id);
		msgpack_pack_uint64(pk, p->deliveries);
		ag_pack_val(pk, &q->ring[(q->head + i++) & (q->cap - 1)]);
	}
	ag_pack_str(pk, "pending");
	msgpack_pack_array(pk, q->npending);
	TAILQ_FOREACH (p, &q->pending, link) {
		msgpack_pack_array(pk, 3);
		msgpack_pack_uint64(pk, p->id);
		msgpack_pack_uint64(pk, p->deliveries);
		ag_pack_val(pk, &p->item);
	}
	if (ag_queue_joinable(o)) {
		ag_pack_str(pk, "unfinished");
		msgpack_pack_uint64(pk, q->unfinished);
	}
}

/* A uint field of the state map; absent is 0 unless @required. */
static int state_uint(const msgpack_object *st, const char *name, bool required,
		      uint64_t *ret, char *err, size_t errlen)
{
	const msgpack_object *u = ag_opt(st, name);
	char desc[64];

	*ret = 0;
	if (u == NULL && !required)
		return 0;
	if (u == NULL || u->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
		ag_obj_describe(u != NULL ? u : st, desc, sizeof(desc));
		snprintf(err, errlen,
			 "queue state: %s must be an int >= 0, not %s%s", name,
			 u != NULL ? "" : "missing in ", desc);
		return AGORA_EVALUE;
	}
	*ret = u->via.u64;
	return 0;
}

/* The items of "returned" or "pending": an array of [id, deliveries,
 * item], each id > 0, no more than next_id, and not seen before. */
static int state_items(ag_object *o, const msgpack_object *st, const char *name,
		       const msgpack_object **ret, char *err, size_t errlen)
{
	struct queue *q = o->data;
	const msgpack_object *a = ag_opt(st, name);
	char desc[64];

	*ret = a;
	if (a == NULL)
		return 0;
	if (a->type != MSGPACK_OBJECT_ARRAY)
		goto bad;
	for (uint32_t i = 0; i < a->via.array.size; i++) {
		const msgpack_object *t = &a->via.array.ptr[i];
		if (t->type != MSGPACK_OBJECT_ARRAY || t->via.array.size != 3 ||
		    t->via.array.ptr[0].type !=
			MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    t->via.array.ptr[1].type !=
			MSGPACK_OBJECT_POSITIVE_INTEGER ||
		    t->via.array.ptr[0].via.u64 == 0 ||
		    t->via.array.ptr[0].via.u64 > q->next_id ||
		    ag_pend_find(q, t->via.array.ptr[0].via.u64) != NULL) {
			a = t;
			goto bad;
		}
	}
	return 0;
bad:
	ag_obj_describe(a, desc, sizeof(desc));
	snprintf(err, errlen,
		 "queue state: %s must be an array of [id, deliveries, item] "
		 "with ids from 1 to next_id, each once: %s is not",
		 name, desc);
	return AGORA_EVALUE;
}

/* Make the item @t ([id, deliveries, item]) a struct pend holding what
 * its references name (loaded before any state): 0 or ENOMEM. */
static int state_pend(ag_object *o, const msgpack_object *t, struct pend **ret)
{
	struct pend *p = ag_pend_new(o);

	if (p == NULL)
		return AGORA_ENOMEM;
	p->id = t->via.array.ptr[0].via.u64;
	p->deliveries = t->via.array.ptr[1].via.u64;
	if (ag_val_from_obj(&p->item, &t->via.array.ptr[2]) < 0) {
		ag_pend_free(o, p);
		return AGORA_ENOMEM;
	}
	ag_val_foreach_ref(o->srv, &p->item, ref_one, NULL);
	ag_object_mem(o, (ssize_t)ag_val_heap(&p->item));
	*ret = p;
	return 0;
}

int ag_queue_load_state(ag_object *o, const msgpack_object *st, char *err,
			size_t errlen)
{
	struct queue *q = o->data;
	const msgpack_object *ret_items, *pend_items;
	ag_conn *lc = ag_persist_loading_conn(o->srv);
	uint64_t next_id, redelivered, dead_lettered, unfinished;
	struct pend *p;
	int rc;

	if (st->type != MSGPACK_OBJECT_MAP) {
		snprintf(err, errlen, "queue state: not a map");
		return AGORA_EVALUE;
	}
	if ((rc = state_uint(st, "next_id", false, &next_id, err, errlen)) <
		0 ||
	    (rc = state_uint(st, "redelivered", false, &redelivered, err,
			     errlen)) < 0 ||
	    (rc = state_uint(st, "dead_lettered", false, &dead_lettered, err,
			     errlen)) < 0 ||
	    (rc = state_uint(st, "unfinished", ag_queue_joinable(o),
			     &unfinished, err, errlen)) < 0)
		return rc;
	if (next_id < q->next_id)
		next_id = q->next_id;
	q->next_id = next_id;
	if ((rc = state_items(o, st, "returned", &ret_items, err, errlen)) <
		0 ||
	    (rc = state_items(o, st, "pending", &pend_items, err, errlen)) < 0)
		return rc;
	/* Went back: at the head, last first. */
	for (uint32_t i = ret_items ? ret_items->via.array.size : 0; i-- > 0;) {
		if (state_pend(o, &ret_items->via.array.ptr[i], &p) < 0 ||
		    ring_reserve(o, q) < 0)
			goto nomem;
		ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
		ring_push_front(o, q, &p->item);
		TAILQ_INSERT_HEAD(&q->returned, p, link);
		q->nreturned++;
	}
	/* Pending on the loading connection (or back at the head when
	 * there is none), in take order. */
	for (uint32_t i = 0; pend_items && i < pend_items->via.array.size;
	     i++) {
		uint64_t id =
		    pend_items->via.array.ptr[i].via.array.ptr[0].via.u64;
		if (ag_pend_find(q, id) != NULL) {
			snprintf(err, errlen,
				 "queue state: item %llu is pending twice",
				 (unsigned long long)id);
			return AGORA_EVALUE;
		}
		if (state_pend(o, &pend_items->via.array.ptr[i], &p) < 0)
			goto nomem;
		if (lc == NULL || ring_reserve(o, q) < 0 ||
		    ag_pend_claim(o, q, p, lc, 0) < 0) {
			ag_pend_free(o, p);
			goto nomem;
		}
	}
	q->redelivered = redelivered;
	q->dead_lettered = dead_lettered;
	if (ag_queue_joinable(o)) {
		if (unfinished < q->count + q->npending) {
			snprintf(err, errlen,
				 "joinable_queue state: %llu unfinished "
				 "tasks, fewer than the %zu items queued or "
				 "pending",
				 (unsigned long long)unfinished,
				 q->count + q->npending);
			return AGORA_EVALUE;
		}
		q->unfinished = unfinished;
	}
	return 0;
nomem:
	snprintf(err, errlen, "queue state: out of memory");
	return AGORA_ENOMEM;
}
/* ---- transactions -------------------------------------------------------- */

/*
 * What a transaction keeps of a queue to undo with (protocol section 12;
 * txn_save()): at first only a log of what its calls did to the ends of
 * the ring, for the common case, a transaction that puts items at the
 * tail or gets a few from the head of a long queue, which then costs what
 * it moves, not the queue's length. The log holds the counters as they
 * were, how many items were put at the tail (npushed), and a copy of each
 * item that was there before and was taken from the head (popped, oldest
 * first, holding what its references name, as the ring's items do; an
 * item put in the transaction and taken again only counts npushed down).
 * Undoing it takes the npushed items off the tail and puts the popped
 * ones back at the head: the ring never changed its size meanwhile, so
 * every item is back in its slot.
 *
 * Before any other change (the ring growing or shrinking, an item that
 * went back taken, take, ack, nack, an item going back: txn_full()), the
 * log becomes a whole copy of the queue as it was: a copy of the state
 * now with the log undone on it. The copy is a struct queue of its own,
 * never accounted: the ring with the same capacity and head, its items
 * copied and holding what their references name; the items that went
 * back (q->returned); the pending items, each a new struct pend on the
 * same connection, holding one more ag_conn_hold() of the queue (an
 * existing entry: it never needs memory), with a lease timer made but not
 * armed; the index of those. Its wait lists stay empty: waiters never
 * change inside a transaction. Restoring it frees what the queue has now,
 * as if each item left for good (their holds released, the pending ones'
 * connections' holds and timers gone), puts the copy in its place, arms
 * its leases for what was left of them, and accounts the difference of
 * memory.
 */
struct qsave {
	struct queue *copy; /* the whole copy, or NULL while logging */
	uint64_t unfinished, next_id, redelivered, dead_lettered;
	size_t count;   /* items in the ring when saved */
	size_t npushed; /* put at the tail since, still there */
	ag_val *popped; /* taken from the head since, oldest first */
	size_t npopped, cappopped;
	/* popped[npopped] is a copy of the head item, made by
	 * ag_queue_txn_pop_prepare() for the pop that follows it. */
	bool staged;
};

/* What the queue's state accounts with ag_object_mem() (queue_destroy()
 * gives back the same). */
static size_t state_mem(const struct queue *q)
{
	const struct pend *p;
	size_t mem = sizeof(*q) + q->cap * sizeof(ag_val) +
		     (q->dead_letter != NULL ? strlen(q->dead_letter) + 1 : 0);

	for (size_t i = 0; i < q->count; i++)
		mem += ag_val_heap(&q->ring[(q->head + i) & (q->cap - 1)]);
	TAILQ_FOREACH (p, &q->pending, link)
		mem += ag_val_heap(&p->item);
	return mem;
}

/* Free the items, pending items, index and ring of @q (not @q itself, nor
 * the options), releasing what they hold, accounting nothing. */
static void state_free(ag_object *o, struct queue *q)
{
	struct pend *p;

	while ((p = TAILQ_FIRST(&q->pending)) != NULL) {
		TAILQ_REMOVE(&q->pending, p, link);
		ag_conn_unhold(p->conn, o);
		if (p->lease != NULL)
			event_free(p->lease);
		ag_val_free(o->srv, &p->item);
		free(p);
	}
	while ((p = TAILQ_FIRST(&q->returned)) != NULL) {
		TAILQ_REMOVE(&q->returned, p, link);
		free(p);
	}
	ag_table_foreach (&q->index, e)
		ag_val_deinit(&e->key);
	ag_table_deinit(&q->index);
	for (size_t i = 0; i < q->count; i++)
		ag_val_free(o->srv, &q->ring[(q->head + i) & (q->cap - 1)]);
	free(q->ring);
	q->ring = NULL;
	q->count = 0;
	q->npending = q->nreturned = 0;
}

/* A copy of pending item @p into @c: 0 or AGORA_ENOMEM (nothing of it
 * left in @c). */
static int copy_pending(ag_object *o, struct queue *c, const struct pend *p)
{
	struct pend *n = ag_pend_new(o);
	uint8_t buf[8];
	ag_val key, owned;
	ag_entry *e;

	if (n == NULL)
		return AGORA_ENOMEM;
	n->id = p->id;
	n->deliveries = p->deliveries;
	n->lease_s = p->lease_s;
	n->lease_ms = p->lease_ms;
	if (ag_val_dup(&n->item, &p->item) < 0)
		goto fail;
	if (p->lease != NULL &&
	    (n->lease = evtimer_new(o->srv->base, lease_ran_out, n)) == NULL)
		goto fail;
	id_key(n->id, buf, &key);
	if (ag_val_dup(&owned, &key) < 0)
		goto fail;
	e = ag_table_add(&c->index, &owned, ag_table_hash(&c->index, &key));
	if (e == NULL) {
		ag_val_deinit(&owned);
		goto fail;
	}
	e->ptr = n;
	/* The connection holds the queue for @p already: one more. */
	if (ag_conn_hold(p->conn, o) < 0) {
		ag_table_remove(&c->index, e);
		goto fail;
	}
	n->conn = p->conn;
	ag_val_foreach_ref(o->srv, &n->item, ref_one, NULL);
	TAILQ_INSERT_TAIL(&c->pending, n, link);
	c->npending++;
	return 0;
fail:
	if (n->lease != NULL)
		event_free(n->lease);
	ag_val_deinit(&n->item);
	free(n);
	return AGORA_ENOMEM;
}

static struct queue *queue_copy(ag_object *o)
{
	struct queue *q = o->data, *c = malloc(sizeof(*c));
	const struct pend *p;

	if (c == NULL)
		return NULL;
	*c = *q;
	c->given = NULL;
	c->ngiven = c->capgiven = c->nadmitted = 0;
	TAILQ_INIT(&c->getters);
	TAILQ_INIT(&c->putters);
	TAILQ_INIT(&c->joiners);
	TAILQ_INIT(&c->pending);
	TAILQ_INIT(&c->returned);
	c->npending = c->nreturned = 0;
	c->count = 0;
	c->ring = NULL;
	ag_table_init(&c->index, q->index.seed);
	if (q->cap > 0 && (c->ring = calloc(q->cap, sizeof(ag_val))) == NULL)
		goto fail;
	for (size_t i = 0; i < q->count; i++) {
		size_t at = (q->head + i) & (q->cap - 1);
		if (ag_val_dup(&c->ring[at], &q->ring[at]) < 0)
			goto fail;
		ag_val_foreach_ref(o->srv, &c->ring[at], ref_one, NULL);
		c->count = i + 1;
	}
	TAILQ_FOREACH (p, &q->returned, link) {
		struct pend *n = ag_pend_new(o);
		if (n == NULL)
			goto fail;
		n->id = p->id;
		n->deliveries = p->deliveries;
		n->lease_s = p->lease_s;
		n->lease_ms = p->lease_ms;
		TAILQ_INSERT_TAIL(&c->returned, n, link);
		c->nreturned++;
	}
	TAILQ_FOREACH (p, &q->pending, link)
		if (copy_pending(o, c, p) < 0)
			goto fail;
	return c;
fail:
	state_free(o, c);
	free(c);
	return NULL;
}

/* Make @o the copy @c (taken). */
static void queue_restore(ag_object *o, struct queue *c)
{
	struct queue *q = o->data;
	size_t before = state_mem(q), after = state_mem(c);
	int64_t now = ag_mono_ms();
	struct pend *p;

	state_free(o, q);
	q->ring = c->ring;
	q->cap = c->cap;
	q->head = c->head;
	q->count = c->count;
	q->unfinished = c->unfinished;
	TAILQ_CONCAT(&q->pending, &c->pending, link);
	TAILQ_CONCAT(&q->returned, &c->returned, link);
	q->npending = c->npending;
	q->nreturned = c->nreturned;
	q->index = c->index;
	q->next_id = c->next_id;
	q->redelivered = c->redelivered;
	q->dead_lettered = c->dead_lettered;
	free(c);
	/* The leases run on from where they were: the same lease_ms. */
	TAILQ_FOREACH (p, &q->pending, link) {
		int64_t left = p->lease_ms - now;
		struct timeval tv;

		if (p->lease == NULL)
			continue;
		if (left < 0)
			left = 0;
		tv.tv_sec = (time_t)(left / 1000);
		tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
		evtimer_add(p->lease, &tv);
	}
	ag_object_mem(o, (ssize_t)after - (ssize_t)before);
}

/* The log of @o's running transaction, or NULL (none, or a whole copy). */
static struct qsave *txn_log(ag_object *o)
{
	struct qsave *sv = ag_txn_saved(o);

	return sv != NULL && sv->copy == NULL ? sv : NULL;
}

static void log_free(ag_object *o, struct qsave *sv)
{
	for (size_t i = 0; i < sv->npopped + sv->staged; i++)
		ag_val_free(o->srv, &sv->popped[i]);
	free(sv->popped);
	sv->popped = NULL;
	sv->npopped = sv->cappopped = 0;
	sv->staged = false;
}

/* Undo the log @sv on the ring of @q (which has the capacity it had when
 * saved): the items put taken off the tail, those taken put back at the
 * head (the log gives them up), accounting the memory of @o when @o is
 * not NULL. */
static void log_undo(ag_object *o, ag_server *s, struct queue *q,
		     struct qsave *sv)
{
	for (size_t k = 0; k < sv->npushed; k++) {
		ag_val *v = &q->ring[(q->head + q->count - 1) & (q->cap - 1)];
		if (o != NULL)
			ag_object_mem(o, -(ssize_t)ag_val_heap(v));
		ag_val_free(s, v);
		q->count--;
	}
	for (size_t k = sv->npopped; k-- > 0;) {
		q->head = (q->head - 1) & (q->cap - 1);
		q->ring[q->head] = sv->popped[k];
		if (o != NULL)
			ag_object_mem(o, (ssize_t)ag_val_heap(&sv->popped[k]));
		q->count++;
	}
	if (sv->staged)
		ag_val_free(s, &sv->popped[sv->npopped]);
	free(sv->popped);
	sv->popped = NULL;
	sv->npushed = sv->npopped = sv->cappopped = 0;
	sv->staged = false;
}

/* Before a change the log cannot undo: the whole copy of the queue as it
 * was. 0, or AGORA_ENOMEM with nothing changed (fail the call). */
static int txn_full(ag_object *o, struct queue *q)
{
	struct qsave *sv = txn_log(o);
	struct queue *c;

	(void)q;
	if (sv == NULL)
		return 0;
	if ((c = queue_copy(o)) == NULL)
		return AGORA_ENOMEM;
	log_undo(NULL, o->srv, c, sv);
	sv->copy = c;
	return 0;
}

int ag_queue_txn_full(ag_object *o)
{
	return txn_full(o, o->data);
}

static void txn_log_push(ag_object *o)
{
	struct qsave *sv = txn_log(o);

	if (sv != NULL)
		sv->npushed++;
}

/* The head item leaves (ag_queue_ring_pop()): logged when it was there
 * before the transaction (ag_queue_txn_pop_prepare() copied it), else it
 * is one the transaction put. */
static void txn_log_pop(ag_object *o, struct queue *q)
{
	struct qsave *sv = txn_log(o);

	if (sv == NULL)
		return;
	if (sv->npopped >= sv->count) {
		sv->npushed--;
		return;
	}
	if (sv->staged) {
		sv->staged = false;
		sv->npopped++;
		return;
	}
	if (sv->npopped == sv->cappopped ||
	    ag_val_dup(&sv->popped[sv->npopped], &q->ring[q->head]) < 0) {
		/* Unprepared and out of memory: cannot happen in a call
		 * (ag_queue_txn_pop_prepare()); the copy, at least. */
		(void)txn_full(o, q);
		return;
	}
	ag_val_foreach_ref(o->srv, &sv->popped[sv->npopped], ref_one, NULL);
	sv->npopped++;
}

int ag_queue_txn_pop_prepare(ag_object *o, struct queue *q)
{
	struct qsave *sv = txn_log(o);
	ag_val *np;
	size_t ncap;

	if (sv == NULL)
		return 0;
	/* An item that went back (its id and deliveries leave with it), or
	 * a ring that will shrink: the log cannot undo those. */
	if (q->nreturned > 0 ||
	    (q->cap > RING_SHRINK && q->count - 1 + q->npending <= q->cap / 4))
		return txn_full(o, q);
	if (sv->npopped >= sv->count || sv->staged)
		return 0; /* one the transaction put, or prepared */
	if (sv->npopped == sv->cappopped) {
		ncap = sv->cappopped ? sv->cappopped * 2 : 4;
		np = realloc(sv->popped, ncap * sizeof(*np));
		if (np == NULL)
			return AGORA_ENOMEM;
		sv->popped = np;
		sv->cappopped = ncap;
	}
	if (ag_val_dup(&sv->popped[sv->npopped], &q->ring[q->head]) < 0)
		return AGORA_ENOMEM;
	ag_val_foreach_ref(o->srv, &sv->popped[sv->npopped], ref_one, NULL);
	sv->staged = true;
	return 0;
}

void *ag_queue_txn_save(ag_object *o)
{
	struct queue *q = o->data;
	struct qsave *sv = calloc(1, sizeof(*sv));

	if (sv == NULL)
		return NULL;
	sv->unfinished = q->unfinished;
	sv->next_id = q->next_id;
	sv->redelivered = q->redelivered;
	sv->dead_lettered = q->dead_lettered;
	sv->count = q->count;
	return sv;
}

void ag_queue_txn_restore(ag_object *o, void *saved)
{
	struct queue *q = o->data;
	struct qsave *sv = saved;

	promises_forget(o, q);
	if (sv->copy != NULL) {
		queue_restore(o, sv->copy);
	} else {
		log_undo(o, o->srv, q, sv);
	}
	q->unfinished = sv->unfinished;
	q->next_id = sv->next_id;
	q->redelivered = sv->redelivered;
	q->dead_lettered = sv->dead_lettered;
	free(sv);
}

void ag_queue_txn_drop(ag_object *o, void *saved)
{
	struct qsave *sv = saved;

	if (sv->copy != NULL) {
		state_free(o, sv->copy);
		free(sv->copy);
	}
	log_free(o, sv);
	free(sv);
}

/* A promise whose getter is gone (a group served by another queue) or
 * could not take it: the item goes to the ring, as it would have. */
static void given_to_ring(ag_object *o, struct queue *q, struct queue_given *g)
{
	char label[400];

	if (ring_reserve(o, q) < 0) {
		if (ag_server_logs(o->srv, AGORA_LOG_WARNING))
			ag_server_logf(
			    o->srv, AGORA_LOG_WARNING,
			    "%s: out of memory: an item promised "
			    "in a transaction is lost",
			    ag_object_label(o, label, sizeof(label)));
		ag_val_free(o->srv, &g->item);
		free(g->meta);
		return;
	}
	if (g->meta != NULL && g->meta->deliveries > 0) {
		ring_push_front(o, q, &g->item);
		TAILQ_INSERT_HEAD(&q->returned, g->meta, link);
		q->nreturned++;
		return;
	}
	free(g->meta); /* a taker's id, unused */
	ring_push(o, q, &g->item);
}

void ag_queue_wake(ag_object *o)
{
	struct queue *q = o->data;
	ag_waiter *w;

	/* The promises, in order, to the first parked getters and takers. */
	for (size_t i = 0; i < q->ngiven; i++) {
		struct queue_given *g = &q->given[i];

		TAILQ_FOREACH (w, &q->getters, qlink)
			if (w == g->w)
				break;
		if (w != NULL && !o->srv->stopping &&
		    serve_waiter(o, q, w, &g->item, g->meta, true))
			continue;
		/* Out of memory for that taker (the journal has its take:
		 * the one case a replay differs), or gone: LIMIT, and the
		 * item goes where it would have. */
		if (w != NULL && !o->srv->stopping) {
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory taking the item");
			ag_wait_done(w);
		}
		given_to_ring(o, q, g);
	}
	free(q->given);
	q->given = NULL;
	q->ngiven = q->capgiven = 0;
	/* The putters whose items went in: their own values go now. */
	for (; q->nadmitted > 0; q->nadmitted--) {
		if ((w = TAILQ_FIRST(&q->putters)) == NULL)
			break;
		ag_reply_nil(&w->to);
		ag_wait_done(w);
	}
	q->nadmitted = 0;

	/* Items for the parked getters and takers (the queue had none when
	 * they parked), head first: as ag_pend_requeue() and
	 * ag_queue_offer() would have served them. */
	while (!o->srv->stopping && q->count > 0 &&
	       (w = TAILQ_FIRST(&q->getters)) != NULL) {
		struct pend *meta = NULL;
		ag_val v;

		if (q->nreturned > 0) {
			meta = TAILQ_FIRST(&q->returned);
			TAILQ_REMOVE(&q->returned, meta, link);
			q->nreturned--;
		}
		ag_queue_ring_pop(o, q, &v);
		if (serve_waiter(o, q, w, &v, meta, false))
			continue;
		/* Out of memory for that taker: it gets LIMIT, the item
		 * stays for the next (ag_queue_ring_pop() left room). */
		ring_push_front(o, q, &v);
		if (meta != NULL) {
			TAILQ_INSERT_HEAD(&q->returned, meta, link);
			q->nreturned++;
		}
		ag_reply_error(&w->to, AGORA_ELIMIT,
			       "out of memory taking the item");
		ag_wait_done(w);
	}
	/* Slots for the parked putters (the queue was full when they
	 * parked), and the joiners once no task is left. */
	ag_queue_admit_putters(o, q);
	if (q->unfinished == 0)
		answer_joiners(q);
}
