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
 * Acknowledged delivery (take, ack, nack, pending): an item taken with take
 * stays the queue's, as a struct pend on the taking connection (which holds
 * the object through ag_conn_hold(), once per item) until ack frees it. When
 * it is not acknowledged (nack, its lease ran out, its connection ended) it
 * goes back to the head of the queue, to a parked getter first, keeping its
 * id and counting its deliveries; past max_deliveries it goes to the
 * dead-letter queue instead. Items that came back sit at the head of the
 * ring: their ids and counts are q->returned, one struct pend per item of
 * the ring's first nreturned slots, in the same order (an item comes back
 * only at the head and leaves only from the head, so they stay a prefix).
 * The ring always has room for every pending item (cap >= count +
 * npending), so an item coming back never needs memory.
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

/* An item taken and not acknowledged (conn set), or one that came back,
 * whose value is then in the ring (conn NULL, item empty). */
struct pend {
	TAILQ_ENTRY(pend) link; /* in q->pending or q->returned */
	ag_object *obj;
	ag_conn *conn;
	uint64_t id;         /* drawn at its first take, kept */
	uint64_t deliveries; /* takes so far */
	ag_val item;
	struct event *lease; /* its lease's timer, or NULL */
	double lease_s;      /* the lease it was taken with; 0: none */
	int64_t lease_ms;    /* ag_mono_ms() when the lease runs out */
};
TAILQ_HEAD(pendq, pend);

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
	/* Acknowledged delivery. */
	struct pendq pending;  /* taken, not acknowledged, in take order */
	struct pendq returned; /* the ring's first nreturned items */
	size_t npending, nreturned;
	ag_table index; /* id -> struct pend, the pending ones */
	uint64_t next_id;
	uint64_t max_deliveries; /* 0: no limit */
	char *dead_letter;       /* the dead-letter queue's name, or NULL */
	uint64_t redelivered, dead_lettered;
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

/* ---- shared queue operations (queue and joinable_queue) ----------------- */

static bool queue_is_full(const struct queue *q)
{
	return q->maxsize != 0 && q->count >= q->maxsize;
}

static bool is_joinable(const ag_object *o)
{
	return o->fam == &ag_family_joinable_queue;
}

/* One task of a joinable_queue is done: when none is left, every parked
 * join() is answered true, in arrival order. */
static void tasks_done(ag_object *o, struct queue *q)
{
	ag_waiter *w;

	if (q->unfinished == 0)
		return;
	if (--q->unfinished > 0)
		return;
	while ((w = TAILQ_FIRST(&q->joiners)) != NULL) {
		ag_reply_bool(&w->to, true);
		ag_wait_done(w);
	}
}

/* A parked take keeps what it was called with in w->aux: bit 0 set (a
 * take, not a get), details in bit 1, the lease in microseconds (0: none)
 * above them. */
static int64_t take_aux(double lease, bool details)
{
	return (int64_t)(lease * 1e6) * 4 + (details ? 2 : 0) + 1;
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

/* ---- pending items ------------------------------------------------------- */

static void id_key(uint64_t id, uint8_t buf[8], ag_val *ret)
{
	for (int i = 7; i >= 0; i--, id >>= 8)
		buf[i] = (uint8_t)id;
	*ret = ag_val_view(buf, 8, 0);
}

/* The item @id pending on the queue (on any connection), or NULL. */
static struct pend *pend_find(struct queue *q, uint64_t id)
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
static struct pend *pend_new(ag_object *o)
{
	struct pend *p = calloc(1, sizeof(*p));

	if (p == NULL)
		return NULL;
	p->obj = o;
	return p;
}

/* Free @p (out of every list) and the item it still has. */
static void pend_free(ag_object *o, struct pend *p)
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
static int pend_claim(ag_object *o, struct queue *q, struct pend *p, ag_conn *c,
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
static void pend_release(ag_object *o, struct queue *q, struct pend *p)
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
static void pack_taken(const ag_target *to, const struct pend *p, bool details)
{
	msgpack_packer *pk = ag_reply_begin(to);

	msgpack_pack_array(pk, details ? 3 : 2);
	msgpack_pack_uint64(pk, p->id);
	ag_pack_val(pk, &p->item);
	if (details)
		msgpack_pack_uint64(pk, p->deliveries);
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

/* A parked take served an item: "queue.take" [id, false, nil, lease,
 * details]. */
static void journal_served_take(ag_object *o, double lease, bool details)
{
	msgpack_packer *pk = ag_journal_call(o->srv, o, "queue.take", 4);

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
			 struct pend *meta)
{
	struct pend *p;

	if (!waiter_takes(w)) {
		journal_served_get(o);
		ag_reply_val(&w->to, v);
		ag_val_give(w->to.conn, v); /* its references go with it */
		ag_wait_done(w);
		memset(v, 0, sizeof(*v));
		if (meta != NULL)
			pend_free(o, meta);
		return true;
	}
	/* The ring keeps a slot for it (ring_reserve). */
	if (q->count + q->npending >= q->cap &&
	    ring_resize(o, q, q->cap ? q->cap * 2 : RING_MIN) < 0)
		return false;
	p = meta != NULL ? meta : pend_new(o);
	if (p == NULL)
		return false;
	if (meta == NULL)
		p->id = q->next_id + 1;
	if (pend_claim(o, q, p, w->to.conn, aux_lease(w->aux)) < 0) {
		if (meta == NULL)
			pend_free(o, p);
		return false;
	}
	if (meta == NULL)
		q->next_id++;
	p->deliveries++;
	p->item = *v;
	ag_object_mem(o, (ssize_t)ag_val_heap(v));
	memset(v, 0, sizeof(*v));
	journal_served_take(o, aux_lease(w->aux), aux_details(w->aux));
	pack_taken(&w->to, p, aux_details(w->aux));
	ag_wait_done(w);
	return true;
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

	if (w == NULL || !serve_waiter(o, q, w, v, NULL)) {
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
 * caller, and let the first parked putter into the freed slot. *ret_meta:
 * the id and deliveries of an item that came back (the caller's), or NULL;
 * when @ret_meta is NULL they are freed.
 */
static void queue_pop_item(ag_object *o, struct queue *q, ag_val *ret,
			   struct pend **ret_meta)
{
	struct pend *meta = NULL;

	if (q->nreturned > 0) {
		meta = TAILQ_FIRST(&q->returned);
		TAILQ_REMOVE(&q->returned, meta, link);
		q->nreturned--;
	}
	ring_pop(o, q, ret);
	if (ret_meta != NULL)
		*ret_meta = meta;
	else if (meta != NULL)
		pend_free(o, meta);
	queue_admit_putters(o, q);
}

/* The queue named dead_letter if it is one now, else NULL. */
static ag_object *dead_letter_queue(ag_object *o, struct queue *q)
{
	ag_server *s = o->srv;
	ag_val key = ag_val_view(q->dead_letter, strlen(q->dead_letter), 0);
	ag_entry *e =
	    ag_table_find(&s->names, &key, ag_table_hash(&s->names, &key));
	ag_object *d = e != NULL ? e->ptr : NULL;

	if (d == NULL || d == o ||
	    (d->fam != &ag_family_queue && d->fam != &ag_family_joinable_queue))
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

	if (d == NULL || queue_offer(d, d->data, &p->item) < 0) {
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
	pend_free(o, p);
	q->dead_lettered++;
	if (is_joinable(o))
		tasks_done(o, q);
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
static void pend_requeue(ag_object *o, struct queue *q, struct pend *p)
{
	ag_waiter *w;

	if (q->max_deliveries != 0 && p->deliveries >= q->max_deliveries &&
	    dead_letter(o, q, p))
		return;
	q->redelivered++;
	while ((w = TAILQ_FIRST(&q->getters)) != NULL) {
		ag_val v = p->item;

		ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
		memset(&p->item, 0, sizeof(p->item));
		if (serve_waiter(o, q, w, &v, p))
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
	pend_release(o, q, p);
	pend_requeue(o, q, p);
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
		queue_pop_item(o, q, &item, NULL);
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

	ag_reply_bool(&r->to, queue_is_full(q));
	return 0;
}

/* ---- acknowledged delivery ----------------------------------------------- */

/* Leases: at most about 31 years (the timer's seconds fit easily). */
#define LEASE_MAX 1e9

/* The lease at argv[@i]: nil or absent -> 0 (none), else seconds > 0. */
static int arg_lease(ag_req *r, uint32_t i, double *ret)
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
				      "take: lease must be a number of "
				      "seconds or nil, not %s",
				      desc);
	}
	if (!(v > 0) || v > LEASE_MAX || v * 1e6 < 1)
		return ag_reply_error(&r->to, AGORA_EVALUE,
				      "take: lease must be more than 0 and at "
				      "most %g seconds, not %g",
				      LEASE_MAX, v);
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
	ag_val item;
	double timeout, lease;
	bool block, details, fresh;
	int rc;

	if ((rc = ag_arg_block(r, 1, &block, &timeout)) < 0 ||
	    (rc = arg_lease(r, 3, &lease)) < 0 ||
	    (rc = ag_arg_bool(r, 4, false, &details)) < 0)
		return rc;
	if (q->count > 0) {
		fresh = q->nreturned == 0;
		p = fresh ? pend_new(o) : TAILQ_FIRST(&q->returned);
		if (p == NULL)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "take: out of memory");
		if (fresh) {
			p->id = q->next_id + 1;
		} else {
			TAILQ_REMOVE(&q->returned, p, link);
			q->nreturned--;
		}
		if (pend_claim(o, q, p, r->to.conn, lease) < 0) {
			if (fresh) {
				pend_free(o, p);
			} else {
				TAILQ_INSERT_HEAD(&q->returned, p, link);
				q->nreturned++;
			}
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "take: out of memory");
		}
		if (fresh)
			q->next_id++;
		/* The slot stays kept for it: npending counts it already. */
		ring_pop(o, q, &item);
		p->item = item;
		ag_object_mem(o, (ssize_t)ag_val_heap(&item));
		p->deliveries++;
		pack_taken(&r->to, p, details);
		queue_admit_putters(o, q);
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
	w->aux = take_aux(lease, details);
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
	p = id > 0 ? pend_find(q, (uint64_t)id) : NULL;
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
	pend_release(o, q, p);
	ag_object_mem(o, -(ssize_t)ag_val_heap(&p->item));
	ag_val_give(r->to.conn, &p->item);
	memset(&p->item, 0, sizeof(p->item));
	pend_free(o, p);
	if (is_joinable(o))
		tasks_done(o, q);
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
	pend_release(o, q, p);
	pend_requeue(o, q, p);
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

/*
 * Connection @c ends: every item pending on it goes back, in take order to
 * the parked getters, the rest to the head in the order they were taken.
 * Each is journaled as a nack just before it goes (what it serves comes
 * after it), the loading connection's too, which ends once the new
 * journal is open.
 */
static void queue_conn_gone(ag_object *o, ag_conn *c)
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
		pend_release(o, q, p);
		TAILQ_INSERT_TAIL(&mine, p, link);
		n++;
	}
	while (!TAILQ_EMPTY(&q->getters) && (p = TAILQ_FIRST(&mine)) != NULL) {
		TAILQ_REMOVE(&mine, p, link);
		journal_went_back(o, p->id);
		pend_requeue(o, q, p);
	}
	while ((p = TAILQ_LAST(&mine, pendq)) != NULL) {
		TAILQ_REMOVE(&mine, p, link);
		journal_went_back(o, p->id);
		pend_requeue(o, q, p);
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
		pend_free(o, p);
	}
	while ((p = TAILQ_FIRST(&q->returned)) != NULL) {
		TAILQ_REMOVE(&q->returned, p, link);
		pend_free(o, p);
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

/*
 * The state the puts do not rebuild: {"next_id": n, "redelivered": n,
 * "dead_lettered": n, "returned": [[id, deliveries, item], ...] (the items
 * that went back, head first), "pending": [[id, deliveries, item], ...]
 * (take order)}, and a joinable_queue's "unfinished": n. At start the
 * pending items are pending on the loading connection, whose end sends
 * them back (journaled), after the journal's acks of them.
 */
static void queue_pack_state(ag_object *o, msgpack_packer *pk)
{
	struct queue *q = o->data;
	struct pend *p;
	size_t i = 0;

	msgpack_pack_map(pk, is_joinable(o) ? 6 : 5);
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
	if (is_joinable(o)) {
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
		    pend_find(q, t->via.array.ptr[0].via.u64) != NULL) {
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

static void ref_one(void *ud, ag_object *r)
{
	(void)ud;
	ag_object_ref(r);
}

/* Make the item @t ([id, deliveries, item]) a struct pend holding what
 * its references name (loaded before any state): 0 or ENOMEM. */
static int state_pend(ag_object *o, const msgpack_object *t, struct pend **ret)
{
	struct pend *p = pend_new(o);

	if (p == NULL)
		return AGORA_ENOMEM;
	p->id = t->via.array.ptr[0].via.u64;
	p->deliveries = t->via.array.ptr[1].via.u64;
	if (ag_val_from_obj(&p->item, &t->via.array.ptr[2]) < 0) {
		pend_free(o, p);
		return AGORA_ENOMEM;
	}
	ag_val_foreach_ref(o->srv, &p->item, ref_one, NULL);
	ag_object_mem(o, (ssize_t)ag_val_heap(&p->item));
	*ret = p;
	return 0;
}

static int queue_load_state(ag_object *o, const msgpack_object *st, char *err,
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
	    (rc = state_uint(st, "unfinished", is_joinable(o), &unfinished, err,
			     errlen)) < 0)
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
		if (pend_find(q, id) != NULL) {
			snprintf(err, errlen,
				 "queue state: item %llu is pending twice",
				 (unsigned long long)id);
			return AGORA_EVALUE;
		}
		if (state_pend(o, &pend_items->via.array.ptr[i], &p) < 0)
			goto nomem;
		if (lc == NULL || ring_reserve(o, q) < 0 ||
		    pend_claim(o, q, p, lc, 0) < 0) {
			pend_free(o, p);
			goto nomem;
		}
	}
	q->redelivered = redelivered;
	q->dead_lettered = dead_lettered;
	if (is_joinable(o)) {
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
	.conn_gone = queue_conn_gone,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
	.pack_state = queue_pack_state,
	.load_state = queue_load_state,
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
	tasks_done(r->obj, q);
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
	.conn_gone = queue_conn_gone,
	.persist = AG_PERSIST_CALLS,
	.save_opts = queue_save_opts,
	.save = queue_save,
	.pack_state = queue_pack_state,
	.load_state = queue_load_state,
};
