/*
 * queue.h - the state of a queue and a joinable_queue, shared by the family
 * (obj_queue.c: params, answers, options, info, snapshots) and its items
 * (queue_items.c: the ring, delivering to parked getters and takers, the
 * pending items of take, their going back and the dead-letter queue, the
 * journal of served waiters, the state a snapshot saves). queue_items.c
 * never calls obj_queue.c.
 */
#ifndef AG_QUEUE_H
#define AG_QUEUE_H

#include "internal.h"

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
	/*
	 * Inside a transaction parked requests keep their place
	 * (queue_items.c, "promises"): ngiven parked getters and takers
	 * have an item promised (given[i], in the order made, with the
	 * struct pend of an item that went back or a taker's, its id drawn),
	 * and the first nadmitted parked putters a copy of their item in the
	 * queue. ag_queue_wake() answers them once the transaction has
	 * committed; a rollback forgets them. Empty outside a transaction.
	 */
	struct queue_given *given;
	size_t ngiven, capgiven, nadmitted;
};

/* An item promised to a parked getter or taker. */
struct queue_given {
	ag_waiter *w; /* in q->getters */
	ag_val item;
	struct pend *meta; /* as serve_waiter() takes it, or NULL */
};

static inline bool ag_queue_is_full(const struct queue *q)
{
	return q->maxsize != 0 && q->count >= q->maxsize;
}

static inline bool ag_queue_joinable(const ag_object *o)
{
	return o->fam->base != NULL; /* its base is the queue */
}

/* A parked take keeps what it was called with in w->aux: bit 0 set (a
 * take, not a get), details in bit 1, the lease in microseconds (0: none)
 * above them. */
static inline int64_t ag_queue_take_aux(double lease, bool details)
{
	return (int64_t)(lease * 1e6) * 4 + (details ? 2 : 0) + 1;
}

/* ---- obj_queue.c --------------------------------------------------------- */

/* The lease of a take at argv[@i]: nil or absent -> 0 (none), else
 * seconds > 0 (at most about 31 years); answers ARGS or VALUE naming it. */
int ag_queue_arg_lease(ag_req *r, uint32_t i, double *ret);

/* ---- queue_items.c ------------------------------------------------------- */

/* The ring: ag_queue_ring_pop() removes the oldest item into *ret (the
 * caller's); the ring keeps room for every pending item. */
void ag_queue_ring_pop(ag_object *o, struct queue *q, ag_val *ret);
/* Waiters: the timeout a waiter was parked with (for its message), and
 * the on_timeout of a parked get or take (EMPTY) and put (FULL). */
void ag_queue_set_timeout(ag_waiter *w, double timeout);
void ag_queue_get_timed_out(ag_waiter *w);
void ag_queue_put_timed_out(ag_waiter *w);
/* One task of a joinable_queue is done: at 0 every parked join() is
 * answered true. */
void ag_queue_tasks_done(ag_object *o, struct queue *q);
/* An item arrives: to the first parked getter or taker, else at the tail;
 * takes @v's bytes; counts one unfinished task. 0 or AGORA_ENOMEM (@v
 * untouched). The caller checked for room or a getter. */
int ag_queue_offer(ag_object *o, struct queue *q, ag_val *v);
/* Slots are free: let the first parked putters in. */
void ag_queue_admit_putters(ag_object *o, struct queue *q);
/* Take the oldest item into *ret and let a putter in; *ret_meta: the id
 * and deliveries of an item that went back, or NULL (@ret_meta NULL:
 * freed). */
void ag_queue_pop_item(ag_object *o, struct queue *q, ag_val *ret,
		       struct pend **ret_meta);
/* Pending items: find by id (any connection), a new one (not counted
 * against --max-memory, see queue_items.c), free one (out of every list),
 * make one pending on @c with a lease (0: none) before its item moves (0 or
 * AGORA_ENOMEM, nothing changed), take one off its connection, answer
 * [id, item] or [id, item, deliveries]. */
struct pend *ag_pend_find(struct queue *q, uint64_t id);
struct pend *ag_pend_new(ag_object *o);
void ag_pend_free(ag_object *o, struct pend *p);
int ag_pend_claim(ag_object *o, struct queue *q, struct pend *p, ag_conn *c,
		  double lease);
void ag_pend_release(ag_object *o, struct queue *q, struct pend *p);
void ag_pend_reply(const ag_target *to, const struct pend *p, bool details);
/* ag_pend_reply() after *tag when @tag is not NULL: [tag, id, item, ...]
 * (take_any names the handle of the queue). */
void ag_pend_reply_tagged(const ag_target *to, const uint64_t *tag,
			  const struct pend *p, bool details);
/* Answer the item @v: the item, or [*tag, item] when @tag is not NULL
 * (get_any). */
void ag_queue_reply_item(const ag_target *to, const uint64_t *tag,
			 const ag_val *v);
/*
 * Take the oldest item now (the queue is not empty) for connection @c
 * with @lease (0: none): it becomes pending on @c, with a new id or the
 * id of an item that came back, and its deliveries counted. Putters are
 * not let in yet: the caller answers (and journals), then calls
 * ag_queue_admit_putters(). The pending item, or NULL when out of memory
 * (nothing changed).
 */
struct pend *ag_queue_take_item(ag_object *o, struct queue *q, ag_conn *c,
				double lease);
/* The records of a get or a take served later or by another call than
 * its own (a parked one, get_any): "queue.get" [id, false] and
 * "queue.take" [id, false, nil, lease, details] on @o. */
void ag_queue_journal_get(ag_object *o);
void ag_queue_journal_take(ag_object *o, double lease, bool details);
/* A released item goes back: to the dead-letter queue past max_deliveries,
 * else to the head (to a parked getter or taker first). */
void ag_pend_requeue(ag_object *o, struct queue *q, struct pend *p);
/* Before ag_pend_release() and ag_pend_requeue() of @p by a call: a
 * transaction saves the dead-letter queue it would go to
 * (ag_txn_touch()). 0, or AGORA_ENOMEM: fail the call, nothing changed. */
int ag_pend_requeue_prepare(ag_object *o, struct queue *q,
			    const struct pend *p);
/* Before an item may be promised to a parked getter in a transaction:
 * room for the promise. 0 or AGORA_ENOMEM (nothing changed). */
int ag_queue_promise_reserve(struct queue *q);
/* Transactions (protocol section 12; queue_items.c says what is kept):
 * the family's txn_save, txn_restore and txn_drop; before a change the
 * kept log cannot undo (take, ack, nack), the whole copy (0, or
 * AGORA_ENOMEM: fail the call, nothing changed); before
 * ag_queue_pop_item() by a call, room in the log (0 or AGORA_ENOMEM, the
 * same); and after the commit, wake: the parked getters, takers, putters
 * and joiners served as the transaction's changes allow. */
void *ag_queue_txn_save(ag_object *o);
void ag_queue_txn_restore(ag_object *o, void *saved);
void ag_queue_txn_drop(ag_object *o, void *saved);
int ag_queue_txn_full(ag_object *o);
int ag_queue_txn_pop_prepare(ag_object *o, struct queue *q);
void ag_queue_wake(ag_object *o);
/* The family's conn_gone, pack_state and load_state. */
void ag_queue_conn_gone(ag_object *o, ag_conn *c);
void ag_queue_pack_state(ag_object *o, msgpack_packer *pk);
int ag_queue_load_state(ag_object *o, const msgpack_object *st, char *err,
			size_t errlen);

#endif
