/*
 * obj_lock.c - the "lock", "rlock" and "condition" families: Python's
 * threading.Lock, RLock and Condition, with the connection as the owner.
 *
 * A lock and an rlock share one state (struct lock): the owning connection
 * (NULL when free), the owner's count (1 for a lock; an rlock's re-entrant
 * acquisitions), when it was taken, how many times it was abandoned, the
 * fence, and one wait queue in arrival order. A connection that takes the lock
 * records it with ag_conn_hold() (once, however deep an rlock's count), so that
 * when it goes away the core calls conn_gone(), which releases the lock, counts
 * one abandonment and hands the lock to the next waiter at once.
 *
 * Invariant, true whenever a method returns: the queue is non-empty only
 * while the lock is owned. Every path that frees the lock (release, a
 * condition's wait, conn_gone) ends in lock_serve(), which hands it to the
 * first waiter; so a new acquire never overtakes a parked one.
 *
 * A condition (struct condition) holds a reference to its lock object,
 * either one the creator passed by handle (option `lock`) or an anonymous
 * rlock it made. Its acquire and release act on that lock. wait() saves the
 * owner's count in w->n, releases the lock completely and parks on the
 * condition's own list; notify() moves waiters, in arrival order, to the
 * tail of the lock's queue with ag_wait_move(); a timed-out waiter is moved
 * there too. So the lock's queue holds two kinds of waiter, told apart by
 * w->aux (enum want): plain acquirers and condition waiters going back for
 * the lock. A waiter holds the object it was parked through (w->obj): the
 * lock, or a condition, which keeps its lock alive; so the info "waiters"
 * of a condition counts every request parked through it, its acquires
 * included. Either kind is answered only once it holds the lock: true,
 * or false for a condition wait that timed out. A waiter whose connection
 * goes away is simply withdrawn: it holds nothing yet.
 *
 * Fencing tokens: every acquisition that makes a connection the owner
 * (lock_take: acquire, acquire_fenced, a condition's wait taking the lock
 * back, plain or fenced alike) takes the next number of the server's one
 * sequence (srv->last_fence) as the lock's fence, so while a connection
 * holds the lock the fence is its token and no later holder can have a
 * smaller one. One sequence for every lock, not one per lock, so that a
 * lock dropped and opened anew under the same name (a new object) still
 * gives larger tokens than the old one gave: a resource keyed by the name
 * then refuses the old object's holders too. acquire_fenced answers that
 * token instead of true
 * (a parked one when the lock is handed to it: w->aux WANT_FENCED); an
 * rlock's re-entrant acquire_fenced answers the token it already holds,
 * since re-entering takes nothing from anyone. Conditions have no
 * acquire_fenced: wait() gives the lock up and takes it back, with a new
 * token, so a token from the condition's acquire would be stale after the
 * first wait; a holder that wants tokens opens the condition over a lock
 * of its own (option `lock`), takes that with acquire_fenced, and after a
 * wait reads info's `fence`, which is its own token while it holds the
 * lock.
 *
 * Persistence (AG_PERSIST_STATE): a lock's durable state is its fence, its
 * abandoned count and whether it is held (lock_pack_state); lock_take() and
 * lock_drop(), the only places where they change, touch it. Connections do
 * not survive a restart, so a lock loaded as held is free and counts one
 * more abandonment. A condition saves only its options: the id of its
 * lock, whose state is the lock object's own; its anonymous rlock is
 * journaled as created before the condition is.
 *
 * No polling: every wait is a parked request (ag_wait_park), every timeout a
 * timer. Memory accounted: each state (an anonymous rlock's object is
 * accounted by ag_object_new()).
 *
 * Transactions (docs/protocol.md section 12): the copy kept to undo with
 * is the owner, count, since, abandoned and fence (lock_txn_save). A lock
 * released within one goes to its next waiter at the commit (lock_wake),
 * if it is still free then; until then the transaction cannot take it
 * back over that waiter. A condition's notifies within one move their
 * waiters at the commit (cv->pending, cond_wake); its acquire and release
 * save its lock first (ag_txn_touch). Blocking acquires and condition
 * wait are refused there.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

/* What a parked request wants; kept in w->aux. */
enum want {
	WANT_ACQUIRE,   /* acquire(): true once it holds the lock */
	WANT_FENCED,    /* acquire_fenced(): its token once it holds it */
	WANT_NOTIFY,    /* wait(), on the condition's list */
	WANT_NOTIFIED,  /* wait() notified, in the lock's queue: true */
	WANT_TIMED_OUT, /* wait() timed out, in the lock's queue: false */
	WANT_CANCELLED, /* wait() cancelled, in the lock's queue: CANCELLED */
};

struct lock {
	ag_conn *owner;          /* NULL when free */
	uint64_t count;          /* acquisitions by the owner; 0 when free */
	double since;            /* unix time the owner took it */
	uint64_t abandoned;      /* released because the owner went away */
	bool reentrant;          /* rlock */
	struct ag_waitq waiters; /* arrival order; non-empty only while owned */
	/*
	 * The token of the latest acquisition (re-entries aside), from
	 * srv->last_fence; 0 before the first. Neither may go back, or a
	 * resource would take a stale holder's writes again: persistence
	 * saves this field with the lock and srv->last_fence with the
	 * server, and sets both back on load. Nothing else here is derived
	 * from them (the owner, count and queue are of connections, which
	 * do not survive a restart).
	 */
	uint64_t fence;
};

struct condition {
	ag_object *lock;         /* a lock or rlock; one reference */
	struct ag_waitq waiters; /* parked wait(), arrival order */
	/* The notifies a transaction made, for its commit to do (cond_wake):
	 * how many waiters to move, -1 all; 0 outside a transaction. */
	int64_t pending;
};

static double unix_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the lock ------------------------------------------------------------ */

/* Make @lk (free) owned by @c with @count acquisitions. Returns 0, or
 * AGORA_ENOMEM with the lock still free. */
static int lock_take(ag_object *lk, ag_conn *c, uint64_t count)
{
	struct lock *l = lk->data;

	if (ag_conn_hold(c, lk) < 0)
		return AGORA_ENOMEM;
	l->owner = c;
	l->count = count;
	l->since = unix_now();
	/* 2^64 acquisitions is more than any server will see. */
	l->fence = ++lk->srv->last_fence;
	ag_persist_touch(lk);
	ag_changed_by(lk, c, "acquire");
	return 0;
}

/* The answer of a cancelled condition wait, once it holds the lock. */
static void reply_cancelled(const ag_target *t)
{
	ag_reply_error(t, AGORA_ECANCELLED,
		       "wait cancelled by this connection's cancel [%u]; the "
		       "lock is held again",
		       (unsigned)t->msgid);
}

/*
 * The lock is free: hand it to the first waiter of its queue and answer it
 * (true, or the new token for acquire_fenced; false for a timed-out
 * condition wait). A waiter that cannot be recorded as the owner (out of
 * memory) is answered LIMIT and the next one is tried.
 */
static void lock_serve(ag_object *lk)
{
	struct lock *l = lk->data;
	ag_waiter *w;
	uint64_t count;

	/* Answering a condition waiter may drop the last reference to its
	 * condition, and with it the condition's reference to this lock. */
	ag_object_ref(lk);
	while (l->owner == NULL && (w = TAILQ_FIRST(&l->waiters)) != NULL) {
		count = w->aux == WANT_ACQUIRE || w->aux == WANT_FENCED
			    ? 1
			    : (uint64_t)w->n;
		if (lock_take(lk, w->to.conn, count) < 0) {
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory handing over the lock");
		} else {
			if (w->aux == WANT_FENCED)
				ag_reply_uint(&w->to, l->fence);
			else if (w->aux == WANT_CANCELLED)
				reply_cancelled(&w->to);
			else if (w->group != NULL) /* acquire_any: its handle */
				ag_reply_uint(&w->to, w->tag);
			else
				ag_reply_bool(&w->to, w->aux != WANT_TIMED_OUT);
		}
		ag_wait_done(w);
	}
	ag_object_unref(lk);
}

/* Release @lk entirely, whatever the owner's count, and serve the next
 * waiter. The caller keeps @lk alive. */
static void lock_drop(ag_object *lk)
{
	struct lock *l = lk->data;
	ag_conn *c = l->owner;

	l->owner = NULL;
	l->count = 0;
	l->since = 0;
	ag_conn_unhold(c, lk);
	ag_persist_touch(lk);
	ag_changed_by(lk, c, "release");
	/* In a transaction the next waiter gets it at the commit (lock_wake),
	 * if the lock is still free then. */
	if (ag_txn_defer(lk))
		return;
	lock_serve(lk);
}

/* Answer @t as holding the lock: true, or the token when @fenced. */
static void reply_taken(const ag_target *t, const struct lock *l, bool fenced)
{
	if (fenced)
		ag_reply_uint(t, l->fence);
	else
		ag_reply_bool(t, true);
}

/*
 * acquire(block, timeout) of request @r on the lock object @lk (r->obj is
 * @lk or a condition over it); @timeout < 0 is forever. Answers true (the
 * token with @fenced) at once (free, or re-entered by an rlock's owner),
 * false at once (held and not blocking, or a zero timeout), or parks at the
 * tail of the lock's queue. Returns 0 or the negative code answered (LIMIT).
 */
static int lock_do_acquire(ag_req *r, ag_object *lk, bool block, double timeout,
			   bool fenced)
{
	struct lock *l = lk->data;
	ag_waiter *w;

	/* Waiters are parked only while the lock is owned, except within a
	 * transaction that released it: it goes to them at the commit, so
	 * a later call of the transaction finds it taken, as it would have
	 * without one. */
	if (l->owner == NULL && TAILQ_EMPTY(&l->waiters)) {
		if (lock_take(lk, r->to.conn, 1) < 0)
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "%.*s: out of memory taking "
					      "the lock",
					      (int)r->methodlen, r->method);
		reply_taken(&r->to, l, fenced);
		return 0;
	}
	if (l->reentrant && l->owner == r->to.conn) {
		l->count++;
		reply_taken(&r->to, l, fenced);
		return 0;
	}
	/* Python's acquire(timeout=0) on a held lock fails at once. */
	if (!block || timeout == 0) {
		ag_reply_bool(&r->to, false);
		return 0;
	}
	/* Parked through a condition, the waiter holds the condition (which
	 * holds the lock) and counts in the condition's info "waiters". */
	/* On timeout, as Python's acquire, false. */
	w = ag_wait_park(r, &l->waiters, timeout, ag_wait_answer_false);
	if (w == NULL)
		return AGORA_ELIMIT;
	w->aux = fenced ? WANT_FENCED : WANT_ACQUIRE;
	return 0;
}

/* For the server method acquire_any (wait_any.c). ag_lock_try(): take
 * lock or rlock @lk for @c now if it is free (or an rlock @c owns: one
 * count more): 1 taken, 0 held by another (or a lock by @c itself),
 * AGORA_ENOMEM. ag_lock_waiters(): its queue, where acquire_any parks a
 * member (aux WANT_ACQUIRE, answered its tag once it holds the lock). */
int ag_lock_try(ag_object *lk, ag_conn *c)
{
	struct lock *l = lk->data;

	if (l->owner == NULL) {
		if (lock_take(lk, c, 1) < 0)
			return AGORA_ENOMEM;
		return 1;
	}
	if (l->reentrant && l->owner == c) {
		l->count++;
		ag_changed(lk, "acquire", NULL);
		return 1;
	}
	return 0;
}

struct ag_waitq *ag_lock_waiters(ag_object *lk)
{
	struct lock *l = lk->data;

	return &l->waiters;
}

bool ag_lock_held_by(const ag_object *lk, const ag_conn *c)
{
	const struct lock *l = lk->data;

	return l->owner != NULL && l->owner == c;
}

bool ag_lock_fence(const ag_object *lk, uint64_t *ret)
{
	const struct lock *l = lk->data;

	*ret = l->fence;
	return l->owner != NULL;
}

/* NOT_OWNER, answered for @r, unless its connection owns @lk. */
static int lock_check_owner(ag_req *r, ag_object *lk)
{
	struct lock *l = lk->data;

	if (l->owner == r->to.conn)
		return 0;
	if (l->owner == NULL)
		return ag_reply_error(&r->to, AGORA_ENOT_OWNER,
				      "%.*s: the %s is not held by anyone",
				      (int)r->methodlen, r->method,
				      lk->fam->name);
	return ag_reply_error(&r->to, AGORA_ENOT_OWNER,
			      "%.*s: this connection does not hold the %s "
			      "(connection %llu does)",
			      (int)r->methodlen, r->method, lk->fam->name,
			      (unsigned long long)ag_conn_id(l->owner));
}

/* release() of request @r on @lk: one count less; at 0 the next waiter gets
 * it. Returns 0 or NOT_OWNER (answered). */
static int lock_do_release(ag_req *r, ag_object *lk)
{
	struct lock *l = lk->data;
	int rc;

	rc = lock_check_owner(r, lk);
	if (rc < 0)
		return rc;
	ag_reply_nil(&r->to);
	if (--l->count == 0)
		lock_drop(lk);
	return 0;
}

/* Set up @o's state as a free lock. Returns 0 or AGORA_ENOMEM. */
static int lock_state_new(ag_object *o, bool reentrant)
{
	struct lock *l = calloc(1, sizeof(*l));

	if (l == NULL)
		return AGORA_ENOMEM;
	l->reentrant = reentrant;
	TAILQ_INIT(&l->waiters);
	o->data = l;
	ag_object_mem(o, (ssize_t)sizeof(*l));
	return 0;
}

/* How many info fields lock_info_pack() writes for @lk. */
static unsigned lock_info_fields(ag_object *lk)
{
	struct lock *l = lk->data;

	return l->reentrant ? 8 : 7;
}

/* The "host:port" of @c when it came over TCP, else NULL (a Unix peer is
 * told by its pid and uid). */
static const char *tcp_addr(const ag_conn *c)
{
	if (c == NULL || c->is_unix || c->peer[0] == '\0')
		return NULL;
	return c->peer;
}

/* owner, owner_pid, owner_uid, owner_addr, since, abandoned, fence, and an
 * rlock's count. */
static void lock_info_pack(ag_object *lk, msgpack_packer *pk)
{
	struct lock *l = lk->data;
	int64_t pid, uid;
	bool peer = l->owner != NULL && ag_conn_peer(l->owner, &pid, &uid);
	const char *addr = tcp_addr(l->owner);

	ag_pack_str(pk, "owner");
	if (l->owner != NULL)
		msgpack_pack_uint64(pk, ag_conn_id(l->owner));
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "owner_pid");
	if (peer)
		msgpack_pack_int64(pk, pid);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "owner_uid");
	if (peer)
		msgpack_pack_int64(pk, uid);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "owner_addr");
	if (addr != NULL)
		ag_pack_str(pk, addr);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "since");
	if (l->owner != NULL)
		msgpack_pack_double(pk, l->since);
	else
		msgpack_pack_nil(pk);
	ag_pack_str(pk, "abandoned");
	msgpack_pack_uint64(pk, l->abandoned);
	ag_pack_str(pk, "fence");
	msgpack_pack_uint64(pk, l->fence);
	if (l->reentrant) {
		ag_pack_str(pk, "count");
		msgpack_pack_uint64(pk, l->count);
	}
}

/* ---- lock and rlock methods ---------------------------------------------- */

/* acquire and acquire_fenced [block, timeout]: the same call, answering
 * true or, @fenced, the fencing token (false on a timeout either way). */
static int lock_acquire_as(ag_req *r, bool fenced)
{
	bool block;
	double timeout;
	int rc = ag_arg_block(r, 1, &block, &timeout);

	if (rc < 0)
		return rc;
	return lock_do_acquire(r, r->obj, block, timeout, fenced);
}

static int lock_acquire(ag_req *r)
{
	return lock_acquire_as(r, false);
}

static int lock_acquire_fenced(ag_req *r)
{
	return lock_acquire_as(r, true);
}

static int lock_release(ag_req *r)
{
	return lock_do_release(r, r->obj);
}

static int lock_locked(ag_req *r)
{
	struct lock *l = r->obj->data;

	ag_reply_bool(&r->to, l->owner != NULL);
	return 0;
}

/* ---- transactions -------------------------------------------------------- */

/*
 * What a transaction keeps to undo with (docs/protocol.md section 12): the
 * owner and its count, since, abandoned and the fence. The owner's
 * ag_conn_hold() is taken once more while it is kept, so that giving the
 * lock back to it never needs memory: restoring turns that hold into the
 * owner's, dropping lets it go.
 */
struct lock_saved {
	ag_conn *owner;
	uint64_t count;
	double since;
	uint64_t abandoned;
	uint64_t fence;
};

static void *lock_txn_save(ag_object *lk)
{
	struct lock *l = lk->data;
	struct lock_saved *sv = malloc(sizeof(*sv));

	if (sv == NULL)
		return NULL;
	/* The owner holds @lk already: one more is a count, no memory. */
	if (l->owner != NULL && ag_conn_hold(l->owner, lk) < 0) {
		free(sv);
		return NULL;
	}
	sv->owner = l->owner;
	sv->count = l->count;
	sv->since = l->since;
	sv->abandoned = l->abandoned;
	sv->fence = l->fence;
	return sv;
}

static void lock_txn_restore(ag_object *lk, void *saved)
{
	struct lock *l = lk->data;
	struct lock_saved *sv = saved;

	if (l->owner != NULL)
		ag_conn_unhold(l->owner, lk);
	l->owner = sv->owner; /* the hold taken by lock_txn_save() */
	l->count = sv->count;
	l->since = sv->since;
	l->abandoned = sv->abandoned;
	l->fence = sv->fence;
	free(sv);
}

static void lock_txn_drop(ag_object *lk, void *saved)
{
	struct lock_saved *sv = saved;

	if (sv->owner != NULL)
		ag_conn_unhold(sv->owner, lk);
	free(sv);
}

/* After a commit: a lock it left free goes to the next waiter. */
static void lock_wake(ag_object *lk)
{
	lock_serve(lk);
}

/* acquire and acquire_fenced may park unless not blocking (param 1). */
static const char *const lock_txn_refused[] = { "acquire@1", "acquire_fenced@1",
						NULL };

/* ---- lock and rlock families --------------------------------------------- */

static const char *const lock_options[] = { NULL };

static int lock_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	int rc;

	rc = ag_opts_check(r, opts, lock_options);
	if (rc < 0)
		return rc;
	if (lock_state_new(o, o->fam == &ag_family_rlock) < 0)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a %s",
				      o->fam->name);
	return 0;
}

/* No waiter and no owner are left: each holds a reference. */
static void lock_destroy(ag_object *o)
{
	struct lock *l = o->data;

	if (l == NULL)
		return;
	free(l);
	o->data = NULL;
	ag_object_mem(o, -(ssize_t)sizeof(*l));
}

static unsigned lock_info_count(ag_object *o)
{
	return lock_info_fields(o);
}

static void lock_info(ag_object *o, msgpack_packer *pk)
{
	lock_info_pack(o, pk);
}

/* @c is going away: if it owns the lock, release it whatever the count,
 * count the abandonment and hand the lock to the next waiter. Logged at
 * warning with the lock, the holder, why it ended and where the lock went
 * (not while the server stops: everything goes then). */
static void lock_conn_gone(ag_object *o, ag_conn *c)
{
	struct lock *l = o->data;
	ag_server *s = o->srv;
	uint64_t depth = l->count;
	char label[400], depth_s[40] = "", next[40] = "now free";

	if (l->owner != c)
		return;
	l->abandoned++;
	lock_drop(o);
	if (s->stopping || !ag_server_logs(s, AGORA_LOG_WARNING))
		return;
	if (l->reentrant && depth > 1)
		snprintf(depth_s, sizeof(depth_s), " (held %llu deep)",
			 (unsigned long long)depth);
	if (l->owner != NULL)
		snprintf(next, sizeof(next), "passed to connection %llu",
			 (unsigned long long)l->owner->id);
	ag_server_logf(s, AGORA_LOG_WARNING,
		       "%s released%s: holder connection %llu (%s) ended: "
		       "%s; %s",
		       ag_object_label(o, label, sizeof(label)), depth_s,
		       (unsigned long long)c->id, c->peer, ag_conn_why(c),
		       next);
}

/* For clients: the owner's count (1 for a lock, an rlock's depth). */
static uint64_t lock_held(ag_object *o, const ag_conn *c)
{
	struct lock *l = o->data;

	return l->owner == c ? l->count : 0;
}

/* {"fence": n, "abandoned": n, "held": bool}. */
static void lock_pack_state(ag_object *o, msgpack_packer *pk)
{
	struct lock *l = o->data;

	msgpack_pack_map(pk, 3);
	ag_pack_str(pk, "fence");
	msgpack_pack_uint64(pk, l->fence);
	ag_pack_str(pk, "abandoned");
	msgpack_pack_uint64(pk, l->abandoned);
	ag_pack_str(pk, "held");
	if (l->owner != NULL)
		msgpack_pack_true(pk);
	else
		msgpack_pack_false(pk);
}

/* The uint field @name of the lock state @st into *ret; false (with @err
 * naming it) when missing or not an int >= 0. */
static bool state_uint(const msgpack_object *st, const char *name,
		       uint64_t *ret, char *err, size_t errlen)
{
	const msgpack_object *v = ag_opt(st, name);
	char desc[64];

	if (v != NULL && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
		*ret = v->via.u64;
		return true;
	}
	if (v == NULL)
		snprintf(desc, sizeof(desc), "missing");
	else
		ag_obj_describe(v, desc, sizeof(desc));
	snprintf(err, errlen, "lock state: %s must be an int >= 0, not %s",
		 name, desc);
	return false;
}

/*
 * Set back what lock_pack_state() packed, on a free lock. A lock that was
 * held is free now (its holder's connection is gone) and counts one more
 * abandonment; the server's fence sequence is raised to the lock's fence,
 * so no later token is smaller.
 */
static int lock_load_state(ag_object *o, const msgpack_object *st, char *err,
			   size_t errlen)
{
	struct lock *l = o->data;
	const msgpack_object *held;
	uint64_t fence, abandoned;
	char desc[64];

	if (st->type != MSGPACK_OBJECT_MAP) {
		ag_obj_describe(st, desc, sizeof(desc));
		snprintf(err, errlen, "lock state: must be a map, not %s",
			 desc);
		return AGORA_EVALUE;
	}
	if (!state_uint(st, "fence", &fence, err, errlen) ||
	    !state_uint(st, "abandoned", &abandoned, err, errlen))
		return AGORA_EVALUE;
	held = ag_opt(st, "held");
	if (held == NULL || held->type != MSGPACK_OBJECT_BOOLEAN) {
		if (held == NULL)
			snprintf(desc, sizeof(desc), "missing");
		else
			ag_obj_describe(held, desc, sizeof(desc));
		snprintf(err, errlen, "lock state: held must be a bool, not %s",
			 desc);
		return AGORA_EVALUE;
	}
	if (held->via.boolean && abandoned == UINT64_MAX) {
		snprintf(err, errlen,
			 "lock state: abandoned %llu cannot count one more",
			 (unsigned long long)abandoned);
		return AGORA_EVALUE;
	}
	l->fence = fence;
	l->abandoned = abandoned + (held->via.boolean ? 1 : 0);
	if (o->srv->last_fence < fence)
		o->srv->last_fence = fence;
	return 0;
}

static const ag_method lock_methods[] = {
	{ "acquire", lock_acquire, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "acquire_fenced", lock_acquire_fenced, 1, 3, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ "release", lock_release, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "locked", lock_locked, 1, 1, AG_STORES_NONE, AG_RIGHT_READ },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

const ag_family ag_family_lock = {
	.name = "lock",
	.base = NULL,
	.methods = lock_methods,
	.create = lock_create,
	.destroy = lock_destroy,
	.len = NULL,
	.info_count = lock_info_count,
	.info_pack = lock_info,
	.conn_gone = lock_conn_gone,
	.held = lock_held,
	.persist = AG_PERSIST_STATE,
	.pack_state = lock_pack_state,
	.load_state = lock_load_state,
	.txn_save = lock_txn_save,
	.txn_restore = lock_txn_restore,
	.txn_drop = lock_txn_drop,
	.wake = lock_wake,
	.txn_refused = lock_txn_refused,
};

const ag_family ag_family_rlock = {
	.name = "rlock",
	.base = NULL,
	.methods = lock_methods,
	.create = lock_create,
	.destroy = lock_destroy,
	.len = NULL,
	.info_count = lock_info_count,
	.info_pack = lock_info,
	.conn_gone = lock_conn_gone,
	.held = lock_held,
	.persist = AG_PERSIST_STATE,
	.pack_state = lock_pack_state,
	.load_state = lock_load_state,
	.txn_save = lock_txn_save,
	.txn_restore = lock_txn_restore,
	.txn_drop = lock_txn_drop,
	.wake = lock_wake,
	.txn_refused = lock_txn_refused,
};

/* ---- condition ----------------------------------------------------------- */

/*
 * on_timeout of a parked wait(): it goes back for the lock, to be answered
 * false once it holds it. A free lock has an empty queue, so it takes the
 * lock at once and is answered here (wait.c then frees it); else it is
 * moved to the tail of the lock's queue (and not freed).
 */
static void wait_timed_out(ag_waiter *w)
{
	struct condition *cv = w->obj->data;
	ag_object *lk = cv->lock;
	struct lock *l = lk->data;

	if (l->owner == NULL) {
		if (lock_take(lk, w->to.conn, (uint64_t)w->n) < 0)
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory taking the lock back");
		else
			ag_reply_bool(&w->to, false);
		return;
	}
	w->aux = WANT_TIMED_OUT;
	ag_wait_move(w, &l->waiters);
}

/*
 * on_cancel of a parked wait(): as Python's Condition.wait interrupted,
 * which takes its lock back before the exception leaves it, the cancelled
 * wait is answered CANCELLED once it holds the lock again: at once when
 * the lock is free, else when its turn in the lock's queue comes (moved
 * to the tail when it was still waiting for a notify; a notified or timed
 * out one keeps its place). The notify it may have had is spent.
 */
static bool wait_cancelled(ag_waiter *w)
{
	struct condition *cv = w->obj->data;
	ag_object *lk = cv->lock;
	struct lock *l = lk->data;

	if (w->aux == WANT_NOTIFY && l->owner == NULL) {
		if (lock_take(lk, w->to.conn, (uint64_t)w->n) < 0)
			ag_reply_error(&w->to, AGORA_ELIMIT,
				       "out of memory taking the lock back");
		else
			reply_cancelled(&w->to);
		return true;
	}
	if (w->aux == WANT_NOTIFY)
		ag_wait_move(w, &l->waiters);
	w->aux = WANT_CANCELLED;
	return false;
}

/* LIMIT for @r: a transaction could not keep a copy of the condition's
 * lock (ag_txn_touch), so the call changes nothing. */
static int touch_failed(ag_req *r)
{
	return ag_reply_error(&r->to, AGORA_ELIMIT,
			      "%.*s: out of memory keeping the lock's state "
			      "for the transaction",
			      (int)r->methodlen, r->method);
}

static int condition_acquire(ag_req *r)
{
	struct condition *cv = r->obj->data;
	bool block;
	double timeout;
	int rc;

	rc = ag_arg_block(r, 1, &block, &timeout);
	if (rc < 0)
		return rc;
	if (ag_txn_touch(cv->lock) < 0)
		return touch_failed(r);
	return lock_do_acquire(r, cv->lock, block, timeout, false);
}

static int condition_release(ag_req *r)
{
	struct condition *cv = r->obj->data;

	if (ag_txn_touch(cv->lock) < 0)
		return touch_failed(r);
	return lock_do_release(r, cv->lock);
}

static int condition_wait(ag_req *r)
{
	struct condition *cv = r->obj->data;
	struct lock *l = cv->lock->data;
	ag_waiter *w;
	double timeout;
	int rc;

	rc = ag_arg_timeout(r, 1, &timeout);
	if (rc < 0)
		return rc;
	rc = lock_check_owner(r, cv->lock);
	if (rc < 0)
		return rc;
	w = ag_wait_park(r, &cv->waiters, timeout, wait_timed_out);
	if (w == NULL)
		return AGORA_ELIMIT;
	w->aux = WANT_NOTIFY;
	w->n = (int64_t)l->count;
	w->on_cancel = wait_cancelled;
	lock_drop(cv->lock);
	return 0;
}

/* Move the first @n waiters of @cv (all when @n < 0), in arrival order, to
 * the tail of its lock's queue: each answers true once it holds the lock. */
static void cond_notify(struct condition *cv, int64_t n)
{
	struct lock *l = cv->lock->data;
	ag_waiter *w;

	while (n != 0 && (w = TAILQ_FIRST(&cv->waiters)) != NULL) {
		w->aux = WANT_NOTIFIED;
		ag_wait_move(w, &l->waiters);
		if (n > 0)
			n--;
	}
}

/*
 * notify(@n) (all when @n < 0) of condition @o: at once, or, in a
 * transaction, at its commit (cond_wake): the notifies add up in
 * cv->pending. No waiter parks or leaves within a transaction, so the
 * commit moves those the calls would have moved.
 */
static void cond_notify_or_defer(ag_object *o, int64_t n)
{
	struct condition *cv = o->data;

	if (n == 0 || TAILQ_EMPTY(&cv->waiters))
		return;
	if (!ag_txn_defer(o)) {
		cond_notify(cv, n);
		return;
	}
	if (n < 0 || cv->pending < 0 || n > INT64_MAX - cv->pending)
		cv->pending = -1;
	else
		cv->pending += n;
}

static int condition_notify(ag_req *r)
{
	struct condition *cv = r->obj->data;
	int64_t n;
	int rc;

	rc = ag_arg_opt_int(r, 1, 1, &n);
	if (rc < 0)
		return rc;
	if (n < 0)
		return ag_reply_error(
		    &r->to, AGORA_EVALUE, "%.*s: n must be >= 0, not %lld",
		    (int)r->methodlen, r->method, (long long)n);
	rc = lock_check_owner(r, cv->lock);
	if (rc < 0)
		return rc;
	cond_notify_or_defer(r->obj, n);
	ag_reply_nil(&r->to);
	return 0;
}

static int condition_notify_all(ag_req *r)
{
	struct condition *cv = r->obj->data;
	int rc;

	rc = lock_check_owner(r, cv->lock);
	if (rc < 0)
		return rc;
	cond_notify_or_defer(r->obj, -1);
	ag_reply_nil(&r->to);
	return 0;
}

/*
 * Make an anonymous rlock object for a condition, as open("rlock", nil)
 * would: a fresh id, in the id index, with one reference, which the caller
 * owns, journaled as created (before the condition, whose options name
 * it). NULL when out of memory.
 */
static ag_object *anonymous_rlock(ag_server *s)
{
	ag_object *lk = ag_object_new(s, &ag_family_rlock);

	if (lk == NULL)
		return NULL;
	if (lock_state_new(lk, true) < 0) {
		ag_object_unref(lk); /* lock_destroy() takes a NULL state */
		return NULL;
	}
	ag_persist_new(lk);
	return lk;
}

static const char *const cond_options[] = { "lock", NULL };

/*
 * Set up a condition over the lock or rlock whose handle (on the creating
 * connection) is the option `lock`, or over a new anonymous rlock. Returns 0,
 * or the code answered: ARGS (unknown option, `lock` not a handle),
 * NO_OBJECT (no such handle), TYPE (not a lock or rlock), LIMIT.
 */
static int cond_create(ag_object *o, ag_req *r, const msgpack_object *opts)
{
	const msgpack_object *h = opts ? ag_opt(opts, "lock") : NULL;
	struct condition *cv;
	ag_object *lk = NULL;
	char desc[96];
	int rc;

	rc = ag_opts_check(r, opts, cond_options);
	if (rc < 0)
		return rc;
	if (h != NULL && h->type != MSGPACK_OBJECT_NIL) {
		if (h->type != MSGPACK_OBJECT_POSITIVE_INTEGER) {
			ag_obj_describe(h, desc, sizeof(desc));
			return ag_reply_error(&r->to, AGORA_EARGS,
					      "open: option lock must be a "
					      "handle, not %s",
					      desc);
		}
		lk = ag_conn_handle_get(r->to.conn, h->via.u64);
		if (lk == NULL)
			return ag_reply_error(&r->to, AGORA_ENO_OBJECT,
					      "open: option lock: no handle "
					      "%llu on this connection",
					      (unsigned long long)h->via.u64);
		if (lk->fam != &ag_family_lock && lk->fam != &ag_family_rlock)
			return ag_reply_error(&r->to, AGORA_ETYPE,
					      "open: option lock: handle %llu "
					      "is a %s, not a lock or rlock",
					      (unsigned long long)h->via.u64,
					      lk->fam->name);
	}
	cv = calloc(1, sizeof(*cv));
	if (cv == NULL)
		return ag_reply_error(&r->to, AGORA_ELIMIT,
				      "open: out of memory creating a "
				      "condition");
	if (lk != NULL) {
		ag_object_ref(lk);
	} else {
		lk = anonymous_rlock(r->srv);
		if (lk == NULL) {
			free(cv);
			return ag_reply_error(&r->to, AGORA_ELIMIT,
					      "open: out of memory creating a "
					      "condition's rlock");
		}
	}
	cv->lock = lk;
	TAILQ_INIT(&cv->waiters);
	o->data = cv;
	ag_object_mem(o, (ssize_t)sizeof(*cv));
	return 0;
}

/*
 * No waiter is left (each holds a reference): let go of the lock. When the
 * server is being freed, every object goes in no particular order and the
 * lock may be gone already, so it is not touched.
 */
static void cond_destroy(ag_object *o)
{
	struct condition *cv = o->data;

	if (cv == NULL)
		return;
	if (!o->srv->freeing)
		ag_object_unref(cv->lock);
	free(cv);
	o->data = NULL;
	ag_object_mem(o, -(ssize_t)sizeof(*cv));
}

/* Its lock's fields, and `lock`: the id of that lock object. */
static unsigned cond_info_count(ag_object *o)
{
	struct condition *cv = o->data;

	return lock_info_fields(cv->lock) + 1;
}

static void cond_info_pack(ag_object *o, msgpack_packer *pk)
{
	struct condition *cv = o->data;

	lock_info_pack(cv->lock, pk);
	ag_pack_str(pk, "lock");
	msgpack_pack_uint64(pk, cv->lock->id);
}

/* {"lock": id} always, its own anonymous rlock or the one it was given:
 * loading turns the id into a handle for cond_create(). */
static void cond_save_opts(ag_object *o, msgpack_packer *pk)
{
	struct condition *cv = o->data;

	msgpack_pack_map(pk, 1);
	ag_pack_str(pk, "lock");
	msgpack_pack_uint64(pk, cv->lock->id);
}

/* A transaction's copy of a condition: its pending notifies (its lock is
 * saved as its own object, ag_txn_touch). */
static void *cond_txn_save(ag_object *o)
{
	struct condition *cv = o->data;
	int64_t *sv = malloc(sizeof(*sv));

	if (sv != NULL)
		*sv = cv->pending;
	return sv;
}

static void cond_txn_restore(ag_object *o, void *saved)
{
	struct condition *cv = o->data;

	cv->pending = *(int64_t *)saved;
	free(saved);
}

static void cond_txn_drop(ag_object *o, void *saved)
{
	(void)o;
	free(saved);
}

/* After a commit: the notifies it made move their waiters to the lock's
 * queue; a lock it left free then goes to the first of the queue. */
static void cond_wake(ag_object *o)
{
	struct condition *cv = o->data;
	struct lock *l = cv->lock->data;
	int64_t n = cv->pending;

	cv->pending = 0;
	if (n != 0)
		cond_notify(cv, n);
	if (l->owner == NULL)
		lock_serve(cv->lock);
}

/* acquire may park unless not blocking (param 1); wait always parks. */
static const char *const cond_txn_refused[] = { "acquire@1", "wait", NULL };

static const ag_method cond_methods[] = {
	{ "acquire", condition_acquire, 1, 3, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "release", condition_release, 1, 1, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "wait", condition_wait, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "notify", condition_notify, 1, 2, AG_STORES_NONE, AG_RIGHT_WRITE },
	{ "notify_all", condition_notify_all, 1, 1, AG_STORES_NONE,
	  AG_RIGHT_WRITE },
	{ NULL, NULL, 0, 0, AG_STORES_NONE, 0 },
};

/* No conn_gone: the lock is held on the lock object, whose family releases
 * it; a waiter of a closed connection is withdrawn with nothing to undo. */
const ag_family ag_family_condition = {
	.name = "condition",
	.base = NULL,
	.methods = cond_methods,
	.create = cond_create,
	.destroy = cond_destroy,
	.len = NULL,
	.info_count = cond_info_count,
	.info_pack = cond_info_pack,
	.conn_gone = NULL,
	.persist = AG_PERSIST_STATE,
	.save_opts = cond_save_opts,
	.txn_save = cond_txn_save,
	.txn_restore = cond_txn_restore,
	.txn_drop = cond_txn_drop,
	.wake = cond_wake,
	.txn_refused = cond_txn_refused,
};
